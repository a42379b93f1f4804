//! The CRM store on SQLite, and on PostgreSQL when `DIALER_TEST_DATABASE_URL` is set.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dialer::domain::{AmdResult, LeadStatus, Outcome};
use dialer::store::entity::call_attempt;
use dialer::store::{
    AttemptEnd, AttemptProgress, AttemptStart, AuditEvent, CampaignIds, CampaignRecord,
    ClaimDecision, ClaimRequest, DncScope, InterruptedRetry, ListRecord, NewDisposition, NewLead,
    Store,
};
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::storedb;

const T0: i64 = 1_790_000_000_000;

fn campaign<'a>() -> CampaignRecord<'a> {
    CampaignRecord {
        name: "renewals",
        kind: "warm",
        regime: "us",
        source: Some("campaigns/renewals.toml"),
        recording_keep_ms: None,
        lists: vec![
            ListRecord {
                name: "main",
                kind: "warm",
                priority: 0,
                default_region: "US",
            },
            ListRecord {
                name: "vip",
                kind: "warm",
                priority: 10,
                default_region: "US",
            },
        ],
    }
}

fn lead(list_id: i64, phone: &str) -> NewLead {
    NewLead {
        list_id,
        phone: phone.to_string(),
        timezone: None,
        zone_key: None,
        zone_source: None,
        attributes: "{}".into(),
        priority: 0,
    }
}

async fn seeded(store: &Store, n: usize) -> CampaignIds {
    let ids = store.upsert_campaign(&campaign(), T0).await.unwrap();
    let main = ids.list("main").unwrap();
    let leads: Vec<_> = (0..n)
        .map(|i| lead(main, &format!("+1202555{:04}", i)))
        .collect();
    assert_eq!(
        store.insert_leads(ids.id, &leads, T0).await.unwrap(),
        n as u64
    );
    ids
}

fn claim<'a>(campaign_id: i64, owner: &'a str, now_ms: i64, limit: usize) -> ClaimRequest<'a> {
    ClaimRequest {
        campaign_id,
        now_ms,
        max_attempts: 5,
        zone_keys: &[],
        zones: &[],
        zoneless: true,
        owner,
        lease_until_ms: now_ms + 60_000,
        limit,
        scan: limit.max(5) * 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_and_campaigns_upsert() {
    for db in storedb::all("migrations").await {
        let store = db.open().await;
        let applied = store.applied_migrations().await.unwrap();
        assert_eq!(
            applied,
            vec![
                "m20261127_000001_crm_schema",
                "m20261202_000001_attempt_message_at",
                "m20261210_000001_attempt_node",
                "m20261214_000001_users",
                "m20261216_000001_compliance",
                "m20261217_000001_optout_recording",
                "m20261218_000001_evidence",
                "m20261219_000001_recording_pauses",
                "m20261220_000001_recording_keep",
                "m20261221_000001_attempt_hours"
            ],
            "{}",
            db.label
        );
        // Opening again applies nothing new.
        let again = db.open().await;
        assert_eq!(again.migrate().await.unwrap(), 0, "{}", db.label);

        let a = store.upsert_campaign(&campaign(), T0).await.unwrap();
        let b = again.upsert_campaign(&campaign(), T0 + 1).await.unwrap();
        assert_eq!(a, b, "{}: upsert keeps ids", db.label);
        assert_ne!(a.list("main"), a.list("vip"));
        assert_eq!(store.campaign_id("renewals").await.unwrap(), Some(a.id));
        assert_eq!(store.campaign_id("nope").await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_leads_are_not_inserted_twice() {
    for db in storedb::all("duplicates").await {
        let store = db.open().await;
        let ids = seeded(&store, 10).await;
        let main = ids.list("main").unwrap();
        // Three new, two already there, one twice in the batch.
        let batch = vec![
            lead(main, "+12025550001"),
            lead(main, "+12025551000"),
            lead(main, "+12025551001"),
            lead(main, "+12025550002"),
            lead(main, "+12025551002"),
            lead(main, "+12025551002"),
        ];
        let n = store.insert_leads(ids.id, &batch, T0).await.unwrap();
        assert_eq!(n, 3, "{}", db.label);
        assert_eq!(store.count_leads(ids.id).await.unwrap(), 13, "{}", db.label);
        assert_eq!(store.insert_leads(ids.id, &batch, T0).await.unwrap(), 0);
        assert_eq!(store.count_leads(ids.id).await.unwrap(), 13, "{}", db.label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnc_lists_are_scoped() {
    for db in storedb::all("dnc").await {
        let store = db.open().await;
        let ids = seeded(&store, 3).await;
        let other = store
            .upsert_campaign(
                &CampaignRecord {
                    name: "other",
                    ..campaign()
                },
                T0,
            )
            .await
            .unwrap();
        let g = store
            .add_dnc(DncScope::Global, &["+12025550000"], Some("test"), None, T0)
            .await
            .unwrap();
        assert_eq!(g, 1);
        let c = store
            .add_dnc(
                DncScope::Campaign(ids.id),
                &["+12025550001", "+12025550001"],
                None,
                None,
                T0,
            )
            .await
            .unwrap();
        assert_eq!(c, 1, "{}: the same number twice is one entry", db.label);
        assert!(store.is_dnc(ids.id, "+12025550000").await.unwrap());
        assert!(store.is_dnc(ids.id, "+12025550001").await.unwrap());
        assert!(store.is_dnc(other.id, "+12025550000").await.unwrap());
        assert!(!store.is_dnc(other.id, "+12025550001").await.unwrap());
        assert_eq!(store.dnc_numbers(ids.id, true).await.unwrap().len(), 2);
        assert_eq!(store.dnc_numbers(ids.id, false).await.unwrap().len(), 1);
        let page = store.leads_page(ids.id, 0, 10).await.unwrap();
        let flagged: Vec<(bool, bool)> = page
            .iter()
            .map(|r| (r.dnc_campaign, r.dnc_global))
            .collect();
        assert_eq!(
            flagged,
            vec![(false, true), (true, false), (false, false)],
            "{}",
            db.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_update_the_lead_and_count_abandons() {
    for db in storedb::all("attempts").await {
        let store = db.open().await;
        let ids = seeded(&store, 2).await;
        let page = store.leads_page(ids.id, 0, 10).await.unwrap();
        let (a, b) = (page[0].lead.id, page[1].lead.id);

        let at1 = store
            .record_attempt_start(&AttemptStart {
                lead_id: a,
                dial_at_ms: T0 + 1000,
                trunk: Some("main"),
                call_id: Some("c1"),
                node: Some("node-a"),
                rules_version: None,
            })
            .await
            .unwrap();
        store
            .record_attempt_end(
                at1,
                &AttemptEnd {
                    end_at_ms: T0 + 30_000,
                    outcome: Outcome::Abandoned,
                    answer_at_ms: Some(T0 + 5000),
                    live: true,
                    abandoned: true,
                    lead_status: LeadStatus::Active,
                    next_attempt_at_ms: Some(T0 + 3_600_000),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let at2 = store
            .record_attempt_start(&AttemptStart {
                lead_id: b,
                dial_at_ms: T0 + 2000,
                ..Default::default()
            })
            .await
            .unwrap();
        store
            .record_attempt_end(
                at2,
                &AttemptEnd {
                    end_at_ms: T0 + 60_000,
                    outcome: Outcome::Human,
                    amd_result: Some(AmdResult::Human),
                    live: true,
                    conversation: true,
                    lead_status: LeadStatus::Done,
                    ..Default::default()
                },
            )
            .await
            .unwrap();

        let la = store.lead(a).await.unwrap().unwrap().lead;
        assert_eq!(la.attempts, 1);
        assert_eq!(la.status, "active");
        assert_eq!(la.last_outcome.as_deref(), Some("abandoned"));
        assert_eq!(la.last_attempt_at_ms, Some(T0 + 1000));
        assert_eq!(la.last_abandoned_at_ms, Some(T0 + 1000));
        assert_eq!(la.next_attempt_at_ms, Some(T0 + 3_600_000));
        assert_eq!(la.recent_attempts, (T0 + 1000).to_string());
        let lb = store.lead(b).await.unwrap().unwrap().lead;
        assert_eq!(lb.status, "done");
        assert_eq!(lb.last_conversation_at_ms, Some(T0 + 60_000));

        let c = store.abandon_counts(ids.id, T0, T0 + 10_000).await.unwrap();
        assert_eq!((c.live, c.abandoned), (2, 1), "{}", db.label);
        assert!((c.rate() - 0.5).abs() < 1e-9);
        let c = store
            .abandon_counts(ids.id, T0 + 1500, T0 + 10_000)
            .await
            .unwrap();
        assert_eq!((c.live, c.abandoned), (1, 0), "{}", db.label);

        store
            .record_disposition(&NewDisposition {
                lead_id: b,
                attempt_id: Some(at2),
                code: "sale",
                agent_id: Some("a1"),
                at_ms: T0 + 61_000,
                ..Default::default()
            })
            .await
            .unwrap();
        store
            .record_survey_answer(at2, "q1", "yes", Some("1"), T0 + 40_000)
            .await
            .unwrap();
        store
            .record_agent_state("a1", Some(ids.id), "talk", Some(at2), T0 + 2000)
            .await
            .unwrap();
        store
            .record_agent_state("a1", Some(ids.id), "wrap", Some(at2), T0 + 60_000)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_leaves_attempts_that_the_next_start_closes() {
    for db in storedb::all("interrupted").await {
        let store = db.open().await;
        let ids = seeded(&store, 1).await;
        let got = store
            .claim_leads(&claim(ids.id, "node-a", T0, 1), |_| ClaimDecision::Take)
            .await
            .unwrap();
        let id = got[0].lead.id;
        store
            .record_attempt_start(&AttemptStart {
                lead_id: id,
                dial_at_ms: T0,
                ..Default::default()
            })
            .await
            .unwrap();
        // "Restart": the attempt never ended (it names no node: any node closes it).
        assert_eq!(
            store
                .close_interrupted(T0 + 5000, "node-b", &HashMap::new())
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .close_interrupted(T0 + 6000, "node-b", &HashMap::new())
                .await
                .unwrap(),
            0
        );
        let l = store.lead(id).await.unwrap().unwrap().lead;
        assert_eq!(l.last_outcome.as_deref(), Some("interrupted"));
        assert_eq!(l.lease_owner, None);
        // And it can be claimed again.
        let again = store
            .claim_leads(&claim(ids.id, "node-b", T0 + 7000, 1), |_| {
                ClaimDecision::Take
            })
            .await
            .unwrap();
        assert_eq!(again.len(), 1, "{}", db.label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_closes_only_its_own_nodes_open_attempts() {
    for db in storedb::all("nodes").await {
        let store = db.open().await;
        let ids = seeded(&store, 3).await;
        // Node A and node B each dial a lead; a third attempt is from before nodes (no node).
        let mut open = Vec::new();
        for (owner, node) in [
            ("a-1", Some("node-a")),
            ("b-1", Some("node-b")),
            ("old", None),
        ] {
            let got = store
                .claim_leads(&claim(ids.id, owner, T0, 1), |_| ClaimDecision::Take)
                .await
                .unwrap();
            let lead = got[0].lead.id;
            let attempt = store
                .record_attempt_start(&AttemptStart {
                    lead_id: lead,
                    dial_at_ms: T0,
                    node,
                    ..Default::default()
                })
                .await
                .unwrap();
            open.push((lead, attempt));
        }
        let [
            (a_lead, a_attempt),
            (b_lead, b_attempt),
            (old_lead, old_attempt),
        ] = open[..]
        else {
            panic!("three attempts");
        };
        // Node A restarts while node B's call goes on.
        assert_eq!(
            store
                .close_interrupted(T0 + 5000, "node-a", &HashMap::new())
                .await
                .unwrap(),
            2,
            "{}",
            db.label
        );
        let outcome = |id: i64| {
            let store = store.clone();
            async move {
                let a = call_attempt::Entity::find_by_id(id)
                    .one(store.conn())
                    .await
                    .unwrap()
                    .unwrap();
                (a.outcome, a.end_at_ms, a.node)
            }
        };
        assert_eq!(
            outcome(a_attempt).await,
            (
                Some("interrupted".into()),
                Some(T0 + 5000),
                Some("node-a".into())
            ),
            "{}",
            db.label
        );
        assert_eq!(
            outcome(old_attempt).await,
            (Some("interrupted".into()), Some(T0 + 5000), None),
            "{}",
            db.label
        );
        assert_eq!(
            outcome(b_attempt).await,
            (None, None, Some("node-b".into())),
            "{}: node B's live call is not node A's to close",
            db.label
        );
        for lead in [a_lead, old_lead] {
            let l = store.lead(lead).await.unwrap().unwrap().lead;
            assert_eq!(l.last_outcome.as_deref(), Some("interrupted"));
            assert_eq!(l.lease_owner, None, "{}", db.label);
        }
        let b = store.lead(b_lead).await.unwrap().unwrap().lead;
        assert_eq!(b.last_outcome, None, "{}", db.label);
        assert_eq!(b.lease_owner.as_deref(), Some("b-1"), "{}", db.label);
        // Node B's own restart closes its attempt.
        assert_eq!(
            store
                .close_interrupted(T0 + 9000, "node-b", &HashMap::new())
                .await
                .unwrap(),
            1,
            "{}",
            db.label
        );
        assert_eq!(outcome(b_attempt).await.0.as_deref(), Some("interrupted"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_expire_and_releases_return_leads() {
    for db in storedb::all("leases").await {
        let store = db.open().await;
        let ids = seeded(&store, 3).await;
        let first = store
            .claim_leads(&claim(ids.id, "a", T0, 3), |_| ClaimDecision::Take)
            .await
            .unwrap();
        assert_eq!(first.len(), 3);
        let none = store
            .claim_leads(&claim(ids.id, "b", T0 + 59_999, 3), |_| ClaimDecision::Take)
            .await
            .unwrap();
        assert!(
            none.is_empty(),
            "{}: leased leads are not handed out",
            db.label
        );
        assert!(store.release_lead(first[0].lead.id, "a").await.unwrap());
        assert!(!store.release_lead(first[1].lead.id, "b").await.unwrap());
        let one = store
            .claim_leads(&claim(ids.id, "b", T0 + 59_999, 3), |_| ClaimDecision::Take)
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].lead.id, first[0].lead.id);
        // At the end of the lease the other two come back.
        let rest = store
            .claim_leads(&claim(ids.id, "c", T0 + 60_000, 3), |_| ClaimDecision::Take)
            .await
            .unwrap();
        assert_eq!(rest.len(), 2, "{}", db.label);
        assert!(
            rest.iter()
                .all(|r| r.lead.lease_owner.as_deref() == Some("c"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_follow_list_priority_and_defer_and_dnc_decisions() {
    for db in storedb::all("order").await {
        let store = db.open().await;
        let ids = seeded(&store, 3).await;
        let vip = ids.list("vip").unwrap();
        store
            .insert_leads(ids.id, &[lead(vip, "+12025559999")], T0 + 1)
            .await
            .unwrap();
        let mut seen = Vec::new();
        let got = store
            .claim_leads(&claim(ids.id, "a", T0, 1), |r| {
                seen.push(r.lead.phone.clone());
                match r.lead.phone.as_str() {
                    "+12025559999" => ClaimDecision::Defer(T0 + 1_000_000),
                    "+12025550000" => ClaimDecision::MarkDnc,
                    _ => ClaimDecision::Take,
                }
            })
            .await
            .unwrap();
        assert_eq!(
            seen[..3],
            ["+12025559999", "+12025550000", "+12025550001"],
            "{}",
            db.label
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].lead.phone, "+12025550001");
        let page = store.leads_page(ids.id, 0, 10).await.unwrap();
        let by_phone = |p: &str| {
            page.iter()
                .find(|r| r.lead.phone == p)
                .unwrap()
                .lead
                .clone()
        };
        assert_eq!(by_phone("+12025550000").status, "dnc");
        assert_eq!(
            by_phone("+12025559999").next_attempt_at_ms,
            Some(T0 + 1_000_000)
        );
        // The deferred lead is not a candidate before its time.
        let mut seen = Vec::new();
        store
            .claim_leads(&claim(ids.id, "a", T0 + 1, 5), |r| {
                seen.push(r.lead.phone.clone());
                ClaimDecision::Skip
            })
            .await
            .unwrap();
        assert_eq!(seen, ["+12025550002"], "{}", db.label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_get_the_same_lead() {
    for db in storedb::all("concurrent").await {
        let total = 200;
        let setup = db.open().await;
        let ids = seeded(&setup, total).await;
        // Several pools (as several dialer processes would have), several tasks each.
        let mut tasks = Vec::new();
        for p in 0..3 {
            let store = Arc::new(db.open().await);
            for t in 0..3 {
                let store = store.clone();
                let cid = ids.id;
                tasks.push(tokio::spawn(async move {
                    let owner = format!("p{p}t{t}");
                    let mut mine = Vec::new();
                    loop {
                        let got = store
                            .claim_leads(&claim(cid, &owner, T0, 7), |_| ClaimDecision::Take)
                            .await
                            .unwrap();
                        if got.is_empty() {
                            break;
                        }
                        assert!(
                            got.iter()
                                .all(|r| r.lead.lease_owner.as_deref() == Some(&owner))
                        );
                        mine.extend(got.into_iter().map(|r| r.lead.id));
                    }
                    mine
                }));
            }
        }
        let mut all = Vec::new();
        let mut busy = 0;
        for t in tasks {
            let mine = t.await.unwrap();
            if !mine.is_empty() {
                busy += 1;
            }
            all.extend(mine);
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(
            unique.len(),
            all.len(),
            "{}: a lead was claimed twice",
            db.label
        );
        assert_eq!(all.len(), total, "{}: every lead claimed once", db.label);
        assert!(
            busy > 1,
            "{}: the claimers really ran side by side",
            db.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_what_was_stored_of_an_interrupted_call() {
    const NOW: i64 = T0 + 60_000;
    let rule = InterruptedRetry {
        max_attempts: 3,
        interrupted_ms: 300_000,
        abandoned_ms: 72 * 3_600_000,
        machine_ms: 4 * 3_600_000,
    };
    for db in storedb::all("progress").await {
        let store = db.open().await;
        let ids = seeded(&store, 5).await;
        let got = store
            .claim_leads(&claim(ids.id, "node-a", T0, 5), |_| ClaimDecision::Take)
            .await
            .unwrap();
        let leads: Vec<i64> = got.iter().map(|c| c.lead.id).collect();
        let start = |lead: i64, at: i64| {
            let store = store.clone();
            async move {
                store
                    .record_attempt_start(&AttemptStart {
                        lead_id: lead,
                        dial_at_ms: at,
                        node: Some("node-a"),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
            }
        };
        let answered = |amd: &str| AttemptProgress {
            ring_at_ms: Some(T0 + 1000),
            answer_at_ms: Some(T0 + 5000),
            amd_at_ms: Some(T0 + 6200),
            amd_result: Some(amd.parse().expect("an AMD result")),
            amd_cause: Some("short-greeting".into()),
            amd_ms: Some(1200),
            live: amd == "human",
            ..Default::default()
        };
        // A: a person talking with ann; B: a person abandoned (the message playing);
        // C: a machine; D: answered, nothing decided; E: its third attempt, only dialed.
        let a = start(leads[0], T0).await;
        let mut talking = answered("human");
        talking.connect_at_ms = Some(T0 + 6300);
        talking.agent_id = Some("ann".into());
        store.record_attempt_progress(a, &talking).await.unwrap();
        let b = start(leads[1], T0).await;
        let mut abandoned = answered("human");
        abandoned.abandoned = true;
        abandoned.message_at_ms = Some(T0 + 7700);
        store.record_attempt_progress(b, &abandoned).await.unwrap();
        let c = start(leads[2], T0).await;
        store
            .record_attempt_progress(c, &answered("machine"))
            .await
            .unwrap();
        let d = start(leads[3], T0).await;
        store
            .record_attempt_progress(
                d,
                &AttemptProgress {
                    answer_at_ms: Some(T0 + 5000),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for i in 0..2 {
            let earlier = start(leads[4], T0 - 10_000 * (2 - i)).await;
            let end = AttemptEnd {
                end_at_ms: T0 - 10_000 * (2 - i) + 100,
                outcome: Outcome::Busy,
                lead_status: LeadStatus::Active,
                ..Default::default()
            };
            store.record_attempt_end(earlier, &end).await.unwrap();
            // A step that comes after the end changes nothing.
            store
                .record_attempt_progress(earlier, &answered("human"))
                .await
                .unwrap();
        }
        let e = start(leads[4], T0).await;

        let rules = HashMap::from([(ids.id, rule)]);
        assert_eq!(
            store
                .close_interrupted(NOW, "node-a", &rules)
                .await
                .unwrap(),
            5,
            "{}",
            db.label
        );
        let row = |id: i64| {
            let store = store.clone();
            async move {
                call_attempt::Entity::find_by_id(id)
                    .one(store.conn())
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        let lead = |id: i64| {
            let store = store.clone();
            async move { store.lead(id).await.unwrap().unwrap().lead }
        };
        for id in [a, b, c, d, e] {
            let r = row(id).await;
            assert_eq!(
                (r.outcome.as_deref(), r.end_at_ms),
                (Some("interrupted"), Some(NOW)),
                "{}",
                db.label
            );
        }
        // What was known stays: the conversation with its agent, the abandon, the machine.
        let r = row(a).await;
        assert_eq!(
            (
                r.answer_at_ms,
                r.amd_result.as_deref(),
                r.connect_at_ms,
                r.agent_id.as_deref(),
                r.live,
                r.abandoned
            ),
            (
                Some(T0 + 5000),
                Some("human"),
                Some(T0 + 6300),
                Some("ann"),
                true,
                false
            ),
            "{}",
            db.label
        );
        let r = row(b).await;
        assert_eq!(
            (r.live, r.abandoned, r.message_at_ms),
            (true, true, Some(T0 + 7700)),
            "{}",
            db.label
        );
        assert_eq!(row(c).await.amd_result.as_deref(), Some("machine"));
        let r = row(d).await;
        assert_eq!((r.answer_at_ms, r.live), (Some(T0 + 5000), false));
        // The attempts that ended before keep their end.
        let busy = store
            .conn()
            .query_one_raw(store.stmt(
                "SELECT COUNT(*) AS n FROM call_attempts WHERE lead_id = ? AND outcome = 'busy' \
                 AND answer_at_ms IS NULL AND NOT live",
                vec![leads[4].into()],
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(busy, 2, "{}", db.label);

        // Leads: due per the campaign's rules.
        let l = lead(leads[0]).await;
        assert_eq!(
            (
                l.status.as_str(),
                l.next_attempt_at_ms,
                l.last_conversation_at_ms
            ),
            ("active", Some(NOW + 300_000), Some(NOW)),
            "{}: a conversation, interrupted",
            db.label
        );
        let l = lead(leads[1]).await;
        assert_eq!(
            (l.next_attempt_at_ms, l.last_abandoned_at_ms),
            (Some(NOW + 72 * 3_600_000), Some(T0)),
            "{}: abandoned",
            db.label
        );
        let l = lead(leads[2]).await;
        assert_eq!(
            (l.next_attempt_at_ms, l.last_machine_at_ms),
            (Some(NOW + 4 * 3_600_000), Some(T0)),
            "{}: a machine",
            db.label
        );
        let l = lead(leads[3]).await;
        assert_eq!(
            (l.next_attempt_at_ms, l.last_conversation_at_ms),
            (Some(NOW + 300_000), None),
            "{}",
            db.label
        );
        let l = lead(leads[4]).await;
        assert_eq!(
            (l.status.as_str(), l.next_attempt_at_ms),
            ("done", None),
            "{}: its last attempt",
            db.label
        );
        for id in &leads {
            assert_eq!(lead(*id).await.lease_owner, None, "{}", db.label);
        }

        // The window counts the live answers and the abandon of the interrupted calls.
        let w = store.abandon_counts(ids.id, 0, NOW + 1).await.unwrap();
        assert_eq!((w.live, w.abandoned, w.machines), (2, 1, 1), "{}", db.label);
    }
}

/// An interval's agent, state, start, end and attempt.
type IntervalRow = (String, String, i64, Option<i64>, Option<i64>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_closes_open_agent_intervals_at_the_last_stored_moment() {
    for db in storedb::all("intervals").await {
        let store = db.open().await;
        let ids = seeded(&store, 2).await;
        let got = store
            .claim_leads(&claim(ids.id, "node-a", T0, 2), |_| ClaimDecision::Take)
            .await
            .unwrap();
        let start = |lead: i64| AttemptStart {
            lead_id: lead,
            dial_at_ms: T0,
            node: Some("node-a"),
            ..Default::default()
        };
        // One call talking with ann at the crash; another that ended at T0 + 9 s.
        let talking = store
            .record_attempt_start(&start(got[0].lead.id))
            .await
            .unwrap();
        let progress = AttemptProgress {
            answer_at_ms: Some(T0 + 5000),
            connect_at_ms: Some(T0 + 6000),
            agent_id: Some("ann".into()),
            live: true,
            ..Default::default()
        };
        store
            .record_attempt_progress(talking, &progress)
            .await
            .unwrap();
        let other = store
            .record_attempt_start(&start(got[1].lead.id))
            .await
            .unwrap();
        let end = AttemptEnd {
            end_at_ms: T0 + 9000,
            outcome: Outcome::Busy,
            lead_status: LeadStatus::Active,
            ..Default::default()
        };
        store.record_attempt_end(other, &end).await.unwrap();
        // Ann: ready (closed when she took the call), then on the call; bob ready; carol
        // paused at T0 + 20 s, the last thing node A stored; zed is another node's agent.
        store
            .open_agent_interval("ann", Some("ready"), T0 - 10_000, None)
            .await
            .unwrap();
        store
            .insert_agent_interval("ann", Some(ids.id), "ready", T0 - 10_000, T0 + 6000, None)
            .await
            .unwrap();
        store
            .open_agent_interval("ann", Some("on_call"), T0 + 6000, Some(talking))
            .await
            .unwrap();
        // A state left the instant it was entered leaves no row.
        store
            .open_agent_interval("bob", Some("paused"), T0 - 5000, None)
            .await
            .unwrap();
        store
            .open_agent_interval("bob", Some("ready"), T0 - 5000, None)
            .await
            .unwrap();
        store
            .open_agent_interval("carol", Some("paused"), T0 + 20_000, None)
            .await
            .unwrap();
        // Dave logs out the instant he was ready: a row with no length, not an open one.
        store
            .open_agent_interval("dave", Some("ready"), T0, None)
            .await
            .unwrap();
        store
            .open_agent_interval("dave", None, T0, None)
            .await
            .unwrap();
        store
            .open_agent_interval("zed", Some("ready"), T0, None)
            .await
            .unwrap();

        let ours = ["ann", "bob", "carol", "dave"].map(str::to_owned);
        assert_eq!(
            store.close_open_intervals(&ours, "node-a").await.unwrap(),
            3,
            "{}",
            db.label
        );
        let rows: Vec<IntervalRow> = store
            .conn()
            .query_all_raw(store.stmt(
                "SELECT agent_id, state, started_at_ms, ended_at_ms, attempt_id \
                 FROM agent_state_intervals ORDER BY agent_id, started_at_ms",
                vec![],
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.try_get("", "agent_id").unwrap(),
                    r.try_get("", "state").unwrap(),
                    r.try_get("", "started_at_ms").unwrap(),
                    r.try_get("", "ended_at_ms").unwrap(),
                    r.try_get("", "attempt_id").unwrap(),
                )
            })
            .collect();
        let row = |a: &str, s: &str, from: i64, to: Option<i64>, att: Option<i64>| {
            (a.to_owned(), s.to_owned(), from, to, att)
        };
        assert_eq!(
            rows,
            vec![
                row("ann", "ready", T0 - 10_000, Some(T0 + 6000), None),
                row(
                    "ann",
                    "on_call",
                    T0 + 6000,
                    Some(T0 + 20_000),
                    Some(talking)
                ),
                row("bob", "ready", T0 - 5000, Some(T0 + 20_000), None),
                row("carol", "paused", T0 + 20_000, Some(T0 + 20_000), None),
                row("dave", "ready", T0, Some(T0), None),
                row("zed", "ready", T0, None, None),
            ],
            "{}",
            db.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_totals_count_attempts_outcomes_and_agent_time() {
    for db in storedb::all("shift_totals").await {
        let store = db.open().await;
        let ids = seeded(&store, 3).await;
        assert_eq!(
            store.campaign_regime("renewals").await.unwrap().as_deref(),
            Some("us"),
            "{}",
            db.label
        );
        assert_eq!(store.campaign_regime("nope").await.unwrap(), None);
        let page = store.leads_page(ids.id, 0, 10).await.unwrap();
        let start = |lead: i64, at: i64| {
            let store = store.clone();
            async move {
                store
                    .record_attempt_start(&AttemptStart {
                        lead_id: lead,
                        dial_at_ms: at,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
            }
        };
        // An abandon no agent took; a talk with ann whose end is stored before its dial (out of
        // order); a call still going.
        let a = start(page[0].lead.id, T0).await;
        store
            .record_attempt_end(
                a,
                &AttemptEnd {
                    end_at_ms: T0 + 10_000,
                    outcome: Outcome::Abandoned,
                    answer_at_ms: Some(T0 + 5000),
                    live: true,
                    abandoned: true,
                    lead_status: LeadStatus::Active,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let b = start(page[1].lead.id, T0 + 20_000).await;
        store
            .record_attempt_end(
                b,
                &AttemptEnd {
                    end_at_ms: T0 + 19_000,
                    outcome: Outcome::Human,
                    agent_id: Some("ann".into()),
                    live: true,
                    lead_status: LeadStatus::Done,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        start(page[2].lead.id, T0 + 30_000).await;
        for (state, from, to) in [
            ("on_call", 0, 60_000),
            ("ready", 60_000, 100_000),
            ("on_call", 100_000, 130_000),
        ] {
            store
                .insert_agent_interval("ann", Some(ids.id), state, T0 + from, T0 + to, None)
                .await
                .unwrap();
        }
        // Open: not counted.
        store
            .open_agent_interval("bob", Some("ready"), T0, None)
            .await
            .unwrap();

        let t = store.shift_totals(&["renewals".to_string()]).await.unwrap();
        let l = db.label;
        assert_eq!((t.attempts, t.unfinished, t.inconsistent), (3, 1, 1), "{l}");
        assert_eq!((t.live, t.abandoned, t.without_agent), (2, 1, 2), "{l}");
        let by_outcome: Vec<(&str, u64)> =
            t.by_outcome.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            by_outcome,
            [("abandoned", 1), ("human", 1), ("unfinished", 1)],
            "{l}"
        );
        let by_campaign: Vec<(&str, u64)> = t
            .by_campaign
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(by_campaign, [("renewals", 3)], "{l}");
        let states: Vec<(&str, &str, i64, u64)> = t
            .agent_states
            .iter()
            .map(|s| (s.agent_id.as_str(), s.state.as_str(), s.ms, s.count))
            .collect();
        assert_eq!(
            states,
            [("ann", "on_call", 90_000, 2), ("ann", "ready", 40_000, 1)],
            "{l}"
        );
        let empty = store.shift_totals(&[]).await.unwrap();
        assert_eq!(empty.without_agent, 0, "{l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_are_stored_and_read_back_in_order() {
    for db in storedb::all("audit").await {
        let store = db.open().await;
        let ids = seeded(&store, 0).await;
        let event = |at_ms: i64, kind: &str, campaign_id: Option<i64>| AuditEvent {
            at_ms,
            campaign_id,
            kind: kind.into(),
            message: format!("{kind} at {at_ms}"),
            data: Some(r#"{"by":"supervisor"}"#.into()),
            ..AuditEvent::default()
        };
        let written = [
            event(T0, "campaign_control", Some(ids.id)),
            event(T0 + 5, "reload", None),
            event(T0 + 5, "agent_logout", None),
        ];
        for e in &written {
            store.audit(e).await.unwrap();
        }
        assert_eq!(
            store.audit_events(0).await.unwrap(),
            written,
            "{}",
            db.label
        );
        assert_eq!(
            store.audit_events(T0 + 1).await.unwrap(),
            written[1..],
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn users_keep_hashes_roles_and_lockouts() {
    use dialer::store::Role;
    for db in storedb::all("users").await {
        let store = db.open().await;
        let l = db.label;
        assert_eq!(store.user("alice").await.unwrap(), None, "{l}");
        assert!(
            store
                .set_user("alice", None, "$argon2id$one", T0)
                .await
                .unwrap(),
            "{l}: new"
        );
        assert!(
            store
                .set_user("sue", Some(Role::Supervisor), "$argon2id$s", T0)
                .await
                .unwrap()
        );
        let alice = store.user("alice").await.unwrap().unwrap();
        assert_eq!(
            (alice.role, alice.password_hash.as_str()),
            (Role::Agent, "$argon2id$one"),
            "{l}"
        );

        // Wrong passwords in a row: the fifth locks; the count starts again.
        for n in 1..=4 {
            let f = store
                .login_failed("alice", T0 + n, 5, 300_000)
                .await
                .unwrap();
            assert_eq!(
                (f.failed_logins, f.locked_until_ms),
                (n as u32, None),
                "{l}"
            );
        }
        let f = store
            .login_failed("alice", T0 + 5, 5, 300_000)
            .await
            .unwrap();
        assert_eq!(
            (f.failed_logins, f.locked_until_ms),
            (0, Some(T0 + 5 + 300_000)),
            "{l}"
        );
        assert_eq!(
            store.user("alice").await.unwrap().unwrap().locked_until_ms,
            Some(T0 + 5 + 300_000),
            "{l}"
        );
        // A good login clears the count; a new password lifts a lock and keeps the role.
        store.login_failed("sue", T0, 5, 300_000).await.unwrap();
        store.login_succeeded("sue", T0 + 1).await.unwrap();
        assert_eq!(
            store.user("sue").await.unwrap().unwrap().failed_logins,
            0,
            "{l}"
        );
        assert!(
            !store
                .set_user("alice", None, "$argon2id$two", T0 + 9)
                .await
                .unwrap(),
            "{l}"
        );
        let alice = store.user("alice").await.unwrap().unwrap();
        assert_eq!(
            (
                alice.role,
                alice.password_hash.as_str(),
                alice.locked_until_ms,
                alice.failed_logins
            ),
            (Role::Agent, "$argon2id$two", None, 0),
            "{l}"
        );
        store
            .set_user("alice", Some(Role::Supervisor), "$argon2id$three", T0 + 10)
            .await
            .unwrap();
        assert_eq!(
            store.user("alice").await.unwrap().unwrap().role,
            Role::Supervisor,
            "{l}"
        );
        // An unknown user's failure changes nothing and locks nothing.
        let f = store.login_failed("nobody", T0, 5, 300_000).await.unwrap();
        assert_eq!((f.failed_logins, f.locked_until_ms), (0, None), "{l}");
    }
}

/// The screen pop's history: a lead's ended attempts newest first, each with its disposition
/// (notes, the agent who gave it) when it had one; the call in progress and other leads' calls
/// are not in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leads_history_lists_its_ended_attempts_newest_first_with_dispositions() {
    for db in storedb::all("history").await {
        let store = db.open().await;
        let ids = seeded(&store, 2).await;
        let page = store.leads_page(ids.id, 0, 10).await.unwrap();
        let (a, b) = (page[0].lead.id, page[1].lead.id);
        let attempt = |lead_id, at| AttemptStart {
            lead_id,
            dial_at_ms: at,
            ..Default::default()
        };
        let end = |outcome, agent: Option<&str>, at| AttemptEnd {
            end_at_ms: at,
            outcome,
            agent_id: agent.map(str::to_string),
            lead_status: LeadStatus::Active,
            ..Default::default()
        };
        let first = store.record_attempt_start(&attempt(a, T0)).await.unwrap();
        store
            .record_attempt_end(first, &end(Outcome::NoAnswer, None, T0 + 30_000))
            .await
            .unwrap();
        let second = store
            .record_attempt_start(&attempt(a, T0 + 3_600_000))
            .await
            .unwrap();
        store
            .record_attempt_end(second, &end(Outcome::Human, Some("alice"), T0 + 3_700_000))
            .await
            .unwrap();
        store
            .record_disposition(&NewDisposition {
                lead_id: a,
                attempt_id: Some(second),
                code: "callback",
                agent_id: Some("alice"),
                notes: Some("call after 5, wife decides"),
                at_ms: T0 + 3_710_000,
                ..Default::default()
            })
            .await
            .unwrap();
        // Another lead's call, and this lead's call still in progress.
        let other = store
            .record_attempt_start(&attempt(b, T0 + 10))
            .await
            .unwrap();
        store
            .record_attempt_end(other, &end(Outcome::Busy, None, T0 + 20))
            .await
            .unwrap();
        store
            .record_attempt_start(&attempt(a, T0 + 7_200_000))
            .await
            .unwrap();

        let h = store.lead_history(a).await.unwrap();
        let got: Vec<_> = h
            .iter()
            .map(|e| {
                (
                    e.at_ms,
                    e.outcome.as_str(),
                    e.disposition.as_deref(),
                    e.notes.as_deref(),
                    e.agent.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    T0 + 3_600_000,
                    "human",
                    Some("callback"),
                    Some("call after 5, wife decides"),
                    Some("alice")
                ),
                (T0, "no_answer", None, None, None),
            ],
            "{}",
            db.label
        );
        assert_eq!(
            store.lead_history(b).await.unwrap().len(),
            1,
            "{}",
            db.label
        );
        assert!(store.lead_history(-1).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn recording_pauses_are_stored_per_attempt_in_order() {
    for db in storedb::all("recording_pauses").await {
        let store = db.open().await;
        store.add_recording_pause(7, 5_000, 9_000).await.unwrap();
        store.add_recording_pause(7, 1_000, 2_000).await.unwrap();
        store.add_recording_pause(8, 3_000, 4_000).await.unwrap();
        assert_eq!(
            store.recording_pauses(7).await.unwrap(),
            vec![(1_000, 2_000), (5_000, 9_000)],
            "{}",
            db.label
        );
        assert_eq!(
            store.recording_pauses(9).await.unwrap(),
            vec![],
            "{}",
            db.label
        );
    }
}

/// The window's counts straight from the attempts: what [`Store::abandon_counts`] must equal.
async fn counted_by_hand(
    store: &Store,
    campaign_id: i64,
    since: i64,
    until: i64,
) -> (u64, u64, u64) {
    let row = store
        .conn()
        .query_one_raw(store.stmt(
            "SELECT SUM(CASE WHEN live THEN 1 ELSE 0 END) AS live, \
             SUM(CASE WHEN abandoned THEN 1 ELSE 0 END) AS abandoned, \
             SUM(CASE WHEN amd_result = 'machine' THEN 1 ELSE 0 END) AS machines \
             FROM call_attempts WHERE campaign_id = ? AND dial_at_ms >= ? AND dial_at_ms < ?",
            vec![campaign_id.into(), since.into(), until.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let get = |c: &str| row.try_get::<Option<i64>>("", c).unwrap().unwrap_or(0) as u64;
    (get("live"), get("abandoned"), get("machines"))
}

/// Attempts started, progressed, ended (some twice), left open and closed after a crash, over
/// three days: every window, whole hours or ragged, counts what the attempts hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_counts_follow_every_attempt() {
    use rand::{RngExt, SeedableRng};
    const HOUR: i64 = 3_600_000;
    for db in storedb::all("window_counts").await {
        let store = db.open().await;
        let ids = seeded(&store, 40).await;
        let page = store.leads_page(ids.id, 0, 40).await.unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
        let amd = [None, Some(AmdResult::Human), Some(AmdResult::Machine)];
        let mut open = Vec::new();
        for i in 0..240 {
            let dial = T0 + rng.random_range(0..72 * HOUR);
            let node = if rng.random_bool(0.5) { "n1" } else { "n2" };
            let id = store
                .record_attempt_start(&AttemptStart {
                    lead_id: page[i % page.len()].lead.id,
                    dial_at_ms: dial,
                    node: Some(node),
                    ..Default::default()
                })
                .await
                .unwrap();
            let live = rng.random_bool(0.4);
            if rng.random_bool(0.5) {
                store
                    .record_attempt_progress(
                        id,
                        &AttemptProgress {
                            live,
                            abandoned: live && rng.random_bool(0.3),
                            amd_result: amd[rng.random_range(0..3)],
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
            }
            if rng.random_bool(0.2) {
                open.push(id);
                continue;
            }
            for _ in 0..rng.random_range(1..3) {
                let live = rng.random_bool(0.4);
                store
                    .record_attempt_end(
                        id,
                        &AttemptEnd {
                            end_at_ms: dial + 60_000,
                            outcome: Outcome::NoAnswer,
                            live,
                            abandoned: live && rng.random_bool(0.3),
                            amd_result: amd[rng.random_range(0..3)],
                            lead_status: LeadStatus::Active,
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
            }
        }
        assert!(!open.is_empty());
        let windows = |rng: &mut rand_chacha::ChaCha8Rng| {
            let mut w: Vec<(i64, i64)> = (0..30)
                .map(|_| {
                    let a = T0 - HOUR + rng.random_range(0..75 * HOUR);
                    let b = T0 - HOUR + rng.random_range(0..75 * HOUR);
                    (a.min(b), a.max(b))
                })
                .collect();
            // On the hour, a whole month, and empty.
            let h = T0 - T0.rem_euclid(HOUR);
            w.extend([
                (h, h + 24 * HOUR),
                (T0 - 30 * 24 * HOUR, T0 + 73 * HOUR),
                (T0, T0),
            ]);
            w
        };
        for (since, until) in windows(&mut rng) {
            let c = store.abandon_counts(ids.id, since, until).await.unwrap();
            assert_eq!(
                (c.live, c.abandoned, c.machines),
                counted_by_hand(&store, ids.id, since, until).await,
                "{} [{since}, {until})",
                db.label
            );
        }
        // A crash of n1: its open attempts close and count from their hours.
        store
            .close_interrupted(T0 + 80 * HOUR, "n1", &HashMap::new())
            .await
            .unwrap();
        let mut nonzero = false;
        for (since, until) in windows(&mut rng) {
            let c = store.abandon_counts(ids.id, since, until).await.unwrap();
            nonzero |= c.abandoned > 0 && c.machines > 0;
            assert_eq!(
                (c.live, c.abandoned, c.machines),
                counted_by_hand(&store, ids.id, since, until).await,
                "{} after the crash [{since}, {until})",
                db.label
            );
        }
        assert!(nonzero, "the windows counted nothing");
    }
}

/// A store that held attempts before the tally came (its migration dropped and run again on
/// the next start) counts them all: every window reads what the attempts hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tally_migration_counts_the_history() {
    const HOUR: i64 = 3_600_000;
    for db in storedb::all("window_backfill").await {
        let store = db.open().await;
        let ids = seeded(&store, 6).await;
        let page = store.leads_page(ids.id, 0, 6).await.unwrap();
        for (i, l) in page.iter().enumerate() {
            let dial = T0 + i as i64 * 5 * HOUR;
            let id = store
                .record_attempt_start(&AttemptStart {
                    lead_id: l.lead.id,
                    dial_at_ms: dial,
                    node: Some("n1"),
                    ..Default::default()
                })
                .await
                .unwrap();
            if i == 5 {
                continue; // still open
            }
            store
                .record_attempt_end(
                    id,
                    &AttemptEnd {
                        end_at_ms: dial + 60_000,
                        outcome: Outcome::Abandoned,
                        live: true,
                        abandoned: i % 2 == 0,
                        amd_result: Some(if i == 1 {
                            AmdResult::Machine
                        } else {
                            AmdResult::Human
                        }),
                        lead_status: LeadStatus::Active,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        store
            .conn()
            .execute_unprepared(
                "DROP TABLE attempt_hours; \
                 DELETE FROM seaql_migrations WHERE version = 'm20261221_000001_attempt_hours'",
            )
            .await
            .unwrap();
        drop(store);
        let store = db.open().await;
        let whole = (T0 - 2 * HOUR, T0 + 30 * HOUR);
        let c = store
            .abandon_counts(ids.id, whole.0, whole.1)
            .await
            .unwrap();
        assert_eq!((c.live, c.abandoned, c.machines), (5, 3, 1), "{}", db.label);
        for (since, until) in [whole, (T0 + HOUR, T0 + 21 * HOUR), (T0, T0 + 1)] {
            let c = store.abandon_counts(ids.id, since, until).await.unwrap();
            assert_eq!(
                (c.live, c.abandoned, c.machines),
                counted_by_hand(&store, ids.id, since, until).await,
                "{} [{since}, {until})",
                db.label
            );
        }
    }
}
