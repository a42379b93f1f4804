//! Per-frame features: level against an adaptive noise floor, and single-tone analysis.

use super::{FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// Frames in the noise-floor window (1.6 s).
const FLOOR_WINDOW: usize = 80;
/// Goertzel bank: 375–2025 Hz, 25 Hz apart.
const BANK_LOW_HZ: f32 = 375.0;
const BANK_STEP_HZ: f32 = 25.0;
const BANK_BINS: usize = 67;
/// A frame is tonal when one frequency holds this share of its energy.
const TONAL_SHARE: f32 = 0.5;
/// Consecutive tonal frames at one frequency that make a tone (not voice).
const TONE_FRAMES: u32 = 4;
/// ... with the level steady within this many dB from frame to frame.
const TONE_STEP_DB: f32 = 2.5;
/// Two frames are "the same tone" when their peaks are this close.
const TONE_SPREAD_HZ: f32 = 45.0;
/// Pitch: periods searched, in samples (400 Hz down to 70 Hz at 8 kHz).
const PITCH_MIN_LAG: usize = 20;
const PITCH_MAX_LAG: usize = 114;
/// Samples compared at each lag: the previous frame and this one minus the longest lag.
const PITCH_SPAN: usize = 2 * FRAME_SAMPLES - PITCH_MAX_LAG - 1;
/// A frame is voiced (has a pitch) when the normalised autocorrelation at its period reaches this.
const PITCH_MIN_CORR: f32 = 0.6;

/// What one frame is, for the greeting logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameClass {
    Silence,
    Voice,
    /// A steady tone (ringback, beep): neither voice nor a pause in speech.
    Tone,
}

/// The strongest single frequency of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub hz: f32,
    /// Share of the frame's (AC) energy at that frequency, 0–1.
    pub share: f32,
}

/// Everything the detectors need to know about one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    pub class: FrameClass,
    /// 10·log10(mean square + 1).
    pub level_db: f32,
    /// The noise floor in dB before this frame.
    pub floor_db: f32,
    /// Mean |sample|, the measure Asterisk uses.
    pub mean_abs: u32,
    /// Strongest frequency in 375–2025 Hz, computed only for frames above the floor.
    pub peak: Option<Peak>,
    /// Fundamental frequency (voice pitch) in Hz, computed only for voice frames that are
    /// periodic (vowels); `None` for unvoiced sounds, silence and tones.
    pub pitch_hz: Option<f32>,
}

/// Turns frames into [`Features`]; holds the noise floor and tone-streak state.
#[derive(Debug, Clone)]
pub struct Analyzer {
    margin_db: f32,
    silence_floor: u32,
    window: [f32; FLOOR_WINDOW],
    filled: usize,
    next: usize,
    in_voice: bool,
    tone_hz: f32,
    tone_db: f32,
    tone_frames: u32,
    coeffs: [f32; BANK_BINS],
    /// The previous frame, for the pitch window.
    prev: [i16; FRAME_SAMPLES],
    /// Whether voice frames get a pitch (the detector turns it off once it has decided).
    pub track_pitch: bool,
}

impl Analyzer {
    pub fn new(margin_db: f32, silence_floor: u32) -> Self {
        let mut coeffs = [0.0; BANK_BINS];
        for (k, c) in coeffs.iter_mut().enumerate() {
            let f = BANK_LOW_HZ + BANK_STEP_HZ * k as f32;
            *c = 2.0 * (2.0 * std::f32::consts::PI * f / SAMPLE_RATE as f32).cos();
        }
        Analyzer {
            margin_db,
            silence_floor,
            window: [0.0; FLOOR_WINDOW],
            filled: 0,
            next: 0,
            in_voice: false,
            tone_hz: 0.0,
            tone_db: 0.0,
            tone_frames: 0,
            coeffs,
            prev: [0; FRAME_SAMPLES],
            track_pitch: true,
        }
    }

    /// The current noise floor in dB (minimum frame level over the window).
    fn floor_db(&self) -> f32 {
        self.window[..self.filled]
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min)
    }

    pub fn analyze(&mut self, frame: &Frame) -> Features {
        let n = FRAME_SAMPLES as f32;
        let mut sum = 0i64;
        let mut sum_abs = 0u64;
        for &s in frame {
            sum += s as i64;
            sum_abs += (s as i64).unsigned_abs();
        }
        let mean = sum as f32 / n;
        let mut energy = 0.0f32;
        for &s in frame {
            let d = s as f32 - mean;
            energy += d * d;
        }
        let level_db = 10.0 * (energy / n + 1.0).log10();
        let mean_abs = (sum_abs / FRAME_SAMPLES as u64) as u32;

        let floor_db = if self.filled == 0 {
            level_db
        } else {
            self.floor_db()
        };
        self.window[self.next] = level_db;
        self.next = (self.next + 1) % FLOOR_WINDOW;
        self.filled = (self.filled + 1).min(FLOOR_WINDOW);

        // Hysteresis: 3 dB easier to stay in voice than to enter it.
        let margin = if self.in_voice {
            self.margin_db - 3.0
        } else {
            self.margin_db
        };
        let loud = level_db >= floor_db + margin && mean_abs >= self.silence_floor;
        let audible = level_db >= floor_db + 6.0 && mean_abs >= self.silence_floor;
        let peak = if audible {
            self.peak(frame, mean, energy)
        } else {
            None
        };

        // Tone guard: a steady single frequency for TONE_FRAMES frames is a tone, not voice.
        match peak {
            Some(p) if p.share >= TONAL_SHARE => {
                if self.tone_frames > 0
                    && (p.hz - self.tone_hz).abs() <= TONE_SPREAD_HZ
                    && (level_db - self.tone_db).abs() <= TONE_STEP_DB
                {
                    self.tone_frames += 1;
                } else {
                    self.tone_frames = 1;
                    self.tone_hz = p.hz;
                }
            }
            _ => self.tone_frames = 0,
        }
        self.tone_db = level_db;
        let class = if self.tone_frames >= TONE_FRAMES {
            FrameClass::Tone
        } else if loud {
            FrameClass::Voice
        } else {
            FrameClass::Silence
        };
        self.in_voice = class == FrameClass::Voice;
        let pitch_hz = if class == FrameClass::Voice && self.track_pitch {
            self.pitch(frame)
        } else {
            None
        };
        self.prev = *frame;
        Features {
            class,
            level_db,
            floor_db,
            mean_abs,
            peak,
            pitch_hz,
        }
    }

    /// Voice pitch over the previous frame and this one (40 ms): the period with the highest
    /// normalised autocorrelation, taking the shortest period that comes within 10 % of the best
    /// (so a multiple of the period is not taken for it), refined by parabolic interpolation.
    fn pitch(&self, frame: &Frame) -> Option<f32> {
        let mut x = [0.0f32; 2 * FRAME_SAMPLES];
        for (i, &s) in self.prev.iter().chain(frame.iter()).enumerate() {
            x[i] = s as f32;
        }
        let mean = x.iter().sum::<f32>() / x.len() as f32;
        for v in x.iter_mut() {
            *v -= mean;
        }
        // energy of x[i..i + PITCH_SPAN] for every start i, from prefix sums of squares
        let mut sq = [0.0f64; 2 * FRAME_SAMPLES + 1];
        for (i, v) in x.iter().enumerate() {
            sq[i + 1] = sq[i] + (v * v) as f64;
        }
        let a = &x[..PITCH_SPAN];
        let e0 = sq[PITCH_SPAN] as f32;
        if e0 <= 0.0 {
            return None;
        }
        let mut corr = [0.0f32; PITCH_MAX_LAG + 2];
        let mut best = 0.0f32;
        for (lag, c) in corr
            .iter_mut()
            .enumerate()
            .take(PITCH_MAX_LAG + 2)
            .skip(PITCH_MIN_LAG - 1)
        {
            let b = &x[lag..lag + PITCH_SPAN];
            let xy: f32 = a.iter().zip(b).map(|(p, q)| p * q).sum();
            let e1 = (sq[lag + PITCH_SPAN] - sq[lag]) as f32;
            *c = if e1 > 0.0 { xy / (e0 * e1).sqrt() } else { 0.0 };
            if (PITCH_MIN_LAG..=PITCH_MAX_LAG).contains(&lag) {
                best = best.max(*c);
            }
        }
        if best < PITCH_MIN_CORR {
            return None;
        }
        let lag = (PITCH_MIN_LAG..=PITCH_MAX_LAG)
            .find(|&l| corr[l] >= 0.9 * best && corr[l] >= corr[l - 1] && corr[l] >= corr[l + 1])?;
        let (p, c, n) = (corr[lag - 1], corr[lag], corr[lag + 1]);
        let den = p - 2.0 * c + n;
        let shift = if den.abs() > f32::EPSILON {
            (0.5 * (p - n) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        Some(SAMPLE_RATE as f32 / (lag as f32 + shift))
    }

    /// Goertzel bank over the frame; the strongest bin, refined by parabolic interpolation.
    fn peak(&self, frame: &Frame, mean: f32, energy: f32) -> Option<Peak> {
        if energy <= 0.0 {
            return None;
        }
        let mut s1 = [0.0f32; BANK_BINS];
        let mut s2 = [0.0f32; BANK_BINS];
        for &x in frame {
            let x = x as f32 - mean;
            for k in 0..BANK_BINS {
                let s0 = x + self.coeffs[k] * s1[k] - s2[k];
                s2[k] = s1[k];
                s1[k] = s0;
            }
        }
        let mut power = [0.0f32; BANK_BINS];
        let mut best = 0;
        for k in 0..BANK_BINS {
            power[k] = (s1[k] * s1[k] + s2[k] * s2[k] - self.coeffs[k] * s1[k] * s2[k]).max(0.0);
            if power[k] > power[best] {
                best = k;
            }
        }
        let n = FRAME_SAMPLES as f32;
        let share = (2.0 * power[best] / (n * energy)).min(1.0);
        let mut hz = BANK_LOW_HZ + BANK_STEP_HZ * best as f32;
        if best > 0 && best + 1 < BANK_BINS {
            let (a, b, c) = (
                power[best - 1].sqrt(),
                power[best].sqrt(),
                power[best + 1].sqrt(),
            );
            let den = a - 2.0 * b + c;
            if den.abs() > f32::EPSILON {
                hz += BANK_STEP_HZ * (0.5 * (a - c) / den).clamp(-0.5, 0.5);
            }
        }
        Some(Peak { hz, share })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Frames of a sine at `hz`, amplitude `amp`, starting at sample `start`.
    pub fn sine_frames(hz: f32, amp: f32, frames: usize, start: usize) -> Vec<Frame> {
        (0..frames)
            .map(|f| {
                let mut fr = [0i16; FRAME_SAMPLES];
                for (i, s) in fr.iter_mut().enumerate() {
                    let t = (start + f * FRAME_SAMPLES + i) as f32 / SAMPLE_RATE as f32;
                    *s = (amp * (2.0 * std::f32::consts::PI * hz * t).sin()) as i16;
                }
                fr
            })
            .collect()
    }

    #[test]
    fn a_pure_tone_is_found_at_its_frequency() {
        for hz in [400.0, 440.0, 697.0, 1000.0, 1412.0, 1990.0] {
            let mut a = Analyzer::new(9.0, 16);
            a.analyze(&[0; FRAME_SAMPLES]);
            let fr = sine_frames(hz, 3000.0, 1, 0);
            let f = a.analyze(&fr[0]);
            let p = f.peak.unwrap();
            assert!((p.hz - hz).abs() < 8.0, "{hz}: {p:?}");
            assert!(p.share > 0.8, "{hz}: {p:?}");
        }
    }

    #[test]
    fn a_steady_tone_is_a_tone_not_voice() {
        let mut a = Analyzer::new(9.0, 16);
        for _ in 0..10 {
            a.analyze(&[0; FRAME_SAMPLES]);
        }
        let classes: Vec<_> = sine_frames(480.0, 2000.0, 10, 0)
            .iter()
            .map(|f| a.analyze(f).class)
            .collect();
        assert!(
            classes[3..].iter().all(|c| *c == FrameClass::Tone),
            "{classes:?}"
        );
    }

    #[test]
    fn a_voiced_frame_has_its_pitch_and_silence_none() {
        for f0 in [85.0f32, 120.0, 180.0, 260.0, 380.0] {
            let mut a = Analyzer::new(9.0, 16);
            for _ in 0..5 {
                assert_eq!(a.analyze(&[0; FRAME_SAMPLES]).pitch_hz, None);
            }
            // a harmonic buzz, telephone band: the fundamental itself is absent (300 Hz up); three
            // frames, before a steady buzz with a strong harmonic would count as a tone
            let mut last = None;
            for k in 0..3 {
                let mut fr = [0i16; FRAME_SAMPLES];
                for (i, s) in fr.iter_mut().enumerate() {
                    let t = (k * FRAME_SAMPLES + i) as f32 / SAMPLE_RATE as f32;
                    let mut v = 0.0;
                    for h in 1..40 {
                        let hz = f0 * h as f32;
                        if (300.0..3400.0).contains(&hz) {
                            v += (2.0 * std::f32::consts::PI * hz * t).sin() / h as f32;
                        }
                    }
                    *s = (3000.0 * v) as i16;
                }
                last = a.analyze(&fr).pitch_hz;
            }
            let p = last.unwrap_or(0.0);
            assert!((p / f0 - 1.0).abs() < 0.03, "{f0}: {p}");
        }
    }

    #[test]
    fn white_noise_is_not_tonal_and_the_floor_follows_it() {
        let mut rng = 12345u32;
        let mut a = Analyzer::new(9.0, 16);
        let mut voice = 0;
        for _ in 0..200 {
            let mut fr = [0i16; FRAME_SAMPLES];
            for s in fr.iter_mut() {
                rng = rng.wrapping_mul(1664525).wrapping_add(1013904223);
                *s = ((rng >> 16) as i32 - 32768) as i16 / 16;
            }
            let f = a.analyze(&fr);
            if f.class != FrameClass::Silence {
                voice += 1;
            }
            if let Some(p) = f.peak {
                assert!(p.share < 0.3, "{p:?}");
            }
        }
        assert!(voice <= 2, "{voice} noise frames called voice");
    }
}
