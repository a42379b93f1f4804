//! Evidence per attempt: an attempt dialed by the real scheduler carries what the rules saw
//! (candidate zones and local times, windows, counts, abandon rate, registry date, rules
//! version), matching what this test computes on its own; `dialer audit` prints it in words;
//! `dialer report --compliance` lists attempts without evidence as exceptions.

use std::time::Duration;

use dialer::compliance;
use dialer::compliance::evidence::Evidence;
use dialer::domain::{LeadStatus, Outcome};
use dialer::leads::scheduler::Scheduler;
use dialer::store::Store;
use dialer::store::attempts::{AttemptEnd, AttemptStart};
use jiff::{SignedDuration, Timestamp};

use crate::compliance_check::{cli, load_us_registry, sync_and_import, wall};
use crate::storedb::{self, CampaignDir};

const DAY_MS: i64 = 86_400_000;

fn campaign() -> String {
    storedb::campaign_toml("ev", "registry = \"us-national\"")
        .replace(
            "[hours]\ntimezone = \"America/New_York\"\n",
            "[hours]\ntimezone = \"America/New_York\"\ndays = [\"mon\", \"tue\", \"wed\", \
             \"thu\", \"fri\", \"sat\", \"sun\"]\nstart = \"09:00\"\nend = \"21:00\"\n\n\
             [limits]\nper_24h = 3\nreg_f = true\n\n[retry.delay]\nno_answer = \"1m\"\n\
             abandoned = \"1m\"\n",
        )
        .replace(
            "columns = { phone = \"phone\", timezone = \"tz\" }",
            "columns = { phone = \"phone\" }",
        )
}

struct Case {
    dir: CampaignDir,
    /// The attempt dialed at 20:55 New York time, its lead's number.
    ny_attempt: i64,
    registry_date: Timestamp,
    dial: Timestamp,
}

/// A campaign with a New York and a Florida lead: each is dialed once at 18:00 New York time
/// (the New York call answered, the Florida one answered and abandoned), then the scheduler
/// claims again at 20:55 New York time (19:55 is too late for nothing: Florida's window ends at
/// 20:00 local, and Florida is on New York time, so only New York is open).
async fn dial(store: &Store) -> Case {
    let dir = CampaignDir::new("ev", &campaign());
    dir.write("lists/a.csv", "phone\n+12122341000\n+13052341000\n");
    let reg = dir.write("registry.txt", "AreaCode,PhoneNumber\n212,2349999\n");
    let c = dir.load("ev");
    let t0: Timestamp = "2026-12-07T23:00:00Z".parse().unwrap();
    let (ids, _) = sync_and_import(
        store,
        &c,
        t0,
        &dir.path().join("lists/a.csv"),
        phonenumber::country::Id::US,
    )
    .await;
    let registry_date = t0 - SignedDuration::from_hours(24 * 7);
    load_us_registry(store, &reg, registry_date, t0).await;
    let mut sched = Scheduler::new(c.clone(), &ids, "t", Duration::from_secs(60));
    let first = sched.claim(store, t0, 5).await.unwrap();
    assert_eq!(first.len(), 2, "both leads are open at 18:00 New York time");
    for row in &first {
        let at = t0.as_millisecond() + 1000;
        let id = store
            .record_attempt_start(&AttemptStart {
                lead_id: row.lead.id,
                dial_at_ms: at,
                trunk: Some("main"),
                rules_version: Some(&compliance::states::SHIPPED.version),
                ..Default::default()
            })
            .await
            .unwrap();
        let florida = row.lead.phone.starts_with("+1305");
        store
            .record_attempt_end(
                id,
                &AttemptEnd {
                    end_at_ms: at + 30_000,
                    outcome: if florida {
                        Outcome::Abandoned
                    } else {
                        Outcome::NoAnswer
                    },
                    live: true,
                    abandoned: florida,
                    lead_status: LeadStatus::Active,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let dial: Timestamp = "2026-12-08T01:55:00Z".parse().unwrap();
    // Claimed a minute before the dial, re-checked at it (as a preview is): the dial follows
    // the re-check's evidence.
    let claimed_at = dial - SignedDuration::from_mins(1);
    let second = sched.claim(store, claimed_at, 5).await.unwrap();
    assert_eq!(
        second
            .iter()
            .map(|r| r.lead.phone.as_str())
            .collect::<Vec<_>>(),
        ["+12122341000"],
        "at 20:55 New York time only New York is open (Florida closes at 20:00)"
    );
    assert_eq!(
        sched.recheck(store, dial, second[0].lead.id).await.unwrap(),
        None
    );
    let ny_attempt = store
        .record_attempt_start(&AttemptStart {
            lead_id: second[0].lead.id,
            dial_at_ms: dial.as_millisecond(),
            trunk: Some("main"),
            rules_version: Some(&compliance::states::SHIPPED.version),
            ..Default::default()
        })
        .await
        .unwrap();
    Case {
        dir,
        ny_attempt,
        registry_date,
        dial,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_dialed_by_the_scheduler_carries_the_evidence_the_rules_saw() {
    for db in storedb::all("evidence").await {
        let store = db.open().await;
        let case = dial(&store).await;
        let row = store.attempt(case.ny_attempt).await.unwrap().unwrap();
        let json = row
            .evidence
            .as_deref()
            .unwrap_or_else(|| panic!("{}: attempt {} has no evidence", db.label, case.ny_attempt));
        let e: Evidence = serde_json::from_str(json).unwrap();
        // Computed here: the dial in New York's wall time.
        let local = wall("America/New_York", case.dial);
        assert_eq!(local, "2026-12-07T20:55:00");
        assert_eq!(e.zones.len(), 1, "{}: {e:?}", db.label);
        assert_eq!(
            (e.zones[0].zone.as_str(), e.zones[0].local.as_str()),
            ("America/New_York", local.as_str())
        );
        assert_eq!(e.zones_from, "zone_key");
        assert_eq!(e.regions, ["US-NY"]);
        assert!(e.state_rules.is_empty(), "no New York rule: {e:?}");
        assert_eq!(e.hours, "Mon,Tue,Wed,Thu,Fri,Sat,Sun 09:00-21:00");
        assert_eq!(e.dial_at_ms, Some(case.dial.as_millisecond()));
        assert_eq!(
            e.allowed_at_ms,
            case.dial.as_millisecond(),
            "the re-check's"
        );
        // One earlier attempt to this lead, 2 h 55 min before.
        assert_eq!((e.attempts_24h, e.attempts_7d), (1, 1));
        assert_eq!(e.per_24h_cap, Some(3));
        assert!(e.reg_f);
        // The window's live answers: both 18:00 calls; one abandoned.
        assert_eq!((e.abandon.live, e.abandon.abandoned), (2, 1));
        assert_eq!(e.abandon.rate, Some(0.5));
        assert_eq!(e.abandon.since_ms, case.dial.as_millisecond() - 30 * DAY_MS);
        assert_eq!(e.abandon.cap, 0.03);
        let reg = e.registry.as_ref().unwrap();
        assert_eq!(
            (reg.name.as_str(), reg.data_ms),
            ("us-national", Some(case.registry_date.as_millisecond()))
        );
        assert_eq!(e.rules_version, compliance::states::SHIPPED.version);
        // The Florida lead's first attempt names Florida's rule and its cap.
        let mut fl = None;
        for id in [case.ny_attempt - 2, case.ny_attempt - 1] {
            let a = store.attempt(id).await.unwrap().unwrap();
            if a.phone.as_deref() == Some("+13052341000") {
                fl = Some(a);
            }
        }
        let fl = fl.expect("the Florida attempt");
        let fe: Evidence = serde_json::from_str(fl.evidence.as_deref().unwrap()).unwrap();
        assert_eq!(fe.regions, ["US-FL"]);
        assert_eq!(fe.state_rules.len(), 1, "{fe:?}");
        assert_eq!(fe.state_rules[0].region, "US-FL");
        assert_eq!(fe.state_rules[0].window.as_deref(), Some("08:00-20:00"));
        assert_eq!(fe.state_rules[0].cap_24h, Some(3));
        assert_eq!(fe.zones[0].local, "2026-12-07T18:00:01");
        assert_eq!((fe.attempts_24h, fe.abandon.live), (0, 0));

        // A dial that bypassed the scheduler (the Florida lead, at 20:55 too): no evidence, an
        // exception in the compliance report.
        let bypass = store
            .record_attempt_start(&AttemptStart {
                lead_id: fl.lead_id,
                dial_at_ms: case.dial.as_millisecond() + 1000,
                trunk: Some("main"),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(store.attempt(bypass).await.unwrap().unwrap().evidence, None);

        if db.label == "sqlite" {
            audit_prints_it(&case, &db.url);
            compliance_report(&case, &db.url, bypass);
        }
    }
}

fn audit(dir: &CampaignDir, url: &str, args: &[&str]) -> std::process::Output {
    cli(dir.root(), url, args)
}

fn audit_prints_it(case: &Case, url: &str) {
    let id = case.ny_attempt.to_string();
    let out = audit(&case.dir, url, &["audit", &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "20:55 in America/New_York (candidate zones: America/New_York, from the number)",
        "campaign hours Mon,Tue,Wed,Thu,Fri,Sat,Sun 09:00-21:00, no state rule for NY",
        "1 attempt in the last 24 h (cap 3)",
        "abandon rate 50.0 % of 3.0 % over the last 30 days (1 of 2 live answers)",
        "registry us-national data of 2026-11-30 (7 days old)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        text.contains(&format!("rules {}", compliance::states::SHIPPED.version)),
        "{text}"
    );
    let out = audit(&case.dir, url, &["audit", &id, "--json"]);
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["evidence"]["zones"][0]["local"], "2026-12-07T20:55:00");
    assert_eq!(j["dial_at"], "2026-12-08T01:55:00Z");
    // An unknown attempt: a clear error, exit 1.
    let out = audit(&case.dir, url, &["audit", "999999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("attempt 999999 does not exist"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn compliance_report(case: &Case, url: &str, bypass: i64) {
    let file = case.dir.path().join("ev.toml");
    let report = |more: &[&str]| {
        let mut args = vec![
            "report",
            "--campaign",
            "ev",
            "--campaign-file",
            file.to_str().unwrap(),
            "--compliance",
            "--since",
            "2026-12-07T12:00:00Z",
            "--until",
            "2026-12-08T12:00:00Z",
        ];
        args.extend_from_slice(more);
        audit(&case.dir, url, &args)
    };
    let out = report(&["--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (j["attempts"].as_u64(), j["with_evidence"].as_u64()),
        (Some(4), Some(3))
    );
    // Local hours: both 18:00 calls, the 20:55 one (the bypass has no evidence).
    let hours = j["calls_by_local_hour"].as_array().unwrap();
    assert_eq!((hours[18].as_u64(), hours[20].as_u64()), (Some(2), Some(1)));
    assert_eq!(
        hours.iter().filter_map(|h| h.as_u64()).sum::<u64>(),
        3,
        "{hours:?}"
    );
    // The 7 days to --until: 2 attempts to each lead.
    assert_eq!(j["attempts_per_lead_7d"]["max"], 2);
    assert_eq!(j["attempts_per_lead_7d"]["distribution"]["2"], 2);
    // The window ending 2026-12-08 00:00 New York: 2 live answers, 1 abandoned: over the cap.
    let w = &j["abandon_windows"][0];
    assert_eq!(
        (w["live"].as_u64(), w["abandoned"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(w["over_cap"], true);
    let ex = j["exceptions"].as_array().unwrap();
    assert!(
        ex.iter()
            .any(|e| e["attempt_id"] == bypass && e["kind"] == "no_evidence"),
        "{ex:?}"
    );
    // The 20:55 attempt dialed with an abandon rate of 50 % in its window: reported.
    assert!(
        ex.iter()
            .any(|e| e["attempt_id"] == case.ny_attempt && e["kind"] == "abandon_over_cap"),
        "{ex:?}"
    );
    assert!(
        !ex.iter()
            .any(|e| e["kind"] == "outside_hours" || e["kind"] == "state_rule"),
        "{ex:?}"
    );
    let out = report(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("attempt {bypass} at")), "{text}");
    assert!(text.contains("  18:00  2\n"), "{text}");
}
