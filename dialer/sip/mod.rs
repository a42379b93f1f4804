//! SIP: messages (rsip behind `message`), transactions and dialogs (sans-IO), the UDP/TCP driver.

pub mod message;
mod timer;
pub mod transaction;
