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
    /// Recordings older than this (from the call's end) are deleted by the daemon
    /// (`media.recordings_keep`, e.g. `"90days"`); `None`: kept until erased.
    pub recordings_keep: Option<Duration>,
}

#[cfg(test)]
mod tests;
