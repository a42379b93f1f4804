//! Preview campaigns: reserving, dialing, skipping, rechecking and timing out previews.

use super::*;

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

    // Answered (AMD off): the recording announcement first (the campaign records), then
    // bridged to Bob, although Ann is ready and free.
    let t_answer = t_dial + ms(6000);
    core.handle(t_dial + ms(1000), Input::Ringing { call });
    core.handle(t_answer, Input::Answered { call });
    let out = drain(&mut core);
    assert!(
        matches!(&out[..], [Output::Play { file, .. }, ..] if file.ends_with("recorded.wav")),
        "{out:?}"
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Bridge { .. })));
    let t_answer = t_answer + ms(4300);
    core.handle(t_answer, Input::PromptFinished { call });
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
        ("bob", Some(CampaignId::new(9)), Some(call), t1, t_answer)
    );

    core.handle(
        t_answer + ms(60_000),
        Input::CallEnded {
            call,
            outcome: Outcome::Answered,
            sip_status: Some(200),
        },
    );
    let out = drain(&mut core);
    let e = ended(&out);
    assert_eq!(e[0].0.outcome, Outcome::Human);
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
            outcome: Outcome::Busy,
            sip_status: Some(486),
        },
    );
    let out = drain(&mut core);
    let e = ended(&out);
    assert_eq!(e[0].0.outcome, Outcome::Busy);
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
            outcome: Outcome::Interrupted,
            sip_status: None,
        },
    );
    let out = drain(&mut core);
    assert_eq!(ended(&out)[0].0.outcome, Outcome::Interrupted);
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
        vec![(State::Preview, Some(CampaignId::new(9)), t0, t1)]
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
        (State::Preview, Some(CampaignId::new(9)), t0, t1)
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
    core.control("collections", CampaignControl::Paused)
        .unwrap();
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
    // The recording announcement plays; the agent must come within 2 s of its end.
    core.handle(t1 + ms(6200), Input::PromptFinished { call: d[0].call });
    drain(&mut core);
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
            outcome: Outcome::NoAnswer,
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
