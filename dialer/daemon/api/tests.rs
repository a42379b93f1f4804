use super::*;

fn body(s: &str) -> Result<Bytes, BytesRejection> {
    Ok(Bytes::from(s.to_owned()))
}

#[test]
fn tokens_identify_their_owner_and_must_be_distinct() {
    let t = Tokens::new(
        Some("super-secret".into()),
        [
            ("alice".into(), "alice-token".to_string()),
            ("bob".into(), "bob-token".to_string()),
        ],
    )
    .unwrap();
    assert_eq!(t.identify("super-secret"), Some(Principal::Supervisor));
    assert_eq!(
        t.identify("bob-token"),
        Some(Principal::Agent("bob".into()))
    );
    assert_eq!(t.identify("bob-token "), None);
    assert_eq!(t.identify(""), None);
    assert_eq!(t.identify("super-secreT"), None);

    let shared = Tokens::new(
        None,
        [
            ("alice".into(), "same".to_string()),
            ("bob".into(), "same".to_string()),
        ],
    );
    assert!(matches!(shared, Err(TokenError::Shared(a, b)) if a == "alice" && b == "bob"));
    let clash = Tokens::new(Some("x".into()), [("carol".into(), "x".to_string())]);
    assert!(matches!(clash, Err(TokenError::Supervisor(a)) if a == "carol"));
}

#[test]
fn tokens_are_kept_only_as_digests() {
    let t = Tokens::new(
        Some("super-secret".into()),
        [("alice".into(), "alice-token".to_string())],
    )
    .unwrap();
    let shown = format!("{t:?}");
    assert!(
        !shown.contains("super-secret") && !shown.contains("alice-token"),
        "{shown}"
    );
    // A token of another length, or a prefix of one, is compared like any other.
    assert_eq!(t.identify("super-secret-and-more"), None);
    assert_eq!(t.identify("super"), None);
    assert_eq!(
        t.identify("alice-token"),
        Some(Principal::Agent("alice".into()))
    );
}

#[test]
fn bodies_are_objects_with_known_fields() {
    assert!(object(body(""), &[]).unwrap().is_empty());
    assert!(object(body(" \n"), &["reason"]).unwrap().is_empty());
    let e = object(body("{\"reason\": "), &["reason"]).unwrap_err();
    assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "bad_json"));
    assert!(e.message.contains("line 1"), "{}", e.message);
    let e = object(body("[1]"), &["reason"]).unwrap_err();
    assert_eq!(e.code, "bad_json");
    let e = object(body("{\"reson\": \"lunch\"}"), &["reason"]).unwrap_err();
    assert_eq!(e.code, "bad_field");
    assert!(e.message.contains("\"reson\""), "{}", e.message);

    let map = object(body("{\"reason\": 5}"), &["reason"]).unwrap();
    let e = required(&map, "reason", 10).unwrap_err();
    assert!(e.message.contains("\"reason\"") && e.message.contains("a number"));
    let map = object(body("{\"reason\": \"  \"}"), &["reason"]).unwrap();
    assert!(required(&map, "reason", 10).is_err());
    let map = object(
        body("{\"reason\": \"a much too long reason\"}"),
        &["reason"],
    )
    .unwrap();
    assert!(
        required(&map, "reason", 10)
            .unwrap_err()
            .message
            .contains("longer than 10")
    );
    let map = object(body("{\"reason\": null}"), &["reason"]).unwrap();
    assert!(
        required(&map, "reason", 10)
            .unwrap_err()
            .message
            .contains("missing")
    );
}

#[test]
fn callbacks_are_a_time_or_a_delay_in_the_future() {
    let now: jiff::Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
    let cb = |s: &str| {
        callback(
            &object(body(s), &["callback_at", "callback_in"]).unwrap(),
            now,
        )
    };
    assert_eq!(cb("{}").unwrap(), None);
    assert_eq!(
        cb("{\"callback_in\": \"2h\"}").unwrap(),
        Some(Duration::from_secs(7200))
    );
    assert_eq!(
        cb("{\"callback_at\": \"2026-11-27T11:30:00Z\"}").unwrap(),
        Some(Duration::from_secs(5400))
    );
    assert_eq!(
        cb("{\"callback_at\": \"2026-11-27T06:30:00-05:00\"}").unwrap(),
        Some(Duration::from_secs(5400))
    );
    for (json, field) in [
        ("{\"callback_at\": \"2026-11-27T09:00:00Z\"}", "callback_at"),
        ("{\"callback_at\": \"tomorrow\"}", "callback_at"),
        ("{\"callback_in\": \"soon\"}", "callback_in"),
        ("{\"callback_in\": \"0s\"}", "callback_in"),
        ("{\"callback_in\": \"400days\"}", "callback_in"),
        (
            "{\"callback_in\": \"2h\", \"callback_at\": \"2026-11-27T11:30:00Z\"}",
            "callback_in",
        ),
    ] {
        let e = cb(json).unwrap_err();
        assert_eq!(e.code, "bad_field", "{json}");
        assert!(e.message.contains(field), "{json}: {}", e.message);
    }
}

#[test]
fn switchboard_refusals_map_to_statuses() {
    let cases = [
        (
            SwitchboardError::Agent(AgentError::Unknown("x".into())),
            StatusCode::NOT_FOUND,
            "unknown_agent",
        ),
        (
            SwitchboardError::Agent(AgentError::InvalidTransition {
                agent: "x".into(),
                state: crate::agents::State::LoggedOut,
                action: "pause",
            }),
            StatusCode::CONFLICT,
            "invalid_transition",
        ),
        (
            SwitchboardError::UnknownCampaign("c".into()),
            StatusCode::NOT_FOUND,
            "unknown_campaign",
        ),
        (
            SwitchboardError::NoCall("x".into()),
            StatusCode::CONFLICT,
            "no_call",
        ),
        (
            SwitchboardError::UnknownDisposition {
                campaign: "c".into(),
                code: "z".into(),
            },
            StatusCode::BAD_REQUEST,
            "bad_field",
        ),
        (
            SwitchboardError::NoPreview("x".into()),
            StatusCode::CONFLICT,
            "no_preview",
        ),
        (
            SwitchboardError::Agent(AgentError::PreviewDialed {
                agent: "x".into(),
                action: "skip",
            }),
            StatusCode::CONFLICT,
            "already_dialed",
        ),
        (
            SwitchboardError::NoLine {
                campaign: "c".into(),
            },
            StatusCode::CONFLICT,
            "no_line",
        ),
    ];
    for (err, status, code) in cases {
        let e = ApiError::from(ControlError::Refused(err));
        assert_eq!((e.status, e.code), (status, code));
    }
    let e = ApiError::from(ControlError::Stopped);
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// One request to the API on `addr`, with a bearer token; the status and the JSON body.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text[9..12].parse().unwrap();
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// The browser phone's signalling: the agent only, for their own phone; a bad offer or one
/// without G.711 is refused naming the problem; an agent whose phone is not the browser gets
/// 409; a browser's real offer is answered (ICE-lite).
#[tokio::test]
async fn phone_signalling_is_the_agents_own_and_checks_the_offer() {
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let tokens = Tokens::new(
        Some("super-secret".into()),
        [
            ("alice".into(), "alice-token".to_string()),
            ("bob".into(), "bob-token".to_string()),
        ],
    )
    .unwrap();
    let api = Api::new(SwitchboardHandle::new(tx), tokens, Readiness::new(), None);
    let gateway = crate::webrtc::Gateway::start(crate::webrtc::GatewayConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        candidate: "127.0.0.1:0".parse().unwrap(),
        agents: vec!["alice".into()],
    })
    .await
    .unwrap();
    api.set_webrtc(Some(gateway));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = api.clone();
    tokio::spawn(async move {
        let _ = server
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    let phone = "/v1/agents/alice/phone";
    let (browser, offer) =
        crate::webrtc::SimBrowser::offer(Instant::now(), "127.0.0.1:50000".parse().unwrap())
            .unwrap();
    drop(browser);
    let good = json!({ "type": "offer", "sdp": offer }).to_string();

    for token in ["bob-token", "super-secret"] {
        let (status, body) = http(addr, "POST", phone, token, &good).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (403, &json!("forbidden")),
            "{body}"
        );
    }
    let (status, body) = http(addr, "DELETE", phone, "bob-token", "").await;
    assert_eq!(status, 403, "{body}");

    let (status, body) = http(addr, "POST", phone, "alice-token", r#"{"sdp": "hello"}"#).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("\"sdp\"") && message.contains("cannot be read"),
        "{message}"
    );
    let opus = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 9\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n\
        a=rtpmap:9 G722/8000\r\na=sendrecv\r\n";
    let (status, body) = http(
        addr,
        "POST",
        phone,
        "alice-token",
        &json!({ "sdp": opus }).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("neither PCMU nor PCMA") && message.contains("opus/48000/2, G722/8000"),
        "{message}"
    );
    let (status, body) = http(addr, "POST", phone, "alice-token", r#"{"sdp": 5}"#).await;
    assert_eq!(status, 400, "{body}");

    // Bob's phone is not the browser.
    let (status, body) = http(addr, "POST", "/v1/agents/bob/phone", "bob-token", &good).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("not_browser_phone")),
        "{body}"
    );
    let (status, body) = http(addr, "GET", "/v1/agents/bob/phone", "bob-token", "").await;
    assert_eq!((status, &body["phone"]["browser"]), (200, &json!(false)));

    let (status, body) = http(addr, "POST", phone, "alice-token", &good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "answer");
    let answer = body["sdp"].as_str().unwrap();
    assert!(
        answer.contains("a=ice-lite") && answer.contains("PCMU/8000"),
        "{answer}"
    );
    let (status, body) = http(addr, "GET", phone, "alice-token", "").await;
    assert_eq!(
        (
            status,
            &body["phone"]["browser"],
            &body["phone"]["connected"]
        ),
        (200, &json!(true), &json!(false)),
        "{body}"
    );
    let (status, body) = http(addr, "DELETE", phone, "alice-token", "").await;
    assert_eq!(status, 200, "{body}");
    let _ = stop.send(());
}
