//! The switchboard's task publishing live updates ([`crate::daemon::live`]): after each turn
//! that changed something, what each agent and screen pop looks like now is compared with what
//! was last published, and each difference goes on the bus, serialised once. The lead's
//! history comes from the store in a task (the loop never waits on the store); a screen pop
//! is published when its history is there.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::agents::State;
use crate::daemon::live::{self, Audience, Bus, LiveEvent, ScreenParts, Snapshot, agent_json};
use crate::store::HistoryEntry;
use crate::switchboard::Screen;

/// What an agent's published state was.
#[derive(Debug, Clone, PartialEq)]
struct AgentMark {
    state: State,
    since: Instant,
    call: Option<CallKey>,
    pause_reason: Option<String>,
}

/// What an agent's published screen pop was.
#[derive(Debug, Clone, PartialEq)]
struct LeadMark {
    lead_id: i64,
    call: Option<CallKey>,
    preview: bool,
    answers: BTreeMap<String, String>,
}

/// A lead's history: asked of the store, or there.
#[derive(Debug, Clone)]
enum History {
    Loading,
    Loaded(Arc<Vec<HistoryEntry>>),
}

/// The shell's side of the live updates.
#[derive(Debug, Default)]
pub(super) struct Live {
    pub(super) bus: Bus,
    seq: u64,
    agents: HashMap<AgentId, AgentMark>,
    /// Agents whose published screen pop is not null.
    leads: HashMap<AgentId, LeadMark>,
    /// The histories of the leads on screen now.
    histories: HashMap<i64, History>,
    /// Something may have changed since the last publish.
    pub(super) dirty: bool,
}

impl Live {
    pub(super) fn new(bus: Bus) -> Self {
        Self {
            bus,
            dirty: true,
            ..Self::default()
        }
    }

    fn send(&mut self, to: Audience, name: &'static str, data: String) {
        self.seq += 1;
        self.bus.send(LiveEvent {
            seq: self.seq,
            to,
            name,
            data: Arc::from(data),
        });
    }
}

impl Shell {
    /// Publish what changed (after a turn that may have changed something).
    pub(super) fn publish_live(&mut self) {
        if !self.live.dirty {
            return;
        }
        self.live.dirty = false;
        let now = Instant::now();
        let wall = self.clock.timestamp(now);
        for view in self.board.agent_views(now) {
            let since = now.checked_sub(view.elapsed).unwrap_or(now);
            let mark = AgentMark {
                state: view.state,
                since,
                call: view.call,
                pause_reason: view.pause_reason.clone(),
            };
            if self.live.agents.get(&view.id) != Some(&mark) {
                let data = json!({ "agent": agent_json(&view) }).to_string();
                self.live.agents.insert(view.id.clone(), mark);
                self.live
                    .send(Audience::AgentAndSupervisor(view.id.clone()), "agent", data);
            }
            self.publish_lead(&view.id, wall);
        }
        // Histories of leads no longer on anyone's screen are forgotten.
        let shown: Vec<i64> = self.live.leads.values().map(|m| m.lead_id).collect();
        self.live
            .histories
            .retain(|id, h| shown.contains(id) || matches!(h, History::Loading));
    }

    /// Publish the agent's screen pop if it changed (once its history is loaded).
    fn publish_lead(&mut self, agent: &AgentId, wall: jiff::Timestamp) {
        let now = Instant::now();
        let screen = self.board.agent_screen(now, agent).ok().flatten();
        let Some(screen) = screen else {
            if self.live.leads.remove(agent).is_some() {
                let data = json!({ "agent": agent, "lead": null }).to_string();
                self.live.send(Audience::Agent(agent.clone()), "lead", data);
            }
            return;
        };
        let answers = self.board.call_answers(screen.call);
        let mark = LeadMark {
            lead_id: screen.lead.id,
            call: screen.call,
            preview: screen.preview,
            answers: answers.clone(),
        };
        if self.live.leads.get(agent) == Some(&mark) {
            return;
        }
        let history = match self.live.histories.get(&screen.lead.id) {
            Some(History::Loaded(h)) => h.clone(),
            Some(History::Loading) => return,
            None => {
                self.load_history(screen.lead.id);
                return;
            }
        };
        let data = screen_json(&self.board, &screen, &history, answers, wall);
        let data = json!({ "agent": agent, "lead": data }).to_string();
        self.live.leads.insert(agent.clone(), mark);
        self.live.send(Audience::Agent(agent.clone()), "lead", data);
    }

    /// Ask the store for a lead's history; it comes back as [`Event::History`].
    fn load_history(&mut self, lead_id: i64) {
        self.live.histories.insert(lead_id, History::Loading);
        let store = self.store.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let history = match store.lead_history(lead_id).await {
                Ok(h) => h,
                Err(err) => {
                    // The screen pop still shows, without history.
                    tracing::warn!(%err, lead_id, "cannot read the lead's history");
                    Vec::new()
                }
            };
            let _ = events.send(Event::History { lead_id, history });
        });
    }

    /// A lead's history arrived from the store.
    pub(super) fn history_loaded(&mut self, lead_id: i64, history: Vec<HistoryEntry>) {
        self.live
            .histories
            .insert(lead_id, History::Loaded(Arc::new(history)));
        self.live.dirty = true;
    }

    /// The events that draw `agent`'s desktop now (`None`: the supervisor's wallboard), and
    /// the sequence number they are current to. A screen pop whose history is still loading
    /// is left out (its `lead` event follows).
    pub(super) fn live_snapshot(&mut self, agent: Option<&AgentId>) -> Snapshot {
        // What changed this turn goes out first, so the snapshot and the events after its
        // sequence number agree.
        self.publish_live();
        let now = Instant::now();
        let wall = self.clock.timestamp(now);
        let mut events = Vec::new();
        for view in self.board.agent_views(now) {
            if agent.is_some_and(|a| *a != view.id) {
                continue;
            }
            let data = json!({ "agent": agent_json(&view) }).to_string();
            events.push(("agent", Arc::from(data)));
            if agent.is_some() {
                let lead = match self.live.leads.contains_key(&view.id) {
                    true => self
                        .board
                        .agent_screen(now, &view.id)
                        .ok()
                        .flatten()
                        .and_then(|s| {
                            let history = match self.live.histories.get(&s.lead.id) {
                                Some(History::Loaded(h)) => h.clone(),
                                _ => return None,
                            };
                            let answers = self.board.call_answers(s.call);
                            Some(screen_json(&self.board, &s, &history, answers, wall))
                        }),
                    false => None,
                };
                let data = json!({ "agent": view.id, "lead": lead }).to_string();
                events.push(("lead", Arc::from(data)));
            }
        }
        Snapshot {
            seq: self.live.seq,
            events,
        }
    }

    /// The screen pop for `GET /v1/agents/{id}/lead`, without its history (the API's task
    /// reads that from the store).
    pub(super) fn screen_now(
        &self,
        agent: &str,
    ) -> Result<Option<(i64, serde_json::Value)>, crate::switchboard::SwitchboardError> {
        let now = Instant::now();
        let wall = self.clock.timestamp(now);
        Ok(self.board.agent_screen(now, agent)?.map(|s| {
            let answers = self.board.call_answers(s.call);
            (s.lead.id, screen_json(&self.board, &s, &[], answers, wall))
        }))
    }
}

fn screen_json(
    board: &Switchboard,
    screen: &Screen<'_>,
    history: &[HistoryEntry],
    answers: &BTreeMap<String, String>,
    now: jiff::Timestamp,
) -> serde_json::Value {
    let campaign = board.campaign(screen.campaign);
    live::lead_json(
        screen,
        ScreenParts {
            campaign: campaign.as_deref(),
            history,
            answers,
            now,
        },
    )
}
