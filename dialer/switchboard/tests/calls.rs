//! Calls: progressive bridging, recorded steps, abandons and the connect limit, outcomes and
//! their retries, machines and voicemail.

use super::*;

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
            outcome: Outcome::Answered,
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
    assert_eq!(e[0].0.outcome, Outcome::Human);
    assert_eq!(e[0].0.agent.as_deref(), Some(agent.as_str()));
    assert_eq!(
        e[0].1.status,
        LeadStatus::Active,
        "waits for the agent's disposition"
    );
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
    assert_eq!(disp, Some(("appointment".into(), LeadStatus::Done, 1)));
    let v = core.agent_views(t0 + ms(100_000));
    assert_eq!(
        v.iter().find(|v| v.id == agent).unwrap().state,
        State::Ready
    );
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
    // The end carries everything: no step with it (the hang-up comes after the opt-out key's
    // wait).
    core.handle(deadline + ms(9000), Input::PromptFinished { call: second });
    assert_eq!(steps(&drain(&mut core)), vec![]);
    core.handle_timeout(deadline + ms(10_000));
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
            outcome: Outcome::Busy,
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
            outcome: Outcome::Busy,
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
    // The opt-out key is taken for `dnc.opt_out_wait` (1 s) after the message; then the hang-up.
    assert!(!drain(&mut core).contains(&Output::HangUp { call: d[0].call }));
    assert_eq!(core.poll_timeout(), Some(deadline + ms(10_000)));
    core.handle_timeout(deadline + ms(10_000));
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
    core.upsert_campaign(
        reloaded,
        CampaignId::new(7),
        pacing::WindowCounts::default(),
    );
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
    core.upsert_campaign(other_window, CampaignId::new(7), history);
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

#[test]
fn busy_is_retried_after_the_campaigns_delay() {
    let t0 = Instant::now();
    let c = campaign(|_| {});
    let busy_delay = c.retry.delay_for(Outcome::Busy).unwrap();
    let mut core = board(t0, &["ann"], c);
    let d = dial_n(&mut core, t0, 1, 1);
    core.handle(
        t0 + ms(3000),
        Input::CallEnded {
            call: d[0].call,
            outcome: Outcome::Busy,
            sip_status: Some(486),
        },
    );
    let e = ended(&drain(&mut core));
    assert_eq!(e[0].0.outcome, Outcome::Busy);
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
            outcome: Outcome::InvalidNumber,
            sip_status: Some(404),
        },
    );
    assert_eq!(ended(&drain(&mut core))[0].1.status, LeadStatus::Invalid);
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
    assert_eq!(e[0].0.outcome, Outcome::Machine);
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

/// A browser page lost mid-call: the customer is hung up on as when a phone hangs up, and the
/// agent is `connecting` (her leg asked for anew), not logged out; the leg back, she is ready.
#[test]
fn a_lost_page_mid_call_hangs_up_the_customer_and_the_agent_is_connecting() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let d = dial_n(&mut core, t0, 1, 1);
    human(&mut core, t0, d[0].call);
    core.handle(
        t0 + ms(20_000),
        Input::AgentLegLost {
            agent: "ann".into(),
        },
    );
    let out = drain(&mut core);
    assert!(out.contains(&Output::HangUp { call: d[0].call }), "{out:?}");
    assert_eq!(ended(&out).len(), 1);
    assert!(
        out.contains(&Output::DialAgent {
            agent: "ann".into()
        }),
        "{out:?}"
    );
    let v = core.agent_views(t0 + ms(20_000));
    assert_eq!(v[0].state, State::Connecting);
    core.handle(
        t0 + ms(23_000),
        Input::AgentLegUp {
            agent: "ann".into(),
        },
    );
    drain(&mut core);
    let v = core.agent_views(t0 + ms(23_000));
    assert_eq!(v[0].state, State::Ready);
}

#[test]
fn the_opt_out_key_during_safe_harbor_is_recorded_and_confirmed_and_the_lead_is_dnc() {
    let t0 = Instant::now();
    let confirm = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/audio/opt_out_confirm.wav");
    let c = campaign(|c| {
        c.dnc.opt_out.scope = crate::campaign::OptOutScope::Global;
        c.dnc.opt_out.confirm = Some(crate::campaign::Prompt::Wav(confirm.clone()));
    });
    let mut core = board(t0, &["ann"], c);
    let d = dial_n(&mut core, t0, 1, 1);
    let call = d[0].call;
    core.agent_pause(t0 + ms(1000), "ann", "break").unwrap();
    human(&mut core, t0, call);
    let deadline = t0 + ms(5800 + 2000) - CONNECT_LATENCY;
    core.handle_timeout(deadline);
    drain(&mut core);
    core.handle(deadline + ms(3000), Input::Dtmf { call, digit: '9' });
    let out = drain(&mut core);
    let opt_outs: Vec<&Record> = out
        .iter()
        .filter_map(|o| match o {
            Output::Record(r @ Record::OptOut { .. }) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(
        opt_outs,
        [&Record::OptOut {
            call,
            campaign_id: CampaignId::new(7),
            lead_id: d[0].lead.id,
            key: '9',
            message: "safe_harbor",
            global: true,
            at: deadline + ms(3000),
        }],
        "{out:?}"
    );
    assert!(out.contains(&Output::StopPrompt { call }), "{out:?}");
    assert!(
        out.contains(&Output::Play {
            call,
            file: confirm
        }),
        "{out:?}"
    );
    core.handle(deadline + ms(8000), Input::PromptFinished { call });
    let out = drain(&mut core);
    assert!(out.contains(&Output::HangUp { call }));
    let e = ended(&out);
    assert_eq!(e[0].1.status, LeadStatus::Dnc);
    assert_eq!((e[0].1.retry_after, e[0].1.callback_after), (None, None));
}
