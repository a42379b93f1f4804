//! Evidence per attempt: what the rules saw when a dial was allowed, stored with the attempt
//! (`call_attempts.evidence`, compact JSON) so a compliance officer can prove from the store
//! alone why each call was made (`dialer audit`, `dialer report --compliance`).
//!
//! Built in two steps, both pure: [`build`] when the scheduler takes a lead (the candidate
//! zones, the windows in force, the attempt counts, the registry data's date, the rules
//! version, the abandon policy), then [`Evidence::at_dial`] when the attempt row is written
//! (the local times at the dial, and the abandon counts of the window ending at the dial, read
//! in the same transaction by the store).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::states::{self, Day};
use super::{LeadFacts, Refusal, registry::Registry};
use crate::campaign::{AbandonWindow, Campaign};

const DAY_MS: i64 = 86_400_000;

/// What the rules saw when an attempt was allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// When the scheduler allowed it (unix ms).
    pub allowed_at_ms: i64,
    /// When it was dialed (unix ms; set by the store when the attempt starts).
    #[serde(default)]
    pub dial_at_ms: Option<i64>,
    /// Where the zones came from: `zone_key` (the lead's candidate zones), `lead_zone` (a lead
    /// stored before zone keys), `campaign` (the campaign's zone).
    pub zones_from: String,
    /// Each candidate zone and its local wall time (at the dial once dialed).
    pub zones: Vec<ZoneSeen>,
    /// The regions the number resolves to (`US-NY`, `US-*`, `GB`).
    pub regions: Vec<String>,
    /// The campaign's calling window as applied (`Mon,Tue,… 09:00-21:00`, federal limits in).
    pub hours: String,
    /// The state rules of those regions (shipped and the campaign's own).
    pub state_rules: Vec<RuleSeen>,
    /// Attempts to this lead in the 24 h before this one.
    pub attempts_24h: u32,
    /// The campaign's `limits.per_24h`.
    pub per_24h_cap: Option<u32>,
    /// Attempts in the 7 days before this one.
    pub attempts_7d: u32,
    /// Regulation F's 7-in-7 applies.
    pub reg_f: bool,
    pub abandon: AbandonSeen,
    /// The registry the campaign scrubs against and its loaded data's date.
    pub registry: Option<RegistrySeen>,
    /// The shipped state rules' version.
    pub rules_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSeen {
    pub zone: String,
    /// `YYYY-MM-DDTHH:MM:SS` local wall time.
    pub local: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSeen {
    pub region: String,
    /// The rule's window on the local day (`08:00-20:00`, `closed`), `None`: it says nothing.
    pub window: Option<String>,
    pub cap_24h: Option<u32>,
    pub holidays_closed: bool,
    pub source: String,
}

/// The abandon rate's window at the dial: the pacer's budget is seeded from the same store
/// counts (live answers, abandons, AMD machines of the window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbandonSeen {
    pub cap: f64,
    /// `rolling_30_days` or `calendar_day`.
    pub window: String,
    pub since_ms: i64,
    #[serde(default)]
    pub live: u64,
    #[serde(default)]
    pub abandoned: u64,
    #[serde(default)]
    pub machines: u64,
    pub amd_false_positive_rate: f64,
    /// Abandoned / live answers (with the UK estimate of people among machines); `None` until
    /// the counts are in.
    #[serde(default)]
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrySeen {
    pub name: String,
    /// The loaded data's date (unix ms); `None`: none loaded.
    pub data_ms: Option<i64>,
}

fn local(tz: &TimeZone, at: Timestamp) -> String {
    tz.to_datetime(at).strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

fn within(recent: &[Timestamp], at: Timestamp, hours: i64) -> u32 {
    let from = at
        .checked_sub(SignedDuration::from_hours(hours))
        .unwrap_or(Timestamp::MIN);
    let n = recent.iter().filter(|t| **t > from && **t <= at).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The start of the abandon window ending at `at_ms` (the report's and the pacer's reading).
pub fn abandon_since(window: AbandonWindow, tz: &TimeZone, at_ms: i64) -> i64 {
    match window {
        AbandonWindow::Rolling30Days => at_ms - 30 * DAY_MS,
        AbandonWindow::CalendarDay => Timestamp::from_millisecond(at_ms)
            .ok()
            .map(|t| t.to_zoned_datetime(tz.clone()))
            .and_then(|z| z.start_of_day().ok())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(at_ms - DAY_MS),
    }
}

/// The evidence of a lead the rules allow at `at` (call after [`super::check`] said yes).
/// `registry`: the registry the campaign scrubs against and its loaded data's date.
pub fn build(
    c: &Campaign,
    f: &LeadFacts<'_>,
    at: Timestamp,
    registry: Option<(Registry, Option<Timestamp>)>,
) -> Evidence {
    let (zones_from, zones, regions) = match f.place {
        Some(p) if !p.zones.is_empty() => (
            "zone_key",
            p.zones.iter().map(|(n, tz)| (n.clone(), tz)).collect(),
            p.regions.clone(),
        ),
        Some(p) => (
            "campaign",
            vec![(c.hours.timezone_name.clone(), &c.hours.timezone)],
            p.regions.clone(),
        ),
        None => match (f.zone, f.zone_name) {
            (Some(tz), Some(n)) => ("lead_zone", vec![(n.to_string(), tz)], Vec::new()),
            _ => (
                "campaign",
                vec![(c.hours.timezone_name.clone(), &c.hours.timezone)],
                Vec::new(),
            ),
        },
    };
    let first_local = zones.first().map(|(_, tz)| tz.to_datetime(at));
    let state_rules = states::rules_for(&regions, &c.compliance.rules)
        .map(|r| RuleSeen {
            region: r.region.clone(),
            window: first_local.and_then(|l| {
                if r.holiday(l.date()).is_some() {
                    return Some("closed (holiday)".to_string());
                }
                r.day(l.weekday()).map(|d| match d {
                    Day::Closed => "closed".to_string(),
                    Day::Window(a, b) => {
                        format!("{}-{}", a.strftime("%H:%M"), b.strftime("%H:%M"))
                    }
                })
            }),
            cap_24h: r.cap_24h,
            holidays_closed: r.holidays_closed,
            source: r.source.clone(),
        })
        .collect();
    let at_ms = at.as_millisecond();
    Evidence {
        allowed_at_ms: at_ms,
        dial_at_ms: None,
        zones_from: zones_from.to_string(),
        zones: zones
            .iter()
            .map(|(n, tz)| ZoneSeen {
                zone: n.clone(),
                local: local(tz, at),
            })
            .collect(),
        regions,
        hours: hours_text(c),
        state_rules,
        attempts_24h: within(f.recent_attempts, at, 24),
        per_24h_cap: c.limits.per_24h,
        attempts_7d: within(f.recent_attempts, at, 24 * 7),
        reg_f: c.limits.reg_f,
        abandon: AbandonSeen {
            cap: c.abandon.cap,
            window: match c.abandon.window {
                AbandonWindow::Rolling30Days => "rolling_30_days",
                AbandonWindow::CalendarDay => "calendar_day",
            }
            .to_string(),
            since_ms: abandon_since(c.abandon.window, &c.hours.timezone, at_ms),
            live: 0,
            abandoned: 0,
            machines: 0,
            amd_false_positive_rate: c.abandon.amd_false_positive_rate,
            rate: None,
        },
        registry: registry.map(|(r, d)| RegistrySeen {
            name: r.as_str().to_string(),
            data_ms: d.map(|t| t.as_millisecond()),
        }),
        rules_version: states::SHIPPED.version.clone(),
    }
}

/// The campaign's calling window as [`super::hours`] applies it.
pub fn hours_text(c: &Campaign) -> String {
    match super::hours(c, &TimeZone::UTC, "", Timestamp::MIN) {
        // Timestamp::MIN is far outside any window, so the refusal names the window.
        Err(Refusal::OutsideHours { window, .. }) => window,
        _ => {
            let (a, b) = super::window(c);
            format!("{}-{}", a.strftime("%H:%M"), b.strftime("%H:%M"))
        }
    }
}

impl Evidence {
    /// The dial instant, the local times at it, and the abandon counts of the window ending at
    /// it (`[abandon.since_ms, dial)`, read by the store).
    pub fn at_dial(&mut self, dial_ms: i64, live: u64, abandoned: u64, machines: u64) {
        self.dial_at_ms = Some(dial_ms);
        if let Ok(t) = Timestamp::from_millisecond(dial_ms) {
            for z in &mut self.zones {
                if let Ok(tz) = TimeZone::get(&z.zone) {
                    z.local = local(&tz, t);
                }
            }
        }
        let a = &mut self.abandon;
        a.live = live;
        a.abandoned = abandoned;
        a.machines = machines;
        let estimate = machines as f64 * a.amd_false_positive_rate;
        let people = live as f64 + estimate;
        a.rate = Some(if people > 0.0 {
            (abandoned as f64 + estimate) / people
        } else {
            0.0
        });
    }

    /// The abandon window's start for a dial at `dial_ms` (a rolling window moves with it).
    pub fn abandon_since_at(&self, dial_ms: i64) -> i64 {
        if self.abandon.window == "rolling_30_days" {
            dial_ms - 30 * DAY_MS
        } else {
            self.abandon.since_ms
        }
    }

    /// The instant the evidence speaks of: the dial, else the allowance.
    pub fn at_ms(&self) -> i64 {
        self.dial_at_ms.unwrap_or(self.allowed_at_ms)
    }
}

/// Short region name for sentences: `US-NY` → `NY`.
fn region_short(r: &str) -> &str {
    r.strip_prefix("US-").unwrap_or(r)
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// The evidence in words: why this number was called then.
pub fn sentence(e: &Evidence) -> String {
    sentence_with_source(e, None)
}

/// [`sentence`], naming how the lead's zone key was found at import (`leads.zone_source`:
/// `column`, `postal_code`, `number`, `campaign_default`) when it is known.
pub fn sentence_with_source(e: &Evidence, zone_source: Option<&str>) -> String {
    let mut parts = Vec::new();
    let (first_zone, first_local) = e
        .zones
        .first()
        .map(|z| (z.zone.as_str(), z.local.as_str()))
        .unwrap_or(("?", "?"));
    let hhmm = first_local.get(11..16).unwrap_or(first_local);
    let names: Vec<&str> = e.zones.iter().map(|z| z.zone.as_str()).collect();
    let others: Vec<String> = e
        .zones
        .iter()
        .skip(1)
        .map(|z| format!("{} {}", z.zone, z.local.get(11..16).unwrap_or(&z.local)))
        .collect();
    let mut head = format!(
        "{hhmm} in {first_zone} (candidate zones: {}",
        names.join(", ")
    );
    if !others.is_empty() {
        head.push_str(&format!("; also {}", others.join(", ")));
    }
    head.push_str(match (e.zones_from.as_str(), zone_source) {
        ("zone_key", Some("column")) => ", from the list's zone column",
        ("zone_key", Some("postal_code")) => ", from the postal code",
        ("zone_key", Some("campaign_default")) => {
            ", the campaign's zone (nothing known of the number)"
        }
        ("zone_key", _) => ", from the number",
        ("lead_zone", _) => ", the lead's zone",
        _ => ", the campaign's zone",
    });
    head.push(')');
    let mut windows = format!("campaign hours {}", e.hours);
    let with_rules: Vec<&RuleSeen> = e.state_rules.iter().collect();
    for r in &with_rules {
        let mut s = format!(", {} rule", region_short(&r.region));
        match &r.window {
            Some(w) => s.push_str(&format!(" {w}")),
            None => s.push_str(" (no window that day)"),
        }
        if let Some(cap) = r.cap_24h {
            s.push_str(&format!(", cap {cap} per 24 h"));
        }
        windows.push_str(&s);
    }
    let ruled: Vec<&str> = e.state_rules.iter().map(|r| r.region.as_str()).collect();
    let unruled: Vec<&str> = e
        .regions
        .iter()
        .map(String::as_str)
        .filter(|g| !ruled.contains(g) && *g != super::zones::US_ANY)
        .map(region_short)
        .collect();
    if !unruled.is_empty() {
        windows.push_str(&format!(", no state rule for {}", unruled.join(", ")));
    } else if e.state_rules.is_empty() {
        windows.push_str(", no state rule");
    }
    parts.push(format!("{head}: {windows}"));
    let caps: Vec<u32> = e
        .per_24h_cap
        .into_iter()
        .chain(e.state_rules.iter().filter_map(|r| r.cap_24h))
        .collect();
    let plural = |n: u32| if n == 1 { "attempt" } else { "attempts" };
    let mut counts = format!(
        "{} {} in the last 24 h",
        e.attempts_24h,
        plural(e.attempts_24h)
    );
    match caps.iter().min() {
        Some(c) => counts.push_str(&format!(" (cap {c})")),
        None => counts.push_str(" (no cap)"),
    }
    if e.reg_f {
        counts.push_str(&format!(
            ", {} in 7 days (Regulation F cap {})",
            e.attempts_7d,
            super::REG_F_MAX_IN_7_DAYS
        ));
    }
    parts.push(counts);
    let over = if e.abandon.window == "calendar_day" {
        "today"
    } else {
        "over the last 30 days"
    };
    parts.push(match e.abandon.rate {
        Some(r) => format!(
            "abandon rate {} of {} {over} ({} of {} live answers)",
            pct(r),
            pct(e.abandon.cap),
            e.abandon.abandoned,
            e.abandon.live
        ),
        None => format!(
            "abandon cap {} {over} (rate not recorded)",
            pct(e.abandon.cap)
        ),
    });
    if let Some(reg) = &e.registry {
        parts.push(
            match reg
                .data_ms
                .and_then(|d| Timestamp::from_millisecond(d).ok())
            {
                Some(d) => {
                    let age = (e.at_ms() - d.as_millisecond()).div_euclid(DAY_MS);
                    format!(
                        "registry {} data of {} ({age} days old)",
                        reg.name,
                        d.strftime("%Y-%m-%d")
                    )
                }
                None => format!("registry {}: no data loaded", reg.name),
            },
        );
    } else {
        parts.push("no registry scrub configured".to_string());
    }
    parts.push(format!("rules {}", e.rules_version));
    parts.join("; ")
}
