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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dialer::simnet::{AgentsConfig, CarrierConfig, SimConfig};
use dialer::simnet::{OutcomeMix, Span};
use dialer::store::{NewLead, Store};
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::rig::{Proc, Setup, get, post};
use crate::world::{SUPER, World, start_world, token};
use crate::{rig, storedb};

const AGENTS: [&str; 3] = ["alice", "bob", "carol"];

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
            zone_key: None,
            zone_source: None,
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

/// `dialer run` on `config` and the store at `url`, with the test's tokens; ready.
async fn run_daemon(setup: &Setup, config: &Path, url: &str, log: &Path) -> Proc {
    let mut env: Vec<(String, String)> = vec![
        ("DIALER_API_TOKEN".into(), SUPER.into()),
        ("DIALER_DATABASE_URL".into(), url.to_owned()),
    ];
    for a in AGENTS {
        env.push((format!("DIALER_AGENT_{}_TOKEN", a.to_uppercase()), token(a)));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut proc = rig::dialer_run(config, &["--drain", "20s"], &env, log);
    rig::wait_ready(&mut proc, setup.api_addr(), log, Duration::from_secs(60)).await;
    proc
}

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
    start_shift_in(name, campaign, leads, db, sim_config(seed)).await
}

/// [`start_shift`] in the simulated world `sim`.
async fn start_shift_in(
    name: &str,
    campaign: impl Fn(&str) -> String,
    leads: usize,
    db: storedb::TestDb,
    sim: SimConfig,
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
    let world = start_world(&setup, sim, &["sale", "call_back"]).await;

    let log = dir.path().join("dialer.log");
    let url = db.cli_url();
    let proc = run_daemon(&setup, &config, &url, &log).await;
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

    /// `/metrics` shows the campaign's abandon window as (live answers, abandoned).
    async fn metrics_window_is(&self, campaign: &str, want: (i64, i64)) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = window_in(&self.metrics().await, campaign);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/metrics window (live, abandoned) {got:?}, the API's {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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

/// An attempt as stored: what `kill_nine_mid_shift` checks.
#[derive(Debug, Clone)]
struct Attempt {
    lead_id: i64,
    dial: i64,
    end: Option<i64>,
    outcome: Option<String>,
    answer: Option<i64>,
    amd: Option<String>,
    connect: Option<i64>,
    agent: Option<String>,
    live: bool,
    abandoned: bool,
}

async fn stored_attempts(store: &Store, campaign_id: i64) -> Vec<Attempt> {
    store
        .conn()
        .query_all_raw(store.stmt(
            "SELECT lead_id, dial_at_ms, end_at_ms, outcome, answer_at_ms, amd_result, \
             connect_at_ms, agent_id, CAST(CASE WHEN live THEN 1 ELSE 0 END AS BIGINT) AS live, \
             CAST(CASE WHEN abandoned THEN 1 ELSE 0 END AS BIGINT) AS abandoned \
             FROM call_attempts WHERE campaign_id = ? ORDER BY lead_id, dial_at_ms",
            vec![campaign_id.into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| Attempt {
            lead_id: r.try_get("", "lead_id").unwrap(),
            dial: r.try_get("", "dial_at_ms").unwrap(),
            end: r.try_get("", "end_at_ms").unwrap(),
            outcome: r.try_get("", "outcome").unwrap(),
            answer: r.try_get("", "answer_at_ms").unwrap(),
            amd: r.try_get("", "amd_result").unwrap(),
            connect: r.try_get("", "connect_at_ms").unwrap(),
            agent: r.try_get("", "agent_id").unwrap(),
            live: r.try_get::<i64>("", "live").unwrap() != 0,
            abandoned: r.try_get::<i64>("", "abandoned").unwrap() != 0,
        })
        .collect()
}

/// People talk with agents for 25–30 s: calls bridged before the kill are still bridged at it.
fn long_talks(seed: u64) -> SimConfig {
    let mut sim = sim_config(seed);
    sim.carrier.talk = Span::secs(25.0, 30.0);
    sim.agents.talk = Span::secs(25.0, 30.0);
    sim
}

/// The abandon window as `/metrics` shows it: (live answers, abandoned).
fn window_in(page: &str, campaign: &str) -> (i64, i64) {
    let m = |name: &str| {
        rig::series(page, &format!("{name}{{campaign=\"{campaign}\"}}")).map(|v| v as i64)
    };
    (
        m("dialer_campaign_window_live_answers").unwrap_or(-1),
        m("dialer_campaign_window_abandoned").unwrap_or(-1),
    )
}

/// kill -9 with calls bridged, then a restart on the same store: every bridged call keeps its
/// answer, AMD result, connect and agent; the abandon window reads the same live answers and
/// abandons; each interrupted conversation's lead is due only after `retry.delay.interrupted`
/// (cold: 5 min) and has its conversation; no lead is dialed twice at once; the restarted daemon
/// dials again by itself once its agents log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_mid_shift() {
    const NAME: &str = "crash";
    let campaign = |z: &str| {
        rig::campaign_toml(
            NAME,
            "progressive",
            z,
            "\n[dialing]\nring_timeout = \"15s\"\ncalls_per_second = 5.0\nmax_concurrent = 6\n",
        )
    };
    let mut s = start_shift_in(NAME, campaign, 150, storedb::sqlite(), long_talks(37)).await;
    s.log_in().await;

    // Calls bridged for a second at least; then no new dial, and wait until every call still
    // up is bridged, so that the window's counts hold still until the kill.
    let talking = |agents: &[Value]| -> Vec<String> {
        agents
            .iter()
            .filter(|v| {
                v["state"] == "on_call" && v["seconds_in_state"].as_f64().unwrap_or(0.0) >= 1.0
            })
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect()
    };
    rig::eventually("two calls bridged", Duration::from_secs(90), || async {
        (talking(&s.agents().await).len() >= 2).then_some(())
    })
    .await;
    let a = post(
        s.api(),
        &format!("/v1/campaigns/{NAME}/pause"),
        Some(SUPER),
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (bridged, before) = rig::eventually(
        "every call in flight bridged",
        Duration::from_secs(30),
        || async {
            let agents = s.agents().await;
            let on_call = agents.iter().filter(|v| v["state"] == "on_call").count();
            let bridged = talking(&agents);
            let c = s.campaign(NAME).await;
            (bridged.len() >= 2
                && bridged.len() == on_call
                && c["calls_in_flight"].as_u64() == Some(on_call as u64))
            .then_some((bridged, c))
        },
    )
    .await;
    // Each bridged agent's lead (the screen pop).
    let mut leads = Vec::new();
    for agent in &bridged {
        let l = get(
            s.api(),
            &format!("/v1/agents/{agent}/lead"),
            Some(&token(agent)),
        )
        .await;
        assert_eq!(l.status, 200, "{}", l.body);
        leads.push((agent.clone(), l.json()["lead"]["lead_id"].as_i64().unwrap()));
    }
    let window_before = (
        before["live_answers"].as_i64().unwrap(),
        before["abandoned"].as_i64().unwrap(),
    );
    assert!(window_before.0 >= 2, "{before}");
    s.metrics_window_is(NAME, window_before).await;

    s.proc.signal(libc::SIGKILL);
    let status = s.proc.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "{status}");
    let killed_at = jiff::Timestamp::now().as_millisecond();

    // Restart on the same store. No agent is logged in yet: nothing is dialed, the window is
    // what the store held.
    s.log = s.dir.path().join("dialer-restart.log");
    s.proc = run_daemon(&s.setup, &s.config, &s.url, &s.log).await;
    let after = s.campaign(NAME).await;
    let window_after = (
        after["live_answers"].as_i64().unwrap(),
        after["abandoned"].as_i64().unwrap(),
    );
    eprintln!(
        "window (live, abandoned): {window_before:?} before the kill, {window_after:?} after the restart; bridged {leads:?}"
    );
    assert_eq!(
        window_after, window_before,
        "the abandon window's (live answers, abandoned): after the restart vs before the kill"
    );
    s.metrics_window_is(NAME, window_before).await;

    // The store kept every step of the bridged calls; they are closed as interrupted.
    let all = stored_attempts(&s.store, s.campaign_id).await;
    assert!(all.iter().all(|a| a.end.is_some()), "{all:#?}");
    let live = all.iter().filter(|a| a.live).count() as i64;
    let abandoned = all.iter().filter(|a| a.live && a.abandoned).count() as i64;
    assert_eq!((live, abandoned), window_before, "the store's window");
    for (agent, lead) in &leads {
        let a = all
            .iter()
            .rfind(|a| a.lead_id == *lead)
            .unwrap_or_else(|| panic!("no attempt for lead {lead}"));
        assert_eq!(a.outcome.as_deref(), Some("interrupted"), "{a:?}");
        assert!(a.answer.is_some(), "answer lost: {a:?}");
        assert_eq!(a.amd.as_deref(), Some("human"), "AMD result lost: {a:?}");
        assert!(a.connect.is_some(), "connect lost: {a:?}");
        assert_eq!(
            a.agent.as_deref(),
            Some(agent.as_str()),
            "agent lost: {a:?}"
        );
        assert!(a.live, "live answer lost: {a:?}");
        let end = a.end.unwrap();
        let l = s.store.lead(*lead).await.unwrap().unwrap().lead;
        assert_eq!(l.status, "active");
        assert_eq!(
            l.next_attempt_at_ms,
            Some(end + 5 * 60 * 1000),
            "lead {lead}: due again after retry.delay.interrupted"
        );
        assert_eq!(l.last_conversation_at_ms, Some(end), "lead {lead}");
        assert_eq!(l.lease_owner, None);
    }

    // Each bridged agent's talk up to the crash is stored: its on_call interval, open at the
    // kill, was closed at the last moment the store knew of (not at the restart).
    let restarted_at = all.iter().filter_map(|a| a.end).max().unwrap();
    for (agent, lead) in &leads {
        let a = all.iter().rfind(|a| a.lead_id == *lead).unwrap();
        let talk = s
            .store
            .conn()
            .query_all_raw(s.store.stmt(
                "SELECT started_at_ms, ended_at_ms, attempt_id FROM agent_state_intervals \
                 WHERE agent_id = ? AND state = 'on_call' AND started_at_ms = ?",
                vec![agent.as_str().into(), a.connect.unwrap().into()],
            ))
            .await
            .unwrap();
        assert_eq!(
            talk.len(),
            1,
            "{agent}: no on_call interval from the connect"
        );
        let end: Option<i64> = talk[0].try_get("", "ended_at_ms").unwrap();
        let attempt: Option<i64> = talk[0].try_get("", "attempt_id").unwrap();
        let end = end.unwrap_or_else(|| panic!("{agent}: the on_call interval is still open"));
        assert!(
            a.connect.unwrap() <= end && end <= killed_at && end < restarted_at,
            "{agent}: on_call {:?}..{end}, killed at {killed_at}, restarted at {restarted_at}",
            a.connect
        );
        assert!(attempt.is_some(), "{agent}: the interval names no attempt");
    }

    // The agents' phones drop the dead daemon's legs (no RTP for 30 s); then they log in again
    // and the daemon dials by itself.
    rig::eventually(
        "the phones dropped the dead daemon's legs",
        Duration::from_secs(60),
        || async {
            let st = s.world.phones.stats();
            (st.legs_down >= st.legs_up).then_some(())
        },
    )
    .await;
    s.log_in().await;
    rig::eventually(
        "the restarted daemon dials and a person answers",
        Duration::from_secs(60),
        || async {
            let c = s.campaign(NAME).await;
            (c["dials"].as_u64().unwrap_or(0) >= 3
                && c["live_answers"].as_i64().unwrap_or(0) > window_before.0)
                .then_some(())
        },
    )
    .await;
    s.stop();

    // No lead dialed twice at once; none of the interrupted conversations' leads again; every
    // INVITE the carrier took is one stored attempt.
    let all = stored_attempts(&s.store, s.campaign_id).await;
    assert!(all.iter().all(|a| a.end.is_some()), "{all:#?}");
    for w in all.windows(2) {
        if w[0].lead_id == w[1].lead_id {
            assert!(
                w[1].dial >= w[0].end.unwrap(),
                "lead {} dialed while its attempt was up: {w:?}",
                w[0].lead_id
            );
        }
    }
    for (_, lead) in &leads {
        let again: Vec<&Attempt> = all
            .iter()
            .filter(|a| a.lead_id == *lead && a.dial >= killed_at)
            .collect();
        assert!(again.is_empty(), "lead {lead} dialed again: {again:?}");
    }
    assert_eq!(s.world.carrier.stats().calls as usize, all.len());
    // Every agent interval is closed, and an agent's intervals never overlap.
    let intervals = s
        .store
        .conn()
        .query_all_raw(s.store.stmt(
            "SELECT agent_id, started_at_ms, ended_at_ms FROM agent_state_intervals \
             ORDER BY agent_id, started_at_ms",
            vec![],
        ))
        .await
        .unwrap();
    let mut last: Option<(String, i64)> = None;
    for r in &intervals {
        let agent: String = r.try_get("", "agent_id").unwrap();
        let start: i64 = r.try_get("", "started_at_ms").unwrap();
        let end: Option<i64> = r.try_get("", "ended_at_ms").unwrap();
        let end = end.unwrap_or_else(|| panic!("{agent}: an interval from {start} left open"));
        if let Some((a, prev_end)) = &last
            && *a == agent
        {
            assert!(start >= *prev_end, "{agent}: intervals overlap at {start}");
        }
        last = Some((agent, end));
    }
}
