//! The dialer's sans-IO cores.

pub mod media;
pub mod sip;
