//! Live updates for the agent desktop and the wallboard: the bus the switchboard's task
//! publishes to, and what `GET /v1/events` reads from it.
//!
//! The switchboard stays sans-IO: after each turn the shell (`run/live.rs`) compares what the
//! agents, screen pops and campaigns look like now with what it last published, serialises
//! each change once, and sends it on a [`tokio::sync::broadcast`] channel. Sending never
//! waits: a subscriber that falls [`BUS_CAPACITY`] events behind loses its place
//! (`Lagged`), and its stream is closed, so the browser reconnects and redraws from a fresh
//! snapshot. A slow desktop therefore costs the switchboard nothing
//! (decision 0063).
//!
//! Every event carries a sequence number; a snapshot says the number it was taken at, so a
//! new stream (subscribed before it asks for the snapshot) skips the events the snapshot
//! already shows and misses none that came after it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::agents::AgentStatus;
use crate::campaign::{Campaign, DispositionEffect};
use crate::domain::AgentId;
use crate::store::HistoryEntry;
use crate::switchboard::{CampaignStatus, Screen};

/// Events kept for the slowest subscriber before it is cut off (it reconnects with a
/// snapshot).
pub const BUS_CAPACITY: usize = 4096;

/// Who may see an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// The supervisor only (campaigns, the shift series).
    Supervisor,
    /// The agent only (their screen pop).
    Agent(AgentId),
    /// The agent and the supervisor (the agent's state).
    AgentAndSupervisor(AgentId),
}

impl Audience {
    /// Whether `agent` (`None`: the supervisor) may see it.
    pub fn admits(&self, agent: Option<&AgentId>) -> bool {
        match (self, agent) {
            (Audience::Supervisor, None) | (Audience::AgentAndSupervisor(_), None) => true,
            (Audience::Supervisor, Some(_)) | (Audience::Agent(_), None) => false,
            (Audience::Agent(a), Some(b)) | (Audience::AgentAndSupervisor(a), Some(b)) => a == b,
        }
    }
}

/// One event as it goes on the wire: `event: name`, `data: json` (serialised once for every
/// subscriber).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    pub seq: u64,
    pub to: Audience,
    pub name: &'static str,
    pub data: Arc<str>,
}

/// What a new stream starts with: the events that draw the whole screen now, and the sequence
/// number of the last event they include.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub seq: u64,
    pub events: Vec<(&'static str, Arc<str>)>,
}

/// The bus; clone it freely.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new(BUS_CAPACITY)
    }
}

impl Bus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }

    /// Send to every subscriber; never waits (no subscriber is no error).
    pub fn send(&self, event: LiveEvent) {
        let _ = self.tx.send(Arc::new(event));
    }

    /// Streams open now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

// ---- the JSON the API and the events show ----

/// An agent as `GET /v1/agents/{id}` and the `agent` event show it.
pub fn agent_json(a: &AgentStatus) -> Value {
    json!({
        "id": a.id,
        "state": a.state.as_str(),
        "seconds_in_state": a.elapsed.as_secs_f64(),
        "call": a.call,
        "pause_reason": a.pause_reason,
    })
}

/// A campaign's status as `GET /v1/campaigns` shows it.
pub fn campaign_json(c: &CampaignStatus) -> Value {
    json!({
        "name": c.name,
        "mode": c.mode,
        "control": c.control.as_str(),
        "calls_in_flight": c.calls_in_flight,
        "waiting_for_agent": c.waiting_for_agent,
        "dials": c.dials,
        "live_answers": c.live_answers,
        "abandoned": c.abandoned,
        "amd_machines": c.amd_machines,
        "abandon_rate": c.abandon_rate,
        "abandon_cap": c.abandon_cap,
        "last_decision": c.last_decision,
        "lists": c.leads.lists.iter().map(|l| json!({
            "list": l.list,
            "file": l.file.display().to_string(),
            "imported": l.imported,
            "rejected": l.rejected,
            "rejected_rows": l.rejected_rows,
            "error": l.error,
        })).collect::<Vec<_>>(),
        "lists_loading": c.leads.loading,
        "lists_loads": c.leads.loads,
        "leads": c.leads.check,
        "occupancy": c.wallboard.occupancy,
        "lines_per_agent": c.wallboard.lines_per_agent,
        "waiting": c.waiting_for_agent,
    })
}

/// What the screen pop needs besides the switchboard's [`Screen`]: the campaign's settings,
/// the lead's history from the store, the answers given on this call.
#[derive(Debug, Clone, Copy)]
pub struct ScreenParts<'a> {
    pub campaign: Option<&'a Campaign>,
    pub history: &'a [HistoryEntry],
    pub answers: &'a BTreeMap<String, String>,
    pub now: jiff::Timestamp,
}

/// The screen pop object (`GET /v1/agents/{id}/lead`, the `lead` event).
pub fn lead_json(s: &Screen<'_>, p: ScreenParts<'_>) -> Value {
    let lead = s.lead;
    // The attributes are the list's other columns as a JSON object.
    let attributes = serde_json::from_str::<Value>(&lead.attributes)
        .unwrap_or_else(|_| Value::String(lead.attributes.clone()));
    let zone = lead
        .timezone
        .as_deref()
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
        .or_else(|| p.campaign.map(|c| c.hours.timezone.clone()));
    let local_time = zone.map(|z| {
        p.now
            .to_zoned_datetime(z)
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    });
    let history = history_json(p.history);
    json!({
        "campaign": s.campaign,
        "lead_id": lead.id,
        "phone": lead.phone,
        "timezone": lead.timezone,
        "attempts": lead.attempts,
        "attributes": attributes,
        "name": lead_name(&attributes),
        "local_time": local_time,
        "preview": s.preview,
        "history": history,
        "script": p.campaign.map(script_json).unwrap_or_else(|| json!({"text": null, "questions": []})),
        "dispositions": p.campaign.map(dispositions_json).unwrap_or_default(),
        "hours": p.campaign.map(hours_json),
        "answers": p.answers,
    })
}

/// A lead's earlier attempts, newest first.
pub fn history_json(history: &[HistoryEntry]) -> Value {
    history
        .iter()
        .map(|h| {
            json!({
                "at": rfc3339(h.at_ms),
                "outcome": h.outcome,
                "disposition": h.disposition,
                "notes": h.notes,
                "agent": h.agent,
            })
        })
        .collect()
}

/// The lead's name from its attributes: `name`, else `first_name` and `last_name`.
fn lead_name(attributes: &Value) -> Option<String> {
    let text = |k: &str| {
        attributes
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(n) = text("name") {
        return Some(n.to_owned());
    }
    let parts: Vec<&str> = [text("first_name"), text("last_name")]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn script_json(c: &Campaign) -> Value {
    let questions: Vec<Value> = c
        .script
        .questions
        .iter()
        .map(|q| {
            let answers: Vec<Value> = q
                .answers
                .iter()
                .map(|a| json!({"key": a.key, "label": a.label}))
                .collect();
            json!({"id": q.id, "text": q.text, "answers": answers})
        })
        .collect();
    json!({"text": c.script.text, "questions": questions})
}

fn dispositions_json(c: &Campaign) -> Value {
    c.dispositions
        .iter()
        .map(|d| {
            json!({
                "code": d.code,
                "label": d.label,
                "callback": d.effect == DispositionEffect::Callback,
            })
        })
        .collect()
}

/// The campaign's calling hours, in the lead's local time, as the callback picker needs them.
pub fn hours_json(c: &Campaign) -> Value {
    let days: Vec<&str> = c.hours.days.iter().map(|d| weekday(*d)).collect();
    json!({
        "start": c.hours.start.strftime("%H:%M").to_string(),
        "end": c.hours.end.strftime("%H:%M").to_string(),
        "days": days,
        "timezone": c.hours.timezone_name,
    })
}

fn weekday(d: jiff::civil::Weekday) -> &'static str {
    use jiff::civil::Weekday::*;
    match d {
        Monday => "mon",
        Tuesday => "tue",
        Wednesday => "wed",
        Thursday => "thu",
        Friday => "fri",
        Saturday => "sat",
        Sunday => "sun",
    }
}

/// Epoch milliseconds as RFC 3339 (UTC); out of range shows as null.
pub fn rfc3339(ms: i64) -> Value {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| Value::String(t.to_string()))
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_admit_only_their_readers() {
        let alice = AgentId::from("alice");
        let bob = AgentId::from("bob");
        assert!(Audience::Supervisor.admits(None));
        assert!(!Audience::Supervisor.admits(Some(&alice)));
        assert!(Audience::Agent(alice.clone()).admits(Some(&alice)));
        assert!(!Audience::Agent(alice.clone()).admits(Some(&bob)));
        assert!(!Audience::Agent(alice.clone()).admits(None));
        assert!(Audience::AgentAndSupervisor(alice.clone()).admits(None));
        assert!(Audience::AgentAndSupervisor(alice.clone()).admits(Some(&alice)));
        assert!(!Audience::AgentAndSupervisor(alice).admits(Some(&bob)));
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_and_the_sender_never_waits() {
        let bus = Bus::new(4);
        let mut slow = bus.subscribe();
        for seq in 0..10 {
            bus.send(LiveEvent {
                seq,
                to: Audience::Supervisor,
                name: "point",
                data: Arc::from("{}"),
            });
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(6))
        ));
        assert_eq!(slow.recv().await.map(|e| e.seq).ok(), Some(6));
    }
}
