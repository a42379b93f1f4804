//! Abandon-window benchmark: a campaign with a month of attempts (default 600,000, 20,000 dials
//! a day, a quarter of them live, 1 in 100 of those abandoned), in a fresh SQLite store or the
//! PostgreSQL database of `DIALER_BENCH_DATABASE_URL` (its tables are dropped first). Times the
//! count of a 30-day window that every dial's evidence reads ([`Store::abandon_counts`], which
//! `record_attempt_start` runs inside its transaction) and a whole dial's store writes (attempt
//! start and end), and prints one JSON line.
//!
//! `cargo bench --bench store_window` (release). `DIALER_BENCH_ATTEMPTS=N` changes the history.

use std::time::Instant;

use bench_campaign::bench_campaign;
use dialer::store::{AttemptEnd, AttemptStart, NewLead, Store};
use sea_orm::{ConnectionTrait, Statement};

#[path = "common/bench_campaign.rs"]
mod bench_campaign;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// Dials timed after the history is in.
const DIALS: usize = 200;
/// Leads the month's attempts are spread over.
const HISTORY_LEADS: i64 = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let attempts: i64 = std::env::var("DIALER_BENCH_ATTEMPTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600_000);
    let dir = tempfile::tempdir()?;
    let (url, backend) = match std::env::var("DIALER_BENCH_DATABASE_URL") {
        Ok(u) => (u, "postgres"),
        Err(_) => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.sqlite").display()
            ),
            "sqlite",
        ),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        if backend == "postgres" {
            let conn = sea_orm::Database::connect(url.as_str()).await?;
            conn.execute_unprepared("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
                .await?;
        }
        let store = Store::open(&url).await?;
        let ids = bench_campaign(&store).await?;
        let list_id = ids.list("main").ok_or("no list")?;
        let leads: Vec<NewLead> = (0..DIALS)
            .map(|i| NewLead {
                list_id,
                phone: format!("+1212555{i:04}"),
                timezone: Some("America/New_York".into()),
                zone_key: None,
                zone_source: None,
                attributes: "{}".into(),
                priority: 0,
            })
            .collect();
        store.insert_leads(ids.id, &leads, 0).await?;
        // The history's leads, each dialed 60 times over the month.
        let history: Vec<NewLead> = (0..HISTORY_LEADS)
            .map(|i| NewLead {
                list_id,
                phone: format!("+1312{i:07}"),
                timezone: Some("America/Chicago".into()),
                zone_key: None,
                zone_source: None,
                attributes: "{}".into(),
                priority: 0,
            })
            .collect();
        store.insert_leads(ids.id, &history, 0).await?;
        let lead_ids: Vec<i64> = store
            .conn()
            .query_all_raw(Statement::from_string(
                store.backend(),
                format!(
                    "SELECT id FROM leads WHERE campaign_id = {} AND phone LIKE '+1212%' ORDER BY id",
                    ids.id
                ),
            ))
            .await?
            .iter()
            .map(|r| r.try_get::<i64>("", "id"))
            .collect::<Result<_, _>>()?;
        let now_ms = 40 * DAY_MS;
        let step = (30 * DAY_MS / attempts.max(1)).max(1);
        let t = Instant::now();
        // The month before `now_ms`, left open by a node that then closes them as after a
        // crash: the store's own way of ending them, which counts them in the window's hours.
        store
            .conn()
            .execute_unprepared(&format!(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
                 INSERT INTO call_attempts (lead_id, campaign_id, attempt_no, phone, dial_at_ms, \
                 node, live, abandoned) \
                 SELECT (SELECT MIN(id) FROM leads WHERE phone LIKE '+1312%') + i % {HISTORY_LEADS}, \
                 {campaign}, 1, '+13120000000', d, 'bench-seed', i % 4 = 0, i % 400 = 0 \
                 FROM (SELECT i, CAST({start} AS BIGINT) + CAST(i AS BIGINT) * {step} AS d FROM n) t",
                last = attempts - 1,
                campaign = ids.id,
                start = now_ms - 30 * DAY_MS,
            ))
            .await?;
        store
            .close_interrupted(now_ms - 1, "bench-seed", &Default::default())
            .await?;
        if backend == "postgres" {
            // Closing a month at once leaves every closed row's old version behind, which a
            // daemon closing them one by one over the month leaves to autovacuum.
            store
                .conn()
                .execute_unprepared("VACUUM ANALYZE call_attempts")
                .await?;
        }
        let seed_s = t.elapsed().as_secs_f64();

        let mut window_ms = Vec::with_capacity(DIALS);
        let mut counted = None;
        for i in 0..DIALS {
            let until = now_ms + i as i64 * 1000;
            let t = Instant::now();
            let c = store
                .abandon_counts(ids.id, until - 30 * DAY_MS, until)
                .await?;
            window_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            // The first window holds the whole history.
            counted = counted.or(Some(c));
        }
        // Each timed dial's lead carries the evidence of its claim, as the daemon's do, so its
        // attempt start counts the window.
        let evidence = serde_json::json!({
            "allowed_at_ms": now_ms,
            "zones_from": "lead_zone",
            "zones": [],
            "regions": ["US-NY"],
            "hours": "Mon,Tue,Wed,Thu,Fri 09:00-21:00",
            "state_rules": [],
            "attempts_24h": 0,
            "per_24h_cap": null,
            "attempts_7d": 0,
            "reg_f": false,
            "abandon": {
                "cap": 0.03,
                "window": "rolling_30_days",
                "since_ms": now_ms - 30 * DAY_MS,
                "amd_false_positive_rate": 0.0
            },
            "registry": null,
            "rules_version": "bench"
        })
        .to_string();
        store
            .conn()
            .execute_unprepared(&format!(
                "UPDATE leads SET claim_evidence = '{}' WHERE campaign_id = {}",
                evidence.replace('\'', "''"),
                ids.id
            ))
            .await?;
        let mut dial_ms = Vec::with_capacity(DIALS);
        for (i, lead) in lead_ids.iter().enumerate() {
            let at = now_ms + i as i64 * 1000;
            let t = Instant::now();
            let id = store
                .record_attempt_start(&AttemptStart {
                    lead_id: *lead,
                    dial_at_ms: at,
                    ..Default::default()
                })
                .await?;
            store
                .record_attempt_end(
                    id,
                    &AttemptEnd {
                        end_at_ms: at + 500,
                        ..Default::default()
                    },
                )
                .await?;
            dial_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let with_counts = store
            .conn()
            .query_one_raw(Statement::from_string(
                store.backend(),
                format!(
                    "SELECT COUNT(*) AS n FROM call_attempts WHERE campaign_id = {} \
                     AND evidence LIKE '%\"live\":{}%'",
                    ids.id,
                    (attempts + 3) / 4
                ),
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if with_counts == 0 {
            return Err("no dial's evidence holds the window's live answers".into());
        }
        let c = counted.ok_or("no window counted")?;
        let expected_live = (attempts + 3) / 4;
        if c.live != expected_live as u64 {
            return Err(format!("counted {} live answers, seeded {expected_live}", c.live).into());
        }
        println!(
            "{}",
            serde_json::json!({
                "bench": "store_window",
                "backend": backend,
                "attempts_in_window": attempts,
                "seed_s": round3(seed_s),
                "window_count_ms_p50": round3(percentile(&mut window_ms, 0.5)),
                "window_count_ms_p95": round3(percentile(&mut window_ms, 0.95)),
                "dial_writes_ms_p50": round3(percentile(&mut dial_ms, 0.5)),
                "dial_writes_ms_p95": round3(percentile(&mut dial_ms, 0.95)),
            })
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
