//! Scenario files for `dialer simulate`: a team, a shift and what the carrier does with dials.
//!
//! ```toml
//! [scenario]
//! agents = 30
//! duration_s = 3600
//! [calls]
//! human_rate = 0.25
//! machine_rate = 0.15
//! busy_rate = 0.05
//! ring_s = { dist = "lognormal", mean = 12, sd = 6 }
//! no_answer_s = 25
//! talk_s = { dist = "lognormal", mean = 160, sd = 90 }
//! wrap_s = { dist = "lognormal", mean = 20, sd = 10 }
//! amd_human_s = 1.5
//! amd_machine_s = 3.2
//! max_abandon = 0.03
//! ```
//!
//! Unknown keys are errors (a typo must not silently fall back to a default). Every error names
//! the file and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pacing::Priors;

/// A duration distribution (seconds): a plain number, or `{ dist = "lognormal", mean, sd }`,
/// `{ dist = "exponential", mean }`, `{ dist = "uniform", min, max }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    Fixed(f64),
    LogNormal { mean: f64, sd: f64 },
    Exponential { mean: f64 },
    Uniform { min: f64, max: f64 },
}

impl Dist {
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed(v) => v,
            Dist::LogNormal { mean, .. } | Dist::Exponential { mean } => mean,
            Dist::Uniform { min, max } => (min + max) / 2.0,
        }
    }

    pub fn sd(&self) -> f64 {
        match *self {
            Dist::Fixed(_) => 0.0,
            Dist::LogNormal { sd, .. } => sd,
            Dist::Exponential { mean } => mean,
            Dist::Uniform { min, max } => (max - min) / 12f64.sqrt(),
        }
    }

    /// `P(X ≤ x)`, for the clairvoyant pacer (lognormal fitted by moments, as the simulator
    /// draws it).
    pub fn cdf(&self, x: f64) -> f64 {
        match *self {
            Dist::Fixed(v) => f64::from(u8::from(x >= v)),
            Dist::LogNormal { mean, sd } if sd > 0.0 && mean > 0.0 => {
                crate::pacing::stats::LogNormal::from_mean_sd(mean, sd).cdf(x)
            }
            Dist::LogNormal { mean, .. } => f64::from(u8::from(x >= mean)),
            Dist::Exponential { mean } => {
                if x <= 0.0 {
                    0.0
                } else {
                    1.0 - (-x / mean).exp()
                }
            }
            Dist::Uniform { min, max } if max > min => ((x - min) / (max - min)).clamp(0.0, 1.0),
            Dist::Uniform { min, .. } => f64::from(u8::from(x >= min)),
        }
    }

    fn check(&self) -> Result<(), String> {
        let ok = match *self {
            Dist::Fixed(v) => v.is_finite() && v >= 0.0,
            Dist::LogNormal { mean, sd } => {
                mean.is_finite() && sd.is_finite() && mean > 0.0 && sd >= 0.0
            }
            Dist::Exponential { mean } => mean.is_finite() && mean > 0.0,
            Dist::Uniform { min, max } => {
                min.is_finite() && max.is_finite() && 0.0 <= min && min <= max
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{self:?} is not a valid duration distribution (seconds must be ≥ 0, mean > 0, min ≤ max)"
            ))
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum DistTable {
    Lognormal { mean: f64, sd: f64 },
    Exponential { mean: f64 },
    Uniform { min: f64, max: f64 },
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Table(toml::Table),
        }
        let expected = "a number of seconds, or { dist = \"lognormal\", mean, sd }, \
                        { dist = \"exponential\", mean } or { dist = \"uniform\", min, max }";
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom(format!("expected {expected}")))?
        {
            Raw::Number(v) => Ok(Dist::Fixed(v)),
            Raw::Table(t) => {
                let t: DistTable = t
                    .try_into()
                    .map_err(|e| serde::de::Error::custom(format!("{e}; expected {expected}")))?;
                Ok(match t {
                    DistTable::Lognormal { mean, sd } => Dist::LogNormal { mean, sd },
                    DistTable::Exponential { mean } => Dist::Exponential { mean },
                    DistTable::Uniform { min, max } => Dist::Uniform { min, max },
                })
            }
        }
    }
}

/// `[scenario]`: the team and the shift.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Agents logged in for the whole shift.
    pub agents: u32,
    pub duration_s: f64,
    /// Shown in reports; defaults to the file name.
    pub name: Option<String>,
    /// One-line description.
    pub description: Option<String>,
    /// Trunk channels (concurrent calls, bridged ones included); default unlimited.
    pub channels: Option<u32>,
    /// Calls per second the trunk accepts; default unlimited.
    pub max_cps: Option<f64>,
    /// Pacing tick (default 250 ms).
    pub tick_ms: Option<u64>,
}

/// `[calls]`: what the carrier and the people do with dials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calls {
    pub human_rate: f64,
    pub machine_rate: f64,
    pub busy_rate: f64,
    pub ring_s: Dist,
    pub no_answer_s: f64,
    pub talk_s: Dist,
    pub wrap_s: Dist,
    pub amd_human_s: f64,
    pub amd_machine_s: f64,
    pub max_abandon: f64,
    /// Dial to busy signal (default uniform 2–6 s).
    pub busy_s: Option<Dist>,
    /// From this second on, dials are answered by a person at `human_rate_after`.
    pub change_at_s: Option<f64>,
    pub human_rate_after: Option<f64>,
}

/// `[priors]` (optional): what the pacer believes before the first call; each key defaults to
/// the scenario's own starting figure.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorsOverride {
    pub hit_rate: Option<f64>,
    pub machine_rate: Option<f64>,
    pub talk_mean_s: Option<f64>,
    pub wrap_mean_s: Option<f64>,
    pub ring_mean_s: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    scenario: Team,
    calls: Calls,
    #[serde(default)]
    priors: PriorsOverride,
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub path: Option<PathBuf>,
    pub team: Team,
    pub calls: Calls,
    pub priors: PriorsOverride,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: key `{key}`: {problem}")]
    Invalid {
        path: String,
        key: &'static str,
        problem: String,
    },
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: p.clone(),
            source,
        })?;
        let default_name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.clone());
        let mut s = Self::parse(&text, &p, &default_name)?;
        s.path = Some(path.to_owned());
        Ok(s)
    }

    /// Parses and validates scenario text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, default_name: &str) -> Result<Self, ScenarioError> {
        let f: File = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: origin.to_owned(),
            source: Box::new(e),
        })?;
        let s = Scenario {
            name: f
                .scenario
                .name
                .clone()
                .unwrap_or_else(|| default_name.to_owned()),
            path: None,
            team: f.scenario,
            calls: f.calls,
            priors: f.priors,
        };
        s.validate()
            .map_err(|(key, problem)| ScenarioError::Invalid {
                path: origin.to_owned(),
                key,
                problem,
            })?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        let c = &self.calls;
        let t = &self.team;
        let share = |key: &'static str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err((key, format!("{v} is not a share between 0 and 1")))
            }
        };
        let secs = |key: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err((key, format!("{v} is not a number of seconds ≥ 0")))
            }
        };
        if !(t.duration_s.is_finite() && t.duration_s > 0.0 && t.duration_s <= 7.0 * 86_400.0) {
            return Err((
                "scenario.duration_s",
                format!("{} is not between 0 and a week", t.duration_s),
            ));
        }
        if t.agents > 10_000 {
            return Err((
                "scenario.agents",
                format!("{} agents is more than 10000", t.agents),
            ));
        }
        if let Some(cps) = t.max_cps
            && !(cps.is_finite() && cps > 0.0)
        {
            return Err(("scenario.max_cps", format!("{cps} is not a positive rate")));
        }
        if t.tick_ms == Some(0) {
            return Err(("scenario.tick_ms", "must be at least 1".into()));
        }
        share("calls.human_rate", c.human_rate)?;
        share("calls.machine_rate", c.machine_rate)?;
        share("calls.busy_rate", c.busy_rate)?;
        if c.human_rate + c.machine_rate + c.busy_rate > 1.0 + 1e-9 {
            return Err((
                "calls.busy_rate",
                "human_rate + machine_rate + busy_rate is more than 1".into(),
            ));
        }
        if !(c.max_abandon > 0.0 && c.max_abandon < 1.0) {
            return Err((
                "calls.max_abandon",
                format!("{} is not a share between 0 and 1", c.max_abandon),
            ));
        }
        secs("calls.no_answer_s", c.no_answer_s)?;
        if c.no_answer_s < 15.0 {
            return Err((
                "calls.no_answer_s",
                format!(
                    "{} s: the rules ask for at least 15 s of ringing",
                    c.no_answer_s
                ),
            ));
        }
        secs("calls.amd_human_s", c.amd_human_s)?;
        secs("calls.amd_machine_s", c.amd_machine_s)?;
        for (key, d) in [
            ("calls.ring_s", Some(c.ring_s)),
            ("calls.talk_s", Some(c.talk_s)),
            ("calls.wrap_s", Some(c.wrap_s)),
            ("calls.busy_s", c.busy_s),
        ] {
            if let Some(d) = d {
                d.check().map_err(|p| (key, p))?;
            }
        }
        if c.talk_s.mean() <= 0.0 {
            return Err(("calls.talk_s", "mean talk time must be above 0".into()));
        }
        match (c.change_at_s, c.human_rate_after) {
            (None, None) => {}
            (Some(at), Some(h)) => {
                secs("calls.change_at_s", at)?;
                share("calls.human_rate_after", h)?;
                if h + c.machine_rate + c.busy_rate > 1.0 + 1e-9 {
                    return Err((
                        "calls.human_rate_after",
                        "human_rate_after + machine_rate + busy_rate is more than 1".into(),
                    ));
                }
            }
            (Some(_), None) => {
                return Err((
                    "calls.human_rate_after",
                    "change_at_s needs human_rate_after".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "calls.change_at_s",
                    "human_rate_after needs change_at_s".into(),
                ));
            }
        }
        let p = &self.priors;
        for (key, v) in [
            ("priors.hit_rate", p.hit_rate),
            ("priors.machine_rate", p.machine_rate),
        ] {
            if let Some(v) = v {
                share(key, v)?;
            }
        }
        for (key, v) in [
            ("priors.talk_mean_s", p.talk_mean_s),
            ("priors.wrap_mean_s", p.wrap_mean_s),
            ("priors.ring_mean_s", p.ring_mean_s),
        ] {
            if let Some(v) = v {
                secs(key, v)?;
            }
        }
        Ok(())
    }

    /// The pacer's priors: the scenario's starting figures unless `[priors]` says otherwise.
    /// The carrier's and the team's own figures at second `at` of the shift, as priors (what
    /// the simulator's informed pacer is told instead of estimating them).
    pub fn true_priors(&self, at: f64) -> Priors {
        let c = &self.calls;
        let hit_rate = match (c.change_at_s, c.human_rate_after) {
            (Some(change), Some(after)) if at >= change => after,
            _ => c.human_rate,
        };
        Priors {
            hit_rate,
            machine_rate: c.machine_rate,
            ring_mean_s: c.ring_s.mean(),
            ring_sd_s: c.ring_s.sd(),
            no_answer_s: c.no_answer_s,
            amd_human_s: c.amd_human_s,
            amd_machine_s: c.amd_machine_s,
            talk_mean_s: c.talk_s.mean(),
            talk_sd_s: c.talk_s.sd(),
            wrap_mean_s: c.wrap_s.mean(),
            wrap_sd_s: c.wrap_s.sd(),
        }
    }

    pub fn pacer_priors(&self) -> Priors {
        let c = &self.calls;
        let p = &self.priors;
        Priors {
            hit_rate: p.hit_rate.unwrap_or(c.human_rate),
            machine_rate: p.machine_rate.unwrap_or(c.machine_rate),
            ring_mean_s: p.ring_mean_s.unwrap_or(c.ring_s.mean()),
            ring_sd_s: c.ring_s.sd(),
            no_answer_s: c.no_answer_s,
            amd_human_s: c.amd_human_s,
            amd_machine_s: c.amd_machine_s,
            talk_mean_s: p.talk_mean_s.unwrap_or(c.talk_s.mean()),
            talk_sd_s: c.talk_s.sd(),
            wrap_mean_s: p.wrap_mean_s.unwrap_or(c.wrap_s.mean()),
            wrap_sd_s: c.wrap_s.sd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const ISSUE_EXAMPLE: &str = r#"
[scenario]
agents = 30
duration_s = 3600
[calls]
human_rate = 0.25          # share of dials answered by a person
machine_rate = 0.15        # share answered by a machine
busy_rate = 0.05           # the rest ring out
ring_s = { dist = "lognormal", mean = 12, sd = 6 }   # dial to answer, for answered calls
no_answer_s = 25           # ring timeout
talk_s = { dist = "lognormal", mean = 160, sd = 90 }
wrap_s = { dist = "lognormal", mean = 20, sd = 10 }
amd_human_s = 1.5          # answer to "it is a person"
amd_machine_s = 3.2        # answer to "it is a machine"
max_abandon = 0.03
"#;

    #[test]
    fn parses_the_issue_example() {
        let s = Scenario::parse(ISSUE_EXAMPLE, "x.toml", "x").unwrap();
        assert_eq!(s.team.agents, 30);
        assert_eq!(
            s.calls.ring_s,
            Dist::LogNormal {
                mean: 12.0,
                sd: 6.0
            }
        );
        assert_eq!(s.calls.no_answer_s, 25.0);
        assert_eq!(s.name, "x");
    }

    #[test]
    fn every_distribution_form() {
        let text = ISSUE_EXAMPLE
            .replace(
                r#"wrap_s = { dist = "lognormal", mean = 20, sd = 10 }"#,
                r#"wrap_s = { dist = "uniform", min = 5, max = 15 }"#,
            )
            .replace(
                r#"talk_s = { dist = "lognormal", mean = 160, sd = 90 }"#,
                r#"talk_s = { dist = "exponential", mean = 100 }"#,
            )
            .replace(
                r#"ring_s = { dist = "lognormal", mean = 12, sd = 6 }"#,
                "ring_s = 7.5",
            );
        let s = Scenario::parse(&text, "x.toml", "x").unwrap();
        assert_eq!(
            s.calls.wrap_s,
            Dist::Uniform {
                min: 5.0,
                max: 15.0
            }
        );
        assert_eq!(s.calls.talk_s, Dist::Exponential { mean: 100.0 });
        assert_eq!(s.calls.ring_s, Dist::Fixed(7.5));
    }

    fn err(text: &str) -> String {
        Scenario::parse(text, "bad.toml", "bad")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e = err(&ISSUE_EXAMPLE.replace("human_rate = 0.25", "human_rate = 1.25"));
        assert!(
            e.contains("bad.toml") && e.contains("calls.human_rate"),
            "{e}"
        );
        let e = err(&ISSUE_EXAMPLE.replace("no_answer_s = 25", "no_answer_s = 10"));
        assert!(e.contains("calls.no_answer_s") && e.contains("15 s"), "{e}");
        let e = err(&ISSUE_EXAMPLE.replace("busy_rate = 0.05", "busy_rate = 0.65"));
        assert!(e.contains("more than 1"), "{e}");
        let e = err(&ISSUE_EXAMPLE.replace("max_abandon", "max_abandonn"));
        assert!(e.contains("bad.toml") && e.contains("max_abandonn"), "{e}");
        let e = err(&ISSUE_EXAMPLE.replace(
            r#"dist = "lognormal", mean = 160"#,
            r#"dist = "gamma", mean = 160"#,
        ));
        assert!(e.contains("talk_s") && e.contains("gamma"), "{e}");
        let e = err(&format!("{ISSUE_EXAMPLE}change_at_s = 100\n"));
        assert!(e.contains("human_rate_after"), "{e}");
    }
}
