//! The switchboard's task publishing live updates ([`crate::daemon::live`]): after each turn
//! that changed something, what each agent and screen pop looks like now is compared with what
//! was last published, and each difference goes on the bus, serialised once. The lead's
//! history comes from the store in a task (the loop never waits on the store); a screen pop
//! is published when its history is there.
//!
//! The wallboard's figures are sampled on the loop's tick: each second the agents' states
//! are added up (agent-seconds busy and available, per campaign for the shift and overall for
//! the current point), the campaigns' status is published if it changed; every
//! [`POINT_EVERY`] a point of the shift series is kept (at most [`SERIES_MAX`], a 12-hour
//! shift) and published.

use std::collections::{BTreeMap, VecDeque};

use serde_json::json;

use super::*;
use crate::agents::State;
use crate::daemon::live::{self, Audience, Bus, LiveEvent, ScreenParts, Snapshot, agent_json};
use crate::store::HistoryEntry;
use crate::switchboard::Screen;

/// How often the agents' states are added up and the campaigns' status may be published.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How often a point of the shift series is taken (`Options::series_every`).
pub(super) const POINT_EVERY: Duration = Duration::from_secs(10);
/// Points kept: a 12-hour shift.
pub(super) const SERIES_MAX: usize = 12 * 3600 / 10;

/// Agent-seconds previewing, on a call or in wrap-up, and available (those and ready).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Busy {
    busy: f64,
    available: f64,
}

impl Busy {
    fn add(&mut self, agents: &[crate::agents::AgentStatus], seconds: f64) {
        for a in agents {
            match a.state {
                State::Preview | State::OnCall | State::WrapUp => {
                    self.busy += seconds;
                    self.available += seconds;
                }
                State::Ready => self.available += seconds,
                _ => {}
            }
        }
    }

    fn share(&self) -> f64 {
        if self.available > 0.0 {
            self.busy / self.available
        } else {
            0.0
        }
    }
}

/// The wallboard's running figures.
#[derive(Debug, Default)]
struct Wallboard {
    sampled: Option<Instant>,
    /// Per campaign, over the shift.
    shift: HashMap<String, Busy>,
    /// All agents, since the last point.
    interval: Busy,
    next_point: Option<Instant>,
    /// The shift series, serialised.
    points: VecDeque<Arc<str>>,
    /// The campaigns' status as last published.
    campaigns: Option<String>,
}

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
    wallboard: Wallboard,
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
    /// The campaigns' status with the loop's parts filled in: lists and leads, wallboard
    /// figures.
    pub(super) fn campaign_statuses(&self) -> Vec<crate::switchboard::CampaignStatus> {
        let now = Instant::now();
        self.board
            .campaign_status()
            .into_iter()
            .map(|mut c| {
                c.leads = self.lists.status(&c.name);
                let agents = self.board.campaign_agents(now, &c.name);
                let mut here = Busy::default();
                here.add(&agents, 1.0);
                c.wallboard.lines_per_agent = if here.available > 0.0 {
                    c.calls_in_flight as f64 / here.available
                } else {
                    0.0
                };
                c.wallboard.occupancy = self
                    .live
                    .wallboard
                    .shift
                    .get(&c.name)
                    .map_or(0.0, Busy::share);
                c
            })
            .collect()
    }

    /// The wallboard's sampling, on the loop's tick: agents' states added up each second, the
    /// campaigns' status published when it changed, a point of the series every 10 s.
    pub(super) fn sample_wallboard(&mut self, now: Instant) {
        let every = self.options.series_every;
        let w = &mut self.live.wallboard;
        let Some(last) = w.sampled else {
            w.sampled = Some(now);
            w.next_point = Some(now + every);
            return;
        };
        let elapsed = now.saturating_duration_since(last);
        if elapsed < SAMPLE_EVERY {
            return;
        }
        w.sampled = Some(now);
        let seconds = elapsed.as_secs_f64();
        let all = self.board.agent_views(now);
        self.live.wallboard.interval.add(&all, seconds);
        for name in self.board.campaign_names() {
            let agents = self.board.campaign_agents(now, &name);
            self.live
                .wallboard
                .shift
                .entry(name)
                .or_default()
                .add(&agents, seconds);
        }
        let statuses = self.campaign_statuses();
        let data = campaigns_event(&statuses);
        if self.live.wallboard.campaigns.as_ref() != Some(&data) {
            self.live.wallboard.campaigns = Some(data.clone());
            self.live.send(Audience::Supervisor, "campaigns", data);
        }
        if self.live.wallboard.next_point.is_some_and(|t| now >= t) {
            let w = &mut self.live.wallboard;
            w.next_point = Some(now + every);
            let occupancy = w.interval.share();
            w.interval = Busy::default();
            let campaigns: serde_json::Map<String, serde_json::Value> = statuses
                .iter()
                .map(|c| {
                    let v = json!({
                        "abandon_rate": c.abandon_rate,
                        "cap": c.abandon_cap,
                        "dials": c.dials,
                        "live": c.live_answers,
                    });
                    (c.name.clone(), v)
                })
                .collect();
            let point = json!({
                "at": self.clock.timestamp(now).to_string(),
                "occupancy": occupancy,
                "campaigns": campaigns,
            })
            .to_string();
            if w.points.len() == SERIES_MAX {
                w.points.pop_front();
            }
            w.points.push_back(Arc::from(point.as_str()));
            self.live.send(Audience::Supervisor, "point", point);
        }
    }

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
        if agent.is_none() {
            let campaigns = campaigns_event(&self.campaign_statuses());
            events.push(("campaigns", Arc::from(campaigns)));
            let mut series = String::from("{\"points\":[");
            for (i, p) in self.live.wallboard.points.iter().enumerate() {
                if i > 0 {
                    series.push(',');
                }
                series.push_str(p);
            }
            series.push_str("]}");
            events.push(("series", Arc::from(series)));
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

/// The `campaigns` event's data.
fn campaigns_event(statuses: &[crate::switchboard::CampaignStatus]) -> String {
    let list: Vec<serde_json::Value> = statuses.iter().map(live::campaign_json).collect();
    json!({ "campaigns": list }).to_string()
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
