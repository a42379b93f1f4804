//! The registrar for agents' softphones (RFC 3261 §10, digest per §22 and RFC 7616), sans-IO.
//!
//! Input: [`Registrar::handle_register`] (a REGISTER from a source address; the answer comes
//! back at once and goes to that address) and [`Registrar::handle_timeout`]. Outputs:
//! [`Registrar::poll_event`] (bindings made, refreshed, removed, expired; refusals),
//! [`Registrar::poll_transmit`] (keep-alives), [`Registrar::poll_timeout`].
//!
//! The rules:
//! - The address of record is the To URI's user, an account's `user`; any other gets 403.
//! - Authentication is digest with `qop=auth`, MD5 and SHA-256 offered in the configured
//!   order (one challenge each, the same nonce; an answer with another algorithm is not one). A nonce is ours
//!   (random), bound to the source IP it was given to, and good for `nonce_ttl`; one that is
//!   unknown, expired, from another address or replayed (nonce count not above the last) but
//!   carries the right password is answered with a fresh challenge and `stale=true`.
//! - The authenticated user must be the address of record's: binding another agent's user is
//!   refused (403) even with that agent's password.
//! - Wrong passwords (and unknown users) are counted per user and per source IP: a user with
//!   `max_failures` within `failure_window`, or a source with `max_source_failures`, gets 403
//!   for every REGISTER until the window has passed. The source's limit is the higher one: a
//!   whole office behind one NAT address shares it, and one phone with a stale password must
//!   not lock the others out. Every refusal is an event; at most one per source per 10 s asks
//!   for a log line.
//! - Bindings: each Contact with its expiry (`expires` parameter, else `Expires`, else the
//!   default), clamped to `max_expires`; below `min_expires` → 423 with `Min-Expires`;
//!   `expires=0` removes that contact, `Contact: *` with `Expires: 0` all of them; at most
//!   `max_contacts` per user. A binding remembers the source address its REGISTER came from
//!   (NAT: the daemon calls the contact through that address, RFC 3581) and is kept open by a
//!   CRLF keep-alive every `keepalive` (RFC 5626 §4.4.1's ping).
//! - Retransmissions (same Via branch, Call-ID and CSeq within 32 s) get the same answer.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::digest::{self, Algorithm, Authorization};
use super::guard::LogThrottle;
use super::message::{HasHeaders, Method, Request, Response, Transport, Uri};
use super::transaction::Transmit;

/// One agent's phone account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The SIP user (`sip:alice@…`).
    pub user: String,
    /// The agent it belongs to.
    pub agent: String,
    pub password: String,
}

/// How the registrar behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrarConfig {
    pub realm: String,
    /// How long a nonce is good for.
    pub nonce_ttl: Duration,
    pub min_expires: u32,
    pub max_expires: u32,
    /// Expiry when the REGISTER names none.
    pub default_expires: u32,
    pub max_contacts: usize,
    /// Wrong passwords for one user within `failure_window` before refusing it.
    pub max_failures: u32,
    /// Wrong passwords and unknown users from one source IP within `failure_window` before
    /// refusing it.
    pub max_source_failures: u32,
    pub failure_window: Duration,
    /// CRLF keep-alive to each binding's source this often (zero: none).
    pub keepalive: Duration,
    /// Nonces outstanding at most (the oldest go first).
    pub max_nonces: usize,
    /// The algorithms offered, most preferred first (one challenge each, the same nonce);
    /// only these are accepted.
    pub algorithms: Vec<Algorithm>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            realm: "dialer".into(),
            nonce_ttl: Duration::from_secs(300),
            min_expires: 60,
            // Short, so that a restarted daemon (bindings are in memory) hears from every phone
            // within 10 minutes, and a phone that vanished is noticed as soon.
            max_expires: 600,
            default_expires: 600,
            max_contacts: 4,
            max_failures: 5,
            max_source_failures: 20,
            failure_window: Duration::from_secs(60),
            keepalive: Duration::from_secs(25),
            max_nonces: 4096,
            // Phones that know only MD5 (Debian's baresip 1.0 among them) fail outright when
            // any SHA-256 challenge is offered, even after an MD5 one.
            algorithms: vec![Algorithm::Md5],
        }
    }
}

/// A registered contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub contact: Uri,
    /// Where its REGISTER came from: the address to send to (behind NAT it is not the
    /// contact's).
    pub source: SocketAddr,
    pub transport: Transport,
    pub expires_at: Instant,
    pub updated: Instant,
    call_id: String,
    cseq: u32,
    next_keepalive: Instant,
}

/// Why a REGISTER was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The address of record is no account's (403).
    UnknownUser,
    /// A digest with a wrong password (401 again, or 403 once over the limit).
    WrongPassword,
    /// Too many wrong passwords from this source or for this user lately (403).
    LockedOut,
    /// Authenticated as one user, binding another (403).
    OtherUser,
    /// Unparseable, or out of order (400/500).
    BadRequest,
    /// An expiry under `min_expires` (423).
    IntervalTooBrief,
    /// More contacts than `max_contacts` (403).
    TooManyContacts,
}

impl Refusal {
    /// A metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownUser => "unknown_user",
            Refusal::WrongPassword => "wrong_password",
            Refusal::LockedOut => "locked_out",
            Refusal::OtherUser => "other_user",
            Refusal::BadRequest => "bad_request",
            Refusal::IntervalTooBrief => "interval_too_brief",
            Refusal::TooManyContacts => "too_many_contacts",
        }
    }

    pub const ALL: [Refusal; 7] = [
        Refusal::UnknownUser,
        Refusal::WrongPassword,
        Refusal::LockedOut,
        Refusal::OtherUser,
        Refusal::BadRequest,
        Refusal::IntervalTooBrief,
        Refusal::TooManyContacts,
    ];
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::UnknownUser => "no agent has this SIP user",
            Refusal::WrongPassword => "wrong password",
            Refusal::LockedOut => "too many wrong passwords from this source or for this user",
            Refusal::OtherUser => "authenticated as another agent's user",
            Refusal::BadRequest => "malformed or out-of-order REGISTER",
            Refusal::IntervalTooBrief => "expiry under the minimum",
            Refusal::TooManyContacts => "too many contacts for one user",
        })
    }
}

/// How a binding ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Not refreshed in time.
    Expired,
    /// Removed by the phone (expires=0).
    Unregistered,
}

/// What the registrar tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// A contact bound (`refreshed`: it was already).
    Registered {
        user: String,
        agent: String,
        contact: String,
        source: SocketAddr,
        expires: u32,
        refreshed: bool,
    },
    /// A contact's binding ended; `last`: the user has no binding left.
    Unbound {
        user: String,
        agent: String,
        contact: String,
        why: Gone,
        last: bool,
    },
    /// A REGISTER refused; `log` as in [`super::endpoint::EndpointEvent::Rejected`].
    Refused {
        user: Option<String>,
        source: SocketAddr,
        reason: Refusal,
        log: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy)]
struct NonceState {
    source: IpAddr,
    issued: Instant,
    /// Highest nonce count seen with it.
    nc: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    since: Option<Instant>,
    count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FailKey {
    Source(IpAddr),
    User(String),
}

/// The registrar (see the module docs).
#[derive(Debug)]
pub struct Registrar {
    cfg: RegistrarConfig,
    accounts: HashMap<String, Account>,
    bindings: HashMap<String, Vec<Binding>>,
    nonces: HashMap<String, NonceState>,
    failures: HashMap<FailKey, Failures>,
    answered: HashMap<(String, String, u32), (Instant, Response)>,
    log: LogThrottle,
    rng: ChaCha8Rng,
    events: VecDeque<RegistrarEvent>,
    transmits: VecDeque<Transmit>,
}

/// How long a retransmission gets the stored answer (Timer J, 64 × T1).
const ANSWERED_FOR: Duration = Duration::from_secs(32);

impl Registrar {
    /// `seed` feeds nonces and tags (OS entropy outside tests).
    pub fn new(cfg: RegistrarConfig, accounts: Vec<Account>, seed: u64) -> Registrar {
        Registrar {
            accounts: accounts.into_iter().map(|a| (a.user.clone(), a)).collect(),
            bindings: HashMap::new(),
            nonces: HashMap::new(),
            failures: HashMap::new(),
            answered: HashMap::new(),
            log: LogThrottle::new(Duration::from_secs(10), cfg.max_nonces),
            rng: ChaCha8Rng::seed_from_u64(seed),
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            cfg,
        }
    }

    /// The binding to call for `user`: the most recently refreshed one.
    pub fn binding(&self, user: &str) -> Option<&Binding> {
        self.bindings.get(user)?.iter().max_by_key(|b| b.updated)
    }

    /// Every live binding of `user`.
    pub fn bindings(&self, user: &str) -> &[Binding] {
        self.bindings.get(user).map_or(&[], Vec::as_slice)
    }

    /// Is some binding's source at this IP? (Its keep-alive OPTIONS are then served.)
    pub fn is_bound(&self, ip: IpAddr) -> bool {
        self.bindings
            .values()
            .flatten()
            .any(|b| b.source.ip() == ip)
    }

    /// Live bindings, all users.
    pub fn binding_count(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    /// Answer one REGISTER from `from` (send the response to `from`).
    pub fn handle_register(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        req: &Request,
    ) -> Response {
        let key = (
            req.top_via()
                .ok()
                .and_then(|v| v.branch)
                .unwrap_or_default(),
            req.call_id().unwrap_or_default().to_owned(),
            req.cseq().map(|c| c.seq).unwrap_or_default(),
        );
        if let Some((at, resp)) = self.answered.get(&key)
            && now.saturating_duration_since(*at) < ANSWERED_FOR
        {
            return resp.clone();
        }
        let mut resp = self.answer(now, from, transport, req);
        resp.stamp_source(from);
        if self.answered.len() >= self.cfg.max_nonces {
            self.answered
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < ANSWERED_FOR);
            if self.answered.len() >= self.cfg.max_nonces {
                self.answered.clear();
            }
        }
        self.answered.insert(key, (now, resp.clone()));
        resp
    }

    fn answer(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        req: &Request,
    ) -> Response {
        let tag = format!("{:016x}", self.rng.next_u64());
        let reply = |status: u16| req.response(status, Some(&tag));
        let user = match req.hdr_to() {
            Ok(to) => to.uri.user,
            Err(_) => return self.refuse(now, from, None, Refusal::BadRequest, reply(400)),
        };
        let user = match user {
            Some(u) if self.accounts.contains_key(&u) => u,
            // A stranger's name goes into a log line: at most 64 characters of it.
            other => {
                let shown = other.map(|u| u.chars().take(64).collect());
                return self.refuse(now, from, shown, Refusal::UnknownUser, reply(403));
            }
        };
        if self.locked(now, from.ip(), &user) {
            return self.refuse(now, from, Some(user), Refusal::LockedOut, reply(403));
        }
        // Whole fields: a digest's parameters are comma-separated, so not `get_all`.
        let fields: Vec<&str> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Authorization"))
            .map(|(_, v)| v)
            .collect();
        let auth = fields
            .iter()
            .filter_map(|v| Authorization::parse(v).ok())
            .find(|a| a.realm == self.cfg.realm && self.cfg.algorithms.contains(&a.algorithm));
        let Some(auth) = auth else {
            if !fields.is_empty() && fields.iter().all(|v| Authorization::parse(v).is_err()) {
                return self.refuse(now, from, Some(user), Refusal::BadRequest, reply(400));
            }
            return self.challenge(now, from.ip(), false, reply(401));
        };
        if auth.username != user {
            // Bound to another agent's user (or to nobody's): never, whatever the password.
            return self.refuse(now, from, Some(user), Refusal::OtherUser, reply(403));
        }
        let password = self
            .accounts
            .get(&user)
            .map(|a| a.password.clone())
            .unwrap_or_default();
        let right = auth.verify(&password, Method::Register.as_str());
        let nonce_ok = match self.nonces.get_mut(&auth.nonce) {
            Some(n)
                if n.source == from.ip()
                    && now.saturating_duration_since(n.issued) < self.cfg.nonce_ttl =>
            {
                match auth.qop {
                    Some((_, nc)) if nc > n.nc => {
                        if right {
                            n.nc = nc;
                        }
                        true
                    }
                    Some(_) => false, // replayed count
                    None => true,
                }
            }
            _ => false,
        };
        if !right {
            self.nonces.remove(&auth.nonce);
            if self.fail(now, from.ip(), &user) {
                return self.refuse(now, from, Some(user), Refusal::LockedOut, reply(403));
            }
            let resp = self.challenge(now, from.ip(), false, reply(401));
            return self.refuse(now, from, Some(user), Refusal::WrongPassword, resp);
        }
        if !nonce_ok {
            return self.challenge(now, from.ip(), true, reply(401));
        }
        self.failures.remove(&FailKey::User(user.clone()));
        self.bind(now, from, transport, req, &user, reply)
    }

    /// Apply the REGISTER's contacts for an authenticated `user` (all or nothing).
    fn bind(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        req: &Request,
        user: &str,
        reply: impl Fn(u16) -> Response,
    ) -> Response {
        let bad = |s: &mut Self| {
            s.refuse(
                now,
                from,
                Some(user.into()),
                Refusal::BadRequest,
                reply(400),
            )
        };
        let Ok(contacts) = req.contacts() else {
            return bad(self);
        };
        let header_expires = match req.headers.get("Expires") {
            None => None,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                Err(_) => return bad(self),
            },
        };
        let (Ok(call_id), Ok(cseq)) = (req.call_id(), req.cseq()) else {
            return bad(self);
        };
        let agent = self
            .accounts
            .get(user)
            .map(|a| a.agent.clone())
            .unwrap_or_default();
        let mut list = self.bindings.get(user).cloned().unwrap_or_default();
        let mut added = Vec::new();
        let mut removed = Vec::new();
        match contacts {
            // `Contact: *`: only with `Expires: 0`.
            None => {
                if header_expires != Some(0) {
                    return bad(self);
                }
                removed.append(&mut list);
            }
            Some(contacts) => {
                for c in contacts {
                    let asked = c
                        .expires
                        .or(header_expires)
                        .unwrap_or(self.cfg.default_expires);
                    if asked != 0 && asked < self.cfg.min_expires {
                        let mut r = reply(423);
                        r.headers
                            .push("Min-Expires", self.cfg.min_expires.to_string());
                        return self.refuse(
                            now,
                            from,
                            Some(user.into()),
                            Refusal::IntervalTooBrief,
                            r,
                        );
                    }
                    let existing = list.iter().position(|b| b.contact == c.uri);
                    if let Some(i) = existing
                        && list[i].call_id == call_id
                        && list[i].cseq >= cseq.seq
                    {
                        // RFC 3261 §10.3 step 7: an older request of the same registration.
                        return bad(self);
                    }
                    if asked == 0 {
                        if let Some(i) = existing {
                            removed.push(list.remove(i));
                        }
                        continue;
                    }
                    let expires = asked.min(self.cfg.max_expires);
                    let b = Binding {
                        contact: c.uri.clone(),
                        source: from,
                        transport,
                        expires_at: now + Duration::from_secs(u64::from(expires)),
                        updated: now,
                        call_id: call_id.to_owned(),
                        cseq: cseq.seq,
                        next_keepalive: now + self.cfg.keepalive,
                    };
                    match existing {
                        Some(i) => list[i] = b,
                        None => list.push(b),
                    }
                    added.push((c.uri.to_string(), expires, existing.is_some()));
                }
            }
        }
        if list.len() > self.cfg.max_contacts {
            return self.refuse(
                now,
                from,
                Some(user.into()),
                Refusal::TooManyContacts,
                reply(403),
            );
        }
        let mut ok = reply(200);
        for b in &list {
            // What is left, rounded up (a binding made a moment ago still says what it got).
            let d = b.expires_at.saturating_duration_since(now);
            let left = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            ok.headers
                .push("Contact", format!("<{}>;expires={left}", b.contact));
        }
        let last = list.is_empty();
        let n_removed = removed.len();
        for (i, b) in removed.into_iter().enumerate() {
            self.events.push_back(RegistrarEvent::Unbound {
                user: user.into(),
                agent: agent.clone(),
                contact: b.contact.to_string(),
                why: Gone::Unregistered,
                last: last && i + 1 == n_removed,
            });
        }
        for (contact, expires, refreshed) in added {
            self.events.push_back(RegistrarEvent::Registered {
                user: user.into(),
                agent: agent.clone(),
                contact,
                source: from,
                expires,
                refreshed,
            });
        }
        if list.is_empty() {
            self.bindings.remove(user);
        } else {
            self.bindings.insert(user.into(), list);
        }
        ok
    }

    /// A 401 with a fresh nonce bound to `ip`: SHA-256 offered first, then MD5.
    fn challenge(&mut self, now: Instant, ip: IpAddr, stale: bool, mut resp: Response) -> Response {
        if self.nonces.len() >= self.cfg.max_nonces {
            let ttl = self.cfg.nonce_ttl;
            self.nonces
                .retain(|_, n| now.saturating_duration_since(n.issued) < ttl);
            while self.nonces.len() >= self.cfg.max_nonces {
                let oldest = self
                    .nonces
                    .iter()
                    .min_by_key(|(_, n)| n.issued)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => self.nonces.remove(&k),
                    None => break,
                };
            }
        }
        let nonce = format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64());
        self.nonces.insert(
            nonce.clone(),
            NonceState {
                source: ip,
                issued: now,
                nc: 0,
            },
        );
        for &alg in &self.cfg.algorithms {
            resp.headers.push(
                "WWW-Authenticate",
                digest::challenge(&self.cfg.realm, &nonce, alg, stale),
            );
        }
        resp
    }

    fn refuse(
        &mut self,
        now: Instant,
        source: SocketAddr,
        user: Option<String>,
        reason: Refusal,
        resp: Response,
    ) -> Response {
        if reason == Refusal::UnknownUser {
            // Guessing users counts against the source like guessing passwords. (Binding
            // another's user needs that user's password, counted where it is checked.)
            self.fail(now, source.ip(), "");
        }
        let log = self.log.line(now, source.ip());
        self.events.push_back(RegistrarEvent::Refused {
            user,
            source,
            reason,
            log,
        });
        resp
    }

    fn window_open(&self, f: &Failures, now: Instant) -> bool {
        f.since
            .is_some_and(|s| now.saturating_duration_since(s) < self.cfg.failure_window)
    }

    fn locked(&self, now: Instant, ip: IpAddr, user: &str) -> bool {
        let over = |k: &FailKey, max: u32| {
            self.failures
                .get(k)
                .is_some_and(|f| self.window_open(f, now) && f.count >= max)
        };
        over(&FailKey::Source(ip), self.cfg.max_source_failures)
            || over(&FailKey::User(user.to_owned()), self.cfg.max_failures)
    }

    /// Count a failure for the source (and the user, when named); true when now locked out.
    fn fail(&mut self, now: Instant, ip: IpAddr, user: &str) -> bool {
        if self.failures.len() >= self.cfg.max_nonces {
            let w = self.cfg.failure_window;
            self.failures.retain(|_, f| {
                f.since
                    .is_some_and(|s| now.saturating_duration_since(s) < w)
            });
        }
        let mut keys = vec![FailKey::Source(ip)];
        if !user.is_empty() {
            keys.push(FailKey::User(user.to_owned()));
        }
        for k in keys {
            let mut f = self.failures.get(&k).copied().unwrap_or_default();
            if !self.window_open(&f, now) {
                f = Failures {
                    since: Some(now),
                    count: 0,
                };
            }
            f.count += 1;
            self.failures.insert(k, f);
        }
        self.locked(now, ip, user)
    }

    /// Expire bindings and send keep-alives that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut users: Vec<&String> = self.bindings.keys().collect();
        users.sort();
        let users: Vec<String> = users.into_iter().cloned().collect();
        for user in users {
            let agent = self
                .accounts
                .get(&user)
                .map(|a| a.agent.clone())
                .unwrap_or_default();
            let Some(list) = self.bindings.get_mut(&user) else {
                continue;
            };
            let (gone, kept): (Vec<_>, Vec<_>) = list.drain(..).partition(|b| b.expires_at <= now);
            *list = kept;
            for b in list.iter_mut() {
                if !self.cfg.keepalive.is_zero() && b.next_keepalive <= now {
                    b.next_keepalive = now + self.cfg.keepalive;
                    if b.transport == Transport::Udp {
                        self.transmits.push_back(Transmit {
                            to: b.source,
                            transport: b.transport,
                            bytes: Bytes::from_static(b"\r\n\r\n"),
                        });
                    }
                }
            }
            let empty = list.is_empty();
            if empty {
                self.bindings.remove(&user);
            }
            let n = gone.len();
            for (i, b) in gone.into_iter().enumerate() {
                self.events.push_back(RegistrarEvent::Unbound {
                    user: user.clone(),
                    agent: agent.clone(),
                    contact: b.contact.to_string(),
                    why: Gone::Expired,
                    last: empty && i + 1 == n,
                });
            }
        }
    }

    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next expiry or keep-alive.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bindings
            .values()
            .flatten()
            .flat_map(|b| {
                let ka = (!self.cfg.keepalive.is_zero()).then_some(b.next_keepalive);
                [Some(b.expires_at), ka]
            })
            .flatten()
            .min()
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests;
