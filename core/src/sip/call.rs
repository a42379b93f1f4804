//! One outbound call, sans-IO: INVITE with an offer, provisional responses, the ring timeout and
//! CANCEL (with the 2xx-after-CANCEL race: ACK then BYE), ACK for every 2xx copy, digest
//! authentication, BYE either way, and answers to the far end's in-dialog requests.
//!
//! A call never reads a clock: every input carries `now`, and [`Call::poll_timeout`] says when it
//! next wants [`Call::on_timer`]. It sends through the transaction layer it is lent in [`Ctx`].

// Over 800 lines with its tests (about 830 of code): one state machine, whose states and
// transitions read best side by side.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::dialog::Dialog;
use super::message::{HasHeaders, Method, Request, Response, Transport, Uri};
use super::transaction::{TransactionLayer, TxId};
use crate::domain::Outcome;

/// Our handle on a call (not the SIP Call-ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// A final response's outcome (issue 3): 486/600 busy; 480/408 no answer; 404/484/604 invalid
/// number; 5xx congestion; 403 and everything else rejected. (487 after our own CANCEL is
/// decided by the call, not here.)
pub fn outcome_for_status(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Answered,
        486 | 600 => Outcome::Busy,
        480 | 408 => Outcome::NoAnswer,
        404 | 484 | 604 => Outcome::InvalidNumber,
        500..=599 => Outcome::Congestion,
        _ => Outcome::Rejected,
    }
}

/// Digest credentials for a trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// What to call and how.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// Request-URI.
    pub target: Uri,
    /// Next hop (the trunk, or the URI's own address).
    pub dest: SocketAddr,
    pub transport: Transport,
    /// Our identity (`From`), e.g. `sip:+15550100@dialer.invalid`.
    pub from: Uri,
    pub credentials: Option<Credentials>,
    /// Offer body and its content type (SDP from `media::sdp`), opaque here.
    pub offer: Option<(String, Bytes)>,
    /// Unanswered after this long → CANCEL. The 15 s floor is the caller's rule.
    pub ring_timeout: Duration,
    /// Answered calls are hung up (BYE) after this long.
    pub talk_limit: Option<Duration>,
    /// Wall-clock time the attempt started (for the store).
    pub wall_start: jiff::Timestamp,
    /// Every request of the call, in-dialog ones too, goes to `dest`, whatever the far end's
    /// Contact or Record-Route say: a registered phone behind NAT is reachable only through
    /// the address it registered from (RFC 3581; the flow of RFC 5626).
    pub pinned: bool,
}

/// Where an in-dialog request of `spec`'s call goes.
fn hop(spec: &CallSpec, d: &Dialog) -> SocketAddr {
    if spec.pinned {
        spec.dest
    } else {
        d.next_hop(spec.dest)
    }
}

/// Who ended an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    Us,
    Them,
}

/// Everything the attempt writer stores about a finished call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    pub sip_call_id: String,
    pub outcome: Outcome,
    /// The final response's status (200 when answered); `None` when none came.
    pub sip_status: Option<u16>,
    pub reason: Option<String>,
    pub wall_start: jiff::Timestamp,
    pub started: Instant,
    pub first_response: Option<Instant>,
    pub ringing: Option<Instant>,
    pub answered: Option<Instant>,
    pub ended: Instant,
    pub ended_by: Option<EndedBy>,
    /// The answer body (SDP) of the 2xx.
    pub answer: Option<Bytes>,
}

impl CallReport {
    /// INVITE to answer, or to the end of an unanswered attempt.
    pub fn ring_ms(&self) -> u64 {
        (self.answered.unwrap_or(self.ended) - self.started).as_millis() as u64
    }
    /// Answer to hang-up; 0 when not answered.
    pub fn talk_ms(&self) -> u64 {
        self.answered
            .map(|a| (self.ended - a).as_millis() as u64)
            .unwrap_or(0)
    }
}

/// What a call tells its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// A provisional response (100, 180, 183 …).
    Progress { status: u16 },
    /// 2xx: the dialog is up and ACKed.
    Answered {
        content_type: Option<String>,
        answer: Bytes,
    },
    /// The far end put us on hold (`true`) or took us off it, by re-INVITE.
    Hold { held: bool },
    /// The attempt is over.
    Ended(Box<CallReport>),
}

/// What a call borrows from its endpoint to act.
pub(crate) struct Ctx<'a> {
    pub(crate) txl: &'a mut TransactionLayer,
    pub(crate) owner: &'a mut HashMap<TxId, CallId>,
    pub(crate) rng: &'a mut ChaCha8Rng,
    pub(crate) local: SocketAddr,
    pub(crate) user_agent: &'a str,
}

impl Ctx<'_> {
    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }
    fn via(&mut self, transport: Transport) -> String {
        let branch = self.token();
        format!(
            "SIP/2.0/{} {};branch=z9hG4bK{branch};rport",
            transport.as_str(),
            self.local
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// A provisional response came.
    Early,
    /// We want to CANCEL (sent once a provisional came).
    Cancelling,
    Confirmed,
    /// BYE sent.
    Terminating,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelWhy {
    RingTimeout,
    Hangup,
}

/// One outbound call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) id: CallId,
    spec: CallSpec,
    state: State,
    invite: Request,
    invite_tx: Option<TxId>,
    cancel: Option<CancelWhy>,
    cancel_sent: bool,
    auth_nonces: Vec<String>,
    dialog: Option<Dialog>,
    ack: Option<(u32, Bytes)>,
    contact: String,
    started: Instant,
    first_response: Option<Instant>,
    ringing: Option<Instant>,
    answered: Option<Instant>,
    ring_deadline: Option<Instant>,
    talk_deadline: Option<Instant>,
    giveup_deadline: Option<Instant>,
    status: Option<u16>,
    reason: Option<String>,
    outcome: Option<Outcome>,
    ended_by: Option<EndedBy>,
    answer: Option<Bytes>,
    remote_sdp: Option<Bytes>,
    sdp_version: u64,
    pub(crate) live_txs: usize,
    pub(crate) scheduled: Option<Instant>,
    events: VecDeque<CallEvent>,
}

impl Call {
    pub(crate) fn sip_call_id(&self) -> &str {
        self.invite.call_id().unwrap_or_default()
    }

    /// Ended and no transaction of ours is left: the endpoint forgets the call.
    pub(crate) fn is_finished(&self) -> bool {
        self.state == State::Ended && self.live_txs == 0
    }

    pub(crate) fn dest_ip(&self) -> std::net::IpAddr {
        self.spec.dest.ip()
    }

    /// May a request of this call come from `from`? Only from the address and port we sent the
    /// INVITE to (the trunk), or the dialog's next hop or remote target (RFC 3261 §12: where
    /// our own in-dialog requests go, so where theirs come from). The IP alone is not enough:
    /// anyone on the trunk's host, or spoofing its address on another port, could end a call.
    pub(crate) fn accepts_from(&self, from: SocketAddr) -> bool {
        from == self.spec.dest
            || self.dialog.as_ref().is_some_and(|d| {
                from == hop(&self.spec, d) || d.remote_target.socket_addr() == Some(from)
            })
    }

    pub(crate) fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Ended {
            return None;
        }
        [self.ring_deadline, self.talk_deadline, self.giveup_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Build and send the INVITE (with `call_id` as its Call-ID, else a fresh random one).
    pub(crate) fn start(
        now: Instant,
        id: CallId,
        spec: CallSpec,
        call_id: Option<String>,
        ctx: &mut Ctx<'_>,
    ) -> Call {
        let transport = spec.transport;
        let host = ctx.local.ip();
        let tcp = if transport == Transport::Tcp {
            ";transport=tcp"
        } else {
            ""
        };
        let contact = format!("<sip:dialer@{}{tcp}>", ctx.local);
        let mut inv = Request::new(Method::Invite, spec.target.clone());
        inv.headers.push("Via", ctx.via(transport));
        inv.headers.push("Max-Forwards", "70");
        inv.headers
            .push("From", format!("<{}>;tag={}", spec.from, ctx.token()));
        inv.headers.push("To", format!("<{}>", spec.target));
        let call_id = call_id.unwrap_or_else(|| format!("{}@{}", ctx.token(), host));
        inv.headers.push("Call-ID", call_id);
        inv.headers.push("CSeq", "1 INVITE");
        inv.headers.push("Contact", contact.as_str());
        inv.headers
            .push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
        inv.headers.push("User-Agent", ctx.user_agent);
        if let Some((ct, body)) = &spec.offer {
            inv = inv.with_body(ct, body.clone());
        }
        let mut call = Call {
            id,
            state: State::Calling,
            invite: inv,
            invite_tx: None,
            cancel: None,
            cancel_sent: false,
            auth_nonces: Vec::new(),
            dialog: None,
            ack: None,
            contact,
            started: now,
            first_response: None,
            ringing: None,
            answered: None,
            ring_deadline: Some(now + spec.ring_timeout),
            talk_deadline: None,
            giveup_deadline: None,
            status: None,
            reason: None,
            outcome: None,
            ended_by: None,
            answer: None,
            remote_sdp: None,
            sdp_version: 1,
            live_txs: 0,
            scheduled: None,
            events: VecDeque::new(),
            spec,
        };
        let inv = call.invite.clone();
        call.invite_tx = call.send(now, &inv, call.spec.dest, ctx);
        if call.invite_tx.is_none() {
            call.end(
                now,
                Outcome::Failed,
                None,
                Some("could not send INVITE".into()),
            );
        }
        call
    }

    fn send(
        &mut self,
        now: Instant,
        r: &Request,
        to: SocketAddr,
        ctx: &mut Ctx<'_>,
    ) -> Option<TxId> {
        let tx = ctx.txl.send_request(now, r, to, self.spec.transport)?;
        ctx.owner.insert(tx, self.id);
        self.live_txs += 1;
        Some(tx)
    }

    fn end(&mut self, now: Instant, outcome: Outcome, status: Option<u16>, reason: Option<String>) {
        if self.state == State::Ended {
            return;
        }
        self.state = State::Ended;
        let outcome = self.outcome.unwrap_or(outcome);
        let status = self.status.or(status);
        let report = CallReport {
            sip_call_id: self.sip_call_id().to_owned(),
            outcome,
            sip_status: status,
            reason: self.reason.clone().or(reason),
            wall_start: self.spec.wall_start,
            started: self.started,
            first_response: self.first_response,
            ringing: self.ringing,
            answered: self.answered,
            ended: now,
            ended_by: self.ended_by,
            answer: self.answer.clone(),
        };
        self.events.push_back(CallEvent::Ended(Box::new(report)));
    }

    /// Ask for the end of the call: CANCEL before an answer, BYE after.
    pub(crate) fn hangup(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        match self.state {
            State::Calling | State::Early => self.start_cancel(now, CancelWhy::Hangup, ctx),
            State::Confirmed => {
                self.ended_by = Some(EndedBy::Us);
                self.send_bye(now, ctx);
            }
            State::Cancelling | State::Terminating | State::Ended => {}
        }
    }

    pub(crate) fn on_timer(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if self.ring_deadline.is_some_and(|t| t <= now) {
            self.ring_deadline = None;
            if matches!(self.state, State::Calling | State::Early) {
                self.start_cancel(now, CancelWhy::RingTimeout, ctx);
            }
        }
        if self.talk_deadline.is_some_and(|t| t <= now) {
            self.talk_deadline = None;
            if self.state == State::Confirmed {
                self.ended_by = Some(EndedBy::Us);
                self.send_bye(now, ctx);
            }
        }
        if self.giveup_deadline.is_some_and(|t| t <= now) {
            self.giveup_deadline = None;
            match self.state {
                // RFC 3261 §9.1: no final response 64·T1 after CANCEL → consider it cancelled.
                State::Cancelling => {
                    if let Some(tx) = self.invite_tx.take() {
                        ctx.txl.abandon(tx);
                    }
                    let outcome = self.cancel_outcome();
                    self.end(
                        now,
                        outcome,
                        None,
                        Some("no final response after CANCEL".into()),
                    );
                }
                State::Terminating => self.end(now, Outcome::Answered, None, None),
                _ => {}
            }
        }
    }

    fn cancel_outcome(&self) -> Outcome {
        match self.cancel {
            Some(CancelWhy::RingTimeout) => Outcome::NoAnswer,
            _ => Outcome::Interrupted,
        }
    }

    fn start_cancel(&mut self, now: Instant, why: CancelWhy, ctx: &mut Ctx<'_>) {
        self.cancel.get_or_insert(why);
        let heard = self.state == State::Early;
        self.state = State::Cancelling;
        // A CANCEL may only follow a provisional response (RFC 3261 §9.1); otherwise it goes
        // when one comes, and timer B ends the INVITE if none does.
        if heard {
            self.send_cancel(now, ctx);
        }
    }

    fn send_cancel(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if self.cancel_sent {
            return;
        }
        self.cancel_sent = true;
        let inv = &self.invite;
        let mut c = Request::new(Method::Cancel, inv.uri.clone());
        if let Some(v) = inv.headers.get_all("Via").next() {
            c.headers.push("Via", v);
        }
        for (n, v) in inv.headers.iter() {
            if n.eq_ignore_ascii_case("Route") {
                c.headers.push("Route", v);
            }
        }
        c.headers.push("Max-Forwards", "70");
        for h in ["From", "To", "Call-ID"] {
            if let Some(v) = inv.headers.get(h) {
                c.headers.push(h, v);
            }
        }
        let seq = inv.cseq().map(|c| c.seq).unwrap_or(1);
        c.headers.push("CSeq", format!("{seq} CANCEL"));
        self.send(now, &c, self.spec.dest, ctx);
        self.giveup_deadline = Some(now + ctx.txl.timers().t64());
    }

    fn send_bye(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let via = ctx.via(self.spec.transport);
        let bye = d.request(Method::Bye, &via);
        let to = hop(&self.spec, d);
        self.state = State::Terminating;
        self.talk_deadline = None;
        if self.send(now, &bye, to, ctx).is_none() {
            self.end(now, Outcome::Answered, None, None);
        } else {
            // Timer F ends the BYE transaction; this is the call's own backstop.
            self.giveup_deadline = Some(now + ctx.txl.timers().t64() + Duration::from_millis(1));
        }
    }

    /// A response on one of our transactions.
    pub(crate) fn on_response(&mut self, now: Instant, tx: TxId, r: Response, ctx: &mut Ctx<'_>) {
        self.first_response.get_or_insert(now);
        if Some(tx) == self.invite_tx {
            self.on_invite_response(now, r, ctx);
        } else if r.status >= 200 && r.cseq().map(|c| c.method == Method::Bye).unwrap_or(false) {
            if matches!(r.status, 401 | 407)
                && self.state == State::Terminating
                && let Some(retry) = self.authenticated_retry(&r, ctx)
            {
                let to = self.dialog.as_ref().map(|d| hop(&self.spec, d));
                self.send(now, &retry, to.unwrap_or(self.spec.dest), ctx);
                return;
            }
            if self.state == State::Terminating {
                self.end(now, Outcome::Answered, None, None);
            }
        }
        // CANCEL's own responses need nothing: the INVITE's 487 or 2xx decides.
    }

    fn on_invite_response(&mut self, now: Instant, r: Response, ctx: &mut Ctx<'_>) {
        match r.status {
            100..=199 => {
                if matches!(r.status, 180 | 183) && self.ringing.is_none() {
                    self.ringing = Some(now);
                    // The ring timeout counts from the first ring when one comes.
                    if matches!(self.state, State::Calling | State::Early) {
                        let from_ring = now + self.spec.ring_timeout;
                        self.ring_deadline = self.ring_deadline.map(|d| d.max(from_ring));
                    }
                }
                match self.state {
                    State::Calling => self.state = State::Early,
                    State::Cancelling => self.send_cancel(now, ctx),
                    _ => {}
                }
                self.events
                    .push_back(CallEvent::Progress { status: r.status });
            }
            200..=299 => self.on_2xx(now, r, ctx),
            401 | 407 if !matches!(self.state, State::Cancelling | State::Ended) => {
                if let Some(retry) = self.authenticated_retry(&r, ctx) {
                    self.invite = retry.clone();
                    self.invite_tx = self.send(now, &retry, self.spec.dest, ctx);
                    self.state = State::Calling;
                    if self.invite_tx.is_some() {
                        return;
                    }
                }
                self.invite_tx = None;
                self.end(
                    now,
                    Outcome::Rejected,
                    Some(r.status),
                    Some(r.reason.clone()),
                );
            }
            status => {
                self.invite_tx = None;
                let outcome = if self.state == State::Cancelling {
                    self.cancel_outcome()
                } else {
                    outcome_for_status(status)
                };
                self.end(now, outcome, Some(status), Some(r.reason.clone()));
            }
        }
    }

    /// The INVITE again with the next CSeq, a new branch and our answer to the challenge.
    fn authenticated_retry(&mut self, r: &Response, ctx: &mut Ctx<'_>) -> Option<Request> {
        let creds = self.spec.credentials.clone()?;
        let challenge = r.challenges().into_iter().next()?;
        let nonce = challenge.nonce()?;
        if self.auth_nonces.contains(&nonce) || self.auth_nonces.len() >= 3 {
            return None; // wrong credentials: the same challenge again
        }
        self.auth_nonces.push(nonce);
        let base = if r.cseq().map(|c| c.method == Method::Invite).unwrap_or(true) {
            self.invite.clone()
        } else {
            let d = self.dialog.as_mut()?;
            let via = ctx.via(self.spec.transport);
            d.request(Method::Bye, &via)
        };
        let mut retry = base;
        let cnonce = ctx.token();
        let (name, value) = challenge
            .answer(
                &creds.username,
                &creds.password,
                &retry.method,
                &retry.uri,
                &cnonce,
            )
            .ok()?;
        let seq = retry.cseq().ok()?.seq + 1;
        if let Some(d) = self.dialog.as_mut() {
            d.local_seq = d.local_seq.max(seq);
        }
        let via = ctx.via(self.spec.transport);
        retry.headers.remove("Authorization");
        retry.headers.remove("Proxy-Authorization");
        retry.headers.replace("Via", via);
        retry
            .headers
            .replace("CSeq", format!("{seq} {}", retry.method));
        retry.headers.push(name, value);
        Some(retry)
    }

    fn on_2xx(&mut self, now: Instant, r: Response, ctx: &mut Ctx<'_>) {
        let seq = r.cseq().map(|c| c.seq).unwrap_or(1);
        let to_tag = r.hdr_to().ok().and_then(|t| t.tag);
        // A copy of the 2xx we already ACKed: ACK it again.
        if let (Some(d), Some((ack_seq, ack))) = (&self.dialog, &self.ack) {
            if to_tag.as_deref() == Some(d.remote_tag.as_str()) && seq == *ack_seq {
                let to = hop(&self.spec, d);
                ctx.txl.send_stateless(to, self.spec.transport, ack.clone());
                return;
            }
            // Another fork answered too: ACK it and BYE it.
            if let Ok(mut other) = Dialog::from_2xx(&self.invite, &r) {
                let to = hop(&self.spec, &other);
                let via = ctx.via(self.spec.transport);
                let ack = other.ack(seq, &via).to_bytes();
                ctx.txl.send_stateless(to, self.spec.transport, ack);
                let via = ctx.via(self.spec.transport);
                let bye = other.request(Method::Bye, &via);
                self.send(now, &bye, to, ctx);
            }
            return;
        }
        let Ok(mut dialog) = Dialog::from_2xx(&self.invite, &r) else {
            // A 2xx we cannot build a dialog from (no To tag …): nothing sensible to ACK.
            self.end(
                now,
                Outcome::Failed,
                Some(r.status),
                Some("unusable 2xx".into()),
            );
            return;
        };
        let via = ctx.via(self.spec.transport);
        let ack = dialog.ack(seq, &via).to_bytes();
        let to = hop(&self.spec, &dialog);
        ctx.txl.send_stateless(to, self.spec.transport, ack.clone());
        self.ack = Some((seq, ack));
        dialog.local_seq = dialog.local_seq.max(seq);
        self.dialog = Some(dialog);
        self.status = Some(r.status);
        self.reason = Some(r.reason.clone());
        self.remote_sdp = (!r.body.is_empty()).then(|| r.body.clone());
        self.answer = self.remote_sdp.clone();
        self.ring_deadline = None;
        if self.state == State::Cancelling {
            // The 200 crossed our CANCEL: the call is up; take it down.
            self.outcome = Some(self.cancel_outcome());
            self.ended_by = Some(EndedBy::Us);
            self.send_bye(now, ctx);
            return;
        }
        self.answered = Some(now);
        self.state = State::Confirmed;
        self.talk_deadline = self.spec.talk_limit.map(|d| now + d);
        self.events.push_back(CallEvent::Answered {
            content_type: r.content_type().map(str::to_owned),
            answer: r.body.clone(),
        });
    }

    /// A 2xx copy that arrived after the INVITE transaction ended: ACK it again.
    pub(crate) fn on_stray_2xx(&mut self, r: Response, ctx: &mut Ctx<'_>) {
        let to_tag = r.hdr_to().ok().and_then(|t| t.tag);
        let seq = r.cseq().map(|c| c.seq).ok();
        if let (Some(d), Some((ack_seq, ack))) = (&self.dialog, &self.ack)
            && to_tag.as_deref() == Some(d.remote_tag.as_str())
            && seq == Some(*ack_seq)
        {
            let to = hop(&self.spec, d);
            ctx.txl.send_stateless(to, self.spec.transport, ack.clone());
        }
    }

    /// A transaction of ours got no final response.
    pub(crate) fn on_tx_timeout(&mut self, now: Instant, tx: TxId) {
        if Some(tx) == self.invite_tx {
            self.invite_tx = None;
            let outcome = if self.state == State::Cancelling {
                self.cancel_outcome()
            } else {
                Outcome::Failed
            };
            self.end(now, outcome, None, Some("no response (timer B)".into()));
        } else if self.state == State::Terminating {
            self.end(now, Outcome::Answered, None, None);
        }
    }

    /// A request from the far end with this call's Call-ID (`tx` is its server transaction).
    pub(crate) fn on_request(&mut self, now: Instant, tx: TxId, r: Request, ctx: &mut Ctx<'_>) {
        let reply = |ctx: &mut Ctx<'_>, status: u16| {
            let mut resp = r.response(status, None);
            if status == 405 {
                resp.headers
                    .push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
            }
            ctx.txl.respond(now, tx, resp);
        };
        let Some(d) = self.dialog.as_mut().filter(|d| d.matches(&r)) else {
            return reply(ctx, 481);
        };
        if r.method == Method::Cancel {
            // A CANCEL carries the CSeq of the request it cancels and is not part of the
            // dialog's sequence (RFC 3261 §9.1, §12.2.2). We answer re-INVITEs at once, so there
            // is never one left to cancel: 481 (§9.2), and the remote CSeq stays as it was.
            return reply(ctx, 481);
        }
        let seq = r.cseq().map(|c| c.seq).unwrap_or(0);
        if !d.accept_remote_seq(seq) {
            return reply(ctx, 500);
        }
        match r.method {
            Method::Bye => {
                reply(ctx, 200);
                if matches!(self.state, State::Confirmed | State::Terminating) {
                    if self.state == State::Confirmed {
                        self.ended_by = Some(EndedBy::Them);
                    }
                    self.end(now, Outcome::Answered, None, None);
                }
            }
            Method::Options | Method::Info => reply(ctx, 200),
            Method::Invite => self.on_reinvite(now, tx, &r, ctx),
            _ => reply(ctx, 405),
        }
    }

    /// re-INVITE: hold/unhold (only the direction or a 0.0.0.0 address changed) is accepted
    /// with our offer's direction mirrored; any other change is refused with 488.
    fn on_reinvite(&mut self, now: Instant, tx: TxId, r: &Request, ctx: &mut Ctx<'_>) {
        let held = match (&self.remote_sdp, &self.spec.offer, self.state) {
            (Some(prev), Some(_), State::Confirmed) if !r.body.is_empty() => {
                hold_change(prev, &r.body)
            }
            _ => None,
        };
        let (Some(held), Some((ct, ours))) = (held, &self.spec.offer) else {
            ctx.txl.respond(now, tx, r.response(488, None));
            return;
        };
        // Target refresh (RFC 3261 §12.2.2), only for a re-INVITE we accept: a refused
        // request changes nothing.
        if let (Some(d), Some(remote_target)) = (self.dialog.as_mut(), r.contact().ok().flatten()) {
            d.remote_target = remote_target.uri;
        }
        self.sdp_version += 1;
        let body = mirror_direction(ours, &r.body, self.sdp_version);
        let mut ok = r.response(200, None);
        ok.headers.push("Contact", self.contact.as_str());
        let ok = ok.with_body(ct, body);
        self.remote_sdp = Some(r.body.clone());
        ctx.txl.respond(now, tx, ok);
        self.events.push_back(CallEvent::Hold { held });
    }
}

/// Is `new` the same session as `prev` but for direction / a hold address? Some(held) if so.
fn hold_change(prev: &[u8], new: &[u8]) -> Option<bool> {
    fn core(sdp: &[u8]) -> Option<Vec<String>> {
        let text = std::str::from_utf8(sdp).ok()?;
        Some(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .filter(|l| !l.starts_with("o=") && !l.starts_with("c="))
                .filter(|l| {
                    !matches!(
                        *l,
                        "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
                    )
                })
                .map(str::to_owned)
                .collect(),
        )
    }
    if core(prev)? != core(new)? {
        return None;
    }
    let text = std::str::from_utf8(new).ok()?;
    let held = text
        .lines()
        .map(str::trim)
        .any(|l| matches!(l, "a=sendonly" | "a=inactive") || l.starts_with("c=IN IP4 0.0.0.0"));
    Some(held)
}

/// Our offer as the answer to their hold/unhold: direction mirrored, `o=` version bumped.
fn mirror_direction(ours: &[u8], theirs: &[u8], version: u64) -> Bytes {
    let theirs = String::from_utf8_lossy(theirs);
    let dir = if theirs.lines().any(|l| l.trim() == "a=sendonly") {
        "a=recvonly"
    } else if theirs.lines().any(|l| l.trim() == "a=inactive") {
        "a=inactive"
    } else if theirs.lines().any(|l| l.trim() == "a=recvonly") {
        "a=sendonly"
    } else {
        "a=sendrecv"
    };
    let ours = String::from_utf8_lossy(ours);
    let mut out = String::new();
    for line in ours.lines().map(str::trim_end) {
        if matches!(
            line,
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
        ) {
            continue;
        }
        if let Some(rest) = line.strip_prefix("o=") {
            let mut f: Vec<&str> = rest.split(' ').collect();
            let v = version.to_string();
            if f.len() >= 3 {
                f[2] = &v;
                out.push_str(&format!("o={}\r\n", f.join(" ")));
                continue;
            }
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(dir);
    out.push_str("\r\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_follows_the_issue() {
        use Outcome::*;
        for (s, o) in [
            (200, Answered),
            (486, Busy),
            (600, Busy),
            (480, NoAnswer),
            (408, NoAnswer),
            (404, InvalidNumber),
            (484, InvalidNumber),
            (604, InvalidNumber),
            (500, Congestion),
            (503, Congestion),
            (403, Rejected),
            (487, Rejected),
            (302, Rejected),
            (603, Rejected),
        ] {
            assert_eq!(outcome_for_status(s), o, "{s}");
        }
    }

    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                       m=audio 4000 RTP/AVP 0 8 101\r\na=sendrecv\r\n";

    #[test]
    fn hold_is_only_a_direction_change() {
        let hold = SDP
            .replace("a=sendrecv", "a=sendonly")
            .replace("1 1 IN", "1 2 IN");
        assert_eq!(hold_change(SDP.as_bytes(), hold.as_bytes()), Some(true));
        let old_hold = SDP.replace("c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0");
        assert_eq!(hold_change(SDP.as_bytes(), old_hold.as_bytes()), Some(true));
        assert_eq!(hold_change(hold.as_bytes(), SDP.as_bytes()), Some(false));
        let new_codec = SDP.replace("0 8 101", "8 101");
        assert_eq!(hold_change(SDP.as_bytes(), new_codec.as_bytes()), None);
        let body = mirror_direction(SDP.as_bytes(), hold.as_bytes(), 5);
        let body = std::str::from_utf8(&body).unwrap();
        assert!(body.contains("o=- 1 5 IN IP4 10.0.0.1\r\n"), "{body}");
        assert!(
            body.ends_with("a=recvonly\r\n") && !body.contains("sendrecv"),
            "{body}"
        );
    }
}
