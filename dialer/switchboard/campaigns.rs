//! Campaigns in the switchboard: adding and replacing them (reload), the supervisor's
//! [`CampaignControl`], and the status the API shows.

use super::*;

/// A campaign as the API and the terminal show it.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignStatus {
    pub name: String,
    pub mode: String,
    pub control: CampaignControl,
    pub calls_in_flight: usize,
    pub waiting_for_agent: usize,
    pub dials: u64,
    pub live_answers: u64,
    pub abandoned: u64,
    /// AMD "machine" results in the abandon window.
    pub amd_machines: u64,
    pub abandon_rate: f64,
    pub abandon_cap: f64,
    pub last_decision: String,
    /// Its lists and leads (the daemon's loop fills it in; empty here).
    pub leads: crate::leads::status::LeadsStatus,
    /// The wallboard's figures (the daemon's loop fills them in; zero here).
    pub wallboard: Wallboard,
}

/// A campaign's figures on the wallboard.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Wallboard {
    /// Share of the campaign's available agents' time (ready, previewing, on a call, in
    /// wrap-up) spent previewing, on a call or in wrap-up, over the shift so far.
    pub occupancy: f64,
    /// Calls in flight per available agent of the campaign's groups, now.
    pub lines_per_agent: f64,
}

#[derive(Debug)]
pub(super) struct CampaignRt {
    pub(super) campaign: Arc<Campaign>,
    pub(super) id: CampaignId,
    pub(super) control: CampaignControl,
    pub(super) pacer: Pacer,
    pub(super) estimator: Estimator,
    pub(super) budget: AbandonBudget,
    /// The recent live answers, from which the budget is told the answers still to come.
    pub(super) live_rate: LiveRate,
    pub(super) bucket: Bucket,
    /// Claimed leads not dialed yet, with when they arrived.
    pub(super) leads: VecDeque<(Instant, Lead)>,
    pub(super) claiming: bool,
    /// The last claim found nothing to dial.
    pub(super) exhausted: bool,
    pub(super) dials: u64,
    pub(super) last_decision: String,
}

impl Switchboard {
    /// Add a campaign, or replace its settings (reload). Calls in progress keep the settings
    /// they started with; new dials use the new ones. `history` seeds the abandon budget
    /// from the store so a restart does not reset it; a reload with the same abandon window
    /// keeps the running counts.
    pub fn upsert_campaign(
        &mut self,
        campaign: Arc<Campaign>,
        id: CampaignId,
        history: pacing::WindowCounts,
    ) {
        let cap = campaign.abandon.cap;
        let fp = amd_false_positive_estimate(&campaign);
        match self.campaigns.get_mut(&campaign.name) {
            Some(rt) => {
                if rt.campaign.mode != campaign.mode
                    || rt.campaign.dialing.shed_after != campaign.dialing.shed_after
                    || rt.campaign.dialing.shed_factor != campaign.dialing.shed_factor
                {
                    rt.pacer = pacer_for(&campaign);
                }
                rt.bucket = Bucket::new(campaign.dialing.calls_per_second);
                // The same window keeps what it counted, calls that ended since the store was
                // read included; a different window (or zone) starts from the store's counts.
                let same_window = rt.campaign.abandon.window == campaign.abandon.window
                    && rt.campaign.hours.timezone_name == campaign.hours.timezone_name;
                rt.budget = if same_window {
                    rt.budget.with_rules(cap, fp)
                } else {
                    AbandonBudget::from_history(cap, fp, history)
                };
                rt.campaign = campaign;
            }
            None => {
                let control = if campaign.enabled {
                    CampaignControl::Running
                } else {
                    CampaignControl::Stopped
                };
                let priors = priors(&campaign);
                self.campaigns.insert(
                    campaign.name.clone(),
                    CampaignRt {
                        id,
                        control,
                        pacer: pacer_for(&campaign),
                        estimator: Estimator::new(&priors),
                        budget: AbandonBudget::from_history(cap, fp, history),
                        live_rate: LiveRate::default(),
                        bucket: Bucket::new(campaign.dialing.calls_per_second),
                        leads: VecDeque::new(),
                        claiming: false,
                        exhausted: false,
                        dials: 0,
                        last_decision: "not started".to_owned(),
                        campaign,
                    },
                );
            }
        }
    }

    /// What a campaign's abandon window has counted so far ([`AbandonBudget::counts`]).
    pub fn window_counts(&self, name: &str) -> Option<pacing::WindowCounts> {
        self.campaigns.get(name).map(|rt| rt.budget.counts())
    }

    /// A campaign's abandon window moved on: its budget restarts from `stored`, the store's
    /// counts for the window now, read after `before` was taken ([`AbandonBudget::rolled`]).
    pub fn roll_window(
        &mut self,
        name: &str,
        stored: pacing::WindowCounts,
        before: pacing::WindowCounts,
    ) {
        if let Some(rt) = self.campaigns.get_mut(name) {
            rt.budget = rt.budget.rolled(stored, before);
        }
    }

    /// Remove a campaign whose file is gone: no new dials; its calls finish.
    pub fn remove_campaign(&mut self, name: &str) {
        if let Some(mut rt) = self.campaigns.remove(name) {
            for (_, lead) in rt.leads.drain(..) {
                self.outputs.push_back(Output::Release { lead_id: lead.id });
            }
        }
        self.drop_previews(|_, p| p.campaign == name);
    }

    pub fn control(
        &mut self,
        name: &str,
        control: CampaignControl,
    ) -> Result<(), SwitchboardError> {
        let rt = self
            .campaigns
            .get_mut(name)
            .ok_or_else(|| SwitchboardError::UnknownCampaign(name.to_owned()))?;
        rt.control = control;
        if control != CampaignControl::Running {
            for (_, lead) in rt.leads.drain(..) {
                self.outputs.push_back(Output::Release { lead_id: lead.id });
            }
            // Previews not dialed yet are given back; their agents are ready at the next tick.
            self.drop_previews(|_, p| p.campaign == name);
        }
        Ok(())
    }

    pub fn campaign_status(&self) -> Vec<CampaignStatus> {
        self.campaigns
            .iter()
            .map(|(name, rt)| {
                let calls: Vec<&CallRt> = self
                    .calls
                    .values()
                    .filter(|c| &c.campaign == name)
                    .collect();
                CampaignStatus {
                    name: name.clone(),
                    mode: rt.pacer.mode().to_string(),
                    control: rt.control,
                    calls_in_flight: calls.len(),
                    waiting_for_agent: calls.iter().filter(|c| c.flow.wants_agent()).count(),
                    dials: rt.dials,
                    live_answers: rt.budget.live_answers().round() as u64,
                    abandoned: rt.budget.abandoned().round() as u64,
                    amd_machines: rt.budget.amd_machines(),
                    abandon_rate: rt.budget.rate(),
                    abandon_cap: rt.budget.cap(),
                    last_decision: rt.last_decision.clone(),
                    leads: Default::default(),
                    wallboard: Wallboard::default(),
                }
            })
            .collect()
    }

    /// The agents of the campaign's groups (none for a campaign without groups).
    pub fn campaign_agents(&self, now: Instant, name: &str) -> Vec<agents::AgentStatus> {
        match self.campaigns.get(name) {
            Some(rt) if !rt.campaign.agent_groups.is_empty() => {
                self.agents.views_in(now, &rt.campaign.agent_groups)
            }
            _ => Vec::new(),
        }
    }

    /// The settings a campaign's calls run with now.
    pub fn campaign(&self, name: &str) -> Option<Arc<Campaign>> {
        self.campaigns.get(name).map(|rt| rt.campaign.clone())
    }

    /// The campaigns' names.
    pub fn campaign_names(&self) -> Vec<String> {
        self.campaigns.keys().cloned().collect()
    }

    /// The AMD settings of a call's campaign.
    pub fn amd_settings(&self, call: CallKey) -> Option<crate::amd::Settings> {
        let c = self.calls.get(&call)?;
        let rt = self.campaigns.get(&c.campaign)?;
        Some(rt.campaign.amd.detector.clone())
    }
}
