//! State and regional calling rules: windows stricter than 08:00–21:00, Sunday and holiday
//! bans, attempt caps per 24 hours, keyed by region (`US-FL`).
//!
//! The shipped rules are `data/us_states.toml` (versioned, a source per entry), compiled in and
//! parsed once; a campaign may add its own (`[[compliance.rules]]`, same keys). Rules only add
//! refusals: a lead is dialable when every rule of every one of its regions allows the call in
//! every one of its candidate zones.

use std::sync::LazyLock;

use jiff::civil::{Date, Time, Weekday};
use jiff::{Timestamp, ToSpan};

/// A day's window, or no calls that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Closed,
    /// `[start, end)` local wall time.
    Window(Time, Time),
}

/// One holiday rule beyond the federal list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holiday {
    /// Month, day.
    Fixed(i8, i8),
    /// The nth (1-based; `-1`: last) weekday of a month.
    Nth(i8, Weekday, i8),
    /// Days after (before, negative) Easter Sunday.
    Easter(i16),
}

/// One region's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub region: String,
    /// Every day's window (before the Saturday and Sunday ones).
    pub hours: Option<Day>,
    pub saturday: Option<Day>,
    pub sunday: Option<Day>,
    /// No calls on federal legal holidays (the day and its observed day) and `extra_holidays`.
    pub holidays_closed: bool,
    pub extra_holidays: Vec<Holiday>,
    pub cap_24h: Option<u32>,
    pub source: String,
    pub note: Option<String>,
}

/// The shipped rules and their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub version: String,
    pub rules: Vec<Rule>,
}

/// The rules compiled in (`data/us_states.toml`).
pub static SHIPPED: LazyLock<Rules> = LazyLock::new(|| {
    // Checked by a unit test: the shipped file always parses.
    parse_rules(include_str!("data/us_states.toml")).unwrap_or_else(|_| Rules {
        version: "unreadable".into(),
        rules: Vec::new(),
    })
});

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRules {
    version: String,
    #[serde(default)]
    rule: Vec<RawRule>,
}

/// One rule as written (in the data file or a campaign's `[[compliance.rules]]`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub region: String,
    pub hours: Option<String>,
    pub saturday: Option<String>,
    pub sunday: Option<String>,
    pub holidays: Option<String>,
    #[serde(default)]
    pub extra_holidays: Vec<String>,
    pub cap_24h: Option<u32>,
    pub source: Option<String>,
    pub note: Option<String>,
}

/// Parse a rules file (the shipped one's format); the error names the entry and the key.
pub fn parse_rules(text: &str) -> Result<Rules, String> {
    let f: FileRules = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut rules = Vec::new();
    for (i, r) in f.rule.into_iter().enumerate() {
        let rule = r.check().map_err(|e| format!("rule[{i}].{e}"))?;
        if rule.source.is_empty() {
            return Err(format!(
                "rule[{i}].source: every shipped rule names its source"
            ));
        }
        rules.push(rule);
    }
    Ok(Rules {
        version: f.version,
        rules,
    })
}

fn time(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

fn day(s: &str) -> Result<Day, String> {
    if s.trim() == "closed" {
        return Ok(Day::Closed);
    }
    let parsed = s
        .split_once('-')
        .and_then(|(a, b)| Some((time(a)?, time(b)?)));
    match parsed {
        Some((a, b)) if a < b => Ok(Day::Window(a, b)),
        _ => Err(format!(
            "{s:?} is not a window (\"HH:MM-HH:MM\", start before end) or \"closed\""
        )),
    }
}

fn weekday(s: &str) -> Option<Weekday> {
    use Weekday::*;
    Some(match s {
        "Mon" => Monday,
        "Tue" => Tuesday,
        "Wed" => Wednesday,
        "Thu" => Thursday,
        "Fri" => Friday,
        "Sat" => Saturday,
        "Sun" => Sunday,
        _ => return None,
    })
}

fn holiday(s: &str) -> Result<Holiday, String> {
    let bad = || {
        format!("{s:?} is not a holiday (\"MM-DD\", \"N:Day:MM\" with N 1-5 or L, \"easter+N\")")
    };
    if let Some(off) = s.strip_prefix("easter") {
        let n: i16 = off.trim_start_matches('+').parse().map_err(|_| bad())?;
        return Ok(Holiday::Easter(n));
    }
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [n, d, m] => {
            let nth = if *n == "L" {
                -1
            } else {
                n.parse().map_err(|_| bad())?
            };
            let month: i8 = m.parse().map_err(|_| bad())?;
            if !(nth == -1 || (1..=5).contains(&nth)) || !(1..=12).contains(&month) {
                return Err(bad());
            }
            Ok(Holiday::Nth(nth, weekday(d).ok_or_else(bad)?, month))
        }
        [md] => {
            let (m, d) = md.split_once('-').ok_or_else(bad)?;
            let (m, d): (i8, i8) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
            Date::new(2024, m, d).map_err(|_| bad())?;
            Ok(Holiday::Fixed(m, d))
        }
        _ => Err(bad()),
    }
}

impl RawRule {
    /// The rule, or `key: problem`.
    pub fn check(self) -> Result<Rule, String> {
        let region_ok = self.region.len() >= 2
            && self
                .region
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '-');
        if !region_ok {
            return Err(format!(
                "region: {:?} is not a region code (US-FL, GB)",
                self.region
            ));
        }
        let opt_day = |k: &str, v: &Option<String>| -> Result<Option<Day>, String> {
            v.as_deref()
                .map(day)
                .transpose()
                .map_err(|e| format!("{k}: {e}"))
        };
        let holidays_closed = match self.holidays.as_deref() {
            None => false,
            Some("closed") => true,
            Some(o) => return Err(format!("holidays: {o:?}: only \"closed\" is known")),
        };
        let extra = self
            .extra_holidays
            .iter()
            .map(|h| holiday(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("extra_holidays: {e}"))?;
        if self.cap_24h == Some(0) {
            return Err("cap_24h: 0 would forbid every call; at least 1".into());
        }
        Ok(Rule {
            hours: opt_day("hours", &self.hours)?,
            saturday: opt_day("saturday", &self.saturday)?,
            sunday: opt_day("sunday", &self.sunday)?,
            holidays_closed,
            extra_holidays: extra,
            cap_24h: self.cap_24h,
            source: self.source.unwrap_or_default(),
            note: self.note,
            region: self.region,
        })
    }
}

/// Easter Sunday of a year (the anonymous Gregorian algorithm).
pub fn easter(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

fn nth(year: i16, month: i8, n: i8, wd: Weekday) -> Option<Date> {
    let first = Date::new(year, month, 1).ok()?;
    if n == -1 {
        let last = first.last_of_month();
        let back = (last.weekday().to_monday_zero_offset() - wd.to_monday_zero_offset() + 7) % 7;
        return last.checked_sub(i64::from(back).days()).ok();
    }
    let fwd = (wd.to_monday_zero_offset() - first.weekday().to_monday_zero_offset() + 7) % 7;
    let d = first
        .checked_add((i64::from(fwd) + 7 * i64::from(n - 1)).days())
        .ok()?;
    (d.month() == month).then_some(d)
}

impl Holiday {
    fn date(self, year: i16) -> Option<Date> {
        match self {
            Holiday::Fixed(m, d) => Date::new(year, m, d).ok(),
            Holiday::Nth(n, wd, m) => nth(year, m, n, wd),
            Holiday::Easter(off) => easter(year)?.checked_add(i64::from(off).days()).ok(),
        }
    }
}

/// The federal legal holidays (5 U.S.C. 6103(a)); a fixed one on a Saturday is also observed on
/// the Friday before, on a Sunday on the Monday after.
const FEDERAL: [(&str, Holiday); 11] = [
    ("New Year's Day", Holiday::Fixed(1, 1)),
    (
        "Martin Luther King Jr. Day",
        Holiday::Nth(3, Weekday::Monday, 1),
    ),
    ("Washington's Birthday", Holiday::Nth(3, Weekday::Monday, 2)),
    ("Memorial Day", Holiday::Nth(-1, Weekday::Monday, 5)),
    ("Juneteenth", Holiday::Fixed(6, 19)),
    ("Independence Day", Holiday::Fixed(7, 4)),
    ("Labor Day", Holiday::Nth(1, Weekday::Monday, 9)),
    ("Columbus Day", Holiday::Nth(2, Weekday::Monday, 10)),
    ("Veterans Day", Holiday::Fixed(11, 11)),
    ("Thanksgiving Day", Holiday::Nth(4, Weekday::Thursday, 11)),
    ("Christmas Day", Holiday::Fixed(12, 25)),
];

/// The federal holiday `d` is (or is observed on), by name.
pub fn federal_holiday(d: Date) -> Option<&'static str> {
    for (name, h) in FEDERAL {
        // The holiday of this year, and of next year (1 January observed on 31 December).
        for year in [d.year(), d.year().saturating_add(1)] {
            let Some(day) = h.date(year) else { continue };
            if day == d {
                return Some(name);
            }
            if matches!(h, Holiday::Fixed(..)) {
                let observed = match day.weekday() {
                    Weekday::Saturday => day.yesterday().ok(),
                    Weekday::Sunday => day.tomorrow().ok(),
                    _ => None,
                };
                if observed == Some(d) {
                    return Some(name);
                }
            }
        }
    }
    None
}

impl Rule {
    /// The holiday `d` is under this rule, if it bans calls on holidays.
    pub fn holiday(&self, d: Date) -> Option<String> {
        if !self.holidays_closed {
            return None;
        }
        if let Some(n) = federal_holiday(d) {
            return Some(n.to_string());
        }
        self.extra_holidays
            .iter()
            .any(|h| h.date(d.year()) == Some(d))
            .then(|| format!("a {} holiday", self.region))
    }

    /// The window of a weekday under this rule (`None`: the rule says nothing of it).
    pub fn day(&self, wd: Weekday) -> Option<Day> {
        match wd {
            Weekday::Saturday => self.saturday.or(self.hours),
            Weekday::Sunday => self.sunday.or(self.hours),
            _ => self.hours,
        }
    }
}

/// Why a rule refuses a call at a local instant (not the cap): `Ok` when it allows it.
pub fn allows_at(rule: &Rule, local: jiff::civil::DateTime) -> Result<(), String> {
    if let Some(h) = rule.holiday(local.date()) {
        return Err(format!("no calls on {h}"));
    }
    match rule.day(local.weekday()) {
        None => Ok(()),
        Some(Day::Closed) => Err(format!("no calls on {}", weekday_name(local.weekday()))),
        Some(Day::Window(a, b)) => {
            let t = local.time();
            if t >= a && t < b {
                Ok(())
            } else {
                Err(format!(
                    "window {}-{}",
                    a.strftime("%H:%M"),
                    b.strftime("%H:%M")
                ))
            }
        }
    }
}

fn weekday_name(wd: Weekday) -> &'static str {
    use Weekday::*;
    match wd {
        Monday => "Mondays",
        Tuesday => "Tuesdays",
        Wednesday => "Wednesdays",
        Thursday => "Thursdays",
        Friday => "Fridays",
        Saturday => "Saturdays",
        Sunday => "Sundays",
    }
}

/// The rules of these regions (a region `US-*` stands for every US state), shipped and the
/// campaign's own.
pub fn rules_for<'a>(
    regions: &'a [String],
    extra: &'a [Rule],
) -> impl Iterator<Item = &'a Rule> + 'a {
    rules_in(&SHIPPED.rules, regions, extra)
}

/// [`rules_for`] over a given set of shipped rules (tests take one out to see it matters).
pub fn rules_in<'a>(
    shipped: &'a [Rule],
    regions: &'a [String],
    extra: &'a [Rule],
) -> impl Iterator<Item = &'a Rule> + 'a {
    shipped.iter().chain(extra.iter()).filter(move |r| {
        regions
            .iter()
            .any(|g| *g == r.region || (g == super::zones::US_ANY && r.region.starts_with("US-")))
    })
}

/// The instant `t` is in the lead's time of a zone.
pub fn local(zone: &jiff::tz::TimeZone, t: Timestamp) -> jiff::civil::DateTime {
    zone.to_datetime(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_shipped_rules_parse_and_each_names_its_source() {
        let r = parse_rules(include_str!("data/us_states.toml")).expect("shipped rules");
        assert_eq!(r, *SHIPPED);
        assert!(r.rules.len() >= 15);
        for rule in &r.rules {
            assert!(rule.source.len() > 20, "{}: {}", rule.region, rule.source);
            assert!(rule.region.starts_with("US-"), "{}", rule.region);
        }
        let fl = r.rules.iter().find(|r| r.region == "US-FL").unwrap();
        assert_eq!(fl.cap_24h, Some(3));
    }

    #[test]
    fn bad_rules_say_where() {
        let e = parse_rules(
            "version = \"x\"\n[[rule]]\nregion = \"US-XX\"\nhours = \"9-5\"\nsource = \"s\"\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("rule[0].hours: \"9-5\" is not a window"),
            "{e}"
        );
        let e = parse_rules("version = \"x\"\n[[rule]]\nregion = \"US-XX\"\nextra_holidays = [\"13-01\"]\nsource = \"s\"\n")
            .unwrap_err();
        assert!(e.starts_with("rule[0].extra_holidays: \"13-01\""), "{e}");
        let e =
            parse_rules("version = \"x\"\n[[rule]]\nregion = \"US-XX\"\nhours = \"09:00-20:00\"\n")
                .unwrap_err();
        assert!(e.contains("names its source"), "{e}");
    }

    #[test]
    fn federal_holidays_and_their_observed_days() {
        assert_eq!(
            federal_holiday(date(2026, 11, 26)),
            Some("Thanksgiving Day")
        );
        assert_eq!(federal_holiday(date(2026, 5, 25)), Some("Memorial Day"));
        assert_eq!(federal_holiday(date(2026, 7, 4)), Some("Independence Day"));
        // 4 July 2026 is a Saturday: observed on Friday the 3rd.
        assert_eq!(federal_holiday(date(2026, 7, 3)), Some("Independence Day"));
        // 1 January 2028 is a Saturday: observed on Friday 31 December 2027.
        assert_eq!(federal_holiday(date(2027, 12, 31)), Some("New Year's Day"));
        assert_eq!(federal_holiday(date(2026, 7, 6)), None);
        assert_eq!(federal_holiday(date(2026, 12, 7)), None);
    }

    #[test]
    fn easter_and_nth_weekdays() {
        assert_eq!(easter(2026), Some(date(2026, 4, 5)));
        assert_eq!(easter(2027), Some(date(2027, 3, 28)));
        assert_eq!(nth(2026, 8, 2, Weekday::Monday), Some(date(2026, 8, 10)));
        assert_eq!(nth(2026, 5, -1, Weekday::Monday), Some(date(2026, 5, 25)));
        assert_eq!(nth(2026, 2, 5, Weekday::Monday), None);
    }

    #[test]
    fn texas_sundays_start_at_noon_and_rhode_island_saturdays_end_at_five() {
        let tx = SHIPPED.rules.iter().find(|r| r.region == "US-TX").unwrap();
        // 2026-12-06 is a Sunday.
        assert!(allows_at(tx, date(2026, 12, 6).at(11, 59, 0, 0)).is_err());
        assert!(allows_at(tx, date(2026, 12, 6).at(12, 0, 0, 0)).is_ok());
        assert!(allows_at(tx, date(2026, 12, 7).at(9, 0, 0, 0)).is_ok());
        assert!(allows_at(tx, date(2026, 12, 7).at(8, 59, 0, 0)).is_err());
        let ri = SHIPPED.rules.iter().find(|r| r.region == "US-RI").unwrap();
        assert!(allows_at(ri, date(2026, 12, 5).at(16, 59, 0, 0)).is_ok());
        assert!(allows_at(ri, date(2026, 12, 5).at(17, 0, 0, 0)).is_err());
        assert!(allows_at(ri, date(2026, 12, 7).at(17, 59, 0, 0)).is_ok());
        assert!(allows_at(ri, date(2026, 12, 7).at(18, 0, 0, 0)).is_err());
        // Victory Day 2026: Monday 10 August.
        let e = allows_at(ri, date(2026, 8, 10).at(12, 0, 0, 0)).unwrap_err();
        assert_eq!(e, "no calls on a US-RI holiday");
        let e = allows_at(ri, date(2026, 12, 6).at(12, 0, 0, 0)).unwrap_err();
        assert_eq!(e, "no calls on Sundays");
    }

    #[test]
    fn any_us_state_means_every_state_rule() {
        let all: Vec<String> = vec![super::super::zones::US_ANY.into()];
        assert_eq!(rules_for(&all, &[]).count(), SHIPPED.rules.len());
        let fl: Vec<String> = vec!["US-FL".into(), "GB".into()];
        assert_eq!(rules_for(&fl, &[]).count(), 1);
    }
}
