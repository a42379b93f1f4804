//! RFC 3261 §17 transactions, sans-IO.
//!
//! [`TransactionLayer`] owns every client and server transaction of one endpoint. Inputs:
//! [`TransactionLayer::handle_message`] (a parsed datagram and where it came from),
//! [`TransactionLayer::handle_timeout`], and the commands `send_request`, `respond`, `send_stateless`
//! and `abandon`. Outputs to pull: `poll_transmit`, `poll_event`, `poll_timeout`.
//!
//! - INVITE client: timers A (retransmit, doubling), B (give up), D (absorb final-response
//!   retransmissions, ACKing each); the ACK for a non-2xx is built here; a 2xx moves to
//!   *Accepted* (RFC 6026) for timer M so every 2xx copy reaches the call, which ACKs it.
//! - non-INVITE client: E (retransmit, capped at T2), F (give up), K (linger).
//! - INVITE server: the last response is re-sent on each retransmitted INVITE; G/H/I for
//!   non-2xx (ACK absorbed), 2xx re-sent with G until the ACK (matched by Call-ID and CSeq).
//! - non-INVITE server: J (linger, re-sending the final response to retransmissions).
//!
//! Matching is by the top Via branch plus method (ACK matches its INVITE, CANCEL is its own
//! transaction, RFC 3261 §17.1.3 and §17.2.3). Every transaction ends by a timer; server
//! transactions the user never answers are dropped after 64·T1, and at most `max_server`
//! exist at once, so state stays bounded whatever arrives.

mod client;
mod server;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::message::{HasHeaders, Message, Method, Request, Response, Transport};
use super::timer::TimerHeap;
use client::ClientTx;
use server::ServerTx;

/// RFC 3261 timer base values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64·T1: timers B, F, H, J, M.
    pub fn t64(&self) -> Duration {
        self.t1 * 64
    }
}

/// Bytes to send somewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub transport: Transport,
    pub bytes: Bytes,
}

/// A transaction handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(u64);

/// What the transaction layer tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// A response for one of our client transactions (for INVITE, every 2xx copy).
    Response { tx: TxId, response: Response },
    /// A client transaction got no final response in time (timer B or F).
    Timeout { tx: TxId },
    /// A client transaction is gone; its id will not be seen again.
    Terminated { tx: TxId },
    /// A new request: answer it with `respond(tx, ..)` (none for ACK).
    Request {
        tx: Option<TxId>,
        from: SocketAddr,
        transport: Transport,
        request: Request,
    },
    /// A response that matches no transaction (e.g. a late 2xx copy).
    StrayResponse {
        from: SocketAddr,
        response: Response,
    },
}

/// Transaction-layer counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxStats {
    pub client_timeouts: u64,
    pub server_overflow: u64,
    pub retransmissions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    branch: String,
    method: Method,
}

/// All transactions of one endpoint.
#[derive(Debug)]
pub struct TransactionLayer {
    timers: Timers,
    max_server: usize,
    next_id: u64,
    clients: HashMap<TxId, ClientTx>,
    client_keys: HashMap<Key, TxId>,
    servers: HashMap<TxId, ServerTx>,
    server_keys: HashMap<Key, TxId>,
    /// (Call-ID, CSeq) of INVITE server transactions whose 2xx waits for its ACK.
    accepted: HashMap<(String, u32), TxId>,
    heap: TimerHeap<TxId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
    stats: TxStats,
}

impl TransactionLayer {
    pub fn new(timers: Timers, max_server: usize) -> Self {
        TransactionLayer {
            timers,
            max_server,
            next_id: 0,
            clients: HashMap::new(),
            client_keys: HashMap::new(),
            servers: HashMap::new(),
            server_keys: HashMap::new(),
            accepted: HashMap::new(),
            heap: TimerHeap::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: TxStats::default(),
        }
    }

    pub fn timers(&self) -> Timers {
        self.timers
    }

    pub fn stats(&self) -> TxStats {
        self.stats
    }

    /// Live transactions (clients, servers): for tests and gauges.
    pub fn len(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.servers.is_empty()
    }

    fn id(&mut self) -> TxId {
        self.next_id += 1;
        TxId(self.next_id)
    }

    /// Start a client transaction. The request's top Via must carry an RFC 3261 branch; an
    /// ACK is not a transaction (use [`Self::send_stateless`]).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: &Request,
        to: SocketAddr,
        transport: Transport,
    ) -> Option<TxId> {
        let branch = request.top_via().ok()?.rfc3261_branch()?.to_owned();
        if request.method == Method::Ack {
            return None;
        }
        let key = Key {
            branch,
            method: request.method.clone(),
        };
        if self.client_keys.contains_key(&key) {
            return None;
        }
        let id = self.id();
        let bytes = request.to_bytes();
        self.transmits.push_back(Transmit {
            to,
            transport,
            bytes: bytes.clone(),
        });
        let tx = ClientTx::new(
            now,
            self.timers,
            request.clone(),
            bytes,
            to,
            transport,
            key.clone(),
        );
        if let Some(at) = tx.deadline() {
            self.heap.schedule(at, id);
        }
        self.clients.insert(id, tx);
        self.client_keys.insert(key, id);
        Some(id)
    }

    /// Send bytes outside any transaction (ACK for 2xx, stateless replies).
    pub fn send_stateless(&mut self, to: SocketAddr, transport: Transport, bytes: Bytes) {
        self.transmits.push_back(Transmit {
            to,
            transport,
            bytes,
        });
    }

    /// Drop a client transaction the user gave up on (e.g. an INVITE cancelled with no answer
    /// after 64·T1, RFC 3261 §9.1).
    pub fn abandon(&mut self, tx: TxId) {
        if let Some(c) = self.clients.remove(&tx) {
            self.client_keys.remove(&c.key);
            self.events.push_back(TxEvent::Terminated { tx });
        }
    }

    /// Answer a server transaction.
    pub fn respond(&mut self, now: Instant, tx: TxId, response: Response) {
        let Some(s) = self.servers.get_mut(&tx) else {
            return;
        };
        let accepted = s.invite && response.is_success();
        if accepted && let (Ok(cid), Ok(cseq)) = (response.call_id(), response.cseq()) {
            self.accepted.insert((cid.to_owned(), cseq.seq), tx);
        }
        if let Some(t) = s.respond(now, self.timers, response) {
            self.transmits.push_back(t);
        }
        if let Some(at) = s.deadline() {
            self.heap.schedule(at, tx);
        }
    }

    /// Feed one parsed message received from `from`.
    pub fn handle_message(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        msg: Message,
    ) {
        match msg {
            Message::Response(r) => self.handle_response(now, from, r),
            Message::Request(r) => self.handle_request(now, from, transport, r),
        }
    }

    fn handle_response(&mut self, now: Instant, from: SocketAddr, response: Response) {
        let key = match (response.top_via(), response.cseq()) {
            (Ok(via), Ok(cseq)) => via.rfc3261_branch().map(|b| Key {
                branch: b.to_owned(),
                method: cseq.method,
            }),
            _ => None,
        };
        let Some(id) = key.and_then(|k| self.client_keys.get(&k).copied()) else {
            self.events
                .push_back(TxEvent::StrayResponse { from, response });
            return;
        };
        let Some(tx) = self.clients.get_mut(&id) else {
            return;
        };
        let out = tx.on_response(now, self.timers, &response);
        if let Some(t) = out.transmit {
            self.transmits.push_back(t);
        }
        if out.deliver {
            self.events
                .push_back(TxEvent::Response { tx: id, response });
        }
        if let Some(at) = tx.deadline() {
            self.heap.schedule(at, id);
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        request: Request,
    ) {
        let branch = request
            .top_via()
            .ok()
            .and_then(|v| v.rfc3261_branch().map(str::to_owned));
        let method = if request.method == Method::Ack {
            Method::Invite
        } else {
            request.method.clone()
        };
        let key = branch.map(|branch| Key { branch, method });
        if let Some(id) = key.as_ref().and_then(|k| self.server_keys.get(k).copied()) {
            // Retransmission, or the ACK of a non-2xx final response.
            if let Some(s) = self.servers.get_mut(&id) {
                let is_ack = request.method == Method::Ack;
                if let Some(t) = s.on_request(now, self.timers, is_ack) {
                    self.stats.retransmissions += 1;
                    self.transmits.push_back(t);
                }
                if let Some(at) = s.deadline() {
                    self.heap.schedule(at, id);
                }
            }
            return;
        }
        if request.method == Method::Ack {
            // ACK for a 2xx: stop re-sending that 2xx; the user sees it too.
            if let (Ok(cid), Ok(cseq)) = (request.call_id(), request.cseq())
                && let Some(id) = self.accepted.remove(&(cid.to_owned(), cseq.seq))
                && let Some(s) = self.servers.get_mut(&id)
            {
                s.on_request(now, self.timers, true);
                if let Some(at) = s.deadline() {
                    self.heap.schedule(at, id);
                }
            }
            self.events.push_back(TxEvent::Request {
                tx: None,
                from,
                transport,
                request,
            });
            return;
        }
        let Some(key) = key else {
            // RFC 2543 peers (no magic cookie) are not supported: nothing to match on.
            self.events.push_back(TxEvent::Request {
                tx: None,
                from,
                transport,
                request,
            });
            return;
        };
        if self.servers.len() >= self.max_server {
            self.stats.server_overflow += 1;
            return;
        }
        let id = self.id();
        let s = ServerTx::new(
            now,
            self.timers,
            request.method == Method::Invite,
            from,
            transport,
            key.clone(),
        );
        if let Some(at) = s.deadline() {
            self.heap.schedule(at, id);
        }
        self.servers.insert(id, s);
        self.server_keys.insert(key, id);
        self.events.push_back(TxEvent::Request {
            tx: Some(id),
            from,
            transport,
            request,
        });
    }

    /// Fire every timer due at `now` (spurious calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        for id in self.heap.pop_due(now) {
            if let Some(c) = self.clients.get_mut(&id) {
                let out = c.on_timer(now, self.timers);
                if let Some(t) = out.transmit {
                    self.stats.retransmissions += 1;
                    self.transmits.push_back(t);
                }
                if out.timed_out {
                    self.stats.client_timeouts += 1;
                    self.events.push_back(TxEvent::Timeout { tx: id });
                }
                if c.is_terminated() {
                    let key = c.key.clone();
                    self.clients.remove(&id);
                    self.client_keys.remove(&key);
                    self.events.push_back(TxEvent::Terminated { tx: id });
                } else if let Some(at) = c.deadline() {
                    self.heap.schedule(at, id);
                }
            } else if let Some(s) = self.servers.get_mut(&id) {
                if let Some(t) = s.on_timer(now, self.timers) {
                    self.stats.retransmissions += 1;
                    self.transmits.push_back(t);
                }
                if s.is_terminated() {
                    let key = s.key.clone();
                    self.servers.remove(&id);
                    self.server_keys.remove(&key);
                    self.accepted.retain(|_, v| *v != id);
                } else if let Some(at) = s.deadline() {
                    self.heap.schedule(at, id);
                }
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// The earliest timer (may be a little early; see the module docs).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.next()
    }

    /// Timer heap entries (bounded-state checks in tests).
    pub fn timer_entries(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests;
