//! dialer: an outbound predictive dialer daemon.
//!
//! Every piece with logic is a sans-IO state machine that takes `(now, input)` and yields
//! outputs to pull; the tokio shell in [`daemon`] owns sockets, timers and the database.
//! See `docs/DESIGN.md` for the picture and the rules the daemon enforces.

pub mod agents;
pub mod amd;
pub mod campaign;
pub mod cli;
pub mod compliance;
pub mod daemon;
pub mod flow;
pub mod leads;
pub mod media;
pub mod pacing;
pub mod reference;
pub mod report;
pub mod sim;
pub mod simnet;
pub mod sip;
pub mod store;
