//! SIP without IO: messages (rsip behind `message`), transactions, dialogs, calls, the endpoint.
//!
//! Layers, bottom up: [`message`] (bytes ⇄ our types), [`transaction`] (RFC 3261 §17),
//! [`dialog`] and [`call`] (one outbound call), [`endpoint`] (all of it for one local address,
//! plus the security rules in [`guard`]), the [`registrar`] for agents' softphones (with
//! [`digest`] authentication), and [`uas`] (taking calls: the simulated carrier and
//! phones). Inputs carry `now`; outputs are pulled. The UDP/TCP drivers are in `dialer::sip`.

pub mod call;
pub mod dialog;
pub mod digest;
pub mod endpoint;
pub mod guard;
pub mod message;
pub mod registrar;
mod timer;
pub mod transaction;
pub mod uas;

/// A call's outcome is the domain's: the SIP layer decides the ones before an answer.
pub use crate::domain::Outcome;
pub use call::{CallEvent, CallId, CallReport, CallSpec, Credentials, EndedBy};
pub use endpoint::{Endpoint, EndpointConfig, EndpointEvent, EndpointStats};
