//! Answering-machine detection on 20 ms frames of 8 kHz PCM, and voicemail beep detection.
//!
//! [`Detector`] is a sans-IO state machine: the media layer pushes 160-sample frames with the
//! instant they arrived, and pulls one [`Decision`] (human, machine or not sure, with a cause and
//! the decision time), any number of [`Beep`]s (detection keeps running after a machine decision)
//! and, for voicemail drop, the [`MessageStart`]: after the beep, or after the greeting ends when
//! no beep comes within `beep_wait_ms`.
//!
//! How it decides (all thresholds in [`Settings`]):
//! - a frame is *voice* when its energy is `margin_db` above an adaptive noise floor (the minimum
//!   frame level over the last 1.6 s) and above an absolute floor; steady single tones (ringback,
//!   beeps) are recognised by a Goertzel bank (375–2025 Hz, 25 Hz apart) and never count as voice;
//! - voice runs of at least `min_word_length_ms` are words; the first word starts the greeting;
//! - silence after a greeting shorter than `greeting_ms` → human: `after_short_greeting_silence_ms`
//!   after a short one ("Hello?", up to `short_greeting_ms`), `after_greeting_silence_ms` after a
//!   longer one (a machine's short greeting is followed by its beep within that time). A greeting
//!   that ends in a question — its pitch (autocorrelation of voiced frames, 70–400 Hz) rising by
//!   `question_rise_semitones` over its last 240 ms — waits only `after_short_question_silence_ms`
//!   or `after_question_silence_ms`: a machine's greeting ends on a statement, and these waits
//!   only have to outlast the pause after a comma's rise in a greeting that goes on. The pause
//!   counts from the last voice frame, even one too short to be a word (the start of the next
//!   word). Voice that may be the next word, or a steady tone that may be the beep, holds that
//!   decision until it is a word or a beep or has stopped, so the waits only need to cover the
//!   pause, not the time it takes to recognise what follows it;
//!   a greeting that goes on past `greeting_ms`, or more than `maximum_number_of_words` words
//!   before that pause → machine; a beep → machine; nothing said for `initial_silence_ms`, or no
//!   decision within `total_analysis_ms` → not sure (the campaign decides; default: human).
//!
//! [`asterisk`] re-states Asterisk's `AMD()` default rules as the baseline the benchmark compares
//! against; `dialer::amd::eval` scores both on the labelled corpus in `tests/amd/`.

mod beep;
mod detector;
mod features;
mod message;

pub mod asterisk;

pub use beep::{Beep, BeepDetector};
pub use detector::{Detector, Outcome, classify};
pub use features::FrameClass;
pub use message::{MessageGate, MessageStart, MessageStartCause};

use serde::{Deserialize, Serialize};

/// Samples per frame: 20 ms at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Duration of one frame in milliseconds.
pub const FRAME_MS: u32 = 20;
/// Sample rate the detector works at.
pub const SAMPLE_RATE: u32 = 8000;

/// One 20 ms frame of 8 kHz mono linear PCM.
pub type Frame = [i16; FRAME_SAMPLES];

/// What answered the call: the domain's, shared with the flow and the store.
pub use crate::domain::AmdResult;

/// Why the detector decided what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A greeting shorter than `greeting_ms`, then the silence a person leaves for an answer.
    ShortGreeting,
    /// The greeting went on past `greeting_ms`.
    LongGreeting,
    /// More than `maximum_number_of_words` words before the answer-pause.
    MaxWords,
    /// One word (continuous voice) longer than `maximum_word_length_ms`.
    MaxWordLength,
    /// A statement of `statement_greeting_ms` or more, then `after_statement_silence_ms` of
    /// silence: a recorded greeting with no beep (a person who has said that much talks again).
    StatementThenSilence,
    /// A voicemail beep.
    Beep,
    /// Nothing said within `initial_silence_ms` of the answer.
    InitialSilence,
    /// No decision within `total_analysis_ms`.
    TooLong,
    /// No audio arrived before the analysis deadline.
    NoAudio,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::ShortGreeting => "short_greeting",
            Cause::LongGreeting => "long_greeting",
            Cause::MaxWords => "max_words",
            Cause::MaxWordLength => "max_word_length",
            Cause::StatementThenSilence => "statement_then_silence",
            Cause::Beep => "beep",
            Cause::InitialSilence => "initial_silence",
            Cause::TooLong => "too_long",
            Cause::NoAudio => "no_audio",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The detector's one decision per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub result: AmdResult,
    pub cause: Cause,
    /// Milliseconds of audio (from the answer) analysed when the decision was made.
    pub decision_ms: u32,
    /// Start of the greeting's first word, in ms of audio (`None`: nobody spoke).
    pub speech_start_ms: Option<u32>,
    /// End of the last voice frame since the greeting started, in ms of audio: the end of the
    /// person's speech as the detector saw it, from which the answer-pause is counted (`None`:
    /// nobody spoke).
    pub speech_end_ms: Option<u32>,
}

/// Detector settings. Times are milliseconds of audio; every field has a default, and a campaign
/// file (or `dialer amd --set key=value`) may override any of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Nothing said for this long after the answer (or after ringback that goes on past it) →
    /// not sure (`initial_silence`). Not "machine", as in Asterisk: a silent answer is often a
    /// person waiting for the caller to speak.
    pub initial_silence_ms: u32,
    /// A greeting (first word to last word before the answer-pause) this long → machine.
    pub greeting_ms: u32,
    /// Silence after a greeting that makes it a person (the pause left for an answer). It must
    /// cover the gap between a machine's short greeting ("Leave a message.") and its beep.
    pub after_greeting_silence_ms: u32,
    /// A greeting up to this long ("Hello?") is short: the person is decided sooner, after
    /// `after_short_greeting_silence_ms`. Longer ones wait the full `after_greeting_silence_ms`,
    /// which leaves time for the beep that follows a machine's "Leave a message".
    pub short_greeting_ms: u32,
    /// Silence after a short greeting that makes it a person. It must be longer than the pause
    /// after a machine greeting's first sentence ("Hello. You've reached…"), and shorter than
    /// the pause a person leaves for an answer.
    pub after_short_greeting_silence_ms: u32,
    /// A greeting whose pitch rises by this many semitones over its last 240 ms ends in a
    /// question ("Hello?"): a person's. Its waits are the two below.
    pub question_rise_semitones: f32,
    /// Silence after a short greeting that ends in a question that makes it a person (at most
    /// `after_short_greeting_silence_ms`). It must outlast the pause after a comma's rise in a
    /// machine's greeting ("Hi, you've reached...").
    pub after_short_question_silence_ms: u32,
    /// The same after a longer greeting that ends in a question (at most
    /// `after_greeting_silence_ms`): it must outlast a machine's pauses after a rise.
    pub after_question_silence_ms: u32,
    /// A greeting this long or longer that ends as a statement (its pitch rising less than
    /// `statement_rise_semitones` over its last 240 ms, or no pitch at its end) is not decided
    /// human after the answer-pause: it is what a machine with no beep plays ("Hi, it's Sam.
    /// Leave a message."), and a person who has said that much and heard nothing talks again. Set
    /// it to `greeting_ms` or more to turn the rule off.
    pub statement_greeting_ms: u32,
    /// A shorter greeting, down to this long, is taken as such a statement too when it holds a
    /// pause of `sentence_pause_ms` or more between its words: read text, two sentences joined
    /// by a sentence pause ("This is Claire. Sorry I missed you."), where a person's statement
    /// of that length is one phrase group with at most a comma's pause ("Hello, Baker
    /// residence."). Set it to `statement_greeting_ms` or more to turn the cue off.
    pub phrased_statement_greeting_ms: u32,
    /// The pause between two words of one greeting that marks a sentence break, for
    /// `phrased_statement_greeting_ms`. After a short first phrase that rises as a question, in a
    /// turn with no sentence break, it marks a live opening ("Hallo? | Ja bitte, wer
    /// spricht?"): the statement rules judge what follows the question.
    pub sentence_pause_ms: u32,
    /// The end rise below which a greeting is a statement for `statement_greeting_ms`.
    pub statement_rise_semitones: f32,
    /// Silence after such a statement → machine (`statement_then_silence`). It must outlast the
    /// pause a person leaves before saying "Hello?" again; voice that resumes after
    /// `after_greeting_silence_ms` starts a new turn, judged as a greeting of its own.
    pub after_statement_silence_ms: u32,
    /// No decision after this much audio → not sure (`too_long`).
    pub total_analysis_ms: u32,
    /// Shortest voice run that counts as a word (shorter bursts are clicks and noise).
    pub min_word_length_ms: u32,
    /// Silence that separates two words.
    pub between_words_silence_ms: u32,
    /// More words than this before the answer-pause → machine (`max_words`).
    pub maximum_number_of_words: u32,
    /// One continuous word this long → machine (`max_word_length`).
    pub maximum_word_length_ms: u32,
    /// Voice must be this many dB above the adaptive noise floor.
    pub margin_db: f32,
    /// Absolute floor under the adaptive threshold: frames with mean |sample| below it are silent.
    pub silence_floor: u32,
    /// Lowest and highest beep frequency.
    pub beep_min_hz: u32,
    pub beep_max_hz: u32,
    /// Shortest steady tone that is a beep.
    pub beep_min_ms: u32,
    /// Voicemail drop: after the greeting ends, wait this long for a beep before starting the
    /// message anyway.
    pub beep_wait_ms: u32,
    /// Voicemail drop: silence that ends a machine's greeting.
    pub greeting_end_silence_ms: u32,
    /// Voicemail drop: start the message after this much audio whatever happens.
    pub message_deadline_ms: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            initial_silence_ms: 2500,
            greeting_ms: 3000,
            after_greeting_silence_ms: 800,
            short_greeting_ms: 800,
            after_short_greeting_silence_ms: 400,
            question_rise_semitones: 1.5,
            after_short_question_silence_ms: 280,
            after_question_silence_ms: 500,
            statement_greeting_ms: 2000,
            phrased_statement_greeting_ms: 1500,
            sentence_pause_ms: 200,
            statement_rise_semitones: 0.5,
            after_statement_silence_ms: 2200,
            total_analysis_ms: 6000,
            min_word_length_ms: 100,
            between_words_silence_ms: 100,
            maximum_number_of_words: 8,
            maximum_word_length_ms: 4000,
            margin_db: 9.0,
            silence_floor: 16,
            beep_min_hz: 400,
            beep_max_hz: 2000,
            beep_min_ms: 100,
            beep_wait_ms: 3000,
            greeting_end_silence_ms: 1200,
            message_deadline_ms: 30_000,
        }
    }
}

/// Settings that cannot work.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    #[error("amd setting `{0}` must be greater than zero")]
    Zero(&'static str),
    #[error(
        "amd setting `beep_min_hz` ({min}) must be below `beep_max_hz` ({max}), both within 375–2025 Hz"
    )]
    BeepBand { min: u32, max: u32 },
    #[error("amd setting `margin_db` must be between 1 and 40 dB, not {0}")]
    Margin(f32),
    #[error("amd setting `question_rise_semitones` must be between 0.5 and 24, not {0}")]
    Rise(f32),
    #[error("amd setting `statement_rise_semitones` must be between -24 and 24, not {0}")]
    StatementRise(f32),
}

impl SettingsError {
    /// The setting the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            SettingsError::Zero(k) => k,
            SettingsError::BeepBand { .. } => "beep_min_hz",
            SettingsError::Margin(_) => "margin_db",
            SettingsError::Rise(_) => "question_rise_semitones",
            SettingsError::StatementRise(_) => "statement_rise_semitones",
        }
    }
}

impl Settings {
    /// Check that the settings make sense; the error names the key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        for (name, v) in [
            ("greeting_ms", self.greeting_ms),
            ("after_greeting_silence_ms", self.after_greeting_silence_ms),
            (
                "after_short_greeting_silence_ms",
                self.after_short_greeting_silence_ms,
            ),
            (
                "after_short_question_silence_ms",
                self.after_short_question_silence_ms,
            ),
            ("after_question_silence_ms", self.after_question_silence_ms),
            ("statement_greeting_ms", self.statement_greeting_ms),
            (
                "phrased_statement_greeting_ms",
                self.phrased_statement_greeting_ms,
            ),
            ("sentence_pause_ms", self.sentence_pause_ms),
            (
                "after_statement_silence_ms",
                self.after_statement_silence_ms,
            ),
            ("total_analysis_ms", self.total_analysis_ms),
            ("min_word_length_ms", self.min_word_length_ms),
            ("beep_min_ms", self.beep_min_ms),
            ("maximum_word_length_ms", self.maximum_word_length_ms),
        ] {
            if v == 0 {
                return Err(SettingsError::Zero(name));
            }
        }
        if self.beep_min_hz >= self.beep_max_hz || self.beep_min_hz < 375 || self.beep_max_hz > 2025
        {
            return Err(SettingsError::BeepBand {
                min: self.beep_min_hz,
                max: self.beep_max_hz,
            });
        }
        if !(1.0..=40.0).contains(&self.margin_db) {
            return Err(SettingsError::Margin(self.margin_db));
        }
        if !(0.5..=24.0).contains(&self.question_rise_semitones) {
            return Err(SettingsError::Rise(self.question_rise_semitones));
        }
        if !(-24.0..=24.0).contains(&self.statement_rise_semitones) {
            return Err(SettingsError::StatementRise(self.statement_rise_semitones));
        }
        Ok(())
    }
}
