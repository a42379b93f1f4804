//! `dialer demo`: the daemon with SQLite and the example campaigns, against the built-in
//! simulated carrier and agents, speaking real SIP and RTP on 127.0.0.1.
//!
//! It loads `dialer.toml` and its campaigns as they are, then points the trunk at the simulated
//! carrier and the agents' `sip_uri`s at simulated phones (all on ports the OS picks), gives each
//! enabled campaign a fresh synthetic lead list placed in a zone where it is daytime now (so the
//! demo dials at any hour inside the legal 08:00–21:00), logs every agent in, and runs for
//! `--duration`. The store is `state/demo/dialer.db` (replaced on each run), so `dialer report
//! --db sqlite://state/demo/dialer.db …` works on it afterwards.
//!
//! It serves the HTTP API, the agent desktop and the wallboard as `dialer run` does, on `[api]
//! bind` or `--api`; `--supervisor ID` creates that supervisor in the fresh store with a password
//! read from standard input (as `dialer user set-password`), so the wallboard can be logged in to.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::SeedableRng;

use super::Global;
use crate::agents::State;
use crate::daemon::api::{Api, Limits, PeopleConfig, Phase, Readiness, Tokens};
use crate::daemon::config;
use crate::daemon::control::{Request, SwitchboardHandle};
use crate::daemon::run::{Daemon, Options};
use crate::daemon::telemetry;
use crate::domain::{AgentId, CallKey, CampaignControl};
use crate::media::driver::{Driver as Media, DriverConfig};
use crate::simnet::{AgentDesk, AgentPhones, Carrier, DeskError, SimConfig, Sounds};
use crate::store::{NewLead, Role, Store};

/// How long the demo waits, once its time is up and dialing has paused, for the calls not yet
/// with an agent to end: the longest ring timeout of the demo's campaigns (30 s) and a little.
const WIND_DOWN: Duration = Duration::from_secs(35);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to dial; then dialing pauses, calls not yet with an agent may end (at most
    /// 35 s), and calls with agents are given 5 s.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Agents at their desks: the config's agents, then more simulated ones (`sim-04` …) with
    /// the config's agents' groups in turn, so predictive campaigns have a team to pace for.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub agents: u32,
    /// Synthetic leads per campaign.
    #[arg(long, default_value_t = 600)]
    pub leads: usize,
    /// Seed of the simulated carrier and agents.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The simulation's settings (TOML; see docs/reference/files.md): outcome mix, ring, talk and
    /// wrap times.
    #[arg(long)]
    pub sim: Option<PathBuf>,
    /// Where the demo's store goes (the file is replaced).
    #[arg(long, default_value = "state/demo")]
    pub state: PathBuf,
    /// Print the final summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where the HTTP API, the agent desktop and the wallboard listen (default: `[api] bind` of
    /// the config); port 0 takes a free one.
    #[arg(long, value_name = "ADDR")]
    pub api: Option<SocketAddr>,
    /// Create this supervisor in the demo's store, with a password read from standard input (on
    /// a terminal asked twice), to log in to the wallboard.
    #[arg(long, value_name = "ID")]
    pub supervisor: Option<String>,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    if std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: set before any thread is started.
        unsafe { std::env::set_var("RUST_LOG", "warn") };
    }
    crate::daemon::logging::init();
    // Asked before anything starts, so a prompt is not mixed with the demo's output.
    let supervisor = match &a.supervisor {
        Some(id) => {
            super::user::check_id(id)?;
            Some((id.clone(), super::user::new_password_hash()?))
        }
        None => None,
    };
    // Before anything records: counts made earlier would be lost.
    let metrics = telemetry::install()?;
    super::runtime()?.block_on(demo(g, a, supervisor, metrics))
}

async fn demo(
    g: &Global,
    a: Args,
    supervisor: Option<(String, String)>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
) -> anyhow::Result<ExitCode> {
    let mut loaded = config::load_all(&g.config).map_err(|problems| {
        anyhow::anyhow!(
            "{}: the configuration has problems (run from the repository root, or pass --config):\n{problems}",
            g.config.display()
        )
    })?;
    let sim = match &a.sim {
        Some(p) => SimConfig::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )?,
        None => SimConfig {
            seed: a.seed,
            ..SimConfig::default()
        },
    };
    let api_bind = a.api.unwrap_or(loaded.config.api.bind);
    let listener = tokio::net::TcpListener::bind(api_bind)
        .await
        .with_context(|| {
            format!(
                "cannot listen for the API on {api_bind} ({}); pass --api with a free address \
                 (--api 127.0.0.1:0 takes any free port)",
                if a.api.is_some() {
                    "--api"
                } else {
                    "[api] bind of the config, or --api"
                }
            )
        })?;
    let api_addr = listener.local_addr().context("the API's address")?;
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let any_port = SocketAddr::new(loopback, 0);

    // The simulated world: carrier and agent phones, with their own media driver.
    let sim_media = Media::start(DriverConfig {
        seed: sim.seed ^ 0x51,
        ..DriverConfig::default()
    });
    let sounds = Sounds::builtin()?;
    let carrier = Carrier::start(
        any_port,
        vec![loopback],
        sim.carrier.clone(),
        sim.seed,
        sim_media.clone(),
        sounds.clone(),
    )
    .await?;
    staff(&mut loaded.config, a.agents as usize)?;
    let desk = Arc::new(Desk::new(&loaded.config, &loaded.campaigns));
    let phones_wanted: Vec<(String, SocketAddr)> = loaded
        .config
        .agents
        .iter()
        .map(|a| (a.id.to_string(), any_port))
        .collect();
    let phones = AgentPhones::start(
        &phones_wanted,
        vec![loopback],
        sim.agents.clone(),
        sim.seed,
        sim_media.clone(),
        sounds,
        desk.clone(),
    )
    .await?;

    // The daemon's config, pointed at them.
    let cfg = &mut loaded.config;
    cfg.sip.bind = any_port;
    cfg.sip.public_ip = None;
    for t in &mut cfg.trunks {
        t.host = loopback.to_string();
        t.port = carrier.local().port();
        t.username = None;
        t.password_env = None;
    }
    for agent in &mut cfg.agents {
        if let Some(p) = phones
            .phones()
            .iter()
            .find(|p| agent.id == p.agent.as_str())
        {
            agent.phone = config::Phone::Uri(p.sip_uri());
        }
    }
    cfg.media.rtp_port_min = 0;
    cfg.media.rtp_port_max = 0;
    cfg.state_dir = a.state.clone();
    cfg.media.recordings_dir = a.state.join("recordings");
    let zone = daytime_zone()?;
    let mut campaigns: Vec<_> = loaded.campaigns.into_iter().filter(|c| c.enabled).collect();
    for c in &mut campaigns {
        c.hours.timezone = jiff::tz::TimeZone::get(&zone)?;
        c.hours.timezone_name = zone.clone();
        c.hours.days = WEEK.to_vec();
        c.hours.start = jiff::civil::time(8, 0, 0, 0);
        c.hours.end = jiff::civil::time(21, 0, 0, 0);
    }

    // A fresh store with synthetic leads.
    std::fs::create_dir_all(&a.state)
        .with_context(|| format!("cannot create {}", a.state.display()))?;
    let db = a.state.join("dialer.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let store = Store::open(&url).await?;
    for c in &campaigns {
        seed_leads(&store, c, a.leads, &zone).await?;
    }
    if let Some((id, hash)) = &supervisor {
        let now = jiff::Timestamp::now().as_millisecond();
        store
            .set_user(id, Some(Role::Supervisor), hash, now)
            .await
            .with_context(|| format!("cannot create the supervisor {id}"))?;
    }

    let options = Options {
        login_all_agents: true,
        // The example campaigns' lists are real-looking leads in real zones: the demo dials
        // only the fictional leads it seeds.
        import_lists: false,
        drain_deadline: Duration::from_secs(5),
        ..Options::default()
    };
    let names: Vec<String> = campaigns.iter().map(|c| c.name.clone()).collect();
    let previews: Vec<String> = campaigns
        .iter()
        .filter(|c| c.mode == crate::campaign::Mode::Preview)
        .map(|c| c.name.clone())
        .collect();
    // Tokens the config names but the environment does not set are usual here (people log in
    // with passwords): the demo does not warn of each, as `dialer run` does.
    let (tokens, _unset) = Tokens::from_config(&loaded.config).context("API tokens")?;
    let limits = Limits::from(&loaded.config.api);
    let rosters = telemetry::rosters(&loaded.config, &campaigns);
    let people = PeopleConfig::from_config(&loaded.config, store.clone());
    let desktop = loaded.config.desktop.clone();
    let daemon = Daemon::start(loaded.config, campaigns, store.clone(), options)
        .await
        .context("cannot start the daemon")?;
    let control = daemon.control();
    let _ = desk.control.set(control.clone());

    // The API, the agent desktop and the wallboard, as `dialer run` serves them.
    let api = Api::new(control.clone(), tokens, Readiness::new(), Some(metrics));
    api.set_rosters(rosters);
    api.set_webrtc(daemon.webrtc());
    api.set_people(people);
    api.set_desktop(desktop);
    api.readiness().watch_store(daemon.store_health());
    let served = api.spawn(listener, limits);
    api.readiness().set(Phase::Running);
    let url = api_url(api_addr);
    eprintln!(
        "{}",
        login_line(&url, supervisor.as_ref().map(|(id, _)| id))
    );
    if !a.json {
        eprintln!(
            "dialer demo: {} campaigns ({}), {} agents, carrier at {}, store {}, for {}",
            names.len(),
            names.join(", "),
            phones.phones().len(),
            carrier.local(),
            db.display(),
            humantime::format_duration(a.duration)
        );
    }

    let started = Instant::now();
    let tty = std::io::stderr().is_terminal() && !a.json;
    let mut on_call: HashMap<AgentId, Option<CallKey>> = HashMap::new();
    // Agents previewing a lead dial it after a short look (drawn from the simulation's seed).
    let mut look_rng = rand_chacha::ChaCha8Rng::seed_from_u64(sim.seed ^ 0x1007);
    let mut dial_at: HashMap<AgentId, Instant> = HashMap::new();
    let mut last_line = Instant::now() - Duration::from_secs(60);
    // When the time is up the campaigns pause (no new dials) and the demo goes on until no call
    // is left that has not reached an agent (ringing, being analysed, hearing the recording
    // announcement, waiting): stopping the daemon under them would hang up on people who
    // answered, which the law counts as abandoned. Calls with agents are then cut by the stop.
    let mut winding_down: Option<Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if winding_down.is_none() && started.elapsed() >= a.duration {
            if tty {
                eprintln!();
            }
            if !a.json {
                eprintln!(
                    "dialer demo: time is up; no new dials, waiting for the calls not yet with an \
                     agent to end (at most {} s)",
                    WIND_DOWN.as_secs()
                );
            }
            for c in control.campaigns().await.unwrap_or_default() {
                let _ = control
                    .ask(Request::Campaign {
                        name: c.name,
                        control: CampaignControl::Paused,
                        by: "demo".into(),
                    })
                    .await;
            }
            winding_down = Some(Instant::now());
        }
        let agents = control.agents().await.unwrap_or_default();
        if let Some(since) = winding_down {
            let in_flight: usize = control
                .campaigns()
                .await
                .unwrap_or_default()
                .iter()
                .map(|c| c.calls_in_flight)
                .sum();
            let with_agents = agents.iter().filter(|v| v.call.is_some()).count();
            if in_flight <= with_agents || since.elapsed() >= WIND_DOWN {
                break;
            }
        }
        for v in &agents {
            // A new customer on an agent's line pops their screen: they start talking.
            let prev = on_call.insert(v.id.clone(), v.call.filter(|_| v.state == State::OnCall));
            if v.state == State::OnCall && prev.flatten() != v.call {
                phones.screen_pop(&v.id);
            }
            if v.state == State::Preview && v.call.is_none() {
                let now = Instant::now();
                let at = *dial_at
                    .entry(v.id.clone())
                    .or_insert_with(|| now + sim.agents.preview_look.draw(&mut look_rng));
                if now >= at {
                    dial_at.remove(&v.id);
                    // Refused when the preview changed meanwhile (or no line is free): the next
                    // look decides again.
                    let _ = control.ask(Request::Dial(v.id.clone())).await;
                }
            } else {
                dial_at.remove(&v.id);
            }
        }
        let every = if tty {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(10)
        };
        if !a.json && last_line.elapsed() >= every {
            last_line = Instant::now();
            let campaigns = control.campaigns().await.unwrap_or_default();
            let line = progress_line(started.elapsed(), &agents, &campaigns);
            if tty {
                eprint!("\r\x1b[2K{line}");
            } else {
                eprintln!("{line}");
            }
        }
    }
    if !a.json {
        eprintln!("dialer demo: stopping (calls with agents get 5 s to end)");
    }
    api.readiness().set(Phase::Stopping);
    daemon.stop().await;
    served.stop().await;
    let mut summary = summarize(&store, &carrier, &phones, &previews).await?;
    summary.api = url;
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary, &db);
    }
    Ok(ExitCode::SUCCESS)
}

/// The API's base URL (`http://ADDR`; an unspecified address is reached on loopback).
fn api_url(addr: SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    format!("http://{addr}")
}

/// The line that says where the wallboard is and how to log in to it.
fn login_line(url: &str, supervisor: Option<&String>) -> String {
    match supervisor {
        Some(id) => format!(
            "dialer demo: the wallboard is at {url}/wallboard (log in as {id} with the password given)"
        ),
        None => format!(
            "dialer demo: the wallboard is at {url}/wallboard; to log in, give a supervisor and a \
             password: echo 'a long passphrase' | dialer demo --supervisor sue"
        ),
    }
}

/// Make the config's agent roster `n` long: the first `n` configured agents, then simulated
/// ones taking the configured agents' groups in turn.
fn staff(cfg: &mut config::DaemonConfig, n: usize) -> anyhow::Result<()> {
    if cfg.agents.is_empty() {
        anyhow::bail!("the configuration has no [[agents]]: the demo takes their groups");
    }
    cfg.agents.truncate(n);
    let templates = cfg.agents.clone();
    for i in cfg.agents.len()..n {
        let t = &templates[i % templates.len()];
        cfg.agents.push(config::Agent {
            id: AgentId::from(format!("sim-{:02}", i + 1)),
            name: format!("Simulated agent {}", i + 1),
            phone: config::Phone::Uri(String::new()),
            groups: t.groups.clone(),
            token_env: None,
        });
    }
    Ok(())
}

const WEEK: [jiff::civil::Weekday; 7] = [
    jiff::civil::Weekday::Monday,
    jiff::civil::Weekday::Tuesday,
    jiff::civil::Weekday::Wednesday,
    jiff::civil::Weekday::Thursday,
    jiff::civil::Weekday::Friday,
    jiff::civil::Weekday::Saturday,
    jiff::civil::Weekday::Sunday,
];

/// An `Etc/GMT±N` zone where it is now between 10:00 and 19:59.
pub(crate) fn daytime_zone() -> anyhow::Result<String> {
    let now = jiff::Timestamp::now();
    for offset in -12i32..=12 {
        // POSIX sign: Etc/GMT-5 is UTC+5.
        let name = match offset {
            0 => "Etc/GMT".to_string(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        };
        if let Ok(tz) = jiff::tz::TimeZone::get(&name)
            && (10..20).contains(&now.to_zoned_datetime(tz).hour())
        {
            return Ok(name);
        }
    }
    anyhow::bail!("no time zone where it is daytime now (is the tz database installed?)")
}

/// `n` fictional US numbers (555-0100 to 555-0199 in many area codes) for a campaign.
async fn seed_leads(
    store: &Store,
    c: &crate::campaign::Campaign,
    n: usize,
    zone: &str,
) -> anyhow::Result<()> {
    const AREAS: [u16; 20] = [
        201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224,
        225, 228,
    ];
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let ids = crate::leads::upsert_campaign(store, c, now_ms).await?;
    let Some(list) = c.lists.first().and_then(|l| ids.list(&l.name)) else {
        return Ok(());
    };
    let leads: Vec<NewLead> = (0..n.min(AREAS.len() * 100))
        .map(|i| NewLead {
            list_id: list,
            phone: format!("+1{}5550{:03}", AREAS[i / 100], 100 + i % 100),
            timezone: Some(zone.to_owned()),
            // Fictional 555-01xx numbers: the demo's zone, no state's rules.
            zone_key: Some(format!("|{zone}")),
            zone_source: Some("column".to_owned()),
            attributes: format!(r#"{{"name":"Demo lead {i}"}}"#),
            priority: 0,
        })
        .collect();
    store.insert_leads(ids.id, &leads, now_ms).await?;
    Ok(())
}

fn progress_line(
    elapsed: Duration,
    agents: &[crate::agents::AgentStatus],
    campaigns: &[crate::switchboard::CampaignStatus],
) -> String {
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for a in agents {
        *by_state.entry(a.state.as_str()).or_default() += 1;
    }
    let states: Vec<String> = by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let dials: u64 = campaigns.iter().map(|c| c.dials).sum();
    let live: u64 = campaigns.iter().map(|c| c.live_answers).sum();
    let abandoned: u64 = campaigns.iter().map(|c| c.abandoned).sum();
    let in_flight: usize = campaigns.iter().map(|c| c.calls_in_flight).sum();
    format!(
        "{:>4}s  agents: {}  |  dials {dials}  in flight {in_flight}  live answers {live}  abandoned {abandoned}",
        elapsed.as_secs(),
        states.join(", ")
    )
}

/// The demo's agents at their desks: the daemon's control handle.
struct Desk {
    control: OnceLock<SwitchboardHandle>,
    /// Each agent's disposition codes (of the campaigns their groups serve).
    catalogue: HashMap<AgentId, Vec<String>>,
    /// Each campaign's codes.
    by_campaign: HashMap<String, Vec<String>>,
}

impl Desk {
    fn new(cfg: &config::DaemonConfig, campaigns: &[crate::campaign::Campaign]) -> Self {
        let by_campaign: HashMap<String, Vec<String>> = campaigns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.dispositions.iter().map(|d| d.code.clone()).collect(),
                )
            })
            .collect();
        let catalogue = cfg
            .agents
            .iter()
            .map(|a| {
                let mut codes: Vec<String> = campaigns
                    .iter()
                    .filter(|c| c.agent_groups.iter().any(|g| a.groups.contains(g)))
                    .flat_map(|c| c.dispositions.iter().map(|d| d.code.clone()))
                    .collect();
                codes.sort();
                codes.dedup();
                (a.id.clone(), codes)
            })
            .collect();
        Self {
            control: OnceLock::new(),
            catalogue,
            by_campaign,
        }
    }

    fn control(&self) -> Result<&SwitchboardHandle, DeskError> {
        self.control
            .get()
            .ok_or_else(|| DeskError("the daemon is not running yet".into()))
    }
}

impl AgentDesk for Desk {
    fn catalogue(&self, agent: &str) -> Vec<String> {
        self.catalogue.get(agent).cloned().unwrap_or_default()
    }

    async fn hangup(&self, agent: &str) -> Result<(), DeskError> {
        self.control()?
            .ask(Request::Hangup(AgentId::from(agent)))
            .await
            .map(|_| ())
            .map_err(|e| DeskError(e.to_string()))
    }

    async fn dispose(&self, agent: &str, code: &str) -> Result<(), DeskError> {
        let control = self.control()?;
        // The code must be one of the call's campaign's; the brain picked from all of the
        // agent's campaigns.
        let code = match control.ask(Request::Lead(AgentId::from(agent))).await {
            Ok(crate::daemon::control::Reply::Lead(Some((campaign, _)))) => {
                let codes = self.by_campaign.get(&campaign);
                match codes {
                    Some(codes) if !codes.iter().any(|c| c == code) => {
                        codes.first().cloned().unwrap_or_else(|| code.to_owned())
                    }
                    _ => code.to_owned(),
                }
            }
            _ => code.to_owned(),
        };
        control
            .ask(Request::Disposition {
                agent: AgentId::from(agent),
                code,
                notes: Some("simulated agent".into()),
                callback_after: Some(Duration::from_secs(3600)),
            })
            .await
            .map(|_| ())
            .map_err(|e| DeskError(e.to_string()))
    }
}

/// What the demo's store says happened, next to what the simulated carrier did.
#[derive(Debug, serde::Serialize)]
struct Summary {
    /// The API's base URL (the wallboard is at `/wallboard`).
    api: String,
    attempts: u64,
    unfinished_attempts: u64,
    /// Attempts whose timestamps are out of order (dial ≤ ring ≤ answer ≤ AMD ≤ connect ≤ end).
    inconsistent_timestamps: u64,
    by_outcome: BTreeMap<String, u64>,
    /// Attempts by campaign name.
    by_campaign: BTreeMap<String, u64>,
    /// Attempts of preview campaigns with no agent stored (each was dialed by an agent: 0).
    preview_attempts_without_agent: u64,
    live_answers: u64,
    abandoned: u64,
    carrier: crate::simnet::CarrierStats,
    agents_sim: crate::simnet::AgentStats,
    agents: Vec<AgentSummary>,
}

#[derive(Debug, serde::Serialize)]
struct AgentSummary {
    agent: String,
    calls: u64,
    ready_s: f64,
    preview_s: f64,
    on_call_s: f64,
    wrap_up_s: f64,
    paused_s: f64,
    /// (preview + on call + wrap-up) / (ready + preview + on call + wrap-up).
    occupancy: f64,
}

async fn summarize(
    store: &Store,
    carrier: &Carrier,
    phones: &AgentPhones,
    preview_campaigns: &[String],
) -> anyhow::Result<Summary> {
    let t = store.shift_totals(preview_campaigns).await?;
    let mut agents: BTreeMap<String, AgentSummary> = BTreeMap::new();
    for r in t.agent_states {
        let s = r.ms as f64 / 1000.0;
        let e = agents.entry(r.agent_id.clone()).or_insert(AgentSummary {
            agent: r.agent_id,
            calls: 0,
            ready_s: 0.0,
            preview_s: 0.0,
            on_call_s: 0.0,
            wrap_up_s: 0.0,
            paused_s: 0.0,
            occupancy: 0.0,
        });
        match r.state.as_str() {
            "ready" => e.ready_s += s,
            "preview" => e.preview_s += s,
            "on_call" => {
                e.on_call_s += s;
                e.calls += r.count;
            }
            "wrap_up" => e.wrap_up_s += s,
            "paused" => e.paused_s += s,
            _ => {}
        }
    }
    let agents = agents
        .into_values()
        .map(|mut a| {
            let work = a.preview_s + a.on_call_s + a.wrap_up_s;
            let avail = work + a.ready_s;
            a.occupancy = if avail > 0.0 { work / avail } else { 0.0 };
            a
        })
        .collect();
    Ok(Summary {
        api: String::new(),
        attempts: t.attempts,
        unfinished_attempts: t.unfinished,
        inconsistent_timestamps: t.inconsistent,
        by_outcome: t.by_outcome,
        by_campaign: t.by_campaign,
        preview_attempts_without_agent: t.without_agent,
        live_answers: t.live,
        abandoned: t.abandoned,
        carrier: carrier.stats(),
        agents_sim: phones.stats(),
        agents,
    })
}

fn print_summary(s: &Summary, db: &std::path::Path) {
    println!();
    let campaigns: Vec<String> = s
        .by_campaign
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    println!(
        "Attempts by campaign: {}",
        if campaigns.is_empty() {
            "none".to_string()
        } else {
            campaigns.join(", ")
        }
    );
    println!("Attempts by outcome ({} in all)", s.attempts);
    for (outcome, n) in &s.by_outcome {
        let share = if s.attempts > 0 {
            *n as f64 * 100.0 / s.attempts as f64
        } else {
            0.0
        };
        println!("  {outcome:<16} {n:>6}  {share:>5.1} %");
    }
    println!(
        "  live answers {}, abandoned {} ({:.1} % of live answers)",
        s.live_answers,
        s.abandoned,
        if s.live_answers > 0 {
            s.abandoned as f64 * 100.0 / s.live_answers as f64
        } else {
            0.0
        }
    );
    println!();
    println!(
        "The simulated carrier's draws ({} INVITEs)",
        s.carrier.calls
    );
    for (kind, n) in &s.carrier.planned {
        println!("  {kind:<16} {n:>6}");
    }
    println!();
    println!(
        "{:<10} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "agent", "calls", "ready s", "preview s", "talk s", "wrap s", "occupancy"
    );
    for a in &s.agents {
        println!(
            "{:<10} {:>6} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.1} %",
            a.agent,
            a.calls,
            a.ready_s,
            a.preview_s,
            a.on_call_s,
            a.wrap_up_s,
            a.occupancy * 100.0
        );
    }
    let (work, avail) = s.agents.iter().fold((0.0, 0.0), |(w, v), a| {
        let work = a.preview_s + a.on_call_s + a.wrap_up_s;
        (w + work, v + work + a.ready_s)
    });
    let shed = s.by_outcome.get("shed").copied().unwrap_or(0);
    println!(
        "{:<10} {:>56.1} %   shed {:.1} % of dials ({shed})",
        "all",
        if avail > 0.0 {
            work * 100.0 / avail
        } else {
            0.0
        },
        if s.attempts > 0 {
            shed as f64 * 100.0 / s.attempts as f64
        } else {
            0.0
        }
    );
    println!();
    println!(
        "Store check: {} attempts, {} unfinished, {} with timestamps out of order. Store: {}",
        s.attempts,
        s.unfinished_attempts,
        s.inconsistent_timestamps,
        db.display()
    );
}
