//! Test stores: a SQLite file in a temp dir, and PostgreSQL (when `DIALER_TEST_DATABASE_URL`
//! is set) in a fresh schema of its own that is dropped when the test ends, even on panic.
//! Without the URL a test's PostgreSQL part is skipped, said once per test on stdout
//! (`SKIPPED: <test>: …`, counted by `tests/run.sh`), unless `DIALER_REQUIRE_POSTGRES=1` (CI),
//! where it fails. Compiled into several test binaries (`tests/suite`, `tests/daemon`,
//! `tests/faults`), each using a part of it: hence `dead_code` allowed.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use dialer::store::{Store, StoreOptions};
use sea_orm::{ConnectionTrait, Database};

/// One backend a test runs on; keeps its temp dir or schema alive.
pub struct TestDb {
    pub label: &'static str,
    pub url: String,
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
    admin_url: Option<String>,
}

impl TestDb {
    /// Open the store (migrated). A busy shared PostgreSQL server (other test runs, "too many
    /// clients") gets a few more tries before the test fails.
    pub async fn open(&self) -> Store {
        let mut o = StoreOptions::new(self.url.clone());
        o.schema = self.schema.clone();
        o.max_connections = if self.schema.is_some() { 3 } else { 6 };
        let mut tries = 0;
        loop {
            match Store::open_with(o.clone()).await {
                Ok(s) => return s,
                Err(e) if tries < 4 => {
                    eprintln!(
                        "{}: opening the test store failed, retrying: {e}",
                        self.label
                    );
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(500 << tries)).await;
                }
                Err(e) => panic!("{}: cannot open the test store: {e}", self.label),
            }
        }
    }

    /// The URL with the schema in it (for the CLI: `?options=-c search_path=…`).
    pub fn cli_url(&self) -> String {
        match &self.schema {
            None => self.url.clone(),
            Some(s) => {
                let sep = if self.url.contains('?') { '&' } else { '?' };
                format!("{}{sep}options=-c%20search_path%3D{s}", self.url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let (Some(url), Some(schema)) = (self.admin_url.clone(), self.schema.clone()) {
            // Its own thread and runtime: Drop may run inside a test's runtime or a panic.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(db) = Database::connect(&url).await {
                        let _ = db
                            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .await;
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

static N: AtomicU32 = AtomicU32::new(0);

/// A fresh SQLite store file.
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    TestDb {
        label: "sqlite",
        url,
        schema: None,
        _dir: Some(dir),
        admin_url: None,
    }
}

/// Tests that said they skip their PostgreSQL part (a property test asks once per case).
static SKIPPED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Say once per test, on the process's stdout (the harness captures `println!`), that its
/// PostgreSQL part is skipped: one `SKIPPED: <test>: <reason>` line for CI to count.
fn skipped(reason: &str) {
    use std::io::Write as _;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)").to_owned();
    let first = SKIPPED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(test.clone());
    if first {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "SKIPPED: {test}: {reason}");
        let _ = out.flush();
    }
}

/// A fresh PostgreSQL schema, when `DIALER_TEST_DATABASE_URL` is set. Without it: `None`, said
/// on stdout, or a failure under `DIALER_REQUIRE_POSTGRES=1`.
pub async fn postgres(name: &str) -> Option<TestDb> {
    let Ok(url) = std::env::var("DIALER_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("DIALER_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "PostgreSQL is required (DIALER_REQUIRE_POSTGRES=1) but DIALER_TEST_DATABASE_URL is not set"
        );
        skipped("PostgreSQL part not run: DIALER_TEST_DATABASE_URL is not set");
        return None;
    };
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let schema = format!(
        "t_{}_{}_{}_{}",
        name.to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>(),
        std::process::id(),
        n,
        nanos
    );
    let db = Database::connect(&url)
        .await
        .expect("connect to DIALER_TEST_DATABASE_URL");
    db.execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create test schema");
    db.close().await.expect("close");
    Some(TestDb {
        label: "postgres",
        url: url.clone(),
        schema: Some(schema),
        _dir: None,
        admin_url: Some(url),
    })
}

/// SQLite, and PostgreSQL when configured.
pub async fn all(name: &str) -> Vec<TestDb> {
    let mut v = vec![sqlite()];
    v.extend(postgres(name).await);
    v
}

/// A campaigns directory `campaigns/` in a temp dir (the root is where the binary runs):
/// `<name>.toml` from `toml`, with `safe.wav`, `lists/a.csv` (header only unless written
/// again) and `dnc.txt`.
pub struct CampaignDir {
    pub dir: tempfile::TempDir,
    campaigns: std::path::PathBuf,
}

impl CampaignDir {
    pub fn new(name: &str, toml: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let campaigns = dir.path().join("campaigns");
        let d = CampaignDir { dir, campaigns };
        d.write("lists/a.csv", "phone,tz\n");
        d.write("dnc.txt", "");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(d.campaigns.join("safe.wav"), spec).expect("wav");
        for i in 0..800 {
            w.write_sample(((i % 20) * 100) as i16).expect("wav");
        }
        w.finalize().expect("wav");
        d.write(&format!("{name}.toml"), toml);
        d
    }

    /// The campaigns directory.
    pub fn path(&self) -> &std::path::Path {
        &self.campaigns
    }

    /// Its parent, where the binary runs (`campaigns/` is its default campaigns dir).
    pub fn root(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> std::path::PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        p
    }

    pub fn load(&self, name: &str) -> dialer::campaign::Campaign {
        dialer::campaign::find(self.path(), name, &dialer::campaign::Env::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A US predictive campaign named `name`, New York hours Mon–Fri 09:00–20:00, one list
/// `lists/a.csv` (`phone`, `tz`), a DNC file `dnc.txt`; `extra` is appended.
pub fn campaign_toml(name: &str, extra: &str) -> String {
    format!(
        r#"
name = "{name}"
kind = "cold"
mode = "predictive"
trunk = "main"
caller_id = "+12025550143"
agent_groups = ["sales"]
safe_harbor = "safe.wav"

[[lists]]
name = "a"
file = "lists/a.csv"
columns = {{ phone = "phone", timezone = "tz" }}

[hours]
timezone = "America/New_York"

[[dispositions]]
code = "sale"
effect = "final"
success = true
conversation = true

[[dispositions]]
code = "callback"
effect = "callback"
conversation = true

[dnc]
files = ["dnc.txt"]
{extra}
"#
    )
}

/// Make sure the store has campaign `name` (of `kind` and `regime`) with one cold list "leads"
/// (region US), as `dialer import` would; returns the campaign's and the list's ids.
pub async fn leads_list(store: &Store, name: &str, kind: &str, regime: &str) -> (i64, i64) {
    let ids = store
        .upsert_campaign(
            &dialer::store::CampaignRecord {
                name,
                kind,
                regime,
                source: None,
                recording_keep_ms: None,
                lists: vec![dialer::store::ListRecord {
                    name: "leads",
                    kind: "cold",
                    priority: 0,
                    default_region: "US",
                }],
            },
            jiff::Timestamp::now().as_millisecond(),
        )
        .await
        .unwrap();
    (ids.id, ids.list("leads").unwrap())
}

/// Store one lead (+12025550143, Dana, in `zone`) for the campaign's list "leads", as
/// `dialer import` would.
pub async fn seed_one_lead(store: &Store, c: &dialer::campaign::Campaign, zone: &str) {
    let (campaign_id, list_id) =
        leads_list(store, &c.name, c.kind.as_str(), c.regime.as_str()).await;
    store
        .insert_leads(
            campaign_id,
            &[dialer::store::NewLead {
                list_id,
                phone: "+12025550143".into(),
                timezone: Some(zone.to_string()),
                zone_key: None,
                zone_source: None,
                attributes: r#"{"name":"Dana"}"#.into(),
                priority: 0,
            }],
            jiff::Timestamp::now().as_millisecond(),
        )
        .await
        .unwrap();
}
