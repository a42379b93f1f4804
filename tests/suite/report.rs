//! `dialer report` on a small shift written through the store's own functions, on SQLite and
//! (when `DIALER_TEST_DATABASE_URL` is set) PostgreSQL: the library's figures and the real
//! binary's JSON, CSV, table and SVG are checked against values worked out by hand below.

use std::path::{Path, PathBuf};
use std::process::Command;

use dialer::campaign::{AbandonWindow, Env};
use dialer::domain::{AmdResult, LeadStatus};
use dialer::report::{self, Params, Policy};
use dialer::store::{
    AttemptEnd, AttemptStart, CampaignRecord, ListRecord, NewDisposition, NewLead, Store,
};
use serde_json::Value;

use crate::storedb;

const S: i64 = 1000;
const MIN: i64 = 60 * S;
const DAY: i64 = 86_400 * S;
/// 2026-09-21T14:00:00Z; the period is [T, T+2h).
const T: i64 = 497_222 * 3_600_000;
/// The campaign of the repository's example files (the CLI reads its rules from there).
const CAMPAIGN: &str = "cold-sales";

fn record<'a>(name: &'a str) -> CampaignRecord<'a> {
    CampaignRecord {
        name,
        kind: "cold",
        regime: "us",
        source: None,
        recording_keep_ms: None,
        lists: vec![ListRecord {
            name: "main",
            kind: "cold",
            priority: 0,
            default_region: "US",
        }],
    }
}

/// One dial: start and end through the store. Returns the attempt id.
async fn dial(
    store: &Store,
    lead: i64,
    at: i64,
    outcome: &str,
    live: bool,
    abandoned: bool,
    agent: Option<&str>,
) -> i64 {
    let id = store
        .record_attempt_start(&AttemptStart {
            lead_id: lead,
            dial_at_ms: at,
            trunk: Some("main"),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .record_attempt_end(
            id,
            &AttemptEnd {
                end_at_ms: at + 30 * S,
                outcome: outcome.parse().expect("an outcome"),
                live,
                abandoned,
                answer_at_ms: live.then_some(at + 10 * S),
                connect_at_ms: agent.map(|_| at + 11 * S),
                agent_id: agent.map(str::to_string),
                amd_result: (outcome == "machine").then_some(AmdResult::Machine),
                lead_status: LeadStatus::Active,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    id
}

/// The shift (see the expected figures in `check`):
/// - dials in the period: busy T+1m, human T+2m (alice), abandoned T+5m, no_answer T+20m,
///   human T+30m (bob), machine T+40m; outside it, live answers at T−5d (kept) and T−3h
///   (abandoned), and one at T+130m (after `until`).
/// - alice (sales): ready from T−10m, on_call T+2m11s (attempt 2, campaign set), wrap_up T+12m
///   (no campaign, attempt 2), ready T+14m, paused T+60m, ready T+70m, still open.
/// - bob (sales): ready T, on_call T+30m10s, wrap_up T+40m (campaign set), ready T+45m,
///   logged_out T+90m (open).
/// - carol works for another campaign: her idle time is not ours.
async fn shift(store: &Store) -> i64 {
    let ids = store
        .upsert_campaign(&record(CAMPAIGN), T - 30 * DAY)
        .await
        .unwrap();
    let other = store
        .upsert_campaign(&record("collections"), T - 30 * DAY)
        .await
        .unwrap();
    let list = ids.list("main").unwrap();
    let leads: Vec<NewLead> = (0..10)
        .map(|i| NewLead {
            list_id: list,
            phone: format!("+1202555{i:04}"),
            timezone: None,
            zone_key: None,
            zone_source: None,
            attributes: "{}".into(),
            priority: 0,
        })
        .collect();
    store
        .insert_leads(ids.id, &leads, T - 30 * DAY)
        .await
        .unwrap();
    let lead: Vec<i64> = store
        .leads_page(ids.id, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|l| l.lead.id)
        .collect();

    dial(store, lead[6], T - 5 * DAY, "human", true, false, None).await;
    dial(store, lead[7], T - 180 * MIN, "abandoned", true, true, None).await;
    dial(store, lead[0], T + MIN, "busy", false, false, None).await;
    let a2 = dial(
        store,
        lead[1],
        T + 2 * MIN,
        "human",
        true,
        false,
        Some("alice"),
    )
    .await;
    let a3 = dial(store, lead[2], T + 5 * MIN, "abandoned", true, true, None).await;
    dial(
        store,
        lead[3],
        T + 20 * MIN,
        "no_answer",
        false,
        false,
        None,
    )
    .await;
    let a5 = dial(
        store,
        lead[4],
        T + 30 * MIN,
        "human",
        true,
        false,
        Some("bob"),
    )
    .await;
    dial(store, lead[5], T + 40 * MIN, "machine", false, false, None).await;
    dial(store, lead[8], T + 130 * MIN, "human", true, false, None).await;

    let c = Some(ids.id);
    let st =
        |agent: &'static str, camp: Option<i64>, state: &'static str, att: Option<i64>, at: i64| {
            let store = store.clone();
            async move {
                store
                    .record_agent_state(agent, camp, state, att, at)
                    .await
                    .unwrap()
            }
        };
    st("alice", None, "ready", None, T - 10 * MIN).await;
    st("alice", c, "on_call", Some(a2), T + 2 * MIN + 11 * S).await;
    st("alice", None, "wrap_up", Some(a2), T + 12 * MIN).await;
    st("alice", None, "ready", None, T + 14 * MIN).await;
    st("alice", None, "paused", None, T + 60 * MIN).await;
    st("alice", None, "ready", None, T + 70 * MIN).await;
    st("bob", None, "ready", None, T).await;
    st("bob", c, "on_call", Some(a5), T + 30 * MIN + 10 * S).await;
    st("bob", c, "wrap_up", Some(a5), T + 40 * MIN).await;
    st("bob", None, "ready", None, T + 45 * MIN).await;
    st("bob", None, "logged_out", None, T + 90 * MIN).await;
    st("carol", None, "ready", None, T).await;
    st("carol", Some(other.id), "on_call", None, T + 10 * MIN).await;
    st("carol", Some(other.id), "wrap_up", None, T + 20 * MIN).await;
    st("carol", None, "ready", None, T + 25 * MIN).await;

    let d = |code, agent, attempt, lead, at| NewDisposition {
        lead_id: lead,
        attempt_id: Some(attempt),
        code,
        agent_id: agent,
        notes: None,
        callback_at_ms: None,
        at_ms: at,
    };
    store
        .record_disposition(&d("sale", Some("alice"), a2, lead[1], T + 13 * MIN))
        .await
        .unwrap();
    store
        .record_disposition(&d("abandoned", None, a3, lead[2], T + 5 * MIN + 10 * S))
        .await
        .unwrap();
    store
        .record_disposition(&d("not_interested", Some("bob"), a5, lead[4], T + 44 * MIN))
        .await
        .unwrap();
    ids.id
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-3
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The figures worked out by hand, on the JSON form of the report.
fn check(j: &Value, label: &str) {
    let ctx = format!("{label}: {j:#}");
    assert_eq!(j["dials"], 6, "{ctx}");
    assert_eq!(j["contacts"], 3, "{ctx}");
    assert_eq!(j["contact_rate"], 0.5, "{ctx}");
    assert_eq!(j["abandoned"], 1, "{ctx}");
    assert!(close(f(&j["abandon_rate"]), 1.0 / 3.0), "{ctx}");
    // Window [T+2h−30d, T+2h): the three of the period, T−5d and T−3h: 2 of 5 abandoned.
    let w = &j["abandon_window"];
    assert_eq!(w["kind"], "rolling_30_days", "{ctx}");
    assert_eq!(
        (w["live"].as_u64(), w["abandoned"].as_u64()),
        (Some(5), Some(2)),
        "{ctx}"
    );
    assert_eq!(w["rate"], 0.4, "{ctx}");
    // The AMD machine at T+40m is counted; US rules estimate no people among machines.
    assert_eq!(w["amd_machines"], 1, "{ctx}");
    assert_eq!(w["amd_false_positive_rate"], 0.0, "{ctx}");
    assert_eq!(w["estimated_people_among_machines"], 0.0, "{ctx}");
    assert_eq!(w["over_cap"], true, "{ctx}");
    assert_eq!(w["until_ms"], T + 120 * MIN, "{ctx}");
    let o = &j["outcomes"];
    for (k, n) in [
        ("busy", 1),
        ("human", 2),
        ("abandoned", 1),
        ("no_answer", 1),
        ("machine", 1),
    ] {
        assert_eq!(o[k], n, "{k}: {ctx}");
    }
    // alice: ready 131 + 2760 + 3000 s, talk 589, wrap 120, paused 600 (7200 logged in).
    // bob: ready 1810 + 2700, talk 590, wrap 300 (5400). carol: none.
    let t = &j["agent_time"];
    assert!(close(f(&t["ready_s"]), 10401.0), "{ctx}");
    assert!(close(f(&t["on_call_s"]), 1179.0), "{ctx}");
    assert!(close(f(&t["wrap_up_s"]), 420.0), "{ctx}");
    assert!(close(f(&t["paused_s"]), 600.0), "{ctx}");
    assert!(close(f(&t["logged_in_s"]), 12600.0), "{ctx}");
    assert!(close(f(&j["occupancy"]), 1599.0 / 12000.0), "{ctx}");
    assert!(close(f(&j["utilization"]), 1599.0 / 12600.0), "{ctx}");
    assert_eq!(j["handled_calls"], 2, "{ctx}");
    assert!(close(f(&j["average_handle_time_s"]), 799.5), "{ctx}");
    assert!(
        close(f(&j["talk_minutes_per_agent_hour"]), 1179.0 / 60.0 / 3.5),
        "{ctx}"
    );
    assert_eq!(j["successes"], 1, "{ctx}");
    assert!(close(f(&j["successes_per_agent_hour"]), 1.0 / 3.5), "{ctx}");
    assert_eq!(j["dispositions"]["sale"], 1, "{ctx}");
    assert_eq!(j["dispositions"]["abandoned"], 1, "{ctx}");
    assert_eq!(j["dispositions"]["not_interested"], 1, "{ctx}");

    let agents = j["agents"].as_array().unwrap();
    let names: Vec<&str> = agents
        .iter()
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"], "{ctx}");
    let (a, b) = (&agents[0], &agents[1]);
    assert_eq!(
        (a["calls"].as_u64(), a["successes"].as_u64()),
        (Some(1), Some(1)),
        "{ctx}"
    );
    assert!(close(f(&a["occupancy"]), 709.0 / 6600.0), "{ctx}");
    assert!(close(f(&a["utilization"]), 709.0 / 7200.0), "{ctx}");
    assert!(
        close(f(&a["talk_s"]), 589.0) && close(f(&a["wrap_s"]), 120.0),
        "{ctx}"
    );
    assert!(close(f(&b["occupancy"]), 890.0 / 5400.0), "{ctx}");
    assert!(close(f(&b["logged_in_s"]), 5400.0), "{ctx}");
    assert!(close(f(&b["average_handle_time_s"]), 890.0), "{ctx}");

    // 5-minute buckets; [T+5m, T+10m) has the abandon; its window then holds T−5d, T−3h, T+2m
    // and T+5m; in [T+30m, T+35m) alice idles and bob talks 290 s of 300.
    let s = &j["series"];
    assert_eq!(s["bucket_s"], 300, "{ctx}");
    let bs = s["buckets"].as_array().unwrap();
    assert_eq!(bs.len(), 24, "{ctx}");
    assert_eq!(
        (bs[0]["dials"].as_u64(), bs[0]["live"].as_u64()),
        (Some(2), Some(1)),
        "{ctx}"
    );
    assert_eq!(bs[1]["abandon_rate"], 1.0, "{ctx}");
    assert_eq!(bs[1]["window_abandon_rate"], 0.5, "{ctx}");
    assert!(close(f(&bs[6]["occupancy"]), 290.0 / 600.0), "{ctx}");
    assert_eq!(bs[23]["window_abandon_rate"], 0.4, "{ctx}");
}

fn policy() -> Policy {
    Policy {
        window: AbandonWindow::Rolling30Days,
        cap: 0.025,
        success: ["sale".to_string()].into(),
        timezone: jiff::tz::TimeZone::get("America/New_York").unwrap(),
        amd_false_positive_rate: 0.0,
        source: "test".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_figures_match_the_hand_computed_shift() {
    for db in storedb::all("report_lib").await {
        let store = db.open().await;
        let id = shift(&store).await;
        let p = Params {
            campaign: CAMPAIGN.into(),
            since_ms: T,
            until_ms: T + 120 * MIN,
            now_ms: T + 7 * DAY,
            policy: policy(),
            roster: Some(["alice".to_string(), "bob".to_string()].into()),
            bucket_ms: None,
        };
        let r = report::build(&store, &p).await.unwrap();
        assert_eq!(r.campaign_id, id);
        check(&serde_json::to_value(&r).unwrap(), db.label);

        // Open intervals run to `now` when it is before `until`: at T+100m alice's last ready
        // has run 30 min, not 50.
        let mut early = p.clone();
        early.now_ms = T + 100 * MIN;
        let r2 = report::build(&store, &early).await.unwrap();
        let alice = &r2.agents[0];
        assert!(
            close(alice.ready_s, 131.0 + 2760.0 + 1800.0),
            "{}: {alice:?}",
            db.label
        );

        let mut unknown = p.clone();
        unknown.campaign = "nope".into();
        let e = report::build(&store, &unknown)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nope\" is not in the store"), "{e}");
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `dialer report` over the shift's period [T, T+2h), with more arguments.
fn dialer(db_url: &str, args: &[&str]) -> std::process::Output {
    let period = [
        "--since",
        "2026-09-21T14:00:00Z",
        "--until",
        "2026-09-21T16:00:00Z",
    ];
    dialer_raw(db_url, &[&period[..], args].concat())
}

fn dialer_raw(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dialer"))
        .arg("--config")
        .arg(repo().join("dialer.toml"))
        .args(["--db", db_url, "report", "--campaign", CAMPAIGN])
        .args(args)
        .env_remove("DIALER_CONFIG")
        .env_remove("DIALER_DATABASE_URL")
        .output()
        .expect("run dialer")
}

fn stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "dialer report failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Every element name and the ids of an SVG, which must be well-formed XML.
fn svg_elements(path: &Path) -> (Vec<String>, Vec<String>, String) {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(path).unwrap();
    let mut rd = quick_xml::Reader::from_str(&text);
    let (mut names, mut ids, mut texts) = (Vec::new(), Vec::new(), String::new());
    loop {
        match rd
            .read_event()
            .unwrap_or_else(|e| panic!("{}: not XML: {e}", path.display()))
        {
            Event::Start(e) | Event::Empty(e) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                for a in e.attributes() {
                    let a = a.unwrap();
                    if a.key.as_ref() == b"id" {
                        ids.push(String::from_utf8_lossy(&a.value).into_owned());
                    }
                }
            }
            Event::Text(t) => {
                texts.push_str(&String::from_utf8_lossy(&t));
                texts.push('\n');
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (names, ids, texts)
}

#[test]
fn the_cli_reports_json_csv_table_and_a_chart() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dbs = rt.block_on(storedb::all("report_cli"));
    // The CLI takes its rules from the example campaign file: check what it says first.
    let file = dialer::campaign::find(
        &repo().join("campaigns"),
        CAMPAIGN,
        &Env::from_pairs::<&str, &str>([]),
    )
    .unwrap();
    assert_eq!(file.abandon.window, AbandonWindow::Rolling30Days);
    for db in &dbs {
        rt.block_on(async {
            let store = db.open().await;
            shift(&store).await;
        });
        let url = db.cli_url();
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("shift.svg");
        let out = stdout(&dialer(
            &url,
            &["--format", "json", "--chart", chart.to_str().unwrap()],
        ));
        let j: Value = serde_json::from_str(&out).unwrap();
        check(&j, db.label);
        assert_eq!(j["abandon_window"]["cap"], file.abandon.cap);
        assert!(
            j["policy_source"]
                .as_str()
                .unwrap()
                .ends_with("cold_sales.toml"),
            "{j}"
        );
        let success: Vec<String> = file
            .dispositions
            .iter()
            .filter(|d| d.success)
            .map(|d| d.code.clone())
            .collect();
        assert_eq!(j["success_codes"], serde_json::json!(success));

        let (names, ids, texts) = svg_elements(&chart);
        assert_eq!(names[0], "svg");
        assert!(ids.contains(&"window-abandon-rate".to_string()), "{ids:?}");
        assert!(ids.contains(&"occupancy".to_string()), "{ids:?}");
        assert!(names.iter().filter(|n| *n == "polyline").count() >= 2);
        assert!(texts.contains("cap 2.5 %"), "{texts}");
        // Ticks in New York time: the period is 10:00–12:00 EDT.
        assert!(
            texts.contains("10:00") && texts.contains("12:00"),
            "{texts}"
        );

        let csv = stdout(&dialer(&url, &["--format", "csv"]));
        let mut rd = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3, "{csv}");
        assert_eq!(
            (&rows[0][0], &rows[0][1], &rows[0][2]),
            ("agent", "alice", "1"),
            "{csv}"
        );
        assert_eq!(
            (&rows[2][0], &rows[2][2], &rows[2][7]),
            ("total", "2", "12600"),
            "{csv}"
        );

        let table = stdout(&dialer(&url, &[]));
        assert!(table.contains("Occupancy"), "{table}");
        assert!(table.contains("13.3 %"), "{table}");
        assert!(table.contains("OVER THE CAP"), "{table}");

        // Without a config or campaign file: the regime's legal defaults, said on stderr.
        let o = Command::new(env!("CARGO_BIN_EXE_dialer"))
            .args([
                "--config",
                "/nonexistent/dialer.toml",
                "--db",
                &url,
                "report",
            ])
            .args(["--campaign", CAMPAIGN, "--format", "json"])
            .args([
                "--since",
                "2026-09-21T14:00:00Z",
                "--until",
                "2026-09-21T16:00:00Z",
            ])
            .env_remove("DIALER_CONFIG")
            .env_remove("DIALER_DATABASE_URL")
            .output()
            .unwrap();
        let bare: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let note = String::from_utf8_lossy(&o.stderr);
        assert!(note.contains("defaults of regime \"us\""), "{note}");
        assert_eq!(bare["abandon_window"]["cap"], 0.03);
        assert_eq!(
            (bare["successes"].as_u64(), bare["dials"].as_u64()),
            (Some(0), Some(6))
        );
        // No roster and no success codes change nothing else here (alice and bob took calls).
        assert_eq!(bare["occupancy"], j["occupancy"]);

        // Bad input says which option and why.
        let o = dialer_raw(&url, &["--until", "soon"]);
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("--until: cannot read \"soon\""), "{e}");
    }
}
