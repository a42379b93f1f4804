//! Do-not-call registries: which one a campaign scrubs against, and how old its loaded data
//! may be.
//!
//! `dialer dnc import --registry NAME FILE…` loads a registry download into the global DNC list
//! and records the file's date; a campaign with `dnc.registry = NAME` dials only while the
//! newest loaded data of that registry are young enough: the US national registry must be
//! re-read at least every 31 days (16 CFR 310.4(b)(3)(iv); 47 CFR 64.1200(c)(2)(i)(D)), the
//! UK's TPS every 28 days (the ICO's direct marketing guidance under PECR reg. 21).

use jiff::{SignedDuration, Timestamp};

use super::Refusal;

/// A DNC registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Registry {
    /// The US National Do Not Call Registry.
    #[serde(rename = "us-national")]
    UsNational,
    /// The UK's Telephone Preference Service.
    #[serde(rename = "uk-tps")]
    UkTps,
    /// The organisation's own list: no age limit.
    #[serde(rename = "internal")]
    Internal,
}

impl Registry {
    pub const ALL: [Registry; 3] = [Registry::UsNational, Registry::UkTps, Registry::Internal];

    pub fn as_str(self) -> &'static str {
        match self {
            Registry::UsNational => "us-national",
            Registry::UkTps => "uk-tps",
            Registry::Internal => "internal",
        }
    }

    /// How many days old the loaded data may be; `None`: no limit.
    pub fn max_age_days(self) -> Option<i64> {
        match self {
            Registry::UsNational => Some(31),
            Registry::UkTps => Some(28),
            Registry::Internal => None,
        }
    }
}

impl std::fmt::Display for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Registry {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Registry::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown registry {s:?} (us-national, uk-tps, internal)"))
    }
}

/// Whether a campaign scrubbing against `registry` may dial at `at`, given the date of the
/// newest loaded data (`None`: none loaded). Data exactly `max` days old still count.
pub fn fresh(registry: Registry, loaded: Option<Timestamp>, at: Timestamp) -> Result<(), Refusal> {
    let Some(days) = registry.max_age_days() else {
        return Ok(());
    };
    let stale = match loaded {
        None => true,
        Some(t) => at.duration_since(t) > SignedDuration::from_hours(24 * days),
    };
    if stale {
        return Err(Refusal::RegistryStale {
            registry: registry.as_str().to_string(),
            loaded,
            max_days: days,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_national_data_expire_after_31_days() {
        let loaded: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let ok: Timestamp = "2026-12-02T00:00:00Z".parse().unwrap();
        let late: Timestamp = "2026-12-02T00:00:01Z".parse().unwrap();
        assert_eq!(fresh(Registry::UsNational, Some(loaded), ok), Ok(()));
        let e = fresh(Registry::UsNational, Some(loaded), late).unwrap_err();
        assert_eq!(e.code(), "registry_stale");
        assert_eq!(
            e.to_string(),
            "the us-national registry data are from 2026-11-01T00:00:00Z, older than 31 days: \
             load a new download (dialer dnc import --registry us-national)"
        );
        let e = fresh(Registry::UsNational, None, ok).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no us-national registry data loaded (dialer dnc import --registry us-national)"
        );
        assert!(fresh(Registry::UkTps, Some(loaded), ok).is_err());
        assert_eq!(fresh(Registry::Internal, None, ok), Ok(()));
        assert_eq!("uk-tps".parse::<Registry>(), Ok(Registry::UkTps));
        assert!("us".parse::<Registry>().is_err());
    }
}
