//! The daemon end to end inside the test process (`Daemon::start`), on loopback against sipp as
//! the carrier and the agent's phone: calls recognised and bridged, the safe-harbor message within
//! 2 s of a greeting's end, the drain waiting for late BYE answers, preview, the survey, list
//! imports and a reload under a locked store; and the agent desktop and wallboard in headless
//! Chromium against `dialer run` (`browser`), the desktop page as the agent's phone over WebRTC
//! (`webrtc_browser`); a daemon whose clock crosses its campaign's midnight (`window_midnight`). One module per former test file; the helpers are
//! `tests/e2e`, `tests/rig` and `tests/storedb`.
//!
//! A binary apart from `tests/suite` for two reasons:
//! - each daemon here counts into the process-wide metrics recorder under trunk `main`, where
//!   the suite's `api` checks exact counts of its own daemon;
//! - the timing claims here (2 s, with a 100 ms allowance) run beside each other only (two tests
//!   at a time on two cores), as they did before the fold, not beside the suite's CPU-bound
//!   corpus, simulator and property tests.

#[path = "../e2e/mod.rs"]
mod e2e;
#[path = "../rig/mod.rs"]
mod rig;
#[path = "../storedb/mod.rs"]
mod storedb;

mod browser;
mod daemon_lists;
mod daemon_sipp;
mod drain_sipp;
mod live_events;
mod optout_sipp;
mod preview_sipp;
mod register_baresip;
mod register_sipp;
mod survey_sipp;
mod webrtc_browser;
mod window_midnight;
