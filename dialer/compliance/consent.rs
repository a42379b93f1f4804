//! States that require every party's consent before a telephone call is recorded
//! (`data/consent_states.toml`, each entry with its statute). A US campaign that records must
//! play a recording announcement (`recording.announce`): see
//! docs/decisions/0080-recording-announcement.md.

use std::sync::LazyLock;

/// One all-party-consent state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentState {
    /// `US-XX`.
    pub region: String,
    /// The statute that requires every party's consent.
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// The shipped list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentStates {
    pub version: String,
    #[serde(rename = "state")]
    pub states: Vec<ConsentState>,
}

/// A problem in a consent-states file.
#[derive(Debug, thiserror::Error)]
#[error("consent states: {0}")]
pub struct ParseError(String);

/// Read a consent-states file: every entry a `US-XX` region, once, with a source.
pub fn parse(text: &str) -> Result<ConsentStates, ParseError> {
    let f: ConsentStates = toml::from_str(text).map_err(|e| ParseError(e.to_string()))?;
    let mut seen = std::collections::BTreeSet::new();
    for s in &f.states {
        let ok = s.region.len() == 5
            && s.region.starts_with("US-")
            && s.region[3..].bytes().all(|b| b.is_ascii_uppercase());
        if !ok {
            return Err(ParseError(format!("region {:?}: expected US-XX", s.region)));
        }
        if s.source.trim().is_empty() {
            return Err(ParseError(format!("{}: source is empty", s.region)));
        }
        if !seen.insert(s.region.as_str()) {
            return Err(ParseError(format!("{}: listed twice", s.region)));
        }
    }
    Ok(f)
}

/// The shipped all-party-consent states (checked by a unit test; empty only if the shipped file
/// were broken, which that test catches).
pub static SHIPPED: LazyLock<ConsentStates> = LazyLock::new(|| {
    parse(include_str!("data/consent_states.toml")).unwrap_or_else(|_| ConsentStates {
        version: String::new(),
        states: Vec::new(),
    })
});

/// The two-letter codes of the shipped states, comma-separated (for messages).
pub fn shipped_codes() -> String {
    SHIPPED
        .states
        .iter()
        .map(|s| &s.region[3..])
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_names_a_statute_per_state() {
        let f = parse(include_str!("data/consent_states.toml")).expect("shipped file");
        assert!(!f.version.is_empty());
        let codes: Vec<&str> = f.states.iter().map(|s| s.region.as_str()).collect();
        for must in [
            "US-CA", "US-FL", "US-IL", "US-MD", "US-MA", "US-MT", "US-NH", "US-PA", "US-WA",
        ] {
            assert!(codes.contains(&must), "{must} missing: {codes:?}");
        }
        assert!(
            f.states
                .iter()
                .all(|s| s.source.contains('§') || s.source.contains("ILCS"))
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        let e = parse("version = \"x\"\n[[state]]\nregion = \"CA\"\nsource = \"s\"\n");
        assert!(e.is_err_and(|e| e.to_string().contains("US-XX")));
        let e = parse(
            "version = \"x\"\n[[state]]\nregion = \"US-CA\"\nsource = \"a\"\n\
             [[state]]\nregion = \"US-CA\"\nsource = \"b\"\n",
        );
        assert!(e.is_err_and(|e| e.to_string().contains("twice")));
        let e = parse("version = \"x\"\n[[state]]\nregion = \"US-CA\"\nsource = \" \"\n");
        assert!(e.is_err_and(|e| e.to_string().contains("source")));
    }
}
