//! Datagrams → SIP parser → transaction layer and endpoint (with a live call, so responses
//! reach the call state machine): nothing panics, and once every timer has run no transaction
//! and no call is left (bounded state). Input: datagrams separated by NUL bytes; the first
//! byte of each picks the source (trunk or stranger).
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dialer_core::sip::call::CallSpec;
use dialer_core::sip::endpoint::{Endpoint, EndpointConfig};
use dialer_core::sip::message::{Message, Transport, Uri};
use dialer_core::sip::transaction::{Timers, TransactionLayer, TxEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let trunk: SocketAddr = "127.0.0.1:5090".parse().unwrap();
    let stranger: SocketAddr = "192.0.2.9:5060".parse().unwrap();

    let mut layer = TransactionLayer::new(Timers::default(), 64);
    let mut cfg = EndpointConfig::new("127.0.0.1:5070".parse().unwrap());
    cfg.allowed = vec![trunk.ip()];
    let mut ep = Endpoint::new(cfg, 3);
    ep.place_call(
        t0,
        CallSpec {
            target: Uri::parse("sip:100@127.0.0.1:5090").unwrap(),
            dest: trunk,
            transport: Transport::Udp,
            from: Uri::parse("sip:d@127.0.0.1").unwrap(),
            credentials: None,
            offer: Some(("application/sdp".into(), bytes::Bytes::from_static(b"v=0\r\n"))),
            ring_timeout: Duration::from_secs(20),
            talk_limit: Some(Duration::from_secs(1)),
            wall_start: jiff::Timestamp::UNIX_EPOCH,
            pinned: false,
        },
    );

    for (i, dgram) in data.split(|b| *b == 0).filter(|d| !d.is_empty()).take(16).enumerate() {
        let now = t0 + Duration::from_millis(100 * i as u64);
        let from = if dgram[0] & 1 == 0 { trunk } else { stranger };
        let dgram = &dgram[1..];
        ep.handle_datagram(now, from, Transport::Udp, dgram);
        ep.handle_timeout(now);
        while ep.poll_transmit().is_some() {}
        while ep.poll_event().is_some() {}

        layer.handle_timeout(now);
        if let Ok(msg) = Message::parse(dgram) {
            let again = Message::parse(&msg.to_bytes());
            assert!(again.is_ok(), "our own serialisation does not parse: {again:?}");
            layer.handle_message(now, from, Transport::Udp, msg);
        }
        while let Some(ev) = layer.poll_event() {
            if let TxEvent::Request { tx: Some(tx), request, .. } = ev {
                let status = if i % 2 == 0 { 200 } else { 486 };
                layer.respond(now, tx, request.response(status, Some("fz")));
            }
        }
        while layer.poll_transmit().is_some() {}
    }
    let end = t0 + Duration::from_secs(300);
    for _ in 0..100_000 {
        let next = [layer.poll_timeout(), ep.poll_timeout()].into_iter().flatten().min();
        let Some(at) = next.filter(|at| *at <= end) else { break };
        layer.handle_timeout(at);
        ep.handle_timeout(at);
        while layer.poll_event().is_some() {}
        while layer.poll_transmit().is_some() {}
        while ep.poll_event().is_some() {}
        while ep.poll_transmit().is_some() {}
    }
    assert!(layer.is_empty(), "transactions left after every timer ran: {:?}", layer.len());
    assert!(ep.is_idle(), "endpoint state left after every timer ran");
});
