//! Pacing: how many dials to start now.
//!
//! A campaign loop calls [`Pacer::decide`] every tick (100–250 ms) with a [`Snapshot`] of its
//! agents, its calls in flight, the current [`Estimates`], the [`AbandonBudget`] of its window
//! and the [`Limits`] left by trunks and rate limiters; it gets back a [`Decision`]: a number of
//! dials and the reason. Pacers are sans-IO: `now` is passed in, nothing reads a clock.
//!
//! Modes: [`Pacer::Preview`] (places nothing: each agent dials the lead they preview),
//! [`Pacer::Progressive`] (one call per free agent),
//! [`Pacer::Predictive`] (dials ahead of agents under the abandon cap, see [`predictive`]),
//! [`Pacer::Agentless`] (as fast as limits allow, no agent), and the baselines
//! [`Pacer::Ratio`] (a fixed dial level per waiting agent) and [`Pacer::Vicidial`] (VICIdial's
//! adaptive dial level).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

pub mod budget;
pub mod estimate;
pub mod predictive;
pub mod stats;
pub mod vicidial;

pub use budget::{AbandonBudget, LiveRate, Window, WindowCounts};
pub use estimate::{Estimates, Estimator, EstimatorConfig, Observation, Priors};
pub use predictive::{Predictive, PredictiveConfig};
pub use vicidial::Vicidial;

/// An agent logged in to the campaign, as the pacer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentView {
    /// Ready and waiting for a call.
    Ready,
    /// Talking to a person for `elapsed` so far.
    Talking { elapsed: Duration },
    /// In wrap-up for `elapsed` so far.
    Wrapping { elapsed: Duration },
    /// Logged in but paused: takes no call.
    Paused,
}

/// A call of the campaign that is not yet with an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallView {
    /// Dialed, not answered yet.
    Ringing { elapsed: Duration },
    /// Answered; AMD is deciding person or machine.
    Screening { elapsed: Duration },
    /// A person, waiting for an agent (the 2 s abandon clock runs).
    Waiting { elapsed: Duration },
}

/// What trunks, rate limiters and the campaign allow right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Channels still free on the campaign's trunks and under its max concurrent calls.
    pub channels_free: u32,
    /// Dials the calls-per-second limiters allow now.
    pub dial_tokens: u32,
}

impl Limits {
    pub const UNLIMITED: Limits = Limits {
        channels_free: u32::MAX,
        dial_tokens: u32::MAX,
    };

    fn max_dials(&self) -> u32 {
        self.channels_free.min(self.dial_tokens)
    }
}

/// Everything a pacer may look at.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// Agents logged in to the campaign (logged-out ones are absent).
    pub agents: &'a [AgentView],
    /// Calls in flight that have no agent yet.
    pub calls: &'a [CallView],
    pub estimates: &'a Estimates,
    pub budget: &'a AbandonBudget,
    pub limits: Limits,
}

impl Snapshot<'_> {
    pub fn ready_agents(&self) -> u32 {
        self.agents
            .iter()
            .filter(|a| matches!(a, AgentView::Ready))
            .count() as u32
    }

    /// Logged in and not paused.
    pub fn working_agents(&self) -> u32 {
        self.agents
            .iter()
            .filter(|a| !matches!(a, AgentView::Paused))
            .count() as u32
    }

    pub fn calls_in_flight(&self) -> u32 {
        self.calls.len() as u32
    }

    pub fn waiting_calls(&self) -> u32 {
        self.calls
            .iter()
            .filter(|c| matches!(c, CallView::Waiting { .. }))
            .count() as u32
    }

    /// One call per ready agent, minus the calls already on their way to them.
    pub fn progressive_dials(&self) -> u32 {
        self.ready_agents().saturating_sub(self.calls_in_flight())
    }
}

/// Why a pacer asked for the dials it did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// No agent logged in (or all paused): nothing is dialed.
    NoAgent,
    /// One call per ready agent.
    Progressive,
    /// Preview: the agents dial the leads they preview; the pacer places nothing.
    Preview,
    /// Predictive fell back to progressive: the window's abandon budget is spent, or it could
    /// not take one more abandon and stay under its cap (a fresh window with too few live
    /// answers in hand: [`PredictiveConfig::in_hand`](predictive::PredictiveConfig::in_hand)).
    BudgetSpent,
    /// Predictive fell back to progressive: too few agents for predictive to pay.
    TeamTooSmall,
    /// Predictive: dials ahead of agents, each with a risk of costing an abandon under the
    /// threshold the window's budget allows.
    Predictive {
        /// The last dial's risk: the chance that a person it brings costs an abandon.
        risk: f64,
        /// The highest risk the budget allows a dial now.
        threshold: f64,
    },
    /// A dial level (lines per ready agent): `ratio:R` or VICIdial's adaptive level.
    DialLevel(f64),
    /// Agentless: as many as limits allow.
    Agentless,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoAgent => f.write_str("no agent ready to take a call"),
            Reason::Progressive => f.write_str("progressive: one call per ready agent"),
            Reason::Preview => f.write_str("preview: agents dial the leads they preview"),
            Reason::BudgetSpent => f.write_str(
                "no abandon in hand (budget spent or too few live answers): progressive",
            ),
            Reason::TeamTooSmall => f.write_str("team too small for predictive: progressive"),
            Reason::Predictive { risk, threshold } => write!(
                f,
                "predictive: last dial's risk of an abandon {:.2} % (allowed {:.2} %)",
                100.0 * risk,
                100.0 * threshold
            ),
            Reason::DialLevel(l) => write!(f, "dial level {l:.2} lines per ready agent"),
            Reason::Agentless => f.write_str("agentless: as many as limits allow"),
        }
    }
}

/// Which limit cut the pacer's wish down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Channels,
    DialRate,
}

/// The shortest ring after which a pacer may hang up an unanswered call: US rules (FCC 47 CFR
/// 64.1200(a)(6)) forbid disconnecting an unanswered call before 15 s or four rings.
pub const MIN_SHED_RING: Duration = Duration::from_secs(15);

/// A pacer's answer for this tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Dials to start now (always 0 in preview mode).
    pub dials: u32,
    pub reason: Reason,
    /// Set when the limits cut the number down.
    pub capped_by: Option<Cap>,
    /// Ringing calls to hang up now ("shed"), as indices into [`Snapshot::calls`], in
    /// increasing order. Each is [`CallView::Ringing`] and has rung at least
    /// [`MIN_SHED_RING`] (and the campaign's own minimum): predictive sheds a call still
    /// ringing when the person it may yet bring would risk an abandon above its threshold.
    pub shed: Vec<usize>,
}

/// The pacing mode of a campaign, as written in files and on the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Preview,
    Progressive,
    Predictive,
    Agentless,
    /// `ratio:R`: R lines per ready agent.
    Ratio(f64),
    /// `vicidial`: VICIdial's adaptive dial level.
    Vicidial,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown pacer {0:?}: expected preview, progressive, predictive, agentless, ratio:R (R ≥ 1) or vicidial"
)]
pub struct ModeError(String);

impl FromStr for Mode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "preview" => Ok(Mode::Preview),
            "progressive" => Ok(Mode::Progressive),
            "predictive" => Ok(Mode::Predictive),
            "agentless" => Ok(Mode::Agentless),
            "vicidial" => Ok(Mode::Vicidial),
            _ => match s.strip_prefix("ratio:").map(str::parse::<f64>) {
                Some(Ok(r)) if r.is_finite() && r >= 1.0 => Ok(Mode::Ratio(r)),
                _ => Err(ModeError(s.to_owned())),
            },
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Preview => f.write_str("preview"),
            Mode::Progressive => f.write_str("progressive"),
            Mode::Predictive => f.write_str("predictive"),
            Mode::Agentless => f.write_str("agentless"),
            Mode::Ratio(r) => write!(f, "ratio:{r}"),
            Mode::Vicidial => f.write_str("vicidial"),
        }
    }
}

/// A campaign's pacer: one interface over every mode.
#[derive(Debug, Clone)]
pub enum Pacer {
    Preview,
    Progressive,
    Predictive(Predictive),
    Agentless,
    Ratio(f64),
    Vicidial(Vicidial),
}

impl Pacer {
    pub fn new(mode: Mode) -> Self {
        match mode {
            Mode::Preview => Pacer::Preview,
            Mode::Progressive => Pacer::Progressive,
            Mode::Predictive => Pacer::Predictive(Predictive::default()),
            Mode::Agentless => Pacer::Agentless,
            Mode::Ratio(r) => Pacer::Ratio(r),
            Mode::Vicidial => Pacer::Vicidial(Vicidial::default()),
        }
    }

    pub fn mode(&self) -> Mode {
        match self {
            Pacer::Preview => Mode::Preview,
            Pacer::Progressive => Mode::Progressive,
            Pacer::Predictive(_) => Mode::Predictive,
            Pacer::Agentless => Mode::Agentless,
            Pacer::Ratio(r) => Mode::Ratio(*r),
            Pacer::Vicidial(_) => Mode::Vicidial,
        }
    }

    /// How many dials to start now. Never more than `s.limits` allow; nothing (except in
    /// agentless mode) when no agent is logged in and working.
    pub fn decide(&mut self, now: Instant, s: &Snapshot<'_>) -> Decision {
        let mut shed = Vec::new();
        let (wish, reason) = match self {
            Pacer::Agentless => (u32::MAX, Reason::Agentless),
            _ if s.working_agents() == 0 => {
                // Whoever a ringing call brings now finds nobody: predictive sheds what it may.
                if let Pacer::Predictive(p) = self {
                    p.shed_ringing(s, &mut shed);
                }
                (0, Reason::NoAgent)
            }
            Pacer::Preview => (0, Reason::Preview),
            Pacer::Progressive => (s.progressive_dials(), Reason::Progressive),
            Pacer::Predictive(p) => p.decide(now, s, &mut shed),
            Pacer::Ratio(r) => (level_dials(*r, s), Reason::DialLevel(*r)),
            Pacer::Vicidial(v) => v.decide(now, s),
        };
        // Whatever a pacer asks, only calls still ringing past the legal minimum go.
        shed.retain(|&i| {
            matches!(s.calls.get(i), Some(CallView::Ringing { elapsed }) if *elapsed >= MIN_SHED_RING)
        });
        shed.sort_unstable();
        shed.dedup();
        let max = s.limits.max_dials();
        let capped_by = (wish > max).then_some(if s.limits.channels_free <= s.limits.dial_tokens {
            Cap::Channels
        } else {
            Cap::DialRate
        });
        let dials = wish.min(max);
        if let Pacer::Vicidial(v) = self {
            v.dialed(dials);
        }
        Decision {
            dials,
            reason,
            capped_by,
            shed,
        }
    }
}

/// VICIdial-style placement: round(level × ready agents) − calls in flight.
fn level_dials(level: f64, s: &Snapshot<'_>) -> u32 {
    let want = (level * f64::from(s.ready_agents())).round() as i64;
    (want - i64::from(s.calls_in_flight())).max(0) as u32
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::*;

    fn snap<'a>(
        agents: &'a [AgentView],
        calls: &'a [CallView],
        est: &'a Estimates,
        budget: &'a AbandonBudget,
        limits: Limits,
    ) -> Snapshot<'a> {
        Snapshot {
            agents,
            calls,
            estimates: est,
            budget,
            limits,
        }
    }

    #[test]
    fn modes_parse_and_print() {
        assert_eq!("ratio:2.5".parse::<Mode>(), Ok(Mode::Ratio(2.5)));
        assert_eq!("vicidial".parse::<Mode>(), Ok(Mode::Vicidial));
        assert!("ratio:0.5".parse::<Mode>().is_err());
        assert!("ratio:x".parse::<Mode>().is_err());
        assert!("fast".parse::<Mode>().is_err());
        assert_eq!(Mode::Ratio(2.0).to_string(), "ratio:2");
    }

    #[test]
    fn progressive_is_one_call_per_ready_agent() {
        let est = Estimates::from_priors(&Priors::default());
        let b = AbandonBudget::new(0.03, 0.0);
        let agents = [
            AgentView::Ready,
            AgentView::Ready,
            AgentView::Ready,
            AgentView::Talking {
                elapsed: Duration::from_secs(3),
            },
        ];
        let calls = [CallView::Ringing {
            elapsed: Duration::from_secs(1),
        }];
        let mut p = Pacer::new(Mode::Progressive);
        let d = p.decide(
            Instant::now(),
            &snap(&agents, &calls, &est, &b, Limits::UNLIMITED),
        );
        assert_eq!(d.dials, 2);
        assert_eq!(d.reason, Reason::Progressive);
        // Preview places nothing by itself: the agents dial.
        let d = Pacer::new(Mode::Preview).decide(
            Instant::now(),
            &snap(&agents, &calls, &est, &b, Limits::UNLIMITED),
        );
        assert_eq!((d.dials, d.reason), (0, Reason::Preview));
    }

    #[test]
    fn limits_cap_every_mode_and_say_which() {
        let est = Estimates::from_priors(&Priors::default());
        let b = AbandonBudget::new(0.03, 0.0);
        let agents = [AgentView::Ready; 10];
        let lim = Limits {
            channels_free: 5,
            dial_tokens: 3,
        };
        for mode in [Mode::Progressive, Mode::Ratio(3.0), Mode::Agentless] {
            let d = Pacer::new(mode).decide(Instant::now(), &snap(&agents, &[], &est, &b, lim));
            assert_eq!(d.dials, 3, "{mode}");
            assert_eq!(d.capped_by, Some(Cap::DialRate), "{mode}");
        }
    }

    #[test]
    fn nothing_without_agents_except_agentless() {
        let est = Estimates::from_priors(&Priors::default());
        let b = AbandonBudget::new(0.03, 0.0);
        let agents = [AgentView::Paused, AgentView::Paused];
        for mode in [
            Mode::Preview,
            Mode::Progressive,
            Mode::Predictive,
            Mode::Ratio(3.0),
            Mode::Vicidial,
        ] {
            let d = Pacer::new(mode).decide(
                Instant::now(),
                &snap(&agents, &[], &est, &b, Limits::UNLIMITED),
            );
            assert_eq!(d.dials, 0, "{mode}");
            assert_eq!(d.reason, Reason::NoAgent);
        }
        let lim = Limits {
            channels_free: 7,
            dial_tokens: 100,
        };
        let d = Pacer::new(Mode::Agentless).decide(Instant::now(), &snap(&[], &[], &est, &b, lim));
        assert_eq!(d.dials, 7);
    }

    #[test]
    fn ratio_dials_level_times_ready_minus_in_flight() {
        let est = Estimates::from_priors(&Priors::default());
        let b = AbandonBudget::new(0.03, 0.0);
        let agents = [AgentView::Ready; 4];
        let calls = [CallView::Ringing {
            elapsed: Duration::ZERO,
        }; 3];
        let d = Pacer::new(Mode::Ratio(2.5)).decide(
            Instant::now(),
            &snap(&agents, &calls, &est, &b, Limits::UNLIMITED),
        );
        assert_eq!(d.dials, 7); // 2.5 × 4 − 3
    }
}
