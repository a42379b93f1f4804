//! SIP interop against sipp acting as the trunk (scenarios in `tests/sipp/`), on 127.0.0.1.
//!
//! When sipp is missing each test prints a note and passes, unless `DIALER_REQUIRE_SIPP=1`
//! (CI), where it fails. Timings are generous: the machine may be loaded.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dialer::sip::message::Transport;
use dialer::sip::{CallReport, EndedBy, Outcome, PlaceCall, Sip, SipConfig, Target, TrunkConfig};

use crate::e2e;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn free_port(tcp: bool) -> u16 {
    if tcp {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

struct Uas {
    child: Child,
    port: u16,
    name: String,
}

impl Uas {
    fn start(scenario: &str, transport: Transport) -> Uas {
        Uas::start_n(scenario, transport, 1)
    }

    fn start_n(scenario: &str, transport: Transport, calls: u32) -> Uas {
        let tcp = transport == Transport::Tcp;
        let port = free_port(tcp);
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "tests",
            "sipp",
            &format!("{scenario}.xml"),
        ]
        .iter()
        .collect();
        let mut child = Command::new("sipp")
            .arg("-sf")
            .arg(&path)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-m",
                &calls.to_string(),
                "-nostdin",
            ])
            .args(["-t", if tcp { "t1" } else { "u1" }])
            .args(["-timeout", "60s", "-timeout_error"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sipp");
        if let Err(e) = e2e::wait_bound(&mut child, &format!("sipp {scenario}"), port, tcp) {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                use std::io::Read;
                let _ = s.read_to_string(&mut err);
            }
            panic!("{e}: {err}");
        }
        Uas {
            child,
            port,
            name: scenario.to_owned(),
        }
    }

    /// sipp's verdict: exit 0 means every message of the scenario came as scripted.
    fn assert_passed(mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                assert!(
                    status.success(),
                    "sipp scenario {} failed ({status}): {err}",
                    self.name
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sipp scenario {} did not finish",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Uas {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn trunk(port: u16, transport: Transport, creds: bool) -> TrunkConfig {
    TrunkConfig {
        name: "sipp".into(),
        host: "127.0.0.1".into(),
        port,
        transport,
        username: creds.then(|| "dialer".into()),
        password: creds.then(|| "s3cret".into()),
        max_channels: 4,
        calls_per_second: 10.0,
    }
}

async fn sip_for(t: TrunkConfig) -> Sip {
    Sip::start(SipConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        public_ip: None,
        trunks: vec![t],
        allowed: vec![],
        timers: Default::default(),
    })
    .await
    .unwrap()
}

async fn call(sip: &Sip, ring: Duration, talk: Duration) -> CallReport {
    let handle = sip
        .place_call(PlaceCall {
            target: Target::Number("+15551230000".into()),
            trunk: Some("sipp".into()),
            caller_id: Some("+15550100".into()),
            offer: Some(("application/sdp".into(), Bytes::from_static(SDP.as_bytes()))),
            ring_timeout: ring,
            talk_limit: Some(talk),
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(90), handle.report())
        .await
        .expect("call ended")
        .unwrap()
}

async fn scenario(
    name: &str,
    transport: Transport,
    creds: bool,
    ring: u64,
    talk: u64,
) -> Option<CallReport> {
    if !e2e::have_sipp("SIP interop test") {
        return None;
    }
    let uas = Uas::start(name, transport);
    let sip = sip_for(trunk(uas.port, transport, creds)).await;
    let report = call(&sip, Duration::from_secs(ring), Duration::from_secs(talk)).await;
    tokio::task::spawn_blocking(move || uas.assert_passed())
        .await
        .unwrap();
    assert_eq!(sip.stats().malformed, 0);
    Some(report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_then_our_bye() {
    let Some(r) = scenario("uas_answer", Transport::Udp, false, 30, 1).await else {
        return;
    };
    assert_eq!(
        (r.outcome, r.sip_status, r.ended_by),
        (Outcome::Answered, Some(200), Some(EndedBy::Us))
    );
    assert!(r.talk_ms() >= 1000, "{}", r.talk_ms());
    assert!(r.answer.is_some_and(|b| b.starts_with(b"v=0")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_over_tcp() {
    let Some(r) = scenario("uas_answer", Transport::Tcp, false, 30, 1).await else {
        return;
    };
    assert_eq!((r.outcome, r.sip_status), (Outcome::Answered, Some(200)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_end_hangs_up() {
    let Some(r) = scenario("uas_far_bye", Transport::Udp, false, 30, 30).await else {
        return;
    };
    assert_eq!(
        (r.outcome, r.ended_by),
        (Outcome::Answered, Some(EndedBy::Them))
    );
    assert!(r.talk_ms() < 30_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy() {
    let Some(r) = scenario("uas_busy", Transport::Udp, false, 30, 1).await else {
        return;
    };
    assert_eq!((r.outcome, r.sip_status), (Outcome::Busy, Some(486)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_is_congestion() {
    let Some(r) = scenario("uas_503", Transport::Udp, false, 30, 1).await else {
        return;
    };
    assert_eq!((r.outcome, r.sip_status), (Outcome::Congestion, Some(503)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_cancelled_at_the_ring_timeout() {
    // A short ring timeout: the 15 s floor is the CLI's and the campaign's rule, not the core's.
    let Some(r) = scenario("uas_no_answer", Transport::Udp, false, 2, 1).await else {
        return;
    };
    assert_eq!((r.outcome, r.sip_status), (Outcome::NoAnswer, Some(487)));
    assert!(r.ring_ms() >= 2000, "{}", r.ring_ms());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_challenge_then_success() {
    let Some(r) = scenario("uas_auth", Transport::Udp, true, 30, 1).await else {
        return;
    };
    assert_eq!((r.outcome, r.sip_status), (Outcome::Answered, Some(200)));
}

/// sipp checks the digest itself here (its verifyauth reads `Authorization`, hence a 401).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn www_challenge_digest_verified_by_sipp() {
    let Some(r) = scenario("uas_auth401", Transport::Udp, true, 30, 1).await else {
        return;
    };
    assert_eq!((r.outcome, r.sip_status), (Outcome::Answered, Some(200)));
}

/// The first INVITE is lost on the way (a relay drops it); our retransmission gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_invite_is_retransmitted() {
    if !e2e::have_sipp("SIP interop test") {
        return;
    }
    let uas = Uas::start("uas_answer", Transport::Udp);
    let relay = UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_port = relay.local_addr().unwrap().port();
    let sipp_addr: SocketAddr = ([127, 0, 0, 1], uas.port).into();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    // Both directions through the relay (sipp answers where requests came from), but the
    // first INVITE is dropped.
    let dropped = std::thread::spawn(move || {
        relay
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 65535];
        let mut dropped = 0;
        let mut dialer: Option<SocketAddr> = None;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok((n, from)) = relay.recv_from(&mut buf) else {
                continue;
            };
            if from == sipp_addr {
                if let Some(d) = dialer {
                    relay.send_to(&buf[..n], d).unwrap();
                }
                continue;
            }
            dialer = Some(from);
            if buf[..n].starts_with(b"INVITE") && dropped == 0 {
                dropped += 1;
                continue;
            }
            relay.send_to(&buf[..n], sipp_addr).unwrap();
        }
        dropped
    });
    let sip = sip_for(trunk(relay_port, Transport::Udp, false)).await;
    let start = Instant::now();
    let r = call(&sip, Duration::from_secs(30), Duration::from_secs(1)).await;
    assert_eq!((r.outcome, r.sip_status), (Outcome::Answered, Some(200)));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(dropped.join().unwrap(), 1);
    // Answered only after timer A's first retransmission (T1 = 500 ms).
    assert!(
        r.ring_ms() >= 500 && start.elapsed() >= Duration::from_millis(500),
        "{}",
        r.ring_ms()
    );
    tokio::task::spawn_blocking(move || uas.assert_passed())
        .await
        .unwrap();
}

/// Per-trunk limits: calls are spaced by the rate limiter and wait for a free channel.
/// Only lower bounds on time are asserted (a loaded machine is slower, never faster).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_limits_space_and_cap_calls() {
    if !e2e::have_sipp("SIP interop test") {
        return;
    }
    let uas = Uas::start_n("uas_answer", Transport::Udp, 3);
    let mut t = trunk(uas.port, Transport::Udp, false);
    t.max_channels = 1;
    t.calls_per_second = 4.0;
    let sip = sip_for(t).await;
    let place = || {
        sip.place_call(PlaceCall {
            target: Target::Number("+15551230000".into()),
            trunk: None,
            caller_id: None,
            offer: Some(("application/sdp".into(), Bytes::from_static(SDP.as_bytes()))),
            ring_timeout: Duration::from_secs(30),
            talk_limit: Some(Duration::from_millis(700)),
        })
    };
    let t0 = Instant::now();
    let first = place().await.unwrap();
    // One channel: the second call is placed only once the first has ended (≥ 700 ms talk).
    let second = place().await.unwrap();
    let second_at = t0.elapsed();
    let r1 = first.report().await.unwrap();
    assert!(
        second_at >= Duration::from_millis(700),
        "second call placed after {second_at:?}"
    );
    assert_eq!(r1.outcome, Outcome::Answered);
    assert_eq!(second.report().await.unwrap().outcome, Outcome::Answered);
    // A third goes through once the channel is free again.
    let third = place().await.unwrap();
    assert_eq!(third.report().await.unwrap().outcome, Outcome::Answered);
    tokio::task::spawn_blocking(move || uas.assert_passed())
        .await
        .unwrap();
}

/// `dialer call URI --json` through the real binary.
#[test]
fn cli_call_prints_json() {
    if !e2e::have_sipp("SIP interop test") {
        return;
    }
    let uas = Uas::start("uas_answer", Transport::Udp);
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args([
            "call",
            &format!("sip:100@127.0.0.1:{}", uas.port),
            "--hangup-after",
            "1s",
            "--json",
        ])
        .env("DIALER_CONFIG", "/nonexistent/dialer.toml")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "answered");
    assert_eq!(v["sip_status"], 200);
    assert!(v["talk_ms"].as_u64().unwrap() >= 1000);
    assert!(v["ring_ms"].is_u64());
    uas.assert_passed();
}

#[test]
fn cli_refuses_a_ring_timeout_under_15s() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args(["call", "sip:100@127.0.0.1:9", "--ring-timeout", "10s"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 15s"));
}
