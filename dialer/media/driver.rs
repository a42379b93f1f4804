//! The tokio shell around [`Engine`]: one UDP socket per leg from a port range, one small
//! receive task per socket, and one timer task for every leg's deadlines.
//!
//! The engine sits behind one mutex that is never held across an await: a receive task takes
//! it to feed a datagram in (relayed packets come out at once), the timer task to run due
//! legs; what they pulled out is sent after the lock is released, straight on the legs'
//! non-blocking sockets (a full socket buffer drops the packet, as RTP should). Every outgoing
//! packet's delay against its due time (its 20 ms tick, or the arrival of the packet it relays)
//! is counted in [`DriverStats`].

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use socket2::{SockAddr, SockRef};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;

use super::bridge::{BridgeError, Engine, LegEvent, LegId};
use super::sdp::RemoteMedia;
use super::session::{FrameSink, Pcm, PromptId, Session, SessionConfig, Stats, Transmit};
use super::wav::{WavError, WavWriter};

/// How the media driver binds and behaves.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Address RTP sockets bind to.
    pub bind: IpAddr,
    /// Even ports from `port_min` up to `port_max` (exclusive); both 0: the OS picks.
    pub port_min: u16,
    pub port_max: u16,
    /// No media for this long ends a leg ([`super::Event::Inactive`]); zero disables it.
    pub inactivity: Duration,
    /// Send silence on idle legs.
    pub keepalive: bool,
    /// Seed for SSRCs and initial sequence numbers/timestamps.
    pub seed: u64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_min: 0,
            port_max: 0,
            inactivity: Duration::from_secs(30),
            keepalive: true,
            seed: 0x5eed,
        }
    }
}

/// A media driver failure.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no free RTP port in {min}..{max} on {bind}")]
    NoPorts { bind: IpAddr, min: u16, max: u16 },
    #[error("cannot bind an RTP socket on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("no such media leg")]
    NoSuchLeg,
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    #[error("recording: {0}")]
    Recording(#[from] WavError),
}

/// Send-side counters of the whole driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Packets handed to the kernel.
    pub sent: u64,
    /// Packets that left more than 20 ms after they were due.
    pub late: u64,
    /// Largest delay seen, in microseconds.
    pub max_delay_us: u64,
    /// Packets the kernel refused (full buffer, unreachable).
    pub send_errors: u64,
}

/// One open leg: its id, the local address to put in SDP, and its events.
pub struct Leg {
    pub id: LegId,
    pub local: SocketAddr,
    pub events: mpsc::UnboundedReceiver<LegEvent>,
}

struct LegIo {
    socket: Arc<UdpSocket>,
    port: Option<u16>,
    events: mpsc::UnboundedSender<LegEvent>,
    task: AbortHandle,
}

struct State {
    engine: Engine,
    legs: HashMap<LegId, LegIo>,
    free_ports: VecDeque<u16>,
    rng: u64,
    timer_at: Option<Instant>,
}

struct Shared {
    cfg: DriverConfig,
    state: Mutex<State>,
    wake: Arc<Notify>,
    timer: Mutex<Option<AbortHandle>>,
    sent: AtomicU64,
    late: AtomicU64,
    max_delay_us: AtomicU64,
    send_errors: AtomicU64,
}

/// A handle on the media driver; clone it freely.
#[derive(Clone)]
pub struct Driver {
    shared: Arc<Shared>,
}

type Outgoing = Vec<(Arc<UdpSocket>, Transmit)>;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Driver {
    /// Start the driver (its timer task) on the current tokio runtime.
    pub fn start(cfg: DriverConfig) -> Driver {
        let free_ports = if cfg.port_min == 0 && cfg.port_max == 0 {
            VecDeque::new()
        } else {
            let first = cfg.port_min + (cfg.port_min & 1);
            (first..cfg.port_max).step_by(2).collect()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                engine: Engine::new(),
                legs: HashMap::new(),
                free_ports,
                rng: cfg.seed,
                timer_at: None,
            }),
            cfg,
            wake: Arc::new(Notify::new()),
            timer: Mutex::new(None),
            sent: AtomicU64::new(0),
            late: AtomicU64::new(0),
            max_delay_us: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
        });
        let timer = tokio::spawn(timer_task(Arc::downgrade(&shared), shared.wake.clone()));
        if let Ok(mut t) = shared.timer.lock() {
            *t = Some(timer.abort_handle());
        }
        Driver { shared }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }

    fn bind(&self, st: &mut State) -> Result<(std::net::UdpSocket, Option<u16>), MediaError> {
        let cfg = &self.shared.cfg;
        if cfg.port_min == 0 && cfg.port_max == 0 {
            let addr = SocketAddr::new(cfg.bind, 0);
            return std::net::UdpSocket::bind(addr)
                .map(|s| (s, None))
                .map_err(|source| MediaError::Bind { addr, source });
        }
        for _ in 0..st.free_ports.len() {
            let Some(port) = st.free_ports.pop_front() else {
                break;
            };
            let addr = SocketAddr::new(cfg.bind, port);
            match std::net::UdpSocket::bind(addr) {
                Ok(s) => return Ok((s, Some(port))),
                // Taken by someone else: try it again later.
                Err(_) => st.free_ports.push_back(port),
            }
        }
        Err(MediaError::NoPorts {
            bind: cfg.bind,
            min: cfg.port_min,
            max: cfg.port_max,
        })
    }

    /// Open a leg: bind its socket and start receiving. Give its `local` address in the SDP.
    pub fn open_leg(&self) -> Result<Leg, MediaError> {
        let mut st = self.lock();
        let (std_sock, port) = self.bind(&mut st)?;
        let local = std_sock.local_addr().map_err(|source| MediaError::Bind {
            addr: SocketAddr::new(self.shared.cfg.bind, port.unwrap_or(0)),
            source,
        })?;
        let bind_err = |source| MediaError::Bind {
            addr: local,
            source,
        };
        std_sock.set_nonblocking(true).map_err(bind_err)?;
        let socket = Arc::new(UdpSocket::from_std(std_sock).map_err(bind_err)?);
        let r = splitmix(&mut st.rng);
        let mut sc = SessionConfig::new(r as u32, (r >> 32) as u16, splitmix(&mut st.rng) as u32);
        sc.inactivity = self.shared.cfg.inactivity;
        sc.keepalive = self.shared.cfg.keepalive;
        let id = st.engine.add(Session::new(sc));
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(recv_task(Arc::downgrade(&self.shared), id, socket.clone()))
            .abort_handle();
        st.legs.insert(
            id,
            LegIo {
                socket,
                port,
                events: tx,
                task,
            },
        );
        Ok(Leg {
            id,
            local,
            events: rx,
        })
    }

    /// Close a leg: its socket, task and port are released; returns its counters.
    pub fn close_leg(&self, id: LegId) -> Option<Stats> {
        let now = Instant::now();
        let (stats, out) = {
            let mut st = self.lock();
            let session = st.engine.remove(now, id);
            let out = drain(&mut st);
            if let Some(io) = st.legs.remove(&id) {
                io.task.abort();
                if let Some(p) = io.port {
                    st.free_ports.push_back(p);
                }
            }
            (session.map(|s| s.stats().clone()), out)
        };
        self.send(out);
        stats
    }

    /// Run `f` on a leg's session (set_remote, play, set_analyzer, …) and act on what it did.
    pub fn with<R>(&self, id: LegId, f: impl FnOnce(&mut Session) -> R) -> Result<R, MediaError> {
        let (r, out) = {
            let mut st = self.lock();
            let r = st.engine.with(id, f).ok_or(MediaError::NoSuchLeg)?;
            (r, drain(&mut st))
        };
        self.send(out);
        Ok(r)
    }

    /// Take the far end's SDP.
    pub fn set_remote(&self, id: LegId, remote: &RemoteMedia) -> Result<(), MediaError> {
        let now = Instant::now();
        self.with(id, |s| s.set_remote(now, remote))
    }

    /// Queue a prompt.
    pub fn play(&self, id: LegId, pcm: Pcm) -> Result<PromptId, MediaError> {
        let now = Instant::now();
        self.with(id, |s| s.play(now, pcm))
    }

    /// Stop every queued prompt.
    pub fn stop_prompts(&self, id: LegId) -> Result<(), MediaError> {
        self.with(id, |s| s.stop_prompts())
    }

    /// Plug the analyzer (AMD) into a leg's decoded frames. It runs under the driver's lock,
    /// so it should be quick or hand frames on.
    pub fn set_analyzer(&self, id: LegId, sink: Box<dyn FrameSink>) -> Result<(), MediaError> {
        self.with(id, |s| s.set_analyzer(Some(sink)))
    }

    /// Bridge two legs (customer left, agent right); record to `recording` (a stereo WAV) if given.
    pub fn bridge(
        &self,
        left: LegId,
        right: LegId,
        recording: Option<&Path>,
    ) -> Result<(), MediaError> {
        let sink = match recording {
            Some(p) => {
                if let Some(dir) = p.parent() {
                    std::fs::create_dir_all(dir).map_err(|source| WavError::Io {
                        path: dir.to_owned(),
                        source,
                    })?;
                }
                Some(Box::new(WavWriter::create(p, 2)?) as Box<dyn super::RecordSink>)
            }
            None => None,
        };
        let now = Instant::now();
        let out = {
            let mut st = self.lock();
            st.engine.bridge(now, left, right, sink)?;
            drain(&mut st)
        };
        self.send(out);
        Ok(())
    }

    /// Undo the bridge `id` is in.
    pub fn unbridge(&self, id: LegId) {
        let now = Instant::now();
        let out = {
            let mut st = self.lock();
            st.engine.unbridge(now, id);
            drain(&mut st)
        };
        self.send(out);
    }

    /// Number of open legs.
    pub fn legs(&self) -> usize {
        self.lock().engine.len()
    }

    /// Send-side counters.
    pub fn stats(&self) -> DriverStats {
        let s = &self.shared;
        DriverStats {
            sent: s.sent.load(Ordering::Relaxed),
            late: s.late.load(Ordering::Relaxed),
            max_delay_us: s.max_delay_us.load(Ordering::Relaxed),
            send_errors: s.send_errors.load(Ordering::Relaxed),
        }
    }

    /// Send what a command produced, and let the timer task see new deadlines.
    fn send(&self, out: Outgoing) {
        self.shared.wake.notify_one();
        send(&self.shared, out);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Ok(Some(t)) = self.timer.get_mut().map(|t| t.take()) {
            t.abort();
        }
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for io in st.legs.values() {
            io.task.abort();
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves the engine usable: take it anyway.
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pull everything the engine produced: transmits (with their sockets) to send after
/// unlocking, events straight to their legs; wake the timer task if a deadline moved earlier.
fn drain(st: &mut State) -> Outgoing {
    let mut out = Vec::new();
    while let Some((id, t)) = st.engine.poll_transmit() {
        if let Some(io) = st.legs.get(&id) {
            out.push((io.socket.clone(), t));
        }
    }
    while let Some((id, ev)) = st.engine.poll_event() {
        if let Some(io) = st.legs.get(&id) {
            let _ = io.events.send(ev);
        }
    }
    out
}

fn needs_wake(st: &mut State) -> bool {
    match (st.engine.poll_timeout(), st.timer_at) {
        (Some(d), Some(t)) => d < t,
        (Some(_), None) => true,
        _ => false,
    }
}

fn send(shared: &Shared, out: Outgoing) {
    if out.is_empty() {
        return;
    }
    let mut late = 0;
    let mut errors = 0;
    let mut max = 0;
    let now = Instant::now();
    for (sock, t) in &out {
        let delay = now.saturating_duration_since(t.due).as_micros() as u64;
        max = max.max(delay);
        if delay > 20_000 {
            late += 1;
        }
        if SockRef::from(sock.as_ref())
            .send_to(&t.data, &SockAddr::from(t.dest))
            .is_err()
        {
            errors += 1;
        }
    }
    shared.sent.fetch_add(out.len() as u64, Ordering::Relaxed);
    if late > 0 {
        shared.late.fetch_add(late, Ordering::Relaxed);
    }
    if errors > 0 {
        shared.send_errors.fetch_add(errors, Ordering::Relaxed);
    }
    shared.max_delay_us.fetch_max(max, Ordering::Relaxed);
}

async fn recv_task(weak: Weak<Shared>, id: LegId, socket: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(v) => v,
            // ICMP errors from an earlier send surface here on some systems: not fatal.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(e) => {
                tracing::warn!(error = %e, "RTP socket receive failed; leg stops receiving");
                return;
            }
        };
        let now = Instant::now();
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let (out, wake) = {
            let mut st = lock(&shared);
            st.engine.handle_datagram(now, id, from, &buf[..n]);
            (drain(&mut st), needs_wake(&mut st))
        };
        if wake {
            shared.wake.notify_one();
        }
        send(&shared, out);
    }
}

async fn timer_task(weak: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let at = {
            let mut st = lock(&shared);
            st.timer_at = st.engine.poll_timeout();
            st.timer_at
        };
        drop(shared);
        match at {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = wake.notified() => continue,
                }
            }
            None => {
                wake.notified().await;
                continue;
            }
        }
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let now = Instant::now();
        let out = {
            let mut st = lock(&shared);
            st.engine.handle_timeout(now);
            drain(&mut st)
        };
        send(&shared, out);
    }
}
