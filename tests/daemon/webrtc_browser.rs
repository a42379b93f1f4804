//! The agent's phone in the browser: headless Chromium with a fake microphone (a 440 Hz WAV) is
//! alice's desktop and her phone (`phone = "browser"`), against `dialer run` with sipp as the
//! carrier. The page connects its phone (WebRTC to the daemon's ICE-lite gateway), alice logs
//! in, the campaign dials Dana, who answers talking (1 kHz) and is bridged to alice: the
//! recording holds Dana's 1 kHz on the left and the page's 440 Hz on the right, and the page's
//! `getStats()` shows the customer's audio arriving (inbound bytes and audio level rising while
//! Dana talks). Then the page is left: alice goes `connecting` (the dialer waits for her page),
//! and when the desktop is opened again its phone reconnects and she is `ready`.
//!
//! Skipped with a note when sipp or Chromium is missing, unless `DIALER_REQUIRE_SIPP=1` /
//! `DIALER_REQUIRE_CHROMIUM=1`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::Client;
use serde_json::{Value, json};

use crate::browser::{Driver, click, have_chromium, log_in, set_password, wait_text};
use crate::e2e::{self, Carrier};
use crate::rig::{dialer_run, get, post, series, wait_ready};

const TOKEN: &str = "alice-token-0123456789";
const PASSWORD: &str = "alice's long passphrase";

async fn state(api: SocketAddr) -> Value {
    let a = get(api, "/v1/agents/alice", Some(TOKEN)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["agent"]["state"].clone()
}

async fn wait_state(api: SocketAddr, want: &str, within: Duration, logs: impl Fn() -> String) {
    let started = Instant::now();
    loop {
        let s = state(api).await;
        if s == want {
            return;
        }
        assert!(
            started.elapsed() < within,
            "alice not {want} within {within:?} (she is {s})\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's inbound audio as its `getStats()` reports it: `(bytes received, audio level)`.
async fn inbound(c: &Client) -> Option<(f64, f64)> {
    let script = r#"
        const done = arguments[0];
        const pc = window.deskPhone && window.deskPhone.pc;
        if (!pc) { done(null); return; }
        pc.getStats().then((stats) => {
            let out = null;
            stats.forEach((s) => {
                if (s.type === "inbound-rtp" && s.kind === "audio") {
                    out = [s.bytesReceived || 0, s.audioLevel || 0];
                }
            });
            done(out);
        }).catch(() => done(null));
    "#;
    let v = c.execute_async(script, vec![]).await.ok()?;
    Some((v.get(0)?.as_f64()?, v.get(1)?.as_f64()?))
}

/// A 48 kHz mono 16-bit WAV of `hz` for Chromium's fake microphone (it loops the file).
fn fake_mic(path: &Path, hz: f64, secs: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..48_000 * secs {
        let x = 8000.0 * (2.0 * std::f64::consts::PI * hz * f64::from(i) / 48_000.0).sin();
        w.write_sample(x as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_only_a_browser_works_a_call() {
    if !e2e::have_sipp("browser phone test") || !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A US campaign that records announces it; 100 ms of silence keeps the call's timing.
    let announce = e2e::write_pcm(&dir.path().join("announce.wav"), &e2e::silence(100));
    let setup = e2e::Setup {
        top: format!("recording = {{ announce = {announce:?} }}"),
        ..e2e::Setup::new(&["alice"])
    };
    let config = setup.write(dir.path());
    // Alice's phone is her desktop page.
    let text = std::fs::read_to_string(&config).unwrap();
    let fixed = format!(
        "sip_uri = \"sip:alice@127.0.0.1:{}\"\n",
        setup.agent_port("alice")
    );
    assert!(text.contains(&fixed), "{text}");
    let text = text.replace(&fixed, "phone = \"browser\"\n")
        + "\n[webrtc]\nbind = \"127.0.0.1:0\"\nconnect_wait = \"20s\"\n";
    std::fs::write(&config, text).unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    set_password(&config, "alice", "agent", PASSWORD);

    // Dana: 3 s of 1 kHz, then quiet; hangs up 6 s after answering.
    let mut carrier = Carrier::tone_then_hang_up(dir.path(), 3000, Duration::from_millis(6000))
        .start(setup.trunk());

    let log = dir.path().join("dialer.log");
    let mut daemon = dialer_run(
        &config,
        &["--drain", "5s"],
        &[("DIALER_AGENT_ALICE_TOKEN", TOKEN)],
        &log,
    );
    let api = setup.rig.api_addr();
    wait_ready(&mut daemon, api, &log, Duration::from_secs(30)).await;
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // Her browser: a fake microphone playing 440 Hz, media on loopback allowed.
    let mic = dir.path().join("mic.wav");
    fake_mic(&mic, 440.0, 20);
    let driver = Driver::start(&dir.path().join("chromedriver.log")).await;
    let profile = dir.path().join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let flags: Vec<String> = vec![
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-audio-capture={}", mic.display()),
        "--allow-loopback-in-peer-connection".into(),
        "--autoplay-policy=no-user-gesture-required".into(),
    ];
    let c = driver.browser_with(&profile, "en-US", &flags).await;
    log_in(&c, api, "alice", PASSWORD).await;
    wait_text(&c, "me", "alice").await;
    // The page connects its phone by itself; the microphone is on and its meter moves.
    wait_text(&c, "phone-state", "Phone connected").await;
    wait_text(&c, "mic-state", "Microphone on").await;
    let phone = get(api, "/v1/agents/alice/phone", Some(TOKEN)).await;
    assert_eq!(
        phone.json()["phone"],
        json!({"browser": true, "connected": true})
    );
    crate::browser::until(&c, "the microphone's meter moves", || async {
        let v = c
            .execute("return document.getElementById('mic-level').value", vec![])
            .await
            .ok()?;
        (v.as_f64()? > 0.01).then_some(())
    })
    .await;

    crate::browser::screenshot(&c, "desktop-phone").await;

    // She logs in from the page: her leg is her page's phone; Dana is dialed and bridged.
    click(&c, "#btn-login").await;
    wait_state(api, "on_call", Duration::from_secs(30), || {
        format!("{}\n{}", daemon_log(), carrier.logs())
    })
    .await;
    // While Dana talks, the page receives her audio: bytes and level rise.
    let first = crate::browser::until(&c, "inbound audio stats", || inbound(&c)).await;
    let mut last = first;
    let mut loudest = first.1;
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        if let Some(s) = inbound(&c).await {
            loudest = loudest.max(s.1);
            last = s;
        }
    }
    eprintln!(
        "page inbound audio: {} → {} bytes, loudest level {loudest:.3}",
        first.0, last.0
    );
    assert!(
        last.0 >= first.0 + 8000.0,
        "the page's inbound bytes rose only from {} to {}",
        first.0,
        last.0
    );
    assert!(
        loudest > 0.05,
        "the page's inbound audio level stayed at {loudest}"
    );

    wait_state(api, "wrap_up", Duration::from_secs(20), || {
        format!("{}\n{}", daemon_log(), carrier.logs())
    })
    .await;
    let a = post(
        api,
        "/v1/agents/alice/disposition",
        Some(TOKEN),
        r#"{"code": "sale"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let status = carrier.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{}", carrier.logs());
    wait_state(api, "ready", Duration::from_secs(10), daemon_log).await;

    // She leaves the page: her leg is lost, she is connecting (the dialer waits for her page).
    c.goto("about:blank").await.unwrap();
    wait_state(api, "connecting", Duration::from_secs(15), daemon_log).await;
    assert!(daemon_log().contains("agent leg lost"), "{}", daemon_log());
    // Back on the desktop, the page's phone reconnects and she is ready again.
    c.goto(&format!("http://{api}/")).await.unwrap();
    wait_text(&c, "phone-state", "Phone connected").await;
    wait_state(api, "ready", Duration::from_secs(15), daemon_log).await;
    let metrics = get(api, "/metrics", None).await.body;
    assert_eq!(series(&metrics, "dialer_webrtc_legs_lost_total"), Some(1.0));
    assert!(
        series(&metrics, "dialer_webrtc_offers_total{result=\"answered\"}").unwrap_or(0.0) >= 2.0,
        "{metrics}"
    );
    c.close().await.unwrap();

    // Both ways: Dana's tone on the left, the page's microphone on the right.
    let (_, customer, page) = e2e::alices_recorded_call(
        &mut daemon,
        &dir.path().join("state"),
        daemon_log,
        1000.0,
        440.0,
    )
    .await;
    eprintln!("recording: {customer} frames of the customer's 1 kHz, {page} of the page's 440 Hz");
    // 150 frames of Dana's tone were sent; the page talks all through the 6 s (300 frames).
    assert!(
        (90..=151).contains(&customer),
        "{customer} frames of the customer's tone"
    );
    assert!(page >= 180, "{page} frames of the page's tone");
}
