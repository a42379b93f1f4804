//! Abandon accounting: the share of live answers left without an agent, per campaign window.
//!
//! US (FTC TSR / FCC TCPA): abandoned / live answers over a rolling 30 days. UK (Ofcom): per
//! calendar day, with a reasoned estimate of people whom AMD called machines added to both the
//! abandoned and the live counts. The type is pure and seeded from the counts the store returns
//! for the window ([`AbandonBudget::from_history`]), so a restart does not reset it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// The accounting window of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// US: the last 30 days, rolling.
    #[default]
    Rolling30Days,
    /// UK: midnight to midnight in the campaign's zone.
    CalendarDay,
}

#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("cannot compute the start of the abandon window: {0}")]
    Time(#[from] jiff::Error),
}

impl Window {
    /// Start of the window that contains `now`, as unix epoch milliseconds (UTC), the unit
    /// the store keeps (`*_at_ms`).
    pub fn start_ms(self, now: Timestamp, tz: &TimeZone) -> Result<i64, WindowError> {
        let start = match self {
            Window::Rolling30Days => now.checked_sub(SignedDuration::from_hours(30 * 24))?,
            Window::CalendarDay => now
                .to_zoned_datetime(tz.clone())
                .start_of_day()?
                .timestamp(),
        };
        Ok(start.as_millisecond())
    }
}

/// What the store counted over the window so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowCounts {
    /// Calls answered by a person (abandoned ones included).
    pub live_answers: u64,
    /// Of those, the ones no agent took within 2 s.
    pub abandoned: u64,
    /// Calls AMD called machines (UK: some of them were people).
    pub amd_machines: u64,
}

/// Abandon budget of one campaign over its window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbandonBudget {
    cap: f64,
    live: u64,
    abandoned: u64,
    machines: u64,
    amd_false_positive_rate: f64,
    /// Live answers the caller expects the window to bring still (0: not known).
    expected_more: f64,
}

impl AbandonBudget {
    /// An empty window with the cap (e.g. 0.03) and the estimated share of AMD "machine"
    /// results that were people (0 for US accounting).
    pub fn new(cap: f64, amd_false_positive_rate: f64) -> Self {
        Self::from_history(cap, amd_false_positive_rate, WindowCounts::default())
    }

    pub fn from_history(cap: f64, amd_false_positive_rate: f64, c: WindowCounts) -> Self {
        AbandonBudget {
            cap: cap.clamp(0.0, 1.0),
            live: c.live_answers,
            abandoned: c.abandoned.min(c.live_answers),
            machines: c.amd_machines,
            amd_false_positive_rate: amd_false_positive_rate.clamp(0.0, 1.0),
            expected_more: 0.0,
        }
    }

    /// The budget of a campaign's `window` from what the store counted in it: a US window
    /// (rolling 30 days) counts no people among AMD machines, a UK day counts
    /// `amd_false_positive_rate` of them as abandoned people.
    pub fn for_window(
        window: Window,
        cap: f64,
        amd_false_positive_rate: f64,
        c: WindowCounts,
    ) -> Self {
        let fp = match window {
            Window::Rolling30Days => 0.0,
            Window::CalendarDay => amd_false_positive_rate,
        };
        Self::from_history(cap, fp, c)
    }

    /// The same counts under a new cap and false-positive estimate (a reloaded campaign file
    /// whose window is unchanged: what the window holds so far stays counted).
    pub fn with_rules(self, cap: f64, amd_false_positive_rate: f64) -> Self {
        AbandonBudget {
            cap: cap.clamp(0.0, 1.0),
            amd_false_positive_rate: amd_false_positive_rate.clamp(0.0, 1.0),
            ..self
        }
    }

    /// What the window has counted: the store's counts it started from and every call since.
    pub fn counts(&self) -> WindowCounts {
        WindowCounts {
            live_answers: self.live,
            abandoned: self.abandoned,
            amd_machines: self.machines,
        }
    }

    /// The window moved on (a new calendar day; the rolling 30 days re-read): restart from
    /// `stored`, the store's counts for the window as it is now, read after `before` was taken
    /// from this budget ([`Self::counts`]), plus what this budget counted since `before`. Those
    /// calls' records may not have reached the store when it was read; if they had, they count
    /// twice, which raises the rate (the same call added to abandons and live answers): the
    /// stricter reading.
    pub fn rolled(self, stored: WindowCounts, before: WindowCounts) -> Self {
        let since = |now: u64, then: u64| now.saturating_sub(then);
        let live = stored.live_answers + since(self.live, before.live_answers);
        AbandonBudget {
            live,
            abandoned: (stored.abandoned + since(self.abandoned, before.abandoned)).min(live),
            machines: stored.amd_machines + since(self.machines, before.amd_machines),
            ..self
        }
    }

    /// The live answers the window is expected to bring still (e.g. the rest of a shift at the
    /// rate seen so far): the pacer may then plan the window's budget over the answers still to
    /// come instead of judging it only by those counted so far (see
    /// [`Predictive`](super::Predictive)). 0 (the default) means unknown.
    pub fn set_expected_more(&mut self, live_answers: f64) {
        self.expected_more = if live_answers.is_finite() {
            live_answers.max(0.0)
        } else {
            0.0
        };
    }

    /// Live answers the window is expected to bring still (0 when not known).
    pub fn expected_more(&self) -> f64 {
        self.expected_more
    }

    /// Abandons the window can still take now and stay at or under the cap once `more` further
    /// live answers have come; never negative.
    pub fn remaining_with(&self, more: f64) -> f64 {
        (self.cap * (self.live_answers() + more.max(0.0)) - self.abandoned()).max(0.0)
    }

    /// A person answered (whether or not an agent then took the call).
    pub fn record_live_answer(&mut self) {
        self.live += 1;
    }

    /// A person already counted by [`record_live_answer`](Self::record_live_answer) got no
    /// agent in time.
    pub fn record_abandon(&mut self) {
        self.abandoned = (self.abandoned + 1).min(self.live);
    }

    /// AMD called an answer a machine.
    pub fn record_amd_machine(&mut self) {
        self.machines += 1;
    }

    pub fn cap(&self) -> f64 {
        self.cap
    }

    /// AMD "machine" results in the window (UK: the base of the estimate of people among them).
    pub fn amd_machines(&self) -> u64 {
        self.machines
    }

    /// Live answers, with the estimated people among AMD machines.
    pub fn live_answers(&self) -> f64 {
        self.live as f64 + self.estimated_hidden_people()
    }

    /// Abandoned calls, with the estimated people among AMD machines (hung up on).
    pub fn abandoned(&self) -> f64 {
        self.abandoned as f64 + self.estimated_hidden_people()
    }

    fn estimated_hidden_people(&self) -> f64 {
        self.machines as f64 * self.amd_false_positive_rate
    }

    /// Abandon rate over the window (0 with no live answer yet).
    pub fn rate(&self) -> f64 {
        let l = self.live_answers();
        if l > 0.0 { self.abandoned() / l } else { 0.0 }
    }

    /// Abandons the window can still take now and stay at or under the cap; never negative.
    pub fn remaining(&self) -> f64 {
        (self.cap * self.live_answers() - self.abandoned()).max(0.0)
    }

    /// Used fraction of the budget: 0 = no abandon yet, ≥ 1 = at or over the cap.
    pub fn used(&self) -> f64 {
        let a = self.abandoned();
        if a <= 0.0 {
            return 0.0;
        }
        let allowed = self.cap * self.live_answers();
        if allowed <= 0.0 {
            f64::INFINITY
        } else {
            a / allowed
        }
    }

    /// At or over the cap: predictive must not dial ahead of agents.
    pub fn spent(&self) -> bool {
        self.used() >= 1.0
    }
}

/// A campaign's recent live answers, projected forward: what the window is told is still to come
/// ([`AbandonBudget::set_expected_more`]), the rate of the last [`LiveRate::SPAN`] (or of the
/// time watched, if shorter) over the next [`LiveRate::AHEAD`]. The daemon and the simulator
/// both project with it, so the simulator paces as the daemon does.
///
/// The window itself (30 rolling days, or the rest of a calendar day) is longer than that
/// horizon, but a campaign can stop or leave its hours at any time (the demo stops after a
/// minute): so it projects no further than half an hour, and nothing until it has watched the
/// campaign for [`LiveRate::WATCH`]. Until then the budget is judged by the answers in hand
/// only, and predictive keeps an abandon in hand on those alone
/// ([`Predictive`](super::Predictive)).
#[derive(Debug, Clone)]
pub struct LiveRate {
    /// How long the campaign must have been paced before anything is projected.
    watch: Duration,
    /// When the campaign was first paced.
    since: Option<Instant>,
    answers: VecDeque<Instant>,
}

impl Default for LiveRate {
    fn default() -> Self {
        Self::new(Self::WATCH)
    }
}

impl LiveRate {
    pub const SPAN: Duration = Duration::from_secs(15 * 60);
    pub const AHEAD: Duration = Duration::from_secs(30 * 60);
    /// How long a campaign is watched before its rate is projected: longer than the demo's
    /// minute, short enough that a small team is not left dialing progressively for its first
    /// half hour (docs/experiments/pacing.md, decision 0089).
    pub const WATCH: Duration = Duration::from_secs(5 * 60);

    /// A projection that starts once the campaign has been paced for `watch` (the simulator
    /// tries other values than [`Self::WATCH`]; never less than a second).
    pub fn new(watch: Duration) -> Self {
        LiveRate {
            watch: watch.max(Duration::from_secs(1)),
            since: None,
            answers: VecDeque::new(),
        }
    }

    /// A person answered at `now`.
    pub fn record(&mut self, now: Instant) {
        self.answers.push_back(now);
    }

    /// The live answers expected over the next [`Self::AHEAD`] (or the `left` of the window,
    /// when the caller knows it ends sooner), at the rate of the last [`Self::SPAN`] (of the
    /// time watched, while shorter); 0 until the campaign has been watched for `watch` (the
    /// first call starts the watch).
    pub fn expected_more(&mut self, now: Instant, left: Option<Duration>) -> f64 {
        let since = *self.since.get_or_insert(now);
        while self
            .answers
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > Self::SPAN)
        {
            self.answers.pop_front();
        }
        let watched = now.saturating_duration_since(since);
        if watched < self.watch {
            return 0.0;
        }
        let span = watched.min(Self::SPAN).as_secs_f64();
        let ahead = left.map_or(Self::AHEAD, |l| l.min(Self::AHEAD));
        self.answers.len() as f64 * ahead.as_secs_f64() / span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_budget_from_history() {
        let b = AbandonBudget::from_history(
            0.03,
            0.0,
            WindowCounts {
                live_answers: 1000,
                abandoned: 20,
                amd_machines: 500,
            },
        );
        assert!((b.rate() - 0.02).abs() < 1e-12);
        assert!((b.remaining() - 10.0).abs() < 1e-9);
        assert!(!b.spent());
    }

    #[test]
    fn uk_budget_adds_amd_false_positives() {
        // 1000 live, 20 abandoned, 500 machines of which 2 % were people:
        // (20 + 10) / (1000 + 10).
        let b = AbandonBudget::from_history(
            0.03,
            0.02,
            WindowCounts {
                live_answers: 1000,
                abandoned: 20,
                amd_machines: 500,
            },
        );
        assert!((b.rate() - 30.0 / 1010.0).abs() < 1e-12);
        assert!(b.remaining() < 0.31 && b.remaining() > 0.29);
    }

    #[test]
    fn spent_at_the_cap_and_remaining_never_negative() {
        let mut b = AbandonBudget::new(0.03, 0.0);
        assert!(!b.spent(), "an empty window is not spent");
        for _ in 0..10 {
            b.record_live_answer();
        }
        b.record_abandon();
        assert!(b.spent(), "1 in 10 is over 3 %");
        assert_eq!(b.remaining(), 0.0);
        for _ in 0..24 {
            b.record_live_answer();
        }
        assert!(!b.spent(), "1 in 34 is under 3 %");
        assert!(b.remaining() > 0.0);
    }

    #[test]
    fn a_rolled_window_restarts_from_the_store_and_keeps_what_came_after_the_read() {
        let mut b = AbandonBudget::from_history(
            0.03,
            0.0,
            WindowCounts {
                live_answers: 400,
                abandoned: 11,
                amd_machines: 90,
            },
        );
        b.set_expected_more(50.0);
        b.record_live_answer();
        let before = b.counts();
        // While the store is read: one more person, abandoned.
        b.record_live_answer();
        b.record_abandon();
        let stored = WindowCounts {
            live_answers: 3,
            abandoned: 0,
            amd_machines: 1,
        };
        let r = b.rolled(stored, before);
        assert_eq!(
            r.counts(),
            WindowCounts {
                live_answers: 4,
                abandoned: 1,
                amd_machines: 1,
            }
        );
        assert_eq!((r.cap(), r.expected_more()), (0.03, 50.0));
        // Yesterday's 400 answers no longer pay for today's abandon.
        assert!(r.spent());
        assert!(!b.spent());
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "the test looks up a real zone; the code under test takes the `TimeZone`"
    )]
    fn window_starts() {
        let now: Timestamp = "2026-03-29T12:00:00Z".parse().unwrap();
        let us = Window::Rolling30Days.start_ms(now, &TimeZone::UTC).unwrap();
        assert_eq!(us, now.as_millisecond() - 30 * 86_400_000);
        // London switched to BST at 01:00 UTC that day; local midnight was 00:00 UTC.
        let london = TimeZone::get("Europe/London").unwrap();
        let uk = Window::CalendarDay.start_ms(now, &london).unwrap();
        let midnight: Timestamp = "2026-03-29T00:00:00Z".parse().unwrap();
        assert_eq!(uk, midnight.as_millisecond());
        // In summer, local midnight is 23:00 UTC the day before.
        let summer: Timestamp = "2026-07-01T10:00:00Z".parse().unwrap();
        let uk = Window::CalendarDay.start_ms(summer, &london).unwrap();
        let m: Timestamp = "2026-06-30T23:00:00Z".parse().unwrap();
        assert_eq!(uk, m.as_millisecond());
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "the test starts a virtual clock at a real instant; the code only gets `now`"
    )]
    fn live_rate_projects_the_last_span_over_the_next_half_hour() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut r = LiveRate::new(LiveRate::SPAN);
        assert_eq!(r.expected_more(at(0), None), 0.0, "nothing watched yet");
        // A live answer a minute for the first 20 minutes.
        for m in 1..=10 {
            r.record(at(m * 60));
        }
        assert_eq!(
            r.expected_more(at(600), None),
            0.0,
            "not watched long enough"
        );
        for m in 11..=20 {
            r.record(at(m * 60));
        }
        // At minute 20 the last 15 minutes hold minutes 5–20: 16 answers, 32 in the next 30.
        assert_eq!(r.expected_more(at(1200), None), 32.0);
        // Ten quiet minutes later only minutes 15–20 remain in the span.
        assert_eq!(r.expected_more(at(1800), None), 12.0);
        // An hour of silence: nothing is expected.
        assert_eq!(r.expected_more(at(5400), None), 0.0);
        // The daemon's watch: from 5 minutes, the rate of the minutes watched.
        let mut r = LiveRate::default();
        assert_eq!(r.expected_more(at(0), None), 0.0);
        for m in 1..=4 {
            r.record(at(m * 60));
        }
        assert_eq!(
            r.expected_more(at(240), None),
            0.0,
            "not watched long enough"
        );
        assert_eq!(
            r.expected_more(at(300), None),
            24.0,
            "4 in 5 minutes: 24 in 30"
        );
        // A window that ends in 10 minutes: 8 more at most.
        let left = Some(Duration::from_secs(600));
        assert_eq!(r.expected_more(at(300), left), 8.0);
    }
}
