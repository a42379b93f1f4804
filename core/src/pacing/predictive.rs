//! The predictive pacer: dial ahead of agents becoming free, under the abandon cap.
//!
//! Each tick it looks at a grid of moments `h` (now … 30 s ahead, every 2 s) and counts, as
//! random counts:
//!
//! - **demand** `D(h)`: people who will have been told apart from machines by `h`, from the
//!   calls already waiting, in AMD or ringing (each with its posterior chance given how long it
//!   has rung: `P(person, decided by h | still ringing after e)`), plus the new dials (each a
//!   person decided by `h` with `hit × P(ring ≤ h − amd_human)`);
//! - **supply** `S(h)`: agents ready now plus every busy agent's chance of being free by
//!   `h + grace` given how long it has talked or wrapped up (lognormal talk/wrap fits).
//!
//! Both are sums of independent yes/no events, fitted as binomial or Poisson counts (the right
//! skew of small counts is where abandons come from).
//!
//! **The marginal rule.** A new dial costs an abandon when it brings a person at some moment
//! `t` and, at `t` or any later moment `h`, the people decided by `h` (without it) already use
//! up the agents free by `h + grace`: then it, or someone after it, finds no agent in time.
//! Its **risk** is `Σ_t P(its person is decided at t) × max_{h ≥ t} P(D(h) ≥ S(h + grace))`
//! over `P(person)`: the chance that a person it brings costs an abandon. The pacer adds dials
//! while the next one's risk stays under a threshold; the risk of each further dial only grows.
//! A fixed threshold is a fixed price per abandon: every dial that costs less is placed,
//! whatever the state, which is how a budget of abandons buys the most agent time.
//!
//! **The threshold** steers the window's abandon rate to `aim` × the cap. It is
//! `base × e^{gain·(aim − used)}` × the cap, where `used` is the window's abandons over what
//! the cap allows, read as if the window had started with `prior_live` live answers at `aim`
//! (so the first abandons of a fresh window do not swing it): it rises while the window is
//! below `aim` and falls as it climbs above. It is cut in proportion when fewer than `reserve`
//! abandons are left before the cap (never below `reserve_floor` of itself): abandons come in
//! clusters, and one cluster at the cap would mean minutes of progressive dialing. The risk
//! of the last dial is above the average risk of all dials, and the model's risks run below
//! the abandons seen; the feedback through `used` absorbs both. With fewer than `min_agents`
//! working, or no abandon in hand (the window could not take one more and stay under the cap,
//! counted on the answers in hand and a share of those to come: [`Predictive::budget_spent`]),
//! it dials progressively; from a window's first dial, so a fresh window pays for its first
//! abandon with answers it has.
//!
//! With nothing in flight and no busy agent this is the single-batch binomial model of
//! docs/sources.md §2.4 with a marginal instead of an average criterion (tested against the exact
//! binomial).

// Over 800 lines only with its tests (about 600 of code): one model, the demand/supply grid above,
// with the numerics it needs.

use std::time::{Duration, Instant};

use super::stats::{CountFit, binomial_for_each_while};
use super::{AbandonBudget, AgentView, CallView, Estimates, MIN_SHED_RING, Reason, Snapshot};

/// The time grid: moments `k × STEP` seconds ahead, for k in 0..K (now … 30 s).
const STEP: f64 = 2.0;
const K: usize = 16;
/// The moments of the grid the pacer looks at, and the seconds between them.
pub const GRID: usize = K;
pub const GRID_STEP_S: f64 = STEP;

/// The highest `shed_factor` a campaign may set: above it predictive still dials as if it could
/// shed an over-dial, but sheds so little that runs went over the cap (large-hot at 40 and 100,
/// docs/experiments/pacing.md); `dialing.shed_after = "off"` is the way to shed nothing.
pub const MAX_SHED_FACTOR: f64 = 25.0;

/// Tuning of the predictive pacer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictiveConfig {
    /// The window's abandon rate the pacer steers to, as a share of the cap.
    pub aim: f64,
    /// Threshold on a dial's risk when the window is at `aim`, as a share of the cap.
    pub base: f64,
    /// How fast the threshold moves with the window's rate: × e^{gain·(aim − used)}.
    pub gain: f64,
    /// Highest threshold, as a share of the cap.
    pub max_share: f64,
    /// With fewer abandons than this left before the cap, the threshold is cut in proportion
    /// (never below `reserve_floor` of itself).
    pub reserve: f64,
    pub reserve_floor: f64,
    /// Live answers at `aim` the window is assumed to start with when the threshold reads how
    /// much of it is used (so the first abandons of a fresh window do not swing it).
    pub prior_live: f64,
    /// Below this many working agents, dial progressively.
    pub min_agents: u32,
    /// Time an agent has to pick a person up before it counts as abandoned, with a margin
    /// (the rule is 2 s; the default is 1.5 s).
    pub grace: Duration,
    /// Never more calls in flight than this many per working agent.
    pub max_lines_per_agent: f64,
    /// Until the estimates have seen answers, fewer lines: at most 1.5 plus one per this many
    /// answers seen ([`Estimates::answers_seen`]) per working agent. Priors can be wrong in
    /// ways no caution on one figure covers (a ring time longer than the model's 30 s horizon,
    /// a hit rate ten times too low); a fresh campaign then learns from a few dozen calls
    /// before it dials a dozen lines per agent.
    pub ramp_answers: f64,
    /// Hang up ("shed") a call still ringing after this long when the person it may yet bring
    /// would risk an abandon above `shed_factor` × the threshold; never before
    /// [`MIN_SHED_RING`]. `None`: never.
    pub shed_after: Option<Duration>,
    /// How much riskier than a new dial a ringing call must be to be shed: its person would
    /// come sooner than a new dial's, and a call shed costs a lead attempt. At most
    /// [`MAX_SHED_FACTOR`]: above it the pacer counts on shedding that hardly happens.
    pub shed_factor: f64,
    /// The share of the live answers the window is still expected to bring
    /// ([`AbandonBudget::expected_more`], the projection of [`LiveRate`](super::LiveRate))
    /// that the budget is planned over with shedding on: the abandons the cap allows are
    /// counted on the answers in hand plus this share of those to come, so a window does not
    /// wait for its answers in hand to pay for every abandon, and an early cluster is paid
    /// back over the window instead of stopping predictive dialing. 0: judge by those in hand.
    pub spread: f64,
    /// The same share with shedding off: no ringing call can be hung up, so an over-dial cannot
    /// be undone, and a pacer that then turns careful brings fewer answers than projected.
    pub unshed_more: f64,
    /// The abandons the window must still be able to take, and stay at or under the cap,
    /// before the pacer dials ahead of agents: counted on the live answers in hand (the
    /// abandoned people's own answers included) plus the planned share (`spread`, or
    /// `unshed_more`) of those to come. From the window's first dial: a fresh window pays for
    /// its first abandon with the answers it has, not with those it hopes for (at a 3 % cap,
    /// 33 live answers while nothing is projected). Dialing ahead is what risks an abandon,
    /// and shedding cannot undo every over-dial (nothing at all with shedding off): a window
    /// that could not take one more abandon without going over does not take the risk.
    pub in_hand: f64,
}

impl Default for PredictiveConfig {
    fn default() -> Self {
        PredictiveConfig {
            aim: 0.8,
            base: 1.0,
            gain: 2.0,
            max_share: 4.0,
            reserve: 6.0,
            reserve_floor: 0.1,
            prior_live: 500.0,
            min_agents: 4,
            grace: Duration::from_millis(1500),
            max_lines_per_agent: 12.0,
            ramp_answers: 10.0,
            shed_after: Some(MIN_SHED_RING),
            shed_factor: 25.0,
            spread: 1.0,
            unshed_more: 0.5,
            in_hand: 1.0,
        }
    }
}

/// The predictive pacer.
#[derive(Debug, Clone, Default)]
pub struct Predictive {
    pub cfg: PredictiveConfig,
}

/// A sum of independent yes/no counts per moment of the grid: the sure ones, and the mean and
/// variance of the others.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    sure: [u32; K],
    mean: [f64; K],
    var: [f64; K],
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

/// Where one moment's tail table lies in [`Outlook::tails`].
#[derive(Debug, Clone, Copy, Default)]
struct Tail {
    lo: i64,
    start: usize,
    len: usize,
}

/// The fitted distribution of a count with this mean and variance, trimmed of negligible
/// tails, into `pmf` (`pmf[i] = P(count = first + i)`); returns `first`.
fn counts_pmf(mean: f64, var: f64, pmf: &mut Vec<f64>) -> u32 {
    const NEGLIGIBLE: f64 = 1e-15;
    pmf.clear();
    let mut first = None;
    CountFit::new(mean, var).for_each(|x, q| {
        let f = *first.get_or_insert(x);
        if pmf.is_empty() && q < NEGLIGIBLE {
            first = None;
            return;
        }
        let i = (x - f) as usize;
        if pmf.len() <= i {
            pmf.resize(i + 1, 0.0);
        }
        pmf[i] += q;
    });
    while pmf.len() > 1 && pmf.last().is_some_and(|q| *q < NEGLIGIBLE) {
        pmf.pop();
    }
    if pmf.is_empty() {
        pmf.push(1.0);
        return 0;
    }
    first.unwrap_or(0)
}

/// The model's view of one tick, from which dials are chosen.
#[derive(Debug, Clone)]
pub struct Outlook {
    demand: Counts,
    supply: Counts,
    /// Per moment, `P(X ≥ lo + i)` for i = 0, 1, … where X = uncertain demand of the calls in
    /// flight − uncertain supply (`lo` is X's least value), stored one after the other.
    tails: Vec<f64>,
    tail_at: [Tail; K],
    /// Chance that a new dial is a person decided by each moment.
    new_by: [f64; K],
    /// Expected live answers of the calls in flight.
    live_in_flight: f64,
    /// Chance that a new dial is a person at all.
    new_live: f64,
}

impl Outlook {
    /// Builds the demand and supply sums for a snapshot.
    pub fn new(s: &Snapshot<'_>, grace: Duration) -> Self {
        Self::without(s, grace, &[])
    }

    /// The same, as if the calls at these indices of `s.calls` (in increasing order) were
    /// hung up.
    pub fn without(s: &Snapshot<'_>, grace: Duration, gone: &[usize]) -> Self {
        let e = s.estimates;
        let g = grace.as_secs_f64();
        let mut demand = Counts::default();
        let mut supply = Counts::default();
        let mut live_in_flight = 0.0;
        let mut by = [0.0; K];
        let mut gone = gone.iter().peekable();
        for (i, c) in s.calls.iter().enumerate() {
            if gone.next_if_eq(&&i).is_some() {
                continue;
            }
            by.fill(0.0);
            live_in_flight += call_person_by(e, c, &mut by);
            for (k, p) in by.iter().enumerate() {
                demand.add(k, *p);
            }
        }
        let wrap_points = e.wrap.three_points();
        for a in s.agents {
            match *a {
                AgentView::Ready => supply.sure.iter_mut().for_each(|x| *x += 1),
                AgentView::Paused => {}
                AgentView::Wrapping { elapsed } => {
                    let t = elapsed.as_secs_f64();
                    for k in 0..K {
                        supply.add(k, e.wrap.ends_within(t, moment(k) + g));
                    }
                }
                AgentView::Talking { elapsed } => {
                    if talk_free_by(e, &wrap_points, elapsed.as_secs_f64(), g, &mut by) {
                        for (k, p) in by.iter().enumerate() {
                            supply.add(k, *p);
                        }
                    }
                }
            }
        }
        let t = e.no_answer_s;
        let new_by =
            std::array::from_fn(|k| e.hit_rate * e.ring.cdf((moment(k) - e.amd_human_s).min(t)));
        Self::from_counts(
            demand,
            supply,
            new_by,
            live_in_flight,
            e.hit_rate * e.ring.cdf(t),
        )
    }

    /// An outlook from what the caller knows, as the simulator's clairvoyant pacers have it:
    /// per person in flight and per agent, the chance of being decided (people) or free
    /// (agents, the grace included) by each moment of the grid ([`GRID`] moments
    /// [`GRID_STEP_S`] apart, the first now: 0 or 1 when known exactly), and a new dial's
    /// chance of being a person decided by each moment.
    pub fn known(
        people: impl IntoIterator<Item = [f64; K]>,
        agents: impl IntoIterator<Item = [f64; K]>,
        new_by: [f64; K],
        new_live: f64,
    ) -> Self {
        let mut demand = Counts::default();
        let mut supply = Counts::default();
        let mut live_in_flight = 0.0;
        for by in people {
            live_in_flight += by[K - 1];
            for (k, p) in by.iter().enumerate() {
                demand.add(k, *p);
            }
        }
        for by in agents {
            for (k, p) in by.iter().enumerate() {
                supply.add(k, *p);
            }
        }
        Self::from_counts(demand, supply, new_by, live_in_flight, new_live)
    }

    /// The risk that the person a call in flight may bring (decided by each moment with
    /// chance `by`) costs an abandon, with `n` new dials after it: the rule predictive sheds
    /// by.
    pub fn call_risk(&self, by: &[f64; K], n: u32) -> f64 {
        arrival_risk(by, &self.worst(n))
    }

    fn from_counts(
        demand: Counts,
        supply: Counts,
        new_by: [f64; K],
        live_in_flight: f64,
        new_live: f64,
    ) -> Self {
        let mut tails = Vec::new();
        let (mut pd, mut ps, mut px) = (Vec::new(), Vec::new(), Vec::new());
        let tail_at = std::array::from_fn(|k| {
            let d0 = counts_pmf(demand.mean[k], demand.var[k], &mut pd);
            let s0 = counts_pmf(supply.mean[k], supply.var[k], &mut ps);
            // X = D − S takes values from d0 − (s0 + |ps| − 1) up.
            let lo = i64::from(d0) - i64::from(s0) - (ps.len() as i64 - 1);
            px.clear();
            px.resize(pd.len() + ps.len() - 1, 0.0);
            let top = ps.len() - 1;
            for (i, a) in pd.iter().enumerate() {
                for (j, b) in ps.iter().enumerate() {
                    px[i + top - j] += a * b;
                }
            }
            let start = tails.len();
            tails.resize(start + px.len(), 0.0);
            let mut acc = 0.0;
            for (t, q) in tails[start..].iter_mut().zip(&px).rev() {
                acc += q;
                *t = acc.min(1.0);
            }
            Tail {
                lo,
                start,
                len: px.len(),
            }
        });
        Outlook {
            demand,
            supply,
            tails,
            tail_at,
            new_by,
            live_in_flight,
            new_live,
        }
    }

    /// `P(X_k ≥ x)`.
    fn tail(&self, k: usize, x: i64) -> f64 {
        let t = self.tail_at[k];
        if x <= t.lo {
            1.0
        } else if x >= t.lo + t.len as i64 {
            0.0
        } else {
            self.tails[t.start + (x - t.lo) as usize]
        }
    }

    /// `P(D(h_k) ≥ S(h_k + grace))` with `n` new dials: the new dials' people by `h_k` are an
    /// exact binomial, so this never falls as `n` grows.
    fn short(&self, k: usize, n: u32) -> f64 {
        // D ≥ S  ⟺  X ≥ (sure supply − sure demand) − new people.
        let c = i64::from(self.supply.sure[k]) - i64::from(self.demand.sure[k]);
        let p = self.new_by[k];
        if n == 0 || p <= 0.0 {
            return self.tail(k, c);
        }
        if p >= 1.0 {
            return self.tail(k, c - i64::from(n));
        }
        let lo = self.tail_at[k].lo;
        let (mut acc, mut mass) = (0.0f64, 0.0f64);
        binomial_for_each_while(n, p, |b, q| {
            let x = c - i64::from(b);
            if x <= lo {
                // From here on every outcome is a shortfall.
                acc += (1.0 - mass).max(0.0);
                return false;
            }
            mass += q;
            acc += q * self.tail(k, x);
            true
        });
        acc.min(1.0)
    }

    /// Per moment `k`, the chance of a shortfall at `k` or later with `n` new dials:
    /// `max_{h ≥ k} P(D(h) ≥ S(h + grace))`.
    fn worst(&self, n: u32) -> [f64; K] {
        let mut w = [0.0; K];
        let mut m = 0.0f64;
        for k in (0..K).rev() {
            m = m.max(self.short(k, n));
            w[k] = m;
        }
        w
    }

    /// The risk of one more dial when `n` new ones are placed: the chance that a person it
    /// brings finds no agent in time, or takes the agent of someone after them who then does.
    pub fn risk(&self, n: u32) -> f64 {
        if self.new_by[K - 1] <= 0.0 {
            return 0.0;
        }
        arrival_risk(&self.new_by, &self.worst(n))
    }

    /// The number of dials to place, at least `lo` and at most `max` (if `max ≥ lo`): `lo`
    /// plus as many more as have a risk at most `threshold`. Also returns the risk of the last
    /// one placed beyond `lo` (0 if none).
    pub fn dials(&self, lo: u32, max: u32, threshold: f64) -> (u32, f64) {
        if max <= lo {
            return (lo.min(max), 0.0);
        }
        let fits = |n: u32| self.risk(n) <= threshold;
        if !fits(lo) {
            return (lo, 0.0);
        }
        // fits(lo); the risk grows with n: find the first n that does not fit, by doubling
        // then bisection. The answer is that n (dials lo..n each fit).
        let mut good = lo;
        let mut step = 1u32;
        let bad = loop {
            let probe = good.saturating_add(step).min(max);
            if !fits(probe) {
                break probe;
            }
            good = probe;
            if probe == max {
                return (max, self.risk(max - 1));
            }
            step = step.saturating_mul(2);
        };
        let (mut good, mut bad) = (good, bad);
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if fits(mid) { good = mid } else { bad = mid }
        }
        // Dials for n = lo..=good each fit: good + 1 dials in all.
        (good + 1, self.risk(good))
    }

    /// Expected live answers of the calls in flight and `n` new dials.
    pub fn expected_live(&self, n: u32) -> f64 {
        self.live_in_flight + f64::from(n) * self.new_live
    }
}

/// The risk of a person who is decided by each moment with chance `by` (cumulative), given the
/// chance of a shortfall at or after each moment: `Σ_k P(decided at k) × worst[k] / P(person)`.
fn arrival_risk(by: &[f64; K], worst: &[f64; K]) -> f64 {
    let total = by[K - 1];
    if total <= 0.0 {
        return 0.0;
    }
    let mut acc = 0.0;
    let mut before = 0.0;
    for (b, w) in by.iter().zip(worst) {
        acc += (b - before).max(0.0) * w;
        before = *b;
    }
    (acc / total).min(1.0)
}

/// The moment `k` of the grid, in seconds from now.
fn moment(k: usize) -> f64 {
    k as f64 * STEP
}

/// Chance that call `c` turns out a person, decided by each moment of the grid, by the
/// estimates.
pub fn person_by(e: &Estimates, c: &CallView) -> [f64; K] {
    let mut by = [0.0; K];
    call_person_by(e, c, &mut by);
    by
}

/// Chance that call `c` turns out a person, decided by each moment; returns the chance that
/// it is a person at all.
fn call_person_by(e: &Estimates, c: &CallView, by: &mut [f64; K]) -> f64 {
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
            for (k, p) in by.iter_mut().enumerate() {
                if moment(k) >= left {
                    *p = q;
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
            let all = (h * (gt - g0)).max(0.0) / still;
            for (k, p) in by.iter_mut().enumerate() {
                let x = r + moment(k) - e.amd_human_s;
                if x >= t {
                    // Past the ring timeout: every person it may bring is decided.
                    *p = all;
                } else if x > r {
                    *p = (h * (e.ring.cdf(x) - g0)).max(0.0) / still;
                }
            }
            all
        }
    }
}

/// Chance that an agent who has talked for `t` is free (talk and wrap-up done) within
/// `moment(k) + g`, for every k; false (and `by` untouched) when it is negligible throughout.
///
/// The talk's conditional distribution is evaluated once per grid step and interpolated
/// between, then averaged over three points standing for the wrap-up.
fn talk_free_by(e: &Estimates, wrap: &[(f64, f64); 3], t: f64, g: f64, by: &mut [f64; K]) -> bool {
    let f0 = e.talk.cdf(t);
    let surv = 1.0 - f0;
    if surv < 1e-9 {
        // Far in the tail: a memoryless guess.
        for (k, p) in by.iter_mut().enumerate() {
            *p = wrap
                .iter()
                .map(|(w, weight)| weight * e.talk.ends_within(t, moment(k) + g - w))
                .sum();
        }
        return true;
    }
    // ends[j] = P(talk ends within j × STEP | lasted t), for j up to the longest talk that
    // still leaves the shortest wrap-up within the grid.
    let shortest_wrap = wrap.iter().map(|(w, _)| *w).fold(f64::INFINITY, f64::min);
    let reach = moment(K - 1) + g - shortest_wrap.max(0.0);
    if reach <= 0.0 {
        return false;
    }
    let top_j = ((reach / STEP).ceil() as usize + 1).min(K);
    let mut ends = [0.0; K + 1];
    let top = (e.talk.cdf(t + top_j as f64 * STEP) - f0) / surv;
    if top < 1e-7 {
        return false;
    }
    ends[top_j..].fill(top.clamp(0.0, 1.0));
    for (j, v) in ends.iter_mut().enumerate().take(top_j).skip(1) {
        *v = ((e.talk.cdf(t + j as f64 * STEP) - f0) / surv).clamp(0.0, 1.0);
    }
    let at = |x: f64| -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let u = x / STEP;
        let i = u as usize;
        if i >= K {
            return ends[K];
        }
        let f = u - i as f64;
        ends[i] + f * (ends[i + 1] - ends[i])
    };
    for (k, p) in by.iter_mut().enumerate() {
        *p = wrap
            .iter()
            .map(|(w, weight)| weight * at(moment(k) + g - w))
            .sum();
    }
    true
}

impl Predictive {
    pub fn new(cfg: PredictiveConfig) -> Self {
        Predictive { cfg }
    }

    /// The threshold on a dial's risk, given the window's budget (see the module docs).
    pub fn threshold(&self, budget: &AbandonBudget) -> f64 {
        let cap = budget.cap();
        if cap <= 0.0 {
            return 0.0;
        }
        let c = &self.cfg;
        let l0 = c.prior_live.max(0.0);
        let live = budget.live_answers();
        let used =
            ((budget.abandoned() + c.aim * cap * l0) / (cap * (live + l0)).max(1e-9)).min(10.0);
        let share = (c.base * (c.gain * (c.aim - used)).exp()).min(c.max_share);
        let reserve = if c.reserve > 0.0 {
            (budget.remaining() / c.reserve).clamp(c.reserve_floor, 1.0)
        } else {
            1.0
        };
        cap * share * reserve
    }

    /// The live answers still to come that the budget is planned over.
    fn planned_more(&self, budget: &AbandonBudget) -> f64 {
        let share = if self.shed_after().is_some() {
            self.cfg.spread
        } else {
            self.cfg.unshed_more
        };
        share.clamp(0.0, 1.0) * budget.expected_more()
    }

    /// No dialing ahead of agents: the window could not take `in_hand` more abandons and stay
    /// at or under the cap, counted on the live answers in hand (one more abandon is one more
    /// of them) and the planned share of those to come ([`AbandonBudget::expected_more`]).
    /// From the window's first dial, with nothing counted as to come, that is about
    /// `in_hand / cap` live answers in hand before the first dial ahead.
    pub fn budget_spent(&self, budget: &AbandonBudget) -> bool {
        let room = budget.remaining_with(self.planned_more(budget) + 1.0);
        room <= 0.0 || room < self.cfg.in_hand
    }

    /// The ring time after which a call may be shed, if shedding is on.
    pub fn shed_after(&self) -> Option<Duration> {
        self.cfg.shed_after.map(|d| d.max(MIN_SHED_RING))
    }

    /// With no agent working, every call ringing past [`Self::shed_after`] goes: whoever it
    /// brings would be abandoned.
    pub(super) fn shed_ringing(&self, s: &Snapshot<'_>, shed: &mut Vec<usize>) {
        let Some(after) = self.shed_after() else {
            return;
        };
        shed.extend(s.calls.iter().enumerate().filter_map(|(i, c)| {
            matches!(c, CallView::Ringing { elapsed } if *elapsed >= after).then_some(i)
        }));
    }

    /// What decides before the model: progressive's dials, the most dials the lines and limits
    /// allow and the threshold; or the fallback (a small team, the budget spent, no room).
    fn gate(&self, s: &Snapshot<'_>) -> Result<(u32, u32, f64), (u32, Reason)> {
        let progressive = s.progressive_dials();
        let working = s.working_agents();
        if working < self.cfg.min_agents {
            return Err((progressive, Reason::TeamTooSmall));
        }
        if self.budget_spent(s.budget) {
            return Err((progressive, Reason::BudgetSpent));
        }
        let threshold = self.threshold(s.budget);
        let ramp = if self.cfg.ramp_answers > 0.0 {
            1.5 + s.estimates.answers_seen / self.cfg.ramp_answers
        } else {
            f64::INFINITY
        };
        let per_agent = self.cfg.max_lines_per_agent.min(ramp);
        let lines = (per_agent * f64::from(working)).floor() as i64;
        let max = (lines - i64::from(s.calls_in_flight())).clamp(0, i64::from(u32::MAX)) as u32;
        let max = max.min(s.limits.channels_free).min(s.limits.dial_tokens);
        if max <= progressive || threshold <= 0.0 {
            return Err((progressive, Reason::Progressive));
        }
        Ok((progressive, max, threshold))
    }

    /// Dials to place now and why, by the same rule and budget as [`Self::decide`] but on an
    /// outlook the caller built (the simulator's clairvoyant pacer, which knows each call's
    /// fate and each agent's end); the caller sheds what it will before building it.
    pub fn decide_with(&self, s: &Snapshot<'_>, outlook: &Outlook) -> (u32, Reason) {
        let (progressive, max, threshold) = match self.gate(s) {
            Ok(g) => g,
            Err(fallback) => return fallback,
        };
        let (n, risk) = outlook.dials(progressive, max, threshold);
        if n <= progressive {
            (progressive, Reason::Progressive)
        } else {
            (n, Reason::Predictive { risk, threshold })
        }
    }

    /// Dials to place now and why; pushes onto `shed` the indices of ringing calls to hang up.
    pub(super) fn decide(
        &mut self,
        _now: Instant,
        s: &Snapshot<'_>,
        shed: &mut Vec<usize>,
    ) -> (u32, Reason) {
        let (progressive, max, threshold) = match self.gate(s) {
            Ok(g) => g,
            Err((n, Reason::BudgetSpent)) => {
                // No dialing ahead, but the calls dialed ahead before may still be ringing:
                // with no abandon in hand, those whose people would risk one still go.
                if let Some(after) = self.shed_after()
                    && s.calls
                        .iter()
                        .any(|c| matches!(c, CallView::Ringing { elapsed } if *elapsed >= after))
                {
                    let outlook = Outlook::new(s, self.cfg.grace);
                    self.shed_risky(s, &outlook, n, self.threshold(s.budget), shed);
                }
                return (n, Reason::BudgetSpent);
            }
            Err(fallback) => return fallback,
        };
        let outlook = Outlook::new(s, self.cfg.grace);
        let (mut n, mut risk) = outlook.dials(progressive, max, threshold);
        self.shed_risky(s, &outlook, progressive, threshold, shed);
        if !shed.is_empty() {
            let lighter = Outlook::without(s, self.cfg.grace, shed);
            (n, risk) = lighter.dials(progressive, max, threshold);
        }
        if n <= progressive {
            (progressive, Reason::Progressive)
        } else {
            (n, Reason::Predictive { risk, threshold })
        }
    }

    /// Pushes onto `shed` the calls still ringing past [`Self::shed_after`] whose person would
    /// risk an abandon above `shed_factor` × `threshold`. Calls in flight come before new
    /// dials, so their risk counts no new dial beyond `progressive`.
    fn shed_risky(
        &self,
        s: &Snapshot<'_>,
        outlook: &Outlook,
        progressive: u32,
        threshold: f64,
        shed: &mut Vec<usize>,
    ) {
        let Some(after) = self.shed_after() else {
            return;
        };
        let worst = outlook.worst(progressive);
        let limit = threshold * self.cfg.shed_factor;
        let mut by = [0.0; K];
        for (i, c) in s.calls.iter().enumerate() {
            if let CallView::Ringing { elapsed } = c
                && *elapsed >= after
            {
                by.fill(0.0);
                if call_person_by(s.estimates, c, &mut by) > 0.0
                    && arrival_risk(&by, &worst) > limit
                {
                    shed.push(i);
                }
            }
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::super::*;
    use super::*;

    /// Exact `P(X ≥ a)` for X ~ Bin(n, p).
    fn binomial_at_least(n: u32, p: f64, a: u32) -> f64 {
        let mut q = (1.0 - p).powi(n as i32);
        let mut below = 0.0;
        for k in 0..a.min(n + 1) {
            below += q;
            q *= f64::from(n - k) / f64::from(k + 1) * p / (1.0 - p);
        }
        (1.0 - below).max(0.0)
    }

    /// Estimates where every answer comes at once, 5 s after the dial: the single-batch model.
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
    fn reduces_to_the_single_batch_binomial() {
        // A ready agents, nobody busy, nothing in flight: the (n+1)-th dial's person is in
        // trouble when the n others bring at least A people.
        for (p, a, threshold) in [
            (0.25, 10u32, 0.03),
            (0.25, 50, 0.05),
            (0.5, 50, 0.03),
            (0.1, 20, 0.1),
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
            let (n, _) = o.dials(0, 10_000, threshold);
            // The exact binomial: every dial placed fits, the next one would not.
            let exact = (0..10_000)
                .find(|&m| binomial_at_least(m, p, a) > threshold)
                .unwrap();
            assert_eq!(n, exact, "p={p} A={a}");
            assert!((o.risk(n - 1) - binomial_at_least(n - 1, p, a)).abs() < 1e-3);
            // More dials than agents, fewer than naive A/p.
            assert!(n > a && f64::from(n) < f64::from(a) / p, "p={p} A={a}: {n}");
        }
    }

    #[test]
    fn risk_grows_with_dials() {
        let est = Estimates::from_priors(&Priors::default());
        let b = AbandonBudget::new(0.03, 0.0);
        let mut agents = vec![AgentView::Ready; 5];
        for i in 0..25 {
            agents.push(AgentView::Talking {
                elapsed: Duration::from_secs(10 * i),
            });
        }
        let calls = [CallView::Ringing {
            elapsed: Duration::from_secs(3),
        }; 12];
        let s = Snapshot {
            agents: &agents,
            calls: &calls,
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let o = Outlook::new(&s, Duration::from_millis(1500));
        let risks: Vec<f64> = (0..60).step_by(5).map(|n| o.risk(n)).collect();
        assert!(risks.windows(2).all(|w| w[0] <= w[1] + 1e-12), "{risks:?}");
        assert!(risks[0] < 0.05 && risks[risks.len() - 1] > 0.5, "{risks:?}");
    }

    #[test]
    fn dials_ahead_of_agents_about_to_finish() {
        let est = Estimates::from_priors(&Priors::default());
        // A window with answers in hand: a fresh one dials no further ahead than its agents.
        let b = window(100, 0);
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
                .total_mean(K - 1)
        };
        assert!(supply(&[long; 20]) > 3.0 * supply(&[fresh; 20]));
    }

    #[test]
    fn talking_agents_interpolated_match_the_direct_computation() {
        let est = Estimates::from_priors(&Priors::default());
        let wrap = est.wrap.three_points();
        for t in [0.0, 30.0, 120.0, 160.0, 400.0] {
            let mut by = [0.0; K];
            talk_free_by(&est, &wrap, t, 1.5, &mut by);
            for (k, p) in by.iter().enumerate() {
                let direct: f64 = wrap
                    .iter()
                    .map(|(w, weight)| weight * est.talk.ends_within(t, moment(k) + 1.5 - w))
                    .sum();
                assert!((p - direct).abs() < 2e-3, "t={t} k={k}: {p} vs {direct}");
            }
        }
    }

    #[test]
    fn calls_in_flight_take_up_the_room() {
        let est = Estimates::from_priors(&Priors::default());
        // A window with answers in hand: a fresh one dials no further ahead than its agents.
        let b = window(100, 0);
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
    fn sheds_late_ringing_calls_only_when_nobody_could_take_their_people() {
        let est = Estimates::from_priors(&Priors::default());
        let b = AbandonBudget::new(0.03, 0.0);
        let late = CallView::Ringing {
            elapsed: Duration::from_secs(16),
        };
        let early = CallView::Ringing {
            elapsed: Duration::from_secs(5),
        };
        let calls = [late, early, late, late, early, late];
        let decide = |agents: &[AgentView]| {
            let s = Snapshot {
                agents,
                calls: &calls,
                estimates: &est,
                budget: &b,
                limits: Limits::UNLIMITED,
            };
            Pacer::new(Mode::Predictive).decide(Instant::now(), &s)
        };
        // Everybody has just started a call: a person now would find no agent.
        let busy = decide(
            &[AgentView::Talking {
                elapsed: Duration::from_secs(5),
            }; 10],
        );
        assert_eq!(busy.shed, vec![0, 2, 3, 5], "{busy:?}");
        // Agents waiting: the late calls' people are welcome.
        let ready = decide(&[AgentView::Ready; 10]);
        assert!(ready.shed.is_empty(), "{ready:?}");
        // Nobody working (all paused): every late call goes, nothing is dialed.
        let away = decide(&[AgentView::Paused; 10]);
        assert_eq!(
            (away.dials, away.reason, away.shed.clone()),
            (0, Reason::NoAgent, vec![0, 2, 3, 5]),
            "{away:?}"
        );
        // Shedding off: nothing goes.
        let s = Snapshot {
            agents: &[AgentView::Talking {
                elapsed: Duration::from_secs(5),
            }; 10],
            calls: &calls,
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let off = Pacer::Predictive(Predictive::new(PredictiveConfig {
            shed_after: None,
            ..PredictiveConfig::default()
        }))
        .decide(Instant::now(), &s);
        assert!(off.shed.is_empty(), "{off:?}");
        let s = Snapshot {
            agents: &[AgentView::Paused; 10],
            ..s
        };
        let off_away = Pacer::Predictive(Predictive::new(PredictiveConfig {
            shed_after: None,
            ..PredictiveConfig::default()
        }))
        .decide(Instant::now(), &s);
        assert!(off_away.shed.is_empty(), "{off_away:?}");
        // Other pacers never shed.
        for mode in [Mode::Progressive, Mode::Ratio(2.0), Mode::Vicidial] {
            assert!(Pacer::new(mode).decide(Instant::now(), &s).shed.is_empty());
        }
    }

    #[test]
    fn threshold_follows_the_window() {
        let p = Predictive::default();
        let window = |live: u64, abandoned: u64| {
            AbandonBudget::from_history(
                0.03,
                0.0,
                WindowCounts {
                    live_answers: live,
                    abandoned,
                    amd_machines: 0,
                },
            )
        };
        // Below the aim the threshold is above the cap's share at the aim; above, below it.
        let low = p.threshold(&window(2000, 20));
        let at = p.threshold(&window(2000, 48));
        let high = p.threshold(&window(2000, 57));
        assert!(low > at && at > high, "{low} {at} {high}");
        assert!((at - 0.03 * p.cfg.base).abs() < 1e-9, "{at}");
        // A fresh window, where one abandon would be a large share, starts carefully.
        let fresh = p.threshold(&window(0, 0));
        assert!(fresh < 0.2 * low, "{fresh} vs {low}");
    }

    /// A window with `live` live answers in hand, `abandoned` of them abandoned.
    fn window(live: u64, abandoned: u64) -> AbandonBudget {
        AbandonBudget::from_history(
            0.03,
            0.0,
            WindowCounts {
                live_answers: live,
                abandoned,
                amd_machines: 0,
            },
        )
    }

    #[test]
    fn keeps_one_abandon_in_hand_from_the_first_answer() {
        // Twenty agents about to end their wrap-up, none ready: any dial is a dial ahead.
        let est = Estimates::from_priors(&Priors::default());
        let agents = [AgentView::Wrapping {
            elapsed: Duration::from_secs(19),
        }; 20];
        let decide = |p: &Predictive, b: &AbandonBudget| {
            let s = Snapshot {
                agents: &agents,
                calls: &[],
                estimates: &est,
                budget: b,
                limits: Limits::UNLIMITED,
            };
            Pacer::Predictive(p.clone()).decide(Instant::now(), &s)
        };
        let on = Predictive::default();
        let off = Predictive::new(PredictiveConfig {
            shed_after: None,
            ..PredictiveConfig::default()
        });
        for p in [&on, &off] {
            // A fresh window: its first abandon would be its whole rate.
            let d = decide(p, &AbandonBudget::new(0.03, 0.0));
            assert_eq!((d.dials, d.reason), (0, Reason::BudgetSpent), "{d:?}");
            // 32 live answers: one abandon would be 1 in 33, 3.03 %.
            let d = decide(p, &window(32, 0));
            assert_eq!((d.dials, d.reason), (0, Reason::BudgetSpent), "{d:?}");
            // 33: 1 in 34 is 2.94 %; the window can take one, so the pacer dials ahead.
            let d = decide(p, &window(33, 0));
            assert!(
                d.dials > 0 && matches!(d.reason, Reason::Predictive { .. }),
                "{d:?}"
            );
            // Answers to come count at the planned share (all of them with shedding on, half
            // with it off): 10 in hand and 60 expected, 3 % of (10 + 1 + 60) = 2.13 abandons,
            // or of (10 + 1 + 30) = 1.23.
            let mut b = window(10, 0);
            b.set_expected_more(60.0);
            assert!(!p.budget_spent(&b));
            assert!(decide(p, &b).dials > 0);
            // 2 abandons in 40 live answers, 20 to come: 3 % of 61 − 2 < 0.
            let mut b = window(40, 2);
            b.set_expected_more(20.0);
            assert!(p.budget_spent(&b));
            // 200 to come: 3 % of 241 − 2 = 5.23, or of 141 − 2 = 2.23.
            b.set_expected_more(200.0);
            assert!(!p.budget_spent(&b));
        }
        // 60 to come: with shedding on 3 % of 101 − 2 = 1.03 in hand; with it off, 3 % of 71
        // − 2 = 0.13, not one.
        let mut b = window(40, 2);
        b.set_expected_more(60.0);
        assert!(!on.budget_spent(&b));
        assert!(off.budget_spent(&b));
    }

    #[test]
    fn with_no_abandon_in_hand_late_ringing_calls_dialed_ahead_still_go() {
        // An abandon just took the window's last one in hand (1 in 33), while calls dialed
        // ahead still ring past 15 s and every agent has just started a call.
        let est = Estimates::from_priors(&Priors::default());
        let b = window(33, 1);
        let agents = [AgentView::Talking {
            elapsed: Duration::from_secs(5),
        }; 10];
        let calls = [CallView::Ringing {
            elapsed: Duration::from_secs(16),
        }; 4];
        let s = Snapshot {
            agents: &agents,
            calls: &calls,
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let d = Pacer::new(Mode::Predictive).decide(Instant::now(), &s);
        assert_eq!((d.dials, d.reason), (0, Reason::BudgetSpent), "{d:?}");
        assert_eq!(d.shed, vec![0, 1, 2, 3], "{d:?}");
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
