//! A sans-IO SIP UAS: the side that takes calls (the simulated carrier and agent phones).
//!
//! Inputs: [`Uas::handle_datagram`], [`Uas::handle_timeout`], and the commands [`Uas::ring`]
//! (180), [`Uas::answer`] (200 with SDP), [`Uas::reject`] and [`Uas::hangup`]. Outputs:
//! [`Uas::poll_transmit`], [`Uas::poll_event`], [`Uas::poll_timeout`]. After any input, drain
//! transmits and events, then sleep until `poll_timeout`. The tokio shell is
//! `dialer::sip::uas::driver`.
//!
//! - A new INVITE from an allowed source gets 100 Trying and an [`UasEvent::Incoming`];
//!   retransmitted INVITEs are answered by the transaction layer with the last response.
//! - Our 2xx is re-sent (timer G) until its ACK ([`UasEvent::Acked`]); with no ACK after 64·T1
//!   the call is ended with a BYE (RFC 3261 §13.3.1.4).
//! - CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE. The far end's BYE: 200.
//! - A call neither answered nor rejected within `max_ring` gets 480, so the INVITE server
//!   transaction (which gives up after 64·T1) never ends unanswered.
//! - Out-of-dialog OPTIONS: 200. INVITEs from sources not allowed: stateless 403, never routed.
//!
//! Every call ends with exactly one [`UasEvent::Ended`]; state is bounded by `max_calls` and
//! the transaction layer's own cap, and a call leaves nothing behind once its transactions end.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::call::EndedBy;
use super::dialog::Dialog;
use super::message::{HasHeaders, Message, Method, ParseError, Request, Response, Transport, Uri};
use super::timer::TimerHeap;
use super::transaction::{Timers, TransactionLayer, Transmit, TxEvent, TxId};

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// How the UAS presents itself and what it accepts.
#[derive(Debug, Clone)]
pub struct UasConfig {
    /// The address we put in Contact and Via (the bound socket's address).
    pub local: SocketAddr,
    pub timers: Timers,
    pub user_agent: String,
    /// Sources whose requests we serve.
    pub allowed: Vec<IpAddr>,
    /// Calls held at once; more INVITEs get 503.
    pub max_calls: usize,
    pub max_server_transactions: usize,
    /// An INVITE left unanswered this long gets 480 (keep it below 64·T1).
    pub max_ring: Duration,
}

impl UasConfig {
    pub fn new(local: SocketAddr) -> Self {
        UasConfig {
            local,
            timers: Timers::default(),
            user_agent: concat!("dialer-simnet/", env!("CARGO_PKG_VERSION")).to_owned(),
            allowed: vec![local.ip()],
            max_calls: 2048,
            max_server_transactions: 8192,
            max_ring: Duration::from_secs(30),
        }
    }
}

/// Our handle on one incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboundId(pub u64);

/// A new call, as the INVITE described it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub id: InboundId,
    /// Where the INVITE came from.
    pub source: SocketAddr,
    pub from: Uri,
    pub to: Uri,
    pub request_uri: Uri,
    pub call_id: String,
    /// The SDP offer (empty INVITEs are offerless).
    pub offer: Option<Bytes>,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The caller cancelled before the answer.
    Cancelled,
    /// The caller sent BYE.
    Bye,
    /// We hung up (BYE, or 480 before the answer).
    Hangup,
    /// We answered with this final non-2xx status.
    Rejected(u16),
    /// Nobody answered within `max_ring` (480 sent).
    RingTimeout,
    /// Our 2xx was never ACKed (BYE sent).
    NoAck,
}

impl EndReason {
    pub fn by(self) -> EndedBy {
        match self {
            EndReason::Cancelled | EndReason::Bye => EndedBy::Them,
            _ => EndedBy::Us,
        }
    }
}

/// What the UAS tells its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum UasEvent {
    Incoming(Box<Incoming>),
    /// Our 2xx was ACKed: the call is up.
    Acked {
        id: InboundId,
    },
    /// The call is over (reported once per call).
    Ended {
        id: InboundId,
        by: EndedBy,
        reason: EndReason,
    },
    /// A request from a source that is not allowed (INVITEs got 403).
    Refused {
        from: SocketAddr,
        method: Method,
    },
    /// Bytes that are not a SIP message: dropped.
    Malformed {
        from: SocketAddr,
        error: ParseError,
    },
}

/// A command that could not be carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UasError {
    #[error("no such call (it may have ended)")]
    NoSuchCall,
    #[error("the call is already answered or ending")]
    AlreadyAnswered,
    #[error("status {0} is not a final non-2xx status")]
    BadStatus(u16),
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UasStats {
    pub datagrams: u64,
    pub malformed: u64,
    pub invites: u64,
    /// INVITEs from sources not allowed (403).
    pub refused_invites: u64,
    /// Other requests from sources not allowed (dropped).
    pub dropped_requests: u64,
    /// INVITEs refused because `max_calls` were held (503).
    pub overload: u64,
    pub cancelled: u64,
    pub no_ack: u64,
    pub stray_responses: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Offered,
    Ringing,
    /// 2xx sent, waiting for the ACK.
    Answered,
    Confirmed,
    /// Our BYE is out (or waits for the ACK before it may go).
    Ending,
}

#[derive(Debug)]
struct InCall {
    invite: Request,
    tx: TxId,
    source: SocketAddr,
    transport: Transport,
    branch: String,
    local_tag: String,
    contact: String,
    state: St,
    dialog: Option<Dialog>,
    ring_deadline: Option<Instant>,
    ack_deadline: Option<Instant>,
    /// Hung up before the ACK: the BYE goes when the ACK (or timer H) comes.
    bye_pending: bool,
    bye_tx: Option<TxId>,
    scheduled: Option<Instant>,
}

impl InCall {
    fn deadline(&self) -> Option<Instant> {
        [self.ring_deadline, self.ack_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    fn response(&self, status: u16) -> Response {
        let mut r = self.invite.response(status, Some(&self.local_tag));
        if (101..300).contains(&status) {
            for rr in self.invite.headers.get_all("Record-Route") {
                r.headers.push("Record-Route", rr);
            }
            r.headers.push("Contact", self.contact.as_str());
        }
        r
    }
}

/// One UAS (one local address).
#[derive(Debug)]
pub struct Uas {
    cfg: UasConfig,
    allowed: HashSet<IpAddr>,
    txl: TransactionLayer,
    calls: HashMap<InboundId, InCall>,
    by_call_id: HashMap<String, InboundId>,
    by_branch: HashMap<String, InboundId>,
    owner: HashMap<TxId, InboundId>,
    heap: TimerHeap<InboundId>,
    rng: ChaCha8Rng,
    next_id: u64,
    events: VecDeque<UasEvent>,
    stats: UasStats,
}

impl Uas {
    /// `seed` feeds tags and branches.
    pub fn new(cfg: UasConfig, seed: u64) -> Self {
        Uas {
            allowed: cfg.allowed.iter().copied().collect(),
            txl: TransactionLayer::new(cfg.timers, cfg.max_server_transactions),
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            by_branch: HashMap::new(),
            owner: HashMap::new(),
            heap: TimerHeap::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_id: 0,
            events: VecDeque::new(),
            stats: UasStats::default(),
            cfg,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.cfg.local
    }

    pub fn stats(&self) -> UasStats {
        self.stats
    }

    pub fn transaction_stats(&self) -> super::transaction::TxStats {
        self.txl.stats()
    }

    /// Calls holding state (an ended call lingers until its BYE transaction ends).
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    /// Nothing held at all: no call, no transaction.
    pub fn is_idle(&self) -> bool {
        self.calls.is_empty()
            && self.txl.is_empty()
            && self.owner.is_empty()
            && self.by_call_id.is_empty()
            && self.by_branch.is_empty()
    }

    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }

    /// Send 180 Ringing.
    pub fn ring(&mut self, now: Instant, id: InboundId) -> Result<(), UasError> {
        let call = self.calls.get_mut(&id).ok_or(UasError::NoSuchCall)?;
        match call.state {
            St::Offered => {
                call.state = St::Ringing;
                let r = call.response(180);
                let tx = call.tx;
                self.txl.respond(now, tx, r);
                Ok(())
            }
            St::Ringing => Ok(()),
            _ => Err(UasError::AlreadyAnswered),
        }
    }

    /// Answer with 200 OK and `body` (SDP); it is re-sent until the ACK.
    pub fn answer(
        &mut self,
        now: Instant,
        id: InboundId,
        content_type: &str,
        body: Bytes,
    ) -> Result<(), UasError> {
        let t64 = self.cfg.timers.t64();
        let call = self.calls.get_mut(&id).ok_or(UasError::NoSuchCall)?;
        if !matches!(call.state, St::Offered | St::Ringing) {
            return Err(UasError::AlreadyAnswered);
        }
        let mut ok = call.response(200);
        ok.headers.push("Allow", ALLOW);
        ok.headers.push("User-Agent", self.cfg.user_agent.as_str());
        let ok = ok.with_body(content_type, body);
        // The INVITE was checked when it came, so the dialog builds.
        call.dialog = Dialog::uas(&call.invite, &call.local_tag, &call.contact).ok();
        call.state = St::Answered;
        call.ring_deadline = None;
        call.ack_deadline = Some(now + t64);
        let tx = call.tx;
        self.txl.respond(now, tx, ok);
        self.after(id);
        Ok(())
    }

    /// Refuse the call with a final status (300–699), e.g. 486 busy, 404, 503.
    pub fn reject(&mut self, now: Instant, id: InboundId, status: u16) -> Result<(), UasError> {
        if !(300..700).contains(&status) {
            return Err(UasError::BadStatus(status));
        }
        self.final_reject(now, id, status, EndReason::Rejected(status))
    }

    fn final_reject(
        &mut self,
        now: Instant,
        id: InboundId,
        status: u16,
        reason: EndReason,
    ) -> Result<(), UasError> {
        let call = self.calls.get(&id).ok_or(UasError::NoSuchCall)?;
        if !matches!(call.state, St::Offered | St::Ringing) {
            return Err(UasError::AlreadyAnswered);
        }
        let r = call.response(status);
        let tx = call.tx;
        self.txl.respond(now, tx, r);
        self.end(id, reason);
        self.forget(id);
        Ok(())
    }

    /// Hang up: BYE once answered (after the ACK), 480 before the answer.
    pub fn hangup(&mut self, now: Instant, id: InboundId) -> Result<(), UasError> {
        let call = self.calls.get_mut(&id).ok_or(UasError::NoSuchCall)?;
        match call.state {
            St::Offered | St::Ringing => self.final_reject(now, id, 480, EndReason::Hangup),
            St::Answered => {
                call.state = St::Ending;
                call.bye_pending = true;
                self.end(id, EndReason::Hangup);
                Ok(())
            }
            St::Confirmed => {
                self.end(id, EndReason::Hangup);
                self.send_bye(now, id);
                Ok(())
            }
            St::Ending => Ok(()),
        }
    }

    /// Feed one datagram from `from`.
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
                self.events.push_back(UasEvent::Malformed { from, error });
                return;
            }
        };
        if let Message::Request(r) = &msg
            && !self.allowed.contains(&from.ip())
        {
            match r.method {
                Method::Invite => {
                    self.stats.refused_invites += 1;
                    let resp = r.response(403, Some("refused"));
                    self.txl.send_stateless(from, transport, resp.to_bytes());
                }
                Method::Ack => return,
                _ => self.stats.dropped_requests += 1,
            }
            self.events.push_back(UasEvent::Refused {
                from,
                method: r.method.clone(),
            });
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
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            call.scheduled = None;
            if call.ring_deadline.is_some_and(|t| t <= now) {
                call.ring_deadline = None;
                let _ = self.final_reject(now, id, 480, EndReason::RingTimeout);
                continue;
            }
            if call.ack_deadline.is_some_and(|t| t <= now) {
                call.ack_deadline = None;
                self.stats.no_ack += 1;
                if !call.bye_pending {
                    self.end(id, EndReason::NoAck);
                }
                self.send_bye(now, id);
                continue;
            }
            self.after(id);
        }
        self.process(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.txl.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<UasEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.txl.poll_timeout(), self.heap.next()]
            .into_iter()
            .flatten()
            .min()
    }

    fn end(&mut self, id: InboundId, reason: EndReason) {
        self.events.push_back(UasEvent::Ended {
            id,
            by: reason.by(),
            reason,
        });
    }

    /// Drop a call's state (its transactions finish on their own).
    fn forget(&mut self, id: InboundId) {
        if let Some(call) = self.calls.remove(&id) {
            if let Ok(cid) = call.invite.call_id() {
                self.by_call_id.remove(cid);
            }
            self.by_branch.remove(&call.branch);
            if let Some(tx) = call.bye_tx {
                self.owner.remove(&tx);
            }
        }
    }

    fn after(&mut self, id: InboundId) {
        if let Some(call) = self.calls.get_mut(&id) {
            let next = call.deadline();
            if next.is_some() && next != call.scheduled {
                call.scheduled = next;
                if let Some(at) = next {
                    self.heap.schedule(at, id);
                }
            }
        }
    }

    fn send_bye(&mut self, now: Instant, id: InboundId) {
        let branch = self.token();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.state = St::Ending;
        call.bye_pending = false;
        call.ack_deadline = None;
        let Some(d) = call.dialog.as_mut() else {
            self.forget(id);
            return;
        };
        let via = format!(
            "SIP/2.0/{} {};branch=z9hG4bK{branch};rport",
            call.transport.as_str(),
            self.cfg.local
        );
        let mut bye = d.request(Method::Bye, &via);
        bye.headers.push("User-Agent", self.cfg.user_agent.as_str());
        let to = d.next_hop(call.source);
        match self.txl.send_request(now, &bye, to, call.transport) {
            Some(tx) => {
                call.bye_tx = Some(tx);
                self.owner.insert(tx, id);
            }
            None => self.forget(id),
        }
    }

    fn process(&mut self, now: Instant) {
        while let Some(ev) = self.txl.poll_event() {
            match ev {
                TxEvent::Response { tx, response } => {
                    if response.status >= 200
                        && let Some(id) = self.owner.remove(&tx)
                    {
                        self.forget(id);
                    }
                }
                TxEvent::Timeout { tx } | TxEvent::Terminated { tx } => {
                    if let Some(id) = self.owner.remove(&tx) {
                        self.forget(id);
                    }
                }
                TxEvent::StrayResponse { .. } => self.stats.stray_responses += 1,
                TxEvent::Request {
                    tx,
                    from,
                    transport,
                    request,
                } => self.on_request(now, tx, from, transport, request),
            }
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        tx: Option<TxId>,
        from: SocketAddr,
        transport: Transport,
        r: Request,
    ) {
        let known = r
            .call_id()
            .ok()
            .and_then(|c| self.by_call_id.get(c).copied());
        let Some(tx) = tx else {
            if r.method == Method::Ack
                && let Some(id) = known
            {
                self.on_ack(now, id, &r);
            }
            return;
        };
        match r.method {
            Method::Invite => match known {
                None => self.on_invite(now, tx, from, transport, r),
                // A re-INVITE (media changes are not simulated) or a merged request.
                Some(_) => {
                    let has_tag = r.hdr_to().map(|t| t.tag.is_some()).unwrap_or(false);
                    let status = if has_tag { 488 } else { 482 };
                    self.txl.respond(now, tx, r.response(status, None));
                }
            },
            Method::Cancel => self.on_cancel(now, tx, from, r),
            Method::Bye => {
                let matched = known.filter(|id| {
                    self.calls
                        .get(id)
                        .and_then(|c| c.dialog.as_ref())
                        .is_some_and(|d| d.matches(&r))
                });
                let Some(id) = matched else {
                    self.txl.respond(now, tx, r.response(481, None));
                    return;
                };
                self.txl.respond(now, tx, r.response(200, None));
                let Some((state, bye_tx)) = self.calls.get(&id).map(|c| (c.state, c.bye_tx)) else {
                    return;
                };
                if state != St::Ending {
                    self.end(id, EndReason::Bye);
                }
                if bye_tx.is_none() {
                    self.forget(id);
                }
            }
            Method::Options | Method::Info if known.is_some() || r.method == Method::Options => {
                let mut ok = r.response(200, Some("opt"));
                ok.headers.push("Allow", ALLOW);
                self.txl.respond(now, tx, ok);
            }
            _ if known.is_some() => self.txl.respond(now, tx, r.response(405, None)),
            _ => self.txl.respond(now, tx, r.response(481, None)),
        }
    }

    fn on_invite(
        &mut self,
        now: Instant,
        tx: TxId,
        source: SocketAddr,
        transport: Transport,
        r: Request,
    ) {
        self.stats.invites += 1;
        if self.calls.len() >= self.cfg.max_calls {
            self.stats.overload += 1;
            let tag = self.token();
            self.txl.respond(now, tx, r.response(503, Some(&tag)));
            return;
        }
        let checked = (|| {
            let from = r.hdr_from()?;
            from.tag
                .as_ref()
                .ok_or(ParseError::Header("From", "no tag".into()))?;
            let to = r.hdr_to()?;
            let branch = r
                .top_via()?
                .rfc3261_branch()
                .ok_or(ParseError::Header("Via", "no RFC 3261 branch".into()))?
                .to_owned();
            Ok::<_, ParseError>((from.uri, to.uri, branch, r.call_id()?.to_owned()))
        })();
        let Ok((from_uri, to_uri, branch, call_id)) = checked else {
            self.txl.respond(now, tx, r.response(400, None));
            return;
        };
        self.next_id += 1;
        let id = InboundId(self.next_id);
        let local_tag = self.token();
        let user = r.uri.user.clone().unwrap_or_else(|| "sim".to_owned());
        let tcp = if transport == Transport::Tcp {
            ";transport=tcp"
        } else {
            ""
        };
        let contact = format!("<sip:{user}@{}{tcp}>", self.cfg.local);
        let offer = (!r.body.is_empty()).then(|| r.body.clone());
        let call = InCall {
            tx,
            source,
            transport,
            branch: branch.clone(),
            local_tag,
            contact,
            state: St::Offered,
            dialog: None,
            ring_deadline: Some(now + self.cfg.max_ring),
            ack_deadline: None,
            bye_pending: false,
            bye_tx: None,
            scheduled: None,
            invite: r,
        };
        let trying = call.invite.response(100, None);
        self.txl.respond(now, tx, trying);
        self.events.push_back(UasEvent::Incoming(Box::new(Incoming {
            id,
            source,
            from: from_uri,
            to: to_uri,
            request_uri: call.invite.uri.clone(),
            call_id: call_id.clone(),
            offer,
        })));
        self.calls.insert(id, call);
        self.by_call_id.insert(call_id, id);
        self.by_branch.insert(branch, id);
        self.after(id);
    }

    fn on_ack(&mut self, now: Instant, id: InboundId, r: &Request) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let seq = r.cseq().map(|c| c.seq).ok();
        if seq != call.invite.cseq().map(|c| c.seq).ok() {
            return;
        }
        match call.state {
            St::Answered => {
                call.state = St::Confirmed;
                call.ack_deadline = None;
                self.events.push_back(UasEvent::Acked { id });
            }
            St::Ending if call.bye_pending => self.send_bye(now, id),
            _ => {}
        }
    }

    fn on_cancel(&mut self, now: Instant, tx: TxId, from: SocketAddr, r: Request) {
        let id = r
            .top_via()
            .ok()
            .and_then(|v| v.rfc3261_branch().map(str::to_owned))
            .and_then(|b| self.by_branch.get(&b).copied())
            .filter(|id| {
                // Same call, and from where the INVITE came.
                self.calls.get(id).is_some_and(|c| {
                    c.invite.call_id().ok() == r.call_id().ok() && c.source.ip() == from.ip()
                })
            });
        let Some(id) = id else {
            self.txl.respond(now, tx, r.response(481, None));
            return;
        };
        self.txl.respond(now, tx, r.response(200, None));
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if matches!(call.state, St::Offered | St::Ringing) {
            self.stats.cancelled += 1;
            let resp = call.response(487);
            let itx = call.tx;
            self.txl.respond(now, itx, resp);
            self.end(id, EndReason::Cancelled);
            self.forget(id);
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests;
