//! What the endpoint lets through and how loudly it complains, sans-IO (`now` comes in).
//!
//! - [`Admission`]: rate limits for requests that are not part of a live call, per source IP
//!   and over all sources (GCRA: a theoretical arrival time per bucket). Requests of live
//!   calls never pass here, so a flood cannot starve them.
//! - [`LogThrottle`]: at most one log line per source per window, with the count of the lines
//!   it held back (the metric counts every request).
//!
//! Both keep bounded state: a bucket or a window that has run out is the same as none, so
//! entries are forgotten when the map is full.
//!
//! (governor, which paces the trunks' calls in the driver, reads its own clock; a core that
//! takes `now` needs these few lines of its own.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::message::Method;

/// Why a request was refused or dropped (the `reason` label of
/// `dialer_sip_rejected_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Not from a trunk, an agent or the next hop of a live call.
    UnknownSource,
    /// Belongs to a live call (its Call-ID) but does not come from that call's trunk address
    /// and port, remote target or next hop: a forgery or a misroute.
    WrongSource,
    /// Outside any call, over its source's rate.
    RateLimited,
    /// Over the rate of all sources together, or no room left to serve it.
    Overloaded,
    /// An INVITE outside any call from an allowed source: we place calls, we never take them.
    IncomingCall,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UnknownSource => "unknown_source",
            RejectReason::WrongSource => "wrong_source",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::Overloaded => "overloaded",
            RejectReason::IncomingCall => "incoming_call",
        }
    }

    /// Shed for load (rather than refused for who sent it).
    pub fn is_shed(self) -> bool {
        matches!(self, RejectReason::RateLimited | RejectReason::Overloaded)
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method as a metric label: the RFC methods by name, any extension method as `other` (a
/// stranger must not be able to mint label values).
pub fn method_label(m: &Method) -> &'static str {
    m.rfc_name().unwrap_or("other")
}

/// Rates for requests outside live calls (each is answered statelessly, or dropped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestLimits {
    /// Per source IP: requests per second, sustained (0: no limit).
    pub per_source_rate: f64,
    /// Per source IP: requests let through at once after a quiet spell.
    pub per_source_burst: u32,
    /// All sources together: requests per second (0: no limit).
    pub total_rate: f64,
    pub total_burst: u32,
    /// Sources tracked at once; when every one is busy, a new source is shed as overloaded.
    pub max_sources: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        // A trunk's keep-alive OPTIONS come every few seconds; nothing legitimate needs more.
        RequestLimits {
            per_source_rate: 20.0,
            per_source_burst: 40,
            total_rate: 200.0,
            total_burst: 400,
            max_sources: 4096,
        }
    }
}

/// One GCRA bucket shape: one request per `interval`, `burst` at once.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    interval: Duration,
    tolerance: Duration,
}

impl Gcra {
    fn new(rate: f64, burst: u32) -> Gcra {
        let interval = if rate > 0.0 && rate.is_finite() {
            // At least a request every 1000 s, so the arithmetic below stays small.
            Duration::from_secs_f64(1.0 / rate.max(0.001))
        } else {
            Duration::ZERO
        };
        Gcra {
            interval,
            tolerance: interval.saturating_mul(burst.max(1) - 1),
        }
    }

    /// The bucket's next theoretical arrival time if one more request is let through at
    /// `now`; `None` when it is over its rate.
    fn admit(&self, tat: Option<Instant>, now: Instant) -> Option<Instant> {
        let tat = tat.map_or(now, |t| t.max(now));
        if tat.saturating_duration_since(now) > self.tolerance {
            return None;
        }
        tat.checked_add(self.interval)
    }
}

/// The verdict on one request outside a live call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    /// Its source is over its rate.
    SourceLimited,
    /// All sources together are over their rate, or no source slot is free.
    Overloaded,
}

/// Per-source and overall rate limits.
#[derive(Debug)]
pub struct Admission {
    limits: RequestLimits,
    per_source: Gcra,
    total: Gcra,
    total_tat: Option<Instant>,
    sources: HashMap<IpAddr, Instant>,
    last_purge: Option<Instant>,
}

impl Admission {
    pub fn new(limits: RequestLimits) -> Admission {
        Admission {
            per_source: Gcra::new(limits.per_source_rate, limits.per_source_burst),
            total: Gcra::new(limits.total_rate, limits.total_burst),
            total_tat: None,
            sources: HashMap::new(),
            last_purge: None,
            limits,
        }
    }

    /// May one more request from `ip` be served at `now`? Charges the buckets when it may.
    pub fn check(&mut self, now: Instant, ip: IpAddr) -> Verdict {
        let tat = self.sources.get(&ip).copied();
        let Some(source_next) = self.per_source.admit(tat, now) else {
            return Verdict::SourceLimited;
        };
        if tat.is_none() && self.sources.len() >= self.limits.max_sources {
            // Forget the sources whose bucket has drained (at most once a second: a purge
            // walks the whole map).
            if self
                .last_purge
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
            {
                self.last_purge = Some(now);
                self.sources.retain(|_, t| *t > now);
            }
            if self.sources.len() >= self.limits.max_sources {
                return Verdict::Overloaded;
            }
        }
        let Some(total_next) = self.total.admit(self.total_tat, now) else {
            return Verdict::Overloaded;
        };
        self.total_tat = Some(total_next);
        self.sources.insert(ip, source_next);
        Verdict::Admitted
    }

    /// Sources tracked now (bounded-state checks).
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }
}

/// One log line per source per window.
#[derive(Debug)]
pub struct LogThrottle {
    window: Duration,
    max_sources: usize,
    /// Per source: when its last line was let through, and how many were held back since.
    sources: HashMap<IpAddr, (Instant, u64)>,
}

impl LogThrottle {
    pub fn new(window: Duration, max_sources: usize) -> LogThrottle {
        LogThrottle {
            window,
            max_sources,
            sources: HashMap::new(),
        }
    }

    /// Something from `ip` is worth a line at `now`: `Some(held_back)` when the line is to be
    /// written (with the number held back since the previous one), `None` when it is held back.
    pub fn line(&mut self, now: Instant, ip: IpAddr) -> Option<u64> {
        let window = self.window;
        let open = |at: Instant| now.saturating_duration_since(at) < window;
        if let Some((at, held)) = self.sources.get_mut(&ip) {
            if open(*at) {
                *held += 1;
                return None;
            }
            let n = std::mem::take(held);
            *at = now;
            return Some(n);
        }
        if self.sources.len() >= self.max_sources {
            self.sources.retain(|_, (at, _)| open(*at));
            if self.sources.len() >= self.max_sources {
                return None;
            }
        }
        self.sources.insert(ip, (now, 0));
        Some(0)
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let mut a = Admission::new(RequestLimits {
            per_source_rate: 10.0,
            per_source_burst: 5,
            total_rate: 0.0,
            total_burst: 1,
            max_sources: 8,
        });
        let t0 = Instant::now();
        let admitted = (0..20)
            .filter(|_| a.check(t0, ip(1)) == Verdict::Admitted)
            .count();
        assert_eq!(admitted, 5);
        assert_eq!(a.check(t0, ip(1)), Verdict::SourceLimited);
        // Another source has its own bucket.
        assert_eq!(a.check(t0, ip(2)), Verdict::Admitted);
        // 100 ms later one more is due, not two.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(a.check(t1, ip(1)), Verdict::Admitted);
        assert_eq!(a.check(t1, ip(1)), Verdict::SourceLimited);
        // Over 10 s at 1000/s, about 10/s get through.
        let mut n = 0;
        for i in 0..10_000u64 {
            let t = t1 + Duration::from_millis(i);
            n += usize::from(a.check(t, ip(1)) == Verdict::Admitted);
        }
        assert!((99..=101).contains(&n), "{n}");
    }

    #[test]
    fn all_sources_share_the_total_and_the_map_is_bounded() {
        let mut a = Admission::new(RequestLimits {
            per_source_rate: 1.0,
            per_source_burst: 1,
            total_rate: 100.0,
            total_burst: 3,
            max_sources: 4,
        });
        let t0 = Instant::now();
        let v: Vec<_> = (1..=6).map(|n| a.check(t0, ip(n))).collect();
        use Verdict::*;
        assert_eq!(
            v,
            [
                Admitted, Admitted, Admitted, Overloaded, Overloaded, Overloaded
            ]
        );
        // 50 ms later the total has room again but the map only 4 slots.
        let t1 = t0 + Duration::from_millis(50);
        assert_eq!(a.check(t1, ip(4)), Admitted);
        assert_eq!(a.check(t1, ip(5)), Overloaded);
        assert_eq!(a.tracked(), 4);
        // Once the buckets have drained, their sources are forgotten and new ones fit.
        let t2 = t0 + Duration::from_secs(2);
        assert_eq!(a.check(t2, ip(9)), Admitted);
        assert_eq!(a.tracked(), 1);
    }

    #[test]
    fn one_line_per_source_per_window_with_what_was_held_back() {
        let mut l = LogThrottle::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        assert_eq!(l.line(t0, ip(1)), Some(0));
        for i in 1..1000 {
            assert_eq!(l.line(t0 + Duration::from_millis(i), ip(1)), None);
        }
        assert_eq!(l.line(t0, ip(2)), Some(0));
        // The map is full: a third source gets no line until a window ends.
        assert_eq!(l.line(t0, ip(3)), None);
        assert_eq!(l.line(t0 + Duration::from_secs(10), ip(1)), Some(999));
        assert_eq!(l.line(t0 + Duration::from_secs(11), ip(3)), Some(0));
    }
}
