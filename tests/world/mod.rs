//! The simulated world a shift runs against, for the tests that run `dialer run` as a child
//! process: the carrier on the trunk's port, one phone per agent on theirs, the agents acting
//! through the daemon's HTTP API with their own tokens, and a task that pops each agent's screen
//! when the API shows them on a new call.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dialer::media::driver::{Driver as Media, DriverConfig};
use dialer::simnet::{AgentDesk, AgentPhones, Carrier, DeskError, SimConfig, Sounds};
use serde_json::json;

use crate::rig::{Setup, get, post};

/// The supervisor's API token.
pub const SUPER: &str = "supervisor-token-0123456789";

/// An agent's API token.
pub fn token(agent: &str) -> String {
    format!("{agent}-token-0123456789")
}

/// The agents' desks: the daemon's HTTP API with each agent's own token; they pick among
/// `codes` (a `call_back` asks for a callback in 2 h).
struct HttpDesk {
    api: SocketAddr,
    codes: Vec<String>,
}

impl HttpDesk {
    async fn act(&self, agent: &str, action: &str, body: &str) -> Result<(), DeskError> {
        let path = format!("/v1/agents/{agent}/{action}");
        let a = post(self.api, &path, Some(&token(agent)), body).await;
        if a.status == 200 {
            Ok(())
        } else {
            Err(DeskError(format!("{action}: {} {}", a.status, a.body)))
        }
    }
}

impl AgentDesk for HttpDesk {
    fn catalogue(&self, _agent: &str) -> Vec<String> {
        self.codes.clone()
    }

    async fn hangup(&self, agent: &str) -> Result<(), DeskError> {
        self.act(agent, "hangup", "").await
    }

    async fn dispose(&self, agent: &str, code: &str) -> Result<(), DeskError> {
        let body = if code == "call_back" {
            json!({"code": code, "notes": "simulated", "callback_in": "2h"})
        } else {
            json!({"code": code, "notes": "simulated"})
        };
        self.act(agent, "disposition", &body.to_string()).await
    }
}

pub struct World {
    pub carrier: Carrier,
    pub phones: Arc<AgentPhones>,
    _media: Media,
    pops: tokio::task::JoinHandle<()>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.pops.abort();
    }
}

/// Start the carrier and the agents' phones of `setup`, the agents disposing with `codes`.
pub async fn start_world(setup: &Setup, sim: SimConfig, codes: &[&str]) -> World {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let media = Media::start(DriverConfig {
        seed: sim.seed ^ 0x51,
        ..DriverConfig::default()
    });
    let sounds = Sounds::builtin().unwrap();
    let carrier = Carrier::start(
        SocketAddr::new(lo, setup.trunk),
        vec![lo],
        sim.carrier.clone(),
        sim.seed,
        media.clone(),
        sounds.clone(),
    )
    .await
    .unwrap();
    let phones: Vec<(String, SocketAddr)> = setup
        .agents
        .iter()
        .map(|(a, port)| (a.clone(), SocketAddr::new(lo, *port)))
        .collect();
    let desk = Arc::new(HttpDesk {
        api: setup.api_addr(),
        codes: codes.iter().map(|c| c.to_string()).collect(),
    });
    let phones = Arc::new(
        AgentPhones::start(
            &phones,
            vec![lo],
            sim.agents.clone(),
            sim.seed,
            media.clone(),
            sounds,
            desk,
        )
        .await
        .unwrap(),
    );
    let pops = tokio::spawn(screen_pops(setup.api_addr(), phones.clone()));
    World {
        carrier,
        phones,
        _media: media,
        pops,
    }
}

async fn screen_pops(api: SocketAddr, phones: Arc<AgentPhones>) {
    let mut on: HashMap<String, Option<u64>> = HashMap::new();
    loop {
        tokio::time::sleep(Duration::from_millis(150)).await;
        if tokio::net::TcpStream::connect(api).await.is_err() {
            continue;
        }
        let a = get(api, "/v1/agents", Some(SUPER)).await;
        if a.status != 200 {
            continue;
        }
        for v in a.json()["agents"].as_array().cloned().unwrap_or_default() {
            let id = v["id"].as_str().unwrap_or_default().to_owned();
            let call = (v["state"] == "on_call")
                .then(|| v["call"].as_u64())
                .flatten();
            let before = on.insert(id.clone(), call);
            if call.is_some() && before.flatten() != call {
                phones.screen_pop(&id);
            }
        }
    }
}
