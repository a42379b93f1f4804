//! `dialer run`: the daemon. Runs every enabled campaign of the config's campaigns directory.
//!
//! SIGHUP (`systemctl reload`) re-reads `dialer.toml` and the campaign files: valid files apply
//! to new dials; a campaign file with problems keeps its running version, and each problem is
//! logged with file and key; a broken `dialer.toml` keeps everything as it runs. At start and on
//! each reload the campaigns' list files are imported (new rows only; see `daemon::lists`).
//! SIGTERM or Ctrl-C stops new dials, lets live calls finish up to `--drain`, flushes the store
//! and exits 0. Under systemd it sends READY, RELOADING, STOPPING and watchdog pings.
//!
//! The HTTP API and `/metrics` are served on `[api] bind` while the daemon runs; `/ready` says
//! 503 once a stop is asked for (and 503 `store` while the store cannot write), and the API
//! keeps answering (agents' dispositions) until the calls have drained. The watchdog is not
//! pinged once the store has been unable to write for `[store] unwritable_watchdog`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use super::Global;
use crate::daemon::api::{Api, Limits, PeopleConfig, Phase, Readiness, Tokens};
use crate::daemon::config::{self, DaemonConfig};
use crate::daemon::run::{Daemon, Options};
use crate::daemon::{logging, notify, telemetry};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long live calls may go on after a stop is asked for.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub drain: Duration,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    logging::init();
    // Before anything records: counts made earlier would be lost.
    let metrics = telemetry::install()?;
    super::runtime()?.block_on(async {
        let loaded = config::load_all(&g.config)
            .map_err(|problems| anyhow::anyhow!("the configuration has problems:\n{problems}"))?;
        let tokens = api_tokens(&loaded.config)?;
        let bind = loaded.config.api.bind;
        let limits = Limits::from(&loaded.config.api);
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen for the API on {bind} ([api] bind)"))?;
        let store = open_store(g, &loaded.config).await?;
        let options = Options {
            drain_deadline: a.drain,
            // Leases name the node that holds them.
            owner: format!("{}-{}", loaded.config.node_id, std::process::id()),
            ..Options::default()
        };
        let enabled: Vec<_> = loaded.campaigns.into_iter().filter(|c| c.enabled).collect();
        let names: Vec<String> = enabled.iter().map(|c| c.name.clone()).collect();
        let rosters = telemetry::rosters(&loaded.config, &enabled);
        let people_store = store.clone();
        let people = PeopleConfig::from_config(&loaded.config, store.clone());
        let running = enabled.clone();
        let unwritable_watchdog = loaded.config.store.unwritable_watchdog;
        let desktop = loaded.config.desktop.clone();
        let daemon = Daemon::start(loaded.config, enabled, store, options)
            .await
            .context("cannot start the daemon")?;
        let api = Api::new(daemon.control(), tokens, Readiness::new(), Some(metrics));
        api.set_rosters(rosters);
        api.set_webrtc(daemon.webrtc());
        api.set_people(people);
        api.set_desktop(desktop);
        api.readiness().watch_store(daemon.store_health());
        let served = api.spawn(listener, limits);
        api.readiness().set(Phase::Running);
        tracing::info!(sip = %daemon.sip_addr(), api = %bind, campaigns = ?names, "dialer running");
        let code = serve(g, daemon, people_store, &api, running, unwritable_watchdog).await;
        served.stop().await;
        code
    })
}

/// The API tokens `dialer.toml` names; one that is not set only closes the API to its owner.
fn api_tokens(config: &DaemonConfig) -> anyhow::Result<Tokens> {
    let (tokens, missing) = Tokens::from_config(config).context("API tokens")?;
    for err in missing {
        tracing::warn!(%err, "its owner cannot use the HTTP API");
    }
    Ok(tokens)
}

/// Open the store the config (or `--db`) names; SQLite's state directory is created.
pub(crate) async fn open_store(g: &Global, config: &DaemonConfig) -> anyhow::Result<Store> {
    let url = match &g.db {
        Some(u) => u.clone(),
        None => {
            std::fs::create_dir_all(&config.state_dir).with_context(|| {
                format!(
                    "cannot create the state directory {}",
                    config.state_dir.display()
                )
            })?;
            config.database_url()
        }
    };
    Store::open(&url)
        .await
        .with_context(|| format!("cannot open the store {url}"))
}

/// Signals, systemd notifications and the watchdog around a running daemon, until it stops.
async fn serve(
    g: &Global,
    daemon: Daemon,
    store: Store,
    api: &Api,
    mut running: Vec<crate::campaign::Campaign>,
    unwritable_watchdog: Duration,
) -> anyhow::Result<ExitCode> {
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let watchdog = notify::watchdog_period().map(|period| {
        tokio::spawn(notify::watchdog(
            daemon.heartbeat(),
            period,
            Some((daemon.store_health(), unwritable_watchdog)),
        ))
    });
    notify::ready("dialing");
    loop {
        tokio::select! {
            _ = hup.recv() => {
                notify::reloading();
                match config::reload(&g.config, &running) {
                    Ok(reload) => {
                        for p in &reload.problems {
                            tracing::error!(file = %p.file.display(), key = %p.key, "{}", p.message);
                        }
                        for (file, name) in &reload.kept {
                            tracing::error!(
                                file = %file.display(),
                                campaign = %name,
                                "campaign file refused: its running version stays"
                            );
                        }
                        let loaded = reload.loaded;
                        let enabled: Vec<_> =
                            loaded.campaigns.into_iter().filter(|c| c.enabled).collect();
                        let n = enabled.len();
                        match api_tokens(&loaded.config) {
                            Ok(tokens) => api.set_tokens(tokens),
                            Err(err) => tracing::error!("{err:#}; the API keeps its tokens"),
                        }
                        api.set_rosters(telemetry::rosters(&loaded.config, &enabled));
                        api.set_people(PeopleConfig::from_config(&loaded.config, store.clone()));
                        api.set_desktop(loaded.config.desktop.clone());
                        running = enabled.clone();
                        daemon.reload(enabled).await;
                        tracing::info!(campaigns = n, kept = reload.kept.len(), "reloaded");
                    }
                    Err(problems) => {
                        for p in &problems.0 {
                            tracing::error!(file = %p.file.display(), key = %p.key, "{}", p.message);
                        }
                        tracing::error!("reload refused: the running configuration stays");
                    }
                }
                notify::ready("dialing");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    api.readiness().set(Phase::Stopping);
    notify::stopping("draining calls");
    tracing::info!("stopping");
    daemon.stop().await;
    if let Some(w) = watchdog {
        w.abort();
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
