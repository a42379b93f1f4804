//! Recordings past `media.recordings_keep` are deleted by the daemon's sweep and no longer named
//! by their attempt; younger ones stay; the sweep measures the recordings' disk use. On SQLite,
//! and on PostgreSQL when `DIALER_TEST_DATABASE_URL` is set.

use std::time::Duration;

use dialer::daemon::retention;
use dialer::store::entity::call_attempt;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use crate::storedb;

const DAY_MS: i64 = 86_400_000;

/// Store the campaign's one lead, +12025550143.
async fn one_lead(store: &dialer::store::Store, campaign: i64, list: i64, now: i64) {
    store
        .insert_leads(
            campaign,
            &[dialer::store::NewLead {
                list_id: list,
                phone: "+12025550143".into(),
                timezone: None,
                zone_key: None,
                zone_source: None,
                attributes: "{}".into(),
                priority: 0,
            }],
            now,
        )
        .await
        .unwrap();
}

/// An attempt to the campaign's lead, dialed at `dial`, ended at `end` (`None`: still open), its
/// recording at `path`.
async fn recorded_attempt(
    store: &dialer::store::Store,
    campaign: i64,
    n: i32,
    (dial, end): (i64, Option<i64>),
    path: &std::path::Path,
) {
    store
        .conn()
        .execute_raw(store.stmt(
            "INSERT INTO call_attempts (lead_id, campaign_id, attempt_no, dial_at_ms, \
             end_at_ms, outcome, recording_path) \
             SELECT id, campaign_id, ?, ?, ?, 'human', ? FROM leads WHERE campaign_id = ?",
            vec![
                n.into(),
                dial.into(),
                end.into(),
                path.display().to_string().into(),
                campaign.into(),
            ],
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_older_than_keep_are_deleted_and_the_rest_measured() {
    for db in storedb::all("retention").await {
        let store = db.open().await;
        let (campaign, list) = storedb::leads_list(&store, "retention", "cold", "us").await;
        let now = jiff::Timestamp::now().as_millisecond();
        one_lead(&store, campaign, list, now).await;
        let dir = tempfile::tempdir().unwrap();
        // Ended 91 days ago, 89 days ago, and still open (no end: never swept).
        let ends = [Some(now - 91 * DAY_MS), Some(now - 89 * DAY_MS), None];
        let mut paths = Vec::new();
        for (i, end) in ends.iter().enumerate() {
            let p = dir.path().join(format!("call{i}.wav"));
            std::fs::write(&p, vec![0u8; 1000 * (i + 1)]).unwrap();
            recorded_attempt(
                &store,
                campaign,
                i as i32 + 1,
                (now - 92 * DAY_MS, *end),
                &p,
            )
            .await;
            paths.push(p);
        }

        // No `recordings_keep`: nothing is deleted, the use is measured.
        let s = retention::sweep(&store, dir.path(), None, now)
            .await
            .unwrap();
        assert_eq!((s.deleted, s.bytes), (0, 6000), "{}", db.label);

        let keep = Some(Duration::from_secs(90 * 86_400));
        let s = retention::sweep(&store, dir.path(), keep, now)
            .await
            .unwrap();
        assert_eq!((s.deleted, s.failed, s.bytes), (1, 0, 5000), "{}", db.label);
        assert!(!paths[0].exists());
        assert!(paths[1].exists() && paths[2].exists());
        let attempts = call_attempt::Entity::find()
            .order_by_asc(call_attempt::Column::Id)
            .all(store.conn())
            .await
            .unwrap();
        let named: Vec<bool> = attempts
            .iter()
            .map(|a| a.recording_path.is_some())
            .collect();
        assert_eq!(named, [false, true, true]);
        // The attempt itself stays.
        assert_eq!(attempts[0].end_at_ms, ends[0]);

        // Two days later the second one is past its age too.
        let s = retention::sweep(&store, dir.path(), keep, now + 2 * DAY_MS)
            .await
            .unwrap();
        assert_eq!((s.deleted, s.bytes), (1, 3000));
        assert!(!paths[1].exists());
    }
}

/// Each campaign's recordings go by its own `recording.keep` (read from its file, stored with
/// the campaign), shorter or longer than `media.recordings_keep`; a campaign without one goes by
/// the global default, and with no global default its recordings stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_campaign_keeps_its_recordings_for_its_own_keep() {
    // Campaign name → its `recording` table.
    let campaigns = [
        (
            "short",
            r#"recording = { announce = "safe.wav", keep = "30days" }"#,
        ),
        (
            "long",
            r#"recording = { announce = "safe.wav", keep = "200days" }"#,
        ),
        ("plain", r#"recording = { announce = "safe.wav" }"#),
    ];
    for db in storedb::all("retention_keep").await {
        let store = db.open().await;
        let now = jiff::Timestamp::now().as_millisecond();
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        let mut _dirs = Vec::new();
        for (name, recording) in campaigns {
            let toml = storedb::campaign_toml(name, "")
                .replace("kind = \"cold\"", &format!("kind = \"cold\"\n{recording}"));
            let d = storedb::CampaignDir::new(name, &toml);
            let c = d.load(name);
            _dirs.push(d);
            let ids = dialer::leads::upsert_campaign(&store, &c, now)
                .await
                .unwrap();
            one_lead(&store, ids.id, ids.list("a").unwrap(), now).await;
            // Recordings of calls that ended 31, 91 and 201 days ago.
            for (i, age) in [31, 91, 201].into_iter().enumerate() {
                let p = dir.path().join(format!("{name}-{age}.wav"));
                std::fs::write(&p, b"RIFF").unwrap();
                let end = now - age * DAY_MS;
                recorded_attempt(&store, ids.id, i as i32 + 1, (end - 60_000, Some(end)), &p).await;
                files.push((format!("{name}-{age}"), p));
            }
        }
        let left = |files: &[(String, std::path::PathBuf)]| -> Vec<String> {
            files
                .iter()
                .filter(|(_, p)| p.exists())
                .map(|(n, _)| n.clone())
                .collect()
        };

        // No global default: only the campaigns with their own keep lose recordings.
        let s = retention::sweep(&store, dir.path(), None, now)
            .await
            .unwrap();
        assert_eq!((s.deleted, s.failed), (4, 0), "{}", db.label);
        assert_eq!(
            left(&files),
            ["long-31", "long-91", "plain-31", "plain-91", "plain-201"],
            "{}",
            db.label
        );

        // A global 90 days: "plain" goes by it, "long" still keeps its 91-day-old recording.
        let keep = Some(Duration::from_secs(90 * 86_400));
        let s = retention::sweep(&store, dir.path(), keep, now)
            .await
            .unwrap();
        assert_eq!((s.deleted, s.failed), (2, 0), "{}", db.label);
        assert_eq!(
            left(&files),
            ["long-31", "long-91", "plain-31"],
            "{}",
            db.label
        );
        // The store names exactly the recordings left.
        let named: Vec<String> = call_attempt::Entity::find()
            .order_by_asc(call_attempt::Column::Id)
            .all(store.conn())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|a| a.recording_path)
            .collect();
        let kept: Vec<String> = files
            .iter()
            .filter(|(_, p)| p.exists())
            .map(|(_, p)| p.display().to_string())
            .collect();
        assert_eq!(named, kept, "{}", db.label);
    }
}
