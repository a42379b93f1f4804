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
//!
//! **The censored estimate.** Waiting alone would pace a new campaign's first half-minute (and
//! the first half-minute after any change) on its priors. So [`Estimator::estimates`] also reads
//! the young dials, those placed within the ring timeout, resolved or not (the caller reports
//! each dial as it is placed, [`Observation::Placed`]): a resolved one counts as what it was, and
//! one still ringing after `a` seconds counts as a person, a machine and an answer at a later
//! ring time with the chances the current fit gives a call still ringing at `a` (two rounds of
//! this expectation–maximisation per read; nothing imputed is stored, so the imputed tail never
//! feeds itself). The young dials can only make the estimates more careful: the hit rate is the
//! higher of the resolved-only and the censored one, the ring time the shorter (a person sooner
//! and more people mean fewer dials ahead); only resolved dials bring them back.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
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
    /// Answered dials (people and machines) the estimates have seen, the young ones
    /// included: how much the campaign knows beyond its priors.
    pub answers_seen: f64,
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
            answers_seen: 0.0,
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
    /// A dial was placed (at `dialed`): until its outcome comes it counts as a call still
    /// ringing in the censored estimate. Without these, the estimates wait for each dial's
    /// ring timeout.
    Placed { dialed: Instant },
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
    /// How far the priors' hit rate may be below the truth: until dials are seen, the hit rate
    /// read is `× (1 + prior_caution × (w / (w + dials seen))²)` (w = `prior_weight`), so a
    /// campaign whose priors expect too few people does not dial for them all at once before
    /// the first answers come.
    pub prior_caution: f64,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig {
            tau: Duration::from_secs(300),
            prior_weight: 30.0,
            min_dials: 150.0,
            min_durations: 40.0,
            prior_caution: 2.0,
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
    /// Dials placed and not yet resolved (by the instant they were placed), within the ring
    /// timeout.
    ringing: BTreeMap<Instant, u32>,
    /// Whether dials are reported as placed (the censored estimate needs them).
    placed_seen: bool,
    /// The latest instant the estimator was told of.
    clock: Option<Instant>,
    /// Dial outcomes counted so far, and of them those answered (not decayed).
    seen: f64,
    answered: f64,
}

/// The young dials' sums in the censored estimate: dials, people, machines, and the answers'
/// ring times (weight, sum, sum of squares); imputed shares count as fractions.
#[derive(Debug, Clone, Copy, Default)]
struct Cohort {
    dials: f64,
    /// Dials weighted by how much of their outcome is known (1 when resolved).
    told: f64,
    /// Resolved ones that were answered.
    answered: f64,
    people: f64,
    machines: f64,
    ring_w: f64,
    ring_x: f64,
    ring_xx: f64,
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
            ringing: BTreeMap::new(),
            placed_seen: false,
            clock: None,
            seen: 0.0,
            answered: 0.0,
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
                self.resolved(dialed);
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
                self.resolved(dialed);
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
            Observation::Placed { dialed } => {
                self.placed_seen = true;
                if dialed + self.timeout() > now {
                    *self.ringing.entry(dialed).or_insert(0) += 1;
                }
            }
        }
    }

    /// The ring timeout, as a duration.
    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.no_answer_s.clamp(0.0, 3600.0))
    }

    /// A dial placed at `dialed` resolved: it no longer rings.
    fn resolved(&mut self, dialed: Instant) {
        if let Some(n) = self.ringing.get_mut(&dialed) {
            *n -= 1;
            if *n == 0 {
                self.ringing.remove(&dialed);
            }
        }
    }

    /// Queues a dial's outcome until the ring timeout has passed since its dial.
    fn pend(&mut self, now: Instant, dialed: Instant, outcome: Outcome) {
        let due = dialed + self.timeout();
        if due <= now {
            self.push_outcome(now, outcome);
        } else {
            self.pending.push(Reverse((due, outcome)));
        }
    }

    /// Lets the dial outcomes whose ring timeout has passed by `now` into the estimates.
    pub fn advance(&mut self, now: Instant) {
        self.clock = Some(self.clock.map_or(now, |c| c.max(now)));
        // A dial still unresolved past its timeout (its outcome is late, or never comes) stops
        // counting as ringing; its outcome, if it comes, counts as usual.
        if let Some(oldest) = now.checked_sub(self.timeout()) {
            self.ringing = self.ringing.split_off(&oldest);
            self.ringing.remove(&oldest);
        }
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
        self.seen += 1.0;
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
                self.answered += f64::from(u8::from(answered));
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

    /// The estimates as of the latest instant the estimator was told of: the resolved dials,
    /// made more careful by the young ones (see the module docs).
    pub fn estimates(&self) -> Estimates {
        let resolved = self.resolved_estimates();
        let Some(now) = self.clock.filter(|_| self.placed_seen) else {
            return Estimates {
                hit_rate: self.careful(resolved.hit_rate, 0.0),
                ..resolved
            };
        };
        let mut fit = resolved;
        let mut young = 0.0;
        for _ in 0..2 {
            (fit, young) = self.censored(now, &fit);
        }
        Estimates {
            hit_rate: self.careful(resolved.hit_rate.max(fit.hit_rate), young),
            machine_rate: fit.machine_rate,
            ring: fit.ring,
            answers_seen: fit.answers_seen,
            ..resolved
        }
    }

    /// One round of the censored estimate: the resolved figures with the young dials added,
    /// those still ringing imputed from `fit`.
    fn censored(&self, now: Instant, fit: &Estimates) -> (Estimates, f64) {
        let t = self.no_answer_s;
        let (h, m) = (fit.hit_rate, fit.machine_rate);
        let g_t = fit.ring.cdf(t);
        let mut c = Cohort::default();
        let still_ringing = |c: &mut Cohort, a: f64, count: f64| {
            let g_a = fit.ring.cdf(a);
            // What it has told so far: the share of its answer chance that has passed.
            c.told += count * if g_t > 0.0 { (g_a / g_t).min(1.0) } else { 1.0 };
            let still = (1.0 - (h + m) * g_a).max(1e-9);
            let later = (g_t - g_a).max(0.0) / still;
            let (ph, pm) = (h * later, m * later);
            c.dials += count;
            c.people += count * ph;
            c.machines += count * pm;
            let (p, m1, m2) = fit.ring.partial_moments(a, t);
            if p > 1e-12 && ph + pm > 0.0 {
                let w = count * (ph + pm);
                c.ring_w += w;
                c.ring_x += w * m1 / p;
                c.ring_xx += w * m2 / p;
            }
        };
        for (&dialed, &count) in &self.ringing {
            let a = now.saturating_duration_since(dialed).as_secs_f64();
            still_ringing(&mut c, a, f64::from(count));
        }
        for Reverse((_, outcome)) in &self.pending {
            match *outcome {
                Outcome::Known {
                    human,
                    machine,
                    ring_us,
                    ..
                } => {
                    c.dials += 1.0;
                    c.told += 1.0;
                    c.people += f64::from(u8::from(human));
                    c.machines += f64::from(u8::from(machine));
                    if ring_us != u64::MAX {
                        c.answered += 1.0;
                        let r = ring_us as f64 / 1e6;
                        c.ring_w += 1.0;
                        c.ring_x += r;
                        c.ring_xx += r * r;
                    }
                }
                // Shed: censored at the ring time it was hung up at.
                Outcome::Shed { rang_us } => still_ringing(&mut c, rang_us as f64 / 1e6, 1.0),
            }
        }
        let Cohort {
            dials: n,
            told,
            answered,
            people: sh,
            machines: sm,
            ring_w: rw,
            ring_x: rx,
            ring_xx: rxx,
        } = c;
        if n <= 0.0 {
            return (*fit, 0.0);
        }
        let blend = |d: &Decayed, s: f64, w: f64| (d.sx + s) / (d.w + w);
        let ring_mean = blend(&self.ring, rx, rw);
        let ring_sq = (self.ring.sxx + rxx) / (self.ring.w + rw);
        let ring_sd = (ring_sq - ring_mean * ring_mean).max(0.0).sqrt();
        let e = Estimates {
            hit_rate: blend(&self.hit, sh, n).clamp(0.0, 1.0),
            machine_rate: blend(&self.machine, sm, n).clamp(0.0, 1.0),
            ring: LogNormal::from_mean_sd(ring_mean, ring_sd),
            answers_seen: self.answered + answered,
            ..*fit
        };
        (e, told)
    }

    /// The hit rate raised while few dials have been seen (see
    /// [`EstimatorConfig::prior_caution`]); `young`: dials placed and not yet counted, weighted
    /// by how much of their outcome is known.
    fn careful(&self, hit: f64, young: f64) -> f64 {
        let w = self.cfg.prior_weight.max(0.0);
        let seen = self.seen + young;
        let share = if w > 0.0 {
            (w / (w + seen)).powi(2)
        } else {
            0.0
        };
        (hit * (1.0 + self.cfg.prior_caution.max(0.0) * share)).clamp(0.0, 1.0)
    }

    /// The estimates from resolved dials only (each counted once its ring timeout has passed).
    fn resolved_estimates(&self) -> Estimates {
        Estimates {
            hit_rate: self.hit.mean().clamp(0.0, 1.0),
            machine_rate: self.machine.mean().clamp(0.0, 1.0),
            ring: LogNormal::from_mean_sd(self.ring.mean(), self.ring.sd()),
            no_answer_s: self.no_answer_s,
            amd_human_s: self.amd_human.mean(),
            amd_machine_s: self.amd_machine.mean(),
            talk: LogNormal::from_mean_sd(self.talk.mean(), self.talk.sd()),
            wrap: LogNormal::from_mean_sd(self.wrap.mean(), self.wrap.sd()),
            answers_seen: self.answered,
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

    /// An estimator without the priors' caution, for tests of the rest.
    fn trusting(p: &Priors) -> Estimator {
        Estimator::with_config(
            p,
            EstimatorConfig {
                prior_caution: 0.0,
                ..EstimatorConfig::default()
            },
        )
    }

    #[test]
    fn starts_at_the_priors() {
        let p = Priors::default();
        let e = trusting(&p).estimates();
        assert!((e.hit_rate - p.hit_rate).abs() < 1e-12);
        // Careful until dials are seen: the priors' hit rate may be far too low.
        let careful = Estimator::new(&p).estimates();
        assert!((careful.hit_rate - 3.0 * p.hit_rate).abs() < 1e-12);
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
        let mut est = trusting(&p);
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
        let mut naive = trusting(&p);
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

    /// One dial a second for `secs` seconds from `t0` at 40 % people, 10 % machines, rings
    /// uniform 1–6 s, the rest ringing out at 25 s: each dial is reported placed, and its
    /// outcome when it comes. Returns the estimates read every 5 s.
    fn stream(
        est: &mut Estimator,
        t0: Instant,
        secs: u64,
        placed: bool,
    ) -> Vec<(u64, Estimates, Estimates)> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut due: Vec<(u64, Observation)> = Vec::new();
        let mut reads = Vec::new();
        for ms in (0..secs * 1000).step_by(250) {
            let now = t0 + Duration::from_millis(ms);
            due.sort_by_key(|d| std::cmp::Reverse(d.0));
            while due.last().is_some_and(|d| d.0 <= ms) {
                if let Some((_, o)) = due.pop() {
                    est.observe(now, o);
                }
            }
            if ms % 1000 == 0 {
                if placed {
                    est.observe(now, Observation::Placed { dialed: now });
                }
                let u: f64 = rng.random();
                let ring = 1.0 + 5.0 * rng.random::<f64>();
                let answered = u < 0.5;
                let after = if answered { ring } else { 25.0 };
                due.push((
                    ms + (after * 1000.0) as u64,
                    Observation::Dial {
                        dialed: now,
                        human: u < 0.4,
                        machine: answered && u >= 0.4,
                        answered_after: answered.then(|| Duration::from_secs_f64(ring)),
                        failed_after: (!answered).then(|| Duration::from_secs(25)),
                    },
                ));
            }
            est.advance(now);
            if ms % 5000 == 0 {
                reads.push((ms / 1000, est.estimates(), est.resolved_estimates()));
            }
        }
        reads
    }

    #[test]
    fn the_censored_estimate_learns_from_calls_still_ringing() {
        let t0 = Instant::now();
        // The demo's cold campaign: priors of 15 % people after 14 s; the truth is 40 % after
        // 1-6 s.
        let p = Priors {
            hit_rate: 0.15,
            machine_rate: 0.2,
            ring_mean_s: 14.0,
            ring_sd_s: 7.0,
            ..Priors::default()
        };
        let mut censored = Estimator::new(&p);
        let reads = stream(&mut censored, t0, 600, true);
        // Before any ring timeout has passed (25 s), the hit rate is already well above the
        // priors' and the ring time well below.
        let (_, at20, _) = reads.iter().find(|r| r.0 == 20).copied().unwrap();
        assert!(at20.hit_rate > 0.3, "{at20:?}");
        assert!(at20.ring.mean() < 12.0, "{at20:?}");
        // Settled, the young dials bias neither the hit rate nor the ring time: the censored
        // estimates stay beside the resolved-only ones.
        let late: Vec<_> = reads.iter().filter(|r| r.0 >= 300).collect();
        let n = late.len() as f64;
        let mean = |f: &dyn Fn(&(u64, Estimates, Estimates)) -> f64| {
            late.iter().map(|r| f(r)).sum::<f64>() / n
        };
        let hit = mean(&|r| r.1.hit_rate);
        let hit_resolved = mean(&|r| r.2.hit_rate);
        let ring = mean(&|r| r.1.ring.mean());
        let ring_resolved = mean(&|r| r.2.ring.mean());
        assert!((hit - 0.4).abs() < 0.03, "{hit}");
        assert!((hit - hit_resolved).abs() < 0.01, "{hit} vs {hit_resolved}");
        assert!(
            (ring - ring_resolved).abs() < 0.3,
            "{ring} vs {ring_resolved}"
        );
        // Without dials reported as placed, the estimates wait for the ring timeout.
        let mut plain = Estimator::new(&p);
        let reads = stream(&mut plain, t0, 20, false);
        let (_, e, _) = reads.last().copied().unwrap();
        assert!((e.ring.mean() - 14.0).abs() < 1e-9, "{e:?}");
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
