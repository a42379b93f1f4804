//! How a simulated phone hears the far end: a frame-energy voice detector with hysteresis.
//!
//! A frame is loud when its mean absolute sample reaches `threshold` (Asterisk AMD's silence
//! threshold is 256 on the same scale). Voice starts after `onset` loud frames in a row and
//! stops after `hangover` quiet ones; [`Vad::push`] reports only those changes.

use crate::media::g711::FRAME_SAMPLES;

#[derive(Debug, Clone)]
pub struct Vad {
    pub threshold: u32,
    pub onset: u32,
    pub hangover: u32,
    on: bool,
    run: u32,
}

impl Default for Vad {
    fn default() -> Self {
        Vad::new(300, 2, 15)
    }
}

impl Vad {
    pub fn new(threshold: u32, onset: u32, hangover: u32) -> Vad {
        Vad {
            threshold,
            onset: onset.max(1),
            hangover: hangover.max(1),
            on: false,
            run: 0,
        }
    }

    /// Mean absolute sample of a frame.
    pub fn level(frame: &[i16; FRAME_SAMPLES]) -> u32 {
        let sum: u32 = frame.iter().map(|s| u32::from(s.unsigned_abs())).sum();
        sum / FRAME_SAMPLES as u32
    }

    /// Feed one 20 ms frame; `Some(true)` when voice starts, `Some(false)` when it stops.
    pub fn push(&mut self, frame: &[i16; FRAME_SAMPLES]) -> Option<bool> {
        let loud = Self::level(frame) >= self.threshold;
        if loud == self.on {
            self.run = 0;
            return None;
        }
        self.run += 1;
        let need = if self.on { self.hangover } else { self.onset };
        if self.run >= need {
            self.on = loud;
            self.run = 0;
            return Some(loud);
        }
        None
    }

    pub fn is_on(&self) -> bool {
        self.on
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onset_and_hangover() {
        let loud = [2000i16; FRAME_SAMPLES];
        let quiet = [10i16; FRAME_SAMPLES];
        let mut v = Vad::new(300, 2, 3);
        assert_eq!(v.push(&loud), None);
        assert_eq!(v.push(&quiet), None); // a click is not voice
        assert_eq!(v.push(&loud), None);
        assert_eq!(v.push(&loud), Some(true));
        assert_eq!(v.push(&quiet), None);
        assert_eq!(v.push(&quiet), None);
        assert_eq!(v.push(&loud), None); // a short pause inside speech
        for _ in 0..2 {
            assert_eq!(v.push(&quiet), None);
        }
        assert_eq!(v.push(&quiet), Some(false));
        assert!(!v.is_on());
    }

    #[test]
    fn speech_is_heard_and_silence_is_not() {
        let s = crate::simnet::Sounds::builtin().unwrap();
        let mut v = Vad::default();
        let mut changes = 0;
        for f in s.hello.chunks_exact(FRAME_SAMPLES) {
            if v.push(f.try_into().unwrap()).is_some() {
                changes += 1;
            }
        }
        assert!(changes >= 1 && v.is_on() || changes >= 2, "hello not heard");
        let mut v = Vad::default();
        let silence = [0i16; FRAME_SAMPLES];
        assert!((0..500).all(|_| v.push(&silence).is_none()));
    }
}
