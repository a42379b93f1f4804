//! Health, readiness and metrics: what systemd, load balancers and Prometheus ask.

use super::*;

/// Where the daemon is in its life, for `/ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting = 0,
    Running = 1,
    Stopping = 2,
}

/// A shared, cheap-to-clone phase flag: the daemon sets it, `/ready` reads it (with the
/// store's health: a running daemon whose store cannot write is not ready).
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicU8>, Arc<std::sync::OnceLock<StoreHealth>>);

pub(super) async fn health() -> Response {
    ok(json!({"status": "ok"}))
}

pub(super) async fn ready(State(api): State<Api>) -> Response {
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

pub(super) async fn render_metrics(State(api): State<Api>) -> ApiResult {
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

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
        }
    }
}

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
