//! The settings sections of a campaign: `[hours]`, `[dialing]`, `[abandon]`, `[amd]` (with the
//! detector's tuning), `[retry]`, `[limits]` and `[priors]`.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;

use super::CampaignReader;
use super::values::{choice, time, weekday};
use crate::campaign::reader::{Ctx, Table};
use crate::campaign::*;
use crate::domain::Outcome;

/// `dialing.preview_timeout` bounds: time to read a lead; beyond an hour, leave it out.
const PREVIEW_TIMEOUT_MIN: Duration = Duration::from_secs(5);
const PREVIEW_TIMEOUT_MAX: Duration = Duration::from_secs(3600);

impl CampaignReader<'_> {
    pub(super) fn hours(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        regime: Regime,
    ) -> Option<CallingHours> {
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

    pub(super) fn dialing(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        mode: Option<Mode>,
    ) -> Option<Dialing> {
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
        // Optional: how much riskier than a new dial a ringing call must be to be shed.
        let shed_factor = match t.get("shed_factor") {
            None => Some(crate::pacing::PredictiveConfig::default().shed_factor),
            Some(i) => i.float(ctx).and_then(|f| {
                let max = crate::pacing::predictive::MAX_SHED_FACTOR;
                if (1.0..=max).contains(&f) {
                    Some(f)
                } else {
                    ctx.problem(
                        &i.key,
                        format!(
                            "{f} is out of range (1 to {max}: below 1 a ringing call would go \
                             when safer than a new dial; above {max} predictive dials as if it \
                             could shed an over-dial it hardly ever sheds; to shed nothing, set \
                             shed_after = \"off\")"
                        ),
                    );
                    None
                }
            }),
        };
        t.finish(ctx);
        Some(Dialing {
            ring_timeout: ring?,
            calls_per_second: cps?,
            max_concurrent: max? as u32,
            connect_limit: connect?,
            preview_timeout: preview_timeout?,
            shed_after: shed_after?,
            shed_factor: shed_factor?,
        })
    }

    pub(super) fn abandon(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        regime: Regime,
    ) -> Option<AbandonPolicy> {
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

    pub(super) fn amd(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<AmdSettings> {
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

    /// `recording = true/false`, or `[recording]` with `enabled` (default true), `announce` and
    /// `keep` (at least 1h).
    /// A US campaign that records must announce it: some states require every party's consent
    /// (`compliance/data/consent_states.toml`) and a lead's state is only ever inferred.
    pub(super) fn recording(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        regime: Option<Regime>,
    ) -> Option<Recording> {
        let is_table = root
            .get("recording")
            .is_some_and(|i| matches!(i.value.kind, config::ValueKind::Table(_)));
        let r = if is_table {
            let t = root.table(ctx, "recording");
            let enabled = t.bool(ctx, "enabled").unwrap_or(true);
            let announce = t
                .string(ctx, "announce")
                .map(|s| self.wav(ctx, &t.key("announce"), &s));
            // `Some(None)`: set but refused (the problem is reported).
            let keep = match t.duration(ctx, "keep") {
                Some((d, text)) if d < std::time::Duration::from_secs(3600) => {
                    ctx.problem(
                        t.key("keep"),
                        format!("{text:?}: at least 1h (recordings are deleted by the hour)"),
                    );
                    Some(None)
                }
                Some((d, _)) => Some(Some(d)),
                None if t.get("keep").is_some() => Some(None),
                None => None,
            };
            t.finish(ctx);
            let keep = match keep {
                Some(None) => return None,
                Some(Some(d)) => Some(d),
                None => None,
            };
            Recording {
                enabled,
                keep,
                announce: match announce {
                    Some(None) => return None,
                    Some(Some(p)) => Some(p),
                    None => None,
                },
            }
        } else {
            Recording {
                enabled: root.bool(ctx, "recording").unwrap_or(false),
                announce: None,
                keep: None,
            }
        };
        if r.enabled && r.announce.is_none() && regime == Some(Regime::Us) {
            ctx.problem(
                root.key("recording.announce"),
                format!(
                    "missing: a US campaign that records calls must announce it before the agent \
                     (`recording.announce = \"audio/recorded.wav\"`): {} require every party's \
                     consent to a recording, and a lead's state is only inferred \
                     (see dialer's compliance/data/consent_states.toml)",
                    crate::compliance::consent::shipped_codes()
                ),
            );
            return None;
        }
        Some(r)
    }

    pub(super) fn retry(
        &self,
        ctx: &mut Ctx,
        root: &Table<'_>,
        regime: Regime,
    ) -> Option<RetryPolicy> {
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

    pub(super) fn limits(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<RollingLimits> {
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

    pub(super) fn priors(&self, ctx: &mut Ctx, root: &Table<'_>) -> Option<Priors> {
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

/// The detector's settings from `[amd]`: each key is the detector's own setting name (as in
/// `dialer amd --set`), and only what the file sets overrides `amd::Settings::default()`.
fn amd_tuning(ctx: &mut Ctx, t: &Table<'_>) -> Option<crate::amd::Settings> {
    type Field = fn(&mut crate::amd::Settings) -> &mut u32;
    const MS: i64 = 60_000;
    let ints: [(&'static str, i64, i64, Field); 23] = [
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
        ("statement_greeting_ms", 0, MS, |s| {
            &mut s.statement_greeting_ms
        }),
        ("phrased_statement_greeting_ms", 0, MS, |s| {
            &mut s.phrased_statement_greeting_ms
        }),
        ("sentence_pause_ms", 0, MS, |s| &mut s.sentence_pause_ms),
        ("after_statement_silence_ms", 0, MS, |s| {
            &mut s.after_statement_silence_ms
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
    if let Some(i) = t.get("statement_rise_semitones") {
        match i.float(ctx) {
            Some(v) => d.statement_rise_semitones = v as f32,
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
