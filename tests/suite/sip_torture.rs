//! RFC 4475 torture messages (`tests/sip_torture/`): the valid ones parse, the invalid ones are
//! rejected with an error, and none of them panics the parser or the endpoint.
//!
//! The message texts are RFC 4475 §3.1's; where a message's SDP body only has to exist for
//! framing, the body is the RFC's usual SDP with addresses chosen to match its Content-Length.

use std::path::PathBuf;
use std::time::Instant;

use dialer::sip::message::{HasHeaders, Message, Method, Transport};
use dialer::sip::{Endpoint, EndpointConfig};

fn messages(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "sip_torture", kind]
        .iter()
        .collect();
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 10, "{kind}: torture files missing");
    out
}

#[test]
fn valid_messages_parse() {
    let mut failures = Vec::new();
    for (name, bytes) in messages("valid") {
        match Message::parse(&bytes) {
            Ok(m) => {
                // Whatever parses must also survive our own serialisation.
                Message::parse(&m.to_bytes()).unwrap_or_else(|e| panic!("{name}: re-parse: {e}"));
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "valid RFC 4475 messages rejected:\n{}",
        failures.join("\n")
    );
}

#[test]
fn valid_messages_read_right() {
    let get = |n: &str| {
        let (_, b) = messages("valid").into_iter().find(|(m, _)| m == n).unwrap();
        Message::parse(&b).unwrap()
    };
    let Message::Request(wsinv) = get("wsinv") else {
        panic!()
    };
    assert_eq!(wsinv.method, Method::Invite);
    assert_eq!(wsinv.cseq().unwrap().seq, 9);
    assert_eq!(wsinv.hdr_to().unwrap().tag.as_deref(), Some("1918181833n"));
    assert_eq!(wsinv.hdr_from().unwrap().tag.as_deref(), Some("98asjd8"));
    assert_eq!(
        wsinv.top_via().unwrap().branch.as_deref(),
        Some("390skdjuw")
    );
    assert_eq!(wsinv.headers.get_all("Via").count(), 3);
    assert_eq!(wsinv.body.len(), 150);
    let Message::Request(intmeth) = get("intmeth") else {
        panic!()
    };
    assert_eq!(
        intmeth.method.as_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    let Message::Request(dbl) = get("dblreq") else {
        panic!()
    };
    assert_eq!(
        dbl.method,
        Method::Register,
        "the first message of the datagram"
    );
    assert!(dbl.body.is_empty());
    let Message::Request(long) = get("longreq") else {
        panic!()
    };
    assert_eq!(long.headers.get_all("Via").count(), 34);
    let Message::Request(bb) = get("badbranch") else {
        panic!()
    };
    assert_eq!(
        bb.top_via().unwrap().rfc3261_branch(),
        None,
        "the bare magic cookie is no branch"
    );
    let Message::Response(nr) = get("noreason") else {
        panic!()
    };
    assert_eq!((nr.status, nr.reason.as_str()), (100, ""));
}

#[test]
fn invalid_messages_are_rejected() {
    let mut accepted = Vec::new();
    for (name, bytes) in messages("invalid") {
        match Message::parse(&bytes) {
            Ok(m) => accepted.push(format!("{name}: {m:?}")),
            Err(e) => eprintln!("{name}: rejected: {e}"),
        }
    }
    assert!(
        accepted.is_empty(),
        "invalid RFC 4475 messages accepted:\n{}",
        accepted.join("\n")
    );
}

#[test]
fn no_torture_message_upsets_the_endpoint() {
    let mut cfg = EndpointConfig::new("127.0.0.1:5070".parse().unwrap());
    cfg.allowed = vec!["192.0.2.1".parse().unwrap()];
    let mut ep = Endpoint::new(cfg, 1);
    let now = Instant::now();
    let from = "192.0.2.1:5060".parse().unwrap();
    let mut n = 0;
    for kind in ["valid", "invalid"] {
        for (_, bytes) in messages(kind) {
            ep.handle_datagram(now, from, Transport::Udp, &bytes);
            // Truncations too: every prefix must be handled without panic.
            for cut in (0..bytes.len()).step_by(7) {
                ep.handle_datagram(now, from, Transport::Udp, &bytes[..cut]);
            }
            n += 1;
        }
    }
    while ep.poll_transmit().is_some() {}
    while ep.poll_event().is_some() {}
    ep.handle_timeout(now + std::time::Duration::from_secs(120));
    assert!(ep.is_idle());
    assert!(ep.stats().malformed > 0 && n > 20);
}
