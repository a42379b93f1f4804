//! The tokio shell around [`Endpoint`]: one task owns the UDP socket (and outbound TCP
//! connections where a trunk asks for them), one timer from `poll_timeout`, and routes
//! datagrams; per-trunk limits (channels, calls per second) are taken just before the INVITE.
//!
//! [`Sip::start`] gives a cloneable handle; [`Sip::place_call`] waits for a free channel and the
//! trunk's rate limiter, then returns a [`CallHandle`] whose events end with the
//! [`CallReport`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;

use super::call::{CallEvent, CallId, CallReport, CallSpec, Credentials};
use super::endpoint::{Endpoint, EndpointConfig, EndpointEvent, EndpointStats};
use super::guard;
use super::message::{Transport, Uri, stream_frame_len};
use super::registrar::{Registrar, RegistrarEvent};
use super::transaction::{Timers, TxStats};

/// A trunk as the SIP layer needs it (the daemon builds it from its config).
#[derive(Debug, Clone, PartialEq)]
pub struct TrunkConfig {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Concurrent calls at most (0: unlimited).
    pub max_channels: u32,
    /// New calls per second at most, evenly spaced (0: unlimited).
    pub calls_per_second: f64,
}

/// How to start the SIP layer.
#[derive(Debug, Clone)]
pub struct SipConfig {
    pub bind: SocketAddr,
    /// Address to advertise in Via/Contact when the bind address is not it (NAT, 0.0.0.0).
    pub public_ip: Option<IpAddr>,
    pub trunks: Vec<TrunkConfig>,
    /// Other sources whose requests are served (agents' phones).
    pub allowed: Vec<IpAddr>,
    pub timers: Timers,
}

/// Errors from the SIP layer's API.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    #[error("SIP socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("trunk `{0}` is not configured")]
    UnknownTrunk(String),
    #[error("cannot resolve `{host}`: {why}")]
    Resolve { host: String, why: String },
    #[error("bad target `{0}`: a number (digits, optional +) or a sip: URI")]
    BadTarget(String),
    #[error("trunk `{0}` has no credentials but its user name needs a password")]
    NoPassword(String),
    #[error("the SIP task has stopped")]
    Stopped,
    #[error(
        "SIP user `{0}` has not registered (no live binding: is the phone on and its password right?)"
    )]
    NotRegistered(String),
}

/// Who to call.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A number, sent through a trunk.
    Number(String),
    /// A SIP URI, sent straight to its host.
    Uri(Uri),
    /// A registered SIP user: the contact it registered last, sent to the address that
    /// REGISTER came from (behind NAT the contact's own address is unreachable).
    Registered(String),
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, SipError> {
        let s = s.trim();
        if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sip:")) {
            return Uri::parse(s)
                .map(Target::Uri)
                .map_err(|_| SipError::BadTarget(s.to_owned()));
        }
        let digits = s.strip_prefix('+').unwrap_or(s);
        if !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Target::Number(s.to_owned()));
        }
        Err(SipError::BadTarget(s.to_owned()))
    }
}

/// One call to place.
#[derive(Debug, Clone)]
pub struct PlaceCall {
    pub target: Target,
    /// Required for a number (default: the first trunk); ignored for a URI.
    pub trunk: Option<String>,
    /// Caller ID (user part of From).
    pub caller_id: Option<String>,
    pub offer: Option<(String, Bytes)>,
    pub ring_timeout: Duration,
    pub talk_limit: Option<Duration>,
}

/// Where a registered user's phone is: what the daemon needs to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub uri: Uri,
    /// The address its REGISTER came from.
    pub source: SocketAddr,
    pub transport: Transport,
}

struct TrunkState {
    cfg: TrunkConfig,
    dest: SocketAddr,
    channels: Option<Arc<Semaphore>>,
    cps: Option<DefaultDirectRateLimiter>,
}

enum Cmd {
    Place {
        id: CallId,
        spec: Box<CallSpec>,
        /// The SIP Call-ID to use (`None`: a fresh random one).
        call_id: Option<String>,
        events: mpsc::UnboundedSender<CallEvent>,
        permit: Option<OwnedSemaphorePermit>,
    },
    Hangup(CallId),
}

/// Handle on the running SIP layer (cheap to clone).
#[derive(Clone)]
pub struct Sip {
    cmd: mpsc::UnboundedSender<Cmd>,
    trunks: Arc<HashMap<String, TrunkState>>,
    first_trunk: Option<String>,
    local: SocketAddr,
    stats: Arc<Mutex<(EndpointStats, TxStats)>>,
    next_id: Arc<AtomicU64>,
    /// Each registered user's current contact (kept by the SIP task).
    contacts: Arc<Mutex<HashMap<String, Contact>>>,
    registrations: Arc<Mutex<Option<mpsc::UnboundedReceiver<RegistrarEvent>>>>,
}

/// One placed call: its events, and a way to end it.
pub struct CallHandle {
    pub id: CallId,
    events: mpsc::UnboundedReceiver<CallEvent>,
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl CallHandle {
    /// The next event; `None` after `Ended` was delivered.
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    /// CANCEL before the answer, BYE after.
    pub fn hangup(&self) {
        let _ = self.cmd.send(Cmd::Hangup(self.id));
    }

    /// Wait for the end and return the report.
    pub async fn report(mut self) -> Result<CallReport, SipError> {
        while let Some(ev) = self.events.recv().await {
            if let CallEvent::Ended(r) = ev {
                return Ok(*r);
            }
        }
        Err(SipError::Stopped)
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, SipError> {
    let err = |why: String| SipError::Resolve {
        host: host.to_owned(),
        why,
    };
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let mut addrs = tokio::net::lookup_host((h, port))
        .await
        .map_err(|e| err(e.to_string()))?;
    addrs.next().ok_or_else(|| err("no address".into()))
}

impl Sip {
    /// Bind, resolve trunks, and spawn the SIP task (on the current tokio runtime).
    pub async fn start(cfg: SipConfig) -> Result<Sip, SipError> {
        Self::start_with_registrar(cfg, None).await
    }

    /// [`Self::start`] taking REGISTERs from agents' softphones with `registrar`; what it
    /// does comes out of [`Self::take_registrations`].
    pub async fn start_with_registrar(
        cfg: SipConfig,
        registrar: Option<Registrar>,
    ) -> Result<Sip, SipError> {
        let socket = UdpSocket::bind(cfg.bind).await?;
        let bound = socket.local_addr()?;
        let mut trunks = HashMap::new();
        let mut allowed = cfg.allowed.clone();
        for t in &cfg.trunks {
            if t.username.is_some() && t.password.is_none() {
                return Err(SipError::NoPassword(t.name.clone()));
            }
            let dest = resolve(&t.host, t.port).await?;
            allowed.push(dest.ip());
            let channels =
                (t.max_channels > 0).then(|| Arc::new(Semaphore::new(t.max_channels as usize)));
            let cps = (t.calls_per_second > 0.0).then(|| {
                let q = Quota::with_period(Duration::from_secs_f64(1.0 / t.calls_per_second))
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(NonZeroU32::MIN);
                RateLimiter::direct(q)
            });
            trunks.insert(
                t.name.clone(),
                TrunkState {
                    cfg: t.clone(),
                    dest,
                    channels,
                    cps,
                },
            );
        }
        let ip = match (cfg.public_ip, bound.ip()) {
            (Some(ip), _) => ip,
            (None, ip) if !ip.is_unspecified() => ip,
            // 0.0.0.0: the address the kernel would use toward the first trunk.
            (None, _) => match trunks.values().next() {
                Some(t) => {
                    let probe = std::net::UdpSocket::bind((bound.ip(), 0))?;
                    probe.connect(t.dest)?;
                    probe.local_addr()?.ip()
                }
                None => IpAddr::from([127, 0, 0, 1]),
            },
        };
        let local = SocketAddr::new(ip, bound.port());
        let mut ecfg = EndpointConfig::new(local);
        ecfg.allowed = allowed;
        ecfg.timers = cfg.timers;
        let seed = rand::rng().next_u64();
        let mut ep = Endpoint::new(ecfg, seed);
        if let Some(r) = registrar {
            ep.set_registrar(r);
        }
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new((EndpointStats::default(), TxStats::default())));
        let first_trunk = cfg.trunks.first().map(|t| t.name.clone());
        let contacts = Arc::new(Mutex::new(HashMap::new()));
        let (reg_tx, reg_rx) = mpsc::unbounded_channel();
        let shared = Shared {
            stats: stats.clone(),
            contacts: contacts.clone(),
            registrations: reg_tx,
        };
        tokio::spawn(run(ep, socket, cmd_rx, shared));
        Ok(Sip {
            cmd: cmd_tx,
            trunks: Arc::new(trunks),
            first_trunk,
            local,
            stats,
            next_id: Arc::new(AtomicU64::new(1)),
            contacts,
            registrations: Arc::new(Mutex::new(Some(reg_rx))),
        })
    }

    /// The address we advertise (and receive on).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The registrar's events (bindings made and gone, refusals), once: the first caller
    /// gets the receiver.
    pub fn take_registrations(&self) -> Option<mpsc::UnboundedReceiver<RegistrarEvent>> {
        self.registrations.lock().ok()?.take()
    }

    /// Where a registered user's phone is now, if it is registered.
    pub fn contact(&self, user: &str) -> Option<Contact> {
        self.contacts.lock().ok()?.get(user).cloned()
    }

    /// Counters so far (malformed datagrams, rejected INVITEs …).
    pub fn stats(&self) -> EndpointStats {
        self.stats.lock().map(|s| s.0).unwrap_or_default()
    }

    /// Transaction counters so far (time-outs, retransmissions).
    pub fn transaction_stats(&self) -> TxStats {
        self.stats.lock().map(|s| s.1).unwrap_or_default()
    }

    /// A fresh SIP Call-ID (random, `…@` our address) for [`Self::place_call_with_id`]: the
    /// daemon stores it with the attempt before the INVITE leaves.
    pub fn new_call_id(&self) -> String {
        let mut rng = rand::rng();
        format!(
            "{:016x}{:016x}@{}",
            rng.next_u64(),
            rng.next_u64(),
            self.local.ip()
        )
    }

    /// Place a call: waits for a free channel on the trunk, then for its rate limiter, then
    /// sends the INVITE.
    pub async fn place_call(&self, p: PlaceCall) -> Result<CallHandle, SipError> {
        self.place(p, None).await
    }

    /// [`Self::place_call`] with the INVITE's Call-ID chosen by the caller (from
    /// [`Self::new_call_id`]; it must be unique).
    pub async fn place_call_with_id(
        &self,
        p: PlaceCall,
        call_id: String,
    ) -> Result<CallHandle, SipError> {
        self.place(p, Some(call_id)).await
    }

    async fn place(&self, p: PlaceCall, call_id: Option<String>) -> Result<CallHandle, SipError> {
        let user = p.caller_id.clone().unwrap_or_else(|| "dialer".into());
        let (target, dest, transport, credentials, from_host, permit) = match &p.target {
            Target::Uri(u) => {
                let dest = match u.socket_addr() {
                    Some(a) => a,
                    None => resolve(&u.host, u.port.unwrap_or(5060)).await?,
                };
                let from_host = self.local.ip().to_string();
                (
                    u.clone(),
                    dest,
                    u.transport.unwrap_or_default(),
                    None,
                    from_host,
                    None,
                )
            }
            Target::Registered(user) => {
                let c = self
                    .contact(user)
                    .ok_or_else(|| SipError::NotRegistered(user.clone()))?;
                let from_host = self.local.ip().to_string();
                (c.uri, c.source, c.transport, None, from_host, None)
            }
            Target::Number(n) => {
                let name = p
                    .trunk
                    .clone()
                    .or_else(|| self.first_trunk.clone())
                    .unwrap_or_default();
                let t = self
                    .trunks
                    .get(&name)
                    .ok_or(SipError::UnknownTrunk(name.clone()))?;
                let permit = match &t.channels {
                    Some(s) => Some(
                        s.clone()
                            .acquire_owned()
                            .await
                            .map_err(|_| SipError::Stopped)?,
                    ),
                    None => None,
                };
                if let Some(l) = &t.cps {
                    l.until_ready().await;
                }
                let port = (t.cfg.port != 5060).then_some(t.cfg.port);
                let uri = Uri::sip(Some(n), &t.cfg.host, port)
                    .map_err(|_| SipError::BadTarget(n.clone()))?;
                let creds = match (&t.cfg.username, &t.cfg.password) {
                    (Some(u), Some(pw)) => Some(Credentials {
                        username: u.clone(),
                        password: pw.clone(),
                    }),
                    _ => None,
                };
                (
                    uri,
                    t.dest,
                    t.cfg.transport,
                    creds,
                    t.cfg.host.clone(),
                    permit,
                )
            }
        };
        // A registered phone is reached only through the address it registered from.
        let pinned = matches!(p.target, Target::Registered(_));
        let from =
            Uri::sip(Some(&user), &from_host, None).map_err(|_| SipError::BadTarget(user))?;
        let spec = CallSpec {
            target,
            dest,
            transport,
            from,
            credentials,
            offer: p.offer,
            ring_timeout: p.ring_timeout,
            talk_limit: p.talk_limit,
            wall_start: jiff::Timestamp::now(),
            pinned,
        };
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let id = CallId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.cmd
            .send(Cmd::Place {
                id,
                spec: Box::new(spec),
                call_id,
                events: ev_tx,
                permit,
            })
            .map_err(|_| SipError::Stopped)?;
        Ok(CallHandle {
            id,
            events: ev_rx,
            cmd: self.cmd.clone(),
        })
    }
}

struct Live {
    events: mpsc::UnboundedSender<CallEvent>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// Bytes read from a TCP connection, framed.
struct TcpIn {
    from: SocketAddr,
    bytes: Bytes,
}

/// What the SIP task shares with its handles.
struct Shared {
    stats: Arc<Mutex<(EndpointStats, TxStats)>>,
    contacts: Arc<Mutex<HashMap<String, Contact>>>,
    registrations: mpsc::UnboundedSender<RegistrarEvent>,
}

async fn run(
    mut ep: Endpoint,
    socket: UdpSocket,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    shared: Shared,
) {
    let stats = shared.stats.clone();
    let mut buf = vec![0u8; 65_535];
    let mut calls: HashMap<CallId, Live> = HashMap::new();
    let mut tcp: HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>> = HashMap::new();
    let (tcp_in_tx, mut tcp_in) = mpsc::unbounded_channel::<TcpIn>();
    let mut cmds_open = true;
    loop {
        // Drain every output before sleeping.
        while let Some(t) = ep.poll_transmit() {
            match t.transport {
                Transport::Udp => {
                    if let Err(e) = socket.send_to(&t.bytes, t.to).await {
                        tracing::warn!(to = %t.to, error = %e, "SIP send failed");
                    }
                }
                Transport::Tcp => {
                    let conn = tcp
                        .entry(t.to)
                        .or_insert_with(|| tcp_connect(t.to, tcp_in_tx.clone()));
                    if conn.send(t.bytes.clone()).is_err() {
                        let conn = tcp_connect(t.to, tcp_in_tx.clone());
                        let _ = conn.send(t.bytes);
                        tcp.insert(t.to, conn);
                    }
                }
            }
        }
        while let Some(ev) = ep.poll_event() {
            match ev {
                EndpointEvent::Call { id, event } => {
                    let ended = matches!(event, CallEvent::Ended(_));
                    if let Some(live) = calls.get(&id) {
                        let _ = live.events.send(event);
                    }
                    if ended {
                        calls.remove(&id); // frees the trunk channel
                    }
                }
                EndpointEvent::Rejected {
                    from,
                    method,
                    reason,
                    answered,
                    log,
                } => {
                    metrics::counter!(
                        "dialer_sip_rejected_requests_total",
                        "method" => guard::method_label(&method),
                        "reason" => reason.as_str()
                    )
                    .increment(1);
                    if let Some(held_back) = log {
                        let answer =
                            answered.map_or("dropped".to_owned(), |s| format!("answered {s}"));
                        tracing::warn!(
                            %from,
                            method = guard::method_label(&method),
                            %reason,
                            held_back,
                            "SIP request refused ({answer}); at most one line per source every 10 s, \
                             dialer_sip_rejected_requests_total counts them all"
                        );
                    }
                }
                EndpointEvent::Registrar(ev) => {
                    registrar_event(&ev);
                    if let (Some(r), Ok(mut map)) = (ep.registrar(), shared.contacts.lock()) {
                        let user = match &ev {
                            RegistrarEvent::Registered { user, .. }
                            | RegistrarEvent::Unbound { user, .. } => Some(user),
                            RegistrarEvent::Refused { .. } => None,
                        };
                        if let Some(user) = user {
                            match r.binding(user) {
                                Some(b) => map.insert(
                                    user.clone(),
                                    Contact {
                                        uri: b.contact.clone(),
                                        source: b.source,
                                        transport: b.transport,
                                    },
                                ),
                                None => map.remove(user),
                            };
                        }
                        metrics::gauge!("dialer_sip_registered_contacts")
                            .set(r.binding_count() as f64);
                    }
                    let _ = shared.registrations.send(ev);
                }
                EndpointEvent::Malformed { from, error } => {
                    tracing::debug!(%from, %error, "malformed SIP datagram dropped");
                    metrics::counter!("dialer_sip_malformed_total").increment(1);
                }
            }
        }
        if let Ok(mut s) = stats.lock() {
            *s = (ep.stats(), ep.transaction_stats());
        }
        if !cmds_open && calls.is_empty() && ep.is_idle() {
            break;
        }
        let deadline = ep.poll_timeout();
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    ep.handle_datagram(Instant::now().into_std(), from, Transport::Udp, &buf[..n]);
                    // Take whatever else is already queued before running timers and sends.
                    for _ in 0..64 {
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, from)) => ep.handle_datagram(Instant::now().into_std(), from, Transport::Udp, &buf[..n]),
                            Err(_) => break,
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "SIP recv error"),
            },
            Some(m) = tcp_in.recv() => {
                ep.handle_datagram(Instant::now().into_std(), m.from, Transport::Tcp, &m.bytes);
            }
            cmd = cmds.recv(), if cmds_open => match cmd {
                Some(Cmd::Place { id, spec, call_id, events, permit }) => {
                    // Registered before the INVITE goes, so no event can miss its call.
                    calls.insert(id, Live { events, _permit: permit });
                    ep.place_call_named(Instant::now().into_std(), id, *spec, call_id);
                }
                Some(Cmd::Hangup(id)) => ep.hangup(Instant::now().into_std(), id),
                None => cmds_open = false,
            },
            _ = sleep_until(deadline) => {}
        }
        // tokio's sleep can wake a little late or early; the endpoint checks against `now`.
        let now = Instant::now().into_std();
        if ep.poll_timeout().is_some_and(|t| t <= now) {
            ep.handle_timeout(now);
        }
    }
}

/// Count and log what the registrar did (refusals at most one line per source per 10 s).
fn registrar_event(ev: &RegistrarEvent) {
    match ev {
        RegistrarEvent::Registered {
            user,
            agent,
            contact,
            source,
            expires,
            refreshed,
        } => {
            metrics::counter!("dialer_sip_registrations_total").increment(1);
            if *refreshed {
                tracing::debug!(%user, %agent, %contact, %source, expires, "registration refreshed");
            } else {
                tracing::info!(%user, %agent, %contact, %source, expires, "phone registered");
            }
        }
        RegistrarEvent::Unbound {
            user,
            agent,
            contact,
            why,
            ..
        } => {
            if *why == super::registrar::Gone::Expired {
                metrics::counter!("dialer_sip_registration_expiries_total").increment(1);
                tracing::warn!(%user, %agent, %contact, "registration expired: the phone did not refresh it");
            } else {
                tracing::info!(%user, %agent, %contact, "phone unregistered");
            }
        }
        RegistrarEvent::Refused {
            user,
            source,
            reason,
            log,
        } => {
            metrics::counter!(
                "dialer_sip_registration_failures_total",
                "reason" => reason.as_str()
            )
            .increment(1);
            if let Some(held_back) = log {
                tracing::warn!(
                    user = user.as_deref().unwrap_or("-"),
                    %source,
                    reason = reason.as_str(),
                    held_back,
                    "REGISTER refused: {reason}; at most one line per source every 10 s, \
                     dialer_sip_registration_failures_total counts them all"
                );
            }
        }
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// An outbound TCP connection: a writer fed by the channel, a reader that frames messages by
/// Content-Length and hands them to the SIP task.
fn tcp_connect(
    to: SocketAddr,
    inbound: mpsc::UnboundedSender<TcpIn>,
) -> mpsc::UnboundedSender<Bytes> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        let stream = match TcpStream::connect(to).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%to, error = %e, "SIP TCP connect failed");
                return;
            }
        };
        let (mut r, mut w) = stream.into_split();
        let reader = tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(8192);
            let mut chunk = [0u8; 8192];
            loop {
                match r.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                loop {
                    match stream_frame_len(&buf) {
                        Ok(Some(len)) => {
                            let bytes = Bytes::copy_from_slice(&buf[..len]);
                            buf.drain(..len);
                            if inbound.send(TcpIn { from: to, bytes }).is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(%to, error = %e, "SIP TCP stream unframeable; closing");
                            return;
                        }
                    }
                }
            }
        });
        while let Some(b) = rx.recv().await {
            if w.write_all(&b).await.is_err() {
                break;
            }
        }
        reader.abort();
    });
    tx
}
