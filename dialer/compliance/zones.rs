//! Where a number may ring: the candidate time zones and regions (US states) of a lead.
//!
//! The data are two generated files beside this one (`data/make_data.py` rebuilds them):
//! `zones.txt`, libphonenumber's time-zone map (number prefix → IANA zones, the longest prefix
//! wins) with each NANP area code's state, and `zip3.txt`, the first three digits of a US ZIP
//! code → the states and zones of its active ZIP codes. Both are compiled in and parsed once.
//!
//! A lead's [`Place`] is found in this order ([`ZoneSource`]): the list's zone column (one
//! zone), the postal code (`columns.postal_code`: a US ZIP, a UK postcode district), the
//! number, else the campaign's zone. Several candidate zones are the rule, not the exception
//! (an area code that spans two zones; a mobile or unknown prefix gets all of its country's
//! zones); the rules hold a lead dialable only when they hold in every one (the strictest
//! reading). The regions are the number's area-code state and the postal code's state, both
//! (a state's law may follow either: Florida's presumes the area code, most follow residence).

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use jiff::tz::TimeZone;

/// The version line of the generated zone data (the `phonenumbers` release it came from).
pub fn data_version() -> &'static str {
    &DATA.version
}

/// How a lead's zones were found, for `dialer import --json` and the evidence of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSource {
    /// The list's zone column.
    Column,
    /// `columns.postal_code`.
    PostalCode,
    /// The number's prefix (libphonenumber's time-zone data).
    Number,
    /// Nothing known: the campaign's zone.
    CampaignDefault,
}

impl ZoneSource {
    pub const ALL: [ZoneSource; 4] = [
        ZoneSource::Column,
        ZoneSource::PostalCode,
        ZoneSource::Number,
        ZoneSource::CampaignDefault,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::Column => "column",
            ZoneSource::PostalCode => "postal_code",
            ZoneSource::Number => "number",
            ZoneSource::CampaignDefault => "campaign_default",
        }
    }
}

impl std::str::FromStr for ZoneSource {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ZoneSource::ALL
            .into_iter()
            .find(|z| z.as_str() == s)
            .ok_or(())
    }
}

/// Every US state: the region a US number with no known state stands for (all states' rules
/// apply to it).
pub const US_ANY: &str = "US-*";

/// The candidate zones and regions of a lead, as found at import and stored as its zone key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// IANA names, sorted; empty: the campaign's zone.
    pub zones: Vec<String>,
    /// `US-CA`, `GB`, [`US_ANY`], …, sorted; may be empty (nothing known).
    pub regions: Vec<String>,
    pub source: ZoneSource,
}

impl Location {
    /// The stored form: `REGION REGION|ZONE ZONE` (the scheduler reads the leads of the keys
    /// whose every zone is open).
    pub fn key(&self) -> String {
        format!("{}|{}", self.regions.join(" "), self.zones.join(" "))
    }
}

/// A lead's place resolved for the rules: its zones (with their rules) and regions.
#[derive(Debug, Clone)]
pub struct Place {
    /// Empty: the campaign's zone.
    pub zones: Vec<(String, TimeZone)>,
    pub regions: Vec<String>,
}

impl Place {
    /// Read a stored zone key; the error names the unknown zone.
    pub fn from_key(key: &str) -> Result<Place, String> {
        let (regions, zones) = key.split_once('|').unwrap_or(("", key));
        let mut out = Place {
            zones: Vec::new(),
            regions: regions.split_whitespace().map(str::to_string).collect(),
        };
        for z in zones.split_whitespace() {
            let tz = TimeZone::get(z).map_err(|_| z.to_string())?;
            out.zones.push((z.to_string(), tz));
        }
        Ok(out)
    }
}

struct Data {
    version: String,
    names: Vec<String>,
    /// Number prefix (digits, country code first) → zone indexes.
    prefixes: HashMap<String, Vec<u16>>,
    longest: usize,
    /// NANP area code → region (`US-CA`, `CA`, `PR`, [`US_ANY`]).
    area_codes: HashMap<u16, String>,
    /// The zones of the US's own area codes (an unknown US prefix may ring in any of them).
    us_zones: Vec<u16>,
    /// ZIP3 → (regions, zones).
    zip3: HashMap<String, (Vec<String>, Vec<String>)>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| {
    parse(
        include_str!("data/zones.txt"),
        include_str!("data/zip3.txt"),
    )
});

fn parse(zones: &str, zip3: &str) -> Data {
    let mut d = Data {
        version: String::new(),
        names: Vec::new(),
        prefixes: HashMap::new(),
        longest: 0,
        area_codes: HashMap::new(),
        us_zones: Vec::new(),
        zip3: HashMap::new(),
    };
    // The files are generated and compiled in; a line that does not parse is skipped, and the
    // unit tests check that every line parses.
    for line in zones.lines() {
        if let Some(v) = line.strip_prefix("# libphonenumber") {
            d.version = format!("libphonenumber{v}");
        }
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("Z") => d.names = parts.map(str::to_string).collect(),
            Some("P") => {
                if let (Some(p), Some(ix)) = (parts.next(), parts.next()) {
                    let ix: Vec<u16> = ix.split(',').filter_map(|i| i.parse().ok()).collect();
                    d.longest = d.longest.max(p.len());
                    d.prefixes.insert(p.to_string(), ix);
                }
            }
            Some("A") => {
                if let (Some(npa), Some(r)) =
                    (parts.next().and_then(|n| n.parse().ok()), parts.next())
                {
                    let r = if r == "-" { US_ANY } else { r };
                    d.area_codes.insert(npa, r.to_string());
                }
            }
            _ => {}
        }
    }
    let mut us: BTreeSet<u16> = BTreeSet::new();
    for (npa, r) in &d.area_codes {
        if r.starts_with("US-") && r != US_ANY {
            let p = format!("1{npa}");
            for (k, ix) in &d.prefixes {
                if k.starts_with(&p) {
                    us.extend(ix.iter().copied());
                }
            }
        }
    }
    d.us_zones = us.into_iter().collect();
    for line in zip3.lines().filter(|l| !l.starts_with('#')) {
        let mut parts = line.split_whitespace();
        if let (Some(k), Some(r), Some(z)) = (parts.next(), parts.next(), parts.next()) {
            d.zip3.insert(
                k.to_string(),
                (
                    r.split(',').map(str::to_string).collect(),
                    z.split(',').map(str::to_string).collect(),
                ),
            );
        }
    }
    d
}

fn names(ix: &[u16]) -> Vec<String> {
    let mut v: Vec<String> = ix
        .iter()
        .filter_map(|i| DATA.names.get(usize::from(*i)).cloned())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The candidate zones of an E.164 number from libphonenumber's data (longest prefix), with a
/// US number of an unknown or non-geographic prefix given every US zone (not the whole NANP's);
/// empty when the data know nothing of it.
pub fn number_zones(e164: &str) -> Vec<String> {
    let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len().min(DATA.longest);
    for len in (1..=n).rev() {
        if let Some(ix) = DATA.prefixes.get(&digits[..len]) {
            // "1" alone is the whole NANP: a US number narrows it to the US's zones.
            if len == 1 && digits.starts_with('1') && number_region(e164).is_some_and(|r| is_us(&r))
            {
                return names(&DATA.us_zones);
            }
            return names(ix);
        }
    }
    Vec::new()
}

fn is_us(r: &str) -> bool {
    r.starts_with("US-")
}

/// The region of an E.164 number: a NANP area code's state (`US-CA`; [`US_ANY`] for a US code
/// with no state) or region (`CA`, `PR`); otherwise the number's country (`GB`).
pub fn number_region(e164: &str) -> Option<String> {
    let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
    if let Some(rest) = digits.strip_prefix('1') {
        let npa: u16 = rest.get(..3)?.parse().ok()?;
        return DATA.area_codes.get(&npa).cloned();
    }
    let n = phonenumber::parse(None, e164).ok()?;
    if let Some(id) = n.country().id() {
        return Some(id.as_ref().to_string());
    }
    // A number its country's metadata does not place (a reserved range): the main country of
    // its calling code.
    let code = n.code().value();
    phonenumber::metadata::DATABASE
        .region(&code)?
        .first()
        .map(|s| s.to_string())
}

/// What a postal code says: (regions, zones), or `None` when it is not one this data knows
/// (a US ZIP by its first three digits; a UK postcode or district).
pub fn postal_place(country: &str, raw: &str) -> Option<(Vec<String>, Vec<String>)> {
    let s: String = raw.trim().to_ascii_uppercase();
    match country {
        "US" => {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            let rest = &s[digits.len()..];
            let zip_ok = digits.len() == 5
                && (rest.is_empty()
                    || rest
                        .strip_prefix('-')
                        .is_some_and(|r| r.len() == 4 && r.chars().all(|c| c.is_ascii_digit())));
            if !zip_ok {
                return None;
            }
            DATA.zip3.get(&digits[..3]).cloned()
        }
        "GB" => {
            let district = s.split_whitespace().next()?;
            let letters: String = district
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            let tail = &district[letters.len()..];
            let ok = (1..=2).contains(&letters.len())
                && tail.chars().next().is_some_and(|c| c.is_ascii_digit())
                && tail.len() <= 2
                && tail.chars().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                return None;
            }
            let (region, zone) = match letters.as_str() {
                "GY" => ("GG", "Europe/Guernsey"),
                "JE" => ("JE", "Europe/Jersey"),
                "IM" => ("IM", "Europe/Isle_of_Man"),
                _ => ("GB", "Europe/London"),
            };
            Some((vec![region.to_string()], vec![zone.to_string()]))
        }
        _ => None,
    }
}

/// Where a lead's number may ring: from its zone column, else its postal code, else its
/// number, else the campaign's zone. `country` is the list's region (`US`, `GB`), for the
/// postal code's format.
pub fn locate(
    e164: &str,
    zone_column: Option<&str>,
    postal: Option<&str>,
    country: &str,
) -> Location {
    let mut regions: BTreeSet<String> = BTreeSet::new();
    if let Some(r) = number_region(e164) {
        regions.insert(r);
    }
    let postal = postal
        .filter(|p| !p.trim().is_empty())
        .and_then(|p| postal_place(country, p));
    if let Some((r, _)) = &postal {
        regions.extend(r.iter().cloned());
    }
    let (zones, source) = if let Some(z) = zone_column {
        (vec![z.to_string()], ZoneSource::Column)
    } else if let Some((_, z)) = postal {
        (z, ZoneSource::PostalCode)
    } else {
        match number_zones(e164) {
            z if z.is_empty() => (Vec::new(), ZoneSource::CampaignDefault),
            z => (z, ZoneSource::Number),
        }
    };
    // A known state makes "any state" redundant.
    if regions.iter().any(|r| is_us(r) && r != US_ANY) {
        regions.remove(US_ANY);
    }
    Location {
        zones,
        regions: regions.into_iter().collect(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_data_line_parses() {
        let z = include_str!("data/zones.txt");
        let mut p = 0;
        let mut a = 0;
        for l in z.lines().filter(|l| !l.starts_with('#')) {
            match l.split_whitespace().next() {
                Some("P") => p += 1,
                Some("A") => a += 1,
                Some("Z") => {}
                other => panic!("unknown line kind {other:?}: {l}"),
            }
        }
        assert_eq!(DATA.prefixes.len(), p);
        assert_eq!(DATA.area_codes.len(), a);
        assert!(
            DATA.prefixes
                .values()
                .flatten()
                .all(|i| usize::from(*i) < DATA.names.len())
        );
        let zip_lines = include_str!("data/zip3.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count();
        assert_eq!(DATA.zip3.len(), zip_lines);
        assert!(
            data_version().starts_with("libphonenumber"),
            "{}",
            data_version()
        );
        // Every zone name of the data is in the time-zone database this build uses.
        for n in DATA
            .names
            .iter()
            .chain(DATA.zip3.values().flat_map(|v| &v.1))
        {
            assert!(TimeZone::get(n).is_ok(), "{n} is not a known zone");
        }
    }

    #[test]
    fn a_los_angeles_number_rings_in_los_angeles() {
        let l = locate("+12135550100", None, None, "US");
        assert_eq!(l.zones, ["America/Los_Angeles"]);
        assert_eq!(l.regions, ["US-CA"]);
        assert_eq!(l.source, ZoneSource::Number);
        assert_eq!(l.key(), "US-CA|America/Los_Angeles");
    }

    #[test]
    fn an_area_code_over_two_zones_gives_both() {
        // 208: Idaho, Mountain in the south, Pacific in the north.
        let l = locate("+12083300100", None, None, "US");
        assert_eq!(l.zones, ["America/Boise", "America/Los_Angeles"]);
        assert_eq!(l.regions, ["US-ID"]);
        // 701: North Dakota, Mountain and Central.
        let l = locate("+17015550100", None, None, "US");
        assert_eq!(l.zones, ["America/Denver", "America/North_Dakota/Center"]);
    }

    #[test]
    fn a_us_number_of_no_area_gets_every_us_zone_and_every_state() {
        let l = locate("+18005550100", None, None, "US");
        assert_eq!(l.regions, [US_ANY]);
        assert!(l.zones.len() >= 8, "{:?}", l.zones);
        for z in [
            "America/New_York",
            "America/Los_Angeles",
            "Pacific/Honolulu",
            "America/Anchorage",
        ] {
            assert!(l.zones.iter().any(|x| x == z), "{z} in {:?}", l.zones);
        }
        // Not the Caribbean's or Canada's.
        assert!(
            !l.zones
                .iter()
                .any(|z| z == "America/Toronto" || z == "America/Jamaica")
        );
    }

    #[test]
    fn uk_mobiles_get_the_uk_zones() {
        let l = locate("+447700900123", None, None, "GB");
        assert_eq!(l.regions, ["GB"]);
        assert!(
            l.zones.contains(&"Europe/London".to_string()),
            "{:?}",
            l.zones
        );
        assert_eq!(l.source, ZoneSource::Number);
        let l = locate("+447700900123", None, Some("JE2 3AB"), "GB");
        assert_eq!(l.zones, ["Europe/Jersey"]);
        assert_eq!(l.source, ZoneSource::PostalCode);
        assert_eq!(l.regions, ["GB", "JE"]);
    }

    #[test]
    fn a_postal_code_narrows_and_adds_its_state() {
        // A Los Angeles mobile whose owner lives in Miami: Miami's zone, both states' rules.
        let l = locate("+12135550100", None, Some("33101"), "US");
        assert_eq!(l.zones, ["America/New_York"]);
        assert_eq!(l.regions, ["US-CA", "US-FL"]);
        assert_eq!(l.source, ZoneSource::PostalCode);
        // ZIP+4 too; a bad postal code is ignored.
        assert_eq!(
            locate("+12135550100", None, Some("33101-1234"), "US").source,
            ZoneSource::PostalCode
        );
        assert_eq!(
            locate("+12135550100", None, Some("ABCDE"), "US").source,
            ZoneSource::Number
        );
        // The zone column wins over both.
        let l = locate("+12135550100", Some("America/Chicago"), Some("33101"), "US");
        assert_eq!(l.zones, ["America/Chicago"]);
        assert_eq!(l.source, ZoneSource::Column);
    }

    #[test]
    fn keys_read_back() {
        let p = Place::from_key("US-ID|America/Boise America/Los_Angeles").unwrap();
        assert_eq!(p.regions, ["US-ID"]);
        assert_eq!(p.zones.len(), 2);
        assert_eq!(Place::from_key("|Mars/Base").unwrap_err(), "Mars/Base");
        let p = Place::from_key("|").unwrap();
        assert!(p.zones.is_empty() && p.regions.is_empty());
    }
}
