//! The daemon loads its campaigns' list files, and a reload never stalls a live call.
//!
//! - `lists_are_imported_at_start_and_on_reload`: `dialer run` (the binary, a child process)
//!   with an empty store and a campaign whose list file has rows dials them (the simulated
//!   carrier answers every call busy); a bad row is logged once with its file and line, counted
//!   in `/metrics` and shown in the campaign's API status; rows appended to the file are
//!   imported at the next SIGHUP, and only they; a SIGHUP with the file unchanged imports and
//!   logs nothing again. A second campaign whose leads are all outside calling hours says so,
//!   with the `dialer plan` reason, in the API and once in the log.
//! - `a_reload_while_the_store_is_locked_keeps_the_connect_limit`: the daemon in process against
//!   sipp (carrier and agent phone). A person answers while the only agent is paused; the test
//!   holds the SQLite write lock (claims of a second campaign wait on it) and asks for a reload
//!   just before the answer. The safe-harbor message must still reach the customer within 2 s
//!   of the answer, while the store is still locked and the reload not yet applied.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use dialer::daemon::config;
use dialer::daemon::control::Request;
use dialer::daemon::run::{Daemon, Options};
use dialer::store::Store;
use dialer::store::entity::call_attempt;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use serde_json::Value;

use crate::e2e::{CarrierEnd, CarrierMedia, RtpCapture};
use crate::rig::{get, series};
use crate::{e2e, rig, storedb};

const SUPER: &str = "supervisor-token-0123456789";

/// An `Etc/GMT±N` zone where it is now between 00:00 and 05:59 (outside any calling hours).
fn night_zone() -> String {
    let now = jiff::Timestamp::now();
    for offset in -12i32..=14 {
        let name = match offset {
            0 => "Etc/GMT".to_string(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        };
        let Ok(tz) = jiff::tz::TimeZone::get(&name) else {
            continue;
        };
        if now.to_zoned_datetime(tz).hour() < 6 {
            return name;
        }
    }
    panic!("no zone with night found");
}

/// `(phone, campaign)` of every stored attempt.
async fn dialed(store: &Store) -> Vec<(String, String)> {
    store
        .conn()
        .query_all_raw(store.stmt(
            "SELECT l.phone AS phone, c.name AS campaign FROM call_attempts a \
             JOIN leads l ON l.id = a.lead_id JOIN campaigns c ON c.id = a.campaign_id \
             ORDER BY a.id",
            vec![],
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "phone").unwrap(),
                r.try_get::<String>("", "campaign").unwrap(),
            )
        })
        .collect()
}

/// The phones of a campaign's stored leads, sorted.
async fn stored_leads(store: &Store, campaign: &str) -> Vec<String> {
    let mut v: Vec<String> = store
        .conn()
        .query_all_raw(store.stmt(
            "SELECT l.phone AS phone FROM leads l JOIN campaigns c ON c.id = l.campaign_id \
             WHERE c.name = ?",
            vec![campaign.into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "phone").unwrap())
        .collect();
    v.sort();
    v
}

async fn campaign(api: SocketAddr, name: &str) -> Value {
    let a = get(api, &format!("/v1/campaigns/{name}"), Some(SUPER)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["campaign"].clone()
}

/// Poll the campaign's status until its list imports have finished `n` times.
async fn after_loads(api: SocketAddr, name: &str, n: u64, log: &Path) -> Value {
    let started = Instant::now();
    loop {
        let c = campaign(api, name).await;
        if c["lists_loads"].as_u64() >= Some(n) && c["lists_loading"] == false {
            return c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{name}: {n} list imports not done in 60 s: {c}\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many lines of the log contain every one of `parts`.
fn log_lines(log: &Path, parts: &[&str]) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_imported_at_start_and_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let day = rig::daytime_zone();
    let night = night_zone();
    let setup = rig::Setup::new(&["alice"]);
    let config = setup.write(dir.path());
    let campaigns = dir.path().join("campaigns");
    std::fs::create_dir_all(campaigns.join("lists")).unwrap();
    // Agentless: every lead is dialed without an agent.
    std::fs::write(
        campaigns.join("day.toml"),
        rig::campaign_toml("day", "agentless", &day, ""),
    )
    .unwrap();
    std::fs::write(
        campaigns.join("night.toml"),
        rig::campaign_toml("night", "agentless", &night, ""),
    )
    .unwrap();
    // Line 4 is not a phone number; everything else is dialable now.
    let day_csv = campaigns.join("lists/day.csv");
    std::fs::write(
        &day_csv,
        format!(
            "phone,tz\n+12025550101,{day}\n+12025550102,{day}\nnot a phone,{day}\n\
             +12025550103,{day}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        campaigns.join("lists/night.csv"),
        format!("phone,tz\n+12025550201,{night}\n+12025550202,{night}\n"),
    )
    .unwrap();

    // The carrier answers every call busy.
    let (_carrier, _media) = rig::busy_carrier(&setup).await;

    // An empty store: nothing imported with `dialer import`.
    let db = storedb::sqlite();
    let store = db.open().await;
    let log = dir.path().join("dialer.log");
    let url = db.cli_url();
    let env = [
        ("DIALER_API_TOKEN", SUPER),
        ("DIALER_DATABASE_URL", url.as_str()),
    ];
    let mut proc = rig::dialer_run(&config, &["--drain", "5s"], &env, &log);
    let api = setup.api_addr();
    rig::wait_ready(&mut proc, api, &log, Duration::from_secs(60)).await;

    // The daemon imported the file and dials its three good rows.
    let want = |phones: &[&str]| -> Vec<String> { phones.iter().map(|p| p.to_string()).collect() };
    let started = Instant::now();
    loop {
        let mut day_phones: Vec<String> = dialed(&store)
            .await
            .into_iter()
            .filter(|(_, c)| c == "day")
            .map(|(p, _)| p)
            .collect();
        day_phones.sort();
        day_phones.dedup();
        if day_phones == want(&["+12025550101", "+12025550102", "+12025550103"]) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the list's leads not dialed in 60 s: {day_phones:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = after_loads(api, "day", 1, &log).await;
    let list = &c["lists"][0];
    assert_eq!(list["list"], "leads", "{c}");
    assert_eq!(list["imported"], 3, "{c}");
    assert_eq!(list["rejected"], 1, "{c}");
    assert_eq!(list["rejected_rows"][0]["line"], 4, "{c}");
    let reason = list["rejected_rows"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("not a phone"), "{c}");
    assert_eq!(list["error"], Value::Null, "{c}");
    assert_eq!(c["leads"]["total"], 3, "{c}");
    let rejected_line = format!("{}:4: row rejected", day_csv.display());
    assert_eq!(log_lines(&log, &[&rejected_line]), 1);

    // The night campaign's leads are outside calling hours: the API and the log say so.
    let n = after_loads(api, "night", 1, &log).await;
    assert_eq!(n["lists"][0]["imported"], 2, "{n}");
    assert_eq!(n["leads"]["total"], 2, "{n}");
    assert_eq!(n["leads"]["dialable"], 0, "{n}");
    assert_eq!(n["leads"]["reasons"][0]["code"], "outside_hours", "{n}");
    assert_eq!(n["leads"]["reasons"][0]["count"], 2, "{n}");
    assert_eq!(n["dials"], 0, "{n}");
    assert_eq!(
        log_lines(&log, &["no dialable lead", "night", "2 outside_hours"]),
        1
    );

    let metrics = || async { get(api, "/metrics", None).await.body };
    let m = metrics().await;
    let rejected = r#"dialer_list_rows_rejected_total{campaign="day",list="leads"}"#;
    let imported = r#"dialer_list_rows_imported_total{campaign="day",list="leads"}"#;
    assert_eq!(series(&m, rejected), Some(1.0), "{m}");
    assert_eq!(series(&m, imported), Some(3.0), "{m}");
    assert_eq!(
        series(&m, r#"dialer_campaign_dialable_leads{campaign="night"}"#),
        Some(0.0),
        "{m}"
    );

    // Two rows appended (one new, one already there); the next reload imports the new one only,
    // and the bad row is not reported again.
    let mut text = std::fs::read_to_string(&day_csv).unwrap();
    text += &format!("+12025550104,{day}\n+12025550101,{day}\n");
    std::fs::write(&day_csv, &text).unwrap();
    proc.signal(libc::SIGHUP);
    let c = after_loads(api, "day", 2, &log).await;
    assert_eq!(c["lists"][0]["imported"], 4, "{c}");
    assert_eq!(c["lists"][0]["rejected"], 1, "{c}");
    assert_eq!(
        stored_leads(&store, "day").await,
        want(&[
            "+12025550101",
            "+12025550102",
            "+12025550103",
            "+12025550104"
        ])
    );
    rig::eventually("the appended lead dialed", Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            dialed(&store)
                .await
                .iter()
                .any(|(p, _)| p == "+12025550104")
                .then_some(())
        }
    })
    .await;
    assert_eq!(log_lines(&log, &[&rejected_line]), 1);

    // The same content written again (a newer modification time): nothing imported or logged.
    std::fs::write(&day_csv, &text).unwrap();
    proc.signal(libc::SIGHUP);
    let c = after_loads(api, "day", 3, &log).await;
    assert_eq!(c["lists"][0]["imported"], 4, "{c}");
    after_loads(api, "night", 3, &log).await;
    assert_eq!(log_lines(&log, &[&rejected_line]), 1);
    assert_eq!(
        log_lines(&log, &["list imported", "day.csv"]),
        2,
        "imported at start and at the first reload only"
    );
    assert_eq!(
        log_lines(&log, &["no dialable lead", "night"]),
        1,
        "said once while nothing changed"
    );
    let m = metrics().await;
    assert_eq!(series(&m, rejected), Some(1.0), "{m}");
    assert_eq!(series(&m, imported), Some(4.0), "{m}");
    // Every dial was of a lead of the file, none twice (busy is due again after minutes).
    let all = dialed(&store).await;
    assert_eq!(all.len(), 4, "{all:?}");

    proc.signal(libc::SIGTERM);
    let status = proc.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_while_the_store_is_locked_keeps_the_connect_limit() {
    if !e2e::have_sipp("the reload-under-a-locked-store test") {
        return;
    }
    const RING_MS: i64 = 3000;
    const HOLD: Duration = Duration::from_secs(7);
    let dir = tempfile::tempdir().unwrap();
    // The safe-harbor message: 1.2 s of 700 Hz; it starts 1 s after a person answers with no
    // agent to take them.
    let safe_harbor = e2e::write_pcm(
        &dir.path().join("safe_harbor.wav"),
        &e2e::tone(700.0, 1200, 6000.0),
    );
    let setup = e2e::Setup {
        safe_harbor,
        dialing: "connect_limit = \"1000ms\"".into(),
        ..e2e::Setup::new(&["alice"])
    };
    let config_path = setup.write(dir.path());
    // A second campaign, agentless with no lead: its claims go on all the time.
    let campaigns = dir.path().join("campaigns");
    std::fs::write(campaigns.join("lists/other.csv"), "phone,tz\n").unwrap();
    std::fs::write(
        campaigns.join("other.toml"),
        rig::campaign_toml("other", "agentless", &setup.zone, ""),
    )
    .unwrap();
    let _agent = e2e::agent_phone(setup.agent_port("alice"));
    let capture = RtpCapture::start();
    let mut carrier = e2e::Carrier {
        ring: Duration::from_millis(RING_MS as u64),
        media: CarrierMedia::Port(capture.port),
        stream: None,
        end: CarrierEnd::WaitBye,
        keys: vec![],
    }
    .start(setup.trunk());
    // sipp binds its port.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let db = storedb::sqlite();
    let store = db.open().await;
    let loaded = config::load_all(&config_path).expect("test config is valid");
    let e2e_campaign = loaded
        .campaigns
        .iter()
        .find(|c| c.name == "e2e")
        .unwrap()
        .clone();
    storedb::seed_one_lead(&store, &e2e_campaign, &setup.zone).await;
    let reloaded = loaded.campaigns.clone();
    let options = Options {
        tick: Duration::from_millis(100),
        login_all_agents: true,
        drain_deadline: Duration::from_secs(10),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
        .await
        .expect("daemon starts");
    let control = daemon.control();

    // The dial goes out once alice is ready; then she pauses: nobody will take the person.
    rig::eventually("the first dial", Duration::from_secs(30), || {
        let control = control.clone();
        async move {
            let c = control.campaigns().await.unwrap();
            c.iter()
                .any(|c| c.name == "e2e" && c.dials >= 1)
                .then_some(())
        }
    })
    .await;
    control
        .ask(Request::Pause {
            agent: "alice".into(),
            reason: "coffee".into(),
        })
        .await
        .unwrap();
    // The attempt's row is stored before its INVITE leaves: the phone rings from about now.
    let dial_at = rig::eventually("the attempt's row", Duration::from_secs(10), || {
        let store = store.clone();
        async move {
            call_attempt::Entity::find()
                .one(store.conn())
                .await
                .unwrap()
                .map(|a| a.dial_at_ms)
        }
    })
    .await;

    // Lock the store for HOLD and ask for a reload meanwhile, before the person answers.
    let lock = store.begin_write().await.unwrap();
    let locked_at = e2e::unix_ms();
    let hold = async {
        tokio::time::sleep(HOLD).await;
        let released_at = e2e::unix_ms();
        lock.rollback().await.unwrap();
        released_at
    };
    let reload = async {
        let asked_at = e2e::unix_ms();
        daemon.reload(reloaded).await;
        (asked_at, e2e::unix_ms())
    };
    let (released_at, (asked_at, applied_at)) = tokio::join!(hold, reload);

    let attempt = e2e::finished_attempt(&store, Duration::from_secs(45), &[&carrier]).await;
    let status = carrier.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "sipp: {status}\n{}", carrier.logs());
    daemon.stop().await;
    let got = capture.finish();

    // The person answered no earlier than RING_MS after the attempt's dial time, after the
    // reload was asked for and while the store was locked.
    let answered_after = dial_at + RING_MS;
    assert!(
        asked_at < answered_after && locked_at < answered_after,
        "the test's timing failed, not the dialer: locked {} ms and reload asked {} ms after the \
         dial",
        locked_at - dial_at,
        asked_at - dial_at
    );
    assert!(
        released_at > answered_after + 2000,
        "the lock was released {} ms after the dial",
        released_at - dial_at
    );
    assert_eq!(attempt.outcome.as_deref(), Some("abandoned"), "{attempt:?}");
    let loud: Vec<&e2e::Received> = got.iter().filter(|p| e2e::level(&p.pcm) > 500.0).collect();
    assert!(
        !loud.is_empty(),
        "the safe-harbor message never reached the customer"
    );
    let heard: Vec<i16> = loud.iter().flat_map(|p| p.pcm.iter().copied()).collect();
    assert!(e2e::dominated_by(&heard, 700.0), "not the 700 Hz message");
    let first = loud[0].at_ms;
    // At most this long after the answer (which was no earlier than `answered_after`).
    let after_answer = first - answered_after;
    eprintln!(
        "reload under a locked store: message reached the customer at most {after_answer} ms \
         after the answer; lock released {} ms after the answer, reload applied {} ms after it",
        released_at - answered_after,
        applied_at - answered_after
    );
    assert!(
        after_answer <= 2000,
        "the safe-harbor message reached the customer {after_answer} ms after the answer \
         (the store was locked from {} ms before the answer to {} ms after it)",
        answered_after - locked_at,
        released_at - answered_after
    );
    assert!(
        first < released_at && applied_at >= released_at,
        "the message came while the store was locked and the reload waited for it"
    );
    let stored = call_attempt::Entity::find()
        .order_by_asc(call_attempt::Column::Id)
        .all(store.conn())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "one dial, one attempt: {stored:?}");
}
