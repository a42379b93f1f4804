//! The simulated carrier: one UAS socket that takes the dialer's trunk INVITEs and plays each
//! call out as [`Plan::draw`] decided (seeded by the call's arrival number), with real RTP from
//! the media driver. [`CarrierStats`] counts what it did, for the demo's table and for tests.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::callee::{Action, Callee, HangupWhy, Kind, Plan};
use super::vad::Vad;
use super::{CarrierConfig, SimError, Sounds};
use crate::media::sdp::{LocalMedia, RemoteMedia};
use crate::media::{self, LegEvent, PromptId};
use crate::sip::uas::driver::{UasDriver, UasHandle};
use crate::sip::uas::{EndReason, InboundId, Incoming, UasConfig, UasEvent};

/// What the carrier did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CarrierStats {
    /// INVITEs taken.
    pub calls: u64,
    /// Each call's drawn fate, by [`Kind::key`].
    pub planned: BTreeMap<&'static str, u64>,
    /// The dialer gave up (CANCEL) before the planned answer or rejection.
    pub cancelled_before_answer: u64,
    pub answered: u64,
    /// Persons someone spoke to.
    pub persons_spoken_to: u64,
    /// Persons who hung up because nobody spoke to them.
    pub persons_hung_up_unspoken: u64,
    /// Persons who hung up after their talk time.
    pub persons_hung_up_after_talk: u64,
    /// Machines that recorded a message after the beep.
    pub messages_recorded: u64,
    /// Machines that heard the dialer's side before their beep.
    pub spoke_before_beep: u64,
    /// Answered calls the dialer ended.
    pub hung_up_by_dialer: u64,
    /// Requests from sources not allowed.
    pub refused: u64,
    /// Calls that could not get media (bad offer, no port).
    pub media_failures: u64,
}

/// The plan of the carrier's `n`-th call (from 1) under `seed`: what [`Carrier`] does, for
/// tests and reports that want to know what to expect.
pub fn plan_for(cfg: &CarrierConfig, seed: u64, n: u64) -> Plan {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
    Plan::draw(cfg, &mut rng)
}

/// A running simulated carrier.
pub struct Carrier {
    handle: UasHandle,
    stats: Arc<Mutex<CarrierStats>>,
    task: JoinHandle<()>,
}

enum Signal {
    Acked,
    Ended(EndReason),
}

struct Shared {
    cfg: CarrierConfig,
    handle: UasHandle,
    media: media::Driver,
    sounds: Sounds,
    stats: Arc<Mutex<CarrierStats>>,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut CarrierStats)) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s);
    }
}

impl Carrier {
    /// Listen on `bind` (port 0: the OS picks) for INVITEs from `allowed` sources, on the
    /// current tokio runtime. RTP legs come from `media`.
    pub async fn start(
        bind: SocketAddr,
        allowed: Vec<IpAddr>,
        cfg: CarrierConfig,
        seed: u64,
        media: media::Driver,
        sounds: Sounds,
    ) -> Result<Carrier, SimError> {
        let mut ucfg = UasConfig::new(bind);
        ucfg.allowed = allowed;
        ucfg.user_agent = "dialer-simnet-carrier".into();
        let drv = UasDriver::start(bind, ucfg, seed)
            .await
            .map_err(|source| SimError::Bind {
                what: "the simulated carrier".into(),
                addr: bind,
                source,
            })?;
        let stats = Arc::new(Mutex::new(CarrierStats::default()));
        let shared = Arc::new(Shared {
            cfg,
            handle: drv.handle.clone(),
            media,
            sounds,
            stats: stats.clone(),
        });
        let task = tokio::spawn(run(shared, seed, drv.events));
        Ok(Carrier {
            handle: drv.handle,
            stats,
            task,
        })
    }

    /// Where the dialer's trunk should point.
    pub fn local(&self) -> SocketAddr {
        self.handle.local()
    }

    pub fn stats(&self) -> CarrierStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Carrier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(shared: Arc<Shared>, seed: u64, mut events: mpsc::UnboundedReceiver<UasEvent>) {
    let mut calls: HashMap<InboundId, mpsc::UnboundedSender<Signal>> = HashMap::new();
    let mut n = 0u64;
    while let Some(ev) = events.recv().await {
        match ev {
            UasEvent::Incoming(inc) => {
                n += 1;
                let plan = plan_for(&shared.cfg, seed, n);
                shared.count(|s| {
                    s.calls += 1;
                    *s.planned.entry(plan.kind.key()).or_default() += 1;
                });
                let (tx, rx) = mpsc::unbounded_channel();
                calls.insert(inc.id, tx);
                tokio::spawn(call(shared.clone(), *inc, plan, rx));
            }
            UasEvent::Acked { id } => {
                if let Some(tx) = calls.get(&id) {
                    let _ = tx.send(Signal::Acked);
                }
            }
            UasEvent::Ended { id, reason, .. } => {
                if let Some(tx) = calls.remove(&id) {
                    let _ = tx.send(Signal::Ended(reason));
                }
            }
            UasEvent::Refused { .. } => shared.count(|s| s.refused += 1),
            UasEvent::Malformed { from, error } => {
                tracing::debug!(%from, %error, "simulated carrier: malformed datagram");
            }
        }
    }
}

/// Wait `d` unless the call ends first (then its reason).
async fn wait(sig: &mut mpsc::UnboundedReceiver<Signal>, d: Duration) -> Option<EndReason> {
    let until = tokio::time::Instant::now() + d;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return None,
            s = sig.recv() => match s {
                Some(Signal::Ended(r)) => return Some(r),
                Some(Signal::Acked) => {}
                None => return Some(EndReason::Hangup),
            },
        }
    }
}

async fn call(
    sh: Arc<Shared>,
    inc: Incoming,
    plan: Plan,
    mut sig: mpsc::UnboundedReceiver<Signal>,
) {
    let id = inc.id;
    let h = &sh.handle;
    if let Some(status) = plan.kind.status() {
        match wait(&mut sig, plan.ring.unwrap_or_default()).await {
            Some(_) => sh.count(|s| s.cancelled_before_answer += 1),
            None => h.reject(id, status),
        }
        return;
    }
    h.ring(id);
    let Some(ring) = plan.ring else {
        // No answer: ring until the dialer cancels (or the UAS's max ring).
        while let Some(Signal::Acked) = sig.recv().await {}
        return;
    };
    if wait(&mut sig, ring).await.is_some() {
        sh.count(|s| s.cancelled_before_answer += 1);
        return;
    }
    let offer = inc.offer.as_ref().and_then(|o| RemoteMedia::parse(o).ok());
    let Some(offer) = offer else {
        sh.count(|s| s.media_failures += 1);
        h.reject(id, 488);
        return;
    };
    let mut leg = match sh.media.open_leg() {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "simulated carrier: no RTP leg");
            sh.count(|s| s.media_failures += 1);
            h.reject(id, 503);
            return;
        }
    };
    let answer = LocalMedia::answer_to(&offer, leg.local.ip(), leg.local.port(), id.0);
    let (vtx, mut voice) = mpsc::unbounded_channel();
    let mut vad = Vad::default();
    let ok = sh.media.set_remote(leg.id, &offer).and_then(|()| {
        sh.media.set_analyzer(
            leg.id,
            Box::new(move |f: &[i16; media::FRAME_SAMPLES]| {
                if let Some(on) = vad.push(f) {
                    let _ = vtx.send(on);
                }
            }),
        )
    });
    if ok.is_err() {
        sh.count(|s| s.media_failures += 1);
        sh.media.close_leg(leg.id);
        h.reject(id, 503);
        return;
    }
    h.answer(id, answer.to_sdp());
    // Wait for the ACK (the UAS ends the call with a BYE if none comes).
    match sig.recv().await {
        Some(Signal::Acked) => {}
        _ => {
            sh.media.close_leg(leg.id);
            return;
        }
    }
    sh.count(|s| s.answered += 1);
    let mut callee = Callee::new(&plan, &sh.cfg);
    callee.start(Instant::now());
    let mut current: Option<PromptId> = None;
    let mut we_hung_up = false;
    'call: loop {
        while let Some(a) = callee.poll_action() {
            match a {
                Action::Play(c) => current = sh.media.play(leg.id, sh.sounds.clip(c)).ok(),
                Action::Stop => {
                    current = None;
                    let _ = sh.media.stop_prompts(leg.id);
                }
                Action::Hangup => {
                    we_hung_up = true;
                    break 'call;
                }
            }
        }
        let deadline = callee.poll_timeout();
        tokio::select! {
            s = sig.recv() => match s {
                Some(Signal::Acked) => {}
                Some(Signal::Ended(_)) | None => {
                    callee.far_hangup();
                    break 'call;
                }
            },
            Some(ev) = leg.events.recv() => match ev {
                LegEvent::Media(media::Event::PromptFinished { id: p, completed: true })
                    if Some(p) == current =>
                {
                    current = None;
                    callee.prompt_done(Instant::now());
                }
                LegEvent::Media(media::Event::Inactive) => {
                    we_hung_up = true;
                    break 'call;
                }
                _ => {}
            },
            Some(on) = voice.recv() => callee.far_voice(Instant::now(), on),
            _ = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => callee.handle_timeout(Instant::now()),
        }
    }
    sh.media.close_leg(leg.id);
    // Counted before our BYE leaves, so whoever sees the call end sees it counted.
    sh.count(|s| {
        if plan.kind == Kind::Person && callee.spoken_to().is_some() {
            s.persons_spoken_to += 1;
        }
        if plan.kind == Kind::Machine && callee.voice_before_beep() {
            s.spoke_before_beep += 1;
        }
        if !we_hung_up {
            s.hung_up_by_dialer += 1;
        }
        match callee.hangup_reason() {
            Some(HangupWhy::Silence) => s.persons_hung_up_unspoken += 1,
            Some(HangupWhy::Talked) => s.persons_hung_up_after_talk += 1,
            Some(HangupWhy::MessageRecorded) => s.messages_recorded += 1,
            Some(HangupWhy::NoMessage) | None => {}
        }
    });
    if we_hung_up {
        h.hangup(id);
    }
}
