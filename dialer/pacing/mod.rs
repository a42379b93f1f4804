//! Pacing: how many dials to start now (preview, progressive, predictive, agentless).
