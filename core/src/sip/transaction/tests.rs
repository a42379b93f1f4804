use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::message::Message;

fn peer() -> SocketAddr {
    "127.0.0.1:5090".parse().unwrap()
}

fn request(method: &str, branch: &str) -> Request {
    let text = format!(
        "{method} sip:100@127.0.0.1:5090 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:d@127.0.0.1>;tag=f1\r\n\
         To: <sip:100@127.0.0.1>\r\n\
         Call-ID: cid-{branch}\r\n\
         CSeq: 1 {method}\r\n\r\n"
    );
    match Message::parse(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn response(req: &Request, status: u16) -> Response {
    req.response(status, Some("tt"))
}

fn drain(l: &mut TransactionLayer) -> (Vec<Transmit>, Vec<TxEvent>) {
    let mut t = Vec::new();
    let mut e = Vec::new();
    while let Some(x) = l.poll_transmit() {
        t.push(x);
    }
    while let Some(x) = l.poll_event() {
        e.push(x);
    }
    (t, e)
}

/// Jump from timer to timer until `until`, collecting what happens.
fn run_until(l: &mut TransactionLayer, until: Instant) -> (Vec<(Instant, Transmit)>, Vec<TxEvent>) {
    let mut ts = Vec::new();
    let mut es = Vec::new();
    while let Some(at) = l.poll_timeout() {
        if at > until {
            break;
        }
        l.handle_timeout(at);
        let (t, e) = drain(l);
        ts.extend(t.into_iter().map(|x| (at, x)));
        es.extend(e);
    }
    (ts, es)
}

#[test]
fn invite_client_retransmits_with_doubling_and_times_out_at_64_t1() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 16);
    let inv = request("INVITE", "z9hG4bK1");
    let id = l.send_request(t0, &inv, peer(), Transport::Udp).unwrap();
    assert_eq!(drain(&mut l).0.len(), 1);
    let (ts, es) = run_until(&mut l, t0 + Duration::from_secs(60));
    let at: Vec<u64> = ts
        .iter()
        .map(|(at, _)| (*at - t0).as_millis() as u64)
        .collect();
    assert_eq!(at, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(
        es,
        vec![TxEvent::Timeout { tx: id }, TxEvent::Terminated { tx: id }]
    );
    assert!(l.is_empty());
}

#[test]
fn invite_client_over_tcp_does_not_retransmit() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 16);
    l.send_request(t0, &request("INVITE", "z9hG4bK1"), peer(), Transport::Tcp)
        .unwrap();
    drain(&mut l);
    let (ts, es) = run_until(&mut l, t0 + Duration::from_secs(60));
    assert!(ts.is_empty());
    assert!(matches!(es[0], TxEvent::Timeout { .. }));
}

#[test]
fn invite_client_acks_each_non_2xx_copy_and_delivers_it_once() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 16);
    let inv = request("INVITE", "z9hG4bK2");
    let id = l.send_request(t0, &inv, peer(), Transport::Udp).unwrap();
    drain(&mut l);
    let busy = response(&inv, 486);
    for _ in 0..3 {
        l.handle_message(t0, peer(), Transport::Udp, Message::Response(busy.clone()));
    }
    let (ts, es) = drain(&mut l);
    assert_eq!(ts.len(), 3, "one ACK per copy");
    let Message::Request(ack) = Message::parse(&ts[0].bytes).unwrap() else {
        panic!()
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.top_via().unwrap().branch.as_deref(), Some("z9hG4bK2"));
    assert_eq!(ack.hdr_to().unwrap().tag.as_deref(), Some("tt"));
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(
        es,
        vec![TxEvent::Response {
            tx: id,
            response: busy
        }]
    );
    // No more INVITE retransmissions; gone after timer D.
    let (ts, es) = run_until(&mut l, t0 + Duration::from_secs(40));
    assert!(ts.is_empty());
    assert_eq!(es, vec![TxEvent::Terminated { tx: id }]);
    assert!(l.is_empty());
}

#[test]
fn invite_client_passes_every_2xx_copy_up_then_ends_by_timer_m() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 16);
    let inv = request("INVITE", "z9hG4bK3");
    let id = l.send_request(t0, &inv, peer(), Transport::Udp).unwrap();
    drain(&mut l);
    l.handle_message(
        t0,
        peer(),
        Transport::Udp,
        Message::Response(response(&inv, 180)),
    );
    l.handle_message(
        t0,
        peer(),
        Transport::Udp,
        Message::Response(response(&inv, 200)),
    );
    l.handle_message(
        t0,
        peer(),
        Transport::Udp,
        Message::Response(response(&inv, 200)),
    );
    let (ts, es) = drain(&mut l);
    assert!(ts.is_empty(), "the ACK for a 2xx belongs to the dialog");
    assert_eq!(es.len(), 3);
    let (_, es) = run_until(&mut l, t0 + Duration::from_secs(33));
    assert_eq!(es, vec![TxEvent::Terminated { tx: id }]);
    // A late copy is now stray.
    l.handle_message(
        t0,
        peer(),
        Transport::Udp,
        Message::Response(response(&inv, 200)),
    );
    assert!(matches!(
        drain(&mut l).1[..],
        [TxEvent::StrayResponse { .. }]
    ));
}

#[test]
fn non_invite_client_retransmits_capped_at_t2_and_times_out() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 16);
    let id = l
        .send_request(t0, &request("BYE", "z9hG4bK4"), peer(), Transport::Udp)
        .unwrap();
    drain(&mut l);
    let (ts, es) = run_until(&mut l, t0 + Duration::from_secs(40));
    let at: Vec<u64> = ts
        .iter()
        .map(|(at, _)| (*at - t0).as_millis() as u64)
        .collect();
    assert_eq!(
        at,
        vec![
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert_eq!(
        es,
        vec![TxEvent::Timeout { tx: id }, TxEvent::Terminated { tx: id }]
    );
}

#[test]
fn cancel_is_its_own_transaction_on_the_invite_branch() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 16);
    let inv = request("INVITE", "z9hG4bK5");
    let cancel = request("CANCEL", "z9hG4bK5");
    let i = l.send_request(t0, &inv, peer(), Transport::Udp).unwrap();
    let c = l.send_request(t0, &cancel, peer(), Transport::Udp).unwrap();
    drain(&mut l);
    l.handle_message(
        t0,
        peer(),
        Transport::Udp,
        Message::Response(response(&cancel, 200)),
    );
    l.handle_message(
        t0,
        peer(),
        Transport::Udp,
        Message::Response(response(&inv, 487)),
    );
    let (_, es) = drain(&mut l);
    assert!(
        matches!(&es[..], [TxEvent::Response { tx: a, .. }, TxEvent::Response { tx: b, .. }] if *a == c && *b == i)
    );
}

#[test]
fn non_invite_server_resends_its_answer_to_retransmissions_then_forgets() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 16);
    let bye = request("BYE", "z9hG4bK6");
    l.handle_message(t0, peer(), Transport::Udp, Message::Request(bye.clone()));
    let (_, es) = drain(&mut l);
    let [TxEvent::Request { tx: Some(id), .. }] = es[..] else {
        panic!("{es:?}")
    };
    l.respond(t0, id, bye.response(200, None));
    assert_eq!(drain(&mut l).0.len(), 1);
    l.handle_message(t0, peer(), Transport::Udp, Message::Request(bye.clone()));
    let (ts, es) = drain(&mut l);
    assert_eq!(ts.len(), 1, "200 re-sent");
    assert!(es.is_empty(), "a retransmission is not a new request");
    run_until(&mut l, t0 + Duration::from_secs(33));
    assert!(l.is_empty());
}

#[test]
fn invite_server_rejection_is_resent_until_ack_then_cleaned() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 16);
    let inv = request("INVITE", "z9hG4bK7");
    l.handle_message(t0, peer(), Transport::Udp, Message::Request(inv.clone()));
    let (_, es) = drain(&mut l);
    let [TxEvent::Request { tx: Some(id), .. }] = es[..] else {
        panic!()
    };
    l.respond(t0, id, inv.response(403, Some("x")));
    drain(&mut l);
    // Timer G re-sends at T1 and 2·T1 until the ACK arrives.
    let (ts, _) = run_until(&mut l, t0 + Duration::from_millis(1600));
    assert_eq!(ts.len(), 2);
    let mut ack = request("ACK", "z9hG4bK7");
    ack.headers.remove("CSeq");
    ack.headers.push("CSeq", "1 ACK");
    l.handle_message(
        t0 + Duration::from_millis(1700),
        peer(),
        Transport::Udp,
        Message::Request(ack),
    );
    let (ts, es) = drain(&mut l);
    assert!(ts.is_empty() && es.is_empty(), "ACK absorbed: {es:?}");
    let (ts, _) = run_until(&mut l, t0 + Duration::from_secs(10));
    assert!(ts.is_empty());
    assert!(l.is_empty());
}

#[test]
fn unanswered_and_excess_server_transactions_are_bounded() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default(), 4);
    for i in 0..10 {
        let r = request("OPTIONS", &format!("z9hG4bKo{i}"));
        l.handle_message(t0, peer(), Transport::Udp, Message::Request(r));
    }
    assert_eq!(l.len().1, 4);
    assert_eq!(l.stats().server_overflow, 6);
    run_until(&mut l, t0 + Duration::from_secs(33));
    assert!(l.is_empty());
    assert_eq!(l.timer_entries(), 0);
}
