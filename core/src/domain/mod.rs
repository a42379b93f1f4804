//! The dialer's vocabulary, shared by the cores, the shell, the store and the API: what a call
//! came to ([`Outcome`]), what answered it ([`AmdResult`]), where its lead stands
//! ([`LeadStatus`]), whether a campaign dials ([`CampaignControl`]), and the handles on calls,
//! campaigns and agents ([`CallKey`], [`CampaignId`], [`AgentId`]).
//!
//! This module depends on nothing else in the crate (std and serde only), so that any layer may
//! use it. Each enum is spelled once, next to its variants: `as_str` gives the text the store
//! columns, JSON, metric labels, campaign keys and log lines carry, and `FromStr` (and serde)
//! reads it back. Matches on these enums are exhaustive wherever a new variant needs a
//! decision, so adding one is a change the compiler walks you through.

use std::fmt;

/// A text that names no value of the enum it was read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// What was expected, e.g. `outcome`.
    pub kind: &'static str,
    /// The text given.
    pub name: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.name)
    }
}

impl std::error::Error for UnknownName {}

/// A fieldless enum with one spelling per variant: `ALL`, `as_str`, `Display`, `FromStr` and
/// serde from the one list. The invoking module must have [`UnknownName`] in scope.
macro_rules! named {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Its text in the store, JSON, metric labels, campaign files and log lines.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName {
                        kind: $kind,
                        name: s.to_owned(),
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::string::String as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

mod amd_result;
mod campaign_control;
mod ids;
mod lead_status;
mod outcome;

pub use amd_result::AmdResult;
pub use campaign_control::CampaignControl;
pub use ids::{AgentId, CallKey, CampaignId};
pub use lead_status::LeadStatus;
pub use outcome::Outcome;
