//! The abandon budget seeded from the store (SQLite; PostgreSQL when
//! `DIALER_TEST_DATABASE_URL` is set): a restart does not reset it.

use dialer::domain::{AmdResult, LeadStatus};
use dialer::pacing::{AbandonBudget, Window, WindowCounts};
use dialer::store::{AttemptEnd, AttemptStart, CampaignRecord, ListRecord, NewLead, Store};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::storedb;

const DAY: i64 = 86_400_000;

type Error = Box<dyn std::error::Error>;

/// What the store counted for the campaign in `[since_ms, until_ms)`.
async fn window_counts(
    store: &Store,
    campaign_id: i64,
    since_ms: i64,
    until_ms: i64,
) -> Result<WindowCounts, Error> {
    Ok(store
        .abandon_counts(campaign_id, since_ms, until_ms)
        .await?
        .into())
}

/// The campaign's budget for the window containing `now`, from the store's counts.
async fn load_budget(
    store: &Store,
    campaign_id: i64,
    window: Window,
    now: Timestamp,
    tz: &TimeZone,
    cap: f64,
    amd_false_positive_rate: f64,
) -> Result<AbandonBudget, Error> {
    let since = window.start_ms(now, tz)?;
    let counts = window_counts(store, campaign_id, since, now.as_millisecond() + 1).await?;
    Ok(AbandonBudget::for_window(
        window,
        cap,
        amd_false_positive_rate,
        counts,
    ))
}

async fn attempt(store: &Store, lead: i64, at_ms: i64, outcome: &str, live: bool, abandoned: bool) {
    let id = store
        .record_attempt_start(&AttemptStart {
            lead_id: lead,
            dial_at_ms: at_ms,
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .record_attempt_end(
            id,
            &AttemptEnd {
                end_at_ms: at_ms + 30_000,
                outcome: outcome.parse().expect("an outcome"),
                amd_result: match outcome {
                    "machine" => Some(AmdResult::Machine),
                    "no_answer" => None,
                    _ => Some(AmdResult::Human),
                },
                live,
                abandoned,
                lead_status: LeadStatus::Active,
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_counts_the_window_from_the_store() {
    for db in storedb::all("pacing_history").await {
        let store = db.open().await;
        let ids = store
            .upsert_campaign(
                &CampaignRecord {
                    name: "uk-sales",
                    kind: "cold",
                    regime: "uk",
                    source: None,
                    recording_keep_ms: None,
                    lists: vec![ListRecord {
                        name: "main",
                        kind: "cold",
                        priority: 0,
                        default_region: "GB",
                    }],
                },
                0,
            )
            .await
            .unwrap();
        let list = ids.list("main").unwrap();
        store
            .insert_leads(
                ids.id,
                &[NewLead {
                    list_id: list,
                    phone: "+442079460000".into(),
                    timezone: None,
                    zone_key: None,
                    zone_source: None,
                    attributes: "{}".into(),
                    priority: 0,
                }],
                0,
            )
            .await
            .unwrap();
        let lead = store.leads_page(ids.id, 0, 10).await.unwrap()[0].lead.id;

        // "Now" is 2026-07-01 10:00 UTC = 11:00 in London (BST).
        let now: Timestamp = "2026-07-01T10:00:00Z".parse().unwrap();
        let now_ms = now.as_millisecond();
        let london = TimeZone::get("Europe/London").unwrap();
        // 40 days ago: outside both windows.
        attempt(&store, lead, now_ms - 40 * DAY, "abandoned", true, true).await;
        // 3 days ago: in the US window only.
        attempt(&store, lead, now_ms - 3 * DAY, "abandoned", true, true).await;
        attempt(&store, lead, now_ms - 3 * DAY, "human", true, false).await;
        // 23:30 UTC yesterday = 00:30 today in London: in the UK day.
        attempt(
            &store,
            lead,
            now_ms - 10 * 3_600_000 - 30 * 60_000,
            "human",
            true,
            false,
        )
        .await;
        // Today: 3 people (1 abandoned), 4 machines, 2 no answers.
        for (o, live, ab) in [
            ("human", true, false),
            ("human", true, false),
            ("abandoned", true, true),
            ("machine", false, false),
            ("machine", false, false),
            ("machine", false, false),
            ("machine", false, false),
            ("no_answer", false, false),
            ("no_answer", false, false),
        ] {
            attempt(&store, lead, now_ms - 3_600_000, o, live, ab).await;
        }

        let c = window_counts(&store, ids.id, 0, now_ms + 1).await.unwrap();
        assert_eq!(
            (c.live_answers, c.abandoned, c.amd_machines),
            (7, 3, 4),
            "{}",
            db.label
        );

        // US: rolling 30 days: 6 live, 2 abandoned; machines do not count.
        let us = load_budget(
            &store,
            ids.id,
            Window::Rolling30Days,
            now,
            &london,
            0.03,
            0.25,
        )
        .await
        .unwrap();
        assert!((us.live_answers() - 6.0).abs() < 1e-9, "{}", db.label);
        assert!((us.rate() - 2.0 / 6.0).abs() < 1e-9, "{}", db.label);
        assert!(us.spent());

        // UK: today in London: 4 live, 1 abandoned, plus 25 % of 4 machines = 1 person:
        // (1 + 1) / (4 + 1).
        let uk = load_budget(
            &store,
            ids.id,
            Window::CalendarDay,
            now,
            &london,
            0.03,
            0.25,
        )
        .await
        .unwrap();
        assert!((uk.live_answers() - 5.0).abs() < 1e-9, "{}", db.label);
        assert!((uk.rate() - 2.0 / 5.0).abs() < 1e-9, "{}", db.label);

        // A fresh campaign has an empty, unspent budget.
        let empty = load_budget(
            &store,
            ids.id + 999,
            Window::CalendarDay,
            now,
            &london,
            0.03,
            0.25,
        )
        .await
        .unwrap();
        assert_eq!(empty.live_answers(), 0.0);
        assert!(!empty.spent());
    }
}
