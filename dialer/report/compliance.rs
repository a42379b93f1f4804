//! `dialer report --compliance`: what a compliance officer asks of a period, from the store
//! alone: the abandon rate of each regulatory window ending in it (one per day), calls by the
//! lead's local hour, attempts per lead over the 7 days ending at `--until`, the opt-outs, and
//! every exception found in the attempts' evidence (an attempt without evidence, a call outside
//! the hours or a state's window, a count at or over its cap, an abandon rate over the cap at
//! the dial, stale registry data). A pure function of the rows.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::civil::Time;
use serde::Serialize;

use super::{Policy, rfc3339, window_range};
use crate::compliance::evidence::Evidence;
use crate::compliance::registry::Registry;
use crate::store::attempts::{ComplianceAttempt, ComplianceOptOut};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Serialize)]
pub struct ComplianceReport {
    pub campaign: String,
    pub since: String,
    pub until: String,
    pub attempts: usize,
    pub with_evidence: usize,
    pub abandon_cap: f64,
    pub abandon_windows: Vec<WindowRow>,
    /// Calls by the local hour of the first candidate zone (index 0–23).
    pub calls_by_local_hour: Vec<u64>,
    pub attempts_per_lead_7d: PerLead,
    pub opt_outs: Vec<OptOutRow>,
    pub exceptions: Vec<Exception>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowRow {
    pub since: String,
    pub until: String,
    pub live: u64,
    pub abandoned: u64,
    pub rate: f64,
    pub over_cap: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PerLead {
    pub since: String,
    pub leads: u64,
    pub max: u64,
    /// Attempts → how many leads had that many.
    pub distribution: BTreeMap<u64, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptOutRow {
    pub attempt_id: i64,
    pub phone: String,
    pub digits: String,
    pub message: String,
    pub scope: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exception {
    pub attempt_id: i64,
    pub at: String,
    /// `no_evidence`, `unreadable_evidence`, `outside_hours`, `state_rule`, `over_24h_cap`,
    /// `over_7_in_7`, `abandon_over_cap`, `registry_stale`.
    pub kind: String,
    pub detail: String,
}

fn window_of(s: &str) -> Option<(Time, Time)> {
    let w = s.rsplit(' ').next()?;
    let (a, b) = w.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn local_time(local: &str) -> Option<Time> {
    local.get(11..).and_then(|t| t.parse().ok())
}

/// The exceptions one attempt's evidence shows.
pub fn exceptions_of(a: &ComplianceAttempt, e: &Evidence) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut push = |k: &str, d: String| out.push((k.to_string(), d));
    let days: Vec<&str> = e
        .hours
        .split(' ')
        .next()
        .map(|d| d.split(',').collect())
        .unwrap_or_default();
    if let Some((start, end)) = window_of(&e.hours) {
        for z in &e.zones {
            let day = z
                .local
                .parse::<jiff::civil::DateTime>()
                .ok()
                .map(|d| d.strftime("%a").to_string());
            let off_day = day.is_some_and(|d| !days.contains(&d.as_str()));
            if let Some(t) = local_time(&z.local)
                && (off_day || !(t >= start && t < end))
            {
                push(
                    "outside_hours",
                    format!("{} in {}, hours {}", z.local, z.zone, e.hours),
                );
            }
        }
    }
    for r in &e.state_rules {
        match r.window.as_deref() {
            Some(w) if w.starts_with("closed") => {
                push("state_rule", format!("{}: {w}", r.region));
            }
            Some(w) => {
                if let Some((start, end)) = window_of(w) {
                    for z in &e.zones {
                        if let Some(t) = local_time(&z.local)
                            && !(t >= start && t < end)
                        {
                            push(
                                "state_rule",
                                format!("{} in {}, {} window {w}", z.local, z.zone, r.region),
                            );
                        }
                    }
                }
            }
            None => {}
        }
    }
    let cap = e
        .per_24h_cap
        .into_iter()
        .chain(e.state_rules.iter().filter_map(|r| r.cap_24h))
        .min();
    if let Some(cap) = cap
        && e.attempts_24h >= cap
    {
        push(
            "over_24h_cap",
            format!("{} earlier attempts in 24 h, cap {cap}", e.attempts_24h),
        );
    }
    if e.reg_f && e.attempts_7d >= crate::compliance::REG_F_MAX_IN_7_DAYS as u32 {
        push(
            "over_7_in_7",
            format!("{} earlier attempts in 7 days", e.attempts_7d),
        );
    }
    if let Some(rate) = e.abandon.rate
        && rate > e.abandon.cap
    {
        push(
            "abandon_over_cap",
            format!(
                "abandon rate {:.2} % over the cap {:.2} % at the dial",
                rate * 100.0,
                e.abandon.cap * 100.0
            ),
        );
    }
    if let Some(reg) = &e.registry
        && let Ok(r) = reg.name.parse::<Registry>()
        && let Some(days) = r.max_age_days()
    {
        let at = e.dial_at_ms.unwrap_or(a.dial_at_ms);
        match reg.data_ms {
            None => push("registry_stale", format!("no {} data loaded", reg.name)),
            Some(d) if at - d > days * DAY_MS => push(
                "registry_stale",
                format!(
                    "{} data {} days old (max {days})",
                    reg.name,
                    (at - d) / DAY_MS
                ),
            ),
            Some(_) => {}
        }
    }
    out
}

/// The report of `[since_ms, until_ms)`. `attempts`: the campaign's attempts from the start of
/// the first abandon window (30 days before `since_ms` under US rules) to `until_ms`.
pub fn build(
    campaign: &str,
    policy: &Policy,
    since_ms: i64,
    until_ms: i64,
    attempts: &[ComplianceAttempt],
    opt_outs: &[ComplianceOptOut],
) -> ComplianceReport {
    // One window per day of the period, ending at the day's end (the campaign's zone).
    let mut abandon_windows = Vec::new();
    let mut day_end = Timestamp::from_millisecond(since_ms)
        .ok()
        .map(|t| t.to_zoned_datetime(policy.timezone.clone()))
        .and_then(|z| z.start_of_day().ok())
        .and_then(|z| z.tomorrow().ok())
        .and_then(|z| z.start_of_day().ok())
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(since_ms + DAY_MS);
    loop {
        let end = day_end.min(until_ms);
        let (ws, we) = window_range(policy, end);
        let (mut live, mut abandoned) = (0u64, 0u64);
        for a in attempts
            .iter()
            .filter(|a| a.dial_at_ms >= ws && a.dial_at_ms < we)
        {
            live += u64::from(a.live);
            abandoned += u64::from(a.live && a.abandoned);
        }
        let rate = if live == 0 {
            0.0
        } else {
            abandoned as f64 / live as f64
        };
        abandon_windows.push(WindowRow {
            since: rfc3339(ws),
            until: rfc3339(we),
            live,
            abandoned,
            rate,
            over_cap: rate > policy.cap,
        });
        if end >= until_ms || abandon_windows.len() > 400 {
            break;
        }
        day_end = Timestamp::from_millisecond(day_end)
            .ok()
            .map(|t| t.to_zoned_datetime(policy.timezone.clone()))
            .and_then(|z| z.tomorrow().ok())
            .and_then(|z| z.start_of_day().ok())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(day_end + DAY_MS);
    }

    let period: Vec<&ComplianceAttempt> = attempts
        .iter()
        .filter(|a| a.dial_at_ms >= since_ms && a.dial_at_ms < until_ms)
        .collect();
    let mut hours = vec![0u64; 24];
    let mut exceptions = Vec::new();
    let mut with_evidence = 0;
    for a in &period {
        let at = rfc3339(a.dial_at_ms);
        let Some(json) = &a.evidence else {
            exceptions.push(Exception {
                attempt_id: a.id,
                at,
                kind: "no_evidence".into(),
                detail: "no evidence stored with the attempt".into(),
            });
            continue;
        };
        let e: Evidence = match serde_json::from_str(json) {
            Ok(e) => e,
            Err(err) => {
                exceptions.push(Exception {
                    attempt_id: a.id,
                    at,
                    kind: "unreadable_evidence".into(),
                    detail: err.to_string(),
                });
                continue;
            }
        };
        with_evidence += 1;
        if let Some(h) = e
            .zones
            .first()
            .and_then(|z| local_time(&z.local))
            .and_then(|t| usize::try_from(t.hour()).ok())
            && let Some(slot) = hours.get_mut(h)
        {
            *slot += 1;
        }
        for (kind, detail) in exceptions_of(a, &e) {
            exceptions.push(Exception {
                attempt_id: a.id,
                at: at.clone(),
                kind,
                detail,
            });
        }
    }

    let week_from = until_ms - 7 * DAY_MS;
    let mut per_lead: HashMap<i64, u64> = HashMap::new();
    for a in attempts
        .iter()
        .filter(|a| a.dial_at_ms >= week_from && a.dial_at_ms < until_ms)
    {
        *per_lead.entry(a.lead_id).or_default() += 1;
    }
    let mut distribution = BTreeMap::new();
    for n in per_lead.values() {
        *distribution.entry(*n).or_default() += 1;
    }
    ComplianceReport {
        campaign: campaign.to_string(),
        since: rfc3339(since_ms),
        until: rfc3339(until_ms),
        attempts: period.len(),
        with_evidence,
        abandon_cap: policy.cap,
        abandon_windows,
        calls_by_local_hour: hours,
        attempts_per_lead_7d: PerLead {
            since: rfc3339(week_from),
            leads: per_lead.len() as u64,
            max: per_lead.values().copied().max().unwrap_or(0),
            distribution,
        },
        opt_outs: opt_outs
            .iter()
            .map(|o| OptOutRow {
                attempt_id: o.attempt_id,
                phone: o.phone.clone(),
                digits: o.digits.clone(),
                message: o.message.clone(),
                scope: o.scope.clone(),
                at: rfc3339(o.at_ms),
            })
            .collect(),
        exceptions,
    }
}

/// The report as text.
pub fn text(r: &ComplianceReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "compliance report: campaign {} from {} to {}",
        r.campaign, r.since, r.until
    );
    let _ = writeln!(
        s,
        "attempts: {} ({} with evidence)",
        r.attempts, r.with_evidence
    );
    let _ = writeln!(
        s,
        "\nabandon rate per window (cap {:.1} %):",
        r.abandon_cap * 100.0
    );
    for w in &r.abandon_windows {
        let _ = writeln!(
            s,
            "  {} .. {}  {:>6} live  {:>5} abandoned  {:>6.2} %{}",
            w.since,
            w.until,
            w.live,
            w.abandoned,
            w.rate * 100.0,
            if w.over_cap { "  OVER CAP" } else { "" }
        );
    }
    let _ = writeln!(s, "\ncalls by local hour:");
    for (h, n) in r.calls_by_local_hour.iter().enumerate() {
        if *n > 0 {
            let _ = writeln!(s, "  {h:02}:00  {n}");
        }
    }
    let p = &r.attempts_per_lead_7d;
    let _ = writeln!(
        s,
        "\nattempts per lead since {}: {} leads, max {}",
        p.since, p.leads, p.max
    );
    for (n, leads) in &p.distribution {
        let _ = writeln!(s, "  {n} attempts: {leads} leads");
    }
    let _ = writeln!(s, "\nopt-outs: {}", r.opt_outs.len());
    for o in &r.opt_outs {
        let _ = writeln!(
            s,
            "  {} attempt {} {} key {} during {} ({})",
            o.at, o.attempt_id, o.phone, o.digits, o.message, o.scope
        );
    }
    let _ = writeln!(s, "\nexceptions: {}", r.exceptions.len());
    for e in &r.exceptions {
        let _ = writeln!(
            s,
            "  attempt {} at {}: {}: {}",
            e.attempt_id, e.at, e.kind, e.detail
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::evidence::{AbandonSeen, RegistrySeen, RuleSeen, ZoneSeen};

    fn evidence(local: &str) -> Evidence {
        Evidence {
            allowed_at_ms: 0,
            dial_at_ms: Some(40 * DAY_MS),
            zones_from: "zone_key".into(),
            zones: vec![
                ZoneSeen {
                    zone: "America/Denver".into(),
                    local: format!("2026-12-07T{local}"),
                },
                ZoneSeen {
                    zone: "America/Los_Angeles".into(),
                    local: "2026-12-07T12:00:00".into(),
                },
            ],
            regions: vec!["US-ID".into()],
            hours: "Mon,Tue 09:00-21:00".into(),
            state_rules: vec![RuleSeen {
                region: "US-XX".into(),
                window: Some("08:00-20:00".into()),
                cap_24h: Some(3),
                holidays_closed: false,
                source: "test".into(),
            }],
            attempts_24h: 2,
            per_24h_cap: Some(5),
            attempts_7d: 2,
            reg_f: true,
            abandon: AbandonSeen {
                cap: 0.03,
                window: "rolling_30_days".into(),
                since_ms: 10 * DAY_MS,
                live: 100,
                abandoned: 3,
                machines: 0,
                amd_false_positive_rate: 0.0,
                rate: Some(0.03),
            },
            registry: Some(RegistrySeen {
                name: "us-national".into(),
                data_ms: Some(10 * DAY_MS),
            }),
            rules_version: "v".into(),
        }
    }

    fn kinds(e: &Evidence) -> Vec<String> {
        let a = ComplianceAttempt {
            id: 1,
            lead_id: 1,
            dial_at_ms: 40 * DAY_MS,
            live: false,
            abandoned: false,
            evidence: None,
        };
        exceptions_of(&a, e).into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn exceptions_are_read_from_the_evidence() {
        // Inside every window, under every cap, the rate at the cap, data 30 days old: none.
        assert!(kinds(&evidence("19:59:59")).is_empty());
        // 20:00 is past the state's window, not the campaign's.
        assert_eq!(kinds(&evidence("20:00:00")), ["state_rule"]);
        assert_eq!(
            kinds(&evidence("21:00:00")),
            ["outside_hours", "state_rule"]
        );
        assert_eq!(kinds(&evidence("08:30:00")), ["outside_hours"]);
        // 2026-12-07 is a Monday: a Wednesday-only campaign was closed.
        let mut e = evidence("12:00:00");
        e.hours = "Wed 09:00-21:00".into();
        assert_eq!(kinds(&e), ["outside_hours", "outside_hours"]);
        let mut e = evidence("12:00:00");
        e.attempts_24h = 3;
        e.attempts_7d = 7;
        e.abandon.rate = Some(0.031);
        e.registry = Some(RegistrySeen {
            name: "us-national".into(),
            data_ms: Some(8 * DAY_MS),
        });
        assert_eq!(
            kinds(&e),
            [
                "over_24h_cap",
                "over_7_in_7",
                "abandon_over_cap",
                "registry_stale"
            ]
        );
        e.state_rules[0].window = Some("closed".into());
        assert!(kinds(&e).contains(&"state_rule".to_string()));
    }

    #[test]
    fn the_sentence_names_every_zone_rule_and_count() {
        let s = crate::compliance::evidence::sentence(&evidence("19:30:00"));
        assert!(
            s.starts_with(
                "19:30 in America/Denver (candidate zones: America/Denver, \
                 America/Los_Angeles; also America/Los_Angeles 12:00, from the number): \
                 campaign hours Mon,Tue 09:00-21:00, XX rule 08:00-20:00, cap 3 per 24 h, \
                 no state rule for ID; 2 attempts in the last 24 h (cap 3), 2 in 7 days"
            ),
            "{s}"
        );
        assert!(
            s.contains("registry us-national data of 1970-01-11 (30 days old)"),
            "{s}"
        );
    }
}
