//! Calls in progress: each call's [`Flow`] fed and pumped, people matched to free agents,
//! and a call's end settled into its attempt record and the campaign's estimates.

use super::*;

#[derive(Debug)]
pub(super) struct CallRt {
    pub(super) campaign: String,
    pub(super) campaign_id: CampaignId,
    pub(super) lead: Lead,
    pub(super) trunk: String,
    pub(super) flow: Flow,
    pub(super) dialed: Instant,
    pub(super) answered: Option<Instant>,
    /// Since when the person waits for an agent.
    pub(super) waiting_since: Option<Instant>,
    pub(super) agent: Option<AgentId>,
    pub(super) bridged_at: Option<Instant>,
    pub(super) summary: Option<Summary>,
    /// The SIP side is over (no more hang-up to send).
    pub(super) sip_ended: bool,
    /// The agent who dialed it from a preview: only they take it.
    pub(super) preview: Option<AgentId>,
    /// When the pacer had it hung up while still ringing (shed): it ends as `shed`, and the
    /// pacer sees it no more.
    pub(super) shed_at: Option<Instant>,
    /// The person was counted (live answer, hit) when the flow first asked for an agent, not
    /// at the call's end minutes later.
    pub(super) person_counted: bool,
    /// The abandon was counted as it happened ([`Action::Abandoned`]).
    pub(super) abandon_counted: bool,
    /// What was last sent to the store as the call's progress ([`Record::AttemptProgress`]).
    pub(super) stored: Step,
}

/// A person the flow asks an agent for: a live answer for the budget and a hit for the
/// estimates now, as the simulator counts them, rather than when the call ends minutes later
/// (until then the window would read fewer live answers against its abandons, and the hit rate
/// would see the dial's failures long before its people).
pub(super) fn count_person(
    rt: &mut CampaignRt,
    now: Instant,
    dialed: Instant,
    answered: Option<Instant>,
) {
    rt.estimator.observe(
        now,
        pacing::Observation::Dial {
            dialed,
            human: true,
            machine: false,
            answered_after: answered.map(|a| a.saturating_duration_since(dialed)),
            failed_after: None,
        },
    );
    rt.budget.record_live_answer();
    rt.live_rate.record(now);
}

/// Feed a finished call to the campaign's estimates and abandon budget (a person already
/// counted by [`count_person`] is not counted again).
pub(super) fn observe(rt: &mut CampaignRt, now: Instant, c: &CallRt, s: &Summary) {
    let human = s.outcome.is_live() || s.amd.as_ref().is_some_and(|(r, _)| *r == AmdResult::Human);
    let machine = s.outcome == Outcome::Machine;
    if !c.person_counted {
        rt.estimator.observe(
            now,
            match c.shed_at {
                Some(at) if c.answered.is_none() => pacing::Observation::Shed {
                    dialed: c.dialed,
                    rang: at.saturating_duration_since(c.dialed),
                },
                _ => pacing::Observation::Dial {
                    dialed: c.dialed,
                    human,
                    machine,
                    answered_after: c.answered.map(|a| a.saturating_duration_since(c.dialed)),
                    failed_after: c
                        .answered
                        .is_none()
                        .then(|| s.ended.saturating_duration_since(c.dialed)),
                },
            },
        );
        if human {
            rt.budget.record_live_answer();
            rt.live_rate.record(now);
        }
    }
    if let (Some(answered), Some(decided)) = (c.answered, s.decided) {
        rt.estimator.observe(
            now,
            pacing::Observation::AmdDecision {
                human: !machine,
                after: decided.saturating_duration_since(answered),
            },
        );
    }
    if let Some(bridged) = c.bridged_at {
        rt.estimator.observe(
            now,
            pacing::Observation::Talk(s.ended.saturating_duration_since(bridged)),
        );
    }
    if s.abandoned && !c.abandon_counted {
        rt.budget.record_abandon();
    }
    if machine {
        rt.budget.record_amd_machine();
    }
}

impl Switchboard {
    pub(super) fn feed_flow(&mut self, now: Instant, call: CallKey, input: flow::Input) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.flow.handle(now, input);
        self.pump_flow(now, call);
    }

    /// Carry out what a call's flow asks for.
    pub(super) fn pump_flow(&mut self, now: Instant, call: CallKey) {
        loop {
            let Some(c) = self.calls.get_mut(&call) else {
                return;
            };
            let Some(action) = c.flow.poll_action() else {
                break;
            };
            match action {
                Action::StartAnalysis => self.outputs.push_back(Output::StartAmd { call }),
                Action::RequestAgent => {
                    c.waiting_since = Some(now);
                    if !c.person_counted {
                        c.person_counted = true;
                        let (campaign, dialed, answered) =
                            (c.campaign.clone(), c.dialed, c.answered);
                        if let Some(rt) = self.campaigns.get_mut(&campaign) {
                            count_person(rt, now, dialed, answered);
                        }
                    }
                    let Some(c) = self.calls.get_mut(&call) else {
                        return;
                    };
                    match c.preview.clone() {
                        // The agent who dialed it takes it, and nobody else: were they gone,
                        // the connect limit runs out and the person hears the safe harbor.
                        Some(agent) => {
                            if self.agents.preview_answered(now, &agent, call).is_ok() {
                                c.agent = Some(agent.clone());
                                c.flow.handle(now, flow::Input::Agent(agent));
                                self.pump_agents(now);
                            }
                        }
                        None => {
                            self.queue.push_back(call);
                            self.match_waiting(now);
                        }
                    }
                }
                Action::CancelAgentRequest => {
                    c.waiting_since = None;
                    self.queue.retain(|k| *k != call);
                }
                Action::Abandoned => {
                    // A person who waited for an agent (counted as a live answer then) is
                    // abandoned now, while the message plays: the budget counts it now. An
                    // answer taken down ends in this same input, and `observe` counts its live
                    // answer and abandon together.
                    if c.person_counted {
                        c.abandon_counted = true;
                        if let Some(rt) = self.campaigns.get_mut(&c.campaign) {
                            rt.budget.record_abandon();
                        }
                    }
                    self.outputs.push_back(Output::Abandoned { call });
                }
                Action::Bridge { agent, record } => {
                    c.waiting_since = None;
                    c.bridged_at = Some(now);
                    self.outputs.push_back(Output::Bridge {
                        call,
                        agent,
                        record,
                    });
                }
                Action::Play(prompt) => {
                    let campaign = self
                        .campaigns
                        .get(&c.campaign)
                        .map(|rt| rt.campaign.clone());
                    if let Some(file) = campaign.and_then(|k| prompt_file(&k, prompt)) {
                        self.outputs.push_back(Output::Play { call, file });
                    } else {
                        // Nothing to play: the flow goes on as if it had been played.
                        c.flow.handle(now, flow::Input::PromptFailed);
                    }
                }
                Action::StopPrompt => self.outputs.push_back(Output::StopPrompt { call }),
                Action::OptOut { key, message } => {
                    let global = self.campaigns.get(&c.campaign).is_some_and(|rt| {
                        rt.campaign.dnc.opt_out.scope == crate::campaign::OptOutScope::Global
                    });
                    self.outputs.push_back(Output::Record(Record::OptOut {
                        call,
                        campaign_id: c.campaign_id,
                        lead_id: c.lead.id,
                        key,
                        message: message.as_str(),
                        global,
                        at: now,
                    }));
                }
                Action::SurveyAnswer {
                    question,
                    key,
                    value,
                } => self.outputs.push_back(Output::Record(Record::SurveyAnswer {
                    call,
                    question,
                    key: Some(key),
                    value,
                    at: now,
                })),
                Action::HangUp => {
                    if !c.sip_ended {
                        self.outputs.push_back(Output::HangUp { call });
                    }
                }
                Action::Finished(summary) => {
                    c.summary = Some(summary);
                }
            }
        }
        // A step of a call still going is stored as it happens (a finished call's record
        // carries everything).
        if let Some(c) = self.calls.get_mut(&call)
            && c.summary.is_none()
        {
            let step = Step::of(c);
            if !step.same_facts(&c.stored) {
                c.stored = step.clone();
                self.outputs
                    .push_back(Output::Record(Record::AttemptProgress { call, step }));
            }
        }
        self.settle(now, call);
    }

    /// A call whose flow is finished: unbridge, wrap-up for its agent, estimates, budget, and
    /// the attempt's record. The call is forgotten once its SIP side is over too.
    pub(super) fn settle(&mut self, now: Instant, call: CallKey) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(summary) = c.summary.clone() else {
            return;
        };
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        self.queue.retain(|k| *k != call);
        if let Some(t) = self.trunks.get_mut(&c.trunk) {
            t.active = t.active.saturating_sub(1);
        }
        // A preview call that never reached its agent: they preview the next lead.
        let preview_over = match (&c.agent, &c.preview) {
            (None, Some(agent)) => self
                .agents
                .view(now, agent)
                .is_ok_and(|v| v.state == State::Preview && v.call == Some(call))
                .then(|| agent.clone()),
            _ => None,
        };
        if let Some(agent) = &preview_over {
            let _ = self.agents.preview_ended(now, agent);
            self.pump_agents(now);
        }
        if let Some(agent) = &c.agent {
            self.outputs.push_back(Output::Unbridge { call });
            if self.agents.call_ended(now, agent).is_ok() {
                self.wrapping.insert(
                    agent.clone(),
                    Wrapping {
                        call,
                        campaign: c.campaign.clone(),
                        campaign_id: c.campaign_id,
                        lead: c.lead.clone(),
                        outcome: summary.outcome,
                        ended: summary.ended,
                    },
                );
            }
            self.pump_agents(now);
        }
        if !c.sip_ended {
            // The flow ended the call (machine hung up on, message played): make sure the SIP
            // side ends too. Idempotent in the shell.
            self.outputs.push_back(Output::HangUp { call });
        }
        let campaign = self.campaigns.get_mut(&c.campaign);
        let (effect, conversation) = match &campaign {
            Some(rt) => (
                outcome_effect(&rt.campaign, &summary, c.lead.attempts + 1),
                summary.agent.is_some(),
            ),
            None => (
                LeadEffect {
                    status: LeadStatus::Active,
                    retry_after: None,
                    callback_after: None,
                },
                false,
            ),
        };
        if let Some(rt) = campaign {
            observe(rt, now, &c, &summary);
        }
        self.outputs.push_back(Output::Record(Record::AttemptEnded {
            call,
            campaign_id: c.campaign_id,
            lead_id: c.lead.id,
            summary,
            effect,
            conversation,
        }));
        if preview_over.is_some() {
            self.agents_freed(now);
        }
    }

    /// Connect waiting people to ready agents, first come first served.
    pub(super) fn match_waiting(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.queue.len() {
            let call = self.queue[i];
            let Some(c) = self.calls.get(&call) else {
                self.queue.remove(i);
                continue;
            };
            let groups = self
                .campaigns
                .get(&c.campaign)
                .map(|rt| rt.campaign.agent_groups.clone())
                .unwrap_or_default();
            match self.agents.connect(now, &groups, call) {
                Some(agent) => {
                    self.queue.remove(i);
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.agent = Some(agent.clone());
                        c.flow.handle(now, flow::Input::Agent(agent));
                    }
                    self.pump_flow(now, call);
                    self.pump_agents(now);
                }
                None => i += 1,
            }
        }
    }
}
