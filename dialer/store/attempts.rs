//! Call attempts, dispositions, survey answers, agent state intervals, abandon counts.
//!
//! Starting an attempt also updates the lead's counters (attempts, last attempt, the recent
//! attempt times the rolling limits read); ending it records the outcome on the lead, its next
//! due time, and gives the lease back.

use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, Value};

use super::window::{Tally, add_to_hour};
use super::{Result, Store, StoreError, stmt};
use crate::compliance::evidence::Evidence;
use crate::domain::{AmdResult, LeadStatus, Outcome};

/// How far back `leads.recent_attempts` keeps attempt times: the longest rolling window
/// (Regulation F: 7 days).
pub const RECENT_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;
/// At most this many recent attempt times are kept per lead.
pub const RECENT_MAX: usize = 64;

/// A dial that is starting.
#[derive(Debug, Clone, Default)]
pub struct AttemptStart<'a> {
    pub lead_id: i64,
    pub dial_at_ms: i64,
    pub trunk: Option<&'a str>,
    /// The SIP Call-ID of the INVITE (named before it leaves).
    pub call_id: Option<&'a str>,
    /// The node that dials it (`dialer.toml`'s `node_id`): only this node closes it as
    /// interrupted after a crash ([`Store::close_interrupted`]).
    pub node: Option<&'a str>,
    /// The version of the state rules that allowed the dial (stored with the attempt beside the
    /// lead's zone key, as evidence).
    pub rules_version: Option<&'a str>,
}

/// How an attempt ended and what it does to its lead.
#[derive(Debug, Clone)]
pub struct AttemptEnd {
    pub end_at_ms: i64,
    /// How the call ended (its text in the `outcome` and `last_outcome` columns).
    pub outcome: Outcome,
    pub sip_status: Option<i32>,
    pub ring_at_ms: Option<i64>,
    pub answer_at_ms: Option<i64>,
    pub amd_at_ms: Option<i64>,
    pub connect_at_ms: Option<i64>,
    /// When the message to the customer started: the voicemail drop, the safe-harbor message,
    /// an agentless campaign's message.
    pub message_at_ms: Option<i64>,
    pub amd_result: Option<AmdResult>,
    pub amd_cause: Option<String>,
    pub amd_ms: Option<i32>,
    pub agent_id: Option<String>,
    /// A person answered.
    pub live: bool,
    /// A person answered and no agent was connected in time.
    pub abandoned: bool,
    /// An agent talked with the person (Regulation F counts conversations).
    pub conversation: bool,
    pub recording_path: Option<String>,
    /// The lead's status afterwards: active (retry), done, invalid, DNC.
    pub lead_status: LeadStatus,
    /// When the lead may be dialed again (unix ms), if it may.
    pub next_attempt_at_ms: Option<i64>,
    pub callback_at_ms: Option<i64>,
}

/// A failed dial at the epoch, its lead active and due at once: the fields a test leaves out.
impl Default for AttemptEnd {
    fn default() -> Self {
        Self {
            end_at_ms: 0,
            outcome: Outcome::Failed,
            sip_status: None,
            ring_at_ms: None,
            answer_at_ms: None,
            amd_at_ms: None,
            connect_at_ms: None,
            message_at_ms: None,
            amd_result: None,
            amd_cause: None,
            amd_ms: None,
            agent_id: None,
            live: false,
            abandoned: false,
            conversation: false,
            recording_path: None,
            lead_status: LeadStatus::Active,
            next_attempt_at_ms: None,
            callback_at_ms: None,
        }
    }
}

/// What is known of an attempt still in progress, stored step by step as it happens (the
/// answer, the AMD decision, a person, the connect to an agent, an abandon, a message), so that
/// a crash loses only what was not known yet ([`Store::close_interrupted`] keeps it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptProgress {
    pub ring_at_ms: Option<i64>,
    pub answer_at_ms: Option<i64>,
    pub amd_at_ms: Option<i64>,
    pub amd_result: Option<AmdResult>,
    pub amd_cause: Option<String>,
    pub amd_ms: Option<i32>,
    pub connect_at_ms: Option<i64>,
    pub agent_id: Option<String>,
    /// A person answered: a live answer in the abandon window.
    pub live: bool,
    pub abandoned: bool,
    pub message_at_ms: Option<i64>,
}

/// A campaign's retry rules for an attempt a crash interrupted ([`Store::close_interrupted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterruptedRetry {
    pub max_attempts: i32,
    /// `retry.delay.interrupted`, `.abandoned` and `.machine`, in ms.
    pub interrupted_ms: i64,
    pub abandoned_ms: i64,
    pub machine_ms: i64,
}

/// A disposition to record.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewDisposition<'a> {
    pub lead_id: i64,
    pub attempt_id: Option<i64>,
    pub code: &'a str,
    pub agent_id: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub callback_at_ms: Option<i64>,
    pub at_ms: i64,
}

/// Live answers, abandoned calls and AMD "machine" results of a campaign over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AbandonCounts {
    pub live: u64,
    pub abandoned: u64,
    /// Attempts AMD called machines (the UK budget counts an estimate of people among them).
    pub machines: u64,
}

impl AbandonCounts {
    /// Abandoned / live answers (0 when nobody answered).
    pub fn rate(&self) -> f64 {
        if self.live == 0 {
            0.0
        } else {
            self.abandoned as f64 / self.live as f64
        }
    }
}

/// What the pacer's abandon budget is seeded with.
impl From<AbandonCounts> for crate::pacing::WindowCounts {
    fn from(c: AbandonCounts) -> Self {
        crate::pacing::WindowCounts {
            live_answers: c.live,
            abandoned: c.abandoned,
            amd_machines: c.machines,
        }
    }
}

/// Parse `leads.recent_attempts`.
pub fn parse_recent(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|t| t.trim().parse().ok()).collect()
}

/// Add an attempt time to `leads.recent_attempts`, dropping the ones out of the window.
pub fn push_recent(s: &str, at_ms: i64) -> String {
    let mut v: Vec<i64> = parse_recent(s)
        .into_iter()
        .filter(|t| *t > at_ms - RECENT_WINDOW_MS)
        .collect();
    v.push(at_ms);
    v.sort_unstable();
    if v.len() > RECENT_MAX {
        v.drain(..v.len() - RECENT_MAX);
    }
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

impl Store {
    /// Record a dial that starts now; returns the attempt id.
    pub async fn record_attempt_start(&self, a: &AttemptStart<'_>) -> Result<i64> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        let row = txn
            .query_one_raw(stmt(
                backend,
                "SELECT campaign_id, phone, attempts, recent_attempts, zone_key, claim_evidence \
                 FROM leads WHERE id = ?",
                vec![a.lead_id.into()],
            ))
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("lead {} does not exist", a.lead_id)))?;
        let campaign_id: i64 = row.try_get("", "campaign_id")?;
        let phone: String = row.try_get("", "phone")?;
        let attempts: i32 = row.try_get("", "attempts")?;
        let recent: String = row.try_get("", "recent_attempts")?;
        let zone_key: Option<String> = row.try_get("", "zone_key")?;
        let claimed: Option<String> = row.try_get("", "claim_evidence")?;
        // What the rules saw at the claim, completed with the dial's local times and the abandon
        // counts of the window ending at the dial. Unreadable evidence is stored as it was.
        let evidence = match claimed {
            None => None,
            Some(json) => match serde_json::from_str::<Evidence>(&json) {
                Ok(mut e) => {
                    let since = e.abandon_since_at(a.dial_at_ms);
                    let c =
                        super::window::counts_in(&txn, campaign_id, since, a.dial_at_ms).await?;
                    e.at_dial(a.dial_at_ms, c.live, c.abandoned, c.machines);
                    Some(serde_json::to_string(&e).unwrap_or(json))
                }
                Err(_) => Some(json),
            },
        };
        txn.execute_raw(stmt(
            backend,
            "UPDATE leads SET attempts = ?, last_attempt_at_ms = ?, recent_attempts = ?, \
             status = ?, updated_at_ms = ?, claim_evidence = NULL WHERE id = ?",
            vec![
                (attempts + 1).into(),
                a.dial_at_ms.into(),
                push_recent(&recent, a.dial_at_ms).into(),
                LeadStatus::Active.as_str().into(),
                a.dial_at_ms.into(),
                a.lead_id.into(),
            ],
        ))
        .await?;
        let ins = Query::insert()
            .into_table("call_attempts")
            .columns([
                "lead_id",
                "campaign_id",
                "attempt_no",
                "trunk",
                "call_id",
                "phone",
                "dial_at_ms",
                "node",
                "zone_key",
                "rules_version",
                "evidence",
            ])
            .values_panic([
                a.lead_id.into(),
                campaign_id.into(),
                (attempts + 1).into(),
                a.trunk.map(str::to_string).into(),
                a.call_id.map(str::to_string).into(),
                phone.into(),
                a.dial_at_ms.into(),
                a.node.map(str::to_string).into(),
                zone_key.into(),
                a.rules_version.map(str::to_string).into(),
                evidence.into(),
            ])
            .returning_col("id")
            .to_owned();
        let id_row = txn
            .query_one(&ins)
            .await?
            .ok_or_else(|| StoreError::Invalid("attempt insert returned no id".into()))?;
        let id: i64 = id_row.try_get("", "id")?;
        txn.commit().await?;
        Ok(id)
    }

    /// Record how an attempt ended and update its lead (outcome, next due time, lease back).
    pub async fn record_attempt_end(&self, attempt_id: i64, e: &AttemptEnd) -> Result<()> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        let row = txn
            .query_one_raw(stmt(
                backend,
                "SELECT lead_id, campaign_id, dial_at_ms, end_at_ms, amd_result, \
                 CASE WHEN live THEN 1 ELSE 0 END AS live, \
                 CASE WHEN abandoned THEN 1 ELSE 0 END AS abandoned \
                 FROM call_attempts WHERE id = ?",
                vec![attempt_id.into()],
            ))
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("attempt {attempt_id} does not exist")))?;
        let lead_id: i64 = row.try_get("", "lead_id")?;
        let campaign_id: i64 = row.try_get("", "campaign_id")?;
        let dial: i64 = row.try_get("", "dial_at_ms")?;
        // What the window's hour counted of it already: nothing until it has ended.
        let counted = if row.try_get::<Option<i64>>("", "end_at_ms")?.is_some() {
            Tally::of(
                row.try_get::<i32>("", "live")? != 0,
                row.try_get::<i32>("", "abandoned")? != 0,
                row.try_get::<Option<String>>("", "amd_result")?.as_deref(),
            )
        } else {
            Tally::default()
        };
        txn.execute_raw(stmt(
            backend,
            "UPDATE call_attempts SET end_at_ms = ?, outcome = ?, sip_status = ?, ring_at_ms = ?, \
             answer_at_ms = ?, amd_at_ms = ?, connect_at_ms = ?, amd_result = ?, amd_cause = ?, \
             amd_ms = ?, agent_id = ?, live = ?, abandoned = ?, recording_path = ?, \
             message_at_ms = ? WHERE id = ?",
            vec![
                e.end_at_ms.into(),
                e.outcome.as_str().into(),
                e.sip_status.into(),
                e.ring_at_ms.into(),
                e.answer_at_ms.into(),
                e.amd_at_ms.into(),
                e.connect_at_ms.into(),
                e.amd_result.map(AmdResult::as_str).into(),
                e.amd_cause.clone().into(),
                e.amd_ms.into(),
                e.agent_id.clone().into(),
                e.live.into(),
                e.abandoned.into(),
                e.recording_path.clone().into(),
                e.message_at_ms.into(),
                attempt_id.into(),
            ],
        ))
        .await?;
        let ended = Tally::of(e.live, e.abandoned, e.amd_result.map(AmdResult::as_str));
        add_to_hour(&txn, campaign_id, dial, ended.minus(counted)).await?;
        let machine = e.amd_result == Some(AmdResult::Machine);
        let mut values: Vec<Value> = vec![
            e.outcome.as_str().into(),
            e.lead_status.as_str().into(),
            e.next_attempt_at_ms.into(),
            e.callback_at_ms.into(),
        ];
        let mut sets = String::from(
            "last_outcome = ?, status = ?, next_attempt_at_ms = ?, callback_at_ms = ?, \
             lease_owner = NULL, lease_until_ms = NULL",
        );
        if e.conversation {
            sets.push_str(", last_conversation_at_ms = ?");
            values.push(e.end_at_ms.into());
        }
        if e.abandoned {
            sets.push_str(", last_abandoned_at_ms = ?");
            values.push(dial.into());
        }
        if machine {
            sets.push_str(", last_machine_at_ms = ?");
            values.push(dial.into());
        }
        sets.push_str(", updated_at_ms = ?");
        values.push(e.end_at_ms.into());
        values.push(lead_id.into());
        txn.execute_raw(stmt(
            backend,
            &format!("UPDATE leads SET {sets} WHERE id = ?"),
            values,
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Store what is known of an attempt still in progress (its answer, AMD decision, person,
    /// connect and agent, abandon, message), as it happens. An attempt that has ended is left
    /// as its end wrote it.
    pub async fn record_attempt_progress(
        &self,
        attempt_id: i64,
        p: &AttemptProgress,
    ) -> Result<()> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        txn.execute_raw(stmt(
            backend,
            "UPDATE call_attempts SET ring_at_ms = ?, answer_at_ms = ?, amd_at_ms = ?, \
             amd_result = ?, amd_cause = ?, amd_ms = ?, connect_at_ms = ?, agent_id = ?, \
             live = ?, abandoned = ?, message_at_ms = ? WHERE id = ? AND end_at_ms IS NULL",
            vec![
                p.ring_at_ms.into(),
                p.answer_at_ms.into(),
                p.amd_at_ms.into(),
                p.amd_result.map(AmdResult::as_str).into(),
                p.amd_cause.clone().into(),
                p.amd_ms.into(),
                p.connect_at_ms.into(),
                p.agent_id.clone().into(),
                p.live.into(),
                p.abandoned.into(),
                p.message_at_ms.into(),
                attempt_id.into(),
            ],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Attempts `node` left open by a crash (no end), and open ones that name no node (rows
    /// from before nodes were stored): close them as `interrupted` at `now_ms` and give their
    /// leases back. Another node's open attempts are its live calls and stay as they are.
    /// Returns how many were closed.
    ///
    /// What was stored of them as it happened stays: answer, AMD decision, connect, agent, and
    /// `live`/`abandoned`, so the abandon window still counts them. Their leads are due again
    /// per `rules` (by campaign id): after `retry.delay.abandoned` for a person known to have
    /// been abandoned, `.machine` for a machine, else `.interrupted`; `done` when the attempt
    /// was the lead's last. A conversation with an agent counts as one that went on until
    /// `now_ms` (Regulation F's 7 days), an abandon and a machine as of the dial, as
    /// [`Store::record_attempt_end`] counts them. A campaign with no rule (removed since) has
    /// its leads due at once.
    pub async fn close_interrupted(
        &self,
        now_ms: i64,
        node: &str,
        rules: &std::collections::HashMap<i64, InterruptedRetry>,
    ) -> Result<u64> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        let open = txn
            .query_all_raw(stmt(
                backend,
                "SELECT id, lead_id, campaign_id, attempt_no, dial_at_ms, connect_at_ms, \
                 amd_result, CASE WHEN abandoned THEN 1 ELSE 0 END AS abandoned, \
                 CASE WHEN live THEN 1 ELSE 0 END AS live \
                 FROM call_attempts WHERE end_at_ms IS NULL AND (node = ? OR node IS NULL)",
                vec![node.into()],
            ))
            .await?;
        for row in &open {
            let lead_id: i64 = row.try_get("", "lead_id")?;
            let campaign_id: i64 = row.try_get("", "campaign_id")?;
            let attempt_no: i32 = row.try_get("", "attempt_no")?;
            let dial: i64 = row.try_get("", "dial_at_ms")?;
            let connected = row.try_get::<Option<i64>>("", "connect_at_ms")?.is_some();
            let machine = row.try_get::<Option<String>>("", "amd_result")?.as_deref()
                == Some(AmdResult::Machine.as_str());
            let abandoned = row.try_get::<i32>("", "abandoned")? != 0;
            let live = row.try_get::<i32>("", "live")? != 0;
            // Closed now: its hour counts it from here on.
            add_to_hour(
                &txn,
                campaign_id,
                dial,
                Tally::of(
                    live,
                    abandoned,
                    machine.then_some(AmdResult::Machine.as_str()),
                ),
            )
            .await?;
            let mut values: Vec<Value> = vec![Outcome::Interrupted.as_str().into()];
            let mut sets =
                String::from("last_outcome = ?, lease_owner = NULL, lease_until_ms = NULL");
            match rules.get(&campaign_id) {
                Some(r) if attempt_no >= r.max_attempts => {
                    sets.push_str(", status = ?, next_attempt_at_ms = NULL");
                    values.push(LeadStatus::Done.as_str().into());
                }
                Some(r) => {
                    let delay = if abandoned {
                        r.abandoned_ms
                    } else if machine && !connected {
                        r.machine_ms
                    } else {
                        r.interrupted_ms
                    };
                    sets.push_str(", status = ?, next_attempt_at_ms = ?");
                    values.push(LeadStatus::Active.as_str().into());
                    values.push((now_ms + delay).into());
                }
                None => {
                    sets.push_str(", next_attempt_at_ms = ?");
                    values.push(now_ms.into());
                }
            }
            if connected {
                sets.push_str(", last_conversation_at_ms = ?");
                values.push(now_ms.into());
            }
            if abandoned {
                sets.push_str(", last_abandoned_at_ms = ?");
                values.push(dial.into());
            }
            if machine {
                sets.push_str(", last_machine_at_ms = ?");
                values.push(dial.into());
            }
            sets.push_str(", updated_at_ms = ?");
            values.push(now_ms.into());
            values.push(lead_id.into());
            txn.execute_raw(stmt(
                backend,
                &format!("UPDATE leads SET {sets} WHERE id = ?"),
                values,
            ))
            .await?;
        }
        let n = txn
            .execute_raw(stmt(
                backend,
                "UPDATE call_attempts SET end_at_ms = ?, outcome = ? \
                 WHERE end_at_ms IS NULL AND (node = ? OR node IS NULL)",
                vec![
                    now_ms.into(),
                    Outcome::Interrupted.as_str().into(),
                    node.into(),
                ],
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        Ok(n)
    }

    /// Live answers, abandoned calls and AMD "machine" results of a campaign among attempts
    /// dialed in `[since_ms, until_ms)`: what its abandon budget starts from, so a restart does
    /// not reset it.
    pub async fn abandon_counts(
        &self,
        campaign_id: i64,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<AbandonCounts> {
        super::window::counts_in(self.conn(), campaign_id, since_ms, until_ms).await
    }

    /// Record a disposition (system or agent) on a lead; returns its id.
    pub async fn record_disposition(&self, d: &NewDisposition<'_>) -> Result<i64> {
        let NewDisposition {
            lead_id,
            attempt_id,
            code,
            agent_id,
            notes,
            callback_at_ms,
            at_ms: now_ms,
        } = *d;
        let backend = self.backend();
        let campaign: i64 = self
            .conn()
            .query_one_raw(stmt(
                backend,
                "SELECT campaign_id FROM leads WHERE id = ?",
                vec![lead_id.into()],
            ))
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("lead {lead_id} does not exist")))?
            .try_get("", "campaign_id")?;
        let q = Query::insert()
            .into_table("dispositions")
            .columns([
                "attempt_id",
                "lead_id",
                "campaign_id",
                "code",
                "agent_id",
                "notes",
                "callback_at_ms",
                "created_at_ms",
            ])
            .values_panic([
                attempt_id.into(),
                lead_id.into(),
                campaign.into(),
                code.into(),
                agent_id.map(str::to_string).into(),
                notes.map(str::to_string).into(),
                callback_at_ms.into(),
                now_ms.into(),
            ])
            .returning_col("id")
            .to_owned();
        let row = self
            .conn()
            .query_one(&q)
            .await?
            .ok_or_else(|| StoreError::Invalid("disposition insert returned no id".into()))?;
        Ok(row.try_get("", "id")?)
    }

    /// Record one survey answer of an attempt.
    pub async fn record_survey_answer(
        &self,
        attempt_id: i64,
        question: &str,
        answer: &str,
        digits: Option<&str>,
        at_ms: i64,
    ) -> Result<()> {
        self.conn()
            .execute_raw(self.stmt(
                "INSERT INTO survey_answers (attempt_id, lead_id, campaign_id, question, answer, \
                 digits, answered_at_ms) SELECT id, lead_id, campaign_id, ?, ?, ?, ? \
                 FROM call_attempts WHERE id = ?",
                vec![
                    question.into(),
                    answer.into(),
                    digits.map(str::to_string).into(),
                    at_ms.into(),
                    attempt_id.into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// The customer of `attempt_id` pressed the opt-out key: the lead's number goes on the
    /// campaign's DNC list (and the global one when `global`) and the evidence row is written,
    /// in one transaction. Returns the number.
    /// A part of the attempt's recording the agent paused, `start_ms` to `end_ms`.
    pub async fn add_recording_pause(
        &self,
        attempt_id: i64,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<()> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO recording_pauses (attempt_id, start_ms, end_ms) VALUES (?, ?, ?)",
            vec![attempt_id.into(), start_ms.into(), end_ms.into()],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The paused parts of an attempt's recording, `(start_ms, end_ms)`, in order.
    pub async fn recording_pauses(&self, attempt_id: i64) -> Result<Vec<(i64, i64)>> {
        let rows = self
            .conn()
            .query_all_raw(stmt(
                self.backend(),
                "SELECT start_ms, end_ms FROM recording_pauses WHERE attempt_id = ? \
                 ORDER BY start_ms, id",
                vec![attempt_id.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("", "start_ms")?, r.try_get("", "end_ms")?)))
            .collect()
    }

    pub async fn record_opt_out(
        &self,
        attempt_id: i64,
        digits: &str,
        message: &str,
        global: bool,
        at_ms: i64,
    ) -> Result<String> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        let row = txn
            .query_one_raw(stmt(
                backend,
                "SELECT l.id AS lead_id, l.phone AS phone, a.campaign_id AS campaign_id \
                 FROM call_attempts a JOIN leads l ON l.id = a.lead_id WHERE a.id = ?",
                vec![attempt_id.into()],
            ))
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(format!("opt-out: attempt {attempt_id} does not exist"))
            })?;
        let lead_id: i64 = row.try_get("", "lead_id")?;
        let phone: String = row.try_get("", "phone")?;
        let campaign_id: i64 = row.try_get("", "campaign_id")?;
        let mut scopes = vec![campaign_id];
        if global {
            scopes.push(0);
        }
        let reason = format!("key {digits} during {message}");
        for scope in scopes {
            txn.execute_raw(stmt(
                backend,
                "INSERT INTO dnc_numbers (phone, campaign_id, source, reason, added_at_ms) \
                 VALUES (?, ?, 'opt-out', ?, ?) ON CONFLICT (phone, campaign_id) DO NOTHING",
                vec![
                    phone.clone().into(),
                    scope.into(),
                    reason.clone().into(),
                    at_ms.into(),
                ],
            ))
            .await?;
        }
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO opt_outs (attempt_id, lead_id, campaign_id, phone, digits, message, \
             scope, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                attempt_id.into(),
                lead_id.into(),
                campaign_id.into(),
                phone.clone().into(),
                digits.into(),
                message.into(),
                if global { "global" } else { "campaign" }.into(),
                at_ms.into(),
            ],
        ))
        .await?;
        txn.commit().await?;
        Ok(phone)
    }

    /// Record that an agent entered a state at `at_ms` (closing its open interval).
    pub async fn record_agent_state(
        &self,
        agent_id: &str,
        campaign_id: Option<i64>,
        state: &str,
        attempt_id: Option<i64>,
        at_ms: i64,
    ) -> Result<()> {
        let backend = self.backend();
        let txn = self.begin_write().await?;
        txn.execute_raw(stmt(
            backend,
            "UPDATE agent_state_intervals SET ended_at_ms = ? \
             WHERE agent_id = ? AND ended_at_ms IS NULL",
            vec![at_ms.into(), agent_id.into()],
        ))
        .await?;
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO agent_state_intervals (agent_id, campaign_id, state, started_at_ms, \
             attempt_id) VALUES (?, ?, ?, ?, ?)",
            vec![
                agent_id.into(),
                campaign_id.into(),
                state.into(),
                at_ms.into(),
                attempt_id.into(),
            ],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

impl Store {
    /// One attempt row (with its evidence), or `None` when there is no such attempt.
    pub async fn attempt(
        &self,
        attempt_id: i64,
    ) -> Result<Option<super::entity::call_attempt::Model>> {
        use sea_orm::EntityTrait;
        Ok(super::entity::call_attempt::Entity::find_by_id(attempt_id)
            .one(self.conn())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_attempts_keep_the_window() {
        let day = 24 * 3600 * 1000;
        let s = push_recent("", 10 * day);
        let s = push_recent(&s, 12 * day);
        assert_eq!(parse_recent(&s), vec![10 * day, 12 * day]);
        // 8 days later the first falls out of the 7-day window.
        let s = push_recent(&s, 18 * day);
        assert_eq!(parse_recent(&s), vec![12 * day, 18 * day]);
        let mut s = String::new();
        for i in 0..100 {
            s = push_recent(&s, 20 * day + i);
        }
        assert_eq!(parse_recent(&s).len(), RECENT_MAX);
        assert_eq!(parse_recent(&s).last(), Some(&(20 * day + 99)));
    }
}

/// One attempt as the compliance report reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceAttempt {
    pub id: i64,
    pub lead_id: i64,
    pub dial_at_ms: i64,
    pub live: bool,
    pub abandoned: bool,
    pub evidence: Option<String>,
}

/// One opt-out as the compliance report reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceOptOut {
    pub attempt_id: i64,
    pub phone: String,
    pub digits: String,
    pub message: String,
    pub scope: String,
    pub at_ms: i64,
}

impl Store {
    /// A campaign's attempts dialed in `[since_ms, until_ms)`, oldest first, with their
    /// evidence, and its opt-outs in the same period.
    pub async fn compliance_rows(
        &self,
        campaign_id: i64,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<(Vec<ComplianceAttempt>, Vec<ComplianceOptOut>)> {
        let rows = self
            .conn()
            .query_all_raw(self.stmt(
                "SELECT id, lead_id, dial_at_ms, CASE WHEN live THEN 1 ELSE 0 END AS live, \
                 CASE WHEN abandoned THEN 1 ELSE 0 END AS abandoned, evidence \
                 FROM call_attempts WHERE campaign_id = ? AND dial_at_ms >= ? AND dial_at_ms < ? \
                 ORDER BY dial_at_ms, id",
                vec![campaign_id.into(), since_ms.into(), until_ms.into()],
            ))
            .await?;
        let mut attempts = Vec::with_capacity(rows.len());
        for r in &rows {
            attempts.push(ComplianceAttempt {
                id: r.try_get("", "id")?,
                lead_id: r.try_get("", "lead_id")?,
                dial_at_ms: r.try_get("", "dial_at_ms")?,
                live: r.try_get::<i32>("", "live")? != 0,
                abandoned: r.try_get::<i32>("", "abandoned")? != 0,
                evidence: r.try_get("", "evidence")?,
            });
        }
        let rows = self
            .conn()
            .query_all_raw(self.stmt(
                "SELECT attempt_id, phone, digits, message, scope, at_ms FROM opt_outs \
                 WHERE campaign_id = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms, id",
                vec![campaign_id.into(), since_ms.into(), until_ms.into()],
            ))
            .await?;
        let mut opt_outs = Vec::with_capacity(rows.len());
        for r in &rows {
            opt_outs.push(ComplianceOptOut {
                attempt_id: r.try_get("", "attempt_id")?,
                phone: r.try_get("", "phone")?,
                digits: r.try_get("", "digits")?,
                message: r.try_get("", "message")?,
                scope: r.try_get("", "scope")?,
                at_ms: r.try_get("", "at_ms")?,
            });
        }
        Ok((attempts, opt_outs))
    }
}
