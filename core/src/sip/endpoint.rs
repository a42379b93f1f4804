//! The sans-IO SIP endpoint: transactions plus calls, and the security rules for what arrives.
//!
//! Inputs: [`Endpoint::handle_datagram`], [`Endpoint::handle_timeout`], and the commands
//! [`Endpoint::place_call`] and [`Endpoint::hangup`]. Outputs: [`Endpoint::poll_transmit`],
//! [`Endpoint::poll_event`], [`Endpoint::poll_timeout`]. After any input, drain transmits and
//! events, then sleep until `poll_timeout` (an early wake-up is harmless).
//!
//! Security and load, for each request that arrives:
//! - One with the Call-ID of a live call is served (through a server transaction) only when it
//!   comes from that call's trunk address and port, or from its dialog's remote target or next
//!   hop (address and port). From anywhere else it touches nothing (no CSeq, no transaction):
//!   it gets a stateless 403 (none for ACK) and is counted. These are never rate limited.
//! - A REGISTER, when the endpoint has a [`Registrar`], is taken from any address within the
//!   rate limits below and answered by it, statelessly, to the address it came from; a source
//!   with a live binding is then allowed like an agent's.
//! - Any other request holds no state: from an address that is not allowed (trunks, agents,
//!   next hops of live calls) an INVITE gets a stateless 403 and the rest are dropped; from an
//!   allowed one it is answered statelessly (OPTIONS 200, INVITE 403, others 481). Every such
//!   answer passes the per-source and overall rate limits ([`Admission`]); over them,
//!   the request is dropped. So a request draws at most one response, and a flood cannot fill
//!   the server-transaction table that live calls' requests use.
//! - Every refused or dropped request is an [`EndpointEvent::Rejected`] (method and reason);
//!   at most one per source per 10 s asks for a log line. Malformed datagrams are dropped and
//!   counted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::call::{Call, CallEvent, CallId, CallSpec, Ctx};
use super::guard::{Admission, LogThrottle, RejectReason, RequestLimits, Verdict};
use super::message::{HasHeaders, Message, Method, ParseError, Request, Transport};
use super::registrar::{Registrar, RegistrarEvent};
use super::timer::TimerHeap;
use super::transaction::{Timers, TransactionLayer, Transmit, TxEvent, TxId};

/// How the endpoint presents itself and what it accepts.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The address we put in Via and Contact (the bound socket's reachable address).
    pub local: SocketAddr,
    pub timers: Timers,
    pub user_agent: String,
    /// Sources whose requests we serve (trunks and agents).
    pub allowed: Vec<IpAddr>,
    /// Cap on live server transactions (only requests of live calls hold one).
    pub max_server_transactions: usize,
    /// Rate limits for requests outside live calls.
    pub limits: RequestLimits,
    /// At most one log line per source this often.
    pub log_every: Duration,
}

impl EndpointConfig {
    pub fn new(local: SocketAddr) -> Self {
        EndpointConfig {
            local,
            timers: Timers::default(),
            user_agent: concat!("dialer/", env!("CARGO_PKG_VERSION")).to_owned(),
            allowed: Vec::new(),
            max_server_transactions: 4096,
            limits: RequestLimits::default(),
            log_every: Duration::from_secs(10),
        }
    }
}

/// What the endpoint tells its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEvent {
    Call {
        id: CallId,
        event: CallEvent,
    },
    /// A request refused or dropped (never routed, no state kept).
    Rejected {
        from: SocketAddr,
        method: Method,
        reason: RejectReason,
        /// The stateless answer sent (403), or `None` when dropped.
        answered: Option<u16>,
        /// `Some(held_back)` when this one is worth a log line: the first from its source in
        /// `log_every`, with how many were not logged since the previous line.
        log: Option<u64>,
    },
    /// What the registrar did (bindings, refusals).
    Registrar(RegistrarEvent),
    /// Bytes that are not a SIP message: dropped.
    Malformed {
        from: SocketAddr,
        error: ParseError,
    },
}

/// Counters (exported as metrics by the driver).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub datagrams: u64,
    pub malformed: u64,
    /// Requests from sources that are not allowed (INVITEs answered 403, others dropped).
    pub unknown_source: u64,
    /// Requests with a live call's Call-ID from elsewhere than that call's peer.
    pub wrong_source: u64,
    /// Requests outside any call dropped over their source's rate.
    pub rate_limited: u64,
    /// Requests dropped over the overall rate or for want of room.
    pub overloaded: u64,
    /// INVITEs outside any call from allowed sources (answered 403).
    pub incoming_calls: u64,
    /// Of those refused, the ones dropped with no answer (the others got a stateless 403).
    pub dropped: u64,
    pub stray_responses: u64,
    /// Requests from allowed sources outside any call answered (403/481/200).
    pub out_of_dialog: u64,
}

impl EndpointStats {
    /// Every request refused or dropped.
    pub fn rejected(&self) -> u64 {
        self.unknown_source
            + self.wrong_source
            + self.rate_limited
            + self.overloaded
            + self.incoming_calls
    }

    fn count(&mut self, reason: RejectReason) {
        let n = match reason {
            RejectReason::UnknownSource => &mut self.unknown_source,
            RejectReason::WrongSource => &mut self.wrong_source,
            RejectReason::RateLimited => &mut self.rate_limited,
            RejectReason::Overloaded => &mut self.overloaded,
            RejectReason::IncomingCall => &mut self.incoming_calls,
        };
        *n += 1;
    }
}

/// One SIP endpoint (one local address).
#[derive(Debug)]
pub struct Endpoint {
    cfg: EndpointConfig,
    allowed: HashSet<IpAddr>,
    txl: TransactionLayer,
    calls: HashMap<CallId, Call>,
    by_call_id: HashMap<String, CallId>,
    owner: HashMap<TxId, CallId>,
    /// Next hops of live calls, counted (their requests are served too).
    live_hops: HashMap<IpAddr, usize>,
    heap: TimerHeap<CallId>,
    admission: Admission,
    log_throttle: LogThrottle,
    rng: ChaCha8Rng,
    next_call: u64,
    events: VecDeque<EndpointEvent>,
    stats: EndpointStats,
    /// Agents' softphones register here when there is one.
    registrar: Option<Registrar>,
}

macro_rules! ctx {
    ($s:ident) => {
        Ctx {
            txl: &mut $s.txl,
            owner: &mut $s.owner,
            rng: &mut $s.rng,
            local: $s.cfg.local,
            user_agent: &$s.cfg.user_agent,
        }
    };
}

impl Endpoint {
    /// `seed` feeds tags, branches and Call-IDs (use OS entropy outside tests).
    pub fn new(cfg: EndpointConfig, seed: u64) -> Self {
        Endpoint {
            allowed: cfg.allowed.iter().copied().collect(),
            txl: TransactionLayer::new(cfg.timers, cfg.max_server_transactions),
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            owner: HashMap::new(),
            live_hops: HashMap::new(),
            heap: TimerHeap::default(),
            admission: Admission::new(cfg.limits),
            log_throttle: LogThrottle::new(cfg.log_every, cfg.limits.max_sources),
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_call: 0,
            events: VecDeque::new(),
            stats: EndpointStats::default(),
            registrar: None,
            cfg,
        }
    }

    /// Take REGISTERs (from any source, within the rate limits) with this registrar; a
    /// binding's source is then served like an agent's.
    pub fn set_registrar(&mut self, registrar: Registrar) {
        self.registrar = Some(registrar);
    }

    pub fn registrar(&self) -> Option<&Registrar> {
        self.registrar.as_ref()
    }

    pub fn local(&self) -> SocketAddr {
        self.cfg.local
    }

    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// Calls still holding state (ended calls linger until their transactions end).
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    /// True when nothing at all is held (no call, no transaction).
    pub fn is_idle(&self) -> bool {
        self.calls.is_empty() && self.txl.is_empty() && self.owner.is_empty()
    }

    pub fn transaction_stats(&self) -> super::transaction::TxStats {
        self.txl.stats()
    }

    fn is_allowed(&self, ip: IpAddr) -> bool {
        self.allowed.contains(&ip)
            || self.live_hops.contains_key(&ip)
            || self.registrar.as_ref().is_some_and(|r| r.is_bound(ip))
    }

    /// Start a call now; its events come through `poll_event`.
    pub fn place_call(&mut self, now: Instant, spec: CallSpec) -> CallId {
        self.next_call += 1;
        let id = CallId(self.next_call);
        self.place_call_as(now, id, spec);
        id
    }

    /// [`Self::place_call`] with an id the caller chose (unique, and never mixed with ids from
    /// `place_call` on the same endpoint): lets a driver hand out ids without a round trip.
    pub fn place_call_as(&mut self, now: Instant, id: CallId, spec: CallSpec) {
        self.place_call_named(now, id, spec, None);
    }

    /// [`Self::place_call_as`] with the INVITE's Call-ID chosen by the caller (`None`: a fresh
    /// random one). The caller keeps it unique.
    pub fn place_call_named(
        &mut self,
        now: Instant,
        id: CallId,
        spec: CallSpec,
        call_id: Option<String>,
    ) {
        let call = Call::start(now, id, spec, call_id, &mut ctx!(self));
        self.by_call_id.insert(call.sip_call_id().to_owned(), id);
        *self.live_hops.entry(call.dest_ip()).or_default() += 1;
        self.calls.insert(id, call);
        self.after(id);
        self.process(now);
    }

    /// End a call: CANCEL before the answer, BYE after (no-op when already ending).
    pub fn hangup(&mut self, now: Instant, id: CallId) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.hangup(now, &mut ctx!(self));
            self.after(id);
            self.process(now);
        }
    }

    /// Feed one datagram (or one framed stream message) from `from`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        bytes: &[u8],
    ) {
        self.stats.datagrams += 1;
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(ParseError::KeepAlive) => return,
            Err(error) => {
                self.stats.malformed += 1;
                self.events
                    .push_back(EndpointEvent::Malformed { from, error });
                return;
            }
        };
        match msg {
            Message::Request(r) => self.on_datagram_request(now, from, transport, r),
            response => {
                self.txl.handle_message(now, from, transport, response);
                self.process(now);
            }
        }
    }

    /// Admit a request: to its live call's transaction when it comes from that call's peer,
    /// else a stateless answer within the rate limits, else nothing (see the module docs).
    fn on_datagram_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        r: Request,
    ) {
        let live = r
            .call_id()
            .ok()
            .and_then(|c| self.by_call_id.get(c))
            .and_then(|id| self.calls.get(id));
        if let Some(call) = live {
            if !call.accepts_from(from) {
                // Forged or misrouted: answered at most once, and no state is touched.
                let answer = self.may_answer(now, from, &r).then_some(403);
                return self.reject(now, from, transport, &r, RejectReason::WrongSource, answer);
            }
            let overflow = self.txl.stats().server_overflow;
            let method = r.method.clone();
            self.txl
                .handle_message(now, from, transport, Message::Request(r));
            if self.txl.stats().server_overflow > overflow {
                self.count_rejection(now, from, method, RejectReason::Overloaded, None);
            }
            self.process(now);
            return;
        }
        if r.method == Method::Ack {
            // The ACK of a stateless non-2xx answer: nothing to do, nothing to answer.
            return;
        }
        if r.method == Method::Register && self.registrar.is_some() {
            return self.on_register(now, from, transport, r);
        }
        if !self.is_allowed(from.ip()) {
            let answer =
                (r.method == Method::Invite && self.may_answer(now, from, &r)).then_some(403);
            return self.reject(
                now,
                from,
                transport,
                &r,
                RejectReason::UnknownSource,
                answer,
            );
        }
        match self.admission.check(now, from.ip()) {
            Verdict::Admitted => {}
            Verdict::SourceLimited => {
                return self.reject(now, from, transport, &r, RejectReason::RateLimited, None);
            }
            Verdict::Overloaded => {
                return self.reject(now, from, transport, &r, RejectReason::Overloaded, None);
            }
        }
        self.stats.out_of_dialog += 1;
        match r.method {
            // We place calls; we do not take them (toll fraud starts with answering INVITEs).
            Method::Invite => self.reject(
                now,
                from,
                transport,
                &r,
                RejectReason::IncomingCall,
                Some(403),
            ),
            Method::Options => {
                let mut resp = r.response(200, Some(&stateless_tag(&r)));
                let allow = if self.registrar.is_some() {
                    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"
                } else {
                    "INVITE, ACK, CANCEL, BYE, OPTIONS"
                };
                resp.headers.push("Allow", allow);
                self.txl.send_stateless(from, transport, resp.to_bytes());
            }
            _ => {
                let resp = r.response(481, Some(&stateless_tag(&r)));
                self.txl.send_stateless(from, transport, resp.to_bytes());
            }
        }
    }

    /// A REGISTER, from anywhere: within the rate limits the registrar answers it, to the
    /// address it came from (RFC 3581).
    fn on_register(&mut self, now: Instant, from: SocketAddr, transport: Transport, r: Request) {
        match self.admission.check(now, from.ip()) {
            Verdict::Admitted => {}
            Verdict::SourceLimited => {
                return self.reject(now, from, transport, &r, RejectReason::RateLimited, None);
            }
            Verdict::Overloaded => {
                return self.reject(now, from, transport, &r, RejectReason::Overloaded, None);
            }
        }
        let Some(registrar) = self.registrar.as_mut() else {
            return;
        };
        let resp = registrar.handle_register(now, from, transport, &r);
        self.txl.send_stateless(from, transport, resp.to_bytes());
        self.drain_registrar();
    }

    fn drain_registrar(&mut self) {
        let Some(registrar) = self.registrar.as_mut() else {
            return;
        };
        while let Some(t) = registrar.poll_transmit() {
            self.txl.send_stateless(t.to, t.transport, t.bytes);
        }
        while let Some(ev) = registrar.poll_event() {
            self.events.push_back(EndpointEvent::Registrar(ev));
        }
    }

    /// Within the rate limits for a stateless answer to `r` from `from`? (ACKs get none.)
    fn may_answer(&mut self, now: Instant, from: SocketAddr, r: &Request) -> bool {
        r.method != Method::Ack && self.admission.check(now, from.ip()) == Verdict::Admitted
    }

    /// Refuse `r`: send the stateless `answer` if any, count it, tell the driver.
    fn reject(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        r: &Request,
        reason: RejectReason,
        answer: Option<u16>,
    ) {
        if let Some(status) = answer {
            let resp = r.response(status, Some(&stateless_tag(r)));
            self.txl.send_stateless(from, transport, resp.to_bytes());
        }
        self.count_rejection(now, from, r.method.clone(), reason, answer);
    }

    fn count_rejection(
        &mut self,
        now: Instant,
        from: SocketAddr,
        method: Method,
        reason: RejectReason,
        answered: Option<u16>,
    ) {
        self.stats.count(reason);
        self.stats.dropped += u64::from(answered.is_none());
        let log = self.log_throttle.line(now, from.ip());
        self.events.push_back(EndpointEvent::Rejected {
            from,
            method,
            reason,
            answered,
            log,
        });
    }

    /// Fire what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(r) = self.registrar.as_mut()
            && r.poll_timeout().is_some_and(|t| t <= now)
        {
            r.handle_timeout(now);
            self.drain_registrar();
        }
        self.txl.handle_timeout(now);
        self.process(now);
        for id in self.heap.pop_due(now) {
            if let Some(call) = self.calls.get_mut(&id) {
                call.scheduled = None;
                call.on_timer(now, &mut ctx!(self));
                self.after(id);
            }
        }
        self.process(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.txl.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.txl.poll_timeout(),
            self.heap.next(),
            self.registrar.as_ref().and_then(Registrar::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Move a call's events out, schedule its timer, forget it when finished.
    fn after(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        while let Some(event) = call.poll_event() {
            self.events.push_back(EndpointEvent::Call { id, event });
        }
        let next = call.poll_timeout();
        if next.is_some() && next != call.scheduled {
            call.scheduled = next;
            if let Some(at) = next {
                self.heap.schedule(at, id);
            }
        }
        if call.is_finished() {
            let ip = call.dest_ip();
            let cid = call.sip_call_id().to_owned();
            self.calls.remove(&id);
            self.by_call_id.remove(&cid);
            if let Some(n) = self.live_hops.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.live_hops.remove(&ip);
                }
            }
        }
    }

    /// Route every pending transaction event.
    fn process(&mut self, now: Instant) {
        while let Some(ev) = self.txl.poll_event() {
            match ev {
                TxEvent::Response { tx, response } => {
                    let Some(&id) = self.owner.get(&tx) else {
                        continue;
                    };
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.on_response(now, tx, response, &mut ctx!(self));
                        self.after(id);
                    }
                }
                TxEvent::Timeout { tx } => {
                    let Some(&id) = self.owner.get(&tx) else {
                        continue;
                    };
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.on_tx_timeout(now, tx);
                        self.after(id);
                    }
                }
                TxEvent::Terminated { tx } => {
                    let Some(id) = self.owner.remove(&tx) else {
                        continue;
                    };
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.live_txs = call.live_txs.saturating_sub(1);
                        self.after(id);
                    }
                }
                TxEvent::Request {
                    tx,
                    from,
                    transport,
                    request,
                } => self.on_request(now, tx, from, transport, request),
                TxEvent::StrayResponse { response, .. } => {
                    // A 2xx copy after the INVITE transaction ended still gets its ACK.
                    let id = response
                        .call_id()
                        .ok()
                        .and_then(|c| self.by_call_id.get(c).copied());
                    let is_invite_2xx = response.is_success()
                        && response
                            .cseq()
                            .map(|c| c.method == Method::Invite)
                            .unwrap_or(false);
                    match (id, is_invite_2xx) {
                        (Some(id), true) => {
                            if let Some(call) = self.calls.get_mut(&id) {
                                call.on_stray_2xx(response, &mut ctx!(self));
                            }
                        }
                        _ => self.stats.stray_responses += 1,
                    }
                }
            }
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        tx: Option<TxId>,
        from: SocketAddr,
        transport: Transport,
        request: Request,
    ) {
        let id = request
            .call_id()
            .ok()
            .and_then(|c| self.by_call_id.get(c).copied());
        let Some(tx) = tx else {
            // ACKs (our re-INVITE 2xx ones are absorbed by the transaction layer) and requests
            // from RFC 2543 peers: nothing to answer.
            if request.method != Method::Ack {
                let resp = request.response(400, None);
                self.txl.send_stateless(from, transport, resp.to_bytes());
            }
            return;
        };
        if let Some(call) = id.and_then(|id| self.calls.get_mut(&id)) {
            let id = call.id;
            call.on_request(now, tx, request, &mut ctx!(self));
            self.after(id);
            return;
        }
        // A live call's request whose call has gone since it was admitted (never in practice:
        // admission and routing happen in one turn).
        let resp = request.response(481, None);
        self.txl.respond(now, tx, resp);
    }
}

/// The To tag of a stateless answer: the same for every copy of a request (RFC 3261 §8.2.7),
/// from its Call-ID and top Via branch.
fn stateless_tag(r: &Request) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    r.call_id().unwrap_or_default().hash(&mut h);
    r.top_via()
        .ok()
        .and_then(|v| v.branch.clone())
        .unwrap_or_default()
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests;
