//! CSV import on SQLite, and on PostgreSQL when `DIALER_TEST_DATABASE_URL` is set: exact counts
//! and reasons for a messy list, idempotent re-import, and the `dialer import` binary.

use std::process::Command;

use dialer::leads::import::{ImportReport, ImportTarget, Rejected, import_file};
use dialer::leads::sync_campaign;

use crate::storedb;
use crate::storedb::{CampaignDir, campaign_toml};

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
        serde_json::json!({"data_rows": 13, "imported": 5, "duplicates": 2, "rejected": rejected,
            "zones_by": {"column": 4, "number": 1}, "stopped": null})
    );
    assert_eq!(
        run(),
        serde_json::json!({"data_rows": 13, "imported": 0, "duplicates": 7, "rejected": rejected,
            "zones_by": {"column": 4, "number": 1}, "stopped": null})
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

/// Import `file` into list "a" of `c`, returning the error instead of panicking.
async fn try_import(
    store: &dialer::store::Store,
    c: &dialer::campaign::Campaign,
    file: &std::path::Path,
) -> Result<ImportReport, dialer::leads::LeadsError> {
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
    import_file(store, target, file, |_| {}).await
}

/// The lines of a file as an editor numbers them: a row's line is where it starts, whatever
/// ends the lines (LF, CRLF or a lone CR).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_rows_name_the_editor_line_for_every_line_ending() {
    for db in storedb::all("import_eol").await {
        let dir = CampaignDir::new("sales", &campaign_toml("sales", ""));
        dir.write("dnc.txt", "# opted out\n(202) 555-0148\n");
        let c = dir.load("sales");
        let store = db.open().await;
        for (name, eol) in [("lf", "\n"), ("crlf", "\r\n"), ("cr", "\r")] {
            let file = dir.write(&format!("lists/{name}.csv"), &MESSY.replace('\n', eol));
            let r = import(&store, &c, &file).await;
            assert_eq!(r.rejected, expected_rejections(), "{} {name}", db.label);
        }
    }
}

/// A quoted field may hold line breaks: the row is reported at its first line and the rows
/// after it at theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quoted_field_with_line_breaks_keeps_the_lines_after_it_right() {
    for db in storedb::all("import_quoted_nl").await {
        let dir = CampaignDir::new("sales", &campaign_toml("sales", ""));
        let c = dir.load("sales");
        let store = db.open().await;
        for eol in ["\n", "\r\n"] {
            let text = [
                "phone,tz,notes",                            // 1
                "2025550143,,\"two lines:",                  // 2
                "the second\"",                              // 3
                "CALL-ME,,\"a bad row whose notes",          // 4
                "",                                          // 5 (inside the quotes)
                "run over three lines\"",                    // 6
                "",                                          // 7 (blank: skipped)
                "2025550144,,plain",                         // 8
                "12345,,bad after the multi-line rows",      // 9
                "\"2025550145\",,\"\"\"quoted\"\" quotes\"", // 10
                "2025550146,Mars/Base,\"x",                  // 11
                "y\"",                                       // 12
                "",
            ]
            .join(eol);
            let file = dir.write("lists/q.csv", &text);
            let r = import(&store, &c, &file).await;
            let got: Vec<(u64, String)> = r
                .rejected
                .iter()
                .map(|r| (r.line, r.reason.clone()))
                .collect();
            let lines: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
            assert_eq!(lines, vec![4, 9, 11], "{} {eol:?}: {got:?}", db.label);
        }
        let id = store.campaign_id("sales").await.unwrap().unwrap();
        let rows = store.leads_page(id, 0, 100).await.unwrap();
        let notes: Vec<String> = rows
            .iter()
            .map(|r| {
                let a: serde_json::Value = serde_json::from_str(&r.lead.attributes).unwrap();
                a["notes"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(
            notes,
            vec!["two lines:\nthe second", "plain", "\"quoted\" quotes"],
            "{}",
            db.label
        );
    }
}

/// A 10,000-row list with a quote opened on line 5002 that never closes: the import fails
/// naming that line, the 5,000 rows before it are stored, nothing after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unterminated_quote_fails_at_its_line_and_keeps_the_rows_before() {
    for db in storedb::all("import_unterminated").await {
        let dir = CampaignDir::new("sales", &campaign_toml("sales", ""));
        let c = dir.load("sales");
        let store = db.open().await;
        let mut csv = String::from("phone,tz,name\n");
        for i in 0..10_000u64 {
            if i == 5_000 {
                csv.push_str(&format!("+1212{:07},,\"Smith, John\n", 2_000_000 + i));
            } else {
                csv.push_str(&format!("+1212{:07},,n{i}\n", 2_000_000 + i));
            }
        }
        let file = dir.write("lists/junk.csv", &csv);
        let e = try_import(&store, &c, &file)
            .await
            .expect_err("an unterminated quote is an error");
        let msg = e.to_string();
        assert!(
            msg.contains(":5002:") && msg.contains("unterminated quote"),
            "{}: {msg}",
            db.label
        );
        assert!(msg.contains("5000 rows before it"), "{}: {msg}", db.label);
        let id = store.campaign_id("sales").await.unwrap().unwrap();
        assert_eq!(store.count_leads(id).await.unwrap(), 5_000, "{}", db.label);
    }
}

/// Every row is accounted for in the binary's JSON, and a file it could not read to the end
/// exits non-zero with the line.
#[test]
fn the_binary_accounts_for_every_row_and_fails_on_an_unterminated_quote() {
    let dir = CampaignDir::new("sales", &campaign_toml("sales", ""));
    dir.write("dnc.txt", "2025550148\n");
    let good = dir.write("lists/a2.csv", MESSY);
    let bad = dir.write(
        "lists/bad.csv",
        "phone,tz,name\n2025550150,,a\n2025550151,,\"b\n2025550152,,c\n2025550153,,d\n",
    );
    let db = storedb::sqlite();
    let run = |file: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_dialer"))
            .current_dir(dir.root())
            .env_remove("DIALER_CONFIG")
            .env_remove("DIALER_DATABASE_URL")
            .args(["--config", "none.toml", "--db", &db.url])
            .args(["import", "--campaign", "sales", "--json"])
            .arg(file)
            .output()
            .unwrap()
    };
    let out = run(&good);
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["data_rows"], 13, "{j}");
    assert_eq!(
        (j["imported"].clone(), j["duplicates"].clone()),
        (5.into(), 2.into())
    );
    assert_eq!(j["rejected"].as_array().unwrap().len(), 6);

    let out = run(&bad);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["data_rows"], 1, "{j}");
    assert_eq!(j["imported"], 1, "{j}");
    assert_eq!(j["stopped"]["line"], 3, "{j}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:3: unterminated quote"), "{err}");
}

/// A 1 MB field or header is cut in messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_fields_and_headers_are_cut_in_messages() {
    for db in storedb::all("import_long").await {
        let dir = CampaignDir::new("sales", &campaign_toml("sales", ""));
        let c = dir.load("sales");
        let store = db.open().await;
        let big = "X".repeat(1_000_000);
        let file = dir.write(
            "lists/long.csv",
            &format!("phone,tz\n{big},\n2025550143,{big}\n2025550144,\n"),
        );
        let r = import(&store, &c, &file).await;
        assert_eq!(r.imported, 1, "{}", db.label);
        assert_eq!(r.rejected.len(), 2, "{}", db.label);
        for rj in &r.rejected {
            assert!(
                rj.reason.len() < 200 && rj.reason.contains("1000000 bytes"),
                "{}: {} chars: {}",
                db.label,
                rj.reason.len(),
                &rj.reason[..rj.reason.len().min(300)]
            );
        }
        // A header without the phone column, one of its names 1 MB long.
        let file = dir.write("lists/head.csv", &format!("mobile,{big}\n2025550143,x\n"));
        let e = try_import(&store, &c, &file)
            .await
            .expect_err("no phone column");
        let msg = e.to_string();
        let file_len = file.display().to_string().len();
        assert!(
            msg.len() < 200 + file_len && msg.contains("no phone column"),
            "{}: {} chars: {}",
            db.label,
            msg.len(),
            &msg[..msg.len().min(300)]
        );
    }
}

/// UTF-16 is named as such; Latin-1 is named with its line, and imports with
/// `--encoding latin1`; a UTF-8 byte-order mark is accepted silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_encodings_are_named_and_latin1_imports_on_request() {
    for db in storedb::all("import_encoding").await {
        let dir = CampaignDir::new("sales", &campaign_toml("sales", ""));
        let c = dir.load("sales");
        let store = db.open().await;
        let text = "phone,tz,name\n2025550143,,Ren\u{e9}e\n2025550144,,Zo\u{eb}\n";

        // UTF-16 LE with a byte-order mark.
        let mut utf16 = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let f16 = dir.path().join("lists/utf16.csv");
        std::fs::write(&f16, &utf16).unwrap();
        let msg = try_import(&store, &c, &f16)
            .await
            .expect_err("UTF-16")
            .to_string();
        assert!(msg.contains("UTF-16"), "{}: {msg}", db.label);
        // … and without one (NUL bytes between the letters).
        std::fs::write(&f16, &utf16[2..]).unwrap();
        let msg = try_import(&store, &c, &f16)
            .await
            .expect_err("UTF-16")
            .to_string();
        assert!(msg.contains("UTF-16"), "{}: {msg}", db.label);

        // Latin-1: é is the single byte 0xE9.
        let latin1: Vec<u8> = text.chars().map(|ch| ch as u32 as u8).collect();
        let f1 = dir.path().join("lists/latin1.csv");
        std::fs::write(&f1, &latin1).unwrap();
        let msg = try_import(&store, &c, &f1)
            .await
            .expect_err("Latin-1")
            .to_string();
        assert!(
            msg.contains(":2:") && msg.contains("Latin-1") && msg.contains("--encoding latin1"),
            "{}: {msg}",
            db.label
        );
        let id = store.campaign_id("sales").await.unwrap().unwrap();
        assert_eq!(store.count_leads(id).await.unwrap(), 0, "{}", db.label);

        let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
            .current_dir(dir.root())
            .env_remove("DIALER_CONFIG")
            .env_remove("DIALER_DATABASE_URL")
            .args(["--config", "none.toml", "--db", &db.cli_url()])
            .args([
                "import",
                "--campaign",
                "sales",
                "--json",
                "--encoding",
                "latin1",
            ])
            .arg(&f1)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            db.label,
            String::from_utf8_lossy(&out.stderr)
        );
        let names: Vec<String> = store
            .leads_page(id, 0, 100)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let a: serde_json::Value = serde_json::from_str(&r.lead.attributes).unwrap();
                a["name"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(names, vec!["Ren\u{e9}e", "Zo\u{eb}"], "{}", db.label);

        // A UTF-8 byte-order mark is not part of the first column's name.
        let fbom = dir.write(
            "lists/bom.csv",
            &format!("\u{feff}{}", text.replace("4,", "5,")),
        );
        let r = import(&store, &c, &fbom).await;
        assert_eq!((r.imported, r.duplicates), (1, 1), "{}", db.label);
        assert!(r.rejected.is_empty(), "{}: {:?}", db.label, r.rejected);
    }
}

/// A campaign list with `encoding = "latin1"` imports as Latin-1 without `--encoding`.
#[test]
fn a_list_s_encoding_is_the_import_s_default() {
    let toml = campaign_toml("sales", "").replace(
        "file = \"lists/a.csv\"",
        "file = \"lists/a.csv\"\nencoding = \"latin1\"",
    );
    let dir = CampaignDir::new("sales", &toml);
    let f1 = dir.path().join("lists/a.csv");
    std::fs::write(&f1, b"phone,tz,name\n2025550143,,Ren\xE9e\n").unwrap();
    let db = storedb::sqlite();
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .current_dir(dir.root())
        .env_remove("DIALER_CONFIG")
        .env_remove("DIALER_DATABASE_URL")
        .args(["--config", "none.toml", "--db", &db.url])
        .args(["import", "--campaign", "sales", "--json"])
        .arg(&f1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (j["data_rows"].clone(), j["imported"].clone()),
        (1.into(), 1.into())
    );
}
