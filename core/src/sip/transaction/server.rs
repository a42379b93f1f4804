//! Server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state for INVITE).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Key, Timers, Transmit};
use crate::sip::message::{Response, Transport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the user's answer (or sent a provisional one).
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(super) struct ServerTx {
    pub(super) key: Key,
    pub(super) invite: bool,
    state: State,
    to: SocketAddr,
    transport: Transport,
    last: Option<Bytes>,
    interval: Duration,
    retransmit_at: Option<Instant>,
    timeout_at: Option<Instant>,
    end_at: Option<Instant>,
}

impl ServerTx {
    pub(super) fn new(
        now: Instant,
        timers: Timers,
        invite: bool,
        to: SocketAddr,
        transport: Transport,
        key: Key,
    ) -> Self {
        ServerTx {
            key,
            invite,
            state: State::Proceeding,
            to,
            transport,
            last: None,
            interval: timers.t1,
            retransmit_at: None,
            // Never answered by the user: dropped after 64·T1 so state stays bounded.
            timeout_at: Some(now + timers.t64()),
            end_at: None,
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

    fn transmit(&self) -> Option<Transmit> {
        self.last.as_ref().map(|b| Transmit {
            to: self.to,
            transport: self.transport,
            bytes: b.clone(),
        })
    }

    pub(super) fn respond(
        &mut self,
        now: Instant,
        timers: Timers,
        r: Response,
    ) -> Option<Transmit> {
        if self.state != State::Proceeding {
            return None; // one final response only
        }
        self.last = Some(r.to_bytes());
        let unreliable = !self.transport.is_reliable();
        if r.status >= 200 {
            if self.invite {
                self.state = if r.is_success() {
                    State::Accepted
                } else {
                    State::Completed
                };
                self.interval = timers.t1;
                self.retransmit_at = unreliable.then(|| now + timers.t1); // timer G
                self.timeout_at = Some(now + timers.t64()); // timer H (L when accepted)
            } else {
                self.state = State::Completed;
                self.timeout_at = None;
                self.end_at = Some(if unreliable { now + timers.t64() } else { now }); // timer J
            }
        }
        self.transmit()
    }

    /// A retransmitted request (re-send our last response) or, for INVITE, its ACK.
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        timers: Timers,
        is_ack: bool,
    ) -> Option<Transmit> {
        if is_ack {
            if self.invite && matches!(self.state, State::Completed | State::Accepted) {
                self.state = State::Confirmed;
                self.retransmit_at = None;
                self.timeout_at = None;
                let linger = if self.transport.is_reliable() {
                    Duration::ZERO
                } else {
                    timers.t4
                };
                self.end_at = Some(now + linger); // timer I
            }
            return None;
        }
        match self.state {
            State::Proceeding | State::Completed | State::Accepted => self.transmit(),
            State::Confirmed | State::Terminated => None,
        }
    }

    pub(super) fn on_timer(&mut self, now: Instant, timers: Timers) -> Option<Transmit> {
        if self.end_at.is_some_and(|t| t <= now) || self.timeout_at.is_some_and(|t| t <= now) {
            self.state = State::Terminated;
            return None;
        }
        let at = self.retransmit_at.filter(|t| *t <= now)?;
        self.interval = (self.interval * 2).min(timers.t2);
        self.retransmit_at = Some(at.max(now) + self.interval);
        self.transmit()
    }
}
