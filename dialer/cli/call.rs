//! `dialer call TARGET [--trunk NAME] [--ring-timeout D] [--hangup-after D] [--json]`: one test
//! call, for ops and for debugging a trunk.
//!
//! TARGET is a number (sent through the trunk from the `--config` file: `--trunk`, else the
//! first) or a full SIP URI (sent straight there, e.g. `sip:100@127.0.0.1:5090`; no config
//! needed). Prints what happens; `--json` prints one object at the end. Exit 0 when the call was
//! answered, 1 otherwise. The offer is PCMU, PCMA and telephone-event on a real (idle) RTP port.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;

use crate::media::sdp::LocalMedia;
use crate::sip::{CallEvent, Outcome, PlaceCall, Sip, SipConfig, Target, TrunkConfig};

use super::Global;

/// Regulators' floor for letting a phone ring before giving up (see DESIGN: rules).
const MIN_RING: Duration = Duration::from_secs(15);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A number (through the trunk) or a SIP URI (straight there).
    pub target: String,
    /// Trunk from the config's `[[trunks]]` (default: the first).
    #[arg(long)]
    pub trunk: Option<String>,
    /// Give up (CANCEL) when unanswered this long after it starts ringing; at least 15s.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub ring_timeout: Duration,
    /// Hang up (BYE) this long after the answer.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub hangup_after: Duration,
    /// Caller ID (user part of From).
    #[arg(long)]
    pub caller_id: Option<String>,
    /// Local address for SIP (default: an ephemeral port on the address that reaches the target).
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Print one JSON object: outcome, sip_status, reason, ring_ms, talk_ms, call_id.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Summary {
    outcome: Outcome,
    sip_status: Option<u16>,
    reason: Option<String>,
    ring_ms: u64,
    talk_ms: u64,
    call_id: String,
    started_at: String,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    if a.ring_timeout < MIN_RING {
        bail!(
            "--ring-timeout {}: must be at least 15s (a phone is let ring that long before giving up)",
            humantime::format_duration(a.ring_timeout)
        );
    }
    let target = Target::parse(&a.target)?;
    let trunks = match &target {
        Target::Number(_) => {
            let cfg = crate::daemon::config::load(&g.config)
                .map_err(|p| anyhow::anyhow!("{p}"))
                .with_context(|| format!("a number needs the trunks of {}", g.config.display()))?;
            let name = a
                .trunk
                .clone()
                .or_else(|| cfg.trunks.first().map(|t| t.name.clone()));
            let Some(t) = name.as_deref().and_then(|n| cfg.trunk(n)) else {
                bail!(
                    "{}: no trunk `{}`",
                    g.config.display(),
                    name.unwrap_or_else(|| "(none configured)".into())
                );
            };
            vec![t.sip_config()?]
        }
        Target::Uri(_) | Target::Registered(_) => Vec::new(),
    };
    super::runtime()?.block_on(call(a, target, trunks))
}

/// The local IP the kernel would use toward `dest` (no packet is sent).
fn route_ip(dest: SocketAddr) -> std::io::Result<IpAddr> {
    let probe = std::net::UdpSocket::bind(if dest.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })?;
    probe.connect(dest)?;
    Ok(probe.local_addr()?.ip())
}

async fn call(a: Args, target: Target, trunks: Vec<TrunkConfig>) -> anyhow::Result<ExitCode> {
    let dest = match (&target, trunks.first()) {
        (Target::Uri(u), _) => {
            let host = u
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            tokio::net::lookup_host((host.as_str(), u.port.unwrap_or(5060)))
                .await
                .with_context(|| format!("resolving {}", u.host))?
                .next()
                .with_context(|| format!("{} has no address", u.host))?
        }
        (_, Some(t)) => tokio::net::lookup_host((t.host.as_str(), t.port))
            .await
            .with_context(|| format!("resolving trunk {} host {}", t.name, t.host))?
            .next()
            .with_context(|| format!("trunk {} host {} has no address", t.name, t.host))?,
        (_, None) => bail!("no trunk"),
    };
    let bind = match a.bind {
        Some(b) => b,
        None => SocketAddr::new(route_ip(dest).context("finding a route to the target")?, 0),
    };
    let sip = Sip::start(SipConfig {
        bind,
        public_ip: None,
        trunks,
        allowed: vec![dest.ip()],
        timers: Default::default(),
    })
    .await?;
    // An RTP socket that exists, so the far end's media does not bounce.
    let rtp = tokio::net::UdpSocket::bind(SocketAddr::new(bind.ip(), 0)).await?;
    let rtp_port = rtp.local_addr()?.port();
    let offer = LocalMedia::offer(
        sip.local_addr().ip(),
        rtp_port,
        rand::random::<u32>() as u64,
    );
    let mut call = sip
        .place_call(PlaceCall {
            target,
            trunk: a.trunk.clone(),
            caller_id: a.caller_id.clone(),
            offer: Some(("application/sdp".into(), Bytes::from(offer.to_sdp()))),
            ring_timeout: a.ring_timeout,
            talk_limit: Some(a.hangup_after),
        })
        .await?;
    if !a.json {
        eprintln!("calling {} from {}", a.target, sip.local_addr());
    }
    let report = loop {
        let Some(ev) = call.next_event().await else {
            bail!("the SIP layer stopped")
        };
        match ev {
            CallEvent::Progress { status } if !a.json => eprintln!("  {status}"),
            CallEvent::Answered { .. } if !a.json => eprintln!(
                "  answered; hanging up in {}",
                humantime::format_duration(a.hangup_after)
            ),
            CallEvent::Hold { held } if !a.json => {
                eprintln!("  {}", if held { "on hold" } else { "off hold" })
            }
            CallEvent::Ended(r) => break r,
            _ => {}
        }
    };
    drop(rtp);
    let s = Summary {
        outcome: report.outcome,
        sip_status: report.sip_status,
        reason: report.reason.clone(),
        ring_ms: report.ring_ms(),
        talk_ms: report.talk_ms(),
        call_id: report.sip_call_id.clone(),
        started_at: report.wall_start.to_string(),
    };
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        let status = s
            .sip_status
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none".into());
        println!(
            "{}: SIP {} {}; ring {} ms, talk {} ms",
            s.outcome,
            status,
            s.reason.as_deref().unwrap_or(""),
            s.ring_ms,
            s.talk_ms
        );
    }
    Ok(if s.outcome == Outcome::Answered {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
