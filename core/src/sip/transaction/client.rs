//! Client transactions (RFC 3261 §17.1, with RFC 6026's Accepted state for INVITE).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Key, Timers, Transmit};
use crate::sip::message::{HasHeaders, Method, Request, Response, Transport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// INVITE "Calling" / non-INVITE "Trying".
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(super) struct ClientTx {
    pub(super) key: Key,
    invite: bool,
    state: State,
    request: Request,
    bytes: Bytes,
    to: SocketAddr,
    transport: Transport,
    interval: Duration,
    retransmit_at: Option<Instant>,
    timeout_at: Option<Instant>,
    end_at: Option<Instant>,
    ack: Option<Bytes>,
}

#[derive(Debug, Default)]
pub(super) struct ResponseOut {
    pub(super) transmit: Option<Transmit>,
    pub(super) deliver: bool,
}

#[derive(Debug, Default)]
pub(super) struct TimerOut {
    pub(super) transmit: Option<Transmit>,
    pub(super) timed_out: bool,
}

impl ClientTx {
    pub(super) fn new(
        now: Instant,
        timers: Timers,
        request: Request,
        bytes: Bytes,
        to: SocketAddr,
        transport: Transport,
        key: Key,
    ) -> Self {
        let reliable = transport.is_reliable();
        ClientTx {
            key,
            invite: request.method == Method::Invite,
            state: State::Calling,
            request,
            bytes,
            to,
            transport,
            interval: timers.t1,
            retransmit_at: (!reliable).then(|| now + timers.t1),
            timeout_at: Some(now + timers.t64()),
            end_at: None,
            ack: None,
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        [self.retransmit_at, self.timeout_at, self.end_at]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    fn linger(&self, now: Instant, d: Duration) -> Option<Instant> {
        Some(if self.transport.is_reliable() {
            now
        } else {
            now + d
        })
    }

    pub(super) fn on_response(
        &mut self,
        now: Instant,
        timers: Timers,
        r: &Response,
    ) -> ResponseOut {
        let mut out = ResponseOut::default();
        match (self.invite, self.state, r.status) {
            (_, State::Terminated, _) => {}
            // INVITE
            (true, State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.retransmit_at = None;
                self.timeout_at = None;
                out.deliver = true;
            }
            (true, State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.retransmit_at = None;
                self.timeout_at = None;
                self.end_at = Some(now + timers.t64()); // timer M
                out.deliver = true;
            }
            (true, State::Accepted, 200..=299) => out.deliver = true,
            (true, State::Calling | State::Proceeding, _) => {
                self.state = State::Completed;
                self.retransmit_at = None;
                self.timeout_at = None;
                self.end_at = self.linger(now, timers.t64()); // timer D (32 s with default T1)
                let ack = self.ack_for(r).to_bytes();
                self.ack = Some(ack.clone());
                out.transmit = Some(Transmit {
                    to: self.to,
                    transport: self.transport,
                    bytes: ack,
                });
                out.deliver = true;
            }
            (true, State::Completed, 300..=699) => {
                if let Some(ack) = &self.ack {
                    out.transmit = Some(Transmit {
                        to: self.to,
                        transport: self.transport,
                        bytes: ack.clone(),
                    });
                }
            }
            (true, _, _) => {}
            // non-INVITE
            (false, State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                out.deliver = true;
            }
            (false, State::Calling | State::Proceeding, _) => {
                self.state = State::Completed;
                self.retransmit_at = None;
                self.timeout_at = None;
                self.end_at = self.linger(now, timers.t4); // timer K
                out.deliver = true;
            }
            (false, _, _) => {}
        }
        out
    }

    pub(super) fn on_timer(&mut self, now: Instant, timers: Timers) -> TimerOut {
        let mut out = TimerOut::default();
        if self.end_at.is_some_and(|t| t <= now) {
            self.state = State::Terminated;
            return out;
        }
        if self.timeout_at.is_some_and(|t| t <= now) {
            self.state = State::Terminated;
            out.timed_out = true;
            return out;
        }
        if let Some(at) = self.retransmit_at.filter(|t| *t <= now) {
            out.transmit = Some(Transmit {
                to: self.to,
                transport: self.transport,
                bytes: self.bytes.clone(),
            });
            self.interval = if self.invite {
                self.interval * 2 // timer A doubles without a cap
            } else if self.state == State::Proceeding {
                timers.t2 // timer E in Proceeding
            } else {
                (self.interval * 2).min(timers.t2)
            };
            self.retransmit_at = Some(at.max(now) + self.interval);
        }
        out
    }

    /// ACK for a non-2xx final response (RFC 3261 §17.1.1.3).
    fn ack_for(&self, r: &Response) -> Request {
        let mut ack = Request::new(Method::Ack, self.request.uri.clone());
        let h = &self.request.headers;
        if let Some(v) = h.get_all("Via").next() {
            ack.headers.push("Via", v);
        }
        for (n, v) in h.iter() {
            if n.eq_ignore_ascii_case("Route") {
                ack.headers.push("Route", v);
            }
        }
        ack.headers.push("Max-Forwards", "70");
        if let Some(v) = h.get("From") {
            ack.headers.push("From", v);
        }
        if let Some(v) = r.headers.get("To").or(h.get("To")) {
            ack.headers.push("To", v);
        }
        if let Some(v) = h.get("Call-ID") {
            ack.headers.push("Call-ID", v);
        }
        let seq = self.request.cseq().map(|c| c.seq).unwrap_or(1);
        ack.headers.push("CSeq", format!("{seq} ACK"));
        ack
    }
}
