//! The lead scheduler and `dialer plan`: property tests against the rules written out here
//! independently, concurrent claimers, lease expiry; SQLite, and PostgreSQL when
//! `DIALER_TEST_DATABASE_URL` is set.

use std::collections::{BTreeSet, HashSet};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use dialer::campaign::{Campaign, Mode, Regime};
use dialer::leads::scheduler::Scheduler;
use dialer::leads::sync_campaign;
use dialer::store::entity::lead;
use dialer::store::{CampaignIds, DncScope, NewLead, Store};
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use crate::storedb;
use crate::storedb::{CampaignDir, TestDb, campaign_toml};

const ZONES: [Option<&str>; 6] = [
    None,
    Some("America/New_York"),
    Some("America/Los_Angeles"),
    Some("Europe/London"),
    Some("Asia/Tokyo"),
    Some("Not/AZone"),
];
const OUTCOMES: [&str; 7] = [
    "busy",
    "no_answer",
    "machine",
    "abandoned",
    "human",
    "callback",
    "sale",
];
const HOUR_MS: i64 = 3_600_000;

fn base_campaign() -> (CampaignDir, Campaign) {
    let dir = CampaignDir::new("prop", &campaign_toml("prop", ""));
    let c = dir.load("prop");
    (dir, c)
}

#[derive(Debug, Clone)]
struct Rules {
    uk: bool,
    progressive: bool,
    start_h: i8,
    end_h: i8,
    days: Vec<Weekday>,
    max_attempts: u32,
    per_24h: Option<u32>,
    reg_f: bool,
    use_global: bool,
}

#[derive(Debug, Clone)]
struct Hist {
    zone: usize,
    status: &'static str,
    attempts: i32,
    /// Hours before `at` of recent attempts.
    recent_h: Vec<i64>,
    outcome: Option<usize>,
    callback_h: Option<i64>,
    conversation_h: Option<i64>,
    abandoned_h: Option<i64>,
    machine_h: Option<i64>,
    next_h: Option<i64>,
    lease_h: Option<i64>,
    dnc_campaign: bool,
    dnc_global: bool,
}

impl Hist {
    /// A new lead in zone `zone`: never dialed, no lease, not on a DNC list.
    fn fresh(zone: usize) -> Self {
        Hist {
            zone,
            status: "new",
            attempts: 0,
            recent_h: vec![],
            outcome: None,
            callback_h: None,
            conversation_h: None,
            abandoned_h: None,
            machine_h: None,
            next_h: None,
            lease_h: None,
            dnc_campaign: false,
            dnc_global: false,
        }
    }
}

fn rules() -> impl Strategy<Value = Rules> {
    (
        any::<bool>(),
        any::<bool>(),
        5i8..13,
        14i8..24,
        proptest::sample::subsequence(
            vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
                Weekday::Saturday,
                Weekday::Sunday,
            ],
            1..=7,
        ),
        1u32..8,
        proptest::option::of(1u32..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(uk, progressive, start_h, end_h, days, max_attempts, per_24h, reg_f, use_global)| {
                Rules {
                    uk,
                    progressive,
                    start_h,
                    end_h,
                    days,
                    max_attempts,
                    per_24h,
                    reg_f,
                    use_global,
                }
            },
        )
}

/// Hours before the instant, often right at a rule's boundary (24 h, 72 h, 7 days).
fn hours_ago() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => proptest::sample::select(vec![0i64, 1, 23, 24, 25, 71, 72, 73, 167, 168, 169]),
        1 => 0i64..200,
    ]
}

/// Minutes into March 2026, often on the hour (calling-hours boundaries).
fn minute() -> impl Strategy<Value = i64> {
    prop_oneof![(0i64..31 * 24).prop_map(|h| h * 60), 0i64..(31 * 24 * 60),]
}

fn hist() -> impl Strategy<Value = Hist> {
    (
        (
            0..ZONES.len(),
            prop_oneof![4 => Just("new"), 4 => Just("active"), 1 => Just("done"), 1 => Just("dnc")],
            prop_oneof![3 => Just(0i32), 2 => 1i32..9],
            proptest::collection::vec(hours_ago(), 0..9),
            proptest::option::weighted(0.5, 0..OUTCOMES.len()),
        ),
        (
            proptest::option::weighted(0.3, -6i64..6),
            proptest::option::weighted(0.3, hours_ago()),
            proptest::option::weighted(0.3, hours_ago()),
            proptest::option::weighted(0.3, 0i64..30),
            proptest::option::weighted(0.2, -3i64..3),
            proptest::option::weighted(0.2, -2i64..2),
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.1),
        ),
    )
        .prop_map(
            |(
                (zone, status, attempts, recent_h, outcome),
                (callback_h, conversation_h, abandoned_h, machine_h, next_h, lease_h, dc, dg),
            )| Hist {
                zone,
                status,
                attempts,
                recent_h,
                outcome,
                callback_h,
                conversation_h,
                abandoned_h,
                machine_h,
                next_h,
                lease_h,
                dnc_campaign: dc,
                dnc_global: dg,
            },
        )
}

fn apply(base: &Campaign, r: &Rules) -> Campaign {
    let mut c = base.clone();
    c.regime = if r.uk { Regime::Uk } else { Regime::Us };
    c.mode = if r.progressive {
        Mode::Progressive
    } else {
        Mode::Predictive
    };
    c.hours.start = Time::constant(r.start_h, 0, 0, 0);
    c.hours.end = if r.end_h == 24 {
        Time::constant(23, 59, 59, 0)
    } else {
        Time::constant(r.end_h, 0, 0, 0)
    };
    c.hours.days = r.days.clone();
    c.retry.max_attempts = r.max_attempts;
    c.limits.per_24h = r.per_24h;
    c.limits.reg_f = r.reg_f;
    c.dnc.use_global = r.use_global;
    c
}

/// The rules, written out from the regulations and the campaign, not from the code under test.
fn may_dial(c: &Campaign, h: &Hist, at: Timestamp) -> bool {
    let at_ms = at.as_millisecond();
    let ago = |hours: i64| at_ms - hours * HOUR_MS;
    if h.status != "new" && h.status != "active" {
        return false;
    }
    if h.dnc_campaign || (h.dnc_global && c.dnc.use_global) {
        return false;
    }
    if h.attempts as u32 >= c.retry.max_attempts {
        return false;
    }
    if h.lease_h.is_some_and(|l| ago(-l) > at_ms) {
        return false;
    }
    let last = h.recent_h.iter().min().map(|m| ago(*m));
    let outcome = h.outcome.map(|o| OUTCOMES[o]);
    if let Some(cb) = h.callback_h {
        if ago(-cb) > at_ms {
            return false;
        }
    } else if let (Some(last), Some(o)) = (last, outcome)
        && let Some(d) = o.parse().ok().and_then(|o| c.retry.delay_for(o))
        && last + d.as_millis() as i64 > at_ms
    {
        return false;
    }
    let within = |window_h: i64| {
        h.recent_h
            .iter()
            .filter(|x| {
                let t = ago(**x);
                t > at_ms - window_h * HOUR_MS && t <= at_ms
            })
            .count()
    };
    if let Some(n) = c.limits.per_24h
        && within(24) >= n as usize
    {
        return false;
    }
    if c.limits.reg_f {
        if within(24 * 7) >= 7 {
            return false;
        }
        if h.conversation_h.is_some_and(|x| x < 24 * 7) {
            return false;
        }
    }
    let zone = match ZONES[h.zone] {
        None => c.hours.timezone.clone(),
        Some(z) => match TimeZone::get(z) {
            Ok(tz) => tz,
            Err(_) => return false,
        },
    };
    let uk_guard = c.regime == Regime::Uk && c.mode == Mode::Predictive;
    if uk_guard {
        if h.abandoned_h.is_some_and(|x| x < 72) {
            return false;
        }
        if let Some(m) = h.machine_h
            && zone.to_datetime(from_ms(ago(m))).date() == zone.to_datetime(at).date()
        {
            return false;
        }
    }
    let local = zone.to_datetime(at);
    let (mut start, mut end) = (c.hours.start, c.hours.end);
    if c.regime == Regime::Us {
        start = start.max(Time::constant(8, 0, 0, 0));
        end = end.min(Time::constant(21, 0, 0, 0));
    }
    if !c.hours.days.contains(&local.weekday()) || local.time() < start || local.time() >= end {
        return false;
    }
    if h.next_h.is_some_and(|n| ago(-n) > at_ms) {
        return false;
    }
    true
}

fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

/// Store the leads with their histories; returns the lead ids in order.
async fn seed(store: &Store, c: &Campaign, leads: &[Hist], at: Timestamp) -> (i64, Vec<i64>) {
    let ids = sync_campaign(store, c, at).await.unwrap();
    let list = ids.list("a").unwrap();
    let new: Vec<NewLead> = leads
        .iter()
        .enumerate()
        .map(|(i, h)| NewLead {
            list_id: list,
            phone: format!("+1212200{:04}", i),
            timezone: ZONES[h.zone].map(str::to_string),
            zone_key: None,
            zone_source: None,
            attributes: "{}".into(),
            priority: 0,
        })
        .collect();
    store
        .insert_leads(ids.id, &new, at.as_millisecond() - 1000 * HOUR_MS)
        .await
        .unwrap();
    let rows = store.leads_page(ids.id, 0, 1000).await.unwrap();
    let at_ms = at.as_millisecond();
    let ago = |hours: i64| at_ms - hours * HOUR_MS;
    let mut out = Vec::new();
    for (row, h) in rows.iter().zip(leads) {
        let mut recent: Vec<i64> = h.recent_h.iter().map(|x| ago(*x)).collect();
        recent.sort();
        let am = lead::ActiveModel {
            id: Set(row.lead.id),
            status: Set(h.status.to_string()),
            attempts: Set(h.attempts),
            recent_attempts: Set(recent
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")),
            last_attempt_at_ms: Set(recent.last().copied()),
            last_outcome: Set(h.outcome.map(|o| OUTCOMES[o].to_string())),
            callback_at_ms: Set(h.callback_h.map(|x| ago(-x))),
            last_conversation_at_ms: Set(h.conversation_h.map(ago)),
            last_abandoned_at_ms: Set(h.abandoned_h.map(ago)),
            last_machine_at_ms: Set(h.machine_h.map(ago)),
            next_attempt_at_ms: Set(h.next_h.map(|x| ago(-x))),
            lease_until_ms: Set(h.lease_h.map(|x| ago(-x))),
            lease_owner: Set(h.lease_h.map(|_| "other".to_string())),
            ..Default::default()
        };
        am.update(store.conn()).await.unwrap();
        if h.dnc_campaign {
            store
                .add_dnc(
                    DncScope::Campaign(ids.id),
                    &[&row.lead.phone],
                    None,
                    None,
                    at_ms,
                )
                .await
                .unwrap();
        }
        if h.dnc_global {
            store
                .add_dnc(DncScope::Global, &[&row.lead.phone], None, None, at_ms)
                .await
                .unwrap();
        }
        out.push(row.lead.id);
    }
    (ids.id, out)
}

fn check_case(
    db: &TestDb,
    base: &Campaign,
    r: &Rules,
    leads: &[Hist],
    minute: i64,
) -> Result<(), TestCaseError> {
    let c = apply(base, r);
    // Any minute of March 2026: both DST changes (US 8 March, UK 29 March) are inside.
    let at = from_ms(
        Timestamp::from_second(1_772_323_200)
            .unwrap()
            .as_millisecond()
            + minute * 60_000,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (claimed, ids) = rt.block_on(async {
        let store = db.open().await;
        let (_cid, ids) = seed(&store, &c, leads, at).await;
        let cids = sync_campaign(&store, &c, at).await.unwrap();
        let mut s = Scheduler::new(c.clone(), &cids, "prop", Duration::from_secs(60));
        let got = s.claim(&store, at, 10_000).await.unwrap();
        // A second claim at the same instant finds nothing new: all are leased.
        let again = s.claim(&store, at, 10_000).await.unwrap();
        assert!(again.is_empty());
        (
            got.iter().map(|r| r.lead.id).collect::<BTreeSet<i64>>(),
            ids,
        )
    });
    let expected: BTreeSet<i64> = ids
        .iter()
        .zip(leads)
        .filter(|(_, h)| may_dial(&c, h, at))
        .map(|(id, _)| *id)
        .collect();
    for id in &claimed {
        let i = ids.iter().position(|x| x == id).unwrap();
        prop_assert!(
            expected.contains(id),
            "lead {id} claimed at {at} but the rules forbid it: {:?}",
            leads[i]
        );
    }
    for id in &expected {
        let i = ids.iter().position(|x| x == id).unwrap();
        prop_assert!(
            claimed.contains(id),
            "lead {id} may be dialed at {at} but was not claimed: {:?}",
            leads[i]
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The scheduler hands out exactly the leads the rules allow: never one outside its local
    /// hours, past max attempts, inside a retry delay, over a rolling limit, leased, or on
    /// DNC, and none that is allowed is left behind.
    #[test]
    fn the_scheduler_claims_exactly_the_dialable_leads_sqlite(
        r in rules(),
        leads in proptest::collection::vec(hist(), 1..150),
        minute in minute(),
    ) {
        let (_dir, base) = base_campaign();
        check_case(&storedb::sqlite(), &base, &r, &leads, minute)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn the_scheduler_claims_exactly_the_dialable_leads_postgres(
        r in rules(),
        leads in proptest::collection::vec(hist(), 1..30),
        minute in minute(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let Some(db) = rt.block_on(storedb::postgres("prop")) else {
            return Ok(());
        };
        let (_dir, base) = base_campaign();
        check_case(&db, &base, &r, &leads, minute)?;
    }
}

/// Open all week, all day (UK regime keeps the hours as written).
fn always_open(base: &Campaign) -> Campaign {
    let mut c = base.clone();
    c.regime = Regime::Uk;
    c.mode = Mode::Progressive;
    c.hours.start = Time::constant(0, 0, 0, 0);
    c.hours.end = Time::constant(23, 59, 59, 0);
    c.hours.days = Weekday::Monday.cycle_forward().take(7).collect();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_schedulers_never_get_the_same_lead() {
    let (_dir, base) = base_campaign();
    let c = always_open(&base);
    let at = Timestamp::from_second(1_790_000_000).unwrap();
    for db in storedb::all("sched_concurrent").await {
        let setup = db.open().await;
        let hist = Hist::fresh(1);
        let leads = vec![hist; 150];
        seed(&setup, &c, &leads, at).await;
        let ids = sync_campaign(&setup, &c, at).await.unwrap();
        let mut tasks = Vec::new();
        for p in 0..3 {
            let store = Arc::new(db.open().await);
            for t in 0..2 {
                let store = store.clone();
                let mut s = Scheduler::new(
                    c.clone(),
                    &ids,
                    format!("p{p}t{t}"),
                    Duration::from_secs(60),
                );
                tasks.push(tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let got = s.claim(&store, at, 5).await.unwrap();
                        if got.is_empty() {
                            break;
                        }
                        mine.extend(got.into_iter().map(|r| r.lead.id));
                    }
                    mine
                }));
            }
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(
            unique.len(),
            all.len(),
            "{}: a lead was claimed twice",
            db.label
        );
        assert_eq!(all.len(), 150, "{}", db.label);
    }
}

/// One new lead in the store, the campaign's store ids and two schedulers, `a` and `b`, with
/// 60 s leases.
async fn one_lead_two_schedulers(
    store: &Store,
    c: &Campaign,
    at: Timestamp,
) -> (CampaignIds, Scheduler, Scheduler) {
    seed(store, c, &[Hist::fresh(0)], at).await;
    let ids = sync_campaign(store, c, at).await.unwrap();
    let lease = Duration::from_secs(60);
    let a = Scheduler::new(c.clone(), &ids, "a", lease);
    let b = Scheduler::new(c.clone(), &ids, "b", lease);
    (ids, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_returns_the_lead() {
    let (_dir, base) = base_campaign();
    let c = always_open(&base);
    let at = Timestamp::from_second(1_790_000_000).unwrap();
    for db in storedb::all("sched_lease").await {
        let store = db.open().await;
        let (_, mut a, mut b) = one_lead_two_schedulers(&store, &c, at).await;
        assert_eq!(a.claim(&store, at, 5).await.unwrap().len(), 1);
        let later = at + SignedDuration::from_secs(59);
        assert!(
            b.claim(&store, later, 5).await.unwrap().is_empty(),
            "{}",
            db.label
        );
        let expired = at + SignedDuration::from_secs(60);
        let got = b.claim(&store, expired, 5).await.unwrap();
        assert_eq!(got.len(), 1, "{}", db.label);
        assert_eq!(got[0].lead.lease_owner.as_deref(), Some("b"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previewed_lead_is_checked_again_and_its_lease_renewed() {
    let (_dir, base) = base_campaign();
    let c = always_open(&base);
    let at = Timestamp::from_second(1_790_000_000).unwrap();
    let secs = |n| at + SignedDuration::from_secs(n);
    for db in storedb::all("sched_recheck").await {
        let store = db.open().await;
        let (ids, mut a, mut b) = one_lead_two_schedulers(&store, &c, at).await;
        let got = a.claim(&store, at, 1).await.unwrap();
        let id = got[0].lead.id;
        // Still dialable at 50 s: the lease now runs to 110 s, so b finds nothing at 61 s.
        assert_eq!(
            a.recheck(&store, secs(50), id).await.unwrap(),
            None,
            "{}",
            db.label
        );
        assert!(
            b.claim(&store, secs(61), 1).await.unwrap().is_empty(),
            "{}",
            db.label
        );
        assert_eq!(
            b.recheck(&store, secs(70), id).await.unwrap().as_deref(),
            Some("another dialer holds its lease")
        );
        // Calling hours closed: refused, with the rule's message.
        let mut closed = c.clone();
        closed.hours.days = vec![];
        let mut a_closed = Scheduler::new(closed, &ids, "a", Duration::from_secs(60));
        let r = a_closed.recheck(&store, secs(80), id).await.unwrap();
        assert!(r.as_deref().is_some_and(|m| m.contains("outside")), "{r:?}");
        // On the campaign's DNC list since the claim: refused.
        let phone = lead::Entity::find_by_id(id)
            .one(store.conn())
            .await
            .unwrap()
            .unwrap()
            .phone;
        store
            .add_dnc(DncScope::Campaign(ids.id), &[phone.as_str()], None, None, 0)
            .await
            .unwrap();
        assert_eq!(
            a.recheck(&store, secs(90), id).await.unwrap().as_deref(),
            Some("number is on the campaign's do-not-call list"),
            "{}",
            db.label
        );
    }
}

#[test]
fn plan_says_why_each_lead_may_not_be_dialed() {
    let dir = CampaignDir::new(
        "sales",
        &campaign_toml("sales", "\n[limits]\nper_24h = 1\n"),
    );
    dir.write("dnc.txt", "2125550100\n");
    let file = dir.write(
        "lists/a.csv",
        "phone,tz\n\
         +12025550143,America/New_York\n\
         +12025550144,America/Los_Angeles\n\
         +442079460018,Europe/London\n\
         +12025550145,\n",
    );
    let db = storedb::sqlite();
    let dialer = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
            .current_dir(dir.root())
            .env_remove("DIALER_CONFIG")
            .env_remove("DIALER_DATABASE_URL")
            .args(["--config", "none.toml", "--db", &db.url])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    dialer(&["import", "--campaign", "sales", file.to_str().unwrap()]);
    // Tuesday 24 Nov 2026 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles.
    let plan: serde_json::Value = serde_json::from_str(&dialer(&[
        "plan",
        "--campaign",
        "sales",
        "--at",
        "2026-11-24T15:00:00Z",
        "--json",
    ]))
    .unwrap();
    assert_eq!(plan["total"], 4);
    assert_eq!(plan["dialable"], 3);
    let leads = plan["leads"].as_array().unwrap();
    let verdict = |phone: &str| {
        leads
            .iter()
            .find(|l| l["phone"] == phone)
            .unwrap_or_else(|| panic!("{phone} in {plan}"))
            .clone()
    };
    assert_eq!(verdict("+12025550143")["code"], "dialable");
    let la = verdict("+12025550144");
    assert_eq!(la["code"], "outside_hours");
    assert_eq!(
        la["reason"],
        "outside calling hours: Tue 07:00 in America/Los_Angeles (window Mon,Tue,Wed,Thu,Fri 09:00-20:00)"
    );
    assert_eq!(verdict("+12025550145")["zone"], "America/New_York");
    // Saturday: everyone is outside hours; the text form says so with local times.
    let text = dialer(&[
        "plan",
        "--campaign",
        "sales",
        "--at",
        "2026-11-28T15:00:00Z",
    ]);
    assert!(
        text.starts_with("campaign sales at 2026-11-28T15:00:00Z: 0 of 4 leads may be dialed"),
        "{text}"
    );
    assert!(text.contains("Sat 10:00"), "{text}");
}
