//! The HTTP control API, health, readiness and `/metrics`, served with axum on `[api] bind`.
//!
//! Agents act on themselves (login, logout, ready, pause, hang up, disposition, screen pop, and
//! in preview campaigns dial or skip the lead they preview);
//! the supervisor token may do everything, including campaign control and the agents' states.
//! Each request is checked here (token, JSON, every field) before anything reaches the
//! switchboard through [`Control`], so a malformed request never touches a call. Errors are JSON
//! `{"error": {"code": "...", "message": "..."}}`; see README.md "HTTP API" for the routes.
//! Campaign controls and an agent logged out by the supervisor go to the store's audit trail
//! with who asked ([`Principal::name`]).
//!
//! Tokens are secrets named in `dialer.toml` (`[api] token_env`, `[[agents]] token_env`) and
//! read with [`config::secret`](super::config::secret): a systemd credential of that name, else
//! the environment variable. `/health`, `/ready` and `/metrics` need no token.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request as HttpRequest, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Map, Value, json};
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use super::config::{ApiConfig, DaemonConfig, SecretError};
use super::control::{Control, ControlError, Reply, Request};
use super::loglimit::LogLimit;
use super::switchboard::{CampaignStatus, Control as CampaignControl, SwitchboardError};
use super::telemetry::{self, Rosters};
use super::writer::StoreHealth;
use crate::agents::{AgentError, AgentId, AgentView};

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 16 * 1024;
/// Longest wait for the switchboard's answer (503 `busy` beyond).
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest pause reason and disposition notes, in characters.
const REASON_MAX: usize = 200;
const NOTES_MAX: usize = 4000;
/// Furthest callback accepted.
const CALLBACK_MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// How long to wait before accepting again after an accept error (out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What one client may hold of the API server (`[api]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl From<&ApiConfig> for Limits {
    fn from(c: &ApiConfig) -> Self {
        Limits {
            max_connections: c.max_connections,
            header_timeout: c.header_timeout,
            request_timeout: c.request_timeout,
        }
    }
}

// ---- readiness ----

/// Where the daemon is in its life, for `/ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting = 0,
    Running = 1,
    Stopping = 2,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
        }
    }
}

/// A shared, cheap-to-clone phase flag: the daemon sets it, `/ready` reads it (with the
/// store's health: a running daemon whose store cannot write is not ready).
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicU8>, Arc<std::sync::OnceLock<StoreHealth>>);

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self, phase: Phase) {
        self.0.store(phase as u8, Ordering::SeqCst);
    }

    /// `/ready` also says 503 `store` while this store cannot write.
    pub fn watch_store(&self, health: StoreHealth) {
        let _ = self.1.set(health);
    }

    /// Since when the store cannot write, and its error.
    pub fn store_unwritable(&self) -> Option<(std::time::Instant, String)> {
        self.1.get().and_then(StoreHealth::unwritable)
    }

    pub fn get(&self) -> Phase {
        match self.0.load(Ordering::SeqCst) {
            1 => Phase::Running,
            2 => Phase::Stopping,
            _ => Phase::Starting,
        }
    }
}

// ---- tokens ----

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Supervisor,
    Agent(AgentId),
}

impl Principal {
    /// Who did it, in the audit trail: `supervisor` (its token has no other name) or
    /// `agent ID`.
    pub fn name(&self) -> String {
        match self {
            Principal::Supervisor => "supervisor".into(),
            Principal::Agent(a) => format!("agent {a}"),
        }
    }
}

/// The API tokens: the supervisor's and each agent's, kept as SHA-256 digests (never the
/// secret itself, so no `Debug` print or memory dump shows one).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    supervisor: Option<TokenDigest>,
    agents: Vec<(TokenDigest, AgentId)>,
}

/// A token's SHA-256.
#[derive(Debug, Clone, Copy)]
struct TokenDigest([u8; 32]);

impl TokenDigest {
    fn of(token: &str) -> TokenDigest {
        TokenDigest(sha2::Sha256::digest(token.as_bytes()).into())
    }

    /// Constant time whatever the tokens: both sides are 32 bytes, compared without an early
    /// exit, so neither a token's length nor its first wrong byte shows in the time taken.
    fn matches(&self, other: &TokenDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// Tokens that cannot be told apart.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("agents {0} and {1} have the same API token; each agent needs its own")]
    Shared(AgentId, AgentId),
    #[error("agent {0}'s API token is the supervisor token")]
    Supervisor(AgentId),
}

impl Tokens {
    /// Tokens given directly (tests, embedding). Each must be distinct.
    pub fn new(
        supervisor: Option<String>,
        agents: impl IntoIterator<Item = (AgentId, String)>,
    ) -> Result<Self, TokenError> {
        let supervisor = supervisor.as_deref().map(TokenDigest::of);
        let mut list: Vec<(TokenDigest, AgentId)> = Vec::new();
        for (agent, token) in agents {
            let token = TokenDigest::of(&token);
            if supervisor.is_some_and(|s| s.matches(&token)) {
                return Err(TokenError::Supervisor(agent));
            }
            if let Some((_, other)) = list.iter().find(|(t, _)| t.matches(&token)) {
                return Err(TokenError::Shared(other.clone(), agent));
            }
            list.push((token, agent));
        }
        Ok(Self {
            supervisor,
            agents: list,
        })
    }

    /// The tokens `dialer.toml` names. A named secret that is not set leaves that principal
    /// without API access (the daemon still starts; the returned problems say which).
    pub fn from_config(config: &DaemonConfig) -> Result<(Self, Vec<SecretError>), TokenError> {
        let mut missing = Vec::new();
        let supervisor = match config.api.token() {
            Ok(t) => t,
            Err(e) => {
                missing.push(e);
                None
            }
        };
        let mut agents = Vec::new();
        for a in &config.agents {
            match a.token() {
                Ok(Some(t)) => agents.push((a.id.clone(), t)),
                Ok(None) => {}
                Err(e) => missing.push(e),
            }
        }
        Ok((Self::new(supervisor, agents)?, missing))
    }

    /// Whose token this is.
    pub fn identify(&self, token: &str) -> Option<Principal> {
        let token = TokenDigest::of(token);
        if self.supervisor.is_some_and(|s| s.matches(&token)) {
            return Some(Principal::Supervisor);
        }
        self.agents
            .iter()
            .find(|(t, _)| t.matches(&token))
            .map(|(_, a)| Principal::Agent(a.clone()))
    }
}

// ---- errors ----

/// A refused request, as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_field",
            format!("field {field:?}: {problem}"),
        )
    }
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
                SwitchboardError::UnknownDisposition { .. } => Self::bad_field("code", msg),
            },
        }
    }
}

type ApiResult = Result<Response, ApiError>;

// ---- the service ----

/// The API's shared state; clone it freely.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    control: Control,
    tokens: ArcSwap<Tokens>,
    readiness: Readiness,
    metrics: Option<PrometheusHandle>,
    rosters: ArcSwap<Rosters>,
}

impl Api {
    /// An API over the running switchboard. `metrics`: the installed recorder's handle
    /// ([`telemetry::install`]); without it `/metrics` answers 404.
    pub fn new(
        control: Control,
        tokens: Tokens,
        readiness: Readiness,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                control,
                tokens: ArcSwap::from_pointee(tokens),
                readiness,
                metrics,
                rosters: ArcSwap::from_pointee(Rosters::new()),
            }),
        }
    }

    /// New tokens (reload).
    pub fn set_tokens(&self, tokens: Tokens) {
        self.inner.tokens.store(Arc::new(tokens));
    }

    /// The agents of each campaign's groups, for lines per agent and occupancy (start, reload).
    pub fn set_rosters(&self, rosters: Rosters) {
        self.inner.rosters.store(Arc::new(rosters));
    }

    pub fn readiness(&self) -> &Readiness {
        &self.inner.readiness
    }

    /// The routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/health", get(health))
            .route("/ready", get(ready))
            .route("/metrics", get(render_metrics))
            .route("/v1/agents", get(list_agents))
            .route("/v1/agents/{id}", get(get_agent))
            .route("/v1/agents/{id}/lead", get(agent_lead))
            .route("/v1/agents/{id}/login", agent_action(Request::Login))
            .route("/v1/agents/{id}/logout", post(agent_logout))
            .route("/v1/agents/{id}/ready", agent_action(Request::Ready))
            .route("/v1/agents/{id}/pause", post(agent_pause))
            .route("/v1/agents/{id}/hangup", agent_action(Request::Hangup))
            .route("/v1/agents/{id}/dial", agent_action(Request::Dial))
            .route("/v1/agents/{id}/skip", agent_action(Request::Skip))
            .route("/v1/agents/{id}/disposition", post(agent_disposition))
            .route("/v1/campaigns", get(list_campaigns))
            .route("/v1/campaigns/{name}", get(get_campaign))
            .route(
                "/v1/campaigns/{name}/start",
                campaign_action(CampaignControl::Running),
            )
            .route(
                "/v1/campaigns/{name}/pause",
                campaign_action(CampaignControl::Paused),
            )
            .route(
                "/v1/campaigns/{name}/stop",
                campaign_action(CampaignControl::Stopped),
            )
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(self.clone())
    }

    /// Serve on `listener` with the default [`Limits`] until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, Limits::default(), shutdown).await
    }

    /// Serve on `listener` until `shutdown` resolves, then finish the requests in progress
    /// (each bounded by `limits.request_timeout`).
    ///
    /// At most `limits.max_connections` connections are served at once: one more is closed as
    /// soon as it is accepted and counted in `dialer_api_connections_refused_total`, so idle or
    /// half-sent connections cannot take every file descriptor the dialer needs for its calls.
    /// A connection that has not sent a whole request head `limits.header_timeout` after it
    /// opened or after its last answer is closed (hyper's header read timeout, which also runs
    /// between keep-alive requests).
    pub async fn serve_with(
        &self,
        listener: tokio::net::TcpListener,
        limits: Limits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let request_timeout = limits.request_timeout;
        let app = self.router().layer(axum::middleware::from_fn(
            move |req: HttpRequest, next: Next| async move {
                match tokio::time::timeout(request_timeout, next.run(req)).await {
                    Ok(response) => response,
                    Err(_) => ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        format!("the request was not read and answered within {request_timeout:?}"),
                    )
                    .into_response(),
                }
            },
        ));
        let service = TowerToHyperService::new(app);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true);
        let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        let slots = Arc::new(Semaphore::new(max));
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let mut shutdown = std::pin::pin!(shutdown);
        let mut accept_errors = LogLimit::new(Duration::from_secs(10));
        let mut refusals = LogLimit::new(Duration::from_secs(10));
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Out of descriptors (EMFILE) or the like: the connection waits in the
                        // backlog; try again shortly instead of spinning.
                        metrics::counter!("dialer_api_accept_errors_total").increment(1);
                        if let Some(more) = accept_errors.allow(Instant::now()) {
                            tracing::warn!(%err, more, "the API cannot accept a connection");
                        }
                        tokio::time::sleep(ACCEPT_RETRY).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                metrics::counter!("dialer_api_connections_refused_total").increment(1);
                if let Some(more) = refusals.allow(Instant::now()) {
                    tracing::warn!(
                        max_connections = max,
                        more,
                        "the API has as many connections as allowed; closing a new one ([api] max_connections)"
                    );
                }
                drop(stream);
                continue;
            };
            metrics::gauge!("dialer_api_connections").increment(1.0);
            let connection = http.serve_connection(TokioIo::new(stream), service.clone());
            let mut stopping = stopping.clone();
            tokio::spawn(async move {
                let mut connection = std::pin::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    _ = async { stopping.wait_for(|s| *s).await.map(|_| ()) } => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
                metrics::gauge!("dialer_api_connections").decrement(1.0);
                drop(slot);
            });
        }
        drop(listener);
        let _ = stop.send(true);
        // Every slot back: each connection has finished.
        let all = u32::try_from(max).unwrap_or(u32::MAX);
        let _ = slots.acquire_many(all).await;
        Ok(())
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing Authorization: Bearer <token>"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        self.inner
            .tokens
            .load()
            .identify(token)
            .ok_or_else(|| unauthorized("unknown token"))
    }

    fn supervisor(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        match self.authorize(headers)? {
            Principal::Supervisor => Ok(Principal::Supervisor),
            Principal::Agent(a) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("agent {a}'s token cannot do this; it needs the supervisor token"),
            )),
        }
    }

    /// The supervisor, or the agent `id` itself.
    fn as_agent(&self, headers: &HeaderMap, id: &str) -> Result<Principal, ApiError> {
        match self.authorize(headers)? {
            Principal::Supervisor => Ok(Principal::Supervisor),
            Principal::Agent(a) if a == id => Ok(Principal::Agent(a)),
            Principal::Agent(a) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("agent {a}'s token acts only as {a}, not as {id}"),
            )),
        }
    }

    async fn ask(&self, request: Request) -> Result<Reply, ApiError> {
        match tokio::time::timeout(ASK_TIMEOUT, self.inner.control.ask(request)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("the switchboard did not answer within {ASK_TIMEOUT:?}"),
            )),
        }
    }

    async fn agents(&self) -> Result<Vec<AgentView>, ApiError> {
        match self.ask(Request::Agents).await? {
            Reply::Agents(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    async fn campaigns(&self) -> Result<Vec<CampaignStatus>, ApiError> {
        match self.ask(Request::Campaigns).await? {
            Reply::Campaigns(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    /// The agent's view, as the answer to an agent request.
    async fn agent_answer(&self, id: &str) -> ApiResult {
        let agents = self.agents().await?;
        let view = agents
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| unknown_agent(id))?;
        Ok(ok(json!({ "agent": agent_json(view) })))
    }

    /// Carry out an agent's (already authorized) request; answer with the agent's view.
    async fn agent_request(&self, id: &str, request: Request) -> ApiResult {
        // The daemon answers with the agent's view right after the action: the last
        // disposition of a drain may stop the daemon before a second question could be asked.
        match self.ask(request).await? {
            Reply::Agents(views) => {
                let view = views
                    .iter()
                    .find(|a| a.id == id)
                    .ok_or_else(|| unknown_agent(id))?;
                Ok(ok(json!({ "agent": agent_json(view) })))
            }
            _ => self.agent_answer(id).await,
        }
    }

    /// Carry out a (supervisor's) campaign control; answer with the campaign's status.
    async fn campaign_request(
        &self,
        name: String,
        control: CampaignControl,
        by: &Principal,
    ) -> ApiResult {
        self.ask(Request::Campaign {
            name: name.clone(),
            control,
            by: by.name(),
        })
        .await?;
        let campaigns = self.campaigns().await?;
        let c = campaigns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| unknown_campaign(&name))?;
        Ok(ok(json!({ "campaign": campaign_json(c) })))
    }
}

fn unexpected(reply: &Reply) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("unexpected answer from the switchboard: {reply:?}"),
    )
}

fn unknown_agent(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_agent",
        format!("no agent with id {id:?}"),
    )
}

fn unknown_campaign(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_campaign",
        format!("no campaign named {name:?}"),
    )
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn agent_json(a: &AgentView) -> Value {
    json!({
        "id": a.id,
        "state": a.state.as_str(),
        "seconds_in_state": a.elapsed.as_secs_f64(),
        "call": a.call,
        "pause_reason": a.pause_reason,
    })
}

fn campaign_json(c: &CampaignStatus) -> Value {
    json!({
        "name": c.name,
        "mode": c.mode,
        "control": c.control.as_str(),
        "calls_in_flight": c.calls_in_flight,
        "waiting_for_agent": c.waiting_for_agent,
        "dials": c.dials,
        "live_answers": c.live_answers,
        "abandoned": c.abandoned,
        "amd_machines": c.amd_machines,
        "abandon_rate": c.abandon_rate,
        "abandon_cap": c.abandon_cap,
        "last_decision": c.last_decision,
        "lists": c.leads.lists.iter().map(|l| json!({
            "list": l.list,
            "file": l.file.display().to_string(),
            "imported": l.imported,
            "rejected": l.rejected,
            "rejected_rows": l.rejected_rows,
            "error": l.error,
        })).collect::<Vec<_>>(),
        "lists_loading": c.leads.loading,
        "lists_loads": c.leads.loads,
        "leads": c.leads.check,
    })
}

// ---- request bodies ----

/// The body as a JSON object with only `allowed` keys (an empty body is an empty object).
fn object(
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
fn string(map: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, ApiError> {
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

fn required(map: &Map<String, Value>, field: &str, max: usize) -> Result<String, ApiError> {
    match string(map, field, max)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(ApiError::bad_field(field, "must not be empty")),
        None => Err(ApiError::bad_field(field, "missing")),
    }
}

fn kind(v: &Value) -> &'static str {
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
fn callback(map: &Map<String, Value>, now: jiff::Timestamp) -> Result<Option<Duration>, ApiError> {
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

async fn health() -> Response {
    ok(json!({"status": "ok"}))
}

async fn ready(State(api): State<Api>) -> Response {
    match api.inner.readiness.get() {
        Phase::Running => match api.inner.readiness.store_unwritable() {
            None => ok(json!({"status": "running"})),
            Some((since, err)) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store",
                format!(
                    "the store cannot write (for {:.0?}): dialing is paused until it can; {err}",
                    since.elapsed()
                ),
            )
            .into_response(),
        },
        p => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            p.as_str(),
            format!("the daemon is {}", p.as_str()),
        )
        .into_response(),
    }
}

async fn render_metrics(State(api): State<Api>) -> ApiResult {
    let Some(handle) = api.inner.metrics.as_ref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "metrics are not enabled",
        ));
    };
    // Gauges of the present; a stopping daemon still renders what it has.
    if let (Ok(campaigns), Ok(agents)) = (api.campaigns().await, api.agents().await) {
        telemetry::refresh(&campaigns, &agents, &api.inner.rosters.load());
    }
    handle.run_upkeep();
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

async fn list_agents(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    api.supervisor(&headers)?;
    let agents = api.agents().await?;
    let list: Vec<Value> = agents.iter().map(agent_json).collect();
    Ok(ok(json!({ "agents": list })))
}

async fn get_agent(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    api.agent_answer(&id).await
}

async fn agent_lead(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    let lead = match api.ask(Request::Lead(id)).await? {
        Reply::Lead(lead) => lead,
        other => return Err(unexpected(&other)),
    };
    let body = match lead {
        None => Value::Null,
        Some((campaign, lead)) => {
            // The attributes are the list's other columns as a JSON object.
            let attributes = serde_json::from_str::<Value>(&lead.attributes)
                .unwrap_or(Value::String(lead.attributes.clone()));
            json!({
                "campaign": campaign,
                "lead_id": lead.id,
                "phone": lead.phone,
                "timezone": lead.timezone,
                "attempts": lead.attempts,
                "attributes": attributes,
            })
        }
    };
    Ok(ok(json!({ "lead": body })))
}

/// `POST` an agent action that takes no fields (login, logout, ready, hang up, dial, skip): the agent
/// themselves or the supervisor; the answer is the agent's view.
fn agent_action(request: fn(String) -> Request) -> MethodRouter<Api> {
    post(
        move |State(api): State<Api>,
              headers: HeaderMap,
              Path(id): Path<String>,
              body: Result<Bytes, BytesRejection>| async move {
            api.as_agent(&headers, &id)?;
            object(body, &[])?;
            api.agent_request(&id, request(id.clone())).await
        },
    )
}

/// `POST` a campaign control (start, pause, stop): the supervisor only; the answer is the
/// campaign's status.
fn campaign_action(control: CampaignControl) -> MethodRouter<Api> {
    post(
        move |State(api): State<Api>,
              headers: HeaderMap,
              Path(name): Path<String>,
              body: Result<Bytes, BytesRejection>| async move {
            let by = api.supervisor(&headers)?;
            object(body, &[])?;
            api.campaign_request(name, control, &by).await
        },
    )
}

/// `POST` a logout: the agent themselves, or the supervisor forcing the agent off (recorded in
/// the audit trail).
async fn agent_logout(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let by = api.as_agent(&headers, &id)?;
    object(body, &[])?;
    let request = match by {
        Principal::Agent(_) => Request::Logout(id.clone()),
        Principal::Supervisor => Request::ForceLogout {
            agent: id.clone(),
            by: by.name(),
        },
    };
    api.agent_request(&id, request).await
}

async fn agent_pause(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    let map = object(body, &["reason"])?;
    let reason = required(&map, "reason", REASON_MAX)?;
    let request = Request::Pause {
        agent: id.clone(),
        reason,
    };
    api.agent_request(&id, request).await
}

async fn agent_disposition(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    let map = object(body, &["code", "notes", "callback_at", "callback_in"])?;
    let code = required(&map, "code", 64)?;
    let notes = string(&map, "notes", NOTES_MAX)?;
    let callback_after = callback(&map, jiff::Timestamp::now())?;
    let request = Request::Disposition {
        agent: id.clone(),
        code,
        notes,
        callback_after,
    };
    api.agent_request(&id, request).await
}

async fn list_campaigns(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    api.supervisor(&headers)?;
    let campaigns = api.campaigns().await?;
    let list: Vec<Value> = campaigns.iter().map(campaign_json).collect();
    Ok(ok(json!({ "campaigns": list })))
}

async fn get_campaign(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult {
    api.supervisor(&headers)?;
    let campaigns = api.campaigns().await?;
    let c = campaigns
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| unknown_campaign(&name))?;
    Ok(ok(json!({ "campaign": campaign_json(c) })))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

#[cfg(test)]
mod tests;
