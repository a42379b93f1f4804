//! `dialer amd FILE.wav... [--json]`: classify recordings offline with the answering-machine
//! detector, to tune a campaign's `[amd]` settings on one's own recordings.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::amd::asterisk::{self, AsteriskSettings};
use crate::amd::{self, Outcome, Settings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recordings to classify, each starting at the answer (WAV: PCM, float or G.711; channels
    /// are averaged and other rates resampled to 8 kHz).
    #[arg(required = true, value_name = "FILE.wav")]
    pub files: Vec<PathBuf>,
    /// One JSON object per line: file, result, cause, decision_ms, beep_ms.
    #[arg(long)]
    pub json: bool,
    /// Override a detector setting, e.g. `--set after_greeting_silence_ms=700` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Use the re-statement of Asterisk AMD()'s default rules instead (for comparison).
    #[arg(long, conflicts_with = "set")]
    pub asterisk: bool,
}

/// One line of `--json` output, fields in this order.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    file: &'a str,
    result: &'a str,
    cause: &'a str,
    decision_ms: u32,
    beep_ms: Option<u32>,
}

/// Settings from the defaults plus `--set key=value` pairs (values in TOML syntax).
fn settings(set: &[String]) -> anyhow::Result<Settings> {
    let mut doc = String::new();
    for kv in set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv:?}: expected KEY=VALUE"))?;
        writeln!(doc, "{} = {}", k.trim(), v.trim())?;
    }
    let s: Settings =
        toml::from_str(&doc).map_err(|e| anyhow::anyhow!("--set: {}", e.message()))?;
    s.validate()?;
    Ok(s)
}

pub fn run(_g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let s = settings(&a.set)?;
    let mut out = std::io::stdout().lock();
    if !a.json {
        writeln!(
            out,
            "{:<40} {:<8} {:<16} {:>11} {:>8}",
            "FILE", "RESULT", "CAUSE", "DECISION_MS", "BEEP_MS"
        )?;
    }
    let mut failed = 0;
    for path in &a.files {
        let pcm = match amd::eval::read_pcm(path) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("dialer amd: {e}");
                failed += 1;
                continue;
            }
        };
        let o: Outcome = if a.asterisk {
            asterisk::classify(&AsteriskSettings::default(), &pcm)
        } else {
            amd::classify(&s, &pcm)
        };
        let file = path.display().to_string();
        if a.json {
            let row = JsonRow {
                file: &file,
                result: o.result.as_str(),
                cause: o.cause.as_str(),
                decision_ms: o.decision_ms,
                beep_ms: o.beep_ms,
            };
            writeln!(out, "{}", serde_json::to_string(&row)?)?;
        } else {
            writeln!(
                out,
                "{:<40} {:<8} {:<16} {:>11} {:>8}",
                file,
                o.result.as_str(),
                o.cause.as_str(),
                o.decision_ms,
                o.beep_ms.map_or("-".to_string(), |b| b.to_string())
            )?;
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_overrides_a_setting_and_names_bad_keys() {
        let s = settings(&["after_greeting_silence_ms=700".into()]).unwrap();
        assert_eq!(s.after_greeting_silence_ms, 700);
        assert_eq!(s.greeting_ms, Settings::default().greeting_ms);
        let e = settings(&["greeting_sm=700".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("greeting_sm"), "{e}");
        let e = settings(&["greeting_ms".into()]).unwrap_err().to_string();
        assert!(e.contains("KEY=VALUE"), "{e}");
        let e = settings(&["beep_min_hz=3000".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("beep_min_hz"), "{e}");
    }
}
