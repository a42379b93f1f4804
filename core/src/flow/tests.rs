use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn drain(f: &mut Flow) -> Vec<Action> {
    std::iter::from_fn(|| f.poll_action()).collect()
}

fn summary(actions: &[Action]) -> Summary {
    match actions.last() {
        Some(Action::Finished(s)) => s.clone(),
        other => panic!("not finished: {other:?}"),
    }
}

/// AMD's decision with nobody heard speaking (the cause is not what these tests look at).
fn amd(result: AmdResult) -> Input {
    Input::Amd {
        result,
        cause: "x".into(),
        speech_end: None,
    }
}

/// AMD's decision on a person whose speech ended at `end`.
fn heard(result: AmdResult, end: Instant) -> Input {
    Input::Amd {
        result,
        cause: "x".into(),
        speech_end: Some(end),
    }
}

fn answered(t0: Instant, settings: Settings) -> Flow {
    let mut f = Flow::new(t0, settings);
    f.handle(t0 + ms(3000), Input::Ringing);
    f.handle(t0 + ms(9000), Input::Answered);
    f
}

#[test]
fn person_gets_an_agent_within_the_limit() {
    let t0 = Instant::now();
    let mut f = answered(t0, Settings::default());
    assert_eq!(drain(&mut f), vec![Action::StartAnalysis]);
    // "Hello?" ended at 9.8 s; AMD waited 400 ms for the pause.
    let spoke = t0 + ms(9800);
    let decided = t0 + ms(10_200);
    f.handle(
        decided,
        Input::Amd {
            result: AmdResult::Human,
            cause: "short-greeting".into(),
            speech_end: Some(spoke),
        },
    );
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
    assert_eq!(f.poll_timeout(), Some(spoke + ms(2000)));
    f.handle_timeout(spoke + ms(1999));
    assert!(f.wants_agent());
    f.handle(spoke + ms(1999), Input::Agent("ann".into()));
    assert_eq!(
        drain(&mut f),
        vec![Action::Bridge {
            agent: "ann".into(),
            record: false
        }]
    );
    assert_eq!(f.poll_timeout(), None);
    f.handle(t0 + ms(90_000), Input::CustomerHangup);
    let s = summary(&drain(&mut f));
    assert_eq!(s.outcome, Outcome::Human);
    assert!(!s.abandoned);
    assert_eq!(s.agent.as_deref(), Some("ann"));
    assert_eq!(s.ringing, Some(t0 + ms(3000)));
    assert_eq!(s.answered, Some(t0 + ms(9000)));
    assert_eq!(s.decided, Some(decided));
    assert_eq!(s.connected, Some(spoke + ms(1999)));
    assert_eq!(s.message_at, None);
    assert_eq!(s.ended, t0 + ms(90_000));
    assert!(f.is_done());
}

#[test]
fn no_agent_within_the_limit_plays_safe_harbor_and_abandons() {
    let t0 = Instant::now();
    let mut f = answered(t0, Settings::default());
    let spoke = t0 + ms(9400);
    f.handle(t0 + ms(10_000), heard(AmdResult::Human, spoke));
    drain(&mut f);
    f.handle_timeout(spoke + ms(1999));
    assert!(drain(&mut f).is_empty());
    f.handle_timeout(spoke + ms(2000));
    // Abandoned as the limit passes (counted now, not when the message ends), then the message.
    assert_eq!(
        drain(&mut f),
        vec![
            Action::CancelAgentRequest,
            Action::Abandoned,
            Action::Play(Prompt::SafeHarbor)
        ]
    );
    // An agent freed too late is not bridged.
    f.handle(spoke + ms(2100), Input::Agent("late".into()));
    assert!(drain(&mut f).is_empty());
    f.handle(spoke + ms(9000), Input::PromptFinished);
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::HangUp);
    // Counted once: no second `Abandoned` at the end.
    assert!(!actions.contains(&Action::Abandoned), "{actions:?}");
    let s = summary(&actions);
    assert_eq!((s.outcome.as_str(), s.abandoned), ("abandoned", true));
    assert_eq!(s.agent, None);
    assert_eq!(s.message_at, Some(spoke + ms(2000)));
}

#[test]
fn the_limit_counts_from_the_end_of_speech_less_the_latency_never_before_now() {
    let t0 = Instant::now();
    let settings = Settings {
        latency: ms(40),
        ..Settings::default()
    };
    // AMD decided 800 ms after the greeting ended: 1.2 s are left, less the shell's latency.
    let mut f = answered(t0, settings.clone());
    drain(&mut f);
    let spoke = t0 + ms(10_000);
    f.handle(spoke + ms(800), heard(AmdResult::Human, spoke));
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
    assert_eq!(f.poll_timeout(), Some(spoke + ms(2000 - 40)));
    // A decision after the limit (a campaign waiting longer than it for the pause): now.
    let mut f = answered(t0, settings.clone());
    drain(&mut f);
    f.handle(spoke + ms(2500), heard(AmdResult::Human, spoke));
    assert_eq!(f.poll_timeout(), Some(spoke + ms(2500)));
    // Nobody spoke (not sure on a silent line): from the answer (9 s), so at once.
    let mut f = answered(t0, settings.clone());
    drain(&mut f);
    f.handle(t0 + ms(11_500), amd(AmdResult::NotSure));
    assert_eq!(f.poll_timeout(), Some(t0 + ms(11_500)));
    // Without AMD: from the answer.
    let mut f = answered(
        t0,
        Settings {
            amd: false,
            ..settings
        },
    );
    drain(&mut f);
    assert_eq!(f.poll_timeout(), Some(t0 + ms(11_000 - 40)));
}

#[test]
fn uk_counts_from_the_start_of_speech_and_amd_must_decide_by_then() {
    let t0 = Instant::now();
    let uk = Settings {
        connect_from: ConnectFrom::GreetingStart,
        latency: ms(40),
        ..Settings::default()
    };
    // Speech from 9.3 s; AMD decides at 10.5 s: the agent or message by 11.3 s (less latency).
    let mut f = answered(t0, uk.clone());
    drain(&mut f);
    let amd_limit = t0 + ms(9000) + uk.amd_limit;
    assert_eq!(f.poll_timeout(), Some(amd_limit));
    f.handle(t0 + ms(9400), Input::SpeechStarted { at: t0 + ms(9300) });
    assert_eq!(f.poll_timeout(), Some(t0 + ms(11_300 - 40)));
    f.handle(t0 + ms(10_500), heard(AmdResult::Human, t0 + ms(10_100)));
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
    assert_eq!(f.poll_timeout(), Some(t0 + ms(11_300 - 40)));

    // Still undecided when the limit comes (a long greeting): "not sure", the campaign's way
    // (a person by default), who is abandoned at once unless an agent is free now.
    let mut f = answered(t0, uk.clone());
    drain(&mut f);
    f.handle(t0 + ms(9400), Input::SpeechStarted { at: t0 + ms(9300) });
    f.handle_timeout(t0 + ms(11_259));
    assert!(drain(&mut f).is_empty());
    f.handle_timeout(t0 + ms(11_260));
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
    assert_eq!(f.poll_timeout(), Some(t0 + ms(11_260)));
    f.handle_timeout(t0 + ms(11_260));
    assert_eq!(
        drain(&mut f),
        vec![
            Action::CancelAgentRequest,
            Action::Abandoned,
            Action::Play(Prompt::SafeHarbor)
        ]
    );
    f.handle(t0 + ms(15_000), Input::PromptFinished);
    let s = summary(&drain(&mut f));
    assert_eq!(
        s.amd,
        Some((AmdResult::NotSure, "connect-limit".to_owned()))
    );
    assert!(s.abandoned);

    // Nobody spoke: not sure on silence, counted from the answer (at once).
    let mut f = answered(t0, uk);
    drain(&mut f);
    f.handle(t0 + ms(11_500), amd(AmdResult::NotSure));
    assert_eq!(f.poll_timeout(), Some(t0 + ms(11_500)));
}

#[test]
fn customer_hanging_up_while_waiting_counts_as_abandoned() {
    let t0 = Instant::now();
    let mut f = answered(t0, Settings::default());
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    drain(&mut f);
    f.handle(t0 + ms(11_000), Input::CustomerHangup);
    let actions = drain(&mut f);
    assert_eq!(
        actions[..2],
        [Action::CancelAgentRequest, Action::Abandoned]
    );
    assert!(summary(&actions).abandoned);
}

#[test]
fn an_answer_crossing_our_cancel_is_an_abandoned_live_answer() {
    let t0 = Instant::now();
    let mut f = Flow::new(t0, Settings::default());
    f.handle(t0 + ms(3000), Input::Ringing);
    f.handle(t0 + ms(15_000), Input::AnswerTakenDown { sip_status: 200 });
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::Abandoned);
    let s = summary(&actions);
    assert_eq!((s.outcome.as_str(), s.abandoned), ("abandoned", true));
    assert_eq!(
        (s.sip_status, s.answered),
        (Some(200), Some(t0 + ms(15_000)))
    );
    assert_eq!(s.agent, None);
}

#[test]
fn machine_is_hung_up_on_by_default() {
    let t0 = Instant::now();
    let mut f = answered(t0, Settings::default());
    drain(&mut f);
    f.handle(
        t0 + ms(12_000),
        Input::Amd {
            result: AmdResult::Machine,
            cause: "long-greeting".into(),
            speech_end: None,
        },
    );
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::HangUp);
    let s = summary(&actions);
    assert_eq!(s.outcome, Outcome::Machine);
    assert_eq!(s.amd, Some((AmdResult::Machine, "long-greeting".into())));
    assert!(!s.voicemail_left && !s.abandoned);
}

#[test]
fn voicemail_waits_for_the_beep_or_the_deadline() {
    let t0 = Instant::now();
    let settings = Settings {
        on_machine: OnMachine::Voicemail,
        beep_wait: ms(8000),
        ..Settings::default()
    };
    // With a beep.
    let mut f = answered(t0, settings.clone());
    drain(&mut f);
    let decided = t0 + ms(12_000);
    f.handle(decided, amd(AmdResult::Machine));
    assert!(drain(&mut f).is_empty());
    f.handle(decided + ms(3000), Input::Beep);
    assert_eq!(drain(&mut f), vec![Action::Play(Prompt::Voicemail)]);
    f.handle(decided + ms(20_000), Input::PromptFinished);
    let s = summary(&drain(&mut f));
    assert!(s.voicemail_left);
    assert_eq!(s.outcome, Outcome::Machine);
    assert_eq!(s.message_at, Some(decided + ms(3000)));

    // Without one: the message starts at the deadline.
    let mut f = answered(t0, settings);
    drain(&mut f);
    f.handle(decided, amd(AmdResult::Machine));
    assert_eq!(f.poll_timeout(), Some(decided + ms(8000)));
    f.handle_timeout(decided + ms(7999));
    assert!(drain(&mut f).is_empty());
    f.handle_timeout(decided + ms(8000));
    assert_eq!(drain(&mut f), vec![Action::Play(Prompt::Voicemail)]);
    // The message cannot be played: the call ends, and no message is on record.
    f.handle(decided + ms(8001), Input::PromptFailed);
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::HangUp);
    let s = summary(&actions);
    assert_eq!(s.outcome, Outcome::Machine);
    assert!(!s.voicemail_left);
    assert_eq!(s.message_at, None);
}

#[test]
fn notsure_goes_the_campaigns_way() {
    let t0 = Instant::now();
    let notsure = Input::Amd {
        result: AmdResult::NotSure,
        cause: "toolong".into(),
        speech_end: None,
    };
    let mut f = answered(t0, Settings::default());
    drain(&mut f);
    f.handle(t0 + ms(14_000), notsure.clone());
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);

    let mut f = answered(
        t0,
        Settings {
            notsure_is_human: false,
            ..Settings::default()
        },
    );
    drain(&mut f);
    f.handle(t0 + ms(14_000), notsure);
    assert_eq!(summary(&drain(&mut f)).outcome, Outcome::Machine);
}

#[test]
fn without_amd_the_answer_is_a_person_at_once() {
    let t0 = Instant::now();
    let mut f = answered(
        t0,
        Settings {
            amd: false,
            ..Settings::default()
        },
    );
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
    assert_eq!(f.poll_timeout(), Some(t0 + ms(11_000)));
}

#[test]
fn agentless_plays_the_message_to_a_person() {
    let t0 = Instant::now();
    let mut f = answered(
        t0,
        Settings {
            agentless: true,
            ..Settings::default()
        },
    );
    drain(&mut f);
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    assert_eq!(drain(&mut f), vec![Action::Play(Prompt::Message)]);
    f.handle(t0 + ms(30_000), Input::PromptFinished);
    let s = summary(&drain(&mut f));
    assert_eq!((s.outcome.as_str(), s.abandoned), ("human", false));
}

#[test]
fn agentless_survey_asks_stores_answers_and_hangs_up() {
    use super::survey::{Question, Script, SurveyPrompt};
    let t0 = Instant::now();
    let script = Script::new(
        true,
        vec![Question {
            id: "satisfied".into(),
            answers: [('1', "yes".to_owned()), ('2', "no".to_owned())].into(),
        }],
        false,
    );
    let mut f = answered(
        t0,
        Settings {
            agentless: true,
            survey: Some(script),
            ..Settings::default()
        },
    );
    drain(&mut f);
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    assert_eq!(
        drain(&mut f),
        vec![Action::Play(Prompt::Survey(SurveyPrompt::Intro))]
    );
    f.handle(t0 + ms(15_000), Input::PromptFinished);
    assert_eq!(
        drain(&mut f),
        vec![Action::Play(Prompt::Survey(SurveyPrompt::Question(0)))]
    );
    f.handle(t0 + ms(16_000), Input::PromptFinished);
    assert_eq!(f.poll_timeout(), Some(t0 + ms(22_000)));
    f.handle(t0 + ms(17_000), Input::Dtmf('2'));
    let actions = drain(&mut f);
    assert_eq!(
        actions[..2],
        [
            Action::SurveyAnswer {
                question: "satisfied".into(),
                key: '2',
                value: "no".into()
            },
            Action::HangUp
        ]
    );
    let s = summary(&actions);
    assert_eq!((s.outcome.as_str(), s.abandoned), ("human", false));
    assert_eq!(s.ended, t0 + ms(17_000));
}

#[test]
fn failures_before_the_answer_keep_the_sip_outcome() {
    let t0 = Instant::now();
    let mut f = Flow::new(t0, Settings::default());
    f.handle(t0 + ms(2000), Input::Ringing);
    f.handle(
        t0 + ms(4000),
        Input::Failed {
            outcome: Outcome::Busy,
            sip_status: Some(486),
        },
    );
    let s = summary(&drain(&mut f));
    assert_eq!((s.outcome.as_str(), s.sip_status), ("busy", Some(486)));
    assert_eq!(s.answered, None);
    // Nothing after the end changes the summary or adds actions.
    f.handle(t0 + ms(5000), Input::Answered);
    assert!(drain(&mut f).is_empty());
}

#[test]
fn agent_hanging_up_ends_the_bridged_call() {
    let t0 = Instant::now();
    let mut f = answered(
        t0,
        Settings {
            amd: false,
            record: true,
            ..Settings::default()
        },
    );
    drain(&mut f);
    f.handle(t0 + ms(9500), Input::Agent("bob".into()));
    assert_eq!(
        drain(&mut f),
        vec![Action::Bridge {
            agent: "bob".into(),
            record: true
        }]
    );
    f.handle(t0 + ms(60_000), Input::AgentHangup);
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::HangUp);
    assert_eq!(summary(&actions).outcome, Outcome::Human);
}

#[test]
fn no_amd_decision_in_time_counts_as_not_sure() {
    let t0 = Instant::now();
    let mut f = answered(t0, Settings::default());
    assert_eq!(drain(&mut f), vec![Action::StartAnalysis]);
    let limit = t0 + ms(9000) + Settings::default().amd_limit;
    assert_eq!(f.poll_timeout(), Some(limit));
    f.handle_timeout(limit - ms(1));
    assert!(drain(&mut f).is_empty());
    f.handle_timeout(limit);
    // Not sure goes the default way: a person, who now waits for an agent.
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
    // A late decision changes nothing.
    f.handle(
        limit + ms(100),
        Input::Amd {
            result: AmdResult::Machine,
            cause: "late".into(),
            speech_end: None,
        },
    );
    assert!(drain(&mut f).is_empty());
}

#[test]
fn abort_ends_every_stage_with_a_summary() {
    let t0 = Instant::now();
    // Ringing: interrupted.
    let mut f = Flow::new(t0, Settings::default());
    f.abort(t0 + ms(500));
    let a = drain(&mut f);
    assert_eq!(a[0], Action::HangUp);
    assert_eq!(summary(&a).outcome, Outcome::Interrupted);
    // Waiting for an agent: abandoned.
    let mut f = answered(t0, Settings::default());
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    drain(&mut f);
    f.abort(t0 + ms(10_500));
    let s = summary(&drain(&mut f));
    assert!(s.abandoned);
    // Done: nothing more.
    f.abort(t0 + ms(11_000));
    assert!(drain(&mut f).is_empty());
}

fn with_opt_out(s: Settings) -> Settings {
    Settings {
        opt_out: Some(OptOut::default()),
        ..s
    }
}

/// A person abandoned at `t0 + 12 s`: the safe-harbor message is playing.
fn safe_harbor_playing(t0: Instant) -> Flow {
    let mut f = answered(t0, with_opt_out(Settings::default()));
    f.handle(t0 + ms(10_000), heard(AmdResult::Human, t0 + ms(10_000)));
    f.handle_timeout(t0 + ms(12_000));
    assert_eq!(
        drain(&mut f).last(),
        Some(&Action::Play(Prompt::SafeHarbor))
    );
    f
}

#[test]
fn the_opt_out_key_during_safe_harbor_opts_out_confirms_and_hangs_up() {
    let t0 = Instant::now();
    let mut f = safe_harbor_playing(t0);
    // Another key does nothing.
    f.handle(t0 + ms(12_500), Input::Dtmf('1'));
    assert!(drain(&mut f).is_empty());
    f.handle(t0 + ms(13_000), Input::Dtmf('9'));
    assert_eq!(
        drain(&mut f),
        vec![
            Action::StopPrompt,
            Action::OptOut {
                key: '9',
                message: Prompt::SafeHarbor
            },
            Action::Play(Prompt::OptOutConfirm)
        ]
    );
    // A second press is not a second opt-out.
    f.handle(t0 + ms(13_200), Input::Dtmf('9'));
    assert!(drain(&mut f).is_empty());
    f.handle(t0 + ms(15_000), Input::PromptFinished);
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::HangUp);
    let s = summary(&actions);
    assert_eq!(s.opted_out, Some(t0 + ms(13_000)));
    assert_eq!((s.outcome.as_str(), s.abandoned), ("abandoned", true));
}

#[test]
fn the_opt_out_key_is_taken_right_after_the_message_for_its_wait() {
    let t0 = Instant::now();
    let mut f = safe_harbor_playing(t0);
    f.handle(t0 + ms(14_000), Input::PromptFinished);
    // Not hung up yet: the key is still taken for the wait (1 s).
    assert!(drain(&mut f).is_empty());
    assert_eq!(f.poll_timeout(), Some(t0 + ms(15_000)));
    f.handle(t0 + ms(14_800), Input::Dtmf('9'));
    assert_eq!(
        drain(&mut f),
        vec![
            Action::OptOut {
                key: '9',
                message: Prompt::SafeHarbor
            },
            Action::Play(Prompt::OptOutConfirm)
        ]
    );
    // A confirmation that cannot be played still ends the call.
    f.handle(t0 + ms(14_900), Input::PromptFailed);
    let s = summary(&drain(&mut f));
    assert_eq!(s.opted_out, Some(t0 + ms(14_800)));
}

#[test]
fn no_key_within_the_wait_hangs_up_at_its_end() {
    let t0 = Instant::now();
    let mut f = safe_harbor_playing(t0);
    f.handle(t0 + ms(14_000), Input::PromptFinished);
    f.handle_timeout(t0 + ms(14_999));
    assert!(drain(&mut f).is_empty());
    f.handle_timeout(t0 + ms(15_000));
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::HangUp);
    assert_eq!(summary(&actions).opted_out, None);
}

#[test]
fn without_opt_out_the_key_does_nothing_and_the_message_ends_the_call() {
    let t0 = Instant::now();
    let mut f = answered(t0, Settings::default());
    f.handle(t0 + ms(10_000), heard(AmdResult::Human, t0 + ms(10_000)));
    f.handle_timeout(t0 + ms(12_000));
    drain(&mut f);
    f.handle(t0 + ms(13_000), Input::Dtmf('9'));
    assert!(drain(&mut f).is_empty());
    f.handle(t0 + ms(14_000), Input::PromptFinished);
    assert_eq!(drain(&mut f)[0], Action::HangUp);
}

#[test]
fn the_opt_out_key_works_in_the_voicemail_and_the_agentless_message() {
    let t0 = Instant::now();
    // Voicemail: someone picks up while the message is left.
    let mut f = answered(
        t0,
        with_opt_out(Settings {
            on_machine: OnMachine::Voicemail,
            ..Settings::default()
        }),
    );
    f.handle(t0 + ms(10_000), amd(AmdResult::Machine));
    f.handle(t0 + ms(12_000), Input::Beep);
    assert_eq!(drain(&mut f).last(), Some(&Action::Play(Prompt::Voicemail)));
    f.handle(t0 + ms(13_000), Input::Dtmf('9'));
    assert!(drain(&mut f).contains(&Action::OptOut {
        key: '9',
        message: Prompt::Voicemail
    }));
    // The agentless message, with another key configured.
    let mut f = answered(
        t0,
        Settings {
            agentless: true,
            opt_out: Some(OptOut {
                key: '#',
                wait: ms(1000),
            }),
            ..Settings::default()
        },
    );
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    drain(&mut f);
    f.handle(t0 + ms(11_000), Input::Dtmf('9'));
    assert!(drain(&mut f).is_empty());
    f.handle(t0 + ms(11_500), Input::Dtmf('#'));
    assert!(drain(&mut f).contains(&Action::OptOut {
        key: '#',
        message: Prompt::Message
    }));
}

#[test]
fn the_opt_out_key_wins_over_a_survey_answer() {
    use super::survey::{Question, Script, SurveyPrompt};
    let t0 = Instant::now();
    let script = Script::new(
        false,
        vec![Question {
            id: "q".into(),
            answers: [('9', "nine".to_owned())].into(),
        }],
        false,
    );
    let mut f = answered(
        t0,
        with_opt_out(Settings {
            agentless: true,
            survey: Some(script),
            ..Settings::default()
        }),
    );
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    drain(&mut f);
    f.handle(t0 + ms(11_000), Input::Dtmf('9'));
    let actions = drain(&mut f);
    assert!(
        actions.contains(&Action::OptOut {
            key: '9',
            message: Prompt::Survey(SurveyPrompt::Question(0))
        }),
        "{actions:?}"
    );
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::SurveyAnswer { .. })),
        "{actions:?}"
    );
}

fn announcing() -> Settings {
    Settings {
        record: true,
        announce: true,
        ..Settings::default()
    }
}

#[test]
fn the_recording_announcement_plays_before_the_agent_and_counts_as_the_connection() {
    let t0 = Instant::now();
    let mut f = answered(t0, announcing());
    drain(&mut f);
    let spoke = t0 + ms(9800);
    let decided = t0 + ms(10_200);
    f.handle(decided, heard(AmdResult::Human, spoke));
    // The announcement starts at the decision (inside the 2 s); no agent is asked for yet.
    assert_eq!(drain(&mut f), vec![Action::Play(Prompt::Announce)]);
    assert!(!f.wants_agent());
    assert_eq!(f.poll_timeout(), None);
    // Past the limit from the greeting, while it plays: not abandoned.
    f.handle_timeout(spoke + ms(2500));
    assert!(drain(&mut f).is_empty());
    let ended = t0 + ms(13_500);
    f.handle(ended, Input::PromptFinished);
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
    assert_eq!(f.poll_timeout(), Some(ended + ms(2000)));
    f.handle(ended + ms(300), Input::Agent("ann".into()));
    assert_eq!(
        drain(&mut f),
        vec![Action::Bridge {
            agent: "ann".into(),
            record: true
        }]
    );
    f.handle(t0 + ms(60_000), Input::CustomerHangup);
    let s = summary(&drain(&mut f));
    assert_eq!((s.outcome, s.abandoned), (Outcome::Human, false));
    assert_eq!(s.message_at, Some(decided));
    assert!(s.message_at.is_some_and(|m| m <= spoke + ms(2000)));
}

#[test]
fn no_agent_after_the_announcement_is_abandoned_with_the_safe_harbor_message() {
    let t0 = Instant::now();
    let mut f = answered(t0, announcing());
    drain(&mut f);
    f.handle(t0 + ms(10_000), heard(AmdResult::Human, t0 + ms(9500)));
    drain(&mut f);
    let ended = t0 + ms(13_000);
    f.handle(ended, Input::PromptFinished);
    drain(&mut f);
    f.handle_timeout(ended + ms(2000));
    assert_eq!(
        drain(&mut f),
        vec![
            Action::CancelAgentRequest,
            Action::Abandoned,
            Action::Play(Prompt::SafeHarbor)
        ]
    );
}

#[test]
fn an_announcement_nobody_heard_means_no_recording_and_the_old_limit() {
    let t0 = Instant::now();
    let mut f = answered(t0, announcing());
    drain(&mut f);
    let spoke = t0 + ms(9500);
    f.handle(t0 + ms(10_000), heard(AmdResult::Human, spoke));
    drain(&mut f);
    f.handle(t0 + ms(10_050), Input::PromptFailed);
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
    assert_eq!(f.poll_timeout(), Some(spoke + ms(2000)));
    f.handle(t0 + ms(10_500), Input::Agent("ann".into()));
    assert_eq!(
        drain(&mut f),
        vec![Action::Bridge {
            agent: "ann".into(),
            record: false
        }]
    );
}

#[test]
fn no_announcement_without_recording() {
    let t0 = Instant::now();
    let settings = Settings {
        announce: true,
        ..Settings::default()
    };
    let mut f = answered(t0, settings);
    drain(&mut f);
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    assert_eq!(drain(&mut f), vec![Action::RequestAgent]);
}

#[test]
fn a_person_gone_during_the_announcement_is_counted_abandoned() {
    let t0 = Instant::now();
    let mut f = answered(t0, announcing());
    drain(&mut f);
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    drain(&mut f);
    f.handle(t0 + ms(11_000), Input::CustomerHangup);
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::Abandoned);
    let s = summary(&actions);
    assert_eq!(
        (s.outcome, s.abandoned, s.agent),
        (Outcome::Abandoned, true, None)
    );
}

#[test]
fn a_person_cut_off_during_the_announcement_by_a_stop_is_counted_abandoned() {
    let t0 = Instant::now();
    let mut f = answered(t0, announcing());
    drain(&mut f);
    f.handle(t0 + ms(10_000), amd(AmdResult::Human));
    drain(&mut f);
    f.abort(t0 + ms(11_000));
    let actions = drain(&mut f);
    assert_eq!(actions[0], Action::Abandoned);
    let s = summary(&actions);
    assert_eq!(
        (s.outcome, s.abandoned, s.agent),
        (Outcome::Abandoned, true, None)
    );
}
