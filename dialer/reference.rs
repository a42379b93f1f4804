//! The generated parts of `docs/reference/`: the CLI reference from clap's definitions, the
//! metrics reference from the telemetry's family table, and the default values of campaign
//! files, `dialer.toml` and the AMD detector from the layers the loaders use, so none of them
//! can drift from the code.
//!
//! The tests below regenerate each file and fail when the committed one differs; with
//! `DIALER_BLESS_DOCS=1` they rewrite it instead:
//!
//! ```sh
//! DIALER_BLESS_DOCS=1 cargo test -p dialer --lib reference
//! ```
//!
//! They also check that every relative link in `README.md` and `docs/**/*.md` resolves (the
//! file, and the heading a `#fragment` names), that every `dialer_` metric the code records has
//! a row in the table, and that every HTTP route the API serves is in `docs/reference/api.md`.

use std::fmt::Write as _;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::daemon::telemetry::{METRICS, MetricDoc};

/// Where the generated files live, relative to the repository root.
pub const CLI_MD: &str = "docs/reference/cli.md";
pub const METRICS_MD: &str = "docs/reference/metrics.md";
pub const DEFAULTS_MD: &str = "docs/reference/defaults.md";

/// The command that rewrites the generated files.
pub const BLESS: &str = "DIALER_BLESS_DOCS=1 cargo test -p dialer --lib reference";

/// Width the help is rendered at, whatever the terminal.
const WIDTH: usize = 100;

/// `docs/reference/cli.md`: `dialer --help`, then each subcommand's long help (`--help`).
pub fn cli_markdown() -> String {
    // Environment values are hidden so the text does not depend on who renders it.
    let mut root = Cli::command()
        .term_width(WIDTH)
        .mut_args(|a| a.hide_env_values(true))
        .mut_subcommands(|s| s.term_width(WIDTH).mut_args(|a| a.hide_env_values(true)));
    root.build();
    let mut out = String::new();
    out.push_str("# CLI reference\n\n");
    let _ = writeln!(
        out,
        "<!-- Generated from the clap definitions in dialer/cli/ by dialer/reference.rs; do not \
         edit.\n     Rewrite it with: {BLESS} -->\n"
    );
    out.push_str(
        "Each subcommand's `--help`, as the binary prints it. What the commands print, their JSON \
         and their exit codes are in [cli-output.md](cli-output.md); the files they read in \
         [campaign.md](campaign.md), [config.md](config.md) and [files.md](files.md).\n\n",
    );
    out.push_str("Subcommands:");
    for sub in root.get_subcommands() {
        let name = sub.get_name();
        if name == "help" {
            continue;
        }
        let _ = write!(out, " [`{name}`](#dialer-{name})");
    }
    out.push_str(".\n\n");
    section(&mut out, "dialer", root.render_long_help().to_string());
    let names: Vec<String> = root
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .filter(|n| n != "help")
        .collect();
    for name in names {
        if let Some(sub) = root.find_subcommand_mut(&name) {
            let help = sub.render_long_help().to_string();
            section(&mut out, &format!("dialer {name}"), help);
        }
    }
    out
}

fn section(out: &mut String, title: &str, help: String) {
    let _ = writeln!(out, "## `{title}`\n\n```text");
    for line in help.trim_end().lines() {
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out.push_str("```\n\n");
}

/// `docs/reference/metrics.md`: every `dialer_` family with its kind, labels and help.
pub fn metrics_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Metrics reference\n\n");
    let _ = writeln!(
        out,
        "<!-- Generated from `telemetry::METRICS` (dialer/daemon/telemetry.rs) by \
         dialer/reference.rs; do not edit.\n     Rewrite it with: {BLESS} -->\n"
    );
    out.push_str(
        "`dialer run` serves these on `GET /metrics` (Prometheus text; no token, no lead data: \
         keep the port private). The help column is the `# HELP` line of each family, shown once \
         the family has a value. Gauges marked *on scrape* are set from the daemon's state when \
         `/metrics` is scraped, so they are never stale; the rest are counted or set where \
         things happen. Histograms are in seconds.\n\n",
    );
    out.push_str("| family | kind | labels | help |\n| --- | --- | --- | --- |\n");
    for m in METRICS {
        let _ = writeln!(out, "{}", metric_row(m));
    }
    out
}

/// `docs/reference/defaults.md`: the default layers of campaign files, `dialer.toml`'s built-in
/// values and the AMD detector's settings, as the code holds them.
pub fn defaults_markdown() -> String {
    use crate::campaign::defaults::{BUILTIN, COLD, HOT, WARM};
    use crate::daemon::config::{DEFAULTS, StoreConfig};
    let mut out = String::new();
    out.push_str("# Default values\n\n");
    let _ = writeln!(
        out,
        "<!-- Generated from campaign::defaults, daemon::config::DEFAULTS and \
         amd::Settings::default() by dialer/reference.rs; do not edit.\n     Rewrite it with: \
         {BLESS} -->\n"
    );
    out.push_str(
        "The values a campaign file or `dialer.toml` gets for the keys it leaves out, exactly as \
         the loaders layer them. What each key means is in [campaign.md](campaign.md) and \
         [config.md](config.md).\n\n",
    );
    out.push_str("## Campaign files\n\n");
    out.push_str(
        "Layers, lowest first: the built-in values, then the list kind's, then the file, then \
         the environment.\n\n### Built-in\n\n",
    );
    toml_block(&mut out, BUILTIN);
    for (kind, layer) in [("cold", COLD), ("warm", WARM), ("hot", HOT)] {
        let _ = writeln!(
            out,
            "### {kind}\n\n`kind = \"{kind}\"` puts this over the built-in values:\n"
        );
        toml_block(&mut out, layer);
    }
    out.push_str("## `dialer.toml`\n\nBuilt-in values under the file:\n\n");
    toml_block(&mut out, DEFAULTS);
    let _ = writeln!(
        out,
        "and `[store] unwritable_watchdog = \"{}\"`. Without a value: `node_id` is the host \
         name, `database_url` SQLite `dialer.db` in `state_dir` (`DIALER_STATE_DIR` when the file \
         sets no `state_dir`), `media.recordings_dir` `<state_dir>/recordings`.\n",
        humantime::format_duration(StoreConfig::default().unwritable_watchdog)
    );
    out.push_str(
        "## AMD detector\n\n`amd::Settings::default()`: what `dialer amd` uses, and what a \
         campaign's `[amd]` table starts from (a campaign's `beep_wait_ms` comes from the \
         built-in campaign layer above).\n\n",
    );
    let amd = toml::to_string(&crate::amd::Settings::default())
        .unwrap_or_else(|e| format!("# cannot render: {e}\n"));
    toml_block(&mut out, &amd);
    out
}

fn toml_block(out: &mut String, text: &str) {
    out.push_str("```toml\n");
    out.push_str(text.trim());
    out.push_str("\n```\n\n");
}

fn metric_row(m: &MetricDoc) -> String {
    let kind = if m.on_scrape {
        format!("{}, *on scrape*", m.kind.as_str())
    } else {
        m.kind.as_str().to_owned()
    };
    let labels = m
        .labels
        .iter()
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "| `{}` | {kind} | {labels} | {} |",
        m.name,
        m.help.replace('|', "\\|")
    )
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    /// Compare a generated file with the committed one; rewrite it under `DIALER_BLESS_DOCS=1`.
    fn check_generated(rel: &str, text: &str) {
        let path = root().join(rel);
        if std::env::var_os("DIALER_BLESS_DOCS").is_some_and(|v| v == "1") {
            std::fs::write(&path, text)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            let line = committed
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || committed.lines().count().min(text.lines().count()) + 1,
                    |i| i + 1,
                );
            panic!(
                "{rel} is out of date with the code (first difference at line {line}); rewrite \
                 it with `{BLESS}` and commit it"
            );
        }
    }

    #[test]
    fn cli_reference_is_current() {
        check_generated(CLI_MD, &cli_markdown());
    }

    #[test]
    fn defaults_reference_is_current() {
        check_generated(DEFAULTS_MD, &defaults_markdown());
    }

    #[test]
    fn metrics_reference_is_current() {
        check_generated(METRICS_MD, &metrics_markdown());
    }

    /// Every `.rs` file under the given directories of the repository.
    fn sources(dirs: &[&str]) -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs")
                    && let Ok(text) = std::fs::read_to_string(&p)
                {
                    out.push((p, text));
                }
            }
        }
        let mut out = Vec::new();
        for d in dirs {
            walk(&root().join(d), &mut out);
        }
        out
    }

    /// The string literals of a source text that follow `prefix` (a quote included in it).
    fn literals_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            let body = rest.trim_start();
            if let Some(body) = body.strip_prefix('"')
                && let Some(end) = body.find('"')
            {
                found.push(&body[..end]);
            }
        }
        found
    }

    #[test]
    fn every_recorded_metric_is_in_the_table() {
        let described: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
        assert_eq!(described.len(), METRICS.len(), "a family is listed twice");
        let mut recorded = BTreeMap::new();
        for (path, text) in sources(&["dialer", "core"]) {
            let mut rest = text.as_str();
            while let Some(i) = rest.find("\"dialer_") {
                rest = &rest[i + 1..];
                let end = rest.find('"').unwrap_or(rest.len());
                let name = &rest[..end];
                if name.len() > "dialer_".len()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    recorded.entry(name.to_owned()).or_insert(path.clone());
                }
            }
        }
        let missing: Vec<String> = recorded
            .iter()
            .filter(|(n, _)| !described.contains(n.as_str()))
            .map(|(n, p)| format!("{n} ({})", p.display()))
            .collect();
        assert!(
            missing.is_empty(),
            "metrics recorded but not in telemetry::METRICS (add a row there, then run `{BLESS}`): {missing:?}"
        );
        let unused: Vec<&str> = described
            .iter()
            .filter(|n| !recorded.contains_key(**n))
            .copied()
            .collect();
        assert!(
            unused.is_empty(),
            "telemetry::METRICS lists families no code records: {unused:?}"
        );
    }

    #[test]
    fn every_route_is_in_the_api_reference() {
        let api = std::fs::read_to_string(root().join("docs/reference/api.md"))
            .unwrap_or_else(|e| panic!("docs/reference/api.md: {e}"));
        let mut routes = BTreeSet::new();
        for (_, text) in sources(&["dialer"]) {
            routes.extend(
                literals_after(&text, ".route(")
                    .into_iter()
                    .filter(|r| r.starts_with('/'))
                    .map(str::to_owned),
            );
        }
        assert!(routes.len() >= 10, "no routes found: {routes:?}");
        let missing: Vec<&String> = routes
            .iter()
            .filter(|r| !api.contains(&format!(" {r}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "routes the API serves that docs/reference/api.md does not list (as `METHOD /path`): {missing:?}"
        );
    }

    /// README.md and every `.md` under docs/.
    fn markdown_files() -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "md") {
                    out.push(p);
                }
            }
        }
        let mut out = vec![root().join("README.md")];
        walk(&root().join("docs"), &mut out);
        out.sort();
        out
    }

    /// The text outside fenced code blocks and inline code spans.
    fn prose(text: &str) -> String {
        let mut out = String::new();
        let mut fenced = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                out.push('\n');
                continue;
            }
            if fenced {
                out.push('\n');
                continue;
            }
            let mut code = false;
            for c in line.chars() {
                if c == '`' {
                    code = !code;
                } else if !code {
                    out.push(c);
                }
            }
            out.push('\n');
        }
        out
    }

    /// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as `-`.
    fn slug(heading: &str) -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect()
    }

    /// The anchors of a markdown file's headings (duplicates get `-1`, `-2`, … as on GitHub).
    fn anchors(text: &str) -> BTreeSet<String> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut out = BTreeSet::new();
        let mut fenced = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if fenced || !line.starts_with('#') {
                continue;
            }
            let s = slug(line.trim_start_matches('#'));
            let n = seen.entry(s.clone()).or_insert(0);
            out.insert(if *n == 0 {
                s.clone()
            } else {
                format!("{s}-{n}")
            });
            *n += 1;
        }
        out
    }

    /// The targets of `[text](target)` links in prose.
    fn link_targets(prose: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = prose;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            if let Some(end) = rest.find(')') {
                let target = rest[..end].split_whitespace().next().unwrap_or("");
                out.push(target.to_owned());
            }
        }
        out
    }

    #[test]
    fn markdown_links_resolve() {
        let files = markdown_files();
        assert!(files.len() > 3, "no docs found under {}", root().display());
        let mut broken = Vec::new();
        for file in &files {
            let text =
                std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for target in link_targets(&prose(&text)) {
                if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, fragment) = match target.split_once('#') {
                    Some((p, f)) => (p, Some(f)),
                    None => (target.as_str(), None),
                };
                let dest = if path.is_empty() {
                    file.clone()
                } else {
                    file.parent().unwrap_or(Path::new("")).join(path)
                };
                let rel = file
                    .strip_prefix(root())
                    .unwrap_or(file)
                    .display()
                    .to_string();
                if !dest.exists() {
                    broken.push(format!("{rel}: {target}: no such file"));
                    continue;
                }
                if let Some(f) = fragment
                    && dest.extension().is_some_and(|x| x == "md")
                {
                    let dest_text = std::fs::read_to_string(&dest).unwrap_or_default();
                    if !anchors(&dest_text).contains(f) {
                        broken.push(format!("{rel}: {target}: no heading with that anchor"));
                    }
                }
            }
        }
        assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    }

    #[test]
    fn slugs_follow_github() {
        assert_eq!(slug(" `dialer check`"), "dialer-check");
        assert_eq!(
            slug(" The 2-second rule: what it counts from"),
            "the-2-second-rule-what-it-counts-from"
        );
        assert_eq!(
            link_targets(&prose("see [a](b.md#c) and `[x](y)`")),
            vec!["b.md#c"]
        );
    }
}
