//! The rules a dial must pass: calling windows in the lead's local time, DNC, attempt limits.
