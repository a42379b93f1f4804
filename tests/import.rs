//! CSV import on SQLite, and on PostgreSQL when `DIALER_TEST_DATABASE_URL` is set: exact counts
//! and reasons for a messy list, idempotent re-import, and the `dialer import` binary.

mod storedb;

use std::process::Command;

use dialer::leads::import::{ImportReport, ImportTarget, Rejected, import_file};
use dialer::leads::sync_campaign;
use storedb::{CampaignDir, campaign_toml};

const MESSY: &str = "phone,tz,name,notes
(202) 555-0143,America/New_York,Ann,national with punctuation
+1 202-555-0144,,Bob,international with spaces and dashes
202.555.0143,America/Chicago,Ann again,same number as line 2
,America/New_York,Nobody,empty phone
CALL-ME-NOW,,Letters,letters
12345,,Short,too short for the US
+44 20 7946 0018,Europe/London,Brit,international
2025550145,Mars/Base,Martian,bad zone
2025550146,America/Denver,Too,many,columns
\"202 555 0147\",America/Los_Angeles,\"Quoted, with a comma\",x
2025550148,America/New_York,Opted out,on the DNC file
+1 (202) 555-0144,America/New_York,Bob again,same as line 3
  2025550149  ,  America/Phoenix ,Spaces,trimmed
";

fn expected_rejections() -> Vec<Rejected> {
    let r = |line, reason: &str| Rejected {
        line,
        reason: reason.to_string(),
    };
    vec![
        r(5, "empty phone"),
        r(6, "not a phone number: \"CALL-ME-NOW\" has letters"),
        r(7, "not a valid number for region US: \"12345\""),
        r(9, "unknown time zone \"Mars/Base\""),
        r(10, "expected 4 columns, found 5"),
        r(12, "+12025550148 is on the do-not-call list"),
    ]
}

async fn import(
    store: &dialer::store::Store,
    c: &dialer::campaign::Campaign,
    file: &std::path::Path,
) -> ImportReport {
    let ids = sync_campaign(store, c, jiff::Timestamp::now())
        .await
        .unwrap();
    let dnc = store.dnc_numbers(ids.id, c.dnc.use_global).await.unwrap();
    let target = ImportTarget {
        campaign_id: ids.id,
        list_id: ids.list("a").unwrap(),
        region: phonenumber::country::Id::US,
        columns: c.lists[0].columns.clone(),
        dnc,
    };
    import_file(store, target, file, |_| {}).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messy_list_imports_with_exact_counts_and_reasons() {
    for db in storedb::all("import_messy").await {
        let dir = CampaignDir::new("sales", &campaign_toml("sales", ""));
        dir.write("dnc.txt", "# opted out\n(202) 555-0148\n");
        let file = dir.write("lists/a.csv", MESSY);
        let c = dir.load("sales");
        let store = db.open().await;

        let r = import(&store, &c, &file).await;
        assert_eq!(r.rejected, expected_rejections(), "{}", db.label);
        assert_eq!((r.imported, r.duplicates), (5, 2), "{}", db.label);

        // Stored as E.164 with zones and the other columns as attributes.
        let id = store.campaign_id("sales").await.unwrap().unwrap();
        let rows = store.leads_page(id, 0, 100).await.unwrap();
        let got: Vec<(String, Option<String>)> = rows
            .iter()
            .map(|r| (r.lead.phone.clone(), r.lead.timezone.clone()))
            .collect();
        let s = |p: &str, z: Option<&str>| (p.to_string(), z.map(str::to_string));
        assert_eq!(
            got,
            vec![
                s("+12025550143", Some("America/New_York")),
                s("+12025550144", None),
                s("+442079460018", Some("Europe/London")),
                s("+12025550147", Some("America/Los_Angeles")),
                s("+12025550149", Some("America/Phoenix")),
            ],
            "{}",
            db.label
        );
        let attrs: serde_json::Value = serde_json::from_str(&rows[3].lead.attributes).unwrap();
        assert_eq!(
            attrs,
            serde_json::json!({"name": "Quoted, with a comma", "notes": "x"})
        );
        assert!(
            rows.iter()
                .all(|r| r.lead.status == "new" && r.lead.attempts == 0)
        );

        // Importing the same file again changes nothing: everything good is a duplicate.
        let again = import(&store, &c, &file).await;
        assert_eq!((again.imported, again.duplicates), (0, 7), "{}", db.label);
        assert_eq!(again.rejected, expected_rejections());
        assert_eq!(store.count_leads(id).await.unwrap(), 5);
        let after = store.leads_page(id, 0, 100).await.unwrap();
        assert_eq!(
            after, rows,
            "{}: re-import left the leads as they were",
            db.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_lists_with_broken_rows_lose_no_good_row() {
    for db in storedb::all("import_big").await {
        let dir = CampaignDir::new("bulk", &campaign_toml("bulk", ""));
        // 25,000 rows across several insert batches; every 1000th row broken, every 700th
        // a repeat of the row before it.
        let mut csv = String::from("phone,tz,n\n");
        let (mut good, mut broken, mut dups) = (0u64, Vec::new(), 0u64);
        let mut prev = String::new();
        for i in 0..25_000u64 {
            let line = i + 2;
            if i % 1000 == 999 {
                csv.push_str(&format!("12{i},,{i}\n"));
                broken.push(line);
            } else if i % 700 == 699 && !prev.is_empty() {
                csv.push_str(&format!("{prev},,{i}\n"));
                dups += 1;
            } else {
                // 212 (New York) and 312 (Chicago) numbers, 555-xxxx kept out of 555-01xx.
                let area = if i % 2 == 0 { 212 } else { 312 };
                prev = format!("+1{area}{:07}", 2_000_000 + i);
                csv.push_str(&format!("{prev},,{i}\n"));
                good += 1;
            }
        }
        let file = dir.write("lists/a.csv", &csv);
        let c = dir.load("bulk");
        let store = db.open().await;
        let r = import(&store, &c, &file).await;
        let lines: Vec<u64> = r.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, broken, "{}", db.label);
        assert_eq!((r.imported, r.duplicates), (good, dups), "{}", db.label);
        let id = store.campaign_id("bulk").await.unwrap().unwrap();
        assert_eq!(store.count_leads(id).await.unwrap(), good);
    }
}

#[test]
fn the_binary_prints_the_json_report_and_reimports_nothing() {
    let dir = CampaignDir::new("sales", &campaign_toml("sales", ""));
    dir.write("dnc.txt", "2025550148\n");
    let file = dir.write("lists/a.csv", MESSY);
    let db = storedb::sqlite();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
            .current_dir(dir.root())
            .env_remove("DIALER_CONFIG")
            .env_remove("DIALER_DATABASE_URL")
            .args(["--config", "none.toml", "--db", &db.url])
            .args(["import", "--campaign", "sales", "--json"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let rejected: Vec<serde_json::Value> = expected_rejections()
        .into_iter()
        .map(|r| serde_json::json!({"line": r.line, "reason": r.reason}))
        .collect();
    assert_eq!(
        run(),
        serde_json::json!({"imported": 5, "duplicates": 2, "rejected": rejected})
    );
    assert_eq!(
        run(),
        serde_json::json!({"imported": 0, "duplicates": 7, "rejected": rejected})
    );
    // An unknown campaign is an error that says so.
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .current_dir(dir.root())
        .args(["--config", "none.toml", "--db", &db.url])
        .args(["import", "--campaign", "nope"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no campaign named \"nope\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
