//! A SIP flood from the trunk's IP on another port during a live call, over UDP on 127.0.0.1
//! (issue 13, items 4, 5 and 8): the flood's forged BYEs and CANCELs (every dialog identifier
//! right) change nothing, the carrier's real BYE ends the call on time, no request draws more
//! than one response, and every request is answered or counted as dropped, by method and
//! reason in `dialer_sip_rejected_requests_total`.
//!
//! The carrier is a scripted UDP peer in the test (it answers, then sends its BYE when the
//! flood is over), so the test knows the dialog's identifiers as a forger would.
//!
//! A binary of its own: it installs its own global metrics recorder (which fails once the
//! daemon's `telemetry::install` has run in the process) and checks exact counts of every
//! request the process's SIP layer rejects, which any other SIP test in the process would add to.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dialer::sip::message::{HasHeaders, Message, Method, Request, Transport};
use dialer::sip::{EndedBy, Outcome, PlaceCall, Sip, SipConfig, Target, TrunkConfig};
use metrics_exporter_prometheus::PrometheusBuilder;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

/// Flood size and length: small enough for a loaded 2-core machine.
const FLOOD: u32 = 2000;
const FLOOD_FOR: Duration = Duration::from_secs(2);

fn recv(sock: &UdpSocket, deadline: Instant) -> Option<(Message, SocketAddr)> {
    let mut buf = vec![0u8; 65_535];
    while Instant::now() < deadline {
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        if let Ok((n, from)) = sock.recv_from(&mut buf)
            && let Ok(m) = Message::parse(&buf[..n])
        {
            return Some((m, from));
        }
    }
    None
}

/// The carrier: answers the INVITE (re-sending the 200 until the ACK), returns the INVITE,
/// where the dialer sends from, and how many datagrams it sent the dialer.
fn carrier_answers(sock: &UdpSocket) -> (Request, SocketAddr, u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let (inv, dialer) = loop {
        match recv(sock, deadline) {
            Some((Message::Request(r), from)) if r.method == Method::Invite => break (r, from),
            Some(_) => continue,
            None => panic!("no INVITE reached the carrier"),
        }
    };
    let mut ok = inv.response(200, Some("carrier"));
    ok.headers.push(
        "Contact",
        format!("<sip:carrier@{}>", sock.local_addr().unwrap()),
    );
    let ok = ok
        .with_body("application/sdp", Bytes::from_static(SDP.as_bytes()))
        .to_bytes();
    sock.send_to(&ok, dialer).unwrap();
    let mut sent = 1;
    let mut resend = Instant::now() + Duration::from_millis(500);
    loop {
        assert!(Instant::now() < deadline, "the 200 was never ACKed");
        match recv(sock, resend.min(deadline)) {
            Some((Message::Request(r), _)) if r.method == Method::Ack => {
                return (inv, dialer, sent);
            }
            Some(_) => {}
            None => {
                sock.send_to(&ok, dialer).unwrap();
                sent += 1;
                resend = Instant::now() + Duration::from_millis(500);
            }
        }
    }
}

/// A request in the call's dialog from the far end, every identifier right.
fn in_dialog(inv: &Request, method: &str, seq: u32, via: SocketAddr, branch: &str) -> Vec<u8> {
    format!(
        "{method} sip:dialer@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK{branch}\r\n\
         From: <sip:+15551230000@127.0.0.1>;tag=carrier\r\nTo: {}\r\nCall-ID: {}\r\n\
         CSeq: {seq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        inv.headers.get("From").unwrap(),
        inv.call_id().unwrap()
    )
    .into_bytes()
}

/// One flood request: new INVITEs, OPTIONS and REGISTERs, the call's BYE and CANCEL forged;
/// every tenth is the one before sent again (a retransmission).
fn flood_request(i: u32, inv: &Request, via: SocketAddr) -> Vec<u8> {
    let i = if i % 10 == 9 { i - 1 } else { i };
    let other = |m: &str| {
        format!(
            "{m} sip:dialer@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bKfl{i}\r\n\
             From: <sip:x@127.0.0.1>;tag=x{i}\r\nTo: <sip:dialer@127.0.0.1>\r\nCall-ID: flood{i}\r\n\
             CSeq: 1 {m}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    };
    match i % 5 {
        0 => other("INVITE"),
        1 => other("OPTIONS"),
        2 => other("REGISTER"),
        3 => in_dialog(inv, "BYE", 2 + i, via, &format!("fb{i}")),
        _ => in_dialog(inv, "CANCEL", 2 + i, via, &format!("fc{i}")),
    }
}

/// `name{labels} value` lines of a Prometheus text rendering.
fn samples(text: &str, name: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k[name.len()..].to_owned(), v.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_the_trunk_ip_neither_ends_nor_delays_the_call() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder of this test binary");

    let carrier = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sip = Sip::start(SipConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        public_ip: None,
        trunks: vec![TrunkConfig {
            name: "carrier".into(),
            host: "127.0.0.1".into(),
            port: carrier.local_addr().unwrap().port(),
            transport: Transport::Udp,
            username: None,
            password: None,
            max_channels: 1,
            calls_per_second: 0.0,
        }],
        allowed: vec![],
        timers: Default::default(),
    })
    .await
    .unwrap();
    let call = sip
        .place_call(PlaceCall {
            target: Target::Number("+15551230000".into()),
            trunk: None,
            caller_id: None,
            offer: Some(("application/sdp".into(), Bytes::from_static(SDP.as_bytes()))),
            ring_timeout: Duration::from_secs(30),
            talk_limit: Some(Duration::from_secs(60)),
        })
        .await
        .unwrap();
    let carrier = Arc::new(carrier);
    let carrier_addr = carrier.local_addr().unwrap();
    let (inv, dialer, oks, answered_at) = tokio::task::spawn_blocking({
        let carrier = carrier.clone();
        move || {
            let (inv, dialer, oks) = carrier_answers(&carrier);
            (inv, dialer, oks, Instant::now())
        }
    })
    .await
    .unwrap();
    // Everything the dialer received so far is the carrier's 200s (its counters are
    // published after each turn of its task).
    let deadline = Instant::now() + Duration::from_secs(5);
    while sip.stats().datagrams < oks {
        assert!(
            Instant::now() < deadline,
            "the dialer never counted the 200"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = sip.stats();
    assert_eq!(before.datagrams, oks);

    // The flood, from the trunk's IP on another port, paced over FLOOD_FOR; a reader counts
    // the responses it draws.
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    let flood_addr = flood.local_addr().unwrap();
    assert_ne!(flood_addr, carrier_addr);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let sock = flood.try_clone().unwrap();
        let stop = stop.clone();
        // (responses, requests) that reached the flood's socket; once told to stop, it reads
        // what is left queued before it counts.
        std::thread::spawn(move || {
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let mut buf = vec![0u8; 65_535];
            let (mut responses, mut requests) = (0u64, 0u64);
            let mut stopping = false;
            loop {
                if !stopping && stop.load(Ordering::Relaxed) {
                    stopping = true;
                    sock.set_nonblocking(true).unwrap();
                }
                match sock.recv_from(&mut buf) {
                    Ok((n, _)) => match Message::parse(&buf[..n]) {
                        Ok(Message::Response(_)) => responses += 1,
                        _ => requests += 1,
                    },
                    Err(_) if stopping => return (responses, requests),
                    Err(_) => {}
                }
            }
        })
    };
    let inv2 = inv.clone();
    tokio::task::spawn_blocking(move || {
        let t0 = Instant::now();
        for i in 0..FLOOD {
            let due = t0 + FLOOD_FOR * i / FLOOD;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait); // pacing the flood, not waiting for a condition
            }
            flood
                .send_to(&flood_request(i, &inv2, flood_addr), dialer)
                .unwrap();
        }
    })
    .await
    .unwrap();

    // The carrier's own BYE, right behind the flood: served at once.
    let bye_at = Instant::now();
    let talk_before_bye = bye_at - answered_at;
    let bye = in_dialog(&inv, "BYE", 1, carrier_addr, "realbye");
    let (status, answered_in, bye_sends) = tokio::task::spawn_blocking(move || {
        let deadline = bye_at + Duration::from_secs(5);
        let mut sends = 0u64;
        loop {
            carrier.send_to(&bye, dialer).unwrap();
            sends += 1;
            let resend = (Instant::now() + Duration::from_millis(500)).min(deadline);
            match recv(&carrier, resend) {
                Some((Message::Response(r), _))
                    if r.cseq().is_ok_and(|c| c.method == Method::Bye) =>
                {
                    return (r.status, bye_at.elapsed(), sends);
                }
                _ => assert!(Instant::now() < deadline, "no answer to the carrier's BYE"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "the carrier's BYE was refused");
    assert!(
        answered_in < Duration::from_secs(1),
        "BYE answered after {answered_in:?}"
    );
    let report = tokio::time::timeout(Duration::from_secs(10), call.report())
        .await
        .expect("the call ended")
        .unwrap();
    assert_eq!(
        (report.outcome, report.ended_by),
        (Outcome::Answered, Some(EndedBy::Them))
    );
    // It lasted until the carrier's BYE: no forged one ended it early.
    let talk = Duration::from_millis(report.talk_ms());
    assert!(
        talk + Duration::from_millis(200) >= talk_before_bye
            && talk <= talk_before_bye + answered_in + Duration::from_millis(200),
        "talk {talk:?}, BYE sent {talk_before_bye:?} after the answer"
    );

    stop.store(true, Ordering::Relaxed);
    let (answered, requests_to_flood) = reader.join().unwrap();
    assert_eq!(
        requests_to_flood, 0,
        "the dialer sent requests to the flood"
    );
    // Every flood request that reached the dialer was answered once or counted as dropped.
    // (The dialer publishes its counters after each turn; the last may lag the BYE's 200.)
    let deadline = Instant::now() + Duration::from_secs(5);
    let (received, dropped) = loop {
        let s = sip.stats();
        let received = s.datagrams - before.datagrams - bye_sends;
        let dropped = s.dropped - before.dropped;
        if answered + dropped == received {
            break (received, dropped);
        }
        assert!(
            Instant::now() < deadline,
            "not accounted for: {received} received, {answered} answered, {dropped} dropped ({s:?})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(received <= u64::from(FLOOD));
    // Loopback may lose a few datagrams on a loaded machine; most must have arrived.
    assert!(received >= u64::from(FLOOD) * 9 / 10, "{received} received");
    assert!(
        answered <= received,
        "{answered} responses to {received} requests"
    );
    eprintln!(
        "flood: {received} requests received, {answered} answered, {dropped} dropped; the \
         carrier's BYE answered in {answered_in:?}, the call lasted {talk:?} (BYE sent \
         {talk_before_bye:?} after the answer)"
    );

    // The metric counts every refusal, by method and reason; the shed ones among them.
    let text = metrics.render();
    let rejected = samples(&text, "dialer_sip_rejected_requests_total");
    let total: u64 = rejected.iter().map(|(_, n)| n).sum();
    let s = sip.stats();
    assert_eq!(total, s.rejected(), "{text}");
    assert!(total >= dropped, "{text}");
    let count = |method: &str, reason: &str| {
        let (m, r) = (
            format!("method=\"{method}\""),
            format!("reason=\"{reason}\""),
        );
        rejected
            .iter()
            .find(|(k, _)| k.contains(&m) && k.contains(&r))
            .map_or(0, |(_, n)| *n)
    };
    assert!(count("BYE", "wrong_source") > 0, "{text}");
    assert!(count("CANCEL", "wrong_source") > 0, "{text}");
    assert!(count("OPTIONS", "rate_limited") > 0, "{text}");
    assert!(count("INVITE", "rate_limited") > 0, "{text}");
    // No request of the flood held a server transaction.
    assert_eq!(sip.transaction_stats().server_overflow, 0);
}
