//! One call leg's RTP session, sans-IO.
//!
//! Feed it datagrams ([`Session::handle_datagram`]) and time ([`Session::handle_timeout`]);
//! pull packets to send ([`Session::poll_transmit`]), events ([`Session::poll_event`]) and the
//! next deadline ([`Session::poll_timeout`]). It never reads a clock or touches a socket.
//!
//! - Send: our SSRC, sequence and timestamp ([`StreamOut`]); queued prompts (8 kHz PCM) are cut
//!   into 20 ms G.711 frames on a 20 ms clock; with `keepalive`, silence when idle; nothing of
//!   our own while relaying another leg (see `bridge`).
//! - Receive: symmetric RTP (the far end's address is latched from its first valid packet,
//!   later packets from elsewhere are dropped), payload types checked against the SDP, decoded
//!   20 ms frames in sequence order for the analyzer ([`FrameSink`]) and the recorder, RFC 4733
//!   DTMF events, and an inactivity event when no media arrives for `inactivity`.

// Over 800 lines only with its tests (about 520 of code): one leg, whose send and receive paths
// share the same state and clock.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::g711::{Codec, FRAME_SAMPLES};
use super::rtp::{self, Dtmf, DtmfReceiver, Packet, Reorder, StreamOut};
use super::sdp::{Direction, RemoteMedia};

/// The send clock.
pub const PTIME: Duration = Duration::from_millis(20);
/// Frames sent at once when the clock fell behind, before it is reset.
const MAX_CATCH_UP: usize = 5;

/// Where a leg's decoded 20 ms frames go, in sequence order: the AMD detector plugs in here.
/// [`FrameSink::push_frame_at`] also gets the arrival time of the packet that completed the
/// frame (as `amd::Detector::push_frame` takes it); a closure gets the frame only. It runs
/// inside the media driver's lock: keep it quick, or send the frames on to the call's task.
pub trait FrameSink: Send {
    fn push_frame(&mut self, frame: &[i16; FRAME_SAMPLES]);

    fn push_frame_at(&mut self, now: Instant, frame: &[i16; FRAME_SAMPLES]) {
        let _ = now;
        self.push_frame(frame)
    }
}

impl<F: FnMut(&[i16; FRAME_SAMPLES]) + Send> FrameSink for F {
    fn push_frame(&mut self, frame: &[i16; FRAME_SAMPLES]) {
        self(frame)
    }
}

/// 8 kHz mono PCM to play, shared between the calls that play it.
pub type Pcm = Arc<[i16]>;

/// Names one queued prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PromptId(pub u64);

/// What a session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A DTMF key press.
    Dtmf(Dtmf),
    /// No media from the far end for the inactivity timeout (reported once).
    Inactive,
    /// A prompt ended: played to its end (`completed`) or stopped.
    PromptFinished { id: PromptId, completed: bool },
    /// The far end's media comes from this address (symmetric RTP); we send there from now on.
    Latched(SocketAddr),
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dest: SocketAddr,
    pub data: Vec<u8>,
    /// When it should leave: its 20 ms tick, or the arrival of the packet it relays.
    pub due: Instant,
}

/// Counters for one leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub sent: u64,
    pub received: u64,
    /// Not RTP, or RTCP.
    pub dropped_invalid: u64,
    /// From an address other than the latched one.
    pub dropped_foreign: u64,
    /// A payload type the SDP does not name.
    pub dropped_payload_type: u64,
    /// Reordering: duplicates and too-late packets, and packets skipped as lost.
    pub duplicates: u64,
    pub lost: u64,
}

/// How a leg behaves; the random fields come from the caller's seeded RNG.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub ssrc: u32,
    pub first_seq: u16,
    pub first_ts: u32,
    /// No media for this long raises [`Event::Inactive`]; zero disables it.
    pub inactivity: Duration,
    /// Send silence when there is nothing to play (keeps NATs and far-end media timers happy).
    pub keepalive: bool,
    /// Packets held while waiting for a missing one.
    pub reorder_depth: usize,
}

impl SessionConfig {
    pub fn new(ssrc: u32, first_seq: u16, first_ts: u32) -> SessionConfig {
        SessionConfig {
            ssrc,
            first_seq,
            first_ts,
            inactivity: Duration::from_secs(30),
            keepalive: true,
            reorder_depth: 4,
        }
    }
}

/// A valid media packet just received, for relaying.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub packet: Packet<'a>,
    /// The audio codec, or `None` for a telephone-event packet.
    pub codec: Option<Codec>,
}

struct Playing {
    id: PromptId,
    pcm: Pcm,
    pos: usize,
}

/// One call leg's RTP session.
pub struct Session {
    cfg: SessionConfig,
    out: StreamOut,
    // Negotiated media.
    sdp_remote: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    codec: Codec,
    codec_pt: u8,
    codecs: Vec<(u8, Codec)>,
    telephone_event: Option<u8>,
    direction: Direction,
    // Send side.
    prompts: VecDeque<Playing>,
    next_prompt: u64,
    next_tick: Option<Instant>,
    relaying: bool,
    // Receive side.
    rx_ssrc: Option<u32>,
    reorder: Reorder,
    dtmf: DtmfReceiver,
    last_rx: Option<Instant>,
    inactivity_at: Option<Instant>,
    accum: Vec<i16>,
    analyzer: Option<Box<dyn FrameSink>>,
    capture: Option<VecDeque<[i16; FRAME_SAMPLES]>>,
    // Outputs.
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Session {
    /// A leg with no far end yet; it sends nothing until [`Session::set_remote`].
    pub fn new(cfg: SessionConfig) -> Session {
        Session {
            out: StreamOut::new(cfg.ssrc, cfg.first_seq, cfg.first_ts),
            reorder: Reorder::new(cfg.reorder_depth),
            cfg,
            sdp_remote: None,
            latched: None,
            codec: Codec::Pcmu,
            codec_pt: 0,
            codecs: vec![(0, Codec::Pcmu), (8, Codec::Pcma)],
            telephone_event: None,
            direction: Direction::SendRecv,
            prompts: VecDeque::new(),
            next_prompt: 0,
            next_tick: None,
            relaying: false,
            rx_ssrc: None,
            dtmf: DtmfReceiver::default(),
            last_rx: None,
            inactivity_at: None,
            accum: Vec::with_capacity(2 * FRAME_SAMPLES),
            analyzer: None,
            capture: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Take the far end's SDP (answer, or a re-INVITE's offer): address, codec, DTMF payload
    /// type, direction. A changed address is latched again from the next packet.
    pub fn set_remote(&mut self, now: Instant, remote: &RemoteMedia) {
        let addr = remote.rtp_addr();
        if self.sdp_remote != Some(addr) {
            self.latched = None;
        }
        self.sdp_remote = Some(addr);
        self.codec = remote.codec;
        self.codec_pt = remote.codec_pt;
        self.codecs = remote.codecs.clone();
        self.telephone_event = remote.telephone_event;
        self.direction = remote.direction;
        if self.inactivity_at.is_none() && !self.cfg.inactivity.is_zero() && self.last_rx.is_none()
        {
            self.inactivity_at = Some(now + self.cfg.inactivity);
        }
        self.schedule_tick(now);
    }

    /// The far end's address we send to: latched from its packets, else from its SDP.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.latched.or(self.sdp_remote)
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    pub fn ssrc(&self) -> u32 {
        self.out.ssrc()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Plug in (or remove) the analyzer that gets every decoded 20 ms frame.
    pub fn set_analyzer(&mut self, sink: Option<Box<dyn FrameSink>>) {
        self.analyzer = sink;
    }

    /// Keep decoded frames for [`Session::poll_frame`] (the recorder), or stop.
    pub fn set_capture(&mut self, on: bool) {
        self.capture = on.then(VecDeque::new);
    }

    /// Queue `pcm` (8 kHz mono) to be played after what is queued.
    pub fn play(&mut self, now: Instant, pcm: Pcm) -> PromptId {
        let id = PromptId(self.next_prompt);
        self.next_prompt += 1;
        self.prompts.push_back(Playing { id, pcm, pos: 0 });
        self.schedule_tick(now);
        id
    }

    /// Stop and drop every queued prompt.
    pub fn stop_prompts(&mut self) {
        for p in self.prompts.drain(..) {
            self.events.push_back(Event::PromptFinished {
                id: p.id,
                completed: false,
            });
        }
    }

    /// Whether a prompt is playing or queued.
    pub fn is_playing(&self) -> bool {
        !self.prompts.is_empty()
    }

    /// Relay mode: we send only what [`Session::send_relayed`] gives us, nothing of our own.
    pub fn set_relaying(&mut self, now: Instant, on: bool) {
        self.relaying = on;
        if on {
            self.next_tick = None;
        } else {
            self.schedule_tick(now);
        }
    }

    fn wants_ticks(&self) -> bool {
        !self.relaying
            && self.sdp_remote.is_some()
            && (self.cfg.keepalive || !self.prompts.is_empty())
    }

    fn schedule_tick(&mut self, now: Instant) {
        if self.wants_ticks() {
            if self.next_tick.is_none() {
                self.next_tick = Some(now);
            }
        } else {
            self.next_tick = None;
        }
    }

    /// A datagram from `from` arrived on this leg's socket. Returns the packet when it is valid
    /// media from the far end, for a bridge to relay.
    pub fn handle_datagram<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Option<Incoming<'a>> {
        let Some(p) = Packet::parse(data) else {
            self.stats.dropped_invalid += 1;
            return None;
        };
        let codec = if Some(p.payload_type) == self.telephone_event {
            None
        } else if let Some(&(_, c)) = self.codecs.iter().find(|(pt, _)| *pt == p.payload_type) {
            Some(c)
        } else if let Some(c) = Codec::from_payload_type(p.payload_type) {
            Some(c)
        } else {
            self.stats.dropped_payload_type += 1;
            return None;
        };
        match self.latched {
            Some(a) if a != from => {
                self.stats.dropped_foreign += 1;
                return None;
            }
            Some(_) => {}
            None => {
                self.latched = Some(from);
                if self.sdp_remote != Some(from) {
                    self.events.push_back(Event::Latched(from));
                }
            }
        }
        self.stats.received += 1;
        self.last_rx = Some(now);
        if self.rx_ssrc != Some(p.ssrc) {
            self.rx_ssrc = Some(p.ssrc);
            self.reorder.reset();
            self.accum.clear();
        }
        match codec {
            None => {
                self.dtmf.push(now, p.ssrc, p.timestamp, p.payload);
                while let Some(d) = self.dtmf.poll() {
                    self.events.push_back(Event::Dtmf(d));
                }
            }
            Some(c) if self.analyzer.is_some() || self.capture.is_some() => {
                let Session {
                    reorder,
                    accum,
                    analyzer,
                    capture,
                    ..
                } = self;
                reorder.push(p.seq, p.payload, |payload| {
                    accum.extend(payload.iter().map(|&b| c.decode_sample(b)));
                    while accum.len() >= FRAME_SAMPLES {
                        let mut frame = [0i16; FRAME_SAMPLES];
                        frame.copy_from_slice(&accum[..FRAME_SAMPLES]);
                        accum.drain(..FRAME_SAMPLES);
                        if let Some(a) = analyzer.as_mut() {
                            a.push_frame_at(now, &frame);
                        }
                        if let Some(q) = capture.as_mut() {
                            if q.len() >= 50 {
                                q.pop_front();
                            }
                            q.push_back(frame);
                        }
                    }
                });
                self.stats.duplicates = self.reorder.dropped;
                self.stats.lost = self.reorder.lost;
            }
            Some(_) => {}
        }
        Some(Incoming { packet: p, codec })
    }

    /// Send a packet that arrived on another leg (a bridge): our SSRC, our sequence/timestamp
    /// space, our codec (transcoded if the legs differ), our DTMF payload type (dropped if this
    /// far end did not accept telephone-event).
    pub fn send_relayed(&mut self, now: Instant, inc: &Incoming<'_>) {
        let Some(dest) = self.remote_addr() else {
            return;
        };
        if !self.direction.receives() {
            return;
        }
        let p = &inc.packet;
        let (pt, transcoded);
        let payload: &[u8] = match inc.codec {
            None => match self.telephone_event {
                Some(te) => {
                    pt = te;
                    p.payload
                }
                None => return,
            },
            Some(c) if c == self.codec => {
                pt = self.codec_pt;
                p.payload
            }
            Some(c) => {
                pt = self.codec_pt;
                transcoded = p
                    .payload
                    .iter()
                    .map(|&b| self.codec.encode_sample(c.decode_sample(b)))
                    .collect::<Vec<u8>>();
                &transcoded
            }
        };
        let h = self
            .out
            .next_relayed(now, p.ssrc, p.seq, p.timestamp, p.marker);
        self.transmits.push_back(Transmit {
            dest,
            data: rtp::build(self.out.ssrc(), pt, h, payload),
            due: now,
        });
        self.stats.sent += 1;
    }

    /// The next instant [`Session::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.next_tick, self.inactivity_at, self.dtmf.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Advance time: send due frames, check inactivity, finish stalled DTMF events.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.dtmf.handle_timeout(now);
        while let Some(d) = self.dtmf.poll() {
            self.events.push_back(Event::Dtmf(d));
        }
        if let Some(at) = self.inactivity_at
            && now >= at
        {
            let since = self.last_rx.unwrap_or(at - self.cfg.inactivity);
            if !self.direction.sends() {
                // On hold: the far end sends nothing on purpose.
                self.inactivity_at = Some(now + self.cfg.inactivity);
            } else if now >= since + self.cfg.inactivity {
                self.inactivity_at = None;
                self.events.push_back(Event::Inactive);
            } else {
                self.inactivity_at = Some(since + self.cfg.inactivity);
            }
        }
        let mut sent = 0;
        while let Some(t) = self.next_tick {
            if t > now {
                break;
            }
            if sent == MAX_CATCH_UP {
                self.next_tick = Some(now + PTIME);
                break;
            }
            self.send_frame(t);
            sent += 1;
            self.next_tick = if self.wants_ticks() {
                Some(t + PTIME)
            } else {
                None
            };
        }
    }

    fn send_frame(&mut self, due: Instant) {
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut have = false;
        if let Some(p) = self.prompts.front_mut() {
            let n = (p.pcm.len() - p.pos).min(FRAME_SAMPLES);
            pcm[..n].copy_from_slice(&p.pcm[p.pos..p.pos + n]);
            p.pos += n;
            have = true;
            if p.pos >= p.pcm.len() {
                let id = p.id;
                self.prompts.pop_front();
                self.events.push_back(Event::PromptFinished {
                    id,
                    completed: true,
                });
            }
        }
        if !have && !self.cfg.keepalive {
            return;
        }
        let Some(dest) = self.remote_addr() else {
            return;
        };
        let h = self.out.next_generated(due, FRAME_SAMPLES as u32);
        if !self.direction.receives() {
            return;
        }
        let mut payload = [0u8; FRAME_SAMPLES];
        self.codec.encode(&pcm, &mut payload);
        self.transmits.push_back(Transmit {
            dest,
            data: rtp::build(self.out.ssrc(), self.codec_pt, h, &payload),
            due,
        });
        self.stats.sent += 1;
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next decoded frame kept for the recorder (with capture on).
    pub fn poll_frame(&mut self) -> Option<[i16; FRAME_SAMPLES]> {
        self.capture.as_mut()?.pop_front()
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::*;
    use crate::media::rtp::{Header, build, dtmf_payload};
    use crate::media::sdp::LocalMedia;

    fn remote(port: u16, codec: Codec, te: Option<u8>, dir: Direction) -> RemoteMedia {
        let mut l = LocalMedia::offer("127.0.0.1".parse().unwrap(), port, 1);
        l.codecs = vec![(codec.payload_type(), codec)];
        l.telephone_event = te;
        l.direction = dir;
        RemoteMedia::parse(l.to_sdp().as_bytes()).unwrap()
    }

    fn far(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn drain(s: &mut Session) -> Vec<Transmit> {
        std::iter::from_fn(|| s.poll_transmit()).collect()
    }

    fn events(s: &mut Session) -> Vec<Event> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    fn quiet(ssrc: u32) -> SessionConfig {
        SessionConfig {
            keepalive: false,
            ..SessionConfig::new(ssrc, 1000, 50_000)
        }
    }

    #[test]
    fn prompt_is_sent_on_the_20ms_clock() {
        let t0 = Instant::now();
        let mut s = Session::new(quiet(0x1234));
        s.set_remote(
            t0,
            &remote(4000, Codec::Pcma, Some(101), Direction::SendRecv),
        );
        let pcm: Pcm = (0..400).map(|i| (i * 50) as i16).collect();
        let id = s.play(t0, pcm.clone());
        assert_eq!(s.poll_timeout(), Some(t0));
        let mut got = Vec::new();
        let mut now = t0;
        for _ in 0..5 {
            s.handle_timeout(now);
            got.extend(drain(&mut s));
            now = s.poll_timeout().unwrap().min(now + PTIME);
        }
        // 400 samples = 3 frames (the last padded with silence), then nothing.
        assert_eq!(got.len(), 3);
        let mut decoded = Vec::new();
        for (i, t) in got.iter().enumerate() {
            assert_eq!(t.dest, far(4000));
            assert_eq!(t.due, t0 + PTIME * i as u32);
            let p = Packet::parse(&t.data).unwrap();
            assert_eq!(p.ssrc, 0x1234);
            assert_eq!(p.payload_type, 8);
            assert_eq!(p.seq, 1000 + i as u16);
            assert_eq!(p.timestamp, 50_000 + 160 * i as u32);
            assert_eq!(p.marker, i == 0);
            decoded.extend(p.payload.iter().map(|&b| Codec::Pcma.decode_sample(b)));
        }
        for (a, b) in pcm.iter().zip(&decoded) {
            assert_eq!(Codec::Pcma.decode_sample(Codec::Pcma.encode_sample(*a)), *b);
        }
        assert!(decoded[400..].iter().all(|&v| v.abs() <= 8));
        assert_eq!(
            events(&mut s),
            vec![Event::PromptFinished {
                id,
                completed: true
            }]
        );
        assert_eq!(s.poll_timeout(), Some(t0 + s.cfg.inactivity));
    }

    #[test]
    fn late_clock_catches_up_then_resets() {
        let t0 = Instant::now();
        let mut s = Session::new(SessionConfig::new(1, 0, 0));
        s.set_remote(t0, &remote(4000, Codec::Pcmu, None, Direction::SendRecv));
        s.handle_timeout(t0);
        assert_eq!(drain(&mut s).len(), 1);
        // 300 ms late: at most five frames at once, then the clock restarts from now.
        let late = t0 + Duration::from_millis(320);
        s.handle_timeout(late);
        let burst = drain(&mut s);
        assert_eq!(burst.len(), MAX_CATCH_UP);
        let ts: Vec<u32> = burst
            .iter()
            .map(|t| Packet::parse(&t.data).unwrap().timestamp)
            .collect();
        assert_eq!(ts, vec![160, 320, 480, 640, 800]);
        assert_eq!(s.poll_timeout(), Some(late + PTIME));
        s.handle_timeout(late + PTIME);
        let p = drain(&mut s);
        let h = Packet::parse(&p[0].data).unwrap();
        assert!(h.marker, "a new spurt after the reset");
        assert_eq!(
            h.timestamp,
            800 + rtp::samples_in(Duration::from_millis(340 - 100))
        );
    }

    fn packet(ssrc: u32, pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        build(
            ssrc,
            pt,
            Header {
                seq,
                timestamp: ts,
                marker: false,
            },
            payload,
        )
    }

    #[test]
    fn receive_latches_decodes_in_order_and_filters() {
        let t0 = Instant::now();
        let mut s = Session::new(quiet(9));
        s.set_remote(
            t0,
            &remote(4000, Codec::Pcmu, Some(101), Direction::SendRecv),
        );
        type Seen = Arc<std::sync::Mutex<Vec<(Instant, [i16; 160])>>>;
        struct Timed(Seen);
        impl FrameSink for Timed {
            fn push_frame(&mut self, _: &[i16; 160]) {
                unreachable!("push_frame_at is the one called")
            }
            fn push_frame_at(&mut self, at: Instant, f: &[i16; 160]) {
                self.0.lock().unwrap().push((at, *f))
            }
        }
        let frames = Seen::default();
        s.set_analyzer(Some(Box::new(Timed(frames.clone()))));
        // The far end's media comes from another port than its SDP said (NAT).
        let nat = far(5555);
        let f = |v: i16| [Codec::Pcmu.encode_sample(v); 160];
        assert!(
            s.handle_datagram(t0, nat, &packet(77, 0, 10, 0, &f(1000)))
                .is_some()
        );
        assert_eq!(events(&mut s), vec![Event::Latched(nat)]);
        assert_eq!(s.remote_addr(), Some(nat));
        // Out of order, a duplicate, a stranger, a wrong payload type, garbage.
        assert!(
            s.handle_datagram(t0, nat, &packet(77, 0, 12, 320, &f(3000)))
                .is_some()
        );
        assert!(
            s.handle_datagram(t0, nat, &packet(77, 0, 11, 160, &f(2000)))
                .is_some()
        );
        s.handle_datagram(t0, nat, &packet(77, 0, 11, 160, &f(2000)));
        assert!(
            s.handle_datagram(t0, far(6666), &packet(77, 0, 13, 480, &f(9)))
                .is_none()
        );
        assert!(
            s.handle_datagram(t0, nat, &packet(77, 18, 13, 480, &f(9)))
                .is_none()
        );
        assert!(s.handle_datagram(t0, nat, b"hello").is_none());
        let got: Vec<i16> = frames.lock().unwrap().iter().map(|(_, f)| f[0]).collect();
        assert!(frames.lock().unwrap().iter().all(|(at, _)| *at == t0));
        let q = |v| Codec::Pcmu.decode_sample(Codec::Pcmu.encode_sample(v));
        assert_eq!(got, vec![q(1000), q(2000), q(3000)]);
        let st = s.stats();
        assert_eq!(
            (
                st.received,
                st.duplicates,
                st.dropped_foreign,
                st.dropped_payload_type,
                st.dropped_invalid
            ),
            (4, 1, 1, 1, 1)
        );
    }

    #[test]
    fn ten_ms_packets_make_20ms_frames() {
        let t0 = Instant::now();
        let mut s = Session::new(quiet(9));
        s.set_remote(t0, &remote(4000, Codec::Pcmu, None, Direction::SendRecv));
        s.set_capture(true);
        for i in 0..4u16 {
            let b = [Codec::Pcmu.encode_sample(100 * i as i16 + 100); 80];
            s.handle_datagram(t0, far(4000), &packet(1, 0, i, 80 * i as u32, &b));
        }
        let f1 = s.poll_frame().unwrap();
        let f2 = s.poll_frame().unwrap();
        assert!(s.poll_frame().is_none());
        assert_ne!(f1[0], f1[159]);
        assert_ne!(f2[0], f2[159]);
    }

    #[test]
    fn dtmf_on_the_negotiated_payload_type() {
        let t0 = Instant::now();
        let mut s = Session::new(quiet(9));
        // The far end chose 96 for telephone-event; 101 means nothing here.
        let mut r = remote(4000, Codec::Pcmu, Some(96), Direction::SendRecv);
        r.telephone_event = Some(96);
        s.set_remote(t0, &r);
        s.handle_datagram(
            t0,
            far(4000),
            &packet(1, 101, 1, 800, &dtmf_payload(7, true, 10, 800)),
        );
        assert!(events(&mut s).iter().all(|e| !matches!(e, Event::Dtmf(_))));
        for i in 0..3 {
            s.handle_datagram(
                t0,
                far(4000),
                &packet(1, 96, 2 + i, 1600, &dtmf_payload(7, true, 10, 800)),
            );
        }
        let ev = events(&mut s);
        assert_eq!(
            ev,
            vec![Event::Dtmf(Dtmf {
                digit: '7',
                duration_ms: 100
            })]
        );
    }

    #[test]
    fn inactivity_fires_once_and_not_on_hold() {
        let t0 = Instant::now();
        let secs = Duration::from_secs;
        let mut cfg = quiet(1);
        cfg.inactivity = secs(5);
        let mut s = Session::new(cfg.clone());
        s.set_remote(t0, &remote(4000, Codec::Pcmu, None, Direction::SendRecv));
        assert_eq!(s.poll_timeout(), Some(t0 + secs(5)));
        // Media at 3 s pushes the deadline to 8 s.
        s.handle_datagram(t0 + secs(3), far(4000), &packet(1, 0, 1, 0, &[0xFF; 160]));
        s.handle_timeout(t0 + secs(5));
        assert!(events(&mut s).is_empty());
        assert_eq!(s.poll_timeout(), Some(t0 + secs(8)));
        s.handle_timeout(t0 + secs(8));
        assert_eq!(events(&mut s), vec![Event::Inactive]);
        assert_eq!(s.poll_timeout(), None);
        s.handle_timeout(t0 + secs(20));
        assert!(events(&mut s).is_empty());

        // The far end holds us (sendonly from its side means it sends; inactive means silence).
        let mut s = Session::new(cfg);
        s.set_remote(t0, &remote(4000, Codec::Pcmu, None, Direction::Inactive));
        s.handle_timeout(t0 + secs(6));
        assert!(events(&mut s).is_empty());
        s.play(t0 + secs(6), Arc::from(vec![0i16; 160]));
        s.handle_timeout(t0 + secs(6));
        assert!(
            drain(&mut s).is_empty(),
            "nothing sent to a far end that does not receive"
        );
    }

    #[test]
    fn relayed_packets_are_rewritten_and_transcoded() {
        let t0 = Instant::now();
        let mut a = Session::new(quiet(0xA));
        a.set_remote(
            t0,
            &remote(4000, Codec::Pcma, Some(96), Direction::SendRecv),
        );
        let mut b = Session::new(quiet(0xB));
        b.set_remote(
            t0,
            &remote(5000, Codec::Pcmu, Some(101), Direction::SendRecv),
        );
        let audio = [Codec::Pcma.encode_sample(5000); 160];
        let d = packet(0xCAFE, 8, 100, 9000, &audio);
        let inc = a.handle_datagram(t0, far(4000), &d).unwrap();
        b.send_relayed(t0, &inc);
        let ev = packet(0xCAFE, 96, 101, 9160, &dtmf_payload(3, false, 10, 160));
        let inc = a.handle_datagram(t0 + PTIME, far(4000), &ev).unwrap();
        b.send_relayed(t0 + PTIME, &inc);
        let out = drain(&mut b);
        assert_eq!(out.len(), 2);
        let p = Packet::parse(&out[0].data).unwrap();
        assert_eq!(out[0].dest, far(5000));
        assert_eq!(
            (p.ssrc, p.payload_type, p.seq, p.timestamp),
            (0xB, 0, 1000, 50_000)
        );
        let v = Codec::Pcmu.decode_sample(p.payload[0]);
        assert!((v - 5000).abs() < 200, "transcoded A-law → µ-law: {v}");
        let e = Packet::parse(&out[1].data).unwrap();
        assert_eq!(
            (e.ssrc, e.payload_type, e.seq, e.timestamp),
            (0xB, 101, 1001, 50_160)
        );
        assert_eq!(e.payload, &dtmf_payload(3, false, 10, 160));
    }
}
