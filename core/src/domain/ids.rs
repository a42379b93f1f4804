//! Handles on calls, campaigns and agents: small types, so that a call key is never taken for a
//! lead id, nor an agent's id for a campaign's name.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A number the dialer hands out or the store assigns: `From` the number, `get` it back,
/// displayed as the bare number (log lines, JSON, the store keep it so).
macro_rules! number_id {
    ($(#[$meta:meta])* $name:ident($t:ty)) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name($t);

        impl $name {
            pub const fn new(v: $t) -> Self {
                Self(v)
            }

            pub const fn get(self) -> $t {
                self.0
            }
        }

        impl From<$t> for $name {
            fn from(v: $t) -> Self {
                Self(v)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

number_id! {
    /// The daemon's handle on one call (not the SIP Call-ID): the switchboard numbers the calls
    /// it places from 1; an agent's state names the call it is on by it.
    CallKey(u64)
}

impl CallKey {
    /// The key after this one.
    pub const fn next(self) -> CallKey {
        CallKey(self.0 + 1)
    }
}

number_id! {
    /// A campaign's id in the store (`campaigns.id`); the campaign files name it.
    CampaignId(i64)
}

/// An agent's id as configured (`[[agents]] id` in `dialer.toml`). Clones share the text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(Arc<str>);

impl AgentId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for AgentId {
    fn from(s: &str) -> Self {
        AgentId(s.into())
    }
}

impl From<String> for AgentId {
    fn from(s: String) -> Self {
        AgentId(s.into())
    }
}

impl Deref for AgentId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for AgentId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Maps keyed by agent id are looked up by `&str`.
impl Borrow<str> for AgentId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AgentId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for AgentId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Quoted, as the text it is (error messages show `"alice"`).
impl fmt::Debug for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl serde::Serialize for AgentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AgentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(AgentId::from)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn ids_display_as_their_value() {
        assert_eq!(CallKey::new(7).to_string(), "7");
        assert_eq!(CallKey::new(7).next(), CallKey::from(8));
        assert_eq!(CampaignId::new(-1).to_string(), "-1");
        let alice = AgentId::from("alice");
        assert_eq!(alice.to_string(), "alice");
        assert_eq!(format!("{alice:?}"), "\"alice\"");
        assert_eq!(alice, "alice");
    }

    #[test]
    fn agent_maps_are_looked_up_by_text() {
        let mut m = BTreeMap::new();
        m.insert(AgentId::from("alice".to_string()), 1);
        assert_eq!(m.get("alice"), Some(&1));
    }
}
