//! The AMD detector on the labelled corpus (`tests/amd/corpus`, built by
//! `tests/amd/build_corpus.sh`): behaviour, not timing. Figures come from `cargo bench --bench amd`.

use std::path::Path;
use std::sync::OnceLock;

use dialer::amd::asterisk::{self, AsteriskSettings};
use dialer::amd::eval::{self, Label, Split, Truth};
use dialer::amd::{self, AmdResult, Outcome, Settings};

/// The corpus, read once for all tests (the detector is slow in unoptimised test builds).
fn corpus() -> &'static [(Label, Vec<i16>)] {
    static C: OnceLock<Vec<(Label, Vec<i16>)>> = OnceLock::new();
    C.get_or_init(read_corpus)
}

/// Our detector's outcome for every file, computed once.
fn run_all() -> &'static [(&'static Label, Outcome)] {
    static O: OnceLock<Vec<(&'static Label, Outcome)>> = OnceLock::new();
    O.get_or_init(|| run(corpus()))
}

fn read_corpus() -> Vec<(Label, Vec<i16>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/amd/corpus");
    let labels = eval::load_labels(&dir.join("labels.csv")).unwrap();
    assert!(labels.len() >= 50, "corpus has {} files", labels.len());
    labels
        .into_iter()
        .map(|l| {
            let pcm = eval::read_pcm(&dir.join(&l.file)).unwrap();
            (l, pcm)
        })
        .collect()
}

fn run(c: &'static [(Label, Vec<i16>)]) -> Vec<(&'static Label, Outcome)> {
    c.iter()
        .map(|(l, p)| (l, amd::classify(&Settings::default(), p)))
        .collect()
}

#[test]
fn every_labelled_beep_is_found_within_300_ms_and_no_other() {
    let mut with_beep = 0;
    for (l, o) in run_all() {
        match (l.beep_ms, o.beep_ms) {
            (Some(want), Some(got)) => {
                with_beep += 1;
                assert!(
                    got.abs_diff(want) <= 300,
                    "{}: beep at {got} ms, labelled {want} ms",
                    l.file
                );
            }
            (Some(want), None) => panic!("{}: beep at {want} ms not found", l.file),
            (None, Some(got)) => panic!("{}: no beep, but one found at {got} ms", l.file),
            (None, None) => {}
        }
    }
    assert!(with_beep >= 20, "{with_beep}");
}

/// Issue #6's bound: at most 2 % of people called machines (hung up on), on the held-out split
/// and on the whole corpus. The failure names every person called a machine.
#[test]
fn at_most_2_percent_of_people_are_called_machines() {
    for (name, split) in [("held-out", Some(Split::Test)), ("whole corpus", None)] {
        let people: Vec<_> = run_all()
            .iter()
            .filter(|(l, _)| l.truth == Truth::Human && split.is_none_or(|s| l.split == s))
            .collect();
        let hung_up: Vec<String> = people
            .iter()
            .filter(|(_, o)| o.result == AmdResult::Machine)
            .map(|(l, o)| format!("{}: {o:?} ({})", l.file, l.notes))
            .collect();
        assert!(people.len() >= 40, "{name}: {} people", people.len());
        assert!(
            hung_up.len() as f64 <= 0.02 * people.len() as f64,
            "{name}: {} of {} people called machines:\n{}",
            hung_up.len(),
            people.len(),
            hung_up.join("\n")
        );
    }
}

/// Block g's `g_human_166` (a person's 3-second sentence) is called a machine, by the detector
/// from before issue 6's fourth round and after it alike: a person may only be called a machine
/// for a greeting that went on past `greeting_ms`, never sooner.
#[test]
fn people_are_only_called_machines_for_a_greeting_past_greeting_ms() {
    let s = Settings::default();
    for (l, o) in run_all() {
        if l.truth == Truth::Human && o.result == AmdResult::Machine {
            assert!(
                o.cause == amd::Cause::LongGreeting && o.decision_ms >= s.greeting_ms,
                "{}: {o:?} ({})",
                l.file,
                l.notes
            );
        }
    }
}

#[test]
fn the_held_out_split_scores_at_least_95_percent_and_beats_the_baseline() {
    let rows: Vec<_> = run_all()
        .iter()
        .filter(|(l, _)| l.split == Split::Test)
        .map(|(l, o)| (*l, o))
        .collect();
    let s = eval::score(&rows);
    let base: Vec<_> = corpus()
        .iter()
        .filter(|(l, _)| l.split == Split::Test)
        .map(|(l, p)| (l, asterisk::classify(&AsteriskSettings::default(), p)))
        .collect();
    let brows: Vec<_> = base.iter().map(|(l, o)| (*l, o)).collect();
    let b = eval::score(&brows);
    assert!(s.accuracy >= 0.95, "{s:#?}");
    let all: Vec<_> = run_all().iter().map(|(l, o)| (*l, o)).collect();
    let all = eval::score(&all);
    assert!(all.accuracy >= 0.95, "{all:#?}");
    assert!(s.accuracy > b.accuracy, "ours {s:#?} asterisk {b:#?}");
    assert!(
        s.humans_called_machines < b.humans_called_machines,
        "ours {s:#?} asterisk {b:#?}"
    );
}

#[test]
fn people_are_decided_after_they_stop_speaking_and_soon_after() {
    // Never while the person is still saying their first words; at most the longer
    // after-greeting wait (plus a frame or two of the voice detector's hangover) after that.
    let s = Settings::default();
    let mut checked = 0;
    for (l, o) in run_all() {
        if let (Truth::Human, AmdResult::Human, Some(end)) = (l.truth, o.result, l.speech_end_ms) {
            checked += 1;
            assert!(
                o.decision_ms > end && o.decision_ms <= end + s.after_greeting_silence_ms + 60,
                "{}: decided at {} ms, first utterance ends at {end} ms ({})",
                l.file,
                o.decision_ms,
                l.notes
            );
        }
    }
    assert!(checked >= 40, "{checked}");
}

#[test]
fn machines_get_a_message_start_after_their_beep() {
    for (l, o) in run_all() {
        if let (Truth::Machine, AmdResult::Machine, Some(beep)) = (l.truth, o.result, l.beep_ms) {
            let m = o
                .message
                .unwrap_or_else(|| panic!("{}: no message start", l.file));
            assert!(
                m.at_ms > beep,
                "{}: message at {} ms, beep at {beep}",
                l.file,
                m.at_ms
            );
            assert_eq!(m.cause, amd::MessageStartCause::AfterBeep, "{}", l.file);
        }
    }
}

#[test]
fn people_silent_past_the_initial_silence_limit_are_not_sure_at_the_limit() {
    // A person who says nothing goes to an agent (not sure, the campaign default) when the limit
    // passes, not when the analysis gives up; anyone else is a person or a machine.
    let s = Settings::default();
    let mut silent = 0;
    for (l, o) in run_all() {
        if l.truth == Truth::Human && o.result == AmdResult::NotSure {
            silent += 1;
            assert_eq!(
                (o.cause, o.decision_ms),
                (amd::Cause::InitialSilence, s.initial_silence_ms),
                "{}: {o:?} ({})",
                l.file,
                l.notes
            );
        }
    }
    assert!(silent >= 2, "{silent}");
}
