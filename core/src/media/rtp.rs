//! RTP building blocks (sans-IO): our outgoing stream's header state, a small reorder buffer,
//! and RFC 4733 telephone-event reception.
//!
//! Packets are read and written with `rtp-rs`. Sequence numbers and timestamps wrap; every
//! comparison here is modular.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

/// RTP fixed header length.
pub const HEADER_LEN: usize = 12;
/// RTP clock rate of G.711 and telephone-event.
pub const CLOCK_RATE: u32 = 8000;

/// A parsed media packet (borrowing the datagram).
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parse an RTP packet; `None` for anything that is not RTP version 2 (RTCP included).
    pub fn parse(b: &'a [u8]) -> Option<Packet<'a>> {
        let r = RtpReader::new(b).ok()?;
        // RTCP multiplexed on the RTP port has packet types 200–204 (marker bit set, PT 72–76).
        if (b[1] & 0x7F) >= 72 && (b[1] & 0x7F) <= 76 {
            return None;
        }
        Some(Packet {
            payload_type: r.payload_type(),
            marker: r.mark(),
            seq: r.sequence_number().into(),
            timestamp: r.timestamp(),
            ssrc: r.ssrc(),
            payload: r.payload(),
        })
    }
}

/// Header fields for one outgoing packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
}

/// Build a packet into a fresh buffer.
pub fn build(ssrc: u32, pt: u8, h: Header, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN + payload.len()];
    let b = RtpPacketBuilder::new()
        .payload_type(pt)
        .marked(h.marker)
        .sequence(Seq::from(h.seq))
        .timestamp(h.timestamp)
        .ssrc(ssrc)
        .payload(payload);
    let n = b.build_into_unchecked(&mut out);
    out.truncate(n);
    out
}

/// Modular "a is after b" for 16-bit sequence numbers.
pub fn seq_after(a: u16, b: u16) -> bool {
    (a.wrapping_sub(b) as i16) > 0
}

/// Samples of the 8 kHz RTP clock in `d`.
pub fn samples_in(d: Duration) -> u32 {
    (d.as_micros() * CLOCK_RATE as u128 / 1_000_000) as u32
}

#[derive(Debug, Clone, Copy)]
struct RelayMap {
    src_ssrc: u32,
    seq_off: u16,
    ts_off: u32,
}

/// Our outgoing stream: one SSRC for the leg's life, sequence and timestamp continuous across
/// source changes (generated frames ↔ relayed packets from another leg), marker bit at each
/// new talk spurt or source.
#[derive(Debug, Clone)]
pub struct StreamOut {
    ssrc: u32,
    /// Highest sequence number sent, and the timestamp/time of that packet.
    last: Option<(u16, u32, Instant)>,
    /// Samples carried by the last generated packet.
    last_samples: u32,
    first_seq: u16,
    first_ts: u32,
    relay: Option<RelayMap>,
}

impl StreamOut {
    /// A stream with a random SSRC and random initial sequence number and timestamp (RFC 3550
    /// §5.1); the caller draws them from its seeded RNG.
    pub fn new(ssrc: u32, first_seq: u16, first_ts: u32) -> StreamOut {
        StreamOut {
            ssrc,
            last: None,
            last_samples: 0,
            first_seq,
            first_ts,
            relay: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Sequence number and timestamp for a packet that starts a new spurt at `now`.
    fn rebase(&self, now: Instant) -> (u16, u32) {
        match self.last {
            None => (self.first_seq, self.first_ts),
            Some((seq, ts, at)) => {
                let elapsed = samples_in(now.saturating_duration_since(at)).max(1);
                (seq.wrapping_add(1), ts.wrapping_add(elapsed))
            }
        }
    }

    fn record(&mut self, h: Header, now: Instant) {
        match self.last {
            Some((seq, _, _)) if !seq_after(h.seq, seq) => {}
            _ => self.last = Some((h.seq, h.timestamp, now)),
        }
    }

    /// Header for a frame we generate (prompt or silence) carrying `samples` samples, sent on the
    /// 20 ms clock. Consecutive frames advance the timestamp by `samples`; after a gap or a relay
    /// the timestamp follows the time elapsed and the marker is set.
    pub fn next_generated(&mut self, now: Instant, samples: u32) -> Header {
        let continuing = self.relay.is_none()
            && matches!(self.last, Some((_, _, at)) if now.saturating_duration_since(at)
                < Duration::from_micros(u64::from(self.last_samples) * 125 * 3));
        let h = match (continuing, self.last) {
            (true, Some((seq, ts, _))) => Header {
                seq: seq.wrapping_add(1),
                timestamp: ts.wrapping_add(self.last_samples),
                marker: false,
            },
            _ => {
                let (seq, timestamp) = self.rebase(now);
                Header {
                    seq,
                    timestamp,
                    marker: true,
                }
            }
        };
        self.relay = None;
        self.last_samples = samples;
        self.record(h, now);
        h
    }

    /// Header for a packet relayed from another stream (`src_*` are its header fields). The first
    /// packet from a new source is mapped right after what we last sent; later ones keep the
    /// source's spacing (gaps and reordering pass through).
    pub fn next_relayed(
        &mut self,
        now: Instant,
        src_ssrc: u32,
        src_seq: u16,
        src_ts: u32,
        src_marker: bool,
    ) -> Header {
        let (map, marker) = match self.relay {
            Some(m) if m.src_ssrc == src_ssrc => (m, src_marker),
            _ => {
                let (seq, ts) = self.rebase(now);
                let m = RelayMap {
                    src_ssrc,
                    seq_off: seq.wrapping_sub(src_seq),
                    ts_off: ts.wrapping_sub(src_ts),
                };
                self.relay = Some(m);
                (m, true)
            }
        };
        let h = Header {
            seq: src_seq.wrapping_add(map.seq_off),
            timestamp: src_ts.wrapping_add(map.ts_off),
            marker,
        };
        self.record(h, now);
        h
    }
}

/// Puts packets of one source back in sequence order: duplicates and packets older than what
/// was already delivered are dropped; a gap is waited for until `depth` later packets are held,
/// then skipped.
#[derive(Debug)]
pub struct Reorder {
    depth: usize,
    next: Option<u16>,
    held: Vec<(u16, Vec<u8>)>,
    /// Packets dropped as duplicates or too late.
    pub dropped: u64,
    /// Packets never received before being skipped.
    pub lost: u64,
}

impl Reorder {
    pub fn new(depth: usize) -> Reorder {
        Reorder {
            depth,
            next: None,
            held: Vec::new(),
            dropped: 0,
            lost: 0,
        }
    }

    /// Forget the source (new SSRC).
    pub fn reset(&mut self) {
        self.next = None;
        self.held.clear();
    }

    /// Accept a packet; `deliver` gets each payload in order.
    pub fn push(&mut self, seq: u16, payload: &[u8], mut deliver: impl FnMut(&[u8])) {
        let next = *self.next.get_or_insert(seq);
        let d = seq.wrapping_sub(next) as i16;
        if d < 0 || self.held.iter().any(|(s, _)| *s == seq) {
            self.dropped += 1;
            return;
        }
        if d > 1000 {
            // The source jumped (restart): deliver what we hold and start over.
            self.flush(&mut deliver);
            self.next = Some(seq);
        }
        if self.next == Some(seq) {
            deliver(payload);
            self.next = Some(seq.wrapping_add(1));
            self.drain(&mut deliver);
            return;
        }
        self.held.push((seq, payload.to_vec()));
        while self.held.len() > self.depth {
            // Give up on the gap: skip to the oldest held packet.
            let Some(next) = self.next else { break };
            let oldest = self
                .held
                .iter()
                .map(|(s, _)| *s)
                .min_by_key(|s| s.wrapping_sub(next))
                .unwrap_or(next);
            self.lost += u64::from(oldest.wrapping_sub(next));
            self.next = Some(oldest);
            self.drain(&mut deliver);
        }
    }

    fn drain(&mut self, deliver: &mut impl FnMut(&[u8])) {
        while let Some(next) = self.next {
            let Some(i) = self.held.iter().position(|(s, _)| *s == next) else {
                break;
            };
            let (_, p) = self.held.swap_remove(i);
            deliver(&p);
            self.next = Some(next.wrapping_add(1));
        }
    }

    fn flush(&mut self, deliver: &mut impl FnMut(&[u8])) {
        if let Some(next) = self.next {
            self.held.sort_by_key(|(s, _)| s.wrapping_sub(next));
        }
        for (_, p) in self.held.drain(..) {
            deliver(&p);
        }
    }
}

/// One DTMF key press received (RFC 4733 event 0–16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtmf {
    /// `0`–`9`, `*`, `#`, `A`–`D`, or `!` for flash.
    pub digit: char,
    /// How long the key was held, as the sender last reported it.
    pub duration_ms: u32,
}

/// The character of an RFC 4733 DTMF event code.
pub fn dtmf_digit(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => (b'0' + event) as char,
        10 => '*',
        11 => '#',
        12..=15 => (b'A' + event - 12) as char,
        16 => '!',
        _ => return None,
    })
}

/// The RFC 4733 event code of a DTMF character.
pub fn dtmf_event(digit: char) -> Option<u8> {
    Some(match digit {
        '0'..='9' => digit as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => digit as u8 - b'A' + 12,
        '!' => 16,
        _ => return None,
    })
}

/// An RFC 4733 event payload.
pub fn dtmf_payload(event: u8, end: bool, volume: u8, duration: u16) -> [u8; 4] {
    let d = duration.to_be_bytes();
    [event, (u8::from(end) << 7) | (volume & 0x3F), d[0], d[1]]
}

/// Turns telephone-event packets into one [`Dtmf`] per key press: packets of one event share a
/// timestamp; the event is reported at its first end packet (the retransmitted end packets are
/// ignored), when the next event starts, or when its packets stop for [`DtmfReceiver::GIVE_UP`].
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    current: Option<Pending>,
    done: VecDeque<(u32, u32)>,
    out: VecDeque<Dtmf>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    ssrc: u32,
    ts: u32,
    event: u8,
    duration: u16,
    last: Instant,
}

impl DtmfReceiver {
    /// An event whose packets stop without an end packet is reported this long after the last.
    pub const GIVE_UP: Duration = Duration::from_millis(300);

    pub fn push(&mut self, now: Instant, ssrc: u32, ts: u32, payload: &[u8]) {
        if payload.len() < 4 {
            return;
        }
        let (event, end) = (payload[0], payload[1] & 0x80 != 0);
        let duration = u16::from_be_bytes([payload[2], payload[3]]);
        if self.done.contains(&(ssrc, ts)) {
            return;
        }
        match self.current {
            Some(p) if (p.ssrc, p.ts) == (ssrc, ts) => {}
            Some(_) => self.finish(),
            None => {}
        }
        let p = self.current.get_or_insert(Pending {
            ssrc,
            ts,
            event,
            duration,
            last: now,
        });
        p.duration = p.duration.max(duration);
        p.last = now;
        if end {
            self.finish();
        }
    }

    fn finish(&mut self) {
        let Some(p) = self.current.take() else { return };
        if self.done.len() >= 8 {
            self.done.pop_front();
        }
        self.done.push_back((p.ssrc, p.ts));
        if let Some(digit) = dtmf_digit(p.event) {
            self.out.push_back(Dtmf {
                digit,
                duration_ms: u32::from(p.duration) * 1000 / CLOCK_RATE,
            });
        }
    }

    /// When an unfinished event will be given up.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|p| p.last + Self::GIVE_UP)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.current, Some(p) if now >= p.last + Self::GIVE_UP) {
            self.finish();
        }
    }

    pub fn poll(&mut self) -> Option<Dtmf> {
        self.out.pop_front()
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::*;

    #[test]
    fn packet_build_and_parse() {
        let h = Header {
            seq: 65535,
            timestamp: u32::MAX - 10,
            marker: true,
        };
        let b = build(0xdead_beef, 8, h, &[1, 2, 3]);
        let p = Packet::parse(&b).unwrap();
        assert_eq!(
            (p.payload_type, p.marker, p.seq, p.timestamp, p.ssrc),
            (8, true, 65535, u32::MAX - 10, 0xdead_beef)
        );
        assert_eq!(p.payload, &[1, 2, 3]);
        // RTCP sender report (PT 200) and garbage are not media.
        let mut sr = b.clone();
        sr[1] = 200;
        assert!(Packet::parse(&sr).is_none());
        assert!(Packet::parse(&[0x80, 0]).is_none());
        assert!(Packet::parse(&[0x40; 20]).is_none());
    }

    #[test]
    fn generated_stream_wraps_and_marks_spurts() {
        let t0 = Instant::now();
        let mut s = StreamOut::new(1, 65534, u32::MAX - 159);
        let ms = Duration::from_millis;
        let h1 = s.next_generated(t0, 160);
        assert_eq!(
            (h1.seq, h1.timestamp, h1.marker),
            (65534, u32::MAX - 159, true)
        );
        let h2 = s.next_generated(t0 + ms(20), 160);
        assert_eq!((h2.seq, h2.timestamp, h2.marker), (65535, 0, false));
        let h3 = s.next_generated(t0 + ms(40), 160);
        assert_eq!((h3.seq, h3.timestamp, h3.marker), (0, 160, false));
        // One second of silence not sent: the timestamp follows the clock, marker set.
        let h4 = s.next_generated(t0 + ms(1040), 160);
        assert_eq!((h4.seq, h4.timestamp, h4.marker), (1, 160 + 8000, true));
    }

    #[test]
    fn relayed_stream_is_continuous_across_sources() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = StreamOut::new(7, 100, 1000);
        s.next_generated(t0, 160); // seq 100 ts 1000 (a prompt)
        s.next_generated(t0 + ms(20), 160); // 101, 1160
        // Customer audio arrives 20 ms later from another SSRC with unrelated numbers.
        let r1 = s.next_relayed(t0 + ms(40), 0xAAAA, 40000, 5_000_000, false);
        assert_eq!((r1.seq, r1.timestamp, r1.marker), (102, 1320, true));
        let r2 = s.next_relayed(t0 + ms(60), 0xAAAA, 40001, 5_000_160, false);
        assert_eq!((r2.seq, r2.timestamp, r2.marker), (103, 1480, false));
        // A lost packet stays a gap; a late one slots in behind.
        let r4 = s.next_relayed(t0 + ms(100), 0xAAAA, 40003, 5_000_480, false);
        assert_eq!((r4.seq, r4.timestamp), (105, 1800));
        let r3 = s.next_relayed(t0 + ms(101), 0xAAAA, 40002, 5_000_320, false);
        assert_eq!((r3.seq, r3.timestamp), (104, 1640));
        // A new source continues after the highest sequence sent.
        let n1 = s.next_relayed(t0 + ms(120), 0xBBBB, 7, 70, false);
        assert_eq!((n1.seq, n1.timestamp, n1.marker), (106, 1800 + 160, true));
        // Back to generated frames: continues again.
        let g = s.next_generated(t0 + ms(140), 160);
        assert_eq!((g.seq, g.timestamp, g.marker), (107, 1960 + 160, true));
    }

    #[test]
    fn relay_mapping_wraps() {
        let t0 = Instant::now();
        let mut s = StreamOut::new(7, 65535, u32::MAX);
        let a = s.next_relayed(t0, 9, 10, 10, false);
        assert_eq!((a.seq, a.timestamp), (65535, u32::MAX));
        let b = s.next_relayed(t0, 9, 11, 170, false);
        assert_eq!((b.seq, b.timestamp), (0, 159));
    }

    fn run(r: &mut Reorder, seqs: &[u16]) -> Vec<u16> {
        let mut out = Vec::new();
        for &s in seqs {
            r.push(s, &s.to_be_bytes(), |p| {
                out.push(u16::from_be_bytes([p[0], p[1]]))
            });
        }
        out
    }

    #[test]
    fn reorder_sorts_dedupes_and_skips_gaps() {
        let mut r = Reorder::new(3);
        assert_eq!(run(&mut r, &[10, 12, 11, 11, 13, 9]), vec![10, 11, 12, 13]);
        assert_eq!(r.dropped, 2);
        // 14 lost: held until three later packets wait, then skipped.
        assert_eq!(run(&mut r, &[15, 16, 17]), Vec::<u16>::new());
        assert_eq!(run(&mut r, &[18]), vec![15, 16, 17, 18]);
        assert_eq!(r.lost, 1);
        // Wrap.
        let mut r = Reorder::new(3);
        assert_eq!(run(&mut r, &[65534, 0, 65535, 1]), vec![65534, 65535, 0, 1]);
        // A restart far ahead.
        assert_eq!(run(&mut r, &[30000, 30001]), vec![30000, 30001]);
    }

    #[test]
    fn dtmf_one_event_per_press() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = DtmfReceiver::default();
        // '5': three progress packets, three end packets (same timestamp).
        for (i, dur) in [160u16, 320, 480].iter().enumerate() {
            d.push(
                t0 + ms(i as u64 * 50),
                1,
                8000,
                &dtmf_payload(5, false, 10, *dur),
            );
        }
        assert_eq!(d.poll(), None);
        for _ in 0..3 {
            d.push(t0 + ms(200), 1, 8000, &dtmf_payload(5, true, 10, 800));
        }
        assert_eq!(
            d.poll(),
            Some(Dtmf {
                digit: '5',
                duration_ms: 100
            })
        );
        assert_eq!(d.poll(), None);
        // '#' whose end packets are all lost, then '1' starts: '#' is reported first.
        d.push(t0 + ms(300), 1, 16000, &dtmf_payload(11, false, 10, 160));
        d.push(t0 + ms(400), 1, 24000, &dtmf_payload(1, false, 10, 160));
        assert_eq!(d.poll().map(|x| x.digit), Some('#'));
        // '1' loses its end packets too: given up after the timeout.
        assert_eq!(d.poll_timeout(), Some(t0 + ms(400) + DtmfReceiver::GIVE_UP));
        d.handle_timeout(t0 + ms(500));
        assert_eq!(d.poll(), None);
        d.handle_timeout(t0 + ms(800));
        assert_eq!(d.poll().map(|x| x.digit), Some('1'));
        // Late end packets of '1' do not report it again.
        d.push(t0 + ms(810), 1, 24000, &dtmf_payload(1, true, 10, 800));
        assert_eq!(d.poll(), None);
        // Same digit pressed again is a new timestamp: reported.
        d.push(t0 + ms(900), 1, 32000, &dtmf_payload(1, true, 10, 800));
        assert_eq!(d.poll().map(|x| x.digit), Some('1'));
    }

    #[test]
    fn dtmf_codes() {
        let all = "0123456789*#ABCD!";
        for (i, c) in all.chars().enumerate() {
            assert_eq!(dtmf_digit(i as u8), Some(c));
            assert_eq!(dtmf_event(c), Some(i as u8));
        }
        assert_eq!(dtmf_digit(17), None);
        assert_eq!(dtmf_event('x'), None);
    }
}
