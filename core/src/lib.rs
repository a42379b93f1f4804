//! The dialer's sans-IO cores.

pub mod agents;
pub mod amd;
pub mod flow;
pub mod media;
pub mod pacing;
pub mod sip;
