//! Value checks shared by the sections (and by `dialer.toml`'s reader): one of a set of
//! strings, E.164 numbers, regions, times of day, weekdays, length limits, snake_case codes.

use std::str::FromStr;

use jiff::civil::{Time, Weekday};

use crate::campaign::reader::{Ctx, Item};

/// One of a fixed set of strings.
pub(crate) fn choice<T: Copy>(ctx: &mut Ctx, item: &Item<'_>, options: &[(&str, T)]) -> Option<T> {
    let s = item.string(ctx)?;
    match options.iter().find(|(name, _)| *name == s) {
        Some((_, v)) => Some(*v),
        None => {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            ctx.problem(
                &item.key,
                format!("{s:?} is not one of: {}", names.join(", ")),
            );
            None
        }
    }
}

/// A phone number that must already be written in E.164 form.
pub(crate) fn e164(ctx: &mut Ctx, key: &str, s: &str) -> Option<String> {
    match phonenumber::parse(None, s) {
        Ok(n) if n.is_valid() => {
            let formatted = n.format().mode(phonenumber::Mode::E164).to_string();
            if formatted == s {
                Some(formatted)
            } else {
                ctx.problem(
                    key,
                    format!("{s:?} is not in E.164 form (write {formatted:?})"),
                );
                None
            }
        }
        Ok(_) => {
            ctx.problem(key, format!("{s:?} is not a valid phone number"));
            None
        }
        Err(_) => {
            ctx.problem(
                key,
                format!("{s:?} is not an E.164 number (write + and the country code, e.g. \"+12025550143\")"),
            );
            None
        }
    }
}

pub(super) fn region(ctx: &mut Ctx, key: &str, s: &str) -> Option<String> {
    match phonenumber::country::Id::from_str(s) {
        Ok(_) => Some(s.to_string()),
        Err(_) => {
            ctx.problem(
                key,
                format!("{s:?} is not an ISO 3166 alpha-2 region (e.g. \"US\", \"GB\")"),
            );
            None
        }
    }
}

pub(super) fn time(ctx: &mut Ctx, key: &str, s: &str) -> Option<Time> {
    match Time::from_str(s.trim()) {
        Ok(t) => Some(t),
        Err(_) => {
            ctx.problem(key, format!("{s:?} is not a time of day (write \"09:00\")"));
            None
        }
    }
}

pub(super) fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// Longest name (campaign, list, trunk, agent id, group, disposition code, question id), in
/// characters.
pub const NAME_MAX: usize = 64;
/// Longest label or display name, in characters.
pub const LABEL_MAX: usize = 200;
/// Longest prompt given as text (agents read it), in characters.
pub const PROMPT_TEXT_MAX: usize = 4000;

/// A value over `max` characters is a problem at `key` that gives its length, not the value.
pub(crate) fn too_long(ctx: &mut Ctx, key: impl Into<String>, s: &str, max: usize) -> bool {
    let n = s.chars().count();
    if n > max {
        ctx.problem(key, format!("{n} characters long; at most {max}"));
        true
    } else {
        false
    }
}

pub(super) fn is_snake(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_ascii_lowercase())
        && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
