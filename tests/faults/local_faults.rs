//! Local faults of `dialer run` (the real binary, a child process) on 127.0.0.1 (issue 13,
//! item 3): what an idle-connection flood on the API does, and what a dial that cannot get
//! its local resources does.
//!
//! - `api_idle_flood`: 300 idle and 300 half-sent connections against `[api] max_connections =
//!   100` and `header_timeout = "2s"`: the 500 over the cap are closed at once and counted in
//!   `dialer_api_connections_refused_total`, the 100 held ones are closed by the header timeout,
//!   and a real request is answered within the timeout.
//! - `api_flood_leaves_descriptors_for_calls`: the daemon limited to 256 descriptors and held by
//!   400 idle API connections (cap 100, header timeout 30 s) still imports the leads a reload
//!   brings and dials each once (the carrier says busy); `dialer_trunk_up` stays 1.
//! - `local_dial_failure`: an agentless campaign whose RTP port range (two ports) is held by
//!   the test: the first dial fails before its INVITE leaves; no attempt is stored or charged to
//!   any lead, dialing pauses with a log line naming the cause and
//!   `dialer_dial_local_failures_total`, `dialer_trunk_up` is never 0; once the ports are free
//!   dialing resumes by itself and the carrier (busy to everything) gets the calls.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use dialer::store::Store;
use sea_orm::ConnectionTrait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::rig::{Setup, get, series};
use crate::{rig, storedb};

const SUPER: &str = "supervisor-token-0123456789";

/// Read until the server closes the connection; how long that took from `since`.
async fn closed_after(mut s: TcpStream, since: Instant, within: Duration) -> Option<Duration> {
    let mut buf = [0u8; 1024];
    let deadline = since + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// `GET path` on a fresh connection: `Some(status)` if answered, `None` if the connection was
/// closed first (over the cap).
async fn try_get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: dialer\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_idle_flood() {
    const IDLE: usize = 300;
    const HALF: usize = 300;
    const CAP: usize = 100;
    let header_timeout = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::new(&[]);
    let config = setup.write(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "token_env = \"DIALER_API_TOKEN\"\n",
        &format!(
            "token_env = \"DIALER_API_TOKEN\"\nmax_connections = {CAP}\nheader_timeout = \"{}s\"\n",
            header_timeout.as_secs()
        ),
    );
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("dialer.log");
    let mut proc = rig::dialer_run(&config, &[], &[("DIALER_API_TOKEN", SUPER)], &log);
    let addr = setup.api_addr();
    rig::wait_ready(&mut proc, addr, &log, Duration::from_secs(60)).await;

    // The flood: idle connections, then ones that send half a request head and stop.
    let flood_at = Instant::now();
    let mut flood = Vec::with_capacity(IDLE + HALF);
    for _ in 0..IDLE {
        flood.push(TcpStream::connect(addr).await.expect("connect"));
    }
    for _ in 0..HALF {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        // A server may close it before it is written: that is what the cap does.
        let _ = s
            .write_all(b"GET /health HTTP/1.1\r\nHost: dialer\r\n")
            .await;
        flood.push(s);
    }

    // A real request gets its answer once the held connections time out: try until then.
    let answered = rig::eventually(
        "a real request answered during the flood",
        header_timeout + Duration::from_secs(5),
        || async { try_get(addr, "/health").await.filter(|s| *s == 200) },
    )
    .await;
    assert_eq!(answered, 200);
    let answered_after = flood_at.elapsed();

    // Every flood connection is closed by the server: over the cap at once, the rest by the
    // header timeout.
    let margin = Duration::from_secs(3);
    let mut watching = tokio::task::JoinSet::new();
    for s in flood {
        watching.spawn(closed_after(s, flood_at, header_timeout + margin));
    }
    let closes = watching.join_all().await;
    let open = closes.iter().filter(|c| c.is_none()).count();
    assert_eq!(
        open,
        0,
        "{open} of {} flood connections still open {:?} after the flood (header timeout {header_timeout:?})",
        IDLE + HALF,
        header_timeout + margin
    );
    let last = closes.iter().flatten().max().copied().unwrap_or_default();
    assert!(
        last >= header_timeout,
        "the last flood connection closed after {last:?}, before the header timeout: \
         the held ones were not held"
    );

    let page = get(addr, "/metrics", None).await.body;
    let refused = rig::series(&page, "dialer_api_connections_refused_total").unwrap_or(0.0);
    assert!(
        refused >= (IDLE + HALF - CAP) as f64,
        "refused {refused}, want at least {}:\n{page}",
        IDLE + HALF - CAP
    );
    println!(
        "api_idle_flood: {IDLE} idle + {HALF} half-sent connections, cap {CAP}, header timeout \
         {header_timeout:?}: a real request answered {answered_after:?} after the flood began; \
         the last flood connection closed after {last:?}; refused {refused}"
    );
    proc.signal(libc::SIGTERM);
    let status = proc.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}");
}

/// Two consecutive free UDP ports on 127.0.0.1, held by the returned sockets.
fn hold_port_pair() -> (u16, UdpSocket, UdpSocket) {
    let base = 30_000 + (std::process::id() % 200) as u16 * 50;
    for p in (base..base + 2_000).step_by(2) {
        let Ok(a) = UdpSocket::bind(("127.0.0.1", p)) else {
            continue;
        };
        if let Ok(b) = UdpSocket::bind(("127.0.0.1", p + 1)) {
            return (p, a, b);
        }
        drop(a);
    }
    panic!("no two consecutive free UDP ports");
}

/// `(lead phone, attempts counted on the lead)` for every lead, and the stored attempts'
/// outcomes.
async fn leads_and_attempts(store: &Store) -> (Vec<(String, i64)>, Vec<Option<String>>) {
    let leads = store
        .conn()
        .query_all_raw(store.stmt("SELECT phone, attempts FROM leads ORDER BY phone", vec![]))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "phone").unwrap(),
                i64::from(r.try_get::<i32>("", "attempts").unwrap()),
            )
        })
        .collect();
    let attempts = store
        .conn()
        .query_all_raw(store.stmt("SELECT outcome FROM call_attempts ORDER BY id", vec![]))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<Option<String>>("", "outcome").unwrap())
        .collect();
    (leads, attempts)
}

fn log_has(log: &Path, part: &str) -> bool {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(part))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_dial_failure() {
    let dir = tempfile::tempdir().unwrap();
    let zone = rig::daytime_zone();
    let setup = Setup::new(&["alice"]);
    let config = setup.write(dir.path());
    // The daemon's whole RTP range: two ports the test holds until it lets them go.
    let (port, held_a, held_b) = hold_port_pair();
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text
        .replace(
            &format!("rtp_port_min = {}", setup.rtp_min),
            &format!("rtp_port_min = {port}"),
        )
        .replace(
            &format!("rtp_port_max = {}", setup.rtp_min + 400),
            &format!("rtp_port_max = {}", port + 1),
        );
    std::fs::write(&config, text).unwrap();
    let campaigns = dir.path().join("campaigns");
    std::fs::create_dir_all(campaigns.join("lists")).unwrap();
    std::fs::write(
        campaigns.join("local.toml"),
        rig::campaign_toml("local", "agentless", &zone, ""),
    )
    .unwrap();
    let phones = ["+12025550131", "+12025550132", "+12025550133"];
    let mut csv = "phone,tz\n".to_string();
    for p in phones {
        csv += &format!("{p},{zone}\n");
    }
    std::fs::write(campaigns.join("lists/local.csv"), csv).unwrap();

    // The carrier answers every call busy.
    let (_carrier, _media) = rig::busy_carrier(&setup).await;

    let db = storedb::sqlite();
    let store = db.open().await;
    let log = dir.path().join("dialer.log");
    let url = db.cli_url();
    let env = [
        ("DIALER_API_TOKEN", SUPER),
        ("DIALER_DATABASE_URL", url.as_str()),
    ];
    let mut proc = rig::dialer_run(&config, &["--drain", "5s"], &env, &log);
    let api = setup.api_addr();
    rig::wait_ready(&mut proc, api, &log, Duration::from_secs(60)).await;

    // The first dial fails here: wait for it (a log line or a stored attempt, whichever the
    // dialer makes of it).
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    rig::eventually("the first dial", Duration::from_secs(30), || async {
        let (leads, attempts) = leads_and_attempts(&store).await;
        (log_has(&log, "dialing paused")
            || !attempts.is_empty()
            || leads.iter().any(|(_, n)| *n > 0))
        .then_some(())
    })
    .await;
    let paused_at = Instant::now();
    // Held for 3 s more: with every dial failing, the old dialer spent the three leads by now.
    let mut watched = 0;
    while paused_at.elapsed() < Duration::from_secs(3) {
        let page = get(api, "/metrics", None).await.body;
        assert_ne!(
            series(&page, "dialer_trunk_up{trunk=\"main\"}"),
            Some(0.0),
            "no INVITE left, yet the trunk is down:\n{}",
            log_text()
        );
        watched += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (leads, attempts) = leads_and_attempts(&store).await;
    assert_eq!(
        leads.len(),
        phones.len(),
        "the list was imported: {leads:?}"
    );
    assert!(
        attempts.is_empty() && leads.iter().all(|(_, n)| *n == 0),
        "a local failure was charged: attempts {attempts:?}, leads {leads:?}\n{}",
        log_text()
    );
    // Dialing paused, with the cause in the log and the metrics.
    assert!(
        log_has(&log, "dialing paused") && log_has(&log, "no free RTP port"),
        "no log line saying dialing paused and why:\n{}",
        log_text()
    );
    let page = get(api, "/metrics", None).await.body;
    let failures = series(
        &page,
        "dialer_dial_local_failures_total{reason=\"no_port\"}",
    )
    .unwrap_or(0.0);
    assert!(failures >= 1.0, "local failures not counted:\n{page}");
    assert_eq!(
        series(&page, "dialer_dialing_paused_local"),
        Some(1.0),
        "{page}"
    );

    // The ports come free: dialing resumes by itself and the carrier gets the calls.
    drop((held_a, held_b));
    let freed = Instant::now();
    rig::eventually("dialing resumed", Duration::from_secs(30), || async {
        log_has(&log, "dialing resumed").then_some(())
    })
    .await;
    let resumed_after = freed.elapsed();
    let (leads, attempts) = rig::eventually(
        "the three leads dialed and answered busy",
        Duration::from_secs(60),
        || async {
            let (leads, attempts) = leads_and_attempts(&store).await;
            let done = attempts.iter().flatten().filter(|o| *o == "busy").count();
            (done == phones.len()).then_some((leads, attempts))
        },
    )
    .await;
    assert!(
        leads.iter().all(|(_, n)| *n == 1),
        "each lead charged exactly its one real attempt: {leads:?}, attempts {attempts:?}"
    );
    let page = get(api, "/metrics", None).await.body;
    assert_eq!(
        series(&page, "dialer_trunk_up{trunk=\"main\"}"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        series(&page, "dialer_dialing_paused_local"),
        Some(0.0),
        "{page}"
    );
    println!(
        "local_dial_failure: ports held: {failures} local failure(s) counted, 0 attempts \
         stored, trunk never down over {watched} scrapes; ports freed: dialing resumed after \
         {resumed_after:?}, {} busy attempts, one per lead",
        attempts.len()
    );
    proc.signal(libc::SIGTERM);
    let status = proc.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}");
}

/// A read-only tmpfs mounted at a fresh directory, unmounted when dropped.
struct ReadOnlyMount(tempfile::TempDir);

impl ReadOnlyMount {
    /// `None` when this process may not mount (not root).
    fn new() -> Option<ReadOnlyMount> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(ReadOnlyMount(dir))
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_state_dir_is_named() {
    let Some(ro) = ReadOnlyMount::new() else {
        rig::skipped("cannot mount a read-only tmpfs (needs root)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::new(&[]);
    let config = setup.write(dir.path());
    let state = ro.0.path().to_path_buf();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "state_dir = \"state\"",
        &format!("state_dir = \"{}\"", state.display()),
    );
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("dialer.log");
    let mut proc = rig::dialer_run(&config, &[], &[("DIALER_API_TOKEN", SUPER)], &log);
    let status = proc.wait_exit(Duration::from_secs(30));
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !status.success(),
        "started on a read-only state directory:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "the directory {} is on a read-only filesystem",
            state.display()
        )),
        "the error does not say the state directory is read-only and where:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_flood_leaves_descriptors_for_calls() {
    const FLOOD: usize = 400;
    const NOFILE: u64 = 256;
    let dir = tempfile::tempdir().unwrap();
    let zone = rig::daytime_zone();
    let setup = Setup::new(&["alice"]);
    let config = setup.write(dir.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "token_env = \"DIALER_API_TOKEN\"\n",
        "token_env = \"DIALER_API_TOKEN\"\nmax_connections = 100\nheader_timeout = \"30s\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let campaigns = dir.path().join("campaigns");
    std::fs::create_dir_all(campaigns.join("lists")).unwrap();
    std::fs::write(
        campaigns.join("flood.toml"),
        rig::campaign_toml("flood", "agentless", &zone, ""),
    )
    .unwrap();
    // No lead yet: they come with a reload once the flood holds the API.
    let list = campaigns.join("lists/flood.csv");
    std::fs::write(&list, "phone,tz\n").unwrap();
    let (_carrier, _media) = rig::busy_carrier(&setup).await;

    let db = storedb::sqlite();
    let store = db.open().await;
    let log = dir.path().join("dialer.log");
    let url = db.cli_url();
    let env = [
        ("DIALER_API_TOKEN", SUPER),
        ("DIALER_DATABASE_URL", url.as_str()),
    ];
    let mut proc = rig::dialer_run(&config, &["--drain", "5s"], &env, &log);
    let limit = libc::rlimit {
        rlim_cur: NOFILE,
        rlim_max: NOFILE,
    };
    // SAFETY: prlimit(2) on our own child with a valid pointer.
    let r = unsafe {
        libc::prlimit(
            proc.pid(),
            libc::RLIMIT_NOFILE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
    let api = setup.api_addr();
    rig::wait_ready(&mut proc, api, &log, Duration::from_secs(60)).await;
    let fds = |pid: i32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let pid = proc.pid();
    let baseline = fds(pid);

    // The flood: more idle connections than the daemon has descriptors.
    // A daemon that stops accepting (out of descriptors) fills its backlog: the flood stops at
    // the first connection not made within a second.
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(api)).await {
            Ok(Ok(s)) => flood.push(s),
            _ => break,
        }
    }
    let flooded = flood.len();
    // The daemon has taken in the flood: its descriptor count is up by the cap at least and
    // has not changed for half a second.
    let mut seen: Vec<usize> = Vec::new();
    rig::eventually("the flood taken in", Duration::from_secs(20), || {
        seen.push(fds(pid));
        let last = seen.iter().rev().take(5).copied().collect::<Vec<_>>();
        let steady = last.len() == 5 && last.iter().all(|n| *n == last[0]);
        let held = last[0];
        async move { (steady && held >= 100).then_some(()) }
    })
    .await;
    let held = fds(pid);
    let phones = ["+12025550141", "+12025550142", "+12025550143"];
    let mut csv = "phone,tz\n".to_string();
    for p in phones {
        csv += &format!("{p},{zone}\n");
    }
    std::fs::write(&list, csv).unwrap();
    proc.signal(libc::SIGHUP);

    let (leads, attempts) = rig::eventually(
        "the three leads dialed and answered busy during the flood",
        Duration::from_secs(20),
        || async {
            let (leads, attempts) = leads_and_attempts(&store).await;
            let busy = attempts.iter().flatten().filter(|o| *o == "busy").count();
            (busy == phones.len()).then_some((leads, attempts))
        },
    )
    .await;
    assert!(
        leads.iter().all(|(_, n)| *n == 1),
        "each lead dialed once: {leads:?}, attempts {attempts:?}"
    );
    drop(flood);
    let page_after = rig::eventually("the API answers again", Duration::from_secs(10), || async {
        try_get(api, "/metrics").await.filter(|s| *s == 200)?;
        Some(get(api, "/metrics", None).await.body)
    })
    .await;
    assert_eq!(
        series(&page_after, "dialer_trunk_up{trunk=\"main\"}"),
        Some(1.0),
        "{page_after}"
    );
    let refused = series(&page_after, "dialer_api_connections_refused_total").unwrap_or(0.0);
    println!(
        "api_flood_leaves_descriptors_for_calls: {flooded} idle connections against cap 100 with \
         {NOFILE} descriptors: the daemon held {held} descriptors ({baseline} before the \
         flood), refused {refused}, dialed the {} leads once each (busy)",
        phones.len(),
    );
    proc.signal(libc::SIGTERM);
    let status = proc.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}");
}
