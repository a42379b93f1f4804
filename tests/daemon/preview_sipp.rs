//! Preview dialing end to end: the real daemon and its HTTP API on loopback, sipp as the agent's
//! phone (the nailed-up leg) and as the carrier (a person who answers and hangs up).
//!
//! Alice logs in through the API; a lead is reserved for her (her state is `preview`, her screen
//! pop shows it); she skips it (given back unchanged) and gets the next one, dials it, the
//! customer answers and is bridged to her at once (AMD off, as in the collections campaign),
//! hangs up, and her disposition closes the lead. What is stored: the attempt with her as its
//! agent and the connect at the answer, the skipped lead untouched, and her `preview`
//! intervals naming the campaign (the dialed one also the attempt), then `on_call`, `wrap_up`.
//!
//! Skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dialer::daemon::api::{Api, Phase, Readiness, Tokens};
use dialer::daemon::config;
use dialer::daemon::run::{Daemon, Options};
use dialer::store::entity::{agent_state_interval, call_attempt, lead};
use dialer::store::{NewLead, Store};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::e2e::{Carrier, CarrierEnd, CarrierMedia};
use crate::rig::{get, post};
use crate::{e2e, storedb};

const ALICE: &str = "alice-token-0123456789";

/// Dana first (higher priority), then Eli.
async fn seed_two_leads(store: &Store, c: &dialer::campaign::Campaign, zone: &str) -> i64 {
    let now = jiff::Timestamp::now().as_millisecond();
    let (campaign_id, list) =
        storedb::leads_list(store, &c.name, c.kind.as_str(), c.regime.as_str()).await;
    let lead = |phone: &str, name: &str, priority| NewLead {
        list_id: list,
        phone: phone.into(),
        timezone: Some(zone.to_string()),
        zone_key: None,
        zone_source: None,
        attributes: format!(r#"{{"name":"{name}","balance":"120.00"}}"#),
        priority,
    };
    store
        .insert_leads(
            campaign_id,
            &[
                lead("+12025550143", "Dana", 1),
                lead("+12025550144", "Eli", 0),
            ],
            now,
        )
        .await
        .unwrap();
    campaign_id
}

async fn agent(addr: SocketAddr) -> Value {
    let a = get(addr, "/v1/agents/alice", Some(ALICE)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["agent"].clone()
}

/// Poll Alice until `check` holds for her view, at most `within`.
async fn wait_agent(
    addr: SocketAddr,
    what: &str,
    within: Duration,
    check: impl Fn(&Value) -> bool,
) {
    let started = Instant::now();
    loop {
        let v = agent(addr).await;
        if check(&v) {
            return;
        }
        assert!(
            started.elapsed() < within,
            "alice: {what}: not within {within:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The daemon's pacing tick in this test.
fn options_tick() -> Duration {
    Duration::from_millis(100)
}

async fn screen_pop(addr: SocketAddr) -> Value {
    let a = get(addr, "/v1/agents/alice/lead", Some(ALICE)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["lead"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_previews_skips_and_dials_and_the_call_is_hers() {
    if !e2e::have_sipp("preview end-to-end test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let setup = e2e::Setup {
        campaign: "collect".into(),
        mode: "preview".into(),
        ..e2e::Setup::new(&["alice"])
    };
    let zone = setup.zone.clone();
    let config_path = setup.write(dir.path());
    let _phone = e2e::agent_phone(setup.agent_port("alice"));
    // The customer answers after 0.5 s of ringing and hangs up 3 s later.
    let mut carrier = Carrier {
        ring: Duration::from_millis(500),
        media: CarrierMedia::Sipp,
        stream: None,
        end: CarrierEnd::HangUpAfter(Duration::from_millis(3000)),
        keys: vec![],
    }
    .start(setup.trunk());

    let db = storedb::sqlite();
    let store = db.open().await;
    let loaded = config::load_all(&config_path).expect("test config is valid");
    let campaign_id = seed_two_leads(&store, &loaded.campaigns[0], &zone).await;
    let options = Options {
        tick: options_tick(),
        drain_deadline: Duration::from_secs(5),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
        .await
        .expect("daemon starts");
    let tokens = Tokens::new(None, [("alice".into(), ALICE.to_string())]).unwrap();
    let api = Api::new(daemon.control(), tokens, Readiness::new(), None);
    api.readiness().set(Phase::Running);
    let (addr, stop_api) = e2e::serve_api(&api).await;

    // Nothing is dialed for a preview campaign by itself; alice logs in and gets a lead.
    let a = post(addr, "/v1/agents/alice/login", Some(ALICE), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    wait_agent(addr, "previewing", Duration::from_secs(15), |v| {
        v["state"] == "preview"
    })
    .await;
    let pop = screen_pop(addr).await;
    assert_eq!(
        (
            pop["campaign"].clone(),
            pop["phone"].clone(),
            pop["attributes"]["name"].clone()
        ),
        (json!("collect"), json!("+12025550143"), json!("Dana"))
    );
    let a = post(addr, "/v1/agents/alice/hangup", Some(ALICE), "").await;
    assert_eq!((a.status, a.code()), (409, "no_call".to_string()));

    // She skips Dana: Eli at once; Dana is given back untouched.
    let a = post(addr, "/v1/agents/alice/skip", Some(ALICE), "").await;
    assert_eq!(
        (a.status, a.json()["agent"]["state"].clone()),
        (200, json!("preview")),
        "{}",
        a.body
    );
    let pop = screen_pop(addr).await;
    assert_eq!(
        (pop["phone"].clone(), pop["attributes"]["name"].clone()),
        (json!("+12025550144"), json!("Eli"))
    );
    let eli = pop["lead_id"].as_i64().unwrap();

    // She dials Eli. Until the answer she is still previewing, with the call.
    let a = post(addr, "/v1/agents/alice/dial", Some(ALICE), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let call = a.json()["agent"]["call"].clone();
    assert!(call.is_u64(), "{}", a.body);
    let a = post(addr, "/v1/agents/alice/dial", Some(ALICE), "").await;
    assert!(
        a.status == 409 && ["already_dialed", "no_preview"].contains(&a.code().as_str()),
        "{}",
        a.body
    );
    wait_agent(addr, "on the call", Duration::from_secs(15), |v| {
        v["state"] == "on_call" && v["call"] == call
    })
    .await;
    wait_agent(addr, "in wrap-up", Duration::from_secs(15), |v| {
        v["state"] == "wrap_up"
    })
    .await;
    assert_eq!(screen_pop(addr).await["lead_id"], json!(eli));
    let a = post(
        addr,
        "/v1/agents/alice/disposition",
        Some(ALICE),
        r#"{"code": "sale"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let status = carrier.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{}", carrier.logs());
    // Dana was skipped by her a moment ago: not offered to her again. Once she is ready, she
    // stays ready with nothing to preview for ten ticks of the daemon (a lead for her would be
    // reserved within one or two): watching time pass is what this checks.
    wait_agent(
        addr,
        "ready after the disposition",
        Duration::from_secs(15),
        |v| v["state"] == "ready",
    )
    .await;
    let ready_at = Instant::now();
    while ready_at.elapsed() < 10 * options_tick() {
        assert_eq!(agent(addr).await["state"], "ready");
        assert_eq!(screen_pop(addr).await, Value::Null);
        tokio::time::sleep(options_tick() / 2).await;
    }

    let a = post(addr, "/v1/agents/alice/logout", Some(ALICE), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    daemon.stop().await;
    let _ = stop_api.send(());

    // One attempt: Eli, dialed by Alice, bridged to her at the answer.
    let attempts = call_attempt::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let at = &attempts[0];
    assert_eq!(at.lead_id, eli);
    assert_eq!(at.agent_id.as_deref(), Some("alice"));
    assert_eq!(at.outcome.as_deref(), Some("human"));
    assert_eq!(at.sip_status, Some(200));
    assert!(at.live && !at.abandoned, "{at:?}");
    assert_eq!(at.amd_result, None);
    assert_eq!(at.message_at_ms, None);
    let answer = at.answer_at_ms.expect("answered");
    assert_eq!(at.connect_at_ms, Some(answer), "bridged at the answer");
    assert!(at.end_at_ms.unwrap() - answer >= 2500, "{at:?}");
    let leads = lead::Entity::find()
        .order_by_asc(lead::Column::Id)
        .all(store.conn())
        .await
        .unwrap();
    let (dana, eli_row) = (&leads[0], &leads[1]);
    assert_eq!(eli_row.id, eli);
    assert_eq!(
        (
            eli_row.status.as_str(),
            eli_row.attempts,
            eli_row.last_outcome.as_deref()
        ),
        ("done", 1, Some("sale"))
    );
    // Skipped: unchanged, lease given back.
    assert_eq!(
        (
            dana.status.as_str(),
            dana.attempts,
            dana.last_attempt_at_ms,
            dana.lease_owner.as_deref()
        ),
        ("new", 0, None, None)
    );

    // Her time: previewing Dana, previewing and dialing Eli (with the attempt), the call, the
    // wrap-up, ready; the preview intervals name the campaign.
    let intervals = agent_state_interval::Entity::find()
        .order_by_asc(agent_state_interval::Column::StartedAtMs)
        .order_by_asc(agent_state_interval::Column::Id)
        .all(store.conn())
        .await
        .unwrap();
    // Before the first preview: the leg coming up, and ready while her first lead was claimed.
    let first = intervals.iter().position(|i| i.state == "preview").unwrap();
    assert!(
        intervals[..first]
            .iter()
            .all(|i| ["connecting", "ready"].contains(&i.state.as_str())),
        "{intervals:?}"
    );
    let rows: Vec<(&str, Option<i64>, Option<i64>)> = intervals[first..]
        .iter()
        .map(|i| (i.state.as_str(), i.campaign_id, i.attempt_id))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("preview", Some(campaign_id), None),
            ("preview", Some(campaign_id), Some(at.id)),
            ("on_call", None, Some(at.id)),
            ("wrap_up", None, Some(at.id)),
            ("ready", None, None),
        ],
        "{intervals:?}"
    );
    let dialed = &intervals
        .iter()
        .find(|i| i.attempt_id == Some(at.id))
        .unwrap();
    assert_eq!(dialed.ended_at_ms, Some(answer));
    for w in intervals.windows(2) {
        assert_eq!(w[0].ended_at_ms, Some(w[1].started_at_ms), "{intervals:?}");
    }
}
