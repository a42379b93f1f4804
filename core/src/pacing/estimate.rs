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

use super::MIN_SHED_RING;
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
    /// Middle-of-the-road figures (docs/sources.md §2.5): 20 % live answers, 3-minute talk.
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
        /// Unanswered: how long it rang before it failed (a busy signal after seconds, a
        /// no-answer at the timeout); `None` when not known (counted as ringing to the end).
        failed_after: Option<Duration>,
    },
    /// A dial hung up unanswered after ringing `rang` (shed by the pacer). What it would have
    /// been is unknown: its chances of a person or a machine, and when, are imputed from the
    /// late-ring table (how the calls that were not shed ended, by ring time), so the
    /// estimates stay unbiased however many calls are shed.
    Shed { dialed: Instant, rang: Duration },
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
        self.push_weighted(now, tau_s, x, 1.0);
    }

    /// An observation that counts `weight` times (a share of one, for imputed ones).
    fn push_weighted(&mut self, now: Instant, tau_s: f64, x: f64, weight: f64) {
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
        self.w += weight;
        self.sx += weight * x;
        self.sxx += weight * x * x;
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

/// A dial's outcome waiting to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Resolved: ring time in µs, or `u64::MAX` when not answered; `ended_us`: how long it
    /// rang (to the answer or the failure; `u64::MAX`: to the timeout).
    Known {
        human: bool,
        machine: bool,
        ring_us: u64,
        ended_us: u64,
    },
    /// Shed after ringing this many µs.
    Shed { rang_us: u64 },
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
    /// Dial outcomes waiting for the ring timeout since their dial.
    pending: BinaryHeap<Reverse<(Instant, Outcome)>>,
    /// The late-ring table: for each second of ringing from [`MIN_SHED_RING`] to the
    /// timeout, the chance that a call still ringing at its start is answered by a person, or
    /// by a machine, within it (a life table: shed calls count as ringing up to the second
    /// they were shed in, then drop out).
    late: Vec<(Decayed, Decayed)>,
}

/// Width of a row of the late-ring table (seconds).
const LATE_BIN: f64 = 1.0;

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
            late: Self::late_table(p, w, mt),
        }
    }

    /// The late-ring table seeded from the priors (a lognormal ring time).
    fn late_table(p: &Priors, weight: f64, min_weight: f64) -> Vec<(Decayed, Decayed)> {
        let ring = LogNormal::from_mean_sd(p.ring_mean_s, p.ring_sd_s);
        let from = MIN_SHED_RING.as_secs_f64();
        let rows = ((p.no_answer_s - from) / LATE_BIN)
            .ceil()
            .clamp(0.0, 3600.0) as usize;
        let (h, m) = (p.hit_rate.clamp(0.0, 1.0), p.machine_rate.clamp(0.0, 1.0));
        (0..rows)
            .map(|j| {
                let lo = from + j as f64 * LATE_BIN;
                let still = (1.0 - (h + m) * ring.cdf(lo)).max(1e-9);
                let answer = (ring.cdf(lo + LATE_BIN) - ring.cdf(lo)).max(0.0) / still;
                let bern = |q: f64| {
                    let q = q.clamp(0.0, 1.0);
                    Decayed::seeded(q, (q * (1.0 - q)).sqrt(), weight, min_weight)
                };
                (bern(h * answer), bern(m * answer))
            })
            .collect()
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
                failed_after,
            } => {
                let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX - 1);
                let ring_us = answered_after.map_or(u64::MAX, us);
                let ended_us = answered_after.or(failed_after).map_or(u64::MAX, us);
                self.pend(
                    now,
                    dialed,
                    Outcome::Known {
                        human,
                        machine,
                        ring_us,
                        ended_us,
                    },
                );
            }
            Observation::Shed { dialed, rang } => {
                let rang_us = u64::try_from(rang.as_micros()).unwrap_or(u64::MAX);
                self.pend(now, dialed, Outcome::Shed { rang_us });
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

    /// Queues a dial's outcome until the ring timeout has passed since its dial.
    fn pend(&mut self, now: Instant, dialed: Instant, outcome: Outcome) {
        let due = dialed + Duration::from_secs_f64(self.no_answer_s.clamp(0.0, 3600.0));
        if due <= now {
            self.push_outcome(now, outcome);
        } else {
            self.pending.push(Reverse((due, outcome)));
        }
    }

    /// Lets the dial outcomes whose ring timeout has passed by `now` into the estimates.
    pub fn advance(&mut self, now: Instant) {
        while let Some(Reverse((due, outcome))) = self.pending.peek().copied() {
            if due > now {
                break;
            }
            self.pending.pop();
            self.push_outcome(due, outcome);
        }
    }

    fn push_outcome(&mut self, at: Instant, outcome: Outcome) {
        let tau = self.tau();
        match outcome {
            Outcome::Known {
                human,
                machine,
                ring_us,
                ended_us,
            } => {
                self.hit.push(at, tau, f64::from(u8::from(human)));
                self.machine.push(at, tau, f64::from(u8::from(machine)));
                if ring_us != u64::MAX {
                    self.ring.push(at, tau, ring_us as f64 / 1e6);
                }
                // The late-ring table: every row it rang through, and the row it was answered
                // in.
                let ended = if ended_us == u64::MAX {
                    f64::INFINITY
                } else {
                    ended_us as f64 / 1e6
                };
                let answered = ring_us != u64::MAX;
                let from = MIN_SHED_RING.as_secs_f64();
                for (j, (ph, pm)) in self.late.iter_mut().enumerate() {
                    let lo = from + j as f64 * LATE_BIN;
                    if ended < lo {
                        break;
                    }
                    let here = ended < lo + LATE_BIN && answered;
                    ph.push(at, tau, f64::from(u8::from(here && human)));
                    pm.push(at, tau, f64::from(u8::from(here && machine)));
                }
            }
            Outcome::Shed { rang_us } => self.push_shed(at, rang_us as f64 / 1e6),
        }
    }

    /// A dial shed after ringing `r` s: the rows of the late-ring table it rang through count
    /// it as not answered there; then it counts as a person and as a machine with the chances
    /// the table gives a call still ringing at `r`, and as answered at the middle of each
    /// later row with the chance of an answer there.
    fn push_shed(&mut self, at: Instant, r: f64) {
        let tau = self.tau();
        let from = MIN_SHED_RING.as_secs_f64();
        let (mut ph, mut pm, mut still) = (0.0, 0.0, 1.0);
        let mut answers = Vec::new();
        for (j, (h, m)) in self.late.iter_mut().enumerate() {
            let lo = from + j as f64 * LATE_BIN;
            let hi = lo + LATE_BIN;
            if hi <= r {
                // Rang through this row unanswered.
                h.push(at, tau, 0.0);
                m.push(at, tau, 0.0);
                continue;
            }
            // The part of the row after it was shed.
            let part = ((hi - r.max(lo)) / LATE_BIN).clamp(0.0, 1.0);
            let (qh, qm) = (h.mean() * part, m.mean() * part);
            ph += still * qh;
            pm += still * qm;
            answers.push(((r.max(lo) + hi) / 2.0, still * (qh + qm)));
            still *= (1.0 - qh - qm).max(0.0);
        }
        self.hit.push(at, tau, ph.clamp(0.0, 1.0));
        self.machine.push(at, tau, pm.clamp(0.0, 1.0));
        for (x, w) in answers {
            if w > 0.0 {
                self.ring.push_weighted(at, tau, x, w);
            }
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
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::*;

    /// A dial outcome learnt at `at`, of a dial placed 20 s before.
    fn dial(at: Instant, human: bool) -> Observation {
        Observation::Dial {
            dialed: at.checked_sub(Duration::from_secs(20)).unwrap_or(at),
            human,
            machine: false,
            answered_after: human.then(|| Duration::from_secs(10)),
            failed_after: None,
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
            failed_after: None,
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
                    failed_after: None,
                },
            );
        }
        assert!(naive.estimates().hit_rate < 0.25);
    }

    #[test]
    fn shed_dials_leave_hit_rate_and_ring_time_unbiased() {
        use rand::{RngExt, SeedableRng};
        use rand_distr::Distribution;
        let t0 = Instant::now();
        // Priors that put too few answers late (ring time 8 ± 3 s instead of 12 ± 6 s): the
        // late-ring table has to learn from the calls that were not shed.
        let p = Priors {
            hit_rate: 0.24,
            machine_rate: 0.15,
            ring_mean_s: 8.0,
            ring_sd_s: 3.0,
            ..Priors::default()
        };
        let ring = {
            let s2 = (1.0f64 + 0.25).ln();
            rand_distr::LogNormal::new(12f64.ln() - s2 / 2.0, s2.sqrt()).unwrap()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut imputed, mut naive) = (Estimator::new(&p), Estimator::new(&p));
        let (mut people, mut answered_ring, mut shed) = (0u32, Vec::new(), 0u32);
        let (mut hit_imp, mut hit_naive, mut ring_imp, mut ring_naive) = (0.0, 0.0, 0.0, 0.0);
        let n = 20_000u64;
        // One dial a second: 25 % people, 15 % machines (ring time lognormal 12 ± 6 s, no
        // answer after 25 s), 5 % busy after 3 s, the rest never answer. A call still ringing
        // at 16 s is shed with chance 0.6, whatever it would have been.
        for i in 0..n {
            let dialed = t0 + Duration::from_secs(i);
            let u: f64 = rng.random();
            let r: f64 = ring.sample(&mut rng);
            let answers = u < 0.40 && r < 25.0;
            if answers {
                people += u32::from(u < 0.25);
                answered_ring.push(r);
            }
            let busy = (0.40..0.45).contains(&u);
            let answered_by_16 = answers && r < 16.0;
            let ringing_at_16 = !busy && !answered_by_16;
            let at = dialed + Duration::from_secs(25);
            if i >= n / 2 && i % 50 == 0 {
                let (a, b) = (imputed.estimates(), naive.estimates());
                hit_imp += a.hit_rate;
                hit_naive += b.hit_rate;
                ring_imp += a.ring.mean();
                ring_naive += b.ring.mean();
            }
            if ringing_at_16 && rng.random::<f64>() < 0.6 {
                shed += 1;
                let rang = Duration::from_secs(16);
                imputed.observe(at, Observation::Shed { dialed, rang });
                naive.observe(
                    at,
                    Observation::Dial {
                        dialed,
                        human: false,
                        machine: false,
                        answered_after: None,
                        failed_after: Some(rang),
                    },
                );
                continue;
            }
            let o = Observation::Dial {
                dialed,
                human: answers && u < 0.25,
                machine: answers && u >= 0.25,
                answered_after: answers.then(|| Duration::from_secs_f64(r)),
                failed_after: (!answers).then(|| Duration::from_secs(if busy { 3 } else { 25 })),
            };
            imputed.observe(at, o);
            naive.observe(at, o);
        }
        assert!(shed > 5000, "{shed}");
        let samples = (n / 2 / 50) as f64;
        let (hit_imp, hit_naive) = (hit_imp / samples, hit_naive / samples);
        let (ring_imp, ring_naive) = (ring_imp / samples, ring_naive / samples);
        let true_hit = f64::from(people) / n as f64;
        let true_ring = answered_ring.iter().sum::<f64>() / answered_ring.len() as f64;
        assert!((hit_imp - true_hit).abs() < 0.01, "{hit_imp} vs {true_hit}");
        assert!(
            (ring_imp - true_ring).abs() < 0.5,
            "{ring_imp} vs {true_ring}"
        );
        // Counted as no-answers, shed calls would sink both.
        assert!(hit_naive < true_hit - 0.02, "{hit_naive} vs {true_hit}");
        assert!(ring_naive < true_ring - 0.7, "{ring_naive} vs {true_ring}");
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
