//! A daemon running across its campaign's midnight (its clock started 30 s before it): the
//! abandon budget, seeded at start from the store's 30 days, drops the calls that have left the
//! window once the day changes in the campaign's zone, and keeps the others. The unit tests of
//! `daemon::run::windows` and `pacing::budget` hold the rule; this holds the running daemon to
//! it, store and all.

use std::time::{Duration, Instant};

use dialer::daemon::config;
use dialer::daemon::run::{Daemon, Options};
use dialer::domain::{LeadStatus, Outcome};
use dialer::store::{AttemptEnd, AttemptStart};

use crate::{e2e, storedb};

const DAY_MS: i64 = 24 * 3600 * 1000;
/// How long before the campaign's midnight the daemon's clock starts.
const BEFORE_MIDNIGHT_MS: i64 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_abandon_budget_drops_old_calls_at_the_campaigns_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let setup = e2e::Setup::new(&["alice"]);
    let config_path = setup.write(dir.path());
    let loaded = config::load_all(&config_path).expect("test config is valid");
    let campaign = loaded
        .campaigns
        .iter()
        .find(|c| c.name == "e2e")
        .unwrap()
        .clone();
    let midnight = jiff::civil::date(2026, 12, 10)
        .at(0, 0, 0, 0)
        .in_tz(&setup.zone)
        .unwrap()
        .timestamp()
        .as_millisecond();
    let start_ms = midnight - BEFORE_MIDNIGHT_MS;

    // The store's history: three live answers (one abandoned) 15 s inside the 30 days as the
    // daemon starts, which leave it before midnight; two an hour before the start, which stay.
    let db = storedb::sqlite();
    let store = db.open().await;
    storedb::seed_one_lead(&store, &campaign, &setup.zone).await;
    let (campaign_id, _) = storedb::leads_list(
        &store,
        &campaign.name,
        campaign.kind.as_str(),
        campaign.regime.as_str(),
    )
    .await;
    let lead = store.leads_page(campaign_id, 0, 1).await.unwrap()[0]
        .lead
        .id;
    let old = start_ms - 30 * DAY_MS + 15_000;
    let recent = start_ms - 3_600_000;
    for (i, dial) in [old, old + 1, old + 2, recent, recent + 1]
        .into_iter()
        .enumerate()
    {
        let id = store
            .record_attempt_start(&AttemptStart {
                lead_id: lead,
                dial_at_ms: dial,
                ..Default::default()
            })
            .await
            .unwrap();
        store
            .record_attempt_end(
                id,
                &AttemptEnd {
                    end_at_ms: dial + 60_000,
                    outcome: if i == 0 {
                        Outcome::Abandoned
                    } else {
                        Outcome::Human
                    },
                    live: true,
                    abandoned: i == 0,
                    // Nothing left to dial.
                    lead_status: LeadStatus::Done,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    let started = Instant::now();
    let options = Options {
        tick: Duration::from_millis(100),
        import_lists: false,
        clock_start_ms: Some(start_ms),
        window_check: Duration::from_millis(200),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
        .await
        .expect("daemon starts");
    let control = daemon.control();
    let counts = || {
        let control = control.clone();
        async move {
            let c = control.campaigns().await.unwrap();
            let c = c.iter().find(|c| c.name == "e2e").unwrap();
            (c.live_answers, c.abandoned)
        }
    };
    // Read at once: the daemon's clock is still well before midnight.
    assert_eq!(counts().await, (5, 1), "the budget seeded from the store");
    assert!(
        started.elapsed() < Duration::from_millis(14_000),
        "the daemon took {:?} to start: the test's timing failed, not the dialer",
        started.elapsed()
    );

    // Watch until the budget changes; it must not before the campaign's midnight.
    let deadline = started + Duration::from_millis(BEFORE_MIDNIGHT_MS as u64 + 30_000);
    let rolled = loop {
        let now = counts().await;
        let at = started.elapsed();
        if now != (5, 1) {
            break (now, at);
        }
        assert!(
            Instant::now() < deadline,
            "the budget still counts the old calls {:?} after the daemon's midnight",
            at.saturating_sub(Duration::from_millis(BEFORE_MIDNIGHT_MS as u64))
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    daemon.stop().await;
    assert_eq!(
        rolled.0,
        (2, 0),
        "the window after midnight: the last hour's two calls"
    );
    // The daemon's clock reads start_ms + (time since its start), and its start came after
    // `started`: it passed midnight no earlier than BEFORE_MIDNIGHT_MS after `started`.
    assert!(
        rolled.1 >= Duration::from_millis(BEFORE_MIDNIGHT_MS as u64),
        "the budget moved on {:?} after the start, before the campaign's midnight",
        rolled.1
    );
}
