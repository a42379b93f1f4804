//! The IO around the browsers' [`Peer`]s: one task, one UDP socket for every browser (ICE-lite:
//! the browsers send to our one candidate; a datagram goes to the peer of its source address,
//! or for a STUN check from a new address, to the peer whose ICE user it names), and one
//! loopback UDP socket that the agents' media legs send their RTP to (a packet goes to the
//! peer bound to its source, the leg's own port).
//!
//! To the rest of the daemon a browser's phone looks like any agent phone: the shell opens a
//! media leg for the agent, [`Gateway::attach`]es it (answered once the page's peer is up) and
//! points the leg at the gateway's RTP socket; [`Attached::lost`] says when the page is gone.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::peer::{OfferError, Out, Peer};
use crate::media::Codec;

/// Where the gateway listens and what it tells browsers.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The browsers' UDP socket.
    pub bind: SocketAddr,
    /// The address in the answer's candidate; port 0: the bound port.
    pub candidate: SocketAddr,
    /// The agents whose phone is the browser.
    pub agents: Vec<String>,
}

/// A media leg bound to a page's peer.
#[derive(Debug)]
pub struct Attached {
    /// Where the leg sends its RTP (the gateway's loopback socket).
    pub rtp: SocketAddr,
    /// The codec the page speaks (the leg must send it).
    pub codec: Codec,
    /// Fires with the reason when the page is gone (closed, ICE consent lost, replaced).
    pub lost: oneshot::Receiver<String>,
}

impl Attached {
    /// The SDP the agent's media leg takes as its far end: the gateway's RTP socket, the page's
    /// codec.
    pub fn remote_sdp(&self) -> String {
        let (pt, name) = match self.codec {
            Codec::Pcmu => (0, "PCMU"),
            Codec::Pcma => (8, "PCMA"),
        };
        let ip = self.rtp.ip();
        format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {name}/8000\r\na=ptime:20\r\n\
             a=sendrecv\r\n",
            port = self.rtp.port()
        )
    }
}

enum Cmd {
    Offer {
        agent: String,
        sdp: String,
        reply: oneshot::Sender<Result<String, OfferError>>,
    },
    Hangup {
        agent: String,
    },
    Attach {
        agent: String,
        leg: SocketAddr,
        reply: oneshot::Sender<Attached>,
    },
    Detach {
        agent: String,
    },
}

/// The handle on the gateway's task; clone it freely. The task ends when every handle is gone.
#[derive(Clone)]
pub struct Gateway {
    tx: mpsc::UnboundedSender<Cmd>,
    agents: Arc<HashSet<String>>,
    connected: Arc<Mutex<HashSet<String>>>,
    local: SocketAddr,
    candidate: SocketAddr,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("local", &self.local)
            .field("candidate", &self.candidate)
            .finish_non_exhaustive()
    }
}

/// Why the gateway could not take a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Offer(#[from] OfferError),
    #[error("the WebRTC gateway has stopped")]
    Stopped,
}

impl Gateway {
    /// Bind the sockets and start the task (inside a tokio runtime).
    pub async fn start(config: GatewayConfig) -> io::Result<Gateway> {
        let web = UdpSocket::bind(config.bind).await?;
        let local = web.local_addr()?;
        let rtp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let mut candidate = config.candidate;
        if candidate.port() == 0 {
            candidate.set_port(local.port());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let connected = Arc::new(Mutex::new(HashSet::new()));
        let task = Task {
            web,
            local,
            candidate,
            rtp_local: rtp.local_addr()?,
            rtp,
            slots: HashMap::new(),
            by_source: HashMap::new(),
            by_leg: HashMap::new(),
            waiting: HashMap::new(),
            connected: connected.clone(),
            ssrc: seed_ssrc(),
        };
        tokio::spawn(task.run(rx));
        tracing::info!(%local, %candidate, "WebRTC gateway listening for the agents' browsers");
        Ok(Gateway {
            tx,
            agents: Arc::new(config.agents.into_iter().collect()),
            connected,
            local,
            candidate,
        })
    }

    /// The browsers' socket.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether `agent`'s phone is the browser.
    pub fn serves(&self, agent: &str) -> bool {
        self.agents.contains(agent)
    }

    /// Whether `agent`'s page has a connected phone now.
    pub fn connected(&self, agent: &str) -> bool {
        self.connected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(agent)
    }

    /// Answer the page's offer (a page that had a phone already replaces it).
    pub async fn offer(&self, agent: &str, sdp: String) -> Result<String, GatewayError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Offer {
                agent: agent.to_owned(),
                sdp,
                reply,
            })
            .map_err(|_| GatewayError::Stopped)?;
        rx.await
            .map_err(|_| GatewayError::Stopped)?
            .map_err(Into::into)
    }

    /// The page hangs up its phone.
    pub fn hangup(&self, agent: &str) {
        let _ = self.tx.send(Cmd::Hangup {
            agent: agent.to_owned(),
        });
    }

    /// Bind the media leg at `leg` to the agent's page: answered when the page's peer is up
    /// (at once if it is); never if it does not come (the caller bounds the wait, then
    /// [`Self::detach`]es).
    pub fn attach(&self, agent: &str, leg: SocketAddr) -> oneshot::Receiver<Attached> {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Cmd::Attach {
            agent: agent.to_owned(),
            leg,
            reply,
        });
        rx
    }

    /// Unbind the agent's leg (the dialer hangs up the agent's leg; the page keeps its phone).
    pub fn detach(&self, agent: &str) {
        let _ = self.tx.send(Cmd::Detach {
            agent: agent.to_owned(),
        });
    }
}

/// A random starting SSRC (from the OS's random source through the hasher's keys).
fn seed_ssrc() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(1);
    h.finish() as u32
}

struct Slot {
    peer: Peer,
    next: Option<Instant>,
    /// The media leg bound to it.
    leg: Option<SocketAddr>,
    lost: Option<oneshot::Sender<String>>,
}

struct Task {
    web: UdpSocket,
    local: SocketAddr,
    candidate: SocketAddr,
    rtp: UdpSocket,
    rtp_local: SocketAddr,
    slots: HashMap<String, Slot>,
    by_source: HashMap<SocketAddr, String>,
    by_leg: HashMap<SocketAddr, String>,
    /// Attach requests waiting for their page's peer to come up.
    waiting: HashMap<String, (SocketAddr, oneshot::Sender<Attached>)>,
    connected: Arc<Mutex<HashSet<String>>>,
    ssrc: u32,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut web_buf = vec![0u8; 2048];
        let mut rtp_buf = vec![0u8; 2048];
        loop {
            let deadline = self.slots.values().filter_map(|s| s.next).min();
            let sleep = async {
                match deadline {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = self.web.recv_from(&mut web_buf) => {
                    if let Ok((n, source)) = r {
                        self.on_browser(Instant::now(), source, &web_buf[..n]);
                    }
                }
                r = self.rtp.recv_from(&mut rtp_buf) => {
                    if let Ok((n, source)) = r {
                        self.on_leg(Instant::now(), source, &rtp_buf[..n]);
                    }
                }
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(Instant::now(), cmd),
                    None => break,
                },
                () = sleep => self.timeouts(Instant::now()),
            }
        }
        for agent in self.slots.keys().cloned().collect::<Vec<_>>() {
            self.close(&agent, "the daemon stops");
        }
    }

    fn on_browser(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        let agent = match self.by_source.get(&source) {
            Some(a) => a.clone(),
            None => {
                let Some(a) = self
                    .slots
                    .iter()
                    .find(|(_, s)| s.peer.accepts(now, source, datagram))
                    .map(|(a, _)| a.clone())
                else {
                    metrics::counter!("dialer_webrtc_datagrams_dropped_total").increment(1);
                    return;
                };
                self.by_source.insert(source, a.clone());
                a
            }
        };
        if let Some(slot) = self.slots.get_mut(&agent) {
            slot.peer.receive(now, source, datagram);
            self.drain(&agent);
        }
    }

    fn on_leg(&mut self, now: Instant, source: SocketAddr, packet: &[u8]) {
        let Some(agent) = self.by_leg.get(&source).cloned() else {
            return;
        };
        if let Some(slot) = self.slots.get_mut(&agent) {
            slot.peer.from_leg(now, packet);
            self.drain(&agent);
        }
    }

    fn timeouts(&mut self, now: Instant) {
        let due: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.next.is_some_and(|t| t <= now))
            .map(|(a, _)| a.clone())
            .collect();
        for agent in due {
            if let Some(slot) = self.slots.get_mut(&agent) {
                slot.peer.timeout(now);
                self.drain(&agent);
            }
        }
    }

    fn command(&mut self, now: Instant, cmd: Cmd) {
        match cmd {
            Cmd::Offer { agent, sdp, reply } => {
                self.ssrc = self.ssrc.wrapping_add(0x9e37_79b9);
                match Peer::accept(now, &sdp, self.local, self.candidate, self.ssrc) {
                    Ok((peer, answer)) => {
                        metrics::counter!("dialer_webrtc_offers_total", "result" => "answered")
                            .increment(1);
                        // A page that connects again replaces its old phone; a leg bound to
                        // the old one is lost (the agent is called again, on the new one).
                        self.close(&agent, "the page connected its phone again");
                        tracing::info!(%agent, "a page's phone is connecting");
                        self.slots.insert(
                            agent.clone(),
                            Slot {
                                peer,
                                next: Some(now),
                                leg: None,
                                lost: None,
                            },
                        );
                        metrics::gauge!("dialer_webrtc_peers").set(self.slots.len() as f64);
                        self.drain(&agent);
                        let _ = reply.send(Ok(answer));
                    }
                    Err(e) => {
                        metrics::counter!("dialer_webrtc_offers_total", "result" => "refused")
                            .increment(1);
                        tracing::warn!(%agent, error = %e, "a page's phone offer refused");
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Cmd::Hangup { agent } => self.close(&agent, "the page hung up its phone"),
            Cmd::Attach { agent, leg, reply } => {
                self.waiting.insert(agent.clone(), (leg, reply));
                self.try_attach(&agent);
            }
            Cmd::Detach { agent } => {
                self.waiting.remove(&agent);
                if let Some(slot) = self.slots.get_mut(&agent) {
                    slot.lost = None;
                    if let Some(leg) = slot.leg.take() {
                        self.by_leg.remove(&leg);
                    }
                }
            }
        }
    }

    /// A waiting attach whose page's peer is up is answered.
    fn try_attach(&mut self, agent: &str) {
        let Some(slot) = self.slots.get_mut(agent) else {
            return;
        };
        let (true, Some(codec)) = (slot.peer.is_up(), slot.peer.codec()) else {
            return;
        };
        let Some((leg, reply)) = self.waiting.remove(agent) else {
            return;
        };
        let (lost_tx, lost) = oneshot::channel();
        let attached = Attached {
            rtp: self.rtp_local,
            codec,
            lost,
        };
        if reply.send(attached).is_ok() {
            if let Some(old) = slot.leg.replace(leg) {
                self.by_leg.remove(&old);
            }
            slot.lost = Some(lost_tx);
            self.by_leg.insert(leg, agent.to_owned());
        }
    }

    /// Close the agent's peer, if any, saying why to its leg.
    fn close(&mut self, agent: &str, why: &str) {
        let Some(mut slot) = self.slots.remove(agent) else {
            return;
        };
        if let Some(lost) = slot.lost.take() {
            let _ = lost.send(why.to_owned());
        }
        slot.peer.close();
        let mut out = Vec::new();
        slot.peer.poll(&mut |o| out.push(o));
        for o in out {
            if let Out::Browser { to, datagram } = o {
                let _ = self.web.try_send_to(&datagram, to);
            }
        }
        self.forget(agent, &slot, why);
        metrics::gauge!("dialer_webrtc_peers").set(self.slots.len() as f64);
    }

    fn forget(&mut self, agent: &str, slot: &Slot, why: &str) {
        self.by_source.retain(|_, a| a != agent);
        if let Some(leg) = slot.leg {
            self.by_leg.remove(&leg);
        }
        self.connected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(agent);
        tracing::info!(%agent, why, "a page's phone is gone");
    }

    /// Carry out what the agent's peer has to say.
    fn drain(&mut self, agent: &str) {
        let Some(slot) = self.slots.get_mut(agent) else {
            return;
        };
        let mut out = Vec::new();
        slot.next = slot.peer.poll(&mut |o| out.push(o));
        let leg = slot.leg;
        let mut up = false;
        let mut down = None;
        for o in out {
            match o {
                Out::Browser { to, datagram } => {
                    if self.web.try_send_to(&datagram, to).is_err() {
                        metrics::counter!("dialer_webrtc_send_errors_total").increment(1);
                    }
                }
                Out::Leg(packet) => {
                    if let Some(leg) = leg
                        && self.rtp.try_send_to(&packet, leg).is_err()
                    {
                        metrics::counter!("dialer_webrtc_send_errors_total").increment(1);
                    }
                }
                Out::Up => up = true,
                Out::Down(why) => down = Some(why),
            }
        }
        if up {
            tracing::info!(%agent, "a page's phone is up");
            self.connected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(agent.to_owned());
            self.try_attach(agent);
        }
        if let Some(why) = down
            && let Some(mut slot) = self.slots.remove(agent)
        {
            metrics::counter!("dialer_webrtc_peers_lost_total").increment(1);
            if let Some(lost) = slot.lost.take() {
                let _ = lost.send(why.clone());
            }
            self.forget(agent, &slot, &why);
            metrics::gauge!("dialer_webrtc_peers").set(self.slots.len() as f64);
        }
    }
}
