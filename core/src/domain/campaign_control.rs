//! A supervisor's setting of a campaign.

use super::UnknownName;

named! {
    /// Whether a campaign dials, as its supervisor set it (the API's start, pause and stop;
    /// a campaign file with `enabled = false` starts stopped).
    pub enum CampaignControl ("campaign control") {
        /// Dialing.
        Running = "running",
        /// No new dials; calls in progress go on.
        Paused = "paused",
        /// No new dials; claimed leads given back.
        Stopped = "stopped",
    }
}
