//! Loading campaign files: config layers, then a validating read that collects every problem.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

use super::reader::{Ctx, Item, Table};
use super::*;
use crate::domain::Outcome;
use crate::leads::rows::Encoding;

/// `dialing.preview_timeout` bounds: time to read a lead; beyond an hour, leave it out.
const PREVIEW_TIMEOUT_MIN: Duration = Duration::from_secs(5);
const PREVIEW_TIMEOUT_MAX: Duration = Duration::from_secs(3600);

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
    let campaign = read_campaign(&mut ctx, path, env);
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
        return None;
    }
    Some(text)
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

fn read_campaign(ctx: &mut Ctx, path: &Path, env: &Env) -> Option<Campaign> {
    let text = read_toml(ctx, path)?;
    let prefix = format!("DIALER__CAMPAIGN__{}", env_stem(path));

    // First pass: only the kind, to pick the kind's defaults.
    let first = build(ctx, &[], &text, env.source(&prefix, &[]))?;
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
        &text,
        env.source(&prefix, &[]),
    )?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let root = Table::root(&cfg.cache);
    let r = CampaignReader { base: &base };
    let c = r.campaign(ctx, &root, path, kind);
    root.finish(ctx);
    c
}

struct CampaignReader<'b> {
    base: &'b Path,
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
        let dnc = self.dnc(ctx, root);
        let dispositions = self.dispositions(ctx, root, mode);
        let survey = self.survey(ctx, root, mode == Some(Mode::Agentless));
        let recording = root.req_bool(ctx, "recording");
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
            dnc: dnc?,
            dispositions: dispositions?,
            survey: survey?,
            recording: recording?,
            priors: priors?,
        })
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// A referenced file that must exist.
    fn file(&self, ctx: &mut Ctx, key: &str, p: &str) -> Option<PathBuf> {
        let full = self.resolve(p);
        if p.trim().is_empty() {
            ctx.problem(key, "empty path");
            return None;
        }
        let problem = match std::fs::metadata(&full) {
            Ok(m) if m.is_file() => return Some(full),
            Ok(m) if m.is_dir() => "is a directory, not a file",
            Ok(_) => "is not a regular file (a device, pipe or socket)",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ctx.problem(key, format!("file not found: {}", full.display()));
                return None;
            }
            Err(e) => {
                ctx.problem(key, format!("cannot read {}: {e}", full.display()));
                return None;
            }
        };
        ctx.problem(key, format!("{} {problem}", full.display()));
        None
    }

    /// A referenced WAV file that must exist and parse.
    fn wav(&self, ctx: &mut Ctx, key: &str, p: &str) -> Option<PathBuf> {
        let full = self.file(ctx, key, p)?;
        match hound::WavReader::open(&full) {
            Ok(_) => Some(full),
            Err(e) => {
                ctx.problem(
                    key,
                    format!("{} is not a readable WAV file: {e}", full.display()),
                );
                None
            }
        }
    }

    fn lists(&self, ctx: &mut Ctx, root: &Table<'_>, regime: Regime) -> Option<Vec<ListSpec>> {
        let Some(tables) = root.tables(ctx, "lists") else {
            if root.get("lists").is_none() {
                ctx.problem("lists", "missing (required): at least one [[lists]] entry");
            }
            return None;
        };
        if tables.is_empty() {
            ctx.problem("lists", "at least one [[lists]] entry is needed");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut names = BTreeSet::new();
        for t in tables {
            let file_s = t.req_string(ctx, "file");
            let file = file_s
                .as_deref()
                .and_then(|s| self.file(ctx, &t.key("file"), s));
            let name = t.string(ctx, "name").or_else(|| {
                file_s.as_deref().map(|s| {
                    Path::new(s)
                        .file_stem()
                        .map(|x| x.to_string_lossy().into_owned())
                        .unwrap_or_default()
                })
            });
            if let Some(n) = &name
                && too_long(ctx, t.key("name"), n, NAME_MAX)
            {
                ok = false;
            } else if let Some(n) = &name
                && !names.insert(n.clone())
            {
                ctx.problem(t.key("name"), format!("list name {n:?} is used twice"));
                ok = false;
            }
            let priority = t.int(ctx, "priority", -1000, 1000).map(|p| p as i32);
            let priority_ok = t.get("priority").is_none() || priority.is_some();
            let region = match t.string(ctx, "default_region") {
                Some(r) => region(ctx, &t.key("default_region"), &r),
                None => Some(match regime {
                    Regime::Us => "US".to_string(),
                    Regime::Uk => "GB".to_string(),
                }),
            };
            let encoding = match t.get("encoding") {
                None => Some(Encoding::Utf8),
                Some(item) => choice(
                    ctx,
                    &item,
                    &[("utf8", Encoding::Utf8), ("latin1", Encoding::Latin1)],
                ),
            };
            let cols = t.table(ctx, "columns");
            let phone = cols.string(ctx, "phone").unwrap_or_else(|| "phone".into());
            let timezone = cols.string(ctx, "timezone");
            let account = cols.string(ctx, "account");
            cols.finish(ctx);
            // With an unknown encoding (reported) the header cannot be read.
            if let (Some(f), Some(encoding)) = (&file, encoding) {
                let mapped = [
                    ("phone", Some(&phone)),
                    ("timezone", timezone.as_ref()),
                    ("account", account.as_ref()),
                ];
                if !header_has(ctx, &cols, f, encoding, &mapped) {
                    ok = false;
                }
            }
            match (name, file, region, priority_ok, encoding) {
                (Some(name), Some(file), Some(default_region), true, Some(encoding)) => {
                    out.push(ListSpec {
                        name,
                        file,
                        priority: priority.unwrap_or(0),
                        columns: ColumnMap {
                            phone,
                            timezone,
                            account,
                        },
                        default_region,
                        encoding,
                    })
                }
                _ => ok = false,
            }
            t.finish(ctx);
        }
        ok.then_some(out)
    }

    fn hours(&self, ctx: &mut Ctx, root: &Table<'_>, regime: Regime) -> Option<CallingHours> {
        let t = root.table(ctx, "hours");
        let zone = t
            .req_string(ctx, "timezone")
            .and_then(|z| match TimeZone::get(&z) {
                Ok(tz) => Some((tz, z)),
                Err(_) => {
                    ctx.problem(
                        t.key("timezone"),
                        format!("{z:?} is not a known IANA time zone (e.g. \"America/New_York\")"),
                    );
                    None
                }
            });
        let days = t.strings(ctx, "days").and_then(|ds| {
            let mut out = Vec::new();
            let mut ok = true;
            for (i, d) in ds.iter().enumerate() {
                match weekday(d) {
                    Some(w) if !out.contains(&w) => out.push(w),
                    Some(_) => {}
                    None => {
                        ok = false;
                        ctx.problem(
                            format!("{}[{i}]", t.key("days")),
                            format!("{d:?} is not a day (mon, tue, wed, thu, fri, sat, sun)"),
                        );
                    }
                }
            }
            if ok && out.is_empty() {
                ctx.problem(t.key("days"), "at least one day is needed");
                ok = false;
            }
            ok.then_some(out)
        });
        let start = t
            .req_string(ctx, "start")
            .and_then(|s| time(ctx, &t.key("start"), &s));
        let end = t
            .req_string(ctx, "end")
            .and_then(|s| time(ctx, &t.key("end"), &s));
        t.finish(ctx);
        let (mut start, mut end) = (start?, end?);
        if end <= start {
            ctx.problem(
                t.key("end"),
                format!("{end} is not after the start ({start})"),
            );
            return None;
        }
        if regime == Regime::Us {
            // Never before 08:00 or after 21:00 local (TSR / TCPA).
            start = start.max(Time::constant(8, 0, 0, 0));
            end = end.min(Time::constant(21, 0, 0, 0));
            if end <= start {
                ctx.problem(
                    t.key("start"),
                    "no calling time is left inside the US 08:00–21:00 window",
                );
                return None;
            }
        }
        let (timezone, timezone_name) = zone?;
        Some(CallingHours {
            timezone,
            timezone_name,
            days: days?,
            start,
            end,
        })
    }

    fn dialing(&self, ctx: &mut Ctx, root: &Table<'_>, mode: Option<Mode>) -> Option<Dialing> {
        let t = root.table(ctx, "dialing");
        let ring = t.req_duration(ctx, "ring_timeout").and_then(|(d, s)| {
            if d < Duration::from_secs(15) {
                ctx.problem(
                    t.key("ring_timeout"),
                    format!("{s} is below the 15 s minimum"),
                );
                None
            } else if d > Duration::from_secs(300) {
                ctx.problem(
                    t.key("ring_timeout"),
                    format!("{s} is above the 300 s maximum"),
                );
                None
            } else {
                Some(d)
            }
        });
        let cps = t.req_float(ctx, "calls_per_second").and_then(|f| {
            if f > 0.0 && f <= 1000.0 {
                Some(f)
            } else {
                ctx.problem(
                    t.key("calls_per_second"),
                    format!("{f} is out of range (above 0, at most 1000)"),
                );
                None
            }
        });
        let max = t.req_int(ctx, "max_concurrent", 1, 100_000);
        let connect = t.req_duration(ctx, "connect_limit").and_then(|(d, s)| {
            if d > Duration::from_secs(2) {
                ctx.problem(
                    t.key("connect_limit"),
                    format!("{s} is above the 2 s maximum"),
                );
                None
            } else if d.is_zero() {
                ctx.problem(t.key("connect_limit"), "must be above 0");
                None
            } else {
                Some(d)
            }
        });
        // Optional: `None` lets the agent take as long as they need. An error keeps the value
        // out (`Some(None)` is "no timeout", `None` a problem already reported).
        let preview_timeout = match t.duration(ctx, "preview_timeout") {
            None if t.get("preview_timeout").is_some() => None,
            None => Some(None),
            Some((_, s)) if mode.is_some_and(|m| m != Mode::Preview) => {
                ctx.problem(
                    t.key("preview_timeout"),
                    format!(
                        "{s}: only a preview campaign waits for its agents to dial (mode = {:?})",
                        mode.map(Mode::as_str).unwrap_or_default()
                    ),
                );
                None
            }
            Some((d, s)) if d < PREVIEW_TIMEOUT_MIN => {
                ctx.problem(
                    t.key("preview_timeout"),
                    format!("{s} is below the 5 s minimum (the agent needs time to read the lead)"),
                );
                None
            }
            Some((d, s)) if d > PREVIEW_TIMEOUT_MAX => {
                ctx.problem(
                    t.key("preview_timeout"),
                    format!(
                        "{s} is above the 1 h maximum (leave the key out to wait for the agent)"
                    ),
                );
                None
            }
            Some((d, _)) => Some(Some(d)),
        };
        // Optional: "off", or at least the 15 s US rules let a call ring before it may be
        // hung up unanswered (default 15 s).
        let min_shed = crate::pacing::MIN_SHED_RING;
        let shed_after = match t.string(ctx, "shed_after").as_deref().map(str::trim) {
            None if t.get("shed_after").is_some() => None,
            None => Some(Some(min_shed)),
            Some("off") => Some(None),
            Some(_) => match t.duration(ctx, "shed_after") {
                None => None,
                Some((d, s)) if d < min_shed => {
                    ctx.problem(
                        t.key("shed_after"),
                        format!(
                            "{s} is below the 15 s minimum (an unanswered call may not be hung up sooner)"
                        ),
                    );
                    None
                }
                Some((d, _)) => Some(Some(d)),
            },
        };
        t.finish(ctx);
        Some(Dialing {
            ring_timeout: ring?,
            calls_per_second: cps?,
            max_concurrent: max? as u32,
            connect_limit: connect?,
            preview_timeout: preview_timeout?,
            shed_after: shed_after?,
        })
    }

    fn abandon(&self, ctx: &mut Ctx, root: &Table<'_>, regime: Regime) -> Option<AbandonPolicy> {
        let t = root.table(ctx, "abandon");
        let cap = t.req_float(ctx, "cap").and_then(|f| {
            if f > 0.0 && f <= 0.03 {
                Some(f)
            } else {
                ctx.problem(
                    t.key("cap"),
                    format!("{f} is out of range (above 0, at most 0.03 = 3 %)"),
                );
                None
            }
        });
        let window = match t.get("window") {
            Some(i) => choice(
                ctx,
                &i,
                &[
                    ("rolling_30_days", AbandonWindow::Rolling30Days),
                    ("calendar_day", AbandonWindow::CalendarDay),
                ],
            )
            .and_then(|w| {
                if regime == Regime::Uk && w == AbandonWindow::Rolling30Days {
                    ctx.problem(
                        &i.key,
                        "the UK regime counts abandons per calendar day; use \"calendar_day\"",
                    );
                    None
                } else {
                    Some(w)
                }
            }),
            None => Some(match regime {
                Regime::Us => AbandonWindow::Rolling30Days,
                Regime::Uk => AbandonWindow::CalendarDay,
            }),
        };
        let amd_false_positive_rate = match t.get("amd_false_positive_rate") {
            None if regime == Regime::Uk => Some(UK_AMD_FALSE_POSITIVE_DEFAULT),
            None => Some(0.0),
            Some(i) => i.float(ctx).and_then(|f| {
                if regime != Regime::Uk {
                    ctx.problem(
                        &i.key,
                        "only the UK regime adds an estimate of people among AMD machines; \
                         US accounting does not",
                    );
                    None
                } else if (0.0..=1.0).contains(&f) {
                    Some(f)
                } else {
                    ctx.problem(&i.key, format!("{f} is out of range (0 to 1)"));
                    None
                }
            }),
        };
        t.finish(ctx);
        Some(AbandonPolicy {
            cap: cap?,
            window: window?,
            amd_false_positive_rate: amd_false_positive_rate?,
        })
    }

    fn amd(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<AmdSettings> {
        let t = root.table(ctx, "amd");
        let enabled = t.req_bool(ctx, "enabled");
        let on_machine = t
            .get("on_machine")
            .and_then(|i| choice(ctx, &i, &[("hangup", false), ("voicemail", true)]));
        let message = t
            .string(ctx, "voicemail_message")
            .map(|s| self.wav(ctx, &t.key("voicemail_message"), &s));
        let on_machine = match (on_machine, message) {
            (Some(false), _) => Some(OnMachine::Hangup),
            (Some(true), Some(Some(message))) => Some(OnMachine::Voicemail { message }),
            (Some(true), None) => {
                ctx.problem(
                    t.key("voicemail_message"),
                    "missing (required when on_machine = \"voicemail\", which warm and hot lists default to)",
                );
                None
            }
            _ => None,
        };
        if t.get("on_machine").is_none() {
            ctx.problem(t.key("on_machine"), "missing (required)");
        }
        let on_notsure = t.get("on_notsure").and_then(|i| {
            choice(
                ctx,
                &i,
                &[
                    ("human", OnNotSure::TreatAsHuman),
                    ("machine", OnNotSure::TreatAsMachine),
                ],
            )
        });
        let detector = amd_tuning(ctx, &t);
        t.finish(ctx);
        Some(AmdSettings {
            enabled: enabled?,
            on_machine: on_machine?,
            on_notsure: on_notsure?,
            detector: detector?,
        })
    }

    fn retry(&self, ctx: &mut Ctx, root: &Table<'_>, regime: Regime) -> Option<RetryPolicy> {
        let t = root.table(ctx, "retry");
        let max_attempts = t.req_int(ctx, "max_attempts", 1, 100);
        let d = t.table(ctx, "delay");
        let mut delays = BTreeMap::new();
        for o in RETRY_OUTCOMES {
            if let Some(v) = d.req_duration(ctx, o.as_str()) {
                delays.insert(o, v);
            }
        }
        if regime == Regime::Uk
            && let Some((dur, s)) = delays.get(&Outcome::Abandoned)
            && *dur < Duration::from_secs(72 * 3600)
        {
            ctx.problem(
                d.key(Outcome::Abandoned.as_str()),
                format!("{s} is below the UK minimum of 72 h before redialing an abandoned call"),
            );
            delays.remove(&Outcome::Abandoned);
        }
        d.finish(ctx);
        t.finish(ctx);
        let g = |o: Outcome| delays.get(&o).map(|(d, _)| *d);
        Some(RetryPolicy {
            max_attempts: max_attempts? as u32,
            delay: RetryDelays {
                busy: g(Outcome::Busy)?,
                no_answer: g(Outcome::NoAnswer)?,
                machine: g(Outcome::Machine)?,
                abandoned: g(Outcome::Abandoned)?,
                congestion: g(Outcome::Congestion)?,
                rejected: g(Outcome::Rejected)?,
                failed: g(Outcome::Failed)?,
                interrupted: g(Outcome::Interrupted)?,
            },
        })
    }

    fn limits(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<RollingLimits> {
        let t = root.table(ctx, "limits");
        let per = t
            .get("per_24h")
            .map(|i| i.int(ctx, 1, 100).map(|v| v as u32));
        let reg_f = t.req_bool(ctx, "reg_f");
        t.finish(ctx);
        let per_24h = match per {
            None => None,
            Some(v) => Some(v?),
        };
        Some(RollingLimits {
            per_24h,
            reg_f: reg_f?,
        })
    }

    fn dnc(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<DncPolicy> {
        let t = root.table(ctx, "dnc");
        let files = t.strings(ctx, "files").map(|fs| {
            let key = t.key("files");
            fs.iter()
                .enumerate()
                .map(|(i, f)| self.file(ctx, &format!("{key}[{i}]"), f))
                .collect::<Option<Vec<_>>>()
        });
        let use_global = t.req_bool(ctx, "use_global");
        t.finish(ctx);
        Some(DncPolicy {
            files: files.flatten()?,
            use_global: use_global?,
        })
    }

    fn dispositions(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        mode: Option<Mode>,
    ) -> Option<Vec<Disposition>> {
        let tables = match root.get("dispositions") {
            None => Vec::new(),
            Some(_) => root.tables(ctx, "dispositions")?,
        };
        if tables.is_empty() && mode.is_some_and(|m| m != Mode::Agentless) {
            ctx.problem(
                "dispositions",
                "at least one [[dispositions]] entry is needed when agents take the calls",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut codes = BTreeSet::new();
        for t in tables {
            let code = t.req_string(ctx, "code").and_then(|c| {
                let key = t.key("code");
                if too_long(ctx, key.clone(), &c, NAME_MAX) {
                    None
                } else if !is_snake(&c) {
                    ctx.problem(key, format!("{c:?} is not a snake_case code"));
                    None
                } else if c.parse::<Outcome>().is_ok() {
                    ctx.problem(key, format!("{c:?} is a system outcome code; pick another"));
                    None
                } else if !codes.insert(c.clone()) {
                    ctx.problem(key, format!("{c:?} is defined twice"));
                    None
                } else {
                    Some(c)
                }
            });
            let label = t
                .string(ctx, "label")
                .filter(|l| !too_long(ctx, t.key("label"), l, LABEL_MAX));
            let effect_kind = t.get("effect").and_then(|i| {
                choice(
                    ctx,
                    &i,
                    &[
                        ("final", 0u8),
                        ("retry_after", 1),
                        ("dnc", 2),
                        ("callback", 3),
                    ],
                )
            });
            if t.get("effect").is_none() {
                ctx.problem(
                    t.key("effect"),
                    "missing (required): final, retry_after, dnc or callback",
                );
            }
            let after = t.duration(ctx, "retry_after");
            let effect = match (effect_kind, after) {
                (Some(1), Some((d, _))) => Some(DispositionEffect::RetryAfter(d)),
                (Some(1), None) => {
                    if t.get("retry_after").is_none() {
                        ctx.problem(
                            t.key("retry_after"),
                            "missing (required when effect = \"retry_after\")",
                        );
                    }
                    None
                }
                (Some(_), Some(_)) => {
                    ctx.problem(
                        t.key("retry_after"),
                        "only used with effect = \"retry_after\"",
                    );
                    None
                }
                (Some(0), None) => Some(DispositionEffect::Final),
                (Some(2), None) => Some(DispositionEffect::Dnc),
                (Some(_), None) => Some(DispositionEffect::Callback),
                (None, _) => None,
            };
            let success = t.bool(ctx, "success");
            let conversation = t.bool(ctx, "conversation");
            let bools_ok = (t.get("success").is_none() || success.is_some())
                && (t.get("conversation").is_none() || conversation.is_some());
            match (code, effect, bools_ok) {
                (Some(code), Some(effect), true) => out.push(Disposition {
                    label: label.unwrap_or_else(|| code.clone()),
                    code,
                    effect,
                    success: success.unwrap_or(false),
                    conversation: conversation.unwrap_or(true),
                }),
                _ => ok = false,
            }
            t.finish(ctx);
        }
        ok.then_some(out)
    }

    /// `[survey]`; an agentless survey plays its prompts, so they must be recorded (WAV).
    fn survey(&self, ctx: &mut Ctx, root: &Table<'_>, agentless: bool) -> Option<Option<Survey>> {
        if root.get("survey").is_none() {
            return Some(None);
        }
        let t = root.table(ctx, "survey");
        let prompt = |ctx: &mut Ctx, key: String, p: String| {
            let out = self.prompt(ctx, &key, p);
            if agentless && matches!(out, Some(Prompt::Text(_))) {
                ctx.problem(
                    key,
                    "an agentless survey plays its prompts: give a recorded .wav file (text is for agents to read)",
                );
            }
            out
        };
        let intro = t
            .string(ctx, "intro")
            .map(|p| prompt(ctx, t.key("intro"), p));
        let outro = t
            .string(ctx, "outro")
            .map(|p| prompt(ctx, t.key("outro"), p));
        let tables = t.tables(ctx, "questions");
        if t.is_present() && t.get("questions").is_none() {
            ctx.problem(
                t.key("questions"),
                "missing (required): at least one question",
            );
        }
        let mut ok = tables.is_some();
        let mut questions = Vec::new();
        let mut ids = BTreeSet::new();
        for q in tables.unwrap_or_default() {
            let id = q.req_string(ctx, "id").and_then(|id| {
                if too_long(ctx, q.key("id"), &id, NAME_MAX) {
                    None
                } else if !is_snake(&id) {
                    ctx.problem(q.key("id"), format!("{id:?} is not a snake_case id"));
                    None
                } else if !ids.insert(id.clone()) {
                    ctx.problem(q.key("id"), format!("{id:?} is used twice"));
                    None
                } else {
                    Some(id)
                }
            });
            let prompt = q
                .req_string(ctx, "prompt")
                .and_then(|p| prompt(ctx, q.key("prompt"), p));
            let at = q.table(ctx, "answers");
            if q.get("answers").is_none() {
                ctx.problem(
                    q.key("answers"),
                    "missing (required): digit = \"value\" pairs",
                );
            }
            let mut answers = BTreeMap::new();
            let mut answers_ok = true;
            for (k, item) in at.entries() {
                let mut cs = k.chars();
                let digit = match (cs.next(), cs.next()) {
                    (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
                    _ => None,
                };
                let value = item.string(ctx);
                match (digit, value) {
                    (Some(d), Some(v)) => {
                        answers.insert(d, v);
                    }
                    (None, _) => {
                        answers_ok = false;
                        ctx.problem(&item.key, format!("{k:?} is not a DTMF key (0-9, *, #)"));
                    }
                    _ => answers_ok = false,
                }
            }
            if answers.is_empty() && q.get("answers").is_some() && answers_ok {
                ctx.problem(q.key("answers"), "at least one answer is needed");
                answers_ok = false;
            }
            q.finish(ctx);
            match (id, prompt, answers_ok) {
                (Some(id), Some(prompt), true) => questions.push(Question {
                    id,
                    prompt,
                    answers,
                }),
                _ => ok = false,
            }
        }
        if ok && questions.is_empty() {
            ctx.problem(t.key("questions"), "at least one question is needed");
            ok = false;
        }
        t.finish(ctx);
        let intro = match intro {
            None => None,
            Some(p) => Some(p?),
        };
        let outro = match outro {
            None => None,
            Some(p) => Some(p?),
        };
        ok.then_some(Some(Survey {
            intro,
            questions,
            outro,
        }))
    }

    /// A prompt: a WAV file when the value ends in `.wav`, else text.
    fn prompt(&self, ctx: &mut Ctx, key: &str, p: String) -> Option<Prompt> {
        if p.to_ascii_lowercase().ends_with(".wav") {
            self.wav(ctx, key, &p).map(Prompt::Wav)
        } else if p.trim().is_empty() {
            ctx.problem(key, "empty prompt");
            None
        } else if too_long(ctx, key, &p, PROMPT_TEXT_MAX) {
            None
        } else {
            Some(Prompt::Text(p))
        }
    }

    fn priors(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<Priors> {
        let t = root.table(ctx, "priors");
        let get = |ctx: &mut Ctx, k: &'static str, lo: f64, lo_incl: bool, hi: f64| {
            t.req_float(ctx, k).and_then(|f| {
                let above = if lo_incl { f >= lo } else { f > lo };
                if above && f <= hi {
                    Some(f)
                } else {
                    let lo_s = if lo_incl { "at least" } else { "above" };
                    ctx.problem(
                        t.key(k),
                        format!("{f} is out of range ({lo_s} {lo}, at most {hi})"),
                    );
                    None
                }
            })
        };
        let hit_rate = get(ctx, "hit_rate", 0.0, false, 1.0);
        let machine_rate = get(ctx, "machine_rate", 0.0, true, 1.0);
        let ring_s = get(ctx, "ring_s", 0.0, false, 300.0);
        let talk_s = get(ctx, "talk_s", 0.0, false, 36_000.0);
        let wrap_s = get(ctx, "wrap_s", 0.0, true, 36_000.0);
        t.finish(ctx);
        if let (Some(h), Some(m)) = (hit_rate, machine_rate)
            && h + m > 1.0
        {
            ctx.problem(
                t.key("machine_rate"),
                format!("hit_rate + machine_rate = {} is above 1", h + m),
            );
            return None;
        }
        Some(Priors {
            hit_rate: hit_rate?,
            machine_rate: machine_rate?,
            ring_s: ring_s?,
            talk_s: talk_s?,
            wrap_s: wrap_s?,
        })
    }
}

/// Whether the CSV header of `file` has every mapped column; reports the missing ones.
fn header_has(
    ctx: &mut Ctx,
    cols: &Table<'_>,
    file: &Path,
    encoding: Encoding,
    mapped: &[(&str, Option<&String>)],
) -> bool {
    // Read as `dialer import` reads it (UTF-8 byte-order mark skipped, other encodings named).
    let headers = crate::leads::import::read_header(file, encoding);
    let headers = match headers {
        Ok(h) => h,
        Err(e) => {
            ctx.problem(
                cols.key("phone"),
                format!("cannot read the list's header: {e}"),
            );
            return false;
        }
    };
    let mut ok = true;
    for (key, col) in mapped {
        if let Some(col) = col
            && !headers.iter().any(|h| h == *col)
        {
            ctx.problem(
                cols.key(key),
                format!(
                    "column {} is not in the header of {} (columns: {})",
                    crate::leads::cut(col),
                    file.display(),
                    crate::leads::import::column_list(&headers)
                ),
            );
            ok = false;
        }
    }
    ok
}

/// One of a fixed set of strings.
pub(crate) fn choice<T: Copy>(ctx: &mut Ctx, item: &Item<'_>, options: &[(&str, T)]) -> Option<T> {
    let s = item.string(ctx)?;
    match options.iter().find(|(name, _)| *name == s) {
        Some((_, v)) => Some(*v),
        None => {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            ctx.problem(
                &item.key,
                format!("{s:?} is not one of: {}", names.join(", ")),
            );
            None
        }
    }
}

/// A phone number that must already be written in E.164 form.
pub(crate) fn e164(ctx: &mut Ctx, key: &str, s: &str) -> Option<String> {
    match phonenumber::parse(None, s) {
        Ok(n) if n.is_valid() => {
            let formatted = n.format().mode(phonenumber::Mode::E164).to_string();
            if formatted == s {
                Some(formatted)
            } else {
                ctx.problem(
                    key,
                    format!("{s:?} is not in E.164 form (write {formatted:?})"),
                );
                None
            }
        }
        Ok(_) => {
            ctx.problem(key, format!("{s:?} is not a valid phone number"));
            None
        }
        Err(_) => {
            ctx.problem(
                key,
                format!("{s:?} is not an E.164 number (write + and the country code, e.g. \"+12025550143\")"),
            );
            None
        }
    }
}

/// The detector's settings from `[amd]`: each key is the detector's own setting name (as in
/// `dialer amd --set`), and only what the file sets overrides `amd::Settings::default()`.
fn amd_tuning(ctx: &mut Ctx, t: &Table<'_>) -> Option<crate::amd::Settings> {
    type Field = fn(&mut crate::amd::Settings) -> &mut u32;
    const MS: i64 = 60_000;
    let ints: [(&'static str, i64, i64, Field); 19] = [
        ("initial_silence_ms", 0, MS, |s| &mut s.initial_silence_ms),
        ("greeting_ms", 0, MS, |s| &mut s.greeting_ms),
        ("after_greeting_silence_ms", 0, MS, |s| {
            &mut s.after_greeting_silence_ms
        }),
        ("short_greeting_ms", 0, MS, |s| &mut s.short_greeting_ms),
        ("after_short_greeting_silence_ms", 0, MS, |s| {
            &mut s.after_short_greeting_silence_ms
        }),
        ("after_short_question_silence_ms", 0, MS, |s| {
            &mut s.after_short_question_silence_ms
        }),
        ("after_question_silence_ms", 0, MS, |s| {
            &mut s.after_question_silence_ms
        }),
        ("total_analysis_ms", 0, MS, |s| &mut s.total_analysis_ms),
        ("min_word_length_ms", 0, MS, |s| &mut s.min_word_length_ms),
        ("between_words_silence_ms", 0, MS, |s| {
            &mut s.between_words_silence_ms
        }),
        ("maximum_number_of_words", 1, 50, |s| {
            &mut s.maximum_number_of_words
        }),
        ("maximum_word_length_ms", 0, MS, |s| {
            &mut s.maximum_word_length_ms
        }),
        ("silence_floor", 0, 32_767, |s| &mut s.silence_floor),
        ("beep_min_hz", 375, 2025, |s| &mut s.beep_min_hz),
        ("beep_max_hz", 375, 2025, |s| &mut s.beep_max_hz),
        ("beep_min_ms", 0, MS, |s| &mut s.beep_min_ms),
        ("beep_wait_ms", 0, MS, |s| &mut s.beep_wait_ms),
        ("greeting_end_silence_ms", 0, MS, |s| {
            &mut s.greeting_end_silence_ms
        }),
        ("message_deadline_ms", 0, MS, |s| &mut s.message_deadline_ms),
    ];
    let mut d = crate::amd::Settings::default();
    let mut ok = true;
    for (k, min, max, field) in ints {
        // beep_wait_ms always has a value: the built-in campaign default.
        let v = if k == "beep_wait_ms" {
            t.req_int(ctx, k, min, max).map(Some).ok_or(())
        } else {
            t.get(k).map(|i| i.int(ctx, min, max).ok_or(())).transpose()
        };
        match v {
            Ok(Some(v)) => *field(&mut d) = v as u32,
            Ok(None) => {}
            Err(()) => ok = false,
        }
    }
    if let Some(i) = t.get("margin_db") {
        match i.float(ctx) {
            Some(v) => d.margin_db = v as f32,
            None => ok = false,
        }
    }
    if let Some(i) = t.get("question_rise_semitones") {
        match i.float(ctx) {
            Some(v) => d.question_rise_semitones = v as f32,
            None => ok = false,
        }
    }
    if let Some(i) = t.get("silence_threshold") {
        ctx.problem(
            &i.key,
            "renamed to `silence_floor`, the detector's name for it (mean |sample| below which a frame is silence)",
        );
        ok = false;
    }
    if let Err(e) = d.validate() {
        ctx.problem(t.key(e.key()), e.to_string());
        ok = false;
    }
    ok.then_some(d)
}

fn region(ctx: &mut Ctx, key: &str, s: &str) -> Option<String> {
    match phonenumber::country::Id::from_str(s) {
        Ok(_) => Some(s.to_string()),
        Err(_) => {
            ctx.problem(
                key,
                format!("{s:?} is not an ISO 3166 alpha-2 region (e.g. \"US\", \"GB\")"),
            );
            None
        }
    }
}

fn time(ctx: &mut Ctx, key: &str, s: &str) -> Option<Time> {
    match Time::from_str(s.trim()) {
        Ok(t) => Some(t),
        Err(_) => {
            ctx.problem(key, format!("{s:?} is not a time of day (write \"09:00\")"));
            None
        }
    }
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// Longest name (campaign, list, trunk, agent id, group, disposition code, question id), in
/// characters.
pub const NAME_MAX: usize = 64;
/// Longest label or display name, in characters.
pub const LABEL_MAX: usize = 200;
/// Longest prompt given as text (agents read it), in characters.
pub const PROMPT_TEXT_MAX: usize = 4000;

/// A value over `max` characters is a problem at `key` that gives its length, not the value.
pub(crate) fn too_long(ctx: &mut Ctx, key: impl Into<String>, s: &str, max: usize) -> bool {
    let n = s.chars().count();
    if n > max {
        ctx.problem(key, format!("{n} characters long; at most {max}"));
        true
    } else {
        false
    }
}

fn is_snake(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_ascii_lowercase())
        && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
