//! People's logins (the agent desktop and the wallboard): passwords checked against the argon2id
//! hashes of the store's `users`, sessions held by a cookie, a CSRF token per session, idle
//! expiry, rate limits and lockouts on failed logins.
//!
//! A session resolves to the same [`Principal`] as a bearer token (the supervisor, or one
//! agent), so every route's rules hold for people as for programs. Sessions live in the
//! daemon's memory: a restart logs everyone out (their pages then show the login again), which
//! is safer than keeping session keys in the store. Only the SHA-256 of a session id is kept.
//!
//! - Cookie `dialer-session`: 256 random bits, `HttpOnly; SameSite=Strict; Path=/`, `Secure`
//!   when `[api] public_url` is `https://…`.
//! - CSRF: every request with the cookie (and no bearer token) whose method changes state
//!   carries `X-CSRF-Token` equal to the session's token (given at login and by
//!   `GET /v1/session`), else 403 `csrf`.
//! - Idle expiry after `[api] session_idle`; a session with an open event stream does not
//!   expire while it is open.
//! - Failed logins: each attempt takes a cell of a per-account and a per-address governor
//!   limiter (429 `rate_limited`); `LOCK_AFTER` wrong passwords in a row lock the account for
//!   `[api] login_lockout` (429 `locked`), kept in the store so a restart does not lift it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use axum::extract::ConnectInfo;
use axum::http::{Extensions, Method};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::auth::TokenDigest;
use super::*;
use crate::store::{Role, Store};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "dialer-session";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Wrong passwords in a row that lock an account.
pub const LOCK_AFTER: u32 = 5;
/// Shortest password `dialer user set-password` accepts.
pub const PASSWORD_MIN: usize = 10;
/// Longest password (argon2 takes any length; this bounds the work a request can ask for).
pub const PASSWORD_MAX: usize = 256;
/// Sessions kept at most (the oldest idle ones go first beyond it).
const SESSIONS_MAX: usize = 10_000;

/// What logins for people need from the daemon (start and reload).
#[derive(Debug, Clone)]
pub struct PeopleConfig {
    /// Where the users are.
    pub store: Store,
    /// The `[[agents]]` ids: an agent user must be one of them.
    pub agents: Vec<AgentId>,
    /// Whether the session cookie is `Secure` (`[api] public_url` is https).
    pub secure: bool,
    pub idle: Duration,
    pub lockout: Duration,
}

impl PeopleConfig {
    pub fn from_config(config: &DaemonConfig, store: Store) -> Self {
        PeopleConfig {
            store,
            agents: config.agents.iter().map(|a| a.id.clone()).collect(),
            secure: config
                .api
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            idle: config.api.session_idle,
            lockout: config.api.login_lockout,
        }
    }
}

/// A person's session.
#[derive(Debug)]
struct Session {
    principal: Principal,
    user: String,
    csrf: String,
    last_seen: Instant,
    /// Event streams open on this session: it does not expire while there is one.
    streams: usize,
}

/// The sessions and login limits of an [`Api`].
pub(super) struct People {
    config: ArcSwap<Option<PeopleConfig>>,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

/// A logged-in session as the API shows it.
#[derive(Debug, Clone)]
pub(super) struct SessionView {
    pub principal: Principal,
    pub user: String,
    pub csrf: String,
    pub idle: Duration,
}

/// Hash a password for the store (argon2id, a fresh random salt, the crate's default costs).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` is acceptable for a person: long enough, not too long, not blank.
pub fn password_problem(password: &str) -> Option<String> {
    let n = password.chars().count();
    if password.trim().is_empty() {
        Some("the password is empty".into())
    } else if n < PASSWORD_MIN {
        Some(format!(
            "the password is {n} characters; it needs at least {PASSWORD_MIN}"
        ))
    } else if n > PASSWORD_MAX {
        Some(format!(
            "the password is {n} characters; at most {PASSWORD_MAX} are accepted"
        ))
    } else {
        None
    }
}

/// A stored hash to check against when the user does not exist, so an unknown id takes as
/// long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not anyone's password").unwrap_or_default())
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(super) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The principal as JSON: `{"role": "agent", "id": "alice"}` or `{"role": "supervisor"}`.
pub(super) fn principal_json(p: &Principal) -> Value {
    match p {
        Principal::Supervisor => json!({"role": "supervisor"}),
        Principal::Agent(a) => json!({"role": "agent", "id": a}),
    }
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    per_minute: u32,
    burst: u32,
) -> DefaultKeyedRateLimiter<K> {
    let per = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(per).allow_burst(burst))
}

impl People {
    pub(super) fn new() -> Self {
        People {
            config: ArcSwap::from_pointee(None),
            sessions: Mutex::new(HashMap::new()),
            // An account: 10 tries at once, then one every 6 s (the lockout comes first for a
            // guesser who knows the id).
            per_account: limiter(10, 10),
            // An address: a call centre's agents behind one NAT log in at the start of a shift.
            per_address: limiter(120, 60),
        }
    }

    pub(super) fn set_config(&self, config: PeopleConfig) {
        self.config.store(Arc::new(Some(config)));
    }

    fn config(&self) -> Result<PeopleConfig, ApiError> {
        self.config.load().as_ref().clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_logins",
                "logins for people are not enabled on this daemon",
            )
        })
    }

    fn idle(&self) -> Duration {
        self.config
            .load()
            .as_ref()
            .as_ref()
            .map_or(Duration::from_secs(30 * 60), |c| c.idle)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The principal of the session `id`; it counts as activity.
    pub(super) fn resolve(&self, id: &str, now: Instant) -> Result<Principal, ApiError> {
        self.view(id, now).map(|v| v.principal)
    }

    /// The session `id`, if it is alive (and now seen).
    pub(super) fn view(&self, id: &str, now: Instant) -> Result<SessionView, ApiError> {
        let idle = self.idle();
        let key = TokenDigest::of(id).0;
        let mut sessions = self.lock();
        let expired = match sessions.get_mut(&key) {
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "no such session (logged out, expired or the daemon restarted); log in again",
                ));
            }
            Some(s) => s.streams == 0 && now.saturating_duration_since(s.last_seen) > idle,
        };
        if expired {
            sessions.remove(&key);
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!(
                    "the session ended after {} idle; log in again",
                    humantime::format_duration(idle)
                ),
            ));
        }
        let s = sessions.get_mut(&key).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "no such session")
        })?;
        s.last_seen = now;
        Ok(SessionView {
            principal: s.principal.clone(),
            user: s.user.clone(),
            csrf: s.csrf.clone(),
            idle,
        })
    }

    /// Refuse a state change made with the session `id` without its CSRF token. An unknown
    /// session passes here (the route's authorization answers 401).
    pub(super) fn check_csrf(&self, id: &str, given: Option<&HeaderValue>) -> Result<(), ApiError> {
        let key = TokenDigest::of(id).0;
        let sessions = self.lock();
        let Some(s) = sessions.get(&key) else {
            return Ok(());
        };
        let given = given.and_then(|v| v.to_str().ok()).unwrap_or("");
        if TokenDigest::of(given).matches(&TokenDigest::of(&s.csrf)) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                if given.is_empty() {
                    "a request that changes something with a session cookie needs the session's \
                     X-CSRF-Token header (GET /v1/session gives it)"
                } else {
                    "the X-CSRF-Token header is not this session's token"
                },
            ))
        }
    }

    /// An event stream opened on the session `id`: it stays alive until the guard drops.
    pub(super) fn stream_opened(self: &Arc<Self>, id: &str) -> Option<StreamGuard> {
        let key = TokenDigest::of(id).0;
        let mut sessions = self.lock();
        let s = sessions.get_mut(&key)?;
        s.streams += 1;
        Some(StreamGuard {
            people: Arc::clone(self),
            key,
        })
    }

    fn create(&self, principal: Principal, user: String, now: Instant) -> (String, String) {
        let id = random_token();
        let csrf = random_token();
        let idle = self.idle();
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.streams > 0 || now.saturating_duration_since(s.last_seen) <= idle);
        if sessions.len() >= SESSIONS_MAX
            && let Some(oldest) = sessions
                .iter()
                .filter(|(_, s)| s.streams == 0)
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            TokenDigest::of(&id).0,
            Session {
                principal,
                user,
                csrf: csrf.clone(),
                last_seen: now,
                streams: 0,
            },
        );
        (id, csrf)
    }

    fn end(&self, id: &str) -> bool {
        self.lock().remove(&TokenDigest::of(id).0).is_some()
    }

    fn cookie(&self, value: &str, max_age: Option<u64>) -> HeaderValue {
        let secure = self
            .config
            .load()
            .as_ref()
            .as_ref()
            .is_some_and(|c| c.secure);
        let mut c = format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if secure {
            c.push_str("; Secure");
        }
        HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Keeps a session alive while its event stream is open.
pub(super) struct StreamGuard {
    people: Arc<People>,
    key: [u8; 32],
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if let Some(s) = self.people.lock().get_mut(&self.key) {
            s.streams = s.streams.saturating_sub(1);
            s.last_seen = Instant::now();
        }
    }
}

/// A response body that holds a [`StreamGuard`] until the body ends or is dropped.
struct Guarded {
    body: axum::body::Body,
    _guard: StreamGuard,
}

impl axum::body::HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }
}

/// Middleware on every route: the CSRF check of cookie requests that change state, and the
/// session kept alive while its event stream (`GET /v1/events`) is open.
pub(super) async fn guard(State(api): State<Api>, req: HttpRequest, next: Next) -> Response {
    let bearer = req.headers().contains_key(header::AUTHORIZATION);
    let session = (!bearer)
        .then(|| cookie(req.headers(), SESSION_COOKIE).map(str::to_owned))
        .flatten();
    let Some(session) = session else {
        return next.run(req).await;
    };
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let login = req.method() == Method::POST && req.uri().path() == "/v1/session";
    if changes
        && !login
        && let Err(e) = api
            .inner
            .people
            .check_csrf(&session, req.headers().get(CSRF_HEADER))
    {
        return e.into_response();
    }
    let stream = req.method() == Method::GET && req.uri().path() == "/v1/events";
    let response = next.run(req).await;
    if stream
        && response.status().is_success()
        && let Some(guard) = api.inner.people.stream_opened(&session)
    {
        let (parts, body) = response.into_parts();
        return Response::from_parts(
            parts,
            axum::body::Body::new(Guarded {
                body,
                _guard: guard,
            }),
        );
    }
    response
}

// ---- the routes ----

/// The login form: JSON `{"id", "password"}` or the same as a URL-encoded form.
fn login_fields(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(String, String), ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (id, password) = if form {
        let bytes =
            body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_body", e.body_text()))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_form",
                format!("the form: {e}"),
            )
        })?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        for (k, _) in &pairs {
            if !matches!(k.as_str(), "id" | "password" | "lang") {
                return Err(ApiError::bad_field(k, "unknown field (id, password)"));
            }
        }
        (get("id"), get("password"))
    } else {
        let map = object(body, &["id", "password"])?;
        let id = required(&map, "id", NAME_MAX)?;
        let password = match map.get("password") {
            Some(Value::String(p)) => Some(p.clone()),
            Some(other) => {
                return Err(ApiError::bad_field(
                    "password",
                    format!("must be a string, not {}", kind(other)),
                ));
            }
            None => None,
        };
        (Some(id), password)
    };
    let id = id
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_field("id", "missing"))?;
    if id.chars().count() > NAME_MAX {
        return Err(ApiError::bad_field(
            "id",
            format!("longer than {NAME_MAX} characters"),
        ));
    }
    let password = password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_field("password", "missing"))?;
    if password.chars().count() > PASSWORD_MAX {
        return Err(ApiError::bad_field(
            "password",
            format!("longer than {PASSWORD_MAX} characters"),
        ));
    }
    Ok((id, password))
}

/// Longest user id.
const NAME_MAX: usize = 64;

fn session_json(view: &SessionView) -> Value {
    json!({
        "principal": principal_json(&view.principal),
        "user": view.user,
        "csrf": view.csrf,
        "idle_seconds": view.idle.as_secs(),
    })
}

/// `POST /v1/session`: log in.
pub(super) async fn login(
    State(api): State<Api>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let people = &api.inner.people;
    let config = people.config()?;
    let (id, password) = login_fields(&headers, body)?;
    let from = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let refused = |what: &str| {
        tracing::warn!(user = %id, %from, "login refused: too many attempts {what}");
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many login attempts {what}; wait a minute and try again"),
        )
    };
    if people.per_address.check_key(&from).is_err() {
        return Err(refused("from this address"));
    }
    if people.per_account.check_key(&id).is_err() {
        return Err(refused("for this account"));
    }
    let user = config.store.user(&id).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store",
            format!("cannot read the users: {e}"),
        )
    })?;
    let now_ms = jiff::Timestamp::now().as_millisecond();
    if let Some(until) = user.as_ref().and_then(|u| u.locked_until_ms)
        && until > now_ms
    {
        tracing::warn!(user = %id, %from, "login refused: the account is locked");
        return Err(locked(&id, until, now_ms));
    }
    let hash = user
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let good = tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| good) else {
        let failure = config
            .store
            .login_failed(&id, now_ms, LOCK_AFTER, millis(config.lockout))
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store",
                    format!("cannot record the failed login: {e}"),
                )
            })?;
        tracing::warn!(user = %id, %from, in_a_row = failure.failed_logins, "login failed: wrong id or password");
        if let Some(until) = failure.locked_until_ms {
            tracing::warn!(user = %id, %from, "account locked after {LOCK_AFTER} wrong passwords in a row");
            return Err(locked(&id, until, now_ms));
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_login",
            "wrong id or password",
        ));
    };
    let principal = match user.role {
        Role::Supervisor => Principal::Supervisor,
        Role::Agent => {
            let agent = AgentId::from(user.id.as_str());
            if !config.agents.contains(&agent) {
                tracing::warn!(user = %id, %from, "login refused: an agent user with no [[agents]] entry");
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "not_an_agent",
                    format!(
                        "{id} is an agent user, but dialer.toml has no [[agents]] with id {id:?}; \
                         ask a supervisor to add it"
                    ),
                ));
            }
            Principal::Agent(agent)
        }
    };
    if let Err(e) = config.store.login_succeeded(&id, now_ms).await {
        tracing::warn!(user = %id, %e, "cannot record the login");
    }
    let (session, csrf) = people.create(principal.clone(), user.id.clone(), Instant::now());
    tracing::info!(user = %id, %from, role = user.role.as_str(), "logged in");
    let view = SessionView {
        principal,
        user: user.id,
        csrf,
        idle: config.idle,
    };
    let mut response = ok(session_json(&view));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, people.cookie(&session, None));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn locked(id: &str, until_ms: i64, now_ms: i64) -> ApiError {
    let left = Duration::from_millis(u64::try_from(until_ms - now_ms).unwrap_or(0));
    let left = Duration::from_secs(left.as_secs().max(1));
    let until = jiff::Timestamp::from_millisecond(until_ms)
        .map(|t| t.strftime("%H:%M:%S UTC").to_string())
        .unwrap_or_default();
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "locked",
        format!(
            "account {id} is locked after {LOCK_AFTER} wrong passwords in a row; try again in {} \
             (at {until}) or ask a supervisor to set a new password",
            humantime::format_duration(left)
        ),
    )
}

/// `GET /v1/session`: who is logged in, and the CSRF token.
pub(super) async fn session(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    let id = cookie(&headers, SESSION_COOKIE).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not logged in (no session cookie)",
        )
    })?;
    let view = api.inner.people.view(id, Instant::now())?;
    let mut response = ok(session_json(&view));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /v1/session` or `POST /v1/session/logout`: end the session (the agent stays in the
/// switchboard's state they were in; the desktop logs them out there first).
pub(super) async fn logout(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    let people = &api.inner.people;
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        if let Ok(view) = people.view(id, Instant::now()) {
            tracing::info!(user = %view.user, "logged out");
        }
        people.end(id);
    }
    let mut response = ok(json!({"session": null}));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, people.cookie("", Some(0)));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn weak_passwords_are_named() {
        assert!(password_problem("").unwrap().contains("empty"));
        assert!(password_problem("   ").unwrap().contains("empty"));
        assert!(password_problem("short").unwrap().contains("at least 10"));
        assert!(
            password_problem(&"x".repeat(300))
                .unwrap()
                .contains("at most")
        );
        assert_eq!(password_problem("long enough pass"), None);
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; dialer-session=abc ; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "dialer"), None);
        h.insert(header::COOKIE, HeaderValue::from_static("dialer-session="));
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }

    #[test]
    fn sessions_expire_when_idle_unless_a_stream_is_open() {
        let people = Arc::new(People::new());
        let t0 = Instant::now();
        let idle = people.idle();
        let (id, csrf) = people.create(Principal::Agent("alice".into()), "alice".into(), t0);
        assert_eq!(id.len(), 64);
        assert_ne!(id, csrf);
        assert_eq!(
            people.resolve(&id, t0 + idle / 2).unwrap(),
            Principal::Agent("alice".into())
        );
        // Seen at idle/2: alive until idle/2 + idle.
        assert!(people.resolve(&id, t0 + idle).is_ok());
        let guard = people.stream_opened(&id).unwrap();
        assert!(
            people.resolve(&id, t0 + idle * 5).is_ok(),
            "a stream keeps it"
        );
        drop(guard);
        let e = people.resolve(&id, Instant::now() + idle * 2).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.message.contains("idle"), "{}", e.message);
        assert!(people.resolve(&id, t0).is_err(), "gone for good");
    }

    #[test]
    fn csrf_tokens_are_checked() {
        let people = People::new();
        let (id, csrf) = people.create(Principal::Supervisor, "sue".into(), Instant::now());
        assert!(
            people
                .check_csrf(&id, Some(&HeaderValue::from_str(&csrf).unwrap()))
                .is_ok()
        );
        let e = people.check_csrf(&id, None).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, "csrf"));
        let e = people
            .check_csrf(&id, Some(&HeaderValue::from_static("nope")))
            .unwrap_err();
        assert_eq!(e.code, "csrf");
        assert!(people.end(&id));
        assert!(
            people.check_csrf(&id, None).is_ok(),
            "no session: the route answers 401"
        );
    }
}
