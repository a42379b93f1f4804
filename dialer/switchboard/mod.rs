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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::agents::{self, AgentId, Agents, State};
use crate::campaign::{Campaign, Mode};
use crate::flow::survey::SurveyPrompt;
use crate::flow::{self, Action, AmdResult, Flow, OnMachine, Prompt, Summary};
use crate::pacing::{self, AbandonBudget, Estimator, Limits, Pacer, Snapshot};

/// The daemon's handle on one call of a campaign.
pub type CallKey = u64;

/// A lead claimed for dialing (leased to this daemon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    pub id: i64,
    /// E.164.
    pub phone: String,
    pub timezone: Option<String>,
    /// JSON object of the list's other columns (the agent's screen pop).
    pub attributes: String,
    /// Attempts before this one.
    pub attempts: i32,
}

/// What happened, as the shell learned it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The pacing tick (every 100–250 ms).
    Tick,
    /// Leads claimed for a campaign (after [`Output::Claim`]).
    Leads {
        campaign: String,
        leads: Vec<Lead>,
    },
    /// A claim found nothing or failed: the campaign may claim again.
    ClaimDone {
        campaign: String,
    },
    /// 180/183.
    Ringing {
        call: CallKey,
    },
    /// 2xx: the customer's media is up.
    Answered {
        call: CallKey,
    },
    /// The SIP call is over. Before an answer, `outcome` says why (busy, no_answer, …).
    CallEnded {
        call: CallKey,
        outcome: String,
        sip_status: Option<u16>,
    },
    /// AMD heard the person start speaking (the start of their first word, at `at`).
    SpeechStarted {
        call: CallKey,
        at: Instant,
    },
    /// The AMD decision on the customer's audio; `speech_end`: when the person's speech ended
    /// as the detector saw it (the arrival of its last voice frame; `None`: nobody spoke).
    Amd {
        call: CallKey,
        result: AmdResult,
        cause: String,
        speech_end: Option<Instant>,
    },
    /// The voicemail beep, or the machine's greeting ended.
    Beep {
        call: CallKey,
    },
    /// A message ended playing (by itself, not stopped).
    PromptFinished {
        call: CallKey,
    },
    /// A message could not be played (unreadable file, no media leg).
    PromptFailed {
        call: CallKey,
    },
    /// The customer pressed a key.
    Dtmf {
        call: CallKey,
        digit: char,
    },
    /// No RTP from the customer for too long: treated as a hang-up.
    MediaTimeout {
        call: CallKey,
    },
    /// The agent's nailed-up leg answered / dropped.
    AgentLegUp {
        agent: AgentId,
    },
    AgentLegDown {
        agent: AgentId,
    },
    /// The answer to [`Output::Recheck`]: `refusal` says why the lead may not be dialed now
    /// (`None`: it may, and its lease was renewed).
    Rechecked {
        lead_id: i64,
        refusal: Option<String>,
    },
    /// A dial failed here before its INVITE left, for a local reason (no socket, no port, out
    /// of file descriptors), and its attempt was not stored: the call is forgotten, its lead
    /// given back unchanged, and no campaign dials until [`Input::LocalResourcesBack`].
    DialFailedLocally {
        call: CallKey,
    },
    /// The shell could open what a dial needs again: dialing resumes.
    LocalResourcesBack,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Claim up to `n` dialable leads of the campaign (answer with [`Input::Leads`] or
    /// [`Input::ClaimDone`]).
    Claim {
        campaign: String,
        campaign_id: i64,
        n: usize,
    },
    /// Give a claimed lead back undialed (campaign paused, stopped or draining; lead went stale;
    /// a preview skipped).
    Release { lead_id: i64 },
    /// Check a lead reserved for an agent's preview again (calling hours, DNC, …) and renew its
    /// lease; answer with [`Input::Rechecked`].
    Recheck { campaign: String, lead_id: i64 },
    /// Dial a lead.
    Dial(Dial),
    /// Hang up the customer's call (CANCEL or BYE).
    HangUp { call: CallKey },
    /// Feed the customer's audio to AMD.
    StartAmd { call: CallKey },
    /// Play a WAV file to the customer.
    Play { call: CallKey, file: PathBuf },
    /// Stop what is being played to the customer.
    StopPrompt { call: CallKey },
    /// Bridge the customer's media to the agent's nailed-up leg.
    Bridge {
        call: CallKey,
        agent: AgentId,
        record: bool,
    },
    /// Undo a bridge (the call ended).
    Unbridge { call: CallKey },
    /// Call the agent's phone and keep the leg up.
    DialAgent { agent: AgentId },
    /// Hang up the agent's leg.
    HangUpAgent { agent: AgentId },
    /// Something to store.
    Record(Record),
    /// A live answer was abandoned just now (no agent within the connect limit, the person hung
    /// up waiting, or our hang-up crossed the answer): counted at once, not when the call ends.
    Abandoned { call: CallKey },
}

/// A dial to place.
#[derive(Debug, Clone, PartialEq)]
pub struct Dial {
    pub call: CallKey,
    pub campaign: String,
    pub campaign_id: i64,
    pub lead: Lead,
    pub trunk: String,
    pub caller_id: String,
    pub ring_timeout: Duration,
}

/// What the store writer keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A dial started (written before the INVITE leaves).
    AttemptStarted {
        call: CallKey,
        campaign_id: i64,
        lead_id: i64,
        trunk: String,
        /// The agent who dialed it (preview); the one who talked is in the summary.
        agent: Option<AgentId>,
        /// The SIP Call-ID its INVITE will carry. The core draws no random numbers: it leaves
        /// this `None` and the shell names the Call-ID before the row is written.
        sip_call_id: Option<String>,
        at: Instant,
    },
    /// The call is over: the attempt's row and what it does to the lead.
    AttemptEnded {
        call: CallKey,
        campaign_id: i64,
        lead_id: i64,
        summary: Summary,
        effect: LeadEffect,
        /// An agent talked with the person (Regulation F counts conversations).
        conversation: bool,
    },
    /// A step of a call in progress (answer, AMD decision, person, connect, abandon, message),
    /// written as it happens: after a crash the attempt keeps what was known of it.
    AttemptProgress { call: CallKey, step: Step },
    /// An agent entered a state at `since` (its interval is open until [`Record::Interval`]
    /// closes it): after a crash the restart finds the open interval and closes it.
    /// `LoggedOut` opens none.
    AgentState {
        agent: AgentId,
        state: State,
        call: Option<CallKey>,
        since: Instant,
    },
    /// An agent state interval ended.
    Interval(agents::Interval),
    /// An agent's disposition on the lead of a call.
    Disposition {
        campaign_id: i64,
        lead_id: i64,
        call: CallKey,
        agent: AgentId,
        code: String,
        notes: Option<String>,
        effect: LeadEffect,
        /// The disposition counts as a conversation (Regulation F).
        conversation: bool,
        at: Instant,
    },
    /// A wrap-up cut short by the drain deadline, with no disposition: the lead is released at
    /// once with the call's outcome and due again per `effect`, counted from `since` (the
    /// call's end).
    WrapUpCut {
        campaign_id: i64,
        lead_id: i64,
        call: CallKey,
        agent: AgentId,
        /// The call's outcome (the attempt's row has it already).
        outcome: String,
        effect: LeadEffect,
        since: Instant,
        at: Instant,
    },
    /// A survey answer given on a call (its attempt's row exists by then).
    SurveyAnswer {
        call: CallKey,
        question: String,
        key: char,
        value: String,
        at: Instant,
    },
}

/// What is known of a call in progress, as stored on its attempt before it ends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub ringing: Option<Instant>,
    pub answered: Option<Instant>,
    pub amd: Option<(AmdResult, String)>,
    /// When the call was recognised as a person or machine.
    pub decided: Option<Instant>,
    pub connected: Option<Instant>,
    /// The agent connected to the person.
    pub agent: Option<AgentId>,
    /// A person answered: a live answer in the abandon window from now on.
    pub live: bool,
    /// The person was abandoned (no agent within the connect limit, or hung up waiting).
    pub abandoned: bool,
    /// When the message to the customer started playing.
    pub message_at: Option<Instant>,
}

impl Step {
    /// What `c` has come to so far.
    fn of(c: &CallRt) -> Step {
        let s = c.flow.summary();
        Step {
            ringing: s.ringing,
            answered: s.answered,
            amd: s.amd.clone(),
            decided: s.decided,
            connected: s.connected,
            agent: s.agent.clone(),
            live: c.person_counted,
            abandoned: c.abandon_counted || s.abandoned,
            message_at: s.message_at,
        }
    }

    /// The same facts worth a write (ringing alone is not: it is stored with the next step or
    /// the end).
    fn same_facts(&self, o: &Step) -> bool {
        Step {
            ringing: None,
            ..self.clone()
        } == Step {
            ringing: None,
            ..o.clone()
        }
    }
}

/// What an outcome does to its lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadEffect {
    /// `active` (dial again later), `done`, `invalid`, `dnc`.
    pub status: &'static str,
    /// When it may be dialed again, if it may.
    pub retry_after: Option<Duration>,
    /// A callback asked for, this far from now.
    pub callback_after: Option<Duration>,
}

/// Requests refused by the core (the API turns them into JSON errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwitchboardError {
    #[error(transparent)]
    Agent(#[from] agents::AgentError),
    #[error("no campaign named {0:?}")]
    UnknownCampaign(String),
    #[error("agent {0} has no call")]
    NoCall(AgentId),
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
}

/// A supervisor's control of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Dialing.
    Running,
    /// No new dials; calls in progress go on.
    Paused,
    /// No new dials; claimed leads given back.
    Stopped,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Running => "running",
            Control::Paused => "paused",
            Control::Stopped => "stopped",
        }
    }
}

/// A campaign as the API and the terminal show it.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignStatus {
    pub name: String,
    pub mode: String,
    pub control: Control,
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
}

/// A trunk's limits and use, shared by the campaigns on it.
#[derive(Debug, Clone)]
pub struct TrunkLimits {
    pub max_channels: u32,
    pub calls_per_second: f64,
}

#[derive(Debug)]
struct TrunkRt {
    limits: TrunkLimits,
    active: u32,
    bucket: Bucket,
}

/// A token bucket driven by `now` (what the pacer may plan with; the SIP driver's governor
/// limiter enforces the same rate at the socket).
#[derive(Debug, Clone)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        let burst = rate.max(1.0);
        Self {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.last = Some(now);
    }

    fn available(&self) -> u32 {
        self.tokens.floor().max(0.0) as u32
    }

    fn take(&mut self, n: u32) {
        self.tokens -= f64::from(n);
    }
}

#[derive(Debug)]
struct CampaignRt {
    campaign: Arc<Campaign>,
    id: i64,
    control: Control,
    pacer: Pacer,
    estimator: Estimator,
    budget: AbandonBudget,
    bucket: Bucket,
    /// Claimed leads not dialed yet, with when they arrived.
    leads: VecDeque<(Instant, Lead)>,
    claiming: bool,
    /// The last claim found nothing to dial.
    exhausted: bool,
    dials: u64,
    last_decision: String,
}

#[derive(Debug)]
struct CallRt {
    campaign: String,
    campaign_id: i64,
    lead: Lead,
    trunk: String,
    flow: Flow,
    dialed: Instant,
    answered: Option<Instant>,
    /// Since when the person waits for an agent.
    waiting_since: Option<Instant>,
    agent: Option<AgentId>,
    bridged_at: Option<Instant>,
    summary: Option<Summary>,
    /// The SIP side is over (no more hang-up to send).
    sip_ended: bool,
    /// The agent who dialed it from a preview: only they take it.
    preview: Option<AgentId>,
    /// When the pacer had it hung up while still ringing (shed): it ends as `shed`, and the
    /// pacer sees it no more.
    shed_at: Option<Instant>,
    /// The person was counted (live answer, hit) when the flow first asked for an agent, not
    /// at the call's end minutes later.
    person_counted: bool,
    /// The abandon was counted as it happened ([`Action::Abandoned`]).
    abandon_counted: bool,
    /// What was last sent to the store as the call's progress ([`Record::AttemptProgress`]).
    stored: Step,
}

/// A lead reserved for an agent to preview, not dialed yet.
#[derive(Debug, Clone)]
struct Preview {
    campaign: String,
    lead: Lead,
    /// When it is dialed for the agent (the campaign's `dialing.preview_timeout`).
    auto_dial_at: Option<Instant>,
    /// When the lead was last found dialable (claimed or rechecked).
    checked_at: Instant,
    /// A recheck is on its way.
    checking: bool,
}

/// The call an agent wraps up, kept for its disposition and screen pop.
#[derive(Debug, Clone)]
struct Wrapping {
    call: CallKey,
    campaign: String,
    campaign_id: i64,
    lead: Lead,
    /// The call's outcome and end, for a wrap-up cut short ([`Switchboard::cut_wrap_ups`]).
    outcome: String,
    ended: Instant,
}

/// Claimed leads older than this are given back to be checked again (hours, DNC); a lead
/// reserved for a preview is checked again at this age.
const LEAD_STALE: Duration = Duration::from_secs(30);
/// A lead an agent skipped is not offered to them again for this long.
const SKIP_MEMORY: Duration = Duration::from_secs(15 * 60);
/// An automatic preview dial that found no free line tries again this much later.
const AUTO_DIAL_RETRY: Duration = Duration::from_secs(1);

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
            next_call: 1,
            outputs: VecDeque::new(),
            draining: false,
            local_fault: false,
            opened: HashMap::new(),
            flushed: false,
        }
    }

    /// Add a campaign, or replace its settings (reload). Calls in progress keep the settings
    /// they started with; new dials use the new ones. `history` seeds the abandon budget
    /// from the store so a restart does not reset it; a reload with the same abandon window
    /// keeps the running counts.
    pub fn upsert_campaign(
        &mut self,
        campaign: Arc<Campaign>,
        id: i64,
        history: pacing::WindowCounts,
    ) {
        let cap = campaign.abandon.cap;
        let fp = amd_false_positive_estimate(&campaign);
        match self.campaigns.get_mut(&campaign.name) {
            Some(rt) => {
                if rt.campaign.mode != campaign.mode
                    || rt.campaign.dialing.shed_after != campaign.dialing.shed_after
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
                    Control::Running
                } else {
                    Control::Stopped
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

    /// Remove a campaign whose file is gone: no new dials; its calls finish.
    pub fn remove_campaign(&mut self, name: &str) {
        if let Some(mut rt) = self.campaigns.remove(name) {
            for (_, lead) in rt.leads.drain(..) {
                self.outputs.push_back(Output::Release { lead_id: lead.id });
            }
        }
        self.drop_previews(|_, p| p.campaign == name);
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
    fn wrap_up_cut(&mut self, now: Instant, agent: AgentId, w: Wrapping) {
        let effect = match self.campaigns.get(&w.campaign) {
            Some(rt) => cut_effect(&rt.campaign, &w.outcome, w.lead.attempts + 1),
            // A campaign removed since: due at once.
            None => LeadEffect {
                status: "active",
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

    /// Feed one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Tick => self.tick(now),
            Input::Leads { campaign, leads } => {
                if let Some(rt) = self.campaigns.get_mut(&campaign) {
                    rt.claiming = false;
                    rt.exhausted = false;
                    if rt.control == Control::Running && !self.draining {
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
                    "shed".to_owned()
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

    // ---- agents and supervisors (the API calls these) ----

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

    /// The agent dials the lead they preview. The call goes to them only.
    pub fn agent_dial(&mut self, now: Instant, agent: &str) -> Result<(), SwitchboardError> {
        let view = self.agents.view(now, agent)?;
        let Some(p) = self.previews.get(agent) else {
            return Err(match (view.state, view.call) {
                (State::Preview, Some(_)) => agents::AgentError::PreviewDialed {
                    agent: agent.to_owned(),
                    action: "dial",
                }
                .into(),
                _ => SwitchboardError::NoPreview(agent.to_owned()),
            });
        };
        if view.state != State::Preview || view.call.is_some() {
            return Err(SwitchboardError::NoPreview(agent.to_owned()));
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
            return Err(SwitchboardError::NoPreview(agent.to_owned()));
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
        let call = self.place(now, &campaign, campaign_id, p.lead, Some(agent.to_owned()));
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
                    agent: agent.to_owned(),
                    action: "skip",
                }
                .into(),
                _ => SwitchboardError::NoPreview(agent.to_owned()),
            });
        };
        self.outputs
            .push_back(Output::Release { lead_id: p.lead.id });
        let skipped = self.skipped.entry(agent.to_owned()).or_default();
        skipped.push_back((now, p.lead.id));
        if skipped.len() > 1000 {
            skipped.pop_front();
        }
        self.agents.preview_ended(now, agent)?;
        self.pump_agents(now);
        self.agents_freed(now);
        Ok(())
    }

    /// The agent hangs up on the customer.
    pub fn agent_hangup(&mut self, now: Instant, agent: &str) -> Result<(), SwitchboardError> {
        let call = self
            .agents
            .view(now, agent)?
            .call
            .filter(|c| self.calls.contains_key(c))
            .ok_or_else(|| SwitchboardError::NoCall(agent.to_owned()))?;
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
            .ok_or_else(|| SwitchboardError::NoCall(agent.to_owned()))?;
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
        self.disposing = Some(agent.to_owned());
        self.pump_agents(now);
        self.disposing = None;
        self.wrapping.remove(agent);
        self.outputs.push_back(Output::Record(Record::Disposition {
            campaign_id,
            lead_id: lead.id,
            call,
            agent: agent.to_owned(),
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
        let view = self.agents.view(now, agent)?;
        if let Some(c) = view.call.and_then(|c| self.calls.get(&c)) {
            return Ok(Some((c.campaign.clone(), c.lead.clone())));
        }
        if let Some(p) = self.previews.get(agent) {
            return Ok(Some((p.campaign.clone(), p.lead.clone())));
        }
        if view.state == State::WrapUp
            && let Some(w) = self.wrapping.get(agent)
        {
            return Ok(Some((w.campaign.clone(), w.lead.clone())));
        }
        Ok(None)
    }

    /// Every agent and its state.
    pub fn agent_views(&self, now: Instant) -> Vec<agents::AgentView> {
        self.agents.views(now)
    }

    pub fn control(&mut self, name: &str, control: Control) -> Result<(), SwitchboardError> {
        let rt = self
            .campaigns
            .get_mut(name)
            .ok_or_else(|| SwitchboardError::UnknownCampaign(name.to_owned()))?;
        rt.control = control;
        if control != Control::Running {
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
                }
            })
            .collect()
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

    /// Close every agent's open interval at `now` (shutdown).
    pub fn flush_agents(&mut self, now: Instant) {
        self.agents.flush(now);
        // The intervals are closed for good: the stop opens no new ones.
        self.flushed = true;
        self.pump_agents(now);
    }

    // ---- inside ----

    fn tick(&mut self, now: Instant) {
        self.tidy_previews(now);
        self.handle_timeout(now);
        let names: Vec<String> = self.campaigns.keys().cloned().collect();
        for name in names {
            self.release_stale(now, &name);
            self.dial(now, &name);
        }
    }

    /// Agents of running preview campaigns that have leads to give (or may get some).
    fn previewers(&self, now: Instant) -> std::collections::HashSet<AgentId> {
        self.campaigns
            .values()
            .filter(|rt| {
                rt.campaign.mode == Mode::Preview
                    && rt.control == Control::Running
                    && !self.draining
                    && (!rt.exhausted || !rt.leads.is_empty())
            })
            .flat_map(|rt| self.agents.views_in(now, &rt.campaign.agent_groups))
            .map(|v| v.id)
            .collect()
    }

    /// Agents may have come free: people waiting first, then leads to preview.
    fn agents_freed(&mut self, now: Instant) {
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

    /// Give back the previews (not dialed yet) that `which` selects. Their agents stay in
    /// preview until [`Self::tidy_previews`] (or the caller) ends it.
    fn drop_previews(&mut self, which: impl Fn(&AgentId, &Preview) -> bool) {
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
    fn tidy_previews(&mut self, now: Instant) {
        let draining = self.draining;
        let campaigns = &self.campaigns;
        let usable = |p: &Preview| {
            !draining
                && campaigns.get(&p.campaign).is_some_and(|rt| {
                    rt.control == Control::Running && rt.campaign.mode == Mode::Preview
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
    fn reserve(&mut self, now: Instant, name: &str) {
        if self.draining {
            return;
        }
        let Some(rt) = self.campaigns.get(name) else {
            return;
        };
        if rt.control != Control::Running || rt.campaign.mode != Mode::Preview {
            return;
        }
        let views = self.agents.views_in(now, &rt.campaign.agent_groups);
        let working = views
            .iter()
            .any(|v| v.state.is_logged_in() && v.state != State::Paused);
        let mut ready: Vec<agents::AgentView> = views
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

    /// The campaigns (this one included) whose agents overlap this one's; agentless campaigns
    /// share with nobody.
    fn sharing(&self, now: Instant, name: &str) -> std::collections::HashSet<String> {
        let agentless = |c: &Campaign| c.mode == Mode::Agentless;
        let mut out = std::collections::HashSet::from([name.to_owned()]);
        let Some(me) = self.campaigns.get(name) else {
            return out;
        };
        if agentless(&me.campaign) {
            return out;
        }
        let ids = |groups: &[String]| -> std::collections::HashSet<String> {
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

    fn release_stale(&mut self, now: Instant, name: &str) {
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

    /// Dialing is paused because a dial failed locally (no socket, port or descriptor).
    pub fn local_fault(&self) -> bool {
        self.local_fault
    }

    /// Forget a call whose INVITE never left and whose attempt was not stored: its trunk slot
    /// and lead go back (the lead unchanged: no attempt counted), and a previewing agent
    /// previews again.
    fn forget_undialed(&mut self, now: Instant, call: CallKey) {
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
    fn dial(&mut self, now: Instant, name: &str) {
        if self.draining || self.local_fault {
            return;
        }
        let Some(rt) = self.campaigns.get(name) else {
            return;
        };
        if rt.control != Control::Running {
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
    fn place(
        &mut self,
        now: Instant,
        campaign: &Arc<Campaign>,
        campaign_id: i64,
        lead: Lead,
        preview: Option<AgentId>,
    ) -> CallKey {
        let call = self.next_call;
        self.next_call += 1;
        let settings = flow_settings(campaign);
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

    fn feed_flow(&mut self, now: Instant, call: CallKey, input: flow::Input) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.flow.handle(now, input);
        self.pump_flow(now, call);
    }

    /// Carry out what a call's flow asks for.
    fn pump_flow(&mut self, now: Instant, call: CallKey) {
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
                Action::SurveyAnswer {
                    question,
                    key,
                    value,
                } => self.outputs.push_back(Output::Record(Record::SurveyAnswer {
                    call,
                    question,
                    key,
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
    fn settle(&mut self, now: Instant, call: CallKey) {
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
                        outcome: summary.outcome.clone(),
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
                    status: "active",
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
    fn match_waiting(&mut self, now: Instant) {
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

    /// Carry out what the agent registry asks for.
    fn pump_agents(&mut self, now: Instant) {
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

/// A person the flow asks an agent for: a live answer for the budget and a hit for the
/// estimates now, as the simulator counts them, rather than when the call ends minutes later
/// (until then the window would read fewer live answers against its abandons, and the hit rate
/// would see the dial's failures long before its people).
fn count_person(rt: &mut CampaignRt, now: Instant, dialed: Instant, answered: Option<Instant>) {
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
}

/// Feed a finished call to the campaign's estimates and abandon budget (a person already
/// counted by [`count_person`] is not counted again).
fn observe(rt: &mut CampaignRt, now: Instant, c: &CallRt, s: &Summary) {
    let human = matches!(s.outcome.as_str(), "human" | "abandoned")
        || s.amd.as_ref().is_some_and(|(r, _)| *r == AmdResult::Human);
    let machine = s.outcome == "machine";
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

/// The campaign's pacer; predictive sheds ringing calls after `dialing.shed_after`.
fn pacer_for(c: &Campaign) -> Pacer {
    match c.mode {
        Mode::Predictive => Pacer::Predictive(pacing::Predictive::new(pacing::PredictiveConfig {
            shed_after: c.dialing.shed_after,
            ..pacing::PredictiveConfig::default()
        })),
        m => Pacer::new(pacer_mode(m)),
    }
}

fn pacer_mode(mode: Mode) -> pacing::Mode {
    match mode {
        Mode::Preview => pacing::Mode::Preview,
        Mode::Progressive => pacing::Mode::Progressive,
        Mode::Predictive => pacing::Mode::Predictive,
        Mode::Agentless => pacing::Mode::Agentless,
    }
}

fn priors(c: &Campaign) -> pacing::Priors {
    let p = &c.priors;
    pacing::Priors {
        hit_rate: p.hit_rate,
        machine_rate: p.machine_rate,
        ring_mean_s: p.ring_s,
        ring_sd_s: p.ring_s / 2.0,
        no_answer_s: c.dialing.ring_timeout.as_secs_f64(),
        talk_mean_s: p.talk_s,
        talk_sd_s: p.talk_s / 2.0,
        wrap_mean_s: p.wrap_s,
        wrap_sd_s: p.wrap_s / 2.0,
        ..pacing::Priors::default()
    }
}

/// UK accounting adds an estimate of people AMD called machines (Ofcom); US accounting does not.
fn amd_false_positive_estimate(c: &Campaign) -> f64 {
    match c.regime {
        crate::campaign::Regime::Uk if c.amd.enabled => c.abandon.amd_false_positive_rate,
        _ => 0.0,
    }
}

/// How much before the connect limit the flow's deadline is, so that the message's first packet
/// is on the wire by the limit: the speech ended somewhere in the last voice frame, up to 20 ms
/// before the arrival the detector reports; the prompt's first frame waits up to 20 ms for the
/// customer leg's 20 ms send clock; the rest is the loop's turn and scheduling on a loaded
/// machine (the timer itself is 1 ms). Measured end to end by `tests/daemon_sipp.rs`: with 80 ms
/// the first packet came 37–57 ms after the deadline (load 9 on 2 cores), too close to the limit.
pub const CONNECT_LATENCY: Duration = Duration::from_millis(100);

fn flow_settings(c: &Campaign) -> flow::Settings {
    flow::Settings {
        connect_limit: c.dialing.connect_limit,
        connect_from: match c.regime {
            crate::campaign::Regime::Us => flow::ConnectFrom::GreetingEnd,
            crate::campaign::Regime::Uk => flow::ConnectFrom::GreetingStart,
        },
        latency: CONNECT_LATENCY,
        amd: c.amd.enabled,
        // The detector decides within its total analysis time once audio flows; a second
        // more covers a line that sends no audio at all.
        amd_limit: Duration::from_millis(u64::from(c.amd.detector.total_analysis_ms) + 1000),
        on_machine: match c.amd.on_machine {
            crate::campaign::OnMachine::Hangup => OnMachine::HangUp,
            crate::campaign::OnMachine::Voicemail { .. } => OnMachine::Voicemail,
        },
        notsure_is_human: c.amd.on_notsure == crate::campaign::OnNotSure::TreatAsHuman,
        beep_wait: Duration::from_millis(u64::from(c.amd.detector.beep_wait_ms)),
        agentless: c.mode == Mode::Agentless,
        survey: c
            .survey
            .as_ref()
            .filter(|_| c.mode == Mode::Agentless)
            .map(|s| {
                flow::survey::Script::new(
                    s.intro.is_some(),
                    s.questions
                        .iter()
                        .map(|q| flow::survey::Question {
                            id: q.id.clone(),
                            answers: q.answers.clone(),
                        })
                        .collect(),
                    s.outro.is_some(),
                )
            }),
        record: c.recording,
    }
}

fn prompt_file(c: &Campaign, prompt: Prompt) -> Option<PathBuf> {
    match prompt {
        Prompt::SafeHarbor => Some(c.safe_harbor.clone()),
        Prompt::Voicemail => match &c.amd.on_machine {
            crate::campaign::OnMachine::Voicemail { message } => Some(message.clone()),
            crate::campaign::OnMachine::Hangup => None,
        },
        // Agentless with no questions: the survey's recorded introduction.
        Prompt::Message => wav(c.survey.as_ref().and_then(|s| s.intro.as_ref())),
        Prompt::Survey(p) => {
            let s = c.survey.as_ref()?;
            wav(match p {
                SurveyPrompt::Intro => s.intro.as_ref(),
                SurveyPrompt::Question(i) => s.questions.get(i).map(|q| &q.prompt),
                SurveyPrompt::Outro => s.outro.as_ref(),
            })
        }
    }
}

/// A recorded prompt's file (text prompts are for agents to read: nothing to play).
fn wav(p: Option<&crate::campaign::Prompt>) -> Option<PathBuf> {
    match p {
        Some(crate::campaign::Prompt::Wav(file)) => Some(file.clone()),
        _ => None,
    }
}

/// A lead whose conversation awaits the agent's disposition is not due again before this (the
/// disposition then decides; a wrap-up that ends without one releases it at once, see
/// [`Switchboard::wrap_up_cut`]; a crash leaves it due after this).
const DISPOSITION_HOLD: Duration = Duration::from_secs(3600);

/// What a call's outcome does to its lead: retry after the campaign's delay for the outcome
/// while attempts remain; invalid numbers are marked invalid; a conversation with an agent waits
/// for the agent's disposition (the lead stays active, held for [`DISPOSITION_HOLD`], so it is
/// not claimed again while the agent wraps up).
fn outcome_effect(c: &Campaign, s: &Summary, attempts: i32) -> LeadEffect {
    let outcome = s.outcome.as_str();
    if outcome == "invalid_number" {
        return LeadEffect {
            status: "invalid",
            retry_after: None,
            callback_after: None,
        };
    }
    if s.agent.is_some() {
        return LeadEffect {
            status: "active",
            retry_after: Some(DISPOSITION_HOLD),
            callback_after: None,
        };
    }
    let exhausted = attempts >= c.retry.max_attempts as i32;
    match (exhausted, c.retry.delay_for(outcome)) {
        (false, Some(delay)) => LeadEffect {
            status: "active",
            retry_after: Some(delay),
            callback_after: None,
        },
        _ => LeadEffect {
            status: "done",
            retry_after: None,
            callback_after: None,
        },
    }
}

/// What a wrap-up cut short (no disposition came) does to its lead: due again after the retry
/// delay of the call's outcome, or `retry.delay.interrupted` for an outcome with no delay of
/// its own (a conversation: the agent's wrap-up was interrupted); done once its attempts are
/// spent.
fn cut_effect(c: &Campaign, outcome: &str, attempts: i32) -> LeadEffect {
    if attempts >= c.retry.max_attempts as i32 {
        return LeadEffect {
            status: "done",
            retry_after: None,
            callback_after: None,
        };
    }
    LeadEffect {
        status: "active",
        retry_after: Some(
            c.retry
                .delay_for(outcome)
                .unwrap_or(c.retry.delay.interrupted),
        ),
        callback_after: None,
    }
}

fn disposition_effect(
    d: &crate::campaign::Disposition,
    callback_after: Option<Duration>,
) -> LeadEffect {
    use crate::campaign::DispositionEffect as Effect;
    match &d.effect {
        Effect::Final => LeadEffect {
            status: "done",
            retry_after: None,
            callback_after: None,
        },
        Effect::RetryAfter(delay) => LeadEffect {
            status: "active",
            retry_after: Some(*delay),
            callback_after: None,
        },
        Effect::Dnc => LeadEffect {
            status: "dnc",
            retry_after: None,
            callback_after: None,
        },
        Effect::Callback => LeadEffect {
            status: "active",
            retry_after: None,
            callback_after: Some(callback_after.unwrap_or(Duration::from_secs(3600))),
        },
    }
}

#[cfg(test)]
mod tests;
