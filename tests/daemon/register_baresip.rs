//! baresip as an agent's softphone that registers, against `dialer run` with sipp as the
//! carrier: the phone registers with its password, the agent logs in, the daemon calls the
//! registered contact, a person is bridged to her and audio goes both ways (the customer's
//! 1 kHz in the recording's left channel and in what the phone heard; the phone's 440 Hz in
//! the right channel); then the phone vanishes (killed: no unregistering), its binding expires
//! and the agent is `logged_out`, the audit trail saying why. A phone with a wrong password is
//! challenged (401) four times, refused (403) at the fifth, and its agent cannot log in a phone
//! that is not registered.
//!
//! Skipped with a note when sipp or baresip is missing, unless `DIALER_REQUIRE_SIPP=1` /
//! `DIALER_REQUIRE_BARESIP=1`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use dialer::store::Store;
use dialer::store::entity::audit_event;
use sea_orm::EntityTrait;
use serde_json::Value;

use crate::e2e::baresip::{Baresip, have_baresip, register_phones};
use crate::e2e::{self, Carrier};
use crate::rig::{self, dialer_run, eventually, get, post, series, wait_ready};

const PASSWORD: &str = "alice-sip-Kd27";
const TOKEN: &str = "alice-token-0123456789";

async fn agent(api: SocketAddr) -> Value {
    let a = get(api, "/v1/agents/alice", Some(TOKEN)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["agent"].clone()
}

async fn wait_state(api: SocketAddr, state: &str, within: Duration, logs: impl Fn() -> String) {
    let started = std::time::Instant::now();
    loop {
        let v = agent(api).await;
        if v["state"] == state {
            return;
        }
        assert!(
            started.elapsed() < within,
            "alice not {state} within {within:?}: {v}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metric(api: SocketAddr, name: &str) -> f64 {
    series(&get(api, "/metrics", None).await.body, name).unwrap_or(0.0)
}

fn start_daemon(config: &Path, log: &Path, password: &str) -> rig::Proc {
    dialer_run(
        config,
        &["--drain", "5s"],
        &[
            ("DIALER_AGENT_ALICE_SIP_PASSWORD", password),
            ("DIALER_AGENT_ALICE_TOKEN", TOKEN),
        ],
        log,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_softphone_works_a_call_then_its_binding_expires() {
    if !e2e::have_sipp("registered softphone test") || !have_baresip("registered softphone test") {
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
    // Registrations of 5 s, so that a vanished phone's binding expires within the test.
    register_phones(&config, &setup.rig, "register_min_expires = \"5s\"");
    // The customer: 2 s of 1 kHz, then quiet; hangs up 4 s after answering.
    let mut carrier = Carrier::tone_then_hang_up(dir.path(), 2000, Duration::from_millis(4000))
        .start(setup.trunk());

    let log = dir.path().join("dialer.log");
    let mut daemon = start_daemon(&config, &log, PASSWORD);
    let api = setup.rig.api_addr();
    wait_ready(&mut daemon, api, &log, Duration::from_secs(30)).await;
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // The phone's microphone: 440 Hz.
    let mut phone = Baresip::start(
        setup.rig.sip,
        "alice",
        PASSWORD,
        5,
        &e2e::tone(440.0, 30_000, 8000.0),
    );
    eventually(
        "alice's phone registers",
        Duration::from_secs(15),
        || async { (metric(api, "dialer_sip_registered_contacts").await == 1.0).then_some(()) },
    )
    .await;

    let a = post(api, "/v1/agents/alice/login", Some(TOKEN), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let logs = |phone: &Baresip, carrier: &e2e::Sipp| {
        format!("{}\n{}\n{}", daemon_log(), phone.log(), carrier.logs())
    };
    // Her leg up, the campaign dials Dana, who answers and is bridged to her, then hangs up.
    wait_state(api, "wrap_up", Duration::from_secs(45), || {
        logs(&phone, &carrier)
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
    // Logging out hangs up her leg: the phone's record of what it heard is complete.
    wait_state(api, "ready", Duration::from_secs(10), || {
        logs(&phone, &carrier)
    })
    .await;
    let a = post(api, "/v1/agents/alice/logout", Some(TOKEN), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let heard = eventually(
        "the phone's recording of the call",
        Duration::from_secs(10),
        || async { phone.heard() },
    )
    .await;
    let heard_tone = e2e::tone_frames(&heard, 1000.0);

    // Logged in again, the phone vanishes: when its binding runs out she is logged out.
    let a = post(api, "/v1/agents/alice/login", Some(TOKEN), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    wait_state(api, "ready", Duration::from_secs(15), || {
        logs(&phone, &carrier)
    })
    .await;
    phone.kill();
    wait_state(api, "logged_out", Duration::from_secs(15), || {
        logs(&phone, &carrier)
    })
    .await;
    assert_eq!(
        metric(api, "dialer_sip_registration_expiries_total").await,
        1.0
    );
    assert_eq!(metric(api, "dialer_sip_registered_contacts").await, 0.0);
    // Both ways: the customer's tone on the left, the phone's on the right.
    let (attempt, customer, phone_tone) = e2e::alices_recorded_call(
        &mut daemon,
        &dir.path().join("state"),
        daemon_log,
        1000.0,
        440.0,
    )
    .await;
    assert!(attempt.connect_at_ms.is_some(), "{attempt:?}");
    eprintln!(
        "recording: {customer} frames of the customer's 1 kHz, {phone_tone} of the phone's \
         440 Hz; the phone heard {heard_tone} frames of 1 kHz"
    );
    // 100 frames of the customer's tone were sent; a loaded machine may cost some.
    assert!(
        (60..=101).contains(&customer),
        "{customer} frames of the customer's tone"
    );
    // The phone talks all through the 4 s (200 frames) the customer is on.
    assert!(phone_tone >= 120, "{phone_tone} frames of the phone's tone");
    assert!(
        (60..=101).contains(&heard_tone),
        "the phone heard {heard_tone} frames of the customer's tone"
    );

    let store = Store::open(&dialer::store::default_sqlite_url(
        &dir.path().join("state"),
    ))
    .await
    .unwrap();
    let audits = audit_event::Entity::find().all(store.conn()).await.unwrap();
    let why = audits
        .iter()
        .filter(|e| e.kind == "agent_logout")
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>();
    assert_eq!(
        why,
        [
            "agent alice logged out: the registration of SIP user alice expired (the phone stopped \
          refreshing it), so the agent's phone cannot be reached"
        ],
        "{audits:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_softphone_with_a_wrong_password_is_refused() {
    if !have_baresip("wrong password softphone test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let setup = rig::Setup::new(&["alice"]);
    let config = setup.write(dir.path());
    register_phones(&config, &setup, "");
    let log = dir.path().join("dialer.log");
    let mut daemon = start_daemon(&config, &log, PASSWORD);
    let api = setup.api_addr();
    wait_ready(&mut daemon, api, &log, Duration::from_secs(30)).await;
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();

    let phone = Baresip::start(
        setup.sip,
        "alice",
        "not-her-password",
        60,
        &e2e::tone(440.0, 1000, 8000.0),
    );
    // baresip answers each fresh challenge with its wrong password: 401 four times, and the
    // fifth wrong password is refused (403), the user locked out for the minute.
    let failures =
        |reason: &str| format!("dialer_sip_registration_failures_total{{reason=\"{reason}\"}}");
    eventually(
        "the phone refused after five tries",
        Duration::from_secs(15),
        || async { (metric(api, &failures("locked_out")).await >= 1.0).then_some(()) },
    )
    .await;
    assert_eq!(metric(api, &failures("wrong_password")).await, 4.0);
    eventually(
        "the phone reports the refusal",
        Duration::from_secs(10),
        || async { phone.log().contains("403 Forbidden").then_some(()) },
    )
    .await;
    assert_eq!(metric(api, "dialer_sip_registered_contacts").await, 0.0);
    assert_eq!(metric(api, "dialer_sip_registrations_total").await, 0.0);

    // Her phone is not registered: logging in ends logged out, the log saying why.
    let a = post(api, "/v1/agents/alice/login", Some(TOKEN), "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    wait_state(api, "logged_out", Duration::from_secs(10), &daemon_log).await;
    let text = daemon_log();
    assert!(
        text.contains("SIP user `alice` has not registered"),
        "{text}\n{}",
        phone.log()
    );
    assert!(text.contains("REGISTER refused"), "{text}");
    daemon.signal(libc::SIGTERM);
    assert!(
        daemon.wait_exit(Duration::from_secs(30)).success(),
        "{}",
        daemon_log()
    );
}
