//! `systemd/dialer.service` passes `systemd-analyze verify` and scores "OK" on exposure, and
//! `dialer run` speaks the notify protocol as that unit (`Type=notify`, `WatchdogSec`,
//! `ExecReload=kill -HUP`) expects.
//!
//! The unit names `/usr/local/bin/dialer`; verify insists the binary exists, so the test checks a
//! copy that points at the binary cargo just built. Without systemd-analyze the unit tests say so
//! on stdout (`SKIPPED: …`, counted by `tests/run.sh`) and pass, except under CI
//! (`DIALER_REQUIRE_SYSTEMD=1`, or `CI` set), where they fail. The notify test needs no systemd:
//! it binds the datagram socket itself and starts the daemon the way systemd does.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::rig;

fn analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("systemd-analyze");
    }
    assert!(
        std::env::var("DIALER_REQUIRE_SYSTEMD").as_deref() != Ok("1")
            && std::env::var_os("CI").is_none(),
        "systemd-analyze is required (DIALER_REQUIRE_SYSTEMD=1 or CI set) but not installed"
    );
    rig::skipped("systemd-analyze is not installed");
    None
}

fn unit_copy(dir: &Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/dialer.service"
    ))
    .unwrap();
    assert!(unit.contains("Type=notify"));
    let unit = unit.replace("/usr/local/bin/dialer", env!("CARGO_BIN_EXE_dialer"));
    let path = dir.join("dialer.service");
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn unit_verifies() {
    let Some(tool) = analyze() else { return };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path());
    let out = Command::new(tool)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert!(stderr.trim().is_empty(), "verify warned:\n{stderr}");
}

#[test]
fn unit_is_hardened() {
    let Some(tool) = analyze() else { return };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path());
    let out = Command::new(tool)
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&unit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exposure above 2.0 (threshold 20):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The notify socket's datagrams, as systemd would read them.
struct Notifications {
    sock: UnixDatagram,
    /// Every message so far, in order.
    seen: Vec<String>,
}

impl Notifications {
    fn bind(path: &Path) -> Self {
        let sock = UnixDatagram::bind(path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Self {
            sock,
            seen: Vec::new(),
        }
    }

    /// The next message that is not only a watchdog ping, at most `within` from now.
    fn next_state(&mut self, within: Duration, log: &Path) -> String {
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(m.clone());
                if m.trim() != "WATCHDOG=1" {
                    return m;
                }
            }
            assert!(
                started.elapsed() < within,
                "no notification but watchdog pings within {within:?}; seen {:?}\nlog:\n{}",
                self.seen,
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }

    fn pings(&self) -> usize {
        self.seen
            .iter()
            .filter(|m| m.trim() == "WATCHDOG=1")
            .count()
    }

    /// Read for `d`, keeping what comes.
    fn drain_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        let mut buf = [0u8; 4096];
        while Instant::now() < until {
            if let Ok(n) = self.sock.recv(&mut buf) {
                self.seen
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }
}

fn has(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out pointer.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) },
        0
    );
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Start as systemd does (NOTIFY_SOCKET, WATCHDOG_USEC): READY, watchdog pings while the loop
/// runs, SIGHUP → RELOADING with MONOTONIC_USEC → READY with the new campaign applied, SIGTERM →
/// STOPPING and exit 0.
#[test]
fn dialer_run_speaks_the_notify_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let zone = rig::daytime_zone();
    let setup = rig::Setup::new(&["alice"]);
    let config = setup.write(dir.path());
    let campaigns = dir.path().join("campaigns");
    std::fs::create_dir_all(campaigns.join("lists")).unwrap();
    for name in ["first", "second"] {
        std::fs::write(campaigns.join(format!("lists/{name}.csv")), "phone,tz\n").unwrap();
    }
    std::fs::write(
        campaigns.join("first.toml"),
        rig::campaign_toml("first", "progressive", &zone, ""),
    )
    .unwrap();
    let socket = dir.path().join("notify.sock");
    let mut notes = Notifications::bind(&socket);
    let log = dir.path().join("dialer.log");
    let mut proc = rig::dialer_run(
        &config,
        &["--drain", "10s"],
        &[
            ("NOTIFY_SOCKET", socket.to_str().unwrap()),
            // Pings every 0.5 s (half the period).
            ("WATCHDOG_USEC", "1000000"),
            ("DIALER_API_TOKEN", "super-token-0123456789"),
        ],
        &log,
    );

    let m = notes.next_state(Duration::from_secs(30), &log);
    assert!(has(&m, "READY=1"), "first state is not READY=1: {m:?}");
    assert!(m.lines().any(|l| l.starts_with("STATUS=")), "{m:?}");
    // The API answers once READY was sent.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = setup.api_addr();
    let campaign_names = || {
        rt.block_on(async {
            let a = rig::get(addr, "/v1/campaigns", Some("super-token-0123456789")).await;
            assert_eq!(a.status, 200, "{}", a.body);
            let mut names: Vec<String> = a.json()["campaigns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        })
    };
    assert_eq!(campaign_names(), ["first"]);

    // Watchdog pings while the loop makes progress: at least 3 in 3 s at a 0.5 s period.
    notes.drain_for(Duration::from_secs(3));
    assert!(
        notes.pings() >= 3,
        "{} watchdog pings in 3 s: {:?}",
        notes.pings(),
        notes.seen
    );
    assert!(
        notes
            .seen
            .iter()
            .all(|m| m.trim() == "WATCHDOG=1" || has(m, "READY=1")),
        "{:?}",
        notes.seen
    );

    // Reload with a new campaign file.
    std::fs::write(
        campaigns.join("second.toml"),
        rig::campaign_toml("second", "progressive", &zone, ""),
    )
    .unwrap();
    let before = monotonic_usec();
    proc.signal(libc::SIGHUP);
    let m = notes.next_state(Duration::from_secs(30), &log);
    let after = monotonic_usec();
    assert!(has(&m, "RELOADING=1"), "not RELOADING=1: {m:?}");
    let usec: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {m:?}"))
        .parse()
        .unwrap();
    assert!(
        (before..=after).contains(&usec),
        "MONOTONIC_USEC={usec} not between {before} and {after}"
    );
    let m = notes.next_state(Duration::from_secs(30), &log);
    assert!(has(&m, "READY=1"), "not READY=1 after the reload: {m:?}");
    assert_eq!(campaign_names(), ["first", "second"]);

    // Stop.
    proc.signal(libc::SIGTERM);
    let m = notes.next_state(Duration::from_secs(30), &log);
    assert!(has(&m, "STOPPING=1"), "not STOPPING=1: {m:?}");
    let status = proc.wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "exit {status}:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
