//! The daemon's own config, `dialer.toml`: store, state and campaigns directories, SIP bind,
//! trunks, agents, API and media.
//!
//! Layers, lowest first: built-in defaults ([`DEFAULTS`]) < the file < `DIALER__SECTION__KEY`
//! environment variables (`DIALER__SIP__BIND=0.0.0.0:5080`; `DIALER__CAMPAIGN__…` are campaign
//! overrides and not read here). `DIALER_STATE_DIR` (what the systemd unit sets) is the default
//! state directory when the file has none. Secrets are never in the file: trunks and agents name
//! an environment variable (`password_env`, `token_env`) read when the secret is needed.
//! Relative paths are resolved against the config file's directory.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, File, FileFormat};

use crate::campaign::load::{LABEL_MAX, NAME_MAX, too_long};
use crate::campaign::reader::{Ctx, Table};
use crate::campaign::{Campaign, Env, Mode, Problem, Problems};
use crate::domain::AgentId;

/// Built-in defaults, as TOML under the file.
pub const DEFAULTS: &str = r#"
state_dir = "/var/lib/dialer"
campaigns_dir = "campaigns"

[sip]
bind = "0.0.0.0:5060"

[api]
bind = "127.0.0.1:8080"
max_connections = 256
header_timeout = "10s"
request_timeout = "30s"

[media]
rtp_port_min = 10000
rtp_port_max = 20000
"#;

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The file it was loaded from.
    pub source: PathBuf,
    /// This node's name (`node_id`, default the host name): stored on each attempt it dials,
    /// so that at start it closes only its own interrupted attempts.
    pub node_id: String,
    /// `sqlite://…` or `postgres://…`; `None` means SQLite `dialer.db` in `state_dir` ([`Self::database_url`]).
    pub database_url: Option<String>,
    pub state_dir: PathBuf,
    pub campaigns_dir: PathBuf,
    pub sip: SipConfig,
    pub trunks: Vec<Trunk>,
    pub agents: Vec<Agent>,
    pub api: ApiConfig,
    pub media: MediaConfig,
    pub store: StoreConfig,
}

/// `[store]`: how the daemon treats a store that cannot write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `unwritable_watchdog`: past this long with the store unable to write, the systemd
    /// watchdog is no longer pinged (systemd restarts the daemon). Dialing pauses at once
    /// either way.
    pub unwritable_watchdog: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            unwritable_watchdog: Duration::from_secs(60),
        }
    }
}

impl DaemonConfig {
    /// The store URL: the configured one, else an SQLite file in the state directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => crate::store::default_sqlite_url(&self.state_dir),
        }
    }

    pub fn trunk(&self, name: &str) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.name == name)
    }

    /// The agents in any of these groups.
    pub fn agents_in<'a>(&'a self, groups: &'a [String]) -> impl Iterator<Item = &'a Agent> {
        self.agents
            .iter()
            .filter(|a| a.groups.iter().any(|g| groups.contains(g)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipConfig {
    pub bind: SocketAddr,
    /// Address to put in Contact and SDP when it differs from the bind address (NAT).
    pub public_ip: Option<IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trunk {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    pub username: Option<String>,
    /// Name of the environment variable holding the password.
    pub password_env: Option<String>,
    pub max_channels: u32,
    pub calls_per_second: f64,
}

impl Trunk {
    /// The password from the environment variable the config names (`None` if it names none).
    pub fn password(&self) -> Result<Option<String>, SecretError> {
        self.password_env.as_deref().map(secret).transpose()
    }

    /// The trunk as the SIP layer takes it, with the password read from its secret.
    pub fn sip_config(&self) -> Result<crate::sip::driver::TrunkConfig, SecretError> {
        use crate::sip::message::Transport as SipTransport;
        Ok(crate::sip::driver::TrunkConfig {
            name: self.name.clone(),
            host: self.host.clone(),
            port: self.port,
            transport: match self.transport {
                Transport::Udp => SipTransport::Udp,
                Transport::Tcp => SipTransport::Tcp,
            },
            username: self.username.clone(),
            password: self.password()?,
            max_channels: self.max_channels,
            calls_per_second: self.calls_per_second,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    /// Where the dialer calls the agent's nailed-up leg, e.g. `sip:alice@127.0.0.1:5070`.
    pub sip_uri: String,
    pub groups: Vec<String>,
    /// Name of the environment variable holding the agent's API token.
    pub token_env: Option<String>,
}

impl Agent {
    pub fn token(&self) -> Result<Option<String>, SecretError> {
        self.token_env.as_deref().map(secret).transpose()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    pub bind: SocketAddr,
    /// Name of the environment variable holding the supervisor/admin API token.
    pub token_env: Option<String>,
    /// Connections served at once; one more is closed at accept (and counted).
    pub max_connections: usize,
    /// A connection must send a request's whole head this soon after it opens or after its
    /// last answer (the keep-alive idle time too), or it is closed.
    pub header_timeout: Duration,
    /// A request must be read and answered this soon (a slow body gets 408).
    pub request_timeout: Duration,
}

impl ApiConfig {
    pub fn token(&self) -> Result<Option<String>, SecretError> {
        self.token_env.as_deref().map(secret).transpose()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
    /// Recordings of bridged calls; default `<state_dir>/recordings`.
    pub recordings_dir: PathBuf,
}

/// A secret named in the config is neither a systemd credential nor in the environment.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "secret {name} is not set: no systemd credential of that name and no environment variable \
     (named in dialer.toml)"
)]
pub struct SecretError {
    pub name: String,
}

/// Read a secret: the systemd credential `$CREDENTIALS_DIRECTORY/<name>` when there is one
/// (`LoadCredential=`/`SetCredentialEncrypted=` in the unit), else the environment variable
/// `<name>`. Surrounding whitespace (a trailing newline) is dropped; empty counts as unset.
pub fn secret(name: &str) -> Result<String, SecretError> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    secret_from(name, dir.as_deref(), |n| std::env::var(n).ok())
}

/// [`secret`] with the credentials directory and the environment given (tests).
pub fn secret_from(
    name: &str,
    credentials_dir: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, SecretError> {
    // A credential name is a plain file name; never let one walk out of the directory.
    let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
    let from_file = credentials_dir
        .filter(|_| plain)
        .and_then(|d| std::fs::read_to_string(d.join(name)).ok());
    from_file
        .or_else(|| env(name))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SecretError { name: name.into() })
}

/// Load and validate `dialer.toml` with the process environment.
pub fn load(path: &Path) -> Result<DaemonConfig, Problems> {
    let state_default = std::env::var("DIALER_STATE_DIR").ok();
    load_with(path, &Env::from_process(), state_default.as_deref())
}

/// Load and validate `dialer.toml` with the given `DIALER__…` variables and state directory
/// default (`DIALER_STATE_DIR`).
pub fn load_with(
    path: &Path,
    env: &Env,
    state_dir_default: Option<&str>,
) -> Result<DaemonConfig, Problems> {
    let mut ctx = Ctx::new(path);
    let c = read(&mut ctx, path, env, state_dir_default);
    match c {
        Some(c) if ctx.problems.is_empty() => Ok(c),
        _ => Err(Problems(ctx.problems)),
    }
}

fn read(
    ctx: &mut Ctx,
    path: &Path,
    env: &Env,
    state_dir_default: Option<&str>,
) -> Option<DaemonConfig> {
    let text = crate::campaign::load::read_toml(ctx, path)?;
    let mut b = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
    if let Some(s) = state_dir_default {
        let layer = format!("state_dir = {}", toml::Value::String(s.to_string()));
        b = b.add_source(File::from_str(&layer, FileFormat::Toml));
    }
    let cfg = match b
        .add_source(File::from_str(&text, FileFormat::Toml))
        .add_source(env.source("DIALER", &["DIALER__CAMPAIGN__"]))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            ctx.problem("", format!("cannot load: {e}"));
            return None;
        }
    };
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let resolve = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let root = Table::root(&cfg.cache);

    let node_id = match root.string(ctx, "node_id") {
        Some(n) => node_name(ctx, "node_id", &n),
        None => Some(host_name()),
    };
    let database_url = root.string(ctx, "database_url");
    if let Some(u) = &database_url
        && !(u.starts_with("sqlite:")
            || u.starts_with("postgres://")
            || u.starts_with("postgresql://"))
    {
        ctx.problem(
            "database_url",
            format!("{u:?} is neither sqlite://… nor postgres://…"),
        );
    }
    let state_dir = root.req_string(ctx, "state_dir").map(|s| resolve(&s));
    let campaigns_dir = root.req_string(ctx, "campaigns_dir").map(|s| resolve(&s));

    let st = root.table(ctx, "sip");
    let sip_bind = st
        .req_string(ctx, "bind")
        .and_then(|s| socket(ctx, &st.key("bind"), &s));
    let public_ip = st
        .string(ctx, "public_ip")
        .and_then(|s| match s.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                ctx.problem(st.key("public_ip"), format!("{s:?} is not an IP address"));
                None
            }
        });
    let public_ip_ok = st.get("public_ip").is_none() || public_ip.is_some();
    st.finish(ctx);

    let trunks = trunks(ctx, &root);
    let agents = agents(ctx, &root);

    let at = root.table(ctx, "api");
    let api_bind = at
        .req_string(ctx, "bind")
        .and_then(|s| socket(ctx, &at.key("bind"), &s));
    let api_secret_ok = no_secret_in_file(ctx, &at, "token", "token_env");
    let api_token = at
        .string(ctx, "token_env")
        .and_then(|s| env_name(ctx, &at.key("token_env"), &s));
    let api_token_ok = (at.get("token_env").is_none() || api_token.is_some()) && api_secret_ok;
    let max_connections = at.req_int(ctx, "max_connections", 1, 65_536);
    let header_timeout = positive(ctx, &at, "header_timeout");
    let request_timeout = positive(ctx, &at, "request_timeout");
    at.finish(ctx);

    let mt = root.table(ctx, "media");
    let min = mt.req_int(ctx, "rtp_port_min", 1024, 65534);
    let max = mt.req_int(ctx, "rtp_port_max", 1025, 65535);
    if let (Some(lo), Some(hi)) = (min, max)
        && hi <= lo
    {
        ctx.problem(
            mt.key("rtp_port_max"),
            format!("{hi} is not above rtp_port_min ({lo})"),
        );
    }
    let recordings = mt.string(ctx, "recordings_dir").map(|s| resolve(&s));
    mt.finish(ctx);

    let stt = root.table(ctx, "store");
    let mut store = StoreConfig::default();
    if let Some((d, text)) = stt.duration(ctx, "unwritable_watchdog") {
        if d < Duration::from_secs(1) {
            ctx.problem(
                stt.key("unwritable_watchdog"),
                format!(
                    "{text:?} is under 1s: a store that hiccups would get the daemon restarted"
                ),
            );
        } else {
            store.unwritable_watchdog = d;
        }
    }
    stt.finish(ctx);
    root.finish(ctx);

    let state_dir = state_dir?;
    let (min, max) = (min?, max?);
    if max <= min || !public_ip_ok || !api_token_ok {
        return None;
    }
    Some(DaemonConfig {
        source: path.to_path_buf(),
        node_id: node_id?,
        database_url,
        campaigns_dir: campaigns_dir?,
        sip: SipConfig {
            bind: sip_bind?,
            public_ip,
        },
        trunks: trunks?,
        agents: agents?,
        api: ApiConfig {
            bind: api_bind?,
            token_env: api_token,
            max_connections: usize::try_from(max_connections?).ok()?,
            header_timeout: header_timeout?,
            request_timeout: request_timeout?,
        },
        media: MediaConfig {
            rtp_port_min: min as u16,
            rtp_port_max: max as u16,
            recordings_dir: recordings.unwrap_or_else(|| state_dir.join("recordings")),
        },
        store,
        state_dir,
    })
}

/// A name of at most [`NAME_MAX`] letters, digits, `-`, `_` and `.` (trunks, agent ids,
/// groups: they go into URLs, metrics labels and log lines).
fn safe_name(ctx: &mut Ctx, key: String, n: &str) -> bool {
    if too_long(ctx, key.clone(), n, NAME_MAX) {
        return false;
    }
    if n.is_empty() {
        ctx.problem(key, "empty name");
        return false;
    }
    if !n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        ctx.problem(
            key,
            format!("{n:?} is not a usable name (letters, digits, `-`, `_` and `.` only)"),
        );
        return false;
    }
    true
}

/// A required duration above zero.
fn positive(ctx: &mut Ctx, t: &Table<'_>, k: &'static str) -> Option<Duration> {
    let (d, _) = t.req_duration(ctx, k)?;
    if d.is_zero() {
        ctx.problem(t.key(k), "must be above zero");
        return None;
    }
    Some(d)
}

fn trunks(ctx: &mut Ctx, root: &Table<'_>) -> Option<Vec<Trunk>> {
    let tables = match root.get("trunks") {
        None => Vec::new(),
        Some(_) => root.tables(ctx, "trunks")?,
    };
    let mut out = Vec::new();
    let mut ok = true;
    let mut names = BTreeSet::new();
    for t in tables {
        let name = t.req_string(ctx, "name").and_then(|n| {
            if !safe_name(ctx, t.key("name"), &n) {
                None
            } else if !names.insert(n.clone()) {
                ctx.problem(t.key("name"), format!("trunk {n:?} is defined twice"));
                None
            } else {
                Some(n)
            }
        });
        let host = t.req_string(ctx, "host");
        let port = t.int(ctx, "port", 1, 65535);
        let port_ok = t.get("port").is_none() || port.is_some();
        let transport = t.get("transport").and_then(|i| {
            crate::campaign::load::choice(
                ctx,
                &i,
                &[("udp", Transport::Udp), ("tcp", Transport::Tcp)],
            )
        });
        let transport_ok = t.get("transport").is_none() || transport.is_some();
        let username = t.string(ctx, "username");
        if !no_secret_in_file(ctx, &t, "password", "password_env") {
            ok = false;
        }
        let password_env = t
            .string(ctx, "password_env")
            .and_then(|s| env_name(ctx, &t.key("password_env"), &s));
        let penv_ok = t.get("password_env").is_none() || password_env.is_some();
        let max_channels = t.int(ctx, "max_channels", 1, 100_000);
        let mc_ok = t.get("max_channels").is_none() || max_channels.is_some();
        let cps = match t.get("calls_per_second") {
            None => Some(5.0),
            Some(i) => i.float(ctx).and_then(|f| {
                if f > 0.0 && f <= 1000.0 {
                    Some(f)
                } else {
                    ctx.problem(
                        &i.key,
                        format!("{f} is out of range (above 0, at most 1000)"),
                    );
                    None
                }
            }),
        };
        t.finish(ctx);
        match (name, host, cps) {
            (Some(name), Some(host), Some(calls_per_second))
                if port_ok && transport_ok && penv_ok && mc_ok =>
            {
                out.push(Trunk {
                    name,
                    host,
                    port: port.unwrap_or(5060) as u16,
                    transport: transport.unwrap_or(Transport::Udp),
                    username,
                    password_env,
                    max_channels: max_channels.unwrap_or(30) as u32,
                    calls_per_second,
                })
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn agents(ctx: &mut Ctx, root: &Table<'_>) -> Option<Vec<Agent>> {
    let tables = match root.get("agents") {
        None => Vec::new(),
        Some(_) => root.tables(ctx, "agents")?,
    };
    let mut out = Vec::new();
    let mut ok = true;
    let mut ids = BTreeSet::new();
    for t in tables {
        let id = t.req_string(ctx, "id").and_then(|n| {
            if !safe_name(ctx, t.key("id"), &n) {
                None
            } else if !ids.insert(n.clone()) {
                ctx.problem(t.key("id"), format!("agent {n:?} is defined twice"));
                None
            } else {
                Some(n)
            }
        });
        let name = t
            .string(ctx, "name")
            .filter(|n| !too_long(ctx, t.key("name"), n, LABEL_MAX));
        let uri = t.req_string(ctx, "sip_uri").and_then(|u| {
            if (u.starts_with("sip:") || u.starts_with("sips:")) && u.contains('@') {
                Some(u)
            } else {
                ctx.problem(
                    t.key("sip_uri"),
                    format!("{u:?} is not a SIP URI like \"sip:alice@127.0.0.1:5070\""),
                );
                None
            }
        });
        let groups = t.strings(ctx, "groups").filter(|gs| {
            let mut ok = true;
            for (i, g) in gs.iter().enumerate() {
                ok &= safe_name(ctx, format!("{}[{i}]", t.key("groups")), g);
            }
            ok
        });
        if groups.as_ref().is_some_and(|g| g.is_empty()) {
            ctx.problem(t.key("groups"), "at least one group is needed");
        }
        if t.get("groups").is_none() {
            ctx.problem(t.key("groups"), "missing (required)");
        }
        if !no_secret_in_file(ctx, &t, "token", "token_env") {
            ok = false;
        }
        let token_env = t
            .string(ctx, "token_env")
            .and_then(|s| env_name(ctx, &t.key("token_env"), &s));
        let tenv_ok = t.get("token_env").is_none() || token_env.is_some();
        t.finish(ctx);
        match (id, uri, groups) {
            (Some(id), Some(sip_uri), Some(groups)) if !groups.is_empty() && tenv_ok => {
                out.push(Agent {
                    name: name.unwrap_or_else(|| id.clone()),
                    id: AgentId::from(id),
                    sip_uri,
                    groups,
                    token_env,
                })
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A secret written into the file under `key` is refused with the way to do it (true when
/// there is none). Read so it is not also reported as a bare unknown key.
fn no_secret_in_file(ctx: &mut Ctx, t: &Table<'_>, key: &'static str, env_key: &str) -> bool {
    if t.get(key).is_none() {
        return true;
    }
    ctx.problem(
        t.key(key),
        format!(
            "unknown key `{key}`; secrets are read from the environment: use \
             `{env_key} = \"VAR\"` (a variable, or a systemd credential, of that name holds it)"
        ),
    );
    false
}

/// The longest `node_id`.
const NODE_ID_MAX: usize = 64;

/// A node id: 1–64 letters, digits, `.`, `-`, `_` (a host name fits).
fn node_name(ctx: &mut Ctx, key: &str, s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= NODE_ID_MAX
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Some(s.to_owned())
    } else {
        let shown: String = s.chars().take(NODE_ID_MAX).collect();
        ctx.problem(
            key,
            format!(
                "{shown:?}{} is not a node id (1–{NODE_ID_MAX} letters, digits, `.`, `-`, `_`)",
                if shown.len() < s.len() { "…" } else { "" }
            ),
        );
        None
    }
}

/// The machine's host name (the default `node_id`; Linux keeps it in
/// `/proc/sys/kernel/hostname`); `localhost` when there is no usable one.
pub fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    let usable = !name.is_empty()
        && name.len() <= NODE_ID_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if usable {
        name.to_owned()
    } else {
        "localhost".to_owned()
    }
}

/// Secrets the config names that are not set where `dialer run` would read them (`secret`:
/// [`secret`] or a stand-in): one warning per key, naming the variable and what it costs.
pub fn unset_secrets(
    config: &DaemonConfig,
    secret: impl Fn(&str) -> Result<String, SecretError>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut check = |key: String, var: &str, costs: String| {
        if secret(var).is_err() {
            out.push(Problem {
                file: config.source.clone(),
                key,
                message: format!(
                    "{var} is not set (no environment variable or systemd credential of that \
                     name): {costs}"
                ),
            });
        }
    };
    for (i, t) in config.trunks.iter().enumerate() {
        if let Some(var) = &t.password_env {
            check(
                format!("trunks[{i}].password_env"),
                var,
                format!(
                    "`dialer run` refuses to start without trunk {:?}'s password",
                    t.name
                ),
            );
        }
    }
    for (i, a) in config.agents.iter().enumerate() {
        if let Some(var) = &a.token_env {
            check(
                format!("agents[{i}].token_env"),
                var,
                format!("agent {:?} cannot use the HTTP API", a.id),
            );
        }
    }
    if let Some(var) = &config.api.token_env {
        check(
            "api.token_env".to_owned(),
            var,
            "the supervisor cannot use the HTTP API".to_owned(),
        );
    }
    out
}

fn socket(ctx: &mut Ctx, key: &str, s: &str) -> Option<SocketAddr> {
    match s.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            ctx.problem(
                key,
                format!("{s:?} is not an address:port like \"127.0.0.1:5060\""),
            );
            None
        }
    }
}

fn env_name(ctx: &mut Ctx, key: &str, s: &str) -> Option<String> {
    let mut cs = s.chars();
    let ok = cs
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && cs.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Some(s.to_string())
    } else {
        ctx.problem(
            key,
            format!("{s:?} is not an environment variable name (A-Z, 0-9, _)"),
        );
        None
    }
}

/// Everything the daemon runs on: the config and its campaigns, all valid and consistent.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: DaemonConfig,
    pub campaigns: Vec<Campaign>,
}

/// Load `dialer.toml`, every campaign of its `campaigns_dir`, and cross-check them: all of it,
/// or every problem found (for start-up and for reload on SIGHUP, which keeps the old
/// configuration on error).
pub fn load_all(path: &Path) -> Result<Loaded, Problems> {
    let state_default = std::env::var("DIALER_STATE_DIR").ok();
    load_all_with(path, &Env::from_process(), state_default.as_deref())
}

/// [`load_all`] with the given environment.
pub fn load_all_with(
    path: &Path,
    env: &Env,
    state_dir_default: Option<&str>,
) -> Result<Loaded, Problems> {
    let config = load_with(path, env, state_dir_default)?;
    let (campaigns, mut problems) = crate::campaign::load_dir_report(&config.campaigns_dir, env);
    problems.extend(cross_check(&config, &campaigns));
    if problems.is_empty() {
        Ok(Loaded { config, campaigns })
    } else {
        Err(Problems(problems))
    }
}

/// What a reload (SIGHUP) applies: the new config and campaigns, where each campaign file with
/// problems keeps the version that is running.
#[derive(Debug, Clone)]
pub struct Reload {
    pub loaded: Loaded,
    /// The broken files whose running campaign stays as it was (file, campaign name).
    pub kept: Vec<(PathBuf, String)>,
    /// Every problem found (each names its file and key).
    pub problems: Vec<Problem>,
}

/// Load for a reload: `dialer.toml` must be valid (else nothing changes); a campaign file with
/// problems keeps its `running` version (a new broken file is left out), the valid files apply.
/// A problem that is not one campaign file's (the directory cannot be read), or a kept version
/// that no longer fits the new config, refuses the whole reload.
pub fn reload(path: &Path, running: &[Campaign]) -> Result<Reload, Problems> {
    let state_default = std::env::var("DIALER_STATE_DIR").ok();
    reload_with(
        path,
        &Env::from_process(),
        state_default.as_deref(),
        running,
    )
}

/// [`reload`] with the given environment.
pub fn reload_with(
    path: &Path,
    env: &Env,
    state_dir_default: Option<&str>,
    running: &[Campaign],
) -> Result<Reload, Problems> {
    let config = load_with(path, env, state_dir_default)?;
    let (loaded, mut problems) = crate::campaign::load_dir_report(&config.campaigns_dir, env);
    problems.extend(cross_check(&config, &loaded));
    let is_campaign_file = |f: &Path| {
        f.parent() == Some(config.campaigns_dir.as_path())
            && f.extension().is_some_and(|x| x == "toml")
    };
    if problems.iter().any(|p| !is_campaign_file(&p.file)) {
        return Err(Problems(problems));
    }
    let broken: BTreeSet<&Path> = problems.iter().map(|p| p.file.as_path()).collect();
    let mut campaigns: Vec<Campaign> = loaded
        .into_iter()
        .filter(|c| !broken.contains(c.source.as_path()))
        .collect();
    let mut kept = Vec::new();
    for old in running {
        let taken = campaigns.iter().any(|c| c.name == old.name);
        if broken.contains(old.source.as_path()) && !taken {
            kept.push((old.source.clone(), old.name.clone()));
            campaigns.push(old.clone());
        }
    }
    let misfits = cross_check(&config, &campaigns);
    if !misfits.is_empty() {
        problems.extend(misfits);
        return Err(Problems(problems));
    }
    Ok(Reload {
        loaded: Loaded { config, campaigns },
        kept,
        problems,
    })
}

/// Problems between the daemon config and the campaigns: each campaign's trunk must exist and
/// each of its agent groups must have at least one agent.
pub fn cross_check(config: &DaemonConfig, campaigns: &[Campaign]) -> Vec<Problem> {
    let mut out = Vec::new();
    for c in campaigns {
        if config.trunk(&c.trunk).is_none() {
            let known: Vec<&str> = config.trunks.iter().map(|t| t.name.as_str()).collect();
            out.push(Problem {
                file: c.source.clone(),
                key: "trunk".into(),
                message: format!(
                    "no trunk {:?} in {} (trunks: {})",
                    c.trunk,
                    config.source.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        if c.mode != Mode::Agentless {
            for (i, g) in c.agent_groups.iter().enumerate() {
                if !config.agents.iter().any(|a| a.groups.contains(g)) {
                    out.push(Problem {
                        file: c.source.clone(),
                        key: format!("agent_groups[{i}]"),
                        message: format!(
                            "no agent in {} is in group {g:?}",
                            config.source.display()
                        ),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
