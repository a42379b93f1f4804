//! Loading campaign files: config layers, then a validating read that collects every problem.
//!
//! The read is split along its seams: this file has the entry points, the TOML layers and the
//! campaign's top level; [`sections`] validates the settings sections (hours, dialing, abandon,
//! AMD, retry, limits, priors), [`lists`] the lists and DNC files, [`script`] the dispositions
//! and the survey, [`values`] the shared value checks. Every file a campaign names is looked
//! at through [`Files`] ([`files`]): [`Disk`] when loading, an in-memory [`FileSet`] when a
//! test validates a campaign with no filesystem ([`validate`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};

use super::reader::{Ctx, Table};
use super::*;

mod files;
mod lists;
mod script;
mod sections;
mod values;

pub use files::{Disk, FileKind, FileSet, Files};
use values::e164;
pub(crate) use values::{LABEL_MAX, NAME_MAX, choice, too_long};

/// A snapshot of the `DIALER__…` environment variables, so loading is testable without
/// touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The process's variables whose names start with `DIALER__` (any case).
    pub fn from_process() -> Self {
        Self(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| k.to_ascii_uppercase().starts_with("DIALER__"))
                .collect(),
        )
    }

    /// Exactly these variables (tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The variables under `prefix` (case-insensitive), as a `config` environment source
    /// with `__` separating keys; `exclude` prefixes are left out.
    pub(crate) fn source(&self, prefix: &str, exclude: &[&str]) -> Environment {
        let map: config::Map<String, String> = self
            .0
            .iter()
            .filter(|(k, _)| {
                let up = k.to_ascii_uppercase();
                !exclude.iter().any(|x| up.starts_with(x))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Environment::with_prefix(prefix)
            .prefix_separator("__")
            .separator("__")
            .source(Some(map))
    }
}

/// The `<STEM>` of a campaign file in its environment overrides:
/// `campaigns/cold-sales.toml` → `COLD_SALES`.
pub fn env_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Load and validate one campaign file, with overrides from the process environment.
pub fn load(path: &Path) -> Result<Campaign, Problems> {
    load_with(path, &Env::from_process())
}

/// Load and validate one campaign file with the given environment.
pub fn load_with(path: &Path, env: &Env) -> Result<Campaign, Problems> {
    let mut ctx = Ctx::new(path);
    let campaign =
        read_toml(&mut ctx, path).and_then(|text| read_campaign(&mut ctx, path, &text, env, &Disk));
    match campaign {
        Some(c) if ctx.problems.is_empty() => Ok(c),
        _ => Err(Problems(ctx.problems)),
    }
}

/// Validate the campaign file `path` whose text is `text`, looking at the files it names
/// (lists, DNC files, WAV prompts; relative to `path`'s directory) through `files`: what
/// [`load_with`] does with the file read and [`Disk`], and what a test does with a [`FileSet`]
/// and no filesystem.
pub fn validate(
    path: &Path,
    text: &str,
    env: &Env,
    files: &dyn Files,
) -> Result<Campaign, Problems> {
    let mut ctx = Ctx::new(path);
    let campaign = if check_toml(&mut ctx, text) {
        read_campaign(&mut ctx, path, text, env, files)
    } else {
        None
    };
    match campaign {
        Some(c) if ctx.problems.is_empty() => Ok(c),
        _ => Err(Problems(ctx.problems)),
    }
}

/// The `*.toml` files of a directory, sorted by name.
pub fn campaign_files(dir: &Path) -> Result<Vec<PathBuf>, Problems> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Problems(vec![Problem {
            file: dir.to_path_buf(),
            key: String::new(),
            message: format!("cannot read the directory: {e}"),
        }])
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Load every campaign of a directory: all of them, or every problem of every file.
pub fn load_dir(dir: &Path) -> Result<Vec<Campaign>, Problems> {
    let (campaigns, problems) = load_dir_report(dir, &Env::from_process());
    if problems.is_empty() {
        Ok(campaigns)
    } else {
        Err(Problems(problems))
    }
}

/// Load a directory, keeping the campaigns that loaded and every problem (including duplicate
/// names across files). For `dialer check`.
pub fn load_dir_report(dir: &Path, env: &Env) -> (Vec<Campaign>, Vec<Problem>) {
    let files = match campaign_files(dir) {
        Ok(f) => f,
        Err(p) => return (Vec::new(), p.0),
    };
    let mut campaigns = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        match load_with(&f, env) {
            Ok(c) => campaigns.push(c),
            Err(p) => problems.extend(p.0),
        }
    }
    problems.extend(duplicate_names(&campaigns));
    (campaigns, problems)
}

/// A problem for each campaign whose name an earlier one already uses.
pub(crate) fn duplicate_names(campaigns: &[Campaign]) -> Vec<Problem> {
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    let mut out = Vec::new();
    for c in campaigns {
        if let Some(first) = seen.get(c.name.as_str()) {
            out.push(Problem {
                file: c.source.clone(),
                key: "name".into(),
                message: format!(
                    "campaign name {:?} is already used by {}",
                    c.name,
                    first.display()
                ),
            });
        } else {
            seen.insert(&c.name, &c.source);
        }
    }
    out
}

/// The campaign named `name` in `dir`. Problems in other files do not matter; if no file
/// loads with that name, the error says so (with the problems of a file whose stem matches).
pub fn find(dir: &Path, name: &str, env: &Env) -> Result<Campaign, Problems> {
    let files = campaign_files(dir)?;
    let mut stem_problems = Vec::new();
    for f in files {
        match load_with(&f, env) {
            Ok(c) if c.name == name => return Ok(c),
            Ok(_) => {}
            Err(p) => {
                if f.file_stem().is_some_and(|s| s == name) {
                    stem_problems = p.0;
                }
            }
        }
    }
    if stem_problems.is_empty() {
        stem_problems.push(Problem {
            file: dir.to_path_buf(),
            key: String::new(),
            message: format!("no campaign named {name:?}"),
        });
    }
    Err(Problems(stem_problems))
}

// ---------------------------------------------------------------------------------------------

/// Read the file, report TOML syntax errors with their line.
pub(crate) fn read_toml(ctx: &mut Ctx, path: &Path) -> Option<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            ctx.problem("", format!("cannot read the file: {e}"));
            return None;
        }
    };
    check_toml(ctx, &text).then_some(text)
}

/// Whether `text` is TOML; if not, the problem names the line.
fn check_toml(ctx: &mut Ctx, text: &str) -> bool {
    if let Err(e) = text.parse::<toml::Table>() {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
            .unwrap_or(1);
        // A span starting right after a newline counts that line too.
        let line = if e
            .span()
            .is_some_and(|s| s.start > 0 && text.as_bytes().get(s.start - 1) == Some(&b'\n'))
        {
            line + 1
        } else {
            line
        };
        ctx.problem(
            format!("line {line}"),
            format!("not valid TOML: {}", e.message().trim()),
        );
        return false;
    }
    true
}

fn build(ctx: &mut Ctx, layers: &[&str], text: &str, env: Environment) -> Option<Config> {
    let mut b = Config::builder();
    for l in layers {
        b = b.add_source(File::from_str(l, FileFormat::Toml));
    }
    match b
        .add_source(File::from_str(text, FileFormat::Toml))
        .add_source(env)
        .build()
    {
        Ok(c) => Some(c),
        Err(e) => {
            ctx.problem("", format!("cannot load: {e}"));
            None
        }
    }
}

fn read_campaign(
    ctx: &mut Ctx,
    path: &Path,
    text: &str,
    env: &Env,
    files: &dyn Files,
) -> Option<Campaign> {
    let prefix = format!("DIALER__CAMPAIGN__{}", env_stem(path));

    // First pass: only the kind, to pick the kind's defaults.
    let first = build(ctx, &[], text, env.source(&prefix, &[]))?;
    let kind_table = Table::root(&first.cache);
    let kind = kind_table.get("kind").and_then(|i| {
        choice(
            ctx,
            &i,
            &[
                ("cold", ListKind::Cold),
                ("warm", ListKind::Warm),
                ("hot", ListKind::Hot),
            ],
        )
    });
    if kind_table.get("kind").is_none() {
        ctx.problem("kind", "missing (required): cold, warm or hot");
    }
    let kind_defaults = match kind {
        Some(ListKind::Cold) => defaults::COLD,
        Some(ListKind::Warm) => defaults::WARM,
        Some(ListKind::Hot) => defaults::HOT,
        None => "",
    };

    let cfg = build(
        ctx,
        &[defaults::BUILTIN, kind_defaults],
        text,
        env.source(&prefix, &[]),
    )?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let root = Table::root(&cfg.cache);
    let r = CampaignReader { base: &base, files };
    let c = r.campaign(ctx, &root, path, kind);
    root.finish(ctx);
    c
}

/// Reads one campaign's tables; the files it names are resolved against `base` and looked at
/// through `files`.
struct CampaignReader<'b> {
    base: &'b Path,
    files: &'b dyn Files,
}

impl CampaignReader<'_> {
    fn campaign(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        path: &Path,
        kind: Option<ListKind>,
    ) -> Option<Campaign> {
        root.get("kind"); // read in the first pass
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = root.string(ctx, "name").unwrap_or(stem);
        if too_long(ctx, "name", &name, NAME_MAX) {
            // Said; the value is not repeated.
        } else if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            ctx.problem(
                "name",
                format!("{name:?} is not a usable name (letters, digits, `-` and `_` only)"),
            );
        }
        let enabled = root.req_bool(ctx, "enabled");
        let mode = root.get("mode").and_then(|i| {
            choice(
                ctx,
                &i,
                &[
                    ("preview", Mode::Preview),
                    ("progressive", Mode::Progressive),
                    ("predictive", Mode::Predictive),
                    ("agentless", Mode::Agentless),
                ],
            )
        });
        let regime = root
            .get("regime")
            .and_then(|i| choice(ctx, &i, &[("us", Regime::Us), ("uk", Regime::Uk)]));
        let trunk = root
            .req_string(ctx, "trunk")
            .filter(|t| !too_long(ctx, "trunk", t, NAME_MAX));
        if trunk.as_deref() == Some("") {
            ctx.problem("trunk", "must name a trunk of dialer.toml");
        }
        let caller_id = root
            .req_string(ctx, "caller_id")
            .and_then(|s| e164(ctx, "caller_id", &s));
        let agent_groups = root.strings(ctx, "agent_groups").unwrap_or_default();
        for (i, g) in agent_groups.iter().enumerate() {
            too_long(ctx, format!("agent_groups[{i}]"), g, NAME_MAX);
        }
        if mode.is_some_and(|m| m != Mode::Agentless) && agent_groups.is_empty() {
            ctx.problem(
                "agent_groups",
                "at least one agent group is needed unless mode = \"agentless\"",
            );
        }
        let regime_v = regime.unwrap_or(Regime::Us);
        let lists = self.lists(ctx, root, regime_v);
        let hours = self.hours(ctx, root, regime_v);
        let dialing = self.dialing(ctx, root, mode);
        let abandon = self.abandon(ctx, root, regime_v);
        let amd = self.amd(ctx, root);
        let safe_harbor = root
            .req_string(ctx, "safe_harbor")
            .and_then(|s| self.wav(ctx, &root.key("safe_harbor"), &s));
        let retry = self.retry(ctx, root, regime_v);
        let limits = self.limits(ctx, root);
        let compliance = self.compliance(ctx, root);
        let dnc = self.dnc(ctx, root);
        let dispositions = self.dispositions(ctx, root, mode);
        let survey = self.survey(ctx, root, mode == Some(Mode::Agentless));
        let script = self.script(ctx, root);
        let recording = self.recording(ctx, root, regime);
        let priors = self.priors(ctx, root);

        Some(Campaign {
            name,
            source: path.to_path_buf(),
            enabled: enabled?,
            kind: kind?,
            mode: mode?,
            regime: regime?,
            trunk: trunk?,
            caller_id: caller_id?,
            agent_groups,
            lists: lists?,
            hours: hours?,
            dialing: dialing?,
            abandon: abandon?,
            amd: amd?,
            safe_harbor: safe_harbor?,
            retry: retry?,
            limits: limits?,
            compliance: compliance?,
            dnc: dnc?,
            dispositions: dispositions?,
            survey: survey?,
            script: script?,
            recording: recording?,
            priors: priors?,
        })
    }
}

#[cfg(test)]
mod tests;
