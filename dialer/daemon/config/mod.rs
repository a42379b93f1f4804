//! The daemon's own config, `dialer.toml`: store, state and campaigns directories, SIP bind,
//! trunks, agents, API and media.
//!
//! Layers, lowest first: built-in defaults ([`DEFAULTS`]) < the file < `DIALER__SECTION__KEY`
//! environment variables (`DIALER__SIP__BIND=0.0.0.0:5080`; `DIALER__CAMPAIGN__…` are campaign
//! overrides and not read here). `DIALER_STATE_DIR` (what the systemd unit sets) is the default
//! state directory when the file has none. Secrets are never in the file: trunks and agents name
//! an environment variable (`password_env`, `token_env`) read when the secret is needed.
//! Relative paths are resolved against the config file's directory.
//!
//! Here: the schema ([`DaemonConfig`] and its sections). Reading and checking the file in
//! `read.rs`, secrets in `secrets.rs`, the config and campaigns together at start and on reload
//! in `reload.rs`.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, File, FileFormat};

use crate::campaign::load::{LABEL_MAX, NAME_MAX, too_long};
use crate::campaign::reader::{Ctx, Table};
use crate::campaign::{Campaign, Env, Mode, Problem, Problems};
use crate::domain::AgentId;

mod read;
mod reload;
mod secrets;

pub use read::{host_name, load, load_with};
pub use reload::{Loaded, Reload, cross_check, load_all, load_all_with, reload, reload_with};
pub use secrets::{SecretError, secret, secret_from, unset_secrets};

/// Built-in defaults, as TOML under the file.
pub const DEFAULTS: &str = r#"
state_dir = "/var/lib/dialer"
campaigns_dir = "campaigns"

[sip]
bind = "0.0.0.0:5060"
realm = "dialer"
digest_algorithms = ["MD5"]
register_min_expires = "60s"
register_nonce_ttl = "5m"

[api]
bind = "127.0.0.1:8080"
max_connections = 256
max_event_streams = 1024
header_timeout = "10s"
request_timeout = "30s"
session_idle = "30m"
login_lockout = "5m"

[media]
rtp_port_min = 10000
rtp_port_max = 20000

[webrtc]
bind = "127.0.0.1:0"
connect_wait = "30s"
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
    pub desktop: DesktopConfig,
    pub webrtc: WebrtcConfig,
}

/// `[webrtc]`: the agents' phones in the browser (`phone = "browser"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebrtcConfig {
    /// The one UDP socket every browser's media reaches (ICE-lite, DTLS-SRTP), demultiplexed
    /// by ICE user and source address. Port 0: the OS picks (the answer's candidate says which).
    pub bind: SocketAddr,
    /// The address put in the answer's candidate when it differs from `bind`'s (NAT, or a
    /// `bind` on 0.0.0.0).
    pub public_ip: Option<IpAddr>,
    /// How long a login (or a lost page) waits for the desktop page to connect its phone before
    /// the agent is logged out.
    pub connect_wait: Duration,
}

impl WebrtcConfig {
    /// The address the browsers are told to send to.
    pub fn candidate(&self) -> SocketAddr {
        SocketAddr::new(self.public_ip.unwrap_or(self.bind.ip()), self.bind.port())
    }
}

/// `[desktop]`: what the agent desktop offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopConfig {
    /// The reasons an agent may pause for (`pause` with another is refused), in menu order.
    pub pause_reasons: Vec<PauseReason>,
}

/// A pause reason: a code (stored with the pause) and the label the desktop shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseReason {
    pub code: String,
    pub label: String,
}

impl Default for DesktopConfig {
    /// Break, lunch, training, meeting.
    fn default() -> Self {
        let reason = |code: &str, label: &str| PauseReason {
            code: code.into(),
            label: label.into(),
        };
        DesktopConfig {
            pause_reasons: vec![
                reason("break", "Break"),
                reason("lunch", "Lunch"),
                reason("training", "Training"),
                reason("meeting", "Meeting"),
            ],
        }
    }
}

impl DesktopConfig {
    /// The pause reason with this code.
    pub fn pause_reason(&self, code: &str) -> Option<&PauseReason> {
        self.pause_reasons.iter().find(|r| r.code == code)
    }
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
    /// The digest realm registered phones authenticate in (`realm`, default `dialer`).
    pub realm: String,
    /// The digest algorithms offered to registering phones, most preferred first
    /// (`digest_algorithms`, default MD5 only: see decision 0076).
    pub digest_algorithms: Vec<crate::sip::digest::Algorithm>,
    /// The shortest registration a phone may ask for (`register_min_expires`, default 60 s;
    /// shorter asks get 423). Also how soon a phone that vanished is noticed at the earliest.
    pub register_min_expires: Duration,
    /// How long a digest nonce given to a phone is good for (`register_nonce_ttl`, default
    /// 5 min); an older one with the right password gets a fresh challenge marked stale.
    pub register_nonce_ttl: Duration,
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
    /// How the dialer reaches the agent's phone for the nailed-up leg.
    pub phone: Phone,
    pub groups: Vec<String>,
    /// Name of the environment variable holding the agent's API token.
    pub token_env: Option<String>,
}

/// The kinds of agent phone (`phone` in `[[agents]]`). The switchboard sees none of this: it
/// asks for "the agent's leg" and the shell reaches the phone the way its kind says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phone {
    /// `phone = "sip"` (the default): a phone at a fixed address, called at its `sip_uri`,
    /// e.g. `sip:alice@127.0.0.1:5070`.
    Uri(String),
    /// `phone = "registered"`: a softphone that registers `sip:<sip_user>@` our `sip.bind`
    /// address with digest authentication (the password in the secret `password_env`); the
    /// dialer calls the contact it registered, through the address it registered from.
    Registered {
        sip_user: String,
        password_env: String,
    },
    /// `phone = "browser"`: the agent's desktop page is the phone (WebRTC from the browser's
    /// microphone and speaker, served by the daemon on `[webrtc] bind`).
    Browser,
}

impl Phone {
    /// The `phone` value naming this kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Phone::Uri(_) => "sip",
            Phone::Registered { .. } => "registered",
            Phone::Browser => "browser",
        }
    }
}

impl Agent {
    pub fn token(&self) -> Result<Option<String>, SecretError> {
        self.token_env.as_deref().map(secret).transpose()
    }

    /// The fixed SIP URI of a `phone = "sip"` agent.
    pub fn sip_uri(&self) -> Option<&str> {
        match &self.phone {
            Phone::Uri(u) => Some(u),
            Phone::Registered { .. } | Phone::Browser => None,
        }
    }

    /// The SIP user of a `phone = "registered"` agent.
    pub fn sip_user(&self) -> Option<&str> {
        match &self.phone {
            Phone::Registered { sip_user, .. } => Some(sip_user),
            Phone::Uri(_) | Phone::Browser => None,
        }
    }

    /// A registered phone's password, from its secret (`None` for other kinds).
    pub fn phone_password(&self) -> Result<Option<String>, SecretError> {
        match &self.phone {
            Phone::Registered { password_env, .. } => secret(password_env).map(Some),
            Phone::Uri(_) | Phone::Browser => Ok(None),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    pub bind: SocketAddr,
    /// Name of the environment variable holding the supervisor/admin API token.
    pub token_env: Option<String>,
    /// Connections served at once; one more is closed at accept (and counted).
    pub max_connections: usize,
    /// Event streams (`GET /v1/events`) open at once, apart from `max_connections`: a
    /// connection that opens one gives its ordinary slot back; one more gets 503.
    pub max_event_streams: usize,
    /// A connection must send a request's whole head this soon after it opens or after its
    /// last answer (the keep-alive idle time too), or it is closed.
    pub header_timeout: Duration,
    /// A request must be read and answered this soon (a slow body gets 408).
    pub request_timeout: Duration,
    /// The address people reach the desktop and wallboard at (`https://…` makes the session
    /// cookie `Secure`).
    pub public_url: Option<String>,
    /// A person's session ends after this long without a request (an open event stream counts
    /// as activity).
    pub session_idle: Duration,
    /// How long five wrong passwords in a row lock an account.
    pub login_lockout: Duration,
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
    /// Recordings older than this (from the call's end) are deleted by the daemon
    /// (`media.recordings_keep`, e.g. `"90days"`); `None`: kept until erased.
    pub recordings_keep: Option<Duration>,
}

#[cfg(test)]
mod tests;
