//! Local faults of `dialer run` (the real binary, a child process) on 127.0.0.1 (issue 13,
//! item 3): what an idle-connection flood on the API does, and what a dial that cannot get
//! its local resources does.
//!
//! - `api_idle_flood`: 300 idle and 300 half-sent connections against `[api] max_connections =
//!   100` and `header_timeout = "2s"`: the 500 over the cap are closed at once and counted in
//!   `dialer_api_connections_refused_total`, the 100 held ones are closed by the header timeout,
//!   and a real request is answered within the timeout.
//! - `local_dial_failure` (in `dialer_local.rs` of this file's tests): see there.

mod rig;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rig::{Setup, get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
        let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: dialer\r\n").await;
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
    let closes = futures::future::join_all(
        flood
            .into_iter()
            .map(|s| closed_after(s, flood_at, header_timeout + margin)),
    )
    .await;
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
