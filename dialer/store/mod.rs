//! The CRM store: sea-orm entities over SQLite (the embedded default) or PostgreSQL.
//!
//! [`Store::open`] connects by URL (`sqlite://PATH?mode=rwc` or `postgres://…`) and applies the
//! migrations of the `migrations` crate. SQLite runs in WAL mode with a busy timeout and a pool
//! of several connections. Every timestamp is unix epoch milliseconds UTC (`*_at_ms`).
//!
//! The typed functions here are what other modules call: campaigns and lists, bulk lead insert,
//! lead claims with a lease, attempts, dispositions, DNC numbers, abandon counts, operators'
//! actions (audit events), the rows reports read.

use std::path::Path;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExprTrait,
    Statement, TransactionTrait, Value,
};

pub mod attempts;
pub mod audit;
pub mod daemon;
pub mod entity;
pub mod erase;
pub mod history;
pub mod leads;
pub mod report;
pub mod users;
mod window;
pub mod writable;

pub use attempts::{
    AbandonCounts, AttemptEnd, AttemptProgress, AttemptStart, ComplianceAttempt, ComplianceOptOut,
    InterruptedRetry, NewDisposition,
};
pub use audit::AuditEvent;
pub use daemon::LeadUpdate;
pub use history::HistoryEntry;
pub use leads::{ClaimDecision, ClaimRequest, LeadRow, LeadZones, NewLead};
pub use report::{ReportRows, ShiftTotals};
pub use users::{Role, User};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {url}: {source}")]
    Open { url: String, source: DbErr },
    #[error("cannot apply the store migrations: {0}")]
    Migrate(DbErr),
    /// SQLite cannot write where its file is (read-only filesystem or directory, no directory).
    #[error("cannot open the store at {url}: {problem}")]
    NotWritable { url: String, problem: String },
    #[error("store: {0}")]
    Db(#[from] DbErr),
    #[error("campaign {0:?} is not in the store (import a list into it first)")]
    UnknownCampaign(String),
    #[error("store: {0}")]
    Invalid(String),
    /// A write still running when the daemon's stop deadline passed (the writer gave up
    /// waiting for it; it may or may not have been stored).
    #[error("store: the stop's deadline passed")]
    DeadlinePassed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether writing the same thing again can never succeed: a record the store refuses for
    /// what it says (a constraint, a type, a missing row), not for the state the store is in.
    /// A full disk, a lock, a lost connection or a database that is down are not: the write
    /// may succeed later.
    pub fn is_permanent(&self) -> bool {
        use std::ops::Deref;
        let db = match self {
            StoreError::Invalid(_) | StoreError::UnknownCampaign(_) => return true,
            // At open only; a read-only place may be made writable.
            StoreError::NotWritable { .. } => return false,
            // The store's state, not the record's.
            StoreError::DeadlinePassed => return false,
            StoreError::Db(db) | StoreError::Open { source: db, .. } | StoreError::Migrate(db) => {
                db
            }
        };
        let (sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))) = db
        else {
            return false;
        };
        let sea_orm::sqlx::Error::Database(e) = e.deref() else {
            return false;
        };
        if !matches!(e.kind(), sea_orm::sqlx::error::ErrorKind::Other) {
            return true; // unique, foreign key, not null, check
        }
        let code = e.code().unwrap_or_default();
        if let Ok(n) = code.parse::<i32>() {
            // SQLite: SQLITE_ERROR (bad SQL), CONSTRAINT, MISMATCH, RANGE.
            matches!(n & 0xff, 1 | 19 | 20 | 25)
        } else {
            // PostgreSQL: data exceptions, integrity, syntax or access rule.
            code.starts_with("22") || code.starts_with("23") || code.starts_with("42")
        }
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH?mode=rwc`, `sqlite::memory:` or `postgres://…`.
    pub url: String,
    /// PostgreSQL only: the schema to work in (its own `search_path`); must exist.
    pub schema: Option<String>,
    /// Pool size (SQLite: readers share it with the one writer at a time).
    pub max_connections: u32,
    /// Apply the migrations on open.
    pub migrate: bool,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            schema: None,
            max_connections: 4,
            migrate: true,
        }
    }
}

/// The default store: a SQLite file `dialer.db` in the state directory.
pub fn default_sqlite_url(state_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        state_dir.join("dialer.db").display()
    )
}

/// A connection pool to the CRM store.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

/// The store ids of a campaign and its lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignIds {
    pub id: i64,
    /// `(list name, list id)` in the order given.
    pub lists: Vec<(String, i64)>,
}

impl CampaignIds {
    pub fn list(&self, name: &str) -> Option<i64> {
        self.lists
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }
}

/// A campaign as the store keeps it (the file stays the source of truth for everything else).
#[derive(Debug, Clone)]
pub struct CampaignRecord<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub regime: &'a str,
    pub source: Option<&'a str>,
    /// `recording.keep` in milliseconds; `None`: the daemon's `media.recordings_keep`.
    pub recording_keep_ms: Option<i64>,
    pub lists: Vec<ListRecord<'a>>,
}

/// A list of a campaign: its kind and priority order the scheduler.
#[derive(Debug, Clone)]
pub struct ListRecord<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub priority: i32,
    pub default_region: &'a str,
}

/// Which list of phone numbers a DNC entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DncScope {
    Global,
    Campaign(i64),
}

impl DncScope {
    fn id(self) -> i64 {
        match self {
            DncScope::Global => 0,
            DncScope::Campaign(id) => id,
        }
    }
}

impl Store {
    /// Connect by URL with the default options and apply the migrations.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(StoreOptions::new(url)).await
    }

    /// Connect with explicit options.
    pub async fn open_with(opts: StoreOptions) -> Result<Store> {
        let mut co = ConnectOptions::new(opts.url.clone());
        co.max_connections(Ord::max(opts.max_connections, 2))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        if let Some(schema) = &opts.schema {
            co.set_schema_search_path(schema.clone());
        }
        if opts.url.starts_with("sqlite:") {
            co.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
            co.map_sqlx_sqlite_pool_opts(|o| o.after_release(release_sqlite));
        }
        // SQLite says "unable to open database file" (or fails on the first write): say why.
        let not_writable = |url: &str| {
            let problem = writable::sqlite_path(url).and_then(|p| writable::problem(&p))?;
            Some(StoreError::NotWritable {
                url: redact(url),
                problem,
            })
        };
        let db = match Database::connect(co).await {
            Ok(db) => db,
            Err(source) => {
                return Err(not_writable(&opts.url).unwrap_or(StoreError::Open {
                    url: redact(&opts.url),
                    source,
                }));
            }
        };
        let store = Store { db };
        if opts.migrate
            && let Err(err) = store.migrate().await
        {
            return Err(not_writable(&opts.url).unwrap_or(err));
        }
        Ok(store)
    }

    /// Apply every pending migration; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize> {
        let pending = Migrator::get_pending_migrations(&self.db)
            .await
            .map_err(StoreError::Migrate)?
            .len();
        Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(pending)
    }

    /// Names of the applied migrations, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<String>> {
        let done = Migrator::get_applied_migrations(&self.db)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(done.iter().map(|m| m.name().to_string()).collect())
    }

    /// The sea-orm connection, for modules that query with entities.
    /// A transaction that writes. On SQLite it takes the write lock at `BEGIN` (`IMMEDIATE`), so
    /// it waits out other writers with the busy timeout instead of failing at its first write
    /// with "database is locked" (a deferred transaction cannot wait to upgrade).
    pub async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction> {
        Ok(self
            .db
            .begin_with_options(sea_orm::TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?)
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Insert or update a campaign and its lists; returns their ids.
    pub async fn upsert_campaign(
        &self,
        c: &CampaignRecord<'_>,
        now_ms: i64,
    ) -> Result<CampaignIds> {
        let txn = self.begin_write().await?;
        let q = Query::insert()
            .into_table("campaigns")
            .columns([
                "name",
                "kind",
                "regime",
                "source",
                "recording_keep_ms",
                "created_at_ms",
                "updated_at_ms",
            ])
            .values_panic([
                c.name.into(),
                c.kind.into(),
                c.regime.into(),
                c.source.map(str::to_string).into(),
                c.recording_keep_ms.into(),
                now_ms.into(),
                now_ms.into(),
            ])
            .on_conflict(
                OnConflict::column("name")
                    .update_columns([
                        "kind",
                        "regime",
                        "source",
                        "recording_keep_ms",
                        "updated_at_ms",
                    ])
                    .to_owned(),
            )
            .to_owned();
        txn.execute(&q).await?;
        let id = campaign_id_in(&txn, c.name)
            .await?
            .ok_or_else(|| StoreError::UnknownCampaign(c.name.to_string()))?;
        let mut lists = Vec::with_capacity(c.lists.len());
        for l in &c.lists {
            let q = Query::insert()
                .into_table("lists")
                .columns([
                    "campaign_id",
                    "name",
                    "kind",
                    "priority",
                    "default_region",
                    "created_at_ms",
                    "updated_at_ms",
                ])
                .values_panic([
                    id.into(),
                    l.name.into(),
                    l.kind.into(),
                    l.priority.into(),
                    l.default_region.into(),
                    now_ms.into(),
                    now_ms.into(),
                ])
                .on_conflict(
                    OnConflict::columns(["campaign_id", "name"])
                        .update_columns(["kind", "priority", "default_region", "updated_at_ms"])
                        .to_owned(),
                )
                .to_owned();
            txn.execute(&q).await?;
            let row = txn
                .query_one(
                    Query::select()
                        .column("id")
                        .from("lists")
                        .and_where(Expr::col("campaign_id").eq(id))
                        .and_where(Expr::col("name").eq(l.name)),
                )
                .await?
                .ok_or_else(|| StoreError::Invalid(format!("list {:?} vanished", l.name)))?;
            lists.push((l.name.to_string(), row.try_get::<i64>("", "id")?));
        }
        txn.commit().await?;
        Ok(CampaignIds { id, lists })
    }

    /// The id of a campaign by name, if the store knows it.
    pub async fn campaign_id(&self, name: &str) -> Result<Option<i64>> {
        campaign_id_in(&self.db, name).await
    }

    /// Add numbers to a DNC list; returns how many were new.
    pub async fn add_dnc(
        &self,
        scope: DncScope,
        phones: &[&str],
        source: Option<&str>,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<u64> {
        let mut added = 0;
        let txn = self.begin_write().await?;
        for chunk in phones.chunks(1000) {
            let mut q = Query::insert()
                .into_table("dnc_numbers")
                .columns(["phone", "campaign_id", "source", "reason", "added_at_ms"])
                .on_conflict(
                    OnConflict::columns(["phone", "campaign_id"])
                        .do_nothing()
                        .to_owned(),
                )
                .to_owned();
            for p in chunk {
                q.values_panic([
                    (*p).into(),
                    scope.id().into(),
                    source.map(str::to_string).into(),
                    reason.map(str::to_string).into(),
                    now_ms.into(),
                ]);
            }
            added += txn.execute(&q).await?.rows_affected();
        }
        txn.commit().await?;
        Ok(added)
    }

    /// Record a registry download loaded into the global DNC list: its data's date, how many
    /// numbers it had and how many of them were new.
    pub async fn record_registry(
        &self,
        registry: &str,
        file: &str,
        file_date_ms: i64,
        numbers: u64,
        added: u64,
        now_ms: i64,
    ) -> Result<()> {
        let q = Query::insert()
            .into_table("dnc_registries")
            .columns([
                "registry",
                "file",
                "file_date_ms",
                "loaded_at_ms",
                "numbers",
                "added",
            ])
            .values_panic([
                registry.into(),
                file.into(),
                file_date_ms.into(),
                now_ms.into(),
                i64::try_from(numbers).unwrap_or(i64::MAX).into(),
                i64::try_from(added).unwrap_or(i64::MAX).into(),
            ])
            .to_owned();
        let txn = self.begin_write().await?;
        txn.execute(&q).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The date (unix ms) of the newest loaded data of a registry, if any were loaded.
    pub async fn registry_date(&self, registry: &str) -> Result<Option<i64>> {
        let row = self
            .db
            .query_one(
                Query::select()
                    .expr_as(Expr::col("file_date_ms").max(), "newest")
                    .from("dnc_registries")
                    .and_where(Expr::col("registry").eq(registry)),
            )
            .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(r.try_get::<Option<i64>>("", "newest")?),
        }
    }

    /// Every number of the campaign's own DNC list, and of the global list when asked.
    pub async fn dnc_numbers(
        &self,
        campaign_id: i64,
        with_global: bool,
    ) -> Result<std::collections::HashSet<String>> {
        let scopes = if with_global {
            vec![0, campaign_id]
        } else {
            vec![campaign_id]
        };
        let rows = self
            .db
            .query_all(
                Query::select()
                    .column("phone")
                    .from("dnc_numbers")
                    .and_where(Expr::col("campaign_id").is_in(scopes)),
            )
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String>("", "phone").map_err(StoreError::from))
            .collect()
    }

    /// Whether a number is on the global or the campaign's DNC list.
    pub async fn is_dnc(&self, campaign_id: i64, phone: &str) -> Result<bool> {
        let row = self
            .db
            .query_one(
                Query::select()
                    .expr(Expr::val(1))
                    .from("dnc_numbers")
                    .and_where(Expr::col("phone").eq(phone))
                    .and_where(Expr::col("campaign_id").is_in([0, campaign_id]))
                    .limit(1),
            )
            .await?;
        Ok(row.is_some())
    }

    /// Run a raw statement written with `?` placeholders (numbered for PostgreSQL).
    pub fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        stmt(self.backend(), sql, values)
    }
}

async fn campaign_id_in(db: &impl ConnectionTrait, name: &str) -> Result<Option<i64>> {
    let row = db
        .query_one(
            Query::select()
                .column("id")
                .from("campaigns")
                .and_where(Expr::col("name").eq(name)),
        )
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<i64>("", "id")?),
        None => None,
    })
}

/// Whether a SQLite connection given back to the pool may serve again: not while sqlx still
/// counts a transaction open on it. After writes failed on a full disk (SQLite may roll a
/// transaction back itself on `SQLITE_FULL`), the `ROLLBACK` sea-orm queues when it drops the
/// failed transaction left the count above zero on one connection; its next `BEGIN IMMEDIATE`
/// then became a `SAVEPOINT`, the connection kept SQLite's write lock between uses, and every
/// other connection's write got "database is locked" until the process stopped. Such a
/// connection is closed instead (closing releases every lock it holds); the pool opens a fresh
/// one.
fn release_sqlite(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _meta: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<Output = std::result::Result<bool, sea_orm::sqlx::Error>>
            + Send
            + '_,
    >,
> {
    use sea_orm::sqlx::Connection;
    use sqlx_core::transaction::TransactionManager;
    Box::pin(async move {
        // The rollback a dropped transaction queued runs before this answers.
        conn.ping().await?;
        let depth =
            <sea_orm::sqlx::Sqlite as sea_orm::sqlx::Database>::TransactionManager::get_transaction_depth(conn);
        if depth > 0 {
            tracing::warn!(
                depth,
                "a store connection came back inside a transaction (a failed commit or rollback): closed"
            );
            metrics::counter!("dialer_store_connections_reset_total").increment(1);
            return Ok(false);
        }
        Ok(true)
    })
}

/// A statement written with `?` placeholders; PostgreSQL gets `$1, $2, …`.
pub(crate) fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(ch);
            }
        }
        out
    } else {
        sql.to_string()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// A URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        let s = stmt(DbBackend::Postgres, "a = ? AND b IN (?, ?)", vec![]);
        assert_eq!(s.sql, "a = $1 AND b IN ($2, $3)");
        let s = stmt(DbBackend::Sqlite, "a = ?", vec![]);
        assert_eq!(s.sql, "a = ?");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }
}
