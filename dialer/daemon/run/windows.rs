//! The abandon windows move on while the daemon runs: a UK campaign's day ends at midnight in
//! its zone, and a US campaign's rolling 30 days leave old calls behind. Once a minute the loop
//! looks at each campaign's window; when a new day has begun in the campaign's zone, the
//! store's counts for the window as it is now are read in a task and the campaign's budget
//! restarts from them ([`Switchboard::roll_window`]): a UK budget counts today's calls only, and
//! a US budget drops, once a day, the calls that left its 30 days. Without this a daemon
//! running for days kept every call since it started in its budget, and yesterday's answers
//! paid for today's abandons.

use super::*;
use crate::pacing::Window;

/// How often the loop looks whether a window moved on (`Options::window_check`).
pub(super) const WINDOW_CHECK: Duration = Duration::from_secs(60);

/// The pacing window of a campaign's `abandon.window`.
pub(super) fn pacing_window(w: crate::campaign::AbandonWindow) -> Window {
    match w {
        crate::campaign::AbandonWindow::Rolling30Days => Window::Rolling30Days,
        crate::campaign::AbandonWindow::CalendarDay => Window::CalendarDay,
    }
}

/// When the window must be read again: the start of the day in the campaign's zone at `now`
/// (the key) and the start of the window to count from, if that day is not `last` (the day of
/// the previous look); `None` on the first look (the budget was seeded from the store when
/// the campaign was registered) or on the same day.
pub(super) fn window_to_read(
    c: &Campaign,
    now: jiff::Timestamp,
    last: Option<i64>,
) -> Option<(i64, i64)> {
    let tz = &c.hours.timezone;
    let day = Window::CalendarDay.start_ms(now, tz).ok()?;
    if last.is_none_or(|l| l == day) {
        return None;
    }
    let since = pacing_window(c.abandon.window)
        .start_ms(now, tz)
        .unwrap_or(day);
    Some((day, since))
}

impl Shell {
    /// Once a minute: read again the abandon window of each campaign whose day has changed.
    pub(super) fn check_windows(&mut self, now: Instant) {
        if self
            .window_checked
            .is_some_and(|t| now.duration_since(t) < self.options.window_check)
        {
            return;
        }
        self.window_checked = Some(now);
        let ts = self.clock.timestamp(now);
        let now_ms = self.clock.ms(now);
        for (name, scheduler) in &self.schedulers {
            let c = scheduler.campaign();
            let last = self.window_days.get(name).copied();
            let Some((day, since)) = window_to_read(c, ts, last) else {
                if last.is_none()
                    && let Ok(day) = Window::CalendarDay.start_ms(ts, &c.hours.timezone)
                {
                    self.window_days.insert(name.clone(), day);
                }
                continue;
            };
            let Some(before) = self.board.window_counts(name) else {
                continue;
            };
            // Taken now; a failed read gives the previous day back, so the next look retries.
            self.window_days.insert(name.clone(), day);
            let (store, events, id) = (
                self.store.clone(),
                self.events.clone(),
                scheduler.campaign_id(),
            );
            let (campaign, previous_day) = (name.clone(), last.unwrap_or(day));
            tokio::spawn(async move {
                let stored = store
                    .abandon_counts(id, since, now_ms + 1)
                    .await
                    .map(WindowCounts::from)
                    .map_err(|e| e.to_string());
                let _ = events.send(Event::WindowRead {
                    campaign,
                    stored,
                    before,
                    previous_day,
                });
            });
        }
    }

    /// A window's counts read by [`Self::check_windows`]: the budget restarts from them.
    pub(super) fn window_read(
        &mut self,
        campaign: String,
        stored: Result<WindowCounts, String>,
        before: WindowCounts,
        previous_day: i64,
    ) {
        match stored {
            Ok(stored) => {
                tracing::info!(
                    campaign = %campaign,
                    live = stored.live_answers,
                    abandoned = stored.abandoned,
                    amd_machines = stored.amd_machines,
                    "abandon window moved on: the budget restarts from the store's counts"
                );
                self.board.roll_window(&campaign, stored, before);
            }
            Err(err) => {
                tracing::warn!(
                    campaign = %campaign,
                    %err,
                    "cannot read the abandon window's counts; the budget keeps counting, and the next look tries again"
                );
                self.window_days.insert(campaign, previous_day);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_new_day_in_the_campaigns_zone_reads_the_window_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "phone\n+442079460124\n").unwrap();
        let audio = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/audio");
        std::fs::copy(
            audio.join("safe_harbor.wav"),
            dir.path().join("safe_harbor.wav"),
        )
        .unwrap();
        let file = dir.path().join("uk.toml");
        std::fs::write(
            &file,
            r#"
kind = "cold"
mode = "progressive"
trunk = "main"
caller_id = "+442079460123"
agent_groups = ["sales"]
safe_harbor = "safe_harbor.wav"

[[lists]]
file = "a.csv"
columns = { phone = "phone" }

[hours]
timezone = "Europe/London"

[abandon]
window = "calendar_day"

[[dispositions]]
code = "sale"
effect = "final"
success = true
"#,
        )
        .unwrap();
        let uk = crate::campaign::load::load_with(&file, &Default::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pacing_window(uk.abandon.window),
            Window::CalendarDay,
            "the test campaign counts per day"
        );
        let day = |s: &str| {
            Window::CalendarDay
                .start_ms(at(s), &uk.hours.timezone)
                .unwrap()
        };
        let late = at("2026-12-07T23:59:00Z");
        // The first look and a look the same day read nothing.
        assert_eq!(window_to_read(&uk, late, None), None);
        let d7 = day("2026-12-07T12:00:00Z");
        assert_eq!(window_to_read(&uk, late, Some(d7)), None);
        // Past midnight in London: the new day, counted from its start.
        let d8 = day("2026-12-08T00:01:00Z");
        assert_eq!(
            window_to_read(&uk, at("2026-12-08T00:01:00Z"), Some(d7)),
            Some((d8, d8))
        );
        assert_eq!(d8 - d7, 24 * 3_600_000);
    }
}
