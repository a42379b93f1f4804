//! What a call attempt came to.

use super::UnknownName;

named! {
    /// How a call attempt ended, from the SIP layer (before an answer) through the flow (after
    /// it) to the attempt's row, the lead's retry delay, the metrics and the API. Agent
    /// dispositions are not outcomes: campaign files may not reuse these codes for them.
    pub enum Outcome ("outcome") {
        /// Answered, then hung up before anyone could tell a person from a machine (during
        /// AMD). From the SIP layer: a 2xx, before the flow decides.
        Answered = "answered",
        /// A person, who reached an agent, the agentless message or the survey.
        Human = "human",
        /// An answering machine (hung up on, or left the voicemail message).
        Machine = "machine",
        /// 486, 600.
        Busy = "busy",
        /// 480, 408, or the ring timeout.
        NoAnswer = "no_answer",
        /// 404, 484, 604: the lead is marked invalid.
        InvalidNumber = "invalid_number",
        /// 5xx.
        Congestion = "congestion",
        /// 403 and every other final response.
        Rejected = "rejected",
        /// No final response, or the dial failed before its INVITE was answered at all.
        Failed = "failed",
        /// A person was not connected to an agent within the connect limit, or hung up
        /// waiting for one, or was hung up on as our hang-up crossed their answer.
        Abandoned = "abandoned",
        /// We hung up before an answer for a reason other than the ring timeout or shedding
        /// (the daemon stopping).
        Interrupted = "interrupted",
        /// The pacer hung up a call still ringing (it might have brought a person no agent
        /// was free for); retried like a no-answer.
        Shed = "shed",
    }
}

impl Outcome {
    /// A person answered: a live answer for the abandon rate (connected or abandoned).
    pub fn is_live(self) -> bool {
        match self {
            Outcome::Human | Outcome::Abandoned => true,
            Outcome::Answered
            | Outcome::Machine
            | Outcome::Busy
            | Outcome::NoAnswer
            | Outcome::InvalidNumber
            | Outcome::Congestion
            | Outcome::Rejected
            | Outcome::Failed
            | Outcome::Interrupted
            | Outcome::Shed => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_reads_back_from_its_text() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(*o));
            assert_eq!(o.to_string(), o.as_str());
        }
        assert_eq!(Outcome::ALL.len(), 12);
        let err = "sale".parse::<Outcome>().unwrap_err();
        assert_eq!(err.to_string(), "unknown outcome \"sale\"");
    }

    #[test]
    fn outcomes_deserialize_from_their_text() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::Error;
        let read = |s: &str| Outcome::deserialize(s.into_deserializer()).map_err(|e: Error| e);
        assert_eq!(read("no_answer"), Ok(Outcome::NoAnswer));
        assert_eq!(
            read("sale").unwrap_err().to_string(),
            "unknown outcome \"sale\""
        );
    }
}
