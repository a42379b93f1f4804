//! A browser's end of an agent's phone, for tests and the bench: a str0m [`Rtc`] with full ICE
//! (the controlling side, as a browser is against our ICE-lite) and one audio line offering
//! PCMU and PCMA, that sends G.711 frames and hands back what it receives. Sans-IO like
//! [`Peer`](super::Peer).

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec as WebCodec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

/// What a [`SimBrowser`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserOut {
    /// A datagram for the daemon's WebRTC socket.
    Transmit {
        to: SocketAddr,
        datagram: Vec<u8>,
    },
    /// A G.711 payload that arrived (the customer's audio), with its arrival.
    Audio {
        payload: Vec<u8>,
        at: Instant,
    },
    Up,
    Down,
}

/// Why a [`SimBrowser`] could not start.
#[derive(Debug, thiserror::Error)]
#[error("simulated browser: {0}")]
pub struct BrowserError(String);

pub struct SimBrowser {
    rtc: Rtc,
    local: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    pt: Option<Pt>,
    up: bool,
}

impl SimBrowser {
    /// A browser on `local` and its offer.
    pub fn offer(now: Instant, local: SocketAddr) -> Result<(SimBrowser, String), BrowserError> {
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_pcmu(true, false)
            .enable_pcma(true, false)
            .build(now);
        let host = Candidate::host(local, "udp").map_err(|e| BrowserError(e.to_string()))?;
        rtc.add_local_candidate(host);
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| BrowserError("no offer".into()))?;
        let b = SimBrowser {
            rtc,
            local,
            mid,
            pending: Some(pending),
            pt: None,
            up: false,
        };
        Ok((b, offer.to_sdp_string()))
    }

    /// Take the daemon's answer.
    pub fn answer(&mut self, sdp: &str) -> Result<(), BrowserError> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| BrowserError(e.to_string()))?;
        let pending = self
            .pending
            .take()
            .ok_or_else(|| BrowserError("answered twice".into()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| BrowserError(e.to_string()))?;
        self.pt = self.rtc.writer(self.mid).and_then(|w| {
            w.payload_params()
                .find(|p| matches!(p.spec().codec, WebCodec::PCMU | WebCodec::PCMA))
                .map(|p| p.pt())
        });
        Ok(())
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// A datagram from the daemon.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        if let Ok(r) = Receive::new(Protocol::Udp, source, self.local, datagram) {
            let _ = self.rtc.handle_input(Input::Receive(now, r));
        }
    }

    pub fn timeout(&mut self, now: Instant) {
        let _ = self.rtc.handle_input(Input::Timeout(now));
    }

    /// Send 20 ms of G.711 (160 bytes) stamped `ts` (8 kHz).
    pub fn send_audio(&mut self, now: Instant, ts: u64, payload: &[u8]) {
        let Some(pt) = self.pt else {
            return;
        };
        if let Some(w) = self.rtc.writer(self.mid) {
            let _ = w.write(
                pt,
                now,
                MediaTime::new(ts, Frequency::EIGHT_KHZ),
                payload.to_vec(),
            );
        }
    }

    /// Hang up (DTLS close_notify goes out in [`Self::poll`]).
    pub fn close(&mut self) {
        let _ = self.rtc.close();
    }

    /// Everything it has to say, until its next deadline.
    pub fn poll(&mut self, out: &mut impl FnMut(BrowserOut)) -> Option<Instant> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return self.rtc.is_alive().then_some(t),
                Ok(Output::Transmit(t)) => out(BrowserOut::Transmit {
                    to: t.destination,
                    datagram: t.contents.to_vec(),
                }),
                Ok(Output::Event(e)) => match e {
                    Event::Connected => {
                        self.up = true;
                        out(BrowserOut::Up);
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                    | Event::Closed => out(BrowserOut::Down),
                    Event::MediaData(d) => out(BrowserOut::Audio {
                        payload: d.data.to_vec(),
                        at: d.network_time,
                    }),
                    _ => {}
                },
                Err(_) => {
                    out(BrowserOut::Down);
                    return None;
                }
            }
        }
    }
}
