//! The embedded event log: topics as rows in the store's SQLite database.
//!
//! Appends made through [`append_in_tx`] ride in the caller's transaction, which is how
//! a stage's outputs, results and input offsets become one atomic commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Consumer, EventLog, LogError, LogRecord, PartitionInfo, TopicInfo, TopicSpec, partition_for};
use crate::model::now_micros;
use crate::store::{Append, OffsetCommit, SqliteDb, StoreError};

/// How often a waiting consumer looks again even without an in-process signal, so that
/// appends from another process on the same database (e.g. `sigflow dlq replay`) are seen.
const CROSS_PROCESS_POLL: Duration = Duration::from_millis(250);

pub struct EmbeddedLog {
    db: Arc<SqliteDb>,
}

impl EmbeddedLog {
    pub fn new(db: Arc<SqliteDb>) -> Self {
        EmbeddedLog { db }
    }
}

/// Appends records inside an open transaction: assigns partitions and offsets and moves
/// the partition heads. Called by the store's commit and by [`EmbeddedLog::append`].
pub(crate) fn append_in_tx(tx: &Transaction, appends: &[Append], now: i64) -> Result<(), StoreError> {
    let mut partitions: HashMap<&str, u32> = HashMap::new();
    let mut heads: HashMap<(&str, u32), u64> = HashMap::new();
    let mut insert = tx.prepare_cached(
        "INSERT INTO log_records (topic, partition, \"offset\", ts, key, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (i, a) in appends.iter().enumerate() {
        let topic = a.topic.as_str();
        let n = match partitions.get(topic) {
            Some(n) => *n,
            None => {
                let n: Option<u32> = tx
                    .prepare_cached("SELECT partitions FROM log_topics WHERE name = ?1")?
                    .query_row([topic], |r| r.get(0))
                    .optional()?;
                let n = n.ok_or_else(|| StoreError::Unsupported(format!("unknown topic `{topic}`: create it first")))?;
                partitions.insert(topic, n);
                n
            }
        };
        let p = partition_for(a.key.as_deref(), i, n);
        let offset = match heads.get(&(topic, p)) {
            Some(o) => *o,
            None => tx
                .prepare_cached("SELECT next_offset FROM log_heads WHERE topic = ?1 AND partition = ?2")?
                .query_row(params![topic, p], |r| r.get::<_, i64>(0))
                .optional()?
                .unwrap_or(0) as u64,
        };
        insert.execute(params![topic, p, offset as i64, now, a.key, a.value])?;
        heads.insert((topic, p), offset + 1);
    }
    let mut head = tx.prepare_cached(
        "INSERT INTO log_heads (topic, partition, next_offset) VALUES (?1, ?2, ?3) \
         ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
    )?;
    for ((topic, p), next) in heads {
        head.execute(params![topic, p, next as i64])?;
    }
    Ok(())
}

#[async_trait]
impl EventLog for EmbeddedLog {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn transactional_with_store(&self) -> bool {
        true
    }

    async fn create_topic(&self, spec: &TopicSpec) -> Result<(), LogError> {
        let spec = spec.clone();
        self.db
            .write(move |conn| {
                let tx = conn.transaction()?;
                let existing: Option<u32> = tx
                    .query_row("SELECT partitions FROM log_topics WHERE name = ?1", [&spec.name], |r| r.get(0))
                    .optional()?;
                match existing {
                    // Growing partitions is allowed (new keys spread wider; old records stay
                    // where they are). Shrinking would strand records, so it is refused.
                    Some(n) if n > spec.partitions => {
                        return Err(StoreError::Unsupported(format!(
                            "topic `{}` has {n} partitions; it cannot shrink to {}",
                            spec.name, spec.partitions
                        )));
                    }
                    Some(_) => {
                        tx.execute(
                            "UPDATE log_topics SET partitions = ?2, retention_us = ?3 WHERE name = ?1",
                            params![spec.name, spec.partitions, spec.retention.as_micros() as i64],
                        )?;
                    }
                    None => {
                        tx.execute(
                            "INSERT INTO log_topics (name, partitions, retention_us, created_at) VALUES (?1, ?2, ?3, ?4)",
                            params![spec.name, spec.partitions, spec.retention.as_micros() as i64, now_micros()],
                        )?;
                    }
                }
                for p in 0..spec.partitions {
                    tx.execute(
                        "INSERT OR IGNORE INTO log_heads (topic, partition, next_offset) VALUES (?1, ?2, 0)",
                        params![spec.name, p],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn describe(&self) -> Result<Vec<TopicInfo>, LogError> {
        Ok(self
            .db
            .read(|conn| {
                let mut topics = Vec::new();
                let mut st = conn.prepare("SELECT name, retention_us FROM log_topics ORDER BY name")?;
                let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                for row in rows {
                    let (name, retention) = row?;
                    let mut parts = conn.prepare_cached(
                        "SELECT h.partition, h.next_offset, \
                         (SELECT MIN(\"offset\") FROM log_records r WHERE r.topic = h.topic AND r.partition = h.partition) \
                         FROM log_heads h WHERE h.topic = ?1 ORDER BY h.partition",
                    )?;
                    let partitions = parts
                        .query_map([&name], |r| {
                            let end = r.get::<_, i64>(1)? as u64;
                            let start = r.get::<_, Option<i64>>(2)?.map(|s| s as u64).unwrap_or(end);
                            Ok(PartitionInfo { partition: r.get(0)?, start, end })
                        })?
                        .collect::<Result<Vec<_>, _>>()?;
                    topics.push(TopicInfo { name, retention_secs: (retention / 1_000_000) as u64, partitions });
                }
                Ok(topics)
            })
            .await?)
    }

    async fn append(&self, appends: Vec<Append>) -> Result<(), LogError> {
        if appends.is_empty() {
            return Ok(());
        }
        self.db
            .write(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                append_in_tx(&tx, &appends, now_micros())?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.db.notify_appended();
        Ok(())
    }

    async fn consumer(&self, topic: &str) -> Result<Box<dyn Consumer>, LogError> {
        let name = topic.to_string();
        let partitions: Option<u32> = self
            .db
            .read(move |conn| {
                Ok(conn.query_row("SELECT partitions FROM log_topics WHERE name = ?1", [name], |r| r.get(0)).optional()?)
            })
            .await?;
        let partitions = partitions.ok_or_else(|| LogError::UnknownTopic(topic.to_string()))?;
        Ok(Box::new(EmbeddedConsumer {
            db: self.db.clone(),
            topic: Arc::from(topic),
            positions: vec![0; partitions as usize],
            next_start: 0,
            appended: self.db.subscribe_appends(),
        }))
    }

    async fn offsets_for_time(&self, topic: &str, ts_us: i64) -> Result<Vec<OffsetCommit>, LogError> {
        let topic = topic.to_string();
        Ok(self
            .db
            .read(move |conn| {
                let mut st = conn.prepare(
                    "SELECT h.partition, COALESCE((SELECT MIN(\"offset\") FROM log_records r WHERE r.topic = h.topic \
                     AND r.partition = h.partition AND r.ts >= ?2), h.next_offset) FROM log_heads h WHERE h.topic = ?1 \
                     ORDER BY h.partition",
                )?;
                let rows = st.query_map(params![topic, ts_us], |r| {
                    Ok(OffsetCommit { partition: r.get(0)?, next_offset: r.get::<_, i64>(1)? as u64 })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?)
    }

    async fn enforce_retention(&self) -> Result<u64, LogError> {
        Ok(self
            .db
            .write(|conn| {
                let now = now_micros();
                let n = conn.execute(
                    "DELETE FROM log_records WHERE rowid IN (SELECT r.rowid FROM log_records r \
                     JOIN log_topics t ON t.name = r.topic \
                     WHERE r.ts < ?1 - t.retention_us \
                     AND r.\"offset\" < COALESCE((SELECT MIN(o.next_offset) FROM consumer_offsets o \
                        WHERE o.topic = r.topic AND o.partition = r.partition), 9223372036854775807) \
                     LIMIT 50000)",
                    [now],
                )?;
                Ok(n as u64)
            })
            .await?)
    }
}

struct EmbeddedConsumer {
    db: Arc<SqliteDb>,
    topic: Arc<str>,
    positions: Vec<u64>,
    /// Partition to read first next time, rotated so that no partition starves.
    next_start: usize,
    appended: tokio::sync::watch::Receiver<u64>,
}

impl EmbeddedConsumer {
    async fn fetch(&mut self, max: usize) -> Result<Vec<LogRecord>, LogError> {
        let topic = self.topic.clone();
        let positions = self.positions.clone();
        let start = self.next_start;
        self.next_start = (self.next_start + 1) % positions.len().max(1);
        let records = self
            .db
            .read(move |conn| {
                let mut out = Vec::new();
                let mut st = conn.prepare_cached(
                    "SELECT \"offset\", ts, key, value FROM log_records WHERE topic = ?1 AND partition = ?2 \
                     AND \"offset\" >= ?3 ORDER BY \"offset\" LIMIT ?4",
                )?;
                for i in 0..positions.len() {
                    let p = (start + i) % positions.len();
                    if out.len() >= max {
                        break;
                    }
                    let rows = st.query_map(
                        params![&*topic, p as u32, positions[p] as i64, (max - out.len()) as i64],
                        |r| {
                            Ok(LogRecord {
                                topic: topic.clone(),
                                partition: p as u32,
                                offset: r.get::<_, i64>(0)? as u64,
                                ts: r.get(1)?,
                                key: r.get(2)?,
                                value: r.get(3)?,
                            })
                        },
                    )?;
                    for row in rows {
                        out.push(row?);
                    }
                }
                Ok(out)
            })
            .await?;
        for r in &records {
            self.positions[r.partition as usize] = r.offset + 1;
        }
        Ok(records)
    }
}

#[async_trait]
impl Consumer for EmbeddedConsumer {
    fn topic(&self) -> &str {
        &self.topic
    }

    fn assignment(&self) -> Vec<u32> {
        (0..self.positions.len() as u32).collect()
    }

    fn seek(&mut self, partition: u32, offset: u64) {
        if let Some(p) = self.positions.get_mut(partition as usize) {
            *p = offset;
        }
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<LogRecord>, LogError> {
        let deadline = Instant::now() + wait;
        loop {
            // Mark the signal seen *before* reading, so an append that lands between the
            // read and the wait below still wakes us.
            self.appended.borrow_and_update();
            let records = self.fetch(max).await?;
            let now = Instant::now();
            if !records.is_empty() || now >= deadline {
                return Ok(records);
            }
            let nap = (deadline - now).min(CROSS_PROCESS_POLL);
            let _ = tokio::time::timeout(nap, self.appended.changed()).await;
        }
    }
}
