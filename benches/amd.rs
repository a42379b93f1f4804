//! AMD benchmark on the labelled corpus (`tests/amd/corpus`): the confusion matrix, accuracy,
//! people called machines, decision times for people and beep timing, for our detector and the
//! Asterisk `AMD()` baseline, on the train split, the held-out test split and both; people's
//! decision times by corpus block and by kind of answer; then the detector's throughput on one
//! core.
//!
//! `cargo bench --bench amd` (add `-- --json` for one JSON object; `-- --files` lists every file
//! and marks the errors; `-- --blocks abc` scores only those corpus blocks; `-- --set key=value`
//! changes a detector setting as `dialer amd --set` does).

use std::path::Path;
use std::time::Instant;

use dialer::amd::asterisk::{self, AsteriskSettings};
use dialer::amd::eval::{self, Label, Score, Split, Truth};
use dialer::amd::{self, Outcome, Settings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let list = args.iter().any(|a| a == "--files");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/amd/corpus");
    // `--blocks abe`: only the files of those corpus blocks (the file name's prefix), e.g. to keep
    // a fresh held-out block unseen while settings change, or to score it alone.
    let blocks: Option<String> = args
        .iter()
        .position(|a| a == "--blocks")
        .and_then(|i| args.get(i + 1).cloned());
    let labels: Vec<Label> = eval::load_labels(&dir.join("labels.csv"))?
        .into_iter()
        .filter(|l| {
            blocks
                .as_deref()
                .is_none_or(|b| b.contains(block_of(l).as_str()))
        })
        .collect();
    let pcm: Vec<Vec<i16>> = labels
        .iter()
        .map(|l| eval::read_pcm(&dir.join(&l.file)))
        .collect::<Result<_, _>>()?;
    // `--set key=value` (repeatable): the detector's settings as `dialer amd --set` takes them.
    let mut doc = String::new();
    for (i, a) in args.iter().enumerate() {
        if a == "--set" {
            let kv = args.get(i + 1).ok_or("--set needs KEY=VALUE")?;
            let (k, v) = kv.split_once('=').ok_or("--set needs KEY=VALUE")?;
            doc.push_str(&format!("{} = {}\n", k.trim(), v.trim()));
        }
    }
    let settings: Settings = toml::from_str(&doc)?;
    settings.validate()?;
    let ours: Vec<Outcome> = pcm.iter().map(|p| amd::classify(&settings, p)).collect();
    let base: Vec<Outcome> = pcm
        .iter()
        .map(|p| asterisk::classify(&AsteriskSettings::default(), p))
        .collect();

    let pick = |keep: &dyn Fn(&Label) -> bool, outs: &[Outcome]| -> Score {
        let rows: Vec<(&Label, &Outcome)> =
            labels.iter().zip(outs).filter(|(l, _)| keep(l)).collect();
        eval::score(&rows)
    };
    // Rows: the train split, each held-out split and each of its blocks alone ("test:f"), all
    // files.
    let mut groups: Vec<(String, Keep)> = vec![(
        "train".into(),
        Box::new(|l: &Label| l.split == Split::Train),
    )];
    for (name, split) in [("test", Split::Test), ("holdout", Split::Holdout)] {
        let mut blocks: Vec<String> = labels
            .iter()
            .filter(|l| l.split == split)
            .map(block_of)
            .collect();
        blocks.sort();
        blocks.dedup();
        if blocks.is_empty() {
            continue;
        }
        groups.push((name.into(), Box::new(move |l: &Label| l.split == split)));
        if blocks.len() > 1 {
            for b in blocks {
                let name = format!("{name}:{b}");
                groups.push((
                    name,
                    Box::new(move |l: &Label| l.split == split && block_of(l) == b),
                ));
            }
        }
    }
    groups.push(("all".into(), Box::new(|_: &Label| true)));
    let mut results = Vec::new();
    for (name, keep) in &groups {
        results.push((name.as_str(), "dialer", pick(keep, &ours)));
        results.push((name.as_str(), "asterisk", pick(keep, &base)));
    }

    // People's decision times by corpus block (file prefix) and by kind of answer (the notes'
    // first word: short, sentence, silent, again), for our detector: the median over all people
    // depends on how many of them say one short word, so the groups are shown too.
    let people = |key: &dyn Fn(&Label) -> String| -> Vec<(String, Score)> {
        let mut keys: Vec<String> = labels
            .iter()
            .filter(|l| l.truth == Truth::Human)
            .map(key)
            .collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .map(|k| {
                let rows: Vec<(&Label, &Outcome)> = labels
                    .iter()
                    .zip(&ours)
                    .filter(|(l, _)| l.truth == Truth::Human && key(l) == k)
                    .collect();
                (k, eval::score(&rows))
            })
            .collect()
    };
    let by_block = people(&block_of);
    let by_kind = people(&|l: &Label| l.notes.split(':').next().unwrap_or("").to_string());

    // Throughput: the whole corpus, repeatedly, for about two seconds of CPU on this thread.
    let audio_s: f64 = pcm.iter().map(|p| p.len() as f64 / 8000.0).sum();
    let start = Instant::now();
    let mut rounds = 0u32;
    let mut check = 0u64;
    while start.elapsed().as_secs_f64() < 2.0 {
        for p in &pcm {
            let o = full_run(&settings, p);
            check += o as u64;
        }
        rounds += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let x_realtime = audio_s * rounds as f64 / elapsed;

    if json {
        let v = serde_json::json!({
            "scores": results.iter().map(|(split, det, s)| serde_json::json!({
                "split": split, "detector": det, "score": s,
            })).collect::<Vec<_>>(),
            "people_by_block": groups_json(&by_block),
            "people_by_kind": groups_json(&by_kind),
            "throughput_x_realtime": x_realtime,
            "corpus_audio_s": audio_s,
        });
        println!("{v}");
        return Ok(());
    }
    println!(
        "AMD corpus: {} files, {:.0} s of audio ({} train, {} test, {} holdout)",
        labels.len(),
        audio_s,
        labels.iter().filter(|l| l.split == Split::Train).count(),
        labels.iter().filter(|l| l.split == Split::Test).count(),
        labels.iter().filter(|l| l.split == Split::Holdout).count()
    );
    println!(
        "{:<9} {:<9} {:>5} {:>8} {:>8} {:>9} {:>8} {:>12} {:>12} {:>12} {:>10} {:>10} {:>9}  confusion [h→h m n] [m→h m n]",
        "split",
        "detector",
        "files",
        "accuracy",
        "strict",
        "h→machine",
        "m missed",
        "h p50 (end)",
        "h p95 (end)",
        "agent p50/95",
        "beeps",
        "beep err",
        "short m"
    );
    for (split, det, s) in &results {
        println!(
            "{:<9} {:<9} {:>5} {:>7.1}% {:>7.1}% {:>8.1}% {:>7.1}% {:>12} {:>12} {:>12} {:>10} {:>10} {:>9}  {:?} {:?}",
            split,
            det,
            s.files,
            100.0 * s.accuracy,
            100.0 * s.strict_accuracy,
            100.0 * s.humans_called_machines,
            100.0 * s.machines_missed,
            ms_pair(s.human_decision_p50_ms, s.human_after_speech_p50_ms),
            ms_pair(s.human_decision_p95_ms, s.human_after_speech_p95_ms),
            format!(
                "{}/{}",
                s.agent_decision_p50_ms
                    .map_or("-".into(), |v| v.to_string()),
                s.agent_decision_p95_ms
                    .map_or("-".into(), |v| v.to_string())
            ),
            format!("{}/{}", s.beep.found, s.beep.files_with_beep),
            match (s.beep.mean_error_ms, s.beep.max_error_ms) {
                (Some(m), Some(x)) => format!("{m:.0}/{x} ms"),
                _ => "none".into(),
            },
            format!(
                "{}/{}",
                s.short_beepless_recognised, s.short_beepless_machines
            ),
            s.confusion[0],
            s.confusion[1],
        );
    }
    println!(
        "h p50/p95 (end): decision time for all people in ms after the answer (after the end of their first utterance); agent p50/95: for the people who reach an agent (not called machines)"
    );
    println!(
        "short m: machines with a greeting of at most {} ms and no beep called machines",
        eval::SHORT_MACHINE_GREETING_MS
    );
    println!(
        "not sure: the campaign default (on_notsure = human) sends it to an agent, so accuracy and h→machine count it as human (a not-sure machine is an error, one missed); strict counts every not sure as wrong; decision times count a not sure when it was decided"
    );
    for (title, groups) in [("block", &by_block), ("kind", &by_kind)] {
        let parts: Vec<String> = groups
            .iter()
            .map(|(k, s)| {
                format!(
                    "{k} {} p50, {} p95 (n={})",
                    ms_pair(s.human_decision_p50_ms, s.human_after_speech_p50_ms),
                    ms_pair(s.human_decision_p95_ms, s.human_after_speech_p95_ms),
                    s.files
                )
            })
            .collect();
        println!("people by {title} (dialer): {}", parts.join(" | "));
    }
    println!(
        "throughput: {:.0}x real time on one core ({} rounds of the corpus in {:.2} s; check {})",
        x_realtime, rounds, elapsed, check
    );
    if list {
        for ((l, o), b) in labels.iter().zip(&ours).zip(&base) {
            let truth = format!("{:?}", l.truth).to_lowercase();
            let beep_bad = match (l.beep_ms, o.beep_ms) {
                (Some(w), Some(g)) => g.abs_diff(w) > 300,
                (Some(_), None) | (None, Some(_)) => true,
                (None, None) => false,
            };
            let mark = if o.result.as_str() != truth || beep_bad {
                "X"
            } else {
                " "
            };
            println!(
                "{mark} {:<22} {:<7} ours {:<7} {:<15} {:>5} beep {:>5?}/{:>5?} | asterisk {:<7} {:<15} {:>5}  {}",
                l.file,
                truth,
                o.result.as_str(),
                o.cause.as_str(),
                o.decision_ms,
                l.beep_ms,
                o.beep_ms,
                b.result.as_str(),
                b.cause.as_str(),
                b.decision_ms,
                l.notes
            );
        }
    }
    Ok(())
}

/// Which files a row of the table scores.
type Keep = Box<dyn Fn(&Label) -> bool>;

/// The corpus block a file belongs to: its name's prefix ("e" for `e_human_100.wav`).
fn block_of(l: &Label) -> String {
    l.file.split('_').next().unwrap_or("").to_string()
}

fn groups_json(groups: &[(String, Score)]) -> serde_json::Value {
    groups
        .iter()
        .map(|(k, s)| {
            serde_json::json!({
                "group": k,
                "people": s.files,
                "decision_p50_ms": s.human_decision_p50_ms,
                "decision_p95_ms": s.human_decision_p95_ms,
                "after_speech_p50_ms": s.human_after_speech_p50_ms,
                "after_speech_p95_ms": s.human_after_speech_p95_ms,
                "called_machines": s.confusion[0][1],
            })
        })
        .collect()
}

/// "1180 (560)": ms after the answer, and after the end of the person's first utterance.
fn ms_pair(answer: Option<u32>, end: Option<i64>) -> String {
    match (answer, end) {
        (Some(a), Some(e)) => format!("{a} ({e})"),
        (Some(a), None) => a.to_string(),
        _ => "-".into(),
    }
}

/// The live-call work per file: every frame through the detector (beep detection runs to the
/// end of the file, as it does after a machine decision).
fn full_run(settings: &Settings, pcm: &[i16]) -> u32 {
    let t0 = Instant::now();
    let mut d = amd::Detector::new(settings.clone(), t0);
    let mut beeps = 0;
    for chunk in pcm.chunks_exact(amd::FRAME_SAMPLES) {
        let mut fr = [0i16; amd::FRAME_SAMPLES];
        fr.copy_from_slice(chunk);
        d.push_frame(t0, &fr);
        while d.poll_beep().is_some() {
            beeps += 1;
        }
    }
    beeps
}
