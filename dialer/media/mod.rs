//! Media: G.711, WAV prompts and recordings, SDP, RTP sessions on a 20 ms clock, RFC 4733 DTMF,
//! the agent bridge.
//!
//! - [`g711`]: µ-law / A-law tables and the [`Codec`] type (payload types 0 and 8).
//! - [`wav`]: any WAV → 8 kHz mono i16 (resampled); 8 kHz mono/stereo WAV writing.
//! - [`sdp`]: our offer/answer ([`sdp::LocalMedia`]) and the far end's ([`sdp::RemoteMedia`]).

pub mod g711;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod wav;

pub use g711::{Codec, FRAME_SAMPLES};
