//! The `Store` trait: durable tables (contents, DLQ, cursors, consumer offsets) and the
//! one write path, [`Store::commit`], that makes a stage's batch effectively-once.
//!
//! Backends are chosen by URL in [`open`]: `sqlite://PATH` (embedded, default).

pub mod leases;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_state;
#[cfg(feature = "postgres")]
mod postgres_upsert;
mod sqlite;
pub(crate) mod sqlite_db;
mod sqlite_state;
mod sqlite_writer;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::Content;

#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "postgres")]
pub use postgres_state::PgState;
pub use sqlite::SqliteStore;
pub(crate) use sqlite::upsert_content;
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

/// A state change produced by a stage. Closed set: the store knows how to apply each
/// idempotently (upserts on deterministic ids).
#[derive(Debug, Clone)]
pub enum Write {
    /// Shared, not boxed: the committer clones a batch's writes into each commit attempt
    /// (a retry or a split needs them again), and a document is ~1–2 KiB.
    UpsertContent(std::sync::Arc<StoredContent>),
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
pub(crate) fn parse_doc(doc: &str) -> Result<Content, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("content doc: {e}")))
}

/// A `contents` row as the API serves it: the document, with the first observation.
pub(crate) fn row_to_content(doc: &str, observed_at: i64) -> Result<Content, StoreError> {
    let mut c = parse_doc(doc)?;
    c.observed_at = crate::model::from_micros(observed_at);
    Ok(c)
}

/// Filters of `GET /api/v1/contents`.
#[derive(Debug, Clone, Default)]
pub struct ContentQuery {
    pub source: Option<String>,
    pub ticker: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Keyset cursor: items strictly older than (happened_at µs, id).
    pub before: Option<(i64, String)>,
    pub limit: usize,
    /// Only items whose sentiment label is this (bullish, bearish, neutral, …).
    pub sentiment: Option<String>,
    /// Some(true): only filtered items; Some(false): only items the filters kept.
    pub filtered: Option<bool>,
    /// Only first occurrences (no exact or near duplicates).
    pub first_only: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredDeadLetter {
    #[serde(flatten)]
    pub letter: DeadLetter,
    pub created_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_count: u32,
    /// The input record, as text when it is UTF-8.
    pub payload_text: Option<String>,
}

/// Row counts for health and tests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreCounts {
    pub contents: u64,
    pub dlq: u64,
}

/// The newest migration of the one numbered history every store backend follows.
pub const SCHEMA_VERSION: u32 = 5;

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
    async fn cursor(&self, source: &str) -> Result<Option<String>, StoreError>;
    async fn contents(&self, q: &ContentQuery) -> Result<Vec<Content>, StoreError>;
    async fn content(&self, id: &str) -> Result<Option<Content>, StoreError>;
    async fn dead_letters(
        &self,
        limit: usize,
        ids: &[String],
    ) -> Result<Vec<StoredDeadLetter>, StoreError>;
    async fn mark_replayed(&self, ids: &[String]) -> Result<(), StoreError>;
    async fn counts(&self) -> Result<StoreCounts, StoreError>;
    /// A cheap round trip for readiness.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Source definitions and overrides made at run time.
    async fn source_defs(&self) -> Result<Vec<SourceDef>, StoreError>;
    /// Inserts or replaces one (by name).
    async fn put_source_def(&self, def: &SourceDef) -> Result<(), StoreError>;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Active,
    Paused,
    Removed,
}

impl SourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Active => "active",
            SourceState::Paused => "paused",
            SourceState::Removed => "removed",
        }
    }
    pub fn parse(s: &str) -> Option<SourceState> {
        match s {
            "active" => Some(SourceState::Active),
            "paused" => Some(SourceState::Paused),
            "removed" => Some(SourceState::Removed),
            _ => None,
        }
    }
}

/// A source added, paused, resumed or removed at run time, or quarantined for parser
/// drift. `kind`/`options` are set for sources defined at run time; None means the
/// row only overrides a source of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceDef {
    pub name: String,
    pub state: SourceState,
    pub kind: Option<String>,
    pub options: Option<serde_json::Value>,
    pub quarantine: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
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
