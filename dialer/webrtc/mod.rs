//! The agent's phone in the browser: WebRTC served by the daemon, ICE-lite, DTLS-SRTP, audio as
//! PCMU/PCMA passed through to the call without transcoding ([decision 0081]).
//!
//! - [`peer::Peer`]: one page's phone, sans-IO (str0m's `Rtc` on one side, plain RTP for the
//!   agent's media leg on the other).
//! - [`gateway::Gateway`]: the task and the two sockets that serve every page's peer; to the
//!   shell an agent's page looks like any agent phone (a media leg whose far end is the
//!   gateway).
//! - [`browser::SimBrowser`]: a browser's end, for tests and the bench.
//!
//! Signalling is the desktop's own authenticated API: `POST /v1/agents/{id}/phone` with the
//! page's SDP offer answers ours; `DELETE` hangs up (daemon/api/routes.rs).
//!
//! [decision 0081]: ../../docs/decisions/0081-browser-phone-gateway.md

pub mod browser;
pub mod gateway;
pub mod peer;

pub use browser::{BrowserOut, SimBrowser};
pub use gateway::{Attached, Gateway, GatewayConfig, GatewayError};
pub use peer::{OfferError, Out, Peer, check_offer};
