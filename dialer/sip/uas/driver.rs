//! The tokio shell around [`Uas`]: one task owns the UDP socket and the timer; commands come
//! in on a channel ([`UasHandle`]), events go out on another.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{InboundId, Uas, UasConfig, UasError, UasEvent, UasStats};
use crate::sip::message::Transport;

enum Cmd {
    Ring(InboundId),
    Answer(InboundId, String, Bytes),
    Reject(InboundId, u16),
    Hangup(InboundId),
    Stats(oneshot::Sender<UasStats>),
}

/// A handle on a running UAS; clone it freely. The task stops when every handle is dropped.
#[derive(Clone)]
pub struct UasHandle {
    cmds: mpsc::UnboundedSender<Cmd>,
    local: SocketAddr,
}

/// The running UAS: its handle, its events and its task.
pub struct UasDriver {
    pub handle: UasHandle,
    pub events: mpsc::UnboundedReceiver<UasEvent>,
    pub task: JoinHandle<()>,
}

impl UasDriver {
    /// Bind `bind` (port 0: the OS picks) and start serving. `cfg.local` is replaced by the
    /// bound address; an empty `cfg.allowed` admits the bound IP only.
    pub async fn start(bind: SocketAddr, mut cfg: UasConfig, seed: u64) -> io::Result<UasDriver> {
        let socket = UdpSocket::bind(bind).await?;
        let local = socket.local_addr()?;
        cfg.local = local;
        if cfg.allowed.is_empty() {
            cfg.allowed.push(local.ip());
        }
        let (cmds, rx) = mpsc::unbounded_channel();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let uas = Uas::new(cfg, seed);
        let task = tokio::spawn(run(uas, socket, rx, ev_tx));
        Ok(UasDriver {
            handle: UasHandle { cmds, local },
            events,
            task,
        })
    }
}

impl UasHandle {
    /// The address the UAS listens on (give it out as the SIP URI's host and port).
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn ring(&self, id: InboundId) {
        let _ = self.cmds.send(Cmd::Ring(id));
    }

    pub fn answer(&self, id: InboundId, sdp: String) {
        let _ = self
            .cmds
            .send(Cmd::Answer(id, "application/sdp".into(), Bytes::from(sdp)));
    }

    pub fn reject(&self, id: InboundId, status: u16) {
        let _ = self.cmds.send(Cmd::Reject(id, status));
    }

    pub fn hangup(&self, id: InboundId) {
        let _ = self.cmds.send(Cmd::Hangup(id));
    }

    /// Counters, or `None` when the task has stopped.
    pub async fn stats(&self) -> Option<UasStats> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(Cmd::Stats(tx)).ok()?;
        rx.await.ok()
    }
}

fn apply(uas: &mut Uas, cmd: Cmd) {
    let now = Instant::now();
    let r: Result<(), UasError> = match cmd {
        Cmd::Ring(id) => uas.ring(now, id),
        Cmd::Answer(id, ct, body) => uas.answer(now, id, &ct, body),
        Cmd::Reject(id, status) => uas.reject(now, id, status),
        Cmd::Hangup(id) => uas.hangup(now, id),
        Cmd::Stats(tx) => {
            let _ = tx.send(uas.stats());
            Ok(())
        }
    };
    if let Err(e) = r {
        // Commands race with the far end (a CANCEL or BYE may have ended the call first).
        tracing::debug!(error = %e, "UAS command not applied");
    }
}

async fn run(
    mut uas: Uas,
    socket: UdpSocket,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    events: mpsc::UnboundedSender<UasEvent>,
) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let deadline = uas.poll_timeout();
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => uas.handle_datagram(Instant::now(), from, Transport::Udp, &buf[..n]),
                // ICMP port unreachable from an earlier send: not fatal.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => {
                    tracing::warn!(error = %e, "UAS socket receive failed; stopping");
                    return;
                }
            },
            cmd = cmds.recv() => match cmd {
                Some(c) => apply(&mut uas, c),
                None => return,
            },
            _ = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => uas.handle_timeout(Instant::now()),
        }
        while let Some(t) = uas.poll_transmit() {
            if let Err(e) = socket.send_to(&t.bytes, t.to).await {
                tracing::debug!(error = %e, to = %t.to, "UAS send failed");
            }
        }
        while let Some(ev) = uas.poll_event() {
            let _ = events.send(ev);
        }
    }
}
