//! The store writer turns the switchboard's records into rows: attempts with every timestamp,
//! the lead's next due time, agent intervals, and dispositions applied to the lead (DNC at once).
//! On SQLite, and on PostgreSQL when `DIALER_TEST_DATABASE_URL` is set.

mod storedb;

use std::time::{Duration, Instant};

use dialer::agents::{Interval, State};
use dialer::daemon::clock::WallClock;
use dialer::daemon::switchboard::{LeadEffect, Record};
use dialer::daemon::writer::Writer;
use dialer::flow::{AmdResult, Summary};
use dialer::store::entity::{agent_state_interval, call_attempt, disposition, lead};
use dialer::store::{CampaignRecord, ListRecord, NewLead, Store};
use sea_orm::EntityTrait;

const T0_MS: i64 = 1_780_000_000_000;

async fn seed(store: &Store) -> (i64, i64) {
    let ids = store
        .upsert_campaign(
            &CampaignRecord {
                name: "warm-followup",
                kind: "warm",
                regime: "us",
                source: None,
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
        outcome: "human".into(),
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
        ended: s(70_000),
    }
}

#[tokio::test]
async fn records_become_rows() {
    for db in storedb::all("writer").await {
        let store = db.open().await;
        let (campaign_id, lead_id) = seed(&store).await;
        let t0 = Instant::now();
        let clock = WallClock::anchored(t0, T0_MS);
        let mut w = Writer::new(store.clone(), clock);
        let attempt = w
            .write(Record::AttemptStarted {
                call: 1,
                campaign_id,
                lead_id,
                trunk: "main".into(),
                agent: None,
                at: t0,
            })
            .await
            .unwrap();
        assert!(attempt > 0);
        w.write(Record::AttemptEnded {
            call: 1,
            campaign_id,
            lead_id,
            summary: summary(t0),
            effect: LeadEffect {
                status: "active",
                retry_after: None,
                callback_after: None,
            },
            conversation: true,
        })
        .await
        .unwrap();
        w.write(Record::Interval(Interval {
            agent: "ann".into(),
            state: State::OnCall,
            reason: None,
            call: Some(1),
            campaign: None,
            start: t0 + Duration::from_millis(10_600),
            end: t0 + Duration::from_millis(70_000),
        }))
        .await
        .unwrap();
        w.write(Record::Disposition {
            campaign_id,
            lead_id,
            call: 1,
            agent: "ann".into(),
            code: "do_not_call".into(),
            notes: Some("asked to be removed".into()),
            effect: LeadEffect {
                status: "dnc",
                retry_after: None,
                callback_after: None,
            },
            conversation: true,
            at: t0 + Duration::from_millis(80_000),
        })
        .await
        .unwrap();

        let a = call_attempt::Entity::find_by_id(attempt)
            .one(store.conn())
            .await
            .unwrap()
            .unwrap();
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

        let i = agent_state_interval::Entity::find()
            .all(store.conn())
            .await
            .unwrap();
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

        let d = disposition::Entity::find().all(store.conn()).await.unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "do_not_call");
        assert_eq!(d[0].attempt_id, Some(attempt));
        let l = lead::Entity::find_by_id(lead_id)
            .one(store.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(l.status, "dnc");
        assert_eq!(l.last_conversation_at_ms, Some(T0_MS + 80_000));
        assert!(store.is_dnc(campaign_id, &l.phone).await.unwrap());
    }
}

#[tokio::test]
async fn a_retry_sets_the_next_due_time_and_an_unknown_call_is_an_error() {
    for db in storedb::all("writer_retry").await {
        let store = db.open().await;
        let (campaign_id, lead_id) = seed(&store).await;
        let t0 = Instant::now();
        let mut w = Writer::new(store.clone(), WallClock::anchored(t0, T0_MS));
        w.write(Record::AttemptStarted {
            call: 9,
            campaign_id,
            lead_id,
            trunk: "main".into(),
            agent: None,
            at: t0,
        })
        .await
        .unwrap();
        let mut s = summary(t0);
        s.outcome = "busy".into();
        s.sip_status = Some(486);
        s.answered = None;
        s.amd = None;
        s.decided = None;
        s.connected = None;
        s.agent = None;
        s.ended = t0 + Duration::from_secs(3);
        let end = Record::AttemptEnded {
            call: 9,
            campaign_id,
            lead_id,
            summary: s,
            effect: LeadEffect {
                status: "active",
                retry_after: Some(Duration::from_secs(1800)),
                callback_after: None,
            },
            conversation: false,
        };
        w.write(end.clone()).await.unwrap();
        let l = lead::Entity::find_by_id(lead_id)
            .one(store.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(l.status, "active", "{}", db.label);
        assert_eq!(l.last_outcome.as_deref(), Some("busy"));
        assert_eq!(l.next_attempt_at_ms, Some(T0_MS + 3_000 + 1_800_000));
        assert_eq!(l.lease_owner, None);
        let mut other = end;
        if let Record::AttemptEnded { call, .. } = &mut other {
            *call = 77;
        }
        assert!(w.write(other).await.is_err());
    }
}

#[tokio::test]
async fn a_voicemail_drop_stores_the_machine_result_and_when_the_message_started() {
    for db in storedb::all("writer_voicemail").await {
        let store = db.open().await;
        let (campaign_id, lead_id) = seed(&store).await;
        let t0 = Instant::now();
        let mut w = Writer::new(store.clone(), WallClock::anchored(t0, T0_MS));
        let attempt = w
            .write(Record::AttemptStarted {
                call: 3,
                campaign_id,
                lead_id,
                trunk: "main".into(),
                agent: None,
                at: t0,
            })
            .await
            .unwrap();
        let at = |ms| t0 + Duration::from_millis(ms);
        let s = Summary {
            outcome: "machine".into(),
            amd: Some((AmdResult::Machine, "long_greeting".into())),
            decided: Some(at(12_200)),
            connected: None,
            agent: None,
            voicemail_left: true,
            message_at: Some(at(15_050)),
            ended: at(27_500),
            ..summary(t0)
        };
        w.write(Record::AttemptEnded {
            call: 3,
            campaign_id,
            lead_id,
            summary: s,
            effect: LeadEffect {
                status: "active",
                retry_after: Some(Duration::from_secs(3600)),
                callback_after: None,
            },
            conversation: false,
        })
        .await
        .unwrap();
        let a = call_attempt::Entity::find_by_id(attempt)
            .one(store.conn())
            .await
            .unwrap()
            .unwrap();
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
        let store = db.open().await;
        let (campaign_id, lead_id) = seed(&store).await;
        let t0 = Instant::now();
        let mut w = Writer::new(store.clone(), WallClock::anchored(t0, T0_MS));
        let attempt = w
            .write(Record::AttemptStarted {
                call: 4,
                campaign_id,
                lead_id,
                trunk: "main".into(),
                agent: Some("ann".into()),
                at: t0,
            })
            .await
            .unwrap();
        // Ann's preview: looking at the lead, then the call rings out.
        w.write(Record::Interval(Interval {
            agent: "ann".into(),
            state: State::Preview,
            reason: None,
            call: Some(4),
            campaign: Some(campaign_id),
            start: t0 - Duration::from_millis(12_000),
            end: t0 + Duration::from_millis(25_000),
        }))
        .await
        .unwrap();
        let rang_out = Summary {
            outcome: "no_answer".into(),
            sip_status: Some(487),
            answered: None,
            amd: None,
            decided: None,
            connected: None,
            agent: None,
            ended: t0 + Duration::from_millis(25_000),
            ..summary(t0)
        };
        w.write(Record::AttemptEnded {
            call: 4,
            campaign_id,
            lead_id,
            summary: rang_out,
            effect: LeadEffect {
                status: "active",
                retry_after: Some(Duration::from_secs(3600)),
                callback_after: None,
            },
            conversation: false,
        })
        .await
        .unwrap();
        let a = call_attempt::Entity::find_by_id(attempt)
            .one(store.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.outcome.as_deref(), a.agent_id.as_deref(), a.live),
            (Some("no_answer"), Some("ann"), false),
            "{}",
            db.label
        );
        let i = agent_state_interval::Entity::find()
            .all(store.conn())
            .await
            .unwrap();
        assert_eq!(
            (
                i[0].state.as_str(),
                i[0].campaign_id,
                i[0].attempt_id,
                i[0].started_at_ms
            ),
            ("preview", Some(campaign_id), Some(attempt), T0_MS - 12_000)
        );
    }
}
