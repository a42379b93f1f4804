//! A page's phone against a simulated browser in virtual time: no sockets, no clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::webrtc::browser::{BrowserOut, SimBrowser};

const DAEMON: &str = "127.0.0.1:3478";
const BROWSER: &str = "127.0.0.1:50000";

/// Opus only, as a browser would offer with G.711 switched off.
const OPUS_ONLY: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
    m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n\
    a=sendrecv\r\n";

struct Pair {
    now: Instant,
    peer: Peer,
    browser: SimBrowser,
    peer_next: Option<Instant>,
    browser_next: Option<Instant>,
    /// What the peer put out for the leg, and its other outputs.
    leg: Vec<Vec<u8>>,
    events: Vec<Out>,
    heard: Vec<Vec<u8>>,
    browser_down: bool,
}

impl Pair {
    fn new() -> Pair {
        let now = Instant::now();
        let (browser, offer) = SimBrowser::offer(now, BROWSER.parse().unwrap()).unwrap();
        let daemon: SocketAddr = DAEMON.parse().unwrap();
        let (peer, answer) = Peer::accept(now, &offer, daemon, daemon, 0x1234_5678).unwrap();
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("PCMU/8000"), "{answer}");
        assert!(!answer.to_lowercase().contains("opus"), "{answer}");
        let mut p = Pair {
            now,
            peer,
            browser,
            peer_next: Some(now),
            browser_next: Some(now),
            leg: Vec::new(),
            events: Vec::new(),
            heard: Vec::new(),
            browser_down: false,
        };
        p.browser.answer(&answer).unwrap();
        p
    }

    /// Poll both ends and carry datagrams across until neither has any, then move time to the
    /// next deadline (at most `step` ahead).
    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            loop {
                let mut to_browser = Vec::new();
                let mut to_daemon = Vec::new();
                self.peer_next = self.peer.poll(&mut |o| match o {
                    Out::Browser { datagram, .. } => to_browser.push(datagram),
                    Out::Leg(p) => self.leg.push(p),
                    other => self.events.push(other),
                });
                let mut down = false;
                self.browser_next = self.browser.poll(&mut |o| match o {
                    BrowserOut::Transmit { datagram, .. } => to_daemon.push(datagram),
                    BrowserOut::Audio { payload, .. } => self.heard.push(payload),
                    BrowserOut::Down => down = true,
                    BrowserOut::Up => {}
                });
                self.browser_down |= down;
                if to_browser.is_empty() && to_daemon.is_empty() {
                    break;
                }
                let (daemon, browser) = (DAEMON.parse().unwrap(), BROWSER.parse().unwrap());
                for d in to_browser {
                    self.browser.receive(self.now, daemon, &d);
                }
                for d in to_daemon {
                    self.peer.receive(self.now, browser, &d);
                }
            }
            let next = [self.peer_next, self.browser_next]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end)
                .clamp(
                    self.now + Duration::from_millis(1),
                    self.now + Duration::from_millis(20),
                );
            self.now = next.min(end);
            self.peer.timeout(self.now);
            self.browser.timeout(self.now);
        }
    }
}

#[test]
fn an_offer_without_g711_or_audio_is_refused_naming_what_it_offers() {
    assert_eq!(
        check_offer(OPUS_ONLY),
        Err(OfferError::NoG711("opus/48000/2".into()))
    );
    let message = OfferError::NoG711("opus/48000/2".into()).to_string();
    assert!(message.contains("neither PCMU nor PCMA"), "{message}");
    let video = "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
    assert_eq!(check_offer(video), Err(OfferError::NoAudio));
    assert!(matches!(check_offer("hello"), Err(OfferError::BadSdp(_))));
    // Static payload type 8 with no rtpmap is PCMA.
    assert_eq!(
        check_offer("v=0\r\ns=-\r\nm=audio 9 RTP/SAVPF 8\r\n"),
        Ok(())
    );
    let now = Instant::now();
    let a: SocketAddr = DAEMON.parse().unwrap();
    assert!(matches!(
        Peer::accept(now, OPUS_ONLY, a, a, 1),
        Err(OfferError::NoG711(_))
    ));
    assert!(matches!(
        Peer::accept(now, "v=0\r\nm=audio 9 RTP/SAVPF 0\r\nnonsense", a, a, 1),
        Err(OfferError::BadSdp(_))
    ));
}

#[test]
fn audio_passes_both_ways_unchanged_and_a_closed_page_is_down() {
    let mut p = Pair::new();
    p.run_for(Duration::from_secs(2));
    assert!(p.events.contains(&Out::Up), "{:?}", p.events);
    assert!(p.peer.is_up() && p.browser.is_up());
    assert_eq!(p.peer.codec(), Some(Codec::Pcmu));

    // The browser's microphone: 25 frames, each its own byte pattern.
    for i in 0..25u8 {
        let now = p.now;
        p.browser
            .send_audio(now, 1000 + u64::from(i) * 160, &[i; 160]);
        p.run_for(Duration::from_millis(20));
    }
    p.run_for(Duration::from_millis(200));
    let got: Vec<Packet<'_>> = p.leg.iter().filter_map(|b| Packet::parse(b)).collect();
    assert!(got.len() >= 20, "{} packets reached the leg", got.len());
    for w in got.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "our sequence runs on");
        assert_eq!(
            w[1].timestamp.wrapping_sub(w[0].timestamp),
            160,
            "the browser's clock"
        );
    }
    for g in &got {
        assert_eq!(
            (g.payload_type, g.ssrc, g.payload.len()),
            (0, 0x1234_5678, 160)
        );
        assert!(
            g.payload.iter().all(|b| *b == g.payload[0]),
            "payload unchanged"
        );
    }

    // The leg (the customer): 25 frames of RTP, payload passed to the browser unchanged.
    for i in 0..25u16 {
        let h = Header {
            seq: 7000 + i,
            timestamp: 90_000 + u32::from(i) * 160,
            marker: false,
        };
        let now = p.now;
        p.peer
            .from_leg(now, &rtp::build(0xabc, 0, h, &[0x40 + i as u8; 160]));
        // telephone-event is not passed on.
        p.peer
            .from_leg(now, &rtp::build(0xabc, 101, h, &[1, 2, 3, 4]));
        p.run_for(Duration::from_millis(20));
    }
    p.run_for(Duration::from_millis(300));
    assert!(
        p.heard.len() >= 20,
        "the browser heard {} frames",
        p.heard.len()
    );
    for (n, h) in p.heard.iter().enumerate() {
        assert_eq!(h.len(), 160, "frame {n}");
        assert!((0x40..0x40 + 25).contains(&h[0]), "frame {n}: {:x}", h[0]);
    }

    // The page closes: the peer is down, saying so once.
    p.browser.close();
    p.run_for(Duration::from_secs(1));
    let downs: Vec<&Out> = p
        .events
        .iter()
        .filter(|e| matches!(e, Out::Down(_)))
        .collect();
    assert_eq!(downs.len(), 1, "{:?}", p.events);
    assert!(p.peer.is_down());
}

#[test]
fn a_page_that_stops_answering_is_down_after_ice_consent_runs_out() {
    let mut p = Pair::new();
    p.run_for(Duration::from_secs(2));
    assert!(p.peer.is_up());
    // The page vanishes (no close): time passes with nothing from it.
    let mut waited = Duration::ZERO;
    while !p.peer.is_down() && waited < Duration::from_secs(60) {
        p.now += Duration::from_millis(500);
        waited += Duration::from_millis(500);
        let now = p.now;
        p.peer.timeout(now);
        p.peer_next = p.peer.poll(&mut |o| {
            if let Out::Down(w) = o {
                p.events.push(Out::Down(w));
            }
        });
    }
    assert!(p.peer.is_down(), "still up after {waited:?}");
    assert!(waited <= Duration::from_secs(40), "down after {waited:?}");
}
