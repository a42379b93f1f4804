//! VICIdial's adaptive dial level, as a baseline (docs/sources.md §2.1, `AST_VDadapt.pl`).
//!
//! Samples ready agents, answered calls waiting and logged-in agents (paused included) once a
//! second; every 15 s sets `level *= 1 + (mean ready − mean waiting) / mean logged-in`, clamped
//! to 1..3 (`adaptive_intensity` 0, `adaptive_dl_diff_target` 0). Placement counts only waiting
//! agents (`available_only_ratio_tally=Y`): round(level × ready) − calls in flight, placed
//! every 2.5 s as `AST_VDauto_dial.pl` does (between placements it dials nothing). Once more
//! than 50 calls were placed in the window and its drop rate passes the cap, the level is
//! forced to 1.0 (HARD_LIMIT) for as long as the rate stays above.

use std::time::{Duration, Instant};

use super::{Reason, Snapshot, level_dials};

const SAMPLE_EVERY: Duration = Duration::from_secs(1);
const ADAPT_EVERY: Duration = Duration::from_secs(15);
const PLACE_EVERY: Duration = Duration::from_millis(2500);

#[derive(Debug, Clone)]
pub struct Vicidial {
    level: f64,
    max_level: f64,
    last_sample: Option<Instant>,
    last_adapt: Option<Instant>,
    last_place: Option<Instant>,
    sum_ready: f64,
    sum_waiting: f64,
    sum_logged: f64,
    samples: u32,
    placed: u64,
}

impl Default for Vicidial {
    fn default() -> Self {
        Vicidial::new(1.0, 3.0)
    }
}

impl Vicidial {
    pub fn new(initial_level: f64, max_level: f64) -> Self {
        let max_level = max_level.max(1.0);
        Vicidial {
            level: initial_level.clamp(1.0, max_level),
            max_level,
            last_sample: None,
            last_adapt: None,
            last_place: None,
            sum_ready: 0.0,
            sum_waiting: 0.0,
            sum_logged: 0.0,
            samples: 0,
            placed: 0,
        }
    }

    pub fn level(&self) -> f64 {
        self.level
    }

    pub(super) fn dialed(&mut self, n: u32) {
        self.placed += u64::from(n);
    }

    fn over_cap(&self, s: &Snapshot<'_>) -> bool {
        self.placed > 50 && s.budget.rate() > s.budget.cap()
    }

    pub(super) fn decide(&mut self, now: Instant, s: &Snapshot<'_>) -> (u32, Reason) {
        if self
            .last_sample
            .is_none_or(|t| now.saturating_duration_since(t) >= SAMPLE_EVERY)
        {
            self.last_sample = Some(now);
            self.sum_ready += f64::from(s.ready_agents());
            self.sum_waiting += f64::from(s.waiting_calls());
            self.sum_logged += s.agents.len() as f64;
            self.samples += 1;
        }
        let last = *self.last_adapt.get_or_insert(now);
        if now.saturating_duration_since(last) >= ADAPT_EVERY && self.samples > 0 {
            let n = f64::from(self.samples);
            let logged = self.sum_logged / n;
            if logged > 0.0 {
                let r = (self.sum_ready / n - self.sum_waiting / n) / logged;
                self.level = (self.level * (1.0 + r)).clamp(1.0, self.max_level);
            }
            self.last_adapt = Some(now);
            self.sum_ready = 0.0;
            self.sum_waiting = 0.0;
            self.sum_logged = 0.0;
            self.samples = 0;
        }
        if self.over_cap(s) {
            self.level = 1.0;
        }
        if self
            .last_place
            .is_some_and(|t| now.saturating_duration_since(t) < PLACE_EVERY)
        {
            return (0, Reason::DialLevel(self.level));
        }
        self.last_place = Some(now);
        (level_dials(self.level, s), Reason::DialLevel(self.level))
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::super::*;

    fn run(
        v: &mut Vicidial,
        t0: Instant,
        secs: u64,
        agents: &[AgentView],
        calls: &[CallView],
        b: &AbandonBudget,
    ) {
        let est = Estimates::from_priors(&Priors::default());
        for i in 0..=secs * 4 {
            let s = Snapshot {
                agents,
                calls,
                estimates: &est,
                budget: b,
                limits: Limits::UNLIMITED,
            };
            v.decide(t0 + Duration::from_millis(250 * i), &s);
        }
    }

    #[test]
    fn level_rises_with_idle_agents_and_is_clamped() {
        let t0 = Instant::now();
        let mut v = Vicidial::default();
        let b = AbandonBudget::new(0.03, 0.0);
        // Half the agents always ready: every 15 s the level grows by half.
        let agents = [
            AgentView::Ready,
            AgentView::Talking {
                elapsed: Duration::from_secs(5),
            },
        ];
        run(&mut v, t0, 15, &agents, &[], &b);
        assert!((v.level() - 1.5).abs() < 1e-9, "{}", v.level());
        run(&mut v, t0 + Duration::from_secs(16), 120, &agents, &[], &b);
        assert_eq!(v.level(), 3.0);
    }

    #[test]
    fn waiting_calls_bring_the_level_down_never_below_one() {
        let t0 = Instant::now();
        let mut v = Vicidial::new(2.0, 3.0);
        let b = AbandonBudget::new(0.03, 0.0);
        let agents = [AgentView::Talking {
            elapsed: Duration::from_secs(5),
        }; 4];
        let calls = [CallView::Waiting {
            elapsed: Duration::from_millis(500),
        }; 2];
        run(&mut v, t0, 15, &agents, &calls, &b);
        assert!(
            (v.level() - 1.0).abs() < 1e-9,
            "2 × (1 − 2/4) = 1: {}",
            v.level()
        );
        run(
            &mut v,
            t0 + Duration::from_secs(16),
            60,
            &agents,
            &calls,
            &b,
        );
        assert_eq!(v.level(), 1.0);
    }

    #[test]
    fn places_calls_every_two_and_a_half_seconds() {
        let t0 = Instant::now();
        let mut v = Vicidial::new(2.0, 3.0);
        let b = AbandonBudget::new(0.03, 0.0);
        let est = Estimates::from_priors(&Priors::default());
        let agents = [AgentView::Ready; 3];
        let s = Snapshot {
            agents: &agents,
            calls: &[],
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let dials: Vec<u32> = (0..12)
            .map(|i| v.decide(t0 + Duration::from_millis(250 * i), &s).0)
            .collect();
        assert_eq!(dials[0], 6);
        assert!(dials[1..10].iter().all(|&d| d == 0), "{dials:?}");
        assert_eq!(dials[10], 6);
    }

    #[test]
    fn forced_to_one_over_the_cap() {
        let t0 = Instant::now();
        let mut v = Vicidial::new(3.0, 3.0);
        v.dialed(100);
        let mut b = AbandonBudget::new(0.03, 0.0);
        for _ in 0..20 {
            b.record_live_answer();
        }
        b.record_abandon(); // 5 %
        run(&mut v, t0, 1, &[AgentView::Ready; 2], &[], &b);
        assert_eq!(v.level(), 1.0);
    }
}
