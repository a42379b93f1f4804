//! At most one log line per period for a repeating condition; the lines left out are counted
//! and named on the next one (the metrics carry every occurrence).

use std::time::{Duration, Instant};

/// One log line per `every`.
#[derive(Debug, Clone)]
pub struct LogLimit {
    every: Duration,
    last: Option<Instant>,
    skipped: u64,
}

impl LogLimit {
    pub fn new(every: Duration) -> Self {
        LogLimit {
            every,
            last: None,
            skipped: 0,
        }
    }

    /// `Some(n)`: log now, `n` occurrences were left out since the last line; `None`: skip.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.every => {
                self.skipped += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.skipped))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_counting_the_rest() {
        let t0 = Instant::now();
        let mut l = LogLimit::new(Duration::from_secs(10));
        assert_eq!(l.allow(t0), Some(0));
        assert_eq!(l.allow(t0 + Duration::from_secs(1)), None);
        assert_eq!(l.allow(t0 + Duration::from_secs(9)), None);
        assert_eq!(l.allow(t0 + Duration::from_secs(10)), Some(2));
        assert_eq!(l.allow(t0 + Duration::from_secs(11)), None);
    }
}
