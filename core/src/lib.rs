//! The dialer's sans-IO cores: every part of the dialer with protocol or decision logic, and no IO.
//!
//! - [`sip`]: messages, transactions (RFC 3261 §17), dialogs, one outbound call, the
//!   [`Endpoint`](sip::Endpoint) that runs them all for one local address (with its guard), and
//!   the UAS that takes calls (the simulated carrier and agent phones).
//! - [`media`]: G.711, SDP, RTP and RFC 4733 DTMF, one leg's [`Session`](media::Session), and the
//!   [`Engine`](media::Engine) that holds every leg under one timer and bridges them.
//! - [`amd`]: the answering-machine [`Detector`](amd::Detector) on 20 ms frames, and the
//!   Asterisk baseline.
//! - [`pacing`]: the pacers (how many dials now), the estimators and the abandon budget.
//! - [`flow`]: one dialed lead from the dial to the end of the call.
//! - [`agents`]: the agents' registry and state machine.
//! - [`domain`]: the vocabulary every layer shares: a call's [`Outcome`](domain::Outcome), a
//!   lead's status, the AMD result, a campaign's control, the call, campaign and agent ids.
//!
//! # The rule: no IO, no clock
//!
//! A core never reads a clock, sleeps, spawns, touches a socket or a file, or reads the
//! environment. Time comes in as `now` (an [`Instant`](std::time::Instant); wall time as a
//! `jiff::Timestamp`) on every input; bytes come in as slices and go out as values the caller
//! pulls; randomness is an RNG seeded by the caller. `Instant` and `SocketAddr` are fine as
//! *types*. Two fences hold the rule: this crate's `Cargo.toml` has no tokio or other runtime,
//! socket, database or HTTP crate, so using one does not compile; and `clippy.toml` makes
//! clippy (`-D warnings`) refuse std's clock, sleep, threads, files, environment and sockets.
//! The tokio shell that does the IO is the `dialer` crate (its `sip::driver`, `media::driver`,
//! `daemon`); the fuzz target in `fuzz/` builds this crate alone.
//!
//! # How a shell drives a core
//!
//! Every core has the same shape (as quinn-proto and str0m do): inputs are methods that take
//! `now` (`handle_datagram`, `handle_timeout`, commands such as `place_call`); outputs are
//! pulled (`poll_transmit`, `poll_event`) together with the next deadline (`poll_timeout`).
//! After any input the shell drains the outputs, then waits for the next input or the deadline,
//! whichever comes first. Tests and the simulator skip the waiting and jump from deadline to
//! deadline, as here: a call to a trunk that never answers, in virtual time.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! use dialer_core::sip::message::{Transport, Uri};
//! use dialer_core::sip::{CallEvent, CallSpec, Endpoint, EndpointConfig, EndpointEvent};
//!
//! let trunk = "192.0.2.1:5060".parse()?;
//! let mut ep = Endpoint::new(EndpointConfig::new("192.0.2.2:5060".parse()?), 1);
//! let t0 = Instant::now(); // the origin comes from the caller; only offsets from it matter
//! ep.place_call(
//!     t0,
//!     CallSpec {
//!         target: Uri::parse("sip:+15551230000@192.0.2.1")?,
//!         dest: trunk,
//!         transport: Transport::Udp,
//!         from: Uri::parse("sip:dialer@192.0.2.2")?,
//!         credentials: None,
//!         offer: None,
//!         ring_timeout: Duration::from_secs(20),
//!         talk_limit: None,
//!         wall_start: jiff::Timestamp::UNIX_EPOCH,
//!         pinned: false,
//!     },
//! );
//! let (mut sent, mut ended) = (0, false);
//! loop {
//!     while let Some(t) = ep.poll_transmit() {
//!         assert_eq!(t.to, trunk); // a shell sends `t.bytes` to `t.to`
//!         sent += 1;
//!     }
//!     while let Some(event) = ep.poll_event() {
//!         ended |= matches!(event, EndpointEvent::Call { event: CallEvent::Ended(_), .. });
//!     }
//!     let Some(at) = ep.poll_timeout() else { break };
//!     ep.handle_timeout(at); // a shell sleeps until `at` (or the next datagram) first
//! }
//! assert!(ended && ep.is_idle());
//! assert!(sent > 1, "the INVITE is retransmitted (timer A) until the call gives up");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod agents;
pub mod amd;
pub mod domain;
pub mod flow;
pub mod media;
pub mod pacing;
pub mod sip;
