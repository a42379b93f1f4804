//! One dialed lead, from the dial to the end of the call: who the customer gets.
//!
//! [`Flow`] is sans-IO. The daemon feeds it what the SIP call, the media session, the AMD
//! detector and the agent registry report ([`Input`]), and pulls [`Action`]s: ask for an agent,
//! bridge, play the safe-harbor or voicemail message, hang up. When the call is over it yields
//! [`Action::Finished`] with a [`Summary`] for the attempt's row.
//!
//! The rules it enforces:
//! - a person gets an agent within the connect limit (2 s), or hears the safe-harbor message and
//!   the call is stored as abandoned (counted at once: [`Action::Abandoned`]). The limit counts
//!   from the end of the person's speech as the detector saw it (US: "within two seconds of the
//!   called person's completed greeting"; the detector's wait for the answer-pause is inside it), or from its
//!   start (UK, Ofcom: with AMD, from when the called person starts to speak; AMD still deciding
//!   then counts as "not sure"); from the answer when nobody spoke or AMD is off. See
//!   [`ConnectFrom`]. The deadline is `latency` early, so the message's first packet is on the
//!   wire by the limit;
//! - a customer who hangs up while waiting for an agent is counted as abandoned too (conservative,
//!   as VICIdial counts its DROPs);
//! - a machine is hung up on, or gets the voicemail message after the beep (or once the greeting
//!   has ended, or at the latest after `beep_wait`);
//! - AMD "not sure" goes the campaign's way (default: a person);
//! - agentless: a person hears the campaign's message, or takes its survey ([`survey::Ivr`]);
//! - every prerecorded message (safe harbor, voicemail, the agentless message and survey) takes
//!   the opt-out key while it plays and, for the safe-harbor and agentless messages, for
//!   [`OptOut::wait`] after it (47 CFR 64.1200(b)(3), (a)(7)(i)(A)): [`Action::OptOut`], then the
//!   confirmation, then the hang-up.

pub mod survey;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::domain::{AgentId, AmdResult, Outcome};

/// What to do with an answering machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMachine {
    HangUp,
    Voicemail,
}

/// The moment the connect limit counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFrom {
    /// US (47 CFR 64.1200(a)(7)(i), 16 CFR 310.4(b)(4)(i)): the end of the person's completed
    /// greeting, i.e. the end of their speech as AMD heard it; the answer when they never spoke.
    GreetingEnd,
    /// UK (Ofcom): the start of the person's speech when AMD is used (the answer otherwise, or
    /// when they never spoke). AMD still undecided at the limit counts as "not sure".
    GreetingStart,
}

/// How one call is handled: taken from the campaign.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A person must reach an agent within this (2 s by rule), counted as `connect_from` says.
    pub connect_limit: Duration,
    pub connect_from: ConnectFrom,
    /// The shell's time from the deadline to the message's first packet on the wire (the last
    /// voice frame's 20 ms, the media leg's 20 ms send clock, the loop's turn): the deadline is
    /// this much before the limit.
    pub latency: Duration,
    /// Run AMD after the answer; without it, every answer is a person.
    pub amd: bool,
    /// No AMD decision this long after the answer (no audio at all, say) counts as "not sure".
    pub amd_limit: Duration,
    pub on_machine: OnMachine,
    /// Treat AMD "not sure" as a person (true) or as a machine.
    pub notsure_is_human: bool,
    /// Longest wait, after the machine decision, for the beep or the end of the greeting.
    pub beep_wait: Duration,
    /// No agents: a person hears the campaign's message, then the call ends.
    pub agentless: bool,
    /// Agentless with a survey: a person takes it instead of hearing the message.
    pub survey: Option<survey::Script>,
    /// Record bridged calls.
    pub record: bool,
    /// Play the recording announcement ([`Prompt::Announce`]) to a person before an agent is
    /// asked for. The message counts as the connection for the connect limit (its start stops
    /// the abandon clock); the agent must then come within `connect_limit` of its end. Only
    /// with `record` and agents.
    pub announce: bool,
    /// The automated key-press opt-out offered in every prerecorded message (`None`: off).
    pub opt_out: Option<OptOut>,
}

/// The key-press opt-out of prerecorded messages (47 CFR 64.1200(b)(3)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptOut {
    /// The key that opts out (`dnc.opt_out_key`, default `9`).
    pub key: char,
    /// How long the key is still taken after the safe-harbor or agentless message ended.
    pub wait: Duration,
}

impl Default for OptOut {
    fn default() -> Self {
        Self {
            key: '9',
            wait: Duration::from_secs(1),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_limit: Duration::from_secs(2),
            connect_from: ConnectFrom::GreetingEnd,
            latency: Duration::ZERO,
            amd: true,
            amd_limit: Duration::from_secs(6),
            on_machine: OnMachine::HangUp,
            notsure_is_human: true,
            beep_wait: Duration::from_secs(20),
            agentless: false,
            survey: None,
            record: false,
            announce: false,
            opt_out: None,
        }
    }
}

/// Messages the flow plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// The identification message played to an abandoned call.
    SafeHarbor,
    /// The message left on an answering machine.
    Voicemail,
    /// The agentless campaign's message.
    Message,
    /// A prompt of the agentless campaign's survey.
    Survey(survey::SurveyPrompt),
    /// The confirmation played after the opt-out key.
    OptOutConfirm,
    /// "This call is recorded": played to a person before the agent (`recording.announce`).
    Announce,
}

impl Prompt {
    /// The message's name in stored evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            Prompt::SafeHarbor => "safe_harbor",
            Prompt::Voicemail => "voicemail",
            Prompt::Message => "message",
            Prompt::Survey(_) => "survey",
            Prompt::OptOutConfirm => "opt_out_confirm",
            Prompt::Announce => "recording_announce",
        }
    }
}

/// What happened, as the daemon learned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// 180/183 from the far end.
    Ringing,
    /// 200 OK: media is up; analysis starts.
    Answered,
    /// The call failed before an answer; `outcome` is the SIP layer's (busy, no answer, …).
    Failed {
        outcome: Outcome,
        sip_status: Option<u16>,
    },
    /// Our hang-up before the answer (CANCEL: ring timeout, shed, interrupted) crossed the far
    /// end's answer, and the SIP layer took the call down (BYE) before anyone was heard.
    /// Whoever answered was hung up on: stored as an abandoned live answer, the careful reading
    /// of the 2-second rule (we cannot know it was a machine).
    AnswerTakenDown {
        sip_status: u16,
    },
    /// The customer hung up (BYE, or media inactivity).
    CustomerHangup,
    /// AMD heard the person start speaking at `at` (the start of their first word).
    SpeechStarted {
        at: Instant,
    },
    /// The AMD decision; `speech_end`: when the person's speech ended as the detector saw it
    /// (`None`: nobody spoke).
    Amd {
        result: AmdResult,
        cause: String,
        speech_end: Option<Instant>,
    },
    /// The voicemail beep (or the machine's greeting ended with no beep).
    Beep,
    GreetingEnded,
    /// An agent was connected to this call (after [`Action::RequestAgent`]).
    Agent(AgentId),
    /// The agent hung up on the customer.
    AgentHangup,
    /// The message being played has ended by itself.
    PromptFinished,
    /// The message could not be played (no file, unreadable, no media leg): the call goes on as
    /// if it had ended, but nobody heard it.
    PromptFailed,
    /// The customer pressed a key (RFC 4733).
    Dtmf(char),
}

/// What the daemon must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start feeding the customer's audio to the AMD detector.
    StartAnalysis,
    /// Connect a ready agent now (answer with [`Input::Agent`]); asked again until granted or
    /// cancelled.
    RequestAgent,
    /// Stop looking for an agent.
    CancelAgentRequest,
    /// The person was abandoned, now: no agent within the limit (the message follows), or they
    /// hung up waiting, or our hang-up crossed their answer. Once per call, before `Finished`.
    Abandoned,
    /// Bridge the customer to the agent's leg (and start recording if asked).
    Bridge { agent: AgentId, record: bool },
    /// Play a message to the customer.
    Play(Prompt),
    /// Stop the message being played (its end is not reported).
    StopPrompt,
    /// The customer pressed the opt-out key during (or right after) `message`: put the number on
    /// the DNC list now and store the evidence. Once per call, before the confirmation plays.
    OptOut { key: char, message: Prompt },
    /// Store the customer's answer to a survey question.
    SurveyAnswer {
        question: String,
        key: char,
        value: String,
    },
    /// Hang up the customer's leg.
    HangUp,
    /// The call is over: store the attempt.
    Finished(Summary),
}

/// The attempt as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The final outcome: human, abandoned, machine, answered (hung up during AMD), or the SIP
    /// layer's before an answer (busy, no answer, …).
    pub outcome: Outcome,
    pub sip_status: Option<u16>,
    pub dialed: Instant,
    pub ringing: Option<Instant>,
    pub answered: Option<Instant>,
    pub amd: Option<(AmdResult, String)>,
    /// When the call was recognised as a person or machine.
    pub decided: Option<Instant>,
    pub connected: Option<Instant>,
    pub agent: Option<AgentId>,
    pub abandoned: bool,
    pub voicemail_left: bool,
    /// When the message to the customer started playing: the voicemail drop, the safe-harbor
    /// message, an agentless campaign's message, or the recording announcement.
    pub message_at: Option<Instant>,
    /// When the customer pressed the opt-out key (the lead goes on the DNC list).
    pub opted_out: Option<Instant>,
    pub ended: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Dialing,
    Analysing {
        deadline: Instant,
    },
    WaitingAgent {
        deadline: Instant,
    },
    /// The recording announcement plays to the person; `from`: when the connect limit counted
    /// from (the announcement could not be played: that limit still holds).
    Announcing {
        from: Instant,
    },
    Bridged,
    SafeHarbor,
    WaitingBeep {
        deadline: Instant,
    },
    Voicemail,
    Message,
    Survey,
    /// The message ended; the opt-out key is still taken until the deadline.
    OptOutWait {
        deadline: Instant,
        message: Prompt,
    },
    /// The opt-out confirmation plays; then the hang-up.
    OptOutConfirm,
    HangingUp,
    Done,
}

/// One call's flow.
#[derive(Debug)]
pub struct Flow {
    settings: Settings,
    stage: Stage,
    summary: Summary,
    actions: VecDeque<Action>,
    ivr: Option<survey::Ivr>,
    /// When the person started speaking (AMD), for the UK's connect limit.
    speech_start: Option<Instant>,
    /// The recording announcement could not be played: the call is not recorded.
    unannounced: bool,
}

impl Flow {
    /// A call dialed at `now`.
    pub fn new(now: Instant, settings: Settings) -> Self {
        Self {
            settings,
            stage: Stage::Dialing,
            summary: Summary {
                outcome: Outcome::Failed,
                sip_status: None,
                dialed: now,
                ringing: None,
                answered: None,
                amd: None,
                decided: None,
                connected: None,
                agent: None,
                abandoned: false,
                voicemail_left: false,
                message_at: None,
                opted_out: None,
                ended: now,
            },
            actions: VecDeque::new(),
            ivr: None,
            speech_start: None,
            unannounced: false,
        }
    }

    /// Feed one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        if self.stage == Stage::Done {
            return;
        }
        match input {
            Input::Ringing => {
                if self.stage == Stage::Dialing && self.summary.ringing.is_none() {
                    self.summary.ringing = Some(now);
                }
            }
            Input::Answered => {
                if self.stage != Stage::Dialing {
                    return;
                }
                self.summary.answered = Some(now);
                self.summary.sip_status = Some(200);
                if self.settings.amd {
                    self.stage = Stage::Analysing {
                        deadline: now + self.settings.amd_limit,
                    };
                    self.actions.push_back(Action::StartAnalysis);
                } else {
                    self.person(now, None);
                }
            }
            Input::Failed {
                outcome,
                sip_status,
            } => {
                self.summary.sip_status = sip_status;
                self.summary.outcome = outcome;
                self.finish(now);
            }
            Input::AnswerTakenDown { sip_status } => {
                self.summary.sip_status = Some(sip_status);
                self.summary.answered = Some(now);
                self.abandon();
                self.finish(now);
            }
            Input::SpeechStarted { at } => {
                if matches!(self.stage, Stage::Analysing { .. }) && self.speech_start.is_none() {
                    self.speech_start = Some(at);
                }
            }
            Input::Amd {
                result,
                cause,
                speech_end,
            } => {
                if !matches!(self.stage, Stage::Analysing { .. }) {
                    return;
                }
                self.summary.amd = Some((result, cause));
                let human = match result {
                    AmdResult::Human => true,
                    AmdResult::Machine => false,
                    AmdResult::NotSure => self.settings.notsure_is_human,
                };
                if human {
                    self.person(now, speech_end);
                } else {
                    self.machine(now);
                }
            }
            Input::Beep | Input::GreetingEnded => {
                if let Stage::WaitingBeep { .. } = self.stage {
                    self.leave_voicemail(now);
                }
            }
            Input::Agent(agent) => {
                if let Stage::WaitingAgent { .. } = self.stage {
                    self.summary.connected = Some(now);
                    self.summary.agent = Some(agent.clone());
                    self.summary.outcome = Outcome::Human;
                    self.stage = Stage::Bridged;
                    self.actions.push_back(Action::Bridge {
                        agent,
                        record: self.settings.record && !self.unannounced,
                    });
                }
            }
            Input::CustomerHangup => {
                if let Stage::WaitingAgent { .. } = self.stage {
                    self.actions.push_back(Action::CancelAgentRequest);
                    self.abandon();
                }
                // Gone during the recording announcement, before any agent: counted as
                // abandoned (the stricter reading; the rate never hides a person no one took).
                if let Stage::Announcing { .. } = self.stage {
                    self.abandon();
                }
                if matches!(self.stage, Stage::Analysing { .. }) {
                    // Hung up during analysis: a person or a machine, nobody can tell.
                    self.summary.outcome = Outcome::Answered;
                }
                self.finish(now);
            }
            Input::AgentHangup => {
                if self.stage == Stage::Bridged {
                    self.hang_up();
                }
            }
            Input::PromptFinished => match self.stage {
                Stage::SafeHarbor | Stage::Message => match self.settings.opt_out {
                    Some(o) if !o.wait.is_zero() => {
                        let message = if self.stage == Stage::SafeHarbor {
                            Prompt::SafeHarbor
                        } else {
                            Prompt::Message
                        };
                        self.stage = Stage::OptOutWait {
                            deadline: now + o.wait,
                            message,
                        };
                    }
                    _ => self.hang_up(),
                },
                Stage::Voicemail | Stage::OptOutConfirm => self.hang_up(),
                // The announcement was the connection: an agent within the limit of its end.
                Stage::Announcing { .. } => self.wait_agent(now, now),
                Stage::Survey => {
                    if let Some(ivr) = &mut self.ivr {
                        ivr.prompt_finished(now);
                    }
                    self.pump_survey();
                }
                _ => {}
            },
            Input::PromptFailed => match self.stage {
                Stage::OptOutConfirm => self.hang_up(),
                // Nobody heard it: no recording, and the limit from the greeting still holds.
                Stage::Announcing { from } => {
                    self.summary.message_at = None;
                    self.unannounced = true;
                    self.wait_agent(now, from);
                }
                Stage::SafeHarbor | Stage::Voicemail | Stage::Message => {
                    self.summary.message_at = None;
                    self.summary.voicemail_left = false;
                    self.hang_up();
                }
                // A survey prompt that cannot be played: the question still takes keys.
                Stage::Survey => {
                    if let Some(ivr) = &mut self.ivr {
                        ivr.prompt_finished(now);
                    }
                    self.pump_survey();
                }
                _ => {}
            },
            Input::Dtmf(digit) if self.is_opt_out(digit) => {
                if let Some(message) = self.message_playing() {
                    self.opt_out(now, digit, message);
                }
            }
            Input::Dtmf(digit) => {
                if self.stage == Stage::Survey {
                    if let Some(ivr) = &mut self.ivr {
                        ivr.key(digit);
                    }
                    self.pump_survey();
                }
            }
        }
        self.finish_if_hung_up(now);
    }

    /// End the call now (the daemon is stopping): a call not answered yet is `interrupted`; an
    /// answered one keeps what it was found to be.
    pub fn abort(&mut self, now: Instant) {
        match self.stage {
            Stage::Done => return,
            Stage::Dialing => self.summary.outcome = Outcome::Interrupted,
            Stage::Analysing { .. } => self.summary.outcome = Outcome::Answered,
            Stage::WaitingAgent { .. } => {
                self.actions.push_back(Action::CancelAgentRequest);
                self.abandon();
            }
            // A person hearing the recording announcement, not yet given to an agent: nobody
            // took them, so abandoned, as when they hang up during it.
            Stage::Announcing { .. } => self.abandon(),
            _ => {}
        }
        self.actions.push_back(Action::HangUp);
        self.finish(now);
    }

    /// Apply expired deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.stage {
            Stage::WaitingAgent { deadline } if now >= deadline => {
                self.actions.push_back(Action::CancelAgentRequest);
                self.abandon();
                self.stage = Stage::SafeHarbor;
                self.play(now, Prompt::SafeHarbor);
            }
            Stage::WaitingBeep { deadline } if now >= deadline => self.leave_voicemail(now),
            Stage::OptOutWait { deadline, .. } if now >= deadline => {
                self.hang_up();
                self.finish_if_hung_up(now);
            }
            Stage::Survey => {
                if let Some(ivr) = &mut self.ivr {
                    ivr.handle_timeout(now);
                }
                self.pump_survey();
                self.finish_if_hung_up(now);
            }
            Stage::Analysing { .. } if self.uk_limit().is_some_and(|t| now >= t) => self.handle(
                now,
                Input::Amd {
                    result: AmdResult::NotSure,
                    cause: "connect-limit".to_owned(),
                    speech_end: None,
                },
            ),
            Stage::Analysing { deadline } if now >= deadline => self.handle(
                now,
                Input::Amd {
                    result: AmdResult::NotSure,
                    cause: "no-decision".to_owned(),
                    speech_end: None,
                },
            ),
            _ => {}
        }
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.stage {
            Stage::Analysing { deadline } => {
                Some(self.uk_limit().map_or(deadline, |t| t.min(deadline)))
            }
            Stage::WaitingAgent { deadline }
            | Stage::WaitingBeep { deadline }
            | Stage::OptOutWait { deadline, .. } => Some(deadline),
            Stage::Survey => self.ivr.as_ref().and_then(|i| i.poll_timeout()),
            _ => None,
        }
    }

    /// The next action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// What is known of the call so far (its outcome is final only once it is done).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// True once [`Action::Finished`] has been queued.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// True while the customer waits for an agent.
    pub fn wants_agent(&self) -> bool {
        matches!(self.stage, Stage::WaitingAgent { .. })
    }

    /// True once the call was found to be a machine (hung up on, or waiting to leave a message).
    pub fn is_machine(&self) -> bool {
        self.summary.outcome == Outcome::Machine
    }

    /// Whether `digit` is the opt-out key of a message being played (or just ended).
    fn is_opt_out(&self, digit: char) -> bool {
        self.settings.opt_out.is_some_and(|o| o.key == digit) && self.message_playing().is_some()
    }

    /// The prerecorded message the customer hears now (or heard just now, within the wait).
    fn message_playing(&self) -> Option<Prompt> {
        match self.stage {
            Stage::SafeHarbor => Some(Prompt::SafeHarbor),
            Stage::Voicemail => Some(Prompt::Voicemail),
            Stage::Message => Some(Prompt::Message),
            Stage::Survey => Some(Prompt::Survey(
                self.ivr
                    .as_ref()
                    .and_then(|i| i.playing())
                    .unwrap_or(survey::SurveyPrompt::Intro),
            )),
            Stage::OptOutWait { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The opt-out key: stop the message, store it, confirm, hang up after the confirmation.
    fn opt_out(&mut self, now: Instant, key: char, message: Prompt) {
        self.summary.opted_out = Some(now);
        if !matches!(self.stage, Stage::OptOutWait { .. }) {
            self.actions.push_back(Action::StopPrompt);
        }
        self.actions.push_back(Action::OptOut { key, message });
        self.stage = Stage::OptOutConfirm;
        self.actions.push_back(Action::Play(Prompt::OptOutConfirm));
    }

    /// The connect deadline counted from `from`: `latency` before the limit, never before `now`.
    fn connect_deadline(&self, now: Instant, from: Instant) -> Instant {
        let limit = from + self.settings.connect_limit;
        limit
            .checked_sub(self.settings.latency)
            .unwrap_or(limit)
            .max(now)
    }

    /// UK, while AMD analyses: the connect deadline once the person has started speaking (AMD
    /// must have decided by then).
    fn uk_limit(&self) -> Option<Instant> {
        if self.settings.connect_from != ConnectFrom::GreetingStart {
            return None;
        }
        let from = self.speech_start?;
        let limit = from + self.settings.connect_limit;
        Some(limit.checked_sub(self.settings.latency).unwrap_or(limit))
    }

    /// A person: an agent, the agentless message or survey. `speech_end`: when their speech
    /// ended as AMD heard it.
    fn person(&mut self, now: Instant, speech_end: Option<Instant>) {
        self.summary.decided = Some(now);
        self.summary.outcome = Outcome::Human;
        // `person` runs once per call: the survey's script moves into its IVR.
        if let Some(script) = self
            .settings
            .survey
            .take()
            .filter(|_| self.settings.agentless)
        {
            let mut ivr = survey::Ivr::new(script);
            ivr.start();
            self.ivr = Some(ivr);
            self.stage = Stage::Survey;
            self.pump_survey();
        } else if self.settings.agentless {
            self.stage = Stage::Message;
            self.play(now, Prompt::Message);
        } else {
            let answered = self.summary.answered.unwrap_or(now);
            let from = match self.settings.connect_from {
                ConnectFrom::GreetingEnd => speech_end,
                ConnectFrom::GreetingStart => self.speech_start,
            };
            let from = from.unwrap_or(answered);
            if self.settings.announce && self.settings.record {
                self.stage = Stage::Announcing { from };
                self.play(now, Prompt::Announce);
            } else {
                self.wait_agent(now, from);
            }
        }
    }

    /// Ask for an agent, who must come within the connect limit counted from `from`.
    fn wait_agent(&mut self, now: Instant, from: Instant) {
        self.stage = Stage::WaitingAgent {
            deadline: self.connect_deadline(now, from),
        };
        self.actions.push_back(Action::RequestAgent);
    }

    fn machine(&mut self, now: Instant) {
        self.summary.decided = Some(now);
        self.summary.outcome = Outcome::Machine;
        match self.settings.on_machine {
            OnMachine::HangUp => self.hang_up(),
            OnMachine::Voicemail => {
                self.stage = Stage::WaitingBeep {
                    deadline: now + self.settings.beep_wait,
                };
            }
        }
    }

    /// Carry the survey's steps over into actions.
    fn pump_survey(&mut self) {
        let Some(ivr) = &mut self.ivr else {
            return;
        };
        let mut hang_up = false;
        while let Some(step) = ivr.poll_step() {
            self.actions.push_back(match step {
                survey::Step::Play(p) => Action::Play(Prompt::Survey(p)),
                survey::Step::StopPrompt => Action::StopPrompt,
                survey::Step::Answer {
                    question,
                    key,
                    value,
                } => Action::SurveyAnswer {
                    question,
                    key,
                    value,
                },
                survey::Step::HangUp => {
                    hang_up = true;
                    continue;
                }
            });
        }
        if hang_up {
            self.hang_up();
        }
    }

    fn leave_voicemail(&mut self, now: Instant) {
        self.summary.voicemail_left = true;
        self.stage = Stage::Voicemail;
        self.play(now, Prompt::Voicemail);
    }

    fn play(&mut self, now: Instant, prompt: Prompt) {
        self.summary.message_at = Some(now);
        self.actions.push_back(Action::Play(prompt));
    }

    fn abandon(&mut self) {
        if !self.summary.abandoned {
            self.actions.push_back(Action::Abandoned);
        }
        self.summary.abandoned = true;
        self.summary.outcome = Outcome::Abandoned;
    }

    fn hang_up(&mut self) {
        self.stage = Stage::HangingUp;
        self.actions.push_back(Action::HangUp);
    }

    fn finish_if_hung_up(&mut self, now: Instant) {
        if self.stage == Stage::HangingUp {
            self.finish(now);
        }
    }

    fn finish(&mut self, now: Instant) {
        self.summary.ended = now;
        self.stage = Stage::Done;
        self.actions
            .push_back(Action::Finished(self.summary.clone()));
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests;
