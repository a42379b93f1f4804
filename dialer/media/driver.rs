//! The IO shell around [`Engine`]: one UDP socket per leg from a port range, served by a few
//! worker threads (one per core by default), each with an epoll set over its share of the
//! sockets.
//!
//! A worker waits for readable sockets, reads one datagram from each ready one together with
//! the kernel's arrival stamp, then takes the engine's lock once for the whole batch: feeds the
//! datagrams in (relayed packets come out at once) and, on worker 0, which keeps the engine's
//! clock, runs the legs whose deadlines have come. What it pulled out is sent after the lock is
//! released, each packet on its leg's non-blocking socket (a full socket buffer drops it, as RTP
//! should). Commands (`play`, `bridge`, …) take the same lock from the caller's thread and send
//! what they produced themselves; a deadline that moved earlier wakes worker 0.
//!
//! Every outgoing packet's delay against its due time is counted in [`DriverStats`]: a relayed
//! packet is due when the packet it relays reached our socket (the kernel's stamp, so time spent
//! queued before we read it counts), a generated one at its 20 ms tick.
//!
//! One file of about 800 lines because it is one thing: the workers, the epoll loop, the
//! commands and the delay accounting share one lock discipline (the engine's lock taken once
//! per batch, packets sent after it is released), which is easier to check in one place.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use socket2::{SockAddr, SockRef};
use tokio::sync::mpsc;

use super::bridge::{BridgeError, Engine, LegEvent, LegId};
use super::sdp::RemoteMedia;
use super::session::{FrameSink, Pcm, PromptId, Session, SessionConfig, Stats, Transmit};
use super::sys::{self, Epoll, EventFd};
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
    /// Worker threads serving the sockets; 0: one per core.
    pub workers: usize,
    /// A busy worker waits this long after waking before it looks at its sockets again, so that
    /// it serves a batch of packets per wake-up instead of being woken for each one; a relayed
    /// packet may wait up to this long. Zero: serve each packet as soon as it is ready.
    pub poll_interval: Duration,
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
            workers: 0,
            poll_interval: Duration::from_millis(1),
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
    #[error("cannot start the media workers: {0}")]
    Start(io::Error),
}

impl MediaError {
    /// A short name of the cause, for metrics labels: `descriptors` (EMFILE/ENFILE), `no_port`,
    /// `socket` (another socket error), `other`.
    pub fn local_reason(&self) -> &'static str {
        match self {
            MediaError::NoPorts { .. } => "no_port",
            MediaError::Bind { source, .. }
                if matches!(source.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) =>
            {
                "descriptors"
            }
            MediaError::Bind { .. } | MediaError::Start(_) => "socket",
            _ => "other",
        }
    }
}

/// Counters of the whole driver.
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
    /// Datagrams read from the legs' sockets.
    pub received: u64,
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
    worker: usize,
    token: u64,
}

struct State {
    engine: Engine,
    legs: HashMap<LegId, LegIo>,
    free_ports: VecDeque<u16>,
    rng: u64,
    /// The deadline worker 0 sleeps towards.
    timer_at: Option<Instant>,
    /// Legs each worker serves.
    load: Vec<usize>,
    next_token: u64,
}

/// One worker's epoll set, its wake-up, and the sockets it serves by token.
struct Worker {
    epoll: Epoll,
    wake: EventFd,
    sockets: Mutex<HashMap<u64, (LegId, Arc<UdpSocket>)>>,
}

/// The token of a worker's eventfd (socket tokens count up from 0).
const WAKE: u64 = u64::MAX;
/// Datagrams read per wake-up (at most one per ready socket).
const BATCH: usize = 256;
/// Receive buffer per datagram; larger ones are dropped.
const MAX_DATAGRAM: usize = 2048;
/// A datagram that waited longer than this in its socket says the worker fell behind.
const STALE: Duration = Duration::from_millis(5);
/// Datagrams read from one socket per round when behind.
const MAX_PER_SOCKET: usize = 16;
/// A relayed packet is late when it leaves more than this after its source packet arrived.
const LATE: Duration = Duration::from_millis(20);

struct Shared {
    cfg: DriverConfig,
    state: Mutex<State>,
    workers: Vec<Worker>,
    stop: AtomicBool,
    sent: AtomicU64,
    late: AtomicU64,
    max_delay_us: AtomicU64,
    send_errors: AtomicU64,
    received: AtomicU64,
}

/// Stops and joins the workers when the last [`Driver`] handle goes.
struct Handle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// A handle on the media driver; clone it freely.
#[derive(Clone)]
pub struct Driver {
    shared: Arc<Shared>,
    _handle: Arc<Handle>,
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
    /// Start the driver and its worker threads (no async runtime needed).
    ///
    /// # Panics
    /// When the kernel refuses an epoll set, an eventfd or a thread (out of descriptors or
    /// memory); [`Driver::try_start`] returns that as an error instead.
    pub fn start(cfg: DriverConfig) -> Driver {
        match Driver::try_start(cfg) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    /// Start the driver and its worker threads.
    pub fn try_start(cfg: DriverConfig) -> Result<Driver, MediaError> {
        let free_ports = if cfg.port_min == 0 && cfg.port_max == 0 {
            VecDeque::new()
        } else {
            let first = cfg.port_min + (cfg.port_min & 1);
            (first..cfg.port_max).step_by(2).collect()
        };
        let n = match cfg.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let w = Worker {
                epoll: Epoll::new().map_err(MediaError::Start)?,
                wake: EventFd::new().map_err(MediaError::Start)?,
                sockets: Mutex::new(HashMap::new()),
            };
            w.epoll.add(w.wake.raw(), WAKE).map_err(MediaError::Start)?;
            workers.push(w);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                engine: Engine::new(),
                legs: HashMap::new(),
                free_ports,
                rng: cfg.seed,
                timer_at: None,
                load: vec![0; n],
                next_token: 0,
            }),
            cfg,
            workers,
            stop: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            late: AtomicU64::new(0),
            max_delay_us: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            received: AtomicU64::new(0),
        });
        let mut handle = Handle {
            shared: shared.clone(),
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let sh = shared.clone();
            let t = std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || worker(sh, i))
                .map_err(MediaError::Start)?;
            handle.threads.push(t);
        }
        Ok(Driver {
            shared,
            _handle: Arc::new(handle),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }

    fn bind(&self, st: &mut State) -> Result<(UdpSocket, Option<u16>), MediaError> {
        let cfg = &self.shared.cfg;
        if cfg.port_min == 0 && cfg.port_max == 0 {
            let addr = SocketAddr::new(cfg.bind, 0);
            return UdpSocket::bind(addr)
                .map(|s| (s, None))
                .map_err(|source| MediaError::Bind { addr, source });
        }
        for _ in 0..st.free_ports.len() {
            let Some(port) = st.free_ports.pop_front() else {
                break;
            };
            let addr = SocketAddr::new(cfg.bind, port);
            match UdpSocket::bind(addr) {
                Ok(s) => return Ok((s, Some(port))),
                // Taken by someone else: try it again later.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => st.free_ports.push_back(port),
                // Out of descriptors or the like: no other port would do better, and the error
                // says what is wrong (not "no free port").
                Err(source) => {
                    st.free_ports.push_back(port);
                    return Err(MediaError::Bind { addr, source });
                }
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
        let (sock, port) = self.bind(&mut st)?;
        let local = sock.local_addr().map_err(|source| MediaError::Bind {
            addr: SocketAddr::new(self.shared.cfg.bind, port.unwrap_or(0)),
            source,
        })?;
        let give_back = |st: &mut State| {
            if let Some(p) = port {
                st.free_ports.push_back(p);
            }
        };
        let setup = sock
            .set_nonblocking(true)
            .and_then(|()| sys::enable_rx_timestamps(sock.as_raw_fd()));
        if let Err(source) = setup {
            give_back(&mut st);
            return Err(MediaError::Bind {
                addr: local,
                source,
            });
        }
        let socket = Arc::new(sock);
        let r = splitmix(&mut st.rng);
        let mut sc = SessionConfig::new(r as u32, (r >> 32) as u16, splitmix(&mut st.rng) as u32);
        sc.inactivity = self.shared.cfg.inactivity;
        sc.keepalive = self.shared.cfg.keepalive;
        // The least busy worker.
        let worker = (0..st.load.len()).min_by_key(|&w| st.load[w]).unwrap_or(0);
        let token = st.next_token;
        st.next_token += 1;
        let id = st.engine.add(Session::new(sc));
        let w = &self.shared.workers[worker];
        {
            let mut socks = w.sockets.lock().unwrap_or_else(|e| e.into_inner());
            socks.insert(token, (id, socket.clone()));
            if let Err(source) = w.epoll.add(socket.as_raw_fd(), token) {
                socks.remove(&token);
                drop(socks);
                st.engine.remove(Instant::now(), id);
                give_back(&mut st);
                return Err(MediaError::Bind {
                    addr: local,
                    source,
                });
            }
        }
        st.load[worker] += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        st.legs.insert(
            id,
            LegIo {
                socket,
                port,
                events: tx,
                worker,
                token,
            },
        );
        Ok(Leg {
            id,
            local,
            events: rx,
        })
    }

    /// Close a leg: its socket and port are released; returns its counters.
    pub fn close_leg(&self, id: LegId) -> Option<Stats> {
        let now = Instant::now();
        let mut out = Outgoing::new();
        let (stats, socket) = {
            let mut st = self.lock();
            let session = st.engine.remove(now, id);
            drain(&mut st, &mut out);
            let socket = st.legs.remove(&id).map(|io| {
                let w = &self.shared.workers[io.worker];
                let mut socks = w.sockets.lock().unwrap_or_else(|e| e.into_inner());
                let _ = w.epoll.delete(io.socket.as_raw_fd());
                socks.remove(&io.token);
                st.load[io.worker] -= 1;
                if let Some(p) = io.port {
                    st.free_ports.push_back(p);
                }
                io.socket
            });
            (session.map(|s| s.stats().clone()), socket)
        };
        send(&self.shared, &mut out);
        // Usually the last reference: the socket closes here, before the port is reused.
        drop(socket);
        stats
    }

    /// Run `f` on a leg's session (set_remote, play, set_analyzer, …) and act on what it did.
    pub fn with<R>(&self, id: LegId, f: impl FnOnce(&mut Session) -> R) -> Result<R, MediaError> {
        let mut out = Outgoing::new();
        let r = {
            let mut st = self.lock();
            let r = st.engine.with(id, f).ok_or(MediaError::NoSuchLeg)?;
            self.after_command(&mut st, &mut out);
            r
        };
        send(&self.shared, &mut out);
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

    /// Plug the analyzer (AMD) into a leg's decoded frames. It runs on a media worker under the
    /// engine's lock, so it should be quick or hand frames on.
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
        let mut out = Outgoing::new();
        {
            let mut st = self.lock();
            st.engine.bridge(now, left, right, sink)?;
            // Both directions of the call on one worker (the less busy of the two): its sockets
            // and sessions stay in one core's cache, and each relay is read and sent by the
            // same thread.
            let worker = |id| st.legs.get(&id).map(|io: &LegIo| io.worker);
            if let (Some(l), Some(r)) = (worker(left), worker(right)) {
                if st.load[r] < st.load[l] {
                    self.move_leg(&mut st, left, r);
                } else {
                    self.move_leg(&mut st, right, l);
                }
            }
            self.after_command(&mut st, &mut out);
        }
        send(&self.shared, &mut out);
        Ok(())
    }

    /// Undo the bridge `id` is in.
    pub fn unbridge(&self, id: LegId) {
        let now = Instant::now();
        let mut out = Outgoing::new();
        {
            let mut st = self.lock();
            st.engine.unbridge(now, id);
            self.after_command(&mut st, &mut out);
        }
        send(&self.shared, &mut out);
    }

    /// Pause or resume the recording of `id`'s bridge (silence while paused); false when the
    /// bridge is not recorded.
    pub fn pause_recording(&self, id: LegId, paused: bool) -> bool {
        self.lock().engine.pause_recording(id, paused)
    }

    /// Frames received on `id`'s recorded bridge and not yet written to its recording (tests
    /// wait for 0 before ending a bridge whose recording they check); `None` if not recorded.
    pub fn recording_backlog(&self, id: LegId) -> Option<usize> {
        self.lock().engine.recording_backlog(id)
    }

    /// Number of open legs.
    pub fn legs(&self) -> usize {
        self.lock().engine.len()
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.workers.len()
    }

    /// Driver-wide counters.
    pub fn stats(&self) -> DriverStats {
        let s = &self.shared;
        DriverStats {
            sent: s.sent.load(Ordering::Relaxed),
            late: s.late.load(Ordering::Relaxed),
            max_delay_us: s.max_delay_us.load(Ordering::Relaxed),
            send_errors: s.send_errors.load(Ordering::Relaxed),
            received: s.received.load(Ordering::Relaxed),
        }
    }

    /// Serve leg `id`'s socket from worker `to` from now on. A datagram queued meanwhile is
    /// reported by the new epoll set at once (it is level-triggered).
    fn move_leg(&self, st: &mut State, id: LegId, to: usize) {
        let Some(io) = st.legs.get_mut(&id) else {
            return;
        };
        if io.worker == to {
            return;
        }
        let fd = io.socket.as_raw_fd();
        let add = |w: usize| {
            let w = &self.shared.workers[w];
            let mut socks = w.sockets.lock().unwrap_or_else(|e| e.into_inner());
            socks.insert(io.token, (id, io.socket.clone()));
            let r = w.epoll.add(fd, io.token);
            if r.is_err() {
                socks.remove(&io.token);
            }
            r
        };
        {
            let w = &self.shared.workers[io.worker];
            let mut socks = w.sockets.lock().unwrap_or_else(|e| e.into_inner());
            let _ = w.epoll.delete(fd);
            socks.remove(&io.token);
        }
        match add(to) {
            Ok(()) => {
                st.load[io.worker] -= 1;
                st.load[to] += 1;
                io.worker = to;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot move a media leg to another worker");
                if let Err(e) = add(io.worker) {
                    tracing::error!(error = %e, "a media leg lost its worker; it stops receiving");
                }
            }
        }
    }

    fn after_command(&self, st: &mut State, out: &mut Outgoing) {
        drain(st, out);
        wake_timer_if_earlier(&self.shared, st);
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for w in &self.shared.workers {
            w.wake.wake();
        }
        let me = std::thread::current().id();
        for t in self.threads.drain(..) {
            // The last handle may go on a worker itself (held by an analyzer it dropped).
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves the engine usable: take it anyway.
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pull everything the engine produced: transmits (with their sockets) to send after
/// unlocking, events straight to their legs.
fn drain(st: &mut State, out: &mut Outgoing) {
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
}

/// Wake worker 0 when the engine's next deadline is earlier than the one it sleeps towards.
fn wake_timer_if_earlier(shared: &Shared, st: &mut State) {
    let d = st.engine.poll_timeout();
    let earlier = match (d, st.timer_at) {
        (Some(d), Some(t)) => d < t,
        (Some(_), None) => true,
        _ => false,
    };
    if earlier {
        st.timer_at = d;
        shared.workers[0].wake.wake();
    }
}

fn send(shared: &Shared, out: &mut Outgoing) {
    if out.is_empty() {
        return;
    }
    let mut late = 0;
    let mut errors = 0;
    let mut max = Duration::ZERO;
    // Counted before the packets go: whoever sees a packet arrive must find it counted.
    shared.sent.fetch_add(out.len() as u64, Ordering::Relaxed);
    for (sock, t) in out.drain(..) {
        let delay = Instant::now().saturating_duration_since(t.due);
        max = max.max(delay);
        if delay > LATE {
            late += 1;
        }
        if SockRef::from(sock.as_ref())
            .send_to(&t.data, &SockAddr::from(t.dest))
            .is_err()
        {
            errors += 1;
        }
    }
    if late > 0 {
        shared.late.fetch_add(late, Ordering::Relaxed);
    }
    if errors > 0 {
        shared.send_errors.fetch_add(errors, Ordering::Relaxed);
    }
    shared
        .max_delay_us
        .fetch_max(max.as_micros() as u64, Ordering::Relaxed);
}

/// A datagram read in a batch: where it is in the batch buffer, and when it arrived.
struct Rx {
    id: LegId,
    from: SocketAddr,
    stamp: Option<SystemTime>,
    at: usize,
    len: usize,
}

/// The arrival instant of a datagram the kernel stamped at `stamp` (realtime), given a
/// monotonic and a realtime reading taken together after it arrived.
fn arrival(stamp: Option<SystemTime>, mono: Instant, real: SystemTime) -> Instant {
    match stamp.and_then(|s| real.duration_since(s).ok()) {
        // A realtime step (NTP) could make the difference absurd; trust a plausible one only.
        Some(age) if age < Duration::from_secs(10) => mono.checked_sub(age).unwrap_or(mono),
        _ => mono,
    }
}

fn worker(shared: Arc<Shared>, index: usize) {
    let mut events = sys::empty_events(BATCH);
    let mut buf = vec![0u8; BATCH * MAX_DATAGRAM];
    let mut rx: Vec<Rx> = Vec::with_capacity(BATCH);
    let mut out = Outgoing::with_capacity(BATCH);
    // Worker 0's next engine deadline.
    let mut deadline: Option<Instant> = None;
    let me = &shared.workers[index];
    let interval = shared.cfg.poll_interval;
    while !shared.stop.load(Ordering::Acquire) {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let n = match me.epoll.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, worker = index, "media worker cannot wait; it stops");
                return;
            }
        };
        let woke = Instant::now();
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve(
                &shared,
                index,
                &events[..n],
                &mut buf,
                &mut rx,
                &mut out,
                &mut deadline,
            )
        }));
        let behind = match step {
            Ok(behind) => behind,
            Err(_) => {
                // A panicking analyzer or sink must not take the worker (and its legs) down.
                tracing::error!(worker = index, "media worker caught a panic; it goes on");
                rx.clear();
                out.clear();
                deadline = (index == 0).then(Instant::now);
                true
            }
        };
        if behind {
            continue;
        }
        // Let the next batch gather (not past worker 0's next deadline).
        let until = deadline.map_or(woke + interval, |d| d.min(woke + interval));
        let now = Instant::now();
        if until > now {
            std::thread::sleep(until - now);
        }
    }
}

/// One round of a worker: read the ready sockets, run the batch (and, on worker 0, the timers)
/// through the engine under one lock, send the result. True when the worker is behind (packets
/// waited, or more sockets were ready than one round takes): the next round should not wait.
fn serve(
    shared: &Shared,
    index: usize,
    events: &[sys::EpollEvent],
    buf: &mut [u8],
    rx: &mut Vec<Rx>,
    out: &mut Outgoing,
    deadline: &mut Option<Instant>,
) -> bool {
    let me = &shared.workers[index];
    rx.clear();
    let mut behind = false;
    if !events.is_empty() {
        let socks = me.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let round = SystemTime::now();
        // Datagrams are packed one after the other (a few cache lines each, not a slot each).
        let mut at = 0;
        'events: for ev in events {
            let token = sys::token(ev);
            if token == WAKE {
                me.wake.clear();
                continue;
            }
            // A socket closed (or moved to another worker) since the wait has left the map.
            let Some((id, sock)) = socks.get(&token) else {
                continue;
            };
            for _ in 0..MAX_PER_SOCKET {
                // Full: the sockets not read yet are still ready at the next wait.
                let Some(slot) = buf.get_mut(at..at + MAX_DATAGRAM) else {
                    behind = true;
                    break 'events;
                };
                // Spurious wake-ups, ICMP errors from an earlier send, oversized datagrams:
                // nothing to feed; a level-triggered socket with more queued comes back.
                let Ok(r) = sys::recv_stamped(sock.as_raw_fd(), slot) else {
                    break;
                };
                rx.push(Rx {
                    id: *id,
                    from: r.from,
                    stamp: r.stamp,
                    at,
                    len: r.len,
                });
                at += r.len;
                // One read per ready socket while we keep up (the next packet of a 20 ms stream
                // is not there yet). A packet that waited means we fell behind: this socket may
                // hold more, so read on (one per round would never catch up).
                let waited = r
                    .stamp
                    .and_then(|s| round.duration_since(s).ok())
                    .is_some_and(|w| w > STALE);
                if !waited {
                    break;
                }
                behind = true;
            }
        }
    }
    // Every datagram of the batch arrived before these readings.
    let (now, real) = (Instant::now(), SystemTime::now());
    {
        let mut st = lock(shared);
        for r in rx.iter() {
            let data = &buf[r.at..r.at + r.len];
            let at = arrival(r.stamp, now, real);
            st.engine.handle_datagram(at, r.id, r.from, data);
        }
        if index == 0 {
            st.engine.handle_timeout(now);
        }
        drain(&mut st, out);
        if index == 0 {
            st.timer_at = st.engine.poll_timeout();
            *deadline = st.timer_at;
        } else {
            wake_timer_if_earlier(shared, &mut st);
        }
    }
    if !rx.is_empty() {
        shared
            .received
            .fetch_add(rx.len() as u64, Ordering::Relaxed);
    }
    send(shared, out);
    behind || events.len() == BATCH
}
