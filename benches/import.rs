//! Import benchmark: generates a 1,000,000-row CSV lead list in a temp dir and imports it into
//! a fresh SQLite store, printing one JSON line with rows per second.
//!
//! `cargo bench --bench import` (release). `DIALER_BENCH_ROWS=N` changes the row count.

use std::io::Write;
use std::time::Instant;

use bench_campaign::bench_campaign;
use dialer::campaign::ColumnMap;
use dialer::leads::import::{ImportTarget, import_file};
use dialer::store::Store;

#[path = "common/bench_campaign.rs"]
mod bench_campaign;

const AREAS: [u32; 10] = [212, 312, 415, 617, 713, 202, 305, 404, 503, 206];
const ZONES: [&str; 10] = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/New_York",
    "America/Chicago",
    "America/New_York",
    "America/New_York",
    "America/New_York",
    "America/Los_Angeles",
    "America/Los_Angeles",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = std::env::var("DIALER_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("leads.csv");
    let t = Instant::now();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&csv)?);
        writeln!(w, "phone,tz,first_name,account")?;
        for i in 0..rows {
            let a = (i % 10) as usize;
            // Exchanges 200-299, lines 0000-9999: unique per area code up to 1,000,000 rows
            // each; written in the national format with dashes, as lists usually are.
            let n = i / 10;
            writeln!(
                w,
                "({}) {}-{:04},{},Name{},ACC{:07}",
                AREAS[a],
                200 + n / 10_000,
                n % 10_000,
                ZONES[a],
                i % 997,
                i
            )?;
        }
        w.flush()?;
    }
    let generate_s = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&csv)?.len();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.sqlite").display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (report, import_s) = rt.block_on(async {
        let store = Store::open(&url).await?;
        let ids = bench_campaign(&store).await?;
        let target = ImportTarget {
            campaign_id: ids.id,
            list_id: ids.list("main").ok_or("no list")?,
            region: phonenumber::country::Id::US,
            columns: ColumnMap {
                phone: "phone".into(),
                timezone: Some("tz".into()),
                account: None,
                postal_code: None,
            },
            dnc: Default::default(),
        };
        let t = Instant::now();
        let report = import_file(&store, target, &csv, |_| {}).await?;
        let s = t.elapsed().as_secs_f64();
        Ok::<_, Box<dyn std::error::Error>>((report, s))
    })?;
    if report.imported != rows || !report.rejected.is_empty() {
        return Err(format!(
            "expected {rows} imported, got {} imported, {} duplicates, {} rejected (first: {:?})",
            report.imported,
            report.duplicates,
            report.rejected.len(),
            report.rejected.first()
        )
        .into());
    }
    println!(
        "{}",
        serde_json::json!({
            "bench": "import",
            "backend": "sqlite",
            "rows": rows,
            "csv_bytes": bytes,
            "generate_s": (generate_s * 1000.0).round() / 1000.0,
            "import_s": (import_s * 1000.0).round() / 1000.0,
            "rows_per_s": (rows as f64 / import_s).round(),
        })
    );
    Ok(())
}
