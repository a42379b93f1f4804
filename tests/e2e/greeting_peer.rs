//! The customer's phone on the media side, for timing what they hear against what they said:
//! a UDP peer that speaks a greeting to the dialer and keeps what the dialer sends back.
//!
//! sipp 3.6 keeps no record of the RTP it receives, and the dialer's symmetric RTP sends to
//! whatever streams to it, so a test that must know both when the greeting ended and when the
//! first packet of the message arrived uses this peer as the carrier's media address (sipp does
//! the signalling). It waits for the dialer's first packet (the call was answered and the
//! dialer's media is up), then plays the greeting back to where that packet came from as a
//! phone does: the 20 ms frame `i` leaves once its last sample has been spoken, at
//! `start + (i + 1) × 20 ms`, so audio heard at `t` ms into the greeting was spoken at
//! `start + t`. After the greeting it sends silence, as an open line does.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dialer::media::Codec;
use dialer::media::rtp::{self, Header, Packet};

/// One packet the dialer sent to the peer.
#[derive(Debug, Clone)]
pub struct Heard {
    pub at: Instant,
    pub ssrc: u32,
    /// The payload decoded as µ-law.
    pub pcm: Vec<i16>,
}

/// What the peer said and heard.
#[derive(Debug, Clone)]
pub struct PeerLog {
    /// The greeting's time 0 (`None`: the dialer never sent anything).
    pub start: Option<Instant>,
    pub heard: Vec<Heard>,
}

/// A UDP socket on 127.0.0.1 with a thread that speaks `pcm` and records what it hears.
pub struct GreetingPeer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<PeerLog>,
}

impl GreetingPeer {
    pub fn start(pcm: Vec<i16>) -> GreetingPeer {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind peer");
        let port = sock.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            const FRAME: Duration = Duration::from_millis(20);
            let mut log = PeerLog {
                start: None,
                heard: Vec::new(),
            };
            let mut dest = None;
            let mut sent: usize = 0;
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                let next = log.start.map(|t0| t0 + FRAME * (sent as u32 + 1));
                if let (Some(to), Some(due)) = (dest, next)
                    && Instant::now() >= due
                {
                    let mut payload = [Codec::Pcmu.encode_sample(0); 160];
                    let at = sent * 160;
                    for (b, s) in payload.iter_mut().zip(pcm.iter().skip(at)) {
                        *b = Codec::Pcmu.encode_sample(*s);
                    }
                    let h = Header {
                        seq: sent as u16,
                        timestamp: at as u32,
                        marker: sent == 0,
                    };
                    let _ = sock.send_to(&rtp::build(0x5eed, 0, h, &payload), to);
                    sent += 1;
                    continue;
                }
                let wait = next
                    .map(|due| due.saturating_duration_since(Instant::now()))
                    .unwrap_or(Duration::from_millis(50))
                    .max(Duration::from_millis(1));
                sock.set_read_timeout(Some(wait)).expect("read timeout");
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let at = Instant::now();
                if let Some(p) = Packet::parse(&buf[..n]) {
                    if dest.is_none() {
                        dest = Some(from);
                        log.start = Some(at);
                    }
                    log.heard.push(Heard {
                        at,
                        ssrc: p.ssrc,
                        pcm: p
                            .payload
                            .iter()
                            .map(|&b| Codec::Pcmu.decode_sample(b))
                            .collect(),
                    });
                }
            }
            log
        });
        GreetingPeer { port, stop, thread }
    }

    /// Stop and return what was heard, in arrival order.
    pub fn finish(self) -> PeerLog {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("peer thread")
    }
}
