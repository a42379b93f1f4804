//! Agents: the commands the API calls (login, ready, pause, hang up, disposition), wrap-ups,
//! and agent state changes turned into records.

use super::*;

/// An agent's screen pop as the switchboard knows it ([`Switchboard::agent_screen`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Screen<'a> {
    pub campaign: &'a str,
    pub lead: &'a Lead,
    /// The call the lead is on (or was on, in wrap-up); `None` for a preview not dialed yet.
    pub call: Option<CallKey>,
    /// A preview campaign's lead reserved for the agent and not dialed yet.
    pub preview: bool,
}

/// The call an agent wraps up, kept for its disposition and screen pop.
#[derive(Debug, Clone)]
pub(super) struct Wrapping {
    pub(super) call: CallKey,
    pub(super) campaign: String,
    pub(super) campaign_id: CampaignId,
    pub(super) lead: Lead,
    /// The call's outcome and end, for a wrap-up cut short ([`Switchboard::cut_wrap_ups`]).
    pub(super) outcome: Outcome,
    pub(super) ended: Instant,
}

impl Switchboard {
    /// Agents wrapping up a call whose disposition has not come yet (the drain waits for them).
    pub fn wrap_ups(&self, now: Instant) -> usize {
        self.wrapping
            .keys()
            .filter(|a| {
                self.agents
                    .view(now, a)
                    .is_ok_and(|v| v.state == State::WrapUp)
            })
            .count()
    }

    /// End every wrap-up now (the drain deadline passed) without a disposition: each lead is
    /// released at once with its call's outcome ([`Record::WrapUpCut`], see
    /// [`Switchboard::wrap_up_cut`]), due again per the campaign's retry rules rather than held
    /// for the agent's disposition.
    pub fn cut_wrap_ups(&mut self, now: Instant) {
        let agents: Vec<AgentId> = self.wrapping.keys().cloned().collect();
        for agent in agents {
            let in_wrap_up = self
                .agents
                .view(now, &agent)
                .is_ok_and(|v| v.state == State::WrapUp);
            if in_wrap_up && self.agents.disposed(now, &agent).is_ok() {
                // The wrap-up interval closes: pump_agents releases the lead.
                self.pump_agents(now);
            }
        }
        self.pump_agents(now);
    }

    /// A wrap-up that ended without the agent's disposition (the drain deadline, the wrap-up
    /// limit, the agent's leg dropping or a logout): the lead is released at once with its
    /// call's outcome, due again per the campaign's retry rules, instead of staying held for a
    /// disposition that will not come.
    pub(super) fn wrap_up_cut(&mut self, now: Instant, agent: AgentId, w: Wrapping) {
        self.answers.remove(&w.call);
        let effect = match self.campaigns.get(&w.campaign) {
            Some(rt) => cut_effect(&rt.campaign, w.outcome, w.lead.attempts + 1),
            // A campaign removed since: due at once.
            None => LeadEffect {
                status: LeadStatus::Active,
                retry_after: None,
                callback_after: None,
            },
        };
        self.outputs.push_back(Output::Record(Record::WrapUpCut {
            campaign_id: w.campaign_id,
            lead_id: w.lead.id,
            call: w.call,
            agent,
            outcome: w.outcome,
            effect,
            since: w.ended,
            at: now,
        }));
    }

    pub fn agent_login(&mut self, now: Instant, agent: &str) -> Result<(), SwitchboardError> {
        self.agents.login(now, agent)?;
        self.pump_agents(now);
        Ok(())
    }

    /// Log out; a lead reserved for the agent's preview is given back.
    pub fn agent_logout(&mut self, now: Instant, agent: &str) -> Result<(), SwitchboardError> {
        self.agents.logout(now, agent)?;
        self.drop_previews(|a, _| a == agent);
        self.pump_agents(now);
        Ok(())
    }

    pub fn agent_ready(&mut self, now: Instant, agent: &str) -> Result<(), SwitchboardError> {
        self.agents.ready(now, agent)?;
        self.pump_agents(now);
        self.agents_freed(now);
        Ok(())
    }

    pub fn agent_pause(
        &mut self,
        now: Instant,
        agent: &str,
        reason: &str,
    ) -> Result<(), SwitchboardError> {
        self.agents.pause(now, agent, reason)?;
        // A preview not dialed yet is given back at once.
        if self.agents.view(now, agent)?.state == State::Paused {
            self.drop_previews(|a, _| a == agent);
        }
        self.pump_agents(now);
        Ok(())
    }

    /// The agent hangs up on the customer.
    pub fn agent_hangup(&mut self, now: Instant, agent: &str) -> Result<(), SwitchboardError> {
        let call = self
            .agents
            .view(now, agent)?
            .call
            .filter(|c| self.calls.contains_key(c))
            .ok_or_else(|| SwitchboardError::NoCall(AgentId::from(agent)))?;
        // A preview call not with the agent yet (ringing, or in AMD) is hung up at once.
        if let Some(c) = self.calls.get(&call)
            && c.agent.is_none()
            && !c.sip_ended
        {
            self.outputs.push_back(Output::HangUp { call });
        }
        self.feed_flow(now, call, flow::Input::AgentHangup);
        Ok(())
    }

    /// The agent's disposition of the call it wraps up (or is on). Ends wrap-up.
    pub fn agent_disposition(
        &mut self,
        now: Instant,
        agent: &str,
        code: &str,
        notes: Option<String>,
        callback_after: Option<Duration>,
    ) -> Result<(), SwitchboardError> {
        let Wrapping {
            call,
            campaign,
            campaign_id,
            lead,
            ..
        } = self
            .wrapping
            .get(agent)
            .cloned()
            .ok_or_else(|| SwitchboardError::NoCall(AgentId::from(agent)))?;
        let rt = self
            .campaigns
            .get(&campaign)
            .ok_or_else(|| SwitchboardError::UnknownCampaign(campaign.clone()))?;
        let disposition =
            rt.campaign
                .disposition(code)
                .ok_or_else(|| SwitchboardError::UnknownDisposition {
                    campaign: campaign.clone(),
                    code: code.to_owned(),
                })?;
        let effect = disposition_effect(disposition, callback_after);
        let conversation = disposition.conversation;
        self.agents.disposed(now, agent)?;
        // The wrap-up interval reaches the campaign's estimates before the call is forgotten;
        // the wrap-up ends with this disposition, not cut.
        self.disposing = Some(AgentId::from(agent));
        self.pump_agents(now);
        self.disposing = None;
        self.wrapping.remove(agent);
        self.answers.remove(&call);
        self.outputs.push_back(Output::Record(Record::Disposition {
            campaign_id,
            lead_id: lead.id,
            call,
            agent: AgentId::from(agent),
            code: code.to_owned(),
            notes,
            effect,
            conversation,
            at: now,
        }));
        self.pump_agents(now);
        self.agents_freed(now);
        Ok(())
    }

    /// The lead of the agent's current call, or of their preview (screen pop): phone and
    /// attributes.
    pub fn agent_lead(
        &self,
        now: Instant,
        agent: &str,
    ) -> Result<Option<(String, Lead)>, SwitchboardError> {
        Ok(self
            .agent_screen(now, agent)?
            .map(|s| (s.campaign.to_owned(), s.lead.clone())))
    }

    /// What the agent's screen pop shows: the lead of their call (on it or wrapping it up), or
    /// of the preview reserved for them and not dialed yet.
    pub fn agent_screen(
        &self,
        now: Instant,
        agent: &str,
    ) -> Result<Option<Screen<'_>>, SwitchboardError> {
        let view = self.agents.view(now, agent)?;
        if let Some((key, c)) = view.call.and_then(|c| self.calls.get_key_value(&c)) {
            return Ok(Some(Screen {
                campaign: &c.campaign,
                lead: &c.lead,
                call: Some(*key),
                preview: false,
            }));
        }
        if let Some(p) = self.previews.get(agent) {
            return Ok(Some(Screen {
                campaign: &p.campaign,
                lead: &p.lead,
                call: None,
                preview: true,
            }));
        }
        if view.state == State::WrapUp
            && let Some(w) = self.wrapping.get(agent)
        {
            return Ok(Some(Screen {
                campaign: &w.campaign,
                lead: &w.lead,
                call: Some(w.call),
                preview: false,
            }));
        }
        Ok(None)
    }

    /// An agent-assisted survey answer on the call the agent is on or wraps up: `question` and
    /// `answer` from the campaign's `[script]`; stored like an agentless survey's answer. A
    /// second answer to the same question replaces the first on screen (both are stored).
    pub fn agent_answer(
        &mut self,
        now: Instant,
        agent: &str,
        question: &str,
        answer: &str,
    ) -> Result<(), SwitchboardError> {
        let screen = self
            .agent_screen(now, agent)?
            .filter(|s| s.call.is_some() && !s.preview);
        let Some((call, campaign)) =
            screen.and_then(|s| s.call.map(|c| (c, s.campaign.to_owned())))
        else {
            return Err(SwitchboardError::NoCall(AgentId::from(agent)));
        };
        let c = self
            .campaigns
            .get(&campaign)
            .map(|rt| rt.campaign.clone())
            .ok_or_else(|| SwitchboardError::UnknownCampaign(campaign.clone()))?;
        let q = c.script.question(question).ok_or_else(|| {
            let ids: Vec<&str> = c.script.questions.iter().map(|q| q.id.as_str()).collect();
            SwitchboardError::BadAnswer {
                field: "question",
                problem: format!(
                    "campaign {campaign} has no question {question:?} in its [script] (questions: {ids:?})"
                ),
            }
        })?;
        if !q.answers.iter().any(|a| a.key == answer) {
            let keys: Vec<&str> = q.answers.iter().map(|a| a.key.as_str()).collect();
            return Err(SwitchboardError::BadAnswer {
                field: "answer",
                problem: format!(
                    "question {question:?} of campaign {campaign} has no answer {answer:?} (answers: {keys:?})"
                ),
            });
        }
        self.answers
            .entry(call)
            .or_default()
            .insert(question.to_owned(), answer.to_owned());
        self.outputs.push_back(Output::Record(Record::SurveyAnswer {
            call,
            question: question.to_owned(),
            key: None,
            value: answer.to_owned(),
            at: now,
        }));
        Ok(())
    }

    /// Whether a callback at `at` (wall time) falls inside the calling hours of the campaign of
    /// the call the agent wraps up (or is on), in the lead's local time (the campaign's zone
    /// when the lead has none). No call: nothing to check (the disposition itself is refused).
    pub fn callback_allowed(
        &self,
        now: Instant,
        agent: &str,
        at: jiff::Timestamp,
    ) -> Result<(), SwitchboardError> {
        let Some(screen) = self.agent_screen(now, agent)?.filter(|s| !s.preview) else {
            return Ok(());
        };
        let Some(rt) = self.campaigns.get(screen.campaign) else {
            return Ok(());
        };
        let hours = &rt.campaign.hours;
        let (zone, zone_name) = match screen
            .lead
            .timezone
            .as_deref()
            .and_then(|z| jiff::tz::TimeZone::get(z).ok().map(|tz| (tz, z)))
        {
            Some((tz, name)) => (tz, name.to_owned()),
            None => (hours.timezone.clone(), hours.timezone_name.clone()),
        };
        if hours.is_open(at, &zone) {
            return Ok(());
        }
        let local = at
            .to_zoned_datetime(zone)
            .strftime("%a %Y-%m-%d %H:%M")
            .to_string();
        let days: Vec<String> = hours
            .days
            .iter()
            .map(|d| format!("{d:?}")[..3].to_ascii_lowercase())
            .collect();
        Err(SwitchboardError::CallbackOutsideHours {
            problem: format!(
                "{local} in the lead's zone {zone_name} is outside campaign {}'s calling hours, {}–{} on {}",
                screen.campaign,
                hours.start.strftime("%H:%M"),
                hours.end.strftime("%H:%M"),
                days.join(", ")
            ),
        })
    }

    /// The answers an agent gave on `call` so far (question id → answer key).
    pub fn call_answers(&self, call: Option<CallKey>) -> &BTreeMap<String, String> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        call.and_then(|c| self.answers.get(&c)).unwrap_or(&NONE)
    }

    /// Every agent and its state.
    pub fn agent_views(&self, now: Instant) -> Vec<agents::AgentStatus> {
        self.agents.views(now)
    }

    /// Close every agent's open interval at `now` (shutdown).
    pub fn flush_agents(&mut self, now: Instant) {
        self.agents.flush(now);
        // The intervals are closed for good: the stop opens no new ones.
        self.flushed = true;
        self.pump_agents(now);
    }

    /// Agents may have come free: people waiting first, then leads to preview.
    pub(super) fn agents_freed(&mut self, now: Instant) {
        self.match_waiting(now);
        let names: Vec<String> = self
            .campaigns
            .iter()
            .filter(|(_, rt)| rt.campaign.mode == Mode::Preview)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            self.reserve(now, &name);
        }
    }

    /// Carry out what the agent registry asks for.
    pub(super) fn pump_agents(&mut self, now: Instant) {
        while let Some(event) = self.agents.poll_event() {
            match event {
                agents::Event::DialLeg(agent) => {
                    self.outputs.push_back(Output::DialAgent { agent })
                }
                agents::Event::HangupLeg(agent) => {
                    self.outputs.push_back(Output::HangUpAgent { agent })
                }
                agents::Event::Interval(i) => {
                    if i.state == State::WrapUp
                        && let Some(rt) = i
                            .call
                            .and_then(|_| self.wrapping.get(&i.agent))
                            .and_then(|w| self.campaigns.get_mut(&w.campaign))
                    {
                        rt.estimator
                            .observe(now, pacing::Observation::Wrap(i.end - i.start));
                    }
                    self.outputs.push_back(Output::Record(Record::Interval(i)));
                }
                agents::Event::CallOrphaned { call, .. } => {
                    // The agent's phone dropped mid-call: the customer is hung up on. A preview
                    // call still ringing is cancelled.
                    if let Some(c) = self.calls.get_mut(&call) {
                        if c.agent.is_none() && c.answered.is_none() && !c.sip_ended {
                            self.outputs.push_back(Output::HangUp { call });
                        }
                        c.agent = None;
                    }
                    self.feed_flow(now, call, flow::Input::AgentHangup);
                }
            }
        }
        // Wrap-ups that ended other than by a disposition: the agent's leg dropped, they
        // logged out, the wrap-up limit or the drain's deadline passed.
        let cut: Vec<AgentId> = self
            .wrapping
            .iter()
            .filter(|(a, w)| {
                self.disposing.as_ref() != Some(*a) && !self.agents.wrapping_up(a, w.call)
            })
            .map(|(a, _)| a.clone())
            .collect();
        for agent in cut {
            if let Some(w) = self.wrapping.remove(&agent) {
                self.wrap_up_cut(now, agent, w);
            }
        }
        // The state each agent is in now, stored as it begins (an open interval).
        let views = if self.flushed {
            Vec::new()
        } else {
            self.agents.views(now)
        };
        for v in views {
            // Exact: `elapsed` is `now` less the state's start.
            let since = now.checked_sub(v.elapsed).unwrap_or(now);
            let current = (v.state, since);
            let known = self.opened.get(&v.id).copied();
            let unstored = known.is_none() && v.state == State::LoggedOut;
            if known != Some(current) && !unstored {
                self.opened.insert(v.id.clone(), current);
                self.outputs.push_back(Output::Record(Record::AgentState {
                    agent: v.id,
                    state: v.state,
                    call: v.call,
                    since,
                }));
            }
        }
    }
}
