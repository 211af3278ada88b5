//! The `EventLog` trait: named topics, partitions by key, consumer positions, retention,
//! reads from an offset or a timestamp.
//!
//! Consumer offsets are deliberately *not* the log's business: they live in the
//! [`Store`](crate::store::Store), committed in the same transaction as the results they
//! account for. A consumer here is only a cursor that can be sought.
//!
//! Backends are chosen by URL in [`open`]: `embedded` (inside the SQLite store, default).

pub mod embedded;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod runs;
mod tail;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::store::{Append, OffsetCommit, SqliteDb, Store, StoreError};

pub use embedded::EmbeddedLog;
pub use tail::Tail;

/// The pipeline's topic names (the service registry, `runtime::services`, says who
/// reads and writes each).
pub const TOPIC_RAW: &str = "raw";
pub const TOPIC_CONTENT: &str = "content";
pub const TOPIC_ENRICHED: &str = "enriched";
pub const TOPIC_SIGNALS: &str = "signals";

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown topic `{0}`: create it first")]
    UnknownTopic(String),
    #[cfg(feature = "kafka")]
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A setting or a broker answer that retrying will not change.
    #[error("{0}")]
    Config(String),
}

/// A record as read back from a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub topic: Arc<str>,
    pub partition: u32,
    pub offset: u64,
    /// Append time, µs since the epoch.
    pub ts: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// The value as its producer had it, when the producer is in this process and the
    /// record came from the embedded log's in-memory tail; empty otherwise.
    pub decoded: Decoded,
}

/// A record's value in the form its producer built it from (normalize's `Content`),
/// carried beside the bytes through the embedded log's in-memory tail so that a consumer
/// in the same process can take it instead of decoding the bytes again. Always the
/// exact meaning of the bytes (see the round-trip test in `model::content`), never
/// stored, never sent: a record read from storage or from Kafka has none, and every
/// consumer must work from the bytes alone. Ignored by equality.
#[derive(Clone, Default)]
pub struct Decoded(Option<Arc<dyn Any + Send + Sync>>);

impl Decoded {
    pub fn new<T: Any + Send + Sync>(value: Arc<T>) -> Self {
        Decoded(Some(value))
    }

    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref().and_then(|v| v.downcast_ref::<T>())
    }

    pub fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

impl PartialEq for Decoded {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Decoded(..)"
        } else {
            "Decoded(-)"
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: u32,
    pub retention: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionInfo {
    pub partition: u32,
    /// First offset still held (retention may have removed earlier ones).
    pub start: u64,
    /// Next offset to be written.
    pub end: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopicInfo {
    pub name: String,
    pub retention_secs: u64,
    pub partitions: Vec<PartitionInfo>,
}

#[async_trait]
pub trait EventLog: Send + Sync {
    /// The scheme, for logs and health.
    fn kind(&self) -> &'static str;
    /// True when appends can be handed to the store's commit and become part of its
    /// transaction (the log lives inside the store).
    fn transactional_with_store(&self) -> bool;
    /// Creates a topic; a no-op when it exists with the same shape.
    async fn create_topic(&self, spec: &TopicSpec) -> Result<(), LogError>;
    async fn describe(&self) -> Result<Vec<TopicInfo>, LogError>;
    /// Appends outside any store transaction.
    async fn append(&self, appends: Vec<Append>) -> Result<(), LogError>;
    /// A reader over every partition of `topic`, positioned at offset 0 until sought.
    async fn consumer(&self, topic: &str) -> Result<Box<dyn Consumer>, LogError>;
    /// A stage's reader: a member of the worker group `group` on `topic`. Where the log
    /// is shared by processes (Kafka), the group — coordinated in `store` — decides
    /// which partitions this member reads, and each starts at the offset `store` holds
    /// for the group; otherwise it is [`EventLog::consumer`] and the runner seeks it.
    async fn group_consumer(
        &self,
        topic: &str,
        group: &str,
        store: Arc<dyn Store>,
    ) -> Result<Box<dyn Consumer>, LogError> {
        let _ = (group, store);
        self.consumer(topic).await
    }
    /// For each partition, the first offset whose record was appended at or after `ts_us`.
    async fn offsets_for_time(
        &self,
        topic: &str,
        ts_us: i64,
    ) -> Result<Vec<OffsetCommit>, LogError>;
    /// Deletes records older than their topic's retention that every consumer group of
    /// the topic has already committed past. Returns how many went.
    async fn enforce_retention(&self) -> Result<u64, LogError>;
}

#[async_trait]
pub trait Consumer: Send {
    fn topic(&self) -> &str;
    fn assignment(&self) -> Vec<u32>;
    fn seek(&mut self, partition: u32, offset: u64);
    /// Waits up to `wait` for the first record, then returns at most `max` records that
    /// are available now. Empty means nothing arrived in time.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<LogRecord>, LogError>;
    /// A clean stop: hand back what this reader holds (worker groups).
    async fn close(&mut self) {}
}

/// Opens the log named by `url`. `embedded` needs the SQLite store's database.
pub fn open(url: &str, db: Option<&Arc<SqliteDb>>) -> Result<Arc<dyn EventLog>, StoreError> {
    match url {
        "embedded" => match db {
            Some(db) => Ok(Arc::new(EmbeddedLog::new(db.clone()))),
            None => Err(StoreError::Unsupported(
                "log `embedded` lives in the SQLite store: set store = \"sqlite://…\"".into(),
            )),
        },
        u if u.starts_with("kafka://") => open_kafka(u),
        u => Err(StoreError::Unsupported(format!(
            "unknown log URL `{}`: expected `embedded` or kafka://HOST:PORT",
            crate::store::redact_url(u)
        ))),
    }
}

#[cfg(feature = "kafka")]
fn open_kafka(url: &str) -> Result<Arc<dyn EventLog>, StoreError> {
    kafka::KafkaLog::open(url)
        .map(|l| Arc::new(l) as Arc<dyn EventLog>)
        .map_err(|e| StoreError::Unsupported(format!("log {}: {e}", crate::store::redact_url(url))))
}

#[cfg(not(feature = "kafka"))]
fn open_kafka(_url: &str) -> Result<Arc<dyn EventLog>, StoreError> {
    Err(StoreError::Unsupported(
        "log `kafka://` needs the cargo feature `kafka`: build with `cargo build --release --features kafka`".into(),
    ))
}

/// Partition for a key: FNV-1a, stable across processes and versions (a record's
/// partition must never depend on which binary appended it). Keyless records spread by
/// their position in the batch.
pub fn partition_for(key: Option<&[u8]>, fallback: usize, partitions: u32) -> u32 {
    let partitions = partitions.max(1);
    match key {
        Some(k) => {
            let mut h: u32 = 0x811c_9dc5;
            for b in k {
                h ^= *b as u32;
                h = h.wrapping_mul(0x0100_0193);
            }
            h % partitions
        }
        None => (fallback % partitions as usize) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_partition_and_keys_spread() {
        let p = partition_for(Some(b"reddit:abc"), 0, 4);
        assert_eq!(p, partition_for(Some(b"reddit:abc"), 99, 4));
        let used: std::collections::BTreeSet<u32> = (0..100)
            .map(|i| partition_for(Some(format!("k{i}").as_bytes()), 0, 4))
            .collect();
        assert_eq!(used.len(), 4);
        assert_eq!(partition_for(None, 5, 4), 1);
    }
}
