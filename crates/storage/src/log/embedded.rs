//! The embedded event log: topics as rows in the store's SQLite database.
//!
//! Appends made through [`append_in_tx`] ride in the caller's transaction, which is how
//! a stage's outputs, results and input offsets become one atomic commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::runs::{self, Run};
use super::tail::{TailRecord, Taken};
use super::{Consumer, EventLog, LogError, LogRecord, PartitionInfo, Tail, TopicInfo, TopicSpec};
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

/// Bits of a record position: topic id (11) | partition (12) | offset (40).
const PARTITION_SHIFT: u32 = 40;
const TOPIC_SHIFT: u32 = 52;
const OFFSET_MASK: i64 = (1 << PARTITION_SHIFT) - 1;
/// Most partitions a topic may have (12 bits of the position).
pub const MAX_PARTITIONS: u32 = 1 << (TOPIC_SHIFT - PARTITION_SHIFT);
/// Most topics the embedded log can hold (11 bits of the position).
const MAX_TOPICS: i64 = 1 << (63 - TOPIC_SHIFT);

/// The position of (topic id, partition, offset) in `log_records`.
fn pos(topic_id: i64, partition: u32, offset: u64) -> i64 {
    (topic_id << TOPIC_SHIFT)
        | ((partition as i64) << PARTITION_SHIFT)
        | (offset as i64 & OFFSET_MASK)
}

/// Partition counts of the embedded log's topics as this process last read them, for
/// grouping a commit's appends into runs before it reaches the writer thread. Only a
/// hint: the writer checks it inside the transaction (see [`append_in_tx`]).
#[derive(Default)]
pub struct PartitionCache(Mutex<HashMap<String, u32>>);

impl PartitionCache {
    fn get(&self, topic: &str) -> Option<u32> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .copied()
    }

    fn set(&self, topic: &str, partitions: Option<u32>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match partitions {
            Some(n) => map.insert(topic.to_string(), n),
            None => map.remove(topic),
        };
    }
}

/// A commit's appends grouped into stored runs (`log/runs.rs`), on the caller's task:
/// the compression stays off the one writer thread.
pub async fn prepare_runs(db: &Arc<SqliteDb>, appends: &[Append]) -> Result<Vec<Run>, StoreError> {
    let cache = db.log_partitions();
    let mut missing: Vec<String> = appends
        .iter()
        .filter(|a| cache.get(&a.topic).is_none())
        .map(|a| a.topic.clone())
        .collect();
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        let found = db
            .read(move |conn| {
                missing
                    .into_iter()
                    .map(|t| Ok((topic_meta(conn, &t)?.map(|m| m.1), t)))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?;
        for (n, t) in found {
            cache.set(&t, n);
        }
    }
    Ok(runs::prepare(appends, |t| cache.get(t)))
}

/// (id, partitions) of a topic.
fn topic_meta(conn: &Connection, topic: &str) -> Result<Option<(i64, u32)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, partitions FROM log_topics WHERE name = ?1")?
        .query_row([topic], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Where an append landed: (topic id, partition, offset).
pub type Placed = (i64, u32, u64);

/// Appends a commit's records inside an open transaction, one row per run: assigns
/// offsets and moves the partition heads. `runs` are the appends grouped by
/// [`prepare_runs`]; if a topic's partition count has changed since (another process
/// grew it), they are grouped again here. Called by the store's commit and by
/// [`EmbeddedLog::append`]. Returns where each append landed, in append order, for
/// [`to_tail`] once the transaction has committed.
pub fn append_in_tx(
    conn: &Connection,
    appends: &[Append],
    runs: &[Run],
    now: i64,
) -> Result<Vec<Placed>, StoreError> {
    let mut topics: HashMap<&str, (i64, u32)> = HashMap::new();
    for a in appends {
        if !topics.contains_key(a.topic.as_str()) {
            let m = topic_meta(conn, &a.topic)?.ok_or_else(|| {
                StoreError::Unsupported(format!("unknown topic `{}`: create it first", a.topic))
            })?;
            topics.insert(a.topic.as_str(), m);
        }
    }
    let regrouped;
    let as_grouped = runs.iter().map(|r| r.members.len()).sum::<usize>() == appends.len()
        && runs
            .iter()
            .all(|r| topics.get(r.topic.as_str()).map(|m| m.1) == Some(r.partitions));
    let runs = if as_grouped {
        runs
    } else {
        regrouped = runs::prepare(appends, |t| topics.get(t).map(|m| m.1));
        &regrouped
    };
    let mut placed = vec![(0, 0, 0); appends.len()];
    // A head row is made with its topic; an upsert all the same, so that a partition
    // without one starts at 0 instead of failing the commit.
    let mut heads = conn.prepare_cached(
        "INSERT INTO log_heads (topic, partition, next_offset) VALUES (?1, ?2, ?3) \
         ON CONFLICT(topic, partition) DO UPDATE SET next_offset = next_offset + excluded.next_offset \
         RETURNING next_offset",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO log_records (pos, n, ts, key, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for r in runs {
        let id = topics[r.topic.as_str()].0;
        let n = r.members.len() as u64;
        let end: i64 =
            heads.query_row(params![r.topic, r.partition, n as i64], |row| row.get(0))?;
        let first = end as u64 - n;
        insert.execute(params![
            pos(id, r.partition, first),
            n as i64,
            now,
            r.key,
            r.value
        ])?;
        for (k, &i) in r.members.iter().enumerate() {
            placed[i] = (id, r.partition, first + k as u64);
        }
    }
    Ok(placed)
}

/// Hands the appends of a committed transaction to the in-memory tail (topics with a
/// consumer in this process only). `placed` is what [`append_in_tx`] returned for them.
pub fn to_tail(tail: &Tail, appends: Vec<Append>, placed: &[Placed], ts: i64) {
    for (a, &(topic_id, partition, offset)) in appends.into_iter().zip(placed) {
        if tail.is_watched(topic_id) {
            tail.push(
                topic_id,
                partition,
                TailRecord {
                    offset,
                    ts,
                    key: a.key,
                    value: a.value,
                    decoded: a.decoded,
                },
            );
        }
    }
}

/// (partition, next offset) of every partition of a topic.
fn partition_ends(conn: &Connection, topic: &str) -> Result<Vec<(u32, u64)>, StoreError> {
    let mut heads = conn.prepare_cached(
        "SELECT partition, next_offset FROM log_heads WHERE topic = ?1 ORDER BY partition",
    )?;
    let ends = heads
        .query_map([topic], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ends)
}

/// First offset still held in a partition, or `end` when it is empty.
fn first_offset(
    conn: &Connection,
    topic_id: i64,
    partition: u32,
    end: u64,
) -> Result<u64, StoreError> {
    let lo = pos(topic_id, partition, 0);
    let first: Option<i64> = conn
        .prepare_cached("SELECT MIN(pos) FROM log_records WHERE pos >= ?1 AND pos < ?2")?
        .query_row(params![lo, lo + OFFSET_MASK + 1], |r| r.get(0))?;
    Ok(first.map(|p| (p & OFFSET_MASK) as u64).unwrap_or(end))
}

/// The row holding offset `offset` of a partition, as (first offset, records, append
/// time); `None` for a hole (never written, or deleted by retention).
fn row_holding(
    conn: &Connection,
    topic_id: i64,
    partition: u32,
    offset: u64,
) -> Result<Option<(u64, u64, i64)>, StoreError> {
    let row: Option<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT pos, n, ts FROM log_records WHERE pos >= ?1 AND pos <= ?2 ORDER BY pos DESC LIMIT 1",
        )?
        .query_row(
            params![pos(topic_id, partition, 0), pos(topic_id, partition, offset)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row
        .map(|(p, n, ts)| ((p & OFFSET_MASK) as u64, n as u64, ts))
        .filter(|&(first, n, _)| offset < first + n))
}

/// First offset in [start, end) whose append time is at or after `ts`, by binary search:
/// append times never decrease within a partition (they are taken under the writer lock).
fn offset_at_time(
    conn: &Connection,
    topic_id: i64,
    partition: u32,
    start: u64,
    end: u64,
    ts: i64,
) -> Result<u64, StoreError> {
    let (mut lo, mut hi) = (start, end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match row_holding(conn, topic_id, partition, mid)? {
            // Every record of a run has the run's time: the run starts the answer.
            Some((first, _, t)) if t >= ts => hi = first.max(lo),
            Some((first, n, _)) => lo = (first + n).max(mid + 1),
            // A hole (deleted by retention between our reads) counts as "before".
            None => lo = mid + 1,
        }
    }
    Ok(lo)
}

/// Deletes a partition's records in [start, cut): the rows wholly below `cut`, and the
/// front of a run that reaches past it (the rest of that run is stored again, from
/// `cut` on, so that retention stays exact to the record). Returns how many went.
fn delete_below(
    tx: &Connection,
    topic_id: i64,
    partition: u32,
    start: u64,
    cut: u64,
) -> Result<u64, StoreError> {
    let (from, to) = (
        pos(topic_id, partition, start),
        pos(topic_id, partition, cut),
    );
    let mut deleted: u64 = tx
        .prepare_cached(
            "DELETE FROM log_records WHERE pos >= ?1 AND pos < ?2 AND pos + n <= ?2 RETURNING n",
        )?
        .query_map(params![from, to], |r| r.get::<_, i64>(0))?
        .map(|n| n.map(|n| n as u64))
        .sum::<Result<u64, _>>()?;
    if let Some((first, n, _)) = row_holding(tx, topic_id, partition, cut)?.filter(|r| r.0 < cut) {
        let at = pos(topic_id, partition, first);
        let (key, value): (Option<Vec<u8>>, Vec<u8>) = tx
            .prepare_cached("SELECT key, value FROM log_records WHERE pos = ?1")?
            .query_row([at], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let records = runs::unpack(n as i64, key, value)?;
        let kept = &records[(cut - first) as usize..];
        let (key, value) = runs::columns(kept.iter().map(|(k, v)| (k.as_deref(), &v[..])));
        tx.prepare_cached(
            "UPDATE log_records SET pos = ?2, n = ?3, key = ?4, value = ?5 WHERE pos = ?1",
        )?
        .execute(params![at, to, kept.len() as i64, key, value])?;
        deleted += cut - first;
    }
    Ok(deleted)
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
        let name = spec.name.clone();
        let spec = spec.clone();
        self.db
            .write(move |conn| {
                let tx = conn.transaction()?;
                if spec.partitions == 0 || spec.partitions > MAX_PARTITIONS {
                    return Err(StoreError::Unsupported(format!(
                        "topic `{}`: partitions must be between 1 and {MAX_PARTITIONS}",
                        spec.name
                    )));
                }
                let existing: Option<u32> = tx
                    .query_row("SELECT partitions FROM log_topics WHERE name = ?1", [&spec.name], |r| r.get(0))
                    .optional()?;
                match existing {
                    // Growing partitions is allowed (new keys spread wider; old records stay
                    // where they are). Shrinking would strand records, so it is refused.
                    Some(n) if n > spec.partitions => {
                        return Err(StoreError::Unsupported(format!(
                            "topic `{}` has {n} partitions; it cannot shrink to {} (ask for {n} or more)",
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
                        let id: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM log_topics", [], |r| r.get(0))?;
                        if id >= MAX_TOPICS {
                            return Err(StoreError::Unsupported(format!("the embedded log holds at most {} topics", MAX_TOPICS - 1)));
                        }
                        tx.execute(
                            "INSERT INTO log_topics (name, id, partitions, retention_us, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![spec.name, id, spec.partitions, spec.retention.as_micros() as i64, now_micros()],
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
        // Read again at the next commit: the partition count may have grown.
        self.db.log_partitions().set(&name, None);
        Ok(())
    }

    async fn describe(&self) -> Result<Vec<TopicInfo>, LogError> {
        Ok(self
            .db
            .read(|conn| {
                let mut topics = Vec::new();
                let mut st =
                    conn.prepare("SELECT name, id, retention_us FROM log_topics ORDER BY name")?;
                let rows = st.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?;
                for row in rows {
                    let (name, id, retention) = row?;
                    let ends = partition_ends(conn, &name)?;
                    let mut partitions = Vec::with_capacity(ends.len());
                    for (partition, end) in ends {
                        let start = first_offset(conn, id, partition, end)?;
                        partitions.push(PartitionInfo {
                            partition,
                            start,
                            end,
                        });
                    }
                    topics.push(TopicInfo {
                        name,
                        retention_secs: (retention / 1_000_000) as u64,
                        partitions,
                    });
                }
                Ok(topics)
            })
            .await?)
    }

    async fn append(&self, appends: Vec<Append>) -> Result<(), LogError> {
        if appends.is_empty() {
            return Ok(());
        }
        let runs = prepare_runs(&self.db, &appends).await?;
        let db = self.db.clone();
        self.db
            .write(move |conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let now = now_micros();
                let placed = append_in_tx(&tx, &appends, &runs, now)?;
                tx.commit()?;
                // Still under the writer lock: pushes stay in offset order.
                to_tail(db.tail(), appends, &placed, now);
                Ok(())
            })
            .await?;
        self.db.notify_appended();
        Ok(())
    }

    async fn consumer(&self, topic: &str) -> Result<Box<dyn Consumer>, LogError> {
        let name = topic.to_string();
        let meta = self.db.read(move |conn| topic_meta(conn, &name)).await?;
        let (topic_id, partitions) =
            meta.ok_or_else(|| LogError::UnknownTopic(topic.to_string()))?;
        self.db.tail().watch(topic_id);
        Ok(Box::new(EmbeddedConsumer {
            db: self.db.clone(),
            topic: Arc::from(topic),
            topic_id,
            positions: vec![0; partitions as usize],
            next_start: 0,
            appended: self.db.subscribe_appends(),
            last_storage_look: Instant::now() - CROSS_PROCESS_POLL,
        }))
    }

    async fn offsets_for_time(
        &self,
        topic: &str,
        ts_us: i64,
    ) -> Result<Vec<OffsetCommit>, LogError> {
        let name = topic.to_string();
        let unknown = LogError::UnknownTopic(topic.to_string());
        let found = self
            .db
            .read(move |conn| {
                let Some((id, _)) = topic_meta(conn, &name)? else {
                    return Ok(None);
                };
                let ends = partition_ends(conn, &name)?;
                let mut out = Vec::with_capacity(ends.len());
                for (p, end) in ends {
                    let start = first_offset(conn, id, p, end)?;
                    out.push(OffsetCommit {
                        partition: p,
                        next_offset: offset_at_time(conn, id, p, start, end, ts_us)?,
                    });
                }
                Ok(Some(out))
            })
            .await?;
        found.ok_or(unknown)
    }

    async fn enforce_retention(&self) -> Result<u64, LogError> {
        Ok(self
            .db
            .write(|conn| {
                let now = now_micros();
                let tx = conn.transaction()?;
                let mut deleted = 0u64;
                let parts: Vec<(String, i64, i64, u32, u64)> = tx
                    .prepare(
                        "SELECT t.name, t.id, t.retention_us, h.partition, h.next_offset FROM log_topics t \
                         JOIN log_heads h ON h.topic = t.name",
                    )?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)? as u64)))?
                    .collect::<Result<_, _>>()?;
                for (name, id, retention, p, end) in parts {
                    // Never past what every consumer group of the topic has committed.
                    let committed: Option<i64> = tx
                        .prepare_cached("SELECT MIN(next_offset) FROM consumer_offsets WHERE topic = ?1 AND partition = ?2")?
                        .query_row(params![name, p], |r| r.get(0))?;
                    let start = first_offset(&tx, id, p, end)?;
                    let expired = offset_at_time(&tx, id, p, start, end, now - retention)?;
                    let cut = committed.map(|c| (c as u64).min(expired)).unwrap_or(expired);
                    if cut > start {
                        deleted += delete_below(&tx, id, p, start, cut)?;
                    }
                }
                tx.commit()?;
                Ok(deleted)
            })
            .await?)
    }
}

struct EmbeddedConsumer {
    db: Arc<SqliteDb>,
    topic: Arc<str>,
    topic_id: i64,
    positions: Vec<u64>,
    /// Partition to read first next time, rotated so that no partition starves.
    next_start: usize,
    appended: tokio::sync::watch::Receiver<u64>,
    /// When every partition was last read from SQLite (see `fetch`).
    last_storage_look: Instant,
}

impl EmbeddedConsumer {
    /// Records from the in-memory tail where it holds this consumer's positions, from
    /// SQLite where it does not. Partitions the tail says are caught up are still read
    /// from SQLite every [`CROSS_PROCESS_POLL`], for appends by another process.
    async fn fetch(&mut self, max: usize) -> Result<Vec<LogRecord>, LogError> {
        let n = self.positions.len();
        let start = self.next_start;
        self.next_start = (self.next_start + 1) % n.max(1);
        let look_everywhere = self.last_storage_look.elapsed() >= CROSS_PROCESS_POLL;
        let mut records = Vec::new();
        let mut from_storage = Vec::new();
        for i in 0..n {
            let p = ((start + i) % n) as u32;
            if records.len() >= max {
                break;
            }
            let at = self.positions[p as usize];
            match self
                .db
                .tail()
                .take(self.topic_id, p, at, max - records.len())
            {
                Taken::Records(taken) => {
                    for r in taken {
                        records.push(LogRecord {
                            topic: self.topic.clone(),
                            partition: p,
                            offset: r.offset,
                            ts: r.ts,
                            key: r.key,
                            value: r.value,
                            decoded: r.decoded,
                        });
                    }
                }
                Taken::CaughtUp if !look_everywhere => {}
                Taken::CaughtUp | Taken::Unknown => from_storage.push((p, at)),
            }
        }
        if !from_storage.is_empty() && records.len() < max {
            if look_everywhere {
                self.last_storage_look = Instant::now();
            }
            let (topic, id, room) = (self.topic.clone(), self.topic_id, max - records.len());
            let stored = self
                .db
                .read(move |conn| read_partitions(conn, &topic, id, &from_storage, room))
                .await?;
            records.extend(stored);
        }
        for r in &records {
            self.positions[r.partition as usize] = r.offset + 1;
        }
        Ok(records)
    }
}

/// At most `max` records of the given partitions, each from its position on.
fn read_partitions(
    conn: &Connection,
    topic: &Arc<str>,
    topic_id: i64,
    partitions: &[(u32, u64)],
    max: usize,
) -> Result<Vec<LogRecord>, StoreError> {
    let mut out = Vec::new();
    let mut st = conn.prepare_cached(
        "SELECT pos, n, ts, key, value FROM log_records WHERE pos >= ?1 AND pos < ?2 ORDER BY pos LIMIT ?3",
    )?;
    for &(p, at) in partitions {
        if out.len() >= max {
            break;
        }
        // From the row holding `at`, which may start before it (a run).
        let first = row_holding(conn, topic_id, p, at)?.map_or(at, |r| r.0);
        let (from, to) = (
            pos(topic_id, p, first),
            pos(topic_id, p, 0) + OFFSET_MASK + 1,
        );
        let rows = st.query_map(params![from, to, (max - out.len()) as i64], |r| {
            Ok((
                (r.get::<_, i64>(0)? & OFFSET_MASK) as u64,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })?;
        'rows: for row in rows {
            let (first, n, ts, key, value) = row?;
            for (k, (key, value)) in runs::unpack(n, key, value)?.into_iter().enumerate() {
                let offset = first + k as u64;
                if offset < at {
                    continue;
                }
                if out.len() >= max {
                    break 'rows;
                }
                out.push(LogRecord {
                    topic: topic.clone(),
                    partition: p,
                    offset,
                    ts,
                    key,
                    value,
                    decoded: super::Decoded::default(),
                });
            }
        }
    }
    Ok(out)
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
