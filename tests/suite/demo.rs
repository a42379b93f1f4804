//! `dialer demo` end to end through the real binary: the daemon against the simulated carrier
//! and agents on loopback. Graded from the store the demo leaves (its `dialer.db`, read here row
//! by row), against the simulated carrier's own count of the INVITEs it took and what it drew
//! for each — not from the demo's summary of that store. And the wallboard it serves: its
//! supervisor logs in over HTTP and watches the dials come.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dialer::campaign::Mode;
use dialer::domain::Outcome;
use dialer::store::entity::{agent_state_interval, call_attempt, campaign};
use sea_orm::{Database, EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::rig::sse::{EventStream, Sse};
use crate::rig::{Demo, raw, session_cookie};

fn count(map: &Value, key: &str) -> u64 {
    map.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Campaign name → mode, from the example campaign files the demo runs.
fn modes() -> BTreeMap<String, Mode> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns");
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let c = dialer::campaign::load(&p).unwrap_or_else(|e| panic!("{e}"));
            m.insert(c.name.clone(), c.mode);
        }
    }
    m
}

/// The problems of one stored attempt: unfinished, times out of order, outcome and flags that
/// do not go together.
fn problems(a: &call_attempt::Model, mode: Mode) -> Vec<String> {
    let mut p = Vec::new();
    let Some(outcome) = a.outcome.as_deref() else {
        return vec!["no outcome (unfinished)".into()];
    };
    let Some(end) = a.end_at_ms else {
        return vec!["no end time (unfinished)".into()];
    };
    if outcome.parse::<Outcome>().is_err() {
        p.push(format!("unknown outcome {outcome}"));
    }
    // dial ≤ ring ≤ answer ≤ AMD ≤ connect ≤ end; answer ≤ message ≤ end.
    let chain = [
        ("dial", Some(a.dial_at_ms)),
        ("ring", a.ring_at_ms),
        ("answer", a.answer_at_ms),
        ("amd", a.amd_at_ms),
        ("connect", a.connect_at_ms),
        ("end", Some(end)),
    ];
    let known: Vec<(&str, i64)> = chain
        .iter()
        .filter_map(|(n, t)| t.map(|t| (*n, t)))
        .collect();
    for w in known.windows(2) {
        if w[1].1 < w[0].1 {
            p.push(format!("{} after {}", w[0].0, w[1].0));
        }
    }
    if let Some(m) = a.message_at_ms
        && (a.answer_at_ms.is_none_or(|ans| m < ans) || m > end)
    {
        p.push("message outside answer..end".into());
    }
    let answered = matches!(outcome, "human" | "machine" | "abandoned" | "answered");
    let rejected = matches!(
        outcome,
        "busy" | "no_answer" | "invalid_number" | "congestion" | "rejected" | "failed" | "shed"
    );
    if answered && (a.answer_at_ms.is_none() || a.sip_status != Some(200)) {
        p.push("answered without an answer time or a 200".into());
    }
    if rejected && (a.answer_at_ms.is_some() || a.connect_at_ms.is_some()) {
        p.push("not answered, yet an answer or connect time".into());
    }
    if a.live != matches!(outcome, "human" | "abandoned") {
        p.push(format!("live = {} for {outcome}", a.live));
    }
    if a.abandoned != (outcome == "abandoned") {
        p.push(format!("abandoned = {} for {outcome}", a.abandoned));
    }
    if outcome == "abandoned" && a.connect_at_ms.is_some() {
        p.push("abandoned, yet connected to an agent".into());
    }
    if outcome == "human"
        && mode != Mode::Agentless
        && (a.connect_at_ms.is_none() || a.agent_id.is_none())
    {
        p.push("a person with no agent's connect".into());
    }
    if mode == Mode::Preview && a.agent_id.is_none() {
        p.push("preview attempt without the agent who dialed it".into());
    }
    if a.connect_at_ms.is_some() && a.agent_id.is_none() {
        p.push("connected to no agent".into());
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_stores_one_consistent_attempt_per_dial() {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "demo",
            "--duration",
            "15s",
            "--json",
            "--seed",
            "7",
            "--agents",
            "9",
            "--api",
            "127.0.0.1:0",
            "--state",
        ])
        .arg(state.path())
        .output()
        .expect("run dialer demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dialer demo failed:\n{stderr}");
    let s: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        s["api"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "the summary's api: {}",
        s["api"]
    );
    // The simulated carrier's own count (it does not read the store).
    let carrier = &s["carrier"];
    let planned = &carrier["planned"];

    let db_path = state.path().join("dialer.db");
    let db = Database::connect(format!("sqlite://{}?mode=ro", db_path.display()))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db_path.display()));
    let campaigns: BTreeMap<i64, String> = campaign::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let attempts = call_attempt::Entity::find()
        .order_by_asc(call_attempt::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let intervals = agent_state_interval::Entity::find()
        .order_by_asc(agent_state_interval::Column::Id)
        .all(&db)
        .await
        .unwrap();
    db.close().await.unwrap();
    let modes = modes();

    // One attempt per INVITE the carrier took, each finished and consistent.
    assert!(
        attempts.len() >= 10,
        "a 15 s demo dials more than {} calls",
        attempts.len()
    );
    assert_eq!(
        attempts.len() as u64,
        carrier["calls"].as_u64().unwrap(),
        "stored attempts against the carrier's INVITEs"
    );
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_campaign: BTreeMap<&str, u64> = BTreeMap::new();
    for a in &attempts {
        let name = campaigns
            .get(&a.campaign_id)
            .unwrap_or_else(|| panic!("attempt {} of no stored campaign: {a:?}", a.id));
        let mode = *modes
            .get(name)
            .unwrap_or_else(|| panic!("campaign {name} is not an example campaign"));
        let p = problems(a, mode);
        assert!(p.is_empty(), "attempt {} ({name}): {p:?}\n{a:?}", a.id);
        *by.entry(a.outcome.as_deref().unwrap_or("")).or_default() += 1;
        *by_campaign.entry(name).or_default() += 1;
    }
    eprintln!("stored by outcome {by:?}, by campaign {by_campaign:?}; carrier {carrier}");

    // Rejections come straight from SIP statuses: each matches the carrier's draws, but for
    // calls cut short when the demo stopped (interrupted).
    let n = |k: &str| by.get(k).copied().unwrap_or(0);
    let interrupted = n("interrupted");
    for (outcome, kind) in [
        ("busy", "busy"),
        ("congestion", "congestion"),
        ("invalid_number", "invalid"),
    ] {
        let (got, drawn) = (n(outcome), count(planned, kind));
        assert!(
            got <= drawn && drawn <= got + interrupted,
            "{outcome}: stored {got}, carrier drew {drawn}, interrupted {interrupted}"
        );
    }
    // Answered calls: no more than the carrier answered; people and machines among them.
    let answered: u64 = ["human", "machine", "abandoned", "answered"]
        .iter()
        .map(|k| n(k))
        .sum();
    assert!(answered <= carrier["answered"].as_u64().unwrap() + interrupted);
    assert!(n("human") > 0, "nobody reached an agent: {by:?}");
    assert!(count(planned, "person") > 0);

    // The preview campaign (collections) dials: the desks dial what they preview (each of its
    // attempts names its agent: checked above).
    assert!(
        by_campaign.get("collections").copied().unwrap_or(0) > 0,
        "collections dialed nothing: {by_campaign:?}"
    );

    // Agents' time: every interval closed and of non-negative length, for all nine agents;
    // each on_call interval belongs to a stored attempt with that agent connected.
    let by_id: BTreeMap<i64, &call_attempt::Model> = attempts.iter().map(|a| (a.id, a)).collect();
    let mut agents = BTreeSet::new();
    let mut previewed = 0;
    for i in &intervals {
        agents.insert(i.agent_id.as_str());
        let end = i
            .ended_at_ms
            .unwrap_or_else(|| panic!("interval left open: {i:?}"));
        assert!(end >= i.started_at_ms, "{i:?}");
        if i.state == "preview" {
            previewed += end - i.started_at_ms;
        }
        if i.state == "on_call" {
            let a = i
                .attempt_id
                .and_then(|id| by_id.get(&id))
                .unwrap_or_else(|| panic!("on_call interval of no stored attempt: {i:?}"));
            assert_eq!(a.agent_id.as_deref(), Some(i.agent_id.as_str()), "{i:?}");
            assert!(a.connect_at_ms.is_some(), "{i:?}: {a:?}");
        }
    }
    assert_eq!(agents.len(), 9, "{agents:?}");
    assert!(
        intervals.iter().any(|i| i.state == "on_call"),
        "nobody talked"
    );
    assert!(previewed > 0, "nobody previewed a lead");
}

/// `echo PASSWORD | dialer demo --supervisor sue --api 127.0.0.1:0`: the line it prints names
/// the wallboard's URL; sue logs in there with that password, the wallboard page is served, and
/// her event stream shows the campaigns' dials growing past 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_the_wallboard_to_its_supervisor() {
    const PASSWORD: &str = "sue watches the demo floor";
    let state = tempfile::tempdir().unwrap();
    let demo = Demo::start(
        state.path(),
        PASSWORD,
        &["--duration", "12s", "--agents", "6"],
    );
    let addr = demo.api;

    // A wrong password is refused; the one given on standard input logs sue in.
    let json_body = ["Content-Type: application/json"];
    let wrong = raw(
        addr,
        "POST",
        "/v1/session",
        &json_body,
        &json!({"id": "sue", "password": "not her passphrase"}).to_string(),
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let login = raw(
        addr,
        "POST",
        "/v1/session",
        &json_body,
        &json!({"id": "sue", "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.json()["principal"]["role"], "supervisor");
    let cookie = format!(
        "Cookie: {}",
        session_cookie(&login.head).split(';').next().unwrap()
    );
    let page = raw(addr, "GET", "/wallboard", &[&cookie], "").await;
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(page.body.contains("id=\"campaigns\""), "{}", page.body);

    // Her live updates: a `campaigns` event with dials comes while the demo runs.
    let mut events = EventStream::open_with(addr, &cookie, None).await;
    assert_eq!(events.status, 200, "{}", events.head);
    let dials = |e: &Sse| -> u64 {
        e.data["campaigns"]
            .as_array()
            .map(|cs| cs.iter().filter_map(|c| c["dials"].as_u64()).sum())
            .unwrap_or(0)
    };
    let (before, dialed) = events
        .until(Duration::from_secs(12), |e| {
            e.name == "campaigns" && dials(e) > 0
        })
        .await;
    let names: Vec<&str> = before.iter().map(|e| e.name.as_str()).collect();
    let dialed = dialed.unwrap_or_else(|| panic!("no campaigns event with dials; got {names:?}"));
    assert!(dials(&dialed) > 0);
    drop(events);

    let s = demo.summary(Duration::from_secs(90));
    assert_eq!(s["api"], format!("http://{addr}"), "the summary's api");
    assert!(s["attempts"].as_u64().unwrap() > 0);
}
