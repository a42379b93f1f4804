use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::*;
use crate::campaign::{Campaign, Mode, Regime};

/// A campaign loaded from a real file in a temp dir (cold, predictive, US, New York,
/// Mon–Fri 09:00–20:00, 3 attempts, busy 30m).
pub(crate) fn campaign() -> Campaign {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("lists")).unwrap();
    std::fs::write(p.join("lists/a.csv"), "phone\n+12025550143\n").unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(p.join("safe.wav"), spec).unwrap();
    for i in 0..800 {
        w.write_sample(((i % 20) * 100) as i16).unwrap();
    }
    w.finalize().unwrap();
    std::fs::write(
        p.join("c.toml"),
        r#"
kind = "cold"
mode = "predictive"
trunk = "main"
caller_id = "+12025550143"
agent_groups = ["sales"]
safe_harbor = "safe.wav"
[[lists]]
file = "lists/a.csv"
[hours]
timezone = "America/New_York"
[[dispositions]]
code = "callme"
effect = "callback"
[[dispositions]]
code = "later"
effect = "retry_after"
retry_after = "2h"
"#,
    )
    .unwrap();
    crate::campaign::load_with(&p.join("c.toml"), &crate::campaign::Env::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn fresh<'a>() -> LeadFacts<'a> {
    LeadFacts {
        status: Some(LeadStatus::New),
        ..Default::default()
    }
}

#[test]
fn hours_are_in_the_leads_local_time_and_dst_safe() {
    let c = campaign();
    let la = TimeZone::get("America/Los_Angeles").unwrap();
    // Tue 2026-11-24 15:00Z: 10:00 in New York (open), 07:00 in Los Angeles (closed).
    let t = at("2026-11-24T15:00:00Z");
    assert_eq!(check(&c, &fresh(), t), Ok(()));
    let lead = LeadFacts {
        zone: Some(&la),
        zone_name: Some("America/Los_Angeles"),
        ..fresh()
    };
    let r = check(&c, &lead, t).unwrap_err();
    assert_eq!(r.code(), "outside_hours");
    assert_eq!(
        r.to_string(),
        "outside calling hours: Tue 07:00 in America/Los_Angeles (window Mon,Tue,Wed,Thu,Fri 09:00-20:00)"
    );
    // DST: 13:30Z is 09:30 EDT on Monday 2026-03-09 (after the change) but 08:30 EST on
    // Friday 2026-03-06 (before it).
    assert_eq!(check(&c, &fresh(), at("2026-03-09T13:30:00Z")), Ok(()));
    let r = check(&c, &fresh(), at("2026-03-06T13:30:00Z")).unwrap_err();
    assert!(
        r.to_string().contains("Fri 08:30 in America/New_York"),
        "{r}"
    );
    // Weekend.
    assert_eq!(
        check(&c, &fresh(), at("2026-11-28T15:00:00Z"))
            .unwrap_err()
            .code(),
        "outside_hours"
    );
}

#[test]
fn us_hours_never_leave_8_to_21_local() {
    let mut c = campaign();
    c.hours.start = jiff::civil::time(6, 0, 0, 0);
    c.hours.end = jiff::civil::time(23, 0, 0, 0);
    // 07:30 and 21:00 New York time (EST, UTC-5).
    assert!(check(&c, &fresh(), at("2026-11-24T12:30:00Z")).is_err());
    assert!(check(&c, &fresh(), at("2026-11-25T02:00:00Z")).is_err());
    assert_eq!(check(&c, &fresh(), at("2026-11-25T01:59:00Z")), Ok(()));
    assert_eq!(check(&c, &fresh(), at("2026-11-24T13:00:00Z")), Ok(()));
    // The UK regime takes the campaign's hours as they are.
    c.regime = Regime::Uk;
    assert_eq!(check(&c, &fresh(), at("2026-11-24T12:30:00Z")), Ok(()));
}

#[test]
fn dnc_closed_and_max_attempts() {
    let mut c = campaign();
    let t = at("2026-11-24T15:00:00Z");
    let l = LeadFacts {
        dnc_global: true,
        ..fresh()
    };
    assert_eq!(check(&c, &l, t), Err(Refusal::Dnc { global: true }));
    c.dnc.use_global = false;
    assert_eq!(check(&c, &l, t), Ok(()));
    let l = LeadFacts {
        dnc_campaign: true,
        ..fresh()
    };
    assert_eq!(check(&c, &l, t), Err(Refusal::Dnc { global: false }));
    let l = LeadFacts {
        status: Some(LeadStatus::Done),
        ..fresh()
    };
    assert_eq!(check(&c, &l, t).unwrap_err().code(), "closed");
    // A stored status this build does not know is closed too.
    let l = LeadFacts {
        status: None,
        ..fresh()
    };
    assert_eq!(
        check(&c, &l, t).unwrap_err().to_string(),
        "lead is closed (unknown status)"
    );
    let l = LeadFacts {
        status: Some(LeadStatus::Active),
        attempts: c.retry.max_attempts,
        ..fresh()
    };
    assert_eq!(
        check(&c, &l, t).unwrap_err().to_string(),
        format!("max attempts reached ({0} of {0})", c.retry.max_attempts)
    );
}

#[test]
fn retry_delays_follow_the_last_outcome() {
    let c = campaign();
    let busy = c.retry.delay.busy;
    let last = at("2026-11-24T15:00:00Z");
    let l = LeadFacts {
        status: Some(LeadStatus::Active),
        attempts: 1,
        last_attempt_at: Some(last),
        last_outcome: Some("busy"),
        ..fresh()
    };
    let due = last + SignedDuration::try_from(busy).unwrap();
    let before = due - SignedDuration::from_secs(1);
    assert_eq!(
        check(&c, &l, before),
        Err(Refusal::RetryDelay {
            outcome: "busy".into(),
            due
        })
    );
    assert_eq!(check(&c, &l, due), Ok(()));
    // An agent disposition with "retry after 2h".
    let l = LeadFacts {
        last_outcome: Some("later"),
        ..l
    };
    assert!(check(&c, &l, last + SignedDuration::from_mins(119)).is_err());
    assert_eq!(check(&c, &l, last + SignedDuration::from_mins(120)), Ok(()));
    // A scheduled callback replaces the delay.
    let cb = last + SignedDuration::from_mins(10);
    let l = LeadFacts {
        last_outcome: Some("callme"),
        callback_at: Some(cb),
        ..l
    };
    assert_eq!(
        check(&c, &l, cb - SignedDuration::from_secs(1)),
        Err(Refusal::Callback { at: cb })
    );
    assert_eq!(check(&c, &l, cb), Ok(()));
}

#[test]
fn rolling_limits_and_regulation_f() {
    let mut c = campaign();
    c.retry.max_attempts = 100;
    c.hours.days = jiff::civil::Weekday::Monday
        .cycle_forward()
        .take(7)
        .collect();
    c.limits.per_24h = Some(2);
    let now = at("2026-11-24T18:00:00Z");
    let h = |n: i64| now - SignedDuration::from_hours(n);
    let recent = [h(30), h(20), h(3)];
    let l = LeadFacts {
        status: Some(LeadStatus::Active),
        attempts: 3,
        recent_attempts: &recent,
        ..fresh()
    };
    // Two in the last 24 h: the next is allowed when the older of them leaves the window.
    assert_eq!(
        check(&c, &l, now),
        Err(Refusal::Per24h {
            limit: 2,
            until: h(20) + SignedDuration::from_hours(24)
        })
    );
    assert_eq!(
        check(&c, &l, h(20) + SignedDuration::from_hours(24)),
        Ok(())
    );

    c.limits.per_24h = None;
    c.limits.reg_f = true;
    let days: Vec<Timestamp> = (1..=7).map(|d| h(24 * d - 1)).collect();
    let l = LeadFacts {
        status: Some(LeadStatus::Active),
        attempts: 7,
        recent_attempts: &days,
        ..fresh()
    };
    let oldest = h(24 * 7 - 1);
    assert_eq!(
        check(&c, &l, now),
        Err(Refusal::RegF7in7 {
            until: oldest + SignedDuration::from_hours(24 * 7)
        })
    );
    assert_eq!(
        check(&c, &l, oldest + SignedDuration::from_hours(24 * 7)),
        Ok(())
    );
    let l = LeadFacts {
        status: Some(LeadStatus::Active),
        attempts: 1,
        last_conversation_at: Some(h(24 * 6)),
        ..fresh()
    };
    assert_eq!(check(&c, &l, now).unwrap_err().code(), "reg_f_conversation");
    assert_eq!(
        check(&c, &l, h(24 * 6) + SignedDuration::from_hours(24 * 7)),
        Ok(())
    );
}

#[test]
fn uk_abandoned_and_machine_rules_unless_an_agent_is_guaranteed() {
    let mut c = campaign();
    c.regime = Regime::Uk;
    c.retry.max_attempts = 100;
    c.hours.timezone = TimeZone::get("Europe/London").unwrap();
    c.hours.timezone_name = "Europe/London".into();
    c.hours.start = jiff::civil::time(8, 0, 0, 0);
    c.hours.end = jiff::civil::time(21, 0, 0, 0);
    let now = at("2026-11-24T15:00:00Z");
    let ab = now - SignedDuration::from_hours(71);
    let l = LeadFacts {
        status: Some(LeadStatus::Active),
        attempts: 1,
        last_abandoned_at: Some(ab),
        ..fresh()
    };
    assert_eq!(
        check(&c, &l, now),
        Err(Refusal::UkAbandoned {
            until: ab + SignedDuration::from_hours(72)
        })
    );
    // Machine at 09:00 London today: not again until midnight London time.
    let m = at("2026-11-24T09:00:00Z");
    let l = LeadFacts {
        status: Some(LeadStatus::Active),
        attempts: 1,
        last_machine_at: Some(m),
        ..fresh()
    };
    assert_eq!(
        check(&c, &l, now),
        Err(Refusal::UkMachineSameDay {
            until: at("2026-11-25T00:00:00Z")
        })
    );
    assert_eq!(check(&c, &l, at("2026-11-25T09:00:00Z")), Ok(()));
    c.mode = Mode::Progressive;
    assert_eq!(check(&c, &l, now), Ok(()));
}

#[test]
fn unknown_stored_zones_are_refused() {
    let c = campaign();
    let l = LeadFacts {
        zone: None,
        zone_name: Some("Mars/Olympus"),
        ..fresh()
    };
    assert_eq!(
        check(&c, &l, at("2026-11-24T15:00:00Z"))
            .unwrap_err()
            .to_string(),
        "unknown time zone \"Mars/Olympus\""
    );
}

/// A campaign open every day 08:00–21:00 (the federal window), so what refuses is a state rule.
fn all_week() -> Campaign {
    use jiff::civil::Weekday::*;
    let mut c = campaign();
    c.hours.days = vec![
        Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
    ];
    c.hours.start = US_EARLIEST;
    c.hours.end = US_LATEST;
    c
}

fn place(regions: &[&str], zones: &[&str]) -> zones::Place {
    zones::Place::from_key(&format!("{}|{}", regions.join(" "), zones.join(" "))).unwrap()
}

/// The instant of a local wall time in a zone.
fn local_at(zone: &str, s: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = s.parse().unwrap();
    dt.to_zoned_datetime(TimeZone::get(zone).unwrap())
        .unwrap()
        .timestamp()
}

#[test]
fn every_candidate_zone_must_be_open() {
    let c = all_week();
    // Idaho's 208: Boise (Mountain) and Los Angeles (Pacific). 08:30 in Boise is 07:30 in LA.
    let p = place(&["US-ID"], &["America/Boise", "America/Los_Angeles"]);
    let lead = LeadFacts {
        place: Some(&p),
        ..fresh()
    };
    let t = local_at("America/Boise", "2026-12-08T08:30");
    let r = check(&c, &lead, t).unwrap_err();
    assert_eq!(r.code(), "outside_hours");
    assert!(
        r.to_string().contains("07:30 in America/Los_Angeles"),
        "{r}"
    );
    // At 20:30 in Los Angeles it is 21:30 in Boise: closed by the other zone.
    let t = local_at("America/Los_Angeles", "2026-12-08T20:30");
    let r = check(&c, &lead, t).unwrap_err();
    assert!(r.to_string().contains("21:30 in America/Boise"), "{r}");
    // 09:00 in LA, 10:00 in Boise: open in both.
    let t = local_at("America/Los_Angeles", "2026-12-08T09:00");
    assert_eq!(check(&c, &lead, t), Ok(()));
    // With no zone (campaign default) the campaign's zone applies.
    let none = place(&[], &[]);
    let lead = LeadFacts {
        place: Some(&none),
        ..fresh()
    };
    assert_eq!(
        check(&c, &lead, local_at("America/New_York", "2026-12-08T08:30")),
        Ok(())
    );
    assert!(check(&c, &lead, local_at("America/New_York", "2026-12-08T07:59")).is_err());
}

#[test]
fn a_stored_key_with_an_unknown_zone_is_refused_as_unknown() {
    let c = all_week();
    let lead = LeadFacts {
        zone_name: Some("Mars/Base"),
        ..fresh()
    };
    let r = check(&c, &lead, local_at("America/New_York", "2026-12-08T12:00")).unwrap_err();
    assert_eq!(r.code(), "unknown_zone");
}

/// One state-rule case: at this local time in this zone, a lead of this region is refused
/// (`Some(code)`) or allowed (`None`), with `recent` attempts in the last hours.
struct Case {
    region: &'static str,
    zone: &'static str,
    local: &'static str,
    recent: u32,
    refused: Option<&'static str>,
}

const fn case(
    region: &'static str,
    zone: &'static str,
    local: &'static str,
    refused: Option<&'static str>,
) -> Case {
    Case {
        region,
        zone,
        local,
        recent: 0,
        refused,
    }
}

const R: Option<&str> = Some("state_rule");
const CAP: Option<&str> = Some("state_cap_24h");

/// Each shipped rule's refusals, and an allowed call next to each (2026-12-06 is a Sunday,
/// 12-05 a Saturday, 12-08 a Tuesday).
const CASES: &[Case] = &[
    case("US-AL", "America/Chicago", "2026-12-08T20:30", R),
    case("US-AL", "America/Chicago", "2026-12-08T19:30", None),
    case("US-AL", "America/Chicago", "2026-12-06T12:00", R),
    case("US-AL", "America/Chicago", "2026-11-26T12:00", R), // Thanksgiving
    case("US-AL", "America/Chicago", "2026-04-27T12:00", R), // Confederate Memorial Day
    case("US-CA", "America/Los_Angeles", "2026-12-08T08:30", R),
    case("US-CA", "America/Los_Angeles", "2026-12-06T09:00", None),
    case("US-CT", "America/New_York", "2026-12-08T08:30", R),
    case("US-CT", "America/New_York", "2026-12-08T20:00", R),
    case("US-CT", "America/New_York", "2026-12-08T19:59", None),
    case("US-FL", "America/New_York", "2026-12-08T20:00", R),
    case("US-FL", "America/New_York", "2026-12-08T19:59", None),
    case("US-IL", "America/Chicago", "2026-12-08T08:59", R),
    case("US-IL", "America/Chicago", "2026-12-08T09:00", None),
    case("US-KY", "America/New_York", "2026-12-08T09:59", R),
    case("US-KY", "America/New_York", "2026-12-08T10:00", None),
    case("US-LA", "America/Chicago", "2026-12-06T12:00", R),
    case("US-LA", "America/Chicago", "2026-02-17T12:00", R), // Mardi Gras 2026
    case("US-LA", "America/Chicago", "2026-12-08T20:00", R),
    case("US-LA", "America/Chicago", "2026-12-05T12:00", None),
    case("US-MA", "America/New_York", "2026-12-08T20:15", R),
    case("US-MD", "America/New_York", "2026-12-08T20:15", R),
    case("US-MI", "America/Detroit", "2026-12-08T08:45", R),
    case("US-MN", "America/Chicago", "2026-12-08T08:45", R),
    case("US-MS", "America/Chicago", "2026-12-06T12:00", R),
    case("US-MS", "America/Chicago", "2026-12-25T12:00", R), // Christmas
    case("US-MS", "America/Chicago", "2026-12-08T20:30", R),
    case("US-NV", "America/Los_Angeles", "2026-12-08T08:30", R),
    case("US-NV", "America/Los_Angeles", "2026-12-08T20:30", R),
    case("US-NM", "America/Denver", "2026-12-08T08:30", R),
    case("US-OK", "America/Chicago", "2026-12-08T20:30", R),
    case("US-PA", "America/New_York", "2026-12-06T12:00", R),
    case("US-PA", "America/New_York", "2026-12-06T13:30", None),
    case("US-PA", "America/New_York", "2026-07-03T12:00", R), // Independence Day observed
    case("US-PA", "America/New_York", "2026-06-14T14:00", R), // Flag Day (a Sunday too)
    case("US-PA", "America/New_York", "2026-12-08T20:30", None),
    case("US-RI", "America/New_York", "2026-12-05T17:00", R),
    case("US-RI", "America/New_York", "2026-12-08T18:00", R),
    case("US-RI", "America/New_York", "2026-12-06T12:00", R),
    case("US-RI", "America/New_York", "2026-08-10T12:00", R), // Victory Day
    case("US-RI", "America/New_York", "2026-12-08T17:59", None),
    case("US-TX", "America/Chicago", "2026-12-06T11:59", R),
    case("US-TX", "America/Chicago", "2026-12-06T12:00", None),
    case("US-TX", "America/Chicago", "2026-12-08T08:30", R),
    case("US-UT", "America/Denver", "2026-12-06T12:00", R),
    case("US-UT", "America/Denver", "2026-07-24T12:00", R), // Pioneer Day
    case("US-UT", "America/Denver", "2026-12-08T20:30", None),
    case("US-WA", "America/Los_Angeles", "2026-12-08T20:00", R),
    // A state with no rule of its own: only the federal window.
    case("US-NY", "America/New_York", "2026-12-06T20:59", None),
    Case {
        region: "US-FL",
        zone: "America/New_York",
        local: "2026-12-08T12:00",
        recent: 3,
        refused: CAP,
    },
    Case {
        region: "US-FL",
        zone: "America/New_York",
        local: "2026-12-08T12:00",
        recent: 2,
        refused: None,
    },
    Case {
        region: "US-OK",
        zone: "America/Chicago",
        local: "2026-12-08T12:00",
        recent: 3,
        refused: CAP,
    },
    Case {
        region: "US-MD",
        zone: "America/New_York",
        local: "2026-12-08T12:00",
        recent: 3,
        refused: CAP,
    },
    Case {
        region: "US-NY",
        zone: "America/New_York",
        local: "2026-12-08T12:00",
        recent: 3,
        refused: None,
    },
];

/// The cases that do not come out as expected under these shipped rules.
fn failing(shipped: &[states::Rule]) -> Vec<String> {
    let c = all_week();
    let mut out = Vec::new();
    for k in CASES {
        let p = place(&[k.region], &[k.zone]);
        let at = local_at(k.zone, k.local);
        // `recent` attempts in the last few hours.
        let recent: Vec<Timestamp> = (1..=k.recent)
            .map(|h| at - jiff::SignedDuration::from_hours(i64::from(h)))
            .collect();
        let lead = LeadFacts {
            place: Some(&p),
            recent_attempts: &recent,
            ..fresh()
        };
        let got = check_in(shipped, &c, &lead, at).err();
        let ok = match (k.refused, &got) {
            (None, None) => true,
            (Some(code), Some(r)) => {
                r.code() == code
                    && match r {
                        Refusal::StateRule { region, .. } | Refusal::StateCap { region, .. } => {
                            region == k.region
                        }
                        _ => false,
                    }
            }
            _ => false,
        };
        if !ok {
            out.push(format!("{} {} {}: {got:?}", k.region, k.zone, k.local));
        }
    }
    out
}

#[test]
fn each_state_rule_refuses_what_it_should() {
    let bad = failing(&states::SHIPPED.rules);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn each_shipped_rule_is_needed_by_a_case() {
    // Take each rule out in turn: some case must then come out wrong, so no rule goes
    // untested (and removing one from the data file fails the test above).
    let all = &states::SHIPPED.rules;
    for i in 0..all.len() {
        let mut less = all.clone();
        let gone = less.remove(i);
        assert!(
            !failing(&less).is_empty(),
            "no case needs the rule of {}",
            gone.region
        );
    }
}

#[test]
fn a_campaign_can_add_a_rule_but_not_loosen_one() {
    let mut c = all_week();
    let p = place(&["US-NY"], &["America/New_York"]);
    let lead = LeadFacts {
        place: Some(&p),
        ..fresh()
    };
    let t = local_at("America/New_York", "2026-12-08T19:30");
    assert_eq!(check(&c, &lead, t), Ok(()));
    c.compliance.rules.push(
        states::RawRule {
            region: "US-NY".into(),
            hours: Some("09:00-19:00".into()),
            saturday: None,
            sunday: None,
            holidays: None,
            extra_holidays: Vec::new(),
            cap_24h: None,
            source: None,
            note: None,
        }
        .check()
        .unwrap(),
    );
    assert_eq!(check(&c, &lead, t).unwrap_err().code(), "state_rule");
    // A wider window for Florida than the shipped one loosens nothing.
    c.compliance.rules.push(
        states::RawRule {
            region: "US-FL".into(),
            hours: Some("08:00-21:00".into()),
            saturday: None,
            sunday: None,
            holidays: None,
            extra_holidays: Vec::new(),
            cap_24h: Some(10),
            source: None,
            note: None,
        }
        .check()
        .unwrap(),
    );
    let fl = place(&["US-FL"], &["America/New_York"]);
    let lead = LeadFacts {
        place: Some(&fl),
        ..fresh()
    };
    let t = local_at("America/New_York", "2026-12-08T20:30");
    assert_eq!(check(&c, &lead, t).unwrap_err().code(), "state_rule");
}

#[test]
fn a_number_of_no_known_state_gets_every_states_rules() {
    let c = all_week();
    let p = place(&[zones::US_ANY], &["America/New_York"]);
    let lead = LeadFacts {
        place: Some(&p),
        ..fresh()
    };
    // 20:30 is inside the federal window but outside Florida's (and others').
    let r = check(&c, &lead, local_at("America/New_York", "2026-12-08T20:30")).unwrap_err();
    assert_eq!(r.code(), "state_rule");
    // Noon on a Tuesday that is nobody's holiday: allowed.
    assert_eq!(
        check(&c, &lead, local_at("America/New_York", "2026-12-08T12:00")),
        Ok(())
    );
}
