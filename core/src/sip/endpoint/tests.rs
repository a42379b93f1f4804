//! Endpoint scenarios against a scripted far end, in virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::domain::Outcome;
use crate::sip::call::{CallReport, Credentials, EndedBy};
use crate::sip::guard::RejectReason;
use crate::sip::message::{Response, Uri};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

fn trunk() -> SocketAddr {
    "127.0.0.1:5090".parse().unwrap()
}

struct World {
    ep: Endpoint,
    now: Instant,
    /// Everything we sent, parsed, with when.
    sent: Vec<(Instant, SocketAddr, Message)>,
    events: Vec<EndpointEvent>,
}

impl World {
    fn new() -> World {
        World::with(|_| {})
    }

    fn with(tune: impl FnOnce(&mut EndpointConfig)) -> World {
        let mut cfg = EndpointConfig::new("127.0.0.1:5070".parse().unwrap());
        cfg.allowed = vec![trunk().ip()];
        tune(&mut cfg);
        World {
            ep: Endpoint::new(cfg, 7),
            now: Instant::now(),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn spec(&self, ring: u64, talk: Option<u64>) -> CallSpec {
        CallSpec {
            target: Uri::parse("sip:+15551230000@127.0.0.1:5090").unwrap(),
            dest: trunk(),
            transport: Transport::Udp,
            from: Uri::parse("sip:+15550100@127.0.0.1").unwrap(),
            credentials: Some(Credentials {
                username: "u".into(),
                password: "p".into(),
            }),
            offer: Some(("application/sdp".into(), Bytes::from_static(SDP.as_bytes()))),
            ring_timeout: Duration::from_secs(ring),
            talk_limit: talk.map(Duration::from_secs),
            wall_start: jiff::Timestamp::UNIX_EPOCH,
            pinned: false,
        }
    }

    fn drain(&mut self) {
        while let Some(t) = self.ep.poll_transmit() {
            self.sent.push((
                self.now,
                t.to,
                Message::parse(&t.bytes).expect("we send valid SIP"),
            ));
        }
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
    }

    /// Advance virtual time to `to`, firing timers on the way.
    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(at) = self.ep.poll_timeout() {
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            self.ep.handle_timeout(self.now);
            self.drain();
        }
        self.now = until;
        self.ep.handle_timeout(self.now);
        self.drain();
    }

    fn deliver(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.ep
            .handle_datagram(self.now, from, Transport::Udp, bytes);
        self.drain();
    }

    fn reply(&mut self, req: &Request, status: u16) -> Response {
        let mut r = req.response(status, Some("far"));
        if (200..300).contains(&status) && req.method == Method::Invite {
            r.headers.push("Contact", "<sip:uas@127.0.0.1:5090>");
            r = r.with_body("application/sdp", Bytes::from_static(SDP.as_bytes()));
        }
        self.deliver(trunk(), &r.to_bytes());
        r
    }

    fn requests(&self, m: Method) -> Vec<Request> {
        self.sent
            .iter()
            .filter_map(|(_, _, msg)| match msg {
                Message::Request(r) if r.method == m => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn last(&self, m: Method) -> Request {
        self.requests(m.clone())
            .pop()
            .unwrap_or_else(|| panic!("no {m} sent"))
    }

    fn report(&self) -> CallReport {
        self.events
            .iter()
            .find_map(|e| match e {
                EndpointEvent::Call {
                    event: CallEvent::Ended(r),
                    ..
                } => Some((**r).clone()),
                _ => None,
            })
            .expect("call ended")
    }

    fn ended(&self) -> bool {
        self.events.iter().any(|e| {
            matches!(
                e,
                EndpointEvent::Call {
                    event: CallEvent::Ended(_),
                    ..
                }
            )
        })
    }

    /// Everything cleaned up once every timer has run.
    fn assert_idle_eventually(&mut self) {
        self.advance(Duration::from_secs(70));
        assert!(self.ep.is_idle(), "state left: {:?}", self.ep);
    }
}

#[test]
fn answered_then_our_bye() {
    let mut w = World::new();
    let id = w.ep.place_call(w.now, w.spec(20, None));
    w.drain();
    let inv = w.last(Method::Invite);
    assert_eq!(inv.headers.get("Max-Forwards"), Some("70"));
    assert!(inv.top_via().unwrap().rfc3261_branch().is_some());
    assert_eq!(&inv.body[..], SDP.as_bytes());
    w.reply(&inv, 100);
    w.advance(Duration::from_millis(300));
    w.reply(&inv, 180);
    w.advance(Duration::from_secs(2));
    w.reply(&inv, 200);
    let ack = w.last(Method::Ack);
    assert_eq!(
        ack.uri.as_str(),
        "sip:uas@127.0.0.1:5090",
        "ACK goes to the Contact"
    );
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.hdr_to().unwrap().tag.as_deref(), Some("far"));
    assert_eq!(
        w.requests(Method::Invite).len(),
        1,
        "no retransmission after 100"
    );
    w.advance(Duration::from_secs(5));
    w.ep.hangup(w.now, id);
    w.drain();
    let bye = w.last(Method::Bye);
    assert_eq!(bye.cseq().unwrap().seq, 2);
    assert!(!w.ended());
    w.reply(&bye, 200);
    let r = w.report();
    assert_eq!(
        (r.outcome, r.sip_status, r.ended_by),
        (Outcome::Answered, Some(200), Some(EndedBy::Us))
    );
    assert_eq!(r.ring_ms(), 2300);
    assert_eq!(r.talk_ms(), 5000);
    assert_eq!(r.answer.as_deref(), Some(SDP.as_bytes()));
    assert!(w.events.iter().any(|e| matches!(
        e,
        EndpointEvent::Call {
            event: CallEvent::Answered { .. },
            ..
        }
    )));
    w.assert_idle_eventually();
}

#[test]
fn every_2xx_copy_is_acked_even_after_the_transaction() {
    let mut w = World::new();
    w.ep.place_call(w.now, w.spec(20, Some(1)));
    w.drain();
    let inv = w.last(Method::Invite);
    let ok = w.reply(&inv, 200);
    w.deliver(trunk(), &ok.to_bytes());
    w.advance(Duration::from_millis(500));
    w.deliver(trunk(), &ok.to_bytes());
    assert_eq!(w.requests(Method::Ack).len(), 3);
    // talk limit → BYE; the far end answers it
    w.advance(Duration::from_secs(1));
    let bye = w.last(Method::Bye);
    w.reply(&bye, 200);
    assert_eq!(w.report().talk_ms(), 1500);
    w.advance(Duration::from_secs(40));
    w.deliver(trunk(), &ok.to_bytes());
    w.assert_idle_eventually();
}

#[test]
fn far_end_bye_is_answered_and_ends_the_call() {
    let mut w = World::new();
    w.ep.place_call(w.now, w.spec(20, None));
    w.drain();
    let inv = w.last(Method::Invite);
    w.reply(&inv, 200);
    w.advance(Duration::from_secs(3));
    let bye = format!(
        "BYE sip:dialer@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKfar1\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\nMax-Forwards: 70\r\n\r\n",
        format_args!("<sip:+15551230000@127.0.0.1:5090>;tag=far"),
        inv.headers.get("From").unwrap(),
        inv.call_id().unwrap()
    );
    w.deliver(trunk(), bye.as_bytes());
    let Some((_, _, Message::Response(ok))) = w.sent.last() else {
        panic!()
    };
    assert_eq!(ok.status, 200);
    let r = w.report();
    assert_eq!(
        (r.outcome, r.ended_by, r.talk_ms()),
        (Outcome::Answered, Some(EndedBy::Them), 3000)
    );
    w.assert_idle_eventually();
}

#[test]
fn busy_and_friends_map_to_outcomes_and_are_acked() {
    for (status, outcome) in [
        (486, Outcome::Busy),
        (404, Outcome::InvalidNumber),
        (503, Outcome::Congestion),
        (480, Outcome::NoAnswer),
        (403, Outcome::Rejected),
    ] {
        let mut w = World::new();
        w.ep.place_call(w.now, w.spec(20, None));
        w.drain();
        let inv = w.last(Method::Invite);
        w.reply(&inv, 183);
        w.reply(&inv, status);
        assert_eq!(w.last(Method::Ack).cseq().unwrap().seq, 1);
        let r = w.report();
        assert_eq!((r.outcome, r.sip_status), (outcome, Some(status)));
        w.assert_idle_eventually();
    }
}

#[test]
fn ring_timeout_cancels_and_487_is_no_answer() {
    let mut w = World::new();
    w.ep.place_call(w.now, w.spec(15, None));
    w.drain();
    let inv = w.last(Method::Invite);
    w.advance(Duration::from_secs(1));
    w.reply(&inv, 180);
    // 15 s from the first ring, not from the INVITE.
    w.advance(Duration::from_millis(14_900));
    assert!(w.requests(Method::Cancel).is_empty());
    w.advance(Duration::from_millis(200));
    let cancel = w.last(Method::Cancel);
    assert_eq!(
        cancel.top_via().unwrap().branch,
        inv.top_via().unwrap().branch
    );
    assert_eq!(cancel.cseq().unwrap().seq, 1);
    assert_eq!(cancel.uri, inv.uri);
    w.reply(&cancel, 200);
    w.reply(&inv, 487);
    let r = w.report();
    assert_eq!((r.outcome, r.sip_status), (Outcome::NoAnswer, Some(487)));
    assert_eq!(r.ring_ms(), 16_100);
    w.assert_idle_eventually();
}

#[test]
fn a_200_crossing_our_cancel_is_acked_and_byed() {
    let mut w = World::new();
    w.ep.place_call(w.now, w.spec(15, None));
    w.drain();
    let inv = w.last(Method::Invite);
    w.reply(&inv, 180);
    w.advance(Duration::from_secs(16));
    let cancel = w.last(Method::Cancel);
    w.reply(&inv, 200);
    w.reply(&cancel, 481);
    assert_eq!(w.requests(Method::Ack).len(), 1);
    let bye = w.last(Method::Bye);
    w.reply(&bye, 200);
    let r = w.report();
    assert_eq!(
        (r.outcome, r.sip_status, r.answered),
        (Outcome::NoAnswer, Some(200), None)
    );
    w.assert_idle_eventually();
}

#[test]
fn hangup_before_any_response_waits_for_a_provisional_to_cancel() {
    let mut w = World::new();
    let id = w.ep.place_call(w.now, w.spec(30, None));
    w.drain();
    let inv = w.last(Method::Invite);
    w.ep.hangup(w.now, id);
    w.drain();
    assert!(
        w.requests(Method::Cancel).is_empty(),
        "no CANCEL before a provisional"
    );
    w.reply(&inv, 100);
    let cancel = w.last(Method::Cancel);
    w.reply(&cancel, 200);
    w.reply(&inv, 487);
    assert_eq!(w.report().outcome, Outcome::Interrupted);
    w.assert_idle_eventually();
}

#[test]
fn proxy_challenge_is_answered_with_the_next_cseq() {
    let mut w = World::new();
    w.ep.place_call(w.now, w.spec(20, None));
    w.drain();
    let inv = w.last(Method::Invite);
    let mut ch = inv.response(407, Some("far"));
    ch.headers.push(
        "Proxy-Authenticate",
        r#"Digest realm="trunk", nonce="n1", algorithm=MD5, qop="auth""#,
    );
    w.deliver(trunk(), &ch.to_bytes());
    let invs = w.requests(Method::Invite);
    assert_eq!(invs.len(), 2);
    let retry = &invs[1];
    assert_eq!(retry.cseq().unwrap().seq, 2);
    assert_ne!(
        retry.top_via().unwrap().branch,
        inv.top_via().unwrap().branch
    );
    assert_eq!(retry.call_id().unwrap(), inv.call_id().unwrap());
    assert_eq!(retry.hdr_from().unwrap().tag, inv.hdr_from().unwrap().tag);
    let auth = retry.headers.get("Proxy-Authorization").unwrap();
    assert!(
        auth.contains("username=\"u\"") && auth.contains("nc=00000001"),
        "{auth}"
    );
    // The same challenge again means the credentials are wrong: give up, rejected.
    let mut ch2 = retry.response(407, Some("far"));
    ch2.headers.push(
        "Proxy-Authenticate",
        r#"Digest realm="trunk", nonce="n1", algorithm=MD5"#,
    );
    w.deliver(trunk(), &ch2.to_bytes());
    assert_eq!(w.requests(Method::Invite).len(), 2);
    let r = w.report();
    assert_eq!((r.outcome, r.sip_status), (Outcome::Rejected, Some(407)));
    w.assert_idle_eventually();
}

#[test]
fn no_response_retransmits_then_fails_at_timer_b() {
    let mut w = World::new();
    w.ep.place_call(w.now, w.spec(60, None));
    w.drain();
    w.advance(Duration::from_secs(40));
    assert_eq!(w.requests(Method::Invite).len(), 7);
    let r = w.report();
    assert_eq!((r.outcome, r.sip_status), (Outcome::Failed, None));
    w.assert_idle_eventually();
}

#[test]
fn strangers_get_403_and_no_state() {
    let mut w = World::new();
    let stranger: SocketAddr = "192.0.2.66:5060".parse().unwrap();
    let invite = "INVITE sip:011972599123456@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.66;branch=z9hG4bKx\r\n\
                  From: <sip:a@192.0.2.66>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: fraud\r\nCSeq: 1 INVITE\r\n\r\n";
    w.deliver(stranger, invite.as_bytes());
    w.deliver(stranger, invite.replace("INVITE", "OPTIONS").as_bytes());
    w.deliver(stranger, b"\x00\x01garbage\r\n\r\n");
    let sent: Vec<_> = w.sent.iter().map(|(_, to, m)| (*to, m.clone())).collect();
    assert_eq!(sent.len(), 1);
    let Message::Response(r) = &sent[0].1 else {
        panic!()
    };
    assert_eq!((sent[0].0, r.status), (stranger, 403));
    let s = w.ep.stats();
    assert_eq!((s.unknown_source, s.rejected(), s.malformed), (2, 2, 1));
    assert!(w.ep.is_idle());
    // An INVITE from the trunk outside any call is refused too, and holds no state either.
    w.deliver(
        trunk(),
        invite.replace("192.0.2.66", "127.0.0.1").as_bytes(),
    );
    let Some((_, _, Message::Response(r))) = w.sent.last() else {
        panic!()
    };
    assert_eq!(r.status, 403);
    assert!(w.ep.is_idle());
    assert_eq!(w.ep.stats().incoming_calls, 1);
    w.assert_idle_eventually();
}

#[test]
fn reinvite_hold_is_accepted_and_anything_else_refused() {
    let mut w = World::new();
    w.ep.place_call(w.now, w.spec(20, None));
    w.drain();
    let inv = w.last(Method::Invite);
    w.reply(&inv, 200);
    let reinvite = |seq: u32, sdp: &str| {
        format!(
            "INVITE sip:dialer@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKre{seq}\r\n\
             From: <sip:x@127.0.0.1:5090>;tag=far\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} INVITE\r\n\
             Contact: <sip:uas@127.0.0.1:5090>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            inv.headers.get("From").unwrap(),
            inv.call_id().unwrap(),
            sdp.len()
        )
    };
    let hold = SDP.replace("a=sendrecv", "a=sendonly");
    w.deliver(trunk(), reinvite(1, &hold).as_bytes());
    let Some((_, _, Message::Response(ok))) = w.sent.last().cloned() else {
        panic!()
    };
    assert_eq!(ok.status, 200);
    assert!(
        std::str::from_utf8(&ok.body)
            .unwrap()
            .contains("a=recvonly")
    );
    assert!(w.events.iter().any(|e| matches!(
        e,
        EndpointEvent::Call {
            event: CallEvent::Hold { held: true },
            ..
        }
    )));
    let other = hold.replace("0 8 101", "18");
    w.deliver(trunk(), reinvite(2, &other).as_bytes());
    let Some((_, _, Message::Response(no))) = w.sent.last().cloned() else {
        panic!()
    };
    assert_eq!(no.status, 488);
}

/// A call answered by the trunk (Contact: the trunk's own address), and its INVITE.
fn answered_call(mut w: World) -> (World, Request) {
    w.ep.place_call(w.now, w.spec(20, None));
    w.drain();
    let inv = w.last(Method::Invite);
    w.reply(&inv, 200);
    (w, inv)
}

/// A request of `inv`'s dialog as the far end sends it: every identifier right, as a forger
/// who has seen the call's messages would have them.
fn in_dialog(inv: &Request, method: &str, seq: u32, branch: &str) -> Vec<u8> {
    format!(
        "{method} sip:dialer@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK{branch}\r\n\
         From: <sip:+15551230000@127.0.0.1:5090>;tag=far\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} {method}\r\n\
         Max-Forwards: 70\r\n\r\n",
        inv.headers.get("From").unwrap(),
        inv.call_id().unwrap()
    )
    .into_bytes()
}

/// Responses we sent to `to` since `since` (an index into `sent`).
fn responses_to(w: &World, to: SocketAddr, since: usize) -> Vec<Response> {
    w.sent[since..]
        .iter()
        .filter(|(_, a, _)| *a == to)
        .filter_map(|(_, _, m)| match m {
            Message::Response(r) => Some(r.clone()),
            Message::Request(_) => None,
        })
        .collect()
}

fn rejections(w: &World) -> Vec<(RejectReason, Option<u16>, Option<u64>)> {
    w.events
        .iter()
        .filter_map(|e| match e {
            EndpointEvent::Rejected {
                reason,
                answered,
                log,
                ..
            } => Some((*reason, *answered, *log)),
            _ => None,
        })
        .collect()
}

/// The last response we sent, to whom.
fn last_response(w: &World) -> (SocketAddr, Response) {
    w.sent
        .iter()
        .rev()
        .find_map(|(_, to, m)| match m {
            Message::Response(r) => Some((*to, r.clone())),
            Message::Request(_) => None,
        })
        .expect("a response was sent")
}

#[test]
fn forged_in_dialog_requests_from_the_trunk_ip_on_another_port_change_nothing() {
    let (mut w, inv) = answered_call(World::new());
    let forger: SocketAddr = "127.0.0.1:5091".parse().unwrap();
    let before = w.sent.len();
    w.deliver(forger, &in_dialog(&inv, "BYE", 1, "f1"));
    w.deliver(forger, &in_dialog(&inv, "CANCEL", 999, "f2"));
    w.deliver(forger, &in_dialog(&inv, "INVITE", 7, "f3"));
    w.deliver(forger, &in_dialog(&inv, "BYE", 1, "f1")); // a retransmission
    assert!(!w.ended(), "a forged BYE ended the call");
    let answers = responses_to(&w, forger, before);
    assert_eq!(
        answers.iter().map(|r| r.status).collect::<Vec<_>>(),
        [403, 403, 403, 403],
        "one stateless 403 per forged request"
    );
    assert_eq!(w.sent.len() - before, 4, "nothing else was sent");
    assert_eq!(w.ep.stats().wrong_source, 4);
    assert!(
        rejections(&w)
            .iter()
            .all(|(r, a, _)| (*r, *a) == (RejectReason::WrongSource, Some(403)))
    );
    assert_eq!(w.ep.transaction_stats(), Default::default());
    // The carrier's own BYE (CSeq 1: the forged CANCEL moved nothing) ends the call.
    w.advance(Duration::from_secs(2));
    w.deliver(trunk(), &in_dialog(&inv, "BYE", 1, "real"));
    let (to, ok) = last_response(&w);
    assert_eq!((to, ok.status), (trunk(), 200));
    let r = w.report();
    assert_eq!(
        (r.outcome, r.ended_by, r.talk_ms()),
        (Outcome::Answered, Some(EndedBy::Them), 2000)
    );
    w.assert_idle_eventually();
}

#[test]
fn an_in_dialog_cancel_leaves_the_cseq_alone() {
    let (mut w, inv) = answered_call(World::new());
    // Even from the trunk itself: there is nothing to cancel, and a CANCEL is no step in the
    // dialog's CSeq sequence.
    w.deliver(trunk(), &in_dialog(&inv, "CANCEL", 999, "c1"));
    assert_eq!(last_response(&w).1.status, 481);
    w.deliver(trunk(), &in_dialog(&inv, "BYE", 1, "b1"));
    assert_eq!(last_response(&w).1.status, 200, "the real BYE was refused");
    assert_eq!(w.report().ended_by, Some(EndedBy::Them));
    w.assert_idle_eventually();
}

#[test]
fn in_dialog_requests_come_from_the_remote_target_too() {
    let mut w = World::new();
    w.ep.place_call(w.now, w.spec(20, None));
    w.drain();
    let inv = w.last(Method::Invite);
    // The far end's Contact is another port of the trunk's host: it is the dialog's peer.
    let phone: SocketAddr = "127.0.0.1:5095".parse().unwrap();
    let mut ok = inv.response(200, Some("far"));
    ok.headers.push("Contact", format!("<sip:uas@{phone}>"));
    let ok = ok.with_body("application/sdp", Bytes::from_static(SDP.as_bytes()));
    w.deliver(trunk(), &ok.to_bytes());
    assert_eq!(
        w.sent.last().unwrap().1,
        phone,
        "the ACK goes to the Contact"
    );
    w.deliver(phone, &in_dialog(&inv, "BYE", 1, "p1"));
    let (to, resp) = last_response(&w);
    assert_eq!((to, resp.status), (phone, 200));
    assert!(w.ended());
    assert_eq!(w.ep.stats().rejected(), 0);
}

#[test]
fn a_flood_from_the_trunk_ip_neither_starves_the_call_nor_is_amplified() {
    // A small transaction table, that a few seconds of flood would fill (before, the real BYE
    // was then dropped), and the default one (before, timer G re-sent each 403 to an INVITE:
    // 2,000 requests drew 10,000 responses).
    for table in [64, EndpointConfig::new(trunk()).max_server_transactions] {
        flood_during_a_call(table);
    }
}

fn flood_during_a_call(table: usize) {
    let (mut w, inv) = answered_call(World::with(|c| c.max_server_transactions = table));
    let flood: SocketAddr = "127.0.0.1:5099".parse().unwrap();
    let before = w.sent.len();
    let t0 = w.now;
    // 2,000 requests over 2 s: new INVITEs, OPTIONS, REGISTERs, the call's BYE and CANCEL
    // forged, and every tenth one sent twice (a retransmission).
    let mut sent = 0;
    let mut last = Vec::new();
    for i in 0..2000u32 {
        let msg = if i % 10 == 9 {
            last.clone()
        } else {
            let other = |m: &str| {
                format!(
                    "{m} sip:dialer@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKfl{i}\r\n\
                     From: <sip:x@127.0.0.1>;tag=x{i}\r\nTo: <sip:dialer@127.0.0.1>\r\nCall-ID: flood{i}\r\n\
                     CSeq: 1 {m}\r\nMax-Forwards: 70\r\n\r\n"
                )
                .into_bytes()
            };
            match i % 5 {
                0 => other("INVITE"),
                1 => other("OPTIONS"),
                2 => other("REGISTER"),
                3 => in_dialog(&inv, "BYE", 2 + i, &format!("fb{i}")),
                _ => in_dialog(&inv, "CANCEL", 2 + i, &format!("fc{i}")),
            }
        };
        w.deliver(flood, &msg);
        last = msg;
        sent += 1;
        w.advance(Duration::from_millis(1));
    }
    assert!(!w.ended(), "a forged request ended the call");
    // The carrier's BYE right after the flood is served at once.
    w.deliver(trunk(), &in_dialog(&inv, "BYE", 1, "real"));
    let (to, ok) = last_response(&w);
    assert_eq!((to, ok.status), (trunk(), 200));
    let r = w.report();
    assert_eq!(r.ended_by, Some(EndedBy::Them));
    assert_eq!(r.ended, t0 + Duration::from_secs(2));
    // Long after, when every retransmission timer would have run: at most one response per
    // request, and every request not answered was counted as dropped.
    w.advance(Duration::from_secs(40));
    let answered = responses_to(&w, flood, before).len();
    let dropped = rejections(&w)
        .iter()
        .filter(|(_, a, _)| a.is_none())
        .count();
    assert!(answered <= sent, "{answered} responses to {sent} requests");
    assert_eq!(
        answered + dropped,
        sent,
        "every request answered once or counted"
    );
    let s = w.ep.stats();
    // Of the 1,200 outside the call, those over 20/s after a burst of 40 were shed.
    assert_eq!(s.rate_limited + s.out_of_dialog, 1200, "{s:?}");
    assert!(s.out_of_dialog <= 40 + 2 * 20 + 1, "{s:?}");
    assert_eq!(s.wrong_source, 800, "{s:?}");
    // Only the real BYE ever held a server transaction.
    assert_eq!(w.ep.transaction_stats().server_overflow, 0);
    w.assert_idle_eventually();
}

#[test]
fn every_refused_request_is_counted_and_logged_once_per_source_per_10s() {
    let mut w = World::new();
    let stranger: SocketAddr = "192.0.2.66:5060".parse().unwrap();
    let req = |m: &str, i: u32| {
        format!(
            "{m} sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.66;branch=z9hG4bKs{i}\r\n\
             From: <sip:a@192.0.2.66>;tag={i}\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: s{i}\r\nCSeq: 1 {m}\r\n\r\n"
        )
    };
    // 1,000 requests/s for a second: OPTIONS, REGISTER, INVITE, MESSAGE, an extension method.
    for i in 0..1000u32 {
        let m = ["OPTIONS", "REGISTER", "INVITE", "MESSAGE", "FOO"][i as usize % 5];
        w.deliver(stranger, req(m, i).as_bytes());
        w.advance(Duration::from_millis(1));
    }
    let rej = rejections(&w);
    assert_eq!(rej.len(), 1000);
    assert!(
        rej.iter()
            .all(|(r, _, _)| *r == RejectReason::UnknownSource)
    );
    let lines: Vec<u64> = rej.iter().filter_map(|(_, _, l)| *l).collect();
    assert_eq!(lines, [0], "one log line in the first 10 s");
    // INVITEs are answered 403 within the rate limit, the rest dropped.
    let answered = rej.iter().filter(|(_, a, _)| a.is_some()).count();
    assert!((1..=200).contains(&answered), "{answered}");
    assert_eq!(w.ep.stats().unknown_source, 1000);
    w.advance(Duration::from_secs(10));
    w.deliver(stranger, req("OPTIONS", 5000).as_bytes());
    let lines: Vec<u64> = rejections(&w).iter().filter_map(|(_, _, l)| *l).collect();
    assert_eq!(
        lines,
        [0, 999],
        "the next line says how many were not logged"
    );
    assert!(w.ep.is_idle());
}

/// A registered phone behind NAT: its 200 names a private Contact, yet the ACK and the BYE go
/// to the address the call was sent to (the one it registered from).
#[test]
fn a_pinned_call_sends_every_request_to_its_dest() {
    let mut w = World::new();
    let spec = CallSpec {
        pinned: true,
        ..w.spec(20, None)
    };
    let id = w.ep.place_call(w.now, spec);
    w.drain();
    let inv = w.last(Method::Invite);
    let mut ok = inv.response(200, Some("far"));
    ok.headers.push("Contact", "<sip:alice@10.9.9.9:5062>");
    let ok = ok.with_body("application/sdp", Bytes::from_static(SDP.as_bytes()));
    w.deliver(trunk(), &ok.to_bytes());
    w.ep.hangup(w.now, id);
    w.drain();
    let to: Vec<(Method, SocketAddr, String)> = w
        .sent
        .iter()
        .filter_map(|(_, to, m)| match m {
            Message::Request(r) => Some((r.method.clone(), *to, r.uri.to_string())),
            Message::Response(_) => None,
        })
        .collect();
    let uri = "sip:alice@10.9.9.9:5062".to_string();
    assert_eq!(
        &to[1..],
        [
            (Method::Ack, trunk(), uri.clone()),
            (Method::Bye, trunk(), uri)
        ],
        "in-dialog requests name the Contact but go to the pinned address"
    );
}

/// REGISTERs reach the registrar from any address (answered there, Via stamped); without a
/// registrar they are dropped as before. A bound source's OPTIONS are then served; a
/// stranger's are still dropped.
#[test]
fn registers_from_anywhere_reach_the_registrar() {
    use crate::sip::digest::{Algorithm, Authorization};
    use crate::sip::registrar::{Account, Registrar, RegistrarConfig};

    let phone: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let register = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:127.0.0.1:5070 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bKr{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=p\r\nTo: <sip:alice@127.0.0.1>\r\n\
             Call-ID: reg-1\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:alice@192.168.1.20:5062>\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    };
    let options = "OPTIONS sip:127.0.0.1:5070 SIP/2.0\r\n\
                   Via: SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bKo1\r\nMax-Forwards: 70\r\n\
                   From: <sip:alice@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: o-1\r\n\
                   CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    let mut plain = World::new();
    plain.deliver(phone, register(1, "").as_bytes());
    assert!(plain.sent.is_empty(), "no registrar: dropped");

    let mut w = World::new();
    w.ep.set_registrar(Registrar::new(
        RegistrarConfig::default(),
        vec![Account {
            user: "alice".into(),
            agent: "alice".into(),
            password: "pw".into(),
        }],
        3,
    ));
    w.deliver(phone, options.as_bytes());
    assert!(w.sent.is_empty(), "not bound yet: a stranger");
    w.deliver(phone, register(1, "").as_bytes());
    let (to, ch) = last_response(&w);
    assert_eq!((to, ch.status), (phone, 401));
    assert!(
        ch.headers
            .get("Via")
            .unwrap()
            .contains("received=203.0.113.9")
    );
    let field = ch.headers.get("WWW-Authenticate").unwrap().to_owned();
    let nonce = field
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let a = Authorization {
        username: "alice".into(),
        realm: "dialer".into(),
        nonce: nonce.into(),
        uri: "sip:127.0.0.1:5070".into(),
        response: String::new(),
        algorithm: Algorithm::Md5,
        qop: Some(("c".into(), 1)),
        opaque: None,
    };
    let auth = format!(
        "Authorization: Digest username=\"alice\", realm=\"dialer\", nonce=\"{nonce}\", \
         uri=\"sip:127.0.0.1:5070\", response=\"{}\", qop=auth, nc=00000001, cnonce=\"c\"\r\n",
        a.expected("pw", "REGISTER")
    );
    w.deliver(phone, register(2, &auth).as_bytes());
    let (to, ok) = last_response(&w);
    assert_eq!((to, ok.status), (phone, 200));
    assert_eq!(
        w.ep.registrar()
            .and_then(|r| r.binding("alice"))
            .map(|b| b.source),
        Some(phone)
    );
    assert!(
        w.events
            .iter()
            .any(|e| matches!(e, EndpointEvent::Registrar(_)))
    );
    let sent = w.sent.len();
    w.deliver(phone, options.as_bytes());
    let (to, pong) = last_response(&w);
    assert_eq!((w.sent.len(), to, pong.status), (sent + 1, phone, 200));
    assert!(pong.headers.get("Allow").unwrap().contains("REGISTER"));
    let stranger: SocketAddr = "198.51.100.1:5060".parse().unwrap();
    w.deliver(stranger, options.as_bytes());
    assert_eq!(
        w.sent.len(),
        sent + 1,
        "a stranger's OPTIONS are still dropped"
    );
}
