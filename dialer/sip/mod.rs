//! SIP: the sans-IO layers (messages, transactions, dialogs, calls, the endpoint, the UAS) live in
//! `dialer_core::sip` and are re-exported here; this module adds the tokio drivers that own the
//! sockets: [`driver`] (the dialer's UDP/TCP endpoint task) and [`uas::driver`] (the UAS task).

pub use dialer_core::sip::{call, dialog, endpoint, guard, message, transaction};

/// The sans-IO UAS from `dialer_core::sip::uas`, with its tokio [`driver`](uas::driver).
pub mod uas {
    pub use dialer_core::sip::uas::*;
    pub mod driver;
}

pub use call::{CallEvent, CallId, CallReport, CallSpec, Credentials, EndedBy, Outcome};
pub use endpoint::{Endpoint, EndpointConfig, EndpointEvent, EndpointStats};
pub mod driver;
pub use driver::{CallHandle, PlaceCall, Sip, SipConfig, SipError, Target, TrunkConfig};
