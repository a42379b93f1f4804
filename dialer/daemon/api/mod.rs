//! The HTTP control API, health, readiness and `/metrics`, served with axum on `[api] bind`.
//!
//! Agents act on themselves (login, logout, ready, pause, hang up, disposition, screen pop, and
//! in preview campaigns dial or skip the lead they preview);
//! the supervisor token may do everything, including campaign control and the agents' states.
//! Each request is checked here (token, JSON, every field) before anything reaches the
//! switchboard through [`SwitchboardHandle`], so a malformed request never touches a call. Errors are JSON
//! `{"error": {"code": "...", "message": "..."}}`; docs/reference/api.md lists the routes.
//! Campaign controls and an agent logged out by the supervisor go to the store's audit trail
//! with who asked ([`Principal::name`]).
//!
//! Tokens are secrets named in `dialer.toml` (`[api] token_env`, `[[agents]] token_env`) and
//! read with [`config::secret`](super::config::secret): a systemd credential of that name, else
//! the environment variable. `/health`, `/ready` and `/metrics` need no token.
//!
//! Here: [`Api`], its routes and its own accept loop (connection cap, header and request
//! timeouts). Tokens in `auth.rs`, errors in `error.rs`, request and response JSON in `json.rs`,
//! the handlers in `routes.rs`, health/readiness/metrics in `probes.rs`, the live updates
//! (`GET /v1/events`) in `events.rs`.

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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::{ApiConfig, DaemonConfig, DesktopConfig, SecretError};
use super::control::{ControlError, Reply, Request, SwitchboardHandle};
use super::loglimit::LogLimit;
use super::telemetry::{self, Rosters};
use super::writer::StoreHealth;
use crate::agents::{AgentError, AgentStatus};
use crate::domain::{AgentId, CampaignControl};
use crate::switchboard::{CampaignStatus, SwitchboardError};

mod auth;
mod error;
mod events;
mod json;
mod people;
mod probes;
mod routes;
mod web;

pub use auth::{Principal, TokenError, Tokens};
pub use error::ApiError;
use error::*;
use events::*;
use json::*;
pub use people::{PASSWORD_MIN, PeopleConfig, hash_password, password_problem};
use probes::*;
pub use probes::{Phase, Readiness};
use routes::*;

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 16 * 1024;
/// Longest wait for the switchboard's answer (503 `busy` beyond).
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest pause reason and disposition notes, in characters.
const REASON_MAX: usize = 200;
const NOTES_MAX: usize = 4000;
/// Furthest callback accepted.
const CALLBACK_MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// The kernel send buffer of an API connection (Linux doubles it). Answers are small; an event
/// stream whose reader stalls fills this and hyper's short queue, then falls behind on the
/// bus and is closed, instead of the kernel holding megabytes for it (autotuning on loopback
/// grants over a megabyte a connection).
const SEND_BUFFER: usize = 32 * 1024;

/// How long to wait before accepting again after an accept error (out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What one client may hold of the API server (`[api]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    /// Connections holding an event stream (`GET /v1/events`), counted apart from
    /// `max_connections`: a connection that opens a stream gives its ordinary slot back.
    pub max_event_streams: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_event_streams: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl From<&ApiConfig> for Limits {
    fn from(c: &ApiConfig) -> Self {
        Limits {
            max_connections: c.max_connections,
            max_event_streams: c.max_event_streams,
            header_timeout: c.header_timeout,
            request_timeout: c.request_timeout,
        }
    }
}

// ---- readiness ----

// ---- tokens ----

// ---- errors ----

/// The API's shared state; clone it freely.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    control: SwitchboardHandle,
    tokens: ArcSwap<Tokens>,
    readiness: Readiness,
    metrics: Option<PrometheusHandle>,
    rosters: ArcSwap<Rosters>,
    people: Arc<people::People>,
    desktop: ArcSwap<DesktopConfig>,
    /// The agents' phones in the browser (set at start when an agent has one).
    webrtc: std::sync::OnceLock<crate::webrtc::Gateway>,
}

impl Api {
    /// An API over the running switchboard. `metrics`: the installed recorder's handle
    /// ([`telemetry::install`]); without it `/metrics` answers 404.
    pub fn new(
        control: SwitchboardHandle,
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
                people: Arc::new(people::People::new()),
                desktop: ArcSwap::from_pointee(DesktopConfig::default()),
                webrtc: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The desktop's settings: pause reasons (start, reload).
    pub fn set_desktop(&self, desktop: DesktopConfig) {
        self.inner.desktop.store(Arc::new(desktop));
    }

    /// The WebRTC gateway the agents' pages connect their phones to (start; once).
    pub fn set_webrtc(&self, gateway: Option<crate::webrtc::Gateway>) {
        if let Some(g) = gateway {
            let _ = self.inner.webrtc.set(g);
        }
    }

    /// New tokens (reload).
    pub fn set_tokens(&self, tokens: Tokens) {
        self.inner.tokens.store(Arc::new(tokens));
    }

    /// Logins for people: the store of users and the session settings (start, reload).
    pub fn set_people(&self, config: PeopleConfig) {
        self.inner.people.set_config(config);
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
            .route("/v1/events", get(events))
            .route("/v1/agents/{id}/lead", get(agent_lead))
            .route("/v1/agents/{id}/login", agent_action(Request::Login))
            .route("/v1/agents/{id}/logout", post(agent_logout))
            .route("/v1/agents/{id}/ready", agent_action(Request::Ready))
            .route("/v1/agents/{id}/pause", post(agent_pause))
            .route("/v1/agents/{id}/hangup", agent_action(Request::Hangup))
            .route(
                "/v1/agents/{id}/recording/pause",
                agent_action(Request::RecordingPause),
            )
            .route(
                "/v1/agents/{id}/recording/resume",
                agent_action(Request::RecordingResume),
            )
            .route(
                "/v1/agents/{id}/phone",
                get(agent_phone).post(phone_offer).delete(phone_hangup),
            )
            .route("/v1/agents/{id}/dial", agent_action(Request::Dial))
            .route("/v1/agents/{id}/skip", agent_action(Request::Skip))
            .route("/v1/agents/{id}/disposition", post(agent_disposition))
            .route("/v1/agents/{id}/answer", post(agent_answer))
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
            .route(
                "/v1/session",
                get(people::session)
                    .post(people::login)
                    .delete(people::logout),
            )
            .route("/v1/session/logout", post(people::logout))
            .merge(web::routes())
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                people::guard,
            ))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(self.clone())
    }

    /// Serve on `listener` in a task of its own until [`Served::stop`] (what `dialer run` and
    /// `dialer demo` do); a failure of the server is logged.
    pub fn spawn(&self, listener: tokio::net::TcpListener, limits: Limits) -> Served {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let api = self.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(err) = api.serve_with(listener, limits, shutdown).await {
                tracing::error!(%err, "the API server failed");
            }
        });
        Served { stop, task }
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
        let streams_max = limits.max_event_streams.clamp(1, Semaphore::MAX_PERMITS);
        let streams = Arc::new(Semaphore::new(streams_max));
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
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
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
            if let Err(err) = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER) {
                tracing::debug!(%err, "cannot set an API connection's send buffer");
            }
            // The connection's slot, which an event stream trades for one of its own.
            let slot = ConnSlot::new(slot, streams.clone(), stopping.clone());
            let per_connection = {
                let service = service.clone();
                let slot = slot.clone();
                hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(slot.clone());
                    // The peer's address for the handlers (login limits per source address).
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    hyper::service::Service::call(&service, req)
                })
            };
            let connection = http.serve_connection(TokioIo::new(stream), per_connection);
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
        // Connections finish their answers; event streams, which never end by themselves,
        // end now.
        let _ = stop.send(true);
        // Every slot back: each connection has finished.
        let all = u32::try_from(max).unwrap_or(u32::MAX);
        let _ = slots.acquire_many(all).await;
        let all = u32::try_from(streams_max).unwrap_or(u32::MAX);
        let _ = streams.acquire_many(all).await;
        Ok(())
    }

    /// Who is asking: the one place every `/v1` route (and the event stream) resolves a
    /// request's credentials to a [`Principal`].
    fn authorize(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        // A person's session cookie, when no bearer token is given (people.rs).
        if !headers.contains_key(header::AUTHORIZATION)
            && let Some(session) = people::cookie(headers, people::SESSION_COOKIE)
        {
            return self.inner.people.resolve(session, Instant::now());
        }
        let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
            unauthorized(
                "missing Authorization: Bearer <token> (or a session cookie: POST /v1/session)",
            )
        })?;
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

    async fn agents(&self) -> Result<Vec<AgentStatus>, ApiError> {
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

#[cfg(test)]
mod tests;

/// The API served by [`Api::spawn`].
pub struct Served {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Stop accepting, finish the requests in progress, and return when the server is done.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
