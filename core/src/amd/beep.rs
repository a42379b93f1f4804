//! Voicemail beep detection: a steady single tone in `beep_min_hz`–`beep_max_hz` lasting at
//! least `beep_min_ms`, found by the analyzer's Goertzel bank (see `features`).
//!
//! Steady means: every frame holds at least 85 % of its energy at one frequency, the frequency
//! stays within 10 Hz of where the tone started and the level within 1.5 dB from frame to frame.
//! On telephone-band speech a vowel's second harmonic can hold 90 % of a frame for a few frames,
//! but its pitch and level drift; a beep holds 99 % within a hertz and a fraction of a dB.

use serde::{Deserialize, Serialize};

use super::FRAME_MS;
use super::features::Features;

/// Share of the frame's energy one frequency must hold in a beep.
const BEEP_SHARE: f32 = 0.85;
const BEEP_SPREAD_HZ: f32 = 10.0;
const BEEP_STEP_DB: f32 = 1.5;

/// A beep, reported once it has lasted `beep_min_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Beep {
    /// Start of the tone, in ms of audio from the answer.
    pub at_ms: u32,
    /// Its frequency.
    pub hz: f32,
}

/// Events from one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BeepEvents {
    /// A beep reached its minimum length in this frame.
    pub started: Option<Beep>,
    /// A reported beep ended; the value is the end of its last frame, in ms.
    pub ended_at_ms: Option<u32>,
}

/// Finds beeps in a stream of [`Features`].
#[derive(Debug, Clone)]
pub struct BeepDetector {
    min_hz: f32,
    max_hz: f32,
    min_frames: u32,
    start_ms: u32,
    start_hz: f32,
    last_db: f32,
    frames: u32,
    reported: bool,
}

impl BeepDetector {
    pub fn new(min_hz: u32, max_hz: u32, min_ms: u32) -> Self {
        BeepDetector {
            min_hz: min_hz as f32,
            max_hz: max_hz as f32,
            min_frames: min_ms.div_ceil(FRAME_MS).max(1),
            start_ms: 0,
            start_hz: 0.0,
            last_db: 0.0,
            frames: 0,
            reported: false,
        }
    }

    /// A steady tone has started but not yet lasted `beep_min_ms`: it may still become a beep.
    pub fn pending(&self) -> bool {
        self.frames > 0 && !self.reported
    }

    /// Feed the features of the frame that starts at `frame_start_ms`.
    pub fn push(&mut self, frame_start_ms: u32, f: &Features) -> BeepEvents {
        let mut ev = BeepEvents::default();
        let tonal = f.peak.filter(|p| {
            p.share >= BEEP_SHARE && p.hz >= self.min_hz - 10.0 && p.hz <= self.max_hz + 10.0
        });
        let continues = match tonal {
            Some(p) if self.frames > 0 => {
                // (the first frame may be partly silence: the second may be louder)
                let step = f.level_db - self.last_db;
                (p.hz - self.start_hz).abs() <= BEEP_SPREAD_HZ
                    && (step.abs() <= BEEP_STEP_DB || (self.frames == 1 && step > 0.0))
            }
            _ => false,
        };
        if continues {
            self.frames += 1;
        } else {
            if self.reported {
                ev.ended_at_ms = Some(frame_start_ms);
            }
            self.reported = false;
            match tonal {
                Some(p) => {
                    self.frames = 1;
                    self.start_ms = frame_start_ms;
                    self.start_hz = p.hz;
                }
                None => self.frames = 0,
            }
        }
        self.last_db = f.level_db;
        if self.frames >= self.min_frames && !self.reported {
            self.reported = true;
            ev.started = Some(Beep {
                at_ms: self.start_ms,
                hz: self.start_hz,
            });
        }
        ev
    }
}
