//! A campaign's lists and leads as the daemon reports them (API, logs): what each list file
//! gave, and the last look at the campaign's leads. Plain data, filled in by the daemon's list
//! loader and shown beside the switchboard's campaign status.

use std::path::PathBuf;

use crate::leads::import::Rejected;

/// Rejected rows of a list shown in the API (the count has them all).
pub const SHOWN_REJECTED: usize = 20;

/// The last look at a campaign's leads, as `dialer plan` judges them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeadCheck {
    /// RFC 3339.
    pub at: String,
    pub total: u64,
    pub dialable: u64,
    /// Why the others may not be dialed, most frequent first.
    pub reasons: Vec<Reason>,
}

/// Leads refused for one reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    /// The refusal code (`outside_hours`, `retry_delay`, `dnc`, …).
    pub code: String,
    pub count: u64,
    /// One lead's refusal, e.g. "lead 12: outside calling hours …".
    pub example: String,
}

impl From<crate::leads::plan::Plan> for LeadCheck {
    fn from(p: crate::leads::plan::Plan) -> Self {
        LeadCheck {
            at: p.at,
            total: p.total,
            dialable: p.dialable,
            reasons: p
                .reasons
                .into_iter()
                .filter(|r| r.code != "dialable")
                .map(|r| Reason {
                    example: r
                        .samples
                        .first()
                        .map(|v| format!("lead {}: {}", v.lead_id, v.reason))
                        .unwrap_or_default(),
                    code: r.code,
                    count: r.count,
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for LeadCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.total == 0 {
            return write!(f, "no leads in the store");
        }
        write!(f, "{} of {} leads may be dialed", self.dialable, self.total)?;
        for (i, r) in self.reasons.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            write!(f, "{sep}{} {} (e.g. {})", r.count, r.code, r.example)?;
        }
        Ok(())
    }
}

/// One list as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStatus {
    pub list: String,
    pub file: PathBuf,
    /// Rows this daemon added to the store from the file since it started.
    pub imported: u64,
    /// Rows of the file, as last read, that were not imported.
    pub rejected: u64,
    /// The first [`SHOWN_REJECTED`] of them.
    pub rejected_rows: Vec<Rejected>,
    /// Why the file could not be imported at the last try.
    pub error: Option<String>,
}

/// A campaign's lists and leads as the API shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadsStatus {
    pub lists: Vec<ListStatus>,
    /// The last look at its leads (after each import, and when claims find nothing).
    pub check: Option<LeadCheck>,
    /// Imports of its lists finished since start (start, reloads).
    pub loads: u64,
    /// An import is under way.
    pub loading: bool,
}
