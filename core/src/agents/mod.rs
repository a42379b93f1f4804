//! Agents: login, nailed-up legs, state (ready, on call, wrap-up, paused) and its intervals.
//!
//! [`Agents`] is a sans-IO registry: the daemon feeds it what happened (`login`, `leg_up`,
//! `call_ended`, API requests …) with the monotonic `now`, and pulls [`Event`]s: legs to dial or
//! hang up, finished state intervals to store, calls left without an agent. It never reads a clock.
//!
//! An agent takes calls only while its nailed-up SIP leg is up. The leg dropping logs the agent out
//! at once; a customer hanging up puts the agent in wrap-up with the leg kept.
//!
//! Preview campaigns: a ready agent who is given a lead to look at is in [`State::Preview`] until
//! the customer of the call they place answers (then [`State::OnCall`]), or until the preview
//! ends without a conversation (skipped, released, the call not answered): then ready again.
//! A previewing agent takes no other call. Preview intervals name their campaign.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::domain::{AgentId, CallKey, CampaignId};

/// What an agent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Not logged in; no leg.
    LoggedOut,
    /// Logged in, the dialer is calling the agent's phone to nail up the leg.
    Connecting,
    /// Leg up, waiting for a call.
    Ready,
    /// Looking at a preview campaign's lead reserved for them, then dialing it, until the
    /// customer answers. Takes no other call.
    Preview,
    /// Bridged to a customer.
    OnCall,
    /// The customer's call ended; the agent is finishing notes and the disposition.
    WrapUp,
    /// Leg up, not taking calls.
    Paused,
}

impl State {
    /// Every state, in order.
    pub const ALL: [State; 7] = [
        State::LoggedOut,
        State::Connecting,
        State::Ready,
        State::Preview,
        State::OnCall,
        State::WrapUp,
        State::Paused,
    ];

    /// The snake_case name used in the store, the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            State::LoggedOut => "logged_out",
            State::Connecting => "connecting",
            State::Ready => "ready",
            State::Preview => "preview",
            State::OnCall => "on_call",
            State::WrapUp => "wrap_up",
            State::Paused => "paused",
        }
    }

    /// States that count as logged-in time (occupancy's denominator excludes paused separately).
    pub fn is_logged_in(self) -> bool {
        !matches!(self, State::LoggedOut | State::Connecting)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finished stretch of one state, for the `agent_state_intervals` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub agent: AgentId,
    pub state: State,
    /// The pause reason, for `Paused` intervals.
    pub reason: Option<String>,
    pub call: Option<CallKey>,
    /// The campaign (store id) the time was spent on, when the state says (preview).
    pub campaign: Option<CampaignId>,
    pub start: Instant,
    pub end: Instant,
}

/// What the daemon must do or record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Call the agent's SIP URI and report `leg_up` / `leg_down`.
    DialLeg(AgentId),
    /// Hang up the agent's leg (logout).
    HangupLeg(AgentId),
    /// A state interval ended: store it.
    Interval(Interval),
    /// The agent's leg dropped while on a call: the call has no agent any more.
    CallOrphaned { agent: AgentId, call: CallKey },
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("no agent with id {0:?}")]
    Unknown(AgentId),
    #[error("agent {agent}: cannot {action} while {state}")]
    InvalidTransition {
        agent: AgentId,
        state: State,
        action: &'static str,
    },
    #[error(
        "agent {agent}: cannot {action} while the previewed lead is being dialed (hang up first)"
    )]
    PreviewDialed {
        agent: AgentId,
        action: &'static str,
    },
}

/// One agent's state as the registry reports it: what the API and the terminal show, and what
/// the switchboard reduces to the pacer's [`crate::pacing::AgentView`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    pub id: AgentId,
    pub state: State,
    /// Time in the current state.
    pub elapsed: Duration,
    pub call: Option<CallKey>,
    pub pause_reason: Option<String>,
}

#[derive(Debug)]
struct Agent {
    groups: Vec<String>,
    state: State,
    since: Instant,
    call: Option<CallKey>,
    /// The campaign of the lead previewed (store id).
    campaign: Option<CampaignId>,
    pause_reason: Option<String>,
    /// Pause requested while on a call or in wrap-up: taken when the agent would become ready.
    pause_after: Option<String>,
}

/// The registry of all configured agents.
#[derive(Debug)]
pub struct Agents {
    agents: BTreeMap<AgentId, Agent>,
    events: VecDeque<Event>,
    /// Wrap-up longer than this ends by itself (the agent becomes ready). `None`: no limit.
    wrap_limit: Option<Duration>,
}

impl Agents {
    /// A registry of `(id, groups)` agents, all logged out since `now`.
    pub fn new(
        now: Instant,
        agents: impl IntoIterator<Item = (AgentId, Vec<String>)>,
        wrap_limit: Option<Duration>,
    ) -> Self {
        let agents = agents
            .into_iter()
            .map(|(id, groups)| {
                let agent = Agent {
                    groups,
                    state: State::LoggedOut,
                    since: now,
                    call: None,
                    campaign: None,
                    pause_reason: None,
                    pause_after: None,
                };
                (id, agent)
            })
            .collect();
        Self {
            agents,
            events: VecDeque::new(),
            wrap_limit,
        }
    }

    /// Start a login: the dialer calls the agent's phone.
    pub fn login(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        self.expect(id, "log in", &[State::LoggedOut])?;
        self.enter(now, id, State::Connecting);
        self.events.push_back(Event::DialLeg(AgentId::from(id)));
        Ok(())
    }

    /// The agent's leg answered: the agent is ready.
    pub fn leg_up(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        self.expect(id, "bring up the leg", &[State::Connecting])?;
        self.enter(now, id, State::Ready);
        Ok(())
    }

    /// The agent's leg dropped or failed: the agent is logged out at once.
    pub fn leg_down(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        if self.orphan_call(id)? {
            self.enter(now, id, State::LoggedOut);
        }
        Ok(())
    }

    /// The agent's leg went: a call in progress (or their preview call) is orphaned, as when the
    /// phone hangs up. False when the agent was logged out already.
    fn orphan_call(&mut self, id: &str) -> Result<bool, AgentError> {
        let agent = self.get(id)?;
        if agent.state == State::LoggedOut {
            return Ok(false);
        }
        if let (State::OnCall | State::Preview, Some(call)) = (agent.state, agent.call) {
            self.events.push_back(Event::CallOrphaned {
                agent: AgentId::from(id),
                call,
            });
        }
        Ok(true)
    }

    /// The agent's leg was lost but may come back by itself (a browser page that reloads or
    /// reconnects): a call in progress is orphaned as when the phone hangs up, and the agent is
    /// `connecting` again, the dialer waiting for the phone (it gives up with
    /// [`Self::leg_down`]).
    pub fn leg_lost(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        if self.orphan_call(id)? {
            self.enter(now, id, State::Connecting);
            self.events.push_back(Event::DialLeg(AgentId::from(id)));
        }
        Ok(())
    }

    /// The agent logs out (not allowed mid-call, nor while their preview call is dialed: hang up
    /// first).
    pub fn logout(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        self.expect(
            id,
            "log out",
            &[
                State::Connecting,
                State::Ready,
                State::Preview,
                State::WrapUp,
                State::Paused,
            ],
        )?;
        self.expect_undialed(id, "log out")?;
        self.enter(now, id, State::LoggedOut);
        self.events.push_back(Event::HangupLeg(AgentId::from(id)));
        Ok(())
    }

    /// Pause with a reason. On a call or in wrap-up (or with a preview call dialed) the pause is
    /// taken when the agent is done; a preview not dialed yet is given up at once.
    pub fn pause(&mut self, now: Instant, id: &str, reason: &str) -> Result<(), AgentError> {
        let agent = self.get(id)?;
        let state = agent.state;
        let at_once = match state {
            State::Ready | State::Paused => true,
            State::Preview => agent.call.is_none(),
            State::OnCall | State::WrapUp => false,
            State::LoggedOut | State::Connecting => return Err(self.refuse(id, state, "pause")),
        };
        if at_once {
            self.enter(now, id, State::Paused);
            if let Some(a) = self.agents.get_mut(id) {
                a.pause_reason = Some(reason.to_owned());
            }
        } else if let Some(a) = self.agents.get_mut(id) {
            a.pause_after = Some(reason.to_owned());
        }
        Ok(())
    }

    /// Ready for calls again (from pause or wrap-up). While previewing it only cancels a pause
    /// asked for.
    pub fn ready(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        self.expect(
            id,
            "become ready",
            &[State::Paused, State::WrapUp, State::Ready, State::Preview],
        )?;
        if let Some(a) = self.agents.get_mut(id) {
            a.pause_after = None;
        }
        if !matches!(self.get(id)?.state, State::Ready | State::Preview) {
            self.enter(now, id, State::Ready);
        }
        Ok(())
    }

    /// Connect `call` to the ready agent of one of `groups` who has waited longest.
    pub fn connect(&mut self, now: Instant, groups: &[String], call: CallKey) -> Option<AgentId> {
        let id = self
            .agents
            .iter()
            .filter(|(_, a)| a.state == State::Ready)
            .filter(|(_, a)| groups.is_empty() || a.groups.iter().any(|g| groups.contains(g)))
            .min_by_key(|(_, a)| a.since)
            .map(|(id, _)| id.clone())?;
        self.enter(now, &id, State::OnCall);
        if let Some(a) = self.agents.get_mut(&id) {
            a.call = Some(call);
        }
        Some(id)
    }

    /// A preview campaign's lead (campaign store id `campaign`) is reserved for the ready agent:
    /// they look at it and take no other call.
    pub fn preview(
        &mut self,
        now: Instant,
        id: &str,
        campaign: CampaignId,
    ) -> Result<(), AgentError> {
        self.expect(id, "preview a lead", &[State::Ready])?;
        self.enter(now, id, State::Preview);
        if let Some(a) = self.agents.get_mut(id) {
            a.campaign = Some(campaign);
        }
        Ok(())
    }

    /// The previewing agent dialed the lead: `call` rings; they preview until it is answered.
    pub fn preview_dialed(&mut self, id: &str, call: CallKey) -> Result<(), AgentError> {
        self.expect(id, "dial a preview", &[State::Preview])?;
        self.expect_undialed(id, "dial a preview")?;
        if let Some(a) = self.agents.get_mut(id) {
            a.call = Some(call);
        }
        Ok(())
    }

    /// The customer of the agent's preview call answered: the agent is on the call.
    pub fn preview_answered(
        &mut self,
        now: Instant,
        id: &str,
        call: CallKey,
    ) -> Result<(), AgentError> {
        let a = self.get(id)?;
        if a.state != State::Preview || a.call != Some(call) {
            return Err(self.refuse(id, a.state, "take the preview call"));
        }
        self.enter(now, id, State::OnCall);
        if let Some(a) = self.agents.get_mut(id) {
            a.call = Some(call);
        }
        Ok(())
    }

    /// The preview ended with no conversation (skipped, given back, its call not answered or
    /// not by a person): ready again, or paused when a pause was asked for.
    pub fn preview_ended(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        self.expect(id, "end a preview", &[State::Preview])?;
        self.finish_wrap(now, id);
        Ok(())
    }

    /// The customer's side of the agent's call ended: wrap-up, leg kept.
    pub fn call_ended(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        self.expect(id, "end a call", &[State::OnCall])?;
        self.enter(now, id, State::WrapUp);
        Ok(())
    }

    /// The agent posted the disposition: wrap-up ends (ready, or paused if a pause was asked for).
    pub fn disposed(&mut self, now: Instant, id: &str) -> Result<(), AgentError> {
        self.expect(id, "post a disposition", &[State::WrapUp])?;
        self.finish_wrap(now, id);
        Ok(())
    }

    /// Apply expired deadlines (wrap-up limit).
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(limit) = self.wrap_limit else { return };
        let due: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, a)| a.state == State::WrapUp && now >= a.since + limit)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.finish_wrap(now, &id);
        }
    }

    /// The next deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let limit = self.wrap_limit?;
        self.agents
            .values()
            .filter(|a| a.state == State::WrapUp)
            .map(|a| a.since + limit)
            .min()
    }

    /// The next thing to do or record.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Close every open interval at `now` (shutdown), without changing states.
    pub fn flush(&mut self, now: Instant) {
        let ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for id in ids {
            let state = self.agents[&id].state;
            if state != State::LoggedOut {
                self.enter(now, &id, state);
            }
        }
    }

    /// Every agent with its state and time in it.
    pub fn views(&self, now: Instant) -> Vec<AgentStatus> {
        self.agents.iter().map(|(id, a)| view(id, a, now)).collect()
    }

    /// One agent.
    pub fn view(&self, now: Instant, id: &str) -> Result<AgentStatus, AgentError> {
        let (id, a) = self
            .agents
            .get_key_value(id)
            .ok_or_else(|| AgentError::Unknown(AgentId::from(id)))?;
        Ok(view(id, a, now))
    }

    /// Whether the agent is wrapping up `call` (cheaper than a view, for a scan on each turn).
    pub fn wrapping_up(&self, id: &str, call: CallKey) -> bool {
        self.agents
            .get(id)
            .is_some_and(|a| a.state == State::WrapUp && a.call == Some(call))
    }

    /// Agents in any of `groups` (all agents when `groups` is empty).
    pub fn views_in(&self, now: Instant, groups: &[String]) -> Vec<AgentStatus> {
        self.agents
            .iter()
            .filter(|(_, a)| groups.is_empty() || a.groups.iter().any(|g| groups.contains(g)))
            .map(|(id, a)| view(id, a, now))
            .collect()
    }

    fn finish_wrap(&mut self, now: Instant, id: &str) {
        let pause = self.agents.get_mut(id).and_then(|a| a.pause_after.take());
        match pause {
            Some(reason) => {
                self.enter(now, id, State::Paused);
                if let Some(a) = self.agents.get_mut(id) {
                    a.pause_reason = Some(reason);
                }
            }
            None => self.enter(now, id, State::Ready),
        }
    }

    /// Close the current interval and enter `state` (also used to split an interval in place).
    fn enter(&mut self, now: Instant, id: &str, state: State) {
        let Some(a) = self.agents.get_mut(id) else {
            return;
        };
        // A state left at the instant it was entered leaves no interval.
        if a.state != State::LoggedOut && now > a.since {
            self.events.push_back(Event::Interval(Interval {
                agent: AgentId::from(id),
                state: a.state,
                reason: a.pause_reason.clone(),
                call: a.call,
                campaign: a.campaign,
                start: a.since,
                end: now,
            }));
        }
        if state != a.state {
            // The call follows the agent from its preview into the call, from the call into its
            // wrap-up, and no further.
            let keep_call = matches!(
                (a.state, state),
                (State::Preview, State::OnCall) | (State::OnCall, State::WrapUp)
            );
            if !keep_call {
                a.call = None;
            }
            a.campaign = None;
            if state != State::Paused {
                a.pause_reason = None;
            }
            if state == State::LoggedOut {
                a.pause_after = None;
            }
        }
        a.state = state;
        a.since = now;
    }

    fn get(&self, id: &str) -> Result<&Agent, AgentError> {
        self.agents
            .get(id)
            .ok_or_else(|| AgentError::Unknown(AgentId::from(id)))
    }

    fn expect(&self, id: &str, action: &'static str, allowed: &[State]) -> Result<(), AgentError> {
        let state = self.get(id)?.state;
        if allowed.contains(&state) {
            Ok(())
        } else {
            Err(self.refuse(id, state, action))
        }
    }

    /// Refuse while the agent's preview call is dialed.
    fn expect_undialed(&self, id: &str, action: &'static str) -> Result<(), AgentError> {
        let a = self.get(id)?;
        if a.state == State::Preview && a.call.is_some() {
            return Err(AgentError::PreviewDialed {
                agent: AgentId::from(id),
                action,
            });
        }
        Ok(())
    }

    fn refuse(&self, id: &str, state: State, action: &'static str) -> AgentError {
        AgentError::InvalidTransition {
            agent: AgentId::from(id),
            state,
            action,
        }
    }
}

fn view(id: &AgentId, a: &Agent, now: Instant) -> AgentStatus {
    AgentStatus {
        id: id.clone(),
        state: a.state,
        elapsed: now.saturating_duration_since(a.since),
        call: a.call,
        pause_reason: a.pause_reason.clone(),
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests;
