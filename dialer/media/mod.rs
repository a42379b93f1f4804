//! Media: G.711, WAV prompts and recordings, SDP, RTP sessions on a 20 ms clock, RFC 4733 DTMF,
//! the agent bridge.
//!
//! The sans-IO cores live in `dialer_core::media` and are re-exported here (they take `now` and
//! datagrams, and yield packets, events and deadlines):
//! - [`session::Session`]: one call leg: prompts, symmetric RTP, reorder, DTMF, inactivity, and
//!   the [`session::FrameSink`] hook where AMD gets the customer's decoded 20 ms frames.
//! - [`bridge::Engine`]: every leg under one timer heap; bridges (relay both ways with
//!   SSRC/sequence/timestamp rewriting) and their stereo recording tap.
//!
//! Pieces: [`g711`] (µ-law/A-law, [`Codec`]), [`sdp`] (our offer/answer, the far end's),
//! [`rtp`] (stream state, reorder, RFC 4733). Here, doing the IO: [`wav`] (any WAV → 8 kHz mono;
//! WAV writing, the recording sink) and [`driver`] (a socket per leg, the epoll worker threads).

pub use dialer_core::media::{bridge, g711, rtp, sdp, session};

pub mod driver;
mod sys;
pub mod wav;

pub use bridge::{Engine, LegEvent, LegId, RecordSink};
pub use driver::{Driver, DriverConfig, DriverStats, Leg, MediaError};
pub use g711::{Codec, FRAME_SAMPLES};
pub use session::{Event, FrameSink, Pcm, PromptId, Session, SessionConfig, Transmit};
