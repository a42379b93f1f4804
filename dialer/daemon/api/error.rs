//! The API's errors: a status, a stable code and a message, as JSON.

use super::*;

/// A refused request, as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dialer\""),
            );
        }
        response
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let msg = e.to_string();
        match e {
            ControlError::Stopped => Self::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", msg),
            ControlError::Refused(e) => match e {
                SwitchboardError::Agent(AgentError::Unknown(_)) => {
                    Self::new(StatusCode::NOT_FOUND, "unknown_agent", msg)
                }
                SwitchboardError::Agent(AgentError::InvalidTransition { .. }) => {
                    Self::new(StatusCode::CONFLICT, "invalid_transition", msg)
                }
                SwitchboardError::Agent(AgentError::PreviewDialed { .. }) => {
                    Self::new(StatusCode::CONFLICT, "already_dialed", msg)
                }
                SwitchboardError::NoPreview(_) => {
                    Self::new(StatusCode::CONFLICT, "no_preview", msg)
                }
                SwitchboardError::NoLine { .. } => Self::new(StatusCode::CONFLICT, "no_line", msg),
                SwitchboardError::UnknownCampaign(_) => {
                    Self::new(StatusCode::NOT_FOUND, "unknown_campaign", msg)
                }
                SwitchboardError::NoCall(_) => Self::new(StatusCode::CONFLICT, "no_call", msg),
                SwitchboardError::NotRecorded(_) => {
                    Self::new(StatusCode::CONFLICT, "not_recorded", msg)
                }
                SwitchboardError::UnknownDisposition { .. } => Self::bad_field("code", msg),
                SwitchboardError::BadAnswer { field, .. } => Self::bad_field(field, msg),
                // The route names the field it checked (callback_at or callback_in).
                SwitchboardError::CallbackOutsideHours { .. } => {
                    Self::bad_field("callback_at", msg)
                }
            },
        }
    }
}

pub(super) type ApiResult = Result<Response, ApiError>;

// ---- the service ----

pub(super) fn unexpected(reply: &Reply) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("unexpected answer from the switchboard: {reply:?}"),
    )
}

pub(super) fn unknown_agent(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_agent",
        format!("no agent with id {id:?}"),
    )
}

pub(super) fn unknown_campaign(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_campaign",
        format!("no campaign named {name:?}"),
    )
}

pub(super) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn bad_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_field",
            format!("field {field:?}: {problem}"),
        )
    }
}
