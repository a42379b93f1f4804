//! The daemon's two clocks: cores run on `Instant`; the store keeps unix milliseconds UTC.
//!
//! One anchor taken at start turns a core's instant into wall time, so every timestamp of one
//! call is consistent with the others even if the wall clock is stepped mid-call.

use std::time::{Duration, Instant};

/// An `(Instant, unix ms)` pair taken at the same moment.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    base: Instant,
    base_ms: i64,
}

impl WallClock {
    /// Anchor now.
    pub fn start() -> Self {
        Self::anchored(Instant::now(), jiff::Timestamp::now().as_millisecond())
    }

    /// Anchor `base` at `base_ms` (tests, simulations).
    pub fn anchored(base: Instant, base_ms: i64) -> Self {
        Self { base, base_ms }
    }

    /// Unix milliseconds UTC of `at`.
    pub fn ms(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.base) {
            Some(d) => self.base_ms + d.as_millis() as i64,
            None => self.base_ms - self.base.duration_since(at).as_millis() as i64,
        }
    }

    /// Unix milliseconds UTC of `at + after`.
    pub fn ms_after(&self, at: Instant, after: Duration) -> i64 {
        self.ms(at) + after.as_millis() as i64
    }

    /// Wall time of `at`.
    pub fn timestamp(&self, at: Instant) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.ms(at)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_map_to_wall_milliseconds_both_ways() {
        let base = Instant::now() + Duration::from_secs(10);
        let c = WallClock::anchored(base, 1_700_000_000_000);
        assert_eq!(c.ms(base), 1_700_000_000_000);
        assert_eq!(c.ms(base + Duration::from_millis(1500)), 1_700_000_001_500);
        assert_eq!(c.ms(base - Duration::from_millis(250)), 1_699_999_999_750);
        assert_eq!(c.ms_after(base, Duration::from_secs(60)), 1_700_000_060_000);
    }
}
