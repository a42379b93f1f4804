//! `dialer check [PATH...] [--json] [--strict]`: validate campaign files and the daemon config,
//! print every problem as `FILE: KEY: problem`, exit 1 if there is any. Secrets the daemon
//! config names but that are not set (as `dialer run` would read them, from the environment or
//! a systemd credential) are warnings, `FILE: KEY: warning: …`: exit 0, or 1 with `--strict`.
//!
//! A PATH is a campaign file, a directory of campaign files (`*.toml`, sorted), or the daemon
//! config (a file named `dialer.toml`). Without a `dialer.toml` among the PATHs, the `--config`
//! file is used when it exists. Without campaign PATHs, the daemon config's `campaigns_dir` is
//! checked too (`dialer check` alone: `--config` and its campaigns). When a
//! daemon config is known, campaigns are cross-checked against it (trunk exists, agent groups
//! have agents).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::campaign::{self, Campaign, Env, Problem};
use crate::daemon::config::{self as daemon_config, DaemonConfig};

use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Campaign files, directories of campaign files, or dialer.toml.
    pub paths: Vec<PathBuf>,
    /// Print one JSON object: {"ok", "files": [{"file", "ok", "summary"}], "problems": [...],
    /// "warnings": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Warnings (secrets that are not set) fail the check too.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, serde::Serialize)]
struct FileReport {
    file: PathBuf,
    ok: bool,
    summary: String,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let mut problems: Vec<Problem> = Vec::new();
    let mut campaigns: Vec<Campaign> = Vec::new();
    // Every file looked at, in order, with its OK summary when it loaded.
    let mut files: Vec<(PathBuf, Option<String>)> = Vec::new();

    let is_daemon = |p: &Path| p.file_name().is_some_and(|n| n == "dialer.toml");
    let mut daemon_paths: Vec<PathBuf> = Vec::new();
    let mut campaign_paths: Vec<PathBuf> = Vec::new();
    for p in &a.paths {
        if p.is_dir() {
            match campaign::campaign_files(p) {
                Ok(fs) => {
                    for f in fs {
                        if is_daemon(&f) {
                            daemon_paths.push(f);
                        } else {
                            campaign_paths.push(f);
                        }
                    }
                }
                Err(ps) => problems.extend(ps.0),
            }
        } else if is_daemon(p) {
            daemon_paths.push(p.clone());
        } else {
            campaign_paths.push(p.clone());
        }
    }
    if daemon_paths.is_empty() && (a.paths.is_empty() || g.config.is_file()) {
        daemon_paths.push(g.config.clone());
    }

    // Without campaign PATHs, the daemon config's campaigns are checked.
    let with_campaigns_dir = campaign_paths.is_empty();
    let state_default = std::env::var("DIALER_STATE_DIR").ok();
    let mut daemon: Option<DaemonConfig> = None;
    for p in &daemon_paths {
        match daemon_config::load_with(p, &env, state_default.as_deref()) {
            Ok(c) => {
                files.push((p.clone(), Some(daemon_summary(&c))));
                if with_campaigns_dir && daemon.is_none() {
                    match campaign::campaign_files(&c.campaigns_dir) {
                        Ok(fs) => campaign_paths.extend(fs),
                        Err(ps) => problems.extend(ps.0),
                    }
                }
                daemon.get_or_insert(c);
            }
            Err(ps) => {
                files.push((p.clone(), None));
                problems.extend(ps.0);
            }
        }
    }

    for p in &campaign_paths {
        match campaign::load_with(p, &env) {
            Ok(c) => {
                files.push((p.clone(), Some(campaign_summary(&c))));
                campaigns.push(c);
            }
            Err(ps) => {
                files.push((p.clone(), None));
                problems.extend(ps.0);
            }
        }
    }
    problems.extend(campaign::load::duplicate_names(&campaigns));
    let mut warnings: Vec<Problem> = Vec::new();
    if let Some(d) = &daemon {
        problems.extend(daemon_config::cross_check(d, &campaigns));
        warnings = daemon_config::unset_secrets(d, daemon_config::secret);
    }

    let reports: Vec<FileReport> = files
        .into_iter()
        .map(|(file, summary)| {
            let ok = summary.is_some() && !problems.iter().any(|p| p.file == file);
            FileReport {
                file,
                ok,
                summary: summary.unwrap_or_default(),
            }
        })
        .collect();

    let valid = problems.is_empty();
    // Warnings fail only under --strict.
    let ok = valid && (warnings.is_empty() || !a.strict);
    let mut out = String::new();
    if a.json {
        let doc = serde_json::json!({
            "ok": ok,
            "files": reports,
            "problems": problems,
            "warnings": warnings,
        });
        out = serde_json::to_string_pretty(&doc)? + "\n";
    } else {
        for p in &problems {
            out += &format!("{p}\n");
        }
        for w in &warnings {
            out += &format!("{}: {}: warning: {}\n", w.file.display(), w.key, w.message);
        }
        if valid {
            for r in &reports {
                out += &format!("{}: ok: {}\n", r.file.display(), r.summary);
            }
            if reports.is_empty() {
                out += "nothing to check\n";
            }
        }
    }
    // A closed pipe (`dialer check | head`) is not an error worth a panic.
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    if !warnings.is_empty() && !a.json {
        eprintln!(
            "dialer check: {} warning{}{}",
            warnings.len(),
            plural(warnings.len()),
            if a.strict {
                " (--strict: they fail the check)"
            } else {
                " (--strict makes them fail the check)"
            }
        );
    }
    if !valid && !a.json {
        let bad = reports.iter().filter(|r| !r.ok).count().max(1);
        eprintln!(
            "dialer check: {} problem{} in {} file{}",
            problems.len(),
            plural(problems.len()),
            bad,
            plural(bad)
        );
    }
    if daemon.is_none() && !campaign_paths.is_empty() && !a.json {
        eprintln!(
            "dialer check: no daemon config ({}); trunks and agent groups were not cross-checked",
            g.config.display()
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn campaign_summary(c: &Campaign) -> String {
    format!(
        "campaign {:?} ({}, {}, {}{}), {} list{}, {} disposition{}{}, trunk {}",
        c.name,
        c.kind.as_str(),
        c.mode.as_str(),
        c.regime.as_str(),
        if c.enabled { "" } else { ", disabled" },
        c.lists.len(),
        plural(c.lists.len()),
        c.dispositions.len(),
        plural(c.dispositions.len()),
        match &c.survey {
            Some(s) => format!(
                ", survey of {} question{}",
                s.questions.len(),
                plural(s.questions.len())
            ),
            None => String::new(),
        },
        c.trunk
    )
}

fn daemon_summary(c: &DaemonConfig) -> String {
    format!(
        "daemon config, {} trunk{}, {} agent{}, campaigns in {}",
        c.trunks.len(),
        plural(c.trunks.len()),
        c.agents.len(),
        plural(c.agents.len()),
        c.campaigns_dir.display()
    )
}
