//! SIP: the sans-IO layers (messages, transactions, dialogs, calls, the endpoint, the UAS) live in
//! `dialer_core::sip` and are re-exported here; this module adds the tokio drivers that own the
//! sockets: [`driver`] (the dialer's UDP/TCP endpoint task) and [`uas::driver`] (the UAS task).
//!
//! A driver feeds the [`Endpoint`] `(now, input)`, drains what it wants sent and what happened,
//! and sleeps until the next datagram or the endpoint's next deadline. [`driver`] does it with
//! tokio (and TCP, trunks, limits); with std alone the loop reads:
//!
//! ```
//! use std::io::ErrorKind::{TimedOut, WouldBlock};
//! use std::{net::UdpSocket, time::Instant};
//!
//! use dialer::sip::{Endpoint, message::Transport};
//!
//! fn run(mut ep: Endpoint, socket: UdpSocket) -> std::io::Result<()> {
//!     let mut buf = vec![0; 65_535];
//!     loop {
//!         while let Some(t) = ep.poll_transmit() {
//!             socket.send_to(&t.bytes, t.to)?; // outputs: datagrams to send…
//!         }
//!         while let Some(event) = ep.poll_event() {
//!             println!("{event:?}"); // …and events for the layer above (the switchboard)
//!         }
//!         let now = Instant::now(); // the shell owns the clock
//!         let wait = match ep.poll_timeout() {
//!             Some(at) if at <= now => {
//!                 ep.handle_timeout(now);
//!                 continue;
//!             }
//!             at => at.map(|at| at - now), // `None`: no deadline, wait for a datagram
//!         };
//!         socket.set_read_timeout(wait)?;
//!         match socket.recv_from(&mut buf) {
//!             Ok((n, from)) => ep.handle_datagram(Instant::now(), from, Transport::Udp, &buf[..n]),
//!             Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => {} // the deadline came
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//! ```

pub use dialer_core::sip::{
    call, dialog, digest, endpoint, guard, message, registrar, transaction,
};

/// The sans-IO UAS from `dialer_core::sip::uas`, with its tokio [`driver`](uas::driver).
pub mod uas {
    pub use dialer_core::sip::uas::*;
    pub mod driver;
}

/// A call's outcome is the domain's: the SIP layer decides the ones before an answer.
pub use crate::domain::Outcome;
pub use call::{CallEvent, CallId, CallReport, CallSpec, Credentials, EndedBy};
pub use endpoint::{Endpoint, EndpointConfig, EndpointEvent, EndpointStats};
pub mod driver;
pub use driver::{CallHandle, Contact, PlaceCall, Sip, SipConfig, SipError, Target, TrunkConfig};
