//! The running daemon's control handle: what the HTTP API, the demo's simulated agents and the
//! terminal ask of the switchboard. Each request is answered by the switchboard's task.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::live::{Bus, Snapshot};
use crate::agents::AgentStatus;
use crate::domain::{AgentId, CampaignControl};
use crate::switchboard::{CampaignStatus, Lead, SwitchboardError};

/// A request to the switchboard.
#[derive(Debug)]
pub enum Request {
    Login(AgentId),
    Logout(AgentId),
    /// An operator logs an agent out (recorded in the audit trail with `by`).
    ForceLogout {
        agent: AgentId,
        by: String,
    },
    Ready(AgentId),
    Pause {
        agent: AgentId,
        reason: String,
    },
    /// The agent hangs up on the customer (or cancels their preview call).
    Hangup(AgentId),
    /// The agent pauses the recording of their call (a card number): silence in the file.
    RecordingPause(AgentId),
    /// The agent resumes the recording of their call.
    RecordingResume(AgentId),
    /// The agent dials the lead they preview.
    Dial(AgentId),
    /// The agent skips the lead they preview (the next one is reserved).
    Skip(AgentId),
    Disposition {
        agent: AgentId,
        code: String,
        notes: Option<String>,
        /// A callback this far from now (callback dispositions).
        callback_after: Option<Duration>,
    },
    /// An agent-assisted survey answer (the campaign's `[script]`) on the agent's call.
    Answer {
        agent: AgentId,
        question: String,
        answer: String,
    },
    /// Whether a callback at this time falls inside the calling hours of the agent's call's
    /// campaign, in the lead's local time.
    CheckCallback {
        agent: AgentId,
        at: jiff::Timestamp,
    },
    /// The lead of the agent's current call or preview.
    Lead(AgentId),
    /// The agent's screen pop as JSON, with the lead's history from the store.
    Screen(AgentId),
    /// What a new event stream starts with: the agent's (or, for `None`, every agent's) state
    /// and screen pop.
    Live(Option<AgentId>),
    Agents,
    Campaigns,
    /// A campaign control, recorded in the audit trail with who asked (`by`).
    Campaign {
        name: String,
        control: CampaignControl,
        by: String,
    },
}

/// The switchboard's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Done,
    Lead(Option<(String, Lead)>),
    /// The screen pop object, or `None` when the agent has no lead on screen.
    Screen(Option<serde_json::Value>),
    Live(Box<Snapshot>),
    /// Every agent (`Agents`), or the acting agent just after an agent's action.
    Agents(Vec<AgentStatus>),
    Campaigns(Vec<CampaignStatus>),
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Refused(#[from] SwitchboardError),
    #[error("the daemon is stopping")]
    Stopped,
}

pub type Envelope = (Request, oneshot::Sender<Result<Reply, SwitchboardError>>);

/// A handle on the running switchboard; clone it freely.
#[derive(Debug, Clone)]
pub struct SwitchboardHandle {
    tx: mpsc::Sender<Envelope>,
    bus: Bus,
}

impl SwitchboardHandle {
    pub fn new(tx: mpsc::Sender<Envelope>) -> Self {
        Self::with_bus(tx, Bus::default())
    }

    /// A handle whose switchboard publishes live updates on `bus`.
    pub fn with_bus(tx: mpsc::Sender<Envelope>, bus: Bus) -> Self {
        Self { tx, bus }
    }

    /// The live updates (`GET /v1/events`).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Send a request and wait for the answer.
    pub async fn ask(&self, request: Request) -> Result<Reply, ControlError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((request, reply))
            .await
            .map_err(|_| ControlError::Stopped)?;
        Ok(rx.await.map_err(|_| ControlError::Stopped)??)
    }

    pub async fn agents(&self) -> Result<Vec<AgentStatus>, ControlError> {
        match self.ask(Request::Agents).await? {
            Reply::Agents(v) => Ok(v),
            _ => Ok(Vec::new()),
        }
    }

    pub async fn campaigns(&self) -> Result<Vec<CampaignStatus>, ControlError> {
        match self.ask(Request::Campaigns).await? {
            Reply::Campaigns(v) => Ok(v),
            _ => Ok(Vec::new()),
        }
    }
}
