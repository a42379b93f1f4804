//! The HTTP API and `/metrics` over real HTTP on 127.0.0.1, through the running daemon.
//!
//! - every refusal (auth, JSON, fields, unknown names, invalid transitions, sizes) against a
//!   daemon with no SIP peers, checking the daemon's state is untouched;
//! - a shift slice with sipp as the trunk (a person who stays on the line) and as the agent's
//!   phone: login, pause, ready, campaign pause/start, screen pop, hang up, disposition with a
//!   callback, the store's rows, and the metrics families;
//! - `dialer run` as a process: tokens from the environment and from systemd credentials,
//!   `/ready`, SIGTERM.
//!
//! The sipp test is skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use dialer::daemon::api::{Api, Phase, Readiness, Tokens};
use dialer::daemon::run::{Daemon, Options};
use dialer::daemon::{config, telemetry};
use dialer::store::Store;
use dialer::store::entity::{disposition, lead, survey_answer};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::rig::{get, http, post, raw, session_cookie};
use crate::{e2e, rig, storedb};

const SUPER: &str = "supervisor-token-0123456789";
const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789";

/// Poll the agent until it is in `state`.
async fn wait_state(addr: SocketAddr, agent: &str, state: &str, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let a = get(addr, &format!("/v1/agents/{agent}"), Some(SUPER)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let v = a.json();
        if v["agent"]["state"] == state {
            return v;
        }
        assert!(
            started.elapsed() < within,
            "agent {agent} not {state} after {within:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- the daemon ----

/// `/metrics` refreshes process-wide gauges (agents by state): one scrape at a time.
static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A config dir (see [`e2e::Setup`]) with agents alice and bob and the campaign named
/// `campaign`: tests running in one process share the metrics recorder, so each names its
/// campaign differently and scrapes under [`SCRAPE`].
fn setup(campaign: &str) -> e2e::Setup {
    e2e::Setup {
        campaign: campaign.into(),
        ..e2e::Setup::new(&["alice", "bob"])
    }
}

/// The daemon and its API on 127.0.0.1 (port 0).
struct Running {
    daemon: Daemon,
    api: Api,
    addr: SocketAddr,
    stop_api: tokio::sync::oneshot::Sender<()>,
}

async fn start(config_path: &Path, store: Store) -> Running {
    let metrics = telemetry::install().unwrap();
    let loaded = config::load_all(config_path).expect("test config is valid");
    let rosters = telemetry::rosters(&loaded.config, &loaded.campaigns);
    let options = Options {
        tick: Duration::from_millis(100),
        drain_deadline: Duration::from_secs(5),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store, options)
        .await
        .expect("daemon starts");
    let tokens = Tokens::new(
        Some(SUPER.into()),
        [
            ("alice".into(), ALICE.to_string()),
            ("bob".into(), BOB.to_string()),
        ],
    )
    .unwrap();
    let api = Api::new(daemon.control(), tokens, Readiness::new(), Some(metrics));
    api.set_rosters(rosters);
    let (addr, stop_api) = e2e::serve_api(&api).await;
    Running {
        daemon,
        api,
        addr,
        stop_api,
    }
}

// ---- refusals ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_leave_the_daemon_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = setup("refusals").write(dir.path());
    let db = storedb::sqlite();
    let store = db.open().await;
    let r = start(&config_path, store.clone()).await;
    let addr = r.addr;

    // Health needs no token; readiness follows the phase.
    let a = get(addr, "/health", None).await;
    assert_eq!((a.status, a.json()["status"].clone()), (200, json!("ok")));
    let a = get(addr, "/ready", None).await;
    a.expect_error(503, "starting");
    r.api.readiness().set(Phase::Running);
    assert_eq!(get(addr, "/ready", None).await.status, 200);

    // Authentication.
    let a = get(addr, "/v1/campaigns", None).await;
    a.expect_error(401, "unauthorized");
    assert!(
        a.head
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{}",
        a.head
    );
    let a = get(addr, "/v1/campaigns", Some("not-a-token")).await;
    a.expect_error(401, "unauthorized");
    let a = http(addr, "GET", "/v1/campaigns", None, None).await;
    assert_eq!(a.status, 401);

    // An agent's token acts only as that agent, and not as a supervisor.
    for (method, path) in [
        ("POST", "/v1/agents/alice/login"),
        ("GET", "/v1/agents/alice"),
        ("GET", "/v1/agents/alice/lead"),
        ("POST", "/v1/agents/alice/dial"),
        ("POST", "/v1/agents/alice/skip"),
        ("POST", "/v1/agents/alice/disposition"),
        ("POST", "/v1/agents/alice/recording/pause"),
        ("POST", "/v1/agents/alice/recording/resume"),
        ("GET", "/v1/agents"),
        ("GET", "/v1/campaigns"),
        ("POST", "/v1/campaigns/refusals/stop"),
    ] {
        let a = http(addr, method, path, Some(BOB), Some("{}")).await;
        assert_eq!(
            (a.status, a.code()),
            (403, "forbidden".to_string()),
            "{method} {path}: {}",
            a.body
        );
    }

    // Bodies: malformed JSON, wrong types, unknown and missing fields, too large.
    let pause = "/v1/agents/alice/pause";
    let a = post(addr, pause, Some(ALICE), "{\"reason\": ").await;
    a.expect_error(400, "bad_json");
    assert!(a.message().contains("line 1"), "{}", a.message());
    let a = post(addr, pause, Some(ALICE), "[\"lunch\"]").await;
    a.expect_error(400, "bad_json");
    let a = post(addr, pause, Some(ALICE), "{\"reason\": 5}").await;
    a.expect_error(400, "bad_field");
    assert!(a.message().contains("\"reason\""), "{}", a.message());
    let a = post(addr, pause, Some(ALICE), "{\"reson\": \"lunch\"}").await;
    assert!(
        a.status == 400 && a.message().contains("\"reson\""),
        "{}",
        a.body
    );
    let a = post(addr, pause, Some(ALICE), "{}").await;
    assert!(
        a.status == 400 && a.message().contains("missing"),
        "{}",
        a.body
    );
    let big = format!("{{\"reason\": \"{}\"}}", "x".repeat(20_000));
    let a = post(addr, pause, Some(ALICE), &big).await;
    a.expect_error(413, "too_large");
    let a = post(
        addr,
        "/v1/agents/alice/disposition",
        Some(ALICE),
        "{\"code\": \"sale\", \"callback_in\": \"soon\"}",
    )
    .await;
    assert!(
        a.status == 400 && a.message().contains("callback_in"),
        "{}",
        a.body
    );
    let a = post(addr, "/v1/agents/alice/login", Some(ALICE), "{\"x\": 1}").await;
    assert_eq!(a.status, 400, "{}", a.body);

    // Unknown names.
    let a = post(addr, "/v1/agents/zed/login", Some(SUPER), "").await;
    a.expect_error(404, "unknown_agent");
    let a = get(addr, "/v1/agents/zed", Some(SUPER)).await;
    a.expect_error(404, "unknown_agent");
    let a = get(addr, "/v1/campaigns/nope", Some(SUPER)).await;
    a.expect_error(404, "unknown_campaign");
    let a = post(addr, "/v1/campaigns/nope/pause", Some(SUPER), "").await;
    a.expect_error(404, "unknown_campaign");
    let a = get(addr, "/v1/nothing", Some(SUPER)).await;
    a.expect_error(404, "not_found");
    let a = get(addr, "/v1/agents/alice/login", Some(SUPER)).await;
    assert_eq!(
        (a.status, a.code()),
        (405, "method_not_allowed".to_string())
    );

    // Invalid transitions: alice is logged out and has no call.
    let a = post(addr, pause, Some(ALICE), "{\"reason\": \"lunch\"}").await;
    assert_eq!(
        (a.status, a.code()),
        (409, "invalid_transition".to_string())
    );
    assert!(a.message().contains("alice"), "{}", a.message());
    let a = post(addr, "/v1/agents/alice/hangup", Some(ALICE), "").await;
    a.expect_error(409, "no_call");
    for action in ["pause", "resume"] {
        let path = format!("/v1/agents/alice/recording/{action}");
        let a = post(addr, &path, Some(ALICE), "").await;
        assert_eq!((a.status, a.code()), (409, "no_call".to_string()), "{path}");
    }
    for action in ["dial", "skip"] {
        let a = post(addr, &format!("/v1/agents/alice/{action}"), Some(ALICE), "").await;
        assert_eq!(
            (a.status, a.code()),
            (409, "no_preview".to_string()),
            "{action}"
        );
    }
    let a = post(
        addr,
        "/v1/agents/alice/disposition",
        Some(ALICE),
        "{\"code\": \"sale\"}",
    )
    .await;
    a.expect_error(409, "no_call");
    let a = get(addr, "/v1/agents/alice/lead", Some(ALICE)).await;
    assert_eq!((a.status, a.json()), (200, json!({"lead": null})));

    // None of that changed anything.
    let a = get(addr, "/v1/agents", Some(SUPER)).await;
    assert_eq!(a.status, 200);
    let states: Vec<Value> = a.json()["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| json!([v["id"], v["state"]]))
        .collect();
    assert_eq!(
        states,
        [json!(["alice", "logged_out"]), json!(["bob", "logged_out"])]
    );
    let a = get(addr, "/v1/campaigns/refusals", Some(SUPER)).await;
    assert_eq!(a.status, 200);
    let c = &a.json()["campaign"];
    assert_eq!(
        (c["control"].clone(), c["dials"].clone()),
        (json!("running"), json!(0))
    );

    // Metrics need no token and carry the dialer_ families refreshed on scrape.
    let guard = SCRAPE.lock().await;
    let a = get(addr, "/metrics", None).await;
    drop(guard);
    assert_eq!(a.status, 200);
    assert!(a.head.contains("text/plain"), "{}", a.head);
    for series in [
        "dialer_agents{state=\"logged_out\"} 2",
        "dialer_campaign_control{campaign=\"refusals\",control=\"running\"} 1",
        "dialer_campaign_abandon_rate{campaign=\"refusals\"} 0",
        "dialer_campaign_lines_per_agent{campaign=\"refusals\"} 0",
    ] {
        assert!(
            a.body.lines().any(|l| l == series),
            "{series} not in /metrics:\n{}",
            a.body
        );
    }

    // Operators' actions go to the audit trail, with who did them: campaign controls, an
    // agent logged out by the supervisor, a reload. The refusals above and an agent's own
    // logout leave none.
    for (action, control) in [("pause", "paused"), ("start", "running")] {
        let a = post(
            addr,
            &format!("/v1/campaigns/refusals/{action}"),
            Some(SUPER),
            "",
        )
        .await;
        assert_eq!(
            (a.status, a.json()["campaign"]["control"].clone()),
            (200, json!(control)),
            "{}",
            a.body
        );
    }
    for (agent, token) in [("alice", ALICE), ("bob", BOB)] {
        let a = post(addr, &format!("/v1/agents/{agent}/login"), Some(token), "").await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let a = post(addr, "/v1/agents/alice/logout", Some(SUPER), "").await;
    assert_eq!(
        (a.status, a.json()["agent"]["state"].clone()),
        (200, json!("logged_out")),
        "{}",
        a.body
    );
    let a = post(addr, "/v1/agents/bob/logout", Some(BOB), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let again = config::load_all(&config_path).expect("test config is valid");
    r.daemon.reload_by(again.campaigns, "test").await;

    // Stopping: not ready; once the daemon is gone, requests say so.
    r.api.readiness().set(Phase::Stopping);
    let a = get(addr, "/ready", None).await;
    a.expect_error(503, "stopping");
    r.daemon.stop().await;
    let a = get(addr, "/v1/agents", Some(SUPER)).await;
    a.expect_error(503, "stopping");
    let _ = r.stop_api.send(());

    // The stop flushed the store writer: the audit rows are there, in order.
    let id = store.campaign_id("refusals").await.unwrap();
    assert!(id.is_some());
    let audit: Vec<(String, Option<i64>, String, Value)> = store
        .audit_events(0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let data = serde_json::from_str(e.data.as_deref().unwrap_or("null")).unwrap();
            (e.kind, e.campaign_id, e.message, data)
        })
        .collect();
    let control = |message: &str, control: &str| {
        (
            "campaign_control".to_string(),
            id,
            message.to_string(),
            json!({"by": "supervisor", "via": "api", "control": control}),
        )
    };
    assert_eq!(
        audit,
        [
            control("campaign refusals paused by supervisor (API)", "paused"),
            control("campaign refusals started by supervisor (API)", "running"),
            (
                "agent_logout".to_string(),
                None,
                "agent alice logged out by supervisor (API)".to_string(),
                json!({"by": "supervisor", "via": "api", "agent": "alice"}),
            ),
            (
                "reload".to_string(),
                None,
                "configuration reload by test applied; campaigns: refusals".to_string(),
                json!({
                    "by": "test",
                    "campaigns": ["refusals"],
                    "added": [],
                    "removed": [],
                    "failed": [],
                }),
            ),
        ]
    );
}

// ---- a shift slice with sipp ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_supervisors_work_a_call_through_the_api() {
    if !e2e::have_sipp("API end-to-end test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let setup = e2e::Setup {
        tables: r#"
[script]
text = "Hello, this is Sam from Brightline."

[[script.questions]]
id = "owns_home"
text = "Do you own your home?"
answers = [{ key = "yes", label = "Yes" }, { key = "no", label = "No" }]
"#
        .into(),
        ..setup("shift")
    };
    let zone = setup.zone.clone();
    let config_path = setup.write(dir.path());
    let _alice = e2e::agent_phone(setup.agent_port("alice"));
    // A person who stays on the line until the dialer hangs up.
    let _carrier = e2e::Carrier {
        ring: Duration::ZERO,
        media: e2e::CarrierMedia::Sipp,
        stream: None,
        end: e2e::CarrierEnd::WaitBye,
        keys: vec![],
    }
    .start(setup.trunk());

    let db = storedb::sqlite();
    let store = db.open().await;
    let loaded = config::load_all(&config_path).unwrap();
    storedb::seed_one_lead(&store, &loaded.campaigns[0], &zone).await;
    let r = start(&config_path, store.clone()).await;
    r.api.readiness().set(Phase::Running);
    let addr = r.addr;

    // The supervisor holds the campaign while alice gets ready.
    let a = get(addr, "/v1/campaigns", Some(SUPER)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["campaigns"][0]["name"], "shift");
    assert_eq!(a.json()["campaigns"][0]["mode"], "progressive");
    let a = post(addr, "/v1/campaigns/shift/pause", Some(SUPER), "").await;
    assert_eq!(
        (a.status, a.json()["campaign"]["control"].clone()),
        (200, json!("paused"))
    );

    // Alice logs in; the dialer nails up her phone's leg.
    let a = post(addr, "/v1/agents/alice/login", Some(ALICE), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["agent"]["id"], "alice");
    wait_state(addr, "alice", "ready", Duration::from_secs(10)).await;
    let a = post(
        addr,
        "/v1/agents/alice/pause",
        Some(ALICE),
        "{\"reason\": \"break\"}",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["agent"]["state"], "paused");
    assert_eq!(a.json()["agent"]["pause_reason"], "break");
    let a = post(addr, "/v1/agents/alice/ready", Some(ALICE), "").await;
    assert_eq!(a.json()["agent"]["state"], "ready", "{}", a.body);
    // A second login is an invalid transition.
    let a = post(addr, "/v1/agents/alice/login", Some(ALICE), "").await;
    assert_eq!(
        (a.status, a.code()),
        (409, "invalid_transition".to_string())
    );

    // Dialing resumes: the person answers and is bridged to alice; her screen pops.
    let a = post(addr, "/v1/campaigns/shift/start", Some(SUPER), "").await;
    assert_eq!(a.json()["campaign"]["control"], "running", "{}", a.body);
    let on_call = wait_state(addr, "alice", "on_call", Duration::from_secs(30)).await;
    assert!(on_call["agent"]["call"].is_u64(), "{on_call}");
    let a = get(addr, "/v1/agents/alice/lead", Some(ALICE)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let l = &a.json()["lead"];
    assert_eq!(l["campaign"], "shift");
    assert_eq!(l["phone"], "+12025550143");
    assert_eq!(l["timezone"], zone.as_str());
    assert_eq!(l["attributes"], json!({"name": "Dana"}));
    assert_eq!(l["script"]["text"], "Hello, this is Sam from Brightline.");
    assert_eq!(
        l["script"]["questions"][0]["answers"][1],
        json!({"key": "no", "label": "No"})
    );
    assert_eq!(l["answers"], json!({}));
    let a = get(addr, "/v1/agents/alice/lead", Some(BOB)).await;
    assert_eq!(a.status, 403);

    // Agent-assisted survey answers from the campaign's [script].
    let answer = "/v1/agents/alice/answer";
    let a = post(
        addr,
        answer,
        Some(ALICE),
        r#"{"question": "age", "answer": "yes"}"#,
    )
    .await;
    a.expect_error(400, "bad_field");
    assert!(a.message().starts_with("field \"question\""), "{}", a.body);
    let a = post(
        addr,
        answer,
        Some(ALICE),
        r#"{"question": "owns_home", "answer": "maybe"}"#,
    )
    .await;
    a.expect_error(400, "bad_field");
    assert!(a.message().starts_with("field \"answer\""), "{}", a.body);
    let a = post(
        addr,
        answer,
        Some(BOB),
        r#"{"question": "owns_home", "answer": "yes"}"#,
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = post(
        addr,
        answer,
        Some(ALICE),
        r#"{"question": "owns_home", "answer": "yes"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = get(addr, "/v1/agents/alice/lead", Some(ALICE)).await;
    assert_eq!(
        a.json()["lead"]["answers"],
        json!({"owns_home": "yes"}),
        "{}",
        a.body
    );
    let a = get(addr, "/v1/campaigns/shift", Some(SUPER)).await;
    assert_eq!(a.json()["campaign"]["dials"], 1, "{}", a.body);
    assert_eq!(a.json()["campaign"]["calls_in_flight"], 1, "{}", a.body);

    // This campaign does not record: nothing to pause.
    let a = post(addr, "/v1/agents/alice/recording/pause", Some(ALICE), "").await;
    a.expect_error(409, "not_recorded");

    // Alice hangs up, then gives a disposition with a callback in 2 h.
    let a = post(addr, "/v1/agents/alice/hangup", Some(ALICE), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    wait_state(addr, "alice", "wrap_up", Duration::from_secs(10)).await;
    let a = post(
        addr,
        "/v1/agents/alice/disposition",
        Some(ALICE),
        "{\"code\": \"no_such_code\"}",
    )
    .await;
    a.expect_error(400, "bad_field");
    assert!(a.message().contains("no_such_code"), "{}", a.message());
    // The lead's local time is 10:xx (a daytime zone): 12 h later is past the 21:00 end.
    let a = post(
        addr,
        "/v1/agents/alice/disposition",
        Some(ALICE),
        "{\"code\": \"call_back\", \"callback_in\": \"12h\"}",
    )
    .await;
    a.expect_error(400, "bad_field");
    assert!(
        a.message().starts_with("field \"callback_in\"") && a.message().contains("08:00–21:00"),
        "{}",
        a.body
    );
    // The wrap-up goes on: the screen pop keeps the answers.
    let a = get(addr, "/v1/agents/alice/lead", Some(ALICE)).await;
    assert_eq!(
        a.json()["lead"]["answers"],
        json!({"owns_home": "yes"}),
        "{}",
        a.body
    );
    let asked = jiff::Timestamp::now().as_millisecond();
    let a = post(
        addr,
        "/v1/agents/alice/disposition",
        Some(ALICE),
        "{\"code\": \"call_back\", \"notes\": \"after lunch\", \"callback_in\": \"2h\"}",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["agent"]["state"], "ready");

    // Metrics count what happened.
    let guard = SCRAPE.lock().await;
    let a = get(addr, "/metrics", None).await;
    drop(guard);
    for series in [
        "dialer_dials_total{campaign=\"shift\",trunk=\"main\"} 1",
        "dialer_call_outcomes_total{campaign=\"shift\",outcome=\"human\"} 1",
        "dialer_sip_final_responses_total{trunk=\"main\",code=\"200\"} 1",
        "dialer_dispositions_total{campaign=\"shift\",code=\"call_back\"} 1",
        "dialer_agents{state=\"ready\"} 1",
        "dialer_trunk_up{trunk=\"main\"} 1",
    ] {
        assert!(
            a.body.lines().any(|l| l == series),
            "{series} not in /metrics:\n{}",
            a.body
        );
    }
    for family in [
        "dialer_bridged_calls_total ",
        "dialer_store_write_seconds_bucket{",
        "dialer_store_queue_depth ",
        "dialer_agent_state_milliseconds_total{state=\"on_call\"} ",
        "dialer_campaign_occupancy{campaign=\"shift\"} ",
        "dialer_trunk_calls_per_second{trunk=\"main\"} ",
    ] {
        assert!(
            a.body.lines().any(|l| l.starts_with(family)),
            "no {family} in /metrics:\n{}",
            a.body
        );
    }

    let a = post(addr, "/v1/agents/alice/logout", Some(ALICE), "").await;
    assert_eq!(a.json()["agent"]["state"], "logged_out", "{}", a.body);
    r.api.readiness().set(Phase::Stopping);
    r.daemon.stop().await;
    let _ = r.stop_api.send(());

    // The store has the disposition with its notes and the callback on the lead.
    let d = disposition::Entity::find()
        .all(store.conn())
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.code == "call_back")
        .expect("the disposition is stored");
    assert_eq!(d.agent_id.as_deref(), Some("alice"));
    assert_eq!(d.notes.as_deref(), Some("after lunch"));
    let answers = survey_answer::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    let answers: Vec<_> = answers
        .iter()
        .map(|a| (a.question.as_str(), a.answer.as_str(), a.digits.as_deref()))
        .collect();
    assert_eq!(answers, [("owns_home", "yes", None)]);
    let l = lead::Entity::find()
        .one(store.conn())
        .await
        .unwrap()
        .unwrap();
    let callback = l.callback_at_ms.expect("a callback time on the lead");
    let two_hours = 2 * 3600 * 1000;
    assert!(
        (callback - asked - two_hours).abs() < 60_000,
        "callback {} ms after the request",
        callback - asked
    );
}

// ---- `dialer run` ----

#[test]
fn dialer_run_serves_the_api_with_tokens_from_the_environment_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let setup = setup("e2e");
    let config_path = setup.write(dir.path());
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("DIALER_AGENT_ALICE_TOKEN"), format!("{ALICE}\n")).unwrap();
    let log = dir.path().join("dialer.log");
    let mut proc = rig::dialer_run(
        &config_path,
        &["--drain", "5s"],
        &[
            ("DIALER_API_TOKEN", SUPER),
            ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
        ],
        &log,
    );
    let addr = setup.rig.api_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        rig::wait_ready(&mut proc, addr, &log, Duration::from_secs(30)).await;
        let a = get(addr, "/v1/campaigns", Some(SUPER)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json()["campaigns"][0]["name"], "e2e");
        // Alice's token came from the credentials directory.
        let a = get(addr, "/v1/agents/alice", Some(ALICE)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let a = get(addr, "/v1/agents/bob", Some(ALICE)).await;
        assert_eq!(a.status, 403, "{}", a.body);
        // Bob's variable is not set: his token is nothing.
        let a = get(addr, "/v1/agents/bob", Some(BOB)).await;
        assert_eq!(a.status, 401, "{}", a.body);
        let a = get(addr, "/metrics", None).await;
        assert!(
            a.body.contains("dialer_agents{state=\"logged_out\"} 2"),
            "{}",
            a.body
        );
    });

    // SIGTERM: a clean stop.
    proc.signal(libc::SIGTERM);
    let status = proc.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "exit status {status}");
}

// ---- people's sessions ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_log_in_with_a_session_cookie_and_a_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = setup("sessions").write(dir.path());
    let text = std::fs::read_to_string(&config_path).unwrap();
    let text = text.replacen(
        "[api]\n",
        "[api]\npublic_url = \"https://dialer.example\"\nsession_idle = \"2s\"\n",
        1,
    );
    std::fs::write(&config_path, text).unwrap();
    let db = storedb::sqlite();
    let store = db.open().await;
    let hash = dialer::daemon::api::hash_password("alice's passphrase").unwrap();
    store.set_user("alice", None, &hash, 0).await.unwrap();
    store.set_user("carol", None, &hash, 0).await.unwrap();
    let r = start(&config_path, store.clone()).await;
    let loaded = config::load_all(&config_path).unwrap();
    r.api
        .set_people(dialer::daemon::api::PeopleConfig::from_config(
            &loaded.config,
            store.clone(),
        ));
    let addr = r.addr;

    // A form login: the cookie is HttpOnly, SameSite=Strict, Secure (https public_url).
    let form = ["Content-Type: application/x-www-form-urlencoded"];
    let a = raw(
        addr,
        "POST",
        "/v1/session",
        &form,
        "id=alice&password=alice%27s+passphrase",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let set = session_cookie(&a.head);
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    let v = a.json();
    assert_eq!(v["principal"], json!({"role": "agent", "id": "alice"}));
    let csrf = v["csrf"].as_str().unwrap().to_string();
    let cookie = format!("Cookie: {}", set.split(';').next().unwrap());
    let id = cookie.trim_start_matches("Cookie: dialer-session=");
    assert_eq!(id.len(), 64, "256 bits in hex");

    // The session is alice: her own view, not bob's, not the supervisor's.
    let a = raw(addr, "GET", "/v1/session", &[&cookie], "").await;
    assert_eq!(
        (a.status, a.json()["csrf"].as_str()),
        (200, Some(csrf.as_str()))
    );
    assert_eq!(
        raw(addr, "GET", "/v1/agents/alice", &[&cookie], "")
            .await
            .status,
        200
    );
    assert_eq!(
        raw(addr, "GET", "/v1/agents/bob", &[&cookie], "")
            .await
            .status,
        403
    );
    assert_eq!(
        raw(addr, "GET", "/v1/agents", &[&cookie], "").await.status,
        403
    );
    // A state change needs the token; with it the request reaches the switchboard (409: alice
    // is logged out, so she cannot pause).
    let pause = r#"{"reason": "lunch"}"#;
    let a = raw(addr, "POST", "/v1/agents/alice/pause", &[&cookie], pause).await;
    a.expect_error(403, "csrf");
    let wrong = format!("X-CSRF-Token: {}", "0".repeat(64));
    let a = raw(
        addr,
        "POST",
        "/v1/agents/alice/pause",
        &[&cookie, &wrong],
        pause,
    )
    .await;
    a.expect_error(403, "csrf");
    let good = format!("X-CSRF-Token: {csrf}");
    let a = raw(
        addr,
        "POST",
        "/v1/agents/alice/pause",
        &[&cookie, &good],
        pause,
    )
    .await;
    assert_ne!(a.status, 403, "{}", a.body);
    // A bearer token is judged alone: no CSRF token needed, the cookie ignored.
    let bearer = format!("Authorization: Bearer {BOB}");
    let a = raw(addr, "GET", "/v1/agents/bob", &[&cookie, &bearer], "").await;
    assert_eq!(a.status, 200, "{}", a.body);

    // An agent user with no [[agents]] entry is refused at login.
    let json_body = json!({"id": "carol", "password": "alice's passphrase"}).to_string();
    let a = post(addr, "/v1/session", None, &json_body).await;
    a.expect_error(403, "not_an_agent");
    let a = post(addr, "/v1/session", None, r#"{"id": "alice"}"#).await;
    a.expect_error(400, "bad_field");

    // Idle for longer than session_idle (2 s): the session ends. Idleness is what is tested, so
    // the test waits without a request (any request would count as activity).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let a = raw(addr, "GET", "/v1/session", &[&cookie], "").await;
    a.expect_error(401, "unauthorized");
    assert!(a.message().contains("idle"), "{}", a.body);

    // Logging out ends a session at once and clears the cookie.
    let a = raw(
        addr,
        "POST",
        "/v1/session",
        &form,
        "id=alice&password=alice%27s+passphrase",
    )
    .await;
    let set = session_cookie(&a.head);
    let cookie = format!("Cookie: {}", set.split(';').next().unwrap());
    let csrf = format!("X-CSRF-Token: {}", a.json()["csrf"].as_str().unwrap());
    let a = raw(addr, "DELETE", "/v1/session", &[&cookie, &csrf], "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(session_cookie(&a.head).contains("Max-Age=0"));
    assert_eq!(
        raw(addr, "GET", "/v1/session", &[&cookie], "").await.status,
        401
    );
    let _ = r.stop_api.send(());
    r.daemon.stop().await;
}
