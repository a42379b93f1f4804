//! Media: RTP packets, G.711, prompts on a 20 ms clock, RFC 4733 DTMF, the agent bridge.
