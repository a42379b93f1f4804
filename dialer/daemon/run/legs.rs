//! Calls and legs: dials through the SIP layer, agents' nailed-up legs, media (AMD, prompts,
//! recordings), one task per call forwarding its events, and local failures (no socket, port
//! or descriptor) that pause dialing.

use super::*;

/// How often a paused dialer tries to open a media leg again.
pub(super) const LOCAL_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The AMD detector on a customer's leg: fed each frame with the arrival of the packet that
/// completed it (the kernel's stamp), so the times it reports (speech start and end) are when
/// the audio reached us, not when a busy worker got to it.
pub(super) struct AmdSink {
    pub(super) call: CallKey,
    pub(super) events: mpsc::UnboundedSender<Event>,
    pub(super) detector: crate::amd::Detector,
    pub(super) decided: bool,
    pub(super) beeped: bool,
}

impl media::FrameSink for AmdSink {
    fn push_frame(&mut self, frame: &[i16; media::FRAME_SAMPLES]) {
        self.push_frame_at(Instant::now(), frame);
    }

    fn push_frame_at(&mut self, at: Instant, frame: &[i16; media::FRAME_SAMPLES]) {
        let (call, d) = (self.call, &mut self.detector);
        d.push_frame(at, frame);
        d.handle_timeout(Instant::now());
        if let Some(at) = d.poll_speech_start() {
            let _ = self.events.send(Event::SpeechStarted { call, at });
        }
        if !self.decided
            && let Some(dec) = d.poll_decision()
        {
            self.decided = true;
            let _ = self.events.send(Event::Amd {
                call,
                result: dec.result,
                cause: dec.cause.to_string(),
                speech_end: d.speech_end(),
            });
        }
        if !self.beeped && d.poll_message_start().is_some() {
            self.beeped = true;
            let _ = self.events.send(Event::Beep { call });
        }
    }
}

/// Place a call (with `call_id` as its Call-ID when given) and forward its events until it
/// ends; a hang-up request ends it early.
pub(super) async fn run_call(
    sip: Sip,
    place: PlaceCall,
    call_id: Option<String>,
    hangup: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<Event>,
    wrap: impl Fn(CallEvent) -> Event + Send + 'static,
    failed: impl Fn(String) -> Event + Send + 'static,
) {
    let placed = match call_id {
        Some(id) => sip.place_call_with_id(place, id).await,
        None => sip.place_call(place).await,
    };
    let mut handle = match placed {
        Ok(h) => h,
        Err(err) => {
            let _ = events.send(failed(err.to_string()));
            return;
        }
    };
    let mut hangup = hangup;
    let mut hung_up = false;
    loop {
        tokio::select! {
            ev = handle.next_event() => match ev {
                Some(ev) => {
                    let end = matches!(ev, CallEvent::Ended(_));
                    let _ = events.send(wrap(ev));
                    if end {
                        return;
                    }
                }
                None => {
                    let _ = events.send(failed("SIP layer stopped".into()));
                    return;
                }
            },
            r = &mut hangup, if !hung_up => {
                hung_up = true;
                if r.is_ok() {
                    handle.hangup();
                }
            }
        }
    }
}

pub(super) fn forward_leg(
    mut rx: mpsc::UnboundedReceiver<media::LegEvent>,
    events: mpsc::UnboundedSender<Event>,
    wrap: impl Fn(media::LegEvent) -> Event + Send + 'static,
) {
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if events.send(wrap(ev)).is_err() {
                return;
            }
        }
    });
}

pub(super) fn offer(local: SocketAddr, session: u64) -> (String, Bytes) {
    let sdp = LocalMedia::offer(local.ip(), local.port(), session.max(1)).to_sdp();
    ("application/sdp".to_owned(), Bytes::from(sdp))
}

pub(super) fn set_remote(media: &Media, leg: LegId, answer: &Bytes) {
    match RemoteMedia::parse(answer) {
        Ok(remote) => {
            if let Err(err) = media.set_remote(leg, &remote) {
                tracing::warn!(%err, "cannot set the far end's media");
            }
        }
        Err(err) => tracing::warn!(%err, "unusable SDP answer"),
    }
}

pub(super) fn recording_path(dir: &Path, clock: &WallClock, call: CallKey) -> PathBuf {
    let ts = clock.timestamp(Instant::now());
    let day = ts.strftime("%Y-%m-%d").to_string();
    dir.join(day)
        .join(format!("{}-{call}.wav", ts.as_millisecond()))
}

impl Shell {
    /// A dial failed here before its INVITE left (its attempt was not stored): the lead goes
    /// back unchanged, the trunk's health is not touched, and dialing pauses until a media port
    /// opens again ([`Self::check_local_resources`]).
    pub(super) fn dial_failed_locally(&mut self, call: CallKey, err: &MediaError) {
        let now = Instant::now();
        let reason = err.local_reason();
        metrics::counter!("dialer_dial_local_failures_total", "reason" => reason).increment(1);
        metrics::gauge!("dialer_dialing_paused_local").set(1.0);
        if let Some(more) = self.local_log.allow(now) {
            tracing::error!(
                %err,
                reason,
                more,
                "dialing paused: a dial failed here before its INVITE left; its lead is given \
                 back with no attempt counted; dialing resumes when a media port opens again"
            );
        }
        self.local_check.get_or_insert(now);
        self.board.handle(now, Input::DialFailedLocally { call });
    }

    /// While dialing is paused by a local failure, try once a second to open a media leg;
    /// when one opens, dialing resumes.
    pub(super) fn check_local_resources(&mut self, now: Instant) {
        if !self.board.local_fault() {
            return;
        }
        if self
            .local_check
            .is_some_and(|t| now.saturating_duration_since(t) < LOCAL_CHECK_EVERY)
        {
            return;
        }
        self.local_check = Some(now);
        match self.media.open_leg() {
            Ok(leg) => {
                self.media.close_leg(leg.id);
                self.local_check = None;
                metrics::gauge!("dialer_dialing_paused_local").set(0.0);
                tracing::info!("dialing resumed: a media port opened again");
                self.board.handle(now, Input::LocalResourcesBack);
            }
            Err(err) => {
                if let Some(more) = self.local_log.allow(now) {
                    tracing::error!(%err, more, "dialing still paused: no media port yet");
                }
            }
        }
    }

    pub(super) fn dial(&mut self, d: Dial) {
        let call = d.call;
        let leg = match self.legs.remove(&call) {
            Some(Ok(leg)) => leg,
            // Opened with its record; an error went to `dial_failed_locally` instead.
            Some(Err(err)) => {
                self.dial_failed_locally(call, &err);
                return;
            }
            None => match self.media.open_leg() {
                Ok(leg) => leg,
                Err(err) => {
                    self.dial_failed_locally(call, &err);
                    return;
                }
            },
        };
        let (hangup_tx, hangup_rx) = oneshot::channel();
        self.calls.insert(
            call,
            CallIo {
                leg: leg.id,
                hangup: Some(hangup_tx),
            },
        );
        forward_leg(leg.events, self.events.clone(), move |event| Event::Media {
            call,
            event,
        });
        let offer = offer(leg.local, call.get());
        let (row, call_id) = match self.rows.remove(&call) {
            Some((row, id)) => (Some(row), Some(id)),
            None => (None, None),
        };
        let sip = self.sip.clone();
        let events = self.events.clone();
        let span = tracing::info_span!("call", call = call.get(), campaign = %d.campaign, lead = d.lead.id);
        let task = async move {
            // The attempt's row first: nothing is dialed that cannot be recorded.
            if let Some(rx) = row {
                let failed = match rx.await {
                    Ok(Ok(_)) => None,
                    Ok(Err(reason)) => Some(reason),
                    Err(_) => Some("store writer gone".to_owned()),
                };
                if let Some(reason) = failed {
                    let _ = events.send(Event::DialFailed { call, reason });
                    return;
                }
            }
            let place = PlaceCall {
                target: Target::Number(d.lead.phone.clone()),
                trunk: Some(d.trunk.clone()),
                caller_id: Some(d.caller_id.clone()),
                offer: Some(offer),
                ring_timeout: d.ring_timeout,
                talk_limit: None,
            };
            run_call(
                sip,
                place,
                call_id,
                hangup_rx,
                events,
                move |event| Event::Sip { call, event },
                move |reason| Event::DialFailed { call, reason },
            )
            .await;
        };
        tokio::spawn(tracing::Instrument::instrument(task, span));
    }

    pub(super) fn dial_agent(&mut self, agent: AgentId) {
        if let Some(Phone::Browser) = self.agent_phones.get(&agent) {
            self.dial_page(agent);
            return;
        }
        let target = match self.agent_phones.get(&agent) {
            Some(Phone::Uri(uri)) => Target::parse(uri),
            // Called where it registered from; not registered, the call fails at once saying so.
            Some(Phone::Registered { sip_user, .. }) => Ok(Target::Registered(sip_user.clone())),
            Some(Phone::Browser) | None => {
                let _ = self.events.send(Event::AgentFailed {
                    agent,
                    reason: "no phone configured".into(),
                });
                return;
            }
        };
        let target = match target {
            Ok(t) => t,
            Err(err) => {
                let _ = self.events.send(Event::AgentFailed {
                    agent,
                    reason: err.to_string(),
                });
                return;
            }
        };
        let Some((local, hangup_rx)) = self.open_agent_leg(&agent) else {
            return;
        };
        let place = PlaceCall {
            target,
            trunk: None,
            caller_id: Some("dialer".into()),
            offer: Some(offer(local, 0)),
            ring_timeout: Duration::from_secs(30),
            talk_limit: None,
        };
        let (a1, a2) = (agent.clone(), agent);
        tokio::spawn(run_call(
            self.sip.clone(),
            place,
            None,
            hangup_rx,
            self.events.clone(),
            move |event| Event::AgentSip {
                agent: a1.clone(),
                event,
            },
            move |reason| Event::AgentFailed {
                agent: a2.clone(),
                reason,
            },
        ));
    }

    /// Open the agent's media leg, keep it with its hang-up switch and forward its events;
    /// returns its local address and the switch's other end. On failure the agent's login
    /// fails, with the reason.
    fn open_agent_leg(&mut self, agent: &AgentId) -> Option<(SocketAddr, oneshot::Receiver<()>)> {
        let leg = match self.media.open_leg() {
            Ok(leg) => leg,
            Err(err) => {
                let _ = self.events.send(Event::AgentFailed {
                    agent: agent.clone(),
                    reason: err.to_string(),
                });
                return None;
            }
        };
        let (hangup_tx, hangup_rx) = oneshot::channel();
        self.agent_legs.insert(
            agent.clone(),
            AgentLeg {
                leg: leg.id,
                hangup: Some(hangup_tx),
            },
        );
        let a = agent.clone();
        forward_leg(leg.events, self.events.clone(), move |event| {
            Event::AgentMedia {
                agent: a.clone(),
                event,
            }
        });
        Some((leg.local, hangup_rx))
    }

    /// The agent's phone is their desktop page: open the agent's media leg and bind it to the
    /// page's WebRTC peer at the gateway when the page has one up (waiting for it at most
    /// `[webrtc] connect_wait`); then the leg lives until the page goes or we hang up.
    fn dial_page(&mut self, agent: AgentId) {
        let Some(gateway) = self.webrtc.clone() else {
            let _ = self.events.send(Event::AgentFailed {
                agent,
                reason: "the WebRTC gateway is not running".into(),
            });
            return;
        };
        let Some((local, hangup_rx)) = self.open_agent_leg(&agent) else {
            return;
        };
        let events = self.events.clone();
        let wait = self.page_wait;
        tokio::spawn(async move {
            let mut hangup = hangup_rx;
            let id = agent.to_string();
            let attach = gateway.attach(&id, local);
            let lost_by_us = |why: &str| Event::AgentPageLost {
                agent: agent.clone(),
                why: why.to_owned(),
                by_us: true,
            };
            let attached = tokio::select! {
                r = tokio::time::timeout(wait, attach) => r,
                _ = &mut hangup => {
                    gateway.detach(&id);
                    let _ = events.send(lost_by_us("hung up before the page connected"));
                    return;
                }
            };
            let attached = match attached {
                Ok(Ok(a)) => a,
                Ok(Err(_)) => {
                    let _ = events.send(Event::AgentFailed {
                        agent,
                        reason: "the WebRTC gateway has stopped".into(),
                    });
                    return;
                }
                Err(_) => {
                    gateway.detach(&id);
                    let _ = events.send(Event::AgentFailed {
                        agent,
                        reason: format!(
                            "the desktop page did not connect the agent's phone within \
                             {wait:?} ([webrtc] connect_wait)"
                        ),
                    });
                    return;
                }
            };
            let remote = Bytes::from(attached.remote_sdp());
            let _ = events.send(Event::AgentPageUp {
                agent: agent.clone(),
                remote,
            });
            tokio::select! {
                why = attached.lost => {
                    let why = why.unwrap_or_else(|_| "the WebRTC gateway has stopped".into());
                    let _ = events.send(Event::AgentPageLost { agent, why, by_us: false });
                }
                _ = &mut hangup => {
                    gateway.detach(&id);
                    let _ = events.send(lost_by_us("hung up"));
                }
            }
        });
    }

    pub(super) fn start_amd(&mut self, call: CallKey) {
        let Some(io) = self.calls.get(&call) else {
            return;
        };
        let Some(settings) = self.board.amd_settings(call) else {
            return;
        };
        let sink = AmdSink {
            call,
            events: self.events.clone(),
            detector: crate::amd::Detector::new(settings, Instant::now()),
            decided: false,
            beeped: false,
        };
        if let Err(err) = self.media.set_analyzer(io.leg, Box::new(sink)) {
            tracing::warn!(%err, call = call.get(), "cannot start AMD");
        }
    }

    pub(super) fn prompt(&mut self, file: &Path) -> Result<Pcm, media::wav::WavError> {
        if let Some(p) = self.prompts.get(file) {
            return Ok(p.clone());
        }
        let pcm: Pcm = media::wav::read_8k_mono(file)?.into();
        self.prompts.insert(file.to_owned(), pcm.clone());
        Ok(pcm)
    }
}
