//! G.711 µ-law (PCMU) and A-law (PCMA), table-driven.
//!
//! The tables are built at compile time from the ITU-T G.711 segment rules (the same arithmetic
//! as Sun's public-domain `g711.c`): decoding is one lookup per byte, encoding one lookup per
//! sample (µ-law on the top 14 bits, A-law on the top 13, which is all the precision each law
//! keeps).

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// A G.711 variant, with its static RTP payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, RTP payload type 0.
    Pcmu,
    /// A-law, RTP payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551).
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static payload type, if it is one of ours.
    pub const fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The SDP `rtpmap` encoding name.
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The codec of an SDP encoding name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }

    /// The byte that decodes to (nearly) zero.
    pub const fn silence(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }

    /// Encode one sample.
    #[inline]
    pub fn encode_sample(self, s: i16) -> u8 {
        match self {
            Codec::Pcmu => ulaw_encode(s),
            Codec::Pcma => alaw_encode(s),
        }
    }

    /// Decode one byte.
    #[inline]
    pub fn decode_sample(self, b: u8) -> i16 {
        match self {
            Codec::Pcmu => ulaw_decode(b),
            Codec::Pcma => alaw_decode(b),
        }
    }

    /// Encode `pcm` into `out` (same length; extra output bytes are left alone).
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) {
        match self {
            Codec::Pcmu => pcm.iter().zip(out).for_each(|(s, o)| *o = ulaw_encode(*s)),
            Codec::Pcma => pcm.iter().zip(out).for_each(|(s, o)| *o = alaw_encode(*s)),
        }
    }

    /// Decode `bytes` into `out` (same length; extra output samples are left alone).
    pub fn decode(self, bytes: &[u8], out: &mut [i16]) {
        let table = match self {
            Codec::Pcmu => &ULAW_DECODE,
            Codec::Pcma => &ALAW_DECODE,
        };
        bytes
            .iter()
            .zip(out)
            .for_each(|(b, o)| *o = table[*b as usize]);
    }
}

/// µ-law byte → linear sample.
#[inline]
pub fn ulaw_decode(b: u8) -> i16 {
    ULAW_DECODE[b as usize]
}

/// A-law byte → linear sample.
#[inline]
pub fn alaw_decode(b: u8) -> i16 {
    ALAW_DECODE[b as usize]
}

/// Linear sample → µ-law byte.
#[inline]
pub fn ulaw_encode(s: i16) -> u8 {
    ULAW_ENCODE[((s as u16) >> 2) as usize]
}

/// Linear sample → A-law byte.
#[inline]
pub fn alaw_encode(s: i16) -> u8 {
    ALAW_ENCODE[((s as u16) >> 3) as usize]
}

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 8159;
const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

const fn segment(v: i32, ends: &[i32; 8]) -> usize {
    let mut i = 0;
    while i < 8 {
        if v <= ends[i] {
            return i;
        }
        i += 1;
    }
    8
}

/// µ-law of a 14-bit sample (`pcm >> 2`).
const fn ulaw_from_14(v: i32) -> u8 {
    let (mut v, mask) = if v < 0 { (-v, 0x7F) } else { (v, 0xFF) };
    if v > ULAW_CLIP {
        v = ULAW_CLIP;
    }
    v += ULAW_BIAS >> 2;
    let seg = segment(v, &SEG_UEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let u = ((seg as i32) << 4) | ((v >> (seg + 1)) & 0xF);
    (u ^ mask) as u8
}

/// A-law of a 13-bit sample (`pcm >> 3`).
const fn alaw_from_13(v: i32) -> u8 {
    let (v, mask) = if v >= 0 { (v, 0xD5) } else { (-v - 1, 0x55) };
    let seg = segment(v, &SEG_AEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mut a = (seg as i32) << 4;
    if seg < 2 {
        a |= (v >> 1) & 0xF;
    } else {
        a |= (v >> seg) & 0xF;
    }
    (a ^ mask) as u8
}

const fn ulaw_to_linear(b: u8) -> i16 {
    let u = !b as i32;
    let mut t = ((u & 0x0F) << 3) + ULAW_BIAS;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

const fn alaw_to_linear(b: u8) -> i16 {
    let a = (b ^ 0x55) as i32;
    let mut t = (a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

static ULAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_to_linear(i as u8);
        i += 1;
    }
    t
};

static ALAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_to_linear(i as u8);
        i += 1;
    }
    t
};

/// Indexed by the sample's top 14 bits as unsigned (`(s as u16) >> 2`).
static ULAW_ENCODE: [u8; 1 << 14] = {
    let mut t = [0u8; 1 << 14];
    let mut i = 0;
    while i < (1 << 14) {
        // Sign-extend the 14-bit index back to the sample's value >> 2.
        let v = ((i as i32) << 18) >> 18;
        t[i] = ulaw_from_14(v);
        i += 1;
    }
    t
};

/// Indexed by the sample's top 13 bits as unsigned (`(s as u16) >> 3`).
static ALAW_ENCODE: [u8; 1 << 13] = {
    let mut t = [0u8; 1 << 13];
    let mut i = 0;
    while i < (1 << 13) {
        let v = ((i as i32) << 19) >> 19;
        t[i] = alaw_from_13(v);
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        // Values from ITU-T G.711 / Sun g711.c: 0xFF and 0x7F are ±0, 0x80/0x00 the extremes.
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0xFE), 8);
        assert_eq!(ulaw_decode(0x7E), -8);
        assert_eq!(ulaw_decode(0xEF), 132);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7E);
        assert_eq!(ulaw_encode(100), 0xF2);
        assert_eq!(ulaw_encode(-100), 0x72);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_encode(1000), 0xCE);
        assert_eq!(ulaw_encode(-1000), 0x4E);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(100), 0xD3);
        assert_eq!(alaw_encode(-100), 0x53);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_encode(1000), 0xFA);
        assert_eq!(alaw_encode(-1000), 0x7A);
    }

    /// FNV-1a over the encoding of every sample from -32768 to 32767.
    fn fnv_of_all_encodings(f: fn(i16) -> u8) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for s in i16::MIN..=i16::MAX {
            h = (h ^ f(s) as u64).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    #[test]
    fn every_sample_encodes_like_an_independent_implementation() {
        // Hashes computed with CPython's `audioop.lin2ulaw` / `lin2alaw` over the same input.
        assert_eq!(fnv_of_all_encodings(ulaw_encode), 0xd5ee_23f7_d0ff_ae91);
        assert_eq!(fnv_of_all_encodings(alaw_encode), 0xf030_666e_b780_cf25);
    }

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=255u8 {
            let u = ulaw_decode(b);
            // 0x7F is µ-law's negative zero; it encodes back as positive zero.
            let want = if b == 0x7F { 0xFF } else { b };
            assert_eq!(ulaw_encode(u), want, "µ-law byte {b:#04x} → {u}");
            assert_eq!(alaw_encode(alaw_decode(b)), b, "A-law byte {b:#04x}");
        }
    }

    #[test]
    fn decode_tables_are_odd_and_monotonic() {
        // Positive half increases with the magnitude code; the negative half mirrors it.
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut vals: Vec<i16> = (0..=255u8).map(|b| codec.decode_sample(b)).collect();
            vals.sort_unstable();
            vals.dedup();
            let expected = if codec == Codec::Pcmu { 255 } else { 256 };
            assert_eq!(vals.len(), expected, "{codec:?} distinct levels");
            for v in &vals {
                assert!(
                    vals.binary_search(&-v).is_ok(),
                    "{codec:?} {v} has no mirror"
                );
            }
        }
    }

    #[test]
    fn quantisation_error_is_bounded() {
        // G.711 keeps ~13 bits: the error is within half a step of the sample's segment,
        // so relative error stays small above the smallest segments.
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for s in (i16::MIN..=i16::MAX).step_by(7) {
                let back = codec.decode_sample(codec.encode_sample(s)) as i32;
                let err = (back - s as i32).abs();
                let bound = (s as i32).abs() / 16 + 16;
                assert!(err <= bound, "{codec:?} {s} → {back} (err {err} > {bound})");
            }
        }
    }

    #[test]
    fn frame_encode_decode() {
        let pcm: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| ((i as f64 / 8.0).sin() * 12000.0) as i16)
            .collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut bytes = [0u8; FRAME_SAMPLES];
            codec.encode(&pcm, &mut bytes);
            let mut back = [0i16; FRAME_SAMPLES];
            codec.decode(&bytes, &mut back);
            for (a, b) in pcm.iter().zip(back.iter()) {
                assert!((*a as i32 - *b as i32).abs() <= 12000 / 16 + 16);
            }
            assert!(
                codec.decode_sample(codec.silence()).abs() <= 8,
                "{codec:?} silence"
            );
        }
    }

    #[test]
    fn payload_types_and_names() {
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(18), None);
        assert_eq!(Codec::from_name("pcmu"), Some(Codec::Pcmu));
        assert_eq!(Codec::Pcma.name(), "PCMA");
    }
}
