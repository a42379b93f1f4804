//! One browser's phone, sans-IO: a str0m [`Rtc`] (ICE-lite, DTLS-SRTP, audio as PCMU/PCMA
//! only) on one side, plain G.711 RTP for the agent's media leg on the other. It takes
//! `(now, datagram)` and `(now, RTP from the leg)`, and yields what to send where, with its
//! next deadline; the gateway (`gateway.rs`) owns the sockets and the clock.
//!
//! str0m's frame API is used, not its RTP mode: each G.711 packet from the browser comes out as
//! one [`MediaData`](str0m::media::MediaData) whose payload goes to the leg unchanged in a fresh
//! RTP header (our SSRC and sequence, the browser's timestamp), and each packet from the leg
//! goes in through [`Writer::write`](str0m::media::Writer::write) with its payload unchanged:
//! no transcoding on the call path. The only per-packet work besides SRTP is a 12-byte header.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::format::Codec as WebCodec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use crate::media::Codec;
use crate::media::rtp::{self, Header, Packet};

/// Why a browser's offer was refused (the API answers 400 with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("the SDP offer cannot be read: {0}")]
    BadSdp(String),
    #[error("the SDP offer has no audio (m=audio) line")]
    NoAudio,
    #[error(
        "the SDP offer's audio has neither PCMU nor PCMA (G.711, the only codecs a call \
         carries without transcoding); it offers: {0}"
    )]
    NoG711(String),
    #[error("cannot answer the SDP offer: {0}")]
    Answer(String),
}

/// What a [`Peer`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// A datagram for the browser (STUN, DTLS, SRTP, SRTCP).
    Browser { to: SocketAddr, datagram: Vec<u8> },
    /// A plain RTP packet for the agent's media leg.
    Leg(Vec<u8>),
    /// ICE and DTLS are up: media flows.
    Up,
    /// The page is gone: why (ICE consent lost, DTLS closed, an error).
    Down(String),
}

/// Check an offer's text before str0m sees it, so that a refusal names the problem: an audio
/// line, and PCMU or PCMA among its codecs (`a=rtpmap`, or static payload types 0 and 8).
pub fn check_offer(sdp: &str) -> Result<(), OfferError> {
    if !sdp.trim_start().starts_with("v=0") {
        return Err(OfferError::BadSdp(
            "it does not start with \"v=0\" (an SDP session description)".into(),
        ));
    }
    let mut audio = false;
    let mut in_audio = false;
    let mut g711 = false;
    let mut names: Vec<String> = Vec::new();
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = m.starts_with("audio ");
            if in_audio {
                audio = true;
                // m=audio <port> <proto> <fmt>...: static 0 (PCMU) and 8 (PCMA).
                g711 |= m.split_whitespace().skip(3).any(|f| f == "0" || f == "8");
            }
        } else if in_audio && let Some(map) = line.strip_prefix("a=rtpmap:") {
            let name = map.split_whitespace().nth(1).unwrap_or("");
            let codec = name.split('/').next().unwrap_or("");
            if codec.eq_ignore_ascii_case("PCMU") || codec.eq_ignore_ascii_case("PCMA") {
                g711 = true;
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    if !audio {
        return Err(OfferError::NoAudio);
    }
    if !g711 {
        let offered = if names.is_empty() {
            "no codec".to_owned()
        } else {
            names.join(", ")
        };
        return Err(OfferError::NoG711(offered));
    }
    Ok(())
}

/// Our RTP stream toward the leg: our SSRC, our sequence; the browser's timestamps.
#[derive(Debug)]
struct ToLeg {
    ssrc: u32,
    seq: u16,
}

/// The leg's timestamps extended to 64 bits for str0m's media time.
#[derive(Debug, Default)]
struct FromLeg {
    last: Option<u32>,
    extended: u64,
}

impl FromLeg {
    fn extend(&mut self, ts: u32) -> u64 {
        match self.last {
            None => self.extended = u64::from(ts) + (1 << 32),
            Some(last) => {
                let step = i64::from(ts.wrapping_sub(last) as i32);
                self.extended = self.extended.saturating_add_signed(step);
            }
        }
        self.last = Some(ts);
        self.extended
    }
}

/// One browser's phone.
pub struct Peer {
    rtc: Rtc,
    /// The socket the browser's datagrams reach (str0m wants each datagram's destination).
    local: SocketAddr,
    mid: Option<Mid>,
    /// The payload type and codec we send to the browser (the first G.711 of the answer).
    send: Option<(Pt, Codec)>,
    up: bool,
    down: bool,
    to_leg: ToLeg,
    from_leg: FromLeg,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("local", &self.local)
            .field("up", &self.up)
            .field("down", &self.down)
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// Answer a browser's offer: ICE-lite with one host candidate `candidate` (where the browser
    /// sends), datagrams arriving on `local`; `ssrc`: our SSRC toward the leg. Drain
    /// [`Self::poll`] next.
    pub fn accept(
        now: Instant,
        offer: &str,
        local: SocketAddr,
        candidate: SocketAddr,
        ssrc: u32,
    ) -> Result<(Peer, String), OfferError> {
        check_offer(offer)?;
        let parsed =
            SdpOffer::from_sdp_string(offer).map_err(|e| OfferError::BadSdp(e.to_string()))?;
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_pcmu(true, false)
            .enable_pcma(true, false)
            .build(now);
        let host = Candidate::host(candidate, "udp")
            .map_err(|e| OfferError::Answer(format!("candidate {candidate}: {e}")))?;
        rtc.add_local_candidate(host);
        let answer = rtc
            .sdp_api()
            .accept_offer(parsed)
            .map_err(|e| OfferError::Answer(e.to_string()))?;
        let peer = Peer {
            rtc,
            local,
            mid: None,
            send: None,
            up: false,
            down: false,
            to_leg: ToLeg {
                ssrc,
                seq: (ssrc >> 16) as u16,
            },
            from_leg: FromLeg::default(),
        };
        Ok((peer, answer.to_sdp_string()))
    }

    /// The codec the browser and the leg speak (known once the offer is answered and polled).
    pub fn codec(&self) -> Option<Codec> {
        self.send.map(|(_, c)| c)
    }

    pub fn is_up(&self) -> bool {
        self.up && !self.down
    }

    pub fn is_down(&self) -> bool {
        self.down
    }

    /// Whether a datagram from `source` belongs to this peer (its address, or a STUN check
    /// carrying its ICE user).
    pub fn accepts(&self, now: Instant, source: SocketAddr, datagram: &[u8]) -> bool {
        match Receive::new(Protocol::Udp, source, self.local, datagram) {
            Ok(r) => self.rtc.accepts(&Input::Receive(now, r)),
            Err(_) => false,
        }
    }

    /// A datagram from the browser. Drain [`Self::poll`] next.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        let Ok(r) = Receive::new(Protocol::Udp, source, self.local, datagram) else {
            return;
        };
        if let Err(e) = self.rtc.handle_input(Input::Receive(now, r)) {
            tracing::debug!(%e, %source, "a datagram the browser's peer refused");
        }
    }

    /// Time passes (a deadline from [`Self::poll`] came). Drain [`Self::poll`] next.
    pub fn timeout(&mut self, now: Instant) {
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!(%e, "the browser's peer failed on a timeout");
        }
    }

    /// An RTP packet from the agent's media leg (the customer's audio, silence, prompts): its
    /// G.711 payload goes to the browser unchanged. Other payloads (telephone-event) are not
    /// passed on. Drain [`Self::poll`] next.
    pub fn from_leg(&mut self, now: Instant, packet: &[u8]) {
        let (Some(mid), Some((pt, codec))) = (self.mid, self.send) else {
            return;
        };
        if !self.is_up() {
            return;
        }
        let Some(p) = Packet::parse(packet) else {
            return;
        };
        if p.payload_type != codec.payload_type() {
            return;
        }
        let ts = self.from_leg.extend(p.timestamp);
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let time = MediaTime::new(ts, Frequency::EIGHT_KHZ);
        if let Err(e) = writer.write(pt, now, time, p.payload.to_vec()) {
            tracing::debug!(%e, "cannot write to the browser's peer");
        }
    }

    /// Close it (we hang up): DTLS close_notify goes out in [`Self::poll`].
    pub fn close(&mut self) {
        if let Err(e) = self.rtc.close() {
            tracing::debug!(%e, "closing the browser's peer");
        }
    }

    /// Everything it has to say, until its next deadline (returned; `None` once it is closed).
    pub fn poll(&mut self, out: &mut impl FnMut(Out)) -> Option<Instant> {
        loop {
            if !self.rtc.is_alive() {
                self.went_down(out, "the connection is closed");
                return None;
            }
            let output = match self.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    self.went_down(out, &format!("WebRTC error: {e}"));
                    self.rtc.disconnect();
                    return None;
                }
            };
            match output {
                Output::Timeout(t) => return Some(t),
                Output::Transmit(t) => out(Out::Browser {
                    to: t.destination,
                    datagram: t.contents.to_vec(),
                }),
                Output::Event(e) => self.event(e, out),
            }
        }
    }

    fn went_down(&mut self, out: &mut impl FnMut(Out), why: &str) {
        if !self.down {
            self.down = true;
            out(Out::Down(why.to_owned()));
        }
    }

    fn event(&mut self, e: Event, out: &mut impl FnMut(Out)) {
        match e {
            Event::MediaAdded(m) if m.kind == MediaKind::Audio && self.mid.is_none() => {
                self.mid = Some(m.mid);
                self.send = self.rtc.writer(m.mid).and_then(|w| {
                    w.payload_params().find_map(|p| match p.spec().codec {
                        WebCodec::PCMU => Some((p.pt(), Codec::Pcmu)),
                        WebCodec::PCMA => Some((p.pt(), Codec::Pcma)),
                        _ => None,
                    })
                });
            }
            Event::Connected if !self.up && !self.down => {
                self.up = true;
                out(Out::Up);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.went_down(out, "ICE consent lost (the page stopped answering)");
            }
            Event::Closed => self.went_down(out, "the page closed the connection"),
            Event::MediaData(d) if self.is_up() => {
                let codec = match d.params.spec().codec {
                    WebCodec::PCMU => Codec::Pcmu,
                    WebCodec::PCMA => Codec::Pcma,
                    _ => return,
                };
                let ts = d.time.rebase(Frequency::EIGHT_KHZ).numer() as u32;
                let seq = self.to_leg.seq;
                self.to_leg.seq = seq.wrapping_add(1);
                let header = Header {
                    seq,
                    timestamp: ts,
                    marker: false,
                };
                out(Out::Leg(rtp::build(
                    self.to_leg.ssrc,
                    codec.payload_type(),
                    header,
                    &d.data,
                )));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
