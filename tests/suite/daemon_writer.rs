//! The store writer turns the switchboard's records into rows: attempts with every timestamp,
//! the lead's next due time, agent intervals, and dispositions applied to the lead (DNC at once).
//! On SQLite, and on PostgreSQL when `DIALER_TEST_DATABASE_URL` is set.

use std::time::{Duration, Instant};

use dialer::agents::{Interval, State};
use dialer::daemon::clock::WallClock;
use dialer::daemon::writer::Writer;
use dialer::domain::{AmdResult, CallKey, CampaignId, LeadStatus, Outcome};
use dialer::flow::Summary;
use dialer::store::entity::{agent_state_interval, call_attempt, disposition, lead};
use dialer::store::{CampaignRecord, ListRecord, NewLead, Store};
use dialer::switchboard::{LeadEffect, Record};
use sea_orm::EntityTrait;

use crate::storedb;

const T0_MS: i64 = 1_780_000_000_000;

async fn seed(store: &Store) -> (i64, i64) {
    let ids = store
        .upsert_campaign(
            &CampaignRecord {
                name: "warm-followup",
                kind: "warm",
                regime: "us",
                source: None,
                recording_keep_ms: None,
                lists: vec![ListRecord {
                    name: "web",
                    kind: "warm",
                    priority: 0,
                    default_region: "US",
                }],
            },
            T0_MS,
        )
        .await
        .unwrap();
    let list = ids.list("web").unwrap();
    let leads = ["+12025550143", "+12025550144"].map(|p| NewLead {
        list_id: list,
        phone: p.to_owned(),
        timezone: None,
        zone_key: None,
        zone_source: None,
        attributes: "{}".to_owned(),
        priority: 0,
    });
    store.insert_leads(ids.id, &leads, T0_MS).await.unwrap();
    let rows = lead::Entity::find().all(store.conn()).await.unwrap();
    (ids.id, rows[0].id)
}

fn summary(t0: Instant) -> Summary {
    let s = |ms| t0 + Duration::from_millis(ms);
    Summary {
        outcome: Outcome::Human,
        sip_status: Some(200),
        dialed: t0,
        ringing: Some(s(2_000)),
        answered: Some(s(9_000)),
        amd: Some((AmdResult::Human, "short-greeting".into())),
        decided: Some(s(10_100)),
        connected: Some(s(10_600)),
        agent: Some("ann".into()),
        abandoned: false,
        voicemail_left: false,
        message_at: None,
        opted_out: None,
        ended: s(70_000),
    }
}

/// A writer on a seeded store, with the clock anchored at `t0` = `T0_MS`.
struct Fixture {
    store: Store,
    campaign_id: CampaignId,
    lead_id: i64,
    t0: Instant,
    w: Writer,
}

impl Fixture {
    async fn new(db: &storedb::TestDb) -> Self {
        let store = db.open().await;
        let (campaign_id, lead_id) = seed(&store).await;
        let t0 = Instant::now();
        let w = Writer::new(store.clone(), WallClock::anchored(t0, T0_MS)).with_node("node-a");
        Fixture {
            store,
            campaign_id: CampaignId::new(campaign_id),
            lead_id,
            t0,
            w,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Call `call` dialed at `t0` (by `agent` in preview); returns the attempt's id.
    async fn start(&mut self, call: u64, agent: Option<&str>) -> i64 {
        self.w
            .write(Record::AttemptStarted {
                call: CallKey::new(call),
                campaign_id: self.campaign_id,
                lead_id: self.lead_id,
                trunk: "main".into(),
                agent: agent.map(Into::into),
                sip_call_id: Some(format!("call-{call}@127.0.0.1")),
                at: self.t0,
            })
            .await
            .unwrap()
    }

    /// The end of call `call`, leaving the lead active (retried after `retry_after`).
    fn ended(&self, call: u64, summary: Summary, retry_after: Option<Duration>) -> Record {
        Record::AttemptEnded {
            call: CallKey::new(call),
            campaign_id: self.campaign_id,
            lead_id: self.lead_id,
            conversation: summary.connected.is_some(),
            summary,
            effect: LeadEffect {
                status: LeadStatus::Active,
                retry_after,
                callback_after: None,
            },
        }
    }

    async fn attempt(&self, id: i64) -> call_attempt::Model {
        call_attempt::Entity::find_by_id(id)
            .one(self.store.conn())
            .await
            .unwrap()
            .unwrap()
    }

    async fn lead(&self) -> lead::Model {
        lead::Entity::find_by_id(self.lead_id)
            .one(self.store.conn())
            .await
            .unwrap()
            .unwrap()
    }

    async fn intervals(&self) -> Vec<agent_state_interval::Model> {
        agent_state_interval::Entity::find()
            .all(self.store.conn())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn records_become_rows() {
    for db in storedb::all("writer").await {
        let mut f = Fixture::new(&db).await;
        let attempt = f.start(1, None).await;
        assert!(attempt > 0);
        let end = f.ended(1, summary(f.t0), None);
        f.w.write(end).await.unwrap();
        let on_call = Record::Interval(Interval {
            agent: "ann".into(),
            state: State::OnCall,
            reason: None,
            call: Some(CallKey::new(1)),
            campaign: None,
            start: f.at(10_600),
            end: f.at(70_000),
        });
        f.w.write(on_call).await.unwrap();
        let dnc = Record::Disposition {
            campaign_id: f.campaign_id,
            lead_id: f.lead_id,
            call: CallKey::new(1),
            agent: "ann".into(),
            code: "do_not_call".into(),
            notes: Some("asked to be removed".into()),
            effect: LeadEffect {
                status: LeadStatus::Dnc,
                retry_after: None,
                callback_after: None,
            },
            conversation: true,
            at: f.at(80_000),
        };
        f.w.write(dnc).await.unwrap();

        let a = f.attempt(attempt).await;
        assert_eq!(a.dial_at_ms, T0_MS, "{}", db.label);
        assert_eq!(a.ring_at_ms, Some(T0_MS + 2_000));
        assert_eq!(a.answer_at_ms, Some(T0_MS + 9_000));
        assert_eq!(a.amd_at_ms, Some(T0_MS + 10_100));
        assert_eq!(a.amd_ms, Some(1_100));
        assert_eq!(a.connect_at_ms, Some(T0_MS + 10_600));
        assert_eq!(a.end_at_ms, Some(T0_MS + 70_000));
        assert_eq!(a.outcome.as_deref(), Some("human"));
        assert_eq!(a.amd_result.as_deref(), Some("human"));
        assert_eq!(a.agent_id.as_deref(), Some("ann"));
        assert!(a.live && !a.abandoned);
        assert_eq!(a.message_at_ms, None);
        // The INVITE's Call-ID and the node that dialed, stored with the row at the dial.
        assert_eq!(a.call_id.as_deref(), Some("call-1@127.0.0.1"));
        assert_eq!(a.node.as_deref(), Some("node-a"));
        // The state rules' version that allowed the dial is stored with it.
        assert_eq!(
            a.rules_version.as_deref(),
            Some(dialer::compliance::states::SHIPPED.version.as_str())
        );

        let i = f.intervals().await;
        assert_eq!(i.len(), 1);
        assert_eq!(
            (
                i[0].state.as_str(),
                i[0].started_at_ms,
                i[0].ended_at_ms,
                i[0].attempt_id
            ),
            (
                "on_call",
                T0_MS + 10_600,
                Some(T0_MS + 70_000),
                Some(attempt)
            )
        );

        let d = disposition::Entity::find()
            .all(f.store.conn())
            .await
            .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "do_not_call");
        assert_eq!(d[0].attempt_id, Some(attempt));
        let l = f.lead().await;
        assert_eq!(l.status, "dnc");
        assert_eq!(l.last_conversation_at_ms, Some(T0_MS + 80_000));
        assert!(f.store.is_dnc(f.campaign_id.get(), &l.phone).await.unwrap());
    }
}

#[tokio::test]
async fn the_call_id_and_node_are_stored_at_the_dial() {
    for db in storedb::all("writer_call_id").await {
        let mut f = Fixture::new(&db).await;
        let attempt = f.start(7, None).await;
        // Before the call ends: a crash now leaves the row with both.
        let a = f.attempt(attempt).await;
        assert_eq!(a.end_at_ms, None);
        assert_eq!(
            a.call_id.as_deref(),
            Some("call-7@127.0.0.1"),
            "{}",
            db.label
        );
        assert_eq!(a.node.as_deref(), Some("node-a"), "{}", db.label);
    }
}

#[tokio::test]
async fn a_wrap_up_cut_short_releases_the_lead_with_the_calls_outcome() {
    for db in storedb::all("writer_cut").await {
        let mut f = Fixture::new(&db).await;
        f.start(3, None).await;
        // The agent's call: the lead is held for the disposition.
        let end = f.ended(3, summary(f.t0), Some(Duration::from_secs(3600)));
        f.w.write(end).await.unwrap();
        assert_eq!(
            f.lead().await.next_attempt_at_ms,
            Some(T0_MS + 70_000 + 3_600_000)
        );
        // The drain deadline passes with no disposition: due 5 minutes after the call's end.
        f.w.write(Record::WrapUpCut {
            campaign_id: f.campaign_id,
            lead_id: f.lead_id,
            call: CallKey::new(3),
            agent: "ann".into(),
            outcome: Outcome::Human,
            effect: LeadEffect {
                status: LeadStatus::Active,
                retry_after: Some(Duration::from_secs(300)),
                callback_after: None,
            },
            since: f.at(70_000),
            at: f.at(95_000),
        })
        .await
        .unwrap();
        let l = f.lead().await;
        assert_eq!(l.status, "active", "{}", db.label);
        assert_eq!(l.last_outcome.as_deref(), Some("human"));
        assert_eq!(l.next_attempt_at_ms, Some(T0_MS + 70_000 + 300_000));
        assert_eq!(l.callback_at_ms, None);
        assert_eq!(l.lease_owner, None);
        assert_eq!(l.updated_at_ms, T0_MS + 95_000);
        assert!(
            disposition::Entity::find()
                .all(f.store.conn())
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_retry_sets_the_next_due_time_and_an_unknown_call_is_an_error() {
    for db in storedb::all("writer_retry").await {
        let mut f = Fixture::new(&db).await;
        f.start(9, None).await;
        let busy = Summary {
            outcome: Outcome::Busy,
            sip_status: Some(486),
            answered: None,
            amd: None,
            decided: None,
            connected: None,
            agent: None,
            ended: f.at(3_000),
            ..summary(f.t0)
        };
        let end = f.ended(9, busy, Some(Duration::from_secs(1800)));
        f.w.write(end.clone()).await.unwrap();
        let l = f.lead().await;
        assert_eq!(l.status, "active", "{}", db.label);
        assert_eq!(l.last_outcome.as_deref(), Some("busy"));
        assert_eq!(l.next_attempt_at_ms, Some(T0_MS + 3_000 + 1_800_000));
        assert_eq!(l.lease_owner, None);
        let mut other = end;
        if let Record::AttemptEnded { call, .. } = &mut other {
            *call = CallKey::new(77);
        }
        assert!(f.w.write(other).await.is_err());
    }
}

#[tokio::test]
async fn a_voicemail_drop_stores_the_machine_result_and_when_the_message_started() {
    for db in storedb::all("writer_voicemail").await {
        let mut f = Fixture::new(&db).await;
        let attempt = f.start(3, None).await;
        let s = Summary {
            outcome: Outcome::Machine,
            amd: Some((AmdResult::Machine, "long_greeting".into())),
            decided: Some(f.at(12_200)),
            connected: None,
            agent: None,
            voicemail_left: true,
            message_at: Some(f.at(15_050)),
            opted_out: None,
            ended: f.at(27_500),
            ..summary(f.t0)
        };
        let end = f.ended(3, s, Some(Duration::from_secs(3600)));
        f.w.write(end).await.unwrap();
        let a = f.attempt(attempt).await;
        assert_eq!(a.outcome.as_deref(), Some("machine"), "{}", db.label);
        assert_eq!(a.amd_result.as_deref(), Some("machine"));
        assert_eq!(a.amd_cause.as_deref(), Some("long_greeting"));
        assert_eq!(a.amd_at_ms, Some(T0_MS + 12_200));
        assert_eq!(a.amd_ms, Some(3_200));
        assert_eq!(a.message_at_ms, Some(T0_MS + 15_050));
        assert_eq!(a.end_at_ms, Some(T0_MS + 27_500));
        assert!(!a.live && !a.abandoned);
    }
}

#[tokio::test]
async fn a_preview_call_stores_the_agent_who_dialed_it_and_its_preview_time_names_the_campaign() {
    for db in storedb::all("writer_preview").await {
        let mut f = Fixture::new(&db).await;
        let attempt = f.start(4, Some("ann")).await;
        // Ann's preview: looking at the lead, then the call rings out.
        let preview = Record::Interval(Interval {
            agent: "ann".into(),
            state: State::Preview,
            reason: None,
            call: Some(CallKey::new(4)),
            campaign: Some(f.campaign_id),
            start: f.t0 - Duration::from_millis(12_000),
            end: f.at(25_000),
        });
        f.w.write(preview).await.unwrap();
        let rang_out = Summary {
            outcome: Outcome::NoAnswer,
            sip_status: Some(487),
            answered: None,
            amd: None,
            decided: None,
            connected: None,
            agent: None,
            ended: f.at(25_000),
            ..summary(f.t0)
        };
        let end = f.ended(4, rang_out, Some(Duration::from_secs(3600)));
        f.w.write(end).await.unwrap();
        let a = f.attempt(attempt).await;
        assert_eq!(
            (a.outcome.as_deref(), a.agent_id.as_deref(), a.live),
            (Some("no_answer"), Some("ann"), false),
            "{}",
            db.label
        );
        let i = f.intervals().await;
        assert_eq!(
            (
                i[0].state.as_str(),
                i[0].campaign_id,
                i[0].attempt_id,
                i[0].started_at_ms
            ),
            (
                "preview",
                Some(f.campaign_id.get()),
                Some(attempt),
                T0_MS - 12_000
            )
        );
    }
}
