use std::path::Path;

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn campaign(edit: impl FnOnce(&mut Campaign)) -> Arc<Campaign> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/warm_followup.toml");
    let mut c = crate::campaign::load(&path).expect("example campaign loads");
    edit(&mut c);
    Arc::new(c)
}

fn board(t0: Instant, agents: &[&str], c: Arc<Campaign>) -> Switchboard {
    let mut core = Switchboard::new(
        t0,
        agents
            .iter()
            .map(|a| (a.to_string(), vec!["followup".to_string()])),
        [(
            "main".to_string(),
            TrunkLimits {
                max_channels: 60,
                calls_per_second: 10.0,
            },
        )],
        Some(Duration::from_secs(120)),
    );
    core.upsert_campaign(c, 7, pacing::WindowCounts::default());
    for a in agents {
        core.agent_login(t0, a).unwrap();
        core.handle(
            t0,
            Input::AgentLegUp {
                agent: a.to_string(),
            },
        );
    }
    drain(&mut core);
    core
}

fn drain(core: &mut Switchboard) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn lead(id: i64) -> Lead {
    Lead {
        id,
        phone: format!("+1202555{id:04}"),
        timezone: None,
        attributes: "{}".into(),
        attempts: 0,
    }
}

fn dials(out: &[Output]) -> Vec<Dial> {
    out.iter()
        .filter_map(|o| match o {
            Output::Dial(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

fn ended(out: &[Output]) -> Vec<(Summary, LeadEffect)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::AttemptEnded {
                summary, effect, ..
            }) => Some((summary.clone(), effect.clone())),
            _ => None,
        })
        .collect()
}

/// Tick, get the claim, hand over `n` leads, return the dials.
fn dial_n(core: &mut Switchboard, now: Instant, first_id: i64, n: usize) -> Vec<Dial> {
    core.handle(now, Input::Tick);
    let out = drain(core);
    let claim = out.iter().find_map(|o| match o {
        Output::Claim { campaign, n, .. } => Some((campaign.clone(), *n)),
        _ => None,
    });
    let (campaign, wanted) = claim.expect("a claim");
    assert!(wanted >= n, "wanted {wanted} leads, test gives {n}");
    core.handle(
        now,
        Input::Leads {
            campaign,
            leads: (0..n as i64).map(|i| lead(first_id + i)).collect(),
        },
    );
    let out = drain(core);
    let started = out
        .iter()
        .filter(|o| matches!(o, Output::Record(Record::AttemptStarted { .. })))
        .count();
    let d = dials(&out);
    assert_eq!(
        started,
        d.len(),
        "every dial is recorded before it is placed"
    );
    d
}

/// Rings, answered at 5 s, the person's "Hello?" ends at 5.8 s, AMD says human at 6.2 s.
fn human(core: &mut Switchboard, now: Instant, call: CallKey) -> Vec<Output> {
    core.handle(now, Input::Ringing { call });
    core.handle(now + ms(5000), Input::Answered { call });
    core.handle(
        now + ms(5400),
        Input::SpeechStarted {
            call,
            at: now + ms(5300),
        },
    );
    core.handle(
        now + ms(6200),
        Input::Amd {
            call,
            result: AmdResult::Human,
            cause: "short-greeting".into(),
            speech_end: Some(now + ms(5800)),
        },
    );
    drain(core)
}

#[test]
fn progressive_dials_one_call_per_ready_agent_and_bridges_people() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann", "bob"], campaign(|_| {}));
    let d = dial_n(&mut core, t0, 1, 2);
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].trunk, "main");
    assert_eq!(d[0].caller_id, "+12025550143");
    assert_eq!(d[0].ring_timeout, Duration::from_secs(30));
    // Calls in flight count against ready agents: no more dials.
    core.handle(t0 + ms(200), Input::Tick);
    assert!(dials(&drain(&mut core)).is_empty());

    let out = human(&mut core, t0, d[0].call);
    assert!(out.contains(&Output::StartAmd { call: d[0].call }));
    let bridge = out.iter().find_map(|o| match o {
        Output::Bridge { call, agent, .. } => Some((*call, agent.clone())),
        _ => None,
    });
    let (call, agent) = bridge.expect("bridged");
    assert_eq!(call, d[0].call);

    // The customer hangs up: unbridge, wrap-up, attempt stored as a conversation.
    core.handle(
        t0 + ms(90_000),
        Input::CallEnded {
            call,
            outcome: "answered".into(),
            sip_status: Some(200),
        },
    );
    let out = drain(&mut core);
    assert!(out.contains(&Output::Unbridge { call }));
    assert!(
        !out.contains(&Output::HangUp { call }),
        "SIP side already ended"
    );
    let e = ended(&out);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0.outcome, "human");
    assert_eq!(e[0].0.agent.as_deref(), Some(agent.as_str()));
    assert_eq!(e[0].1.status, "active", "waits for the agent's disposition");
    let views = core.agent_views(t0 + ms(90_000));
    let v = views.iter().find(|v| v.id == agent).unwrap();
    assert_eq!(v.state, State::WrapUp);
    // The screen pop stays during wrap-up, for the notes.
    let (campaign, lead) = core.agent_lead(t0 + ms(90_000), &agent).unwrap().unwrap();
    assert_eq!((campaign.as_str(), lead.id), ("warm-followup", 1));

    // Disposition: recorded with its effect, agent ready again.
    assert!(matches!(
        core.agent_disposition(t0 + ms(100_000), &agent, "bogus", None, None),
        Err(SwitchboardError::UnknownDisposition { .. })
    ));
    core.agent_disposition(
        t0 + ms(100_000),
        &agent,
        "appointment",
        Some("Tue 10:00".into()),
        None,
    )
    .unwrap();
    let out = drain(&mut core);
    let disp = out.iter().find_map(|o| match o {
        Output::Record(Record::Disposition {
            code,
            effect,
            lead_id,
            ..
        }) => Some((code.clone(), effect.status, *lead_id)),
        _ => None,
    });
    assert_eq!(disp, Some(("appointment".into(), "done", 1)));
    let v = core.agent_views(t0 + ms(100_000));
    assert_eq!(
        v.iter().find(|v| v.id == agent).unwrap().state,
        State::Ready
    );
}

/// The steps recorded as they happened ([`Record::AttemptProgress`]).
fn steps(out: &[Output]) -> Vec<(CallKey, Step)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::AttemptProgress { call, step }) => Some((*call, step.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn each_step_of_a_call_is_recorded_as_it_happens() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann", "bob"], campaign(|_| {}));
    let d = dial_n(&mut core, t0, 1, 2);
    let (first, second) = (d[0].call, d[1].call);
    // Ringing alone is not worth a write: it goes with the next step.
    core.handle(t0, Input::Ringing { call: first });
    assert_eq!(steps(&drain(&mut core)), vec![]);
    core.handle(t0 + ms(5000), Input::Answered { call: first });
    let s = steps(&drain(&mut core));
    assert_eq!(
        s,
        vec![(
            first,
            Step {
                ringing: Some(t0),
                answered: Some(t0 + ms(5000)),
                ..Step::default()
            }
        )]
    );
    // AMD says human, the person is a live answer and is bridged at once: one step.
    core.handle(
        t0 + ms(6200),
        Input::Amd {
            call: first,
            result: AmdResult::Human,
            cause: "short-greeting".into(),
            speech_end: Some(t0 + ms(5800)),
        },
    );
    let s = steps(&drain(&mut core));
    assert_eq!(s.len(), 1, "{s:?}");
    let (call, step) = &s[0];
    assert_eq!(*call, first);
    let agent = step.agent.clone().expect("an agent");
    assert_eq!(
        *step,
        Step {
            ringing: Some(t0),
            answered: Some(t0 + ms(5000)),
            amd: Some((AmdResult::Human, "short-greeting".into())),
            decided: Some(t0 + ms(6200)),
            connected: Some(t0 + ms(6200)),
            agent: Some(agent.clone()),
            live: true,
            abandoned: false,
            message_at: None,
        }
    );

    // The other agent pauses: the second person waits (a live answer), then is abandoned
    // and hears the message; each is a step.
    let other = if agent == "ann" { "bob" } else { "ann" };
    core.agent_pause(t0 + ms(1000), other, "break").unwrap();
    let s = steps(&human(&mut core, t0, second));
    let waiting = &s.last().expect("a step").1;
    assert!(waiting.live && !waiting.abandoned && waiting.agent.is_none());
    let deadline = t0 + ms(5800 + 2000) - CONNECT_LATENCY;
    core.handle_timeout(deadline);
    let s = steps(&drain(&mut core));
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].0, second);
    assert!(s[0].1.live && s[0].1.abandoned);
    assert_eq!(s[0].1.message_at, Some(deadline));
    // The end carries everything: no step with it.
    core.handle(deadline + ms(9000), Input::PromptFinished { call: second });
    let out = drain(&mut core);
    assert_eq!(steps(&out), vec![]);
    assert_eq!(ended(&out).len(), 1);
}

#[test]
fn nothing_is_dialed_without_a_logged_in_agent() {
    let t0 = Instant::now();
    let mut core = board(t0, &[], campaign(|_| {}));
    core.handle(t0, Input::Tick);
    let out = drain(&mut core);
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Claim { .. } | Output::Dial(_)))
    );
    // Leads arriving anyway are not dialed.
    core.handle(
        t0,
        Input::Leads {
            campaign: "warm-followup".into(),
            leads: vec![lead(1)],
        },
    );
    assert!(dials(&drain(&mut core)).is_empty());
}

#[test]
fn max_concurrent_caps_the_dials() {
    // Six ready agents and leads to spare: progressive would dial six at once, and the rate
    // limits would allow it; the campaign's max_concurrent of 2 is the only thing in the way.
    let t0 = Instant::now();
    let c = campaign(|c| {
        c.dialing.max_concurrent = 2;
        c.dialing.calls_per_second = 50.0;
    });
    let agents = ["ann", "bob", "cat", "dan", "eve", "fay"];
    let mut core = board(t0, &agents, c);
    let mut next_lead = 1;
    let mut in_flight: Vec<CallKey> = Vec::new();
    let mut most = 0;
    // Each tick: whatever is claimed, hand over that many leads and four more.
    let mut tick = |core: &mut Switchboard, now: Instant, in_flight: &mut Vec<CallKey>| {
        core.handle(now, Input::Tick);
        let out = drain(core);
        let mut placed = dials(&out);
        if let Some((campaign, n)) = out.iter().find_map(|o| match o {
            Output::Claim { campaign, n, .. } => Some((campaign.clone(), *n)),
            _ => None,
        }) {
            let leads = (next_lead..next_lead + n as i64 + 4).map(lead).collect();
            next_lead += n as i64 + 4;
            core.handle(now, Input::Leads { campaign, leads });
            placed.extend(dials(&drain(core)));
        }
        in_flight.extend(placed.iter().map(|d| d.call));
        placed.len()
    };
    // Two seconds of ticks with every call still ringing: two calls, never more.
    for i in 0..10 {
        tick(&mut core, t0 + ms(200 * i), &mut in_flight);
        most = most.max(in_flight.len());
    }
    assert_eq!(most, 2, "calls in flight at most: {in_flight:?}");
    // One ends (busy): its line is free, and exactly one more call takes it.
    let t1 = t0 + ms(2000);
    let done = in_flight.remove(0);
    core.handle(
        t1,
        Input::CallEnded {
            call: done,
            outcome: "busy".into(),
            sip_status: Some(486),
        },
    );
    drain(&mut core);
    let mut placed = 0;
    for i in 1..=10 {
        placed += tick(&mut core, t1 + ms(200 * i), &mut in_flight);
        assert!(in_flight.len() <= 2, "{in_flight:?}");
    }
    assert_eq!(placed, 1);
    assert_eq!(in_flight.len(), 2);
}

#[test]
fn a_local_dial_failure_gives_the_lead_back_and_pauses_dialing_until_resources_are_back() {
    // Two ready agents, two leads dialed; one fails here before its INVITE left.
    let t0 = Instant::now();
    let c = campaign(|c| c.dialing.calls_per_second = 50.0);
    let mut core = board(t0, &["ann", "bob"], c);
    let placed = dial_n(&mut core, t0, 1, 2);
    assert_eq!(placed.len(), 2);
    let failed = placed[0].clone();
    core.handle(t0 + ms(10), Input::DialFailedLocally { call: failed.call });
    let out = drain(&mut core);
    assert_eq!(
        out,
        vec![Output::Release {
            lead_id: failed.lead.id
        }],
        "the lead goes back unchanged; no attempt end is recorded"
    );
    assert!(core.local_fault());
    // The other call ends: its agent is free, but nothing is dialed or claimed while paused.
    core.handle(
        t0 + ms(20),
        Input::CallEnded {
            call: placed[1].call,
            outcome: "busy".into(),
            sip_status: Some(486),
        },
    );
    drain(&mut core);
    for i in 1..=10 {
        core.handle(t0 + ms(200 * i), Input::Tick);
        let out = drain(&mut core);
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::Dial(_) | Output::Claim { .. })),
            "dialed while paused: {out:?}"
        );
    }
    // Resources back: the next tick dials again, for both free agents.
    core.handle(t0 + ms(2100), Input::LocalResourcesBack);
    assert!(!core.local_fault());
    let again = dial_n(&mut core, t0 + ms(2200), 10, 2);
    assert_eq!(again.len(), 2, "both agents' lines are free again");
}

#[test]
fn a_person_with_no_agent_hears_safe_harbor_and_is_abandoned() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let d = dial_n(&mut core, t0, 1, 1);
    // Ann is taken away (paused) before the person answers.
    core.agent_pause(t0 + ms(1000), "ann", "break").unwrap();
    let out = human(&mut core, t0, d[0].call);
    assert!(!out.iter().any(|o| matches!(o, Output::Bridge { .. })));
    // The live answer counts as soon as the person is recognised, not at the call's end.
    let status = &core.campaign_status()[0];
    assert_eq!((status.live_answers, status.abandoned), (1, 0));
    // The limit counts from the end of the greeting (5.8 s), not from AMD's decision (6.2 s),
    // less what the shell takes to put the message's first packet on the wire.
    let deadline = t0 + ms(5800 + 2000) - CONNECT_LATENCY;
    assert_eq!(core.poll_timeout(), Some(deadline));
    core.handle_timeout(deadline);
    let out = drain(&mut core);
    let safe_harbor = core_campaign_file();
    assert!(out.contains(&Output::Play {
        call: d[0].call,
        file: safe_harbor
    }));
    // The abandon counts now, while the message plays (the API and /metrics show it), not
    // when the call ends.
    assert!(out.contains(&Output::Abandoned { call: d[0].call }));
    let status = &core.campaign_status()[0];
    assert_eq!((status.live_answers, status.abandoned), (1, 1));
    core.handle(
        deadline + ms(9000),
        Input::PromptFinished { call: d[0].call },
    );
    let out = drain(&mut core);
    assert!(out.contains(&Output::HangUp { call: d[0].call }));
    let e = ended(&out);
    assert_eq!(
        (e[0].0.outcome.as_str(), e[0].0.abandoned),
        ("abandoned", true)
    );
    assert_eq!(e[0].0.message_at, Some(deadline));
    // Not counted twice.
    assert!(!out.iter().any(|o| matches!(o, Output::Abandoned { .. })));
    let status = &core.campaign_status()[0];
    assert_eq!((status.live_answers, status.abandoned), (1, 1));

    // A reload of the same window keeps the counts (the store may not have the call yet) and
    // takes the new cap; another window starts from the store's counts.
    let reloaded = campaign(|c| c.abandon.cap = 0.02);
    core.upsert_campaign(reloaded, 7, pacing::WindowCounts::default());
    let status = &core.campaign_status()[0];
    assert_eq!(
        (status.live_answers, status.abandoned, status.abandon_cap),
        (1, 1, 0.02)
    );
    let other_window = campaign(|c| c.abandon.window = crate::campaign::AbandonWindow::CalendarDay);
    let history = pacing::WindowCounts {
        live_answers: 10,
        abandoned: 0,
        amd_machines: 0,
    };
    core.upsert_campaign(other_window, 7, history);
    let status = &core.campaign_status()[0];
    assert_eq!((status.live_answers, status.abandoned), (10, 0));
}

#[test]
fn the_uk_connect_limit_counts_from_the_start_of_speech() {
    let t0 = Instant::now();
    let uk = campaign(|c| c.regime = crate::campaign::Regime::Uk);
    let mut core = board(t0, &["ann"], uk);
    let d = dial_n(&mut core, t0, 1, 1);
    core.agent_pause(t0 + ms(1000), "ann", "break").unwrap();
    human(&mut core, t0, d[0].call);
    // Ofcom: with AMD, within 2 s of the called person starting to speak (5.3 s).
    let deadline = t0 + ms(5300 + 2000) - CONNECT_LATENCY;
    assert_eq!(core.poll_timeout(), Some(deadline));
    core.handle_timeout(deadline);
    let out = drain(&mut core);
    assert!(out.contains(&Output::Abandoned { call: d[0].call }));
    assert!(out.iter().any(|o| matches!(o, Output::Play { .. })));
}

fn core_campaign_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/audio/safe_harbor.wav")
}

#[test]
fn busy_is_retried_after_the_campaigns_delay() {
    let t0 = Instant::now();
    let c = campaign(|_| {});
    let busy_delay = c.retry.delay_for("busy").unwrap();
    let mut core = board(t0, &["ann"], c);
    let d = dial_n(&mut core, t0, 1, 1);
    core.handle(
        t0 + ms(3000),
        Input::CallEnded {
            call: d[0].call,
            outcome: "busy".into(),
            sip_status: Some(486),
        },
    );
    let e = ended(&drain(&mut core));
    assert_eq!(e[0].0.outcome, "busy");
    assert_eq!(e[0].0.sip_status, Some(486));
    assert_eq!(e[0].1.retry_after, Some(busy_delay));
    // The agent is free again: the next tick dials again.
    let d = dial_n(&mut core, t0 + ms(3500), 2, 1);
    assert_eq!(d.len(), 1);
}

#[test]
fn invalid_numbers_are_marked_invalid() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let d = dial_n(&mut core, t0, 1, 1);
    core.handle(
        t0 + ms(300),
        Input::CallEnded {
            call: d[0].call,
            outcome: "invalid_number".into(),
            sip_status: Some(404),
        },
    );
    assert_eq!(ended(&drain(&mut core))[0].1.status, "invalid");
}

#[test]
fn machine_gets_the_voicemail_after_the_beep() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let d = dial_n(&mut core, t0, 1, 1);
    let call = d[0].call;
    core.handle(t0 + ms(4000), Input::Answered { call });
    core.handle(
        t0 + ms(8000),
        Input::Amd {
            call,
            result: AmdResult::Machine,
            cause: "long-greeting".into(),
            speech_end: None,
        },
    );
    assert!(
        !drain(&mut core)
            .iter()
            .any(|o| matches!(o, Output::Play { .. }))
    );
    core.handle(t0 + ms(11_000), Input::Beep { call });
    let out = drain(&mut core);
    assert!(out.contains(&Output::Play {
        call,
        file: Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/audio/voicemail.wav")
    }));
    core.handle(t0 + ms(25_000), Input::PromptFinished { call });
    let out = drain(&mut core);
    assert!(out.contains(&Output::HangUp { call }));
    let e = ended(&out);
    assert!(e[0].0.voicemail_left);
    assert_eq!(e[0].0.outcome, "machine");
    assert_eq!(e[0].0.message_at, Some(t0 + ms(11_000)));
}

#[test]
fn agent_leg_dropping_mid_call_hangs_up_the_customer() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let d = dial_n(&mut core, t0, 1, 1);
    human(&mut core, t0, d[0].call);
    core.handle(
        t0 + ms(20_000),
        Input::AgentLegDown {
            agent: "ann".into(),
        },
    );
    let out = drain(&mut core);
    assert!(out.contains(&Output::HangUp { call: d[0].call }));
    assert_eq!(ended(&out).len(), 1);
    let v = core.agent_views(t0 + ms(20_000));
    assert_eq!(v[0].state, State::LoggedOut);
    // Logged out: nothing more is dialed.
    core.handle(t0 + ms(21_000), Input::Tick);
    assert!(
        !drain(&mut core)
            .iter()
            .any(|o| matches!(o, Output::Claim { .. }))
    );
}

#[test]
fn drain_and_stop_give_claimed_leads_back() {
    let t0 = Instant::now();
    let c = campaign(|c| c.dialing.max_concurrent = 1);
    let mut core = board(t0, &["ann", "bob"], c);
    core.handle(t0, Input::Tick);
    drain(&mut core);
    // Two leads for one free channel: one is dialed, one waits.
    core.handle(
        t0,
        Input::Leads {
            campaign: "warm-followup".into(),
            leads: vec![lead(1), lead(2)],
        },
    );
    assert_eq!(dials(&drain(&mut core)).len(), 1);
    core.drain();
    let out = drain(&mut core);
    assert_eq!(out, vec![Output::Release { lead_id: 2 }]);
    core.handle(t0 + ms(1000), Input::Tick);
    assert!(
        !drain(&mut core)
            .iter()
            .any(|o| matches!(o, Output::Claim { .. }))
    );
}

/// A bridged call that ended: its agent wraps up. Returns the call and the agent.
fn wrapping_up(core: &mut Switchboard, t0: Instant) -> (CallKey, AgentId) {
    let d = dial_n(core, t0, 1, 1);
    let out = human(core, t0, d[0].call);
    let agent = out
        .iter()
        .find_map(|o| match o {
            Output::Bridge { agent, .. } => Some(agent.clone()),
            _ => None,
        })
        .expect("bridged");
    core.handle(
        t0 + ms(60_000),
        Input::CallEnded {
            call: d[0].call,
            outcome: "answered".into(),
            sip_status: Some(200),
        },
    );
    drain(core);
    (d[0].call, agent)
}

#[test]
fn a_disposition_during_the_drain_ends_the_wrap_up_it_waits_for() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let (_, agent) = wrapping_up(&mut core, t0);
    core.drain();
    drain(&mut core);
    assert_eq!((core.live_calls(), core.wrap_ups(t0 + ms(61_000))), (0, 1));
    core.agent_disposition(t0 + ms(62_000), &agent, "appointment", None, None)
        .unwrap();
    let out = drain(&mut core);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Record(Record::Disposition { code, .. }) if code == "appointment"
    )));
    assert_eq!(core.wrap_ups(t0 + ms(62_000)), 0);
    // Nothing is left to cut.
    core.cut_wrap_ups(t0 + ms(63_000));
    assert!(drain(&mut core).is_empty());
}

#[test]
fn a_wrap_up_cut_short_releases_the_lead_with_the_calls_outcome() {
    let t0 = Instant::now();
    let c = campaign(|c| c.retry.delay.interrupted = Duration::from_secs(420));
    let mut core = board(t0, &["ann"], c);
    let (call, agent) = wrapping_up(&mut core, t0);
    core.drain();
    drain(&mut core);
    let cut = t0 + ms(90_000);
    core.cut_wrap_ups(cut);
    let out = drain(&mut core);
    let cuts: Vec<&Record> = out
        .iter()
        .filter_map(|o| match o {
            Output::Record(r @ Record::WrapUpCut { .. }) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(
        cuts,
        [&Record::WrapUpCut {
            campaign_id: 7,
            lead_id: 1,
            call,
            agent: agent.clone(),
            outcome: "human".into(),
            // A conversation has no retry delay of its own: the interrupted one, from the
            // call's end.
            effect: LeadEffect {
                status: "active",
                retry_after: Some(Duration::from_secs(420)),
                callback_after: None,
            },
            since: t0 + ms(60_000),
            at: cut,
        }]
    );
    // The wrap-up interval ends at the cut; the agent is out of wrap-up.
    let wrap = intervals(&out)
        .into_iter()
        .find(|i| i.state == State::WrapUp)
        .expect("wrap-up interval");
    assert_eq!((wrap.start, wrap.end), (t0 + ms(60_000), cut));
    assert_eq!(core.wrap_ups(cut), 0);
    assert_ne!(state(&core, cut, &agent), State::WrapUp);
    // No disposition can come for it any more.
    assert!(
        core.agent_disposition(cut, &agent, "appointment", None, None)
            .is_err()
    );
}

/// Ends an agent's wrap-up some way; returns when.
type EndWrapUp = fn(&mut Switchboard, Instant, &AgentId) -> Instant;

/// However a wrap-up ends without a disposition (the agent's leg drops, they log out, the
/// wrap-up limit passes), its lead is released with the call's outcome, not held for the hour a
/// disposition may take.
#[test]
fn a_wrap_up_ended_without_a_disposition_releases_the_lead() {
    let ends: [(&str, EndWrapUp); 3] = [
        ("leg down", |core, t0, agent| {
            let at = t0 + ms(61_000);
            core.handle(
                at,
                Input::AgentLegDown {
                    agent: agent.clone(),
                },
            );
            at
        }),
        ("logout", |core, t0, agent| {
            let at = t0 + ms(61_000);
            core.agent_logout(at, agent).unwrap();
            at
        }),
        ("wrap-up limit", |core, t0, _| {
            // The board's wrap-up limit is 120 s; the call ended at 60 s.
            let at = t0 + ms(180_000);
            core.handle_timeout(at);
            at
        }),
    ];
    for (how, end) in ends {
        let t0 = Instant::now();
        let c = campaign(|c| c.retry.delay.interrupted = Duration::from_secs(420));
        let mut core = board(t0, &["ann"], c);
        let (call, agent) = wrapping_up(&mut core, t0);
        let at = end(&mut core, t0, &agent);
        let cuts: Vec<Record> = drain(&mut core)
            .into_iter()
            .filter_map(|o| match o {
                Output::Record(r @ Record::WrapUpCut { .. }) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(
            cuts,
            [Record::WrapUpCut {
                campaign_id: 7,
                lead_id: 1,
                call,
                agent: agent.clone(),
                outcome: "human".into(),
                effect: LeadEffect {
                    status: "active",
                    retry_after: Some(Duration::from_secs(420)),
                    callback_after: None,
                },
                since: t0 + ms(60_000),
                at,
            }],
            "{how}"
        );
    }
}

/// A call still up at the drain's deadline is aborted and its wrap-up cut at the same instant
/// (a wrap-up with no duration, which leaves no interval): its lead is released all the same.
#[test]
fn a_call_aborted_at_the_deadline_has_its_wrap_up_cut_at_once() {
    let t0 = Instant::now();
    let c = campaign(|c| c.retry.delay.interrupted = Duration::from_secs(420));
    let mut core = board(t0, &["ann"], c);
    let d = dial_n(&mut core, t0, 1, 1);
    human(&mut core, t0, d[0].call);
    core.drain();
    drain(&mut core);
    let deadline = t0 + ms(30_000);
    core.abort_calls(deadline);
    core.cut_wrap_ups(deadline);
    let effects: Vec<LeadEffect> = drain(&mut core)
        .into_iter()
        .filter_map(|o| match o {
            Output::Record(Record::WrapUpCut {
                effect, since, at, ..
            }) => {
                assert_eq!((since, at), (deadline, deadline));
                Some(effect)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        effects,
        [LeadEffect {
            status: "active",
            retry_after: Some(Duration::from_secs(420)),
            callback_after: None,
        }]
    );
}

/// A disposition ends the wrap-up by itself: no cut follows it.
#[test]
fn a_disposed_wrap_up_is_not_cut() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let (_, agent) = wrapping_up(&mut core, t0);
    core.agent_disposition(t0 + ms(62_000), &agent, "appointment", None, None)
        .unwrap();
    core.agent_logout(t0 + ms(63_000), &agent).unwrap();
    core.handle_timeout(t0 + ms(200_000));
    assert!(
        !drain(&mut core)
            .iter()
            .any(|o| matches!(o, Output::Record(Record::WrapUpCut { .. })))
    );
}

#[test]
fn a_cut_wrap_up_whose_lead_spent_its_attempts_is_done() {
    let t0 = Instant::now();
    let c = campaign(|c| c.retry.max_attempts = 1);
    let mut core = board(t0, &["ann"], c);
    wrapping_up(&mut core, t0);
    core.cut_wrap_ups(t0 + ms(70_000));
    let effect = drain(&mut core).into_iter().find_map(|o| match o {
        Output::Record(Record::WrapUpCut { effect, .. }) => Some(effect),
        _ => None,
    });
    assert_eq!(
        effect,
        Some(LeadEffect {
            status: "done",
            retry_after: None,
            callback_after: None,
        })
    );
}

#[test]
fn stale_claimed_leads_are_given_back() {
    let t0 = Instant::now();
    let c = campaign(|c| c.dialing.max_concurrent = 1);
    let mut core = board(t0, &["ann", "bob"], c);
    core.handle(t0, Input::Tick);
    drain(&mut core);
    core.handle(
        t0,
        Input::Leads {
            campaign: "warm-followup".into(),
            leads: vec![lead(1), lead(2)],
        },
    );
    drain(&mut core);
    core.handle(t0 + LEAD_STALE + ms(1), Input::Tick);
    assert!(drain(&mut core).contains(&Output::Release { lead_id: 2 }));
}

#[test]
fn paused_campaign_does_not_dial() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    core.control("warm-followup", Control::Paused).unwrap();
    core.handle(t0, Input::Tick);
    assert!(
        !drain(&mut core)
            .iter()
            .any(|o| matches!(o, Output::Claim { .. }))
    );
    assert!(core.control("nope", Control::Running).is_err());
    core.control("warm-followup", Control::Running).unwrap();
    assert_eq!(dial_n(&mut core, t0 + ms(500), 1, 1).len(), 1);
}

#[test]
fn campaigns_sharing_an_agent_do_not_both_dial_for_it() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let other = campaign(|c| c.name = "second".into());
    core.upsert_campaign(other, 8, pacing::WindowCounts::default());
    // The first campaign dials for Ann.
    let d = dial_n(&mut core, t0, 1, 1);
    assert_eq!(d.len(), 1);
    // The second sees that call in flight for the same agent: no claim, no dial.
    core.handle(t0 + ms(200), Input::Tick);
    let out = drain(&mut core);
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Claim { .. } | Output::Dial(_))),
        "{out:?}"
    );
}

// ---- preview ----

fn example(file: &str, edit: impl FnOnce(&mut Campaign)) -> Arc<Campaign> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("campaigns")
        .join(file);
    let mut c = crate::campaign::load(&path).expect("example campaign loads");
    edit(&mut c);
    Arc::new(c)
}

/// The collections campaign (preview, AMD off) with store id 9.
fn collections(edit: impl FnOnce(&mut Campaign)) -> Arc<Campaign> {
    example("collections.toml", edit)
}

/// A board with `agents` (id, groups) logged in, each at its own instant, then `campaigns`
/// added (store ids 9, 10, …): nothing is claimed before the first tick.
fn preview_board(
    t0: Instant,
    agents: &[(&str, &[&str], Instant)],
    campaigns: Vec<Arc<Campaign>>,
) -> Switchboard {
    let mut core = Switchboard::new(
        t0,
        agents.iter().map(|(a, groups, _)| {
            (
                a.to_string(),
                groups.iter().map(|g| g.to_string()).collect(),
            )
        }),
        [(
            "main".to_string(),
            TrunkLimits {
                max_channels: 60,
                calls_per_second: 10.0,
            },
        )],
        Some(Duration::from_secs(120)),
    );
    for (a, _, at) in agents {
        core.agent_login(*at, a).unwrap();
        core.handle(
            *at,
            Input::AgentLegUp {
                agent: a.to_string(),
            },
        );
    }
    for (i, c) in campaigns.into_iter().enumerate() {
        core.upsert_campaign(c, 9 + i as i64, pacing::WindowCounts::default());
    }
    drain(&mut core);
    core
}

/// The claim among `out` for `campaign`: how many leads it asks for.
fn claim_of(out: &[Output], campaign: &str) -> Option<usize> {
    out.iter().find_map(|o| match o {
        Output::Claim { campaign: c, n, .. } if c == campaign => Some(*n),
        _ => None,
    })
}

fn state(core: &Switchboard, now: Instant, agent: &str) -> State {
    core.agent_views(now)
        .into_iter()
        .find(|v| v.id == agent)
        .unwrap()
        .state
}

fn previewed(core: &Switchboard, now: Instant, agent: &str) -> Option<(String, i64)> {
    core.agent_lead(now, agent)
        .unwrap()
        .map(|(campaign, lead)| (campaign, lead.id))
}

fn intervals(out: &[Output]) -> Vec<agents::Interval> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::Interval(i)) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn started(out: &[Output]) -> Vec<(CallKey, i64, Option<AgentId>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::AttemptStarted {
                call,
                lead_id,
                agent,
                ..
            }) => Some((*call, *lead_id, agent.clone())),
            _ => None,
        })
        .collect()
}

/// A preview board where Ann alone serves campaign `c` (collections).
fn ann_on_collections(t0: Instant, c: Arc<Campaign>) -> Switchboard {
    preview_board(t0, &[("ann", &["collections"], t0)], vec![c])
}

/// The first tick (collections claims its leads) and the store's answer with `ids`.
fn first_leads(core: &mut Switchboard, t0: Instant, ids: &[i64]) -> Vec<Output> {
    core.handle(t0, Input::Tick);
    drain(core);
    leads(core, t0, "collections", ids)
}

fn leads(core: &mut Switchboard, now: Instant, campaign: &str, ids: &[i64]) -> Vec<Output> {
    core.handle(
        now,
        Input::Leads {
            campaign: campaign.into(),
            leads: ids.iter().map(|i| lead(*i)).collect(),
        },
    );
    drain(core)
}

#[test]
fn preview_reserves_a_lead_the_agent_dials_and_only_that_agent_takes_the_call() {
    let t0 = Instant::now();
    let t1 = t0 + ms(2000);
    // Bob has waited longest; both serve collections.
    let mut core = preview_board(
        t0,
        &[
            ("bob", &["collections"], t0),
            ("ann", &["collections"], t0 + ms(1000)),
        ],
        vec![collections(|_| {})],
    );
    drain(&mut core);
    // The pacer places nothing; the switchboard claims a lead per ready agent and one spare.
    core.handle(t1, Input::Tick);
    let out = drain(&mut core);
    assert!(dials(&out).is_empty());
    assert_eq!(claim_of(&out, "collections"), Some(3));
    let status = &core.campaign_status()[0];
    assert_eq!(
        status.last_decision,
        "0 dials: preview: agents dial the leads they preview"
    );
    // The store had one lead: it goes to Bob, who waited longest; Ann waits for one.
    let out = leads(&mut core, t1, "collections", &[1]);
    assert!(dials(&out).is_empty());
    assert_eq!(claim_of(&out, "collections"), Some(2));
    core.handle(
        t1,
        Input::ClaimDone {
            campaign: "collections".into(),
        },
    );
    assert_eq!(state(&core, t1, "bob"), State::Preview);
    assert_eq!(state(&core, t1, "ann"), State::Ready);
    assert_eq!(previewed(&core, t1, "bob"), Some(("collections".into(), 1)));
    assert_eq!(previewed(&core, t1, "ann"), None);
    assert!(matches!(
        core.agent_dial(t1, "ann"),
        Err(SwitchboardError::NoPreview(_))
    ));

    // Bob dials after reading the account: the attempt names him.
    let t_dial = t1 + ms(20_000);
    core.agent_dial(t_dial, "bob").unwrap();
    let out = drain(&mut core);
    let d = dials(&out);
    assert_eq!((d.len(), d[0].lead.id), (1, 1));
    let call = d[0].call;
    assert_eq!(started(&out), vec![(call, 1, Some("bob".into()))]);
    let bob = core.agent_views(t_dial)[1].clone();
    assert_eq!((bob.state, bob.call), (State::Preview, Some(call)));
    // Dialed already: no second dial, no skip, no logout until it ends.
    assert!(matches!(
        core.agent_dial(t_dial, "bob"),
        Err(SwitchboardError::Agent(
            agents::AgentError::PreviewDialed { .. }
        ))
    ));
    assert!(core.agent_skip(t_dial, "bob").is_err());
    assert!(core.agent_logout(t_dial, "bob").is_err());
    // The pacer's snapshot of other campaigns does not count it as a call for their agents.
    core.handle(t_dial + ms(200), Input::Tick);
    drain(&mut core);

    // Answered (AMD off): bridged to Bob at once, although Ann is ready and free.
    let t_answer = t_dial + ms(6000);
    core.handle(t_dial + ms(1000), Input::Ringing { call });
    core.handle(t_answer, Input::Answered { call });
    let out = drain(&mut core);
    assert!(
        out.contains(&Output::Bridge {
            call,
            agent: "bob".into(),
            record: true
        }),
        "{out:?}"
    );
    assert_eq!(state(&core, t_answer, "bob"), State::OnCall);
    assert_eq!(state(&core, t_answer, "ann"), State::Ready);
    // Bob's preview time names the campaign and the call.
    let i = intervals(&out);
    let p = i.iter().find(|i| i.state == State::Preview).unwrap();
    assert_eq!(
        (p.agent.as_str(), p.campaign, p.call, p.start, p.end),
        ("bob", Some(9), Some(call), t1, t_answer)
    );

    core.handle(
        t_answer + ms(60_000),
        Input::CallEnded {
            call,
            outcome: "answered".into(),
            sip_status: Some(200),
        },
    );
    let out = drain(&mut core);
    let e = ended(&out);
    assert_eq!(e[0].0.outcome, "human");
    assert!(!e[0].0.abandoned);
    assert_eq!(e[0].0.agent.as_deref(), Some("bob"));
    assert_eq!(e[0].0.connected, Some(t_answer));
    assert_eq!(state(&core, t_answer + ms(60_000), "bob"), State::WrapUp);
    core.agent_disposition(t_answer + ms(70_000), "bob", "promise_to_pay", None, None)
        .unwrap();
    // Ready again: a lead is claimed for him.
    let out = drain(&mut core);
    assert_eq!(
        state(&core, t_answer + ms(70_000), "bob"),
        State::Ready,
        "{out:?}"
    );
}

#[test]
fn a_preview_call_ending_unanswered_frees_the_agent_for_the_next_lead() {
    let t0 = Instant::now();
    let mut core = preview_board(
        t0,
        &[("ann", &["collections"], t0), ("bob", &["other"], t0)],
        vec![collections(|_| {})],
    );
    first_leads(&mut core, t0, &[1, 2]);
    assert_eq!(previewed(&core, t0, "ann"), Some(("collections".into(), 1)));
    core.agent_dial(t0 + ms(3000), "ann").unwrap();
    let call = dials(&drain(&mut core))[0].call;
    // Busy: the attempt is stored with its retry; Ann previews the spare lead at once, with no
    // wrap-up and no ready time in between.
    let t_busy = t0 + ms(5000);
    core.handle(
        t_busy,
        Input::CallEnded {
            call,
            outcome: "busy".into(),
            sip_status: Some(486),
        },
    );
    let out = drain(&mut core);
    let e = ended(&out);
    assert_eq!(e[0].0.outcome, "busy");
    assert_eq!(e[0].0.agent, None);
    assert_eq!(e[0].1.retry_after, Some(Duration::from_secs(5 * 60)));
    assert_eq!(
        previewed(&core, t_busy, "ann"),
        Some(("collections".into(), 2))
    );
    let i = intervals(&out);
    assert_eq!(
        i.iter()
            .map(|i| (i.state, i.call, i.start, i.end))
            .collect::<Vec<_>>(),
        vec![(State::Preview, Some(call), t0, t_busy)]
    );
    // The spare is replaced.
    assert_eq!(claim_of(&out, "collections"), Some(1));

    // Ann dials the next one; her phone drops while it rings: the call is cancelled, nobody
    // else gets it, and the attempt still names her.
    core.agent_dial(t_busy + ms(1000), "ann").unwrap();
    let out = drain(&mut core);
    let call = dials(&out)[0].call;
    assert_eq!(started(&out)[0].2.as_deref(), Some("ann"));
    core.handle(
        t_busy + ms(2000),
        Input::AgentLegDown {
            agent: "ann".into(),
        },
    );
    let out = drain(&mut core);
    assert!(out.contains(&Output::HangUp { call }), "{out:?}");
    core.handle(
        t_busy + ms(2100),
        Input::CallEnded {
            call,
            outcome: "interrupted".into(),
            sip_status: None,
        },
    );
    let out = drain(&mut core);
    assert_eq!(ended(&out)[0].0.outcome, "interrupted");
    assert!(!out.iter().any(|o| matches!(o, Output::Bridge { .. })));
    assert_eq!(state(&core, t_busy + ms(2100), "ann"), State::LoggedOut);
}

#[test]
fn skipping_gives_the_lead_back_and_reserves_the_next_one() {
    let t0 = Instant::now();
    let mut core = ann_on_collections(t0, collections(|_| {}));
    first_leads(&mut core, t0, &[1, 2]);
    assert!(matches!(
        core.agent_skip(t0, "nobody"),
        Err(SwitchboardError::Agent(agents::AgentError::Unknown(_)))
    ));
    let t1 = t0 + ms(4000);
    core.agent_skip(t1, "ann").unwrap();
    let out = drain(&mut core);
    // Lead 1 goes back unchanged (no attempt), lead 2 is Ann's at once, a spare is claimed.
    assert!(out.contains(&Output::Release { lead_id: 1 }));
    assert!(started(&out).is_empty() && dials(&out).is_empty());
    assert_eq!(previewed(&core, t1, "ann"), Some(("collections".into(), 2)));
    assert_eq!(claim_of(&out, "collections"), Some(1));
    assert_eq!(
        intervals(&out)
            .iter()
            .map(|i| (i.state, i.campaign, i.start, i.end))
            .collect::<Vec<_>>(),
        vec![(State::Preview, Some(9), t0, t1)]
    );
    // The store hands lead 1 back as the spare: Ann skipped it, so after skipping lead 2 she
    // gets lead 3, and lead 1 waits for someone else.
    leads(&mut core, t1, "collections", &[1]);
    let t2 = t1 + ms(4000);
    core.agent_skip(t2, "ann").unwrap();
    let out = drain(&mut core);
    assert!(out.contains(&Output::Release { lead_id: 2 }));
    assert_eq!(state(&core, t2, "ann"), State::Ready);
    assert_eq!(claim_of(&out, "collections"), Some(2));
    leads(&mut core, t2, "collections", &[3]);
    assert_eq!(previewed(&core, t2, "ann"), Some(("collections".into(), 3)));
    // Skips are forgotten after a while: lead 1 (given back when it went stale in hand) may be
    // hers again; lead 3, skipped now, may not.
    let t3 = t2 + SKIP_MEMORY + ms(1);
    core.handle(t3, Input::Tick);
    assert!(drain(&mut core).contains(&Output::Release { lead_id: 1 }));
    core.agent_skip(t3, "ann").unwrap();
    drain(&mut core);
    leads(&mut core, t3, "collections", &[3, 1]);
    assert_eq!(previewed(&core, t3, "ann"), Some(("collections".into(), 1)));
}

#[test]
fn the_preview_timeout_dials_for_the_agent() {
    let t0 = Instant::now();
    let c = collections(|c| c.dialing.preview_timeout = Some(Duration::from_secs(30)));
    let mut core = ann_on_collections(t0, c);
    core.handle(t0, Input::Tick);
    drain(&mut core);
    let t1 = t0 + ms(500);
    leads(&mut core, t1, "collections", &[1, 2]);
    assert_eq!(core.poll_timeout(), Some(t1 + ms(30_000)));
    core.handle_timeout(t1 + ms(29_999));
    assert!(dials(&drain(&mut core)).is_empty());
    core.handle_timeout(t1 + ms(30_000));
    let out = drain(&mut core);
    let d = dials(&out);
    assert_eq!((d.len(), d[0].lead.id), (1, 1), "{out:?}");
    assert_eq!(started(&out)[0].2.as_deref(), Some("ann"));
    // The dialed lead needs no recheck.
    assert!(!out.iter().any(|o| matches!(o, Output::Recheck { .. })));
    assert_eq!(state(&core, t1 + ms(30_000), "ann"), State::Preview);
}

#[test]
fn a_lead_previewed_for_a_while_is_checked_again() {
    let t0 = Instant::now();
    let mut core = ann_on_collections(t0, collections(|_| {}));
    first_leads(&mut core, t0, &[1, 2]);
    // No timeout: the agent takes as long as they need, the lead is checked every 30 s.
    assert_eq!(core.poll_timeout(), Some(t0 + LEAD_STALE));
    core.handle_timeout(t0 + LEAD_STALE);
    let out = drain(&mut core);
    assert!(out.contains(&Output::Recheck {
        campaign: "collections".into(),
        lead_id: 1
    }));
    // Still dialable (lease renewed): the next check is 30 s on.
    let t1 = t0 + LEAD_STALE + ms(40);
    core.handle(
        t1,
        Input::Rechecked {
            lead_id: 1,
            refusal: None,
        },
    );
    assert_eq!(core.poll_timeout(), Some(t1 + LEAD_STALE));
    assert_eq!(previewed(&core, t1, "ann"), Some(("collections".into(), 1)));
    // Then the lead's calling hours close: it is given back and Ann gets the next one.
    core.handle_timeout(t1 + LEAD_STALE);
    drain(&mut core);
    core.handle(
        t1 + LEAD_STALE,
        Input::Rechecked {
            lead_id: 1,
            refusal: Some("outside hours".into()),
        },
    );
    let out = drain(&mut core);
    assert!(out.contains(&Output::Release { lead_id: 1 }));
    assert_eq!(
        previewed(&core, t1 + LEAD_STALE, "ann"),
        Some(("collections".into(), 2))
    );
}

#[test]
fn logging_out_or_pausing_while_previewing_gives_the_lead_back() {
    let t0 = Instant::now();
    let mut core = preview_board(
        t0,
        &[("ann", &["collections"], t0), ("bob", &["collections"], t0)],
        vec![collections(|_| {})],
    );
    first_leads(&mut core, t0, &[1, 2, 3]);
    assert_eq!(previewed(&core, t0, "ann"), Some(("collections".into(), 1)));
    assert_eq!(previewed(&core, t0, "bob"), Some(("collections".into(), 2)));
    let t1 = t0 + ms(8000);
    core.agent_logout(t1, "ann").unwrap();
    let out = drain(&mut core);
    assert!(out.contains(&Output::Release { lead_id: 1 }));
    assert!(out.contains(&Output::HangUpAgent {
        agent: "ann".into()
    }));
    assert_eq!(state(&core, t1, "ann"), State::LoggedOut);
    let i = intervals(&out);
    assert_eq!(
        (i[0].state, i[0].campaign, i[0].start, i[0].end),
        (State::Preview, Some(9), t0, t1)
    );
    core.agent_pause(t1, "bob", "lunch").unwrap();
    let out = drain(&mut core);
    assert!(out.contains(&Output::Release { lead_id: 2 }));
    assert_eq!(state(&core, t1, "bob"), State::Paused);
    assert_eq!(previewed(&core, t1, "bob"), None);
    // Back from lunch: the spare lead at once.
    core.agent_ready(t1 + ms(1000), "bob").unwrap();
    assert_eq!(
        previewed(&core, t1 + ms(1000), "bob"),
        Some(("collections".into(), 3))
    );
    // Pausing the campaign gives its previews back; its agents are ready at the next tick.
    core.control("collections", Control::Paused).unwrap();
    let out = drain(&mut core);
    assert!(out.contains(&Output::Release { lead_id: 3 }));
    core.handle(t1 + ms(1200), Input::Tick);
    drain(&mut core);
    assert_eq!(state(&core, t1 + ms(1200), "bob"), State::Ready);
    assert!(matches!(
        core.agent_dial(t1 + ms(1200), "bob"),
        Err(SwitchboardError::NoPreview(_))
    ));
}

#[test]
fn a_previewing_agent_is_not_given_a_predictive_campaigns_call() {
    let t0 = Instant::now();
    let upsell = example("hot_upsell.toml", |_| {});
    let mut core = preview_board(
        t0,
        &[
            ("carol", &["collections", "accounts"], t0),
            ("dan", &["accounts"], t0 + ms(10)),
        ],
        vec![collections(|_| {}), upsell],
    );
    drain(&mut core);
    // Collections ticks first (name order): Carol previews. Hot-upsell paces for Dan alone.
    let t1 = t0 + ms(100);
    core.handle(t1, Input::Tick);
    let out = drain(&mut core);
    assert_eq!(claim_of(&out, "collections"), Some(2));
    // Carol is about to preview: hot-upsell claims for Dan only.
    assert_eq!(claim_of(&out, "hot-upsell"), Some(1), "{out:?}");
    let out = leads(&mut core, t1, "hot-upsell", &[101]);
    let d = dials(&out);
    assert_eq!(d.len(), 1, "{out:?}");
    leads(&mut core, t1, "collections", &[1, 2]);
    assert_eq!(state(&core, t1, "carol"), State::Preview);
    // Dan is taken away; the person who answers is not given to Carol: safe harbor.
    core.agent_pause(t1 + ms(500), "dan", "break").unwrap();
    let out = human(&mut core, t1, d[0].call);
    assert!(!out.iter().any(|o| matches!(o, Output::Bridge { .. })));
    core.handle_timeout(t1 + ms(6200) + ms(2000));
    let out = drain(&mut core);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Play { call, .. } if *call == d[0].call)),
        "{out:?}"
    );
    assert_eq!(state(&core, t1 + ms(8200), "carol"), State::Preview);
    assert_eq!(
        previewed(&core, t1 + ms(8200), "carol"),
        Some(("collections".into(), 1))
    );
}

#[test]
fn a_preview_dial_with_no_free_line_is_refused_and_the_timeout_tries_again() {
    let t0 = Instant::now();
    let c = collections(|c| {
        c.dialing.max_concurrent = 1;
        c.dialing.preview_timeout = Some(Duration::from_secs(30));
    });
    let mut core = preview_board(
        t0,
        &[("ann", &["collections"], t0), ("bob", &["collections"], t0)],
        vec![c],
    );
    first_leads(&mut core, t0, &[1, 2, 3]);
    core.agent_dial(t0 + ms(1000), "ann").unwrap();
    let call = dials(&drain(&mut core))[0].call;
    // The campaign's one line is Ann's: Bob's dial is refused, his preview kept.
    assert!(matches!(
        core.agent_dial(t0 + ms(2000), "bob"),
        Err(SwitchboardError::NoLine { .. })
    ));
    assert_eq!(
        previewed(&core, t0 + ms(2000), "bob"),
        Some(("collections".into(), 2))
    );
    // His timeout finds no line either: it tries again a second later, not in a loop.
    core.handle_timeout(t0 + ms(30_000));
    assert!(dials(&drain(&mut core)).is_empty());
    assert_eq!(core.poll_timeout(), Some(t0 + ms(31_000)));
    core.handle(
        t0 + ms(30_500),
        Input::CallEnded {
            call,
            outcome: "no_answer".into(),
            sip_status: Some(487),
        },
    );
    drain(&mut core);
    core.handle_timeout(t0 + ms(31_000));
    let d = dials(&drain(&mut core));
    assert_eq!((d.len(), d[0].lead.id), (1, 2));
}

#[test]
fn with_amd_a_machine_frees_the_preview_agent_and_a_person_is_bridged_to_her() {
    let t0 = Instant::now();
    // A preview campaign with AMD and voicemail drops.
    let c = example("warm_followup.toml", |c| {
        c.mode = crate::campaign::Mode::Preview
    });
    let mut core = preview_board(t0, &[("ann", &["followup"], t0)], vec![c]);
    core.handle(t0, Input::Tick);
    drain(&mut core);
    leads(&mut core, t0, "warm-followup", &[1, 2]);
    core.agent_dial(t0 + ms(1000), "ann").unwrap();
    let call = dials(&drain(&mut core))[0].call;
    core.handle(t0 + ms(4000), Input::Answered { call });
    assert!(drain(&mut core).contains(&Output::StartAmd { call }));
    core.handle(
        t0 + ms(8000),
        Input::Amd {
            call,
            result: AmdResult::Machine,
            cause: "long-greeting".into(),
            speech_end: None,
        },
    );
    drain(&mut core);
    // Ann previews the next lead while the machine gets its message; she is never bridged.
    assert_eq!(
        previewed(&core, t0 + ms(8000), "ann"),
        Some(("warm-followup".into(), 2))
    );
    core.handle(t0 + ms(10_000), Input::Beep { call });
    core.handle(t0 + ms(20_000), Input::PromptFinished { call });
    let out = drain(&mut core);
    assert!(!out.iter().any(|o| matches!(o, Output::Bridge { .. })));
    let e = ended(&out);
    assert_eq!(
        (e[0].0.outcome.as_str(), e[0].0.voicemail_left),
        ("machine", true)
    );
    assert_eq!(
        previewed(&core, t0 + ms(20_000), "ann"),
        Some(("warm-followup".into(), 2))
    ); // The next one is a person: bridged to her once AMD says so.
    core.agent_dial(t0 + ms(21_000), "ann").unwrap();
    let call = dials(&drain(&mut core))[0].call;
    let out = human(&mut core, t0 + ms(21_000), call);
    assert!(out.contains(&Output::Bridge {
        call,
        agent: "ann".into(),
        record: false
    }));
}

#[test]
fn predictive_sheds_calls_ringing_past_the_minimum_when_no_agent_will_be_free() {
    let t0 = Instant::now();
    let c = campaign(|c| {
        c.mode = Mode::Predictive;
        c.dialing.max_concurrent = 60;
        c.dialing.calls_per_second = 100.0;
    });
    let no_answer_delay = c.retry.delay_for("no_answer");
    let agents = ["a1", "a2", "a3", "a4", "a5", "a6"];
    let mut core = board(t0, &agents, c);
    core.handle(t0, Input::Tick);
    let wanted = claim_of(&drain(&mut core), "warm-followup").expect("a claim");
    assert!(wanted > agents.len(), "predictive dials ahead: {wanted}");
    let ids: Vec<i64> = (1..=wanted as i64).collect();
    let d = dials(&leads(&mut core, t0, "warm-followup", &ids));
    assert_eq!(d.len(), wanted);
    // Six people answer and take the six agents, who then talk for a while: the calls still
    // ringing would bring people nobody can take.
    for x in &d[..agents.len()] {
        human(&mut core, t0, x.call);
    }
    let hung_up = |out: &[Output]| -> Vec<CallKey> {
        out.iter()
            .filter_map(|o| match o {
                Output::HangUp { call } => Some(*call),
                _ => None,
            })
            .collect()
    };
    // Under 15 s of ringing nothing is hung up, however risky.
    for s in [7_000, 10_000, 14_900] {
        core.handle(t0 + ms(s), Input::Tick);
        let out = drain(&mut core);
        assert!(hung_up(&out).is_empty(), "at {s} ms: {out:?}");
    }
    core.handle(t0 + ms(15_000), Input::Tick);
    let shed = hung_up(&drain(&mut core));
    let ringing: Vec<CallKey> = d[agents.len()..].iter().map(|x| x.call).collect();
    assert!(!shed.is_empty());
    assert!(shed.iter().all(|c| ringing.contains(c)), "{shed:?}");
    // A call shed is not seen (nor shed) again.
    core.handle(t0 + ms(15_250), Input::Tick);
    let again = hung_up(&drain(&mut core));
    assert!(again.iter().all(|c| !shed.contains(c)), "{again:?}");
    // Our CANCEL ends it: stored as `shed`, retried like a no-answer.
    core.handle(
        t0 + ms(15_300),
        Input::CallEnded {
            call: shed[0],
            outcome: "interrupted".into(),
            sip_status: Some(487),
        },
    );
    let e = ended(&drain(&mut core));
    assert_eq!(e[0].0.outcome, "shed");
    assert_eq!(e[0].1.retry_after, no_answer_delay);
}

#[test]
fn an_answer_crossing_our_cancel_counts_as_an_abandoned_live_answer() {
    let t0 = Instant::now();
    let mut core = board(t0, &["a1"], campaign(|_| {}));
    core.handle(t0, Input::Tick);
    assert_eq!(claim_of(&drain(&mut core), "warm-followup"), Some(1));
    let d = dials(&leads(&mut core, t0, "warm-followup", &[1]));
    // The ring timeout's CANCEL crossed the far end's 200: the SIP layer ACKed and hung up at
    // once, so whoever answered was hung up on, unheard.
    core.handle(
        t0 + ms(25_000),
        Input::CallEnded {
            call: d[0].call,
            outcome: "no_answer".into(),
            sip_status: Some(200),
        },
    );
    let e = ended(&drain(&mut core));
    assert_eq!(
        (e[0].0.outcome.as_str(), e[0].0.abandoned, e[0].0.sip_status),
        ("abandoned", true, Some(200))
    );
    let status = &core.campaign_status()[0];
    assert_eq!((status.live_answers, status.abandoned), (1, 1));
}

/// Campaign "second" (store id 7, mode `mode`) dials for four agents and is paused (its own
/// pacer no longer runs); "warm-followup" (predictive, id 8) shares the agents, who all
/// pause. At 16 s of ringing warm-followup's pacer names every ringing call to shed: the calls
/// of "second" that are hung up.
fn shed_across_campaigns(mode: Mode) -> (Vec<CallKey>, Vec<CallKey>) {
    let t0 = Instant::now();
    let agents = ["a1", "a2", "a3", "a4"];
    let second = campaign(|c| {
        c.name = "second".into();
        c.mode = mode;
    });
    let mut core = board(t0, &agents, second);
    core.handle(t0, Input::Tick);
    let n = claim_of(&drain(&mut core), "second").expect("a claim");
    let ids: Vec<i64> = (1..=n as i64).collect();
    let mut placed: Vec<CallKey> = dials(&leads(&mut core, t0, "second", &ids))
        .iter()
        .map(|d| d.call)
        .collect();
    placed.sort_unstable();
    assert!(!placed.is_empty());
    core.control("second", Control::Paused).unwrap();
    core.upsert_campaign(
        campaign(|c| c.mode = Mode::Predictive),
        8,
        pacing::WindowCounts::default(),
    );
    for a in agents {
        core.agent_pause(t0 + ms(1000), a, "break").unwrap();
    }
    drain(&mut core);
    core.handle(t0 + ms(16_000), Input::Tick);
    let mut hung_up: Vec<CallKey> = drain(&mut core)
        .iter()
        .filter_map(|o| match o {
            Output::HangUp { call } => Some(*call),
            _ => None,
        })
        .collect();
    hung_up.sort_unstable();
    (placed, hung_up)
}

#[test]
fn another_campaigns_ringing_call_is_shed_only_under_its_own_rule() {
    // "second" sheds too (predictive, 15 s): its calls go, none of anyone else's.
    let (placed, hung_up) = shed_across_campaigns(Mode::Predictive);
    assert_eq!(hung_up, placed);
    // "second" never sheds (progressive): its calls ring on.
    let (placed, hung_up) = shed_across_campaigns(Mode::Progressive);
    assert!(!placed.is_empty() && hung_up.is_empty(), "{hung_up:?}");
}
