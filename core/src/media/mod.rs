//! Media without IO: G.711, SDP, RTP sessions on a 20 ms clock, RFC 4733 DTMF, the agent bridge.
//!
//! Sans-IO cores (they take `now` and datagrams, and yield packets, events and deadlines):
//! - [`session::Session`]: one call leg: prompts, symmetric RTP, reorder, DTMF, inactivity, and
//!   the [`session::FrameSink`] hook where AMD gets the customer's decoded 20 ms frames.
//! - [`bridge::Engine`]: every leg under one timer heap; bridges (relay both ways with
//!   SSRC/sequence/timestamp rewriting) and their stereo recording tap ([`RecordSink`]).
//!
//! Pieces: [`g711`] (µ-law/A-law, [`Codec`]), [`sdp`] (our offer/answer, the far end's),
//! [`rtp`] (stream state, reorder, RFC 4733). WAV files and the socket thread are in
//! `dialer::media`.

pub mod bridge;
pub mod g711;
pub mod rtp;
pub mod sdp;
pub mod session;

pub use bridge::{Engine, LegEvent, LegId, RecordSink};
pub use g711::{Codec, FRAME_SAMPLES};
pub use session::{Event, FrameSink, Pcm, PromptId, Session, SessionConfig, Transmit};
