//! Online estimates of the quantities the pacers need, seeded from the campaign's priors.
//!
//! Every estimate is an exponentially weighted mean whose weights decay with (monotonic) time,
//! so a contact rate that changes mid-shift is followed within minutes (default time constant
//! 5 min), while a floor on the effective sample size keeps a slow campaign from chasing noise.
//! The priors enter as pseudo-observations that decay like real ones.
//!
//! Dial outcomes count at the time of the dial, not of the outcome: a busy signal is known
//! within seconds, a person only after ringing and AMD, a no-answer after the full ring
//! timeout. Counted as they come, the first seconds of a campaign (or of any surge of dials)
//! would see only failures and the hit rate would dive just when the pacer needs it. So each
//! outcome waits until the ring timeout has passed since its dial (when every dial of that
//! instant has resolved) before it enters the estimates.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::stats::LogNormal;

/// What the campaign expects before any call is made (the campaign file's `[priors]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Priors {
    /// Live (human) answers / dials.
    pub hit_rate: f64,
    /// Machine answers / dials.
    pub machine_rate: f64,
    /// Dial to answer, for answered calls (seconds).
    pub ring_mean_s: f64,
    pub ring_sd_s: f64,
    /// The ring timeout (seconds).
    pub no_answer_s: f64,
    /// Answer to "it is a person" (seconds).
    pub amd_human_s: f64,
    /// Answer to "it is a machine" (seconds).
    pub amd_machine_s: f64,
    pub talk_mean_s: f64,
    pub talk_sd_s: f64,
    pub wrap_mean_s: f64,
    pub wrap_sd_s: f64,
}

impl Default for Priors {
    /// Middle-of-the-road figures (REFERENCE.md §2.5): 20 % live answers, 3-minute talk.
    fn default() -> Self {
        Priors {
            hit_rate: 0.20,
            machine_rate: 0.15,
            ring_mean_s: 12.0,
            ring_sd_s: 6.0,
            no_answer_s: 25.0,
            amd_human_s: 1.5,
            amd_machine_s: 3.2,
            talk_mean_s: 160.0,
            talk_sd_s: 90.0,
            wrap_mean_s: 20.0,
            wrap_sd_s: 10.0,
        }
    }
}

/// The current estimates, as the pacer reads them from a snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimates {
    pub hit_rate: f64,
    pub machine_rate: f64,
    pub ring: LogNormal,
    pub no_answer_s: f64,
    pub amd_human_s: f64,
    pub amd_machine_s: f64,
    pub talk: LogNormal,
    pub wrap: LogNormal,
}

impl Estimates {
    pub fn from_priors(p: &Priors) -> Self {
        Estimates {
            hit_rate: p.hit_rate.clamp(0.0, 1.0),
            machine_rate: p.machine_rate.clamp(0.0, 1.0),
            ring: LogNormal::from_mean_sd(p.ring_mean_s, p.ring_sd_s),
            no_answer_s: p.no_answer_s.max(0.0),
            amd_human_s: p.amd_human_s.max(0.0),
            amd_machine_s: p.amd_machine_s.max(0.0),
            talk: LogNormal::from_mean_sd(p.talk_mean_s, p.talk_sd_s),
            wrap: LogNormal::from_mean_sd(p.wrap_mean_s, p.wrap_sd_s),
        }
    }
}

/// How a dial ended, as far as the estimates care.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation {
    /// A dial resolved: answered by a person (`human`), by a machine, or not answered at all
    /// (busy, no answer, rejected…: `answered_after` is `None`).
    Dial {
        /// When the dial was placed.
        dialed: Instant,
        human: bool,
        machine: bool,
        answered_after: Option<Duration>,
    },
    /// AMD decided, this long after the answer.
    AmdDecision { human: bool, after: Duration },
    /// An agent finished talking to a person.
    Talk(Duration),
    /// An agent finished wrap-up.
    Wrap(Duration),
}

/// A time-decayed weighted mean and variance.
#[derive(Debug, Clone, Copy)]
struct Decayed {
    w: f64,
    sx: f64,
    sxx: f64,
    last: Option<Instant>,
    min_weight: f64,
}

impl Decayed {
    fn seeded(mean: f64, sd: f64, weight: f64, min_weight: f64) -> Self {
        Decayed {
            w: weight,
            sx: mean * weight,
            sxx: (sd * sd + mean * mean) * weight,
            last: None,
            min_weight,
        }
    }

    fn push(&mut self, now: Instant, tau_s: f64, x: f64) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            let mut d = (-dt / tau_s).exp();
            if self.w * d < self.min_weight {
                d = (self.min_weight / self.w).min(1.0);
            }
            self.w *= d;
            self.sx *= d;
            self.sxx *= d;
        }
        self.last = Some(now);
        self.w += 1.0;
        self.sx += x;
        self.sxx += x * x;
    }

    fn mean(&self) -> f64 {
        self.sx / self.w
    }

    fn sd(&self) -> f64 {
        let m = self.mean();
        (self.sxx / self.w - m * m).max(0.0).sqrt()
    }
}

/// Tuning of the [`Estimator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimatorConfig {
    /// Time constant of the exponential forgetting.
    pub tau: Duration,
    /// Weight given to the priors, in observations.
    pub prior_weight: f64,
    /// Effective sample sizes below which forgetting stops (dials; durations).
    pub min_dials: f64,
    pub min_durations: f64,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig {
            tau: Duration::from_secs(300),
            prior_weight: 30.0,
            min_dials: 150.0,
            min_durations: 40.0,
        }
    }
}

/// Online estimates fed by call and agent events; sans-IO (time comes with each observation).
#[derive(Debug, Clone)]
pub struct Estimator {
    cfg: EstimatorConfig,
    no_answer_s: f64,
    hit: Decayed,
    machine: Decayed,
    ring: Decayed,
    amd_human: Decayed,
    amd_machine: Decayed,
    talk: Decayed,
    wrap: Decayed,
    /// Dial outcomes waiting for the ring timeout since their dial: (due, human, machine,
    /// ring time in µs or `u64::MAX`).
    pending: BinaryHeap<Reverse<(Instant, bool, bool, u64)>>,
}

impl Estimator {
    pub fn new(priors: &Priors) -> Self {
        Self::with_config(priors, EstimatorConfig::default())
    }

    pub fn with_config(p: &Priors, cfg: EstimatorConfig) -> Self {
        let w = cfg.prior_weight;
        let (md, mt) = (cfg.min_dials, cfg.min_durations);
        let bern = |q: f64| Decayed::seeded(q, (q * (1.0 - q)).sqrt(), w, md);
        Estimator {
            cfg,
            no_answer_s: p.no_answer_s,
            hit: bern(p.hit_rate),
            machine: bern(p.machine_rate),
            ring: Decayed::seeded(p.ring_mean_s, p.ring_sd_s, w, mt),
            amd_human: Decayed::seeded(p.amd_human_s, 0.0, w, mt),
            amd_machine: Decayed::seeded(p.amd_machine_s, 0.0, w, mt),
            talk: Decayed::seeded(p.talk_mean_s, p.talk_sd_s, w, mt),
            wrap: Decayed::seeded(p.wrap_mean_s, p.wrap_sd_s, w, mt),
            pending: BinaryHeap::new(),
        }
    }

    fn tau(&self) -> f64 {
        self.cfg.tau.as_secs_f64().max(1e-3)
    }

    /// Feeds an observation made at `now`.
    pub fn observe(&mut self, now: Instant, obs: Observation) {
        self.advance(now);
        match obs {
            Observation::Dial {
                dialed,
                human,
                machine,
                answered_after,
            } => {
                let due = dialed + Duration::from_secs_f64(self.no_answer_s.clamp(0.0, 3600.0));
                let ring = answered_after.map_or(u64::MAX, |r| {
                    u64::try_from(r.as_micros()).unwrap_or(u64::MAX - 1)
                });
                if due <= now {
                    self.push_dial(now, human, machine, ring);
                } else {
                    self.pending.push(Reverse((due, human, machine, ring)));
                }
            }
            Observation::AmdDecision { human: true, after } => {
                self.amd_human.push(now, self.tau(), after.as_secs_f64())
            }
            Observation::AmdDecision {
                human: false,
                after,
            } => self.amd_machine.push(now, self.tau(), after.as_secs_f64()),
            Observation::Talk(d) => self.talk.push(now, self.tau(), d.as_secs_f64()),
            Observation::Wrap(d) => self.wrap.push(now, self.tau(), d.as_secs_f64()),
        }
    }

    /// Lets the dial outcomes whose ring timeout has passed by `now` into the estimates.
    pub fn advance(&mut self, now: Instant) {
        while let Some(Reverse((due, human, machine, ring))) = self.pending.peek().copied() {
            if due > now {
                break;
            }
            self.pending.pop();
            self.push_dial(due, human, machine, ring);
        }
    }

    fn push_dial(&mut self, at: Instant, human: bool, machine: bool, ring_us: u64) {
        let tau = self.tau();
        self.hit.push(at, tau, f64::from(u8::from(human)));
        self.machine.push(at, tau, f64::from(u8::from(machine)));
        if ring_us != u64::MAX {
            self.ring.push(at, tau, ring_us as f64 / 1e6);
        }
    }

    pub fn estimates(&self) -> Estimates {
        Estimates {
            hit_rate: self.hit.mean().clamp(0.0, 1.0),
            machine_rate: self.machine.mean().clamp(0.0, 1.0),
            ring: LogNormal::from_mean_sd(self.ring.mean(), self.ring.sd()),
            no_answer_s: self.no_answer_s,
            amd_human_s: self.amd_human.mean(),
            amd_machine_s: self.amd_machine.mean(),
            talk: LogNormal::from_mean_sd(self.talk.mean(), self.talk.sd()),
            wrap: LogNormal::from_mean_sd(self.wrap.mean(), self.wrap.sd()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dial outcome learnt at `at`, of a dial placed 20 s before.
    fn dial(at: Instant, human: bool) -> Observation {
        Observation::Dial {
            dialed: at.checked_sub(Duration::from_secs(20)).unwrap_or(at),
            human,
            machine: false,
            answered_after: human.then(|| Duration::from_secs(10)),
        }
    }

    #[test]
    fn starts_at_the_priors() {
        let p = Priors::default();
        let e = Estimator::new(&p).estimates();
        assert!((e.hit_rate - p.hit_rate).abs() < 1e-12);
        assert!((e.talk.mean() - p.talk_mean_s).abs() < 1e-9);
    }

    #[test]
    fn follows_a_contact_rate_collapse_within_minutes() {
        let t0 = Instant::now();
        let p = Priors {
            hit_rate: 0.25,
            ..Priors::default()
        };
        let mut est = Estimator::new(&p);
        // 30 minutes at 25 % (one dial per second, every 4th a person).
        for i in 0..1800u64 {
            let at = t0 + Duration::from_secs(i);
            est.observe(at, dial(at, i % 4 == 0));
        }
        let before = est.estimates().hit_rate;
        assert!((before - 0.25).abs() < 0.02, "{before}");
        // Then 10 %: within 5 minutes the estimate is much nearer 10 % than 25 %.
        for i in 1800..2100u64 {
            let at = t0 + Duration::from_secs(i);
            est.observe(at, dial(at, i % 10 == 0));
        }
        let after = est.estimates().hit_rate;
        assert!(after < 0.16, "estimate after 5 min of 10 %: {after}");
        // And after 15 minutes it is there.
        for i in 2100..2700u64 {
            let at = t0 + Duration::from_secs(i);
            est.observe(at, dial(at, i % 10 == 0));
        }
        let late = est.estimates().hit_rate;
        assert!((late - 0.10).abs() < 0.02, "{late}");
    }

    #[test]
    fn slow_campaigns_keep_a_minimum_sample() {
        let t0 = Instant::now();
        let mut est = Estimator::new(&Priors::default());
        // One dial every 10 minutes: forgetting would leave ~1 observation; the floor keeps
        // the estimate from jumping to 0 or 1 on the latest call.
        for i in 0..400u64 {
            let at = t0 + Duration::from_secs(600 * i);
            est.observe(at, dial(at, i % 5 == 0));
        }
        let at = t0 + Duration::from_secs(600 * 400);
        est.observe(at, dial(at, true));
        est.advance(at + Duration::from_secs(60));
        let h = est.estimates().hit_rate;
        assert!((h - 0.2).abs() < 0.05, "{h}");
    }

    #[test]
    fn outcomes_count_at_their_dial_so_early_failures_do_not_sink_the_hit_rate() {
        let t0 = Instant::now();
        let p = Priors {
            hit_rate: 0.35,
            ..Priors::default()
        };
        let mut est = Estimator::new(&p);
        // 300 dials at once: 15 busy after 3 s, then 105 people after 12 s, then the rest
        // ring out at 25 s.
        let obs = |human: bool, after: u64| Observation::Dial {
            dialed: t0,
            human,
            machine: false,
            answered_after: human.then(|| Duration::from_secs(after)),
        };
        for _ in 0..15 {
            est.observe(t0 + Duration::from_secs(3), obs(false, 3));
        }
        let h = est.estimates().hit_rate;
        assert!((h - 0.35).abs() < 1e-9, "busy signals first: {h}");
        for _ in 0..105 {
            est.observe(t0 + Duration::from_secs(12), obs(true, 12));
        }
        for _ in 0..180 {
            est.observe(t0 + Duration::from_secs(25), obs(false, 25));
        }
        let h = est.estimates().hit_rate;
        assert!((h - 0.35).abs() < 0.01, "all in: {h}");
        // Counted as they came, the 15 busy signals alone would have put it at 0.23.
        let mut naive = Estimator::new(&p);
        for _ in 0..15 {
            naive.observe(
                t0 + Duration::from_secs(30),
                Observation::Dial {
                    dialed: t0 + Duration::from_secs(5),
                    human: false,
                    machine: false,
                    answered_after: None,
                },
            );
        }
        assert!(naive.estimates().hit_rate < 0.25);
    }

    #[test]
    fn durations_track_mean_and_spread() {
        let t0 = Instant::now();
        let mut est = Estimator::new(&Priors::default());
        for i in 0..2000u64 {
            let talk = if i % 2 == 0 { 60 } else { 140 };
            est.observe(
                t0 + Duration::from_secs(i * 5),
                Observation::Talk(Duration::from_secs(talk)),
            );
        }
        let e = est.estimates();
        assert!((e.talk.mean() - 100.0).abs() < 3.0, "{}", e.talk.mean());
    }
}
