//! The UAS against our own UAC endpoint, in virtual time, with a wire that can lose messages.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::domain::Outcome;
use crate::sip::call::{CallEvent, CallReport, CallSpec};
use crate::sip::endpoint::{Endpoint, EndpointConfig, EndpointEvent};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

fn uac_addr() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}
fn uas_addr() -> SocketAddr {
    "127.0.0.1:5090".parse().unwrap()
}

struct World {
    uac: Endpoint,
    uas: Uas,
    now: Instant,
    /// Drop UAC → UAS messages for which this returns true.
    drop_to_uas: fn(&Message) -> bool,
    /// Everything that crossed the wire: (to the UAS?, message).
    wire: Vec<(bool, Message)>,
    uac_events: Vec<EndpointEvent>,
    uas_events: Vec<UasEvent>,
}

impl World {
    fn new() -> World {
        let mut c = EndpointConfig::new(uac_addr());
        c.allowed = vec![uas_addr().ip()];
        World {
            uac: Endpoint::new(c, 1),
            uas: Uas::new(UasConfig::new(uas_addr()), 2),
            now: Instant::now(),
            drop_to_uas: |_| false,
            wire: Vec::new(),
            uac_events: Vec::new(),
            uas_events: Vec::new(),
        }
    }

    fn call(&mut self, ring: u64) {
        let spec = CallSpec {
            target: Uri::parse("sip:+15551230001@127.0.0.1:5090").unwrap(),
            dest: uas_addr(),
            transport: Transport::Udp,
            from: Uri::parse("sip:+15550100@127.0.0.1").unwrap(),
            credentials: None,
            offer: Some(("application/sdp".into(), Bytes::from_static(SDP.as_bytes()))),
            ring_timeout: Duration::from_secs(ring),
            talk_limit: None,
            wall_start: jiff::Timestamp::UNIX_EPOCH,
            pinned: false,
        };
        self.uac.place_call(self.now, spec);
        self.pump();
    }

    /// Move datagrams both ways until nothing is in flight.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.uac.poll_transmit() {
                moved = true;
                assert_eq!(t.to, uas_addr());
                let msg = Message::parse(&t.bytes).unwrap();
                let dropped = (self.drop_to_uas)(&msg);
                self.wire.push((true, msg));
                if !dropped {
                    self.uas
                        .handle_datagram(self.now, uac_addr(), Transport::Udp, &t.bytes);
                }
            }
            while let Some(t) = self.uas.poll_transmit() {
                moved = true;
                assert_eq!(t.to, uac_addr());
                self.wire.push((false, Message::parse(&t.bytes).unwrap()));
                self.uac
                    .handle_datagram(self.now, uas_addr(), Transport::Udp, &t.bytes);
            }
            while let Some(e) = self.uac.poll_event() {
                self.uac_events.push(e);
            }
            while let Some(e) = self.uas.poll_event() {
                self.uas_events.push(e);
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        loop {
            let next = [self.uac.poll_timeout(), self.uas.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.uac.handle_timeout(self.now);
                    self.uas.handle_timeout(self.now);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn incoming(&self) -> Vec<Incoming> {
        self.uas_events
            .iter()
            .filter_map(|e| match e {
                UasEvent::Incoming(i) => Some((**i).clone()),
                _ => None,
            })
            .collect()
    }

    fn id(&self) -> InboundId {
        self.incoming().first().expect("an incoming call").id
    }

    /// Answer call `id` with our SDP and let the messages flow.
    fn answer(&mut self, id: InboundId) {
        let sdp = Bytes::from_static(SDP.as_bytes());
        self.uas
            .answer(self.now, id, "application/sdp", sdp)
            .unwrap();
        self.pump();
    }

    fn ended(&self) -> Vec<(EndedBy, EndReason)> {
        self.uas_events
            .iter()
            .filter_map(|e| match e {
                UasEvent::Ended { by, reason, .. } => Some((*by, *reason)),
                _ => None,
            })
            .collect()
    }

    fn report(&self) -> Option<CallReport> {
        self.uac_events.iter().find_map(|e| match e {
            EndpointEvent::Call {
                event: CallEvent::Ended(r),
                ..
            } => Some((**r).clone()),
            _ => None,
        })
    }

    fn uac_answered(&self) -> bool {
        self.uac_events.iter().any(|e| {
            matches!(
                e,
                EndpointEvent::Call {
                    event: CallEvent::Answered { .. },
                    ..
                }
            )
        })
    }

    fn count(&self, to_uas: bool, f: impl Fn(&Message) -> bool) -> usize {
        self.wire
            .iter()
            .filter(|(dir, m)| *dir == to_uas && f(m))
            .count()
    }

    fn settle(&mut self) {
        self.advance(Duration::from_secs(70));
        assert!(self.uas.is_idle(), "UAS holds state: {:?}", self.uas);
        assert!(self.uac.is_idle());
    }
}

fn is_status(m: &Message, s: u16) -> bool {
    matches!(m, Message::Response(r) if r.status == s)
}
fn is_method(m: &Message, method: Method) -> bool {
    matches!(m, Message::Request(r) if r.method == method)
}

#[test]
fn answered_call_with_their_bye() {
    let mut w = World::new();
    w.call(30);
    let inc = w.incoming();
    assert_eq!(inc.len(), 1);
    assert_eq!(inc[0].request_uri.user.as_deref(), Some("+15551230001"));
    assert_eq!(inc[0].from.user.as_deref(), Some("+15550100"));
    assert_eq!(inc[0].offer.as_deref(), Some(SDP.as_bytes()));
    let id = w.id();
    w.uas.ring(w.now, id).unwrap();
    w.pump();
    assert_eq!(w.count(false, |m| is_status(m, 180)), 1);
    w.advance(Duration::from_secs(3));
    w.answer(id);
    assert!(w.uac_answered());
    assert!(w.uas_events.contains(&UasEvent::Acked { id }));
    // The 200 carries our Contact, so the UAC's BYE comes straight here.
    let cid = {
        let Some((_, Message::Response(ok))) = w.wire.iter().find(|(d, m)| !d && is_status(m, 200))
        else {
            panic!("no 200")
        };
        assert_eq!(
            ok.contact().unwrap().unwrap().uri.socket_addr(),
            Some(uas_addr())
        );
        ok.call_id().unwrap().to_owned()
    };
    assert_eq!(cid, inc[0].call_id);
    w.advance(Duration::from_secs(5));
    let call = crate::sip::CallId(1);
    w.uac.hangup(w.now, call);
    w.pump();
    assert_eq!(w.ended(), vec![(EndedBy::Them, EndReason::Bye)]);
    let r = w.report().expect("UAC call ended");
    assert_eq!(r.outcome, Outcome::Answered);
    assert_eq!(r.ring_ms(), 3000);
    assert_eq!(r.talk_ms(), 5000);
    w.settle();
}

#[test]
fn our_bye_ends_the_call_for_both() {
    let mut w = World::new();
    w.call(30);
    let id = w.id();
    w.answer(id);
    w.advance(Duration::from_secs(2));
    w.uas.hangup(w.now, id).unwrap();
    w.pump();
    assert_eq!(w.ended(), vec![(EndedBy::Us, EndReason::Hangup)]);
    let r = w.report().expect("UAC saw the BYE");
    assert_eq!(r.ended_by, Some(EndedBy::Them));
    assert_eq!(w.count(false, |m| is_method(m, Method::Bye)), 1);
    assert_eq!(w.count(true, |m| is_status(m, 200)), 1);
    // A second hangup is harmless.
    assert!(w.uas.hangup(w.now, id).is_err() || w.uas.live_calls() == 0);
    w.settle();
}

#[test]
fn cancel_before_answer_gets_200_and_487() {
    let mut w = World::new();
    w.call(16);
    let id = w.id();
    w.uas.ring(w.now, id).unwrap();
    w.pump();
    w.advance(Duration::from_secs(20));
    assert_eq!(w.ended(), vec![(EndedBy::Them, EndReason::Cancelled)]);
    assert_eq!(w.count(true, |m| is_method(m, Method::Cancel)), 1);
    assert_eq!(w.count(false, |m| is_status(m, 487)), 1);
    let r = w.report().expect("UAC call ended");
    assert_eq!(r.outcome, Outcome::NoAnswer);
    assert_eq!(r.sip_status, Some(487));
    assert_eq!(r.ring_ms(), 16_000);
    assert_eq!(w.uas.stats().cancelled, 1);
    // Answering a cancelled call is refused.
    assert_eq!(
        w.uas.answer(w.now, id, "application/sdp", Bytes::new()),
        Err(UasError::NoSuchCall)
    );
    w.settle();
}

#[test]
fn rejections_map_to_outcomes() {
    for (status, outcome) in [
        (486, Outcome::Busy),
        (404, Outcome::InvalidNumber),
        (503, Outcome::Congestion),
    ] {
        let mut w = World::new();
        w.call(30);
        let id = w.id();
        w.uas.reject(w.now, id, status).unwrap();
        w.pump();
        assert_eq!(w.ended(), vec![(EndedBy::Us, EndReason::Rejected(status))]);
        let r = w.report().expect("ended");
        assert_eq!((r.outcome, r.sip_status), (outcome, Some(status)));
        // The UAC ACKed the non-2xx in its transaction.
        assert_eq!(w.count(true, |m| is_method(m, Method::Ack)), 1);
        w.settle();
    }
    let mut w = World::new();
    w.call(30);
    assert_eq!(
        w.uas.reject(w.now, w.id(), 200),
        Err(UasError::BadStatus(200))
    );
}

#[test]
fn retransmitted_invite_is_one_call() {
    let mut w = World::new();
    // Lose the 100 Trying: the UAC's timer A re-sends the INVITE.
    w.call(30);
    let invites = w.count(true, |m| is_method(m, Method::Invite));
    assert_eq!(invites, 1);
    let Some((_, Message::Request(inv))) = w.wire.iter().find(|(d, _)| *d).cloned() else {
        panic!()
    };
    for _ in 0..3 {
        w.uas
            .handle_datagram(w.now, uac_addr(), Transport::Udp, &inv.to_bytes());
        w.pump();
    }
    assert_eq!(w.incoming().len(), 1);
    // Each copy got the last response again (100 Trying).
    assert_eq!(w.count(false, |m| is_status(m, 100)), 4);
    let id = w.id();
    w.uas.ring(w.now, id).unwrap();
    w.pump();
    w.uas
        .handle_datagram(w.now, uac_addr(), Transport::Udp, &inv.to_bytes());
    w.pump();
    assert_eq!(w.count(false, |m| is_status(m, 180)), 2);
    assert_eq!(w.incoming().len(), 1);
    assert!(w.uas.transaction_stats().retransmissions >= 4);
}

#[test]
fn missing_ack_retransmits_the_200_then_byes() {
    let mut w = World::new();
    w.drop_to_uas = |m| is_method(m, Method::Ack);
    w.call(30);
    let id = w.id();
    w.answer(id);
    w.advance(Duration::from_secs(31));
    assert!(w.ended().is_empty());
    // Timer G: 0.5, 1, 2, 4, 4 … s until timer H (32 s).
    let oks = w.count(false, |m| is_status(m, 200));
    assert!(oks >= 8, "{oks} copies of the 200");
    w.advance(Duration::from_secs(2));
    assert_eq!(w.ended(), vec![(EndedBy::Us, EndReason::NoAck)]);
    assert_eq!(w.count(false, |m| is_method(m, Method::Bye)), 1);
    assert_eq!(w.uas.stats().no_ack, 1);
    // The UAC took the call (it ACKed every copy) and saw our BYE.
    let r = w.report().expect("UAC ended");
    assert_eq!(r.ended_by, Some(EndedBy::Them));
    assert!(w.count(true, |m| is_method(m, Method::Ack)) >= oks);
    w.settle();
}

#[test]
fn hangup_before_the_ack_waits_for_it() {
    let mut w = World::new();
    w.drop_to_uas = |m| is_method(m, Method::Ack);
    w.call(30);
    let id = w.id();
    w.answer(id);
    w.uas.hangup(w.now, id).unwrap();
    w.pump();
    assert_eq!(w.ended(), vec![(EndedBy::Us, EndReason::Hangup)]);
    assert_eq!(w.count(false, |m| is_method(m, Method::Bye)), 0);
    w.drop_to_uas = |_| false;
    w.advance(Duration::from_secs(1)); // a 200 copy → the UAC ACKs it → our BYE goes
    assert_eq!(w.count(false, |m| is_method(m, Method::Bye)), 1);
    assert_eq!(w.ended().len(), 1);
    w.settle();
}

#[test]
fn unanswered_call_gets_480_at_max_ring() {
    let mut w = World::new();
    w.call(60);
    w.advance(Duration::from_secs(29));
    assert!(w.ended().is_empty());
    w.advance(Duration::from_secs(2));
    assert_eq!(w.ended(), vec![(EndedBy::Us, EndReason::RingTimeout)]);
    let r = w.report().expect("ended");
    assert_eq!((r.outcome, r.sip_status), (Outcome::NoAnswer, Some(480)));
    w.settle();
}

#[test]
fn unknown_sources_are_refused_and_options_answered() {
    let mut w = World::new();
    let stranger: SocketAddr = "10.1.2.3:5060".parse().unwrap();
    let inv = "INVITE sip:1@127.0.0.1:5090 SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.2.3;branch=z9hG4bKx1\r\n\
               From: <sip:a@10.1.2.3>;tag=1\r\nTo: <sip:1@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
               Content-Length: 0\r\n\r\n";
    w.uas
        .handle_datagram(w.now, stranger, Transport::Udp, inv.as_bytes());
    let t = w.uas.poll_transmit().expect("a 403");
    assert_eq!(t.to, stranger);
    assert!(is_status(&Message::parse(&t.bytes).unwrap(), 403));
    assert!(matches!(
        w.uas.poll_event(),
        Some(UasEvent::Refused {
            method: Method::Invite,
            ..
        })
    ));
    assert!(w.uas.poll_event().is_none());
    assert_eq!(w.uas.stats().refused_invites, 1);
    assert!(w.uas.is_idle());

    let opt = "OPTIONS sip:127.0.0.1:5090 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKo1\r\n\
               From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n\
               Content-Length: 0\r\n\r\n";
    w.uas
        .handle_datagram(w.now, uac_addr(), Transport::Udp, opt.as_bytes());
    let t = w.uas.poll_transmit().expect("a 200");
    let Message::Response(r) = Message::parse(&t.bytes).unwrap() else {
        panic!()
    };
    assert_eq!(r.status, 200);
    assert!(r.headers.get("Allow").unwrap().contains("INVITE"));
    let bye = opt.replace("OPTIONS", "BYE").replace("o1", "o2");
    w.uas
        .handle_datagram(w.now, uac_addr(), Transport::Udp, bye.as_bytes());
    let t = w.uas.poll_transmit().expect("a 481");
    assert!(is_status(&Message::parse(&t.bytes).unwrap(), 481));
}

#[test]
fn max_calls_bounds_state() {
    let mut w = World::new();
    w.uas = Uas::new(
        UasConfig {
            max_calls: 3,
            ..UasConfig::new(uas_addr())
        },
        2,
    );
    for _ in 0..5 {
        w.call(20);
    }
    assert_eq!(w.incoming().len(), 3);
    assert_eq!(w.uas.stats().overload, 2);
    assert_eq!(w.count(false, |m| is_status(m, 503)), 2);
    w.settle();
    assert_eq!(w.ended().len(), 3);
}
