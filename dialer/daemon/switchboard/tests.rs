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

fn human(core: &mut Switchboard, now: Instant, call: CallKey) -> Vec<Output> {
    core.handle(now, Input::Ringing { call });
    core.handle(now + ms(5000), Input::Answered { call });
    core.handle(
        now + ms(6200),
        Input::Amd {
            call,
            result: AmdResult::Human,
            cause: "short-greeting".into(),
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
    let t0 = Instant::now();
    let c = campaign(|c| c.dialing.max_concurrent = 1);
    let mut core = board(t0, &["ann", "bob", "cat"], c);
    let d = dial_n(&mut core, t0, 1, 1);
    assert_eq!(d.len(), 1);
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
    let decided = t0 + ms(6200);
    assert_eq!(core.poll_timeout(), Some(decided + ms(2000)));
    core.handle_timeout(decided + ms(2000));
    let out = drain(&mut core);
    let safe_harbor = core_campaign_file();
    assert!(out.contains(&Output::Play {
        call: d[0].call,
        file: safe_harbor
    }));
    core.handle(
        decided + ms(9000),
        Input::PromptFinished { call: d[0].call },
    );
    let out = drain(&mut core);
    assert!(out.contains(&Output::HangUp { call: d[0].call }));
    let e = ended(&out);
    assert_eq!(
        (e[0].0.outcome.as_str(), e[0].0.abandoned),
        ("abandoned", true)
    );
    assert_eq!(e[0].0.message_at, Some(decided + ms(2000)));
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
