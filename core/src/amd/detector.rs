//! The answering-machine detector: greeting structure on top of the adaptive VAD.

// Over 800 lines only with its tests (about 400 of code): one state machine; its parts (features,
// beep, message gate) are already modules of their own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::beep::{Beep, BeepDetector};
use super::features::{Analyzer, Features, FrameClass};
use super::message::{MessageGate, MessageStart};
use super::{AmdResult, Cause, Decision, FRAME_MS, Frame, Settings};

/// Sans-IO answering-machine detector for one call. See the [module docs](super).
///
/// Time is counted in audio: each pushed frame is 20 ms. The `now` instants only matter when
/// audio stops arriving: [`poll_timeout`](Self::poll_timeout) is the wall-clock analysis deadline
/// (answer + `total_analysis_ms`), after which [`handle_timeout`](Self::handle_timeout) decides
/// "not sure" (`no_audio` when no frame came at all).
#[derive(Debug, Clone)]
pub struct Detector {
    s: Settings,
    answered_at: Instant,
    analyzer: Analyzer,
    beeps: BeepDetector,
    gate: MessageGate,
    /// Audio analysed, in ms (end of the last frame).
    t_ms: u32,
    /// Current voice run: voice ms in it, and the silence since its last voice frame.
    run_voice_ms: u32,
    run_gap_ms: u32,
    run_counted: bool,
    /// Words in the current turn.
    words: u32,
    greeting_start_ms: Option<u32>,
    /// Start of the current turn's first word: the greeting's, or that of speech resumed after a
    /// pause of `after_greeting_silence_ms` (a person talking again after a statement). The
    /// rules judge the turn; `None` between turns.
    turn_start_ms: Option<u32>,
    /// The longest pause between two words of the current turn.
    turn_pause_ms: u32,
    /// Where the statement the statement rules judge starts: the turn's start, or the word
    /// after a short question standing alone at its head ("Hallo? | Ja bitte, wer spricht?").
    statement_start_ms: u32,
    /// Where the long-greeting rule counts the turn from: its start, or the word after an
    /// opening that a long pause made stand alone ("A lô? | Vâng, ai đấy ạ?").
    greeting_from_ms: u32,
    /// End of the last voice frame that belongs to a word.
    last_word_voice_ms: u32,
    /// End of the last voice frame, word or not (the unvoiced start of the next word, too short
    /// to be one yet): the pause after a greeting counts from there.
    last_voice_ms: u32,
    /// When the frame that started the greeting's first word began and when the last voice frame
    /// ended, as instants: each frame's `now` is the arrival of its last sample.
    greeting_start_at: Option<Instant>,
    last_voice_at: Option<Instant>,
    speech_start_out: bool,
    /// Pitch (ms, Hz) of the voiced frames since the last pause between words.
    pitch: VecDeque<(u32, f32)>,
    /// End of the last word's voice and how its pitch ends.
    end_rise: Option<(u32, EndPitch)>,
    /// End of the last steady-tone frame (ringback still playing after the answer): the initial
    /// silence counts from there.
    last_tone_ms: u32,
    decision: Option<Decision>,
    decision_out: bool,
    beep_out: VecDeque<Beep>,
    machine: bool,
}

impl Detector {
    /// A detector for a call answered at `answered_at`. Settings should have passed
    /// [`Settings::validate`].
    pub fn new(settings: Settings, answered_at: Instant) -> Self {
        Detector {
            analyzer: Analyzer::new(settings.margin_db, settings.silence_floor),
            beeps: BeepDetector::new(
                settings.beep_min_hz,
                settings.beep_max_hz,
                settings.beep_min_ms,
            ),
            gate: MessageGate::new(&settings),
            s: settings,
            answered_at,
            t_ms: 0,
            run_voice_ms: 0,
            run_gap_ms: u32::MAX,
            run_counted: false,
            words: 0,
            greeting_start_ms: None,
            turn_start_ms: None,
            turn_pause_ms: 0,
            statement_start_ms: 0,
            greeting_from_ms: 0,
            last_word_voice_ms: 0,
            last_voice_ms: 0,
            greeting_start_at: None,
            last_voice_at: None,
            speech_start_out: false,
            pitch: VecDeque::new(),
            end_rise: None,
            last_tone_ms: 0,
            decision: None,
            decision_out: false,
            beep_out: VecDeque::new(),
            machine: false,
        }
    }

    /// Analyse the next 20 ms frame, received at `now`.
    pub fn push_frame(&mut self, now: Instant, frame: &Frame) {
        let start_ms = self.t_ms;
        self.t_ms += FRAME_MS;
        let f = self.analyzer.analyze(frame);
        let ev = self.beeps.push(start_ms, &f);
        self.gate
            .push(start_ms, f.class, ev.started.is_some(), ev.ended_at_ms);
        if let Some(b) = ev.started {
            self.beep_out.push_back(b);
        }
        if self.decision.is_some() {
            return;
        }
        if ev.started.is_some() {
            return self.decide(AmdResult::Machine, Cause::Beep);
        }
        self.words_and_greeting(now, &f);
        if self.decision.is_none() {
            self.rules();
        }
        if self.decision.is_none() {
            self.handle_timeout(now);
        }
    }

    fn words_and_greeting(&mut self, now: Instant, f: &Features) {
        let class = f.class;
        let t = self.t_ms;
        if class == FrameClass::Tone {
            self.last_tone_ms = t;
        }
        if class == FrameClass::Voice {
            if self.run_gap_ms >= self.s.between_words_silence_ms {
                // Voice again after a pause that would have decided any greeting but a long
                // statement: the speaker talks back and forth, a new turn.
                if self.greeting_start_ms.is_some()
                    && self.run_gap_ms != u32::MAX
                    && self.run_gap_ms >= self.s.after_greeting_silence_ms
                {
                    self.turn_start_ms = None;
                    self.turn_pause_ms = 0;
                    self.words = 0;
                }
                self.run_voice_ms = 0;
                self.run_counted = false;
                self.pitch.clear();
            }
            if let Some(hz) = f.pitch_hz {
                if self.pitch.len() == PITCH_TRACK {
                    self.pitch.pop_front();
                }
                self.pitch.push_back((t, hz));
            }
            self.run_gap_ms = 0;
            self.run_voice_ms += FRAME_MS;
            self.last_voice_ms = t;
            self.last_voice_at = Some(now);
            if self.run_voice_ms >= self.s.min_word_length_ms {
                if !self.run_counted {
                    self.run_counted = true;
                    self.words += 1;
                    let start = t - self.run_voice_ms;
                    if self.greeting_start_ms.is_none() {
                        self.greeting_start_ms = Some(start);
                        let run = Duration::from_millis(u64::from(self.run_voice_ms));
                        self.greeting_start_at = Some(now.checked_sub(run).unwrap_or(now));
                    }
                    match self.turn_start_ms {
                        None => {
                            self.turn_start_ms = Some(start);
                            self.statement_start_ms = start;
                            self.greeting_from_ms = start;
                        }
                        Some(g0) => self.pause_in_turn(g0, start),
                    }
                }
                self.last_word_voice_ms = t;
            }
        } else {
            self.run_gap_ms = self.run_gap_ms.saturating_add(FRAME_MS);
            if self.run_gap_ms == FRAME_MS && self.run_counted {
                let end = self.last_word_voice_ms;
                self.end_rise = end_rise(&self.pitch, end).map(|r| (end, r));
            }
        }
    }

    /// A pause inside the turn `g0`, before the word that starts at `start`.
    fn pause_in_turn(&mut self, g0: u32, start: u32) {
        let s = &self.s;
        let pause = start.saturating_sub(self.last_word_voice_ms);
        let rise = match self.end_rise {
            Some((end, e)) if end == self.last_word_voice_ms => Some(e.rise),
            _ => None,
        };
        // The turn's first word, short and standing alone: a pause after it as long as a
        // sentence break.
        let alone = self.words == 2
            && self.last_word_voice_ms.saturating_sub(g0) <= s.short_greeting_ms
            && pause >= s.sentence_pause_ms;
        // The turn's first pause that is no comma's, long enough that no read text pauses so (espeak's sentence
        // breaks reach 460 ms), after an opening of a word or two: the speaker stopped for an
        // answer, whatever the pitch did ("A lô? | Vâng, ai đấy ạ?", a tone language's
        // "Hello?" that does not rise). A live opening: what follows is the statement.
        if self.turn_pause_ms < s.sentence_pause_ms
            && self.statement_start_ms == g0
            && pause >= OPENING_PAUSE_MS
            && self.last_word_voice_ms.saturating_sub(g0) <= OPENING_MAX_MS
        {
            self.statement_start_ms = start;
            self.greeting_from_ms = start;
            return;
        }
        match rise {
            // A short question standing alone ("Hallo? | Ja bitte, wer spricht?"), or a short
            // word with no pitch at its end ("Yes? | Who's this, please?", the vowel lost on a
            // noisy line): a live opening, not read text. What follows is the statement the
            // statement rules judge.
            Some(r) if alone && r >= s.question_rise_semitones => self.statement_start_ms = start,
            None if alone => self.statement_start_ms = start,
            // A pause after a phrase that rose (a question's, a comma's): no sentence break.
            Some(r) if r >= s.statement_rise_semitones => {}
            // A phrase with no pitch at its end may have risen or fallen: its pause is a
            // sentence break only when longer than a comma's can be.
            None if pause < s.sentence_pause_ms + UNPITCHED_BREAK_EXTRA_MS => {}
            // A pause after a phrase that did not rise (a sentence's end): the longest is the
            // turn's sentence break.
            _ => self.turn_pause_ms = self.turn_pause_ms.max(pause),
        }
    }

    fn rules(&mut self) {
        let s = &self.s;
        let t = self.t_ms;
        match self.greeting_start_ms {
            None => {
                // Counted from the last tone (ringback that goes on after the answer is not the
                // answerer's silence); voice that may be the first word holds it: a person who
                // starts speaking just as the limit passes is not a silent answer.
                if t - self.last_tone_ms >= s.initial_silence_ms && self.run_gap_ms != 0 {
                    return self.decide(AmdResult::NotSure, Cause::InitialSilence);
                }
            }
            Some(_) => {
                // Between turns: the resumed voice is not a word yet.
                let Some(g0) = self.turn_start_ms else {
                    if t >= s.total_analysis_ms {
                        self.decide(AmdResult::NotSure, Cause::TooLong);
                    }
                    return;
                };
                if self.words > s.maximum_number_of_words {
                    return self.decide(AmdResult::Machine, Cause::MaxWords);
                }
                if self.run_counted && self.run_gap_ms == 0 {
                    if self.run_voice_ms >= s.maximum_word_length_ms {
                        return self.decide(AmdResult::Machine, Cause::MaxWordLength);
                    }
                    // After an opening that a long pause made stand alone ("A lô? | Vâng, ai
                    // đấy ạ?"), the greeting is counted from what follows it; a turn with a
                    // sentence break is read text from its start.
                    let from = if self.turn_pause_ms >= s.sentence_pause_ms {
                        g0
                    } else {
                        self.greeting_from_ms
                    };
                    if self.last_word_voice_ms - from >= s.greeting_ms {
                        return self.decide(AmdResult::Machine, Cause::LongGreeting);
                    }
                }
                // A greeting that ends on a rising pitch is a question ("Hello?", "Who's
                // calling?"): a person's, as a machine's greeting ends on a statement. It waits
                // only for the pause to outlast the one after a comma's rise in a greeting that
                // goes on ("Hi, you've reached...").
                let end = match self.end_rise {
                    Some((end, e)) if end == self.last_word_voice_ms => Some(e),
                    _ => None,
                };
                let question = end.is_some_and(|e| e.rise >= s.question_rise_semitones);
                let span = self.last_word_voice_ms - g0;
                // Voice that may be the next word, or a tone that may be the beep after a short
                // greeting, holds the decision until it is a word or beep, or has stopped.
                let pending = self.run_gap_ms == 0 || self.beeps.pending();
                let quiet = t - self.last_voice_ms;
                // A long statement is what a machine with no beep plays: no person decision
                // after the answer-pause; a machine once the silence has outlasted the pause a
                // person leaves before talking again (which starts a new turn).
                // Shorter, it is still read text when a sentence pause joins two of its phrases.
                // A turn with a sentence break is read text from its start; without one, a short
                // question at its head ("Hallo? |") is a live opening and what follows it is the
                // statement.
                let read = self.turn_pause_ms >= s.sentence_pause_ms;
                let stated = if read {
                    span
                } else {
                    self.last_word_voice_ms
                        .saturating_sub(self.statement_start_ms)
                };
                let phrased = read && span >= s.phrased_statement_greeting_ms;
                // A statement's end: no pitch there, or it did not rise at its last frames, or the
                // fit over its last voiced frames does not rise (a falling end whose last frames
                // wobble up).
                let stated_end = end.is_none_or(|e| {
                    e.rise < s.statement_rise_semitones || e.trend < s.statement_rise_semitones
                });
                if (stated >= s.statement_greeting_ms || phrased) && stated_end {
                    if quiet >= s.after_statement_silence_ms && !pending {
                        return self.decide(AmdResult::Machine, Cause::StatementThenSilence);
                    }
                } else {
                    let need = match (span <= s.short_greeting_ms, question) {
                        (true, false) => s.after_short_greeting_silence_ms,
                        (true, true) => s
                            .after_short_question_silence_ms
                            .min(s.after_short_greeting_silence_ms),
                        (false, false) => s.after_greeting_silence_ms,
                        (false, true) => {
                            s.after_question_silence_ms.min(s.after_greeting_silence_ms)
                        }
                    };
                    if quiet >= need && !pending {
                        return self.decide(AmdResult::Human, Cause::ShortGreeting);
                    }
                }
            }
        }
        if t >= s.total_analysis_ms {
            self.decide(AmdResult::NotSure, Cause::TooLong);
        }
    }

    fn decide(&mut self, result: AmdResult, cause: Cause) {
        if self.decision.is_none() {
            self.analyzer.track_pitch = false;
            self.machine = result == AmdResult::Machine;
            self.decision = Some(self.decision_at(result, cause, self.t_ms));
        }
    }

    /// A decision made at `decision_ms`, with the speech seen so far.
    fn decision_at(&self, result: AmdResult, cause: Cause, decision_ms: u32) -> Decision {
        Decision {
            result,
            cause,
            decision_ms,
            speech_start_ms: self.greeting_start_ms,
            speech_end_ms: self.greeting_start_ms.map(|_| self.last_voice_ms),
        }
    }

    /// The wall-clock analysis deadline while undecided.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.decision.is_some() {
            return None;
        }
        Some(self.answered_at + Duration::from_millis(self.s.total_analysis_ms as u64))
    }

    /// Decide "not sure" when the wall-clock deadline passed (audio stopped or came too slowly).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.decision.is_some() {
            return;
        }
        let waited = now.saturating_duration_since(self.answered_at);
        if waited >= Duration::from_millis(self.s.total_analysis_ms as u64) {
            let cause = if self.t_ms == 0 {
                Cause::NoAudio
            } else {
                Cause::TooLong
            };
            let ms = u32::try_from(waited.as_millis()).unwrap_or(u32::MAX);
            self.machine = false;
            self.decision = Some(self.decision_at(AmdResult::NotSure, cause, ms.max(self.t_ms)));
        }
    }

    /// The decision, once (later calls return `None`).
    pub fn poll_decision(&mut self) -> Option<Decision> {
        if self.decision_out {
            return None;
        }
        let d = self.decision?;
        self.decision_out = true;
        Some(d)
    }

    /// The decision made so far, without consuming it.
    pub fn decision(&self) -> Option<Decision> {
        self.decision
    }

    /// When the person started speaking (the start of the greeting's first word, known once it
    /// is a word), once: the UK's connect limit counts from there.
    pub fn poll_speech_start(&mut self) -> Option<Instant> {
        if self.speech_start_out {
            return None;
        }
        let at = self.greeting_start_at?;
        self.speech_start_out = true;
        Some(at)
    }

    /// When the person's speech ended as the detector saw it: the arrival of the last voice
    /// frame since the greeting started (frozen at the decision). The US connect limit counts
    /// from there; the answer-pause the detector waits for is inside it. `None`: nobody spoke.
    pub fn speech_end(&self) -> Option<Instant> {
        self.greeting_start_at.and(self.last_voice_at)
    }

    /// Beeps found so far, each once. Detection keeps running after a machine decision.
    pub fn poll_beep(&mut self) -> Option<Beep> {
        self.beep_out.pop_front()
    }

    /// After a machine decision: when to start the voicemail message (once).
    pub fn poll_message_start(&mut self) -> Option<MessageStart> {
        if !self.machine {
            return None;
        }
        self.gate.poll()
    }

    /// Milliseconds of audio analysed so far.
    pub fn audio_ms(&self) -> u32 {
        self.t_ms
    }
}

/// Pitched frames kept for the end-of-word rise (1 s).
const PITCH_TRACK: usize = 50;
/// The rise is measured over the pitch of the last this many ms of voice.
const RISE_WINDOW_MS: u32 = 240;
/// Voice after the last pitched frame that still leaves the end its pitch: the unvoiced
/// consonants that close a word ("this?", "message."). With 100 ms, "Who's this?" had no pitch
/// at its end and read as a statement (issue 18).
const UNVOICED_CODA_MS: u32 = 200;
/// A step of more than this many semitones from one pitched frame to the next (20 ms) among the
/// last two of a stretch is the tracker losing a fading voice, not intonation: the end of "I'll
/// ring you back." on a quiet line jumped 2.4 semitones up after a 3-semitone fall (issue 18).
/// Intonation moved at most 1.7 semitones a frame at the ends of blocks a–l's questions.
const MAX_END_STEP_SEMITONES: f32 = 2.0;

/// After a phrase with no pitch at its end, a pause is a sentence break only when it is this much
/// longer than `sentence_pause_ms`: whether the phrase rose cannot be read, and comma pauses run
/// up to a sentence pause. On blocks a–n, people's pauses after such phrases inside a turn were
/// at most 220 ms ("Yes? Who's this, | please?" on a noisy line) and machines' sentence breaks
/// after them at least 260 ms.
const UNPITCHED_BREAK_EXTRA_MS: u32 = 40;
/// A pause after the turn's opening (at most `OPENING_MAX_MS` long) from which it stood alone
/// whatever its pitch: longer than the sentence breaks of read text on blocks a–p (at most
/// 460 ms), shorter than the 520 ms a person left after a level "A lô?" there.
const OPENING_PAUSE_MS: u32 = 500;
/// The longest opening a long pause makes stand alone: a word or two ("A lô?", 960 ms).
const OPENING_MAX_MS: u32 = 1200;

/// How the pitch of a stretch of voice ends, in semitones over its last `RISE_WINDOW_MS`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct EndPitch {
    /// The mean of the last two pitched frames over the lowest pitch before them (a falling or
    /// level end gives ≤ 0): a question's rise, read from its last frames.
    rise: f32,
    /// The change of a least-squares line through the pitched frames, from the first to the
    /// last: the end's contour, read from all its frames, so a fall whose last frames wobble up
    /// is still a fall (a Basque statement fell 5 semitones and rose 0.7 in its last 40 ms).
    trend: f32,
}

/// How the pitch ends in a stretch of voice ending at `end_ms`, over its last `RISE_WINDOW_MS`
/// (see [`EndPitch`]). Frames more than half an octave from the stretch's median are
/// pitch-tracking errors and left out, and so are the last frames from a jump of more than
/// `MAX_END_STEP_SEMITONES` on (the end is read before it). `None` when the last
/// `UNVOICED_CODA_MS` of the voice have no pitch or there are too few pitched frames.
fn end_rise(track: &VecDeque<(u32, f32)>, end_ms: u32) -> Option<EndPitch> {
    let mut hz: Vec<f32> = track.iter().map(|p| p.1).collect();
    if hz.is_empty() {
        return None;
    }
    hz.sort_by(f32::total_cmp);
    let median = hz[hz.len() / 2];
    let pts: Vec<(u32, f32)> = track
        .iter()
        .copied()
        .filter(|&(t, f)| (f / median).log2().abs() < 0.5 && t + RISE_WINDOW_MS >= end_ms)
        .collect();
    let mut n = pts.len();
    if let Some(i) = (n.saturating_sub(2).max(1)..n).find(|&i| {
        let ((t0, f0), (t1, f1)) = (pts[i - 1], pts[i]);
        t1 - t0 == FRAME_MS && (12.0 * (f1 / f0).log2()).abs() > MAX_END_STEP_SEMITONES
    }) {
        n = i;
    }
    if n < 4 || pts[n - 1].0 + UNVOICED_CODA_MS < end_ms {
        return None;
    }
    let end = (pts[n - 1].1 + pts[n - 2].1) / 2.0;
    let low = pts[..n - 2]
        .iter()
        .map(|p| p.1)
        .fold(f32::INFINITY, f32::min);
    // The fit: semitones against ms over the frames kept.
    let xy: Vec<(f32, f32)> = pts[..n]
        .iter()
        .map(|&(t, f)| (t as f32, 12.0 * f.log2()))
        .collect();
    let k = xy.len() as f32;
    let (mx, my) = xy
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x / k, b + y / k));
    let (sxy, sxx) = xy.iter().fold((0.0, 0.0), |(a, b), &(x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    Some(EndPitch {
        rise: 12.0 * (end / low).log2(),
        trend: slope * (xy[xy.len() - 1].0 - xy[0].0),
    })
}

/// What the detector made of a whole recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub result: AmdResult,
    pub cause: Cause,
    pub decision_ms: u32,
    /// The end of the person's speech as the detector saw it (see [`Decision::speech_end_ms`]).
    pub speech_end_ms: Option<u32>,
    /// Start of the first beep, if any.
    pub beep_ms: Option<u32>,
    pub beep_hz: Option<f32>,
    /// When a voicemail message would start (machines only).
    pub message: Option<MessageStart>,
}

/// Run the detector over a whole recording of 8 kHz mono PCM (a last partial frame is padded
/// with silence). A recording that ends before a decision is followed by silence, as an open
/// line would be, up to `total_analysis_ms` (then "not sure", `too_long`).
#[expect(
    clippy::disallowed_methods,
    reason = "any origin will do for the detector's clock: only offsets from it reach the outcome"
)]
pub fn classify(settings: &Settings, pcm: &[i16]) -> Outcome {
    let t0 = Instant::now();
    let mut d = Detector::new(settings.clone(), t0);
    let mut beep = None;
    let mut message = None;
    let mut n = 0u64;
    // After the recording, the line stays open and silent until the detector decides (a
    // person who said nothing more, a machine recording the message) or the analysis ends.
    let silent_ms = settings
        .total_analysis_ms
        .saturating_sub(pcm.len() as u32 / 8);
    let silence = std::iter::repeat_n(&[0i16; super::FRAME_SAMPLES][..], silent_ms as usize / 20);
    for chunk in pcm.chunks(super::FRAME_SAMPLES).chain(silence) {
        if n * u64::from(FRAME_MS) >= pcm.len() as u64 / 8 && d.decision().is_some() {
            break;
        }
        let mut fr = [0i16; super::FRAME_SAMPLES];
        fr[..chunk.len()].copy_from_slice(chunk);
        n += 1;
        d.push_frame(t0 + Duration::from_millis(n * FRAME_MS as u64), &fr);
        if let Some(b) = d.poll_beep() {
            beep.get_or_insert(b);
        }
        if let Some(m) = d.poll_message_start() {
            message.get_or_insert(m);
        }
        if d.decision().is_some() && beep.is_some() && message.is_some() {
            break;
        }
    }
    let dec = d
        .decision()
        .unwrap_or_else(|| d.decision_at(AmdResult::NotSure, Cause::TooLong, d.audio_ms()));
    Outcome {
        result: dec.result,
        cause: dec.cause,
        decision_ms: dec.decision_ms,
        speech_end_ms: dec.speech_end_ms,
        beep_ms: beep.map(|b| b.at_ms),
        beep_hz: beep.map(|b| b.hz),
        message,
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::*;
    use crate::amd::FRAME_SAMPLES;

    /// A deterministic signal builder: noise floor plus "syllables" (a 150 Hz buzz with
    /// harmonics, amplitude-modulated at 5 Hz like speech), silences and tones.
    struct Sig {
        pcm: Vec<i16>,
        rng: u32,
        noise: f32,
    }

    impl Sig {
        fn new(noise: f32) -> Self {
            Sig {
                pcm: Vec::new(),
                rng: 7,
                noise,
            }
        }
        fn noise(&mut self) -> f32 {
            self.rng = self.rng.wrapping_mul(1664525).wrapping_add(1013904223);
            ((self.rng >> 16) as f32 / 32768.0 - 1.0) * self.noise
        }
        fn silence(mut self, ms: u32) -> Self {
            for _ in 0..ms * 8 {
                let n = self.noise();
                self.pcm.push(n as i16);
            }
            self
        }
        /// Speech-like voice for `ms`: syllables of 200 ms with short dips between them.
        fn talk(mut self, ms: u32, amp: f32) -> Self {
            let pi2 = 2.0 * std::f32::consts::PI;
            for i in 0..ms * 8 {
                let t = i as f32 / 8000.0;
                let f0 = 130.0 + 30.0 * (pi2 * 0.7 * t).sin();
                let env = (pi2 * 2.5 * t).sin().abs().powf(0.5);
                let mut v = 0.0;
                for h in 1..12 {
                    v += (pi2 * f0 * h as f32 * t).sin() / h as f32;
                }
                let n = self.noise();
                self.pcm.push((amp * env * v * 0.5 + n) as i16);
            }
            self
        }
        /// A voiced stretch whose pitch glides from `from_hz` to `to_hz` (a question's rise, a
        /// statement's fall): a harmonic buzz with a steady envelope.
        fn glide(mut self, ms: u32, amp: f32, from_hz: f32, to_hz: f32) -> Self {
            let pi2 = 2.0 * std::f32::consts::PI;
            let n = ms * 8;
            let mut phase = 0.0f32;
            for i in 0..n {
                let f0 = from_hz + (to_hz - from_hz) * i as f32 / n as f32;
                phase += pi2 * f0 / 8000.0;
                let mut v = 0.0;
                for h in 1..12 {
                    v += (phase * h as f32).sin() / h as f32;
                }
                let x = self.noise();
                self.pcm.push((amp * v * 0.5 + x) as i16);
            }
            self
        }
        /// Unvoiced speech for `ms` (a whisper, a vowel lost in line noise): loud noise with
        /// no pitch.
        fn hiss(mut self, ms: u32, amp: f32) -> Self {
            for _ in 0..ms * 8 {
                self.rng = self.rng.wrapping_mul(1664525).wrapping_add(1013904223);
                let v = ((self.rng >> 16) as f32 / 32768.0 - 1.0) * amp;
                let n = self.noise();
                self.pcm.push((v + n) as i16);
            }
            self
        }
        fn tone(mut self, ms: u32, hz: f32, amp: f32) -> Self {
            for i in 0..ms * 8 {
                let t = i as f32 / 8000.0;
                let n = self.noise();
                self.pcm
                    .push((amp * (2.0 * std::f32::consts::PI * hz * t).sin() + n) as i16);
            }
            self
        }
    }

    fn run(pcm: &[i16]) -> Outcome {
        classify(&Settings::default(), pcm)
    }

    /// The outcome is that result for that cause.
    #[track_caller]
    fn expect(o: &Outcome, result: AmdResult, cause: Cause) {
        assert_eq!((o.result, o.cause), (result, cause), "{o:?}");
    }

    /// 300 ms of silence, then a greeting of 2.4 s (as long as a machine's short one) whose last
    /// 250 ms glide from `end.0` to `end.1` Hz.
    fn long_greeting_ending(end: (f32, f32)) -> Sig {
        Sig::new(20.0)
            .silence(300)
            .talk(2150, 4000.0)
            .glide(250, 4000.0, end.0, end.1)
    }

    #[test]
    fn hello_then_silence_is_human_soon_after() {
        let o = run(&Sig::new(20.0)
            .silence(300)
            .talk(500, 4000.0)
            .silence(3000)
            .pcm);
        assert_eq!(
            (o.result, o.cause),
            (AmdResult::Human, Cause::ShortGreeting)
        );
        let wait = Settings::default().after_short_greeting_silence_ms;
        assert!(o.decision_ms <= 300 + 500 + wait + 60, "{o:?}");
    }

    #[test]
    fn a_sentence_pause_after_a_first_short_phrase_is_not_the_answer_pause() {
        // "Hello." — a pause as long as the short-greeting wait — then the rest of the greeting:
        // the voice that resumes holds the decision until it is a word.
        let wait = Settings::default().after_short_greeting_silence_ms;
        let o = run(&Sig::new(20.0)
            .silence(300)
            .talk(500, 4000.0)
            .silence(wait - 30)
            .talk(5000, 4000.0)
            .pcm);
        expect(&o, AmdResult::Machine, Cause::LongGreeting);
    }

    #[test]
    fn a_beep_that_starts_as_the_short_greeting_wait_ends_is_still_a_machine() {
        // A short machine greeting whose beep begins just before the person-wait is over: the
        // steady tone holds the human decision until it is a beep.
        let wait = Settings::default().after_short_greeting_silence_ms;
        let o = run(&Sig::new(20.0)
            .silence(300)
            .talk(600, 4000.0)
            .silence(wait - 60)
            .tone(500, 1000.0, 4000.0)
            .silence(1000)
            .pcm);
        expect(&o, AmdResult::Machine, Cause::Beep);
        assert!(
            o.beep_ms.unwrap().abs_diff(300 + 600 + wait - 60) <= 40,
            "{o:?}"
        );
    }

    /// A voiced greeting 300 ms after the answer: a glide over `body_ms` from `body.0` to
    /// `body.1` Hz, then 250 ms gliding from `end.0` to `end.1` Hz, then silence.
    fn intoned(body_ms: u32, body: (f32, f32), end: (f32, f32)) -> Outcome {
        run(&Sig::new(20.0)
            .silence(300)
            .glide(body_ms, 4000.0, body.0, body.1)
            .glide(250, 4000.0, end.0, end.1)
            .silence(2000)
            .pcm)
    }

    #[test]
    fn a_greeting_ending_in_a_question_rise_is_decided_after_the_shorter_wait() {
        let s = Settings::default();
        // "Hello?": short, the pitch rising 5 semitones at the end
        let o = intoned(300, (130.0, 130.0), (130.0, 174.0));
        expect(&o, AmdResult::Human, Cause::ShortGreeting);
        let end = 300 + 550;
        assert!(
            o.decision_ms > end + s.after_short_question_silence_ms - 40
                && o.decision_ms <= end + s.after_short_question_silence_ms + 60,
            "{o:?}"
        );
        // "Hi, who's calling?": longer than a short greeting, the same rise
        let o = intoned(1200, (150.0, 130.0), (130.0, 174.0));
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
        let end = 300 + 1450;
        assert!(
            o.decision_ms > end + s.after_question_silence_ms - 40
                && o.decision_ms <= end + s.after_question_silence_ms + 60,
            "{o:?}"
        );
    }

    #[test]
    fn a_greeting_ending_in_a_fall_waits_the_greeting_waits() {
        let s = Settings::default();
        let o = intoned(300, (174.0, 174.0), (174.0, 130.0));
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
        assert!(
            o.decision_ms >= 300 + 550 + s.after_short_greeting_silence_ms,
            "{o:?}"
        );
        let o = intoned(1200, (150.0, 174.0), (174.0, 130.0));
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
        assert!(
            o.decision_ms >= 300 + 1450 + s.after_greeting_silence_ms,
            "{o:?}"
        );
    }

    #[test]
    fn a_commas_rise_and_pause_in_a_machine_greeting_is_not_a_question() {
        // "Hi, you've reached...": the rise at the comma, a pause shorter than the question
        // wait, then the greeting goes on.
        let s = Settings::default();
        let o = run(&Sig::new(20.0)
            .silence(200)
            .glide(300, 4000.0, 130.0, 174.0)
            .silence(s.after_short_question_silence_ms - 80)
            .talk(5000, 4000.0)
            .pcm);
        expect(&o, AmdResult::Machine, Cause::LongGreeting);
    }

    #[test]
    fn a_whole_sentence_from_a_person_is_still_human() {
        let s = Settings::default();
        let o = run(&Sig::new(20.0)
            .silence(400)
            .talk(s.statement_greeting_ms - 300, 4000.0)
            .silence(3000)
            .pcm);
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
    }

    #[test]
    fn a_long_statement_then_silence_is_a_machine_with_no_beep() {
        // "Hi, it's Sam. Leave a message." and nothing after it: 2.4 s of voice falling at its
        // end, then the recording's silence.
        let s = Settings::default();
        let o = run(&long_greeting_ending((150.0, 120.0)).silence(4000).pcm);
        expect(&o, AmdResult::Machine, Cause::StatementThenSilence);
        let end = 300 + 2400;
        assert!(
            o.decision_ms >= end + s.after_statement_silence_ms
                && o.decision_ms <= end + s.after_statement_silence_ms + 60,
            "{o:?}"
        );
    }

    /// Two phrases of a greeting shorter than `statement_greeting_ms`: the first glides from
    /// `first` Hz, then a pause, then a second phrase of 900 ms that falls, then silence.
    fn two_phrases(first: (f32, f32), pause_ms: u32) -> Outcome {
        phrases(first, pause_ms, 900)
    }

    /// A first phrase of 700 ms gliding from `first` Hz, a pause, a second phrase of
    /// `second_ms` that falls at its end, then silence.
    fn phrases(first: (f32, f32), pause_ms: u32, second_ms: u32) -> Outcome {
        run(&Sig::new(20.0)
            .silence(300)
            .glide(700, 4000.0, first.0, first.1)
            .silence(pause_ms)
            .talk(second_ms - 250, 4000.0)
            .glide(250, 4000.0, 150.0, 120.0)
            .silence(4000)
            .pcm)
    }

    #[test]
    fn two_sentences_shorter_than_a_long_statement_then_silence_are_a_machine() {
        // "This is Claire. Sorry I missed you.": a phrase that falls, a sentence pause, a
        // second phrase; 1.9 s in all, then the recording's silence.
        let s = Settings::default();
        let o = two_phrases((150.0, 120.0), s.sentence_pause_ms + 100);
        expect(&o, AmdResult::Machine, Cause::StatementThenSilence);
        let end = 300 + 700 + s.sentence_pause_ms + 100 + 900;
        assert!(end < 300 + s.statement_greeting_ms, "{end}");
        assert!(
            o.decision_ms >= end + s.after_statement_silence_ms
                && o.decision_ms <= end + s.after_statement_silence_ms + 60,
            "{o:?}"
        );
    }

    #[test]
    fn a_short_statement_with_a_commas_pause_or_after_a_question_is_a_person() {
        // "Hello, Baker residence.": the pause after the first phrase is shorter than a
        // sentence's.
        let s = Settings::default();
        let o = two_phrases((150.0, 120.0), s.sentence_pause_ms - 60);
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
        // "Hallo? | Ja, wer ist da?": the first phrase rises (a pause too short for the
        // question wait), so its pause is no sentence break.
        let o = two_phrases((130.0, 174.0), s.after_short_question_silence_ms - 20);
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
    }

    #[test]
    fn a_level_opening_then_a_long_pause_is_a_live_opening_past_greeting_ms() {
        // "A lô? | Vâng, ai đấy ạ?" (issue 18, o_human_440): an opening of 900 ms whose pitch
        // stays level (a tone language's "Hello?"), a pause longer than read text's sentence
        // breaks, then a phrase that ends past `greeting_ms` from the opening's start. The
        // phrase after the pause is the greeting the rules judge: a person.
        let s = Settings::default();
        let opening = |pause_ms: u32| {
            run(&Sig::new(20.0)
                .silence(300)
                .glide(900, 4000.0, 150.0, 150.0)
                .silence(pause_ms)
                .talk(1450, 4000.0)
                .glide(250, 4000.0, 150.0, 120.0)
                .silence(4000)
                .pcm)
        };
        let pause = OPENING_PAUSE_MS + 40;
        assert!(900 + pause + 1700 >= s.greeting_ms + 60);
        assert!(1700 < s.statement_greeting_ms && pause < s.after_greeting_silence_ms);
        let o = opening(pause);
        expect(&o, AmdResult::Human, Cause::ShortGreeting);
        // With a sentence break's pause (read text: "Hello. | You've reached…"), the greeting is
        // counted from its start: a machine.
        let o = opening(OPENING_PAUSE_MS - 100);
        assert_eq!(o.result, AmdResult::Machine, "{o:?}");
    }

    #[test]
    fn a_question_standing_alone_then_a_statement_is_a_live_opening() {
        // "Hallo? | Ja bitte, wer spricht?" (a question espeak says falling): a rising first
        // phrase, a pause as long as a sentence break but too short for the question wait, then
        // 1.7 s that end as a statement, 2.6 s in all. The statement rule judges the 1.7 s.
        let s = Settings::default();
        let pause = s.sentence_pause_ms;
        assert!(pause < s.after_short_question_silence_ms);
        let o = phrases((130.0, 174.0), pause, 1700);
        expect(&o, AmdResult::Human, Cause::ShortGreeting);
        let end = 300 + 700 + pause + 1700;
        assert!(end - 300 >= s.statement_greeting_ms, "{end}");
        assert!(
            o.decision_ms > end && o.decision_ms <= end + s.after_greeting_silence_ms + 60,
            "{o:?}"
        );
        // With a comma's pause after the rise ("Hello, Garcia residence, please leave a
        // message."), the whole greeting is the statement: a machine.
        let o = phrases((130.0, 174.0), s.sentence_pause_ms - 60, 1700);
        expect(&o, AmdResult::Machine, Cause::StatementThenSilence);
        // So is a question at the head of read text, if what follows is a long statement.
        let o = phrases((130.0, 174.0), pause, s.statement_greeting_ms + 40);
        expect(&o, AmdResult::Machine, Cause::StatementThenSilence);
    }

    #[test]
    fn a_pitch_jump_in_the_last_frames_is_not_a_rise() {
        // "I'll ring you back." on a quiet line: 3 semitones down, then the tracker jumps 2.4
        // semitones up in its last two frames.
        let mut track: VecDeque<(u32, f32)> = (0..12)
            .map(|i| (1600 + 20 * i, 157.0 * 2f32.powf(-0.27 * i as f32 / 12.0)))
            .collect();
        let last = track.back().map_or(0.0, |p| p.1);
        track.push_back((1840, last * 2f32.powf(2.4 / 12.0)));
        track.push_back((1860, last * 2f32.powf(2.35 / 12.0)));
        let r = end_rise(&track, 1880).expect("a pitched end").rise;
        assert!(r < 0.0, "{r}");
        // A question rising 1.6 semitones a frame keeps its rise.
        let track: VecDeque<(u32, f32)> = (0..12u32)
            .map(|i| {
                (
                    1600 + 20 * i,
                    110.0 * 2f32.powf(1.6 * i.saturating_sub(6) as f32 / 12.0),
                )
            })
            .collect();
        let r = end_rise(&track, 1840).expect("a pitched end").rise;
        assert!(r >= Settings::default().question_rise_semitones, "{r}");
    }

    #[test]
    fn a_fall_whose_last_frames_wobble_up_trends_down() {
        // A statement falling 5 semitones over 200 ms whose last two frames come back up 0.7
        // semitones (steps under the jump limit): its last frames rise, its contour falls.
        let mut track: VecDeque<(u32, f32)> = (0..11)
            .map(|i| (2060 + 20 * i, 264.0 * 2f32.powf(-0.5 * i as f32 / 12.0)))
            .collect();
        let low = track.back().map_or(0.0, |p| p.1);
        track.push_back((2280, low * 2f32.powf(0.6 / 12.0)));
        track.push_back((2300, low * 2f32.powf(0.8 / 12.0)));
        let e = end_rise(&track, 2320).expect("a pitched end");
        let s = Settings::default();
        assert!(e.rise >= s.statement_rise_semitones, "{e:?}");
        assert!(e.trend < 0.0, "{e:?}");
        // A question's rise is a rise both ways.
        let track: VecDeque<(u32, f32)> = (0..12u32)
            .map(|i| (1600 + 20 * i, 110.0 * 2f32.powf(0.4 * i as f32 / 12.0)))
            .collect();
        let e = end_rise(&track, 1840).expect("a pitched end");
        assert!(e.rise >= s.question_rise_semitones, "{e:?}");
        assert!(e.trend >= s.question_rise_semitones, "{e:?}");
    }

    #[test]
    fn a_short_word_with_no_pitch_standing_alone_opens_a_live_opening() {
        // "Yes? | Who's this, please?" on a noisy line: a short first word whose vowel has no
        // pitch (here a hiss), a pause as long as a sentence break, then 1.5 s that end as a
        // statement, 2.2 s in all. The pause is no sentence break and the statement rule judges
        // the 1.5 s: a person.
        let s = Settings::default();
        let said = |first_ms: u32| {
            run(&Sig::new(20.0)
                .silence(300)
                .hiss(first_ms, 4000.0)
                .silence(s.sentence_pause_ms + 100)
                .talk(1250, 4000.0)
                .glide(250, 4000.0, 150.0, 120.0)
                .silence(4000)
                .pcm)
        };
        let first = 400;
        assert!(first + s.sentence_pause_ms + 100 + 1500 >= s.statement_greeting_ms);
        expect(&said(first), AmdResult::Human, Cause::ShortGreeting);
        // A first phrase longer than a short greeting is a sentence: read text, a machine.
        let o = said(s.short_greeting_ms + 200);
        expect(&o, AmdResult::Machine, Cause::StatementThenSilence);
    }

    #[test]
    fn a_pause_after_a_phrase_with_no_pitch_is_a_sentence_break_only_when_long() {
        // "Hi, this | is Sam." with the end of "this" unvoiced: a rising phrase, a comma's
        // pause, a phrase with no pitch, a pause, a phrase that falls; 1.8-1.9 s in all, then
        // silence. Under a sentence pause and its margin the pause is a comma's (a person); longer,
        // a sentence break (read text, a machine).
        let s = Settings::default();
        let said = |pause: u32| {
            run(&Sig::new(20.0)
                .silence(300)
                .glide(700, 4000.0, 130.0, 174.0)
                .silence(120)
                .hiss(300, 4000.0)
                .silence(pause)
                .talk(250, 4000.0)
                .glide(250, 4000.0, 150.0, 120.0)
                .silence(4000)
                .pcm)
        };
        let comma = s.sentence_pause_ms + UNPITCHED_BREAK_EXTRA_MS - 40;
        assert!(700 + 120 + 300 + comma + 500 >= s.phrased_statement_greeting_ms);
        assert_eq!(said(comma).result, AmdResult::Human);
        let o = said(s.sentence_pause_ms + UNPITCHED_BREAK_EXTRA_MS + 60);
        expect(&o, AmdResult::Machine, Cause::StatementThenSilence);
    }

    #[test]
    fn a_long_statement_then_hello_again_is_a_person() {
        // "Hello, this is Sam speaking." — nothing from the caller — "Hello?" 1.5 s later: the
        // second turn is judged as a greeting of its own, not as more of the first.
        let s = Settings::default();
        let o = run(&long_greeting_ending((150.0, 120.0))
            .silence(1500)
            .glide(250, 4000.0, 130.0, 130.0)
            .glide(250, 4000.0, 130.0, 174.0)
            .silence(3000)
            .pcm);
        expect(&o, AmdResult::Human, Cause::ShortGreeting);
        let hello_end = 300 + 2400 + 1500 + 500;
        assert!(
            o.decision_ms > hello_end
                && o.decision_ms <= hello_end + s.after_short_greeting_silence_ms + 60,
            "{o:?}"
        );
    }

    #[test]
    fn a_long_greeting_that_ends_in_a_question_is_a_person() {
        // "Hi, this is Paul speaking, who's this?": as long as a machine's short greeting, but it
        // ends on a rise.
        let s = Settings::default();
        let o = run(&long_greeting_ending((130.0, 174.0)).silence(3000).pcm);
        expect(&o, AmdResult::Human, Cause::ShortGreeting);
        assert!(
            o.decision_ms <= 300 + 2400 + s.after_greeting_silence_ms + 60,
            "{o:?}"
        );
    }

    #[test]
    fn a_long_greeting_is_a_machine() {
        let o = run(&Sig::new(20.0).silence(200).talk(6000, 4000.0).pcm);
        expect(&o, AmdResult::Machine, Cause::LongGreeting);
        // the greeting starts at 200 ms; decided at the first voiced frame past greeting_ms
        assert!(
            o.decision_ms <= 200 + Settings::default().greeting_ms + 200,
            "{o:?}"
        );
    }

    #[test]
    fn a_short_greeting_then_a_beep_is_a_machine_with_the_beep_found() {
        let o = run(&Sig::new(20.0)
            .silence(300)
            .talk(900, 4000.0)
            .silence(300)
            .tone(500, 1000.0, 4000.0)
            .silence(1500)
            .pcm);
        expect(&o, AmdResult::Machine, Cause::Beep);
        let at = o.beep_ms.unwrap();
        assert!((1500..=1540).contains(&at), "{o:?}");
        let m = o.message.unwrap();
        assert_eq!(m.cause, crate::amd::MessageStartCause::AfterBeep);
        assert!((2000..=2040).contains(&m.at_ms), "{m:?}");
    }

    #[test]
    fn beeps_are_found_across_the_band_after_a_machine_decision() {
        for hz in [420.0, 600.0, 850.0, 1000.0, 1400.0, 1950.0] {
            let o = run(&Sig::new(30.0)
                .silence(100)
                .talk(4000, 3000.0)
                .silence(250)
                .tone(200, hz, 2500.0)
                .silence(1000)
                .pcm);
            assert_eq!(o.result, AmdResult::Machine, "{hz}: {o:?}");
            let at = o.beep_ms.unwrap_or(0);
            assert!((4350..=4390).contains(&at), "{hz}: {o:?}");
            assert!((o.beep_hz.unwrap() - hz).abs() < 15.0, "{hz}: {o:?}");
        }
    }

    #[test]
    fn speech_start_and_end_are_when_their_frames_arrived_and_the_pause_is_after_the_end() {
        let pcm = Sig::new(20.0)
            .silence(300)
            .talk(500, 4000.0)
            .silence(3000)
            .pcm;
        let t0 = Instant::now();
        let mut d = Detector::new(Settings::default(), t0);
        let (mut start, mut n) = (None, 0u64);
        for chunk in pcm.chunks(FRAME_SAMPLES) {
            let mut fr = [0i16; FRAME_SAMPLES];
            fr[..chunk.len()].copy_from_slice(chunk);
            n += 1;
            // Each frame arrives with its last sample; those well after the greeting come in
            // 70 ms late (network jitter): the end is still the last voice frame's arrival.
            let late = if n * 20 > 1000 { 70 } else { 0 };
            d.push_frame(t0 + Duration::from_millis(n * 20 + late), &fr);
            if let Some(at) = d.poll_speech_start() {
                assert!(start.is_none(), "reported once");
                start = Some(at);
            }
            if d.decision().is_some() {
                break;
            }
        }
        let dec = d.decision().expect("decided");
        assert_eq!(dec.result, AmdResult::Human, "{dec:?}");
        let (s_ms, e_ms) = (dec.speech_start_ms.unwrap(), dec.speech_end_ms.unwrap());
        assert!(
            s_ms.abs_diff(300) <= 40 && e_ms.abs_diff(800) <= 40,
            "{dec:?}"
        );
        // The detector's wait for the answer-pause comes after the end of speech.
        let wait = Settings::default().after_short_greeting_silence_ms;
        assert!(dec.decision_ms - e_ms >= wait, "{dec:?}");
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        assert_eq!(start, Some(t0 + ms(s_ms)));
        assert_eq!(d.speech_end(), Some(t0 + ms(e_ms)));
        assert_eq!(d.poll_speech_start(), None);
    }

    #[test]
    fn nobody_speaking_has_no_speech_times() {
        let t0 = Instant::now();
        let mut d = Detector::new(Settings::default(), t0);
        let pcm = Sig::new(10.0).silence(3000).pcm;
        for (i, chunk) in pcm.chunks(FRAME_SAMPLES).enumerate() {
            let mut fr = [0i16; FRAME_SAMPLES];
            fr[..chunk.len()].copy_from_slice(chunk);
            d.push_frame(t0 + Duration::from_millis(20 * (i as u64 + 1)), &fr);
        }
        let dec = d.decision().expect("decided");
        assert_eq!(dec.cause, Cause::InitialSilence);
        assert_eq!((dec.speech_start_ms, dec.speech_end_ms), (None, None));
        assert_eq!((d.poll_speech_start(), d.speech_end()), (None, None));
    }

    #[test]
    fn a_silent_answer_is_not_sure_not_machine() {
        let o = run(&Sig::new(10.0).silence(6000).pcm);
        expect(&o, AmdResult::NotSure, Cause::InitialSilence);
    }

    /// `ms` of silence after the answer, then half a second of speech, then silence.
    fn speaks_after(ms: u32) -> Outcome {
        run(&Sig::new(10.0)
            .silence(ms)
            .talk(500, 3000.0)
            .silence(2000)
            .pcm)
    }

    #[test]
    fn a_person_who_waits_before_speaking_is_human() {
        let limit = Settings::default().initial_silence_ms;
        let o = speaks_after(limit - 500);
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
    }

    #[test]
    fn a_silent_answer_is_not_sure_at_the_initial_silence_limit() {
        let limit = Settings::default().initial_silence_ms;
        let o = speaks_after(limit + 300);
        assert_eq!(
            (o.result, o.cause, o.decision_ms),
            (AmdResult::NotSure, Cause::InitialSilence, limit),
            "{o:?}"
        );
    }

    #[test]
    fn voice_starting_at_the_initial_silence_limit_holds_it_until_it_is_a_word() {
        // The person starts speaking 40 ms before the limit: not yet a word when it passes.
        let limit = Settings::default().initial_silence_ms;
        let o = speaks_after(limit - 40);
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
        assert!(o.decision_ms > limit + 500, "{o:?}");
    }

    #[test]
    fn steady_noise_is_not_speech_and_speech_in_noise_is_found() {
        // noise at roughly -24 dB below the speech
        let o = run(&Sig::new(600.0)
            .silence(500)
            .talk(500, 6000.0)
            .silence(3000)
            .pcm);
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
        assert!(o.decision_ms < 1800, "{o:?}");
        let o = run(&Sig::new(600.0).silence(6000).pcm);
        assert_eq!(o.result, AmdResult::NotSure, "{o:?}");
    }

    #[test]
    fn quiet_lines_work() {
        let o = run(&Sig::new(3.0)
            .silence(400)
            .talk(500, 150.0)
            .silence(2500)
            .pcm);
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
        let o = run(&Sig::new(3.0).silence(400).talk(5000, 150.0).pcm);
        assert_eq!(o.result, AmdResult::Machine, "{o:?}");
    }

    #[test]
    fn ringback_is_not_a_greeting() {
        // US ringback 440+480 Hz for 2 s, then a person says hello
        let mut s = Sig::new(10.0).silence(200);
        for i in 0..16000 {
            let t = i as f32 / 8000.0;
            let pi2 = 2.0 * std::f32::consts::PI;
            s.pcm
                .push((1500.0 * ((pi2 * 440.0 * t).sin() + (pi2 * 480.0 * t).sin())) as i16);
        }
        let o = run(&s.silence(300).talk(500, 3000.0).silence(2000).pcm);
        assert_eq!(o.result, AmdResult::Human, "{o:?}");
        assert!(o.decision_ms > 2500, "{o:?}");
    }

    #[test]
    fn the_wall_clock_deadline_decides_when_audio_stops() {
        let t0 = Instant::now();
        let mut d = Detector::new(Settings::default(), t0);
        let deadline = d.poll_timeout().unwrap();
        let limit = u64::from(Settings::default().total_analysis_ms);
        assert_eq!(deadline, t0 + Duration::from_millis(limit));
        d.handle_timeout(t0 + Duration::from_millis(limit - 1));
        assert_eq!(d.poll_decision(), None);
        d.handle_timeout(deadline);
        let dec = d.poll_decision().unwrap();
        assert_eq!(
            (dec.result, dec.cause),
            (AmdResult::NotSure, Cause::NoAudio)
        );
        assert_eq!(d.poll_decision(), None);
        assert_eq!(d.poll_timeout(), None);
        // frames after the decision still feed the beep detector
        let fr = [0i16; FRAME_SAMPLES];
        d.push_frame(deadline, &fr);
        assert_eq!(d.poll_beep(), None);
    }
}
