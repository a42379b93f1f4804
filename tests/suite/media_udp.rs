//! The media driver over real UDP on 127.0.0.1: prompts on the 20 ms clock, bridges both ways
//! with rewritten headers, recording channels, DTMF, symmetric RTP, inactivity, the port range.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialer::media::rtp::{Header, Packet, build, dtmf_payload};
use dialer::media::sdp::{LocalMedia, RemoteMedia};
use dialer::media::{Codec, Driver, DriverConfig, Event, Leg, LegEvent, MediaError};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

fn quiet() -> DriverConfig {
    DriverConfig {
        keepalive: false,
        ..DriverConfig::default()
    }
}

async fn phone() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

/// The SDP a phone at `addr` would answer with.
fn sdp_of(addr: SocketAddr, codec: Codec) -> RemoteMedia {
    let mut l = LocalMedia::offer(addr.ip(), addr.port(), 1);
    l.codecs = vec![(codec.payload_type(), codec)];
    RemoteMedia::parse(l.to_sdp().as_bytes()).unwrap()
}

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr, Instant) {
    let mut buf = vec![0u8; 2048];
    let (n, from) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .expect("no packet within 5 s")
        .unwrap();
    buf.truncate(n);
    (buf, from, Instant::now())
}

async fn next_event(leg: &mut Leg) -> LegEvent {
    timeout(WAIT, leg.events.recv())
        .await
        .expect("no event within 5 s")
        .expect("event channel closed")
}

fn tone(freq: f64, samples: usize, amp: f64) -> Vec<i16> {
    (0..samples)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

fn power(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = v as f64 + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - c * s1 * s2
}

#[tokio::test]
async fn prompt_reaches_the_far_end_at_20ms_pacing() {
    let media = Driver::start(quiet());
    let mut leg = media.open_leg().unwrap();
    let far = phone().await;
    media
        .set_remote(leg.id, &sdp_of(far.local_addr().unwrap(), Codec::Pcmu))
        .unwrap();
    let pcm = tone(440.0, 8000, 8000.0);
    let id = media.play(leg.id, Arc::from(pcm.clone())).unwrap();

    let mut got = Vec::new();
    for _ in 0..50 {
        let (b, from, at) = recv(&far).await;
        assert_eq!(from, leg.local);
        let p = Packet::parse(&b).unwrap();
        got.push((p.ssrc, p.seq, p.timestamp, p.marker, p.payload.to_vec(), at));
    }
    let (ssrc, seq0, ts0) = (got[0].0, got[0].1, got[0].2);
    let mut decoded = Vec::new();
    for (i, (s, seq, ts, marker, payload, _)) in got.iter().enumerate() {
        assert_eq!(*s, ssrc);
        assert_eq!(*seq, seq0.wrapping_add(i as u16));
        assert_eq!(*ts, ts0.wrapping_add(160 * i as u32));
        assert_eq!(*marker, i == 0);
        decoded.extend(payload.iter().map(|&b| Codec::Pcmu.decode_sample(b)));
    }
    let want: Vec<i16> = pcm
        .iter()
        .map(|&v| Codec::Pcmu.decode_sample(Codec::Pcmu.encode_sample(v)))
        .collect();
    assert_eq!(decoded, want, "the far end decodes the prompt's audio");
    // One second of audio took about a second: paced, not a burst (lateness only adds time).
    let span = got[49].5 - got[0].5;
    assert!(span >= Duration::from_millis(800), "50 frames in {span:?}");
    assert_eq!(
        next_event(&mut leg).await,
        LegEvent::Media(Event::PromptFinished {
            id,
            completed: true
        })
    );
    let st = media.stats();
    assert_eq!(st.sent, 50);
    assert_eq!(st.send_errors, 0);
}

#[tokio::test]
async fn bridged_legs_pass_audio_both_ways_and_record_stereo() {
    let media = Driver::start(quiet());
    let mut cust = media.open_leg().unwrap();
    let mut agent = media.open_leg().unwrap();
    let cust_phone = phone().await;
    let agent_phone = phone().await;
    media
        .set_remote(
            cust.id,
            &sdp_of(cust_phone.local_addr().unwrap(), Codec::Pcmu),
        )
        .unwrap();
    media
        .set_remote(
            agent.id,
            &sdp_of(agent_phone.local_addr().unwrap(), Codec::Pcmu),
        )
        .unwrap();

    // The agent first hears a short prompt: our stream to the agent starts there.
    media.play(agent.id, Arc::from(vec![3000i16; 480])).unwrap();
    let mut prompt = Vec::new();
    for _ in 0..3 {
        let (b, _, _) = recv(&agent_phone).await;
        let p = Packet::parse(&b).unwrap();
        prompt.push((p.ssrc, p.seq, p.timestamp));
    }
    assert!(matches!(
        next_event(&mut agent).await,
        LegEvent::Media(Event::PromptFinished { .. })
    ));

    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("rec/call.wav");
    media.bridge(cust.id, agent.id, Some(&wav)).unwrap();

    // 0.5 s both ways: the customer says 500 Hz, the agent 1500 Hz. Source numbering is
    // arbitrary (and wraps); what arrives must be in each leg's own numbering.
    let c_audio = tone(500.0, 4000, 8000.0);
    let a_audio = tone(1500.0, 4000, 8000.0);
    let mut sent_c = Vec::new();
    for i in 0..25usize {
        let enc = |pcm: &[i16]| -> Vec<u8> {
            pcm[i * 160..(i + 1) * 160]
                .iter()
                .map(|&v| Codec::Pcmu.encode_sample(v))
                .collect()
        };
        let cp = enc(&c_audio);
        let h = |seq: u16, ts: u32| Header {
            seq,
            timestamp: ts,
            marker: i == 0,
        };
        let seq = 65530u16.wrapping_add(i as u16);
        let ts = (u32::MAX - 800).wrapping_add(160 * i as u32);
        cust_phone
            .send_to(&build(0x1111, 0, h(seq, ts), &cp), cust.local)
            .await
            .unwrap();
        agent_phone
            .send_to(&build(0x2222, 0, h(seq, ts), &enc(&a_audio)), agent.local)
            .await
            .unwrap();
        sent_c.push(cp);
        // Phones send a frame every 20 ms: the pace is the scenario (the recording runs on
        // the same clock), not a wait for something.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut at_agent = Vec::new();
    let mut at_cust = Vec::new();
    for _ in 0..25 {
        at_agent.push(recv(&agent_phone).await);
        at_cust.push(recv(&cust_phone).await);
    }
    let (a_ssrc, last_seq, last_ts) = prompt[2];
    for (i, (b, from, _)) in at_agent.iter().enumerate() {
        assert_eq!(*from, agent.local);
        let p = Packet::parse(b).unwrap();
        assert_eq!(
            p.ssrc, a_ssrc,
            "the agent sees one stream: prompt, then the customer"
        );
        assert_eq!(p.seq, last_seq.wrapping_add(1 + i as u16));
        // Timestamps move on from the prompt's and keep the customer's 20 ms spacing.
        let since = p.timestamp.wrapping_sub(last_ts);
        assert!(since > 160 * i as u32 && since < 8000 * 60, "{since}");
        assert_eq!(
            p.payload,
            &sent_c[i][..],
            "customer audio reaches the agent unchanged"
        );
    }
    let c0 = Packet::parse(&at_cust[0].0).unwrap();
    assert_ne!(c0.ssrc, 0x2222);
    for (i, (b, from, _)) in at_cust.iter().enumerate() {
        assert_eq!(*from, cust.local);
        let p = Packet::parse(b).unwrap();
        assert_eq!(p.ssrc, c0.ssrc);
        assert_eq!(p.seq, c0.seq.wrapping_add(i as u16));
        assert_eq!(p.timestamp, c0.timestamp.wrapping_add(160 * i as u32));
    }

    // End the bridge once the driver has read all 50 packets and the recording clock has
    // written every frame they brought.
    let started = Instant::now();
    while media.stats().received < 50 || media.recording_backlog(cust.id) != Some(0) {
        assert!(
            started.elapsed() < WAIT,
            "recording not caught up: {:?}, backlog {:?}",
            media.stats(),
            media.recording_backlog(cust.id)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    media.unbridge(cust.id);
    let frames = loop {
        match next_event(&mut cust).await {
            LegEvent::RecordingFinished { frames } => break frames,
            LegEvent::RecordingFailed(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert!(frames >= 25, "{frames} frames recorded");
    let mut r = hound::WavReader::open(&wav).unwrap();
    assert_eq!(r.spec().channels, 2);
    assert_eq!(r.spec().sample_rate, 8000);
    let s: Vec<i16> = r.samples::<i16>().map(|x| x.unwrap()).collect();
    let left: Vec<i16> = s.iter().step_by(2).copied().collect();
    let right: Vec<i16> = s.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(left.len() as u64, frames * 160);
    assert!(
        power(&left, 500.0) > 100.0 * power(&left, 1500.0),
        "customer on the left"
    );
    assert!(
        power(&right, 1500.0) > 100.0 * power(&right, 500.0),
        "agent on the right"
    );
    // Every one of the 25 frames of each side is in the recording (one packet, one frame).
    let frames_of = |x: &[i16], f: f64, other: f64| {
        x.chunks(160)
            .filter(|c| power(c, f) > 100.0 * power(c, other).max(1.0))
            .count()
    };
    assert_eq!(
        frames_of(&left, 500.0, 1500.0),
        25,
        "customer frames recorded"
    );
    assert_eq!(
        frames_of(&right, 1500.0, 500.0),
        25,
        "agent frames recorded"
    );
    let _ = agent.events.try_recv();
}

#[tokio::test]
async fn dtmf_is_received_and_media_latches_to_the_real_source() {
    let media = Driver::start(quiet());
    let mut leg = media.open_leg().unwrap();
    let announced = phone().await; // what the SDP says
    let actual = phone().await; // where the packets really come from (NAT)
    let mut sdp = sdp_of(announced.local_addr().unwrap(), Codec::Pcmu);
    sdp.telephone_event = Some(96);
    media.set_remote(leg.id, &sdp).unwrap();

    let mut seq = 100u16;
    for (ts, digit) in [(8000u32, 4u8), (16000, 11)] {
        for (dur, end) in [
            (160u16, false),
            (320, false),
            (480, false),
            (640, true),
            (640, true),
            (640, true),
        ] {
            let h = Header {
                seq,
                timestamp: ts,
                marker: dur == 160,
            };
            seq += 1;
            actual
                .send_to(
                    &build(0x77, 96, h, &dtmf_payload(digit, end, 10, dur)),
                    leg.local,
                )
                .await
                .unwrap();
            // Packets of an event a few ms apart, as a phone sends them: the scenario's pace.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut evs = Vec::new();
    while evs.len() < 3 {
        evs.push(next_event(&mut leg).await);
    }
    assert_eq!(
        evs[0],
        LegEvent::Media(Event::Latched(actual.local_addr().unwrap()))
    );
    let digits: Vec<(char, u32)> = evs[1..]
        .iter()
        .map(|e| match e {
            LegEvent::Media(Event::Dtmf(d)) => (d.digit, d.duration_ms),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(digits, vec![('4', 80), ('#', 80)]);

    // Our media now goes where theirs comes from.
    media.play(leg.id, Arc::from(vec![0i16; 160])).unwrap();
    let (b, _, _) = recv(&actual).await;
    assert!(Packet::parse(&b).is_some());
    let mut buf = [0u8; 64];
    assert!(announced.try_recv_from(&mut buf).is_err());
}

#[tokio::test]
async fn inactivity_is_reported_after_media_stops() {
    let media = Driver::start(DriverConfig {
        inactivity: Duration::from_millis(1000),
        ..quiet()
    });
    let mut leg = media.open_leg().unwrap();
    let far = phone().await;
    media
        .set_remote(leg.id, &sdp_of(far.local_addr().unwrap(), Codec::Pcmu))
        .unwrap();
    let mut last = Instant::now();
    for i in 0..10u16 {
        let h = Header {
            seq: i,
            timestamp: 160 * u32::from(i),
            marker: false,
        };
        far.send_to(&build(5, 0, h, &[0xFF; 160]), leg.local)
            .await
            .unwrap();
        last = Instant::now();
        // A phone's 20 ms pace; then silence, whose length is what the test measures.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    loop {
        match next_event(&mut leg).await {
            LegEvent::Media(Event::Inactive) => break,
            LegEvent::Media(Event::Latched(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(
        last.elapsed() >= Duration::from_millis(990),
        "fired {:?} after the last packet",
        last.elapsed()
    );
    let stats = media.close_leg(leg.id).unwrap();
    assert_eq!(stats.received, 10);
}

#[tokio::test]
async fn legs_take_even_ports_from_the_range_and_give_them_back() {
    // Find a free even pair of ports to use as the range.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let p = probe.local_addr().unwrap().port() & !1;
    drop(probe);
    let (min, max) = (
        p.saturating_sub(2).max(1024),
        p.saturating_sub(2).max(1024) + 4,
    );
    let media = Driver::start(DriverConfig {
        port_min: min,
        port_max: max,
        ..quiet()
    });
    let mut open = Vec::new();
    loop {
        match media.open_leg() {
            Ok(l) => {
                assert_eq!(l.local.port() % 2, 0);
                assert!((min..max).contains(&l.local.port()));
                open.push(l);
            }
            Err(MediaError::NoPorts { .. }) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(open.len() <= 2);
    }
    assert!(!open.is_empty(), "no port of {min}..{max} was free");
    let l = open.pop().unwrap();
    let port = l.local.port();
    media.close_leg(l.id);
    // The port is free again once the leg's socket has closed: poll until a new leg gets it.
    let started = Instant::now();
    let again = loop {
        match media.open_leg() {
            Ok(l) => break l,
            Err(MediaError::NoPorts { .. }) if started.elapsed() < WAIT => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => panic!("the closed leg's port never came back: {e}"),
        }
    };
    assert_eq!(again.local.port(), port);
}
