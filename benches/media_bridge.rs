//! How many concurrent bridged calls one process relays before more than 1 % of packets are
//! more than 20 ms late.
//!
//! `cargo bench --bench media_bridge [-- STEP,STEP,… [SECONDS]]` (default steps
//! 250,500,1000,1500,2000; 10 s measured after 2 s of warm-up per step).
//!
//! This process runs the media [`Driver`] on a 2-worker tokio runtime: per call a customer
//! leg and an agent leg, bridged. A child process (this binary again, `MEDIA_BENCH_ROLE=phones`)
//! plays both phones of every call over loopback UDP: each phone sends a 20 ms G.711 packet
//! stream to its leg and receives what the bridge relays from the other phone, so each call
//! carries 4 streams (2 into the bridge, 2 out). Each packet carries the instant it was sent;
//! it counts as late when the kernel queues it at the other phone's socket (SIOCGSTAMP) more
//! than 20 ms after that, i.e. when it left the bridge late; lost packets count as late.
//! Also printed: how many packets the phones themselves sent more than 20 ms after their slot,
//! the bridge's own view (relay delay from arrival to send), CPU time of both processes, and
//! how long the bridge's threads waited on a run queue for a CPU (the machine's other load). `MEDIA_BENCH_DIRECT=1` connects the phones
//! to each other (no bridge); `MEDIA_BENCH_WORKERS=N` sets the bridge's tokio workers (2).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dialer::media::sdp::{LocalMedia, RemoteMedia};
use dialer::media::{Driver, DriverConfig};

const WARMUP: Duration = Duration::from_secs(2);
const LATE_US: u64 = 20_000;

/// CPU seconds (user + system) this process has used.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is 14th, stime 15th.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Nanoseconds this process's threads spent running and waiting on a run queue (schedstat):
/// the wait says how much the machine's other load kept the bridge from running.
fn sched_ns() -> (u64, u64) {
    let mut run_wait = (0, 0);
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            let f: Vec<u64> = s
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if f.len() >= 2 {
                run_wait.0 += f[0];
                run_wait.1 += f[1];
            }
        }
    }
    run_wait
}

fn main() {
    if std::env::var("MEDIA_BENCH_ROLE").as_deref() == Ok("phones") {
        phones();
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let steps: Vec<usize> = args
        .first()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![250, 500, 1000, 1500, 2000]);
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let workers = std::env::var("MEDIA_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut best = 0;
    for n in steps {
        let r = rt.block_on(step(n, Duration::from_secs(secs)));
        println!("{}", r.json);
        if r.late_fraction <= 0.01 {
            best = best.max(n);
        } else {
            break;
        }
    }
    println!(
        "{{\"max_calls_within_1pct_late\":{best},\"loadavg\":\"{}\"}}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}

struct StepResult {
    json: String,
    late_fraction: f64,
}

async fn step(n: usize, measure: Duration) -> StepResult {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .env("MEDIA_BENCH_ROLE", "phones")
        .arg(n.to_string())
        .arg(measure.as_secs().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the phones");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut stdin = child.stdin.take().expect("stdin");
    let mut line = String::new();
    out.read_line(&mut line).expect("phone ports");
    let phone_ports: Vec<u16> = line
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(phone_ports.len(), 2 * n);

    let media = Driver::start(DriverConfig {
        keepalive: false,
        inactivity: Duration::ZERO,
        ..DriverConfig::default()
    });
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut legs = Vec::with_capacity(2 * n);
    for &port in &phone_ports {
        let leg = media.open_leg().expect("open leg");
        let sdp = LocalMedia::offer(lo, port, 1).to_sdp();
        let remote = RemoteMedia::parse(sdp.as_bytes()).expect("sdp");
        media.set_remote(leg.id, &remote).expect("set remote");
        legs.push(leg);
    }
    for pair in legs.chunks(2) {
        media.bridge(pair[0].id, pair[1].id, None).expect("bridge");
    }
    // MEDIA_BENCH_DIRECT=1: phones talk to each other with no bridge between (the machine's
    // own loopback and scheduling baseline).
    let direct = std::env::var("MEDIA_BENCH_DIRECT").as_deref() == Ok("1");
    let ports: Vec<String> = if direct {
        (0..2 * n).map(|k| phone_ports[k ^ 1].to_string()).collect()
    } else {
        legs.iter().map(|l| l.local.port().to_string()).collect()
    };
    writeln!(stdin, "{}", ports.join(" ")).expect("tell the phones");
    stdin.flush().expect("flush");

    tokio::time::sleep(WARMUP).await;
    let (cpu0, s0, t0, q0) = (cpu_seconds(), media.stats(), Instant::now(), sched_ns());
    tokio::time::sleep(measure).await;
    let (cpu1, s1, wall, q1) = (cpu_seconds(), media.stats(), t0.elapsed(), sched_ns());
    let runqueue_wait_s = (q1.1 - q0.1) as f64 / 1e9;

    line.clear();
    out.read_line(&mut line).expect("phone results");
    let _ = child.wait();
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let (sent, received, late, p50, p99, max, phone_cpu, phone_send_late) =
        (f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
    let lost = (sent - received).max(0.0);
    let late_fraction = if sent > 0.0 {
        (late + lost) / sent
    } else {
        1.0
    };
    for l in &legs {
        media.close_leg(l.id);
    }
    let bridge_cpu = cpu1 - cpu0;
    let relayed = s1.sent - s0.sent;
    let json = format!(
        "{{\"calls\":{n},\"streams\":{},\"seconds\":{:.1},\"phone_packets_sent\":{sent},\
         \"relayed_received\":{received},\"lost\":{lost},\"late_over_20ms\":{late},\
         \"late_fraction\":{late_fraction:.5},\"e2e_p50_ms\":{:.2},\"e2e_p99_ms\":{:.2},\
         \"e2e_max_ms\":{:.1},\"bridge_relayed\":{relayed},\"bridge_late\":{},\
         \"bridge_send_errors\":{},\"bridge_cpu_s\":{bridge_cpu:.2},\
         \"bridge_threads_runqueue_wait_s\":{runqueue_wait_s:.2},\
         \"bridge_cpu_pct_of_core_per_call\":{:.4},\"phones_cpu_s\":{phone_cpu:.2},\"phones_sent_late\":{phone_send_late}}}",
        4 * n,
        wall.as_secs_f64(),
        p50 / 1000.0,
        p99 / 1000.0,
        max / 1000.0,
        s1.late - s0.late,
        s1.send_errors - s0.send_errors,
        100.0 * bridge_cpu / wall.as_secs_f64() / n as f64,
    );
    StepResult {
        json,
        late_fraction,
    }
}

/// The child: 2·N phones. Prints its ports, reads the legs' ports, streams for the warm-up plus
/// the measured time, then prints `sent received late p50_us p99_us max_us cpu_s send_late`
/// for packets due inside the measured window (delays from the instant each packet was sent).
fn phones() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let secs: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut socks = Vec::with_capacity(2 * n);
        for _ in 0..2 * n {
            socks.push(Arc::new(
                tokio::net::UdpSocket::bind("127.0.0.1:0")
                    .await
                    .expect("bind"),
            ));
        }
        let ports: Vec<String> = socks
            .iter()
            .map(|s| s.local_addr().expect("addr").port().to_string())
            .collect();
        println!("{}", ports.join(" "));
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).expect("leg ports");
        let legs: Vec<SocketAddr> = line
            .split_whitespace()
            .filter_map(|p| p.parse::<u16>().ok())
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        assert_eq!(legs.len(), 2 * n);

        let start = Instant::now();
        // Send stamps and arrival times on the realtime clock, which the kernel's receive
        // timestamps use; slots on the monotonic one.
        let epoch_us = realtime_us();
        let from_us = WARMUP.as_micros() as u64;
        let to_us = from_us + secs * 1_000_000;
        let received = Arc::new(AtomicU64::new(0));
        let late = Arc::new(AtomicU64::new(0));
        // Delay histogram in 100 µs buckets up to 2 s.
        let hist: Arc<Vec<AtomicU64>> = Arc::new((0..20_001).map(|_| AtomicU64::new(0)).collect());
        for s in &socks {
            let (s, received, late, hist) =
                (s.clone(), received.clone(), late.clone(), hist.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                let fd = std::os::fd::AsRawFd::as_raw_fd(s.as_ref());
                while let Ok((len, _)) = s.recv_from(&mut buf).await {
                    if len < 12 + 16 {
                        continue;
                    }
                    // When the kernel queued it, not when this (possibly starved) process got
                    // round to reading it.
                    let now = kernel_arrival_us(fd)
                        .unwrap_or_else(realtime_us)
                        .saturating_sub(epoch_us);
                    let field = |at: usize| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&buf[at..at + 8]);
                        u64::from_le_bytes(b)
                    };
                    let (sent, due) = (field(12), field(20));
                    if due < from_us || due >= to_us {
                        continue;
                    }
                    let d = now.saturating_sub(sent);
                    received.fetch_add(1, Ordering::Relaxed);
                    if d > LATE_US {
                        late.fetch_add(1, Ordering::Relaxed);
                    }
                    hist[((d / 100) as usize).min(20_000)].fetch_add(1, Ordering::Relaxed);
                }
            });
        }

        // Phone k sends in millisecond slot k % 20 of every 20 ms.
        let mut sent_in_window = 0u64;
        let mut send_late = 0u64;
        let mut pkt = [0xFFu8; 12 + 160];
        pkt[0] = 0x80;
        pkt[1] = 0; // PCMU
        let mut slot: u64 = 0;
        loop {
            let due = start + Duration::from_millis(slot);
            tokio::time::sleep_until(due.into()).await;
            let due_us = slot * 1000;
            if due_us >= to_us {
                break;
            }
            // Stamp the instant the packet really leaves: the phones' own lateness (this process
            // starved of CPU) is counted apart and is not blamed on the bridge.
            let sent_us = realtime_us().saturating_sub(epoch_us);
            let late_by = start.elapsed().as_micros() as u64;
            if late_by.saturating_sub(due_us) > LATE_US && due_us >= from_us {
                send_late += ((2 * n).saturating_sub((slot % 20) as usize)).div_ceil(20) as u64;
            }
            let seq = (slot / 20) as u16;
            let ts = (slot / 20) as u32 * 160;
            for k in ((slot % 20) as usize..2 * n).step_by(20) {
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                pkt[4..8].copy_from_slice(&ts.to_be_bytes());
                pkt[8..12].copy_from_slice(&(k as u32).to_be_bytes());
                pkt[12..20].copy_from_slice(&sent_us.to_le_bytes());
                pkt[20..28].copy_from_slice(&due_us.to_le_bytes());
                let sock = socket2::SockRef::from(socks[k].as_ref());
                if sock.send_to(&pkt, &legs[k].into()).is_ok() && due_us >= from_us {
                    sent_in_window += 1;
                }
            }
            slot += 1;
        }
        // Let the last packets arrive.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let total: u64 = hist.iter().map(|h| h.load(Ordering::Relaxed)).sum();
        let pct = |p: f64| -> u64 {
            let want = (total as f64 * p).ceil() as u64;
            let mut acc = 0;
            for (i, h) in hist.iter().enumerate() {
                acc += h.load(Ordering::Relaxed);
                if acc >= want.max(1) {
                    return i as u64 * 100 + 100;
                }
            }
            0
        };
        let max = hist
            .iter()
            .rposition(|h| h.load(Ordering::Relaxed) > 0)
            .map_or(0, |i| i as u64 * 100 + 100);
        println!(
            "{} {} {} {} {} {} {:.2} {}",
            sent_in_window,
            received.load(Ordering::Relaxed),
            late.load(Ordering::Relaxed),
            pct(0.5),
            pct(0.99),
            max,
            cpu_seconds(),
            send_late
        );
    });
}

fn realtime_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The kernel's receive timestamp of the last datagram read from `fd` (SIOCGSTAMP), in
/// realtime microseconds.
fn kernel_arrival_us(fd: std::os::fd::RawFd) -> Option<u64> {
    const SIOCGSTAMP: libc::c_ulong = 0x8906;
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: SIOCGSTAMP writes one `timeval` to the pointer, which is valid for the call.
    let rc = unsafe { libc::ioctl(fd, SIOCGSTAMP as _, &mut tv as *mut libc::timeval) };
    (rc == 0).then(|| tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64)
}
