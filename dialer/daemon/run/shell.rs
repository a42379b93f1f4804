//! The switchboard's task: the loop that feeds it events and carries out its outputs, and
//! the answers to the API's requests.

use super::*;

/// A reload asked of the running daemon: the campaigns to run, who asked (for the audit
/// trail), and where to say it is applied.
#[derive(Debug)]
pub(super) struct Reload {
    pub(super) campaigns: Vec<Campaign>,
    pub(super) by: String,
    pub(super) done: oneshot::Sender<()>,
}

/// What the per-call and per-leg tasks report.
#[derive(Debug)]
pub(super) enum Event {
    Sip {
        call: CallKey,
        event: CallEvent,
    },
    /// The dial could not be placed (no store row, no trunk …).
    DialFailed {
        call: CallKey,
        reason: String,
    },
    Media {
        call: CallKey,
        event: media::LegEvent,
    },
    SpeechStarted {
        call: CallKey,
        at: Instant,
    },
    Amd {
        call: CallKey,
        result: AmdResult,
        cause: String,
        speech_end: Option<Instant>,
    },
    Beep {
        call: CallKey,
    },
    AgentSip {
        agent: AgentId,
        event: CallEvent,
    },
    AgentFailed {
        agent: AgentId,
        reason: String,
    },
    AgentMedia {
        agent: AgentId,
        event: media::LegEvent,
    },
    /// A browser phone's page is up: the agent's media leg takes `remote` (the gateway) as its
    /// far end.
    AgentPageUp {
        agent: AgentId,
        remote: Bytes,
    },
    /// A browser phone's leg ended: the page is gone (`by_us` false: the agent is connecting
    /// again, waiting for the page) or we hung up (`by_us`).
    AgentPageLost {
        agent: AgentId,
        why: String,
        by_us: bool,
    },
    Leads {
        campaign: String,
        leads: Vec<Lead>,
    },
    /// A claim brought no lead (`empty`: the store had none to give, not an error).
    ClaimDone {
        campaign: String,
        empty: bool,
    },
    /// A campaign's abandon window, read again on a new day ([`Shell::check_windows`]).
    WindowRead {
        campaign: String,
        stored: Result<WindowCounts, String>,
        before: WindowCounts,
        previous_day: i64,
    },
    /// A reload's store work is done: each campaign with its store rows, or why not.
    Reloaded {
        results: Vec<(Campaign, Registered)>,
        by: String,
        done: oneshot::Sender<()>,
    },
    /// A campaign's list files were imported and its leads judged.
    ListsLoaded(Box<lists::Loaded>),
    /// A campaign's leads were judged (a claim found none).
    LeadsChecked {
        campaign: String,
        check: Result<lists::LeadCheck, String>,
    },
    Rechecked {
        lead_id: i64,
        refusal: Option<String>,
    },
    /// A lead's history for the screen pop, from the store.
    History {
        lead_id: i64,
        history: Vec<crate::store::HistoryEntry>,
    },
    /// What the registrar did (agents' softphones).
    Registration(RegistrarEvent),
}

pub(super) struct CallIo {
    pub(super) leg: LegId,
    pub(super) hangup: Option<oneshot::Sender<()>>,
}

pub(super) struct AgentLeg {
    pub(super) leg: LegId,
    pub(super) hangup: Option<oneshot::Sender<()>>,
}

pub(super) struct Shell {
    pub(super) board: Switchboard,
    /// Live updates for the desktops and the wallboard.
    pub(super) live: Live,
    /// Counts dials, outcomes, dispositions and trunk health for `/metrics`.
    pub(super) observer: crate::daemon::telemetry::Observer,
    pub(super) store: Store,
    pub(super) sip: Sip,
    pub(super) media: Media,
    pub(super) clock: WallClock,
    pub(super) writer: mpsc::Sender<Msg>,
    pub(super) events: mpsc::UnboundedSender<Event>,
    pub(super) calls: HashMap<CallKey, CallIo>,
    /// How each agent's phone is reached.
    pub(super) agent_phones: HashMap<AgentId, Phone>,
    pub(super) agent_legs: HashMap<AgentId, AgentLeg>,
    /// The agents' phones in the browser (`None` when no agent has one).
    pub(super) webrtc: Option<crate::webrtc::Gateway>,
    /// How long a browser phone's leg waits for its page (`[webrtc] connect_wait`).
    pub(super) page_wait: Duration,
    /// Each campaign's scheduler; a claim task takes a copy (no lock, no wait on a claim).
    pub(super) schedulers: HashMap<String, Scheduler>,
    pub(super) lists: Lists,
    /// A reload's store work runs; later reloads wait in `reloads`.
    pub(super) reloading: bool,
    pub(super) reloads: VecDeque<Reload>,
    /// Operators' actions for the audit trail, handed to the store writer by the next pump.
    pub(super) audits: Vec<AuditEvent>,
    /// The store row of a dial, which its INVITE waits for, and the INVITE's Call-ID (stored
    /// in that row).
    pub(super) rows: HashMap<CallKey, (oneshot::Receiver<Result<i64, String>>, String)>,
    /// The media leg of a dial, opened before its attempt is stored; or why it could not be.
    pub(super) legs: HashMap<CallKey, Result<Leg, MediaError>>,
    /// Dialing is paused by a local failure: the last check for a media port, and the log limit.
    pub(super) local_check: Option<Instant>,
    pub(super) local_log: LogLimit,
    pub(super) prompts: HashMap<PathBuf, Pcm>,
    pub(super) recordings: PathBuf,
    pub(super) options: Options,
    pub(super) heartbeat: Heartbeat,
    pub(super) store_health: StoreHealth,
    /// The last claim let through while the store could not write (a probe).
    pub(super) last_probe: Option<Instant>,
    /// A stop's end: records not handed to the writer by then are lost (logged, counted).
    pub(super) stop_by: Option<Instant>,
    /// The last look at the campaigns' abandon windows, and the day (its start, unix ms, in
    /// each campaign's zone) each was last read for ([`Shell::check_windows`]).
    pub(super) window_checked: Option<Instant>,
    pub(super) window_days: HashMap<String, i64>,
}

impl Shell {
    pub(super) async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        mut control: mpsc::Receiver<Envelope>,
        mut reload: mpsc::Receiver<Reload>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(self.options.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut draining_until: Option<Instant> = None;
        loop {
            let deadline = self.board.poll_timeout();
            tokio::select! {
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.observer.input(now, &Input::Tick);
                    self.board.handle(now, Input::Tick);
                    self.check_local_resources(now);
                    self.check_windows(now);
                    self.sample_wallboard(now);
                    self.heartbeat.beat();
                }
                _ = sleep_until(deadline) => {
                    self.board.handle_timeout(Instant::now());
                }
                Some(ev) = events.recv() => self.on_event(ev),
                Some((request, reply)) = control.recv() => self.on_control(request, reply),
                Some(ask) = reload.recv() => self.reload(ask),
                changed = stop.changed(), if draining_until.is_none() => {
                    if changed.is_err() || *stop.borrow() {
                        tracing::info!(calls = self.board.live_calls(), "stopping: no new dials, draining calls");
                        self.board.drain();
                        let now = Instant::now();
                        draining_until = Some(now + self.options.drain_deadline);
                        // The whole stop is bounded: a store that cannot write gets until
                        // then, and what it has not stored is logged and counted.
                        let stop_by =
                            now + self.options.drain_deadline + HANGUP_WAIT + STOP_FLUSH_WAIT;
                        self.stop_by = Some(stop_by);
                        self.store_health.give_up_at(stop_by);
                    }
                }
            }
            self.pump().await;
            self.publish_live();
            if let Some(until) = draining_until {
                let now = Instant::now();
                // Done when no call is left and no agent still wraps one up (a disposition
                // posted during the drain is stored like any other).
                if self.board.live_calls() == 0
                    && self.calls.is_empty()
                    && self.board.wrap_ups(now) == 0
                {
                    break;
                }
                if now >= until {
                    tracing::warn!(
                        calls = self.calls.len(),
                        wrap_ups = self.board.wrap_ups(now),
                        "drain deadline passed: hanging up, wrap-ups cut short"
                    );
                    for io in self.calls.values_mut() {
                        if let Some(h) = io.hangup.take() {
                            let _ = h.send(());
                        }
                    }
                    // Every call still open gets its attempt record now; a wrap-up with no
                    // disposition releases its lead with the call's outcome.
                    self.board.abort_calls(now);
                    self.board.cut_wrap_ups(now);
                    self.pump().await;
                    break;
                }
            }
        }
        // Close agent intervals, hang up agent legs, wait for the far ends to answer the BYEs
        // (and CANCELs), flush the store.
        self.board.flush_agents(Instant::now());
        self.pump().await;
        for leg in self.agent_legs.values_mut() {
            if let Some(h) = leg.hangup.take() {
                let _ = h.send(());
            }
        }
        self.await_hangups(&mut events, Instant::now() + HANGUP_WAIT)
            .await;
        let (done, wait) = oneshot::channel();
        let stop_by = self
            .stop_by
            .unwrap_or_else(|| Instant::now() + STOP_FLUSH_WAIT);
        // The writer gives up at `stop_by` (and says what it could not store); a moment more
        // for its answer.
        let flushed = tokio::time::timeout_at((stop_by + Duration::from_secs(1)).into(), async {
            if self.writer.send(Msg::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        })
        .await;
        if flushed.is_err() {
            tracing::error!("the store writer did not finish by the stop's deadline");
        }
    }

    /// After the switchboard is done: wait until every call and agent leg has ended in SIP (our
    /// BYE or CANCEL answered, or the SIP layer gave up on it), at most until `deadline`, so
    /// the socket does not close under a far end still answering. The switchboard has recorded
    /// everything already; only the legs' ends are taken from the events now.
    pub(super) async fn await_hangups(
        &mut self,
        events: &mut mpsc::UnboundedReceiver<Event>,
        deadline: Instant,
    ) {
        while !(self.calls.is_empty() && self.agent_legs.is_empty()) {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(Event::Sip { call, event: CallEvent::Ended(_) })
                    | Some(Event::DialFailed { call, .. }) => {
                        if let Some(io) = self.calls.remove(&call) {
                            self.media.close_leg(io.leg);
                        }
                    }
                    Some(Event::AgentSip { agent, event: CallEvent::Ended(_) })
                    | Some(Event::AgentFailed { agent, .. })
                    | Some(Event::AgentPageLost { agent, .. }) => {
                        if let Some(leg) = self.agent_legs.remove(&agent) {
                            self.media.close_leg(leg.leg);
                        }
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline.into()) => {
                    tracing::warn!(
                        calls = self.calls.len(),
                        agent_legs = self.agent_legs.len(),
                        "stopping without the far ends' answers to our hang-ups"
                    );
                    break;
                }
            }
        }
    }

    /// Answer a control request. The screen pop's history is read from the store in a task
    /// that answers when it has it; everything else is answered now.
    pub(super) fn on_control(
        &mut self,
        request: Request,
        reply: oneshot::Sender<Result<Reply, crate::switchboard::SwitchboardError>>,
    ) {
        match request {
            Request::Screen(agent) => match self.screen_now(&agent) {
                Ok(Some((lead_id, mut screen))) => {
                    let store = self.store.clone();
                    tokio::spawn(async move {
                        match store.lead_history(lead_id).await {
                            Ok(h) => screen["history"] = crate::daemon::live::history_json(&h),
                            Err(err) => {
                                tracing::warn!(%err, lead_id, "cannot read the lead's history")
                            }
                        }
                        let _ = reply.send(Ok(Reply::Screen(Some(screen))));
                    });
                }
                Ok(None) => {
                    let _ = reply.send(Ok(Reply::Screen(None)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Request::Live(agent) => {
                let snapshot = self.live_snapshot(agent.as_ref());
                let _ = reply.send(Ok(Reply::Live(Box::new(snapshot))));
            }
            request => {
                self.live.dirty = true;
                let answer = self.on_request(request);
                let _ = reply.send(answer);
            }
        }
    }

    /// Pause (`paused`) or resume the recording of the agent's call: the media engine writes
    /// silence in its place while paused.
    fn pause_recording(
        &mut self,
        agent: &AgentId,
        paused: bool,
    ) -> Result<(), crate::switchboard::SwitchboardError> {
        use crate::switchboard::SwitchboardError;
        let call = self
            .board
            .agent_views(Instant::now())
            .into_iter()
            .find(|v| &v.id == agent)
            .and_then(|v| v.call)
            .ok_or_else(|| SwitchboardError::NoCall(agent.clone()))?;
        let leg = self
            .calls
            .get(&call)
            .map(|io| io.leg)
            .ok_or_else(|| SwitchboardError::NoCall(agent.clone()))?;
        if !self.media.pause_recording(leg, paused) {
            return Err(SwitchboardError::NotRecorded(agent.clone()));
        }
        let _ = self.writer.try_send(Msg::RecordingPause {
            call,
            paused,
            at_ms: self.clock.ms(Instant::now()),
        });
        tracing::info!(
            call = call.get(),
            %agent,
            paused,
            "recording {} by the agent",
            if paused { "paused" } else { "resumed" }
        );
        Ok(())
    }

    pub(super) fn on_request(
        &mut self,
        r: Request,
    ) -> Result<Reply, crate::switchboard::SwitchboardError> {
        let now = Instant::now();
        let b = &mut self.board;
        // An agent's action is answered with the agent's view right after it, in the same turn
        // (the API's answer; a stop may end the loop before another question).
        let view = |b: &Switchboard, agent: &str| {
            Reply::Agents(
                b.agent_views(now)
                    .into_iter()
                    .filter(|v| v.id == agent)
                    .collect(),
            )
        };
        Ok(match r {
            Request::Login(a) => b.agent_login(now, &a).map(|_| view(b, &a))?,
            Request::Logout(a) => b.agent_logout(now, &a).map(|_| view(b, &a))?,
            Request::ForceLogout { agent, by } => {
                let reply = b.agent_logout(now, &agent).map(|_| view(b, &agent))?;
                let message = format!("agent {agent} logged out by {by} (API)");
                let data = serde_json::json!({ "by": by, "via": "api", "agent": agent });
                self.audit("agent_logout", None, message, data);
                reply
            }
            Request::Ready(a) => b.agent_ready(now, &a).map(|_| view(b, &a))?,
            Request::Pause { agent, reason } => b
                .agent_pause(now, &agent, &reason)
                .map(|_| view(b, &agent))?,
            Request::Hangup(a) => b.agent_hangup(now, &a).map(|_| view(b, &a))?,
            Request::RecordingPause(a) => {
                self.pause_recording(&a, true)?;
                view(&self.board, &a)
            }
            Request::RecordingResume(a) => {
                self.pause_recording(&a, false)?;
                view(&self.board, &a)
            }
            Request::Dial(a) => b.agent_dial(now, &a).map(|_| view(b, &a))?,
            Request::Skip(a) => b.agent_skip(now, &a).map(|_| view(b, &a))?,
            Request::Disposition {
                agent,
                code,
                notes,
                callback_after,
            } => b
                .agent_disposition(now, &agent, &code, notes, callback_after)
                .map(|_| view(b, &agent))?,
            Request::Answer {
                agent,
                question,
                answer,
            } => b
                .agent_answer(now, &agent, &question, &answer)
                .map(|_| view(b, &agent))?,
            Request::CheckCallback { agent, at } => {
                b.callback_allowed(now, &agent, at)?;
                Reply::Done
            }
            Request::Lead(a) => Reply::Lead(b.agent_lead(now, &a)?),
            // `on_control` answers with the lead's history too.
            Request::Screen(a) => Reply::Screen(self.screen_now(&a)?.map(|(_, v)| v)),
            Request::Live(a) => Reply::Live(Box::new(self.live_snapshot(a.as_ref()))),
            Request::Agents => Reply::Agents(b.agent_views(now)),
            Request::Campaigns => Reply::Campaigns(self.campaign_statuses()),
            Request::Campaign { name, control, by } => {
                b.control(&name, control)?;
                let done = match control {
                    CampaignControl::Running => "started",
                    CampaignControl::Paused => "paused",
                    CampaignControl::Stopped => "stopped",
                };
                let message = format!("campaign {name} {done} by {by} (API)");
                let data = serde_json::json!({
                    "by": by,
                    "via": "api",
                    "control": control.as_str(),
                });
                self.audit("campaign_control", Some(&name), message, data);
                Reply::Done
            }
        })
    }

    /// Queue an operator's action for the audit trail (the next pump hands it to the store
    /// writer; nothing waits on the store).
    /// A registered phone's last binding is gone: its agent's leg goes with it, and the agent
    /// is logged out now (not when the BYE to a phone that may be gone times out), saying why.
    fn on_registration(&mut self, now: Instant, ev: RegistrarEvent) {
        let RegistrarEvent::Unbound {
            user,
            agent,
            why,
            last: true,
            ..
        } = ev
        else {
            return;
        };
        let agent = AgentId::from(agent);
        let Some(leg) = self.agent_legs.get_mut(&agent) else {
            return;
        };
        if let Some(h) = leg.hangup.take() {
            let _ = h.send(());
        }
        let why = match why {
            Gone::Expired => "expired (the phone stopped refreshing it)",
            Gone::Unregistered => "was removed by the phone (unregistered)",
        };
        let message = format!(
            "agent {agent} logged out: the registration of SIP user {user} {why}, so the \
             agent's phone cannot be reached"
        );
        let data = serde_json::json!({ "agent": agent, "via": "registrar", "sip_user": user });
        self.audit("agent_logout", None, message, data);
        self.board.handle(now, Input::AgentLegDown { agent });
    }

    pub(super) fn audit(
        &mut self,
        kind: &str,
        campaign: Option<&str>,
        message: String,
        data: serde_json::Value,
    ) {
        tracing::info!(kind, "{message}");
        self.audits.push(AuditEvent {
            at_ms: self.clock.ms(Instant::now()),
            campaign_id: campaign
                .and_then(|c| self.schedulers.get(c))
                .map(Scheduler::campaign_id),
            kind: kind.to_owned(),
            message,
            data: Some(data.to_string()),
            ..AuditEvent::default()
        });
    }

    pub(super) fn on_event(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::Registration(ev) => self.on_registration(now, ev),
            Event::Sip { call, event } => match event {
                CallEvent::Progress { status } => {
                    if status == 180 || status == 183 {
                        self.board.handle(now, Input::Ringing { call });
                    }
                }
                CallEvent::Answered { answer, .. } => {
                    if let Some(io) = self.calls.get(&call) {
                        set_remote(&self.media, io.leg, &answer);
                    }
                    self.board.handle(now, Input::Answered { call });
                }
                CallEvent::Hold { .. } => {}
                CallEvent::Ended(report) => {
                    if let Some(io) = self.calls.remove(&call) {
                        self.media.close_leg(io.leg);
                    }
                    self.board.handle(
                        now,
                        Input::CallEnded {
                            call,
                            outcome: report.outcome,
                            sip_status: report.sip_status,
                        },
                    );
                }
            },
            Event::DialFailed { call, reason } => {
                tracing::warn!(call = call.get(), %reason, "dial failed");
                if let Some(io) = self.calls.remove(&call) {
                    self.media.close_leg(io.leg);
                }
                self.board.handle(
                    now,
                    Input::CallEnded {
                        call,
                        outcome: Outcome::Failed,
                        sip_status: None,
                    },
                );
            }
            Event::Media { call, event } => {
                if let media::LegEvent::Media(e) = event {
                    match e {
                        // A prompt stopped on purpose (a key answered the question) is not an end.
                        media::Event::PromptFinished {
                            completed: true, ..
                        } => self.board.handle(now, Input::PromptFinished { call }),
                        media::Event::PromptFinished { .. } => {}
                        media::Event::Dtmf(d) => self.board.handle(
                            now,
                            Input::Dtmf {
                                call,
                                digit: d.digit,
                            },
                        ),
                        media::Event::Inactive => {
                            self.board.handle(now, Input::MediaTimeout { call })
                        }
                        media::Event::Latched(_) => {}
                    }
                }
            }
            Event::SpeechStarted { call, at } => {
                self.board.handle(now, Input::SpeechStarted { call, at })
            }
            Event::Amd {
                call,
                result,
                cause,
                speech_end,
            } => {
                metrics::counter!("dialer_amd_results_total", "result" => result.as_str())
                    .increment(1);
                self.board.handle(
                    now,
                    Input::Amd {
                        call,
                        result,
                        cause,
                        speech_end,
                    },
                )
            }
            Event::Beep { call } => self.board.handle(now, Input::Beep { call }),
            Event::AgentSip { agent, event } => match event {
                CallEvent::Answered { answer, .. } => {
                    if let Some(leg) = self.agent_legs.get(&agent) {
                        set_remote(&self.media, leg.leg, &answer);
                    }
                    tracing::info!(%agent, "agent leg up");
                    self.board.handle(now, Input::AgentLegUp { agent });
                }
                CallEvent::Ended(report) => {
                    tracing::info!(%agent, outcome = %report.outcome, "agent leg down");
                    if let Some(leg) = self.agent_legs.remove(&agent) {
                        self.media.close_leg(leg.leg);
                    }
                    self.board.handle(now, Input::AgentLegDown { agent });
                }
                CallEvent::Progress { .. } | CallEvent::Hold { .. } => {}
            },
            Event::AgentFailed { agent, reason } => {
                tracing::warn!(%agent, %reason, "agent leg failed");
                if let Some(leg) = self.agent_legs.remove(&agent) {
                    self.media.close_leg(leg.leg);
                }
                self.board.handle(now, Input::AgentLegDown { agent });
            }
            Event::AgentPageUp { agent, remote } => {
                if let Some(leg) = self.agent_legs.get(&agent) {
                    set_remote(&self.media, leg.leg, &remote);
                }
                tracing::info!(%agent, "agent leg up (the desktop page's phone)");
                self.board.handle(now, Input::AgentLegUp { agent });
            }
            Event::AgentPageLost { agent, why, by_us } => {
                if let Some(leg) = self.agent_legs.remove(&agent) {
                    self.media.close_leg(leg.leg);
                }
                if by_us {
                    tracing::info!(%agent, "agent leg down (hung up)");
                    self.board.handle(now, Input::AgentLegDown { agent });
                } else {
                    tracing::warn!(%agent, %why, "agent leg lost: the desktop page's phone is gone; waiting for it");
                    metrics::counter!("dialer_webrtc_legs_lost_total").increment(1);
                    self.board.handle(now, Input::AgentLegLost { agent });
                }
            }
            Event::AgentMedia { agent, event } => {
                if let media::LegEvent::Media(media::Event::Inactive) = event
                    && let Some(leg) = self.agent_legs.get_mut(&agent)
                    && let Some(h) = leg.hangup.take()
                {
                    tracing::warn!(%agent, "agent leg silent: hanging up");
                    let _ = h.send(());
                }
            }
            Event::Leads { campaign, leads } => {
                self.lists.claimed(&campaign);
                self.board.handle(now, Input::Leads { campaign, leads })
            }
            Event::ClaimDone { campaign, empty } => {
                if empty {
                    self.check_leads(&campaign);
                }
                self.board.handle(now, Input::ClaimDone { campaign })
            }
            Event::Reloaded { results, by, done } => self.reloaded(results, by, done),
            Event::WindowRead {
                campaign,
                stored,
                before,
                previous_day,
            } => self.window_read(campaign, stored, before, previous_day),
            Event::ListsLoaded(loaded) => {
                if let Some(c) = self.lists.finish(*loaded, now) {
                    self.load_lists(c);
                }
            }
            Event::LeadsChecked { campaign, check } => self.lists.finish_check(&campaign, check),
            Event::Rechecked { lead_id, refusal } => {
                if let Some(r) = &refusal {
                    tracing::info!(lead_id, refusal = %r, "previewed lead no longer dialable");
                }
                self.board
                    .handle(now, Input::Rechecked { lead_id, refusal })
            }
            Event::History { lead_id, history } => self.history_loaded(lead_id, history),
        }
    }

    /// Hand a message to the store writer. Bounded: a store that cannot keep up holds the
    /// switchboard here (until a stop's deadline: then the message is lost, logged and counted).
    pub(super) async fn send_to_writer(&mut self, msg: Msg) {
        let send = self.writer.send(msg);
        let sent = match self.stop_by {
            Some(t) => tokio::time::timeout_at(t.into(), send)
                .await
                .unwrap_or_else(|_elapsed| {
                    tracing::error!(
                        "not stored: the store writer's queue stayed full past the stop's deadline"
                    );
                    metrics::counter!("dialer_store_records_lost_total").increment(1);
                    Ok(())
                }),
            None => send.await,
        };
        if sent.is_err() {
            tracing::error!("store writer is gone");
        }
    }

    /// Carry out everything the switchboard asked for.
    pub(super) async fn pump(&mut self) {
        for event in std::mem::take(&mut self.audits) {
            self.send_to_writer(Msg::Audit(Box::new(event))).await;
        }
        while let Some(out) = self.board.poll_output() {
            self.live.dirty = true;
            if let Output::Dial(d) = &out
                && matches!(self.legs.get(&d.call), Some(Err(_)))
                && let Some(Err(err)) = self.legs.remove(&d.call)
            {
                self.dial_failed_locally(d.call, &err);
                continue;
            }
            self.observer.output(Instant::now(), &out);
            match out {
                Output::Claim { campaign, n, .. } => self.claim(campaign, n),
                Output::Recheck { campaign, lead_id } => self.recheck(campaign, lead_id),
                Output::Release { lead_id } => {
                    let store = self.store.clone();
                    let owner = self.options.owner.clone();
                    tokio::spawn(async move {
                        if let Err(err) = store.release_lead(lead_id, &owner).await {
                            tracing::warn!(%err, lead_id, "cannot release lead");
                        }
                    });
                }
                Output::Record(mut record) => {
                    if let Record::AttemptStarted { call, .. } = &record {
                        // What the dial needs here first: a dial that cannot leave is no
                        // attempt against its lead, so its row is not written.
                        let leg = self.media.open_leg();
                        let failed = leg.is_err();
                        self.legs.insert(*call, leg);
                        if failed {
                            continue;
                        }
                    }
                    let reply = match &mut record {
                        Record::AttemptStarted {
                            call, sip_call_id, ..
                        } => {
                            // The Call-ID goes into the attempt's row, which the INVITE waits
                            // for: ops find the call in the carrier's CDRs and captures by it.
                            let id = self.sip.new_call_id();
                            *sip_call_id = Some(id.clone());
                            let (tx, rx) = oneshot::channel();
                            self.rows.insert(*call, (rx, id));
                            Some(tx)
                        }
                        _ => None,
                    };
                    self.send_to_writer(Msg::Record(Box::new(record), reply))
                        .await;
                }
                Output::Dial(d) => self.dial(d),
                Output::HangUp { call } => {
                    if let Some(h) = self.calls.get_mut(&call).and_then(|io| io.hangup.take()) {
                        let _ = h.send(());
                    }
                }
                Output::StartAmd { call } => self.start_amd(call),
                Output::Play { call, file } => {
                    let Some(leg) = self.calls.get(&call).map(|io| io.leg) else {
                        continue;
                    };
                    match self.prompt(&file) {
                        Ok(pcm) => {
                            if let Err(err) = self.media.play(leg, pcm) {
                                tracing::warn!(%err, "cannot play prompt");
                                self.board
                                    .handle(Instant::now(), Input::PromptFailed { call });
                            }
                        }
                        Err(err) => {
                            tracing::error!(file = %file.display(), %err, "cannot load prompt");
                            self.board
                                .handle(Instant::now(), Input::PromptFailed { call });
                        }
                    }
                }
                Output::StopPrompt { call } => {
                    if let Some(io) = self.calls.get(&call) {
                        let _ = self.media.stop_prompts(io.leg);
                    }
                }
                Output::Bridge {
                    call,
                    agent,
                    record,
                } => {
                    let (Some(io), Some(leg)) =
                        (self.calls.get(&call), self.agent_legs.get(&agent))
                    else {
                        tracing::warn!(call = call.get(), %agent, "bridge without both legs");
                        continue;
                    };
                    let path = record.then(|| recording_path(&self.recordings, &self.clock, call));
                    if let Err(err) = self.media.bridge(io.leg, leg.leg, path.as_deref()) {
                        tracing::error!(%err, call = call.get(), %agent, "bridge failed");
                        continue;
                    }
                    metrics::counter!("dialer_bridged_calls_total").increment(1);
                    if let Some(p) = path {
                        let _ = self.writer.try_send(Msg::CallInfo {
                            call,
                            recording: Some(p.display().to_string()),
                        });
                    }
                }
                Output::Unbridge { call } => {
                    if let Some(io) = self.calls.get(&call) {
                        self.media.unbridge(io.leg);
                    }
                }
                Output::DialAgent { agent } => self.dial_agent(agent),
                // Counted by the observer above.
                Output::Abandoned { .. } => {}
                Output::HangUpAgent { agent } => {
                    if let Some(h) = self
                        .agent_legs
                        .get_mut(&agent)
                        .and_then(|l| l.hangup.take())
                    {
                        let _ = h.send(());
                    }
                }
            }
        }
    }
}
