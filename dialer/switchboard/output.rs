//! What the switchboard asks of the shell ([`Output`]) and the records the store writer keeps
//! ([`Record`], [`Step`], [`LeadEffect`]).

use super::*;

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Claim up to `n` dialable leads of the campaign (answer with [`Input::Leads`] or
    /// [`Input::ClaimDone`]).
    Claim {
        campaign: String,
        campaign_id: CampaignId,
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
    pub campaign_id: CampaignId,
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
        campaign_id: CampaignId,
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
        campaign_id: CampaignId,
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
        campaign_id: CampaignId,
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
        campaign_id: CampaignId,
        lead_id: i64,
        call: CallKey,
        agent: AgentId,
        /// The call's outcome (the attempt's row has it already).
        outcome: Outcome,
        effect: LeadEffect,
        since: Instant,
        at: Instant,
    },
    /// The customer pressed the opt-out key during (or right after) a prerecorded message: the
    /// number goes on the campaign's DNC list (and the global one when `global`) at once, and
    /// the key, the time and the message are kept with the attempt as evidence.
    OptOut {
        call: CallKey,
        campaign_id: CampaignId,
        lead_id: i64,
        key: char,
        /// Which message: `safe_harbor`, `voicemail`, `message`, `survey`.
        message: &'static str,
        global: bool,
        at: Instant,
    },
    /// A survey answer given on a call (its attempt's row exists by then): the callee's key
    /// press (agentless), or the agent's button (`key` `None`).
    SurveyAnswer {
        call: CallKey,
        question: String,
        key: Option<char>,
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
    pub(super) fn of(c: &CallRt) -> Step {
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
    pub(super) fn same_facts(&self, o: &Step) -> bool {
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
    /// Active (dial again later), done, invalid, DNC.
    pub status: LeadStatus,
    /// When it may be dialed again, if it may.
    pub retry_after: Option<Duration>,
    /// A callback asked for, this far from now.
    pub callback_after: Option<Duration>,
}
