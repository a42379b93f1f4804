//! A month of dialing in virtual time against the real scheduler, rules and pacer on SQLite,
//! with a seeded carrier; an independent checker then reads every attempt from the store and
//! judges it by its own reading of the rules (its own table of where each area code and postal
//! code rings, of the states' windows, days and caps), not the scheduler's code or data.
//!
//! US: leads in every US zone with no zone column (numbers from many area codes, two that span
//! two zones, a personal number of no area, postal codes that move a number to another state),
//! 2026-10-20 to 11-19: the end of US daylight time (11-01) and Veterans Day (11-11) inside. UK:
//! London, Channel Islands, Isle of Man and mobile numbers through the end of UK summer time
//! (10-25), with abandons and answering machines (the 72-hour and same-day rules).
//!
//! The real predictive pacer dials ahead of its agents (more people answer in the evening than
//! its estimates say at first), so people are abandoned; the checker computes the abandon rate
//! from the stored outcomes over every window the rules name (US: the 30-day period, and each
//! rolling 30 days ending at a day's end; UK: each calendar day in London and each 24 hours
//! ending at an abandon, with Ofcom's estimate of the people AMD took for machines) and finds
//! each at or under the campaign's cap; it also asserts that there were abandons to count.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use dialer::campaign::Campaign;
use dialer::compliance;
use dialer::domain::{AmdResult, LeadStatus, Outcome};
use dialer::leads::scheduler::Scheduler;
use dialer::leads::sync_campaign;
use dialer::pacing::{
    AbandonBudget, AgentView, Estimator, Limits, Observation, Pacer, Predictive, PredictiveConfig,
    Priors, Snapshot, Window,
};
use dialer::store::Store;
use dialer::store::attempts::{AttemptEnd, AttemptStart};
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::compliance_check::{
    Seen, abandon_window, attempts, cli, load_us_registry, sync_and_import, wall,
};
use crate::storedb::{self, CampaignDir};

/// Virtual minutes between pacing rounds.
const STEP_MIN: i64 = 15;
/// Agents (each round the progressive pacer dials one call per ready agent).
const AGENTS: usize = 6;

/// The checker's own reading: area code → (state, zones the number may ring in).
fn us_area(npa: &str) -> (&'static str, &'static [&'static str]) {
    match npa {
        "212" => ("NY", &["America/New_York"]),
        "213" | "415" => ("CA", &["America/Los_Angeles"]),
        "305" => ("FL", &["America/New_York"]),
        "405" => ("OK", &["America/Chicago"]),
        "410" => ("MD", &["America/New_York"]),
        "512" => ("TX", &["America/Chicago"]),
        "915" => ("TX", &["America/Denver"]),
        // Idaho: Mountain in the south, Pacific in the panhandle.
        "208" => ("ID", &["America/Denver", "America/Los_Angeles"]),
        // Alaska: Alaska time, and Hawaii–Aleutian time (with its daylight time) west of
        // 169°30′W.
        "907" => ("AK", &["America/Anchorage", "America/Adak"]),
        "808" => ("HI", &["Pacific/Honolulu"]),
        "602" => ("AZ", &["America/Phoenix"]),
        "225" => ("LA", &["America/Chicago"]),
        "801" => ("UT", &["America/Denver"]),
        "401" => ("RI", &["America/New_York"]),
        "215" => ("PA", &["America/New_York"]),
        "205" => ("AL", &["America/Chicago"]),
        "601" => ("MS", &["America/Chicago"]),
        "203" => ("CT", &["America/New_York"]),
        "502" => ("KY", &["America/New_York"]),
        "206" => ("WA", &["America/Los_Angeles"]),
        "617" => ("MA", &["America/New_York"]),
        "313" => ("MI", &["America/New_York"]),
        "612" => ("MN", &["America/Chicago"]),
        "702" => ("NV", &["America/Los_Angeles"]),
        "505" => ("NM", &["America/Denver"]),
        "312" => ("IL", &["America/Chicago"]),
        "404" => ("GA", &["America/New_York"]),
        "303" => ("CO", &["America/Denver"]),
        // A personal number of no area: it may ring anywhere in the US, under every state's law.
        "500" => (
            "*",
            &[
                "America/New_York",
                "America/Chicago",
                "America/Denver",
                "America/Phoenix",
                "America/Los_Angeles",
                "America/Anchorage",
                "Pacific/Honolulu",
            ],
        ),
        other => panic!("the checker does not know area code {other}"),
    }
}

/// The checker's postal codes: ZIP → (state, zone).
fn us_zip(zip: &str) -> (&'static str, &'static str) {
    match zip {
        "33101" => ("FL", "America/New_York"),
        "73301" => ("TX", "America/Chicago"),
        "99501" => ("AK", "America/Anchorage"),
        "84101" => ("UT", "America/Denver"),
        other => panic!("the checker does not know ZIP {other}"),
    }
}

/// The checker's reading of a state's law: (window on weekdays, Saturday, Sunday; `None`: no
/// calls), whether legal holidays are banned, a cap per 24 hours.
struct StateLaw {
    weekday: Option<(u8, u8, u8, u8)>,
    saturday: Option<(u8, u8, u8, u8)>,
    sunday: Option<(u8, u8, u8, u8)>,
    holidays: bool,
    cap: Option<usize>,
}

fn law(state: &str) -> StateLaw {
    let w = |a, b, c, d| Some((a, b, c, d));
    let plain = |win| StateLaw {
        weekday: win,
        saturday: win,
        sunday: win,
        holidays: false,
        cap: None,
    };
    let fed = w(8, 0, 21, 0);
    match state {
        "FL" | "OK" | "MD" => StateLaw {
            cap: Some(3),
            ..plain(w(8, 0, 20, 0))
        },
        "WA" | "MA" => plain(w(8, 0, 20, 0)),
        "CT" => plain(w(9, 0, 20, 0)),
        "CA" | "IL" | "MI" | "MN" | "NM" => plain(w(9, 0, 21, 0)),
        "KY" => plain(w(10, 0, 21, 0)),
        "NV" => plain(w(9, 0, 20, 0)),
        "TX" => StateLaw {
            sunday: w(12, 0, 21, 0),
            ..plain(w(9, 0, 21, 0))
        },
        "AL" | "LA" | "MS" => StateLaw {
            sunday: None,
            holidays: true,
            ..plain(w(8, 0, 20, 0))
        },
        "UT" => StateLaw {
            sunday: None,
            holidays: true,
            ..plain(fed)
        },
        "PA" => StateLaw {
            sunday: w(13, 30, 21, 0),
            holidays: true,
            ..plain(fed)
        },
        "RI" => StateLaw {
            weekday: w(9, 0, 18, 0),
            saturday: w(10, 0, 17, 0),
            sunday: None,
            holidays: true,
            cap: None,
        },
        _ => plain(fed),
    }
}

/// Every state whose law the checker knows to be stricter (for a number of no area).
const STRICT_STATES: &[&str] = &[
    "FL", "OK", "MD", "WA", "MA", "CT", "CA", "IL", "MI", "MN", "NM", "KY", "NV", "TX", "AL", "LA",
    "MS", "UT", "PA", "RI",
];

/// The checker's holidays in the simulated month (federal legal holidays).
fn holiday(d: Date) -> bool {
    // Veterans Day; Thanksgiving is after the month.
    d == jiff::civil::date(2026, 11, 11)
}

fn inside(t: Time, w: (u8, u8, u8, u8)) -> bool {
    let a = Time::new(w.0 as i8, w.1 as i8, 0, 0).unwrap();
    let b = Time::new(w.2 as i8, w.3 as i8, 0, 0).unwrap();
    t >= a && t < b
}

fn us_lead_rows() -> (String, usize) {
    let areas = [
        "212", "213", "415", "305", "405", "410", "512", "915", "208", "907", "808", "602", "225",
        "801", "401", "215", "205", "601", "203", "502", "206", "617", "313", "612", "702", "505",
        "312", "404", "303", "500",
    ];
    let mut csv = String::from("phone,zip,name\n");
    let mut n = 0;
    for (i, a) in areas.iter().enumerate() {
        for k in 0..8 {
            // Exchanges valid for every area code here (the 208 ones are in 208's two-zone
            // ranges).
            let exch = if *a == "208" { "330" } else { "234" };
            let zip = match (i + k) % 11 {
                0 if *a != "500" => "33101",
                5 if *a == "213" => "84101",
                7 if *a == "212" => "99501",
                3 if *a == "405" => "73301",
                _ => "",
            };
            csv.push_str(&format!(
                "+1{a}{exch}{:04},{zip},Lead {n}\n",
                1000 + 10 * i + k
            ));
            n += 1;
        }
    }
    (csv, n)
}

/// A month's campaign: [`storedb::campaign_toml`] open every day `start`–`end` in `zone`, up to
/// 60 attempts, with these retry delays after a machine and after an abandon.
fn month_campaign(
    name: &str,
    zone: &str,
    hours: (&str, &str),
    machine: &str,
    abandoned: &str,
) -> String {
    let (start, end) = hours;
    let retry = format!(
        "\n[retry]\nmax_attempts = 60\n[retry.delay]\nbusy = \"20m\"\nno_answer = \"30m\"\n\
         machine = \"{machine}\"\nabandoned = \"{abandoned}\"\ncongestion = \"5m\"\n\
         rejected = \"30m\"\nfailed = \"30m\"\ninterrupted = \"5m\"\n"
    );
    storedb::campaign_toml(name, &retry).replace(
        "[hours]\ntimezone = \"America/New_York\"\n",
        &format!(
            "[hours]\ntimezone = \"{zone}\"\n\
             days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
             start = \"{start}\"\nend = \"{end}\"\n"
        ),
    )
}

fn us_campaign() -> String {
    month_campaign("month", "America/New_York", ("08:00", "21:00"), "1h", "2h")
}

/// The seeded carrier's shares of dials: no answer, busy, a machine; the rest are people.
#[derive(Clone, Copy)]
struct Mix {
    no_answer: f64,
    busy: f64,
    machine: f64,
}

/// Daytime: 35 % people.
const DAYTIME: Mix = Mix {
    no_answer: 0.35,
    busy: 0.10,
    machine: 0.20,
};

/// From 17:00 in the campaign's zone: 65 % people.
const EVENING: Mix = Mix {
    no_answer: 0.15,
    busy: 0.05,
    machine: 0.15,
};

/// What the seeded carrier does with one dial: the outcome and how long the call took. Nobody
/// is abandoned here: a person is abandoned when the pacer dialed more people than there were
/// agents (see [`run_month`]).
fn carrier(rng: &mut ChaCha8Rng, mix: Mix) -> (Outcome, Option<AmdResult>, Duration) {
    let x: f64 = rng.random();
    if x < mix.no_answer {
        (Outcome::NoAnswer, None, Duration::from_secs(30))
    } else if x < mix.no_answer + mix.busy {
        (Outcome::Busy, None, Duration::from_secs(5))
    } else if x < mix.no_answer + mix.busy + mix.machine {
        (
            Outcome::Machine,
            Some(AmdResult::Machine),
            Duration::from_secs(40),
        )
    } else {
        (
            Outcome::Human,
            Some(AmdResult::Human),
            Duration::from_secs(120),
        )
    }
}

/// Run `days` of virtual time from `start`: each round the real predictive pacer says how many
/// to dial (with the daemon's estimator, learning from each call, and the campaign's abandon
/// budget over its window, seeded from the store as the daemon seeds it and counted call by
/// call), the real scheduler claims them (the real rules), and the seeded carrier decides each
/// call, written through the store as the daemon's writer writes it. The calls of a round are
/// answered together: the first [`AGENTS`] people get an agent, any more are abandoned (and
/// hear the safe-harbor message), so abandons come from the pacer dialing ahead, as in the
/// daemon.
async fn run_month(store: &Store, c: &Campaign, start: Timestamp, days: i64, seed: u64) -> usize {
    let ids = sync_campaign(store, c, start).await.unwrap();
    // The list was imported at the start of the month (the import stamps the real clock, which
    // would put new leads behind every retry of the virtual month).
    {
        use sea_orm::ConnectionTrait;
        store
            .conn()
            .execute_raw(store.stmt(
                "UPDATE leads SET created_at_ms = ? WHERE campaign_id = ?",
                vec![start.as_millisecond().into(), ids.id.into()],
            ))
            .await
            .unwrap();
    }
    let mut sched = Scheduler::new(c.clone(), &ids, "sim", Duration::from_secs(120));
    // The daemon's predictive pacer for a campaign that does not shed: the rounds leave no call
    // ringing to shed, so the budget keeps its margin instead (as the daemon's does with
    // shedding off).
    let mut pacer = Pacer::Predictive(Predictive::new(PredictiveConfig {
        shed_after: None,
        ..PredictiveConfig::default()
    }));
    // A new campaign's priors (20 % people), then the daemon's estimator learning from each
    // call: the pacer starts out believing fewer people answer than do.
    let base = Instant::now();
    let mut estimator = Estimator::new(&Priors::default());
    let virtual_instant =
        |at: Timestamp| base + Duration::try_from(at.duration_since(start)).unwrap_or_default();
    let (window, hidden) = abandon_rules(c);
    let agents = [AgentView::Ready; AGENTS];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut dialed = 0;
    let end = start + SignedDuration::from_hours(24 * days);
    let mut t = start;
    // The budget counts as the switchboard's does, call by call, seeded from the store when its
    // window starts (a UK day at midnight; the US month's 30 days once).
    let mut budget_since = None;
    let mut budget = AbandonBudget::new(c.abandon.cap, hidden);
    while t < end {
        let since = window.start_ms(t, &c.hours.timezone).unwrap();
        let same_window = match window {
            Window::Rolling30Days => budget_since.is_some(),
            Window::CalendarDay => budget_since == Some(since),
        };
        if !same_window {
            let counts = store
                .abandon_counts(ids.id, since, t.as_millisecond() + 1)
                .await
                .unwrap();
            budget = AbandonBudget::for_window(window, c.abandon.cap, hidden, counts.into());
            budget_since = Some(since);
        }
        estimator.advance(virtual_instant(t));
        let estimates = estimator.estimates();
        let snap = Snapshot {
            agents: &agents,
            calls: &[],
            estimates: &estimates,
            budget: &budget,
            limits: Limits::UNLIMITED,
        };
        let n = pacer.decide(virtual_instant(t), &snap).dials as usize;
        let leads = sched.claim(store, t, n).await.unwrap();
        let mut free_agents = AGENTS;
        for (i, row) in leads.iter().enumerate() {
            let at = t + SignedDuration::from_secs(i as i64);
            let id = store
                .record_attempt_start(&AttemptStart {
                    lead_id: row.lead.id,
                    dial_at_ms: at.as_millisecond(),
                    trunk: Some("main"),
                    ..Default::default()
                })
                .await
                .unwrap();
            // More people answer in the evening: the estimator lags behind the change, the
            // pacer dials ahead of its agents, and the abandon budget has to hold it.
            let mix = if c.hours.timezone.to_datetime(at).hour() >= 17 {
                EVENING
            } else {
                DAYTIME
            };
            let (mut outcome, amd, mut took) = carrier(&mut rng, mix);
            let person = outcome == Outcome::Human;
            let abandoned = person && free_agents == 0;
            if abandoned {
                (outcome, took) = (Outcome::Abandoned, Duration::from_secs(20));
            } else if person {
                free_agents -= 1;
            }
            let dialed_at = virtual_instant(at);
            estimator.observe(dialed_at, Observation::Placed { dialed: dialed_at });
            estimator.observe(
                virtual_instant(at + SignedDuration::try_from(took).unwrap()),
                Observation::Dial {
                    dialed: dialed_at,
                    human: person,
                    machine: amd == Some(AmdResult::Machine),
                    answered_after: amd.map(|_| Duration::from_secs(5)),
                    failed_after: amd.is_none().then_some(took),
                },
            );
            if person {
                budget.record_live_answer();
            }
            if abandoned {
                budget.record_abandon();
            }
            if amd == Some(AmdResult::Machine) {
                budget.record_amd_machine();
            }
            let ended = at + SignedDuration::try_from(took).unwrap();
            let next = compliance::retry_delay(c, outcome.as_str())
                .map(|d| (ended + SignedDuration::try_from(d).unwrap()).as_millisecond());
            store
                .record_attempt_end(
                    id,
                    &AttemptEnd {
                        end_at_ms: ended.as_millisecond(),
                        outcome,
                        answer_at_ms: amd.map(|_| at.as_millisecond() + 5000),
                        amd_result: amd,
                        live: person,
                        abandoned,
                        // A person who talked is called back the next day (a follow-up),
                        // so leads keep being dialed all month.
                        lead_status: LeadStatus::Active,
                        next_attempt_at_ms: if outcome == Outcome::Human {
                            Some(ended.as_millisecond() + 20 * 3_600_000)
                        } else {
                            next
                        },
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            dialed += 1;
        }
        t += SignedDuration::from_mins(STEP_MIN);
    }
    dialed
}

/// Every window's abandon rate at or under `cap`, and the simulation abandoned people (a check
/// that sees no abandon could not fail). Prints the worst window.
fn check_abandon_windows(what: &str, windows: &[crate::compliance_check::AbandonWindow], cap: f64) {
    let over: Vec<_> = windows.iter().filter(|w| w.rate > cap).collect();
    assert!(over.is_empty(), "{what}: over the {cap} cap: {over:#?}");
    let abandoned: usize = windows.iter().map(|w| w.abandoned).max().unwrap_or(0);
    assert!(
        abandoned > 0,
        "{what}: no window saw an abandon: {windows:#?}"
    );
    let worst = windows
        .iter()
        .max_by(|a, b| a.rate.total_cmp(&b.rate))
        .unwrap();
    println!(
        "{what}: {} windows, worst {:.2} % ({} of {} live, {} machines) from {} to {}",
        windows.len(),
        100.0 * worst.rate,
        worst.abandoned,
        worst.live,
        worst.machines,
        worst.from,
        worst.to
    );
}

/// The campaign's abandon window and the share of AMD machines counted as people (UK with AMD:
/// Ofcom's reasoned estimate), as the daemon reads them.
fn abandon_rules(c: &Campaign) -> (Window, f64) {
    match c.abandon.window {
        dialer::campaign::AbandonWindow::Rolling30Days => (Window::Rolling30Days, 0.0),
        dialer::campaign::AbandonWindow::CalendarDay => (
            Window::CalendarDay,
            if c.amd.enabled {
                c.abandon.amd_false_positive_rate
            } else {
                0.0
            },
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_us_month_never_calls_outside_any_candidate_zone_or_state_rule() {
    let db = storedb::sqlite();
    let store = db.open().await;
    let mut toml = us_campaign();
    toml = toml.replace(
        r#"columns = { phone = "phone", timezone = "tz" }"#,
        r#"columns = { phone = "phone", postal_code = "zip" }"#,
    );
    let dir = CampaignDir::new("month", &toml);
    let (csv, n) = us_lead_rows();
    let list = dir.write("lists/a.csv", &csv);
    let c = dir.load("month");
    let start: Timestamp = "2026-10-20T04:00:00Z".parse().unwrap();
    let (ids, report) =
        sync_and_import(&store, &c, start, &list, phonenumber::country::Id::US).await;
    assert_eq!(report.imported as usize, n, "{:?}", report.rejected);
    // No zone column: every zone came from the number or the postal code.
    assert_eq!(report.zones_by.get("column"), None, "{:?}", report.zones_by);
    assert!(report.zones_by["postal_code"] > 10, "{:?}", report.zones_by);
    assert!(report.zones_by["number"] > 150, "{:?}", report.zones_by);

    let took = std::time::Instant::now();
    let dialed = run_month(&store, &c, start, 30, 7).await;
    let seen = attempts(&store, ids.id).await;
    assert_eq!(seen.len(), dialed);
    assert!(dialed > 3000, "only {dialed} calls in a month");
    // Each attempt keeps the zones and states it was judged by.
    assert!(
        seen.iter()
            .all(|a| a.zone_key.is_some() && a.zone_key == a.lead_zone_key)
    );

    // The independent check of every call.
    let mut bad = Vec::new();
    let mut per_lead: HashMap<i64, Vec<Timestamp>> = HashMap::new();
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut hours_seen: BTreeMap<(String, i8), usize> = BTreeMap::new();
    for a in &seen {
        let npa = &a.phone[2..5];
        let (state, zones) = us_area(npa);
        let attrs: serde_json::Value = serde_json::from_str(&a.attrs).unwrap();
        let zip = attrs["zip"].as_str().unwrap_or("");
        let mut states: Vec<&str> = vec![state];
        let zones: Vec<&str> = if zip.is_empty() {
            zones.to_vec()
        } else {
            let (s, z) = us_zip(zip);
            states.push(s);
            vec![z]
        };
        if states.contains(&"*") {
            states = STRICT_STATES.to_vec();
        }
        for s in &states {
            *by_state.entry(s.to_string()).or_default() += 1;
        }
        for z in &zones {
            let local: DateTime = TimeZone::get(z).unwrap().to_datetime(a.at);
            *hours_seen.entry((z.to_string(), local.hour())).or_default() += 1;
            // The campaign's hours and the federal window, in every candidate zone.
            if !inside(local.time(), (8, 0, 21, 0)) {
                bad.push(format!(
                    "{} at {local} in {z}: outside 08:00-21:00",
                    a.phone
                ));
            }
            for s in &states {
                let l = law(s);
                let win = match local.weekday() {
                    Weekday::Saturday => l.saturday,
                    Weekday::Sunday => l.sunday,
                    _ => l.weekday,
                };
                let ok = match win {
                    None => false,
                    Some(w) => inside(local.time(), w),
                } && !(l.holidays && holiday(local.date()));
                if !ok {
                    bad.push(format!(
                        "{} at {local} in {z}: against {s}'s rules",
                        a.phone
                    ));
                }
            }
        }
        per_lead.entry(a.lead).or_default().push(a.at);
        // The stored evidence agrees with the checker: each of its zones' local time at the
        // dial, the checker's zones covered, and the earlier calls in 24 h.
        match a
            .evidence
            .as_deref()
            .map(serde_json::from_str::<compliance::evidence::Evidence>)
        {
            Some(Ok(e)) => {
                // Counted when the rules allowed it (the claim, a few seconds before the dial).
                let allowed = Timestamp::from_millisecond(e.allowed_at_ms).unwrap();
                let earlier = per_lead[&a.lead]
                    .iter()
                    .filter(|t| {
                        **t > allowed - SignedDuration::from_hours(24)
                            && **t <= allowed
                            && **t < a.at
                    })
                    .count();
                let locals_ok = e
                    .zones
                    .iter()
                    .all(|z| TimeZone::get(&z.zone).is_ok() && wall(&z.zone, a.at) == z.local);
                // Zone names may differ (Boise for Denver): the wall times may not. Every zone
                // the checker says the number may ring in has its local time in the evidence.
                let covered = zones.iter().all(|z| {
                    let want = wall(z, a.at);
                    e.zones.iter().any(|s| s.local == want)
                });
                if !locals_ok || !covered || e.attempts_24h as usize != earlier {
                    bad.push(format!(
                        "{} at {}: evidence {:?}/{} earlier, checker {zones:?}/{earlier}",
                        a.phone, a.at, e.zones, e.attempts_24h
                    ));
                }
            }
            other => bad.push(format!("{} at {}: evidence {other:?}", a.phone, a.at)),
        }
        let caps: Vec<usize> = states.iter().filter_map(|s| law(s).cap).collect();
        if let Some(cap) = caps.into_iter().min() {
            let times = &per_lead[&a.lead];
            let in_24h = times
                .iter()
                .filter(|t| **t > a.at - SignedDuration::from_hours(24) && **t <= a.at)
                .count();
            if in_24h > cap {
                bad.push(format!(
                    "{} at {}: call {in_24h} in 24 h (cap {cap})",
                    a.phone, a.at
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} bad calls, e.g. {:#?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    // Every state with rules was called, and the caps were reached (3 calls in a day).
    for s in [
        "FL", "OK", "MD", "TX", "RI", "PA", "UT", "AL", "LA", "MS", "KY", "CA", "AK", "HI",
    ] {
        assert!(
            by_state.get(s).copied().unwrap_or(0) > 20,
            "{s}: {by_state:?}"
        );
    }
    let capped = per_lead
        .values()
        .filter(|ts| {
            ts.windows(3)
                .any(|w| w[2].duration_since(w[0]) < SignedDuration::from_hours(24))
        })
        .count();
    assert!(capped > 10, "no lead was called 3 times in a day");
    // The window was used to its edges in the far zones, before and after the clocks changed.
    assert!(
        hours_seen.contains_key(&("Pacific/Honolulu".to_string(), 8)),
        "{hours_seen:?}"
    );
    assert!(
        hours_seen.contains_key(&("America/New_York".to_string(), 20)),
        "{hours_seen:?}"
    );
    // The abandon rate per 30-day period (47 CFR 64.1200(a)(7), 16 CFR 310.4(b)(4)(i)): the
    // month is one period; the project budgets over the rolling 30 days, so each day's end
    // closes a window too (the month so far, from its first call).
    let first = seen[0].at;
    let mut windows = Vec::new();
    for day in 1..=30 {
        let to = start + SignedDuration::from_hours(24 * day);
        windows.push(abandon_window(
            &seen,
            first.max(to - SignedDuration::from_hours(720)),
            to,
            0.0,
        ));
    }
    check_abandon_windows("US rolling 30 days", &windows, c.abandon.cap);
    let month = windows.last().unwrap();
    println!(
        "US month: {dialed} calls, {} live, {} abandoned ({:.2} %), checked in {:?}",
        month.live,
        month.abandoned,
        100.0 * month.rate,
        took.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uk_month_keeps_the_window_and_the_72_hour_and_same_day_rules() {
    let db = storedb::sqlite();
    let store = db.open().await;
    let toml = month_campaign("ukmonth", "Europe/London", ("09:00", "20:00"), "30m", "72h")
        .replace(
            r#"columns = { phone = "phone", timezone = "tz" }"#,
            r#"columns = { phone = "phone", postal_code = "postcode" }"#,
        )
        .replace("+12025550143", "+442079460000")
        .replace("kind = \"cold\"", "kind = \"cold\"\nregime = \"uk\"");
    let dir = CampaignDir::new("ukmonth", &toml);
    let mut csv = String::from("phone,postcode\n");
    let prefixes = [
        ("+44207946", ""),
        ("+44113234", "LS1 4AP"),
        ("+44292012", "CF10"),
        ("+44131234", ""),
        ("+44148125", "GY1 1AA"),
        ("+44153471", ""),
        ("+44162461", ""),
        ("+44791112", ""),
        ("+44740012", "JE2 3AB"),
    ];
    let mut n = 0;
    for (p, pc) in prefixes {
        for k in 0..40 {
            csv.push_str(&format!("{p}{:04},{pc}\n", 1000 + k));
            n += 1;
        }
    }
    let list = dir.write("lists/a.csv", &csv);
    let c = dir.load("ukmonth");
    let start: Timestamp = "2026-10-10T00:00:00Z".parse().unwrap();
    let (ids, report) =
        sync_and_import(&store, &c, start, &list, phonenumber::country::Id::GB).await;
    assert_eq!(report.imported as usize, n, "{:?}", report.rejected);
    let dialed = run_month(&store, &c, start, 30, 11).await;
    let seen = attempts(&store, ids.id).await;
    assert!(dialed > 2000, "only {dialed} calls");
    let london = TimeZone::get("Europe/London").unwrap();
    let mut bad = Vec::new();
    let mut last: HashMap<i64, &Seen> = HashMap::new();
    let mut abandons: HashMap<i64, Timestamp> = HashMap::new();
    let mut machine_days: HashMap<i64, Date> = HashMap::new();
    let (mut after_dst, mut abandoned) = (0, 0);
    for a in &seen {
        // The checker's reading: the UK, its crown dependencies and its mobiles all keep
        // London's clock.
        let local = london.to_datetime(a.at);
        if !inside(local.time(), (9, 0, 20, 0)) {
            bad.push(format!("{} at {local}: outside 09:00-20:00", a.phone));
        }
        if let Some(ab) = abandons.get(&a.lead)
            && a.at.duration_since(*ab) < SignedDuration::from_hours(72)
        {
            bad.push(format!("{} at {local}: within 72 h of an abandon", a.phone));
        }
        if machine_days.get(&a.lead) == Some(&local.date()) {
            bad.push(format!(
                "{} at {local}: again the day of a machine",
                a.phone
            ));
        }
        match a.outcome.as_str() {
            "abandoned" => {
                abandons.insert(a.lead, a.at);
                abandoned += 1;
            }
            "machine" => {
                machine_days.insert(a.lead, local.date());
            }
            _ => {}
        }
        if local.date() > jiff::civil::date(2026, 10, 25) && local.hour() == 9 {
            after_dst += 1;
        }
        last.insert(a.lead, a);
    }
    assert!(
        bad.is_empty(),
        "{} bad calls, e.g. {:#?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    // The pacer's own abandons exercise the 72-hour rule (each one bars its number for 72 h).
    assert!(
        abandoned >= 10 && after_dst > 50,
        "{abandoned} abandons, {after_dst} calls at 09:00 after summer time"
    );
    assert_eq!(last.len(), n, "every lead was called");
    // Ofcom: at most 3 % of live calls per campaign per 24 hours, with a reasoned estimate of
    // the people AMD took for machines. Each calendar day in London (the window the budget
    // keeps), and each 24 hours ending at an abandon.
    let (_, hidden) = abandon_rules(&c);
    let days: Vec<_> = (0..30)
        .map(|d| {
            let day = jiff::civil::date(2026, 10, 10) + jiff::Span::new().days(d);
            let from = london
                .to_timestamp(day.to_datetime(Time::midnight()))
                .unwrap();
            let to = london
                .to_timestamp((day + jiff::Span::new().days(1)).to_datetime(Time::midnight()))
                .unwrap();
            abandon_window(&seen, from, to, hidden)
        })
        .collect();
    check_abandon_windows("UK calendar days", &days, c.abandon.cap);
    let rolling: Vec<_> = seen
        .iter()
        .filter(|a| a.outcome == "abandoned")
        .map(|a| {
            let to = a.at + SignedDuration::from_millis(1);
            abandon_window(&seen, to - SignedDuration::from_hours(24), to, hidden)
        })
        .collect();
    check_abandon_windows("UK rolling 24 h", &rolling, c.abandon.cap);
    println!("UK month: {dialed} calls, {abandoned} abandoned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_registry_data_stop_the_dialing_and_plan_says_why() {
    for db in storedb::all("registry").await {
        let store = db.open().await;
        registry_case(&store).await;
    }
}

async fn registry_case(store: &Store) {
    let toml = us_campaign().replace(
        "[dnc]\nfiles = [\"dnc.txt\"]",
        "[dnc]\nfiles = [\"dnc.txt\"]\nregistry = \"us-national\"",
    );
    let dir = CampaignDir::new("month", &toml);
    dir.write("lists/a.csv", "phone,tz\n+12122341000,\n+12122341001,\n");
    let reg = dir.write("registry.txt", "AreaCode,PhoneNumber\n212,2341001\n");
    let c = dir.load("month");
    assert_eq!(
        c.dnc.registry,
        Some(compliance::registry::Registry::UsNational)
    );
    let now: Timestamp = "2026-12-08T17:00:00Z".parse().unwrap();
    let (ids, _) = sync_and_import(
        store,
        &c,
        now,
        &dir.path().join("lists/a.csv"),
        phonenumber::country::Id::US,
    )
    .await;
    let mut sched = Scheduler::new(c.clone(), &ids, "t", Duration::from_secs(60));
    // No registry data at all: nothing is dialed, and the plan says why.
    assert!(sched.claim(store, now, 5).await.unwrap().is_empty());
    let p = dialer::leads::plan::plan(store, &c, ids.id, now)
        .await
        .unwrap();
    assert_eq!((p.total, p.dialable), (2, 0));
    assert_eq!(p.reasons[0].code, "registry_stale", "{p}");
    assert!(
        p.to_string()
            .contains("REFUSES TO DIAL: no us-national registry data loaded"),
        "{p}"
    );
    // Data of 40 days ago: still refused.
    let old = now - SignedDuration::from_hours(24 * 40);
    let r = load_us_registry(store, &reg, old, now).await;
    assert_eq!((r.numbers, r.added, r.bad_lines), (1, 1, 0));
    assert!(sched.claim(store, now, 5).await.unwrap().is_empty());
    let p = dialer::leads::plan::plan(store, &c, ids.id, now)
        .await
        .unwrap();
    let why = &p.registry.as_ref().unwrap().problem;
    assert!(
        why.as_deref()
            .is_some_and(|w| w.contains("older than 31 days")),
        "{why:?}"
    );
    // Fresh data (10 days old): the lead not on the registry is dialed, the other is not.
    let fresh = now - SignedDuration::from_hours(24 * 10);
    load_us_registry(store, &reg, fresh, now).await;
    let got = sched.claim(store, now, 5).await.unwrap();
    assert_eq!(
        got.iter()
            .map(|r| r.lead.phone.as_str())
            .collect::<Vec<_>>(),
        ["+12122341000"]
    );
    // A file with a bad line adds its good numbers but is not recorded as fresh data.
    let broken = dir.write("broken.txt", "212,2341002\nnot a number\n");
    let r = load_us_registry(store, &broken, now, now).await;
    assert_eq!((r.numbers, r.bad_lines, r.date), (1, 1, None));
    assert_eq!(
        store.registry_date("us-national").await.unwrap(),
        Some(fresh.as_millisecond())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_the_candidate_zones_and_the_one_that_closed_the_window() {
    let db = storedb::sqlite();
    let store = db.open().await;
    let toml = us_campaign().replace(
        r#"columns = { phone = "phone", timezone = "tz" }"#,
        r#"columns = { phone = "phone", postal_code = "zip" }"#,
    );
    let dir = CampaignDir::new("month", &toml);
    // Idaho's 208 (Mountain and Pacific); a Los Angeles number whose owner lives in Miami.
    let list = dir.write(
        "lists/a.csv",
        "phone,zip\n+12083300100,\n+12132341000,33101\n",
    );
    let c = dir.load("month");
    let now: Timestamp = "2026-12-08T15:30:00Z".parse().unwrap(); // 08:30 Boise, 07:30 LA
    let (ids, report) = sync_and_import(&store, &c, now, &list, phonenumber::country::Id::US).await;
    assert_eq!(
        report.zones_by,
        [("number".to_string(), 1), ("postal_code".to_string(), 1)].into()
    );
    let p = dialer::leads::plan::plan(&store, &c, ids.id, now)
        .await
        .unwrap();
    let leads = p.leads.as_ref().unwrap();
    let idaho = leads
        .iter()
        .find(|v| v.phone == "+12083300100")
        .unwrap_or_else(|| panic!("{p:#?}"));
    assert_eq!(idaho.code, "outside_hours");
    assert_eq!(idaho.zones, ["America/Boise", "America/Los_Angeles"]);
    assert_eq!(idaho.regions, ["US-ID"]);
    assert_eq!(
        idaho.zone, "America/Los_Angeles",
        "the zone that closed the window"
    );
    assert_eq!(idaho.local_time, "Tue 2026-12-08 07:30");
    // Miami at 10:30: open; under California's and Florida's rules.
    let miami = leads.iter().find(|v| v.phone == "+12132341000").unwrap();
    assert!(miami.dialable, "{}", miami.reason);
    assert_eq!(miami.zones, ["America/New_York"]);
    assert_eq!(miami.regions, ["US-CA", "US-FL"]);
    // At 20:30 in Miami, Florida's 20:00 end refuses it.
    let late: Timestamp = "2026-12-09T01:30:00Z".parse().unwrap();
    let p = dialer::leads::plan::plan(&store, &c, ids.id, late)
        .await
        .unwrap();
    let miami = p
        .leads
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.phone == "+12132341000")
        .unwrap();
    assert_eq!(miami.code, "state_rule");
    assert_eq!(
        miami.reason,
        "US-FL rule: window 08:00-20:00: Tue 20:30 in America/New_York"
    );
    let text = p.to_string();
    assert!(
        text.contains("zones America/Boise, America/Los_Angeles; rules of US-ID"),
        "{text}"
    );
}

#[test]
fn the_binary_loads_a_registry_file_and_records_its_date() {
    let dir = CampaignDir::new("month", &us_campaign());
    let good = dir.write(
        "reg.txt",
        "AreaCode,PhoneNumber\n212,2341001\n212,2341002\n",
    );
    let bad = dir.write("bad.txt", "212,2341003\n12\n");
    let db = storedb::sqlite();
    let run = |file: &std::path::Path| {
        let file = file.display().to_string();
        cli(
            dir.root(),
            &db.url,
            &[
                "dnc",
                "import",
                "--registry",
                "us-national",
                "--date",
                "2026-12-01",
                "--json",
                &file,
            ],
        )
    };
    let out = run(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["registry"], "us-national");
    assert_eq!(j["date"], "2026-12-01T00:00:00Z");
    assert_eq!(
        (j["numbers"].as_u64(), j["added"].as_u64()),
        (Some(2), Some(2))
    );
    let out = run(&bad);
    assert!(!out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["date"], serde_json::Value::Null);
    assert_eq!(j["bad_lines"], 1);
    assert_eq!(j["bad"][0], "2: not a phone number: \"12\"");
}
