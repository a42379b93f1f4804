//! Many legs, bridges between them, and the recording tap, sans-IO.
//!
//! [`Engine`] owns every leg's [`Session`], keyed by [`LegId`], and one deadline heap for all
//! of them (thousands of legs, one timer). Bridging two legs relays each one's media to the
//! other as it arrives: the receiving side rewrites SSRC, sequence and timestamp into its own
//! stream (so the agent's phone sees one continuous stream when a prompt gives way to the
//! customer), transcodes PCMU↔PCMA when the legs differ, and remaps the DTMF payload type.
//! A bridge may record: decoded frames of both legs go to a [`RecordSink`] as stereo (first leg
//! left, second right), one 20 ms frame per channel per tick, silence where a side had nothing.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use super::g711::FRAME_SAMPLES;
use super::session::{Event, PTIME, Session, Transmit};

/// Names a leg in an [`Engine`]; stale ids (of removed legs) are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId {
    idx: u32,
    generation: u32,
}

/// What a leg reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    Media(Event),
    /// The recording of this leg's bridge stopped (unbridged or removed); `frames` per channel.
    RecordingFinished {
        frames: u64,
    },
    /// The recording could not be written; it was stopped.
    RecordingFailed(String),
}

/// Why a bridge was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    #[error("no such leg")]
    NoSuchLeg,
    #[error("a leg cannot be bridged to itself")]
    SameLeg,
    #[error("leg is already bridged")]
    AlreadyBridged,
}

/// Where a bridge's recording goes: stereo 20 ms frames.
pub trait RecordSink: Send {
    fn write(
        &mut self,
        left: &[i16; FRAME_SAMPLES],
        right: &[i16; FRAME_SAMPLES],
    ) -> Result<(), String>;
    fn finish(self: Box<Self>) -> Result<(), String>;
}

/// Frames a side may run ahead of the recording clock before the oldest are dropped.
const RECORD_SLACK: usize = 10;

/// The recording tap of one bridge: aligns both sides on a 20 ms clock.
pub struct Recorder {
    sink: Box<dyn RecordSink>,
    left: VecDeque<[i16; FRAME_SAMPLES]>,
    right: VecDeque<[i16; FRAME_SAMPLES]>,
    next_tick: Instant,
    frames: u64,
    /// Paused by the agent (a card number read out): both channels are written as silence, so
    /// the file keeps the call's length and the paused part is in it as nothing.
    paused: bool,
}

impl Recorder {
    pub fn new(now: Instant, sink: Box<dyn RecordSink>) -> Recorder {
        Recorder {
            sink,
            left: VecDeque::new(),
            right: VecDeque::new(),
            next_tick: now + PTIME,
            frames: 0,
            paused: false,
        }
    }

    fn push(q: &mut VecDeque<[i16; FRAME_SAMPLES]>, f: [i16; FRAME_SAMPLES]) {
        if q.len() >= RECORD_SLACK {
            q.pop_front();
        }
        q.push_back(f);
    }

    /// Write one stereo frame per elapsed tick.
    fn tick(&mut self, now: Instant) -> Result<(), String> {
        const SILENCE: [i16; FRAME_SAMPLES] = [0; FRAME_SAMPLES];
        while self.next_tick <= now {
            let mut l = self.left.pop_front();
            let mut r = self.right.pop_front();
            if self.paused {
                (l, r) = (None, None);
            }
            self.sink.write(
                l.as_ref().unwrap_or(&SILENCE),
                r.as_ref().unwrap_or(&SILENCE),
            )?;
            self.frames += 1;
            self.next_tick += PTIME;
        }
        Ok(())
    }
}

struct Leg {
    session: Session,
    partner: Option<LegId>,
    /// The recorder of this leg's bridge lives on its first (left) leg.
    recorder: Option<Recorder>,
    scheduled: Option<Instant>,
}

struct Slot {
    generation: u32,
    leg: Option<Leg>,
}

fn leg_in(slots: &mut [Slot], id: LegId) -> Option<&mut Leg> {
    let s = slots.get_mut(id.idx as usize)?;
    if s.generation != id.generation {
        return None;
    }
    s.leg.as_mut()
}

/// Every leg, their bridges and one timer heap.
#[derive(Default)]
pub struct Engine {
    slots: Vec<Slot>,
    free: Vec<u32>,
    heap: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    transmits: VecDeque<(LegId, Transmit)>,
    events: VecDeque<(LegId, LegEvent)>,
    live: usize,
}

impl Engine {
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Number of legs.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Add a leg.
    pub fn add(&mut self, session: Session) -> LegId {
        let leg = Leg {
            session,
            partner: None,
            recorder: None,
            scheduled: None,
        };
        let id = match self.free.pop() {
            Some(idx) => {
                let s = &mut self.slots[idx as usize];
                s.leg = Some(leg);
                LegId {
                    idx,
                    generation: s.generation,
                }
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    leg: Some(leg),
                });
                LegId {
                    idx: self.slots.len() as u32 - 1,
                    generation: 0,
                }
            }
        };
        self.live += 1;
        self.collect(id);
        id
    }

    /// Remove a leg (unbridging it first); its queued output is still delivered.
    pub fn remove(&mut self, now: Instant, id: LegId) -> Option<Session> {
        self.unbridge(now, id);
        self.collect(id);
        let slot = self.slots.get_mut(id.idx as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let leg = slot.leg.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.idx);
        self.live -= 1;
        Some(leg.session)
    }

    fn leg(&self, id: LegId) -> Option<&Leg> {
        let s = self.slots.get(id.idx as usize)?;
        if s.generation != id.generation {
            return None;
        }
        s.leg.as_ref()
    }

    fn leg_mut(&mut self, id: LegId) -> Option<&mut Leg> {
        leg_in(&mut self.slots, id)
    }

    /// Read a leg's session.
    pub fn session(&self, id: LegId) -> Option<&Session> {
        self.leg(id).map(|l| &l.session)
    }

    /// Change a leg's session (play, stop, set_remote, set_analyzer …); its outputs and
    /// deadline are picked up afterwards.
    pub fn with<R>(&mut self, id: LegId, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        let r = f(&mut self.leg_mut(id)?.session);
        self.collect(id);
        Some(r)
    }

    /// The leg bridged to `id`.
    pub fn partner(&self, id: LegId) -> Option<LegId> {
        self.leg(id)?.partner
    }

    /// Pause (or resume) the recording of `id`'s bridge: while paused, both channels are
    /// written as silence. Frames already waiting for the recording clock are written as what
    /// the recording is when their tick comes. False when the bridge is not recorded.
    pub fn pause_recording(&mut self, id: LegId, paused: bool) -> bool {
        let on = match self.leg(id).map(|l| l.recorder.is_some()) {
            Some(true) => id,
            Some(false) => match self.partner(id) {
                Some(p) => p,
                None => return false,
            },
            None => return false,
        };
        match self.leg_mut(on).and_then(|l| l.recorder.as_mut()) {
            Some(rec) => {
                rec.paused = paused;
                true
            }
            None => false,
        }
    }

    /// Frames of both sides that reached the recording of `id`'s bridge and wait for its clock
    /// to write them; `None` when the bridge is not recorded.
    pub fn recording_backlog(&self, id: LegId) -> Option<usize> {
        let on = match self.leg(id)?.recorder {
            Some(_) => id,
            None => self.partner(id)?,
        };
        let rec = self.leg(on)?.recorder.as_ref()?;
        Some(rec.left.len() + rec.right.len())
    }

    /// Bridge `left` and `right` (e.g. customer and agent): prompts on both stop, media flows both
    /// ways; with a sink, the bridge is recorded (left leg left channel).
    pub fn bridge(
        &mut self,
        now: Instant,
        left: LegId,
        right: LegId,
        record: Option<Box<dyn RecordSink>>,
    ) -> Result<(), BridgeError> {
        if left == right {
            return Err(BridgeError::SameLeg);
        }
        for id in [left, right] {
            match self.leg(id) {
                None => return Err(BridgeError::NoSuchLeg),
                Some(l) if l.partner.is_some() => return Err(BridgeError::AlreadyBridged),
                Some(_) => {}
            }
        }
        let recording = record.is_some();
        for (id, other) in [(left, right), (right, left)] {
            if let Some(l) = self.leg_mut(id) {
                l.partner = Some(other);
                l.session.stop_prompts();
                l.session.set_relaying(now, true);
                l.session.set_capture(recording);
            }
        }
        if let Some(sink) = record
            && let Some(l) = self.leg_mut(left)
        {
            l.recorder = Some(Recorder::new(now, sink));
        }
        self.collect(left);
        self.collect(right);
        Ok(())
    }

    /// Undo the bridge `id` is in (either leg); both go back to playing their own (silence or
    /// prompts); a recording is finished.
    pub fn unbridge(&mut self, now: Instant, id: LegId) {
        let Some(other) = self.partner(id) else {
            return;
        };
        for leg in [id, other] {
            let Some(l) = self.leg_mut(leg) else { continue };
            l.partner = None;
            l.session.set_relaying(now, false);
            l.session.set_capture(false);
            if let Some(rec) = l.recorder.take() {
                let frames = rec.frames;
                let ev = match rec.sink.finish() {
                    Ok(()) => LegEvent::RecordingFinished { frames },
                    Err(e) => LegEvent::RecordingFailed(e),
                };
                self.events.push_back((leg, ev));
            }
            self.collect(leg);
        }
    }

    /// A datagram arrived on leg `id`'s socket.
    pub fn handle_datagram(&mut self, now: Instant, id: LegId, from: SocketAddr, data: &[u8]) {
        let Some(leg) = self.leg_mut(id) else { return };
        let partner = leg.partner;
        let inc = leg.session.handle_datagram(now, from, data);
        if let (Some(inc), Some(p)) = (inc, partner)
            && let Some(pl) = self.leg_mut(p)
        {
            pl.session.send_relayed(now, &inc);
        }
        self.collect(id);
        if let Some(p) = partner {
            self.collect(p);
        }
    }

    /// The earliest deadline of any leg.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, idx, generation))) = self.heap.peek() {
            let id = LegId { idx, generation };
            match self.leg(id) {
                Some(l) if l.scheduled == Some(at) => return Some(at),
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }

    /// Run every leg whose deadline has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, idx, generation))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let id = LegId { idx, generation };
            let Some(l) = self.leg_mut(id) else { continue };
            if l.scheduled != Some(at) {
                continue;
            }
            l.scheduled = None;
            l.session.handle_timeout(now);
            self.collect(id);
            if let Some(p) = self.partner(id) {
                self.collect(p);
            }
            let failed = match self.leg_mut(id).and_then(|l| l.recorder.as_mut()) {
                Some(rec) => rec.tick(now).err(),
                None => None,
            };
            if let Some(e) = failed {
                if let Some(l) = self.leg_mut(id) {
                    l.recorder = None;
                }
                self.events.push_back((id, LegEvent::RecordingFailed(e)));
            }
            self.reschedule(id);
        }
    }

    /// Move a leg's outputs to the engine's queues, its frames to the recorder, and update its
    /// place in the heap.
    fn collect(&mut self, id: LegId) {
        let Some(l) = leg_in(&mut self.slots, id) else {
            return;
        };
        let partner = l.partner;
        while let Some(t) = l.session.poll_transmit() {
            self.transmits.push_back((id, t));
        }
        while let Some(e) = l.session.poll_event() {
            self.events.push_back((id, LegEvent::Media(e)));
        }
        // Frames go to the recorder, which sits on this leg (left) or on its partner (right).
        let mut frames = Vec::new();
        while let Some(f) = l.session.poll_frame() {
            frames.push(f);
        }
        if !frames.is_empty() {
            let own = l.recorder.is_some();
            let target = if own { Some(id) } else { partner };
            if let Some(rec) = target
                .and_then(|t| self.leg_mut(t))
                .and_then(|t| t.recorder.as_mut())
            {
                for f in frames {
                    Recorder::push(if own { &mut rec.left } else { &mut rec.right }, f);
                }
            }
        }
        self.reschedule(id);
    }

    fn reschedule(&mut self, id: LegId) {
        let Some(l) = self.leg_mut(id) else { return };
        let due = [
            l.session.poll_timeout(),
            l.recorder.as_ref().map(|r| r.next_tick),
        ]
        .into_iter()
        .flatten()
        .min();
        if due != l.scheduled {
            l.scheduled = due;
            if let Some(at) = due {
                self.heap.push(Reverse((at, id.idx, id.generation)));
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<(LegId, Transmit)> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<(LegId, LegEvent)> {
        self.events.pop_front()
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::*;
    use crate::media::g711::Codec;
    use crate::media::rtp::{Header, Packet, build, dtmf_payload};
    use crate::media::sdp::{LocalMedia, RemoteMedia};
    use crate::media::session::SessionConfig;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    fn remote(port: u16, codec: Codec) -> RemoteMedia {
        let mut l = LocalMedia::offer("127.0.0.1".parse().unwrap(), port, 1);
        l.codecs = vec![(codec.payload_type(), codec)];
        RemoteMedia::parse(l.to_sdp().as_bytes()).unwrap()
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn leg(e: &mut Engine, now: Instant, ssrc: u32, port: u16, codec: Codec) -> LegId {
        let mut s = Session::new(SessionConfig::new(ssrc, 0, 0));
        s.set_remote(now, &remote(port, codec));
        e.add(s)
    }

    fn pkt(ssrc: u32, pt: u8, seq: u16, v: i16, codec: Codec) -> Vec<u8> {
        let h = Header {
            seq,
            timestamp: u32::from(seq) * 160,
            marker: false,
        };
        build(ssrc, pt, h, &[codec.encode_sample(v); 160])
    }

    type Frames = Arc<Mutex<Vec<([i16; 160], [i16; 160])>>>;
    struct Mem(Frames);
    impl RecordSink for Mem {
        fn write(&mut self, l: &[i16; 160], r: &[i16; 160]) -> Result<(), String> {
            self.0.lock().unwrap().push((*l, *r));
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<(), String> {
            Ok(())
        }
    }

    fn sent(e: &mut Engine) -> Vec<(LegId, Transmit)> {
        std::iter::from_fn(|| e.poll_transmit()).collect()
    }

    #[test]
    fn one_timer_drives_many_legs() {
        let t0 = Instant::now();
        let mut e = Engine::new();
        let ids: Vec<LegId> = (0..100)
            .map(|i| {
                leg(
                    &mut e,
                    t0 + Duration::from_micros(i * 150),
                    i as u32,
                    4000 + i as u16,
                    Codec::Pcmu,
                )
            })
            .collect();
        let mut now = t0;
        let mut count = std::collections::HashMap::new();
        while now < t0 + Duration::from_millis(1000) {
            e.handle_timeout(now);
            for (id, t) in sent(&mut e) {
                assert!(now >= t.due && now - t.due < Duration::from_millis(1));
                *count.entry(id).or_insert(0) += 1;
            }
            now = e.poll_timeout().unwrap();
        }
        // Keepalive silence on every leg: 50 packets a second each.
        for id in ids {
            assert_eq!(count[&id], 50, "{id:?}");
        }
    }

    #[test]
    fn bridge_relays_both_ways_with_rewritten_headers_and_records() {
        let t0 = Instant::now();
        let mut e = Engine::new();
        let cust = leg(&mut e, t0, 0xC, 4000, Codec::Pcma);
        let agent = leg(&mut e, t0, 0xA, 5000, Codec::Pcmu);
        // The agent hears a prompt first (our stream, seq 0…).
        let beep: Arc<[i16]> = Arc::from(vec![1000i16; 320]);
        e.with(agent, |s| s.play(t0, beep.clone()));
        e.handle_timeout(t0);
        e.handle_timeout(t0 + PTIME);
        let prompt_pkts: Vec<(u16, u32)> = sent(&mut e)
            .iter()
            .filter(|(id, _)| *id == agent)
            .map(|(_, t)| {
                let p = Packet::parse(&t.data).unwrap();
                (p.seq, p.timestamp)
            })
            .collect();
        assert_eq!(prompt_pkts, vec![(0, 0), (1, 160)]);

        let rec = Frames::default();
        let t1 = t0 + PTIME * 2;
        e.bridge(t1, cust, agent, Some(Box::new(Mem(rec.clone()))))
            .unwrap();
        assert_eq!(
            e.bridge(t1, cust, agent, None),
            Err(BridgeError::AlreadyBridged)
        );
        // Nothing of our own on a bridged leg any more.
        e.handle_timeout(t1 + PTIME * 5);
        assert!(
            sent(&mut e)
                .iter()
                .all(|(id, _)| *id != agent && *id != cust)
        );

        // Customer audio (A-law, their SSRC) → agent leg (µ-law, our SSRC, our numbering).
        let mut now = t1 + PTIME * 5;
        for i in 0..3u16 {
            now += PTIME;
            e.handle_datagram(
                now,
                cust,
                addr(4000),
                &pkt(0xF00D, 8, 500 + i, 3000, Codec::Pcma),
            );
            e.handle_datagram(
                now,
                agent,
                addr(5000),
                &pkt(0xBEEF, 0, 9000 + i, -2000, Codec::Pcmu),
            );
            e.handle_timeout(now);
        }
        // A DTMF digit from the customer passes through with the agent leg's payload type.
        e.handle_datagram(
            now,
            cust,
            addr(4000),
            &build(
                0xF00D,
                101,
                Header {
                    seq: 503,
                    timestamp: 503 * 160,
                    marker: true,
                },
                &dtmf_payload(9, true, 10, 800),
            ),
        );
        let out = sent(&mut e);
        let to_agent: Vec<Packet> = out
            .iter()
            .filter(|(id, _)| *id == agent)
            .map(|(_, t)| Packet::parse(&t.data).unwrap())
            .collect();
        let to_cust: Vec<Packet> = out
            .iter()
            .filter(|(id, _)| *id == cust)
            .map(|(_, t)| Packet::parse(&t.data).unwrap())
            .collect();
        assert_eq!(to_agent.len(), 4);
        assert_eq!(to_cust.len(), 3);
        for (i, p) in to_agent.iter().take(3).enumerate() {
            assert_eq!(p.ssrc, 0xA);
            assert_eq!(p.payload_type, 0);
            assert_eq!(p.seq, 2 + i as u16, "continues after the prompt's 0, 1");
            assert_eq!(p.marker, i == 0);
            let v = Codec::Pcmu.decode_sample(p.payload[0]);
            assert!((v - 3000).abs() < 150, "{v}");
        }
        // The stream's timestamp moved on with the clock between prompt and relay.
        assert!(to_agent[0].timestamp > 160);
        assert_eq!(to_agent[1].timestamp - to_agent[0].timestamp, 160);
        assert_eq!((to_agent[3].payload_type, to_agent[3].seq), (101, 5));
        for p in &to_cust {
            assert_eq!((p.ssrc, p.payload_type), (0xC, 8));
            assert!((Codec::Pcma.decode_sample(p.payload[0]) + 2000).abs() < 150);
        }

        // Let the recording clock run, then unbridge: left is the customer, right the agent.
        e.handle_timeout(now + PTIME * 3);
        e.unbridge(now + PTIME * 3, agent);
        let evs: Vec<(LegId, LegEvent)> = std::iter::from_fn(|| e.poll_event()).collect();
        let frames = rec.lock().unwrap().clone();
        assert!(
            evs.contains(&(
                cust,
                LegEvent::RecordingFinished {
                    frames: frames.len() as u64
                }
            )),
            "{evs:?}"
        );
        assert_eq!(
            frames.len(),
            11,
            "one stereo frame per 20 ms from bridge to unbridge"
        );
        let voiced: Vec<&([i16; 160], [i16; 160])> = frames
            .iter()
            .filter(|(l, r)| l[0] != 0 || r[0] != 0)
            .collect();
        assert_eq!(voiced.len(), 3);
        for (l, r) in voiced {
            assert!(
                (l[0] - 3000).abs() < 150 && (r[0] + 2000).abs() < 150,
                "{} {}",
                l[0],
                r[0]
            );
        }
        // After the bridge, both legs send their own again.
        e.handle_timeout(now + PTIME * 4);
        let ids: Vec<LegId> = sent(&mut e).into_iter().map(|(id, _)| id).collect();
        assert!(ids.contains(&cust) && ids.contains(&agent));
        assert!(e.remove(now, cust).is_some());
        assert!(e.remove(now, cust).is_none());
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn a_paused_recording_is_silence_and_resumes() {
        let t0 = Instant::now();
        let mut e = Engine::new();
        let cust = leg(&mut e, t0, 0xC, 4000, Codec::Pcmu);
        let agent = leg(&mut e, t0, 0xA, 5000, Codec::Pcmu);
        assert!(
            !e.pause_recording(agent, true),
            "not bridged: nothing to pause"
        );
        let rec = Frames::default();
        e.bridge(t0, cust, agent, Some(Box::new(Mem(rec.clone()))))
            .unwrap();
        // 30 ticks of both sides talking; paused (from the agent's side) for ticks 10..20.
        let mut now = t0;
        for i in 0..30u16 {
            now += PTIME;
            if i == 10 {
                assert!(e.pause_recording(agent, true));
            }
            if i == 20 {
                assert!(e.pause_recording(cust, false));
            }
            e.handle_datagram(now, cust, addr(4000), &pkt(1, 0, i, 3000, Codec::Pcmu));
            e.handle_datagram(now, agent, addr(5000), &pkt(2, 0, i, -2000, Codec::Pcmu));
            e.handle_timeout(now);
        }
        e.unbridge(now, agent);
        let frames = rec.lock().unwrap().clone();
        assert_eq!(frames.len(), 30);
        let voiced: Vec<bool> = frames
            .iter()
            .map(|(l, r)| l.iter().chain(r.iter()).any(|&v| v != 0))
            .collect();
        // The tap runs a tick behind the packets: what arrived at ticks 10..20 is silent.
        let silent: Vec<usize> = (0..30).filter(|&i| !voiced[i]).collect();
        assert_eq!(silent, (10..20).collect::<Vec<_>>(), "{voiced:?}");
    }

    #[test]
    fn removed_legs_leave_no_timers_and_ids_are_not_reused() {
        let t0 = Instant::now();
        let mut e = Engine::new();
        let a = leg(&mut e, t0, 1, 4000, Codec::Pcmu);
        e.remove(t0, a);
        assert_eq!(e.poll_timeout(), None);
        let b = leg(&mut e, t0, 2, 4002, Codec::Pcmu);
        assert_ne!(a, b);
        assert!(e.with(a, |_| ()).is_none());
        assert_eq!(e.bridge(t0, a, b, None), Err(BridgeError::NoSuchLeg));
        assert_eq!(e.bridge(t0, b, b, None), Err(BridgeError::SameLeg));
    }
}
