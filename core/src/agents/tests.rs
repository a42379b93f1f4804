use super::*;

fn registry(t0: Instant) -> Agents {
    Agents::new(
        t0,
        [
            ("ann".into(), vec!["sales".to_owned()]),
            (
                "bob".into(),
                vec!["sales".to_owned(), "collections".to_owned()],
            ),
            ("cat".into(), vec!["collections".to_owned()]),
        ],
        Some(Duration::from_secs(60)),
    )
}

fn drain(a: &mut Agents) -> Vec<Event> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

fn intervals(events: &[Event]) -> Vec<(AgentId, State, Duration)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Interval(i) => Some((i.agent.clone(), i.state, i.end - i.start)),
            _ => None,
        })
        .collect()
}

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn k(call: u64) -> CallKey {
    CallKey::new(call)
}

fn up(a: &mut Agents, now: Instant, id: &str) {
    a.login(now, id).unwrap();
    a.leg_up(now, id).unwrap();
}

#[test]
fn login_dials_the_leg_and_ready_follows_the_answer() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    a.login(t0, "ann").unwrap();
    assert_eq!(drain(&mut a), vec![Event::DialLeg("ann".into())]);
    assert_eq!(a.view(t0, "ann").unwrap().state, State::Connecting);
    // No call goes to an agent whose leg is not up yet.
    assert_eq!(a.connect(t0, &[], k(1)), None);
    a.leg_up(t0 + s(2), "ann").unwrap();
    assert_eq!(a.view(t0 + s(3), "ann").unwrap().state, State::Ready);
    assert_eq!(
        intervals(&drain(&mut a)),
        vec![("ann".into(), State::Connecting, s(2))]
    );
}

#[test]
fn connect_picks_the_longest_waiting_agent_of_the_groups() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    up(&mut a, t0 + s(5), "ann");
    up(&mut a, t0 + s(1), "bob");
    up(&mut a, t0, "cat");
    let sales = vec!["sales".to_owned()];
    // cat waited longest but is not in sales; bob waited longer than ann.
    assert_eq!(a.connect(t0 + s(10), &sales, k(7)).as_deref(), Some("bob"));
    assert_eq!(a.connect(t0 + s(10), &sales, k(8)).as_deref(), Some("ann"));
    assert_eq!(a.connect(t0 + s(10), &sales, k(9)), None);
    let bob = a.view(t0 + s(11), "bob").unwrap();
    assert_eq!((bob.state, bob.call), (State::OnCall, Some(k(7))));
}

#[test]
fn customer_hangup_means_wrap_up_with_the_leg_kept_then_ready_on_disposition() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    up(&mut a, t0, "ann");
    a.connect(t0 + s(10), &[], k(3)).unwrap();
    a.call_ended(t0 + s(70), "ann").unwrap();
    let v = a.view(t0 + s(71), "ann").unwrap();
    assert_eq!((v.state, v.call), (State::WrapUp, Some(k(3))));
    // No HangupLeg: the leg stays up.
    let events = drain(&mut a);
    assert!(!events.iter().any(|e| matches!(e, Event::HangupLeg(_))));
    a.disposed(t0 + s(85), "ann").unwrap();
    assert_eq!(a.view(t0 + s(85), "ann").unwrap().state, State::Ready);
    let all = intervals(&drain(&mut a));
    assert_eq!(all, vec![("ann".into(), State::WrapUp, s(15)),]);
    let on_call: Vec<_> = intervals(&events)
        .into_iter()
        .filter(|(_, st, _)| *st == State::OnCall)
        .collect();
    assert_eq!(on_call, vec![("ann".into(), State::OnCall, s(60))]);
}

#[test]
fn leg_drop_logs_out_and_orphans_the_call() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    up(&mut a, t0, "bob");
    a.connect(t0 + s(1), &[], k(42)).unwrap();
    drain(&mut a);
    a.leg_down(t0 + s(5), "bob").unwrap();
    let events = drain(&mut a);
    assert!(events.contains(&Event::CallOrphaned {
        agent: "bob".into(),
        call: k(42)
    }));
    assert_eq!(a.view(t0 + s(6), "bob").unwrap().state, State::LoggedOut);
    assert_eq!(a.connect(t0 + s(6), &[], k(43)), None);
    // Logged out agents record no interval of being logged out.
    a.flush(t0 + s(100));
    assert!(intervals(&drain(&mut a)).is_empty());
}

#[test]
fn pause_during_a_call_is_taken_after_wrap_up() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    up(&mut a, t0, "cat");
    a.connect(t0, &[], k(1)).unwrap();
    a.pause(t0 + s(10), "cat", "break").unwrap();
    assert_eq!(a.view(t0 + s(10), "cat").unwrap().state, State::OnCall);
    a.call_ended(t0 + s(20), "cat").unwrap();
    a.disposed(t0 + s(30), "cat").unwrap();
    let v = a.view(t0 + s(30), "cat").unwrap();
    assert_eq!(
        (v.state, v.pause_reason.as_deref()),
        (State::Paused, Some("break"))
    );
    assert_eq!(a.connect(t0 + s(31), &[], k(2)), None);
    a.ready(t0 + s(40), "cat").unwrap();
    let paused: Vec<_> = drain(&mut a)
        .into_iter()
        .filter_map(|e| match e {
            Event::Interval(i) if i.state == State::Paused => Some(i),
            _ => None,
        })
        .collect();
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0].reason.as_deref(), Some("break"));
    assert_eq!(paused[0].end - paused[0].start, s(10));
}

#[test]
fn wrap_up_limit_makes_the_agent_ready() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    up(&mut a, t0, "ann");
    a.connect(t0, &[], k(1)).unwrap();
    assert_eq!(a.poll_timeout(), None);
    a.call_ended(t0 + s(30), "ann").unwrap();
    assert_eq!(a.poll_timeout(), Some(t0 + s(90)));
    a.handle_timeout(t0 + s(89));
    assert_eq!(a.view(t0 + s(89), "ann").unwrap().state, State::WrapUp);
    a.handle_timeout(t0 + s(90));
    assert_eq!(a.view(t0 + s(90), "ann").unwrap().state, State::Ready);
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn refused_requests_name_the_agent_and_state() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    assert_eq!(a.ready(t0, "zed"), Err(AgentError::Unknown("zed".into())));
    let err = a.call_ended(t0, "ann").unwrap_err();
    assert_eq!(
        err.to_string(),
        "agent ann: cannot end a call while logged_out"
    );
    up(&mut a, t0, "ann");
    a.connect(t0, &[], k(1)).unwrap();
    assert!(a.logout(t0, "ann").is_err());
    assert!(a.login(t0, "ann").is_err());
}

#[test]
fn intervals_tile_the_logged_in_time_without_gaps() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    a.login(t0, "ann").unwrap();
    a.leg_up(t0 + s(1), "ann").unwrap();
    a.connect(t0 + s(4), &[], k(1)).unwrap();
    a.call_ended(t0 + s(50), "ann").unwrap();
    a.disposed(t0 + s(60), "ann").unwrap();
    a.pause(t0 + s(61), "ann", "lunch").unwrap();
    a.ready(t0 + s(100), "ann").unwrap();
    a.logout(t0 + s(120), "ann").unwrap();
    let events = drain(&mut a);
    let mut end = t0;
    let mut total = Duration::ZERO;
    for e in &events {
        if let Event::Interval(i) = e {
            assert_eq!(i.start, end, "gap or overlap before {:?}", i.state);
            end = i.end;
            total += i.end - i.start;
        }
    }
    assert_eq!(total, s(120));
    assert_eq!(events.last(), Some(&Event::HangupLeg("ann".into())));
}

#[test]
fn a_preview_runs_from_the_reserved_lead_to_the_answer_and_names_its_campaign() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    up(&mut a, t0, "cat");
    drain(&mut a);
    assert!(
        a.preview(t0, "ann", CampaignId::new(9)).is_err(),
        "ann is logged out"
    );
    a.preview(t0 + s(5), "cat", CampaignId::new(9)).unwrap();
    // A previewing agent takes no other call.
    assert_eq!(a.connect(t0 + s(6), &[], k(3)), None);
    a.preview_dialed("cat", k(4)).unwrap();
    assert!(a.preview_dialed("cat", k(5)).is_err());
    assert!(matches!(
        a.logout(t0 + s(7), "cat"),
        Err(AgentError::PreviewDialed { .. })
    ));
    // Not this call: refused; the answer of hers: on the call.
    assert!(a.preview_answered(t0 + s(20), "cat", k(5)).is_err());
    a.preview_answered(t0 + s(20), "cat", k(4)).unwrap();
    let v = a.view(t0 + s(21), "cat").unwrap();
    assert_eq!((v.state, v.call), (State::OnCall, Some(k(4))));
    let i: Vec<(State, Option<CampaignId>, Option<CallKey>, Duration)> = drain(&mut a)
        .into_iter()
        .filter_map(|e| match e {
            Event::Interval(i) => Some((i.state, i.campaign, i.call, i.end - i.start)),
            _ => None,
        })
        .collect();
    assert_eq!(
        i,
        vec![
            (State::Ready, None, None, s(5)),
            (State::Preview, Some(CampaignId::new(9)), Some(k(4)), s(15)),
        ]
    );
}

#[test]
fn a_preview_that_ends_unanswered_leaves_the_agent_ready_or_paused_as_asked() {
    let t0 = Instant::now();
    let mut a = registry(t0);
    up(&mut a, t0, "cat");
    a.preview(t0 + s(1), "cat", CampaignId::new(9)).unwrap();
    a.preview_dialed("cat", k(4)).unwrap();
    // A pause asked for while the call rings is taken when it ends.
    a.pause(t0 + s(2), "cat", "coffee").unwrap();
    assert_eq!(a.view(t0 + s(2), "cat").unwrap().state, State::Preview);
    a.preview_ended(t0 + s(30), "cat").unwrap();
    let v = a.view(t0 + s(30), "cat").unwrap();
    assert_eq!(
        (v.state, v.pause_reason.as_deref(), v.call),
        (State::Paused, Some("coffee"), None)
    );
    // Not dialed yet: pausing gives the preview up at once; so does logging out.
    a.ready(t0 + s(40), "cat").unwrap();
    a.preview(t0 + s(41), "cat", CampaignId::new(9)).unwrap();
    a.pause(t0 + s(42), "cat", "lunch").unwrap();
    assert_eq!(a.view(t0 + s(42), "cat").unwrap().state, State::Paused);
    a.ready(t0 + s(50), "cat").unwrap();
    a.preview(t0 + s(50), "cat", CampaignId::new(9)).unwrap();
    a.logout(t0 + s(60), "cat").unwrap();
    // Ready for no time at all (t0 + 50 s) leaves no interval.
    let states: Vec<State> = drain(&mut a)
        .into_iter()
        .filter_map(|e| match e {
            Event::Interval(i) => Some(i.state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            State::Ready,
            State::Preview,
            State::Paused,
            State::Ready,
            State::Preview,
            State::Paused,
            State::Preview,
        ]
    );
}
