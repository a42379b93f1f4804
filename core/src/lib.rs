//! The dialer's sans-IO cores.

pub mod sip;
