//! The switchboard, sans-IO: campaigns, agents and calls in one state machine.
//!
//! [`Switchboard`] owns what the daemon decides: each campaign's pacer, estimates and abandon budget,
//! the agent registry, and one [`Flow`] per call. The tokio shell feeds it [`Input`]s (ticks,
//! claimed leads, what SIP and media report, agent legs) with the monotonic `now`, calls the API
//! methods for agents and supervisors, and carries out the [`Output`]s it pulls: claim leads,
//! dial, hang up, start AMD, play, bridge, dial agent legs, and the records the store writer
//! keeps. Nothing here reads a clock or touches a socket, so a whole shift can be replayed in a
//! test.
//!
//! Preview campaigns: their pacer places nothing. A ready agent of a preview campaign's groups
//! gets one claimed lead reserved ([`agents::State::Preview`]; the screen pop shows it) and dials
//! it ([`Switchboard::agent_dial`]) or skips it ([`Switchboard::agent_skip`]: given back
//! unchanged, the next one reserved); `dialing.preview_timeout` dials it for them. The call goes
//! to that agent only: bridged at the answer (after AMD when the campaign runs it), never queued
//! for another agent. A reserved lead is checked again every 30 s ([`Output::Recheck`]: calling
//! hours, DNC, lease renewed) while the agent looks at it.
//!
//! The parts, one file each: [`Input`]s and claimed leads (`input.rs`); [`Output`]s and the store's
//! [`Record`]s (`output.rs`); campaigns, their [`CampaignControl`] and status (`campaigns.rs`); a
//! campaign file turned into pacer and flow settings (`settings.rs`); trunk limits (`limits.rs`);
//! dialing and shedding (`dialing.rs`); previews (`preview.rs`); calls in progress, the flow pump
//! and matching people to agents (`calls.rs`); what outcomes and dispositions do to leads
//! (`effects.rs`); agent commands and wrap-ups (`agent_work.rs`). This file holds the state and the
//! loop: [`Switchboard::handle`], [`Switchboard::handle_timeout`], [`Switchboard::poll_timeout`],
//! [`Switchboard::poll_output`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::agents::{self, Agents, State};
use crate::campaign::{Campaign, Mode};
use crate::domain::{
    AgentId, AmdResult, CallKey, CampaignControl, CampaignId, LeadStatus, Outcome,
};
use crate::flow::survey::SurveyPrompt;
use crate::flow::{self, Action, Flow, OnMachine, Prompt, Summary};
use crate::pacing::{self, AbandonBudget, Estimator, Limits, LiveRate, Pacer, Snapshot};

mod agent_work;
mod calls;
mod campaigns;
mod dialing;
mod effects;
mod input;
mod limits;
mod output;
mod preview;
mod settings;

pub use agent_work::Screen;
use agent_work::*;
use calls::*;
use campaigns::*;
pub use campaigns::{CampaignStatus, Wallboard};
use effects::*;
pub use input::{Input, Lead};
pub use limits::TrunkLimits;
use limits::*;
pub use output::{Dial, LeadEffect, Output, Record, Step};
use preview::*;
pub use settings::CONNECT_LATENCY;
use settings::*;

/// Requests refused by the core (the API turns them into JSON errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwitchboardError {
    #[error(transparent)]
    Agent(#[from] agents::AgentError),
    #[error("no campaign named {0:?}")]
    UnknownCampaign(String),
    #[error("agent {0} has no call")]
    NoCall(AgentId),
    /// The agent's call is not recorded (pause/resume of its recording).
    #[error("agent {0}'s call is not recorded")]
    NotRecorded(AgentId),
    #[error("agent {0} has no lead to preview")]
    NoPreview(AgentId),
    #[error(
        "campaign {campaign}: no free line (its max_concurrent calls or the trunk's channels are in use); try again"
    )]
    NoLine { campaign: String },
    #[error(
        "campaign {campaign}: unknown disposition {code:?} (the campaign file lists the codes)"
    )]
    UnknownDisposition { campaign: String, code: String },
    /// A script answer naming a question or answer the campaign's `[script]` does not have
    /// (`field`: the request's field at fault).
    #[error("{problem}")]
    BadAnswer {
        field: &'static str,
        problem: String,
    },
    /// A callback time outside the campaign's calling hours in the lead's local time.
    #[error("{problem}")]
    CallbackOutsideHours { problem: String },
}

/// Claimed leads older than this are given back to be checked again (hours, DNC); a lead
/// reserved for a preview is checked again at this age.
const LEAD_STALE: Duration = Duration::from_secs(30);
/// The switchboard.
#[derive(Debug)]
pub struct Switchboard {
    agents: Agents,
    campaigns: BTreeMap<String, CampaignRt>,
    trunks: HashMap<String, TrunkRt>,
    calls: HashMap<CallKey, CallRt>,
    /// Calls of agents in wrap-up, for their disposition.
    wrapping: HashMap<AgentId, Wrapping>,
    /// The agent whose disposition is being applied (their wrap-up ends by it, not cut).
    disposing: Option<AgentId>,
    /// People waiting for an agent, first come first served.
    queue: VecDeque<CallKey>,
    /// Leads reserved for agents' previews, not dialed yet.
    previews: BTreeMap<AgentId, Preview>,
    /// Leads each agent skipped lately (when, lead id).
    skipped: HashMap<AgentId, VecDeque<(Instant, i64)>>,
    next_call: CallKey,
    outputs: VecDeque<Output>,
    draining: bool,
    /// A dial failed locally: nothing is dialed until the shell says it can again.
    local_fault: bool,
    /// Each agent's state and its start as last sent to the store ([`Record::AgentState`]).
    opened: HashMap<AgentId, (State, Instant)>,
    /// The agents' intervals were closed at the stop ([`Switchboard::flush_agents`]).
    flushed: bool,
    /// The survey answers an agent gave on each call (question id → answer key), kept until
    /// the wrap-up ends.
    answers: HashMap<CallKey, BTreeMap<String, String>>,
}

impl Switchboard {
    /// A core with the configured agents (all logged out) and trunks, and no campaign yet.
    pub fn new(
        now: Instant,
        agents: impl IntoIterator<Item = (AgentId, Vec<String>)>,
        trunks: impl IntoIterator<Item = (String, TrunkLimits)>,
        wrap_limit: Option<Duration>,
    ) -> Self {
        Self {
            agents: Agents::new(now, agents, wrap_limit),
            campaigns: BTreeMap::new(),
            trunks: trunks
                .into_iter()
                .map(|(name, limits)| {
                    let bucket = Bucket::new(limits.calls_per_second);
                    (
                        name,
                        TrunkRt {
                            limits,
                            active: 0,
                            bucket,
                        },
                    )
                })
                .collect(),
            calls: HashMap::new(),
            wrapping: HashMap::new(),
            disposing: None,
            queue: VecDeque::new(),
            previews: BTreeMap::new(),
            skipped: HashMap::new(),
            next_call: CallKey::new(1),
            outputs: VecDeque::new(),
            draining: false,
            local_fault: false,
            opened: HashMap::new(),
            flushed: false,
            answers: HashMap::new(),
        }
    }

    /// Stop dialing for good (SIGTERM): claimed leads go back, calls in progress finish.
    pub fn drain(&mut self) {
        self.draining = true;
        for rt in self.campaigns.values_mut() {
            for (_, lead) in rt.leads.drain(..) {
                self.outputs.push_back(Output::Release { lead_id: lead.id });
            }
        }
        self.drop_previews(|_, _| true);
    }

    /// End every call now (the drain deadline passed): each gets its attempt record.
    pub fn abort_calls(&mut self, now: Instant) {
        let keys: Vec<CallKey> = self.calls.keys().copied().collect();
        for call in keys {
            if let Some(c) = self.calls.get_mut(&call) {
                c.flow.abort(now);
            }
            self.pump_flow(now, call);
        }
    }

    /// Calls still in progress.
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    /// Feed one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Tick => self.tick(now),
            Input::Leads { campaign, leads } => {
                if let Some(rt) = self.campaigns.get_mut(&campaign) {
                    rt.claiming = false;
                    rt.exhausted = false;
                    if rt.control == CampaignControl::Running && !self.draining {
                        rt.leads.extend(leads.into_iter().map(|l| (now, l)));
                        self.dial(now, &campaign);
                        return;
                    }
                }
                for lead in leads {
                    self.outputs.push_back(Output::Release { lead_id: lead.id });
                }
            }
            Input::ClaimDone { campaign } => {
                if let Some(rt) = self.campaigns.get_mut(&campaign) {
                    rt.claiming = false;
                    rt.exhausted = true;
                }
            }
            Input::Ringing { call } => self.feed_flow(now, call, flow::Input::Ringing),
            Input::Answered { call } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.answered = Some(now);
                }
                self.feed_flow(now, call, flow::Input::Answered);
            }
            Input::CallEnded {
                call,
                outcome,
                sip_status,
            } => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                c.sip_ended = true;
                // Our own hang-up of a call the pacer shed ends as `shed` (retried like a
                // no-answer), not as `interrupted`.
                let outcome = if c.shed_at.is_some() && c.answered.is_none() {
                    Outcome::Shed
                } else {
                    outcome
                };
                if c.answered.is_some() {
                    self.feed_flow(now, call, flow::Input::CustomerHangup);
                } else if let Some(status) = sip_status.filter(|s| (200..300).contains(s)) {
                    // A 2xx crossed our CANCEL: someone answered and was hung up on.
                    self.feed_flow(
                        now,
                        call,
                        flow::Input::AnswerTakenDown { sip_status: status },
                    );
                } else {
                    self.feed_flow(
                        now,
                        call,
                        flow::Input::Failed {
                            outcome,
                            sip_status,
                        },
                    );
                }
                self.settle(now, call);
            }
            Input::SpeechStarted { call, at } => {
                self.feed_flow(now, call, flow::Input::SpeechStarted { at })
            }
            Input::Amd {
                call,
                result,
                cause,
                speech_end,
            } => {
                self.feed_flow(
                    now,
                    call,
                    flow::Input::Amd {
                        result,
                        cause,
                        speech_end,
                    },
                );
                // A machine on a preview call: the agent is not needed for the campaign's way
                // with machines (voicemail drop, hang-up) and previews the next lead.
                let agent = self
                    .calls
                    .get(&call)
                    .filter(|c| c.flow.is_machine() && c.agent.is_none())
                    .and_then(|c| c.preview.clone());
                if let Some(agent) = agent
                    && self
                        .agents
                        .view(now, &agent)
                        .is_ok_and(|v| v.state == State::Preview && v.call == Some(call))
                {
                    let _ = self.agents.preview_ended(now, &agent);
                    self.pump_agents(now);
                    self.agents_freed(now);
                }
            }
            Input::Beep { call } => self.feed_flow(now, call, flow::Input::Beep),
            Input::PromptFinished { call } => {
                self.feed_flow(now, call, flow::Input::PromptFinished)
            }
            Input::PromptFailed { call } => self.feed_flow(now, call, flow::Input::PromptFailed),
            Input::Dtmf { call, digit } => self.feed_flow(now, call, flow::Input::Dtmf(digit)),
            Input::MediaTimeout { call } => {
                if self.calls.get(&call).is_some_and(|c| !c.sip_ended) {
                    self.outputs.push_back(Output::HangUp { call });
                }
                self.feed_flow(now, call, flow::Input::CustomerHangup);
            }
            Input::AgentLegUp { agent } => {
                let _ = self.agents.leg_up(now, &agent);
                self.pump_agents(now);
                self.agents_freed(now);
            }
            Input::AgentLegDown { agent } => {
                let _ = self.agents.leg_down(now, &agent);
                self.drop_previews(|a, _| *a == agent);
                self.pump_agents(now);
            }
            Input::AgentLegLost { agent } => {
                let _ = self.agents.leg_lost(now, &agent);
                self.drop_previews(|a, _| *a == agent);
                self.pump_agents(now);
            }
            Input::DialFailedLocally { call } => {
                self.local_fault = true;
                self.forget_undialed(now, call);
            }
            Input::LocalResourcesBack => self.local_fault = false,
            Input::Rechecked { lead_id, refusal } => {
                let Some(agent) = self
                    .previews
                    .iter()
                    .find(|(_, p)| p.lead.id == lead_id)
                    .map(|(a, _)| a.clone())
                else {
                    return; // dialed, skipped or given back meanwhile
                };
                match refusal {
                    None => {
                        if let Some(p) = self.previews.get_mut(&agent) {
                            p.checking = false;
                            p.checked_at = now;
                        }
                    }
                    Some(_) => {
                        // No longer dialable (hours closed, DNC, …): the next lead instead.
                        self.drop_previews(|a, _| *a == agent);
                        let _ = self.agents.preview_ended(now, &agent);
                        self.pump_agents(now);
                        self.agents_freed(now);
                    }
                }
            }
        }
    }

    /// Apply expired deadlines (connect limits, beep waits, wrap-up limits).
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<CallKey> = self
            .calls
            .iter()
            .filter(|(_, c)| c.flow.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for call in due {
            if let Some(c) = self.calls.get_mut(&call) {
                c.flow.handle_timeout(now);
            }
            self.pump_flow(now, call);
        }
        self.agents.handle_timeout(now);
        self.pump_agents(now);
        // Previews: dial those whose time is up, check again those looked at for a while.
        let due: Vec<AgentId> = self
            .previews
            .iter()
            .filter(|(_, p)| p.auto_dial_at.is_some_and(|t| t <= now))
            .map(|(a, _)| a.clone())
            .collect();
        for agent in due {
            // Not placed (no free line; its campaign going away until the next tick tidies up):
            // try again a moment later rather than at once.
            if self.agent_dial(now, &agent).is_err()
                && let Some(p) = self.previews.get_mut(&agent)
            {
                p.auto_dial_at = Some(now + AUTO_DIAL_RETRY);
            }
        }
        for p in self.previews.values_mut() {
            if !p.checking && now >= p.checked_at + LEAD_STALE {
                p.checking = true;
                self.outputs.push_back(Output::Recheck {
                    campaign: p.campaign.clone(),
                    lead_id: p.lead.id,
                });
            }
        }
        self.agents_freed(now);
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let previews = self.previews.values().flat_map(|p| {
            let recheck = (!p.checking).then_some(p.checked_at + LEAD_STALE);
            p.auto_dial_at.into_iter().chain(recheck)
        });
        self.calls
            .values()
            .filter_map(|c| c.flow.poll_timeout())
            .chain(self.agents.poll_timeout())
            .chain(previews)
            .min()
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    fn tick(&mut self, now: Instant) {
        self.tidy_previews(now);
        self.handle_timeout(now);
        let names: Vec<String> = self.campaigns.keys().cloned().collect();
        for name in names {
            self.release_stale(now, &name);
            self.dial(now, &name);
        }
    }

    /// Dialing is paused because a dial failed locally (no socket, port or descriptor).
    pub fn local_fault(&self) -> bool {
        self.local_fault
    }
}

#[cfg(test)]
mod tests;
