//! What the shell tells the switchboard: [`Input`] and the claimed [`Lead`].

use super::*;

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
    /// The SIP call is over. Before an answer, `outcome` says why (busy, no answer, …).
    CallEnded {
        call: CallKey,
        outcome: Outcome,
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
    /// The agent's leg was lost but its phone may come back (a browser page): the agent is
    /// `connecting` again and its leg is asked for anew.
    AgentLegLost {
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
