//! JSON in and out: request bodies checked field by field (each error names the field), and
//! agents and campaigns as the API shows them.

use super::*;

pub(super) fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

pub(super) use crate::daemon::live::{agent_json, campaign_json};

// ---- request bodies ----

/// The body as a JSON object with only `allowed` keys (an empty body is an empty object).
pub(super) fn object(
    body: Result<Bytes, BytesRejection>,
    allowed: &[&str],
) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_request"
        };
        ApiError::new(
            status,
            code,
            format!("{} (limit {BODY_LIMIT} bytes)", e.body_text()),
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(map) = value else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            "the body must be a JSON object",
        ));
    };
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_field(
            k,
            format!("unknown field; expected one of {allowed:?}"),
        ));
    }
    Ok(map)
}

/// An optional string field, at most `max` characters; `null` counts as absent.
pub(super) fn string(
    map: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => Err(ApiError::bad_field(
            field,
            format!("longer than {max} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_field(
            field,
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

pub(super) fn required(
    map: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<String, ApiError> {
    match string(map, field, max)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(ApiError::bad_field(field, "must not be empty")),
        None => Err(ApiError::bad_field(field, "missing")),
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `callback_at` (RFC 3339) or `callback_in` ("2h"), as a delay from `now`.
pub(super) fn callback(
    map: &Map<String, Value>,
    now: jiff::Timestamp,
) -> Result<Option<Duration>, ApiError> {
    let at = string(map, "callback_at", 64)?;
    let within = string(map, "callback_in", 64)?;
    let delay = match (at, within) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_field(
                "callback_in",
                "give callback_at or callback_in, not both",
            ));
        }
        (None, None) => return Ok(None),
        (Some(at), None) => {
            let t: jiff::Timestamp = at.parse().map_err(|e| {
                ApiError::bad_field(
                    "callback_at",
                    format!("not an RFC 3339 time such as 2026-11-27T15:00:00Z: {e}"),
                )
            })?;
            let d = now.duration_until(t);
            if d.is_negative() || d.is_zero() {
                return Err(ApiError::bad_field(
                    "callback_at",
                    format!("{at} is in the past"),
                ));
            }
            Duration::try_from(d).map_err(|e| ApiError::bad_field("callback_at", e))?
        }
        (None, Some(s)) => {
            let d = humantime::parse_duration(&s).map_err(|e| {
                ApiError::bad_field("callback_in", format!("not a duration such as \"2h\": {e}"))
            })?;
            if d.is_zero() {
                return Err(ApiError::bad_field("callback_in", "must be more than zero"));
            }
            d
        }
    };
    let field = if map.contains_key("callback_at") {
        "callback_at"
    } else {
        "callback_in"
    };
    if delay > CALLBACK_MAX {
        return Err(ApiError::bad_field(field, "more than a year away"));
    }
    Ok(Some(delay))
}

// ---- handlers ----
