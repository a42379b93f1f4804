//! `GET /v1/events`: live updates as Server-Sent Events for the agent desktop and the
//! wallboard.
//!
//! Each stream starts with `hello` and a full snapshot (the agent's own state and screen pop,
//! or for the supervisor every agent), then carries the changes after it. The stream
//! subscribes to the bus before it asks for the snapshot and skips events the snapshot
//! already includes (by sequence number), so it misses nothing. `Last-Event-ID` is ignored:
//! a reconnect is a new snapshot. A comment line (`: ping`) every [`PING`] keeps proxies
//! from closing a quiet stream.
//!
//! A stream that falls [`BUS_CAPACITY`](crate::daemon::live::BUS_CAPACITY) events behind (a
//! slow or stalled reader) is closed; the browser reconnects and redraws. The request timeout
//! does not apply to the stream (it bounds the answer's head, which comes at once), and a
//! stream holds a slot of `[api] max_event_streams` instead of an ordinary connection slot.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Mutex;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::broadcast::error::RecvError;

use super::*;
use crate::daemon::live::LiveEvent;

/// How often a quiet stream sends a comment line.
pub const PING: Duration = Duration::from_secs(15);

/// A connection of the server ([`Api::serve_with`]): its slot in the connection cap (an
/// ordinary one, or once it opens an event stream, one of the streams'; given back when the
/// connection ends), the server's event stream slots, and its stop signal.
#[derive(Clone)]
pub(super) struct ConnSlot {
    slot: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
    streams: Arc<Semaphore>,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl ConnSlot {
    pub(super) fn new(
        permit: OwnedSemaphorePermit,
        streams: Arc<Semaphore>,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            slot: Arc::new(Mutex::new(Some(permit))),
            streams,
            stopping,
        }
    }

    /// Trade the connection's ordinary slot for an event stream's; `false` when every stream
    /// slot is taken.
    fn trade(&self) -> bool {
        let Ok(permit) = self.streams.clone().try_acquire_owned() else {
            return false;
        };
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(permit);
        }
        true
    }
}

/// Counts an open stream in `dialer_api_event_streams` while it lives.
struct Open;

impl Open {
    fn new() -> Self {
        metrics::gauge!("dialer_api_event_streams").increment(1.0);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("dialer_api_event_streams").decrement(1.0);
    }
}

/// One stream's state between events.
struct Stream {
    /// `hello` and the snapshot, not sent yet.
    first: VecDeque<SseEvent>,
    rx: tokio::sync::broadcast::Receiver<Arc<LiveEvent>>,
    /// The snapshot's sequence number: earlier events are in it.
    seq: u64,
    /// The agent reading (`None`: the supervisor).
    agent: Option<AgentId>,
    /// The server's stop signal (none when served through the router alone).
    closing: Option<tokio::sync::watch::Receiver<bool>>,
    _open: Open,
}

impl Stream {
    async fn next(&mut self) -> Option<SseEvent> {
        if let Some(e) = self.first.pop_front() {
            return Some(e);
        }
        loop {
            tokio::select! {
                received = self.rx.recv() => match received {
                    Ok(ev) => {
                        if ev.seq > self.seq && ev.to.admits(self.agent.as_ref()) {
                            return Some(SseEvent::default().event(ev.name).data(&*ev.data));
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        metrics::counter!("dialer_api_event_streams_lagged_total").increment(1);
                        tracing::debug!(missed, agent = ?self.agent, "event stream fell behind: closed (the client reconnects)");
                        return None;
                    }
                    Err(RecvError::Closed) => return None,
                },
                () = stopped(&mut self.closing) => return None,
            }
        }
    }
}

/// Resolves when the server stops (never without a stop signal).
async fn stopped(closing: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match closing {
        Some(c) => {
            let _ = c.wait_for(|c| *c).await;
        }
        None => std::future::pending().await,
    }
}

pub(super) async fn events(State(api): State<Api>, request: HttpRequest) -> ApiResult {
    let principal = api.authorize(request.headers())?;
    // A stream slot first: at the cap, 503 before anything is asked of the switchboard.
    // Served without the accept loop (through the router alone) there is no cap and no stop
    // signal but the bus closing.
    let conn = request.extensions().get::<ConnSlot>().cloned();
    if conn.as_ref().is_some_and(|c| !c.trade()) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            "as many event streams are open as [api] max_event_streams allows; try again later",
        ));
    }
    let closing = conn.map(|c| c.stopping);
    let agent = match &principal {
        Principal::Agent(a) => Some(a.clone()),
        Principal::Supervisor => None,
    };
    let rx = api.inner.control.bus().subscribe();
    let snapshot = match api.ask(Request::Live(agent.clone())).await? {
        Reply::Live(s) => *s,
        other => return Err(unexpected(&other)),
    };
    let mut first = VecDeque::with_capacity(snapshot.events.len() + 1);
    first.push_back(
        SseEvent::default()
            .event("hello")
            .data(hello(&principal, &api.inner.desktop.load()).to_string()),
    );
    for (name, data) in &snapshot.events {
        first.push_back(SseEvent::default().event(*name).data(&**data));
    }
    let stream = Stream {
        first,
        rx,
        seq: snapshot.seq,
        agent,
        closing,
        _open: Open::new(),
    };
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        s.next().await.map(|e| (Ok::<_, Infallible>(e), s))
    });
    let mut response = Sse::new(body)
        .keep_alive(KeepAlive::new().interval(PING).text("ping"))
        .into_response();
    // Proxies such as nginx hold a response back otherwise.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The `hello` event: who is reading, the server's time, the pause reasons.
fn hello(principal: &Principal, desktop: &DesktopConfig) -> Value {
    let who = match principal {
        Principal::Supervisor => json!({"role": "supervisor"}),
        Principal::Agent(a) => json!({"role": "agent", "id": a}),
    };
    let reasons: Vec<Value> = desktop
        .pause_reasons
        .iter()
        .map(|r| json!({"code": r.code, "label": r.label}))
        .collect();
    json!({
        "principal": who,
        "now": jiff::Timestamp::now().to_string(),
        "pause_reasons": reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::live::{Audience, Bus};

    fn stream(
        bus: &Bus,
        seq: u64,
        agent: Option<&str>,
    ) -> (Stream, tokio::sync::watch::Sender<bool>) {
        let (closing, closed) = tokio::sync::watch::channel(false);
        let s = Stream {
            first: VecDeque::new(),
            rx: bus.subscribe(),
            seq,
            agent: agent.map(AgentId::from),
            closing: Some(closed),
            _open: Open::new(),
        };
        (s, closing)
    }

    fn event(seq: u64, to: Audience) -> LiveEvent {
        LiveEvent {
            seq,
            to,
            name: "agent",
            data: Arc::from(format!("{{\"seq\":{seq}}}")),
        }
    }

    #[tokio::test]
    async fn a_stream_skips_what_its_snapshot_has_and_what_is_not_for_its_reader() {
        let bus = Bus::new(16);
        let (mut s, _closing) = stream(&bus, 2, Some("alice"));
        let alice = || AgentId::from("alice");
        bus.send(event(1, Audience::AgentAndSupervisor(alice())));
        bus.send(event(2, Audience::Agent(alice())));
        bus.send(event(3, Audience::Agent(AgentId::from("bob"))));
        bus.send(event(4, Audience::Supervisor));
        bus.send(event(5, Audience::AgentAndSupervisor(alice())));
        let e = s.next().await.expect("an event");
        assert!(format!("{e:?}").contains(r#"{\"seq\":5}"#), "{e:?}");
    }

    #[tokio::test]
    async fn a_stream_that_falls_behind_ends_and_closing_ends_the_others() {
        let bus = Bus::new(4);
        let (mut slow, _c1) = stream(&bus, 0, None);
        let (mut other, closing) = stream(&bus, 0, None);
        for seq in 1..=10 {
            bus.send(event(seq, Audience::Supervisor));
        }
        assert!(slow.next().await.is_none(), "a lagging stream ends");
        closing.send_replace(true);
        // Already lagging too, or told to close: either way it ends.
        assert!(other.next().await.is_none());
        let (mut idle, closing) = stream(&bus, 0, None);
        closing.send_replace(true);
        assert!(idle.next().await.is_none(), "closing ends a quiet stream");
    }
}
