//! The predictive pacer: dial ahead of agents becoming free, under the abandon cap.
//!
//! Each tick it looks at a few horizons `h` (now … 30 s ahead) and compares, as random
//! counts:
//!
//! - **demand** `D(h)`: people who will have been told apart from machines by `h`, from the
//!   calls already waiting, in AMD or ringing (each with its posterior chance given how long it
//!   has rung: `P(person, decided by h | still ringing after e)`), plus `n` new dials (each a
//!   person decided by `h` with `hit × P(ring ≤ h − amd_human)`);
//! - **supply** `S(h)`: agents ready now plus every busy agent's chance of being free by
//!   `h + grace` given how long it has talked or wrapped (lognormal talk/wrap fits).
//!
//! With a normal approximation of `D − S`, the expected abandons are `max_h E[(D(h) − S(h))⁺]`.
//! It picks the largest `n` whose expected abandons stay within `target × E[live answers of
//! the calls in flight and the new ones]`, where `target` is a share (`aim`, default ½) of the
//! cap, lowered as the window's budget gets used. It never dials fewer than progressive would,
//! and falls back to progressive when the budget is spent or fewer than `min_agents` work.
//!
//! This is the binomial model of REFERENCE.md §2.4 extended with calls in flight, busy
//! agents and time; with nothing in flight and no busy agent it reduces to it (tested).

use std::time::{Duration, Instant};

use super::stats::CountFit;
use super::{AbandonBudget, AgentView, CallView, Estimates, Reason, Snapshot};

/// Horizons (seconds ahead) at which demand and supply are compared.
const HORIZONS: [f64; 8] = [0.0, 2.0, 4.0, 7.0, 11.0, 16.0, 22.0, 30.0];
const H: usize = HORIZONS.len();

/// Tuning of the predictive pacer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictiveConfig {
    /// Share of the cap aimed at while the budget is at most half used.
    pub aim: f64,
    /// Below this many working agents, dial progressively.
    pub min_agents: u32,
    /// Time an agent has to pick a person up before it counts as abandoned, with a margin
    /// (the rule is 2 s; the default is 1.5 s).
    pub grace: Duration,
    /// Never more calls in flight than this many per working agent.
    pub max_lines_per_agent: f64,
}

impl Default for PredictiveConfig {
    fn default() -> Self {
        PredictiveConfig {
            aim: 0.5,
            min_agents: 4,
            grace: Duration::from_millis(1500),
            max_lines_per_agent: 12.0,
        }
    }
}

/// The predictive pacer.
#[derive(Debug, Clone, Default)]
pub struct Predictive {
    pub cfg: PredictiveConfig,
    calib: Calibration,
}

/// Online calibration of the model against the abandons that really happen.
///
/// The model's expected abandons at decision time are an underestimate: it takes the worst
/// horizon's expected excess, not the expected worst excess, and it sees each tick's
/// decision alone. So the pacer keeps a running ratio κ = (abandons seen) / (abandons the
/// model predicted for the people who answered), both decayed over `tau`, and multiplies its
/// expected abandons by κ. Pseudo-counts start κ at `prior`.
#[derive(Debug, Clone)]
struct Calibration {
    /// Predicted abandon probability for a person answering now (the model's ratio,
    /// smoothed over the time dials take to be answered).
    rho: f64,
    predicted: f64,
    seen: f64,
    last_live: f64,
    last_abandoned: f64,
    last: Option<Instant>,
}

const FULL_AIM_UNTIL: f64 = 0.3;
const CALIB_TAU_S: f64 = 1800.0;
const CALIB_RHO_TAU_S: f64 = 12.0;
const CALIB_PRIOR: f64 = 2.0;
const CALIB_PRIOR_WEIGHT: f64 = 3.0;

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            rho: 0.0,
            predicted: 0.0,
            seen: 0.0,
            last_live: 0.0,
            last_abandoned: 0.0,
            last: None,
        }
    }
}

impl Calibration {
    fn kappa(&self) -> f64 {
        ((self.seen + CALIB_PRIOR * CALIB_PRIOR_WEIGHT) / (self.predicted + CALIB_PRIOR_WEIGHT))
            .clamp(0.5, 20.0)
    }

    /// Accounts for the people who answered and the abandons since the last tick.
    fn observe(&mut self, now: Instant, live: f64, abandoned: f64) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            let d_live = live - self.last_live;
            let d_ab = abandoned - self.last_abandoned;
            if d_live >= 0.0 && d_ab >= 0.0 {
                let decay = (-dt / CALIB_TAU_S).exp();
                self.predicted = self.predicted * decay + self.rho * d_live;
                self.seen = self.seen * decay + d_ab;
            }
        }
        self.last = Some(now);
        self.last_live = live;
        self.last_abandoned = abandoned;
    }

    /// The model's abandon probability for the people now in the pipeline.
    fn predict(&mut self, dt: f64, ratio: f64) {
        let w = 1.0 - (-dt / CALIB_RHO_TAU_S).exp();
        self.rho += (ratio - self.rho) * w;
    }
}

/// A sum of independent yes/no counts per horizon: the sure ones, and the mean and variance
/// of the others.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    sure: [u32; H],
    mean: [f64; H],
    var: [f64; H],
}

impl Counts {
    fn add(&mut self, k: usize, p: f64) {
        if p >= 1.0 {
            self.sure[k] += 1;
        } else if p > 0.0 {
            self.mean[k] += p;
            self.var[k] += p * (1.0 - p);
        }
    }

    #[cfg(test)]
    fn total_mean(&self, k: usize) -> f64 {
        f64::from(self.sure[k]) + self.mean[k]
    }
}

/// `E[(x − S)⁺]` for integer x, for the uncertain part S of the supply at one horizon.
#[derive(Debug, Clone, Default)]
struct Shortfall {
    /// table[x] = E[(x − S)⁺] for x = 0..table.len().
    table: Vec<f64>,
    mean: f64,
}

impl Shortfall {
    fn new(mean: f64, var: f64) -> Self {
        let mut pmf = Vec::new();
        CountFit::new(mean, var).for_each(|k, q| {
            let k = k as usize;
            if pmf.len() <= k {
                pmf.resize(k + 1, 0.0);
            }
            pmf[k] += q;
        });
        let mut table = Vec::with_capacity(pmf.len() + 1);
        let (mut f, mut cdf) = (0.0, 0.0);
        table.push(0.0);
        for q in &pmf {
            cdf += q;
            f += cdf;
            table.push(f);
        }
        Shortfall { table, mean }
    }

    fn at(&self, x: i64) -> f64 {
        if x <= 0 {
            return 0.0;
        }
        match self.table.get(x as usize) {
            Some(v) => *v,
            None => x as f64 - self.mean,
        }
    }
}

/// The model's view of one tick, from which dials are chosen.
#[derive(Debug, Clone)]
pub struct Outlook {
    demand: Counts,
    supply: Counts,
    shortfall: [Shortfall; H],
    /// Expected live answers of the calls in flight (all horizons).
    live_in_flight: f64,
    /// Chance that a new dial is a person decided by each horizon.
    new_by: [f64; H],
    /// Chance that a new dial is a person at all.
    new_live: f64,
}

impl Outlook {
    /// Builds the demand and supply sums for a snapshot.
    pub fn new(s: &Snapshot<'_>, grace: Duration) -> Self {
        let e = s.estimates;
        let g = grace.as_secs_f64();
        let mut demand = Counts::default();
        let mut supply = Counts::default();
        let mut live_in_flight = 0.0;
        for c in s.calls {
            let mut by = [0.0; H];
            let total = call_person_by(e, c, &mut by);
            live_in_flight += total;
            for (k, p) in by.iter().enumerate() {
                demand.add(k, *p);
            }
        }
        for a in s.agents {
            for (k, h) in HORIZONS.iter().enumerate() {
                let p = agent_free_by(e, a, h + g);
                if p > 0.0 {
                    supply.add(k, p);
                }
            }
        }
        let t = e.no_answer_s;
        let mut new_by = [0.0; H];
        for (k, h) in HORIZONS.iter().enumerate() {
            new_by[k] = e.hit_rate * e.ring.cdf((h - e.amd_human_s).min(t));
        }
        let shortfall = std::array::from_fn(|k| Shortfall::new(supply.mean[k], supply.var[k]));
        Outlook {
            demand,
            supply,
            shortfall,
            live_in_flight,
            new_by,
            new_live: e.hit_rate * e.ring.cdf(t),
        }
    }

    /// Expected abandons and expected live answers with `n` more dials.
    pub fn with_dials(&self, n: u32) -> (f64, f64) {
        let n = f64::from(n);
        let mut worst: f64 = 0.0;
        for k in 0..H {
            let p = self.new_by[k];
            let mean = self.demand.mean[k] + n * p;
            if mean + f64::from(self.demand.sure[k]) <= worst {
                continue;
            }
            let var = self.demand.var[k] + n * p * (1.0 - p);
            // E[(D − S)⁺] with D = sure + uncertain demand, S = sure + uncertain supply.
            let offset = i64::from(self.demand.sure[k]) - i64::from(self.supply.sure[k]);
            let sf = &self.shortfall[k];
            let mut e = 0.0;
            CountFit::new(mean, var).for_each(|d, q| e += q * sf.at(offset + i64::from(d)));
            worst = worst.max(e);
        }
        (worst, self.live_in_flight + n * self.new_live)
    }

    /// Largest `n ≤ max` with expected abandons ≤ `target` × expected live answers (0 when
    /// even no dial fits).
    pub fn max_dials(&self, target: f64, max: u32) -> (u32, f64, f64) {
        let fits = |n: u32| {
            let (ab, live) = self.with_dials(n);
            ab <= target * live
        };
        if max == 0 || !fits(1) {
            let (ab, live) = self.with_dials(0);
            return (0, ab, live);
        }
        // fits(1); expected abandons grow faster than the allowance once agents run out,
        // so the feasible set is an interval from 1: binary search its end.
        let (mut lo, mut hi) = (1u32, max);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(mid) { lo = mid } else { hi = mid - 1 }
        }
        let (ab, live) = self.with_dials(lo);
        (lo, ab, live)
    }
}

/// Chance that call `c` turns out a person, decided by each horizon; returns the chance that it
/// is a person at all.
fn call_person_by(e: &Estimates, c: &CallView, by: &mut [f64; H]) -> f64 {
    let (h, m) = (e.hit_rate, e.machine_rate);
    let t = e.no_answer_s;
    match *c {
        CallView::Waiting { .. } => {
            by.fill(1.0);
            1.0
        }
        CallView::Screening { elapsed } => {
            let a = elapsed.as_secs_f64();
            // AMD says "person" about amd_human_s after the answer; well past it, a call still
            // in AMD is most likely a machine.
            if a > e.amd_human_s + 1.0 || h + m <= 0.0 {
                return 0.0;
            }
            let q = h / (h + m);
            let left = (e.amd_human_s - a).max(0.0);
            for (k, hz) in HORIZONS.iter().enumerate() {
                if *hz >= left {
                    by[k] = q;
                }
            }
            q
        }
        CallView::Ringing { elapsed } => {
            let r = elapsed.as_secs_f64();
            if r >= t {
                return 0.0;
            }
            let g0 = e.ring.cdf(r);
            let still = (1.0 - (h + m) * g0).max(1e-9);
            let gt = e.ring.cdf(t);
            for (k, hz) in HORIZONS.iter().enumerate() {
                let x = (r + hz - e.amd_human_s).min(t);
                by[k] = (h * (e.ring.cdf(x) - g0)).max(0.0) / still;
            }
            (h * (gt - g0)).max(0.0) / still
        }
    }
}

/// Chance that agent `a` is free within `within` seconds.
fn agent_free_by(e: &Estimates, a: &AgentView, within: f64) -> f64 {
    match *a {
        AgentView::Ready => 1.0,
        AgentView::Paused => 0.0,
        AgentView::Wrapping { elapsed } => e.wrap.ends_within(elapsed.as_secs_f64(), within),
        AgentView::Talking { elapsed } => {
            // Rest of the talk, then a wrap-up: three-point quadrature over the wrap-up.
            let t = elapsed.as_secs_f64();
            e.wrap
                .three_points()
                .iter()
                .map(|(w, weight)| weight * e.talk.ends_within(t, within - w))
                .sum()
        }
    }
}

impl Predictive {
    pub fn new(cfg: PredictiveConfig) -> Self {
        Predictive {
            cfg,
            calib: Calibration::default(),
        }
    }

    /// Share of the cap to aim at, given how much of the window's budget is used.
    ///
    /// Full `aim` while at most `FULL_AIM_UNTIL` of the budget is used, then falling linearly
    /// to nothing at the cap; and, while the window has fewer than `1 / cap` live answers (when
    /// a single abandon would put it over the cap), ramping up from a fifth of that.
    pub fn target(&self, budget: &AbandonBudget) -> f64 {
        let cap = budget.cap();
        let used = budget.used();
        let spend = ((1.0 - used) / (1.0 - FULL_AIM_UNTIL)).clamp(0.0, 1.0);
        let warm = if cap > 0.0 {
            (budget.live_answers() * cap).clamp(0.2, 1.0)
        } else {
            0.0
        };
        cap * self.cfg.aim * spend * warm
    }

    /// How much the model's expected abandons are scaled up after calibration.
    pub fn calibration(&self) -> f64 {
        self.calib.kappa()
    }

    pub(super) fn decide(&mut self, now: Instant, s: &Snapshot<'_>) -> (u32, Reason) {
        let dt = self
            .calib
            .last
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.calib
            .observe(now, s.budget.live_answers(), s.budget.abandoned());
        let progressive = s.progressive_dials();
        let working = s.working_agents();
        if working < self.cfg.min_agents {
            return (progressive, Reason::TeamTooSmall);
        }
        let outlook = Outlook::new(s, self.cfg.grace);
        let kappa = self.calib.kappa();
        let spent = s.budget.spent();
        let (n, ab, live) = if spent {
            let (ab, live) = outlook.with_dials(progressive);
            (progressive, ab, live)
        } else {
            let target = self.target(s.budget);
            let lines = (self.cfg.max_lines_per_agent * f64::from(working)).floor() as i64;
            let max = (lines - i64::from(s.calls_in_flight())).clamp(0, i64::from(u32::MAX)) as u32;
            let max = max.min(s.limits.channels_free).min(s.limits.dial_tokens);
            outlook.max_dials(target / kappa, max)
        };
        let (n, ab, live) = if n < progressive {
            let (ab, live) = outlook.with_dials(progressive);
            (progressive, ab, live)
        } else {
            (n, ab, live)
        };
        self.calib
            .predict(dt, if live > 0.0 { ab / live } else { 0.0 });
        if spent {
            (n, Reason::BudgetSpent)
        } else if n == progressive {
            (n, Reason::Progressive)
        } else {
            (
                n,
                Reason::Predictive {
                    expected_abandons: kappa * ab,
                    expected_live: live,
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    /// Exact binomial E[(X − A)⁺] / E[X] for X ~ Bin(n, p): the §2.4 oracle.
    fn binomial_abandon(n: u32, p: f64, a: u32) -> f64 {
        let mut pmf = vec![0.0; n as usize + 1];
        pmf[0] = (1.0 - p).powi(n as i32);
        for k in 1..=n as usize {
            pmf[k] = pmf[k - 1] * (n as f64 - k as f64 + 1.0) / k as f64 * p / (1.0 - p);
        }
        let excess: f64 = pmf
            .iter()
            .enumerate()
            .map(|(k, q)| q * (k as f64 - a as f64).max(0.0))
            .sum();
        excess / (n as f64 * p)
    }

    /// Estimates where every answer comes at once: the single-batch model.
    fn batch_estimates(p: f64) -> Estimates {
        Estimates::from_priors(&Priors {
            hit_rate: p,
            machine_rate: 0.0,
            ring_mean_s: 5.0,
            ring_sd_s: 0.01,
            amd_human_s: 0.0,
            no_answer_s: 25.0,
            ..Priors::default()
        })
    }

    #[test]
    fn reduces_to_the_binomial_oracle_and_agrees_with_it() {
        // REFERENCE.md §2.4 rows: (p, A, n at 3 %).
        for (p, a, n_ref) in [
            (0.25, 10u32, 30u32),
            (0.25, 50, 190),
            (0.5, 50, 97),
            (0.1, 50, 470),
        ] {
            let est = batch_estimates(p);
            let b = AbandonBudget::new(0.03, 0.0);
            let agents = vec![AgentView::Ready; a as usize];
            let s = Snapshot {
                agents: &agents,
                calls: &[],
                estimates: &est,
                budget: &b,
                limits: Limits::UNLIMITED,
            };
            let o = Outlook::new(&s, Duration::ZERO);
            let (n, _, _) = o.max_dials(0.03, 10_000);
            // The oracle (exact binomial) at our n is near the cap, and our n is near the
            // table's (the normal approximation is good for these pool sizes).
            let exact = binomial_abandon(n, p, a);
            assert!(exact < 0.04, "p={p} A={a}: n={n} abandons {exact}");
            let rel = (f64::from(n) - f64::from(n_ref)).abs() / f64::from(n_ref);
            assert!(rel < 0.1, "p={p} A={a}: n={n}, table {n_ref}");
        }
    }

    #[test]
    fn dials_ahead_of_agents_about_to_finish() {
        let est = Estimates::from_priors(&Priors::default());
        let b = AbandonBudget::new(0.03, 0.0);
        let long = AgentView::Talking {
            elapsed: Duration::from_secs(250),
        };
        let fresh = AgentView::Talking {
            elapsed: Duration::from_secs(1),
        };
        let count = |agents: &[AgentView]| {
            let s = Snapshot {
                agents,
                calls: &[],
                estimates: &est,
                budget: &b,
                limits: Limits::UNLIMITED,
            };
            Pacer::new(Mode::Predictive)
                .decide(Instant::now(), &s)
                .dials
        };
        let wrapping = AgentView::Wrapping {
            elapsed: Duration::from_secs(19),
        };
        let about_to = count(&[wrapping; 20]);
        let just_started = count(&[fresh; 20]);
        assert!(about_to > 0, "agents ending wrap-up: dial ahead");
        assert_eq!(just_started, 0, "nobody near the end: no dial");
        // Agents deep into a call are likelier to be free soon than those who just started.
        let supply = |agents: &[AgentView]| {
            let s = Snapshot {
                agents,
                calls: &[],
                estimates: &est,
                budget: &b,
                limits: Limits::UNLIMITED,
            };
            Outlook::new(&s, Duration::from_millis(1500))
                .supply
                .total_mean(H - 1)
        };
        assert!(supply(&[long; 20]) > 3.0 * supply(&[fresh; 20]));
    }

    #[test]
    fn calls_in_flight_take_up_the_room() {
        let est = Estimates::from_priors(&Priors::default());
        let b = AbandonBudget::new(0.03, 0.0);
        let agents = [AgentView::Ready; 10];
        let decide = |calls: &[CallView]| {
            let s = Snapshot {
                agents: &agents,
                calls,
                estimates: &est,
                budget: &b,
                limits: Limits::UNLIMITED,
            };
            Pacer::new(Mode::Predictive)
                .decide(Instant::now(), &s)
                .dials
        };
        let empty = decide(&[]);
        let ringing = [CallView::Ringing {
            elapsed: Duration::from_secs(2),
        }; 10];
        let some = decide(&ringing);
        let waiting = [CallView::Waiting {
            elapsed: Duration::from_millis(100),
        }; 10];
        assert!(empty > 10, "{empty}");
        assert!(some < empty && some > 0, "{some} vs {empty}");
        assert_eq!(decide(&waiting), 0, "ten people waiting for ten agents");
    }

    #[test]
    fn falls_back_when_budget_spent_or_team_small() {
        let est = Estimates::from_priors(&Priors::default());
        let mut b = AbandonBudget::new(0.03, 0.0);
        for _ in 0..10 {
            b.record_live_answer();
        }
        b.record_abandon();
        let agents = [AgentView::Ready; 10];
        let s = Snapshot {
            agents: &agents,
            calls: &[],
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let d = Pacer::new(Mode::Predictive).decide(Instant::now(), &s);
        assert_eq!((d.dials, d.reason), (10, Reason::BudgetSpent));
        let fresh = AbandonBudget::new(0.03, 0.0);
        let s = Snapshot {
            agents: &agents[..3],
            budget: &fresh,
            ..s
        };
        let d = Pacer::new(Mode::Predictive).decide(Instant::now(), &s);
        assert_eq!((d.dials, d.reason), (3, Reason::TeamTooSmall));
    }
}
