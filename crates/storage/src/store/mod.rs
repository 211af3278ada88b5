//! The `Store` trait: durable tables (contents, DLQ, cursors, consumer offsets) and the
//! one write path, [`Store::commit`], that makes a stage's batch effectively-once.
//!
//! Backends are chosen by URL in [`open`]: `sqlite://PATH` (embedded, default).
//!
//! * The commit path ([`Store::commit`]): one atomic unit per batch — log appends,
//!   [`Write`]s (the hand-tuned content upsert, or any [`sql::Mutation`]), dead
//!   letters, offsets, cursors.
//! * Everything else reads and writes through [`repos`] (one file per table) on
//!   [`Store::sql`], with SQL written once for both dialects ([`sql`]).

pub mod leases;
pub mod migrations;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_state;
#[cfg(feature = "postgres")]
mod postgres_upsert;
pub mod repos;
pub mod sql;
mod sqlite;
pub mod sqlite_db;
mod sqlite_state;
mod sqlite_writer;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

use crate::model::Content;

#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "postgres")]
pub use postgres::exec as postgres_exec;
#[cfg(feature = "postgres")]
pub use postgres_state::PgState;
pub use repos::StoreCounts;
pub use repos::contents::ContentQuery;
pub use repos::dead_letters::StoredDeadLetter;
pub use repos::source_defs::{SourceDef, SourceState};
pub use sqlite::SqliteStore;
pub use sqlite::upsert_content;
pub use sqlite_db::{SqliteDb, SqliteOptions};
pub use sqlite_state::SqliteState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("store worker failed: {0}")]
    Join(String),
    #[error("store holds data it cannot read: {0}")]
    Corrupt(String),
    #[cfg(feature = "postgres")]
    #[error("postgres: {}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The store cannot be reached now (pool timeout, server down); retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Unsupported(String),
}

/// One record to append to a topic of the event log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Append {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// What `value` encodes, for a consumer in this process (embedded log only).
    pub decoded: crate::log::Decoded,
}

/// A state change produced by a stage, applied in the commit's transaction. Must be
/// idempotent (upserts on deterministic ids): a batch may be committed again after a
/// crash or split after a failure.
#[derive(Debug, Clone)]
pub enum Write {
    /// Shared, not boxed: the committer clones a batch's writes into each commit attempt
    /// (a retry or a split needs them again), and a document is ~1–2 KiB. Hand-tuned
    /// per backend: it is the benchmark's hot path.
    UpsertContent(std::sync::Arc<StoredContent>),
    /// Any other table: a statement from its repository (`repos/`), which neither
    /// backend needs to know.
    Sql(sql::Mutation),
}

impl Write {
    /// An upsert of `c`, serialized once here (the same bytes can also go on a topic).
    pub fn content(c: Content) -> Write {
        Write::UpsertContent(std::sync::Arc::new(StoredContent::new(c)))
    }
}

/// An item with its JSON document, so that the bytes stored and the bytes appended to
/// the `enriched` topic are produced by one serialization.
#[derive(Debug, Clone)]
pub struct StoredContent {
    pub content: Content,
    pub doc: String,
}

impl StoredContent {
    pub fn new(content: Content) -> StoredContent {
        let doc = serde_json::to_string(&content).expect("Content always serializes");
        StoredContent { content, doc }
    }
}

/// A record that failed for its own reasons.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub stage: String,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub item_index: Option<u32>,
    #[serde(skip)]
    pub key: Option<Vec<u8>>,
    #[serde(skip)]
    pub payload: Vec<u8>,
    pub detail: Option<String>,
    pub error: String,
    pub error_class: String,
}

impl DeadLetter {
    /// Deterministic id: the same failure on the same input is one row, however often
    /// the input is re-processed. `input` names the input: its log position, or — for
    /// records whose key already names their bytes, like `raw` events (source +
    /// payload hash) — the key, so that a payload a source sent twice (a crash between
    /// the log append and the cursor commit, with a separate log) is still one row.
    pub fn make_id(stage: &str, topic: &str, input: &str, item: Option<u32>) -> String {
        let name = format!(
            "{stage}/{topic}/{input}/{}",
            item.map(|i| i as i64).unwrap_or(-1)
        );
        Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
    }
}

/// The next offset a consumer group will read from a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OffsetCommit {
    pub partition: u32,
    pub next_offset: u64,
}

/// Everything one batch changes, committed atomically by [`Store::commit`].
#[derive(Debug, Default)]
pub struct Commit {
    /// Consumer group whose input offsets move (the stage name), with its input topic.
    pub group: Option<(String, String)>,
    pub offsets: Vec<OffsetCommit>,
    /// Appends to the event log. Only non-empty when the log lives inside this store
    /// (embedded mode); otherwise the runner produced them before calling commit.
    pub appends: Vec<Append>,
    pub writes: Vec<Write>,
    pub dead_letters: Vec<DeadLetter>,
    /// (source name, cursor) pairs, committed with the raw events they produced.
    pub cursors: Vec<(String, String)>,
}

impl Commit {
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
            && self.appends.is_empty()
            && self.writes.is_empty()
            && self.dead_letters.is_empty()
            && self.cursors.is_empty()
    }
}

/// A stored content document, read back.
pub fn parse_doc(doc: &str) -> Result<Content, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("content doc: {e}")))
}

/// A `contents` row as the API serves it: the document, with the first observation.
pub fn row_to_content(doc: &str, observed_at: i64) -> Result<Content, StoreError> {
    let mut c = parse_doc(doc)?;
    c.observed_at = crate::model::from_micros(observed_at);
    Ok(c)
}

/// The newest migration of the one numbered history every store backend follows.
pub const SCHEMA_VERSION: u32 = 11;

#[async_trait]
pub trait Store: Send + Sync {
    /// Applies every migration not yet applied.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Applies a batch atomically: all of it or none of it.
    async fn commit(&self, commit: Commit) -> Result<(), StoreError>;
    /// Committed offsets of a group on a topic (partitions never committed are absent).
    async fn offsets(&self, group: &str, topic: &str) -> Result<Vec<OffsetCommit>, StoreError>;
    /// Overwrites a group's offsets (replay, reset).
    async fn set_offsets(
        &self,
        group: &str,
        topic: &str,
        offsets: &[OffsetCommit],
    ) -> Result<(), StoreError>;
    /// A cheap round trip for readiness.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The database, for the repositories ([`repos`]).
    fn sql(&self) -> &dyn sql::SqlDb;
    /// A number that changes whenever stored rows change, when this process can know
    /// it without asking the database (the embedded store: its one writer is here).
    fn change_counter(&self) -> Option<u64> {
        None
    }
    /// Renews `member` in the worker group of `group` on `topic` for `ttl` and returns
    /// the partitions (of `partitions`) it owns now (see [`leases`]).
    async fn claim_partitions(
        &self,
        group: &str,
        topic: &str,
        member: &str,
        partitions: u32,
        ttl: std::time::Duration,
    ) -> Result<Vec<u32>, StoreError>;
    /// Removes `member` and frees its partitions (a clean stop: the others take over
    /// at once instead of after the TTL).
    async fn leave_group(&self, group: &str, topic: &str, member: &str) -> Result<(), StoreError>;
}

/// An opened store, and its SQLite database when it has one (the embedded log lives
/// in that database).
pub struct OpenedStore {
    pub store: Arc<dyn Store>,
    pub db: Option<Arc<SqliteDb>>,
    /// The stateful enrichers' state, in the same database.
    pub state: crate::enrich::SharedState,
}

/// Opens the store named by `url`.
pub fn open(url: &str, opts: &SqliteOptions) -> Result<OpenedStore, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let db = Arc::new(SqliteDb::open(std::path::Path::new(path), opts)?);
        return Ok(OpenedStore {
            store: Arc::new(SqliteStore::new(db.clone())),
            state: Arc::new(SqliteState::new(db.clone())),
            db: Some(db),
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return open_postgres(url);
    }
    Err(StoreError::Unsupported(format!(
        "unknown store URL `{}`: expected sqlite://PATH or postgres://USER@HOST:PORT/DB",
        redact_url(url)
    )))
}

/// A PostgreSQL URL as the driver reads it (checked at validation, before connecting).
pub fn check_postgres_url(url: &str) -> Result<(), String> {
    #[cfg(feature = "postgres")]
    return url
        .parse::<tokio_postgres::Config>()
        .map(drop)
        .map_err(|e| e.to_string());
    #[cfg(not(feature = "postgres"))]
    {
        let _ = url;
        Ok(())
    }
}

/// Connections per process: stages, sources and the API share them.
#[cfg(feature = "postgres")]
const PG_POOL_SIZE: usize = 16;

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<OpenedStore, StoreError> {
    let pool = postgres::pool(url, PG_POOL_SIZE)?;
    Ok(OpenedStore {
        store: Arc::new(PgStore::new(pool)),
        state: Arc::new(PgState::new(url)?),
        db: None,
    })
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_url: &str) -> Result<OpenedStore, StoreError> {
    Err(StoreError::Unsupported(
        "store `postgres://` needs the cargo feature `postgres`: build with `cargo build --release --features postgres`".into(),
    ))
}

/// A store or log URL fit for logs and messages: the password and the query (which
/// may hold credentials) are left out.
pub fn redact_url(url: &str) -> String {
    let base = url.split('?').next().unwrap_or("");
    match (base.find("://"), base.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = &base[s + 3..at];
            let user = user.split(':').next().unwrap_or("");
            format!("{}://{user}@{}", &base[..s], &base[at + 1..])
        }
        _ => base.to_string(),
    }
}
