//! The running daemon: the switchboard's task and the IO it drives.
//!
//! One task owns the [`Switchboard`] and feeds it ticks, deadlines, what SIP and media report,
//! claimed leads and control requests; after every input it drains the outputs and carries them
//! out: claims and releases on the store, dials through the SIP layer, media legs (prompts, AMD,
//! bridges, recordings), agent legs, and records for the store writer. Per call there is one
//! small task that owns the SIP call handle and forwards its events; per media leg one that
//! forwards the leg's events. Nothing holds a lock across an await: the only locks the loop
//! touches are std mutexes taken and dropped inside plain functions ([`StoreHealth`], the
//! metrics handle, the SIP and media drivers' state), and clippy's `await_holding_lock`, denied
//! with the other warnings, refuses a guard held over an `.await`. The loop awaits no store
//! work: claims, releases, rechecks, a reload's campaign rows and abandon-window counts, and the
//! import of list files ([`super::lists`]) run in tasks that report back as events, so a slow
//! store never delays a live call (only the store writer's bounded queue, when full, holds the
//! loop back: see [`super::writer`]; operators' audit events wait in that queue like records).
//!
//! Here: [`Daemon`] (start, reload, stop) and the campaigns' registration in the store. The
//! loop and its events are in `shell.rs`, the store work it hands to tasks in `store_work.rs`,
//! calls, legs and media in `legs.rs`.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::clock::WallClock;
use super::config::{DaemonConfig, Phone};
use super::control::{Envelope, Reply, Request, SwitchboardHandle};
use super::lists::{self, Lists};
use super::loglimit::LogLimit;
use super::notify::Heartbeat;
use super::writer::{Msg, StoreHealth, Writer};
use crate::campaign::Campaign;
use crate::domain::{AgentId, AmdResult, CallKey, CampaignControl, CampaignId, Outcome};
use crate::leads::scheduler::Scheduler;
use crate::media::driver::{Driver as Media, DriverConfig as MediaConfig, Leg, MediaError};
use crate::media::sdp::{LocalMedia, RemoteMedia};
use crate::media::{self, LegId, Pcm};
use crate::pacing::WindowCounts;
use crate::sip::call::CallEvent;
use crate::sip::driver::{PlaceCall, Sip, SipConfig, Target};
use crate::sip::registrar::{Account, Gone, Registrar, RegistrarConfig, RegistrarEvent};
use crate::store::{AuditEvent, CampaignIds, Store};
use crate::switchboard::{Dial, Input, Lead, Output, Record, Switchboard, TrunkLimits};

mod legs;
mod live;
mod shell;
mod store_work;
mod windows;

use legs::*;
use live::Live;
use shell::*;
use store_work::*;
use windows::pacing_window;

/// How long a stop waits for the far ends to answer the last BYEs and CANCELs (SIP's own
/// give-up time, 32 s, is too long for a stop).
const HANGUP_WAIT: Duration = Duration::from_secs(5);
/// How long a stop waits, after the drain and the hang-ups, for a store that cannot write:
/// then what is not stored is logged and counted, and the process exits. The drain (60 s by
/// default) + 5 s + 15 s stays inside the unit's `TimeoutStopSec=90s`.
pub const STOP_FLUSH_WAIT: Duration = Duration::from_secs(15);
/// While the store cannot write, a claim goes through this often, as a probe: one that
/// succeeds tells the store writes again.
const PAUSED_PROBE: Duration = Duration::from_secs(2);

/// What can stop the daemon from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("SIP: {0}")]
    Sip(#[from] crate::sip::driver::SipError),
    #[error("{0}")]
    Config(String),
}

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The pacing tick.
    pub tick: Duration,
    /// How long live calls may go on after a stop was asked for.
    pub drain_deadline: Duration,
    /// Lease owner name for claimed leads (unique per process).
    pub owner: String,
    /// How long a claimed lead stays leased.
    pub lease: Duration,
    /// Wrap-up longer than this ends by itself.
    pub wrap_limit: Option<Duration>,
    /// Log agents in at start (the demo; the API does it otherwise).
    pub login_all_agents: bool,
    /// Import the campaigns' list files at start and on reload (the demo seeds its own leads).
    pub import_lists: bool,
    /// Live update events kept for the slowest event stream before it is cut off.
    pub live_capacity: usize,
    /// How often a point of the wallboard's shift series is taken (10 s).
    pub series_every: Duration,
    /// The wall time (unix ms) the daemon's clock starts at; `None`: the system's. A test runs
    /// a daemon across a campaign's midnight with it; everything the daemon stores, schedules
    /// and counts follows this clock.
    pub clock_start_ms: Option<i64>,
    /// How often the loop looks whether a campaign's abandon window moved on (a minute).
    pub window_check: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(200),
            drain_deadline: Duration::from_secs(60),
            owner: format!(
                "{}-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "dialer".into()),
                std::process::id()
            ),
            lease: Duration::from_secs(300),
            wrap_limit: Some(Duration::from_secs(300)),
            login_all_agents: false,
            import_lists: true,
            live_capacity: super::live::BUS_CAPACITY,
            series_every: live::POINT_EVERY,
            clock_start_ms: None,
            window_check: windows::WINDOW_CHECK,
        }
    }
}

/// A running daemon.
pub struct Daemon {
    control: SwitchboardHandle,
    reload: mpsc::Sender<Reload>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    heartbeat: Heartbeat,
    sip_addr: SocketAddr,
    store_health: StoreHealth,
    webrtc: Option<crate::webrtc::Gateway>,
}

impl Daemon {
    /// Open the store's rows for the campaigns, bind SIP and media, and start the switchboard.
    pub async fn start(
        config: DaemonConfig,
        campaigns: Vec<Campaign>,
        store: Store,
        options: Options,
    ) -> Result<Daemon, StartError> {
        let clock = match options.clock_start_ms {
            Some(ms) => WallClock::anchored(Instant::now(), ms),
            None => WallClock::start(),
        };
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let now_ms = clock.ms(now);

        let mut trunks = Vec::new();
        for t in &config.trunks {
            trunks.push(
                t.sip_config()
                    .map_err(|e| StartError::Config(e.to_string()))?,
            );
        }
        let agent_ips: Vec<IpAddr> = config
            .agents
            .iter()
            .filter_map(|a| a.sip_uri())
            .filter_map(|u| crate::sip::message::Uri::parse(u).ok())
            .filter_map(|u| u.socket_addr())
            .map(|a| a.ip())
            .collect();
        let registrar = registrar(&config)?;
        let sip = Sip::start_with_registrar(
            SipConfig {
                bind: config.sip.bind,
                public_ip: config.sip.public_ip,
                trunks,
                allowed: agent_ips,
                timers: Default::default(),
            },
            registrar,
        )
        .await?;
        if let Some(mut rx) = sip.take_registrations() {
            let tx = events_tx.clone();
            tokio::spawn(async move {
                while let Some(ev) = rx.recv().await {
                    if tx.send(Event::Registration(ev)).is_err() {
                        return;
                    }
                }
            });
        }
        // The agents' phones in the browser, when any agent has one.
        let browser_agents: Vec<String> = config
            .agents
            .iter()
            .filter(|a| a.phone == Phone::Browser)
            .map(|a| a.id.to_string())
            .collect();
        let webrtc = if browser_agents.is_empty() {
            None
        } else {
            let gateway = crate::webrtc::Gateway::start(crate::webrtc::GatewayConfig {
                bind: config.webrtc.bind,
                candidate: config.webrtc.candidate(),
                agents: browser_agents,
            })
            .await
            .map_err(|e| {
                StartError::Config(format!(
                    "[webrtc] bind: cannot bind {}: {e}",
                    config.webrtc.bind
                ))
            })?;
            Some(gateway)
        };
        let media = Media::start(MediaConfig {
            bind: sip.local_addr().ip(),
            port_min: config.media.rtp_port_min,
            port_max: config.media.rtp_port_max,
            ..MediaConfig::default()
        });

        let mut board = Switchboard::new(
            now,
            config
                .agents
                .iter()
                .map(|a| (a.id.clone(), a.groups.clone())),
            config.trunks.iter().map(|t| {
                (
                    t.name.clone(),
                    TrunkLimits {
                        max_channels: t.max_channels,
                        calls_per_second: t.calls_per_second,
                    },
                )
            }),
            options.wrap_limit,
        );
        let mut schedulers = HashMap::new();
        let mut running = Vec::new();
        let mut registered = Vec::new();
        let mut rules = HashMap::new();
        for c in campaigns {
            let (ids, history) = register(&store, &c, &clock).await?;
            rules.insert(ids.id, interrupted_retry(&c));
            registered.push((c, ids, history));
        }
        // Only this node's open attempts (and those naming no node): another node's are its
        // live calls. What was stored of them as it happened stays (the window counts read
        // above include their live answers); their leads are due per their campaign's rules.
        let node = config.node_id.clone();
        let agent_ids: Vec<String> = config.agents.iter().map(|a| a.id.to_string()).collect();
        let intervals = store.close_open_intervals(&agent_ids, &node).await?;
        if intervals > 0 {
            tracing::warn!(
                intervals,
                "agent state intervals left open by an earlier run closed at its last stored moment"
            );
        }
        let closed = store.close_interrupted(now_ms, &node, &rules).await?;
        if closed > 0 {
            tracing::warn!(
                closed,
                %node,
                "attempts left open by an earlier run of this node closed as interrupted"
            );
        }
        for (c, ids, history) in registered {
            let c = Arc::new(c);
            let scheduler = Scheduler::new(c.clone(), &ids, options.owner.clone(), options.lease);
            schedulers.insert(c.name.clone(), scheduler);
            board.upsert_campaign(c.clone(), CampaignId::new(ids.id), history);
            running.push(c);
        }
        if options.login_all_agents {
            for a in &config.agents {
                let _ = board.agent_login(now, &a.id);
            }
        }

        let (writer_tx, writer_rx) = mpsc::channel(4096);
        let store_health = StoreHealth::default();
        tokio::spawn(
            Writer::new(store.clone(), clock)
                .with_node(node)
                .with_owner(options.owner.clone())
                .with_health(store_health.clone())
                .run(writer_rx),
        );
        let (control_tx, control_rx) = mpsc::channel(256);
        let (stop, stop_rx) = watch::channel(false);
        let (reload, reload_rx) = mpsc::channel(4);
        let heartbeat = Heartbeat::default();
        let agents: HashMap<AgentId, Phone> = config
            .agents
            .iter()
            .map(|a| (a.id.clone(), a.phone.clone()))
            .collect();
        let sip_addr = sip.local_addr();
        let bus = super::live::Bus::new(options.live_capacity);
        let mut shell = Shell {
            live: Live::new(bus.clone()),
            board,
            store,
            sip,
            media,
            clock,
            writer: writer_tx,
            events: events_tx,
            calls: HashMap::new(),
            agent_phones: agents,
            agent_legs: HashMap::new(),
            webrtc: webrtc.clone(),
            page_wait: config.webrtc.connect_wait,
            schedulers,
            lists: Lists::default(),
            reloading: false,
            reloads: VecDeque::new(),
            audits: Vec::new(),
            rows: HashMap::new(),
            legs: HashMap::new(),
            local_check: None,
            local_log: LogLimit::new(Duration::from_secs(10)),
            prompts: HashMap::new(),
            recordings: config.media.recordings_dir.clone(),
            options,
            heartbeat: heartbeat.clone(),
            observer: super::telemetry::Observer::new(),
            store_health: store_health.clone(),
            last_probe: None,
            stop_by: None,
            window_checked: None,
            window_days: HashMap::new(),
        };
        if shell.options.import_lists {
            for c in running {
                shell.load_lists(c);
            }
        }
        // Recordings past `media.recordings_keep` are deleted at start and every hour.
        {
            let store = shell.store.clone();
            let dir = config.media.recordings_dir.clone();
            let keep = config.media.recordings_keep;
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(super::retention::EVERY);
                loop {
                    tokio::select! {
                        _ = every.tick() => {}
                        _ = stop.changed() => return,
                    }
                    let now = jiff::Timestamp::now().as_millisecond();
                    if let Err(e) = super::retention::sweep(&store, &dir, keep, now).await {
                        tracing::warn!(error = %e, "recordings retention sweep failed");
                    }
                }
            });
        }
        let task = tokio::spawn(shell.run(events_rx, control_rx, reload_rx, stop_rx));
        Ok(Daemon {
            control: SwitchboardHandle::with_bus(control_tx, bus),
            reload,
            stop,
            task,
            heartbeat,
            sip_addr,
            store_health,
            webrtc,
        })
    }

    /// Whether the store can write (the writer knows; `/ready` and the watchdog ask).
    pub fn store_health(&self) -> StoreHealth {
        self.store_health.clone()
    }

    /// The control handle (API, simulated agents, terminal).
    pub fn control(&self) -> SwitchboardHandle {
        self.control.clone()
    }

    /// Progress of the main loop (for the systemd watchdog).
    pub fn heartbeat(&self) -> Heartbeat {
        self.heartbeat.clone()
    }

    /// The agents' phones in the browser (`None` when no agent has one): the API's signalling
    /// goes to it.
    pub fn webrtc(&self) -> Option<crate::webrtc::Gateway> {
        self.webrtc.clone()
    }

    /// The SIP address the daemon sends from and listens on.
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    /// Apply new campaign settings (SIGHUP): new dials use them, calls in progress keep theirs;
    /// campaigns no longer listed stop dialing. Returns once applied.
    pub async fn reload(&self, campaigns: Vec<Campaign>) {
        self.reload_by(campaigns, "SIGHUP").await
    }

    /// [`reload`](Self::reload), recorded in the audit trail as asked by `by`.
    pub async fn reload_by(&self, campaigns: Vec<Campaign>, by: &str) {
        let (done, wait) = oneshot::channel();
        let ask = Reload {
            campaigns,
            by: by.to_owned(),
            done,
        };
        if self.reload.send(ask).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Stop dialing, let live calls finish up to the drain deadline, flush the store, return.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The registrar for the agents whose phone registers (`None` when none does), with each
/// one's password read from its secret now: a missing one stops the start, as a trunk's does.
fn registrar(config: &DaemonConfig) -> Result<Option<Registrar>, StartError> {
    let mut accounts = Vec::new();
    for a in &config.agents {
        let (Some(user), Some(password)) = (
            a.sip_user(),
            a.phone_password()
                .map_err(|e| StartError::Config(format!("agent {}'s phone: {e}", a.id)))?,
        ) else {
            continue;
        };
        accounts.push(Account {
            user: user.to_owned(),
            agent: a.id.to_string(),
            password,
        });
    }
    if accounts.is_empty() {
        return Ok(None);
    }
    let seed = rand::Rng::next_u64(&mut rand::rng());
    Ok(Some(Registrar::new(
        RegistrarConfig {
            realm: config.sip.realm.clone(),
            algorithms: config.sip.digest_algorithms.clone(),
            nonce_ttl: config.sip.register_nonce_ttl,
            min_expires: u32::try_from(config.sip.register_min_expires.as_secs()).unwrap_or(60),
            ..RegistrarConfig::default()
        },
        accounts,
        seed,
    )))
}

/// A campaign's store ids and abandon-window counts, or why the store could not give them.
type Registered = Result<(CampaignIds, WindowCounts), StartError>;

/// Make sure the store has the campaign and its lists; read its abandon window's history.
async fn register(store: &Store, c: &Campaign, clock: &WallClock) -> Registered {
    let now = Instant::now();
    let now_ms = clock.ms(now);
    let ids = crate::leads::upsert_campaign(store, c, now_ms).await?;
    let window = pacing_window(c.abandon.window);
    let since = window
        .start_ms(clock.timestamp(now), &c.hours.timezone)
        .unwrap_or(now_ms - 30 * 24 * 3600 * 1000);
    // AMD "machine" results too: the UK budget adds an estimate of people among them.
    let counts: WindowCounts = store
        .abandon_counts(ids.id, since, now_ms + 1)
        .await?
        .into();
    tracing::info!(
        campaign = %c.name,
        id = ids.id,
        live = counts.live_answers,
        abandoned = counts.abandoned,
        amd_machines = counts.amd_machines,
        "campaign registered"
    );
    Ok((ids, counts))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
