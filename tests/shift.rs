//! Shifts through `dialer run` (the real binary, a child process) against the simulated carrier
//! and agent phones (`dialer::simnet`, in the test process) on 127.0.0.1, with real SIP and RTP.
//! The simulated agents act through the HTTP API with their own tokens (hang up, disposition),
//! and their screens pop from the API's agent states.
//!
//! - `a_shift_adds_up`: the API's campaign status and agents' states, `/metrics`, and
//!   `dialer report --format json` each agree exactly with the rows the store holds (attempts by
//!   outcome, contacts, abandons, dispositions, agent state intervals); mid-shift every agent
//!   pauses while calls ring, so the shift has abandons (and paused time) to count.
//! - `reload_mid_shift`: a broken campaign file on SIGHUP keeps the running version (dialing goes
//!   on, the log names file and key, no call is dropped); the fixed file with a lower
//!   `max_concurrent` then applies to new dials; SIGTERM drains and exits 0.
//!
//! Figures come from the store, never from expectations about the random draws; the only
//! "at least" checks are that the shift did something worth checking.

mod rig;
mod storedb;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialer::media::driver::{Driver as Media, DriverConfig};
use dialer::simnet::{
    AgentDesk, AgentPhones, AgentsConfig, Carrier, CarrierConfig, DeskError, SimConfig, Sounds,
};
use dialer::simnet::{OutcomeMix, Span};
use dialer::store::{NewLead, Store};
use rig::{Proc, Setup, get, post};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const SUPER: &str = "supervisor-token-0123456789";
const AGENTS: [&str; 3] = ["alice", "bob", "carol"];

fn token(agent: &str) -> String {
    format!("{agent}-token-0123456789")
}

// ---- the simulated world ----

/// Quick calls, so a short shift has many: people talk 3–8 s, agents 3–6 s, wrap-up 1–2 s.
fn sim_config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        carrier: CarrierConfig {
            mix: OutcomeMix {
                person: 0.55,
                machine: 0.2,
                busy: 0.08,
                no_answer: 0.04,
                invalid: 0.05,
                congestion: 0.08,
            },
            ring_person: Span::secs(0.5, 2.5),
            ring_machine: Span::secs(0.5, 2.5),
            reject_after: Span::secs(0.2, 1.0),
            talk: Span::secs(3.0, 8.0),
            ..CarrierConfig::default()
        },
        agents: AgentsConfig {
            talk: Span::secs(3.0, 6.0),
            wrap: Span::secs(1.0, 2.0),
            ..AgentsConfig::default()
        },
    }
}

/// The agents' desks: the daemon's HTTP API with each agent's own token.
struct HttpDesk {
    api: SocketAddr,
}

impl HttpDesk {
    async fn act(&self, agent: &str, action: &str, body: &str) -> Result<(), DeskError> {
        let path = format!("/v1/agents/{agent}/{action}");
        let a = post(self.api, &path, Some(&token(agent)), body).await;
        if a.status == 200 {
            Ok(())
        } else {
            Err(DeskError(format!("{action}: {} {}", a.status, a.body)))
        }
    }
}

impl AgentDesk for HttpDesk {
    fn catalogue(&self, _agent: &str) -> Vec<String> {
        vec!["sale".into(), "call_back".into()]
    }

    async fn hangup(&self, agent: &str) -> Result<(), DeskError> {
        self.act(agent, "hangup", "").await
    }

    async fn dispose(&self, agent: &str, code: &str) -> Result<(), DeskError> {
        let body = if code == "call_back" {
            json!({"code": code, "notes": "simulated", "callback_in": "2h"})
        } else {
            json!({"code": code, "notes": "simulated"})
        };
        self.act(agent, "disposition", &body.to_string()).await
    }
}

struct World {
    carrier: Carrier,
    phones: Arc<AgentPhones>,
    _media: Media,
    pops: tokio::task::JoinHandle<()>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.pops.abort();
    }
}

/// The carrier on the trunk's port and one phone per agent on theirs; a task pops each
/// agent's screen when the API shows them on a new call.
async fn start_world(setup: &Setup, seed: u64) -> World {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let sim = sim_config(seed);
    let media = Media::start(DriverConfig {
        seed: seed ^ 0x51,
        ..DriverConfig::default()
    });
    let sounds = Sounds::builtin().unwrap();
    let carrier = Carrier::start(
        SocketAddr::new(lo, setup.trunk),
        vec![lo],
        sim.carrier.clone(),
        sim.seed,
        media.clone(),
        sounds.clone(),
    )
    .await
    .unwrap();
    let phones: Vec<(String, SocketAddr)> = setup
        .agents
        .iter()
        .map(|(a, port)| (a.clone(), SocketAddr::new(lo, *port)))
        .collect();
    let desk = Arc::new(HttpDesk {
        api: setup.api_addr(),
    });
    let phones = Arc::new(
        AgentPhones::start(
            &phones,
            vec![lo],
            sim.agents.clone(),
            sim.seed,
            media.clone(),
            sounds,
            desk,
        )
        .await
        .unwrap(),
    );
    let pops = tokio::spawn(screen_pops(setup.api_addr(), phones.clone()));
    World {
        carrier,
        phones,
        _media: media,
        pops,
    }
}

async fn screen_pops(api: SocketAddr, phones: Arc<AgentPhones>) {
    let mut on: HashMap<String, Option<u64>> = HashMap::new();
    loop {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let Ok(s) = tokio::net::TcpStream::connect(api).await else {
            continue;
        };
        drop(s);
        let a = get(api, "/v1/agents", Some(SUPER)).await;
        if a.status != 200 {
            continue;
        }
        for v in a.json()["agents"].as_array().cloned().unwrap_or_default() {
            let id = v["id"].as_str().unwrap_or_default().to_owned();
            let call = (v["state"] == "on_call")
                .then(|| v["call"].as_u64())
                .flatten();
            let before = on.insert(id.clone(), call);
            if call.is_some() && before.flatten() != call {
                phones.screen_pop(&id);
            }
        }
    }
}

// ---- the store ----

/// `n` fictional numbers (555-01xx) for the campaign's list `leads`, as `dialer import` would.
async fn seed_leads(store: &Store, campaign: &str, n: usize, zone: &str) {
    let now = jiff::Timestamp::now().as_millisecond();
    let (campaign_id, list_id) = storedb::leads_list(store, campaign, "cold", "us").await;
    const AREAS: [u16; 5] = [201, 202, 203, 205, 206];
    let leads: Vec<NewLead> = (0..n)
        .map(|i| NewLead {
            list_id,
            phone: format!("+1{}5550{:03}", AREAS[i / 100], 100 + i % 100),
            timezone: Some(zone.to_owned()),
            attributes: format!(r#"{{"name":"Lead {i}"}}"#),
            priority: 0,
        })
        .collect();
    store.insert_leads(campaign_id, &leads, now).await.unwrap();
}

/// One integer from a query (`n`).
async fn one(store: &Store, sql: &str, args: Vec<sea_orm::Value>) -> i64 {
    let r = store
        .conn()
        .query_one_raw(store.stmt(sql, args))
        .await
        .unwrap()
        .unwrap();
    r.try_get::<Option<i64>>("", "n").unwrap().unwrap_or(0)
}

/// `key → n` from a query.
async fn by(store: &Store, sql: &str, args: Vec<sea_orm::Value>) -> BTreeMap<String, i64> {
    store
        .conn()
        .query_all_raw(store.stmt(sql, args))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "k").unwrap(),
                r.try_get::<i64>("", "n").unwrap(),
            )
        })
        .collect()
}

/// What the store holds for a campaign.
#[derive(Debug, Clone, PartialEq)]
struct Rows {
    attempts: i64,
    unfinished: i64,
    live: i64,
    abandoned: i64,
    outcomes: BTreeMap<String, i64>,
    dispositions: BTreeMap<String, i64>,
    /// Ended agent intervals: state → total ms.
    interval_ms: BTreeMap<String, i64>,
    intervals: i64,
}

async fn rows(store: &Store, campaign_id: i64) -> Rows {
    let c = || vec![campaign_id.into()];
    Rows {
        attempts: one(
            store,
            "SELECT COUNT(*) AS n FROM call_attempts WHERE campaign_id = ?",
            c(),
        )
        .await,
        unfinished: one(
            store,
            "SELECT COUNT(*) AS n FROM call_attempts WHERE campaign_id = ? AND end_at_ms IS NULL",
            c(),
        )
        .await,
        live: one(
            store,
            "SELECT COUNT(*) AS n FROM call_attempts WHERE campaign_id = ? AND live",
            c(),
        )
        .await,
        abandoned: one(
            store,
            "SELECT COUNT(*) AS n FROM call_attempts WHERE campaign_id = ? AND live AND abandoned",
            c(),
        )
        .await,
        outcomes: by(
            store,
            "SELECT COALESCE(outcome, 'in_progress') AS k, COUNT(*) AS n FROM call_attempts \
             WHERE campaign_id = ? GROUP BY COALESCE(outcome, 'in_progress')",
            c(),
        )
        .await,
        dispositions: by(
            store,
            "SELECT code AS k, COUNT(*) AS n FROM dispositions WHERE campaign_id = ? GROUP BY code",
            c(),
        )
        .await,
        interval_ms: by(
            store,
            "SELECT state AS k, CAST(SUM(ended_at_ms - started_at_ms) AS BIGINT) AS n \
             FROM agent_state_intervals WHERE ended_at_ms IS NOT NULL GROUP BY state",
            vec![],
        )
        .await,
        intervals: one(
            store,
            "SELECT COUNT(*) AS n FROM agent_state_intervals WHERE ended_at_ms IS NOT NULL",
            vec![],
        )
        .await,
    }
}

// ---- the daemon ----

struct Shift {
    dir: tempfile::TempDir,
    setup: Setup,
    config: PathBuf,
    log: PathBuf,
    proc: Proc,
    store: Store,
    campaign_id: i64,
    url: String,
    world: World,
    _db: storedb::TestDb,
}

/// A config with three agents, campaign `name` from `campaign` (a campaign file's text), `leads`
/// leads in the store, the simulated world, and `dialer run` ready.
async fn start_shift(
    name: &str,
    campaign: impl Fn(&str) -> String,
    leads: usize,
    db: storedb::TestDb,
    seed: u64,
) -> Shift {
    let dir = tempfile::tempdir().unwrap();
    let zone = rig::daytime_zone();
    let setup = Setup::new(&AGENTS);
    let config = setup.write(dir.path());
    let campaigns = dir.path().join("campaigns");
    std::fs::create_dir_all(campaigns.join("lists")).unwrap();
    std::fs::write(campaigns.join(format!("lists/{name}.csv")), "phone,tz\n").unwrap();
    std::fs::write(campaigns.join(format!("{name}.toml")), campaign(&zone)).unwrap();

    let store = db.open().await;
    seed_leads(&store, name, leads, &zone).await;
    let campaign_id = store.campaign_id(name).await.unwrap().unwrap();
    let world = start_world(&setup, seed).await;

    let log = dir.path().join("dialer.log");
    let url = db.cli_url();
    let mut env: Vec<(String, String)> = vec![
        ("DIALER_API_TOKEN".into(), SUPER.into()),
        ("DIALER_DATABASE_URL".into(), url.clone()),
    ];
    for a in AGENTS {
        env.push((format!("DIALER_AGENT_{}_TOKEN", a.to_uppercase()), token(a)));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut proc = rig::dialer_run(&config, &["--drain", "20s"], &env, &log);
    rig::wait_ready(&mut proc, setup.api_addr(), &log, Duration::from_secs(60)).await;
    Shift {
        dir,
        setup,
        config,
        log,
        proc,
        store,
        campaign_id,
        url,
        world,
        _db: db,
    }
}

impl Shift {
    fn api(&self) -> SocketAddr {
        self.setup.api_addr()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn campaign(&self, name: &str) -> Value {
        let a = get(self.api(), &format!("/v1/campaigns/{name}"), Some(SUPER)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["campaign"].clone()
    }

    async fn agents(&self) -> Vec<Value> {
        let a = get(self.api(), "/v1/agents", Some(SUPER)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["agents"].as_array().unwrap().clone()
    }

    /// Every agent logs in with their own token; wait until all are ready.
    async fn log_in(&self) {
        for a in AGENTS {
            let r = post(
                self.api(),
                &format!("/v1/agents/{a}/login"),
                Some(&token(a)),
                "",
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        rig::eventually("every agent ready", Duration::from_secs(30), || async {
            let agents = self.agents().await;
            agents.iter().all(|v| v["state"] == "ready").then_some(())
        })
        .await;
    }

    /// Pause the campaign; wait until no call is in flight and every agent is ready again.
    async fn pause_and_settle(&self, name: &str) {
        let a = post(
            self.api(),
            &format!("/v1/campaigns/{name}/pause"),
            Some(SUPER),
            "",
        )
        .await;
        assert_eq!(a.json()["campaign"]["control"], "paused", "{}", a.body);
        rig::eventually(
            "no call in flight and every agent ready",
            Duration::from_secs(60),
            || async {
                let c = self.campaign(name).await;
                let agents = self.agents().await;
                (c["calls_in_flight"] == 0 && agents.iter().all(|v| v["state"] == "ready"))
                    .then_some(())
            },
        )
        .await;
    }

    /// An agent's action over the API with the agent's own token.
    async fn agent_act(&self, agent: &str, action: &str, body: &str) -> Value {
        let r = post(
            self.api(),
            &format!("/v1/agents/{agent}/{action}"),
            Some(&token(agent)),
            body,
        )
        .await;
        assert_eq!(r.status, 200, "{agent} {action}: {}", r.body);
        r.json()
    }

    /// Every agent pauses while calls ring (an agent on a call pauses when done), so a person
    /// who answers one of them finds nobody within the connect limit and is abandoned; then
    /// all go back to work. Repeated until an abandon is counted (a round's calls may bring
    /// no person).
    async fn abandon_one(&self, name: &str) {
        for _ in 0..10 {
            let in_flight = || async {
                self.campaign(name).await["calls_in_flight"]
                    .as_u64()
                    .unwrap_or(0)
            };
            rig::eventually("calls in flight", Duration::from_secs(30), || async {
                (in_flight().await >= 2).then_some(())
            })
            .await;
            for a in AGENTS {
                self.agent_act(a, "pause", r#"{"reason":"break"}"#).await;
            }
            rig::eventually(
                "no call in flight and every agent paused",
                Duration::from_secs(60),
                || async {
                    let agents = self.agents().await;
                    (in_flight().await == 0 && agents.iter().all(|v| v["state"] == "paused"))
                        .then_some(())
                },
            )
            .await;
            for a in AGENTS {
                self.agent_act(a, "ready", "").await;
            }
            if self.campaign(name).await["abandoned"].as_u64().unwrap_or(0) >= 1 {
                return;
            }
        }
        panic!("no person answered while every agent was paused, in 10 rounds");
    }

    /// SIGTERM; the daemon must exit 0 within the drain deadline and then some.
    fn stop(&mut self) {
        self.proc.signal(libc::SIGTERM);
        let status = self.proc.wait_exit(Duration::from_secs(60));
        assert!(status.success(), "exit {status}:\n{}", self.log_text());
    }

    async fn metrics(&self) -> String {
        let a = get(self.api(), "/metrics", None).await;
        assert_eq!(a.status, 200);
        a.body
    }
}

/// What `/metrics` says that the store can be checked against.
#[derive(Debug)]
struct Counted {
    dials: i64,
    abandoned: i64,
    /// Ended calls by outcome.
    outcomes: BTreeMap<String, i64>,
    dispositions: BTreeMap<String, i64>,
    /// Ended agent intervals: state → total ms.
    interval_ms: BTreeMap<String, i64>,
}

fn counted(page: &str, campaign: &str) -> Counted {
    let m = |name: &str| rig::series(page, name).unwrap_or(0.0) as i64;
    let mut c = Counted {
        dials: m(&format!(
            "dialer_dials_total{{campaign=\"{campaign}\",trunk=\"main\"}}"
        )),
        abandoned: m(&format!(
            "dialer_abandoned_total{{campaign=\"{campaign}\"}}"
        )),
        outcomes: BTreeMap::new(),
        dispositions: BTreeMap::new(),
        interval_ms: BTreeMap::new(),
    };
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let v = value.parse::<f64>().unwrap_or(0.0) as i64;
        let label = |family: &str, key: &str| -> Option<String> {
            let rest = series.strip_prefix(family)?.strip_prefix('{')?;
            let at = rest.find(&format!("{key}=\""))? + key.len() + 2;
            Some(rest[at..].split('"').next()?.to_owned())
        };
        let ours = series.contains(&format!("campaign=\"{campaign}\""));
        if let Some(o) = label("dialer_call_outcomes_total", "outcome").filter(|_| ours) {
            c.outcomes.insert(o, v);
        }
        if let Some(d) = label("dialer_dispositions_total", "code").filter(|_| ours) {
            c.dispositions.insert(d, v);
        }
        if let Some(st) = label("dialer_agent_state_milliseconds_total", "state") {
            c.interval_ms.insert(st, v);
        }
    }
    c
}

/// Interval totals agree when each interval's ms differ by at most one (Instant vs wall ms).
fn close_ms(a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>, slack: i64) -> bool {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().all(|k| {
        let (x, y) = (
            a.get(k).copied().unwrap_or(0),
            b.get(k).copied().unwrap_or(0),
        );
        (x - y).abs() <= slack
    })
}

fn report(shift: &Shift, campaign: &str, chart: &Path) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args([
            "report",
            "--campaign",
            campaign,
            "--since",
            "2h",
            "--format",
            "json",
        ])
        .arg("--config")
        .arg(&shift.config)
        .arg("--db")
        .arg(&shift.url)
        .arg("--chart")
        .arg(chart)
        .env_remove("DIALER_DATABASE_URL")
        .env_remove("DIALER_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dialer report failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn predictive(zone: &str) -> String {
    rig::campaign_toml(
        "shift",
        "predictive",
        zone,
        "\n[dialing]\nring_timeout = \"15s\"\ncalls_per_second = 5.0\nmax_concurrent = 6\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_adds_up() {
    let mut s = start_shift("shift", predictive, 150, storedb::sqlite(), 11).await;
    let api = s.api();
    s.log_in().await;

    // The shift: dial for a while, then the supervisor pauses and the floor settles.
    let started = Instant::now();
    rig::eventually(
        "a shift with dials and agents' dispositions",
        Duration::from_secs(50),
        || async {
            let c = s.campaign("shift").await;
            let disposed = s.world.phones.stats().dispositions;
            let enough = c["dials"].as_u64().unwrap_or(0) >= 15 && disposed >= 3;
            (enough && started.elapsed() >= Duration::from_secs(15)).then_some(())
        },
    )
    .await;
    s.abandon_one("shift").await;
    s.pause_and_settle("shift").await;

    // The store catches up with what the API and metrics say (the writer is asynchronous);
    // then every figure must agree exactly.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, agents, page, stored) = loop {
        let status = s.campaign("shift").await;
        let agents = s.agents().await;
        let page = s.metrics().await;
        let stored = rows(&s.store, s.campaign_id).await;
        let from_metrics = counted(&page, "shift");
        let agree = stored.attempts == status["dials"].as_i64().unwrap()
            && stored.unfinished == 0
            && stored.live == status["live_answers"].as_i64().unwrap()
            && stored.abandoned == status["abandoned"].as_i64().unwrap()
            && stored.attempts == from_metrics.dials
            && stored.outcomes == from_metrics.outcomes
            && stored.dispositions == from_metrics.dispositions
            && stored.abandoned == from_metrics.abandoned
            && close_ms(
                &stored.interval_ms,
                &from_metrics.interval_ms,
                stored.intervals,
            );
        if agree {
            break (status, agents, page, stored);
        }
        assert!(
            Instant::now() < deadline,
            "API, metrics and store disagree:\n{status:#}\n{stored:#?}\n{from_metrics:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("store: {stored:#?}\ncarrier: {:?}", s.world.carrier.stats());
    assert!(stored.live >= 2, "{stored:?}");
    assert!(stored.abandoned >= 1, "{stored:?}");
    assert!(stored.dispositions.values().sum::<i64>() >= 3, "{stored:?}");
    assert_eq!(status["control"], "paused");
    assert_eq!(status["calls_in_flight"], 0);
    // Every INVITE the carrier took is one stored attempt.
    assert_eq!(s.world.carrier.stats().calls as i64, stored.attempts);

    // Agents' states: all ready, each since its last stored interval ended.
    let now_ms = jiff::Timestamp::now().as_millisecond();
    for v in &agents {
        assert_eq!(v["state"], "ready", "{v}");
        let id = v["id"].as_str().unwrap();
        let last_end = one(
            &s.store,
            "SELECT MAX(ended_at_ms) AS n FROM agent_state_intervals WHERE agent_id = ?",
            vec![id.into()],
        )
        .await;
        let since_ms = now_ms - (v["seconds_in_state"].as_f64().unwrap() * 1000.0) as i64;
        assert!(
            (since_ms - last_end).abs() < 1500,
            "{id}: ready since {since_ms} by the API, last interval ended {last_end} in the store"
        );
    }
    let ready = rig::series(&page, "dialer_agents{state=\"ready\"}");
    assert_eq!(ready, Some(3.0), "{page}");

    // Log out, stop: the open ready intervals are closed and stored.
    for a in AGENTS {
        let r = post(api, &format!("/v1/agents/{a}/logout"), Some(&token(a)), "").await;
        assert_eq!(r.json()["agent"]["state"], "logged_out", "{}", r.body);
    }
    s.stop();

    // The report's figures are the store's.
    let chart = s.dir.path().join("shift.svg");
    let r = report(&s, "shift", &chart);
    let stored = rows(&s.store, s.campaign_id).await;
    let n = |v: &Value| v.as_i64().unwrap();
    assert_eq!(n(&r["dials"]), stored.attempts);
    assert_eq!(n(&r["contacts"]), stored.live);
    assert_eq!(n(&r["abandoned"]), stored.abandoned);
    let map = |v: &Value| -> BTreeMap<String, i64> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
            .collect()
    };
    assert_eq!(map(&r["outcomes"]), stored.outcomes);
    assert_eq!(map(&r["dispositions"]), stored.dispositions);
    assert_eq!(
        n(&r["successes"]),
        stored.dispositions.get("sale").copied().unwrap_or(0)
    );
    let w = &r["abandon_window"];
    assert_eq!(
        (n(&w["live"]), n(&w["abandoned"])),
        (stored.live, stored.abandoned)
    );
    // Agent time: every interval is this campaign's (one campaign, every agent in its groups).
    let ms = |state: &str| stored.interval_ms.get(state).copied().unwrap_or(0);
    let t = &r["agent_time"];
    for (field, state) in [
        ("ready_s", "ready"),
        ("on_call_s", "on_call"),
        ("wrap_up_s", "wrap_up"),
        ("paused_s", "paused"),
    ] {
        let got = (t[field].as_f64().unwrap() * 1000.0).round() as i64;
        assert_eq!(got, ms(state), "agent_time.{field}");
    }
    let handled = one(
        &s.store,
        "SELECT COUNT(DISTINCT attempt_id) AS n FROM agent_state_intervals \
         WHERE state = 'on_call' AND attempt_id IS NOT NULL",
        vec![],
    )
    .await;
    assert_eq!(n(&r["handled_calls"]), handled);
    for a in r["agents"].as_array().unwrap() {
        let id = a["agent"].as_str().unwrap();
        let calls = one(
            &s.store,
            "SELECT COUNT(DISTINCT attempt_id) AS n FROM agent_state_intervals \
             WHERE state = 'on_call' AND attempt_id IS NOT NULL AND agent_id = ?",
            vec![id.into()],
        )
        .await;
        assert_eq!(n(&a["calls"]), calls, "{id}");
    }
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{svg:.80}"
    );
}

fn progressive(zone: &str, max_concurrent: &str) -> String {
    rig::campaign_toml(
        "reload",
        "progressive",
        zone,
        &format!(
            "\n[dialing]\nring_timeout = \"15s\"\ncalls_per_second = 5.0\nmax_concurrent = {max_concurrent}\n"
        ),
    )
}

/// An attempt's dial and end (unix ms) and outcome.
async fn attempts(store: &Store, campaign_id: i64) -> Vec<(i64, Option<i64>, Option<String>)> {
    store
        .conn()
        .query_all_raw(store.stmt(
            "SELECT dial_at_ms, end_at_ms, outcome FROM call_attempts WHERE campaign_id = ? \
             ORDER BY dial_at_ms",
            vec![campaign_id.into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get("", "dial_at_ms").unwrap(),
                r.try_get("", "end_at_ms").unwrap(),
                r.try_get("", "outcome").unwrap(),
            )
        })
        .collect()
}

/// How many other attempts were in flight when each attempt was dialed.
fn others_in_flight(all: &[(i64, Option<i64>, Option<String>)], dial: i64) -> usize {
    all.iter()
        .filter(|(d, end, _)| *d < dial && end.is_none_or(|e| e > dial))
        .count()
}

/// Lines of the log containing `needle`.
fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_mid_shift() {
    // PostgreSQL when there is one (the other shift runs on SQLite).
    let db = match storedb::postgres("reload_mid_shift").await {
        Some(db) => db,
        None => storedb::sqlite(),
    };
    let mut s = start_shift("reload", |z| progressive(z, "6"), 150, db, 23).await;
    let file = s.dir.path().join("campaigns/reload.toml");
    let zone = rig::daytime_zone();
    s.log_in().await;

    // Calls are going.
    rig::eventually("calls in flight", Duration::from_secs(30), || async {
        let c = s.campaign("reload").await;
        (c["dials"].as_u64().unwrap() >= 3 && c["calls_in_flight"].as_u64().unwrap() >= 1)
            .then_some(())
    })
    .await;

    // A broken file: the running version stays, the log names file and key.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("max_concurrent = 6", "max_concurrent = \"six\""),
    )
    .unwrap();
    let broken_at = jiff::Timestamp::now().as_millisecond();
    s.proc.signal(libc::SIGHUP);
    let refused = rig::eventually("the file refused", Duration::from_secs(20), || async {
        let log = s.log_text();
        (lines_with(&log, "reloaded") == 1).then_some(log)
    })
    .await;
    let kept = refused
        .lines()
        .find(|l| l.contains("campaign file refused: its running version stays"))
        .unwrap_or_else(|| panic!("the old version is not said to stay:\n{refused}"));
    assert!(kept.contains("campaign=reload"), "{kept}");
    let key_line = refused
        .lines()
        .find(|l| l.contains("key=dialing.max_concurrent"))
        .unwrap_or_else(|| panic!("no error naming the key:\n{refused}"));
    assert!(
        key_line.contains(&file.display().to_string()),
        "the error does not name the file: {key_line}"
    );
    let c = s.campaign("reload").await;
    assert_eq!(c["control"], "running");
    let dials_then = c["dials"].as_u64().unwrap();
    rig::eventually(
        "dialing goes on after the refused reload",
        Duration::from_secs(30),
        || async {
            (s.campaign("reload").await["dials"].as_u64().unwrap() > dials_then).then_some(())
        },
    )
    .await;

    // A valid change: at most one call at a time, for new dials.
    std::fs::write(&file, progressive(&zone, "1")).unwrap();
    s.proc.signal(libc::SIGHUP);
    let applied = rig::eventually(
        "the second reload applied",
        Duration::from_secs(20),
        || async {
            let log = s.log_text();
            (lines_with(&log, "reloaded") == 2).then_some(log)
        },
    )
    .await;
    let line = applied
        .lines()
        .filter(|l| l.contains("reloaded"))
        .nth(1)
        .unwrap();
    assert!(line.contains("kept=0"), "{line}");
    let applied_at = jiff::Timestamp::now().as_millisecond();
    let dials_then = s.campaign("reload").await["dials"].as_u64().unwrap();
    rig::eventually(
        "three dials after the change",
        Duration::from_secs(50),
        || async {
            (s.campaign("reload").await["dials"].as_u64().unwrap() >= dials_then + 3).then_some(())
        },
    )
    .await;
    s.pause_and_settle("reload").await;

    // The API's counts are the store's, across both reloads.
    let status = s.campaign("reload").await;
    let stored = rig::eventually("the store caught up", Duration::from_secs(20), || async {
        let r = rows(&s.store, s.campaign_id).await;
        (r.unfinished == 0 && r.attempts == status["dials"].as_i64().unwrap()).then_some(r)
    })
    .await;
    assert_eq!(
        (stored.live, stored.abandoned),
        (
            status["live_answers"].as_i64().unwrap(),
            status["abandoned"].as_i64().unwrap()
        ),
        "live answers and abandons: store vs API"
    );
    for a in AGENTS {
        post(
            s.api(),
            &format!("/v1/agents/{a}/logout"),
            Some(&token(a)),
            "",
        )
        .await;
    }
    s.stop();

    let all = attempts(&s.store, s.campaign_id).await;
    eprintln!("{} attempts; {:?}", all.len(), stored.outcomes);
    // No call was dropped: every attempt ended with what the call was, none failed or cut.
    for (dial, end, outcome) in &all {
        let o = outcome.as_deref().unwrap_or("unfinished");
        assert!(
            end.is_some() && !matches!(o, "failed" | "interrupted"),
            "attempt dialed at {dial}: {o}"
        );
    }
    let across = |t: i64| {
        all.iter()
            .filter(|(d, e, _)| *d < t && e.is_some_and(|e| e > t))
            .count()
    };
    assert!(
        across(broken_at) >= 1,
        "no call was in flight at the broken reload"
    );
    // The old limit let several calls go at once; the new one allows one, for new dials.
    let before = all
        .iter()
        .filter(|(d, _, _)| *d < broken_at)
        .map(|(d, _, _)| others_in_flight(&all, *d))
        .max()
        .unwrap_or(0);
    assert!(before >= 1, "max_concurrent 6 never had two calls at once");
    let after: Vec<usize> = all
        .iter()
        .filter(|(d, _, _)| *d > applied_at)
        .map(|(d, _, _)| others_in_flight(&all, *d))
        .collect();
    assert!(after.len() >= 3, "{} dials after the change", after.len());
    assert!(
        after.iter().all(|n| *n == 0),
        "a dial after max_concurrent = 1 applied had others in flight: {after:?}"
    );
}
