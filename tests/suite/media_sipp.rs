//! Media interop with sipp: sipp answers our call (placed by our SIP layer with our SDP offer)
//! and streams a WAV with `rtp_stream`; our media leg decodes it and hears the tone.
//!
//! When sipp is missing the test prints a note and passes, unless `DIALER_REQUIRE_SIPP=1`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dialer::media::sdp::{LocalMedia, RemoteMedia};
use dialer::media::{Codec, Driver, DriverConfig};
use dialer::sip::message::Transport;
use dialer::sip::{Outcome, PlaceCall, Sip, SipConfig, Target, TrunkConfig};

use crate::{e2e, rig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_rtp_stream_reaches_our_leg() {
    if !e2e::have_sipp("media interop test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One second of 1 kHz as a µ-law WAV, the form sipp's rtp_stream sends as is.
    let wav_path = e2e::write_ulaw(
        &dir.path().join("tone.wav"),
        &e2e::tone(1000.0, 1000, 8000.0),
    );
    // A trunk that answers, streams the tone, and hangs up 2 s later.
    let port = rig::free_udp_port();
    let mut sipp = e2e::Carrier {
        ring: Duration::ZERO,
        media: e2e::CarrierMedia::Sipp,
        stream: Some(wav_path),
        end: e2e::CarrierEnd::HangUpAfter(Duration::from_secs(2)),
        keys: vec![],
    }
    .start(port);

    let media = Driver::start(DriverConfig {
        keepalive: false,
        ..DriverConfig::default()
    });
    let leg = media.open_leg().unwrap();
    let heard = Arc::new(Mutex::new(Vec::<i16>::new()));
    let sink = heard.clone();
    media
        .set_analyzer(
            leg.id,
            Box::new(move |f: &[i16; 160]| sink.lock().unwrap().extend_from_slice(f)),
        )
        .unwrap();
    let offer = LocalMedia::offer(leg.local.ip(), leg.local.port(), 7).to_sdp();

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
            max_channels: 4,
            calls_per_second: 10.0,
        }],
        allowed: vec![],
        timers: Default::default(),
    })
    .await
    .unwrap();
    let handle = sip
        .place_call(PlaceCall {
            target: Target::Number("+15551230000".into()),
            trunk: Some("sipp".into()),
            caller_id: Some("+15550100".into()),
            offer: Some(("application/sdp".into(), Bytes::from(offer))),
            ring_timeout: Duration::from_secs(30),
            talk_limit: Some(Duration::from_secs(30)),
        })
        .await
        .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(90), handle.report())
        .await
        .expect("call ended")
        .unwrap();
    assert_eq!(report.outcome, Outcome::Answered);
    let answer = RemoteMedia::parse(report.answer.as_deref().expect("an SDP answer")).unwrap();
    assert_eq!(answer.codec, Codec::Pcmu);

    let status = sipp.exit(Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "sipp scenario failed: {status}\n{}",
        sipp.logs()
    );

    let stats = media.close_leg(leg.id).unwrap();
    let heard = heard.lock().unwrap().clone();
    assert!(stats.received >= 40, "{} packets from sipp", stats.received);
    assert!(heard.len() >= 40 * 160, "{} samples decoded", heard.len());
    // What we decoded is sipp's 1 kHz tone, not noise: compare against other frequencies.
    let p1k = e2e::power(&heard, 1000.0);
    for f in [300.0, 700.0, 1500.0, 2500.0] {
        assert!(p1k > 1000.0 * e2e::power(&heard, f), "1 kHz vs {f} Hz");
    }
}
