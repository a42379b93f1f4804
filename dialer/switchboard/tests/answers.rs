//! What an agent does on the desktop beyond the call: survey answers from the campaign's
//! `[script]`, and callback times checked against the calling hours.

use super::*;
use crate::campaign::{Script, ScriptAnswer, ScriptQuestion};

fn scripted() -> Arc<Campaign> {
    let answer = |key: &str, label: &str| ScriptAnswer {
        key: key.into(),
        label: label.into(),
    };
    campaign(|c| {
        c.script = Script {
            text: Some("Hello".into()),
            questions: vec![ScriptQuestion {
                id: "owns_home".into(),
                text: "Do you own your home?".into(),
                answers: vec![answer("yes", "Yes"), answer("no", "No")],
            }],
        }
    })
}

#[test]
fn an_agents_answers_are_checked_recorded_and_kept_until_the_wrap_up_ends() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], scripted());
    assert!(matches!(
        core.agent_answer(t0, "ann", "owns_home", "yes"),
        Err(SwitchboardError::NoCall(_))
    ));
    let (call, agent) = wrapping_up(&mut core, t0);
    let now = t0 + ms(61_000);
    assert!(matches!(
        core.agent_answer(now, &agent, "age", "yes"),
        Err(SwitchboardError::BadAnswer {
            field: "question",
            ..
        })
    ));
    assert!(matches!(
        core.agent_answer(now, &agent, "owns_home", "maybe"),
        Err(SwitchboardError::BadAnswer {
            field: "answer",
            ..
        })
    ));
    assert!(
        drain(&mut core).is_empty(),
        "a refused answer records nothing"
    );
    core.agent_answer(now, &agent, "owns_home", "no").unwrap();
    core.agent_answer(now, &agent, "owns_home", "yes").unwrap();
    let stored: Vec<_> = drain(&mut core)
        .into_iter()
        .filter_map(|o| match o {
            Output::Record(Record::SurveyAnswer {
                call,
                question,
                key,
                value,
                ..
            }) => Some((call, question, key, value)),
            _ => None,
        })
        .collect();
    let row = |v: &str| (call, "owns_home".to_string(), None, v.to_string());
    assert_eq!(stored, [row("no"), row("yes")]);
    let screen = core.agent_screen(now, &agent).unwrap().expect("wrap-up");
    assert_eq!(screen.call, Some(call));
    assert_eq!(
        core.call_answers(screen.call)
            .get("owns_home")
            .map(String::as_str),
        Some("yes")
    );
    core.agent_disposition(now, &agent, "appointment", None, None)
        .unwrap();
    assert!(core.call_answers(Some(call)).is_empty());
}

#[test]
fn a_callback_is_allowed_only_inside_the_calling_hours_in_the_leads_zone() {
    let t0 = Instant::now();
    let mut core = board(t0, &["ann"], campaign(|_| {}));
    let (_, agent) = wrapping_up(&mut core, t0);
    let now = t0 + ms(61_000);
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    // The lead has no zone: the campaign's, America/Chicago, 08:30–20:30 Monday to Saturday.
    core.callback_allowed(now, &agent, at("2026-12-08T15:00:00-06:00"))
        .unwrap();
    for (when, local) in [
        ("2026-12-08T20:30:00-06:00", "Tue 2026-12-08 20:30"),
        ("2026-12-09T08:00:00-06:00", "Wed 2026-12-09 08:00"),
        ("2026-12-13T12:00:00-06:00", "Sun 2026-12-13 12:00"),
    ] {
        match core.callback_allowed(now, &agent, at(when)) {
            Err(SwitchboardError::CallbackOutsideHours { problem }) => {
                assert!(
                    problem.starts_with(&format!("{local} in the lead's zone America/Chicago"))
                        && problem.contains("08:30–20:30 on mon, tue, wed, thu, fri, sat"),
                    "{problem}"
                );
            }
            other => panic!("{when}: {other:?}"),
        }
    }
    // No call to call back: nothing to check here (the disposition is refused itself).
    core.agent_disposition(now, &agent, "appointment", None, None)
        .unwrap();
    core.callback_allowed(now, &agent, at("2026-12-13T12:00:00-06:00"))
        .unwrap();
}
