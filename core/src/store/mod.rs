//! Storage on sea-orm: SQLite (embedded default) and PostgreSQL.
//!
//! Each resource has one file with its entity and the commands on it. A
//! command runs in one transaction and writes its audit event in the same
//! transaction. Unit scoping is applied inside the queries that read cases.

pub mod agent;
pub mod api_token;
pub mod article;
pub mod attachment;
pub mod audience;
pub mod audit;
pub mod bot_outcome;
pub mod campaign;
pub mod canned;
pub mod case;
pub mod channel_template;
pub mod consent_text;
pub mod contact;
pub mod data_request;
pub mod directory;
pub mod erasure;
pub mod event;
pub mod export;
pub mod idempotency;
pub mod job;
pub mod kb;
pub mod kb_analytics;
pub mod kb_import;
pub mod live;
pub mod message;
pub mod notification;
pub mod pagination;
pub mod person;
pub mod plugin;
pub mod plugin_install;
pub mod plugin_kv;
pub mod plugin_secret;
pub mod refresh_token;
pub mod report;
pub mod retention;
pub mod routing;
pub mod saved_view;
pub mod schedule;
pub mod search_text;
pub mod segment;
pub mod send_journal;
pub mod session;
pub mod setting;
pub mod sla;
pub mod sso;
pub mod subscription;
pub mod survey;
pub mod two_factor;
pub mod unit;
pub mod user;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};
use ventanilla_migrations::{Migrator, MigratorTrait};

use crate::domain;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error(transparent)]
    Domain(#[from] domain::Error),
    #[error("database error")]
    Db(#[from] DbErr),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl Error {
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Conflict { field: field.into(), message: message.into() }
    }

    /// Turns a unique-constraint violation into a conflict on `field`.
    pub fn unique(err: DbErr, field: &str, message: &str) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::conflict(field, message),
            _ => Error::Db(err),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whose a shared thing (a canned response, a saved view) is: a unit's
/// (its supervisors write it, its staff use it) or one person's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Owner {
    Unit(domain::UnitId),
    Person(domain::UserId),
}

impl Owner {
    /// The (unit_id, owner_id) columns that store it.
    pub fn columns(self) -> (Option<uuid::Uuid>, Option<uuid::Uuid>) {
        match self {
            Owner::Unit(unit) => (Some(unit.0), None),
            Owner::Person(user) => (None, Some(user.0)),
        }
    }

    /// Reads it back from its columns (a row with neither is corrupt).
    pub fn from_columns(
        what: &str,
        id: uuid::Uuid,
        unit: Option<uuid::Uuid>,
        person: Option<uuid::Uuid>,
    ) -> Result<Self> {
        match (unit, person) {
            (Some(unit), _) => Ok(Owner::Unit(domain::UnitId(unit))),
            (None, Some(user)) => Ok(Owner::Person(domain::UserId(user))),
            (None, None) => Err(Error::Corrupt(format!("{what} {id} has no owner"))),
        }
    }

    pub fn unit(self) -> Option<domain::UnitId> {
        match self {
            Owner::Unit(unit) => Some(unit),
            Owner::Person(_) => None,
        }
    }
}

/// The database, shared by every request and worker.
#[derive(Clone)]
pub struct Store {
    pub db: DatabaseConnection,
    /// SQLite has one writer; taking this lock before a write transaction
    /// turns "database is locked" errors into an orderly queue.
    writer: Option<Arc<Mutex<()>>>,
    /// Poked after a commit that may have enqueued jobs, so job workers
    /// look for new work at once instead of waiting for their next poll.
    pub jobs_wake: Arc<tokio::sync::Notify>,
    /// Poked after a commit that published live events (SQLite's hub reads them).
    pub live_wake: Arc<tokio::sync::Notify>,
}

/// A write transaction; on SQLite it also holds the single-writer lock.
pub struct WriteTx {
    pub tx: DatabaseTransaction,
    _writer: Option<OwnedMutexGuard<()>>,
    wake: Arc<tokio::sync::Notify>,
    live_wake: Arc<tokio::sync::Notify>,
    /// The process's count of enqueued jobs when the transaction began.
    enqueued_at_begin: u64,
    /// And of published live events.
    published_at_begin: u64,
}

impl std::ops::Deref for WriteTx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.tx
    }
}

impl WriteTx {
    /// Undoes the transaction now (dropping it also does, a moment later).
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        // Only when jobs were enqueued meanwhile (by this transaction or a
        // concurrent one: a spare wake costs one query, a missed one a poll).
        if job::enqueued() != self.enqueued_at_begin {
            self.wake.notify_waiters();
        }
        if live::published() != self.published_at_begin {
            self.live_wake.notify_waiters();
        }
        Ok(())
    }
}

impl Store {
    /// Connects to `url` (`sqlite://...` or `postgres://...`).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let is_sqlite = url.starts_with("sqlite:");
        if is_sqlite {
            options.map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .create_if_missing(true)
                    // Pages read through a shared memory map instead of a
                    // read() per page into each connection's own cache:
                    // the pool's connections stop re-reading what another
                    // one just wrote.
                    .pragma("mmap_size", "268435456")
                    .pragma("cache_size", "-8192")
            });
        }
        let db = Database::connect(options).await?;
        Ok(Store {
            db,
            writer: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            jobs_wake: Default::default(),
            live_wake: Default::default(),
        })
    }

    /// Whether write transactions take turns (SQLite) rather than run at once.
    pub fn single_writer(&self) -> bool {
        self.writer.is_some()
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    pub async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Whether every known migration has been applied.
    pub async fn migrations_current(&self) -> Result<bool> {
        Ok(Migrator::get_pending_migrations(&self.db).await?.is_empty())
    }

    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await?;
        Ok(())
    }

    /// Starts a write transaction (serialised on SQLite).
    pub async fn begin(&self) -> Result<WriteTx> {
        let writer = match &self.writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let enqueued_at_begin = job::enqueued();
        let published_at_begin = live::published();
        // IMMEDIATE on SQLite: the write lock is taken at BEGIN, where the
        // busy timeout applies. A deferred transaction that read first and
        // then writes is refused at once ("database is locked") while an
        // abandoned transaction's rollback is still on its way.
        let options = TransactionOptions {
            sqlite_transaction_mode: self.writer.is_some().then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let tx = self.db.begin_with_options(options).await?;
        Ok(WriteTx {
            tx,
            _writer: writer,
            wake: self.jobs_wake.clone(),
            live_wake: self.live_wake.clone(),
            enqueued_at_begin,
            published_at_begin,
        })
    }

    /// Open and idle connections in the pool, for /metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        match self.backend() {
            DatabaseBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
        }
    }
}

/// Parses a stored enum text back into its domain type.
pub(crate) fn stored<T>(parsed: std::result::Result<T, domain::Error>) -> Result<T> {
    parsed.map_err(|e| Error::Corrupt(e.to_string()))
}

/// Reads a JSON column as an object map.
pub(crate) fn json_map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern that uses `\` as escape.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// Whether `conn` talks to PostgreSQL (for the few queries that differ).
pub fn is_postgres(conn: &impl ConnectionTrait) -> bool {
    conn.get_database_backend() == DatabaseBackend::Postgres
}

/// The current time at the precision every backend stores (microseconds),
/// so a value read back compares equal to the one written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
