//! What answered a call, as the answering-machine detector decided.

use super::UnknownName;

named! {
    /// What answered the call: the detector's decision (the flow acts on it, the attempt's
    /// `amd_result` column and the AMD metrics keep its text).
    pub enum AmdResult ("AMD result") {
        Human = "human",
        Machine = "machine",
        /// No decision: the campaign says which way it goes (default: a person).
        NotSure = "notsure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_result_reads_back_from_its_text() {
        for r in AmdResult::ALL {
            assert_eq!(r.as_str().parse::<AmdResult>(), Ok(*r));
        }
        assert_eq!(AmdResult::NotSure.to_string(), "notsure");
    }
}
