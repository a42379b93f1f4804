//! The store writer: one task that turns the switchboard's records into rows, in order.
//!
//! Records arrive on a bounded channel; when the store cannot keep up the channel fills and the
//! switchboard's loop waits on it, so nothing is dialed that cannot be recorded. An attempt's row
//! is written before its INVITE leaves (the shell waits for [`Msg::AttemptStarted`]'s reply).

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use super::clock::WallClock;
use super::switchboard::{CallKey, LeadEffect, Record};
use crate::store::{
    AttemptEnd, AttemptProgress, AttemptStart, LeadUpdate, NewDisposition, Store, StoreError,
};

/// What the writer is asked to do.
#[derive(Debug)]
pub enum Msg {
    /// A record from the switchboard. `AttemptStarted` carries a reply: the INVITE waits for it.
    Record(Box<Record>, Option<oneshot::Sender<Result<i64, String>>>),
    /// The recording file of a call, once known.
    CallInfo {
        call: CallKey,
        recording: Option<String>,
    },
    /// Write everything queued, then answer.
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Default)]
struct Attempt {
    id: i64,
    recording: Option<String>,
    /// The agent who dialed it (preview).
    agent: Option<String>,
}

/// The writer's state (the task owns it).
#[derive(Debug)]
pub struct Writer {
    store: Store,
    clock: WallClock,
    attempts: HashMap<CallKey, Attempt>,
    /// The node id stored on each attempt (`dialer.toml`'s `node_id`).
    node: Option<String>,
}

impl Writer {
    pub fn new(store: Store, clock: WallClock) -> Self {
        Self {
            store,
            clock,
            attempts: HashMap::new(),
            node: None,
        }
    }

    /// Store `node` on every attempt: after a crash only this node closes them as
    /// interrupted.
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// Run until every sender is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Record(record, reply) => {
                    let result = self.write(*record).await;
                    if let Err(err) = &result {
                        tracing::error!(%err, "store write failed");
                        metrics::counter!("dialer_store_write_errors_total").increment(1);
                    }
                    if let Some(reply) = reply {
                        let _ = reply.send(result.map_err(|e| e.to_string()));
                    }
                }
                Msg::CallInfo { call, recording } => {
                    if let Some(a) = self.attempts.get_mut(&call)
                        && recording.is_some()
                    {
                        a.recording = recording;
                    }
                }
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
            }
            metrics::gauge!("dialer_store_queue_depth").set(rx.len() as f64);
        }
    }

    /// Write one record; returns the attempt id for `AttemptStarted`, else 0.
    pub async fn write(&mut self, record: Record) -> Result<i64, StoreError> {
        let started = std::time::Instant::now();
        let result = self.write_inner(record).await;
        metrics::histogram!("dialer_store_write_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    async fn write_inner(&mut self, record: Record) -> Result<i64, StoreError> {
        let c = self.clock;
        match record {
            Record::AttemptStarted {
                call,
                lead_id,
                trunk,
                agent,
                sip_call_id,
                at,
                ..
            } => {
                let id = self
                    .store
                    .record_attempt_start(&AttemptStart {
                        lead_id,
                        dial_at_ms: c.ms(at),
                        trunk: Some(&trunk),
                        call_id: sip_call_id.as_deref(),
                        node: self.node.as_deref(),
                    })
                    .await?;
                self.attempts.insert(
                    call,
                    Attempt {
                        id,
                        recording: None,
                        agent,
                    },
                );
                Ok(id)
            }
            Record::AttemptEnded {
                call,
                summary: s,
                effect,
                conversation,
                ..
            } => {
                let Some(attempt) = self.attempts.remove(&call) else {
                    return Err(StoreError::Invalid(format!(
                        "call {call} ended without a started attempt"
                    )));
                };
                let end_ms = c.ms(s.ended);
                let (next, callback) = effect_times(&c, s.ended, &effect);
                let live = matches!(s.outcome.as_str(), "human" | "abandoned");
                let end = AttemptEnd {
                    end_at_ms: end_ms,
                    outcome: s.outcome.clone(),
                    sip_status: s.sip_status.map(i32::from),
                    ring_at_ms: s.ringing.map(|t| c.ms(t)),
                    answer_at_ms: s.answered.map(|t| c.ms(t)),
                    amd_at_ms: s.amd.as_ref().and(s.decided).map(|t| c.ms(t)),
                    connect_at_ms: s.connected.map(|t| c.ms(t)),
                    message_at_ms: s.message_at.map(|t| c.ms(t)),
                    amd_result: s.amd.as_ref().map(|(r, _)| r.as_str().to_owned()),
                    amd_cause: s.amd.as_ref().map(|(_, cause)| cause.clone()),
                    amd_ms: amd_ms(s.answered, s.decided, s.amd.is_some()),
                    // The agent who talked, else the one who dialed (preview).
                    agent_id: s.agent.clone().or_else(|| attempt.agent.clone()),
                    live,
                    abandoned: s.abandoned,
                    conversation,
                    recording_path: attempt.recording,
                    lead_status: effect.status.to_owned(),
                    next_attempt_at_ms: next,
                    callback_at_ms: callback,
                };
                self.store.record_attempt_end(attempt.id, &end).await?;
                // Keep the id for the agent's disposition, which comes after the call; calls no
                // agent took get none, so nothing is kept for them.
                if s.agent.is_some() {
                    self.attempts.insert(
                        call,
                        Attempt {
                            id: attempt.id,
                            recording: None,
                            agent: None,
                        },
                    );
                }
                Ok(0)
            }
            Record::AttemptProgress { call, step } => {
                let Some(attempt) = self.attempts.get(&call) else {
                    return Err(StoreError::Invalid(format!(
                        "call {call}: a step without a started attempt"
                    )));
                };
                let progress = AttemptProgress {
                    ring_at_ms: step.ringing.map(|t| c.ms(t)),
                    answer_at_ms: step.answered.map(|t| c.ms(t)),
                    amd_at_ms: step.amd.as_ref().and(step.decided).map(|t| c.ms(t)),
                    amd_result: step.amd.as_ref().map(|(r, _)| r.as_str().to_owned()),
                    amd_cause: step.amd.as_ref().map(|(_, cause)| cause.clone()),
                    amd_ms: amd_ms(step.answered, step.decided, step.amd.is_some()),
                    connect_at_ms: step.connected.map(|t| c.ms(t)),
                    agent_id: step.agent.clone().or_else(|| attempt.agent.clone()),
                    live: step.live,
                    abandoned: step.abandoned,
                    message_at_ms: step.message_at.map(|t| c.ms(t)),
                };
                self.store
                    .record_attempt_progress(attempt.id, &progress)
                    .await?;
                Ok(0)
            }
            Record::AgentState {
                agent,
                state,
                call,
                since,
            } => {
                let attempt = call.and_then(|k| self.attempts.get(&k)).map(|a| a.id);
                let state = (state != crate::agents::State::LoggedOut).then(|| state.as_str());
                self.store
                    .open_agent_interval(&agent, state, c.ms(since), attempt)
                    .await?;
                Ok(0)
            }
            Record::Interval(i) => {
                let attempt = i.call.and_then(|k| self.attempts.get(&k)).map(|a| a.id);
                self.store
                    .insert_agent_interval(
                        &i.agent,
                        i.campaign,
                        i.state.as_str(),
                        c.ms(i.start),
                        c.ms(i.end),
                        attempt,
                    )
                    .await?;
                Ok(0)
            }
            Record::Disposition {
                lead_id,
                call,
                agent,
                code,
                notes,
                effect,
                at,
                conversation,
                ..
            } => {
                let attempt = self.attempts.remove(&call).map(|a| a.id);
                let at_ms = c.ms(at);
                let (next, callback) = effect_times(&c, at, &effect);
                self.store
                    .record_disposition(&NewDisposition {
                        lead_id,
                        attempt_id: attempt,
                        code: &code,
                        agent_id: Some(&agent),
                        notes: notes.as_deref(),
                        callback_at_ms: callback,
                        at_ms,
                    })
                    .await?;
                self.store
                    .apply_lead_update(&LeadUpdate {
                        lead_id,
                        status: effect.status,
                        next_attempt_at_ms: next,
                        callback_at_ms: callback,
                        conversation_at_ms: conversation.then_some(at_ms),
                        outcome: &code,
                        at_ms,
                    })
                    .await?;
                Ok(0)
            }
            Record::WrapUpCut {
                lead_id,
                call,
                outcome,
                effect,
                since,
                at,
                ..
            } => {
                // No disposition: the attempt keeps its outcome, the lead is due per `effect`.
                self.attempts.remove(&call);
                let (next, callback) = effect_times(&c, since, &effect);
                self.store
                    .apply_lead_update(&LeadUpdate {
                        lead_id,
                        status: effect.status,
                        next_attempt_at_ms: next,
                        callback_at_ms: callback,
                        conversation_at_ms: None,
                        outcome: &outcome,
                        at_ms: c.ms(at),
                    })
                    .await?;
                Ok(0)
            }
            Record::SurveyAnswer {
                call,
                question,
                key,
                value,
                at,
            } => {
                let Some(attempt) = self.attempts.get(&call) else {
                    return Err(StoreError::Invalid(format!(
                        "call {call}: a survey answer without a started attempt"
                    )));
                };
                self.store
                    .record_survey_answer(
                        attempt.id,
                        &question,
                        &value,
                        Some(&key.to_string()),
                        c.ms(at),
                    )
                    .await?;
                Ok(0)
            }
        }
    }
}

/// How long AMD took from the answer to its decision, in ms.
fn amd_ms(
    answered: Option<std::time::Instant>,
    decided: Option<std::time::Instant>,
    amd: bool,
) -> Option<i32> {
    match (answered, decided) {
        (Some(a), Some(d)) if amd => Some(d.saturating_duration_since(a).as_millis() as i32),
        _ => None,
    }
}

/// When the lead is due again and its callback time, as unix ms.
fn effect_times(
    c: &WallClock,
    at: std::time::Instant,
    e: &LeadEffect,
) -> (Option<i64>, Option<i64>) {
    let callback = e.callback_after.map(|d| c.ms_after(at, d));
    let next = e.retry_after.map(|d| c.ms_after(at, d)).or(callback);
    (next, callback)
}
