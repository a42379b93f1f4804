//! Scoring a detector on a labelled corpus (`tests/amd/corpus/labels.csv`): the confusion
//! matrix, accuracy, people called machines, decision times for people and beep timing. Used by
//! `benches/amd.rs` and the corpus test.
//!
//! Accuracy counts "not sure" as the campaign default, human (the call goes to an agent); the
//! strict accuracy counts it as wrong. Decision times for people are over every labelled person.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AmdResult, Outcome};

/// A recording's true answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truth {
    Human,
    Machine,
}

/// Which part of the corpus a file is in: settings were tuned on `train` only. `test` was held
/// out when it was written and has been seen since; `holdout` is the split no tuning has looked
/// at (issue 18's fifth round: blocks q and r, written before that round's tuning; its earlier
/// held-out blocks, i to p, are train now).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Test,
    Holdout,
}

/// One row of `labels.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub file: String,
    pub truth: Truth,
    pub split: Split,
    /// Start of the beep in ms from the start of the file, when there is one.
    pub beep_ms: Option<u32>,
    /// For people: end of their first utterance, in ms from the start of the file.
    pub speech_end_ms: Option<u32>,
    pub notes: String,
}

impl Label {
    /// For a machine: how long its greeting is, from the notes the build script writes
    /// ("greeting 2088 ms by ..."); `None` when the notes do not say.
    pub fn greeting_ms(&self) -> Option<u32> {
        let rest = self.notes.strip_prefix("greeting ")?;
        rest.split_once(" ms")?.0.parse().ok()
    }

    /// A machine whose greeting is short (at most `SHORT_MACHINE_GREETING_MS`) and has no beep
    /// after it: nothing but the greeting's shape tells it from a person's sentence.
    pub fn is_short_beepless_machine(&self) -> bool {
        self.truth == Truth::Machine
            && self.beep_ms.is_none()
            && self
                .greeting_ms()
                .is_some_and(|g| g <= SHORT_MACHINE_GREETING_MS)
    }
}

/// The longest greeting counted as a short machine greeting (issue 18: ~1.5–3 s).
pub const SHORT_MACHINE_GREETING_MS: u32 = 3000;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error(transparent)]
    Wav(#[from] crate::media::wav::WavError),
}

/// Read `labels.csv` (columns `file,truth,split,beep_ms,speech_end_ms,notes`); errors name the file and line.
pub fn load_labels(path: &Path) -> Result<Vec<Label>, EvalError> {
    let err = |source| EvalError::Csv {
        path: path.to_owned(),
        source,
    };
    let mut r = csv::Reader::from_path(path).map_err(err)?;
    r.deserialize()
        .collect::<Result<Vec<Label>, _>>()
        .map_err(err)
}

/// Read a recording as 8 kHz mono (any WAV the media module reads; other rates resampled).
pub fn read_pcm(path: &Path) -> Result<Vec<i16>, EvalError> {
    Ok(crate::media::wav::read_8k_mono(path)?)
}

/// Beep timing on the files that have a beep.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BeepScore {
    pub files_with_beep: u32,
    /// Found within 300 ms of the labelled start.
    pub found: u32,
    /// |found − labelled| in ms, over the found ones.
    pub mean_error_ms: Option<f64>,
    pub max_error_ms: Option<u32>,
    /// Beeps reported on files without one.
    pub false_beeps: u32,
}

/// The figures for one detector on one set of files.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    pub files: u32,
    /// Rows: truth human, machine; columns: said human, machine, notsure.
    pub confusion: [[u32; 3]; 2],
    /// Correct share, "not sure" counted as human.
    pub accuracy: f64,
    /// Correct share, "not sure" counted as wrong.
    pub strict_accuracy: f64,
    /// Share of people called machines.
    pub humans_called_machines: f64,
    /// Share of machines not called machines (they reach an agent).
    pub machines_missed: f64,
    pub human_decision_p50_ms: Option<u32>,
    pub human_decision_p95_ms: Option<u32>,
    /// Decision time for people counted from the end of their first utterance (labelled).
    pub human_after_speech_p50_ms: Option<i64>,
    pub human_after_speech_p95_ms: Option<i64>,
    /// Decision time (after the answer) for the people who reach an agent (human or not sure):
    /// the dead air they hear. People called machines are hung up on and not counted here.
    pub agent_decision_p50_ms: Option<u32>,
    pub agent_decision_p95_ms: Option<u32>,
    pub beep: BeepScore,
    /// Machines with a short greeting and no beep, and how many of them were called machines.
    pub short_beepless_machines: u32,
    pub short_beepless_recognised: u32,
}

fn col(r: AmdResult) -> usize {
    match r {
        AmdResult::Human => 0,
        AmdResult::Machine => 1,
        AmdResult::NotSure => 2,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Score outcomes against labels (same order).
pub fn score(rows: &[(&Label, &Outcome)]) -> Score {
    let mut s = Score {
        files: rows.len() as u32,
        ..Score::default()
    };
    let mut human_ms = Vec::new();
    let mut after_speech = Vec::new();
    let mut to_agent = Vec::new();
    let mut errors = Vec::new();
    for (l, o) in rows {
        let row = match l.truth {
            Truth::Human => 0,
            Truth::Machine => 1,
        };
        s.confusion[row][col(o.result)] += 1;
        if l.truth == Truth::Human {
            human_ms.push(o.decision_ms);
            if o.result != AmdResult::Machine {
                to_agent.push(o.decision_ms);
            }
            if let Some(end) = l.speech_end_ms {
                after_speech.push(o.decision_ms as i64 - end as i64);
            }
        }
        if l.is_short_beepless_machine() {
            s.short_beepless_machines += 1;
            if o.result == AmdResult::Machine {
                s.short_beepless_recognised += 1;
            }
        }
        match (l.beep_ms, o.beep_ms) {
            (Some(want), got) => {
                s.beep.files_with_beep += 1;
                if let Some(got) = got {
                    let e = got.abs_diff(want);
                    if e <= 300 {
                        s.beep.found += 1;
                        errors.push(e);
                    }
                }
            }
            (None, Some(_)) => s.beep.false_beeps += 1,
            (None, None) => {}
        }
    }
    let c = s.confusion;
    let humans = (c[0][0] + c[0][1] + c[0][2]) as f64;
    let machines = (c[1][0] + c[1][1] + c[1][2]) as f64;
    let n = (humans + machines).max(1.0);
    s.accuracy = (c[0][0] + c[0][2] + c[1][1]) as f64 / n;
    s.strict_accuracy = (c[0][0] + c[1][1]) as f64 / n;
    s.humans_called_machines = c[0][1] as f64 / humans.max(1.0);
    s.machines_missed = (c[1][0] + c[1][2]) as f64 / machines.max(1.0);
    human_ms.sort_unstable();
    s.human_decision_p50_ms = percentile(&human_ms, 50.0);
    s.human_decision_p95_ms = percentile(&human_ms, 95.0);
    to_agent.sort_unstable();
    s.agent_decision_p50_ms = percentile(&to_agent, 50.0);
    s.agent_decision_p95_ms = percentile(&to_agent, 95.0);
    after_speech.sort_unstable();
    s.human_after_speech_p50_ms = percentile(&after_speech, 50.0);
    s.human_after_speech_p95_ms = percentile(&after_speech, 95.0);
    if !errors.is_empty() {
        s.beep.mean_error_ms =
            Some(errors.iter().map(|e| *e as f64).sum::<f64>() / errors.len() as f64);
        s.beep.max_error_ms = errors.iter().copied().max();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amd::Cause;

    fn label(truth: Truth, beep_ms: Option<u32>) -> Label {
        Label {
            file: "x.wav".into(),
            truth,
            split: Split::Train,
            beep_ms,
            speech_end_ms: None,
            notes: String::new(),
        }
    }

    fn out(result: AmdResult, decision_ms: u32, beep_ms: Option<u32>) -> Outcome {
        Outcome {
            result,
            cause: Cause::TooLong,
            decision_ms,
            speech_end_ms: None,
            beep_ms,
            beep_hz: None,
            message: None,
        }
    }

    #[test]
    fn scores_count_notsure_as_human_and_beeps_within_300_ms() {
        let l = [
            label(Truth::Human, None),
            label(Truth::Human, None),
            label(Truth::Human, None),
            label(Truth::Machine, Some(3000)),
            label(Truth::Machine, Some(3000)),
        ];
        let o = [
            out(AmdResult::Human, 1000, None),
            out(AmdResult::NotSure, 5000, None),
            out(AmdResult::Machine, 2000, Some(10)),
            out(AmdResult::Machine, 3100, Some(3100)),
            out(AmdResult::Human, 1200, Some(3400)),
        ];
        let rows: Vec<_> = l.iter().zip(o.iter()).collect();
        let s = score(&rows);
        assert_eq!(s.confusion, [[1, 1, 1], [1, 1, 0]]);
        assert!((s.accuracy - 3.0 / 5.0).abs() < 1e-9);
        assert!((s.strict_accuracy - 2.0 / 5.0).abs() < 1e-9);
        assert!((s.humans_called_machines - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.human_decision_p50_ms, Some(2000));
        assert_eq!(s.human_decision_p95_ms, Some(5000));
        assert_eq!(s.agent_decision_p50_ms, Some(1000));
        assert_eq!(s.agent_decision_p95_ms, Some(5000));
        assert_eq!(
            (s.beep.files_with_beep, s.beep.found, s.beep.false_beeps),
            (2, 1, 1)
        );
        assert_eq!(s.beep.max_error_ms, Some(100));
    }
}
