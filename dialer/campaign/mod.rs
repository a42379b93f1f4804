//! Campaign files: one campaign per TOML file, loaded with the `config` crate and validated.
//!
//! Layers, lowest first: built-in defaults ([`defaults::BUILTIN`]) < the list kind's defaults
//! ([`defaults::COLD`], [`defaults::WARM`], [`defaults::HOT`]) < the file < the environment
//! (`DIALER__CAMPAIGN__<STEM>__<KEY>__<SUBKEY>`, where `<STEM>` is the file name without `.toml`,
//! upper-cased, other characters than letters and digits written `_`).
//!
//! Validation collects every problem of every file (unknown keys, wrong types, out-of-range
//! values, missing referenced files, bad zones, bad caller ID, duplicate names), each naming the
//! file and the key: see [`Problem`]. [`load`] reads one file, [`load_dir`] a directory;
//! [`validate`] checks a campaign's text against a set of [`Files`] (the disk, or an in-memory
//! [`FileSet`] in tests).

pub mod defaults;
pub(crate) mod load;
pub(crate) mod reader;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

use crate::domain::Outcome;

pub use load::{
    Disk, Env, FileKind, FileSet, Files, campaign_files, env_stem, find, load, load_dir,
    load_dir_report, load_with, validate,
};

/// One thing wrong in one file, at one key (`dialing.ring_timeout`, `lists[0].file`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub file: PathBuf,
    /// Dotted key path; empty for problems with the whole file (unreadable, bad TOML).
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

/// Every problem found while loading; displays one problem per line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", display_lines(.0))]
pub struct Problems(pub Vec<Problem>);

fn display_lines(ps: &[Problem]) -> String {
    ps.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A validated campaign. Paths are resolved against the campaign file's directory.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub name: String,
    /// The file it was loaded from.
    pub source: PathBuf,
    pub enabled: bool,
    pub kind: ListKind,
    pub mode: Mode,
    pub regime: Regime,
    /// Name of a `[[trunks]]` entry in `dialer.toml`.
    pub trunk: String,
    /// E.164, e.g. `+12025550143`.
    pub caller_id: String,
    pub agent_groups: Vec<String>,
    pub lists: Vec<ListSpec>,
    pub hours: CallingHours,
    pub dialing: Dialing,
    pub abandon: AbandonPolicy,
    pub amd: AmdSettings,
    /// The abandon ("safe harbor") identification message, a WAV file.
    pub safe_harbor: PathBuf,
    pub retry: RetryPolicy,
    pub limits: RollingLimits,
    /// The campaign's own state rules, added to the shipped ones (`[[compliance.rules]]`).
    pub compliance: Compliance,
    pub dnc: DncPolicy,
    pub dispositions: Vec<Disposition>,
    pub survey: Option<Survey>,
    /// What the agent's screen pop shows: text to read and questions to ask.
    pub script: Script,
    pub recording: Recording,
    pub priors: Priors,
}

/// Call recording (`recording = true`, or a `[recording]` table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    /// Record bridged calls.
    pub enabled: bool,
    /// "This call is recorded", played to the person before the agent is bridged
    /// (`recording.announce`); required when a US campaign records (all-party-consent states).
    pub announce: Option<PathBuf>,
    /// How long the campaign's recordings are kept after the call (`recording.keep`, at least
    /// 1h); overrides `media.recordings_keep` of `dialer.toml`, shorter or longer. `None`: that
    /// global default.
    pub keep: Option<std::time::Duration>,
}

impl Campaign {
    /// The agent disposition with this code, if the campaign defines it.
    pub fn disposition(&self, code: &str) -> Option<&Disposition> {
        self.dispositions.iter().find(|d| d.code == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKind {
    Cold,
    Warm,
    Hot,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Cold => "cold",
            ListKind::Warm => "warm",
            ListKind::Hot => "hot",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Preview,
    Progressive,
    Predictive,
    Agentless,
}

impl Mode {
    /// Whether an agent is free before the call is placed (preview, progressive): such calls
    /// cannot be abandoned for want of an agent, which the UK rules take into account.
    pub fn agent_guaranteed(self) -> bool {
        matches!(self, Mode::Preview | Mode::Progressive)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Preview => "preview",
            Mode::Progressive => "progressive",
            Mode::Predictive => "predictive",
            Mode::Agentless => "agentless",
        }
    }
}

/// Which regulations apply: US (FTC TSR / FCC TCPA) or UK (Ofcom).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Regime {
    Us,
    Uk,
}

impl Regime {
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Us => "us",
            Regime::Uk => "uk",
        }
    }
}

/// One lead list (a CSV file) of the campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct ListSpec {
    pub name: String,
    /// Resolved against the campaign file's directory.
    pub file: PathBuf,
    /// Higher is dialed first.
    pub priority: i32,
    pub columns: ColumnMap,
    /// ISO 3166 alpha-2 region for numbers written without a country code, e.g. "US".
    pub default_region: String,
    /// How the file's bytes are read (`encoding = "utf8" | "latin1"`, default UTF-8).
    pub encoding: crate::listfile::rows::Encoding,
}

/// Which CSV columns hold what; every other column is kept as a lead attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    pub phone: String,
    /// IANA zone per lead; without it the campaign's zone applies.
    pub timezone: Option<String>,
    /// Account (debt) identifier: Regulation F limits count per account when present.
    pub account: Option<String>,
    /// Postal code (US ZIP, UK postcode or district): narrows the zones the number gives and
    /// adds its state's rules.
    pub postal_code: Option<String>,
}

/// When calls may be placed, in the lead's local time.
#[derive(Debug, Clone)]
pub struct CallingHours {
    /// The campaign's zone, used for leads without a known zone.
    pub timezone: TimeZone,
    /// Its IANA name, e.g. "America/New_York".
    pub timezone_name: String,
    pub days: Vec<Weekday>,
    /// Inclusive start. US regime: never before 08:00 (clamped).
    pub start: Time,
    /// Exclusive end. US regime: never after 21:00 (clamped).
    pub end: Time,
}

impl CallingHours {
    /// Whether `at` falls inside these hours in `zone` (the lead's zone). DST-safe: the local
    /// wall time of `at` in `zone` is what is compared.
    pub fn is_open(&self, at: jiff::Timestamp, zone: &TimeZone) -> bool {
        let local = at.to_zoned_datetime(zone.clone());
        let t = local.time();
        self.days.contains(&local.weekday()) && t >= self.start && t < self.end
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dialing {
    /// How long to ring before giving up; never below 15 s.
    pub ring_timeout: Duration,
    pub calls_per_second: f64,
    pub max_concurrent: u32,
    /// An answered person must reach an agent within this time or the call is abandoned (≤ 2 s).
    pub connect_limit: Duration,
    /// Preview mode: a lead previewed this long is dialed for the agent; `None`: the agent
    /// decides (dial or skip), however long it takes.
    pub preview_timeout: Option<Duration>,
    /// Predictive: a call still ringing this long may be hung up ("shed") when the person it
    /// may yet bring would risk an abandon; never under 15 s (FCC 47 CFR 64.1200(a)(6));
    /// `None`: never.
    pub shed_after: Option<Duration>,
    /// Predictive: a ringing call is shed when the person it may yet bring would risk an
    /// abandon above this many times the threshold a new dial must meet (≥ 1; higher sheds
    /// fewer calls).
    pub shed_factor: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AbandonPolicy {
    /// Fraction of live answers, at most 0.03.
    pub cap: f64,
    pub window: AbandonWindow,
    /// UK (Ofcom): the share of AMD "machine" results estimated to have been people; that many
    /// are added to both the abandoned calls and the live answers. 0 under US rules.
    pub amd_false_positive_rate: f64,
}

/// The UK estimate of people among AMD "machine" results when the campaign file gives none: the
/// detector's people-called-machines rate on its corpus (2.0 %, docs/experiments/amd.md).
pub const UK_AMD_FALSE_POSITIVE_DEFAULT: f64 = 0.02;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbandonWindow {
    /// US: each rolling 30-day period.
    Rolling30Days,
    /// UK (Ofcom): midnight to midnight.
    CalendarDay,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AmdSettings {
    pub enabled: bool,
    pub on_machine: OnMachine,
    pub on_notsure: OnNotSure,
    /// The detector's settings: [`crate::amd::Settings::default()`] with the keys the campaign
    /// sets under their own names (the keys `dialer amd --set` takes), and `beep_wait_ms` (how
    /// long to wait for the voicemail beep before dropping the message anyway).
    pub detector: crate::amd::Settings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnMachine {
    Hangup,
    /// Leave this message (WAV) after the beep.
    Voicemail {
        message: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNotSure {
    TreatAsHuman,
    TreatAsMachine,
}

/// The outcomes with a retry delay of their own, each under its name in `retry.delay`.
pub const RETRY_OUTCOMES: [Outcome; 8] = [
    Outcome::Busy,
    Outcome::NoAnswer,
    Outcome::Machine,
    Outcome::Abandoned,
    Outcome::Congestion,
    Outcome::Rejected,
    Outcome::Failed,
    Outcome::Interrupted,
];

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub delay: RetryDelays,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryDelays {
    pub busy: Duration,
    pub no_answer: Duration,
    pub machine: Duration,
    pub abandoned: Duration,
    pub congestion: Duration,
    pub rejected: Duration,
    pub failed: Duration,
    pub interrupted: Duration,
}

impl RetryPolicy {
    /// The retry delay after an outcome, or `None` for outcomes without one (`invalid_number`,
    /// `human`, `answered`). A call the pacer shed while it rang (`shed`) is retried like a
    /// no-answer.
    pub fn delay_for(&self, outcome: Outcome) -> Option<Duration> {
        match outcome {
            Outcome::Shed => Some(self.delay.no_answer),
            o => self.delay.own(o),
        }
    }
}

impl RetryDelays {
    /// The delay under the outcome's own `retry.delay` key ([`RETRY_OUTCOMES`]), if it has one.
    pub fn own(&self, outcome: Outcome) -> Option<Duration> {
        Some(match outcome {
            Outcome::Busy => self.busy,
            Outcome::NoAnswer => self.no_answer,
            Outcome::Machine => self.machine,
            Outcome::Abandoned => self.abandoned,
            Outcome::Congestion => self.congestion,
            Outcome::Rejected => self.rejected,
            Outcome::Failed => self.failed,
            Outcome::Interrupted => self.interrupted,
            Outcome::Answered | Outcome::Human | Outcome::InvalidNumber | Outcome::Shed => {
                return None;
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollingLimits {
    /// At most this many attempts per lead in any 24 hours.
    pub per_24h: Option<u32>,
    /// Regulation F: at most 7 calls in 7 days, none for 7 days after a conversation.
    pub reg_f: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncPolicy {
    /// Campaign DNC files, one number per line; resolved against the campaign file's directory.
    pub files: Vec<PathBuf>,
    /// Also honour the global DNC list in the store.
    pub use_global: bool,
    /// Dial only while this registry's loaded data are young enough (`dnc.registry`).
    pub registry: Option<crate::compliance::registry::Registry>,
    /// The automated opt-out of every prerecorded message (47 CFR 64.1200(b)(3)).
    pub opt_out: OptOutPolicy,
}

/// `dnc.opt_out_*`: the key that opts out during (or right after) a prerecorded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutPolicy {
    /// One of 0-9, `*`, `#` (default `9`).
    pub key: char,
    /// Which DNC list the number goes on.
    pub scope: OptOutScope,
    /// How long the key is still taken after the safe-harbor or agentless message ended.
    pub wait: Duration,
    /// Played after the key (a WAV; a text prompt is not played).
    pub confirm: Option<Prompt>,
}

/// Which DNC list an opt-out puts the number on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOutScope {
    /// The campaign's own list.
    Campaign,
    /// The campaign's list and the global one.
    Global,
}

/// The campaign's additions to the shipped state rules: they can only refuse more calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compliance {
    pub rules: Vec<crate::compliance::states::Rule>,
}

/// An agent disposition from the campaign's catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// snake_case, unique, not an [`Outcome`]'s code.
    pub code: String,
    pub label: String,
    pub effect: DispositionEffect,
    /// Counts as a success (sale, promise to pay) in reports.
    pub success: bool,
    /// Counts as a conversation for Regulation F's 7-day quiet period.
    pub conversation: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispositionEffect {
    /// The lead is done.
    Final,
    /// Dial again after this delay.
    RetryAfter(Duration),
    /// Add the number to the campaign's DNC list at once.
    Dnc,
    /// The agent sets a callback time.
    Callback,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// Played once before the first question.
    pub intro: Option<Prompt>,
    pub questions: Vec<Question>,
    /// Played after the last answer.
    pub outro: Option<Prompt>,
}

/// `[script]`: the agent's script (text prompts) and the agent-assisted survey questions, each
/// answered with a button on the desktop and stored like the agentless survey's answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub text: Option<String>,
    pub questions: Vec<ScriptQuestion>,
}

impl Script {
    /// The question with this id.
    pub fn question(&self, id: &str) -> Option<&ScriptQuestion> {
        self.questions.iter().find(|q| q.id == id)
    }
}

/// A question the agent asks, with the answers they may record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptQuestion {
    /// snake_case, unique in the script; the stored question.
    pub id: String,
    pub text: String,
    pub answers: Vec<ScriptAnswer>,
}

/// One answer: a snake_case key (stored) and the button's label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptAnswer {
    pub key: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: String,
    pub prompt: Prompt,
    /// DTMF digit (`0`–`9`, `*`, `#`) → stored answer value.
    pub answers: BTreeMap<char, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A recorded prompt (a value ending in `.wav`), resolved against the campaign's directory.
    Wav(PathBuf),
    /// Text for an agent to read, or for speech synthesis.
    Text(String),
}

/// Starting estimates for the pacer, replaced by measurements as calls end.
#[derive(Debug, Clone, PartialEq)]
pub struct Priors {
    /// Live (human) answers per dial.
    pub hit_rate: f64,
    /// Machine answers per dial.
    pub machine_rate: f64,
    /// Mean seconds from dial to answer.
    pub ring_s: f64,
    /// Mean talk seconds.
    pub talk_s: f64,
    /// Mean wrap-up seconds.
    pub wrap_s: f64,
}

#[cfg(test)]
mod tests;
