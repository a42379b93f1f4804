//! The store writer: one task that turns the switchboard's records into rows, in order.
//!
//! Records arrive on a bounded channel; when the store cannot keep up the channel fills and the
//! switchboard's loop waits on it, so nothing is dialed that cannot be recorded. An attempt's row
//! is written before its INVITE leaves (the shell waits for [`Msg::AttemptStarted`]'s reply).
//!
//! A write that fails for the state of the store (a full disk, a lock, a database that is down)
//! is tried again, in order, until it succeeds or the process stops: nothing that happened is
//! dropped. Until then the store is "unwritable" ([`StoreHealth`]): the shell claims no leads
//! (dialing pauses), `/ready` says 503 `store`, and past `store.unwritable_watchdog` the systemd
//! watchdog is not pinged. A dial whose row cannot be written is not placed (its INVITE never
//! leaves, so it is no attempt: its lead is given back uncharged). A stop gives the writer a
//! deadline ([`StoreHealth::give_up_at`]): what is still not stored then is logged, counted in
//! `dialer_store_records_lost_total`, and the process exits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::clock::WallClock;
use crate::domain::{AgentId, CallKey, CampaignId};
use crate::store::{
    AttemptEnd, AttemptProgress, AttemptStart, AuditEvent, LeadUpdate, NewDisposition, Store,
    StoreError,
};
use crate::switchboard::{LeadEffect, Record};

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
    /// The agent paused (`paused`) or resumed the call's recording at `at_ms`.
    RecordingPause {
        call: CallKey,
        paused: bool,
        at_ms: i64,
    },
    /// An operator's action for the audit trail (written in order, tried again like a record).
    Audit(Box<AuditEvent>),
    /// Write everything queued, then answer.
    Flush(oneshot::Sender<()>),
}

/// What the writer writes: a switchboard record or an audit event.
#[derive(Debug)]
enum Job {
    Record(Record),
    Audit(AuditEvent),
}

/// Messages the writer holds besides its channel's (taken off the channel so that dials
/// waiting behind a failing write can be refused at once). Bounded: past it the channel fills
/// and the loop waits, as before.
const HELD_MAX: usize = 4096;
/// Waits between tries of a failing write: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Whether the store can write, shared by the writer (which knows), the shell (which pauses
/// dialing), `/ready` and the watchdog.
#[derive(Debug, Clone, Default)]
pub struct StoreHealth(Arc<Mutex<HealthState>>);

#[derive(Debug, Default)]
struct HealthState {
    /// Since when the writer's writes fail (none: they succeed).
    writes_failing: Option<Instant>,
    /// Since when claims (which write leases) fail for the state of the store.
    claims_failing: Option<Instant>,
    /// The last error.
    error: Option<String>,
    /// A stop's deadline: what is not stored by then is given up.
    give_up_at: Option<Instant>,
}

impl HealthState {
    fn since(&self) -> Option<Instant> {
        match (self.writes_failing, self.claims_failing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn gauge(&self) {
        let writable = if self.since().is_some() { 0.0 } else { 1.0 };
        metrics::gauge!("dialer_store_writable").set(writable);
    }
}

impl StoreHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Since when the store cannot write, and its last error; `None` while it can.
    pub fn unwritable(&self) -> Option<(Instant, String)> {
        let s = self.lock();
        s.since().map(|t| (t, s.error.clone().unwrap_or_default()))
    }

    /// Whether the store has not been able to write for longer than `limit` at `now`.
    pub fn unwritable_longer_than(&self, now: Instant, limit: Duration) -> bool {
        self.lock()
            .since()
            .is_some_and(|t| now.saturating_duration_since(t) > limit)
    }

    /// The process stops: writes still failing at `at` are given up (logged and counted).
    pub fn give_up_at(&self, at: Instant) {
        self.lock().give_up_at = Some(at);
    }

    fn deadline(&self) -> Option<Instant> {
        self.lock().give_up_at
    }

    /// A claim failed for the state of the store (it could not write its leases).
    pub fn claim_failed(&self, now: Instant, err: &dyn std::fmt::Display) {
        let mut s = self.lock();
        if s.since().is_none() {
            tracing::error!(%err, "the store cannot write (a claim failed): dialing paused");
        }
        s.error = Some(err.to_string());
        s.claims_failing.get_or_insert(now);
        s.gauge();
    }

    /// A claim went through.
    pub fn claim_succeeded(&self) {
        let mut s = self.lock();
        if let Some(t) = s.claims_failing.take() {
            if s.since().is_none() {
                tracing::warn!(unwritable_for = ?t.elapsed(), "the store writes again: dialing resumes");
            }
            s.gauge();
        }
    }

    /// A write failed; true when the store could write until now.
    fn failed(&self, now: Instant, err: &StoreError) -> bool {
        let mut s = self.lock();
        let first = s.since().is_none();
        s.error = Some(err.to_string());
        s.writes_failing.get_or_insert(now);
        s.gauge();
        first
    }

    /// A write succeeded; since when writes had been failing, if they had.
    fn succeeded(&self) -> Option<Instant> {
        let mut s = self.lock();
        let was = s.writes_failing.take();
        if was.is_some() {
            s.gauge();
        }
        was
    }
}

#[derive(Debug, Default, Clone)]
struct Attempt {
    id: i64,
    recording: Option<String>,
    /// The agent who dialed it (preview).
    agent: Option<AgentId>,
    /// The recording is paused since (wall-clock ms).
    paused_since: Option<i64>,
}

/// The writer's state (the task owns it).
#[derive(Debug)]
pub struct Writer {
    store: Store,
    clock: WallClock,
    attempts: HashMap<CallKey, Attempt>,
    /// Dials whose row could not be written, so they were not placed: their end gives the
    /// lead back instead of writing an attempt.
    not_dialed: HashSet<CallKey>,
    /// The node id stored on each attempt (`dialer.toml`'s `node_id`).
    node: Option<String>,
    /// The lease owner of claimed leads (to give back a lead whose dial was not placed).
    owner: Option<String>,
    health: StoreHealth,
    /// Steps of the current record already written (a disposition is two writes).
    steps_done: u8,
}
impl Writer {
    pub fn new(store: Store, clock: WallClock) -> Self {
        Self {
            store,
            clock,
            attempts: HashMap::new(),
            not_dialed: HashSet::new(),
            node: None,
            owner: None,
            health: StoreHealth::default(),
            steps_done: 0,
        }
    }

    /// Store `node` on every attempt: after a crash only this node closes them as
    /// interrupted.
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// The lease owner of the daemon's claims (a lead whose dial was not placed is given back).
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Report the store's health to `health`.
    pub fn with_health(mut self, health: StoreHealth) -> Self {
        self.health = health;
        self
    }

    /// Run until every sender is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut held: VecDeque<Msg> = VecDeque::new();
        loop {
            if held.is_empty() {
                match rx.recv().await {
                    Some(m) => held.push_back(m),
                    None => break,
                }
            }
            while held.len() < HELD_MAX {
                match rx.try_recv() {
                    Ok(m) => held.push_back(m),
                    Err(_) => break,
                }
            }
            metrics::gauge!("dialer_store_queue_depth").set((rx.len() + held.len()) as f64);
            let Some(msg) = held.pop_front() else {
                continue;
            };
            match msg {
                Msg::Record(record, reply) => {
                    self.write_until_stored(Job::Record(*record), reply, &mut held, &mut rx)
                        .await
                }
                Msg::Audit(event) => {
                    self.write_until_stored(Job::Audit(*event), None, &mut held, &mut rx)
                        .await
                }
                Msg::CallInfo { call, recording } => {
                    if let Some(a) = self.attempts.get_mut(&call)
                        && recording.is_some()
                    {
                        a.recording = recording;
                    }
                }
                Msg::RecordingPause {
                    call,
                    paused,
                    at_ms,
                } => {
                    let Some(a) = self.attempts.get_mut(&call) else {
                        continue;
                    };
                    let (id, since) = (a.id, a.paused_since);
                    match (paused, since) {
                        (true, None) => a.paused_since = Some(at_ms),
                        (false, Some(start)) => {
                            a.paused_since = None;
                            self.store_pause(id, start, at_ms).await;
                        }
                        _ => {}
                    }
                }
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Store a paused part of a recording (logged when the store refuses: the file's silence
    /// stays the evidence).
    async fn store_pause(&self, attempt: i64, start_ms: i64, end_ms: i64) {
        if let Err(error) = self
            .store
            .add_recording_pause(attempt, start_ms, end_ms)
            .await
        {
            tracing::error!(attempt, start_ms, end_ms, %error, "recording pause not stored");
        }
    }

    /// Write one record, trying again while the store cannot write (in order: nothing behind
    /// it is written first). A dial's row is not retried: the dial is not placed.
    async fn write_until_stored(
        &mut self,
        record: Job,
        reply: Option<oneshot::Sender<Result<i64, String>>>,
        held: &mut VecDeque<Msg>,
        rx: &mut mpsc::Receiver<Msg>,
    ) {
        self.steps_done = 0;
        let mut wait = RETRY_FIRST;
        let mut tries = 0u32;
        loop {
            let deadline = self.health.deadline();
            let result = match deadline {
                Some(d) => match tokio::time::timeout_at(d.into(), self.write_job(&record)).await {
                    Ok(r) => r,
                    Err(_) => Err(StoreError::DeadlinePassed),
                },
                None => self.write_job(&record).await,
            };
            tries += 1;
            match result {
                Ok(id) => {
                    if let Some(since) = self.health.succeeded() {
                        tracing::warn!(
                            unwritable_for = ?since.elapsed(),
                            "the store writes again: dialing resumes"
                        );
                    }
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(id));
                    }
                    return;
                }
                Err(err) if err.is_permanent() || reply.is_some() => {
                    // A dial's row: the dial is not placed (no INVITE, no attempt); its end
                    // gives the lead back. Anything else: the store refuses this record itself.
                    if let Some(reply) = reply {
                        if !err.is_permanent() {
                            self.health.failed(Instant::now(), &err);
                        }
                        self.refuse_dial(&record);
                        let _ = reply.send(Err(err.to_string()));
                    } else {
                        tracing::error!(%err, record = %describe(&record), "store write refused: record dropped");
                        metrics::counter!("dialer_store_write_errors_total").increment(1);
                        metrics::counter!("dialer_store_records_lost_total").increment(1);
                    }
                    return;
                }
                Err(err) => {
                    metrics::counter!("dialer_store_write_errors_total").increment(1);
                    let now = Instant::now();
                    if self.health.failed(now, &err) {
                        tracing::error!(%err, record = %describe(&record), "the store cannot write: retrying in order, dialing paused");
                    } else if tries.is_power_of_two() {
                        tracing::warn!(%err, tries, record = %describe(&record), "the store still cannot write");
                    }
                    if deadline.is_some_and(|d| now >= d) {
                        self.give_up(record, held, rx);
                        return;
                    }
                    // Dials queued behind this write are not placed (no INVITE waits minutes
                    // for its row); the rest waits, in order.
                    self.refuse_queued_dials(held, rx);
                    let sleep_until = deadline.map_or(now + wait, |d| d.min(now + wait));
                    tokio::time::sleep_until(sleep_until.into()).await;
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// A dial whose row is not written: remember it so its end gives the lead back.
    fn refuse_dial(&mut self, record: &Job) {
        if let Job::Record(Record::AttemptStarted { call, .. }) = record {
            self.not_dialed.insert(*call);
            metrics::counter!("dialer_store_dials_refused_total").increment(1);
        }
    }

    /// Answer every dial waiting in the queue (held or in the channel) "not placed".
    fn refuse_queued_dials(&mut self, held: &mut VecDeque<Msg>, rx: &mut mpsc::Receiver<Msg>) {
        while held.len() < HELD_MAX {
            match rx.try_recv() {
                Ok(m) => held.push_back(m),
                Err(_) => break,
            }
        }
        let mut kept = VecDeque::with_capacity(held.len());
        for m in held.drain(..) {
            match m {
                Msg::Record(record, Some(reply)) => {
                    self.refuse_dial(&Job::Record(*record));
                    let _ = reply.send(Err("the store cannot write: dial not placed".into()));
                }
                m => kept.push_back(m),
            }
        }
        *held = kept;
    }

    /// The stop's deadline passed with the store still failing: log and count everything not
    /// stored, answer the flush.
    fn give_up(&mut self, record: Job, held: &mut VecDeque<Msg>, rx: &mut mpsc::Receiver<Msg>) {
        let mut lost = vec![describe(&record)];
        while let Ok(m) = rx.try_recv() {
            held.push_back(m);
        }
        for m in held.drain(..) {
            match m {
                Msg::Record(r, reply) => {
                    lost.push(describe_record(&r));
                    if let Some(reply) = reply {
                        let _ = reply.send(Err("stopping".into()));
                    }
                }
                Msg::Audit(e) => lost.push(describe(&Job::Audit(*e))),
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
                Msg::CallInfo { .. } | Msg::RecordingPause { .. } => {}
            }
        }
        metrics::counter!("dialer_store_records_lost_total").increment(lost.len() as u64);
        for r in &lost {
            tracing::error!(record = %r, "not stored: the store could not write before the stop's deadline");
        }
        tracing::error!(
            lost = lost.len(),
            "stopping with records not stored (see the lines above)"
        );
    }

    /// Write one record; returns the attempt id for `AttemptStarted`, else 0.
    pub async fn write(&mut self, record: Record) -> Result<i64, StoreError> {
        self.steps_done = 0;
        self.write_ref(&record).await
    }

    /// Write a record or an audit event.
    async fn write_job(&mut self, job: &Job) -> Result<i64, StoreError> {
        match job {
            Job::Record(record) => self.write_ref(record).await,
            Job::Audit(event) => {
                self.store.audit(event).await?;
                Ok(0)
            }
        }
    }

    async fn write_ref(&mut self, record: &Record) -> Result<i64, StoreError> {
        let started = std::time::Instant::now();
        let result = self.write_inner(record).await;
        metrics::histogram!("dialer_store_write_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    async fn write_inner(&mut self, record: &Record) -> Result<i64, StoreError> {
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
                        lead_id: *lead_id,
                        dial_at_ms: c.ms(*at),
                        trunk: Some(trunk),
                        call_id: sip_call_id.as_deref(),
                        node: self.node.as_deref(),
                        rules_version: Some(&crate::compliance::states::SHIPPED.version),
                    })
                    .await?;
                self.attempts.insert(
                    *call,
                    Attempt {
                        id,
                        recording: None,
                        agent: agent.clone(),
                        paused_since: None,
                    },
                );
                Ok(id)
            }
            Record::AttemptEnded {
                call,
                lead_id,
                summary: s,
                effect,
                conversation,
                ..
            } => {
                if self.not_dialed.contains(call) {
                    // Its row was never written and its INVITE never left: no attempt, the
                    // lead goes back uncharged.
                    if let Some(owner) = &self.owner {
                        self.store.release_lead(*lead_id, owner).await?;
                    }
                    self.not_dialed.remove(call);
                    return Ok(0);
                }
                let Some(attempt) = self.attempts.get(call).cloned() else {
                    return Err(StoreError::Invalid(format!(
                        "call {call} ended without a started attempt"
                    )));
                };
                let end_ms = c.ms(s.ended);
                let (next, callback) = effect_times(&c, s.ended, effect);
                let live = s.outcome.is_live();
                let end = AttemptEnd {
                    end_at_ms: end_ms,
                    outcome: s.outcome,
                    sip_status: s.sip_status.map(i32::from),
                    ring_at_ms: s.ringing.map(|t| c.ms(t)),
                    answer_at_ms: s.answered.map(|t| c.ms(t)),
                    amd_at_ms: s.amd.as_ref().and(s.decided).map(|t| c.ms(t)),
                    connect_at_ms: s.connected.map(|t| c.ms(t)),
                    message_at_ms: s.message_at.map(|t| c.ms(t)),
                    amd_result: s.amd.as_ref().map(|(r, _)| *r),
                    amd_cause: s.amd.as_ref().map(|(_, cause)| cause.clone()),
                    amd_ms: amd_ms(s.answered, s.decided, s.amd.is_some()),
                    // The agent who talked, else the one who dialed (preview).
                    agent_id: s
                        .agent
                        .as_ref()
                        .or(attempt.agent.as_ref())
                        .map(AgentId::to_string),
                    live,
                    abandoned: s.abandoned,
                    conversation: *conversation,
                    recording_path: attempt.recording,
                    lead_status: effect.status,
                    next_attempt_at_ms: next,
                    callback_at_ms: callback,
                };
                self.store.record_attempt_end(attempt.id, &end).await?;
                // A pause the call ended in ends with it.
                if let Some(start) = attempt.paused_since {
                    self.store_pause(attempt.id, start, end_ms.max(start)).await;
                }
                self.attempts.remove(call);
                // Keep the id for the agent's disposition, which comes after the call; calls no
                // agent took get none, so nothing is kept for them.
                if s.agent.is_some() {
                    self.attempts.insert(
                        *call,
                        Attempt {
                            id: attempt.id,
                            recording: None,
                            agent: None,
                            paused_since: None,
                        },
                    );
                }
                Ok(0)
            }
            Record::AttemptProgress { call, step } => {
                let Some(attempt) = self.attempts.get(call) else {
                    return Err(StoreError::Invalid(format!(
                        "call {call}: a step without a started attempt"
                    )));
                };
                let progress = AttemptProgress {
                    ring_at_ms: step.ringing.map(|t| c.ms(t)),
                    answer_at_ms: step.answered.map(|t| c.ms(t)),
                    amd_at_ms: step.amd.as_ref().and(step.decided).map(|t| c.ms(t)),
                    amd_result: step.amd.as_ref().map(|(r, _)| *r),
                    amd_cause: step.amd.as_ref().map(|(_, cause)| cause.clone()),
                    amd_ms: amd_ms(step.answered, step.decided, step.amd.is_some()),
                    connect_at_ms: step.connected.map(|t| c.ms(t)),
                    agent_id: step
                        .agent
                        .as_ref()
                        .or(attempt.agent.as_ref())
                        .map(AgentId::to_string),
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
                let state = (*state != crate::agents::State::LoggedOut).then(|| state.as_str());
                self.store
                    .open_agent_interval(agent, state, c.ms(*since), attempt)
                    .await?;
                Ok(0)
            }
            Record::Interval(i) => {
                let attempt = i.call.and_then(|k| self.attempts.get(&k)).map(|a| a.id);
                self.store
                    .insert_agent_interval(
                        &i.agent,
                        i.campaign.map(CampaignId::get),
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
                let attempt = self.attempts.get(call).map(|a| a.id);
                let at_ms = c.ms(*at);
                let (next, callback) = effect_times(&c, *at, effect);
                // Two writes: a retry after the first one went in does not write it again.
                if self.steps_done == 0 {
                    self.store
                        .record_disposition(&NewDisposition {
                            lead_id: *lead_id,
                            attempt_id: attempt,
                            code,
                            agent_id: Some(agent),
                            notes: notes.as_deref(),
                            callback_at_ms: callback,
                            at_ms,
                        })
                        .await?;
                    self.steps_done = 1;
                }
                self.store
                    .apply_lead_update(&LeadUpdate {
                        lead_id: *lead_id,
                        status: effect.status,
                        next_attempt_at_ms: next,
                        callback_at_ms: callback,
                        conversation_at_ms: conversation.then_some(at_ms),
                        outcome: code,
                        at_ms,
                    })
                    .await?;
                self.attempts.remove(call);
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
                let (next, callback) = effect_times(&c, *since, effect);
                self.store
                    .apply_lead_update(&LeadUpdate {
                        lead_id: *lead_id,
                        status: effect.status,
                        next_attempt_at_ms: next,
                        callback_at_ms: callback,
                        conversation_at_ms: None,
                        outcome: outcome.as_str(),
                        at_ms: c.ms(*at),
                    })
                    .await?;
                self.attempts.remove(call);
                Ok(0)
            }
            Record::OptOut {
                call,
                key,
                message,
                global,
                at,
                ..
            } => {
                let Some(attempt) = self.attempts.get(call) else {
                    return Err(StoreError::Invalid(format!(
                        "call {call}: an opt-out without a started attempt"
                    )));
                };
                self.store
                    .record_opt_out(attempt.id, &key.to_string(), message, *global, c.ms(*at))
                    .await?;
                tracing::info!(
                    attempt = attempt.id,
                    key = %key,
                    message = *message,
                    global = *global,
                    "opt-out: number added to the DNC list"
                );
                Ok(0)
            }
            Record::SurveyAnswer {
                call,
                question,
                key,
                value,
                at,
            } => {
                let Some(attempt) = self.attempts.get(call) else {
                    return Err(StoreError::Invalid(format!(
                        "call {call}: a survey answer without a started attempt"
                    )));
                };
                self.store
                    .record_survey_answer(
                        attempt.id,
                        question,
                        value,
                        key.map(|k| k.to_string()).as_deref(),
                        c.ms(*at),
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

/// A job in a log line.
fn describe(job: &Job) -> String {
    match job {
        Job::Record(r) => describe_record(r),
        Job::Audit(e) => format!("audit event ({}: {})", e.kind, e.message),
    }
}

/// A record in a log line: its kind and what it is about.
fn describe_record(r: &Record) -> String {
    match r {
        Record::AttemptStarted { call, lead_id, .. } => {
            format!("attempt start (call {call}, lead {lead_id})")
        }
        Record::AttemptEnded {
            call,
            lead_id,
            summary,
            ..
        } => format!(
            "attempt end (call {call}, lead {lead_id}, outcome {})",
            summary.outcome
        ),
        Record::AttemptProgress { call, .. } => format!("attempt step (call {call})"),
        Record::AgentState { agent, state, .. } => {
            format!("agent state ({agent}, {})", state.as_str())
        }
        Record::Interval(i) => format!("agent interval ({}, {})", i.agent, i.state.as_str()),
        Record::Disposition {
            call,
            lead_id,
            code,
            ..
        } => format!("disposition (call {call}, lead {lead_id}, code {code})"),
        Record::WrapUpCut { call, lead_id, .. } => {
            format!("wrap-up cut (call {call}, lead {lead_id})")
        }
        Record::SurveyAnswer { call, question, .. } => {
            format!("survey answer (call {call}, question {question})")
        }
        Record::OptOut {
            call,
            lead_id,
            message,
            ..
        } => format!("opt-out (call {call}, lead {lead_id}, during {message})"),
    }
}
