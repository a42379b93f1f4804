//! Deterministic discrete-event simulation of a campaign shift, driving the real pacers.
//!
//! Virtual time (microseconds from the start, handed to the pacer as `base + offset`), one
//! seeded ChaCha RNG, and an event queue ordered by (time, sequence): the same scenario, pacer
//! and seed always give the same numbers. The carrier decides each dial's fate when it is
//! placed (person, machine, busy, no answer; ring time from `ring_s`, an answer later than the
//! ring timeout is a no-answer); AMD decides after `amd_human_s` / `amd_machine_s`; a person
//! with no agent free waits in a queue and is abandoned if no agent takes them within 2 s.
//! Agents log in at the start, talk (`talk_s`), wrap up (`wrap_s`), and take the person who
//! waited longest. The pacer is asked every tick (250 ms) with the same [`Snapshot`] a campaign
//! loop builds, and the [`Estimator`], [`AbandonBudget`] and [`LiveRate`] (the answers still to
//! come) are fed as the daemon feeds them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::Distribution;
use serde::Serialize;

use crate::pacing::{
    AbandonBudget, AgentView, CallView, Estimator, Limits, LiveRate, Observation, Pacer, Snapshot,
};

mod clairvoyant;
pub mod scenario;

pub use scenario::{Dist, Scenario, ScenarioError};

/// The abandon clock: a person must have an agent within this long of the AMD decision.
pub const ABANDON_AFTER: Duration = Duration::from_secs(2);

/// Figures of one simulated shift (`dialer simulate --json` prints this).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub scenario: String,
    pub pacer: String,
    pub seed: u64,
    pub agents: u32,
    pub duration_s: f64,
    /// (talk + wrap) / logged-in time.
    pub occupancy: f64,
    pub talk_min_per_agent_hour: f64,
    /// abandoned / human_answers.
    pub abandon_rate: f64,
    pub placed: u64,
    /// Of the placed calls, those the pacer hung up while still ringing (after the legal
    /// minimum): they end like a no-answer, with no person.
    pub shed: u64,
    pub human_answers: u64,
    pub machine_answers: u64,
    pub abandoned: u64,
    /// People an agent talked to.
    pub connected: u64,
    /// Time agents waited between ready and their next call.
    pub agent_wait_mean_s: f64,
    pub agent_wait_p95_s: f64,
    /// Most calls ringing, in AMD or waiting at once.
    pub max_in_flight: u32,
    /// Ticks on which the pacer dialed predictively (ahead of free agents).
    pub predictive_ticks: u64,
    /// Ticks on which predictive fell back to progressive because the budget was spent.
    pub budget_spent_ticks: u64,
    /// Live answers and abandons in the shift's first 10 minutes (all of it if shorter).
    pub early_human_answers: u64,
    pub early_abandoned: u64,
}

/// The start of a shift whose abandon rate [`Report::early_abandoned`] reports.
pub const EARLY: Duration = Duration::from_secs(600);

impl Report {
    /// Calls shed over calls placed (0 with none placed).
    pub fn shed_share(&self) -> f64 {
        if self.placed > 0 {
            self.shed as f64 / self.placed as f64
        } else {
            0.0
        }
    }

    /// The abandon rate of the first 10 minutes (0 with no live answer in them).
    pub fn early_abandon_rate(&self) -> f64 {
        if self.early_human_answers > 0 {
            self.early_abandoned as f64 / self.early_human_answers as f64
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Tick,
    Answered(usize),
    AmdDecided(usize),
    Failed(usize),
    AbandonCheck(usize),
    TalkEnd(usize),
    WrapEnd(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Human,
    Machine,
    Busy,
    NoAnswer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Ringing,
    Screening,
    Waiting,
    Done,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    state: CallState,
    fate: Fate,
    /// When it entered its state (µs).
    since: u64,
    dialed: u64,
    /// When the carrier answers it (people and machines; `u64::MAX` for the others): only
    /// the clairvoyant pacer reads it.
    answer_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentState {
    Ready,
    Talking,
    Wrapping,
}

#[derive(Debug, Clone, Copy)]
struct Agent {
    state: AgentState,
    since: u64,
    /// When talk and wrap-up end (the clairvoyant pacer's knowledge; `since` when ready).
    free_at: u64,
    /// The wrap-up that follows the current talk, drawn with it for the clairvoyant pacer.
    wrap_next: Option<u64>,
}

enum Sampler {
    Fixed(f64),
    LogNormal(rand_distr::LogNormal<f64>),
    Exp(rand_distr::Exp<f64>),
    Uniform(f64, f64),
}

impl Sampler {
    fn new(d: Dist) -> Self {
        match d {
            Dist::Fixed(v) => Sampler::Fixed(v),
            Dist::LogNormal { mean, sd } if sd > 0.0 && mean > 0.0 => {
                let s2 = (1.0 + (sd / mean).powi(2)).ln();
                match rand_distr::LogNormal::new(mean.ln() - s2 / 2.0, s2.sqrt()) {
                    Ok(l) => Sampler::LogNormal(l),
                    Err(_) => Sampler::Fixed(mean),
                }
            }
            Dist::LogNormal { mean, .. } => Sampler::Fixed(mean),
            Dist::Exponential { mean } => match rand_distr::Exp::new(1.0 / mean) {
                Ok(e) => Sampler::Exp(e),
                Err(_) => Sampler::Fixed(mean),
            },
            Dist::Uniform { min, max } => Sampler::Uniform(min, max),
        }
    }

    /// A sample in whole microseconds.
    fn micros(&self, rng: &mut ChaCha8Rng) -> u64 {
        let s = match self {
            Sampler::Fixed(v) => *v,
            Sampler::LogNormal(l) => l.sample(rng),
            Sampler::Exp(e) => e.sample(rng),
            Sampler::Uniform(a, b) => a + (b - a) * rng.random::<f64>(),
        };
        secs_to_micros(s)
    }
}

fn secs_to_micros(s: f64) -> u64 {
    (s.max(0.0) * 1e6).round() as u64
}

/// One simulated shift.
pub struct Sim {
    sc: Scenario,
    pacer: Pacer,
    /// The clairvoyant pacers: predictive's rule and budget on exact knowledge (see
    /// [`clairvoyant`]).
    clairvoyant: Option<Clairvoyance>,
    /// The informed pacer: predictive told the carrier's and the team's true figures instead
    /// of its estimates.
    informed: bool,
    seed: u64,
    base: Instant,
    rng: ChaCha8Rng,
    now: u64,
    end: u64,
    tick: u64,
    seq: u64,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    agents: Vec<Agent>,
    calls: Vec<Call>,
    in_flight: Vec<usize>,
    queue: VecDeque<usize>,
    talking: u32,
    estimator: Estimator,
    budget: AbandonBudget,
    /// The live answers to come, projected as the daemon projects them.
    live_rate: LiveRate,
    tokens: f64,
    ring: Sampler,
    talk: Sampler,
    wrap: Sampler,
    busy: Sampler,
    // buffers for snapshots
    agent_views: Vec<AgentView>,
    call_views: Vec<CallView>,
    // figures
    placed: u64,
    shed: u64,
    humans: u64,
    machines: u64,
    abandoned: u64,
    connected: u64,
    busy_us: u64,
    talk_us: u64,
    waits: Vec<f64>,
    max_in_flight: u32,
    predictive_ticks: u64,
    spent_ticks: u64,
    early: Option<(u64, u64)>,
}

impl Sim {
    /// A shift of `sc` paced by `pacer`; `base` is the instant the virtual clock starts from
    /// (any instant: results do not depend on it).
    pub fn new(sc: &Scenario, pacer: Pacer, seed: u64, base: Instant) -> Self {
        let c = &sc.calls;
        let tick = sc.team.tick_ms.unwrap_or(250).max(1) * 1000;
        let end = secs_to_micros(sc.team.duration_s);
        let n = sc.team.agents as usize;
        let mut sim = Sim {
            pacer,
            clairvoyant: None,
            informed: false,
            seed,
            base,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: 0,
            end,
            tick,
            seq: 0,
            events: BinaryHeap::new(),
            agents: vec![
                Agent {
                    state: AgentState::Ready,
                    since: 0,
                    free_at: 0,
                    wrap_next: None,
                };
                n
            ],
            calls: Vec::new(),
            in_flight: Vec::new(),
            queue: VecDeque::new(),
            talking: 0,
            estimator: Estimator::new(&sc.pacer_priors()),
            budget: AbandonBudget::new(c.max_abandon, 0.0),
            live_rate: LiveRate::default(),
            tokens: sc.team.max_cps.unwrap_or(0.0),
            ring: Sampler::new(c.ring_s),
            talk: Sampler::new(c.talk_s),
            wrap: Sampler::new(c.wrap_s),
            busy: Sampler::new(c.busy_s.unwrap_or(Dist::Uniform { min: 2.0, max: 6.0 })),
            agent_views: Vec::with_capacity(n),
            call_views: Vec::new(),
            placed: 0,
            shed: 0,
            humans: 0,
            machines: 0,
            abandoned: 0,
            connected: 0,
            busy_us: 0,
            talk_us: 0,
            waits: Vec::new(),
            max_in_flight: 0,
            predictive_ticks: 0,
            spent_ticks: 0,
            early: None,
            sc: sc.clone(),
        };
        sim.schedule(0, Event::Tick);
        sim
    }

    fn schedule(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.events.push(Reverse((at, self.seq, e)));
    }

    fn instant(&self, t: u64) -> Instant {
        self.base + Duration::from_micros(t)
    }

    /// Runs the shift to its end and returns the figures.
    pub fn run(mut self) -> Report {
        while let Some(Reverse((t, _, e))) = self.events.pop() {
            if t > self.end {
                break;
            }
            self.now = t;
            match e {
                Event::Tick => self.on_tick(),
                Event::Answered(c) => self.on_answered(c),
                Event::AmdDecided(c) => self.on_amd(c),
                Event::Failed(c) => self.on_failed(c),
                Event::AbandonCheck(c) => self.on_abandon_check(c),
                Event::TalkEnd(a) => self.on_talk_end(a),
                Event::WrapEnd(a) => self.on_wrap_end(a),
            }
        }
        self.now = self.end;
        self.report()
    }

    fn on_tick(&mut self) {
        let now = self.now;
        let t = self.instant(now);
        self.agent_views.clear();
        for a in &self.agents {
            let elapsed = Duration::from_micros(now - a.since);
            self.agent_views.push(match a.state {
                AgentState::Ready => AgentView::Ready,
                AgentState::Talking => AgentView::Talking { elapsed },
                AgentState::Wrapping => AgentView::Wrapping { elapsed },
            });
        }
        self.call_views.clear();
        for &i in &self.in_flight {
            let c = &self.calls[i];
            let elapsed = Duration::from_micros(now - c.since);
            self.call_views.push(match c.state {
                CallState::Ringing => CallView::Ringing { elapsed },
                CallState::Screening => CallView::Screening { elapsed },
                CallState::Waiting | CallState::Done => CallView::Waiting { elapsed },
            });
        }
        let used = self.in_flight.len() as u32 + self.talking;
        let channels_free = self
            .sc
            .team
            .channels
            .map_or(u32::MAX, |ch| ch.saturating_sub(used));
        let dial_tokens = match self.sc.team.max_cps {
            Some(cps) => {
                self.tokens = (self.tokens + cps * self.tick as f64 / 1e6).min(cps.max(1.0));
                self.tokens.floor() as u32
            }
            None => u32::MAX,
        };
        if self.early.is_none() && now >= EARLY.as_micros() as u64 {
            self.early = Some((self.humans, self.abandoned));
        }
        self.estimator.advance(t);
        let estimates = if self.informed || self.clairvoyant == Some(Clairvoyance::Agents) {
            crate::pacing::Estimates {
                answers_seen: f64::MAX,
                ..crate::pacing::Estimates::from_priors(&self.sc.true_priors(now as f64 / 1e6))
            }
        } else {
            self.estimator.estimates()
        };
        // The run is the window: nothing comes after its end (the daemon's windows outlast
        // the projection's half hour, so it passes no end).
        let left = Duration::from_micros(self.end.saturating_sub(now));
        self.budget
            .set_expected_more(self.live_rate.expected_more(t, Some(left)));
        let snap = Snapshot {
            agents: &self.agent_views,
            calls: &self.call_views,
            estimates: &estimates,
            budget: &self.budget,
            limits: Limits {
                channels_free,
                dial_tokens,
            },
        };
        let d = if let Some(level) = self.clairvoyant {
            self.clairvoyant_decide(level, &snap)
        } else {
            self.pacer.decide(t, &snap)
        };
        match d.reason {
            crate::pacing::Reason::Predictive { .. } => self.predictive_ticks += 1,
            crate::pacing::Reason::BudgetSpent => self.spent_ticks += 1,
            _ => {}
        }
        if self.sc.team.max_cps.is_some() {
            self.tokens -= f64::from(d.dials);
        }
        // The snapshot listed the calls in `in_flight` order.
        let shed: Vec<usize> = d.shed.iter().map(|&i| self.in_flight[i]).collect();
        for c in shed {
            self.shed_call(c);
        }
        for _ in 0..d.dials {
            self.dial();
        }
        self.max_in_flight = self.max_in_flight.max(self.in_flight.len() as u32);
        self.schedule(now + self.tick, Event::Tick);
    }

    fn dial(&mut self) {
        let c = &self.sc.calls;
        let human_rate = match (c.change_at_s, c.human_rate_after) {
            (Some(at), Some(after)) if self.now >= secs_to_micros(at) => after,
            _ => c.human_rate,
        };
        let u: f64 = self.rng.random();
        let mut fate = if u < human_rate {
            Fate::Human
        } else if u < human_rate + c.machine_rate {
            Fate::Machine
        } else if u < human_rate + c.machine_rate + c.busy_rate {
            Fate::Busy
        } else {
            Fate::NoAnswer
        };
        let timeout = secs_to_micros(c.no_answer_s);
        let id = self.calls.len();
        let mut answer_at = u64::MAX;
        let ev = match fate {
            Fate::Human | Fate::Machine => {
                let ring = self.ring.micros(&mut self.rng);
                if ring >= timeout {
                    fate = Fate::NoAnswer;
                    (self.now + timeout, Event::Failed(id))
                } else {
                    answer_at = self.now + ring;
                    (self.now + ring, Event::Answered(id))
                }
            }
            Fate::Busy => (
                self.now + self.busy.micros(&mut self.rng).min(timeout),
                Event::Failed(id),
            ),
            Fate::NoAnswer => (self.now + timeout, Event::Failed(id)),
        };
        self.calls.push(Call {
            state: CallState::Ringing,
            fate,
            since: self.now,
            dialed: self.now,
            answer_at,
        });
        self.in_flight.push(id);
        self.placed += 1;
        self.estimator.observe(
            self.instant(self.now),
            Observation::Placed {
                dialed: self.instant(self.now),
            },
        );
        self.schedule(ev.0, ev.1);
    }

    /// The pacer hangs up a call still ringing: it ends with no person, like a no-answer.
    fn shed_call(&mut self, c: usize) {
        let call = self.calls[c];
        debug_assert_eq!(call.state, CallState::Ringing);
        debug_assert!(self.now - call.dialed >= crate::pacing::MIN_SHED_RING.as_micros() as u64);
        self.estimator.observe(
            self.instant(self.now),
            Observation::Shed {
                dialed: self.instant(call.dialed),
                rang: Duration::from_micros(self.now - call.dialed),
            },
        );
        self.shed += 1;
        self.end_call(c);
    }

    fn end_call(&mut self, c: usize) {
        self.calls[c].state = CallState::Done;
        if let Some(pos) = self.in_flight.iter().position(|&x| x == c) {
            self.in_flight.swap_remove(pos);
        }
    }

    fn on_answered(&mut self, c: usize) {
        let call = &mut self.calls[c];
        if call.state != CallState::Ringing {
            return; // shed
        }
        call.state = CallState::Screening;
        call.since = self.now;
        let amd = match call.fate {
            Fate::Human => self.sc.calls.amd_human_s,
            _ => self.sc.calls.amd_machine_s,
        };
        self.schedule(self.now + secs_to_micros(amd), Event::AmdDecided(c));
    }

    fn on_amd(&mut self, c: usize) {
        let t = self.instant(self.now);
        let call = self.calls[c];
        let human = call.fate == Fate::Human;
        self.estimator.observe(
            t,
            Observation::Dial {
                dialed: self.instant(call.dialed),
                human,
                machine: !human,
                answered_after: Some(Duration::from_micros(call.since - call.dialed)),
                failed_after: None,
            },
        );
        self.estimator.observe(
            t,
            Observation::AmdDecision {
                human,
                after: Duration::from_micros(self.now - call.since),
            },
        );
        if !human {
            self.machines += 1;
            self.budget.record_amd_machine();
            self.end_call(c);
            return;
        }
        self.humans += 1;
        self.budget.record_live_answer();
        self.live_rate.record(t);
        match self.longest_ready() {
            Some(a) => self.connect(a, c),
            None => {
                self.calls[c].state = CallState::Waiting;
                self.calls[c].since = self.now;
                self.queue.push_back(c);
                self.schedule(
                    self.now + ABANDON_AFTER.as_micros() as u64,
                    Event::AbandonCheck(c),
                );
            }
        }
    }

    fn on_failed(&mut self, c: usize) {
        if self.calls[c].state != CallState::Ringing {
            return; // shed
        }
        let t = self.instant(self.now);
        self.estimator.observe(
            t,
            Observation::Dial {
                dialed: self.instant(self.calls[c].dialed),
                human: false,
                machine: false,
                answered_after: None,
                failed_after: Some(Duration::from_micros(self.now - self.calls[c].dialed)),
            },
        );
        self.end_call(c);
    }

    fn on_abandon_check(&mut self, c: usize) {
        if self.calls[c].state != CallState::Waiting {
            return;
        }
        self.abandoned += 1;
        self.budget.record_abandon();
        if let Some(pos) = self.queue.iter().position(|&x| x == c) {
            self.queue.remove(pos);
        }
        self.end_call(c);
    }

    fn longest_ready(&self) -> Option<usize> {
        self.agents
            .iter()
            .enumerate()
            .filter(|(_, a)| a.state == AgentState::Ready)
            .min_by_key(|(i, a)| (a.since, *i))
            .map(|(i, _)| i)
    }

    fn connect(&mut self, a: usize, c: usize) {
        let wait = self.now - self.agents[a].since;
        self.waits.push(wait as f64 / 1e6);
        self.end_call(c);
        self.connected += 1;
        self.talking += 1;
        let talk = self.talk.micros(&mut self.rng);
        // The clairvoyant pacer knows the wrap-up too: it is drawn now (other pacers draw it
        // when the talk ends, as before, so their shifts are unchanged).
        let wrap_next = self
            .clairvoyant
            .is_some()
            .then(|| self.wrap.micros(&mut self.rng));
        self.agents[a] = Agent {
            state: AgentState::Talking,
            since: self.now,
            free_at: self.now + talk + wrap_next.unwrap_or(0),
            wrap_next,
        };
        self.schedule(self.now + talk, Event::TalkEnd(a));
    }

    fn on_talk_end(&mut self, a: usize) {
        let since = self.agents[a].since;
        self.talk_us += self.now - since;
        self.busy_us += self.now - since;
        self.talking -= 1;
        let t = self.instant(self.now);
        self.estimator.observe(
            t,
            Observation::Talk(Duration::from_micros(self.now - since)),
        );
        let wrap = match self.agents[a].wrap_next {
            Some(w) => w,
            None => self.wrap.micros(&mut self.rng),
        };
        self.agents[a] = Agent {
            state: AgentState::Wrapping,
            since: self.now,
            free_at: self.now + wrap,
            wrap_next: None,
        };
        self.schedule(self.now + wrap, Event::WrapEnd(a));
    }

    fn on_wrap_end(&mut self, a: usize) {
        let since = self.agents[a].since;
        self.busy_us += self.now - since;
        let t = self.instant(self.now);
        self.estimator.observe(
            t,
            Observation::Wrap(Duration::from_micros(self.now - since)),
        );
        self.agents[a] = Agent {
            state: AgentState::Ready,
            since: self.now,
            free_at: self.now,
            wrap_next: None,
        };
        if let Some(c) = self.queue.pop_front() {
            self.connect(a, c);
        }
    }

    fn report(mut self) -> Report {
        // Close the intervals still open at the end of the shift.
        for a in &self.agents {
            let open = self.end.saturating_sub(a.since);
            match a.state {
                AgentState::Talking => {
                    self.talk_us += open;
                    self.busy_us += open;
                }
                AgentState::Wrapping => self.busy_us += open,
                AgentState::Ready => {}
            }
        }
        let logged_in = self.end as f64 * f64::from(self.sc.team.agents);
        let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { 0.0 };
        self.waits.sort_by(f64::total_cmp);
        let p95 = if self.waits.is_empty() {
            0.0
        } else {
            let k = ((self.waits.len() as f64) * 0.95).ceil() as usize;
            self.waits[k.clamp(1, self.waits.len()) - 1]
        };
        Report {
            scenario: self.sc.name.clone(),
            pacer: if let Some(level) = self.clairvoyant {
                level.name().to_owned()
            } else if self.informed {
                INFORMED.to_owned()
            } else {
                self.pacer.mode().to_string()
            },
            seed: self.seed,
            agents: self.sc.team.agents,
            duration_s: self.sc.team.duration_s,
            occupancy: ratio(self.busy_us as f64, logged_in),
            talk_min_per_agent_hour: ratio(self.talk_us as f64 / 60.0, logged_in / 3600.0),
            abandon_rate: ratio(self.abandoned as f64, self.humans as f64),
            placed: self.placed,
            shed: self.shed,
            human_answers: self.humans,
            machine_answers: self.machines,
            abandoned: self.abandoned,
            connected: self.connected,
            agent_wait_mean_s: ratio(self.waits.iter().sum(), self.waits.len() as f64),
            agent_wait_p95_s: p95,
            max_in_flight: self.max_in_flight,
            predictive_ticks: self.predictive_ticks,
            budget_spent_ticks: self.spent_ticks,
            early_human_answers: self.early.map_or(self.humans, |e| e.0),
            early_abandoned: self.early.map_or(self.abandoned, |e| e.1),
        }
    }
}

/// Runs one shift.
pub fn simulate(sc: &Scenario, pacer: Pacer, seed: u64, base: Instant) -> Report {
    Sim::new(sc, pacer, seed, base).run()
}

/// Runs one shift whose answers to come are projected by `live_rate` instead of the daemon's
/// ([`LiveRate::default`]): to try when a projection should start.
pub fn simulate_projecting(
    sc: &Scenario,
    pacer: Pacer,
    live_rate: LiveRate,
    seed: u64,
    base: Instant,
) -> Report {
    let mut sim = Sim::new(sc, pacer, seed, base);
    sim.live_rate = live_rate;
    sim.run()
}

/// What a clairvoyant pacer knows beyond the carrier's and the team's true figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clairvoyance {
    /// When each agent's talk and wrap-up end; calls in flight as the true figures say.
    Agents,
    /// That, and each call's fate and answer time once dialed.
    Full,
}

impl Clairvoyance {
    /// Its name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Clairvoyance::Agents => "clairvoyant:agents",
            Clairvoyance::Full => "clairvoyant",
        }
    }
}

/// The name of the informed pacer in reports and on the command line.
pub const INFORMED: &str = "informed";

/// Runs one shift with the informed pacer: predictive (`p`'s settings) told the carrier's and
/// the team's true figures (hit rate, machine rate, ring, talk and wrap-up times, as the
/// scenario gives them, the change of a collapse included) instead of estimating them. What it
/// cannot know is how each call and each agent will turn out.
pub fn simulate_informed(
    sc: &Scenario,
    p: crate::pacing::Predictive,
    seed: u64,
    base: Instant,
) -> Report {
    let mut sim = Sim::new(sc, Pacer::Predictive(p), seed, base);
    sim.informed = true;
    sim.run()
}

/// Runs one shift with a clairvoyant pacer: predictive's rule, threshold and budget (`p`'s
/// settings) on exact knowledge of what the simulator has already drawn (`level`: each
/// agent's end of talk and wrap-up; or that and each call's fate and answer time, shedding
/// exactly the ringing calls whose people would be abandoned or push another person into an
/// abandon) and the carrier's true figures for new dials. What no pacer can know is the fate of
/// the dials it has not placed yet. A bound on what better knowledge could give the predictive
/// rule ([`clairvoyant`]).
pub fn simulate_clairvoyant(
    sc: &Scenario,
    p: crate::pacing::Predictive,
    level: Clairvoyance,
    seed: u64,
    base: Instant,
) -> Report {
    let mut sim = Sim::new(sc, Pacer::Predictive(p), seed, base);
    sim.clairvoyant = Some(level);
    sim.run()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacing::Mode;

    fn scenario(agents: u32, duration_s: f64, human_rate: f64) -> Scenario {
        let text = format!(
            r#"
[scenario]
agents = {agents}
duration_s = {duration_s}
[calls]
human_rate = {human_rate}
machine_rate = 0.15
busy_rate = 0.05
ring_s = {{ dist = "lognormal", mean = 12, sd = 6 }}
no_answer_s = 25
talk_s = {{ dist = "lognormal", mean = 160, sd = 90 }}
wrap_s = {{ dist = "lognormal", mean = 20, sd = 10 }}
amd_human_s = 1.5
amd_machine_s = 3.2
max_abandon = 0.03
"#
        );
        Scenario::parse(&text, "test", "test").unwrap()
    }

    fn run(sc: &Scenario, mode: Mode, seed: u64) -> Report {
        simulate(sc, Pacer::new(mode), seed, Instant::now())
    }

    #[test]
    fn same_seed_same_numbers_other_seed_other_numbers() {
        let sc = scenario(10, 900.0, 0.25);
        for mode in [Mode::Predictive, Mode::Vicidial, Mode::Progressive] {
            let a = run(&sc, mode, 7);
            let b = simulate(
                &sc,
                Pacer::new(mode),
                7,
                Instant::now() + Duration::from_secs(99),
            );
            assert_eq!(a, b, "{mode}");
            let c = run(&sc, mode, 8);
            assert_ne!(a.placed, 0);
            assert!(
                a != Report { seed: 7, ..c },
                "{mode}: seeds 7 and 8 gave the same shift"
            );
        }
    }

    #[test]
    fn progressive_never_abandons_and_figures_add_up() {
        let sc = scenario(8, 1800.0, 0.25);
        let r = run(&sc, Mode::Progressive, 1);
        assert_eq!(r.abandoned, 0);
        assert!(r.human_answers > 20, "{r:?}");
        assert!(r.connected <= r.human_answers);
        assert!(r.human_answers + r.machine_answers <= r.placed);
        assert!(r.occupancy > 0.3 && r.occupancy < 1.0, "{r:?}");
        // Talk is part of occupancy: talk minutes per agent-hour ≤ 60 × occupancy.
        assert!(r.talk_min_per_agent_hour <= 60.0 * r.occupancy + 1e-9);
        assert!(r.agent_wait_p95_s >= r.agent_wait_mean_s * 0.5);
    }

    #[test]
    fn overdialing_abandons_people_with_no_agent_within_2_s() {
        // One agent, ten lines per ready agent: most people find the agent busy.
        let sc = scenario(1, 1800.0, 0.5);
        let r = run(&sc, Mode::Ratio(10.0), 3);
        assert!(r.abandoned > 10, "{r:?}");
        // Every person is connected or abandoned, but for one still waiting at the end.
        let settled = r.connected + r.abandoned;
        assert!(
            settled <= r.human_answers && r.human_answers - settled <= 1,
            "{r:?}"
        );
        assert!((r.abandon_rate - r.abandoned as f64 / r.human_answers as f64).abs() < 1e-12);
    }

    #[test]
    fn no_agents_no_dials() {
        let sc = scenario(0, 600.0, 0.25);
        for mode in [
            Mode::Predictive,
            Mode::Vicidial,
            Mode::Progressive,
            Mode::Ratio(3.0),
        ] {
            let r = run(&sc, mode, 1);
            assert_eq!(r.placed, 0, "{mode}");
            assert_eq!(r.occupancy, 0.0);
        }
    }

    #[test]
    fn channel_and_rate_limits_hold() {
        let mut sc = scenario(20, 900.0, 0.1);
        sc.team.channels = Some(25);
        sc.team.max_cps = Some(1.0);
        let r = run(&sc, Mode::Ratio(10.0), 2);
        // Talking calls hold channels too, so in flight stays well under 25.
        assert!(r.max_in_flight <= 25, "{r:?}");
        // One call per second at most (plus the first second's burst of one).
        assert!(r.placed <= 901, "{r:?}");
        assert!(r.placed > 500, "the limiter must not starve dialing: {r:?}");
    }

    #[test]
    fn example_scenarios_load() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/scenarios");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                Scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 4, "{n} scenarios in {}", dir.display());
    }
}
