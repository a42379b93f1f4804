//! A re-statement of Asterisk's `AMD()` (`apps/app_amd.c` with `ast_dsp_silence`) and its
//! compiled defaults, as the baseline the benchmark compares the [`Detector`](super::Detector)
//! against. Energy gate only: a 20 ms frame is silent when its mean |sample| is below
//! `silence_threshold`; no noise floor, no tone guard, no beep detection.
//!
//! Kept faithful on purpose, quirks included: it starts "in a word" (the first burst counts only
//! if 50 ms of silence preceded it), greeting time is cumulative voice, and the word rule is the
//! post-2015 `words > maximum_number_of_words`.

use super::{AmdResult, Cause, Decision, FRAME_MS, FRAME_SAMPLES, Frame, Outcome};

/// `amd.conf` keys with Asterisk's compiled defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsteriskSettings {
    pub initial_silence_ms: u32,
    pub greeting_ms: u32,
    pub after_greeting_silence_ms: u32,
    pub total_analysis_ms: u32,
    pub min_word_length_ms: u32,
    pub between_words_silence_ms: u32,
    pub maximum_number_of_words: u32,
    pub silence_threshold: u32,
    pub maximum_word_length_ms: u32,
}

impl Default for AsteriskSettings {
    fn default() -> Self {
        AsteriskSettings {
            initial_silence_ms: 2500,
            greeting_ms: 1500,
            after_greeting_silence_ms: 800,
            total_analysis_ms: 5000,
            min_word_length_ms: 100,
            between_words_silence_ms: 50,
            maximum_number_of_words: 2,
            silence_threshold: 256,
            maximum_word_length_ms: 5000,
        }
    }
}

/// Asterisk `AMD()` for one call, frame by frame.
#[derive(Debug, Clone)]
pub struct AsteriskAmd {
    s: AsteriskSettings,
    total_ms: u32,
    /// `ast_dsp_silence`'s running silence.
    dsp_silence_ms: u32,
    in_word: bool,
    in_initial_silence: bool,
    in_greeting: bool,
    words: u32,
    consecutive_voice_ms: u32,
    voice_ms: u32,
    silence_ms: u32,
    decision: Option<Decision>,
}

impl AsteriskAmd {
    pub fn new(s: AsteriskSettings) -> Self {
        AsteriskAmd {
            s,
            total_ms: 0,
            dsp_silence_ms: 0,
            in_word: true,
            in_initial_silence: true,
            in_greeting: false,
            words: 0,
            consecutive_voice_ms: 0,
            voice_ms: 0,
            silence_ms: 0,
            decision: None,
        }
    }

    pub fn decision(&self) -> Option<Decision> {
        self.decision
    }

    fn decide(&mut self, result: AmdResult, cause: Cause) {
        self.decision = Some(Decision {
            result,
            cause,
            decision_ms: self.total_ms,
            speech_start_ms: None,
            speech_end_ms: None,
        });
    }

    pub fn push_frame(&mut self, frame: &Frame) {
        if self.decision.is_some() {
            return;
        }
        let s = self.s.clone();
        self.total_ms += FRAME_MS;
        if self.total_ms >= s.total_analysis_ms {
            return self.decide(AmdResult::NotSure, Cause::TooLong);
        }
        let mean_abs = frame
            .iter()
            .map(|x| (*x as i32).unsigned_abs())
            .sum::<u32>()
            / FRAME_SAMPLES as u32;
        if mean_abs < s.silence_threshold {
            self.dsp_silence_ms += FRAME_MS;
            self.silence_ms = self.dsp_silence_ms;
            if self.silence_ms >= s.between_words_silence_ms {
                self.in_word = false;
                self.consecutive_voice_ms = 0;
            }
            if self.in_initial_silence && self.silence_ms >= s.initial_silence_ms {
                return self.decide(AmdResult::Machine, Cause::InitialSilence);
            }
            if self.in_greeting && self.silence_ms >= s.after_greeting_silence_ms {
                self.decide(AmdResult::Human, Cause::ShortGreeting);
            }
        } else {
            self.dsp_silence_ms = 0;
            self.consecutive_voice_ms += FRAME_MS;
            self.voice_ms += FRAME_MS;
            if self.consecutive_voice_ms >= s.min_word_length_ms && !self.in_word {
                self.words += 1;
                self.in_word = true;
            }
            if self.consecutive_voice_ms >= s.maximum_word_length_ms {
                return self.decide(AmdResult::Machine, Cause::MaxWordLength);
            }
            if self.words > s.maximum_number_of_words {
                return self.decide(AmdResult::Machine, Cause::MaxWords);
            }
            if self.in_greeting && self.voice_ms >= s.greeting_ms {
                return self.decide(AmdResult::Machine, Cause::LongGreeting);
            }
            if self.voice_ms >= s.min_word_length_ms {
                self.silence_ms = 0;
            }
            if self.consecutive_voice_ms >= s.min_word_length_ms && !self.in_greeting {
                self.in_initial_silence = false;
                self.in_greeting = true;
            }
        }
    }
}

/// Run the baseline over a whole recording (8 kHz mono).
pub fn classify(s: &AsteriskSettings, pcm: &[i16]) -> Outcome {
    let mut a = AsteriskAmd::new(s.clone());
    for chunk in pcm.chunks(FRAME_SAMPLES) {
        let mut fr = [0i16; FRAME_SAMPLES];
        fr[..chunk.len()].copy_from_slice(chunk);
        a.push_frame(&fr);
        if a.decision.is_some() {
            break;
        }
    }
    let d = a.decision.unwrap_or(Decision {
        result: AmdResult::NotSure,
        cause: Cause::TooLong,
        decision_ms: a.total_ms,
        speech_start_ms: None,
        speech_end_ms: None,
    });
    Outcome {
        result: d.result,
        cause: d.cause,
        decision_ms: d.decision_ms,
        speech_end_ms: d.speech_end_ms,
        beep_ms: None,
        beep_hz: None,
        message: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm(parts: &[(u32, i16)]) -> Vec<i16> {
        let mut v = Vec::new();
        for &(ms, amp) in parts {
            for i in 0..(ms * 8) {
                // a square-ish signal: mean |x| equals amp
                v.push(if i % 2 == 0 { amp } else { -amp });
            }
        }
        v
    }

    #[test]
    fn hello_then_silence_is_human_after_800_ms() {
        let o = classify(
            &AsteriskSettings::default(),
            &pcm(&[(300, 0), (500, 2000), (2000, 0)]),
        );
        assert_eq!(o.result, AmdResult::Human);
        assert_eq!(o.decision_ms, 800 + 800);
    }

    #[test]
    fn silence_is_a_machine_at_2500_ms() {
        let o = classify(&AsteriskSettings::default(), &pcm(&[(4000, 0)]));
        assert_eq!(
            (o.result, o.cause, o.decision_ms),
            (AmdResult::Machine, Cause::InitialSilence, 2500)
        );
    }

    #[test]
    fn the_third_word_is_a_machine() {
        let o = classify(
            &AsteriskSettings::default(),
            &pcm(&[
                (100, 0),
                (200, 2000),
                (100, 0),
                (200, 2000),
                (100, 0),
                (200, 2000),
                (1000, 0),
            ]),
        );
        assert_eq!((o.result, o.cause), (AmdResult::Machine, Cause::MaxWords));
    }

    #[test]
    fn quiet_speech_under_256_is_silence() {
        let o = classify(
            &AsteriskSettings::default(),
            &pcm(&[(300, 0), (600, 200), (3000, 0)]),
        );
        assert_eq!(o.cause, Cause::InitialSilence);
    }
}
