//! Dialing: asking a campaign's pacer, placing the dials it allows within the campaign's and
//! trunk's limits, claiming more leads, giving back stale ones.

use super::*;

impl Switchboard {
    /// The campaigns (this one included) whose agents overlap this one's; agentless campaigns
    /// share with nobody.
    pub(super) fn sharing(&self, now: Instant, name: &str) -> std::collections::HashSet<String> {
        let agentless = |c: &Campaign| c.mode == Mode::Agentless;
        let mut out = std::collections::HashSet::from([name.to_owned()]);
        let Some(me) = self.campaigns.get(name) else {
            return out;
        };
        if agentless(&me.campaign) {
            return out;
        }
        let ids = |groups: &[String]| -> std::collections::HashSet<AgentId> {
            self.agents
                .views_in(now, groups)
                .into_iter()
                .map(|v| v.id)
                .collect()
        };
        let mine = ids(&me.campaign.agent_groups);
        for (other, rt) in &self.campaigns {
            if other != name
                && !agentless(&rt.campaign)
                && !ids(&rt.campaign.agent_groups).is_disjoint(&mine)
            {
                out.insert(other.clone());
            }
        }
        out
    }

    pub(super) fn release_stale(&mut self, now: Instant, name: &str) {
        let Some(rt) = self.campaigns.get_mut(name) else {
            return;
        };
        while rt
            .leads
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > LEAD_STALE)
        {
            if let Some((_, lead)) = rt.leads.pop_front() {
                self.outputs.push_back(Output::Release { lead_id: lead.id });
            }
        }
    }

    /// Forget a call whose INVITE never left and whose attempt was not stored: its trunk slot
    /// and lead go back (the lead unchanged: no attempt counted), and a previewing agent
    /// previews again.
    pub(super) fn forget_undialed(&mut self, now: Instant, call: CallKey) {
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        self.queue.retain(|k| *k != call);
        if let Some(t) = self.trunks.get_mut(&c.trunk) {
            t.active = t.active.saturating_sub(1);
        }
        self.outputs
            .push_back(Output::Release { lead_id: c.lead.id });
        if let Some(agent) = &c.preview
            && self
                .agents
                .view(now, agent)
                .is_ok_and(|v| v.state == State::Preview && v.call == Some(call))
        {
            let _ = self.agents.preview_ended(now, agent);
            self.pump_agents(now);
            self.agents_freed(now);
        }
    }

    /// Ask the campaign's pacer and dial what it says, with the leads at hand; claim more.
    pub(super) fn dial(&mut self, now: Instant, name: &str) {
        if self.draining || self.local_fault {
            return;
        }
        let Some(rt) = self.campaigns.get(name) else {
            return;
        };
        if rt.control != CampaignControl::Running {
            return;
        }
        let groups = rt.campaign.agent_groups.clone();
        // Ready agents about to preview a lead of theirs take no call of another campaign
        // (unless a person is already waiting as they come free).
        let previewers = if rt.campaign.mode == Mode::Preview {
            std::collections::HashSet::new()
        } else {
            self.previewers(now)
        };
        let agent_views: Vec<pacing::AgentView> = self
            .agents
            .views_in(now, &groups)
            .into_iter()
            .filter_map(|a| match a.state {
                State::Ready if previewers.contains(&a.id) => Some(pacing::AgentView::Paused),
                State::Ready => Some(pacing::AgentView::Ready),
                State::OnCall => Some(pacing::AgentView::Talking { elapsed: a.elapsed }),
                State::WrapUp => Some(pacing::AgentView::Wrapping { elapsed: a.elapsed }),
                // A previewing agent takes no call but the one they dial.
                State::Paused | State::Preview => Some(pacing::AgentView::Paused),
                State::LoggedOut | State::Connecting => None,
            })
            .collect();
        // Calls of every campaign that shares an agent with this one compete for the same
        // agents: count them all, or two campaigns dial twice for one free agent.
        let sharing = self.sharing(now, name);
        let (call_keys, call_views): (Vec<CallKey>, Vec<pacing::CallView>) = self
            .calls
            .iter()
            .filter(|(_, c)| {
                sharing.contains(&c.campaign)
                    && c.agent.is_none()
                    && c.preview.is_none()
                    && c.summary.is_none()
                    && c.shed_at.is_none()
            })
            .map(|(&k, c)| (k, c))
            .map(|(k, c)| {
                (
                    k,
                    match (c.answered, c.waiting_since) {
                        (_, Some(since)) => pacing::CallView::Waiting {
                            elapsed: now.saturating_duration_since(since),
                        },
                        (Some(at), None) => pacing::CallView::Screening {
                            elapsed: now.saturating_duration_since(at),
                        },
                        (None, None) => pacing::CallView::Ringing {
                            elapsed: now.saturating_duration_since(c.dialed),
                        },
                    },
                )
            })
            .unzip();
        let campaign_calls = self.calls.values().filter(|c| c.campaign == name).count() as u32;
        let trunk_name = rt.campaign.trunk.clone();
        let Some(rt) = self.campaigns.get_mut(name) else {
            return;
        };
        rt.bucket.refill(now);
        let (trunk_free, trunk_tokens) = match self.trunks.get_mut(&trunk_name) {
            Some(t) => {
                t.bucket.refill(now);
                (
                    t.limits.max_channels.saturating_sub(t.active),
                    t.bucket.available(),
                )
            }
            None => (0, 0),
        };
        let limits = Limits {
            channels_free: rt
                .campaign
                .dialing
                .max_concurrent
                .saturating_sub(campaign_calls)
                .min(trunk_free),
            dial_tokens: rt.bucket.available().min(trunk_tokens),
        };
        rt.estimator.advance(now);
        let estimates = rt.estimator.estimates();
        // No end to cut the projection at: a rolling 30 days goes on past today's calls, and
        // when a campaign stops dialing for the day is not known here (open: a calendar-day
        // window near its calling hours' end counts up to half an hour that will not come).
        let more = rt.live_rate.expected_more(now, None);
        rt.budget.set_expected_more(more);
        let snapshot = Snapshot {
            agents: &agent_views,
            calls: &call_views,
            estimates: &estimates,
            budget: &rt.budget,
            limits,
        };
        let decision = rt.pacer.decide(now, &snapshot);
        rt.last_decision = if decision.shed.is_empty() {
            format!("{} dials: {}", decision.dials, decision.reason)
        } else {
            format!(
                "{} dials, {} ringing calls shed: {}",
                decision.dials,
                decision.shed.len(),
                decision.reason
            )
        };
        let dials = (decision.dials as usize).min(rt.leads.len());
        let wanted_more = decision.dials as usize - dials;
        let mut placed = Vec::with_capacity(dials);
        for _ in 0..dials {
            if let Some((_, lead)) = rt.leads.pop_front() {
                placed.push(lead);
            }
        }
        rt.bucket.take(placed.len() as u32);
        rt.dials += placed.len() as u64;
        if wanted_more > 0 && !rt.claiming {
            rt.claiming = true;
            self.outputs.push_back(Output::Claim {
                campaign: name.to_owned(),
                campaign_id: rt.id,
                n: wanted_more,
            });
        }
        let campaign = rt.campaign.clone();
        let campaign_id = rt.id;
        if let Some(t) = self.trunks.get_mut(&trunk_name) {
            t.bucket.take(placed.len() as u32);
            t.active += placed.len() as u32;
        }
        // Hang up the calls the pacer sheds. A call of a campaign sharing the agents competes
        // for them as much as our own, and goes too when its own campaign sheds (predictive,
        // rung past its `shed_after`); the others stay (and the dials were chosen as if they
        // went: a little more than the model would).
        for &i in &decision.shed {
            let Some(&key) = call_keys.get(i) else {
                continue;
            };
            let Some(c) = self.calls.get(&key) else {
                continue;
            };
            let own_rule = self.campaigns.get(&c.campaign).and_then(|rt| {
                (rt.campaign.mode == Mode::Predictive)
                    .then_some(rt.campaign.dialing.shed_after)
                    .flatten()
            });
            let may = c.campaign == name
                || own_rule.is_some_and(|after| now.saturating_duration_since(c.dialed) >= after);
            if let Some(c) = self.calls.get_mut(&key)
                && may
                && c.answered.is_none()
                && !c.sip_ended
            {
                c.shed_at = Some(now);
                self.outputs.push_back(Output::HangUp { call: key });
            }
        }
        for lead in placed {
            self.place(now, &campaign, campaign_id, lead, None);
        }
        if campaign.mode == Mode::Preview {
            self.reserve(now, name);
        }
    }

    /// Place a call to `lead`; `preview`: the agent who dialed it from their preview.
    pub(super) fn place(
        &mut self,
        now: Instant,
        campaign: &Arc<Campaign>,
        campaign_id: CampaignId,
        lead: Lead,
        preview: Option<AgentId>,
    ) -> CallKey {
        let call = self.next_call;
        self.next_call = call.next();
        let settings = flow_settings(campaign);
        // The censored estimate counts the dial as ringing until its outcome comes.
        if let Some(rt) = self.campaigns.get_mut(&campaign.name) {
            rt.estimator
                .observe(now, pacing::Observation::Placed { dialed: now });
        }
        self.outputs
            .push_back(Output::Record(Record::AttemptStarted {
                call,
                campaign_id,
                lead_id: lead.id,
                trunk: campaign.trunk.clone(),
                agent: preview.clone(),
                sip_call_id: None,
                at: now,
            }));
        self.outputs.push_back(Output::Dial(Dial {
            call,
            campaign: campaign.name.clone(),
            campaign_id,
            lead: lead.clone(),
            trunk: campaign.trunk.clone(),
            caller_id: campaign.caller_id.clone(),
            ring_timeout: campaign.dialing.ring_timeout,
        }));
        self.calls.insert(
            call,
            CallRt {
                campaign: campaign.name.clone(),
                campaign_id,
                lead,
                trunk: campaign.trunk.clone(),
                flow: Flow::new(now, settings),
                dialed: now,
                answered: None,
                waiting_since: None,
                agent: None,
                bridged_at: None,
                summary: None,
                sip_ended: false,
                preview,
                shed_at: None,
                person_counted: false,
                abandon_counted: false,
                stored: Step::default(),
            },
        );
        call
    }
}
