//! What the compliance proofs share (`zones_month`, `evidence`): a campaign's list imported as
//! `dialer import` imports it, the attempts read back from the store as the checker sees them,
//! the checker's abandon rate over a window, wall times, and the binary run against a store.

use std::path::Path;

use dialer::campaign::Campaign;
use dialer::leads::import::{ImportReport, ImportTarget, import_file};
use dialer::store::{CampaignIds, Store};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Store the campaign (as `dialer import` and the daemon do at `at`) and import `file` into its
/// first list.
pub async fn sync_and_import(
    store: &Store,
    c: &Campaign,
    at: Timestamp,
    file: &Path,
    region: phonenumber::country::Id,
) -> (CampaignIds, ImportReport) {
    let ids = dialer::leads::sync_campaign(store, c, at).await.unwrap();
    let report = import_list(store, c, &ids, file, region).await;
    (ids, report)
}

/// Import `file` into the campaign's first list, as `dialer import` does.
pub async fn import_list(
    store: &Store,
    c: &Campaign,
    ids: &CampaignIds,
    file: &Path,
    region: phonenumber::country::Id,
) -> ImportReport {
    import_file(
        store,
        ImportTarget {
            campaign_id: ids.id,
            list_id: ids.list(&c.lists[0].name).unwrap(),
            region,
            columns: c.lists[0].columns.clone(),
            dnc: Default::default(),
        },
        file,
        |_| {},
    )
    .await
    .unwrap()
}

/// Load a US national registry file dated `date`, as `dialer dnc import --registry` does.
pub async fn load_us_registry(
    store: &Store,
    file: &Path,
    date: Timestamp,
    now: Timestamp,
) -> dialer::leads::registry::RegistryLoad {
    dialer::leads::registry::load(
        store,
        dialer::compliance::registry::Registry::UsNational,
        file,
        Some(date),
        phonenumber::country::Id::US,
        now,
    )
    .await
    .unwrap()
}

/// The wall time at `at` in `zone`, as the evidence writes it (`2026-12-07T20:55:00`).
pub fn wall(zone: &str, at: Timestamp) -> String {
    TimeZone::get(zone)
        .unwrap()
        .to_datetime(at)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// A stored attempt as the checker reads it.
pub struct Seen {
    pub lead: i64,
    pub phone: String,
    pub attrs: String,
    pub at: Timestamp,
    pub outcome: String,
    /// The zone key stored with the attempt, and the lead's.
    pub zone_key: Option<String>,
    pub lead_zone_key: Option<String>,
    /// What the rules saw when the dial was allowed.
    pub evidence: Option<String>,
}

/// Every attempt of the campaign, in dial order.
pub async fn attempts(store: &Store, campaign_id: i64) -> Vec<Seen> {
    use sea_orm::ConnectionTrait;
    let rows = store
        .conn()
        .query_all_raw(store.stmt(
            "SELECT a.lead_id, l.phone, l.attributes, a.dial_at_ms, a.outcome, a.zone_key, \
             l.zone_key AS lead_zone_key, a.evidence FROM call_attempts a \
             JOIN leads l ON l.id = a.lead_id WHERE a.campaign_id = ? ORDER BY a.dial_at_ms",
            vec![campaign_id.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| Seen {
            lead: r.try_get("", "lead_id").unwrap(),
            phone: r.try_get("", "phone").unwrap(),
            attrs: r.try_get("", "attributes").unwrap(),
            at: Timestamp::from_millisecond(r.try_get("", "dial_at_ms").unwrap()).unwrap(),
            outcome: r.try_get("", "outcome").unwrap(),
            zone_key: r.try_get("", "zone_key").unwrap(),
            lead_zone_key: r.try_get("", "lead_zone_key").unwrap(),
            evidence: r.try_get("", "evidence").unwrap(),
        })
        .collect()
}

/// The checker's abandon rate over one window: the attempts dialed in `[from, to)` whose
/// outcome says a person answered (`human`, `abandoned`) and of those the abandoned; with
/// `hidden_people`, that share of the AMD machines counted as abandoned people too (Ofcom's
/// reasoned estimate).
#[derive(Debug, Clone, PartialEq)]
pub struct AbandonWindow {
    pub from: Timestamp,
    pub to: Timestamp,
    pub live: usize,
    pub abandoned: usize,
    pub machines: usize,
    pub rate: f64,
}

pub fn abandon_window(
    seen: &[Seen],
    from: Timestamp,
    to: Timestamp,
    hidden_people: f64,
) -> AbandonWindow {
    let inside = || seen.iter().filter(|a| a.at >= from && a.at < to);
    let count = |o: &[&str]| inside().filter(|a| o.contains(&a.outcome.as_str())).count();
    let live = count(&["human", "abandoned"]);
    let abandoned = count(&["abandoned"]);
    let machines = count(&["machine"]);
    let hidden = hidden_people * machines as f64;
    let l = live as f64 + hidden;
    AbandonWindow {
        from,
        to,
        live,
        abandoned,
        machines,
        rate: if l > 0.0 {
            (abandoned as f64 + hidden) / l
        } else {
            0.0
        },
    }
}

/// Run the binary in `root` against the store at `url` (no config file, no environment).
pub fn cli(root: &Path, url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dialer"))
        .current_dir(root)
        .env_remove("DIALER_CONFIG")
        .env_remove("DIALER_DATABASE_URL")
        .args(["--config", "none.toml", "--db", url])
        .args(args)
        .output()
        .unwrap()
}
