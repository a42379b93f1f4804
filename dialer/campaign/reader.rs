//! A reader over a merged `config` value tree that collects every problem instead of stopping
//! at the first one: wrong types, out-of-range values, missing keys, unknown keys.
//!
//! Values that came from the environment are strings; typed getters parse them (so
//! `DIALER__…__MAX_CONCURRENT=40` works) while values from files must have the right TOML type.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Value, ValueKind};

use super::Problem;

const ENV_ORIGIN: &str = "the environment";

/// Collects the problems of one file.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl Ctx {
    pub fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            problems: Vec::new(),
        }
    }

    pub fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            key: key.into(),
            message: message.into(),
        });
    }
}

/// A table being read: remembers which keys were asked for, so the rest are unknown keys.
pub(crate) struct Table<'a> {
    path: String,
    map: Option<&'a config::Map<String, Value>>,
    asked: RefCell<BTreeSet<&'static str>>,
}

/// One value with its full key.
pub(crate) struct Item<'a> {
    pub key: String,
    pub value: &'a Value,
}

impl<'a> Table<'a> {
    /// The root table of a config tree.
    pub fn root(value: &'a Value) -> Self {
        let map = match &value.kind {
            ValueKind::Table(m) => Some(m),
            _ => None,
        };
        Self {
            path: String::new(),
            map,
            asked: RefCell::new(BTreeSet::new()),
        }
    }

    /// An absent table (every key reads as missing).
    fn empty(path: String) -> Self {
        Self {
            path,
            map: None,
            asked: RefCell::new(BTreeSet::new()),
        }
    }

    pub fn key(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{}", self.path, k)
        }
    }

    /// The raw value under `k`, marking `k` as known.
    pub fn get(&self, k: &'static str) -> Option<Item<'a>> {
        self.asked.borrow_mut().insert(k);
        let v = self.map?.get(k)?;
        if matches!(v.kind, ValueKind::Nil) {
            return None;
        }
        Some(Item {
            key: self.key(k),
            value: v,
        })
    }

    /// Report keys that were never asked for (call after reading everything).
    pub fn finish(&self, ctx: &mut Ctx) {
        let Some(map) = self.map else { return };
        let asked = self.asked.borrow();
        for k in map.keys() {
            if !asked.contains(k.as_str()) {
                let hint = closest(k, asked.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                ctx.problem(self.key(k), format!("unknown key{hint}"));
            }
        }
    }

    /// A sub-table; missing reads as empty, a wrong type is reported.
    pub fn table(&self, ctx: &mut Ctx, k: &'static str) -> Table<'a> {
        match self.get(k) {
            None => Table::empty(self.key(k)),
            Some(item) => match &item.value.kind {
                ValueKind::Table(m) => Table {
                    path: item.key,
                    map: Some(m),
                    asked: RefCell::new(BTreeSet::new()),
                },
                _ => {
                    ctx.problem(
                        &item.key,
                        format!("expected a table, found {}", describe(item.value)),
                    );
                    Table::empty(item.key)
                }
            },
        }
    }

    /// An array of tables (`[[k]]`), each with its indexed key `k[i]`.
    pub fn tables(&self, ctx: &mut Ctx, k: &'static str) -> Option<Vec<Table<'a>>> {
        let item = self.get(k)?;
        let ValueKind::Array(items) = &item.value.kind else {
            ctx.problem(
                &item.key,
                format!(
                    "expected an array of tables, found {}",
                    describe(item.value)
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, v) in items.iter().enumerate() {
            let key = format!("{}[{i}]", item.key);
            match &v.kind {
                ValueKind::Table(m) => out.push(Table {
                    path: key,
                    map: Some(m),
                    asked: RefCell::new(BTreeSet::new()),
                }),
                _ => ctx.problem(key, format!("expected a table, found {}", describe(v))),
            }
        }
        Some(out)
    }

    /// The present keys of this table with their values (for free-form maps).
    pub fn entries(&self) -> Vec<(String, Item<'a>)> {
        let Some(map) = self.map else {
            return Vec::new();
        };
        map.iter()
            .filter(|(_, v)| !matches!(v.kind, ValueKind::Nil))
            .map(|(k, v)| {
                (
                    k.clone(),
                    Item {
                        key: self.key(k),
                        value: v,
                    },
                )
            })
            .collect()
    }

    pub fn is_present(&self) -> bool {
        self.map.is_some()
    }

    // ---- typed getters: `None` when absent or wrong (wrong is reported) ----

    pub fn string(&self, ctx: &mut Ctx, k: &'static str) -> Option<String> {
        self.get(k).and_then(|i| i.string(ctx))
    }

    pub fn req_string(&self, ctx: &mut Ctx, k: &'static str) -> Option<String> {
        self.required(ctx, k, |t, c| t.string(c, k))
    }

    pub fn bool(&self, ctx: &mut Ctx, k: &'static str) -> Option<bool> {
        self.get(k).and_then(|i| i.bool(ctx))
    }

    pub fn req_bool(&self, ctx: &mut Ctx, k: &'static str) -> Option<bool> {
        self.required(ctx, k, |t, c| t.bool(c, k))
    }

    pub fn int(&self, ctx: &mut Ctx, k: &'static str, min: i64, max: i64) -> Option<i64> {
        self.get(k).and_then(|i| i.int(ctx, min, max))
    }

    pub fn req_int(&self, ctx: &mut Ctx, k: &'static str, min: i64, max: i64) -> Option<i64> {
        self.required(ctx, k, |t, c| t.int(c, k, min, max))
    }

    pub fn req_float(&self, ctx: &mut Ctx, k: &'static str) -> Option<f64> {
        self.required(ctx, k, |t, c| t.get(k).and_then(|i| i.float(c)))
    }

    pub fn duration(&self, ctx: &mut Ctx, k: &'static str) -> Option<(Duration, String)> {
        self.get(k).and_then(|i| i.duration(ctx))
    }

    pub fn req_duration(&self, ctx: &mut Ctx, k: &'static str) -> Option<(Duration, String)> {
        self.required(ctx, k, |t, c| t.duration(c, k))
    }

    pub fn strings(&self, ctx: &mut Ctx, k: &'static str) -> Option<Vec<String>> {
        self.get(k).and_then(|i| i.strings(ctx))
    }

    fn required<T>(
        &self,
        ctx: &mut Ctx,
        k: &'static str,
        f: impl FnOnce(&Self, &mut Ctx) -> Option<T>,
    ) -> Option<T> {
        let present = self
            .map
            .is_some_and(|m| m.get(k).is_some_and(|v| !matches!(v.kind, ValueKind::Nil)));
        if !present {
            self.asked.borrow_mut().insert(k);
            ctx.problem(self.key(k), "missing (required)");
            return None;
        }
        f(self, ctx)
    }
}

impl Item<'_> {
    fn is_from_env(&self) -> bool {
        self.value.origin() == Some(ENV_ORIGIN)
    }

    fn wrong(&self, ctx: &mut Ctx, expected: &str) {
        ctx.problem(
            &self.key,
            format!("expected {expected}, found {}", describe(self.value)),
        );
    }

    pub fn string(&self, ctx: &mut Ctx) -> Option<String> {
        match &self.value.kind {
            ValueKind::String(s) => Some(s.clone()),
            _ => {
                self.wrong(ctx, "a string");
                None
            }
        }
    }

    pub fn bool(&self, ctx: &mut Ctx) -> Option<bool> {
        match &self.value.kind {
            ValueKind::Boolean(b) => Some(*b),
            ValueKind::String(s) if self.is_from_env() => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => {
                    self.wrong(ctx, "true or false");
                    None
                }
            },
            _ => {
                self.wrong(ctx, "true or false");
                None
            }
        }
    }

    pub fn int(&self, ctx: &mut Ctx, min: i64, max: i64) -> Option<i64> {
        let n = match &self.value.kind {
            ValueKind::I64(n) => *n,
            ValueKind::U64(n) => i64::try_from(*n).unwrap_or(i64::MAX),
            ValueKind::String(s) if self.is_from_env() && s.trim().parse::<i64>().is_ok() => {
                s.trim().parse::<i64>().unwrap_or_default()
            }
            _ => {
                self.wrong(ctx, "an integer");
                return None;
            }
        };
        if n < min || n > max {
            ctx.problem(&self.key, format!("{n} is out of range ({min} to {max})"));
            return None;
        }
        Some(n)
    }

    pub fn float(&self, ctx: &mut Ctx) -> Option<f64> {
        let f = match &self.value.kind {
            ValueKind::Float(f) => *f,
            ValueKind::I64(n) => *n as f64,
            ValueKind::String(s) if self.is_from_env() && s.trim().parse::<f64>().is_ok() => {
                s.trim().parse::<f64>().unwrap_or_default()
            }
            _ => {
                self.wrong(ctx, "a number");
                return None;
            }
        };
        if !f.is_finite() {
            ctx.problem(&self.key, format!("{f} is not a finite number"));
            return None;
        }
        Some(f)
    }

    /// A humantime duration string ("15s", "4h", "1h 30m"); returns the text too, for messages.
    pub fn duration(&self, ctx: &mut Ctx) -> Option<(Duration, String)> {
        let ValueKind::String(s) = &self.value.kind else {
            self.wrong(ctx, "a duration string like \"15s\" or \"4h\"");
            return None;
        };
        match humantime::parse_duration(s.trim()) {
            Ok(d) => Some((d, s.trim().to_string())),
            Err(e) => {
                ctx.problem(
                    &self.key,
                    format!("{s:?} is not a duration ({e}); write e.g. \"15s\", \"30m\", \"4h\""),
                );
                None
            }
        }
    }

    pub fn strings(&self, ctx: &mut Ctx) -> Option<Vec<String>> {
        match &self.value.kind {
            ValueKind::Array(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, v) in items.iter().enumerate() {
                    match &v.kind {
                        ValueKind::String(s) => out.push(s.clone()),
                        _ => {
                            ok = false;
                            ctx.problem(
                                format!("{}[{i}]", self.key),
                                format!("expected a string, found {}", describe(v)),
                            );
                        }
                    }
                }
                ok.then_some(out)
            }
            // From the environment a list is comma-separated.
            ValueKind::String(s) if self.is_from_env() => Some(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            ),
            _ => {
                self.wrong(ctx, "an array of strings");
                None
            }
        }
    }
}

/// A short description of a value for "expected X, found Y" messages.
pub(crate) fn describe(v: &Value) -> String {
    match &v.kind {
        ValueKind::Nil => "nothing".into(),
        ValueKind::Boolean(b) => format!("a boolean ({b})"),
        ValueKind::I64(n) => format!("an integer ({n})"),
        ValueKind::I128(n) => format!("an integer ({n})"),
        ValueKind::U64(n) => format!("an integer ({n})"),
        ValueKind::U128(n) => format!("an integer ({n})"),
        ValueKind::Float(f) => format!("a number ({f})"),
        ValueKind::String(s) => format!("a string ({s:?})"),
        ValueKind::Table(_) => "a table".into(),
        ValueKind::Array(_) => "an array".into(),
    }
}

/// The known key closest to a misspelt one, if it is close enough to be a typo.
fn closest<'k>(k: &str, known: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    known
        .map(|c| (edit_distance(k, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys_only() {
        let known = ["dialing", "hours", "amd"];
        assert_eq!(closest("dialling", known.iter().copied()), Some("dialing"));
        assert_eq!(closest("hour", known.iter().copied()), Some("hours"));
        assert_eq!(closest("zzzzzzzz", known.iter().copied()), None);
    }
}
