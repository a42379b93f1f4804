//! Wrap-ups and the drain: dispositions during the drain, wrap-ups cut short and their leads.

use super::*;

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
            campaign_id: CampaignId::new(7),
            lead_id: 1,
            call,
            agent: agent.clone(),
            outcome: Outcome::Human,
            // A conversation has no retry delay of its own: the interrupted one, from the
            // call's end.
            effect: LeadEffect {
                status: LeadStatus::Active,
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
                campaign_id: CampaignId::new(7),
                lead_id: 1,
                call,
                agent: agent.clone(),
                outcome: Outcome::Human,
                effect: LeadEffect {
                    status: LeadStatus::Active,
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
            status: LeadStatus::Active,
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
            status: LeadStatus::Done,
            retry_after: None,
            callback_after: None,
        })
    );
}
