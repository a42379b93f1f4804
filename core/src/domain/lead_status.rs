//! Where a lead stands: the `leads.status` column.

use super::UnknownName;

named! {
    /// Where a lead stands, as its `status` column keeps it.
    pub enum LeadStatus ("lead status") {
        /// Imported, never dialed.
        New = "new",
        /// Dialed at least once and due again (after its retry delay or callback).
        Active = "active",
        /// Finished: a final disposition, or its attempts are spent.
        Done = "done",
        /// The number does not exist (the carrier said so).
        Invalid = "invalid",
        /// Do not call: an agent's disposition or a DNC list put it there.
        Dnc = "dnc",
    }
}

impl LeadStatus {
    /// The lead may still be dialed (the scheduler claims only these).
    pub fn is_open(self) -> bool {
        match self {
            LeadStatus::New | LeadStatus::Active => true,
            LeadStatus::Done | LeadStatus::Invalid | LeadStatus::Dnc => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_reads_back_from_its_text() {
        for s in LeadStatus::ALL {
            assert_eq!(s.as_str().parse::<LeadStatus>(), Ok(*s));
        }
        assert_eq!(
            "closed".parse::<LeadStatus>().unwrap_err().to_string(),
            "unknown lead status \"closed\""
        );
    }
}
