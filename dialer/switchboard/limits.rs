//! Trunk limits shared by the campaigns on a trunk: channels in use and a token bucket for
//! calls per second, driven by `now`.

use super::*;

/// A trunk's limits and use, shared by the campaigns on it.
#[derive(Debug, Clone)]
pub struct TrunkLimits {
    pub max_channels: u32,
    pub calls_per_second: f64,
}

#[derive(Debug)]
pub(super) struct TrunkRt {
    pub(super) limits: TrunkLimits,
    pub(super) active: u32,
    pub(super) bucket: Bucket,
}

/// A token bucket driven by `now` (what the pacer may plan with; the SIP driver's governor
/// limiter enforces the same rate at the socket).
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    pub(super) rate: f64,
    pub(super) burst: f64,
    pub(super) tokens: f64,
    pub(super) last: Option<Instant>,
}

impl Bucket {
    pub(super) fn new(rate: f64) -> Self {
        let burst = rate.max(1.0);
        Self {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    pub(super) fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.last = Some(now);
    }

    pub(super) fn available(&self) -> u32 {
        self.tokens.floor().max(0.0) as u32
    }

    pub(super) fn take(&mut self, n: u32) {
        self.tokens -= f64::from(n);
    }
}
