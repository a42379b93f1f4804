//! Preview campaigns: a lead reserved for a ready agent, dialed or skipped by them (or dialed
//! for them at `dialing.preview_timeout`), checked again while they look at it.

use super::*;

/// A lead reserved for an agent to preview, not dialed yet.
#[derive(Debug, Clone)]
pub(super) struct Preview {
    pub(super) campaign: String,
    pub(super) lead: Lead,
    /// When it is dialed for the agent (the campaign's `dialing.preview_timeout`).
    pub(super) auto_dial_at: Option<Instant>,
    /// When the lead was last found dialable (claimed or rechecked).
    pub(super) checked_at: Instant,
    /// A recheck is on its way.
    pub(super) checking: bool,
}

/// A lead an agent skipped is not offered to them again for this long.
pub(super) const SKIP_MEMORY: Duration = Duration::from_secs(15 * 60);
/// An automatic preview dial that found no free line tries again this much later.
pub(super) const AUTO_DIAL_RETRY: Duration = Duration::from_secs(1);

impl Switchboard {
    /// The agent dials the lead they preview. The call goes to them only.
    pub fn agent_dial(&mut self, now: Instant, agent: &str) -> Result<(), SwitchboardError> {
        let view = self.agents.view(now, agent)?;
        let Some(p) = self.previews.get(agent) else {
            return Err(match (view.state, view.call) {
                (State::Preview, Some(_)) => agents::AgentError::PreviewDialed {
                    agent: AgentId::from(agent),
                    action: "dial",
                }
                .into(),
                _ => SwitchboardError::NoPreview(AgentId::from(agent)),
            });
        };
        if view.state != State::Preview || view.call.is_some() {
            return Err(SwitchboardError::NoPreview(AgentId::from(agent)));
        }
        let name = p.campaign.clone();
        let Some(rt) = self.campaigns.get(&name) else {
            return Err(SwitchboardError::UnknownCampaign(name));
        };
        let campaign_calls = self.calls.values().filter(|c| c.campaign == name).count() as u32;
        let trunk_free = self
            .trunks
            .get(&rt.campaign.trunk)
            .map(|t| t.limits.max_channels.saturating_sub(t.active))
            .unwrap_or(0);
        if campaign_calls >= rt.campaign.dialing.max_concurrent || trunk_free == 0 {
            return Err(SwitchboardError::NoLine { campaign: name });
        }
        let Some(p) = self.previews.remove(agent) else {
            return Err(SwitchboardError::NoPreview(AgentId::from(agent)));
        };
        let Some(rt) = self.campaigns.get_mut(&name) else {
            return Err(SwitchboardError::UnknownCampaign(name));
        };
        // The CPS limiters may go below zero for a moment: the SIP driver spaces the INVITEs.
        rt.bucket.refill(now);
        rt.bucket.take(1);
        rt.dials += 1;
        let campaign = rt.campaign.clone();
        let campaign_id = rt.id;
        if let Some(t) = self.trunks.get_mut(&campaign.trunk) {
            t.bucket.refill(now);
            t.bucket.take(1);
            t.active += 1;
        }
        let call = self.place(
            now,
            &campaign,
            campaign_id,
            p.lead,
            Some(AgentId::from(agent)),
        );
        self.agents.preview_dialed(agent, call)?;
        Ok(())
    }

    /// The agent skips the lead they preview: it is given back unchanged (and not offered to
    /// them again for a while), and the next one is reserved for them.
    pub fn agent_skip(&mut self, now: Instant, agent: &str) -> Result<(), SwitchboardError> {
        let view = self.agents.view(now, agent)?;
        let Some(p) = self.previews.remove(agent) else {
            return Err(match (view.state, view.call) {
                (State::Preview, Some(_)) => agents::AgentError::PreviewDialed {
                    agent: AgentId::from(agent),
                    action: "skip",
                }
                .into(),
                _ => SwitchboardError::NoPreview(AgentId::from(agent)),
            });
        };
        self.outputs
            .push_back(Output::Release { lead_id: p.lead.id });
        let skipped = self.skipped.entry(AgentId::from(agent)).or_default();
        skipped.push_back((now, p.lead.id));
        if skipped.len() > 1000 {
            skipped.pop_front();
        }
        self.agents.preview_ended(now, agent)?;
        self.pump_agents(now);
        self.agents_freed(now);
        Ok(())
    }

    /// Agents of running preview campaigns that have leads to give (or may get some).
    pub(super) fn previewers(&self, now: Instant) -> std::collections::HashSet<AgentId> {
        self.campaigns
            .values()
            .filter(|rt| {
                rt.campaign.mode == Mode::Preview
                    && rt.control == CampaignControl::Running
                    && !self.draining
                    && (!rt.exhausted || !rt.leads.is_empty())
            })
            .flat_map(|rt| self.agents.views_in(now, &rt.campaign.agent_groups))
            .map(|v| v.id)
            .collect()
    }

    /// Give back the previews (not dialed yet) that `which` selects. Their agents stay in
    /// preview until [`Self::tidy_previews`] (or the caller) ends it.
    pub(super) fn drop_previews(&mut self, which: impl Fn(&AgentId, &Preview) -> bool) {
        let gone: Vec<AgentId> = self
            .previews
            .iter()
            .filter(|(a, p)| which(a, p))
            .map(|(a, _)| a.clone())
            .collect();
        for agent in gone {
            if let Some(p) = self.previews.remove(&agent) {
                self.outputs
                    .push_back(Output::Release { lead_id: p.lead.id });
            }
        }
    }

    /// Previews of campaigns that no longer preview (stopped, paused, removed, another mode,
    /// draining) are given back; agents previewing nothing are ready again. Skips forgotten.
    pub(super) fn tidy_previews(&mut self, now: Instant) {
        let draining = self.draining;
        let campaigns = &self.campaigns;
        let usable = |p: &Preview| {
            !draining
                && campaigns.get(&p.campaign).is_some_and(|rt| {
                    rt.control == CampaignControl::Running && rt.campaign.mode == Mode::Preview
                })
        };
        let stale: Vec<AgentId> = self
            .previews
            .iter()
            .filter(|(_, p)| !usable(p))
            .map(|(a, _)| a.clone())
            .collect();
        self.drop_previews(|a, _| stale.contains(a));
        let idle: Vec<AgentId> = self
            .agents
            .views(now)
            .into_iter()
            .filter(|v| v.state == State::Preview && v.call.is_none())
            .filter(|v| !self.previews.contains_key(&v.id))
            .map(|v| v.id)
            .collect();
        for agent in idle {
            let _ = self.agents.preview_ended(now, &agent);
        }
        self.pump_agents(now);
        for skipped in self.skipped.values_mut() {
            while skipped
                .front()
                .is_some_and(|(at, _)| now.saturating_duration_since(*at) > SKIP_MEMORY)
            {
                skipped.pop_front();
            }
        }
        self.skipped.retain(|_, s| !s.is_empty());
    }

    /// Reserve leads of preview campaign `name` for its ready agents (longest waiting first),
    /// and claim what is missing, plus one lead to spare so the next agent to come free gets one
    /// at once.
    pub(super) fn reserve(&mut self, now: Instant, name: &str) {
        if self.draining {
            return;
        }
        let Some(rt) = self.campaigns.get(name) else {
            return;
        };
        if rt.control != CampaignControl::Running || rt.campaign.mode != Mode::Preview {
            return;
        }
        let views = self.agents.views_in(now, &rt.campaign.agent_groups);
        let working = views
            .iter()
            .any(|v| v.state.is_logged_in() && v.state != State::Paused);
        let mut ready: Vec<agents::AgentStatus> = views
            .into_iter()
            .filter(|v| v.state == State::Ready)
            .collect();
        ready.sort_by(|a, b| b.elapsed.cmp(&a.elapsed).then_with(|| a.id.cmp(&b.id)));
        let mut unserved = 0;
        for v in ready {
            let skipped = self.skipped.get(&v.id);
            let Some(rt) = self.campaigns.get_mut(name) else {
                return;
            };
            let usable = rt
                .leads
                .iter()
                .position(|(_, l)| !skipped.is_some_and(|s| s.iter().any(|(_, id)| *id == l.id)));
            let Some((claimed_at, lead)) = usable.and_then(|i| rt.leads.remove(i)) else {
                unserved += 1;
                continue;
            };
            if self.agents.preview(now, &v.id, rt.id).is_err() {
                rt.leads.push_front((claimed_at, lead));
                continue;
            }
            let auto_dial_at = rt.campaign.dialing.preview_timeout.map(|t| now + t);
            self.previews.insert(
                v.id.clone(),
                Preview {
                    campaign: name.to_owned(),
                    lead,
                    auto_dial_at,
                    checked_at: claimed_at,
                    checking: false,
                },
            );
        }
        self.pump_agents(now);
        let Some(rt) = self.campaigns.get_mut(name) else {
            return;
        };
        let spare = usize::from(working);
        // Leads left in hand were all skipped by the agents still waiting: claim others.
        let want = if unserved > 0 {
            unserved + spare
        } else {
            spare.saturating_sub(rt.leads.len())
        };
        if want > 0 && !rt.claiming {
            rt.claiming = true;
            self.outputs.push_back(Output::Claim {
                campaign: name.to_owned(),
                campaign_id: rt.id,
                n: want,
            });
        }
    }
}
