//! Who answers the carrier's calls, and how they behave, sans-IO.
//!
//! [`Plan::draw`] decides a call's fate from the seeded RNG: outcome, ring time, and the
//! person's timings. [`Callee`] then plays it out once the call is up: inputs carry `now`
//! (`start`, `prompt_done`, `far_voice`, `handle_timeout`); actions ([`Action`]) and the next
//! deadline are pulled.
//!
//! - A person waits `greet_delay`, says "hello?", and listens. Spoken to (voice from our
//!   side: an agent, a message), they talk for `talk` and hang up. Not spoken to within
//!   `patience`, they ask "hello? anyone there?" once more, then hang up.
//! - A machine plays its greeting, then a beep, then records: it hangs up after `quiet` of
//!   silence (after a message, or with none) or at `max_record`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;

use super::CarrierConfig;
use crate::domain::Outcome;

/// What the carrier does with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Person,
    Machine,
    Busy,
    NoAnswer,
    Invalid,
    Congestion,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Person,
        Kind::Machine,
        Kind::Busy,
        Kind::NoAnswer,
        Kind::Invalid,
        Kind::Congestion,
    ];

    /// The config key (`carrier.mix.<key>`).
    pub fn key(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Machine => "machine",
            Kind::Busy => "busy",
            Kind::NoAnswer => "no_answer",
            Kind::Invalid => "invalid",
            Kind::Congestion => "congestion",
        }
    }

    /// The outcome the dialer should store for it.
    pub fn outcome(self) -> Outcome {
        match self {
            Kind::Person => Outcome::Human,
            Kind::Machine => Outcome::Machine,
            Kind::Busy => Outcome::Busy,
            Kind::NoAnswer => Outcome::NoAnswer,
            Kind::Invalid => Outcome::InvalidNumber,
            Kind::Congestion => Outcome::Congestion,
        }
    }

    /// The final status sent instead of an answer.
    pub fn status(self) -> Option<u16> {
        match self {
            Kind::Busy => Some(486),
            Kind::Invalid => Some(404),
            Kind::Congestion => Some(503),
            _ => None,
        }
    }
}

/// One call's fate, drawn when its INVITE comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub kind: Kind,
    /// INVITE to the answer (or to the rejection); `None`: rings until cancelled.
    pub ring: Option<Duration>,
    pub greet_delay: Duration,
    pub patience: Duration,
    pub talk: Duration,
}

impl Plan {
    pub fn draw(cfg: &CarrierConfig, rng: &mut impl Rng) -> Plan {
        let kind = cfg.mix.draw(rng);
        let ring = match kind {
            Kind::Person => Some(cfg.ring_person.draw(rng)),
            Kind::Machine => Some(cfg.ring_machine.draw(rng)),
            Kind::NoAnswer => None,
            _ => Some(cfg.reject_after.draw(rng)),
        };
        Plan {
            kind,
            ring,
            greet_delay: cfg.greet_delay.draw(rng),
            patience: cfg.patience.draw(rng),
            talk: cfg.talk.draw(rng),
        }
    }
}

/// A sound a simulated phone plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clip {
    Hello,
    HelloAgain,
    Talk,
    Greeting,
    Beep,
    AgentTalk,
}

/// What the shell must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Play(Clip),
    /// Stop what is playing.
    Stop,
    Hangup,
}

/// Why the callee hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupWhy {
    /// A person nobody spoke to.
    Silence,
    /// A person who was spoken to, after their talk time.
    Talked,
    /// A machine, after recording a message.
    MessageRecorded,
    /// A machine that heard nothing after its beep.
    NoMessage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    NotStarted,
    Greeting,
    Hello(u8),
    Listening(u8),
    Talking,
    VmGreeting,
    VmBeep,
    Recording,
    Done,
}

/// A person or an answering machine on an answered call.
#[derive(Debug)]
pub struct Callee {
    machine: bool,
    plan: Plan,
    quiet: Duration,
    max_record: Duration,
    st: St,
    deadline: Option<Instant>,
    record_cap: Option<Instant>,
    voice: bool,
    spoken_to: Option<Instant>,
    message_start: Option<Instant>,
    message_end: Option<Instant>,
    voice_before_beep: bool,
    why: Option<HangupWhy>,
    actions: VecDeque<Action>,
}

impl Callee {
    /// For a plan whose kind answers (person or machine).
    pub fn new(plan: &Plan, cfg: &CarrierConfig) -> Callee {
        Callee {
            machine: plan.kind == Kind::Machine,
            plan: *plan,
            quiet: cfg.voicemail_quiet,
            max_record: cfg.voicemail_max,
            st: St::NotStarted,
            deadline: None,
            record_cap: None,
            voice: false,
            spoken_to: None,
            message_start: None,
            message_end: None,
            voice_before_beep: false,
            why: None,
            actions: VecDeque::new(),
        }
    }

    /// The call is up (our 200 was ACKed).
    pub fn start(&mut self, now: Instant) {
        if self.st != St::NotStarted {
            return;
        }
        if self.machine {
            self.st = St::VmGreeting;
            self.actions.push_back(Action::Play(Clip::Greeting));
        } else {
            self.st = St::Greeting;
            self.deadline = Some(now + self.plan.greet_delay);
        }
    }

    /// The clip we last asked to play finished.
    pub fn prompt_done(&mut self, now: Instant) {
        match self.st {
            St::Hello(n) => {
                self.st = St::Listening(n);
                self.deadline = Some(now + self.plan.patience);
            }
            St::Talking => self.actions.push_back(Action::Play(Clip::Talk)),
            St::VmGreeting => {
                self.st = St::VmBeep;
                self.actions.push_back(Action::Play(Clip::Beep));
            }
            St::VmBeep => {
                self.st = St::Recording;
                self.deadline = Some(now + self.quiet);
                self.record_cap = Some(now + self.max_record);
            }
            _ => {}
        }
    }

    /// Voice from the dialer's side started (`true`) or stopped.
    pub fn far_voice(&mut self, now: Instant, on: bool) {
        self.voice = on;
        match self.st {
            St::Greeting | St::Hello(_) | St::Listening(_) if on => {
                if matches!(self.st, St::Hello(_)) {
                    self.actions.push_back(Action::Stop);
                }
                self.st = St::Talking;
                self.spoken_to = Some(now);
                self.deadline = Some(now + self.plan.talk);
                self.actions.push_back(Action::Play(Clip::Talk));
            }
            St::VmGreeting | St::VmBeep if on => self.voice_before_beep = true,
            St::Recording => {
                if on {
                    self.message_start.get_or_insert(now);
                    self.message_end = None;
                    self.deadline = self.record_cap;
                } else {
                    self.message_end = Some(now);
                    self.deadline = [Some(now + self.quiet), self.record_cap]
                        .into_iter()
                        .flatten()
                        .min();
                }
            }
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| d > now) {
            return;
        }
        self.deadline = None;
        match self.st {
            St::Greeting => {
                self.st = St::Hello(1);
                self.actions.push_back(Action::Play(Clip::Hello));
            }
            St::Listening(1) => {
                self.st = St::Hello(2);
                self.actions.push_back(Action::Play(Clip::HelloAgain));
            }
            St::Listening(_) => self.hang_up(HangupWhy::Silence),
            St::Talking => {
                self.actions.push_back(Action::Stop);
                self.hang_up(HangupWhy::Talked);
            }
            St::Recording => {
                if self.voice {
                    self.message_end = Some(now);
                }
                let why = if self.message_start.is_some() {
                    HangupWhy::MessageRecorded
                } else {
                    HangupWhy::NoMessage
                };
                self.hang_up(why);
            }
            _ => {}
        }
    }

    fn hang_up(&mut self, why: HangupWhy) {
        self.st = St::Done;
        self.why = Some(why);
        self.actions.push_back(Action::Hangup);
    }

    /// The far end hung up: nothing more to do.
    pub fn far_hangup(&mut self) {
        self.st = St::Done;
        self.deadline = None;
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Why we hung up, when we did.
    pub fn hangup_reason(&self) -> Option<HangupWhy> {
        self.why
    }

    /// When a person was first spoken to.
    pub fn spoken_to(&self) -> Option<Instant> {
        self.spoken_to
    }

    /// The message a machine recorded: its length.
    pub fn message(&self) -> Option<Duration> {
        let start = self.message_start?;
        Some(
            self.message_end
                .unwrap_or(start)
                .saturating_duration_since(start),
        )
    }

    /// Whether the dialer's side spoke during the greeting or the beep.
    pub fn voice_before_beep(&self) -> bool {
        self.voice_before_beep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(kind: Kind) -> Plan {
        Plan {
            kind,
            ring: Some(Duration::from_secs(2)),
            greet_delay: Duration::from_millis(300),
            patience: Duration::from_secs(3),
            talk: Duration::from_secs(10),
        }
    }

    fn drain(c: &mut Callee) -> Vec<Action> {
        std::iter::from_fn(|| c.poll_action()).collect()
    }

    #[test]
    fn person_not_spoken_to_asks_again_then_hangs_up() {
        let cfg = CarrierConfig::default();
        let t0 = Instant::now();
        let mut c = Callee::new(&plan(Kind::Person), &cfg);
        c.start(t0);
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_millis(300)));
        let t = t0 + Duration::from_millis(300);
        c.handle_timeout(t);
        assert_eq!(drain(&mut c), vec![Action::Play(Clip::Hello)]);
        let t = t + Duration::from_secs(1);
        c.prompt_done(t);
        c.handle_timeout(t + Duration::from_millis(2999));
        assert!(drain(&mut c).is_empty());
        let t = t + Duration::from_secs(3);
        c.handle_timeout(t);
        assert_eq!(drain(&mut c), vec![Action::Play(Clip::HelloAgain)]);
        let t = t + Duration::from_secs(2);
        c.prompt_done(t);
        c.handle_timeout(t + Duration::from_secs(3));
        assert_eq!(drain(&mut c), vec![Action::Hangup]);
        assert_eq!(c.hangup_reason(), Some(HangupWhy::Silence));
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn person_spoken_to_talks_then_hangs_up() {
        let cfg = CarrierConfig::default();
        let t0 = Instant::now();
        let mut c = Callee::new(&plan(Kind::Person), &cfg);
        c.start(t0);
        c.handle_timeout(t0 + Duration::from_millis(300));
        drain(&mut c);
        let t = t0 + Duration::from_millis(700);
        c.far_voice(t, true); // the agent speaks while we say hello
        assert_eq!(drain(&mut c), vec![Action::Stop, Action::Play(Clip::Talk)]);
        assert_eq!(c.spoken_to(), Some(t));
        c.prompt_done(t + Duration::from_secs(5));
        assert_eq!(drain(&mut c), vec![Action::Play(Clip::Talk)]);
        c.far_voice(t + Duration::from_secs(6), false);
        c.handle_timeout(t + Duration::from_secs(10));
        assert_eq!(drain(&mut c), vec![Action::Stop, Action::Hangup]);
        assert_eq!(c.hangup_reason(), Some(HangupWhy::Talked));
    }

    #[test]
    fn machine_greets_beeps_and_records_the_message() {
        let cfg = CarrierConfig::default();
        let t0 = Instant::now();
        let mut c = Callee::new(&plan(Kind::Machine), &cfg);
        c.start(t0);
        assert_eq!(drain(&mut c), vec![Action::Play(Clip::Greeting)]);
        c.prompt_done(t0 + Duration::from_secs(7));
        assert_eq!(drain(&mut c), vec![Action::Play(Clip::Beep)]);
        let t = t0 + Duration::from_millis(7400);
        c.prompt_done(t);
        assert!(!c.voice_before_beep());
        c.far_voice(t + Duration::from_millis(200), true);
        c.handle_timeout(t + Duration::from_secs(5)); // talking: no quiet deadline
        assert!(drain(&mut c).is_empty());
        c.far_voice(t + Duration::from_millis(8200), false);
        c.handle_timeout(t + Duration::from_millis(8200) + cfg.voicemail_quiet);
        assert_eq!(drain(&mut c), vec![Action::Hangup]);
        assert_eq!(c.hangup_reason(), Some(HangupWhy::MessageRecorded));
        assert_eq!(c.message(), Some(Duration::from_secs(8)));
    }

    #[test]
    fn machine_with_no_message_hangs_up_after_quiet() {
        let cfg = CarrierConfig::default();
        let t0 = Instant::now();
        let mut c = Callee::new(&plan(Kind::Machine), &cfg);
        c.start(t0);
        c.far_voice(t0 + Duration::from_secs(1), true); // spoke over the greeting
        c.far_voice(t0 + Duration::from_secs(2), false);
        c.prompt_done(t0 + Duration::from_secs(7));
        c.prompt_done(t0 + Duration::from_millis(7400));
        drain(&mut c);
        assert!(c.voice_before_beep());
        c.handle_timeout(t0 + Duration::from_millis(7400) + cfg.voicemail_quiet);
        assert_eq!(drain(&mut c), vec![Action::Hangup]);
        assert_eq!(c.hangup_reason(), Some(HangupWhy::NoMessage));
        assert_eq!(c.message(), None);
    }

    #[test]
    fn plans_follow_the_config() {
        use rand::SeedableRng;
        let cfg = CarrierConfig::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..500 {
            let p = Plan::draw(&cfg, &mut rng);
            match p.kind {
                Kind::Person => {
                    let r = p.ring.unwrap();
                    assert!(r >= cfg.ring_person.min && r <= cfg.ring_person.max);
                }
                Kind::Machine => {
                    let r = p.ring.unwrap();
                    assert!(r >= cfg.ring_machine.min && r <= cfg.ring_machine.max);
                }
                Kind::NoAnswer => assert_eq!(p.ring, None),
                k => {
                    assert!(k.status().is_some());
                    assert!(p.ring.unwrap() <= cfg.reject_after.max);
                }
            }
            assert!(p.talk >= cfg.talk.min && p.talk <= cfg.talk.max);
        }
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut b = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        assert_eq!(Plan::draw(&cfg, &mut a), Plan::draw(&cfg, &mut b));
    }
}
