//! Deterministic discrete-event simulation with virtual time, driving the real pacers.
