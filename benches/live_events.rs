//! Live updates at a call centre's size: 500 agent desktops and a wallboard connected to
//! `GET /v1/events` of a `dialer run` process while the agents' states change.
//!
//! `cargo bench --bench live_events` (or `-- DESKTOPS SECONDS RATE`, default 500, 30, 50):
//! starts `dialer run` (this build's binary) with DESKTOPS agents on 127.0.0.1, then runs the
//! same simulated shift twice for SECONDS: RATE state changes a second through the API (each
//! change logs an agent in, so the daemon calls their phone and they are `connecting`, or logs
//! them out again; every desktop's agent changes about every DESKTOPS/RATE seconds). First
//! with no event stream open, then with every agent's desktop and one wallboard connected.
//! It prints one JSON object: the daemon's CPU time (utime+stime from `/proc/PID/stat`) and
//! resident memory (`VmRSS`) in each run, the difference per connected desktop, and the delay
//! from each state change to its `agent` event on that agent's stream (p50, p99, max): from
//! the moment the request leaves this process to the moment the event is read here, so it
//! includes the request's own handling and is an upper bound on the daemon's change-to-wire
//! delay. The agents' phones do not answer: the figures are those of the event streams and
//! the API, not of calls. `DIALER_BENCH_BIN=path` measures that binary instead of this build's.

#[path = "../tests/rig/sse.rs"]
mod sse;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use sse::EventStream;

const SUPER: &str = "bench-supervisor-token-0123456789";

fn token(i: usize) -> String {
    format!("bench-agent-{i:04}-token-0123456789")
}

fn agent(i: usize) -> String {
    format!("a{i:04}")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Clock ticks of 10 ms (USER_HZ is 100 on Linux).
    (get(11) + get(12)) as f64 / 100.0
}

/// VmRSS of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn post(addr: SocketAddr, path: &str, token: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: dialer\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn write_config(dir: &Path, desktops: usize, api: u16) -> std::path::PathBuf {
    let campaigns = dir.join("campaigns");
    std::fs::create_dir_all(&campaigns).unwrap();
    let mut toml = format!(
        "state_dir = \"{}\"\ncampaigns_dir = \"campaigns\"\n\n[sip]\nbind = \"127.0.0.1:{}\"\n\n\
         [api]\nbind = \"127.0.0.1:{api}\"\ntoken_env = \"BENCH_SUPERVISOR_TOKEN\"\n\n\
         [media]\nrtp_port_min = 30000\nrtp_port_max = 31999\n",
        dir.join("state").display(),
        free_udp_port()
    );
    // The agents' phones: a port nobody answers on.
    let nobody = free_udp_port();
    for i in 0..desktops {
        toml += &format!(
            "\n[[agents]]\nid = \"{}\"\nsip_uri = \"sip:{}@127.0.0.1:{nobody}\"\ngroups = [\"sales\"]\ntoken_env = \"BENCH_AGENT_{i:04}_TOKEN\"\n",
            agent(i),
            agent(i)
        );
    }
    let path = dir.join("dialer.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a run measured.
#[derive(Debug, Default)]
struct Run {
    cpu_s: f64,
    rss_end_kib: u64,
    changes: usize,
}

/// The pending change of each agent: when it was asked for and the state it leads to.
type Pending = Arc<Mutex<HashMap<String, (Instant, &'static str)>>>;

/// RATE changes a second for `secs`: agent i logs in (`connecting`) or out, in turn.
async fn shift(
    addr: SocketAddr,
    pid: u32,
    desktops: usize,
    secs: u64,
    rate: f64,
    logged_in: &mut [bool],
    pending: &Pending,
) -> Run {
    let mut run = Run::default();
    let cpu0 = cpu_seconds(pid);
    let started = Instant::now();
    let every = Duration::from_secs_f64(1.0 / rate);
    let mut next = tokio::time::Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        next += every;
        tokio::time::sleep_until(next).await;
        let a = i % desktops;
        i += 1;
        let (path, state) = if logged_in[a] {
            ("logout", "logged_out")
        } else {
            ("login", "connecting")
        };
        pending
            .lock()
            .unwrap()
            .insert(agent(a), (Instant::now(), state));
        let status = post(addr, &format!("/v1/agents/{}/{path}", agent(a)), &token(a)).await;
        if status == 200 {
            logged_in[a] = !logged_in[a];
            run.changes += 1;
        } else {
            pending.lock().unwrap().remove(&agent(a));
        }
    }
    run.cpu_s = cpu_seconds(pid) - cpu0;
    run.rss_end_kib = rss_kib(pid);
    run
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let desktops: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(500);
    let secs: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let rate: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50.0);

    let dir = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let config = write_config(dir.path(), desktops, api_port);
    let addr: SocketAddr = format!("127.0.0.1:{api_port}").parse().unwrap();
    let log = std::fs::File::create(dir.path().join("dialer.log")).unwrap();
    // This build's binary, or another one to measure (`DIALER_BENCH_BIN`).
    let bin = std::env::var("DIALER_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_dialer").to_string());
    let mut cmd = Command::new(bin);
    cmd.arg("run").arg("--config").arg(&config);
    cmd.env("RUST_LOG", "warn")
        .env("BENCH_SUPERVISOR_TOKEN", SUPER);
    for i in 0..desktops {
        cmd.env(format!("BENCH_AGENT_{i:04}_TOKEN"), token(i));
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn dialer run");
    let daemon = Daemon(child);
    let pid = daemon.0.id();
    let up = Instant::now();
    loop {
        if let Ok(mut s) = TcpStream::connect(addr).await {
            let _ = s
                .write_all(b"GET /ready HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
                .await;
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
            if buf.starts_with(b"HTTP/1.1 200") {
                break;
            }
        }
        assert!(
            up.elapsed() < Duration::from_secs(60),
            "dialer run did not get ready: {}",
            std::fs::read_to_string(dir.path().join("dialer.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let start-up settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kib(pid);

    let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
    let mut logged_in = vec![false; desktops];
    let without = shift(addr, pid, desktops, secs, rate, &mut logged_in, &pending).await;
    // Back to everyone logged out, as at the start of the first run.
    for (a, on) in logged_in.iter_mut().enumerate() {
        if *on && post(addr, &format!("/v1/agents/{}/logout", agent(a)), &token(a)).await == 200 {
            *on = false;
        }
    }
    pending.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Every desktop and a wallboard connect; each desktop reads its stream and times the
    // events of its agent's changes.
    let rss_before_connect = rss_kib(pid);
    let delays: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
    let events = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let closed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let connect_started = Instant::now();
    let mut readers = Vec::new();
    for i in 0..desktops {
        let mut s = EventStream::open(addr, &token(i), None).await;
        assert_eq!(s.status, 200, "desktop {i}: {}", s.head);
        let pending = pending.clone();
        let delays = delays.clone();
        let events = events.clone();
        let closed = closed.clone();
        let me = agent(i);
        readers.push(tokio::spawn(async move {
            loop {
                match s.next(Duration::from_secs(3600)).await {
                    Some(e) => {
                        events.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if e.name != "agent" {
                            continue;
                        }
                        let state = e.data["agent"]["state"].as_str().unwrap_or("").to_owned();
                        let mut p = pending.lock().unwrap();
                        if p.get(&me).is_some_and(|(_, want)| *want == state)
                            && let Some((at, _)) = p.remove(&me)
                        {
                            delays
                                .lock()
                                .unwrap()
                                .push(at.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                    None => {
                        closed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
    let mut wall = EventStream::open(addr, SUPER, None).await;
    assert_eq!(wall.status, 200, "wallboard: {}", wall.head);
    // Its snapshot ends with the series.
    let (snapshot, series) = wall
        .until(Duration::from_secs(30), |e| e.name == "series")
        .await;
    assert!(
        series.is_some(),
        "the wallboard's snapshot: {} events",
        snapshot.len()
    );
    let wall_events = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let wall_count = wall_events.clone();
    readers.push(tokio::spawn(async move {
        while wall.next(Duration::from_secs(3600)).await.is_some() {
            wall_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }));
    let connect_s = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = rss_kib(pid);

    let with = shift(addr, pid, desktops, secs, rate, &mut logged_in, &pending).await;
    // The last changes' events.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut d = delays.lock().unwrap().clone();
    d.sort_by(|a, b| a.total_cmp(b));
    let n = desktops as f64;
    let cpu_per_desktop_ms_per_s = (with.cpu_s - without.cpu_s) / secs as f64 / n * 1000.0;
    let out = json!({
        "desktops": desktops,
        "wallboards": 1,
        "seconds": secs,
        "changes_per_second": rate,
        "changes": {"without_streams": without.changes, "with_streams": with.changes},
        "daemon_cpu_s": {"without_streams": without.cpu_s, "with_streams": with.cpu_s},
        "cpu_per_desktop_ms_per_s": cpu_per_desktop_ms_per_s,
        "cpu_share_of_one_core_with_streams": with.cpu_s / secs as f64,
        "rss_kib": {
            "idle": rss_idle,
            "after_first_run": without.rss_end_kib,
            "before_connect": rss_before_connect,
            "connected": rss_connected,
            "after_second_run": with.rss_end_kib,
        },
        "rss_per_desktop_kib": (rss_connected as f64 - rss_before_connect as f64) / n,
        "connect_all_s": connect_s,
        "delay_ms": {
            "samples": d.len(),
            "p50": percentile(&d, 0.50),
            "p99": percentile(&d, 0.99),
            "max": d.last().copied().unwrap_or(f64::NAN),
        },
        "events_read": events.load(std::sync::atomic::Ordering::Relaxed),
        "wallboard_events_read": wall_events.load(std::sync::atomic::Ordering::Relaxed),
        "streams_closed_by_the_daemon": closed.load(std::sync::atomic::Ordering::Relaxed),
    });
    println!("{out}");
    drop(daemon);
    for r in readers {
        r.abort();
    }
}
