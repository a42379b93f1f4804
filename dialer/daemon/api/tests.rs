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
