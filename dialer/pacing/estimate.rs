//! Online estimates of the quantities the pacers need, seeded from the campaign's priors.
//!
//! Every estimate is an exponentially weighted mean whose weights decay with (monotonic) time,
//! so a contact rate that changes mid-shift is followed within minutes (default time constant
//! 5 min), while a floor on the effective sample size keeps a slow campaign from chasing noise.
//! The priors enter as pseudo-observations that decay like real ones.

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
        }
    }

    pub fn observe(&mut self, now: Instant, obs: Observation) {
        let tau = self.cfg.tau.as_secs_f64().max(1e-3);
        match obs {
            Observation::Dial {
                human,
                machine,
                answered_after,
            } => {
                self.hit.push(now, tau, f64::from(u8::from(human)));
                self.machine.push(now, tau, f64::from(u8::from(machine)));
                if let Some(r) = answered_after {
                    self.ring.push(now, tau, r.as_secs_f64());
                }
            }
            Observation::AmdDecision { human: true, after } => {
                self.amd_human.push(now, tau, after.as_secs_f64())
            }
            Observation::AmdDecision {
                human: false,
                after,
            } => self.amd_machine.push(now, tau, after.as_secs_f64()),
            Observation::Talk(d) => self.talk.push(now, tau, d.as_secs_f64()),
            Observation::Wrap(d) => self.wrap.push(now, tau, d.as_secs_f64()),
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

    fn dial(human: bool) -> Observation {
        Observation::Dial {
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
            est.observe(t0 + Duration::from_secs(i), dial(i % 4 == 0));
        }
        let before = est.estimates().hit_rate;
        assert!((before - 0.25).abs() < 0.02, "{before}");
        // Then 10 %: within 5 minutes the estimate is much nearer 10 % than 25 %.
        for i in 1800..2100u64 {
            est.observe(t0 + Duration::from_secs(i), dial(i % 10 == 0));
        }
        let after = est.estimates().hit_rate;
        assert!(after < 0.16, "estimate after 5 min of 10 %: {after}");
        // And after 15 minutes it is there.
        for i in 2100..2700u64 {
            est.observe(t0 + Duration::from_secs(i), dial(i % 10 == 0));
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
            est.observe(t0 + Duration::from_secs(600 * i), dial(i % 5 == 0));
        }
        est.observe(t0 + Duration::from_secs(600 * 400), dial(true));
        let h = est.estimates().hit_rate;
        assert!((h - 0.2).abs() < 0.05, "{h}");
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
