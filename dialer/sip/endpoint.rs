//! The sans-IO SIP endpoint: transactions plus calls, and the security rules for what arrives.
//!
//! Inputs: [`Endpoint::handle_datagram`], [`Endpoint::handle_timeout`], and the commands
//! [`Endpoint::place_call`] and [`Endpoint::hangup`]. Outputs: [`Endpoint::poll_transmit`],
//! [`Endpoint::poll_event`], [`Endpoint::poll_timeout`]. After any input, drain transmits and
//! events, then sleep until `poll_timeout` (an early wake-up is harmless).
//!
//! Security: a request is served only when it comes from an allowed IP (configured trunks and
//! agents, plus the next hop of a live call). Any other INVITE gets a stateless 403 and an
//! [`EndpointEvent::Rejected`], and is never routed; other requests from elsewhere are dropped.
//! Both are counted, as are malformed datagrams, which are dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::call::{Call, CallEvent, CallId, CallSpec, Ctx};
use super::message::{HasHeaders, Message, Method, ParseError, Request, Transport};
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
    /// Cap on live server transactions.
    pub max_server_transactions: usize,
}

impl EndpointConfig {
    pub fn new(local: SocketAddr) -> Self {
        EndpointConfig {
            local,
            timers: Timers::default(),
            user_agent: concat!("dialer/", env!("CARGO_PKG_VERSION")).to_owned(),
            allowed: Vec::new(),
            max_server_transactions: 4096,
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
    /// An INVITE from a source that is not allowed: answered 403, not routed.
    Rejected {
        from: SocketAddr,
        method: Method,
    },
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
    /// INVITEs from unknown sources answered 403.
    pub rejected_invites: u64,
    /// Other requests from unknown sources, dropped.
    pub dropped_requests: u64,
    pub stray_responses: u64,
    /// Requests from allowed sources outside any call (answered 403/481/200).
    pub out_of_dialog: u64,
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
    rng: ChaCha8Rng,
    next_call: u64,
    events: VecDeque<EndpointEvent>,
    stats: EndpointStats,
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
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_call: 0,
            events: VecDeque::new(),
            stats: EndpointStats::default(),
            cfg,
        }
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
        self.allowed.contains(&ip) || self.live_hops.contains_key(&ip)
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
        if let Message::Request(r) = &msg
            && !self.is_allowed(from.ip())
        {
            match r.method {
                Method::Invite => {
                    self.stats.rejected_invites += 1;
                    let resp = r.response(403, Some("unknown"));
                    self.txl.send_stateless(from, transport, resp.to_bytes());
                    self.events.push_back(EndpointEvent::Rejected {
                        from,
                        method: r.method.clone(),
                    });
                }
                Method::Ack => {}
                _ => self.stats.dropped_requests += 1,
            }
            return;
        }
        self.txl.handle_message(now, from, transport, msg);
        self.process(now);
    }

    /// Fire what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
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
        [self.txl.poll_timeout(), self.heap.next()]
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
        self.stats.out_of_dialog += 1;
        let to_tag = format!("{:08x}", self.next_call);
        let status = match request.method {
            // We place calls; we do not take them (toll fraud starts with answering INVITEs).
            Method::Invite => 403,
            Method::Options => 200,
            _ => 481,
        };
        let mut resp = request.response(status, Some(&to_tag));
        if status == 200 {
            resp.headers
                .push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
        }
        self.txl.respond(now, tx, resp);
    }
}

#[cfg(test)]
mod tests;
