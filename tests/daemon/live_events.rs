//! Live updates (`GET /v1/events`) from the real daemon over HTTP on loopback, with sipp as
//! Alice's phone in a preview campaign (a lead goes on her screen without a call).
//!
//! - each stream starts with `hello` and a snapshot; an agent's stream carries only that
//!   agent's state and screen pop, the supervisor's every agent's state and no screen pop;
//! - Alice's screen pop comes as a `lead` event (preview, name, local time, history from the
//!   store, dispositions, hours) and matches `GET /v1/agents/alice/lead`;
//! - a stream opened later (a reconnect) starts from the state as it is;
//! - a stream nobody reads does not hold the switchboard back: it is cut off, and the agent's
//!   requests are answered meanwhile;
//! - `pause` with a reason not in `[desktop] pause_reasons` is refused.
//!
//! Skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

use std::time::{Duration, Instant};

use dialer::daemon::api::{Api, Limits, Phase, Readiness, Tokens};
use dialer::daemon::config;
use dialer::daemon::run::{Daemon, Options};
use dialer::domain::{LeadStatus, Outcome};
use dialer::store::{AttemptEnd, AttemptStart, NewDisposition, NewLead, Store};
use serde_json::{Value, json};

use crate::rig::sse::{EventStream, Sse};
use crate::rig::{get, post};
use crate::{e2e, storedb};

const SUPER: &str = "supervisor-token-0123456789";
const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789";

const WAIT: Duration = Duration::from_secs(15);

/// Dana, with one earlier attempt and its disposition (her history).
async fn seed(store: &Store, c: &dialer::campaign::Campaign, zone: &str) -> i64 {
    let now = jiff::Timestamp::now().as_millisecond();
    let (campaign_id, list) =
        storedb::leads_list(store, &c.name, c.kind.as_str(), c.regime.as_str()).await;
    store
        .insert_leads(
            campaign_id,
            &[NewLead {
                list_id: list,
                phone: "+12025550143".into(),
                timezone: Some(zone.to_string()),
                zone_key: None,
                zone_source: None,
                attributes: r#"{"first_name":"Dana","last_name":"Scully","plan":"gold"}"#.into(),
                priority: 1,
            }],
            now - 2 * 86_400_000,
        )
        .await
        .unwrap();
    let page = store.leads_page(campaign_id, 0, 10).await.unwrap();
    let dana = page[0].lead.id;
    let earlier = now - 86_400_000;
    let attempt = store
        .record_attempt_start(&AttemptStart {
            lead_id: dana,
            dial_at_ms: earlier,
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .record_attempt_end(
            attempt,
            &AttemptEnd {
                end_at_ms: earlier + 60_000,
                outcome: Outcome::Human,
                agent_id: Some("bob".into()),
                live: true,
                lead_status: LeadStatus::Active,
                // Due again now.
                next_attempt_at_ms: Some(earlier + 60_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .record_disposition(&NewDisposition {
            lead_id: dana,
            attempt_id: Some(attempt),
            code: "no_sale",
            agent_id: Some("bob"),
            notes: Some("asked us to call back next week"),
            at_ms: earlier + 70_000,
            ..Default::default()
        })
        .await
        .unwrap();
    dana
}

fn names(events: &[Sse]) -> Vec<(String, Value)> {
    events
        .iter()
        .map(|e| {
            let who = match e.name.as_str() {
                "agent" => e.data["agent"]["id"].clone(),
                "lead" => e.data["agent"].clone(),
                _ => Value::Null,
            };
            (e.name.clone(), who)
        })
        .collect()
}

/// Read `stream`'s `hello` and snapshot: the events up to a quiet moment.
async fn snapshot(stream: &mut EventStream, events: usize) -> Vec<Sse> {
    let mut got = Vec::new();
    for _ in 0..events {
        got.push(
            stream
                .next(WAIT)
                .await
                .unwrap_or_else(|| panic!("snapshot ended after {got:?}")),
        );
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_show_each_reader_their_own_and_resynchronise() {
    if !e2e::have_sipp("live events test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let setup = e2e::Setup {
        campaign: "livefeed".into(),
        mode: "preview".into(),
        ..e2e::Setup::new(&["alice", "bob"])
    };
    let zone = setup.zone.clone();
    let config_path = setup.write(dir.path());
    let _phone = e2e::agent_phone(setup.agent_port("alice"));

    let db = storedb::sqlite();
    let store = db.open().await;
    let loaded = config::load_all(&config_path).expect("test config is valid");
    let dana = seed(&store, &loaded.campaigns[0], &zone).await;
    let options = Options {
        tick: Duration::from_millis(100),
        drain_deadline: Duration::from_secs(5),
        import_lists: false,
        // Small, so that a stream nobody reads is cut off soon.
        live_capacity: 32,
        series_every: Duration::from_secs(2),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
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
    let api = Api::new(daemon.control(), tokens, Readiness::new(), None);
    api.readiness().set(Phase::Running);
    let (addr, stop_api) = e2e::serve_api(&api).await;

    // No token, no stream.
    let a = get(addr, "/v1/events", None).await;
    assert_eq!(a.status, 401, "{}", a.body);

    // Snapshots: hello, then every agent (supervisor) or the agent and their screen pop.
    let mut sup = EventStream::open(addr, SUPER, None).await;
    assert_eq!(sup.status, 200, "{}", sup.head);
    assert!(
        sup.head
            .to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{}",
        sup.head
    );
    let first = snapshot(&mut sup, 5).await;
    assert_eq!(first[0].name, "hello");
    assert_eq!(first[0].data["principal"], json!({"role": "supervisor"}));
    assert_eq!(
        first[0].data["pause_reasons"][1],
        json!({"code": "lunch", "label": "Lunch"})
    );
    assert!(
        first[0].data["now"]
            .as_str()
            .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
        "{}",
        first[0].data
    );
    assert_eq!(
        names(&first[1..3]),
        vec![
            ("agent".to_string(), json!("alice")),
            ("agent".to_string(), json!("bob"))
        ]
    );
    assert_eq!(first[1].data["agent"]["state"], "logged_out");
    // The wallboard: the campaigns' status with its figures, and the series so far.
    assert_eq!(first[3].name, "campaigns");
    let c = &first[3].data["campaigns"][0];
    assert_eq!(c["name"], "livefeed");
    assert_eq!(
        (
            c["occupancy"].clone(),
            c["lines_per_agent"].clone(),
            c["waiting"].clone()
        ),
        (json!(0.0), json!(0.0), json!(0)),
        "{c}"
    );
    assert_eq!(first[4].name, "series");
    assert!(first[4].data["points"].is_array(), "{}", first[4].data);

    let mut alice = EventStream::open(addr, ALICE, None).await;
    let first = snapshot(&mut alice, 3).await;
    assert_eq!(
        first[0].data["principal"],
        json!({"role": "agent", "id": "alice"})
    );
    assert_eq!(
        names(&first[1..]),
        vec![
            ("agent".to_string(), json!("alice")),
            ("lead".to_string(), json!("alice"))
        ]
    );
    assert_eq!(first[2].data["lead"], Value::Null);
    let mut bob = EventStream::open(addr, BOB, None).await;
    let first = snapshot(&mut bob, 3).await;
    assert_eq!(
        names(&first[1..]),
        vec![
            ("agent".to_string(), json!("bob")),
            ("lead".to_string(), json!("bob"))
        ]
    );

    // A pause reason not configured is refused.
    let a = post(
        addr,
        "/v1/agents/alice/pause",
        Some(ALICE),
        r#"{"reason": "nap"}"#,
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (400, "bad_field".to_string()),
        "{}",
        a.body
    );
    assert!(a.message().contains("lunch"), "{}", a.body);

    // Alice logs in: her phone answers, she is ready, Dana is reserved for her preview.
    let a = post(addr, "/v1/agents/alice/login", Some(ALICE), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (before, pop) = alice
        .until(WAIT, |e| e.name == "lead" && !e.data["lead"].is_null())
        .await;
    let pop = pop.unwrap_or_else(|| panic!("no screen pop for alice; got {:?}", names(&before)));
    assert!(
        before
            .iter()
            .all(|e| e.name == "agent" && e.data["agent"]["id"] == "alice"),
        "{:?}",
        names(&before)
    );
    let states: Vec<&Value> = before.iter().map(|e| &e.data["agent"]["state"]).collect();
    assert!(states.contains(&&json!("connecting")), "{states:?}");
    let lead = &pop.data["lead"];
    assert_eq!(lead["lead_id"], json!(dana));
    assert_eq!(lead["campaign"], "livefeed");
    assert_eq!(lead["phone"], "+12025550143");
    assert_eq!(lead["name"], "Dana Scully");
    assert_eq!(lead["attributes"]["plan"], "gold");
    assert_eq!(lead["preview"], json!(true));
    let local = lead["local_time"].as_str().unwrap_or_default();
    let local: jiff::Timestamp = local.parse().unwrap_or_else(|e| panic!("{lead}: {e}"));
    assert!(
        (jiff::Timestamp::now().as_second() - local.as_second()).abs() < 60,
        "{lead}"
    );
    assert_eq!(lead["history"].as_array().map(Vec::len), Some(1), "{lead}");
    assert_eq!(lead["history"][0]["outcome"], "human");
    assert_eq!(lead["history"][0]["disposition"], "no_sale");
    assert_eq!(
        lead["history"][0]["notes"],
        "asked us to call back next week"
    );
    assert_eq!(lead["history"][0]["agent"], "bob");
    assert!(
        lead["dispositions"].as_array().is_some_and(|d| d
            .iter()
            .any(|d| d["code"] == "sale" && d["callback"] == false)),
        "{lead}"
    );
    assert!(lead["hours"]["start"].is_string(), "{lead}");
    assert_eq!(lead["answers"], json!({}));
    // The same object as the route.
    let route = get(addr, "/v1/agents/alice/lead", Some(ALICE)).await.json()["lead"].clone();
    let without_time = |mut v: Value| {
        v["local_time"] = Value::Null;
        v
    };
    assert_eq!(without_time(route), without_time(lead.clone()));

    // The supervisor saw Alice's states, and no screen pop.
    let (seen, preview) = sup
        .until(WAIT, |e| e.data["agent"]["state"] == "preview")
        .await;
    assert!(preview.is_some(), "{:?}", names(&seen));
    assert!(seen.iter().all(|e| e.name != "lead"), "{:?}", names(&seen));
    // Previewing is busy: the campaign's occupancy over the shift rises above zero, and the
    // series gets points (every 2 s in this test) with Alice busy.
    let (seen, busy) = sup
        .until(WAIT, |e| {
            e.name == "campaigns" && e.data["campaigns"][0]["occupancy"].as_f64() > Some(0.0)
        })
        .await;
    assert!(busy.is_some(), "{:?}", names(&seen));
    let (seen, point) = sup
        .until(WAIT, |e| {
            e.name == "point" && e.data["occupancy"].as_f64() > Some(0.0)
        })
        .await;
    let point = point.unwrap_or_else(|| panic!("no busy point: {:?}", names(&seen)));
    assert!(
        point.data["at"]
            .as_str()
            .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
        "{}",
        point.data
    );
    let p = &point.data["campaigns"]["livefeed"];
    // No dial yet this run; Dana's answer yesterday is in the abandon window.
    assert_eq!(
        (p["dials"].clone(), p["live"].clone()),
        (json!(0), json!(1)),
        "{p}"
    );
    assert!(p["cap"].as_f64().is_some_and(|c| c > 0.0), "{p}");
    // GET /v1/campaigns has the same figures.
    let c = get(addr, "/v1/campaigns/livefeed", Some(SUPER))
        .await
        .json();
    assert!(c["campaign"]["occupancy"].as_f64() > Some(0.0), "{c}");
    assert_eq!(c["campaign"]["waiting"], json!(0), "{c}");

    // Bob logs in (nobody answers his phone: he stays connecting). His stream has only him;
    // Alice's has nothing of him; the supervisor's has him.
    let a = post(addr, "/v1/agents/bob/login", Some(BOB), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (seen, connecting) = bob
        .until(WAIT, |e| e.data["agent"]["state"] == "connecting")
        .await;
    assert!(connecting.is_some(), "{:?}", names(&seen));
    assert!(seen.is_empty(), "bob saw {:?}", names(&seen));
    let (seen, bob_seen) = sup.until(WAIT, |e| e.data["agent"]["id"] == "bob").await;
    assert!(bob_seen.is_some(), "{:?}", names(&seen));
    // A reconnecting wallboard gets the series so far.
    let mut wall = EventStream::open(addr, SUPER, None).await;
    let first = snapshot(&mut wall, 5).await;
    assert!(
        first[4].data["points"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{}",
        first[4].data
    );
    drop(wall);
    let a = post(addr, "/v1/agents/alice/skip", Some(ALICE), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Skipping Dana, the only lead, leaves Alice with nothing to preview: her pop clears.
    let (seen, cleared) = alice
        .until(WAIT, |e| e.name == "lead" && e.data["lead"].is_null())
        .await;
    assert!(cleared.is_some(), "{:?}", names(&seen));
    assert!(
        seen.iter()
            .all(|e| e.data["agent"] == "alice" || e.data["agent"]["id"] == "alice"),
        "alice saw {:?}",
        names(&seen)
    );

    // A reconnect: the new stream's snapshot is the state as the API shows it now.
    drop(alice);
    let mut again = EventStream::open(addr, ALICE, None).await;
    let first = snapshot(&mut again, 3).await;
    let now = get(addr, "/v1/agents/alice", Some(ALICE)).await.json();
    assert_eq!(
        first[1].data["agent"]["state"], now["agent"]["state"],
        "{:?}",
        first[1].data
    );
    let pop_now = get(addr, "/v1/agents/alice/lead", Some(ALICE)).await.json();
    assert_eq!(
        first[2].data["lead"]["lead_id"], pop_now["lead"]["lead_id"],
        "{:?}",
        first[2].data
    );

    // A stream nobody reads (a tiny receive window) falls behind and is cut off; the
    // switchboard answers Alice all along, and a stream that is read keeps up.
    let mut stalled = EventStream::open(addr, SUPER, Some(2048)).await;
    assert_eq!(stalled.status, 200);
    let reader = tokio::spawn(async move {
        let mut states = 0;
        while let Some(e) = again.next(WAIT).await {
            if e.name == "agent" {
                states += 1;
            }
            if states == TOGGLES * 2 {
                break;
            }
        }
        (states, again.ended)
    });
    const TOGGLES: usize = 600;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..TOGGLES * 2 {
        let (path, body) = match i % 2 {
            0 => ("pause", r#"{"reason": "break"}"#),
            _ => ("ready", ""),
        };
        let asked = Instant::now();
        let a = post(addr, &format!("/v1/agents/alice/{path}"), Some(ALICE), body).await;
        slowest = slowest.max(asked.elapsed());
        assert_eq!(a.status, 200, "{path} #{i}: {}", a.body);
    }
    let took = started.elapsed();
    assert!(
        slowest < Duration::from_secs(2),
        "an agent request took {slowest:?} with a stalled stream open"
    );
    let (states, ended) = reader.await.unwrap();
    assert_eq!(
        (states, ended),
        (TOGGLES * 2, false),
        "the stream that was read"
    );
    // What reached the stalled stream: it was closed by the server long before the changes'
    // events were all sent.
    let mut got = 0;
    while stalled.next(WAIT).await.is_some() {
        got += 1;
    }
    assert!(stalled.ended, "the stalled stream was not closed");
    assert!(
        got < TOGGLES * 2,
        "{got} events reached a stream nobody read"
    );
    eprintln!(
        "{} agent requests with a stalled stream open: {took:?}, slowest {slowest:?}; the stalled stream got {got} events before it was closed",
        TOGGLES * 2
    );

    // Streams have slots of their own and give the connection's ordinary slot back. A server
    // with two ordinary slots and one stream slot: an idle connection holds one ordinary
    // slot, a stream opens, a second stream is refused, and a request is still answered (the
    // first stream holds no ordinary slot; otherwise none would be free until the idle
    // connection's header timeout). Stopping the server ends its stream.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let small = listener.local_addr().unwrap();
    let (stop_small, small_stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = Limits {
        max_connections: 2,
        max_event_streams: 1,
        ..Limits::default()
    };
    let server = api.clone();
    let small_server = tokio::spawn(async move {
        server
            .serve_with(listener, limits, async {
                let _ = small_stopped.await;
            })
            .await
    });
    let _idle = tokio::net::TcpStream::connect(small).await.unwrap();
    let mut one = EventStream::open(small, SUPER, None).await;
    assert_eq!(one.status, 200, "{}", one.head);
    snapshot(&mut one, 5).await;
    let two = get(small, "/v1/events", Some(SUPER)).await;
    assert_eq!(
        (two.status, two.code()),
        (503, "too_many_streams".to_string()),
        "{}",
        two.body
    );
    let started = Instant::now();
    loop {
        if status_of(small, "/v1/agents/alice", ALICE).await == Some(200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no request answered beside an open stream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_small.send(());
    let (_, more) = one.until(WAIT, |_| false).await;
    assert!(
        more.is_none() && one.ended,
        "the stream did not end with its server"
    );
    small_server.await.unwrap().unwrap();

    let _ = stop_api.send(());
    daemon.stop().await;
}

/// The status of a GET, or `None` when the connection was closed without an answer (refused
/// at the connection cap).
async fn status_of(addr: std::net::SocketAddr, path: &str, token: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: dialer\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf)
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}
