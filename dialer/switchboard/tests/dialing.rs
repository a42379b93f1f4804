//! Dialing: stale leads, paused campaigns, agents shared between campaigns, shedding.

use super::*;

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
    core.control("warm-followup", CampaignControl::Paused)
        .unwrap();
    core.handle(t0, Input::Tick);
    assert!(
        !drain(&mut core)
            .iter()
            .any(|o| matches!(o, Output::Claim { .. }))
    );
    assert!(core.control("nope", CampaignControl::Running).is_err());
    core.control("warm-followup", CampaignControl::Running)
        .unwrap();
    assert_eq!(dial_n(&mut core, t0 + ms(500), 1, 1).len(), 1);
}

#[test]
fn campaigns_sharing_an_agent_do_not_both_dial_for_it() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let other = campaign(|c| c.name = "second".into());
    core.upsert_campaign(other, CampaignId::new(8), pacing::WindowCounts::default());
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

#[test]
fn predictive_sheds_calls_ringing_past_the_minimum_when_no_agent_will_be_free() {
    let t0 = Instant::now();
    let c = campaign(|c| {
        c.mode = Mode::Predictive;
        c.dialing.max_concurrent = 60;
        c.dialing.calls_per_second = 100.0;
        // Few people expected (even read with the priors' threefold caution of a fresh
        // campaign): it dials well ahead of its six agents.
        c.priors.hit_rate = 0.05;
    });
    let no_answer_delay = c.retry.delay_for(Outcome::NoAnswer);
    let agents = ["a1", "a2", "a3", "a4", "a5", "a6"];
    // A window with an abandon in hand (a fresh one dials no further ahead than its agents
    // until one abandon would keep it under its cap), and little more: its threshold stays low,
    // and so does the risk a ringing call must have to be shed.
    let history = pacing::WindowCounts {
        live_answers: 40,
        abandoned: 0,
        amd_machines: 0,
    };
    let mut core = board_with(t0, &agents, c, history);
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
            outcome: Outcome::Interrupted,
            sip_status: Some(487),
        },
    );
    let e = ended(&drain(&mut core));
    assert_eq!(e[0].0.outcome, Outcome::Shed);
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
            outcome: Outcome::NoAnswer,
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

#[test]
fn another_campaigns_ringing_call_is_shed_only_under_its_own_rule() {
    // "second" sheds too (predictive, 15 s): its calls go, none of anyone else's.
    let (placed, hung_up) = shed_across_campaigns(Mode::Predictive);
    assert_eq!(hung_up, placed);
    // "second" never sheds (progressive): its calls ring on.
    let (placed, hung_up) = shed_across_campaigns(Mode::Progressive);
    assert!(!placed.is_empty() && hung_up.is_empty(), "{hung_up:?}");
}
