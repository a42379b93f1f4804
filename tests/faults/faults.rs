//! Store faults mid-shift, through `dialer run` (the real binary) against the simulated carrier
//! and agent phones on 127.0.0.1 (real SIP and RTP; agents act through the HTTP API):
//!
//! - `sqlite_full_disk_releases_the_write_lock`: the store alone on a small tmpfs filled up and
//!   freed: after the space comes back every write goes through at once (before: a pooled
//!   connection kept SQLite's write lock and every other write waited 10 s for "database is
//!   locked").
//! - `sqlite_full_disk_mid_shift`: the state directory is a 16 MB tmpfs; mid-shift the test fills
//!   it with a junk file, holds it full, then deletes the file.
//! - `postgres_outage_mid_shift`: the store is a PostgreSQL instance of the test's own
//!   (`initdb`/`pg_ctl` as user `postgres`, on a free port of 127.0.0.1), stopped mid-shift for
//!   60 s (six of the pool's 10 s connection timeouts) and started again.
//!
//! The SQLite shift also runs under a notify socket as systemd would (`WATCHDOG_USEC` 1 s) with
//! `[store] unwritable_watchdog = "2s"`: pings before the fault, none once the store has been
//! unwritable for over 2 s, pings again after.
//!
//! Each checks from the store after the stop: every INVITE the carrier took is one attempt with
//! its real outcome (none unfinished, `interrupted` or `failed`), every disposition an agent
//! posted is stored, no lead was charged an attempt it did not get, no lead was dialed twice;
//! and from the API while it happened: `/ready` said 503 `store`, no INVITE left while the store
//! could not write, and dialing resumed by itself afterwards.
//!
//! Mounting a tmpfs needs root (CI runs as root); PostgreSQL needs `initdb` and a `postgres`
//! user. Without them the test says `SKIPPED: …` (CI fails on that).

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialer::simnet::{AgentsConfig, CarrierConfig, OutcomeMix, SimConfig, Span};
use dialer::store::{AttemptStart, NewLead, Store};
use sea_orm::ConnectionTrait;

use crate::rig::{Proc, Setup, get, post};
use crate::world::{SUPER, World, start_world, token};
use crate::{rig, storedb};

const AGENTS: [&str; 3] = ["alice", "bob", "carol"];

// ---- a tmpfs ----

/// A tmpfs of `size` mounted on `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` (said on stdout, or a failure when CI requires it) where mounting is refused.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_owned())),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var("DIALER_FAIL_ON_SKIP").as_deref() != Ok("1"),
                    "cannot mount a tmpfs (root needed): {why}"
                );
                rig::skipped(&format!("cannot mount a tmpfs (root needed): {why}"));
                None
            }
        }
    }

    /// Write a junk file until the filesystem is full; returns its path.
    fn fill(&self) -> PathBuf {
        let junk = self.0.join("junk");
        let mut f = std::fs::File::create(&junk).unwrap();
        let block = vec![0x5au8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        // The last partial blocks.
        while f.write_all(&block[..512]).is_ok() {}
        let _ = f.sync_all();
        junk
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

// ---- a PostgreSQL instance of our own ----

/// `initdb` + `pg_ctl` as user `postgres` in a temp dir, listening on 127.0.0.1:`port` only.
struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl OwnPostgres {
    fn start() -> Option<OwnPostgres> {
        let skip = |why: String| {
            assert!(
                std::env::var("DIALER_REQUIRE_POSTGRES").as_deref() != Ok("1")
                    && std::env::var("DIALER_FAIL_ON_SKIP").as_deref() != Ok("1"),
                "PostgreSQL instance of our own: {why}"
            );
            rig::skipped(&format!("PostgreSQL instance of our own: {why}"));
        };
        let Some(bin) = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .max()
        else {
            skip("no /usr/lib/postgresql/*/bin/initdb".into());
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // initdb refuses root: the `postgres` user runs it (and the server).
        let as_pg = |args: &[&str]| {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .output()
        };
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status();
        let init = bin.join("initdb");
        let out = as_pg(&[
            init.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ]);
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                skip(format!(
                    "initdb failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
                return None;
            }
            Err(e) => {
                skip(format!("runuser: {e}"));
                return None;
            }
        }
        let pg = OwnPostgres {
            bin,
            data,
            port: rig::free_tcp_port(),
            _dir: dir,
        };
        pg.ctl_start();
        Some(pg)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, args: &[&str]) {
        let ctl = self.bin.join("pg_ctl");
        let log = self.data.parent().unwrap().join("pg.log");
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(ctl)
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn ctl_start(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
            self.port
        );
        self.ctl(&["-w", "-t", "30", "-o", &opts, "start"]);
    }

    fn stop(&self) {
        self.ctl(&["-w", "-t", "30", "-m", "fast", "stop"]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

// ---- systemd's notify socket ----

/// The daemon's sd_notify datagrams with their arrival, read by a thread as systemd would.
#[derive(Clone)]
struct Notified(Arc<std::sync::Mutex<Vec<(Instant, String)>>>);

impl Notified {
    fn listen(path: &Path) -> Notified {
        let sock = std::os::unix::net::UnixDatagram::bind(path).unwrap();
        let seen = Notified(Arc::default());
        let keep = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                keep.0.lock().unwrap().push((Instant::now(), m));
            }
        });
        seen
    }

    /// Watchdog pings that arrived in `[from, to)`.
    fn pings(&self, from: Instant, to: Instant) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, m)| *t >= from && *t < to && m.trim() == "WATCHDOG=1")
            .count()
    }
}

// ---- the simulated world (as tests/suite/shift.rs) ----

fn sim_config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        carrier: CarrierConfig {
            mix: OutcomeMix {
                person: 0.6,
                machine: 0.2,
                busy: 0.1,
                no_answer: 0.05,
                invalid: 0.05,
                congestion: 0.0,
            },
            ring_person: Span::secs(0.5, 2.0),
            ring_machine: Span::secs(0.5, 2.0),
            reject_after: Span::secs(0.2, 1.0),
            talk: Span::secs(3.0, 6.0),
            ..CarrierConfig::default()
        },
        agents: AgentsConfig {
            talk: Span::secs(2.0, 4.0),
            wrap: Span::secs(0.5, 1.5),
            ..AgentsConfig::default()
        },
    }
}

// ---- the shift ----

struct Shift {
    _dir: tempfile::TempDir,
    setup: Setup,
    log: PathBuf,
    proc: Proc,
    store: Store,
    campaign_id: i64,
    world: World,
}

fn campaign(zone: &str) -> String {
    rig::campaign_toml(
        "faults",
        "progressive",
        zone,
        "\n[dialing]\nring_timeout = \"15s\"\ncalls_per_second = 5.0\nmax_concurrent = 4\n",
    )
}

/// `dialer run` on `url` (the store, already opened by the test as `store`), with `leads` leads,
/// three agents logged in. `dir` holds the config (and the SQLite state when it is there).
async fn start_shift(
    dir: tempfile::TempDir,
    url: &str,
    store: Store,
    seed: u64,
    watchdog: Option<&Path>,
) -> Shift {
    let zone = rig::daytime_zone();
    let setup = Setup::new(&AGENTS);
    let config = setup.write(dir.path());
    // The watchdog is withheld 2 s into a store that cannot write.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += "\n[store]\nunwritable_watchdog = \"2s\"\n";
    std::fs::write(&config, text).unwrap();
    let campaigns = dir.path().join("campaigns");
    std::fs::create_dir_all(campaigns.join("lists")).unwrap();
    std::fs::write(campaigns.join("lists/faults.csv"), "phone,tz\n").unwrap();
    std::fs::write(campaigns.join("faults.toml"), campaign(&zone)).unwrap();

    let now = jiff::Timestamp::now().as_millisecond();
    let (campaign_id, list_id) = storedb::leads_list(&store, "faults", "cold", "us").await;
    let leads: Vec<NewLead> = (0..400)
        .map(|i| NewLead {
            list_id,
            phone: format!("+1{}5550{:03}", 201 + i / 100, 100 + i % 100),
            timezone: Some(zone.clone()),
            zone_key: None,
            zone_source: None,
            attributes: "{}".into(),
            priority: 0,
        })
        .collect();
    store.insert_leads(campaign_id, &leads, now).await.unwrap();
    let world = start_world(&setup, sim_config(seed), &["sale"]).await;

    let log = dir.path().join("dialer.log");
    let mut env: Vec<(String, String)> = vec![
        ("DIALER_API_TOKEN".into(), SUPER.into()),
        ("DIALER_DATABASE_URL".into(), url.to_owned()),
    ];
    for a in AGENTS {
        env.push((format!("DIALER_AGENT_{}_TOKEN", a.to_uppercase()), token(a)));
    }
    if let Some(socket) = watchdog {
        // As systemd with WatchdogSec=1s: a ping every 0.5 s while all is well.
        env.push(("NOTIFY_SOCKET".into(), socket.display().to_string()));
        env.push(("WATCHDOG_USEC".into(), "1000000".into()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut proc = rig::dialer_run(&config, &["--drain", "20s"], &env, &log);
    rig::wait_ready(&mut proc, setup.api_addr(), &log, Duration::from_secs(60)).await;
    let s = Shift {
        _dir: dir,
        setup,
        log,
        proc,
        store,
        campaign_id,
        world,
    };
    for a in AGENTS {
        let r = post(
            s.api(),
            &format!("/v1/agents/{a}/login"),
            Some(&token(a)),
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    rig::eventually("every agent ready", Duration::from_secs(30), || async {
        let a = get(s.api(), "/v1/agents", Some(SUPER)).await;
        a.json()["agents"]
            .as_array()
            .is_some_and(|v| v.iter().all(|a| a["state"] == "ready"))
            .then_some(())
    })
    .await;
    s
}

impl Shift {
    fn api(&self) -> SocketAddr {
        self.setup.api_addr()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn invites(&self) -> u64 {
        self.world.carrier.stats().calls
    }

    /// Wait until the carrier has taken `n` more INVITEs than `from`.
    async fn dials_after(&self, from: u64, n: u64, within: Duration, what: &str) {
        let started = Instant::now();
        while self.invites() < from + n {
            assert!(
                started.elapsed() < within,
                "{what}: {} INVITEs, wanted {}\n{}",
                self.invites(),
                from + n,
                tail(&self.log_text())
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Poll `/ready` until it says `status` (and, for 503, the code `store`).
    async fn ready_becomes(&self, status: u16, within: Duration) -> Instant {
        let started = Instant::now();
        loop {
            let a = get(self.api(), "/ready", None).await;
            if a.status == status && (status == 200 || a.code() == "store") {
                return Instant::now();
            }
            assert!(
                started.elapsed() < within,
                "/ready did not say {status} within {within:?}: {} {}\n{}",
                a.status,
                a.body,
                tail(&self.log_text())
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Pause the campaign, wait until no call is in flight and no agent wraps up, log out,
    /// SIGTERM: exit 0 within the drain and its margins.
    async fn finish(&mut self) {
        let a = post(self.api(), "/v1/campaigns/faults/pause", Some(SUPER), "").await;
        assert_eq!(a.status, 200, "{}", a.body);
        rig::eventually(
            "no call in flight, every agent ready",
            Duration::from_secs(60),
            || async {
                let c = get(self.api(), "/v1/campaigns/faults", Some(SUPER)).await;
                let agents = get(self.api(), "/v1/agents", Some(SUPER)).await;
                let idle = agents.json()["agents"]
                    .as_array()
                    .is_some_and(|v| v.iter().all(|a| a["state"] == "ready"));
                (c.json()["campaign"]["calls_in_flight"] == 0 && idle).then_some(())
            },
        )
        .await;
        for a in AGENTS {
            post(
                self.api(),
                &format!("/v1/agents/{a}/logout"),
                Some(&token(a)),
                "",
            )
            .await;
        }
        self.proc.signal(libc::SIGTERM);
        let status = self.proc.wait_exit(Duration::from_secs(60));
        assert!(status.success(), "exit {status}:\n{}", self.log_text());
    }

    /// What the store holds, checked against the carrier and the agents' phones.
    async fn check_nothing_lost(&self, resumed_after_ms: i64) {
        let q = |sql: &str| self.store.stmt(sql, vec![self.campaign_id.into()]);
        let rows = self
            .store
            .conn()
            .query_all_raw(q(
                "SELECT lead_id, dial_at_ms, end_at_ms, outcome FROM call_attempts \
                 WHERE campaign_id = ? ORDER BY dial_at_ms",
            ))
            .await
            .unwrap();
        let mut per_lead: HashMap<i64, u32> = HashMap::new();
        let mut after = 0;
        for r in &rows {
            let lead: i64 = r.try_get("", "lead_id").unwrap();
            let dial: i64 = r.try_get("", "dial_at_ms").unwrap();
            let end: Option<i64> = r.try_get("", "end_at_ms").unwrap();
            let outcome: Option<String> = r.try_get("", "outcome").unwrap();
            let o = outcome.as_deref().unwrap_or("unfinished");
            assert!(
                end.is_some() && !matches!(o, "interrupted" | "failed"),
                "lead {lead}, dialed at {dial}: {o}\n{}",
                tail(&self.log_text())
            );
            *per_lead.entry(lead).or_default() += 1;
            if dial > resumed_after_ms {
                after += 1;
            }
        }
        let carrier = self.world.carrier.stats();
        assert_eq!(
            rows.len() as u64,
            carrier.calls,
            "attempts stored vs INVITEs the carrier took\n{}",
            tail(&self.log_text())
        );
        assert!(
            per_lead.values().all(|n| *n == 1),
            "a lead was dialed twice: {:?}",
            per_lead.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
        );
        assert!(after >= 1, "no dial stored after the store came back");
        // Each lead's attempt count is its attempts: none charged for a dial not placed.
        let charged = self
            .store
            .conn()
            .query_one_raw(q(
                "SELECT CAST(COALESCE(SUM(attempts), 0) AS BIGINT) AS n FROM leads \
                 WHERE campaign_id = ?",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(charged, rows.len() as i64, "attempts charged to leads");
        let dispositions = self
            .store
            .conn()
            .query_one_raw(q(
                "SELECT COUNT(*) AS n FROM dispositions WHERE campaign_id = ?",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(
            dispositions as u64,
            self.world.phones.stats().dispositions,
            "dispositions stored vs posted by the agents"
        );
        let lost = self.log_text().matches("not stored").count();
        assert_eq!(lost, 0, "records not stored:\n{}", tail(&self.log_text()));
        for l in self.log_text().lines().filter(|l| l.contains("store")) {
            eprintln!("log: {l}");
        }
        eprintln!(
            "{} attempts ({} after the fault), {} dispositions; carrier {:?}",
            rows.len(),
            after,
            dispositions,
            carrier.planned
        );
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

// ---- the tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_disk_releases_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("state"), "4m") else {
        return;
    };
    let url = format!("sqlite://{}?mode=rwc", fs.0.join("d.db").display());
    let store = Store::open(&url).await.unwrap();
    let (cid, list) = storedb::leads_list(&store, "c", "cold", "us").await;
    let leads: Vec<NewLead> = (0..20)
        .map(|i| NewLead {
            list_id: list,
            phone: format!("+1202555{i:04}"),
            timezone: Some("America/New_York".into()),
            zone_key: None,
            zone_source: None,
            attributes: "{}".into(),
            priority: 0,
        })
        .collect();
    store.insert_leads(cid, &leads, 1).await.unwrap();
    let lead_ids: Vec<i64> = store
        .conn()
        .query_all_raw(store.stmt("SELECT id FROM leads ORDER BY id", vec![]))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("", "id").unwrap())
        .collect();
    let start = |i: usize, at: i64| AttemptStart {
        lead_id: lead_ids[i % lead_ids.len()],
        dial_at_ms: at,
        trunk: Some("main"),
        call_id: None,
        node: None,
        rules_version: None,
    };

    // Full: a transaction (attempt start) and a plain insert (agent interval) fail, by turns.
    let junk = fs.fill();
    let mut full_errors = 0;
    for i in 0..6 {
        full_errors += store
            .record_attempt_start(&start(i, 1000 + i as i64))
            .await
            .is_err() as u32;
        full_errors += store
            .insert_agent_interval("alice", Some(cid), "ready", 1, 2, None)
            .await
            .is_err() as u32;
    }
    assert!(
        full_errors >= 6,
        "the full disk failed only {full_errors} writes"
    );

    // Space again: every write goes through, none waits on a lock.
    std::fs::remove_file(&junk).unwrap();
    for i in 0..6 {
        let t = Instant::now();
        let r = store.record_attempt_start(&start(i, 5000 + i as i64)).await;
        assert!(
            r.is_ok() && t.elapsed() < Duration::from_secs(2),
            "write {i} after the space came back: {r:?} after {:?}",
            t.elapsed()
        );
        let r = store
            .insert_agent_interval("alice", Some(cid), "ready", 1, 2, None)
            .await;
        assert!(r.is_ok(), "interval {i} after the space came back: {r:?}");
    }
    store.conn().clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_disk_mid_shift() {
    let dir = tempfile::tempdir().unwrap();
    // Room for the store and its WAL (SQLite checkpoints at 4 MB of WAL).
    let Some(fs) = Tmpfs::mount(&dir.path().join("state"), "16m") else {
        return;
    };
    let url = format!("sqlite://{}?mode=rwc", fs.0.join("dialer.db").display());
    let store = storedb_open(&url).await;
    let socket = dir.path().join("notify.sock");
    let notified = Notified::listen(&socket);
    let mut s = start_shift(dir, &url, store, 31, Some(&socket)).await;
    let started = Instant::now();
    s.dials_after(0, 6, Duration::from_secs(60), "dials before the fault")
        .await;
    assert!(
        notified.pings(started, Instant::now()) >= 1,
        "no watchdog ping before the fault"
    );

    let junk = fs.fill();
    let full_at = s.ready_becomes(503, Duration::from_secs(30)).await;
    // No INVITE leaves while the store cannot write (a dial whose row went in just before may
    // still be on its way: a second's margin).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let paused = s.invites();
    rig::eventually("full for 8 s", Duration::from_secs(20), || async {
        (full_at.elapsed() >= Duration::from_secs(8)).then_some(())
    })
    .await;
    assert_eq!(get(s.api(), "/ready", None).await.code(), "store");
    assert_eq!(s.invites(), paused, "INVITEs left while the store was full");

    // Past `unwritable_watchdog` (2 s from the first failed write, which came before /ready
    // said so) and a ping period: no ping.
    let freed = Instant::now();
    let withheld_from = full_at + Duration::from_millis(3500);
    assert_eq!(
        notified.pings(withheld_from, freed),
        0,
        "watchdog pinged while the store could not write for over 2 s"
    );
    std::fs::remove_file(&junk).unwrap();
    let freed_ms = now_ms();
    let writable = s.ready_becomes(200, Duration::from_secs(30)).await;
    rig::eventually("watchdog pings again", Duration::from_secs(10), || async {
        (notified.pings(writable, Instant::now()) >= 1).then_some(())
    })
    .await;
    let at = s.invites();
    s.dials_after(
        at,
        4,
        Duration::from_secs(60),
        "dials after the space came back",
    )
    .await;
    s.finish().await;
    s.check_nothing_lost(freed_ms).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_mid_shift() {
    let Some(pg) = OwnPostgres::start() else {
        return;
    };
    let url = pg.url();
    let store = storedb_open(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_shift(dir, &url, store, 37, None).await;
    s.dials_after(0, 6, Duration::from_secs(60), "dials before the outage")
        .await;

    pg.stop();
    let down = Instant::now();
    s.ready_becomes(503, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let paused = s.invites();
    // As long as the outage the issue saw: six of the pool's 10 s connection timeouts.
    rig::eventually("down for 60 s", Duration::from_secs(75), || async {
        (down.elapsed() >= Duration::from_secs(60)).then_some(())
    })
    .await;
    assert_eq!(get(s.api(), "/ready", None).await.code(), "store");
    assert_eq!(
        s.invites(),
        paused,
        "INVITEs left while the database was down"
    );

    pg.ctl_start();
    let up_ms = now_ms();
    s.ready_becomes(200, Duration::from_secs(40)).await;
    let at = s.invites();
    s.dials_after(
        at,
        4,
        Duration::from_secs(60),
        "dials after the database came back",
    )
    .await;
    s.finish().await;
    // The test's own pool reconnects.
    s.check_nothing_lost(up_ms).await;
}

/// The test's own connection to the store (a few tries: a fresh server may still start).
async fn storedb_open(url: &str) -> Store {
    let mut tries = 0;
    loop {
        match Store::open(url).await {
            Ok(s) => return s,
            Err(e) if tries < 5 => {
                eprintln!("opening {url}: {e}");
                tries += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("cannot open {url}: {e}"),
        }
    }
}
