//! `dialer erase --phone`: a person's recordings, attributes, notes and survey answers go; the
//! attempts' times and outcomes, the DNC entry and the opt-out evidence stay; an audit event
//! records it. On SQLite, and on PostgreSQL when `DIALER_TEST_DATABASE_URL` is set.

use std::process::Command;

use dialer::store::entity::{
    audit_event, call_attempt, disposition, dnc_number, lead, opt_out, survey_answer,
};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use crate::storedb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_deletes_recordings_and_attributes_and_keeps_attempts_and_dnc() {
    for db in storedb::all("erase").await {
        let store = db.open().await;
        let (campaign, list) = storedb::leads_list(&store, "erase", "cold", "us").await;
        let now = jiff::Timestamp::now().as_millisecond();
        let lead = |phone: &str, name: &str| dialer::store::NewLead {
            list_id: list,
            phone: phone.into(),
            timezone: Some("America/New_York".into()),
            zone_key: None,
            zone_source: None,
            attributes: format!(r#"{{"name":"{name}","account":"A-1"}}"#),
            priority: 0,
        };
        store
            .insert_leads(
                campaign,
                &[lead("+12025550143", "Dana"), lead("+12025550144", "Eve")],
                now,
            )
            .await
            .unwrap();
        let leads = lead::Entity::find()
            .order_by_asc(lead::Column::Id)
            .all(store.conn())
            .await
            .unwrap();
        let (dana, eve) = (leads[0].id, leads[1].id);
        let dir = tempfile::tempdir().unwrap();
        let rec = |n: &str| {
            let p = dir.path().join(n);
            std::fs::write(&p, b"RIFF").unwrap();
            p.display().to_string()
        };
        let (dana_rec, eve_rec) = (rec("dana.wav"), rec("eve.wav"));
        for (id, l, r) in [(1, dana, &dana_rec), (2, eve, &eve_rec)] {
            store
                .conn()
                .execute_raw(store.stmt(
                    "INSERT INTO call_attempts (id, lead_id, campaign_id, attempt_no, phone, \
                     dial_at_ms, end_at_ms, outcome, recording_path) \
                     VALUES (?, ?, ?, 1, '+1', ?, ?, 'human', ?)",
                    vec![
                        id.into(),
                        l.into(),
                        campaign.into(),
                        (now - 60_000).into(),
                        now.into(),
                        r.as_str().into(),
                    ],
                ))
                .await
                .unwrap();
            store
                .record_survey_answer(id, "q", "yes", Some("1"), now)
                .await
                .unwrap();
        }
        store
            .conn()
            .execute_raw(store.stmt(
                "INSERT INTO dispositions (attempt_id, lead_id, campaign_id, code, notes, \
                 created_at_ms) VALUES (1, ?, ?, 'sale', 'card ends 4242', ?)",
                vec![dana.into(), campaign.into(), now.into()],
            ))
            .await
            .unwrap();
        store
            .record_opt_out(1, "9", "safe_harbor", false, now)
            .await
            .unwrap();

        let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
            .args([
                "erase",
                "--phone",
                "(202) 555-0143",
                "--by",
                "dpo",
                "--json",
            ])
            .args(["--db", &db.cli_url()])
            .args(["--config", "/nonexistent/dialer.toml"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {out:?}", db.label);
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got["leads"], serde_json::json!([dana]), "{got}");
        assert_eq!(got["recordings_deleted"], 1, "{got}");

        // Dana's recording is gone, Eve's is not.
        assert!(!std::path::Path::new(&dana_rec).exists());
        assert!(std::path::Path::new(&eve_rec).exists());
        let leads = lead::Entity::find()
            .order_by_asc(lead::Column::Id)
            .all(store.conn())
            .await
            .unwrap();
        assert_eq!(leads[0].attributes, "{}");
        assert_eq!(leads[0].phone, "+12025550143");
        // Never dialed again.
        assert_eq!(leads[0].status, "done");
        assert!(leads[1].attributes.contains("Eve"));
        // The attempts keep their times and outcome; the recording is no longer named.
        let attempts = call_attempt::Entity::find()
            .order_by_asc(call_attempt::Column::Id)
            .all(store.conn())
            .await
            .unwrap();
        assert_eq!(attempts.len(), 2);
        assert_eq!(
            (
                attempts[0].dial_at_ms,
                attempts[0].end_at_ms,
                attempts[0].outcome.as_deref()
            ),
            (now - 60_000, Some(now), Some("human"))
        );
        assert_eq!(attempts[0].recording_path, None);
        assert_eq!(
            attempts[1].recording_path.as_deref(),
            Some(eve_rec.as_str())
        );
        let answers = survey_answer::Entity::find()
            .all(store.conn())
            .await
            .unwrap();
        assert_eq!(answers.iter().map(|a| a.lead_id).collect::<Vec<_>>(), [eve]);
        let d = disposition::Entity::find().all(store.conn()).await.unwrap();
        assert_eq!((d[0].code.as_str(), d[0].notes.as_deref()), ("sale", None));
        // The DNC entry and the opt-out evidence stay.
        let dnc = dnc_number::Entity::find().all(store.conn()).await.unwrap();
        assert_eq!(dnc.len(), 1);
        assert_eq!(dnc[0].phone, "+12025550143");
        assert_eq!(
            opt_out::Entity::find()
                .all(store.conn())
                .await
                .unwrap()
                .len(),
            1
        );
        let audit = audit_event::Entity::find().all(store.conn()).await.unwrap();
        let e = audit
            .iter()
            .find(|e| e.kind == "erase")
            .expect("an erase event");
        assert!(e.message.starts_with("dpo erased"), "{}", e.message);
        let data: serde_json::Value = serde_json::from_str(e.data.as_deref().unwrap()).unwrap();
        assert_eq!(data["leads"], serde_json::json!([dana]));
    }
}
