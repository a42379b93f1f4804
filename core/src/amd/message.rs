//! When to start a voicemail message: when the beep ends; or, when no beep comes within
//! `beep_wait_ms` of the greeting's end, then; or at `message_deadline_ms` whatever happens.

use serde::{Deserialize, Serialize};

use super::features::FrameClass;
use super::{FRAME_MS, Settings};

/// Why the message starts when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStartCause {
    /// The beep ended.
    AfterBeep,
    /// The greeting ended and no beep came within `beep_wait_ms`.
    NoBeep,
    /// `message_deadline_ms` of audio went by.
    Deadline,
}

/// Start the voicemail message now (`at_ms` of audio from the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStart {
    pub at_ms: u32,
    pub cause: MessageStartCause,
}

/// Tracks the end of a machine's greeting and its beep. Fed every frame; answers once.
#[derive(Debug, Clone)]
pub struct MessageGate {
    greeting_end_silence_ms: u32,
    beep_wait_ms: u32,
    deadline_ms: u32,
    /// Start of the current run of non-voice frames, if in one.
    quiet_since: Option<u32>,
    heard_voice: bool,
    beep_playing: bool,
    out: Option<MessageStart>,
    done: bool,
}

impl MessageGate {
    pub fn new(s: &Settings) -> Self {
        MessageGate {
            greeting_end_silence_ms: s.greeting_end_silence_ms,
            beep_wait_ms: s.beep_wait_ms.max(s.greeting_end_silence_ms),
            deadline_ms: s.message_deadline_ms,
            quiet_since: None,
            heard_voice: false,
            beep_playing: false,
            out: None,
            done: false,
        }
    }

    /// Feed one frame that starts at `frame_start_ms`, with the beep events of that frame.
    pub fn push(
        &mut self,
        frame_start_ms: u32,
        class: FrameClass,
        beep_started: bool,
        beep_ended_at: Option<u32>,
    ) {
        if self.done {
            return;
        }
        let end_ms = frame_start_ms + FRAME_MS;
        if beep_started {
            self.beep_playing = true;
        }
        if let Some(at_ms) = beep_ended_at {
            self.beep_playing = false;
            return self.start(at_ms, MessageStartCause::AfterBeep);
        }
        if class == FrameClass::Voice {
            self.heard_voice = true;
            self.quiet_since = None;
        } else if self.quiet_since.is_none() {
            self.quiet_since = Some(frame_start_ms);
        }
        if !self.beep_playing
            && self.heard_voice
            && let Some(q) = self.quiet_since
        {
            let quiet = end_ms - q;
            if quiet >= self.greeting_end_silence_ms && quiet >= self.beep_wait_ms {
                return self.start(end_ms, MessageStartCause::NoBeep);
            }
        }
        if end_ms >= self.deadline_ms {
            self.start(end_ms, MessageStartCause::Deadline);
        }
    }

    fn start(&mut self, at_ms: u32, cause: MessageStartCause) {
        self.out = Some(MessageStart { at_ms, cause });
        self.done = true;
    }

    /// The message start, once known (returned once).
    pub fn poll(&mut self) -> Option<MessageStart> {
        self.out.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(g: &mut MessageGate, from_ms: u32, to_ms: u32, class: FrameClass) {
        let mut t = from_ms;
        while t < to_ms {
            g.push(t, class, false, None);
            t += FRAME_MS;
        }
    }

    #[test]
    fn starts_when_the_beep_ends() {
        let mut g = MessageGate::new(&Settings::default());
        feed(&mut g, 0, 3000, FrameClass::Voice);
        feed(&mut g, 3000, 3300, FrameClass::Silence);
        g.push(3300, FrameClass::Tone, true, None);
        feed(&mut g, 3320, 3800, FrameClass::Tone);
        assert_eq!(g.poll(), None);
        g.push(3800, FrameClass::Silence, false, Some(3800));
        assert_eq!(
            g.poll(),
            Some(MessageStart {
                at_ms: 3800,
                cause: MessageStartCause::AfterBeep
            })
        );
        assert_eq!(g.poll(), None);
    }

    #[test]
    fn without_a_beep_starts_a_bounded_time_after_the_greeting() {
        let s = Settings::default();
        let mut g = MessageGate::new(&s);
        feed(&mut g, 0, 3000, FrameClass::Voice);
        // a pause inside the greeting does not end it
        feed(&mut g, 3000, 3600, FrameClass::Silence);
        feed(&mut g, 3600, 5000, FrameClass::Voice);
        feed(
            &mut g,
            5000,
            5000 + s.beep_wait_ms - FRAME_MS,
            FrameClass::Silence,
        );
        assert_eq!(g.poll(), None);
        feed(
            &mut g,
            5000 + s.beep_wait_ms - FRAME_MS,
            5000 + s.beep_wait_ms,
            FrameClass::Silence,
        );
        assert_eq!(
            g.poll(),
            Some(MessageStart {
                at_ms: 5000 + s.beep_wait_ms,
                cause: MessageStartCause::NoBeep
            })
        );
    }

    #[test]
    fn a_greeting_that_never_ends_hits_the_deadline() {
        let s = Settings::default();
        let mut g = MessageGate::new(&s);
        feed(&mut g, 0, s.message_deadline_ms, FrameClass::Voice);
        assert_eq!(g.poll().map(|m| m.cause), Some(MessageStartCause::Deadline));
    }
}
