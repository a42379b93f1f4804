//! A campaign file turned into what the cores take: the pacer and its priors, the call flow's
//! settings and prompts.

use super::*;

/// The campaign's pacer; predictive sheds ringing calls after `dialing.shed_after`.
pub(super) fn pacer_for(c: &Campaign) -> Pacer {
    match c.mode {
        Mode::Predictive => Pacer::Predictive(pacing::Predictive::new(pacing::PredictiveConfig {
            shed_after: c.dialing.shed_after,
            shed_factor: c.dialing.shed_factor,
            ..pacing::PredictiveConfig::default()
        })),
        m => Pacer::new(pacer_mode(m)),
    }
}

pub(super) fn pacer_mode(mode: Mode) -> pacing::Mode {
    match mode {
        Mode::Preview => pacing::Mode::Preview,
        Mode::Progressive => pacing::Mode::Progressive,
        Mode::Predictive => pacing::Mode::Predictive,
        Mode::Agentless => pacing::Mode::Agentless,
    }
}

pub(super) fn priors(c: &Campaign) -> pacing::Priors {
    let p = &c.priors;
    pacing::Priors {
        hit_rate: p.hit_rate,
        machine_rate: p.machine_rate,
        ring_mean_s: p.ring_s,
        ring_sd_s: p.ring_s / 2.0,
        no_answer_s: c.dialing.ring_timeout.as_secs_f64(),
        talk_mean_s: p.talk_s,
        talk_sd_s: p.talk_s / 2.0,
        wrap_mean_s: p.wrap_s,
        wrap_sd_s: p.wrap_s / 2.0,
        ..pacing::Priors::default()
    }
}

/// UK accounting adds an estimate of people AMD called machines (Ofcom); US accounting does not.
pub(super) fn amd_false_positive_estimate(c: &Campaign) -> f64 {
    match c.regime {
        crate::campaign::Regime::Uk if c.amd.enabled => c.abandon.amd_false_positive_rate,
        _ => 0.0,
    }
}

/// How much before the connect limit the flow's deadline is, so that the message's first packet
/// is on the wire by the limit: the speech ended somewhere in the last voice frame, up to 20 ms
/// before the arrival the detector reports; the prompt's first frame waits up to 20 ms for the
/// customer leg's 20 ms send clock; the rest is the loop's turn and scheduling on a loaded
/// machine (the timer itself is 1 ms). Measured end to end by `tests/daemon/daemon_sipp.rs`: with 80 ms
/// the first packet came 37–57 ms after the deadline (load 9 on 2 cores), too close to the limit.
pub const CONNECT_LATENCY: Duration = Duration::from_millis(100);

pub(super) fn flow_settings(c: &Campaign) -> flow::Settings {
    flow::Settings {
        connect_limit: c.dialing.connect_limit,
        connect_from: match c.regime {
            crate::campaign::Regime::Us => flow::ConnectFrom::GreetingEnd,
            crate::campaign::Regime::Uk => flow::ConnectFrom::GreetingStart,
        },
        latency: CONNECT_LATENCY,
        amd: c.amd.enabled,
        // The detector decides within its total analysis time once audio flows; a second
        // more covers a line that sends no audio at all.
        amd_limit: Duration::from_millis(u64::from(c.amd.detector.total_analysis_ms) + 1000),
        on_machine: match c.amd.on_machine {
            crate::campaign::OnMachine::Hangup => OnMachine::HangUp,
            crate::campaign::OnMachine::Voicemail { .. } => OnMachine::Voicemail,
        },
        notsure_is_human: c.amd.on_notsure == crate::campaign::OnNotSure::TreatAsHuman,
        beep_wait: Duration::from_millis(u64::from(c.amd.detector.beep_wait_ms)),
        agentless: c.mode == Mode::Agentless,
        survey: c
            .survey
            .as_ref()
            .filter(|_| c.mode == Mode::Agentless)
            .map(|s| {
                flow::survey::Script::new(
                    s.intro.is_some(),
                    s.questions
                        .iter()
                        .map(|q| flow::survey::Question {
                            id: q.id.clone(),
                            answers: q.answers.clone(),
                        })
                        .collect(),
                    s.outro.is_some(),
                )
            }),
        record: c.recording.enabled,
        announce: c.recording.announce.is_some(),
        opt_out: Some(flow::OptOut {
            key: c.dnc.opt_out.key,
            wait: c.dnc.opt_out.wait,
        }),
    }
}

pub(super) fn prompt_file(c: &Campaign, prompt: Prompt) -> Option<PathBuf> {
    match prompt {
        Prompt::SafeHarbor => Some(c.safe_harbor.clone()),
        Prompt::Voicemail => match &c.amd.on_machine {
            crate::campaign::OnMachine::Voicemail { message } => Some(message.clone()),
            crate::campaign::OnMachine::Hangup => None,
        },
        // Agentless with no questions: the survey's recorded introduction.
        Prompt::Message => wav(c.survey.as_ref().and_then(|s| s.intro.as_ref())),
        Prompt::OptOutConfirm => wav(c.dnc.opt_out.confirm.as_ref()),
        Prompt::Announce => c.recording.announce.clone(),
        Prompt::Survey(p) => {
            let s = c.survey.as_ref()?;
            wav(match p {
                SurveyPrompt::Intro => s.intro.as_ref(),
                SurveyPrompt::Question(i) => s.questions.get(i).map(|q| &q.prompt),
                SurveyPrompt::Outro => s.outro.as_ref(),
            })
        }
    }
}

/// A recorded prompt's file (text prompts are for agents to read: nothing to play).
pub(super) fn wav(p: Option<&crate::campaign::Prompt>) -> Option<PathBuf> {
    match p {
        Some(crate::campaign::Prompt::Wav(file)) => Some(file.clone()),
        _ => None,
    }
}
