//! The rules a dial must pass: calling windows in the lead's local time, DNC, attempt limits.
//!
//! Pure functions, no IO and no clock: [`check`] says whether a lead may be dialed at a UTC
//! instant under a campaign, and if not, a [`Refusal`] with a human message (the lead's local
//! time when outside hours, when a retry is due, …) and, where it is known, the instant the
//! refusal ends ([`Refusal::until`]).
//!
//! Boundaries: hours are `[start, end)` in the lead's local wall time (US: also never outside
//! 08:00–21:00 local); a retry is due at `last attempt + delay`; a rolling window of length `w`
//! at `t` holds the attempts in `(t − w, t]`.

use std::fmt;
use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::campaign::{Campaign, DispositionEffect, Mode, Regime};
use crate::domain::{LeadStatus, Outcome};

pub mod consent;
pub mod evidence;
pub mod registry;
pub mod states;
pub mod zones;

use zones::Place;

const DAY: SignedDuration = SignedDuration::from_hours(24);
const WEEK: SignedDuration = SignedDuration::from_hours(24 * 7);
const UK_ABANDON_GAP: SignedDuration = SignedDuration::from_hours(72);
/// Regulation F: at most this many calls in 7 days.
pub const REG_F_MAX_IN_7_DAYS: usize = 7;
/// The US federal calling window (16 CFR 310.4(c), 47 CFR 64.1200(c)(1)).
pub const US_EARLIEST: Time = Time::constant(8, 0, 0, 0);
pub const US_LATEST: Time = Time::constant(21, 0, 0, 0);

/// What the rules need to know about a lead.
#[derive(Debug, Clone, Default)]
pub struct LeadFacts<'a> {
    /// `None`: a stored status this build does not know (refused as closed).
    pub status: Option<LeadStatus>,
    /// Where the number may ring (its candidate zones and regions), from its stored zone key;
    /// when set it replaces `zone`. `None`: a lead stored before zone keys (then `zone`).
    pub place: Option<&'a Place>,
    /// The lead's zone; `None`: the campaign's zone.
    pub zone: Option<&'a TimeZone>,
    /// Its IANA name, for messages.
    pub zone_name: Option<&'a str>,
    pub attempts: u32,
    pub last_attempt_at: Option<Timestamp>,
    pub last_outcome: Option<&'a str>,
    /// Not before this instant (the scheduler's stored due time).
    pub next_attempt_at: Option<Timestamp>,
    pub callback_at: Option<Timestamp>,
    pub last_conversation_at: Option<Timestamp>,
    pub last_abandoned_at: Option<Timestamp>,
    pub last_machine_at: Option<Timestamp>,
    /// Attempt times of (at least) the last 7 days, any order.
    pub recent_attempts: &'a [Timestamp],
    /// On the campaign's own DNC list.
    pub dnc_campaign: bool,
    /// On the global DNC list (honoured when the campaign's `dnc.use_global` is on).
    pub dnc_global: bool,
    /// Leased to a dialer until then.
    pub lease_until: Option<Timestamp>,
}

/// Why a lead may not be dialed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The lead is closed (done, invalid, DNC; `None`: a status this build does not know).
    Closed {
        status: Option<LeadStatus>,
    },
    /// On a DNC list.
    Dnc {
        global: bool,
    },
    MaxAttempts {
        attempts: u32,
        max: u32,
    },
    /// Another dialer holds it.
    Leased {
        until: Timestamp,
    },
    /// A callback is scheduled later.
    Callback {
        at: Timestamp,
    },
    /// The retry delay after the last outcome has not passed.
    RetryDelay {
        outcome: String,
        due: Timestamp,
    },
    /// The campaign's N-per-24-hours limit.
    Per24h {
        limit: u32,
        until: Timestamp,
    },
    /// Regulation F: 7 calls in 7 days.
    RegF7in7 {
        until: Timestamp,
    },
    /// Regulation F: no call for 7 days after a conversation.
    RegFConversation {
        until: Timestamp,
    },
    /// UK: no call within 72 hours of an abandoned call (no agent guaranteed).
    UkAbandoned {
        until: Timestamp,
    },
    /// UK: no second call the same day after an AMD machine result (no agent guaranteed).
    UkMachineSameDay {
        until: Timestamp,
    },
    /// Outside the calling hours in the lead's local time.
    OutsideHours {
        local: jiff::civil::DateTime,
        zone: String,
        window: String,
    },
    /// A state's rule (window, Sunday, holiday) in one of the lead's candidate zones.
    StateRule {
        region: String,
        local: jiff::civil::DateTime,
        zone: String,
        rule: String,
    },
    /// A state's cap on calls to the same number in 24 hours.
    StateCap {
        region: String,
        limit: u32,
        until: Timestamp,
    },
    /// The campaign scrubs against a registry whose loaded data are too old (or missing).
    RegistryStale {
        registry: String,
        loaded: Option<Timestamp>,
        max_days: i64,
    },
    /// The lead's stored zone is not in the time-zone database.
    UnknownZone {
        zone: String,
    },
    /// Not before the stored due time.
    NotBefore {
        until: Timestamp,
    },
}

impl Refusal {
    /// A short stable code, for summaries and JSON.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Closed { .. } => "closed",
            Refusal::Dnc { .. } => "dnc",
            Refusal::MaxAttempts { .. } => "max_attempts",
            Refusal::Leased { .. } => "leased",
            Refusal::Callback { .. } => "callback",
            Refusal::RetryDelay { .. } => "retry_delay",
            Refusal::Per24h { .. } => "per_24h",
            Refusal::RegF7in7 { .. } => "reg_f_7_in_7",
            Refusal::RegFConversation { .. } => "reg_f_conversation",
            Refusal::UkAbandoned { .. } => "uk_abandoned_72h",
            Refusal::UkMachineSameDay { .. } => "uk_machine_same_day",
            Refusal::OutsideHours { .. } => "outside_hours",
            Refusal::StateRule { .. } => "state_rule",
            Refusal::StateCap { .. } => "state_cap_24h",
            Refusal::RegistryStale { .. } => "registry_stale",
            Refusal::UnknownZone { .. } => "unknown_zone",
            Refusal::NotBefore { .. } => "not_before",
        }
    }

    /// The instant this refusal ends on its own, when that does not depend on the clock
    /// of the lead's zone (calling hours) and the lead is not closed.
    pub fn until(&self) -> Option<Timestamp> {
        match self {
            Refusal::Leased { until }
            | Refusal::Per24h { until, .. }
            | Refusal::StateCap { until, .. }
            | Refusal::RegF7in7 { until }
            | Refusal::RegFConversation { until }
            | Refusal::UkAbandoned { until }
            | Refusal::UkMachineSameDay { until }
            | Refusal::NotBefore { until } => Some(*until),
            Refusal::Callback { at } => Some(*at),
            Refusal::RetryDelay { due, .. } => Some(*due),
            _ => None,
        }
    }
}

fn ts(t: &Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Closed { status: Some(s) } => write!(f, "lead is closed ({s})"),
            Refusal::Closed { status: None } => f.write_str("lead is closed (unknown status)"),
            Refusal::Dnc { global: true } => write!(f, "number is on the global do-not-call list"),
            Refusal::Dnc { global: false } => {
                write!(f, "number is on the campaign's do-not-call list")
            }
            Refusal::MaxAttempts { attempts, max } => {
                write!(f, "max attempts reached ({attempts} of {max})")
            }
            Refusal::Leased { until } => write!(f, "claimed by a dialer until {}", ts(until)),
            Refusal::Callback { at } => write!(f, "callback scheduled at {}", ts(at)),
            Refusal::RetryDelay { outcome, due } => {
                write!(f, "retry due at {} (after {outcome})", ts(due))
            }
            Refusal::Per24h { limit, until } => write!(
                f,
                "{limit} attempts in 24 hours already; next at {}",
                ts(until)
            ),
            Refusal::RegF7in7 { until } => write!(
                f,
                "Regulation F: 7 calls in 7 days already; next at {}",
                ts(until)
            ),
            Refusal::RegFConversation { until } => write!(
                f,
                "Regulation F: conversation in the last 7 days; next at {}",
                ts(until)
            ),
            Refusal::UkAbandoned { until } => write!(
                f,
                "UK: abandoned call in the last 72 hours; next at {}",
                ts(until)
            ),
            Refusal::UkMachineSameDay { until } => write!(
                f,
                "UK: answering machine earlier today; next at {}",
                ts(until)
            ),
            Refusal::OutsideHours {
                local,
                zone,
                window,
            } => write!(
                f,
                "outside calling hours: {} {} in {zone} (window {window})",
                local.strftime("%a"),
                local.strftime("%H:%M"),
            ),
            Refusal::StateRule {
                region,
                local,
                zone,
                rule,
            } => write!(
                f,
                "{region} rule: {rule}: {} {} in {zone}",
                local.strftime("%a"),
                local.strftime("%H:%M"),
            ),
            Refusal::StateCap {
                region,
                limit,
                until,
            } => write!(
                f,
                "{region} rule: {limit} calls in 24 hours already; next at {}",
                ts(until)
            ),
            Refusal::RegistryStale {
                registry,
                loaded: Some(t),
                max_days,
            } => write!(
                f,
                "the {registry} registry data are from {}, older than {max_days} days: load a \
                 new download (dialer dnc import --registry {registry})",
                ts(t),
            ),
            Refusal::RegistryStale {
                registry,
                loaded: None,
                ..
            } => write!(
                f,
                "no {registry} registry data loaded (dialer dnc import --registry {registry})"
            ),
            Refusal::UnknownZone { zone } => write!(f, "unknown time zone {zone:?}"),
            Refusal::NotBefore { until } => write!(f, "not due before {}", ts(until)),
        }
    }
}

fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// The effective daily window of a campaign: its hours, clamped to 08:00–21:00 under the US
/// regime.
pub fn window(c: &Campaign) -> (Time, Time) {
    let (mut start, mut end) = (c.hours.start, c.hours.end);
    if c.regime == Regime::Us {
        start = start.max(US_EARLIEST);
        end = end.min(US_LATEST);
    }
    (start, end)
}

/// Whether the calling hours are open at `at` in `zone`; the refusal names the local time.
pub fn hours(c: &Campaign, zone: &TimeZone, zone_name: &str, at: Timestamp) -> Result<(), Refusal> {
    let local = zone.to_datetime(at);
    let (start, end) = window(c);
    let t = local.time();
    if c.hours.days.contains(&local.weekday()) && t >= start && t < end {
        return Ok(());
    }
    let days: Vec<&str> = c.hours.days.iter().map(|d| weekday(*d)).collect();
    Err(Refusal::OutsideHours {
        local,
        zone: zone_name.to_string(),
        window: format!(
            "{} {}-{}",
            days.join(","),
            start.strftime("%H:%M"),
            end.strftime("%H:%M")
        ),
    })
}

/// The calling hours and the time-of-day and day rules of the lead's regions, in every one of
/// its candidate zones (an empty list: the campaign's zone). The first refusal names the zone
/// that closed the window.
pub fn place_open(c: &Campaign, place: &Place, at: Timestamp) -> Result<(), Refusal> {
    place_open_in(&states::SHIPPED.rules, c, place, at)
}

/// [`place_open`] under a given set of shipped state rules.
pub fn place_open_in(
    shipped: &[states::Rule],
    c: &Campaign,
    place: &Place,
    at: Timestamp,
) -> Result<(), Refusal> {
    let campaign_zone = [(c.hours.timezone_name.clone(), c.hours.timezone.clone())];
    let zones: &[(String, TimeZone)] = if place.zones.is_empty() {
        &campaign_zone
    } else {
        &place.zones
    };
    for (name, tz) in zones {
        hours(c, tz, name, at)?;
    }
    for rule in states::rules_in(shipped, &place.regions, &c.compliance.rules) {
        for (name, tz) in zones {
            let local = tz.to_datetime(at);
            if let Err(why) = states::allows_at(rule, local) {
                return Err(Refusal::StateRule {
                    region: rule.region.clone(),
                    local,
                    zone: name.clone(),
                    rule: why,
                });
            }
        }
    }
    Ok(())
}

fn weekday(d: jiff::civil::Weekday) -> &'static str {
    use jiff::civil::Weekday::*;
    match d {
        Monday => "Mon",
        Tuesday => "Tue",
        Wednesday => "Wed",
        Thursday => "Thu",
        Friday => "Fri",
        Saturday => "Sat",
        Sunday => "Sun",
    }
}

/// The retry delay after a lead's last outcome as stored: a call's [`Outcome`] (the campaign's
/// delay for it), or an agent disposition's code (its `retry after`).
pub fn retry_delay(c: &Campaign, last_outcome: &str) -> Option<Duration> {
    match last_outcome.parse::<Outcome>() {
        Ok(outcome) => c.retry.delay_for(outcome),
        Err(_) => c.disposition(last_outcome).and_then(|d| match d.effect {
            DispositionEffect::RetryAfter(d) => Some(d),
            _ => None,
        }),
    }
}

/// An agent is guaranteed when the call starts (UK exemptions).
fn agent_guaranteed(c: &Campaign) -> bool {
    matches!(c.mode, Mode::Preview | Mode::Progressive)
}

/// Until when a rolling limit of `max` attempts per `window` holds at `at`, if it does.
fn rolling(
    recent: &[Timestamp],
    at: Timestamp,
    window: SignedDuration,
    max: usize,
) -> Option<Timestamp> {
    let from = at.checked_sub(window).unwrap_or(Timestamp::MIN);
    let mut inside: Vec<Timestamp> = recent
        .iter()
        .copied()
        .filter(|t| *t > from && *t <= at)
        .collect();
    if max == 0 {
        return Some(Timestamp::MAX);
    }
    if inside.len() < max {
        return None;
    }
    inside.sort();
    // One more may be placed once all but max-1 of them have left the window.
    let k = inside.len() - max;
    Some(add(inside[k], window))
}

/// May this lead be dialed at `at` (UTC) under this campaign? The first reason that applies,
/// in this order: closed, DNC, max attempts, leased, callback, retry delay, rolling limits,
/// state caps, UK rules, unknown zone, calling hours and state rules in every candidate zone,
/// stored due time.
pub fn check(c: &Campaign, lead: &LeadFacts<'_>, at: Timestamp) -> Result<(), Refusal> {
    check_in(&states::SHIPPED.rules, c, lead, at)
}

/// [`check`] under a given set of shipped state rules (tests take one out to see it matters).
pub fn check_in(
    shipped: &[states::Rule],
    c: &Campaign,
    lead: &LeadFacts<'_>,
    at: Timestamp,
) -> Result<(), Refusal> {
    if !lead.status.is_some_and(LeadStatus::is_open) {
        return Err(Refusal::Closed {
            status: lead.status,
        });
    }
    if lead.dnc_campaign {
        return Err(Refusal::Dnc { global: false });
    }
    if lead.dnc_global && c.dnc.use_global {
        return Err(Refusal::Dnc { global: true });
    }
    if lead.attempts >= c.retry.max_attempts {
        return Err(Refusal::MaxAttempts {
            attempts: lead.attempts,
            max: c.retry.max_attempts,
        });
    }
    if let Some(until) = lead.lease_until
        && until > at
    {
        return Err(Refusal::Leased { until });
    }
    match lead.callback_at {
        Some(cb) if cb > at => return Err(Refusal::Callback { at: cb }),
        Some(_) => {}
        None => {
            if let (Some(last), Some(outcome)) = (lead.last_attempt_at, lead.last_outcome)
                && let Some(d) = retry_delay(c, outcome)
            {
                let due = add(last, signed(d));
                if due > at {
                    return Err(Refusal::RetryDelay {
                        outcome: outcome.to_string(),
                        due,
                    });
                }
            }
        }
    }
    if let Some(n) = c.limits.per_24h
        && let Some(until) = rolling(lead.recent_attempts, at, DAY, n as usize)
    {
        return Err(Refusal::Per24h { limit: n, until });
    }
    if let Some(place) = lead.place {
        for rule in states::rules_in(shipped, &place.regions, &c.compliance.rules) {
            if let Some(n) = rule.cap_24h
                && let Some(until) = rolling(lead.recent_attempts, at, DAY, n as usize)
            {
                return Err(Refusal::StateCap {
                    region: rule.region.clone(),
                    limit: n,
                    until,
                });
            }
        }
    }
    if c.limits.reg_f {
        if let Some(until) = rolling(lead.recent_attempts, at, WEEK, REG_F_MAX_IN_7_DAYS) {
            return Err(Refusal::RegF7in7 { until });
        }
        if let Some(conv) = lead.last_conversation_at {
            let until = add(conv, WEEK);
            if until > at {
                return Err(Refusal::RegFConversation { until });
            }
        }
    }
    // The zone of the UK's same-day rule: the first candidate (the UK's zones share a clock).
    let first = lead.place.and_then(|p| p.zones.first());
    let zone = first
        .map(|z| &z.1)
        .or(lead.zone)
        .unwrap_or(&c.hours.timezone);
    let zone_name = match (first, lead.zone, lead.zone_name) {
        (Some((n, _)), _, _) => n.as_str(),
        (None, Some(_), Some(n)) => n,
        (None, None, Some(n)) if lead.place.is_none() => {
            return Err(Refusal::UnknownZone {
                zone: n.to_string(),
            });
        }
        _ => c.hours.timezone_name.as_str(),
    };
    if c.regime == Regime::Uk && !agent_guaranteed(c) {
        if let Some(ab) = lead.last_abandoned_at {
            let until = add(ab, UK_ABANDON_GAP);
            if until > at {
                return Err(Refusal::UkAbandoned { until });
            }
        }
        if let Some(m) = lead.last_machine_at {
            let day_of = |t: Timestamp| zone.to_datetime(t).date();
            if m <= at && day_of(m) == day_of(at) {
                let midnight = day_of(at)
                    .checked_add(1.day())
                    .ok()
                    .and_then(|d| d.to_zoned_datetime(zone.clone()).ok())
                    .map(|z| z.timestamp())
                    .unwrap_or(Timestamp::MAX);
                return Err(Refusal::UkMachineSameDay { until: midnight });
            }
        }
    }
    match lead.place {
        Some(place) => place_open_in(shipped, c, place, at)?,
        None => hours(c, zone, zone_name, at)?,
    }
    if let Some(until) = lead.next_attempt_at
        && until > at
    {
        return Err(Refusal::NotBefore { until });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
