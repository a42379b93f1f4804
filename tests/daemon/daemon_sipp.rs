//! The daemon end to end on loopback, with sipp as the carrier and as the agent's phone.
//!
//! Every test runs the real daemon (SIP, media, AMD, switchboard, store writer) on 127.0.0.1
//! against sipp processes: the agent's phone is sipp's built-in UAS echoing RTP (the nailed-up
//! leg), the carrier a generated scenario that answers and streams audio from the AMD corpus
//! with `rtp_stream`. What the tests look at is what the dialer stored, what it recorded, what
//! sipp saw on the signalling side (its scenario finishing means the SIP dialog went the
//! expected way) and, where the carrier's media is a capturing UDP peer, the RTP that reached it.
//!
//! - a person (a corpus greeting) is recognised by AMD, bridged to the agent within 2 s, and the
//!   trunk's audio reaches the agent's phone and comes back (the call's stereo recording);
//! - a voicemail greeting with a beep: AMD says machine, the campaign's message starts after the
//!   beep, the dialer hangs up when it has played, and the store has the timings;
//! - a person with no free agent hears the safe-harbor message at the connect limit (captured as
//!   RTP at the carrier's media address) and the call is stored as abandoned;
//! - a person who says "Hello?" with no free agent hears the message's first packet within 2 s
//!   of the end of their greeting (the corpus label), and the API and `/metrics` count the
//!   abandon while the message plays;
//! - a predictive call still ringing past 15 s when its agent has paused is shed: CANCEL (sipp's
//!   no-answer scenario takes it), stored as `shed`, the lead due again.
//!
//! Skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

use std::path::Path;
use std::time::{Duration, Instant};

use dialer::daemon::config;
use dialer::daemon::control::Request;
use dialer::daemon::run::{Daemon, Options};
use dialer::store::Store;
use dialer::store::entity::{agent_state_interval, call_attempt, lead};
use sea_orm::{EntityTrait, QueryOrder};

use crate::e2e::{Carrier, CarrierEnd, CarrierMedia, RtpCapture, Setup};
use crate::{e2e, storedb};

/// Open a fresh SQLite store, load the config, seed the campaign's one lead, start the daemon
/// with every agent logged in (the sipps it talks to already listen: see `e2e::Sipp::wait_bound`).
pub(super) async fn start(setup: &Setup, config_path: &Path) -> (storedb::TestDb, Store, Daemon) {
    let db = storedb::sqlite();
    let store = db.open().await;
    let loaded = config::load_all(config_path).expect("test config is valid");
    storedb::seed_one_lead(&store, &loaded.campaigns[0], &setup.zone).await;
    let options = Options {
        tick: Duration::from_millis(100),
        login_all_agents: true,
        drain_deadline: Duration::from_secs(10),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
        .await
        .expect("daemon starts");
    (db, store, daemon)
}

async fn intervals(store: &Store) -> Vec<agent_state_interval::Model> {
    agent_state_interval::Entity::find()
        .order_by_asc(agent_state_interval::Column::StartedAtMs)
        .all(store.conn())
        .await
        .unwrap()
}

async fn the_lead(store: &Store) -> lead::Model {
    lead::Entity::find()
        .one(store.conn())
        .await
        .unwrap()
        .unwrap()
}

/// What the detector makes of `pcm` offline, with the settings a campaign with default `[amd]`
/// keys gives the daemon.
fn offline_amd(pcm: &[i16]) -> dialer::amd::Outcome {
    let settings = dialer::amd::Settings {
        beep_wait_ms: 10_000,
        ..dialer::amd::Settings::default()
    };
    dialer::amd::classify(&settings, pcm)
}

/// The 20 ms frames of `x` that are loud and dominated by `hz`: their indexes.
fn tone_frames(x: &[i16], hz: f64) -> Vec<usize> {
    x.chunks(160)
        .enumerate()
        .filter(|(_, f)| f.len() == 160 && e2e::level(f) > 500.0 && e2e::dominated_by(f, hz))
        .map(|(i, _)| i)
        .collect()
}

/// How late a stored time may be against the audio it reacts to, on a loaded 2-core machine.
const SLACK_MS: i64 = 1500;
/// How early it may look: the answer is stamped when the daemon's loop handles the 200 OK, a
/// little after the SIP layer's ACK started sipp's stream.
const EARLY_MS: i64 = 100;

/// The stored AMD result, cause and decision time are what the detector says offline about the
/// same audio (the decision within [`EARLY_MS`] before and [`SLACK_MS`] after); returns the
/// stored answer and decision times.
fn assert_amd_as_offline(
    attempt: &dialer::store::entity::call_attempt::Model,
    expected: &dialer::amd::Outcome,
) -> (i64, i64) {
    assert_eq!(
        attempt.amd_result.as_deref(),
        Some(expected.result.as_str())
    );
    assert_eq!(
        attempt.amd_cause.as_deref(),
        Some(expected.cause.to_string().as_str())
    );
    let answer = attempt.answer_at_ms.expect("answer time");
    let amd_ms = i64::from(attempt.amd_ms.expect("AMD time"));
    let decision = i64::from(expected.decision_ms);
    assert!(
        amd_ms >= decision - EARLY_MS && amd_ms <= decision + SLACK_MS,
        "AMD decided {amd_ms} ms after the answer; offline, at {decision} ms of audio"
    );
    let decided = attempt.amd_at_ms.expect("AMD decision time");
    assert!((decided - answer - amd_ms).abs() <= 1, "{attempt:?}");
    (answer, decided)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_is_recognised_bridged_to_the_agent_and_heard_both_ways() {
    if !e2e::have_sipp("daemon end-to-end test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The called party: a corpus person's "Hi.", silence while the recording announcement
    // (4.3 s) plays, then 1.5 s of 1 kHz while talking to the agent (7.5–9.0 s); they hang up
    // 10 s after answering.
    let mut pcm = e2e::read_wav(&e2e::corpus("a_human_02.wav"));
    pcm.resize(7500 * 8, 0);
    pcm.extend(e2e::tone(1000.0, 1500, 8000.0));
    pcm.extend(e2e::silence(500));
    let stream = e2e::write_ulaw(&dir.path().join("person.wav"), &pcm);
    let expected = offline_amd(&e2e::ulaw_round_trip(&pcm));
    assert_eq!(
        expected.result,
        dialer::amd::AmdResult::Human,
        "{expected:?}"
    );

    let setup = Setup {
        top: format!(
            "recording = {{ announce = {:?} }}",
            e2e::repo().join("campaigns/audio/recorded.wav")
        ),
        amd: "enabled = true".into(),
        ..Setup::new(&["alice"])
    };
    let config_path = setup.write(dir.path());
    let _agent = e2e::agent_phone(setup.agent_port("alice"));
    let carrier = Carrier {
        ring: Duration::from_millis(200),
        media: CarrierMedia::Sipp,
        stream: Some(stream),
        end: CarrierEnd::HangUpAfter(Duration::from_millis(10_000)),
        keys: vec![],
    }
    .start(setup.trunk());

    let (_db, store, daemon) = start(&setup, &config_path).await;
    let control = daemon.control();

    let attempt = e2e::finished_attempt(&store, Duration::from_secs(45), &[&carrier]).await;
    assert_eq!(attempt.outcome.as_deref(), Some("human"));
    assert_eq!(attempt.sip_status, Some(200));
    assert_eq!(attempt.agent_id.as_deref(), Some("alice"));
    assert!(attempt.live && !attempt.abandoned);
    // AMD heard the person's greeting and said what it says offline.
    assert_eq!(attempt.amd_result.as_deref(), Some("human"));
    let (answer, decided) = assert_amd_as_offline(&attempt, &expected);
    // The recording announcement (the connection, for the 2 s rule) started within 2 s of
    // being recognised as a person, and played whole (4.3 s) before the agent was bridged.
    let announced = attempt.message_at_ms.expect("the announcement's start");
    let connect = attempt.connect_at_ms.expect("connect time");
    assert!(attempt.dial_at_ms <= answer && decided <= announced && announced <= connect);
    assert!(
        announced - decided < 2000,
        "announced {} ms after the decision",
        announced - decided
    );
    assert!(
        connect - announced >= 4200,
        "bridged {} ms after the announcement started",
        connect - announced
    );
    let end = attempt.end_at_ms.unwrap();
    assert!(end - answer >= 9500, "talked {} ms", end - answer);
    eprintln!(
        "person: AMD {} ({}) {} ms after the answer (offline {} ms), announced {} ms and \
         connected {} ms after the decision",
        expected.result.as_str(),
        expected.cause,
        decided - answer,
        expected.decision_ms,
        announced - decided,
        connect - decided
    );

    // Alice is in wrap-up with her leg up; her disposition ends it and applies to the lead.
    let agents = control.agents().await.unwrap();
    assert_eq!(agents[0].state, dialer::agents::State::WrapUp);
    control
        .ask(Request::Disposition {
            agent: "alice".into(),
            code: "sale".into(),
            notes: None,
            callback_after: None,
        })
        .await
        .unwrap();
    daemon.stop().await;

    let l = the_lead(&store).await;
    assert_eq!(l.status, "done");
    assert_eq!(l.last_outcome.as_deref(), Some("sale"));
    assert_eq!(l.lease_owner, None);
    let intervals = intervals(&store).await;
    let states: Vec<&str> = intervals.iter().map(|i| i.state.as_str()).collect();
    assert!(
        states
            .windows(3)
            .any(|w| w == ["ready", "on_call", "wrap_up"]),
        "intervals: {states:?}"
    );
    let on_call = intervals.iter().find(|i| i.state == "on_call").unwrap();
    assert_eq!(on_call.attempt_id, Some(attempt.id));

    // The recording: the customer's 1 kHz on the left; on the right the agent's phone sending
    // it back (sipp echoes what reaches it), so the trunk's audio went through the bridge to
    // the agent's phone and the agent's audio came back through the dialer.
    let path = attempt.recording_path.clone().expect("a recording");
    let mut wav = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(wav.spec().channels, 2);
    assert_eq!(wav.spec().sample_rate, 8000);
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let (l, r) = (tone_frames(&left, 1000.0), tone_frames(&right, 1000.0));
    // 75 frames were sent; a loaded machine may cost the recorder a few.
    assert!(
        (50..=76).contains(&l.len()),
        "{} frames of the customer's tone recorded",
        l.len()
    );
    assert!(
        (50..=76).contains(&r.len()),
        "{} frames of the tone came back from the agent's phone",
        r.len()
    );
    assert!(
        r[0] >= l[0] && r[0] - l[0] <= 25,
        "the echo starts at frame {}, the customer's tone at {}",
        r[0],
        l[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_gets_the_voicemail_message_after_its_beep() {
    if !e2e::have_sipp("daemon end-to-end test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A corpus voicemail greeting (4.7 s of speech, a 1 kHz beep 5086–5629 ms) and then the
    // line stays open, quiet, while the message is left.
    let mut pcm = e2e::read_wav(&e2e::corpus("a_machine_19.wav"));
    pcm.extend(e2e::silence(5000));
    let stream = e2e::write_ulaw(&dir.path().join("voicemail.wav"), &pcm);
    let expected = offline_amd(&e2e::ulaw_round_trip(&pcm));
    assert_eq!(expected.result, dialer::amd::AmdResult::Machine);
    let beep_ms = i64::from(expected.beep_ms.expect("the file has a beep"));
    let message_ms = i64::from(expected.message.expect("a message start").at_ms);
    assert!(message_ms > beep_ms);
    // The campaign's message: 1.5 s of 600 Hz.
    let message = e2e::write_pcm(
        &dir.path().join("message.wav"),
        &e2e::tone(600.0, 1500, 6000.0),
    );

    let setup = Setup {
        amd: format!(
            "enabled = true\non_machine = \"voicemail\"\nvoicemail_message = \"{}\"",
            message.display()
        ),
        ..Setup::new(&["alice"])
    };
    let config_path = setup.write(dir.path());
    let _agent = e2e::agent_phone(setup.agent_port("alice"));
    let mut carrier = Carrier {
        ring: Duration::from_millis(200),
        media: CarrierMedia::Sipp,
        stream: Some(stream),
        end: CarrierEnd::WaitBye,
        keys: vec![],
    }
    .start(setup.trunk());

    let (_db, store, daemon) = start(&setup, &config_path).await;

    // The dialer hung up (sipp's scenario ends with the BYE it answers).
    let attempt = call_done(&store, &mut carrier, daemon).await;

    assert_eq!(attempt.outcome.as_deref(), Some("machine"));
    assert_eq!(attempt.sip_status, Some(200));
    assert_eq!(attempt.amd_result.as_deref(), Some("machine"));
    assert!(!attempt.live && !attempt.abandoned);
    assert_eq!(
        (attempt.agent_id.as_deref(), attempt.connect_at_ms),
        (None, None)
    );
    let (answer, decided) = assert_amd_as_offline(&attempt, &expected);
    // The message started when the beep had ended (the detector's verdict offline on the same
    // audio: the frame after the beep's last one), not at the decision or at the beep's start,
    // and well before the 10 s the campaign would wait for a beep.
    let message_at = attempt.message_at_ms.expect("when the message started");
    assert!(
        message_at - answer >= message_ms - EARLY_MS,
        "message at {} ms after the answer; the beep starts at {beep_ms} ms, the detector \
         starts the message at {message_ms} ms",
        message_at - answer
    );
    assert!(
        message_at - answer <= message_ms + SLACK_MS,
        "message at {} ms after the answer, offline at {message_ms} ms",
        message_at - answer
    );
    // The dialer hung up once the 1.5 s message had played.
    let end = attempt.end_at_ms.unwrap();
    assert!(
        end - message_at >= 1500 - 40 && end - message_at <= 1500 + SLACK_MS,
        "hung up {} ms after the message started",
        end - message_at
    );

    eprintln!(
        "voicemail: AMD {} ms (offline {} ms), beep at {beep_ms} ms, message at {} ms \
         (offline {message_ms} ms) after the answer, hung up {} ms later",
        decided - answer,
        expected.decision_ms,
        message_at - answer,
        end - message_at
    );

    let l = the_lead(&store).await;
    assert_eq!(l.last_outcome.as_deref(), Some("machine"));
    assert_eq!(l.last_machine_at_ms, Some(attempt.dial_at_ms));
    assert_eq!(l.lease_owner, None);
    // Alice was never given the call.
    let states: Vec<String> = intervals(&store)
        .await
        .into_iter()
        .map(|i| i.state)
        .collect();
    assert!(!states.iter().any(|s| s == "on_call"), "{states:?}");
}

/// The call's stored attempt once it has ended; sipp's scenario must have finished (the SIP
/// dialog went the expected way); then the daemon stops.
async fn call_done(store: &Store, carrier: &mut e2e::Sipp, daemon: Daemon) -> call_attempt::Model {
    let attempt = e2e::finished_attempt(store, Duration::from_secs(45), &[&*carrier]).await;
    // The daemon's dial went through the scheduler: its evidence is stored with the row.
    let json = attempt.evidence.as_deref().unwrap_or_else(|| {
        panic!("attempt {} has no evidence", attempt.id);
    });
    let ev: dialer::compliance::evidence::Evidence = serde_json::from_str(json).unwrap();
    assert_eq!(ev.dial_at_ms, Some(attempt.dial_at_ms), "{json}");
    assert!(ev.allowed_at_ms <= attempt.dial_at_ms, "{json}");
    let status = carrier.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "sipp: {status}\n{}", carrier.logs());
    daemon.stop().await;
    attempt
}

/// Wait for the campaign's first dial (30 s at most), then alice pauses.
pub(super) async fn alice_pauses_after_the_dial(
    control: &dialer::daemon::control::SwitchboardHandle,
    carrier: &e2e::Sipp,
) {
    let started = Instant::now();
    loop {
        let c = control.campaigns().await.unwrap();
        if c[0].dials >= 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no dial after 30 s: {c:?}\n{}",
            carrier.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    control
        .ask(Request::Pause {
            agent: "alice".into(),
            reason: "coffee".into(),
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_with_no_free_agent_hears_safe_harbor_and_is_abandoned() {
    if !e2e::have_sipp("daemon end-to-end test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The safe-harbor message: 1.2 s of 700 Hz.
    let safe_harbor = e2e::write_pcm(
        &dir.path().join("safe_harbor.wav"),
        &e2e::tone(700.0, 1200, 6000.0),
    );
    let setup = Setup {
        safe_harbor,
        dialing: "connect_limit = \"1500ms\"".into(),
        ..Setup::new(&["alice"])
    };
    let config_path = setup.write(dir.path());
    let _agent = e2e::agent_phone(setup.agent_port("alice"));
    // The customer's media is a UDP peer that keeps what the dialer sends. The phone rings 3 s,
    // time for alice to step away after the dial went out.
    let capture = RtpCapture::start();
    let mut carrier = Carrier {
        ring: Duration::from_millis(3000),
        media: CarrierMedia::Port(capture.port),
        stream: None,
        end: CarrierEnd::WaitBye,
        keys: vec![],
    }
    .start(setup.trunk());

    let (_db, store, daemon) = start(&setup, &config_path).await;
    let control = daemon.control();

    // Progressive dialing places the call once alice is ready; then she pauses.
    alice_pauses_after_the_dial(&control, &carrier).await;
    let paused_at = e2e::unix_ms();

    let attempt = call_done(&store, &mut carrier, daemon).await;
    let got = capture.finish();

    let answer = attempt.answer_at_ms.expect("answer time");
    assert!(
        paused_at < answer,
        "alice paused {} ms after the answer: the test's timing failed, not the dialer",
        paused_at - answer
    );
    assert_eq!(attempt.outcome.as_deref(), Some("abandoned"));
    assert_eq!(attempt.sip_status, Some(200));
    assert!(attempt.live && attempt.abandoned);
    assert_eq!(
        (attempt.agent_id.as_deref(), attempt.connect_at_ms),
        (None, None)
    );
    assert_eq!(
        (attempt.amd_result.as_deref(), attempt.amd_at_ms),
        (None, None)
    );
    // With AMD off the answer is a person; at the connect limit (1.5 s, counted from the
    // answer, less the shell's latency allowance) the message starts.
    let message_at = attempt.message_at_ms.expect("when the message started");
    let latency = dialer::switchboard::CONNECT_LATENCY.as_millis() as i64;
    assert!(
        message_at - answer >= 1500 - latency - 1 && message_at - answer <= 1500 + SLACK_MS,
        "safe harbor {} ms after the answer",
        message_at - answer
    );
    // The hang-up: after the message and the opt-out key's wait after it (`dnc.opt_out_wait`,
    // default 1 s).
    let end = attempt.end_at_ms.unwrap();
    assert!(
        end - message_at >= 2200 - 40 && end - message_at <= 2200 + SLACK_MS,
        "hung up {} ms after the message started",
        end - message_at
    );

    // What reached the customer's media address: one stream from the dialer, silence until the
    // message, then the 1.2 s of 700 Hz.
    assert!(!got.is_empty(), "no RTP reached the customer");
    assert!(
        got.iter()
            .all(|p| p.from == got[0].from && p.ssrc == got[0].ssrc && p.payload_type == 0),
        "more than one stream: {:?}",
        got.iter().map(|p| (p.from, p.ssrc)).collect::<Vec<_>>()
    );
    let loud: Vec<&e2e::Received> = got.iter().filter(|p| e2e::level(&p.pcm) > 500.0).collect();
    assert!(
        (55..=61).contains(&loud.len()),
        "{} packets of the message (60 sent)",
        loud.len()
    );
    let heard: Vec<i16> = loud.iter().flat_map(|p| p.pcm.iter().copied()).collect();
    assert!(e2e::dominated_by(&heard, 700.0), "not the 700 Hz message");
    let first = loud[0].at_ms;
    assert!(
        first >= message_at - 20 && first <= message_at + 500,
        "the message reached the customer {} ms after it started",
        first - message_at
    );
    assert!(
        got.iter()
            .take_while(|p| p.at_ms < first)
            .all(|p| e2e::level(&p.pcm) < 50.0),
        "sound before the message"
    );

    eprintln!(
        "safe harbor: {} ms after the answer, reached the customer {} ms later, {} packets, hung \
         up {} ms after it started",
        message_at - answer,
        first - message_at,
        loud.len(),
        end - message_at
    );

    let l = the_lead(&store).await;
    assert_eq!(l.last_outcome.as_deref(), Some("abandoned"));
    assert_eq!(l.last_abandoned_at_ms, Some(attempt.dial_at_ms));
    let intervals = intervals(&store).await;
    assert!(
        intervals
            .iter()
            .any(|i| i.state == "paused" && i.started_at_ms <= answer),
        "{intervals:?}"
    );
    assert!(
        !intervals.iter().any(|i| i.state == "on_call"),
        "{intervals:?}"
    );
    let stored = call_attempt::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "one dial, one attempt: {stored:?}");
}

/// The corpus label's end of a person's first utterance, in ms from the file's start.
fn labelled_speech_end(file: &str) -> u32 {
    let labels = dialer::amd::eval::load_labels(&e2e::corpus("labels.csv")).expect("labels");
    labels
        .iter()
        .find(|l| l.file == file)
        .and_then(|l| l.speech_end_ms)
        .unwrap_or_else(|| panic!("{file}: no speech_end_ms label"))
}

/// The value of `series` in a Prometheus text rendering.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_starts_within_2_s_of_the_greetings_end_and_counts_at_once() {
    if !e2e::have_sipp("daemon end-to-end test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The safe-harbor message: 3 s of 700 Hz, time to read the API while it plays.
    let safe_harbor = e2e::write_pcm(
        &dir.path().join("safe_harbor.wav"),
        &e2e::tone(700.0, 3000, 6000.0),
    );
    let setup = Setup {
        campaign: "twosec".into(),
        safe_harbor,
        amd: "enabled = true".into(),
        ..Setup::new(&["alice"])
    };
    let config_path = setup.write(dir.path());
    let _agent = e2e::agent_phone(setup.agent_port("alice"));
    // The person: a corpus "Hello?" (its label gives when the speech ends), then an open line.
    let file = "a_human_00.wav";
    let label_end = labelled_speech_end(file);
    let pcm = e2e::read_wav(&e2e::corpus(file));
    let offline = offline_amd(&e2e::ulaw_round_trip(&pcm));
    assert_eq!(offline.result, dialer::amd::AmdResult::Human, "{offline:?}");
    let peer = e2e::greeting_peer::GreetingPeer::start(pcm);
    let mut carrier = Carrier {
        ring: Duration::from_millis(3000),
        media: CarrierMedia::Port(peer.port),
        stream: None,
        end: CarrierEnd::WaitBye,
        keys: vec![],
    }
    .start(setup.trunk());
    let metrics = dialer::daemon::telemetry::install().expect("metrics recorder");

    let (_db, store, daemon) = start(&setup, &config_path).await;
    let control = daemon.control();
    alice_pauses_after_the_dial(&control, &carrier).await;

    // The abandon shows in the API and /metrics as it happens: poll both for it.
    let series = "dialer_abandoned_total{campaign=\"twosec\"}";
    let polling = Instant::now();
    let (mut api_at, mut metrics_at) = (None, None);
    let status = loop {
        let c = control.campaigns().await.unwrap();
        if c[0].abandoned >= 1 {
            api_at.get_or_insert_with(Instant::now);
        }
        if metric(&metrics.render(), series).is_some_and(|v| v >= 1.0) {
            metrics_at.get_or_insert_with(Instant::now);
        }
        if api_at.is_some() && metrics_at.is_some() {
            break c[0].clone();
        }
        assert!(
            polling.elapsed() < Duration::from_secs(30),
            "no abandon counted after 30 s: {c:?}\n{}",
            carrier.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let page = metrics.render();
    let (api_at, metrics_at) = (api_at.unwrap_or(polling), metrics_at.unwrap_or(polling));
    let attempt = call_done(&store, &mut carrier, daemon).await;
    let log = peer.finish();

    assert_eq!(attempt.outcome.as_deref(), Some("abandoned"));
    assert_eq!(attempt.amd_result.as_deref(), Some("human"));
    assert!(attempt.live && attempt.abandoned);
    assert_eq!((status.live_answers, status.abandoned), (1, 1));
    assert_eq!(metric(&page, series), Some(1.0), "{page}");

    // What the person heard: silence, then the message.
    let start = log.start.expect("the dialer sent media");
    let loud: Vec<&e2e::greeting_peer::Heard> = log
        .heard
        .iter()
        .filter(|p| e2e::level(&p.pcm) > 500.0)
        .collect();
    assert!(
        (145..=151).contains(&loud.len()),
        "{} packets of the message (150 sent)",
        loud.len()
    );
    let heard: Vec<i16> = loud.iter().flat_map(|p| p.pcm.iter().copied()).collect();
    assert!(e2e::dominated_by(&heard, 700.0), "not the 700 Hz message");
    let (first, last) = (loud[0].at, loud[loud.len() - 1].at);
    let greeting_end = start + Duration::from_millis(u64::from(label_end));
    let lag = first.saturating_duration_since(greeting_end);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    // Signed milliseconds from `a` to `b`.
    let signed = |a: Instant, b: Instant| {
        if b >= a { ms(b - a) } else { -ms(a - b) }
    };
    eprintln!(
        "greeting ends {label_end} ms into the stream (label; the detector offline: {:?} ms, \
         decided at {} ms); the message's first packet reached the person {:.1} ms after the \
         greeting's end; the API showed the abandon {:.1} ms and /metrics {:.1} ms after that \
         first packet (the message's last one came {:.1} ms after it)",
        offline.speech_end_ms,
        offline.decision_ms,
        signed(greeting_end, first),
        signed(first, api_at),
        signed(first, metrics_at),
        signed(first, last),
    );
    // The rule: an agent or the message within 2 s of the end of the greeting. No tolerance.
    assert!(
        first > greeting_end,
        "the message started before the greeting ended"
    );
    assert!(
        lag <= Duration::from_secs(2),
        "the message reached the person {:.1} ms after their greeting ended",
        ms(lag)
    );
    // Counted as the message started (polled every 20 ms), not when it ended 3 s later.
    let playing = first + Duration::from_secs(1);
    assert!(
        api_at < playing && metrics_at < playing && last > playing,
        "the abandon showed {:.1} ms (API) and {:.1} ms (/metrics) after the message started",
        signed(first, api_at),
        signed(first, metrics_at)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ringing_past_15_s_with_nobody_to_take_it_is_shed() {
    if !e2e::have_sipp("daemon end-to-end test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Predictive (one agent: it dials progressively), the ring timeout far past 15 s; the far
    // end rings until it is cancelled.
    let setup = Setup {
        mode: "predictive".into(),
        ring_timeout: "40s".into(),
        ..Setup::new(&["alice"])
    };
    let config_path = setup.write(dir.path());
    let _agent = e2e::agent_phone(setup.agent_port("alice"));
    let mut carrier = e2e::Sipp::start(
        "carrier",
        &[
            "-sf",
            e2e::repo()
                .join("tests/sipp/uas_no_answer.xml")
                .to_str()
                .unwrap(),
            "-p",
            &setup.trunk().to_string(),
            "-m",
            "1",
        ],
    );
    carrier.wait_bound(setup.trunk());

    let (_db, store, daemon) = start(&setup, &config_path).await;
    let control = daemon.control();
    // The call goes out for alice; then she pauses: whoever it brings would find nobody.
    alice_pauses_after_the_dial(&control, &carrier).await;

    let attempt = call_done(&store, &mut carrier, daemon).await;

    assert_eq!(attempt.outcome.as_deref(), Some("shed"), "{attempt:?}");
    assert_eq!(attempt.sip_status, Some(487));
    assert!(!attempt.live && !attempt.abandoned);
    // Not before the legal 15 s, and well before the ring timeout.
    let rang = attempt.end_at_ms.unwrap() - attempt.dial_at_ms;
    assert!((15_000..30_000).contains(&rang), "hung up after {rang} ms");
    let lead = the_lead(&store).await;
    assert_eq!(lead.last_outcome.as_deref(), Some("shed"));
    assert!(lead.next_attempt_at_ms.is_some(), "{lead:?}");
}

/// The agent pauses the recording (a card number), resumes it and pauses again until the end:
/// the customer's tone, sent while paused, is silence in the file, and both paused parts are
/// stored with the attempt (the last one ending with the call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_recording_is_silence_and_its_intervals_are_stored() {
    if !e2e::have_sipp("daemon end-to-end test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The customer: 3 s of quiet (the agent pauses in it), 2 s of 1 kHz, quiet; hangs up at 6 s.
    let mut pcm = e2e::silence(3000);
    pcm.extend(e2e::tone(1000.0, 2000, 8000.0));
    pcm.extend(e2e::silence(1500));
    let stream = e2e::write_ulaw(&dir.path().join("customer.wav"), &pcm);
    let announce = e2e::write_pcm(&dir.path().join("announce.wav"), &e2e::silence(100));
    let setup = Setup {
        top: format!("recording = {{ announce = {announce:?} }}"),
        ..Setup::new(&["alice"])
    };
    let config_path = setup.write(dir.path());
    let _agent = e2e::agent_phone(setup.agent_port("alice"));
    let carrier = Carrier {
        ring: Duration::from_millis(200),
        media: CarrierMedia::Sipp,
        stream: Some(stream),
        end: CarrierEnd::HangUpAfter(Duration::from_millis(6000)),
        keys: vec![],
    }
    .start(setup.trunk());
    let (_db, store, daemon) = start(&setup, &config_path).await;
    let control = daemon.control();

    // Not on a call yet: nothing to pause.
    assert!(
        control
            .ask(Request::RecordingPause("alice".into()))
            .await
            .is_err()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let agents = control.agents().await.unwrap();
        if agents[0].state == dialer::agents::State::OnCall {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alice never on a call: {agents:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for r in [
        Request::RecordingPause("alice".into()),
        Request::RecordingResume("alice".into()),
        Request::RecordingPause("alice".into()),
    ] {
        control.ask(r).await.expect("pause/resume");
    }

    let attempt = e2e::finished_attempt(&store, Duration::from_secs(45), &[&carrier]).await;
    assert_eq!(attempt.agent_id.as_deref(), Some("alice"));
    let path = attempt.recording_path.clone().expect("a recording");
    let mut wav = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    // The file runs on through the pause (about 6 s of frames), all of it silence.
    assert!(left.len() >= 8000 * 4, "{} samples per channel", left.len());
    assert!(
        left.iter().chain(right.iter()).all(|&v| v == 0),
        "sound in a paused recording: {} tone frames left, {} right",
        tone_frames(&left, 1000.0).len(),
        tone_frames(&right, 1000.0).len()
    );
    daemon.stop().await;

    let pauses = store.recording_pauses(attempt.id).await.unwrap();
    assert_eq!(pauses.len(), 2, "{pauses:?}");
    let connect = attempt.connect_at_ms.expect("connected");
    let end = attempt.end_at_ms.expect("ended");
    assert!(connect <= pauses[0].0 && pauses[0].0 <= pauses[0].1 && pauses[0].1 <= pauses[1].0);
    assert_eq!(pauses[1].1, end, "the last pause ends with the call");
}
