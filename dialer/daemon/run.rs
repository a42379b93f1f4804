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

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::clock::WallClock;
use super::config::DaemonConfig;
use super::control::{Control, Envelope, Reply, Request};
use super::lists::{self, Lists};
use super::loglimit::LogLimit;
use super::notify::Heartbeat;
use super::switchboard::{
    CallKey, Control as CampaignControl, Dial, Input, Lead, Output, Record, Switchboard,
    TrunkLimits,
};
use super::writer::{Msg, StoreHealth, Writer};
use crate::campaign::Campaign;
use crate::flow::AmdResult;
use crate::leads::scheduler::Scheduler;
use crate::media::driver::{Driver as Media, DriverConfig as MediaConfig, Leg, MediaError};
use crate::media::sdp::{LocalMedia, RemoteMedia};
use crate::media::{self, LegId, Pcm};
use crate::pacing::WindowCounts;
use crate::sip::call::CallEvent;
use crate::sip::driver::{PlaceCall, Sip, SipConfig, Target};
use crate::store::{AuditEvent, CampaignIds, Store};

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
        }
    }
}

/// A reload asked of the running daemon: the campaigns to run, who asked (for the audit
/// trail), and where to say it is applied.
#[derive(Debug)]
struct Reload {
    campaigns: Vec<Campaign>,
    by: String,
    done: oneshot::Sender<()>,
}

/// A running daemon.
pub struct Daemon {
    control: Control,
    reload: mpsc::Sender<Reload>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    heartbeat: Heartbeat,
    sip_addr: SocketAddr,
    store_health: StoreHealth,
}

impl Daemon {
    /// Open the store's rows for the campaigns, bind SIP and media, and start the switchboard.
    pub async fn start(
        config: DaemonConfig,
        campaigns: Vec<Campaign>,
        store: Store,
        options: Options,
    ) -> Result<Daemon, StartError> {
        let clock = WallClock::start();
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
            .filter_map(|a| crate::sip::message::Uri::parse(&a.sip_uri).ok())
            .filter_map(|u| u.socket_addr())
            .map(|a| a.ip())
            .collect();
        let sip = Sip::start(SipConfig {
            bind: config.sip.bind,
            public_ip: config.sip.public_ip,
            trunks,
            allowed: agent_ips,
            timers: Default::default(),
        })
        .await?;
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
        let agent_ids: Vec<String> = config.agents.iter().map(|a| a.id.clone()).collect();
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
            board.upsert_campaign(c.clone(), ids.id, history);
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
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let (reload, reload_rx) = mpsc::channel(4);
        let heartbeat = Heartbeat::default();
        let agents: HashMap<String, String> = config
            .agents
            .iter()
            .map(|a| (a.id.clone(), a.sip_uri.clone()))
            .collect();
        let sip_addr = sip.local_addr();
        let mut shell = Shell {
            board,
            store,
            sip,
            media,
            clock,
            writer: writer_tx,
            events: events_tx,
            calls: HashMap::new(),
            agent_uris: agents,
            agent_legs: HashMap::new(),
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
        };
        if shell.options.import_lists {
            for c in running {
                shell.load_lists(c);
            }
        }
        let task = tokio::spawn(shell.run(events_rx, control_rx, reload_rx, stop_rx));
        Ok(Daemon {
            control: Control::new(control_tx),
            reload,
            stop,
            task,
            heartbeat,
            sip_addr,
            store_health,
        })
    }

    /// Whether the store can write (the writer knows; `/ready` and the watchdog ask).
    pub fn store_health(&self) -> StoreHealth {
        self.store_health.clone()
    }

    /// The control handle (API, simulated agents, terminal).
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Progress of the main loop (for the systemd watchdog).
    pub fn heartbeat(&self) -> Heartbeat {
        self.heartbeat.clone()
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

/// A campaign's store ids and abandon-window counts, or why the store could not give them.
type Registered = Result<(CampaignIds, WindowCounts), StartError>;

/// Make sure the store has the campaign and its lists; read its abandon window's history.
async fn register(store: &Store, c: &Campaign, clock: &WallClock) -> Registered {
    let now = Instant::now();
    let now_ms = clock.ms(now);
    let ids = crate::leads::upsert_campaign(store, c, now_ms).await?;
    let window = match c.abandon.window {
        crate::campaign::AbandonWindow::Rolling30Days => crate::pacing::Window::Rolling30Days,
        crate::campaign::AbandonWindow::CalendarDay => crate::pacing::Window::CalendarDay,
    };
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

/// How often a paused dialer tries to open a media leg again.
const LOCAL_CHECK_EVERY: Duration = Duration::from_secs(1);

/// A campaign's retry rules for the attempts a crash left open.
fn interrupted_retry(c: &Campaign) -> crate::store::InterruptedRetry {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let d = &c.retry.delay;
    crate::store::InterruptedRetry {
        max_attempts: i32::try_from(c.retry.max_attempts).unwrap_or(i32::MAX),
        interrupted_ms: ms(d.interrupted),
        abandoned_ms: ms(d.abandoned),
        machine_ms: ms(d.machine),
    }
}

/// What the per-call and per-leg tasks report.
#[derive(Debug)]
enum Event {
    Sip {
        call: CallKey,
        event: CallEvent,
    },
    /// The dial could not be placed (no store row, no trunk …).
    DialFailed {
        call: CallKey,
        reason: String,
    },
    Media {
        call: CallKey,
        event: media::LegEvent,
    },
    SpeechStarted {
        call: CallKey,
        at: Instant,
    },
    Amd {
        call: CallKey,
        result: AmdResult,
        cause: String,
        speech_end: Option<Instant>,
    },
    Beep {
        call: CallKey,
    },
    AgentSip {
        agent: String,
        event: CallEvent,
    },
    AgentFailed {
        agent: String,
        reason: String,
    },
    AgentMedia {
        agent: String,
        event: media::LegEvent,
    },
    Leads {
        campaign: String,
        leads: Vec<Lead>,
    },
    /// A claim brought no lead (`empty`: the store had none to give, not an error).
    ClaimDone {
        campaign: String,
        empty: bool,
    },
    /// A reload's store work is done: each campaign with its store rows, or why not.
    Reloaded {
        results: Vec<(Campaign, Registered)>,
        by: String,
        done: oneshot::Sender<()>,
    },
    /// A campaign's list files were imported and its leads judged.
    ListsLoaded(Box<lists::Loaded>),
    /// A campaign's leads were judged (a claim found none).
    LeadsChecked {
        campaign: String,
        check: Result<lists::LeadCheck, String>,
    },
    Rechecked {
        lead_id: i64,
        refusal: Option<String>,
    },
}

struct CallIo {
    leg: LegId,
    hangup: Option<oneshot::Sender<()>>,
}

struct AgentLeg {
    leg: LegId,
    hangup: Option<oneshot::Sender<()>>,
}

struct Shell {
    board: Switchboard,
    /// Counts dials, outcomes, dispositions and trunk health for `/metrics`.
    observer: super::telemetry::Observer,
    store: Store,
    sip: Sip,
    media: Media,
    clock: WallClock,
    writer: mpsc::Sender<Msg>,
    events: mpsc::UnboundedSender<Event>,
    calls: HashMap<CallKey, CallIo>,
    agent_uris: HashMap<String, String>,
    agent_legs: HashMap<String, AgentLeg>,
    /// Each campaign's scheduler; a claim task takes a copy (no lock, no wait on a claim).
    schedulers: HashMap<String, Scheduler>,
    lists: Lists,
    /// A reload's store work runs; later reloads wait in `reloads`.
    reloading: bool,
    reloads: VecDeque<Reload>,
    /// Operators' actions for the audit trail, handed to the store writer by the next pump.
    audits: Vec<AuditEvent>,
    /// The store row of a dial, which its INVITE waits for, and the INVITE's Call-ID (stored
    /// in that row).
    rows: HashMap<CallKey, (oneshot::Receiver<Result<i64, String>>, String)>,
    /// The media leg of a dial, opened before its attempt is stored; or why it could not be.
    legs: HashMap<CallKey, Result<Leg, MediaError>>,
    /// Dialing is paused by a local failure: the last check for a media port, and the log limit.
    local_check: Option<Instant>,
    local_log: LogLimit,
    prompts: HashMap<PathBuf, Pcm>,
    recordings: PathBuf,
    options: Options,
    heartbeat: Heartbeat,
    store_health: StoreHealth,
    /// The last claim let through while the store could not write (a probe).
    last_probe: Option<Instant>,
    /// A stop's end: records not handed to the writer by then are lost (logged, counted).
    stop_by: Option<Instant>,
}

impl Shell {
    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        mut control: mpsc::Receiver<Envelope>,
        mut reload: mpsc::Receiver<Reload>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(self.options.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut draining_until: Option<Instant> = None;
        loop {
            let deadline = self.board.poll_timeout();
            tokio::select! {
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.observer.input(now, &Input::Tick);
                    self.board.handle(now, Input::Tick);
                    self.check_local_resources(now);
                    self.heartbeat.beat();
                }
                _ = sleep_until(deadline) => {
                    self.board.handle_timeout(Instant::now());
                }
                Some(ev) = events.recv() => self.on_event(ev),
                Some((request, reply)) = control.recv() => {
                    let answer = self.on_request(request);
                    let _ = reply.send(answer);
                }
                Some(ask) = reload.recv() => self.reload(ask),
                changed = stop.changed(), if draining_until.is_none() => {
                    if changed.is_err() || *stop.borrow() {
                        tracing::info!(calls = self.board.live_calls(), "stopping: no new dials, draining calls");
                        self.board.drain();
                        let now = Instant::now();
                        draining_until = Some(now + self.options.drain_deadline);
                        // The whole stop is bounded: a store that cannot write gets until
                        // then, and what it has not stored is logged and counted.
                        let stop_by =
                            now + self.options.drain_deadline + HANGUP_WAIT + STOP_FLUSH_WAIT;
                        self.stop_by = Some(stop_by);
                        self.store_health.give_up_at(stop_by);
                    }
                }
            }
            self.pump().await;
            if let Some(until) = draining_until {
                let now = Instant::now();
                // Done when no call is left and no agent still wraps one up (a disposition
                // posted during the drain is stored like any other).
                if self.board.live_calls() == 0
                    && self.calls.is_empty()
                    && self.board.wrap_ups(now) == 0
                {
                    break;
                }
                if now >= until {
                    tracing::warn!(
                        calls = self.calls.len(),
                        wrap_ups = self.board.wrap_ups(now),
                        "drain deadline passed: hanging up, wrap-ups cut short"
                    );
                    for io in self.calls.values_mut() {
                        if let Some(h) = io.hangup.take() {
                            let _ = h.send(());
                        }
                    }
                    // Every call still open gets its attempt record now; a wrap-up with no
                    // disposition releases its lead with the call's outcome.
                    self.board.abort_calls(now);
                    self.board.cut_wrap_ups(now);
                    self.pump().await;
                    break;
                }
            }
        }
        // Close agent intervals, hang up agent legs, wait for the far ends to answer the BYEs
        // (and CANCELs), flush the store.
        self.board.flush_agents(Instant::now());
        self.pump().await;
        for leg in self.agent_legs.values_mut() {
            if let Some(h) = leg.hangup.take() {
                let _ = h.send(());
            }
        }
        self.await_hangups(&mut events, Instant::now() + HANGUP_WAIT)
            .await;
        let (done, wait) = oneshot::channel();
        let stop_by = self
            .stop_by
            .unwrap_or_else(|| Instant::now() + STOP_FLUSH_WAIT);
        // The writer gives up at `stop_by` (and says what it could not store); a moment more
        // for its answer.
        let flushed = tokio::time::timeout_at((stop_by + Duration::from_secs(1)).into(), async {
            if self.writer.send(Msg::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        })
        .await;
        if flushed.is_err() {
            tracing::error!("the store writer did not finish by the stop's deadline");
        }
    }

    /// After the switchboard is done: wait until every call and agent leg has ended in SIP (our
    /// BYE or CANCEL answered, or the SIP layer gave up on it), at most until `deadline`, so
    /// the socket does not close under a far end still answering. The switchboard has recorded
    /// everything already; only the legs' ends are taken from the events now.
    async fn await_hangups(
        &mut self,
        events: &mut mpsc::UnboundedReceiver<Event>,
        deadline: Instant,
    ) {
        while !(self.calls.is_empty() && self.agent_legs.is_empty()) {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(Event::Sip { call, event: CallEvent::Ended(_) })
                    | Some(Event::DialFailed { call, .. }) => {
                        if let Some(io) = self.calls.remove(&call) {
                            self.media.close_leg(io.leg);
                        }
                    }
                    Some(Event::AgentSip { agent, event: CallEvent::Ended(_) })
                    | Some(Event::AgentFailed { agent, .. }) => {
                        if let Some(leg) = self.agent_legs.remove(&agent) {
                            self.media.close_leg(leg.leg);
                        }
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline.into()) => {
                    tracing::warn!(
                        calls = self.calls.len(),
                        agent_legs = self.agent_legs.len(),
                        "stopping without the far ends' answers to our hang-ups"
                    );
                    break;
                }
            }
        }
    }

    /// Start a reload: the store work (campaign rows, abandon-window counts) runs in a task and
    /// comes back as [`Event::Reloaded`]; one reload at a time, in order.
    fn reload(&mut self, ask: Reload) {
        if self.reloading {
            self.reloads.push_back(ask);
            return;
        }
        let Reload {
            campaigns,
            by,
            done,
        } = ask;
        self.reloading = true;
        let store = self.store.clone();
        let clock = self.clock;
        let events = self.events.clone();
        tokio::spawn(async move {
            let mut results = Vec::with_capacity(campaigns.len());
            for c in campaigns {
                let r = register(&store, &c, &clock).await;
                results.push((c, r));
            }
            let _ = events.send(Event::Reloaded { results, by, done });
        });
    }

    /// Apply a reload whose store work is done (nothing here waits), then start the next one.
    fn reloaded(
        &mut self,
        results: Vec<(Campaign, Registered)>,
        by: String,
        done: oneshot::Sender<()>,
    ) {
        let names: std::collections::BTreeSet<String> =
            results.iter().map(|(c, _)| c.name.clone()).collect();
        let before: std::collections::BTreeSet<String> =
            self.board.campaign_names().into_iter().collect();
        let (mut added, mut failed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        for (c, r) in results {
            match r {
                Ok((ids, history)) => {
                    if !before.contains(&c.name) {
                        added.push(c.name.clone());
                    }
                    let c = Arc::new(c);
                    // Claims under way keep the settings they started with.
                    self.schedulers.insert(
                        c.name.clone(),
                        Scheduler::new(
                            c.clone(),
                            &ids,
                            self.options.owner.clone(),
                            self.options.lease,
                        ),
                    );
                    self.board.upsert_campaign(c.clone(), ids.id, history);
                    if self.options.import_lists {
                        self.load_lists(c);
                    }
                }
                Err(err) => {
                    tracing::error!(campaign = %c.name, %err, "reload: campaign kept as it was");
                    failed.push(c.name.clone());
                }
            }
        }
        for gone in self.board.campaign_names() {
            if !names.contains(&gone) {
                tracing::info!(campaign = %gone, "reload: campaign removed, no new dials");
                removed.push(gone.clone());
                self.board.remove_campaign(&gone);
                self.schedulers.remove(&gone);
                self.lists.remove(&gone);
            }
        }
        // One line of what changed: the campaigns now, those added and removed, and those the
        // store could not register (each kept as it was, a new one left out).
        let names: Vec<String> = names.into_iter().collect();
        let mut message = format!(
            "configuration reload by {by} applied; campaigns: {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
        for (what, list) in [
            ("added", &added),
            ("removed", &removed),
            ("not applied (store error)", &failed),
        ] {
            if !list.is_empty() {
                message.push_str(&format!("; {what}: {}", list.join(", ")));
            }
        }
        let data = serde_json::json!({
            "by": by,
            "campaigns": names,
            "added": added,
            "removed": removed,
            "failed": failed,
        });
        self.audit("reload", None, message, data);
        let _ = done.send(());
        self.reloading = false;
        if let Some(ask) = self.reloads.pop_front() {
            self.reload(ask);
        }
    }

    /// Import a campaign's list files in a task (one at a time per campaign; a reload during
    /// an import has it run again when it ends).
    fn load_lists(&mut self, c: Arc<Campaign>) {
        let Some(marks) = self.lists.begin(&c) else {
            return;
        };
        let store = self.store.clone();
        let events = self.events.clone();
        let now = self.clock.timestamp(Instant::now());
        tokio::spawn(async move {
            let loaded = lists::load(&store, &c, &marks, now).await;
            let _ = events.send(Event::ListsLoaded(Box::new(loaded)));
        });
    }

    /// Judge a campaign's leads in a task (its claim found none), at most every minute.
    fn check_leads(&mut self, campaign: &str) {
        let Some(c) = self.board.campaign(campaign) else {
            return;
        };
        if !self.lists.begin_check(campaign, Instant::now()) {
            return;
        }
        let store = self.store.clone();
        let events = self.events.clone();
        let now = self.clock.timestamp(Instant::now());
        tokio::spawn(async move {
            let check = lists::check(&store, &c, now).await;
            let _ = events.send(Event::LeadsChecked {
                campaign: c.name.clone(),
                check,
            });
        });
    }

    fn on_request(&mut self, r: Request) -> Result<Reply, super::switchboard::SwitchboardError> {
        let now = Instant::now();
        let b = &mut self.board;
        // An agent's action is answered with the agent's view right after it, in the same turn
        // (the API's answer; a stop may end the loop before another question).
        let view = |b: &Switchboard, agent: &str| {
            Reply::Agents(
                b.agent_views(now)
                    .into_iter()
                    .filter(|v| v.id == agent)
                    .collect(),
            )
        };
        Ok(match r {
            Request::Login(a) => b.agent_login(now, &a).map(|_| view(b, &a))?,
            Request::Logout(a) => b.agent_logout(now, &a).map(|_| view(b, &a))?,
            Request::ForceLogout { agent, by } => {
                let reply = b.agent_logout(now, &agent).map(|_| view(b, &agent))?;
                let message = format!("agent {agent} logged out by {by} (API)");
                let data = serde_json::json!({ "by": by, "via": "api", "agent": agent });
                self.audit("agent_logout", None, message, data);
                reply
            }
            Request::Ready(a) => b.agent_ready(now, &a).map(|_| view(b, &a))?,
            Request::Pause { agent, reason } => b
                .agent_pause(now, &agent, &reason)
                .map(|_| view(b, &agent))?,
            Request::Hangup(a) => b.agent_hangup(now, &a).map(|_| view(b, &a))?,
            Request::Dial(a) => b.agent_dial(now, &a).map(|_| view(b, &a))?,
            Request::Skip(a) => b.agent_skip(now, &a).map(|_| view(b, &a))?,
            Request::Disposition {
                agent,
                code,
                notes,
                callback_after,
            } => b
                .agent_disposition(now, &agent, &code, notes, callback_after)
                .map(|_| view(b, &agent))?,
            Request::Lead(a) => Reply::Lead(b.agent_lead(now, &a)?),
            Request::Agents => Reply::Agents(b.agent_views(now)),
            Request::Campaigns => Reply::Campaigns(
                b.campaign_status()
                    .into_iter()
                    .map(|mut c| {
                        c.leads = self.lists.status(&c.name);
                        c
                    })
                    .collect(),
            ),
            Request::Campaign { name, control, by } => {
                b.control(&name, control)?;
                let done = match control {
                    CampaignControl::Running => "started",
                    CampaignControl::Paused => "paused",
                    CampaignControl::Stopped => "stopped",
                };
                let message = format!("campaign {name} {done} by {by} (API)");
                let data = serde_json::json!({
                    "by": by,
                    "via": "api",
                    "control": control.as_str(),
                });
                self.audit("campaign_control", Some(&name), message, data);
                Reply::Done
            }
        })
    }

    /// Queue an operator's action for the audit trail (the next pump hands it to the store
    /// writer; nothing waits on the store).
    fn audit(
        &mut self,
        kind: &str,
        campaign: Option<&str>,
        message: String,
        data: serde_json::Value,
    ) {
        tracing::info!(kind, "{message}");
        self.audits.push(AuditEvent {
            at_ms: self.clock.ms(Instant::now()),
            campaign_id: campaign
                .and_then(|c| self.schedulers.get(c))
                .map(Scheduler::campaign_id),
            kind: kind.to_owned(),
            message,
            data: Some(data.to_string()),
            ..AuditEvent::default()
        });
    }

    fn on_event(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::Sip { call, event } => match event {
                CallEvent::Progress { status } => {
                    if status == 180 || status == 183 {
                        self.board.handle(now, Input::Ringing { call });
                    }
                }
                CallEvent::Answered { answer, .. } => {
                    if let Some(io) = self.calls.get(&call) {
                        set_remote(&self.media, io.leg, &answer);
                    }
                    self.board.handle(now, Input::Answered { call });
                }
                CallEvent::Hold { .. } => {}
                CallEvent::Ended(report) => {
                    if let Some(io) = self.calls.remove(&call) {
                        self.media.close_leg(io.leg);
                    }
                    self.board.handle(
                        now,
                        Input::CallEnded {
                            call,
                            outcome: report.outcome.as_str().to_owned(),
                            sip_status: report.sip_status,
                        },
                    );
                }
            },
            Event::DialFailed { call, reason } => {
                tracing::warn!(call, %reason, "dial failed");
                if let Some(io) = self.calls.remove(&call) {
                    self.media.close_leg(io.leg);
                }
                self.board.handle(
                    now,
                    Input::CallEnded {
                        call,
                        outcome: "failed".into(),
                        sip_status: None,
                    },
                );
            }
            Event::Media { call, event } => {
                if let media::LegEvent::Media(e) = event {
                    match e {
                        // A prompt stopped on purpose (a key answered the question) is not an end.
                        media::Event::PromptFinished {
                            completed: true, ..
                        } => self.board.handle(now, Input::PromptFinished { call }),
                        media::Event::PromptFinished { .. } => {}
                        media::Event::Dtmf(d) => self.board.handle(
                            now,
                            Input::Dtmf {
                                call,
                                digit: d.digit,
                            },
                        ),
                        media::Event::Inactive => {
                            self.board.handle(now, Input::MediaTimeout { call })
                        }
                        media::Event::Latched(_) => {}
                    }
                }
            }
            Event::SpeechStarted { call, at } => {
                self.board.handle(now, Input::SpeechStarted { call, at })
            }
            Event::Amd {
                call,
                result,
                cause,
                speech_end,
            } => {
                metrics::counter!("dialer_amd_results_total", "result" => result.as_str())
                    .increment(1);
                self.board.handle(
                    now,
                    Input::Amd {
                        call,
                        result,
                        cause,
                        speech_end,
                    },
                )
            }
            Event::Beep { call } => self.board.handle(now, Input::Beep { call }),
            Event::AgentSip { agent, event } => match event {
                CallEvent::Answered { answer, .. } => {
                    if let Some(leg) = self.agent_legs.get(&agent) {
                        set_remote(&self.media, leg.leg, &answer);
                    }
                    tracing::info!(%agent, "agent leg up");
                    self.board.handle(now, Input::AgentLegUp { agent });
                }
                CallEvent::Ended(report) => {
                    tracing::info!(%agent, outcome = %report.outcome, "agent leg down");
                    if let Some(leg) = self.agent_legs.remove(&agent) {
                        self.media.close_leg(leg.leg);
                    }
                    self.board.handle(now, Input::AgentLegDown { agent });
                }
                CallEvent::Progress { .. } | CallEvent::Hold { .. } => {}
            },
            Event::AgentFailed { agent, reason } => {
                tracing::warn!(%agent, %reason, "agent leg failed");
                if let Some(leg) = self.agent_legs.remove(&agent) {
                    self.media.close_leg(leg.leg);
                }
                self.board.handle(now, Input::AgentLegDown { agent });
            }
            Event::AgentMedia { agent, event } => {
                if let media::LegEvent::Media(media::Event::Inactive) = event
                    && let Some(leg) = self.agent_legs.get_mut(&agent)
                    && let Some(h) = leg.hangup.take()
                {
                    tracing::warn!(%agent, "agent leg silent: hanging up");
                    let _ = h.send(());
                }
            }
            Event::Leads { campaign, leads } => {
                self.lists.claimed(&campaign);
                self.board.handle(now, Input::Leads { campaign, leads })
            }
            Event::ClaimDone { campaign, empty } => {
                if empty {
                    self.check_leads(&campaign);
                }
                self.board.handle(now, Input::ClaimDone { campaign })
            }
            Event::Reloaded { results, by, done } => self.reloaded(results, by, done),
            Event::ListsLoaded(loaded) => {
                if let Some(c) = self.lists.finish(*loaded, now) {
                    self.load_lists(c);
                }
            }
            Event::LeadsChecked { campaign, check } => self.lists.finish_check(&campaign, check),
            Event::Rechecked { lead_id, refusal } => {
                if let Some(r) = &refusal {
                    tracing::info!(lead_id, refusal = %r, "previewed lead no longer dialable");
                }
                self.board
                    .handle(now, Input::Rechecked { lead_id, refusal })
            }
        }
    }

    /// Hand a message to the store writer. Bounded: a store that cannot keep up holds the
    /// switchboard here (until a stop's deadline: then the message is lost, logged and counted).
    async fn send_to_writer(&mut self, msg: Msg) {
        let send = self.writer.send(msg);
        let sent = match self.stop_by {
            Some(t) => tokio::time::timeout_at(t.into(), send)
                .await
                .unwrap_or_else(|_elapsed| {
                    tracing::error!(
                        "not stored: the store writer's queue stayed full past the stop's deadline"
                    );
                    metrics::counter!("dialer_store_records_lost_total").increment(1);
                    Ok(())
                }),
            None => send.await,
        };
        if sent.is_err() {
            tracing::error!("store writer is gone");
        }
    }

    /// Carry out everything the switchboard asked for.
    async fn pump(&mut self) {
        for event in std::mem::take(&mut self.audits) {
            self.send_to_writer(Msg::Audit(Box::new(event))).await;
        }
        while let Some(out) = self.board.poll_output() {
            if let Output::Dial(d) = &out
                && matches!(self.legs.get(&d.call), Some(Err(_)))
                && let Some(Err(err)) = self.legs.remove(&d.call)
            {
                self.dial_failed_locally(d.call, &err);
                continue;
            }
            self.observer.output(Instant::now(), &out);
            match out {
                Output::Claim { campaign, n, .. } => self.claim(campaign, n),
                Output::Recheck { campaign, lead_id } => self.recheck(campaign, lead_id),
                Output::Release { lead_id } => {
                    let store = self.store.clone();
                    let owner = self.options.owner.clone();
                    tokio::spawn(async move {
                        if let Err(err) = store.release_lead(lead_id, &owner).await {
                            tracing::warn!(%err, lead_id, "cannot release lead");
                        }
                    });
                }
                Output::Record(mut record) => {
                    if let Record::AttemptStarted { call, .. } = &record {
                        // What the dial needs here first: a dial that cannot leave is no
                        // attempt against its lead, so its row is not written.
                        let leg = self.media.open_leg();
                        let failed = leg.is_err();
                        self.legs.insert(*call, leg);
                        if failed {
                            continue;
                        }
                    }
                    let reply = match &mut record {
                        Record::AttemptStarted {
                            call, sip_call_id, ..
                        } => {
                            // The Call-ID goes into the attempt's row, which the INVITE waits
                            // for: ops find the call in the carrier's CDRs and captures by it.
                            let id = self.sip.new_call_id();
                            *sip_call_id = Some(id.clone());
                            let (tx, rx) = oneshot::channel();
                            self.rows.insert(*call, (rx, id));
                            Some(tx)
                        }
                        _ => None,
                    };
                    self.send_to_writer(Msg::Record(Box::new(record), reply))
                        .await;
                }
                Output::Dial(d) => self.dial(d),
                Output::HangUp { call } => {
                    if let Some(h) = self.calls.get_mut(&call).and_then(|io| io.hangup.take()) {
                        let _ = h.send(());
                    }
                }
                Output::StartAmd { call } => self.start_amd(call),
                Output::Play { call, file } => {
                    let Some(leg) = self.calls.get(&call).map(|io| io.leg) else {
                        continue;
                    };
                    match self.prompt(&file) {
                        Ok(pcm) => {
                            if let Err(err) = self.media.play(leg, pcm) {
                                tracing::warn!(%err, "cannot play prompt");
                                self.board
                                    .handle(Instant::now(), Input::PromptFailed { call });
                            }
                        }
                        Err(err) => {
                            tracing::error!(file = %file.display(), %err, "cannot load prompt");
                            self.board
                                .handle(Instant::now(), Input::PromptFailed { call });
                        }
                    }
                }
                Output::StopPrompt { call } => {
                    if let Some(io) = self.calls.get(&call) {
                        let _ = self.media.stop_prompts(io.leg);
                    }
                }
                Output::Bridge {
                    call,
                    agent,
                    record,
                } => {
                    let (Some(io), Some(leg)) =
                        (self.calls.get(&call), self.agent_legs.get(&agent))
                    else {
                        tracing::warn!(call, %agent, "bridge without both legs");
                        continue;
                    };
                    let path = record.then(|| recording_path(&self.recordings, &self.clock, call));
                    if let Err(err) = self.media.bridge(io.leg, leg.leg, path.as_deref()) {
                        tracing::error!(%err, call, %agent, "bridge failed");
                        continue;
                    }
                    metrics::counter!("dialer_bridged_calls_total").increment(1);
                    if let Some(p) = path {
                        let _ = self.writer.try_send(Msg::CallInfo {
                            call,
                            recording: Some(p.display().to_string()),
                        });
                    }
                }
                Output::Unbridge { call } => {
                    if let Some(io) = self.calls.get(&call) {
                        self.media.unbridge(io.leg);
                    }
                }
                Output::DialAgent { agent } => self.dial_agent(agent),
                // Counted by the observer above.
                Output::Abandoned { .. } => {}
                Output::HangUpAgent { agent } => {
                    if let Some(h) = self
                        .agent_legs
                        .get_mut(&agent)
                        .and_then(|l| l.hangup.take())
                    {
                        let _ = h.send(());
                    }
                }
            }
        }
    }

    fn claim(&mut self, campaign: String, n: usize) {
        let store = self.store.clone();
        let events = self.events.clone();
        let now = Instant::now();
        let at = self.clock.timestamp(now);
        // Dialing pauses while the store cannot write (nothing is dialed that could not be
        // recorded); a claim every few seconds goes through as a probe.
        if self.store_health.unwritable().is_some() {
            if self
                .last_probe
                .is_some_and(|t| now.saturating_duration_since(t) < PAUSED_PROBE)
            {
                let _ = events.send(Event::ClaimDone {
                    campaign,
                    empty: false,
                });
                return;
            }
            self.last_probe = Some(now);
        }
        let health = self.store_health.clone();
        let Some(mut scheduler) = self.schedulers.get(&campaign).cloned() else {
            let _ = events.send(Event::ClaimDone {
                campaign,
                empty: false,
            });
            return;
        };
        tokio::spawn(async move {
            let claimed = scheduler.claim(&store, at, n).await;
            // A claim writes (leases): it tells whether the store can write.
            match &claimed {
                Ok(_) => health.claim_succeeded(),
                Err(crate::leads::LeadsError::Store(err)) if !err.is_permanent() => {
                    health.claim_failed(Instant::now(), err)
                }
                Err(_) => {}
            }
            match claimed {
                Ok(rows) if !rows.is_empty() => {
                    let leads = rows
                        .into_iter()
                        .map(|r| Lead {
                            id: r.lead.id,
                            phone: r.lead.phone,
                            timezone: r.lead.timezone,
                            attributes: r.lead.attributes,
                            attempts: r.lead.attempts,
                        })
                        .collect();
                    let _ = events.send(Event::Leads { campaign, leads });
                }
                Ok(_) => {
                    let _ = events.send(Event::ClaimDone {
                        campaign,
                        empty: true,
                    });
                }
                Err(err) => {
                    tracing::error!(%err, %campaign, "claiming leads failed");
                    let _ = events.send(Event::ClaimDone {
                        campaign,
                        empty: false,
                    });
                }
            }
        });
    }

    /// Check a previewed lead again and renew its lease (a store error keeps it: the next check
    /// tries again).
    fn recheck(&self, campaign: String, lead_id: i64) {
        let store = self.store.clone();
        let events = self.events.clone();
        let at = self.clock.timestamp(Instant::now());
        let Some(mut scheduler) = self.schedulers.get(&campaign).cloned() else {
            let _ = events.send(Event::Rechecked {
                lead_id,
                refusal: Some(format!("campaign {campaign} is gone")),
            });
            return;
        };
        tokio::spawn(async move {
            let refusal = match scheduler.recheck(&store, at, lead_id).await {
                Ok(r) => r,
                Err(err) => {
                    tracing::warn!(%err, lead_id, "cannot check a previewed lead again");
                    None
                }
            };
            let _ = events.send(Event::Rechecked { lead_id, refusal });
        });
    }

    /// A dial failed here before its INVITE left (its attempt was not stored): the lead goes
    /// back unchanged, the trunk's health is not touched, and dialing pauses until a media port
    /// opens again ([`Self::check_local_resources`]).
    fn dial_failed_locally(&mut self, call: CallKey, err: &MediaError) {
        let now = Instant::now();
        let reason = err.local_reason();
        metrics::counter!("dialer_dial_local_failures_total", "reason" => reason).increment(1);
        metrics::gauge!("dialer_dialing_paused_local").set(1.0);
        if let Some(more) = self.local_log.allow(now) {
            tracing::error!(
                %err,
                reason,
                more,
                "dialing paused: a dial failed here before its INVITE left; its lead is given \
                 back with no attempt counted; dialing resumes when a media port opens again"
            );
        }
        self.local_check.get_or_insert(now);
        self.board.handle(now, Input::DialFailedLocally { call });
    }

    /// While dialing is paused by a local failure, try once a second to open a media leg;
    /// when one opens, dialing resumes.
    fn check_local_resources(&mut self, now: Instant) {
        if !self.board.local_fault() {
            return;
        }
        if self
            .local_check
            .is_some_and(|t| now.saturating_duration_since(t) < LOCAL_CHECK_EVERY)
        {
            return;
        }
        self.local_check = Some(now);
        match self.media.open_leg() {
            Ok(leg) => {
                self.media.close_leg(leg.id);
                self.local_check = None;
                metrics::gauge!("dialer_dialing_paused_local").set(0.0);
                tracing::info!("dialing resumed: a media port opened again");
                self.board.handle(now, Input::LocalResourcesBack);
            }
            Err(err) => {
                if let Some(more) = self.local_log.allow(now) {
                    tracing::error!(%err, more, "dialing still paused: no media port yet");
                }
            }
        }
    }

    fn dial(&mut self, d: Dial) {
        let call = d.call;
        let leg = match self.legs.remove(&call) {
            Some(Ok(leg)) => leg,
            // Opened with its record; an error went to `dial_failed_locally` instead.
            Some(Err(err)) => {
                self.dial_failed_locally(call, &err);
                return;
            }
            None => match self.media.open_leg() {
                Ok(leg) => leg,
                Err(err) => {
                    self.dial_failed_locally(call, &err);
                    return;
                }
            },
        };
        let (hangup_tx, hangup_rx) = oneshot::channel();
        self.calls.insert(
            call,
            CallIo {
                leg: leg.id,
                hangup: Some(hangup_tx),
            },
        );
        forward_leg(leg.events, self.events.clone(), move |event| Event::Media {
            call,
            event,
        });
        let offer = offer(leg.local, call);
        let (row, call_id) = match self.rows.remove(&call) {
            Some((row, id)) => (Some(row), Some(id)),
            None => (None, None),
        };
        let sip = self.sip.clone();
        let events = self.events.clone();
        let span = tracing::info_span!("call", call, campaign = %d.campaign, lead = d.lead.id);
        let task = async move {
            // The attempt's row first: nothing is dialed that cannot be recorded.
            if let Some(rx) = row {
                let failed = match rx.await {
                    Ok(Ok(_)) => None,
                    Ok(Err(reason)) => Some(reason),
                    Err(_) => Some("store writer gone".to_owned()),
                };
                if let Some(reason) = failed {
                    let _ = events.send(Event::DialFailed { call, reason });
                    return;
                }
            }
            let place = PlaceCall {
                target: Target::Number(d.lead.phone.clone()),
                trunk: Some(d.trunk.clone()),
                caller_id: Some(d.caller_id.clone()),
                offer: Some(offer),
                ring_timeout: d.ring_timeout,
                talk_limit: None,
            };
            run_call(
                sip,
                place,
                call_id,
                hangup_rx,
                events,
                move |event| Event::Sip { call, event },
                move |reason| Event::DialFailed { call, reason },
            )
            .await;
        };
        tokio::spawn(tracing::Instrument::instrument(task, span));
    }

    fn dial_agent(&mut self, agent: String) {
        let Some(uri) = self.agent_uris.get(&agent).cloned() else {
            let _ = self.events.send(Event::AgentFailed {
                agent,
                reason: "no SIP URI configured".into(),
            });
            return;
        };
        let target = match Target::parse(&uri) {
            Ok(t) => t,
            Err(err) => {
                let _ = self.events.send(Event::AgentFailed {
                    agent,
                    reason: err.to_string(),
                });
                return;
            }
        };
        let leg = match self.media.open_leg() {
            Ok(leg) => leg,
            Err(err) => {
                let _ = self.events.send(Event::AgentFailed {
                    agent,
                    reason: err.to_string(),
                });
                return;
            }
        };
        let (hangup_tx, hangup_rx) = oneshot::channel();
        self.agent_legs.insert(
            agent.clone(),
            AgentLeg {
                leg: leg.id,
                hangup: Some(hangup_tx),
            },
        );
        let a = agent.clone();
        forward_leg(leg.events, self.events.clone(), move |event| {
            Event::AgentMedia {
                agent: a.clone(),
                event,
            }
        });
        let place = PlaceCall {
            target,
            trunk: None,
            caller_id: Some("dialer".into()),
            offer: Some(offer(leg.local, 0)),
            ring_timeout: Duration::from_secs(30),
            talk_limit: None,
        };
        let (a1, a2) = (agent.clone(), agent);
        tokio::spawn(run_call(
            self.sip.clone(),
            place,
            None,
            hangup_rx,
            self.events.clone(),
            move |event| Event::AgentSip {
                agent: a1.clone(),
                event,
            },
            move |reason| Event::AgentFailed {
                agent: a2.clone(),
                reason,
            },
        ));
    }

    fn start_amd(&mut self, call: CallKey) {
        let Some(io) = self.calls.get(&call) else {
            return;
        };
        let Some(settings) = self.board.amd_settings(call) else {
            return;
        };
        let sink = AmdSink {
            call,
            events: self.events.clone(),
            detector: crate::amd::Detector::new(settings, Instant::now()),
            decided: false,
            beeped: false,
        };
        if let Err(err) = self.media.set_analyzer(io.leg, Box::new(sink)) {
            tracing::warn!(%err, call, "cannot start AMD");
        }
    }

    fn prompt(&mut self, file: &Path) -> Result<Pcm, media::wav::WavError> {
        if let Some(p) = self.prompts.get(file) {
            return Ok(p.clone());
        }
        let pcm: Pcm = media::wav::read_8k_mono(file)?.into();
        self.prompts.insert(file.to_owned(), pcm.clone());
        Ok(pcm)
    }
}

/// The AMD detector on a customer's leg: fed each frame with the arrival of the packet that
/// completed it (the kernel's stamp), so the times it reports (speech start and end) are when
/// the audio reached us, not when a busy worker got to it.
struct AmdSink {
    call: CallKey,
    events: mpsc::UnboundedSender<Event>,
    detector: crate::amd::Detector,
    decided: bool,
    beeped: bool,
}

impl media::FrameSink for AmdSink {
    fn push_frame(&mut self, frame: &[i16; media::FRAME_SAMPLES]) {
        self.push_frame_at(Instant::now(), frame);
    }

    fn push_frame_at(&mut self, at: Instant, frame: &[i16; media::FRAME_SAMPLES]) {
        let (call, d) = (self.call, &mut self.detector);
        d.push_frame(at, frame);
        d.handle_timeout(Instant::now());
        if let Some(at) = d.poll_speech_start() {
            let _ = self.events.send(Event::SpeechStarted { call, at });
        }
        if !self.decided
            && let Some(dec) = d.poll_decision()
        {
            self.decided = true;
            let _ = self.events.send(Event::Amd {
                call,
                result: match dec.result {
                    crate::amd::AmdResult::Human => AmdResult::Human,
                    crate::amd::AmdResult::Machine => AmdResult::Machine,
                    crate::amd::AmdResult::NotSure => AmdResult::NotSure,
                },
                cause: dec.cause.to_string(),
                speech_end: d.speech_end(),
            });
        }
        if !self.beeped && d.poll_message_start().is_some() {
            self.beeped = true;
            let _ = self.events.send(Event::Beep { call });
        }
    }
}

/// Place a call (with `call_id` as its Call-ID when given) and forward its events until it
/// ends; a hang-up request ends it early.
async fn run_call(
    sip: Sip,
    place: PlaceCall,
    call_id: Option<String>,
    hangup: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<Event>,
    wrap: impl Fn(CallEvent) -> Event + Send + 'static,
    failed: impl Fn(String) -> Event + Send + 'static,
) {
    let placed = match call_id {
        Some(id) => sip.place_call_with_id(place, id).await,
        None => sip.place_call(place).await,
    };
    let mut handle = match placed {
        Ok(h) => h,
        Err(err) => {
            let _ = events.send(failed(err.to_string()));
            return;
        }
    };
    let mut hangup = hangup;
    let mut hung_up = false;
    loop {
        tokio::select! {
            ev = handle.next_event() => match ev {
                Some(ev) => {
                    let end = matches!(ev, CallEvent::Ended(_));
                    let _ = events.send(wrap(ev));
                    if end {
                        return;
                    }
                }
                None => {
                    let _ = events.send(failed("SIP layer stopped".into()));
                    return;
                }
            },
            r = &mut hangup, if !hung_up => {
                hung_up = true;
                if r.is_ok() {
                    handle.hangup();
                }
            }
        }
    }
}

fn forward_leg(
    mut rx: mpsc::UnboundedReceiver<media::LegEvent>,
    events: mpsc::UnboundedSender<Event>,
    wrap: impl Fn(media::LegEvent) -> Event + Send + 'static,
) {
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if events.send(wrap(ev)).is_err() {
                return;
            }
        }
    });
}

fn offer(local: SocketAddr, session: u64) -> (String, Bytes) {
    let sdp = LocalMedia::offer(local.ip(), local.port(), session.max(1)).to_sdp();
    ("application/sdp".to_owned(), Bytes::from(sdp))
}

fn set_remote(media: &Media, leg: LegId, answer: &Bytes) {
    match RemoteMedia::parse(answer) {
        Ok(remote) => {
            if let Err(err) = media.set_remote(leg, &remote) {
                tracing::warn!(%err, "cannot set the far end's media");
            }
        }
        Err(err) => tracing::warn!(%err, "unusable SDP answer"),
    }
}

fn recording_path(dir: &Path, clock: &WallClock, call: CallKey) -> PathBuf {
    let ts = clock.timestamp(Instant::now());
    let day = ts.strftime("%Y-%m-%d").to_string();
    dir.join(day)
        .join(format!("{}-{call}.wav", ts.as_millisecond()))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
