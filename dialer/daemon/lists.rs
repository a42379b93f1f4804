//! The campaigns' list files in the running daemon.
//!
//! At start and on every reload each enabled campaign's `[[lists]] file`s are imported into the
//! store by a task of its own ([`load`]), with [`crate::leads::import`] (`dialer import`'s
//! validation: phone, zone, DNC, duplicates): new rows only, so importing again changes nothing.
//! A file whose size, modification time and settings are as last time is not read again; one
//! whose content hashes the same is not imported again. Rejected rows are logged with file and
//! line once (a row rejected again at the next read of a changed file is not logged again),
//! counted in `/metrics` and shown in the campaign's API status. After the import the campaign's
//! leads are judged as `dialer plan` does; a campaign with no dialable lead says why in the log
//! and the API. The same check runs when a claim finds nothing (at most every
//! [`RECHECK_EVERY`]).
//!
//! [`Lists`] is the loop's bookkeeping: which loads run, what each file looked like, what was
//! logged. Nothing here blocks the loop: the store work is in [`load`] and [`check`], which the
//! loop spawns.

use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use jiff::Timestamp;

use crate::campaign::{Campaign, ListSpec};
use crate::leads::import::{ImportOptions, ImportTarget, Rejected, import_file_with};
use crate::leads::{LeadsError, region, sync_campaign};
use crate::store::{CampaignIds, Store};

/// Rejected rows of one read logged one by one; the rest in one line.
const LOGGED_REJECTED: usize = 100;
/// A campaign whose claims find nothing has its leads judged again at most this often.
pub const RECHECK_EVERY: Duration = Duration::from_secs(60);

/// What a list file and its settings were when last imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    len: u64,
    modified: Option<SystemTime>,
    /// The list's file, columns, region and encoding: other settings may accept other rows.
    settings: String,
    hash: u64,
}

/// What became of one list file.
#[derive(Debug)]
pub enum FileResult {
    /// The same content and settings as at the last import: not imported again.
    Unchanged(Mark),
    Imported {
        mark: Mark,
        imported: u64,
        duplicates: u64,
        rejected: Vec<Rejected>,
    },
    /// The file could not be imported (unreadable, no phone column, a store error).
    Failed(String),
}

/// A campaign's lists after [`load`].
#[derive(Debug)]
pub struct Loaded {
    pub campaign: String,
    /// `(list name, file, result)` in the campaign's order.
    pub lists: Vec<(String, PathBuf, FileResult)>,
    pub check: Result<LeadCheck, String>,
}

pub use crate::leads::status::{LeadCheck, LeadsStatus, ListStatus, Reason, SHOWN_REJECTED};

/// Import the campaign's lists whose file or settings changed since `marks` (by list name),
/// then judge its leads at `now`. Its DNC files go into the store first, as `dialer import`
/// does.
pub async fn load(
    store: &Store,
    c: &Campaign,
    marks: &HashMap<String, Mark>,
    now: Timestamp,
) -> Loaded {
    let ids = match sync_campaign(store, c, now).await {
        Ok(ids) => ids,
        Err(err) => {
            let message = format!("the campaign's lists and DNC files: {err}");
            return Loaded {
                campaign: c.name.clone(),
                lists: c
                    .lists
                    .iter()
                    .map(|l| {
                        let r = FileResult::Failed(message.clone());
                        (l.name.clone(), l.file.clone(), r)
                    })
                    .collect(),
                check: Err(message),
            };
        }
    };
    let mut dnc = None;
    let mut lists = Vec::with_capacity(c.lists.len());
    for l in &c.lists {
        let r = match load_one(store, c, &ids, l, marks.get(&l.name), &mut dnc).await {
            Ok(r) => r,
            Err(err) => FileResult::Failed(err.to_string()),
        };
        lists.push((l.name.clone(), l.file.clone(), r));
    }
    Loaded {
        campaign: c.name.clone(),
        lists,
        check: check_ids(store, c, ids.id, now).await,
    }
}

/// Judge the campaign's leads at `now` (a claim found nothing).
pub async fn check(store: &Store, c: &Campaign, now: Timestamp) -> Result<LeadCheck, String> {
    match store.campaign_id(&c.name).await {
        Ok(Some(id)) => check_ids(store, c, id, now).await,
        Ok(None) => Ok(LeadCheck {
            at: now.to_string(),
            total: 0,
            dialable: 0,
            reasons: Vec::new(),
        }),
        Err(err) => Err(err.to_string()),
    }
}

async fn check_ids(
    store: &Store,
    c: &Campaign,
    id: i64,
    now: Timestamp,
) -> Result<LeadCheck, String> {
    crate::leads::plan::plan(store, c, id, now)
        .await
        .map(LeadCheck::from)
        .map_err(|e| e.to_string())
}

async fn load_one(
    store: &Store,
    c: &Campaign,
    ids: &CampaignIds,
    l: &ListSpec,
    before: Option<&Mark>,
    dnc: &mut Option<HashSet<String>>,
) -> Result<FileResult, LeadsError> {
    let file_err = |message: String| LeadsError::File {
        file: l.file.clone(),
        message,
    };
    let meta = std::fs::metadata(&l.file).map_err(|e| file_err(format!("cannot read: {e}")))?;
    let settings = format!(
        "{}|{:?}|{}|{:?}",
        l.file.display(),
        l.columns,
        l.default_region,
        l.encoding
    );
    let (len, modified) = (meta.len(), meta.modified().ok());
    if let Some(m) = before
        && m.len == len
        && m.modified == modified
        && modified.is_some()
        && m.settings == settings
    {
        return Ok(FileResult::Unchanged(m.clone()));
    }
    let path = l.file.clone();
    let hash = tokio::task::spawn_blocking(move || hash_file(&path))
        .await
        .map_err(|e| file_err(format!("hashing the file failed: {e}")))?
        .map_err(|e| file_err(format!("cannot read: {e}")))?;
    let mark = Mark {
        len,
        modified,
        settings,
        hash,
    };
    if before.is_some_and(|m| m.hash == hash && m.settings == mark.settings) {
        return Ok(FileResult::Unchanged(mark));
    }
    let reg = region(&l.default_region).ok_or_else(|| LeadsError::File {
        file: c.source.clone(),
        message: format!(
            "list {:?}: unknown default_region {:?}",
            l.name, l.default_region
        ),
    })?;
    let list_id = ids
        .list(&l.name)
        .ok_or_else(|| file_err(format!("list {:?} is not in the store", l.name)))?;
    let dnc = match dnc {
        Some(d) => d.clone(),
        None => dnc
            .insert(store.dnc_numbers(ids.id, c.dnc.use_global).await?)
            .clone(),
    };
    let target = ImportTarget {
        campaign_id: ids.id,
        list_id,
        region: reg,
        columns: l.columns.clone(),
        dnc,
    };
    let options = ImportOptions {
        encoding: l.encoding,
    };
    let report = import_file_with(store, target, &l.file, options, |_| {}).await?;
    Ok(FileResult::Imported {
        mark,
        imported: report.imported,
        duplicates: report.duplicates,
        rejected: report.rejected,
    })
}

/// A hash of the file's bytes (within this process only: it tells a changed file from a touched
/// one).
fn hash_file(path: &Path) -> std::io::Result<u64> {
    let mut f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.write(&buf[..n]);
    }
}

/// One list's bookkeeping.
#[derive(Debug)]
struct ListState {
    mark: Option<Mark>,
    status: ListStatus,
    /// The rejected rows logged and counted: `(line, reason)`.
    logged: HashSet<(u64, String)>,
}

#[derive(Debug, Default)]
struct CampaignLists {
    lists: HashMap<String, ListState>,
    status: LeadsStatus,
    /// A reload came while importing: import again with these settings when it ends.
    again: Option<Arc<Campaign>>,
    checking: bool,
    checked: Option<Instant>,
}

/// The loop's view of every campaign's lists.
#[derive(Debug, Default)]
pub struct Lists {
    campaigns: HashMap<String, CampaignLists>,
}

impl Lists {
    /// Start importing `c`'s lists: the marks to hand to [`load`], or `None` when a load of it
    /// is under way (it runs again with `c` when that one ends).
    pub fn begin(&mut self, c: &Arc<Campaign>) -> Option<HashMap<String, Mark>> {
        let cl = self.campaigns.entry(c.name.clone()).or_default();
        if cl.status.loading {
            cl.again = Some(c.clone());
            return None;
        }
        cl.status.loading = true;
        Some(
            cl.lists
                .iter()
                .filter_map(|(name, s)| Some((name.clone(), s.mark.clone()?)))
                .collect(),
        )
    }

    /// Take a finished load: log and count what is new, keep the status. Returns the campaign
    /// to load again (a reload came meanwhile).
    pub fn finish(&mut self, loaded: Loaded, now: Instant) -> Option<Arc<Campaign>> {
        let cl = self.campaigns.get_mut(&loaded.campaign)?;
        let name = loaded.campaign;
        cl.status.loading = false;
        cl.status.loads += 1;
        let mut lists = Vec::with_capacity(loaded.lists.len());
        let mut states = HashMap::new();
        for (list, file, result) in loaded.lists {
            let mut st = cl.lists.remove(&list).unwrap_or_else(|| ListState {
                mark: None,
                status: ListStatus {
                    list: list.clone(),
                    file: file.clone(),
                    imported: 0,
                    rejected: 0,
                    rejected_rows: Vec::new(),
                    error: None,
                },
                logged: HashSet::new(),
            });
            st.status.file = file.clone();
            match result {
                FileResult::Unchanged(mark) => {
                    st.mark = Some(mark);
                    st.status.error = None;
                }
                FileResult::Imported {
                    mark,
                    imported,
                    duplicates,
                    rejected,
                } => {
                    let fresh: Vec<&Rejected> = rejected
                        .iter()
                        .filter(|r| !st.logged.contains(&(r.line, r.reason.clone())))
                        .collect();
                    for r in fresh.iter().take(LOGGED_REJECTED) {
                        tracing::warn!(
                            campaign = %name,
                            list = %list,
                            "{}:{}: row rejected: {}",
                            file.display(),
                            r.line,
                            r.reason
                        );
                    }
                    if fresh.len() > LOGGED_REJECTED {
                        tracing::warn!(
                            campaign = %name,
                            list = %list,
                            "{}: {} more rows rejected (the API shows the first {SHOWN_REJECTED})",
                            file.display(),
                            fresh.len() - LOGGED_REJECTED
                        );
                    }
                    let labels = [("campaign", name.clone()), ("list", list.clone())];
                    metrics::counter!("dialer_list_rows_rejected_total", &labels)
                        .increment(fresh.len() as u64);
                    metrics::counter!("dialer_list_rows_imported_total", &labels)
                        .increment(imported);
                    tracing::info!(
                        campaign = %name,
                        list = %list,
                        file = %file.display(),
                        imported,
                        duplicates,
                        rejected = rejected.len(),
                        "list imported"
                    );
                    st.logged = rejected
                        .iter()
                        .map(|r| (r.line, r.reason.clone()))
                        .collect();
                    st.mark = Some(mark);
                    st.status.imported += imported;
                    st.status.rejected = rejected.len() as u64;
                    st.status.rejected_rows = rejected.into_iter().take(SHOWN_REJECTED).collect();
                    st.status.error = None;
                }
                FileResult::Failed(err) => {
                    tracing::error!(
                        campaign = %name,
                        list = %list,
                        file = %file.display(),
                        "list not imported: {err}"
                    );
                    st.status.error = Some(err);
                }
            }
            lists.push(st.status.clone());
            states.insert(list, st);
        }
        cl.lists = states;
        cl.status.lists = lists;
        cl.checked = Some(now);
        Self::checked(cl, &name, loaded.check);
        cl.again.take()
    }

    /// Whether to judge a campaign's leads now (its claim found nothing): not while an import
    /// or a check runs, and at most every [`RECHECK_EVERY`].
    pub fn begin_check(&mut self, campaign: &str, now: Instant) -> bool {
        let Some(cl) = self.campaigns.get_mut(campaign) else {
            return false;
        };
        if cl.status.loading
            || cl.checking
            || cl
                .checked
                .is_some_and(|t| now.saturating_duration_since(t) < RECHECK_EVERY)
        {
            return false;
        }
        cl.checking = true;
        cl.checked = Some(now);
        true
    }

    /// Take a finished check.
    pub fn finish_check(&mut self, campaign: &str, check: Result<LeadCheck, String>) {
        if let Some(cl) = self.campaigns.get_mut(campaign) {
            cl.checking = false;
            Self::checked(cl, campaign, check);
        }
    }

    /// A claim found leads: a check that found none is out of date.
    pub fn claimed(&mut self, campaign: &str) {
        if let Some(cl) = self.campaigns.get_mut(campaign)
            && cl.status.check.as_ref().is_some_and(|c| c.dialable == 0)
        {
            cl.status.check = None;
        }
    }

    fn checked(cl: &mut CampaignLists, campaign: &str, check: Result<LeadCheck, String>) {
        match check {
            Ok(check) => {
                metrics::gauge!("dialer_campaign_leads", "campaign" => campaign.to_owned())
                    .set(check.total as f64);
                metrics::gauge!("dialer_campaign_dialable_leads", "campaign" => campaign.to_owned())
                    .set(check.dialable as f64);
                let before = cl.status.check.as_ref();
                let same = |b: &LeadCheck| {
                    b.total == check.total
                        && b.dialable == check.dialable
                        && b.reasons
                            .iter()
                            .map(|r| (&r.code, r.count))
                            .eq(check.reasons.iter().map(|r| (&r.code, r.count)))
                };
                if check.dialable == 0 {
                    if !before.is_some_and(same) {
                        tracing::warn!(campaign, "no dialable lead: {check}");
                    }
                } else if before.is_none_or(|b| b.dialable == 0) {
                    tracing::info!(campaign, "{check}");
                }
                cl.status.check = Some(check);
            }
            Err(err) => {
                tracing::warn!(campaign, "cannot judge the campaign's leads: {err}");
            }
        }
    }

    /// A campaign's status (default when it has none yet).
    pub fn status(&self, campaign: &str) -> LeadsStatus {
        self.campaigns
            .get(campaign)
            .map(|cl| cl.status.clone())
            .unwrap_or_default()
    }

    /// A campaign removed by a reload: forget it (a load under way is dropped when it ends).
    pub fn remove(&mut self, campaign: &str) {
        self.campaigns.remove(campaign);
    }
}

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    fn campaign() -> Arc<Campaign> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/warm_followup.toml");
        Arc::new(crate::campaign::load(&path).expect("example campaign loads"))
    }

    fn mark(hash: u64) -> Mark {
        Mark {
            len: 10,
            modified: None,
            settings: String::new(),
            hash,
        }
    }

    fn rejected(line: u64, reason: &str) -> Rejected {
        Rejected {
            line,
            reason: reason.into(),
        }
    }

    fn imported(c: &Campaign, hash: u64, imported: u64, rejected: Vec<Rejected>) -> Loaded {
        let l = &c.lists[0];
        Loaded {
            campaign: c.name.clone(),
            lists: vec![(
                l.name.clone(),
                l.file.clone(),
                FileResult::Imported {
                    mark: mark(hash),
                    imported,
                    duplicates: 0,
                    rejected,
                },
            )],
            check: Ok(LeadCheck {
                at: "2026-01-01T00:00:00Z".into(),
                total: 0,
                dialable: 0,
                reasons: Vec::new(),
            }),
        }
    }

    /// A campaign list with `encoding = "latin1"` is imported as Latin-1 by the daemon too.
    #[tokio::test]
    async fn a_list_is_read_in_its_encoding() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("latin1.csv");
        std::fs::write(&file, b"phone,tz\n2025550143,\n\"Ren\xE9e\",\n").expect("write");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::open(&url).await.expect("store");
        let mut c = (*campaign()).clone();
        c.lists.truncate(1);
        c.lists[0].file = file.clone();
        let now = Timestamp::now();
        // As UTF-8 the file stops at line 3 (the row before it is stored).
        let got = load(&store, &c, &HashMap::new(), now).await;
        match &got.lists[0].2 {
            FileResult::Failed(m) => assert!(m.contains(":3: not valid UTF-8"), "{m}"),
            other => panic!("{other:?}"),
        }
        c.lists[0].encoding = crate::listfile::rows::Encoding::Latin1;
        let got = load(&store, &c, &HashMap::new(), now).await;
        match &got.lists[0].2 {
            FileResult::Imported {
                imported,
                duplicates,
                rejected,
                ..
            } => {
                assert_eq!((*imported, *duplicates), (0, 1));
                let reasons: Vec<&str> = rejected.iter().map(|r| r.reason.as_str()).collect();
                assert_eq!(reasons, ["not a phone number: \"Ren\u{e9}e\" has letters"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reload_during_an_import_runs_it_again_afterwards() {
        let c = campaign();
        let mut lists = Lists::default();
        assert_eq!(lists.begin(&c), Some(HashMap::new()));
        assert!(lists.status(&c.name).loading);
        // A reload while it runs: no second import now, one with the new settings after.
        assert_eq!(lists.begin(&c), None);
        let again = lists.finish(imported(&c, 1, 3, vec![]), Instant::now());
        assert!(again.is_some_and(|a| Arc::ptr_eq(&a, &c)));
        // The next import gets the file's mark, so an unchanged file is not read again.
        let marks = lists.begin(&c).expect("no import runs");
        assert_eq!(marks.get(&c.lists[0].name), Some(&mark(1)));
        assert!(
            lists
                .finish(imported(&c, 2, 1, vec![]), Instant::now())
                .is_none()
        );
        let s = lists.status(&c.name);
        assert_eq!((s.loads, s.loading, s.lists[0].imported), (2, false, 4));
    }

    #[test]
    fn a_rejected_row_is_counted_once_across_reads() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let c = campaign();
        let mut lists = Lists::default();
        metrics::with_local_recorder(&recorder, || {
            lists.begin(&c);
            lists.finish(
                imported(&c, 1, 2, vec![rejected(4, "empty phone")]),
                Instant::now(),
            );
            // The file grew: line 4 is rejected again (not counted again), line 9 is new.
            lists.begin(&c);
            lists.finish(
                imported(
                    &c,
                    2,
                    1,
                    vec![rejected(4, "empty phone"), rejected(9, "empty phone")],
                ),
                Instant::now(),
            );
        });
        let text = handle.render();
        let series = format!(
            "dialer_list_rows_rejected_total{{campaign=\"{}\",list=\"{}\"}} ",
            c.name, c.lists[0].name
        );
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .unwrap_or_else(|| panic!("no {series} in {text}"));
        assert_eq!(value.trim(), "2");
        let s = lists.status(&c.name);
        assert_eq!(s.lists[0].rejected, 2);
        assert_eq!(
            s.lists[0].rejected_rows,
            vec![rejected(4, "empty phone"), rejected(9, "empty phone")]
        );
    }

    #[test]
    fn a_claim_that_finds_leads_clears_a_check_that_found_none() {
        let c = campaign();
        let mut lists = Lists::default();
        lists.begin(&c);
        lists.finish(imported(&c, 1, 0, vec![]), Instant::now());
        assert_eq!(
            lists.status(&c.name).check.map(|k| k.dialable),
            Some(0),
            "an empty store has no dialable lead"
        );
        let t = Instant::now();
        // Checked just now: a claim finding nothing does not check again within the minute.
        assert!(!lists.begin_check(&c.name, t));
        assert!(lists.begin_check(&c.name, t + RECHECK_EVERY));
        lists.claimed(&c.name);
        assert_eq!(lists.status(&c.name).check, None);
    }
}
