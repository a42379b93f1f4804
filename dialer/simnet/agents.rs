//! Simulated agent phones: one UAS per agent that answers the dialer's nailed-up leg and keeps
//! it, talks while a customer is bridged in, and acts at the agent's desk ([`AgentDesk`],
//! which the daemon implements): hang up after a drawn talk time, post a disposition from the
//! campaign's catalogue after a drawn wrap time.
//!
//! The agent's decisions are [`AgentBrain`] (sans-IO, seeded). A customer counts as connected
//! when the daemon says so ([`AgentPhones::screen_pop`]) or when voice is heard on the leg;
//! silence for `gone_after` means the customer has gone.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::vad::Vad;
use super::{AgentsConfig, SimError, Sounds};
use crate::media::sdp::{LocalMedia, RemoteMedia};
use crate::media::{self, LegEvent, LegId, PromptId};
use crate::sip::uas::driver::{UasDriver, UasHandle};
use crate::sip::uas::{InboundId, UasConfig, UasEvent};

/// A desk action the daemon refused or could not carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeskError(pub String);

/// What a simulated agent does at their desk; the daemon implements it (as its agent API does).
pub trait AgentDesk: Send + Sync + 'static {
    /// The disposition codes the agent may post for their current (or last) call.
    fn catalogue(&self, agent: &str) -> Vec<String>;
    /// The agent hangs up on the customer.
    fn hangup(&self, agent: &str) -> impl Future<Output = Result<(), DeskError>> + Send;
    /// The agent posts a disposition; this ends their wrap-up.
    fn dispose(
        &self,
        agent: &str,
        code: &str,
    ) -> impl Future<Output = Result<(), DeskError>> + Send;
}

/// What the agent does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    /// Start talking (and keep talking).
    Talk,
    /// Stop talking.
    Quiet,
    /// Hang up on the customer (at the desk).
    Hangup,
    /// Post a disposition (at the desk): pick one with [`AgentBrain::pick`].
    Dispose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ASt {
    Idle,
    Talking,
    Wrap,
}

/// One agent's decisions, sans-IO.
#[derive(Debug)]
pub struct AgentBrain {
    cfg: AgentsConfig,
    rng: ChaCha8Rng,
    st: ASt,
    far_voice: bool,
    talk_until: Option<Instant>,
    gone_at: Option<Instant>,
    wrap_until: Option<Instant>,
    calls: u64,
    actions: std::collections::VecDeque<AgentAction>,
}

impl AgentBrain {
    pub fn new(cfg: AgentsConfig, seed: u64) -> AgentBrain {
        AgentBrain {
            cfg,
            rng: ChaCha8Rng::seed_from_u64(seed),
            st: ASt::Idle,
            far_voice: false,
            talk_until: None,
            gone_at: None,
            wrap_until: None,
            calls: 0,
            actions: Default::default(),
        }
    }

    /// A customer was connected (screen pop, or voice heard while idle).
    pub fn connected(&mut self, now: Instant) {
        if self.st != ASt::Idle {
            return;
        }
        self.st = ASt::Talking;
        self.calls += 1;
        self.talk_until = Some(now + self.cfg.talk.draw(&mut self.rng));
        self.gone_at = (!self.far_voice).then(|| now + self.cfg.gone_after);
        self.actions.push_back(AgentAction::Talk);
    }

    /// Voice on the leg started or stopped.
    pub fn far_voice(&mut self, now: Instant, on: bool) {
        self.far_voice = on;
        match self.st {
            ASt::Idle if on => self.connected(now),
            ASt::Talking => self.gone_at = (!on).then(|| now + self.cfg.gone_after),
            _ => {}
        }
    }

    /// Our speech ended: keep talking while on a call.
    pub fn prompt_done(&mut self, _now: Instant) {
        if self.st == ASt::Talking {
            self.actions.push_back(AgentAction::Talk);
        }
    }

    /// The leg dropped: back to square one (a new leg starts idle).
    pub fn leg_down(&mut self) {
        self.st = ASt::Idle;
        self.far_voice = false;
        self.talk_until = None;
        self.gone_at = None;
        self.wrap_until = None;
        self.actions.clear();
    }

    fn wrap(&mut self, now: Instant) {
        self.st = ASt::Wrap;
        self.talk_until = None;
        self.gone_at = None;
        self.wrap_until = Some(now + self.cfg.wrap.draw(&mut self.rng));
        self.actions.push_back(AgentAction::Quiet);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.st {
            ASt::Talking if self.talk_until.is_some_and(|t| t <= now) => {
                self.wrap(now);
                self.actions.push_back(AgentAction::Hangup);
            }
            ASt::Talking if self.gone_at.is_some_and(|t| t <= now) => self.wrap(now),
            ASt::Wrap if self.wrap_until.is_some_and(|t| t <= now) => {
                self.st = ASt::Idle;
                self.wrap_until = None;
                self.actions.push_back(AgentAction::Dispose);
            }
            _ => {}
        }
    }

    pub fn poll_action(&mut self) -> Option<AgentAction> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.talk_until, self.gone_at, self.wrap_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Customers connected so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Whether the agent is on a call or wrapping up.
    pub fn is_busy(&self) -> bool {
        self.st != ASt::Idle
    }

    /// A disposition from `catalogue`, weighted by the config (codes it does not name weigh 1).
    pub fn pick(&mut self, catalogue: &[String]) -> Option<String> {
        let w = |c: &String| self.cfg.dispositions.get(c).copied().unwrap_or(1.0);
        let total: f64 = catalogue.iter().map(w).sum();
        if catalogue.is_empty() || total <= 0.0 {
            return None;
        }
        let mut x = self.rng.random::<f64>() * total;
        for c in catalogue {
            if x < w(c) {
                return Some(c.clone());
            }
            x -= w(c);
        }
        catalogue.last().cloned()
    }
}

/// What the simulated agents did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentStats {
    /// Nailed-up legs answered (and ACKed).
    pub legs_up: u64,
    /// Legs that ended.
    pub legs_down: u64,
    /// Customers talked to.
    pub calls: u64,
    pub hangups: u64,
    pub dispositions: u64,
    /// Desk actions the daemon refused or that failed.
    pub desk_errors: u64,
    /// Dispositions posted, by code.
    pub by_code: std::collections::BTreeMap<String, u64>,
}

/// One agent's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub agent: String,
    pub local: SocketAddr,
}

impl Phone {
    /// The SIP URI the dialer should call (`sip_uri` in dialer.toml).
    pub fn sip_uri(&self) -> String {
        format!("sip:{}@{}", self.agent, self.local)
    }
}

/// The running agent phones.
pub struct AgentPhones {
    phones: Vec<Phone>,
    pops: HashMap<String, mpsc::UnboundedSender<()>>,
    stats: Arc<Mutex<AgentStats>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for AgentPhones {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl AgentPhones {
    /// Start one phone per `(agent id, bind address)` (port 0: the OS picks), taking calls
    /// from `allowed` sources.
    pub async fn start<D: AgentDesk>(
        agents: &[(String, SocketAddr)],
        allowed: Vec<IpAddr>,
        cfg: AgentsConfig,
        seed: u64,
        media: media::Driver,
        sounds: Sounds,
        desk: Arc<D>,
    ) -> Result<AgentPhones, SimError> {
        let stats = Arc::new(Mutex::new(AgentStats::default()));
        let mut out = AgentPhones {
            phones: Vec::new(),
            pops: HashMap::new(),
            stats: stats.clone(),
            tasks: Vec::new(),
        };
        for (i, (agent, bind)) in agents.iter().enumerate() {
            let mut ucfg = UasConfig::new(*bind);
            ucfg.allowed = allowed.clone();
            ucfg.user_agent = format!("dialer-simnet-agent-{agent}");
            let phone_seed = seed ^ (i as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F);
            let drv = UasDriver::start(*bind, ucfg, phone_seed)
                .await
                .map_err(|source| SimError::Bind {
                    what: format!("agent {agent}'s phone"),
                    addr: *bind,
                    source,
                })?;
            let (pop_tx, pop_rx) = mpsc::unbounded_channel();
            out.phones.push(Phone {
                agent: agent.clone(),
                local: drv.handle.local(),
            });
            out.pops.insert(agent.clone(), pop_tx);
            let p = PhoneTask {
                agent: agent.clone(),
                h: drv.handle,
                brain: AgentBrain::new(cfg.clone(), phone_seed),
                answer_rng: ChaCha8Rng::seed_from_u64(phone_seed.rotate_left(7)),
                cfg: cfg.clone(),
                media: media.clone(),
                sounds: sounds.clone(),
                desk: desk.clone(),
                stats: stats.clone(),
                leg: None,
                seen_calls: 0,
            };
            out.tasks.push(tokio::spawn(p.run(drv.events, pop_rx)));
        }
        Ok(out)
    }

    pub fn phones(&self) -> &[Phone] {
        &self.phones
    }

    /// The daemon connected a customer to `agent` (their screen pops): they start talking.
    pub fn screen_pop(&self, agent: &str) {
        if let Some(tx) = self.pops.get(agent) {
            let _ = tx.send(());
        }
    }

    pub fn stats(&self) -> AgentStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct LegState {
    call: InboundId,
    id: LegId,
    events: mpsc::UnboundedReceiver<LegEvent>,
    voice: mpsc::UnboundedReceiver<bool>,
    up: bool,
    current: Option<PromptId>,
}

struct PhoneTask<D> {
    agent: String,
    h: UasHandle,
    brain: AgentBrain,
    answer_rng: ChaCha8Rng,
    cfg: AgentsConfig,
    media: media::Driver,
    sounds: Sounds,
    desk: Arc<D>,
    stats: Arc<Mutex<AgentStats>>,
    leg: Option<LegState>,
    seen_calls: u64,
}

async fn recv_opt<T>(rx: Option<&mut mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl<D: AgentDesk> PhoneTask<D> {
    fn count(&self, f: impl FnOnce(&mut AgentStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<UasEvent>,
        mut pops: mpsc::UnboundedReceiver<()>,
    ) {
        loop {
            let deadline = self.brain.poll_timeout();
            let (leg_events, voice) = match self.leg.as_mut() {
                Some(l) => (Some(&mut l.events), Some(&mut l.voice)),
                None => (None, None),
            };
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => self.on_sip(ev).await,
                    None => return,
                },
                Some(()) = pops.recv() => {
                    if self.leg.as_ref().is_some_and(|l| l.up) {
                        self.brain.connected(Instant::now());
                    }
                }
                Some(ev) = recv_opt(leg_events) => self.on_media(ev),
                Some(on) = recv_opt(voice) => self.brain.far_voice(Instant::now(), on),
                _ = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                } => self.brain.handle_timeout(Instant::now()),
            }
            self.act();
        }
    }

    async fn on_sip(&mut self, ev: UasEvent) {
        match ev {
            UasEvent::Incoming(inc) => {
                if self.leg.is_some() {
                    self.h.reject(inc.id, 486);
                    return;
                }
                let offer = inc.offer.as_ref().and_then(|o| RemoteMedia::parse(o).ok());
                let Some(offer) = offer else {
                    self.h.reject(inc.id, 488);
                    return;
                };
                self.h.ring(inc.id);
                let delay = self.cfg.answer_after.draw(&mut self.answer_rng);
                tokio::time::sleep(delay).await;
                let leg = match self.media.open_leg() {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(agent = %self.agent, error = %e, "simulated phone: no RTP leg");
                        self.h.reject(inc.id, 503);
                        return;
                    }
                };
                let (vtx, voice) = mpsc::unbounded_channel();
                let mut vad = Vad::default();
                let ok = self.media.set_remote(leg.id, &offer).and_then(|()| {
                    self.media.set_analyzer(
                        leg.id,
                        Box::new(move |f: &[i16; media::FRAME_SAMPLES]| {
                            if let Some(on) = vad.push(f) {
                                let _ = vtx.send(on);
                            }
                        }),
                    )
                });
                if ok.is_err() {
                    self.media.close_leg(leg.id);
                    self.h.reject(inc.id, 503);
                    return;
                }
                let sdp = LocalMedia::answer_to(&offer, leg.local.ip(), leg.local.port(), inc.id.0);
                self.h.answer(inc.id, sdp.to_sdp());
                self.leg = Some(LegState {
                    call: inc.id,
                    id: leg.id,
                    events: leg.events,
                    voice,
                    up: false,
                    current: None,
                });
            }
            UasEvent::Acked { id } => {
                if let Some(l) = self.leg.as_mut().filter(|l| l.call == id) {
                    l.up = true;
                    self.count(|s| s.legs_up += 1);
                }
            }
            UasEvent::Ended { id, .. } => {
                if self.leg.as_ref().is_some_and(|l| l.call == id) {
                    self.drop_leg();
                }
            }
            UasEvent::Refused { .. } | UasEvent::Malformed { .. } => {}
        }
    }

    fn drop_leg(&mut self) {
        if let Some(l) = self.leg.take() {
            self.media.close_leg(l.id);
            if l.up {
                self.count(|s| s.legs_down += 1);
            }
        }
        self.brain.leg_down();
    }

    fn on_media(&mut self, ev: LegEvent) {
        let Some(l) = self.leg.as_mut() else {
            return;
        };
        match ev {
            LegEvent::Media(media::Event::PromptFinished {
                id,
                completed: true,
            }) if Some(id) == l.current => {
                l.current = None;
                self.brain.prompt_done(Instant::now());
            }
            LegEvent::Media(media::Event::Inactive) => {
                let call = l.call;
                self.h.hangup(call);
                self.drop_leg();
            }
            _ => {}
        }
    }

    fn act(&mut self) {
        let calls = self.brain.calls();
        if calls > self.seen_calls {
            let n = calls - self.seen_calls;
            self.seen_calls = calls;
            self.count(|s| s.calls += n);
        }
        while let Some(a) = self.brain.poll_action() {
            let Some(l) = self.leg.as_mut() else {
                continue;
            };
            match a {
                AgentAction::Talk => {
                    l.current = self.media.play(l.id, self.sounds.agent_talk.clone()).ok();
                }
                AgentAction::Quiet => {
                    l.current = None;
                    let _ = self.media.stop_prompts(l.id);
                }
                AgentAction::Hangup => {
                    self.count(|s| s.hangups += 1);
                    let (desk, agent, stats) =
                        (self.desk.clone(), self.agent.clone(), self.stats.clone());
                    tokio::spawn(async move {
                        if let Err(e) = desk.hangup(&agent).await {
                            tracing::info!(%agent, error = %e, "simulated agent: hang-up refused");
                            stats.lock().unwrap_or_else(|e| e.into_inner()).desk_errors += 1;
                        }
                    });
                }
                AgentAction::Dispose => {
                    let codes = self.desk.catalogue(&self.agent);
                    let Some(code) = self.brain.pick(&codes) else {
                        self.count(|s| s.desk_errors += 1);
                        continue;
                    };
                    self.count(|s| {
                        s.dispositions += 1;
                        *s.by_code.entry(code.clone()).or_default() += 1;
                    });
                    let (desk, agent, stats) =
                        (self.desk.clone(), self.agent.clone(), self.stats.clone());
                    tokio::spawn(async move {
                        if let Err(e) = desk.dispose(&agent, &code).await {
                            tracing::info!(%agent, %code, error = %e, "simulated agent: disposition refused");
                            stats.lock().unwrap_or_else(|e| e.into_inner()).desk_errors += 1;
                        }
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg() -> AgentsConfig {
        AgentsConfig {
            talk: super::super::Span::secs(10.0, 10.0),
            wrap: super::super::Span::secs(3.0, 3.0),
            ..AgentsConfig::default()
        }
    }

    fn drain(b: &mut AgentBrain) -> Vec<AgentAction> {
        std::iter::from_fn(|| b.poll_action()).collect()
    }

    #[test]
    fn talks_until_talk_time_then_hangs_up_wraps_and_disposes() {
        let t0 = Instant::now();
        let mut b = AgentBrain::new(cfg(), 1);
        b.far_voice(t0, true); // the customer's "hello?" comes through the bridge
        assert_eq!(drain(&mut b), vec![AgentAction::Talk]);
        assert!(b.is_busy());
        b.prompt_done(t0 + Duration::from_secs(5));
        assert_eq!(drain(&mut b), vec![AgentAction::Talk]);
        b.handle_timeout(t0 + Duration::from_secs(9));
        assert!(drain(&mut b).is_empty());
        b.handle_timeout(t0 + Duration::from_secs(10));
        assert_eq!(drain(&mut b), vec![AgentAction::Quiet, AgentAction::Hangup]);
        b.far_voice(t0 + Duration::from_secs(11), true); // ignored in wrap-up
        assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_secs(13)));
        b.handle_timeout(t0 + Duration::from_secs(13));
        assert_eq!(drain(&mut b), vec![AgentAction::Dispose]);
        assert!(!b.is_busy());
    }

    #[test]
    fn customer_silence_means_gone() {
        let t0 = Instant::now();
        let mut b = AgentBrain::new(cfg(), 1);
        b.connected(t0); // screen pop; the customer is quiet
        assert_eq!(drain(&mut b), vec![AgentAction::Talk]);
        b.far_voice(t0 + Duration::from_millis(300), true);
        b.far_voice(t0 + Duration::from_secs(4), false); // the customer hung up
        b.handle_timeout(t0 + Duration::from_secs(5));
        assert!(drain(&mut b).is_empty());
        b.handle_timeout(t0 + Duration::from_millis(6500));
        assert_eq!(drain(&mut b), vec![AgentAction::Quiet]);
        b.handle_timeout(t0 + Duration::from_millis(9500));
        assert_eq!(drain(&mut b), vec![AgentAction::Dispose]);
    }

    #[test]
    fn leg_down_resets() {
        let t0 = Instant::now();
        let mut b = AgentBrain::new(cfg(), 1);
        b.connected(t0);
        b.leg_down();
        assert!(drain(&mut b).is_empty());
        assert_eq!(b.poll_timeout(), None);
        assert!(!b.is_busy());
    }

    #[test]
    fn dispositions_follow_weights_and_catalogue() {
        let mut c = cfg();
        c.dispositions.insert("sale".into(), 3.0);
        c.dispositions.insert("not_in_campaign".into(), 100.0);
        let mut b = AgentBrain::new(c, 2);
        let cat = vec!["sale".to_owned(), "callback".to_owned()];
        let n = 4000;
        let sales = (0..n)
            .filter(|_| b.pick(&cat).as_deref() == Some("sale"))
            .count();
        let share = sales as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.03, "{share}");
        assert_eq!(b.pick(&[]), None);
    }
}
