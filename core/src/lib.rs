//! The dialer's sans-IO cores.

pub mod amd;
pub mod media;
pub mod pacing;
pub mod sip;
