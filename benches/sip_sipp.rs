//! Call set-up rate against a sipp UAS on loopback.
//!
//! `cargo bench --bench sip_sipp` (or `-- SECONDS RATE HOLD_MS`): places RATE calls/s for
//! SECONDS through a trunk, each answered by sipp (`tests/sipp/uas_answer.xml`:
//! 100, 180, 200, ACK, our BYE after HOLD_MS), and prints one JSON object: calls placed,
//! answered, failed, transaction time-outs, the sustained set-up rate, and this process's CPU
//! per call (utime+stime from /proc/self/stat, in clock ticks of 10 ms).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dialer::sip::message::Transport;
use dialer::sip::{Outcome, PlaceCall, Sip, SipConfig, Target, TrunkConfig};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is 14th, stime 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let secs: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(60);
    let rate: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(250.0);
    let hold_ms: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(500);
    if Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("sipp is not installed; nothing to measure");
        return;
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/uas_answer.xml");
    let mut sipp = Command::new("sipp")
        .args([
            "-sf",
            scenario,
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-nostdin",
            "-t",
            "u1",
        ])
        .args([
            "-trace_stat",
            "-stf",
            "/tmp/dialer-bench-sipp.csv",
            "-fd",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sipp");
    std::thread::sleep(Duration::from_millis(500));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(async move {
        let sip = Sip::start(SipConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            public_ip: None,
            trunks: vec![TrunkConfig {
                name: "sipp".into(),
                host: "127.0.0.1".into(),
                port,
                transport: Transport::Udp,
                username: None,
                password: None,
                max_channels: 100_000,
                // Paced here instead (catching up after a late wake-up), so the figure is the
                // SIP layer's, not the limiter's spacing under a loaded scheduler.
                calls_per_second: 0.0,
            }],
            allowed: vec![],
            timers: Default::default(),
        })
        .await
        .unwrap();
        let answered = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let setup_us = Arc::new(AtomicU64::new(0));
        let cpu0 = cpu_ticks();
        let t0 = Instant::now();
        let mut placed = 0u64;
        let mut tasks = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        while t0.elapsed() < Duration::from_secs(secs) {
            tick.tick().await;
            let call = sip
                .place_call(PlaceCall {
                    target: Target::Number("15551230000".into()),
                    trunk: None,
                    caller_id: None,
                    offer: Some(("application/sdp".into(), Bytes::from_static(SDP.as_bytes()))),
                    ring_timeout: Duration::from_secs(30),
                    talk_limit: Some(Duration::from_millis(hold_ms)),
                })
                .await
                .unwrap();
            placed += 1;
            let (a, f, s) = (answered.clone(), failed.clone(), setup_us.clone());
            tasks.push(tokio::spawn(async move {
                match call.report().await {
                    Ok(r) if r.outcome == Outcome::Answered && r.answered.is_some() => {
                        a.fetch_add(1, Ordering::Relaxed);
                        s.fetch_add((r.ring_ms() * 1000).max(1), Ordering::Relaxed);
                    }
                    _ => {
                        f.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let placing = t0.elapsed();
        for t in tasks {
            let _ = t.await;
        }
        let cpu = cpu_ticks() - cpu0;
        let answered = answered.load(Ordering::Relaxed);
        let failed = failed.load(Ordering::Relaxed);
        let tx = sip.stats();
        let txs = sip.transaction_stats();
        serde_json::json!({
            "seconds": placing.as_secs_f64(),
            "target_rate": rate,
            "hold_ms": hold_ms,
            "calls_placed": placed,
            "answered": answered,
            "failed": failed,
            "setup_rate_per_s": answered as f64 / placing.as_secs_f64(),
            "mean_setup_ms": if answered > 0 { setup_us.load(Ordering::Relaxed) as f64 / answered as f64 / 1000.0 } else { 0.0 },
            "cpu_ms_total": cpu * 10,
            "cpu_ms_per_call": if placed > 0 { (cpu * 10) as f64 / placed as f64 } else { 0.0 },
            "transaction_timeouts": txs.client_timeouts,
            "retransmissions": txs.retransmissions,
            "malformed": tx.malformed,
            "stray_responses": tx.stray_responses,
        })
    });
    let _ = sipp.kill();
    let _ = sipp.wait();
    println!("{out}");
}
