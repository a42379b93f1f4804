//! The agentless survey (press-1 IVR) that a person hears: the introduction, each question in
//! turn with its DTMF answer, and the closing message.
//!
//! [`Ivr`] is sans-IO like the rest of the flow. It is fed prompt ends, key presses and
//! deadlines, and yields [`Step`]s: play a prompt, stop the prompt being played (a key pressed
//! during a question answers it at once), store an answer, hang up.
//!
//! The rules: a key listed for the question stores that question's value and moves on; any other
//! key, or no key within `answer_wait` after the question ended, asks the question again, up to
//! `tries` times in all, and then moves on with no answer stored. Keys pressed during the
//! introduction or the closing message are ignored.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// One question as the IVR needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Stored with each answer.
    pub id: String,
    /// DTMF key → stored value.
    pub answers: BTreeMap<char, String>,
}

/// A survey's script and timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub intro: bool,
    pub questions: Vec<Question>,
    pub outro: bool,
    /// How long after a question ends a key is waited for.
    pub answer_wait: Duration,
    /// How many times a question is asked before it is left unanswered (at least 1).
    pub tries: u32,
}

impl Script {
    /// A script with the usual timing: 6 s to answer, each question asked at most twice.
    pub fn new(intro: bool, questions: Vec<Question>, outro: bool) -> Self {
        Self {
            intro,
            questions,
            outro,
            answer_wait: Duration::from_secs(6),
            tries: 2,
        }
    }
}

/// What the survey plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyPrompt {
    Intro,
    /// The question with this index in the script.
    Question(usize),
    Outro,
}

/// What the IVR asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Play(SurveyPrompt),
    /// Stop the prompt being played (no end of it is to be reported).
    StopPrompt,
    /// Store an answer: the key pressed and the value it stands for.
    Answer {
        question: String,
        key: char,
        value: String,
    },
    /// The survey is over: hang up.
    HangUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Intro,
    /// Question `i` is being played (`try_no` from 1).
    Asking {
        i: usize,
        try_no: u32,
    },
    /// Question `i` was played; a key is waited for until `deadline`.
    Waiting {
        i: usize,
        try_no: u32,
        deadline: Instant,
    },
    Outro,
    Over,
}

/// One call's survey.
#[derive(Debug)]
pub struct Ivr {
    script: Script,
    state: State,
    steps: VecDeque<Step>,
    answered: u32,
}

impl Ivr {
    pub fn new(script: Script) -> Self {
        Self {
            script,
            state: State::NotStarted,
            steps: VecDeque::new(),
            answered: 0,
        }
    }

    /// The person is on the line: start.
    pub fn start(&mut self) {
        if self.state != State::NotStarted {
            return;
        }
        if self.script.intro {
            self.state = State::Intro;
            self.steps.push_back(Step::Play(SurveyPrompt::Intro));
        } else {
            self.ask(0, 1);
        }
    }

    /// The prompt being played ended by itself.
    pub fn prompt_finished(&mut self, now: Instant) {
        match self.state {
            State::Intro => self.ask(0, 1),
            State::Asking { i, try_no } => {
                self.state = State::Waiting {
                    i,
                    try_no,
                    deadline: now + self.script.answer_wait,
                }
            }
            State::Outro => self.end(),
            State::NotStarted | State::Waiting { .. } | State::Over => {}
        }
    }

    /// A key was pressed.
    pub fn key(&mut self, digit: char) {
        let (i, try_no, playing) = match self.state {
            State::Asking { i, try_no } => (i, try_no, true),
            State::Waiting { i, try_no, .. } => (i, try_no, false),
            _ => return,
        };
        if playing {
            self.steps.push_back(Step::StopPrompt);
        }
        let q = &self.script.questions[i];
        match q.answers.get(&digit) {
            Some(value) => {
                self.steps.push_back(Step::Answer {
                    question: q.id.clone(),
                    key: digit,
                    value: value.clone(),
                });
                self.answered += 1;
                self.next(i);
            }
            None => self.again(i, try_no),
        }
    }

    /// Apply an expired answer deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Waiting {
            i,
            try_no,
            deadline,
        } = self.state
            && now >= deadline
        {
            self.again(i, try_no);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    pub fn poll_step(&mut self) -> Option<Step> {
        self.steps.pop_front()
    }

    /// The prompt being played, or the question waiting for its key (`None` before the start
    /// and once over).
    pub fn playing(&self) -> Option<SurveyPrompt> {
        match self.state {
            State::Intro => Some(SurveyPrompt::Intro),
            State::Asking { i, .. } | State::Waiting { i, .. } => Some(SurveyPrompt::Question(i)),
            State::Outro => Some(SurveyPrompt::Outro),
            State::NotStarted | State::Over => None,
        }
    }

    /// Answers stored so far.
    pub fn answered(&self) -> u32 {
        self.answered
    }

    /// Every question was reached (answered or given up on) and the survey ended.
    pub fn is_over(&self) -> bool {
        self.state == State::Over
    }

    fn ask(&mut self, i: usize, try_no: u32) {
        if i >= self.script.questions.len() {
            if self.script.outro {
                self.state = State::Outro;
                self.steps.push_back(Step::Play(SurveyPrompt::Outro));
            } else {
                self.end();
            }
            return;
        }
        self.state = State::Asking { i, try_no };
        self.steps.push_back(Step::Play(SurveyPrompt::Question(i)));
    }

    fn again(&mut self, i: usize, try_no: u32) {
        if try_no < self.script.tries.max(1) {
            self.ask(i, try_no + 1);
        } else {
            self.next(i);
        }
    }

    fn next(&mut self, i: usize) {
        self.ask(i + 1, 1);
    }

    fn end(&mut self) {
        self.state = State::Over;
        self.steps.push_back(Step::HangUp);
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "tests start a virtual clock at a real instant; the code only gets `now` passed in"
)]
mod tests {
    use super::*;

    fn script(intro: bool, outro: bool) -> Script {
        let q = |id: &str, keys: &[(char, &str)]| Question {
            id: id.into(),
            answers: keys.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        };
        Script::new(
            intro,
            vec![
                q("satisfied", &[('1', "yes"), ('2', "no")]),
                q("recommend", &[('1', "1"), ('5', "5")]),
            ],
            outro,
        )
    }

    fn drain(ivr: &mut Ivr) -> Vec<Step> {
        std::iter::from_fn(|| ivr.poll_step()).collect()
    }

    fn answer(q: &str, k: char, v: &str) -> Step {
        Step::Answer {
            question: q.into(),
            key: k,
            value: v.into(),
        }
    }

    #[test]
    fn intro_questions_answers_outro_then_hang_up() {
        let t = Instant::now();
        let mut ivr = Ivr::new(script(true, true));
        ivr.start();
        assert_eq!(drain(&mut ivr), [Step::Play(SurveyPrompt::Intro)]);
        ivr.key('1'); // during the intro: ignored
        assert_eq!(drain(&mut ivr), []);
        ivr.prompt_finished(t);
        assert_eq!(drain(&mut ivr), [Step::Play(SurveyPrompt::Question(0))]);
        ivr.prompt_finished(t);
        ivr.key('2');
        assert_eq!(
            drain(&mut ivr),
            [
                answer("satisfied", '2', "no"),
                Step::Play(SurveyPrompt::Question(1))
            ]
        );
        // Barge-in: a key during the question stops it and answers.
        ivr.key('5');
        assert_eq!(
            drain(&mut ivr),
            [
                Step::StopPrompt,
                answer("recommend", '5', "5"),
                Step::Play(SurveyPrompt::Outro)
            ]
        );
        assert!(!ivr.is_over());
        ivr.prompt_finished(t);
        assert_eq!(drain(&mut ivr), [Step::HangUp]);
        assert!(ivr.is_over());
        assert_eq!(ivr.answered(), 2);
    }

    #[test]
    fn a_wrong_key_or_silence_asks_again_then_moves_on() {
        let t = Instant::now();
        let mut ivr = Ivr::new(script(false, false));
        ivr.start();
        assert_eq!(drain(&mut ivr), [Step::Play(SurveyPrompt::Question(0))]);
        ivr.prompt_finished(t);
        ivr.key('9');
        assert_eq!(drain(&mut ivr), [Step::Play(SurveyPrompt::Question(0))]);
        ivr.prompt_finished(t);
        let deadline = ivr.poll_timeout().unwrap();
        assert_eq!(deadline, t + Duration::from_secs(6));
        ivr.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(drain(&mut ivr), []);
        // Second try unanswered: the question is left and the next one asked.
        ivr.handle_timeout(deadline);
        assert_eq!(drain(&mut ivr), [Step::Play(SurveyPrompt::Question(1))]);
        ivr.prompt_finished(t);
        ivr.key('1');
        assert_eq!(
            drain(&mut ivr),
            [answer("recommend", '1', "1"), Step::HangUp]
        );
        assert_eq!(ivr.answered(), 1);
        assert_eq!(ivr.poll_timeout(), None);
    }

    #[test]
    fn no_questions_plays_intro_and_outro() {
        let t = Instant::now();
        let mut ivr = Ivr::new(Script::new(true, vec![], true));
        ivr.start();
        ivr.prompt_finished(t);
        ivr.prompt_finished(t);
        assert_eq!(
            drain(&mut ivr),
            [
                Step::Play(SurveyPrompt::Intro),
                Step::Play(SurveyPrompt::Outro),
                Step::HangUp
            ]
        );
    }
}
