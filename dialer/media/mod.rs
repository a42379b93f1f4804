//! Media: RTP packets, G.711, prompts on a 20 ms clock, RFC 4733 DTMF, the agent bridge.

pub mod g711;
pub mod wav;

pub use g711::{Codec, FRAME_SAMPLES};
