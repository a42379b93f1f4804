//! dialer: an outbound predictive dialer daemon.
//!
//! Every piece with logic is a sans-IO state machine that takes `(now, input)` and yields
//! outputs to pull; the tokio shell in [`daemon`] owns sockets, timers and the database.
//! `docs/DESIGN.md` maps the modules, the path of one call and the invariants.
//!
//! # Cores and shell
//!
//! The cores that need no IO at all live in their own crate, `dialer_core` (`core/`), and are
//! re-exported here under their old paths: [`sip`] (messages, transactions, dialogs, calls, the
//! endpoint, the UAS), [`media`] (G.711, SDP, RTP, sessions, the bridge engine), [`amd`],
//! [`pacing`], [`flow`], [`agents`] and [`domain`] (the types they all share: outcomes, lead
//! statuses, ids). That crate has no tokio, socket, database or HTTP dependency and its clippy
//! configuration refuses clock reads, sleeps, files and sockets, so "no IO in a core" is
//! checked by the compiler rather than kept by convention. What does the IO
//! for them stays here: [`sip::driver`] and [`sip::uas::driver`] (the SIP sockets; the `sip`
//! docs show the endpoint's drive loop with std alone), [`media::driver`] and [`media::wav`]
//! (RTP sockets, WAV files) and [`amd::eval`] (the labelled corpus on disk); the abandon
//! counts that seed a pacer's budget come from [`store`].
//!
//! # How the shell drives the core
//!
//! The switchboard holds every campaign, agent and call and never touches a socket or a clock.
//! The daemon's loop (`daemon::run`) feeds it what happened, with the time, and carries out what
//! it asks for, until it asks for nothing; then it sleeps until the next tick, the core's next
//! deadline or the next event:
//!
//! ```ignore
//! loop {
//!     tokio::select! {
//!         _ = tick.tick() => board.handle(Instant::now(), Input::Tick),
//!         _ = sleep_until(board.poll_timeout()) => board.handle_timeout(Instant::now()),
//!         Some(event) = events.recv() => board.handle(Instant::now(), event.into_input()),
//!     }
//!     while let Some(output) = board.poll_output() {
//!         shell.carry_out(output).await; // claim, dial, play, bridge, store a record, ...
//!     }
//! }
//! ```
//!
//! Events are what SIP, media, the store's claims and the agents' API report; the outputs are
//! the switchboard's `Output`s. The simulator (`sim`) and the switchboard's tests
//! drive the same cores with virtual time instead.

pub mod amd;
pub mod campaign;
pub mod cli;
pub mod compliance;
pub mod daemon;
pub mod leads;
pub mod listfile;
pub mod media;
pub mod reference;
pub mod report;
pub mod sim;
pub mod simnet;
pub mod sip;
pub mod store;
pub mod switchboard;
pub mod webrtc;

pub use dialer_core::{agents, domain, flow, pacing};
