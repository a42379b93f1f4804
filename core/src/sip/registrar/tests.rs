use super::*;
use crate::sip::message::Message;

const REALM: &str = "dialer";

fn cfg() -> RegistrarConfig {
    RegistrarConfig {
        realm: REALM.into(),
        keepalive: Duration::from_secs(25),
        algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        ..RegistrarConfig::default()
    }
}

fn accounts() -> Vec<Account> {
    vec![
        Account {
            user: "alice".into(),
            agent: "a1".into(),
            password: "secret-a".into(),
        },
        Account {
            user: "bob".into(),
            agent: "b1".into(),
            password: "secret-b".into(),
        },
    ]
}

fn src() -> SocketAddr {
    "192.0.2.10:40000".parse().unwrap()
}

/// A REGISTER as a phone writes it; `extra` header lines end with CRLF.
fn register(user: &str, cseq: u32, branch: &str, contacts: &[&str], extra: &str) -> Request {
    let mut s = format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@127.0.0.1>;tag=ft\r\n\
         To: <sip:{user}@127.0.0.1>\r\n\
         Call-ID: reg-{user}@10.0.0.5\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for c in contacts {
        s.push_str(&format!("Contact: {c}\r\n"));
    }
    s.push_str(extra);
    s.push_str("Content-Length: 0\r\n\r\n");
    match Message::parse(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        other => panic!("not a request: {other:?}"),
    }
}

/// The Authorization line answering `resp`'s challenge of `alg` (MD5 through rsip's client
/// code, so the two implementations check each other; SHA-256 by hand).
fn answer(resp: &Response, user: &str, password: &str, alg: Algorithm, nc: u32) -> String {
    let challenge = challenges(resp)
        .into_iter()
        .find(|v| v.contains(&format!("algorithm={}", alg.as_str())))
        .expect("challenge of that algorithm")
        .to_owned();
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let a = Authorization {
        username: user.into(),
        realm: REALM.into(),
        nonce,
        uri: "sip:127.0.0.1:5060".into(),
        response: String::new(),
        algorithm: alg,
        qop: Some(("c0ffee".into(), nc)),
        opaque: None,
    };
    let r = a.expected(password, "REGISTER");
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{}\", \
         uri=\"sip:127.0.0.1:5060\", response=\"{r}\", algorithm={}, qop=auth, nc={nc:08x}, \
         cnonce=\"c0ffee\"\r\n",
        a.nonce,
        alg.as_str()
    )
}

/// Every `WWW-Authenticate` field whole.
fn challenges(resp: &Response) -> Vec<&str> {
    resp.headers
        .iter()
        .filter(|(n, _)| *n == "WWW-Authenticate")
        .map(|(_, v)| v)
        .collect()
}

fn events(r: &mut Registrar) -> Vec<RegistrarEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

/// A fresh REGISTER is challenged (SHA-256 and MD5, qop=auth); the answer binds the contact;
/// the 200 lists it, and the Via says where the request came from (RFC 3581).
#[test]
fn challenge_then_bind() {
    let t0 = Instant::now();
    let mut r = Registrar::new(cfg(), accounts(), 1);
    let c = "<sip:alice@10.0.0.5:5062>";
    let ch = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", 1, "a", &[c], ""),
    );
    assert_eq!(ch.status, 401);
    let offers = challenges(&ch);
    assert_eq!(offers.len(), 2);
    assert!(offers[0].contains("SHA-256") && offers[0].contains("qop=\"auth\""));
    assert!(offers[1].contains("MD5"));
    let via = ch.headers.get("Via").unwrap();
    assert!(
        via.contains("rport=40000") && via.contains("received=192.0.2.10"),
        "{via}"
    );
    assert!(events(&mut r).is_empty(), "a challenge is no refusal");

    for (i, alg) in [Algorithm::Md5, Algorithm::Sha256].into_iter().enumerate() {
        let cseq = 2 + 2 * i as u32;
        let ch = r.handle_register(
            t0,
            src(),
            Transport::Udp,
            &register("alice", cseq, &format!("b{i}"), &[c], ""),
        );
        let auth = answer(&ch, "alice", "secret-a", alg, 1);
        let ok = r.handle_register(
            t0,
            src(),
            Transport::Udp,
            &register("alice", cseq + 1, &format!("c{i}"), &[c], &auth),
        );
        assert_eq!(ok.status, 200, "{alg:?}");
        assert_eq!(
            ok.headers.get("Contact"),
            Some("<sip:alice@10.0.0.5:5062>;expires=600")
        );
    }
    let b = r.binding("alice").unwrap();
    assert_eq!(
        b.source,
        src(),
        "the source, not the contact, is where to call"
    );
    assert_eq!(b.contact.as_str(), "sip:alice@10.0.0.5:5062");
    assert!(r.is_bound(src().ip()));
    let ev = events(&mut r);
    assert!(
        matches!(&ev[0], RegistrarEvent::Registered { agent, refreshed: false, .. } if agent == "a1")
    );
    assert!(matches!(
        &ev[1],
        RegistrarEvent::Registered {
            refreshed: true,
            ..
        }
    ));
}

/// MD5 through rsip's client code (what answers trunks' challenges) is accepted too.
#[test]
fn rsip_client_answer_accepted() {
    let t0 = Instant::now();
    let mut r = Registrar::new(cfg(), accounts(), 2);
    let c = "<sip:alice@10.0.0.5:5062>";
    let mut ch = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", 1, "a", &[c], ""),
    );
    // Offer MD5 only, as an rsip-era trunk would see it.
    ch.headers.remove("WWW-Authenticate");
    let nonce = r.nonces.keys().next().unwrap().clone();
    ch.headers.push(
        "WWW-Authenticate",
        digest::challenge(REALM, &nonce, Algorithm::Md5, false),
    );
    let challenge = &ch.challenges()[0];
    let uri = Uri::parse("sip:127.0.0.1:5060").unwrap();
    let (name, value) = challenge
        .answer("alice", "secret-a", &Method::Register, &uri, "xyz")
        .unwrap();
    let ok = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", 2, "b", &[c], &format!("{name}: {value}\r\n")),
    );
    assert_eq!(ok.status, 200);
}

/// Unknown users get 403 without a challenge; binding another agent's user is refused even
/// with that agent's password.
#[test]
fn unknown_and_other_users_refused() {
    let t0 = Instant::now();
    let mut r = Registrar::new(cfg(), accounts(), 3);
    let resp = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("mallory", 1, "a", &["<sip:m@10.0.0.5>"], ""),
    );
    assert_eq!(resp.status, 403);
    let ch = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", 1, "b", &["<sip:alice@10.0.0.5>"], ""),
    );
    // Bob's credentials on alice's address of record.
    let auth = answer(&ch, "bob", "secret-b", Algorithm::Md5, 1);
    let resp = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", 2, "c", &["<sip:alice@10.0.0.5>"], &auth),
    );
    assert_eq!(resp.status, 403);
    assert!(r.binding("alice").is_none() && r.binding("bob").is_none());
    let reasons: Vec<Refusal> = events(&mut r)
        .into_iter()
        .filter_map(|e| match e {
            RegistrarEvent::Refused { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [Refusal::UnknownUser, Refusal::OtherUser]);
}

/// Wrong passwords: 401 each time until the user's limit, then 403 for the user from any
/// source until the window has passed (another user from the same source is not locked out
/// before the source's own, higher, limit); then the right one binds.
#[test]
fn wrong_passwords_lock_out() {
    let t0 = Instant::now();
    let mut r = Registrar::new(cfg(), accounts(), 4);
    let c = ["<sip:alice@10.0.0.5:5062>"];
    let mut resp = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", 1, "x0", &c, ""),
    );
    let mut statuses = Vec::new();
    for i in 1..=6u32 {
        let auth = answer(&resp, "alice", "wrong", Algorithm::Md5, 1);
        let next = r.handle_register(
            t0,
            src(),
            Transport::Udp,
            &register("alice", 1 + i, &format!("x{i}"), &c, &auth),
        );
        statuses.push(next.status);
        if next.status == 401 {
            resp = next;
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 403, 403]);
    // The user is locked from elsewhere too; bob from this source is not.
    let other: SocketAddr = "198.51.100.7:5060".parse().unwrap();
    let r1 = r.handle_register(
        t0,
        other,
        Transport::Udp,
        &register("alice", 20, "y", &c, ""),
    );
    assert_eq!(r1.status, 403);
    let r2 = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("bob", 1, "z", &["<sip:bob@10.0.0.5>"], ""),
    );
    assert_eq!(r2.status, 401);
    let refused: Vec<Refusal> = events(&mut r)
        .into_iter()
        .filter_map(|e| match e {
            RegistrarEvent::Refused { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused
            .iter()
            .filter(|r| **r == Refusal::WrongPassword)
            .count(),
        4
    );
    assert_eq!(
        refused.iter().filter(|r| **r == Refusal::LockedOut).count(),
        3
    );

    let t1 = t0 + Duration::from_secs(61);
    let ch = r.handle_register(
        t1,
        src(),
        Transport::Udp,
        &register("alice", 30, "w0", &c, ""),
    );
    assert_eq!(ch.status, 401);
    let auth = answer(&ch, "alice", "secret-a", Algorithm::Sha256, 1);
    let ok = r.handle_register(
        t1,
        src(),
        Transport::Udp,
        &register("alice", 31, "w1", &c, &auth),
    );
    assert_eq!(ok.status, 200);
}

/// An expired nonce, one given to another source, or a replayed nonce count, with the right
/// password: a fresh challenge with stale=true, which then works.
#[test]
fn stale_nonces() {
    let t0 = Instant::now();
    let mut r = Registrar::new(cfg(), accounts(), 5);
    let c = ["<sip:alice@10.0.0.5:5062>"];
    let ch = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", 1, "a", &c, ""),
    );
    let auth1 = answer(&ch, "alice", "secret-a", Algorithm::Md5, 1);
    assert_eq!(
        r.handle_register(
            t0,
            src(),
            Transport::Udp,
            &register("alice", 2, "b", &c, &auth1)
        )
        .status,
        200
    );
    // The same count again (a replay): stale.
    let replay = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", 3, "c", &c, &auth1),
    );
    assert_eq!(replay.status, 401);
    assert!(
        replay
            .headers
            .get("WWW-Authenticate")
            .unwrap()
            .contains("stale=true")
    );
    // The next count on the same nonce: fine.
    let auth2 = answer(&ch, "alice", "secret-a", Algorithm::Md5, 2);
    assert_eq!(
        r.handle_register(
            t0,
            src(),
            Transport::Udp,
            &register("alice", 4, "d", &c, &auth2)
        )
        .status,
        200
    );
    // Past the nonce's life.
    let late = t0 + Duration::from_secs(301);
    let auth3 = answer(&ch, "alice", "secret-a", Algorithm::Md5, 3);
    let stale = r.handle_register(
        late,
        src(),
        Transport::Udp,
        &register("alice", 5, "e", &c, &auth3),
    );
    assert_eq!(stale.status, 401);
    assert!(
        stale
            .headers
            .get("WWW-Authenticate")
            .unwrap()
            .contains("stale=true")
    );
    // From another address.
    let other: SocketAddr = "192.0.2.99:5060".parse().unwrap();
    let auth4 = answer(&stale, "alice", "secret-a", Algorithm::Md5, 1);
    let moved = r.handle_register(
        late,
        other,
        Transport::Udp,
        &register("alice", 6, "f", &c, &auth4),
    );
    assert_eq!(moved.status, 401);
    assert!(
        moved
            .headers
            .get("WWW-Authenticate")
            .unwrap()
            .contains("stale=true")
    );
    // The fresh one works; no failure was counted for any of this.
    let auth5 = answer(&moved, "alice", "secret-a", Algorithm::Md5, 1);
    assert_eq!(
        r.handle_register(
            late,
            other,
            Transport::Udp,
            &register("alice", 7, "g", &c, &auth5)
        )
        .status,
        200
    );
    assert!(
        !events(&mut r)
            .iter()
            .any(|e| matches!(e, RegistrarEvent::Refused { .. }))
    );
}

/// Authenticated helper: challenge then answer with `contacts` and `extra`.
fn registered(
    r: &mut Registrar,
    now: Instant,
    cseq: &mut u32,
    contacts: &[&str],
    extra: &str,
) -> Response {
    *cseq += 1;
    let ch = r.handle_register(
        now,
        src(),
        Transport::Udp,
        &register("alice", *cseq, &format!("q{cseq}"), contacts, extra),
    );
    assert_eq!(ch.status, 401);
    let auth = answer(&ch, "alice", "secret-a", Algorithm::Md5, 1);
    *cseq += 1;
    r.handle_register(
        now,
        src(),
        Transport::Udp,
        &register(
            "alice",
            *cseq,
            &format!("q{cseq}"),
            contacts,
            &format!("{extra}{auth}"),
        ),
    )
}

/// Several contacts, expiries from the parameter or the header, clamped, 423 under the
/// minimum, expires=0 for one, `*` for all, the cap on contacts.
#[test]
fn contacts_and_expiry() {
    let t0 = Instant::now();
    let mut r = Registrar::new(cfg(), accounts(), 6);
    let mut cseq = 0;
    let both = [
        "<sip:alice@10.0.0.5:5062>;expires=120",
        "<sip:alice@10.0.0.6:5062>",
    ];
    let ok = registered(&mut r, t0, &mut cseq, &both, "Expires: 7200\r\n");
    assert_eq!(ok.status, 200);
    let listed: Vec<&str> = ok.headers.get_all("Contact").collect();
    assert_eq!(
        listed,
        [
            "<sip:alice@10.0.0.5:5062>;expires=120",
            "<sip:alice@10.0.0.6:5062>;expires=600"
        ]
    );
    assert_eq!(r.bindings("alice").len(), 2);

    let brief = registered(
        &mut r,
        t0,
        &mut cseq,
        &["<sip:alice@10.0.0.7>;expires=10"],
        "",
    );
    assert_eq!(brief.status, 423);
    assert_eq!(brief.headers.get("Min-Expires"), Some("60"));
    assert_eq!(r.bindings("alice").len(), 2, "nothing applied");

    let many = [
        "<sip:alice@10.0.0.7>",
        "<sip:alice@10.0.0.8>",
        "<sip:alice@10.0.0.9>",
    ];
    assert_eq!(registered(&mut r, t0, &mut cseq, &many, "").status, 403);
    assert_eq!(r.bindings("alice").len(), 2);

    let _ = events(&mut r);
    let one_off = registered(
        &mut r,
        t0,
        &mut cseq,
        &["<sip:alice@10.0.0.6:5062>;expires=0"],
        "",
    );
    assert_eq!(one_off.status, 200);
    assert_eq!(r.bindings("alice").len(), 1);
    let ev = events(&mut r);
    assert!(
        matches!(
            &ev[..],
            [RegistrarEvent::Unbound {
                why: Gone::Unregistered,
                last: false,
                ..
            }]
        ),
        "{ev:?}"
    );

    assert_eq!(
        registered(&mut r, t0, &mut cseq, &["*"], "").status,
        400,
        "`*` needs Expires: 0"
    );
    let _ = events(&mut r);
    let all = registered(&mut r, t0, &mut cseq, &["*"], "Expires: 0\r\n");
    assert_eq!(all.status, 200);
    assert!(r.binding("alice").is_none());
    let ev = events(&mut r);
    assert!(
        matches!(
            &ev[..],
            [RegistrarEvent::Unbound {
                why: Gone::Unregistered,
                last: true,
                ..
            }]
        ),
        "{ev:?}"
    );
}

/// A binding not refreshed expires (an event saying it was the last); keep-alives go to the
/// source meanwhile; a retransmitted REGISTER gets the same answer.
#[test]
fn expiry_keepalive_retransmission() {
    let t0 = Instant::now();
    let mut r = Registrar::new(cfg(), accounts(), 7);
    let mut cseq = 0;
    let ok = registered(
        &mut r,
        t0,
        &mut cseq,
        &["<sip:alice@10.0.0.5:5062>;expires=60"],
        "",
    );
    assert_eq!(ok.status, 200);
    // The same request again (same branch, Call-ID, CSeq): the same 200, no second event.
    let _ = events(&mut r);
    let ch = r.handle_register(
        t0,
        src(),
        Transport::Udp,
        &register("alice", cseq, &format!("q{cseq}"), &[], ""),
    );
    assert_eq!(ch, ok);
    assert!(events(&mut r).is_empty());

    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(25)));
    r.handle_timeout(t0 + Duration::from_secs(25));
    let ka = r.poll_transmit().expect("a keep-alive");
    assert_eq!((ka.to, &ka.bytes[..]), (src(), &b"\r\n\r\n"[..]));
    r.handle_timeout(t0 + Duration::from_secs(59));
    assert!(r.binding("alice").is_some());
    r.handle_timeout(t0 + Duration::from_secs(60));
    assert!(r.binding("alice").is_none());
    let ev = events(&mut r);
    assert!(
        matches!(&ev[..], [RegistrarEvent::Unbound { why: Gone::Expired, last: true, agent, .. }] if agent == "a1"),
        "{ev:?}"
    );
    assert_eq!(r.poll_timeout(), None);
}

/// A source guessing users and passwords is refused at its own limit, for every user.
#[test]
fn a_guessing_source_is_locked_out() {
    let t0 = Instant::now();
    let mut r = Registrar::new(
        RegistrarConfig {
            max_source_failures: 3,
            ..cfg()
        },
        accounts(),
        8,
    );
    let statuses: Vec<u16> = ["eve", "root", "admin", "alice"]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let contact = format!("<sip:{u}@10.0.0.5>");
            r.handle_register(
                t0,
                src(),
                Transport::Udp,
                &register(u, i as u32 + 1, &format!("g{i}"), &[&contact], ""),
            )
            .status
        })
        .collect();
    assert_eq!(statuses, [403, 403, 403, 403]);
    let last = events(&mut r).pop();
    assert!(
        matches!(
            last,
            Some(RegistrarEvent::Refused {
                reason: Refusal::LockedOut,
                ..
            })
        ),
        "{last:?}"
    );
    // Elsewhere alice is challenged as usual.
    let other: SocketAddr = "198.51.100.7:5060".parse().unwrap();
    let ch = r.handle_register(
        t0,
        other,
        Transport::Udp,
        &register("alice", 9, "h", &["<sip:alice@10.0.0.5>"], ""),
    );
    assert_eq!(ch.status, 401);
}
