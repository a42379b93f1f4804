//! Agents: login, nailed-up legs, state (ready, on call, wrap-up, paused) and its intervals.
