//! The embedded store: SQLite, one file. Implements [`Store`] over [`SqliteDb`].

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::sql::SqlDb;
use super::sql::sqlite::SqliteSql;
use super::sqlite_writer::{Writer, write_offsets};
use super::{Commit, OffsetCommit, SqliteDb, Store, StoreError};
use crate::model::{Content, now_micros, to_micros};

pub struct SqliteStore {
    db: Arc<SqliteDb>,
    sql: SqliteSql,
    /// Every commit goes through the group writer (`sqlite_writer.rs`).
    writer: Writer,
}

impl SqliteStore {
    pub fn new(db: Arc<SqliteDb>) -> Self {
        SqliteStore {
            writer: Writer::spawn(db.clone()),
            sql: SqliteSql(db.clone()),
            db,
        }
    }
}

/// Upserts one item, independent of arrival order: the stored document is the one from
/// the latest harvest (ties broken by lake key), the observation time is the earliest
/// seen. So a replay, or two harvests processed in either order on different
/// partitions, always converge on the same row, and identical input changes nothing.
pub fn upsert_content(tx: &Connection, c: &Content, doc: &str, now: i64) -> Result<(), StoreError> {
    let id = c.id.to_string();
    let happened = to_micros(c.happened_at);
    let observed = to_micros(c.observed_at);
    let ix = super::repos::contents::Indexed::of(c);
    let existing: Option<(i64, i64, String, String)> = tx
        .prepare_cached(
            "SELECT observed_at, harvested_at, lake_key, doc FROM contents WHERE id = ?1",
        )?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    match existing {
        None => {
            // `seq`: one writer commits at a time, so max + 1 is commit order.
            tx.prepare_cached(
                "INSERT INTO contents (id, seq, source, fetched_by, source_id, author, content_type, \
                 sentiment, filtered, duplicate, language, happened_at, disclosed_at, \
                 observed_at, harvested_at, stored_at, updated_at, lake_key, doc) \
                 VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM contents), ?2, ?12, ?3, ?4, ?5, \
                 ?13, ?14, ?15, ?16, ?6, ?7, ?8, ?8, ?9, ?9, ?10, ?11)",
            )?
            .execute(params![
                id,
                c.source,
                c.source_id,
                c.author.as_ref().map(|a| a.handle.as_str()),
                c.content_type.as_str(),
                happened,
                c.disclosed_at.map(to_micros),
                observed,
                now,
                c.lake_key,
                doc,
                ix.fetched_by,
                ix.sentiment,
                ix.filtered,
                ix.duplicate,
                ix.language,
            ])?;
            metrics::histogram!("sigflow_ingest_to_stored_seconds")
                .record((now - observed).max(0) as f64 / 1e6);
        }
        Some((first_seen, harvested, lake_key, old_doc)) => {
            let wins = (observed, c.lake_key.as_str()) > (harvested, lake_key.as_str())
                || (observed == harvested && c.lake_key == lake_key && doc != old_doc.as_str());
            if !wins {
                if observed < first_seen {
                    tx.prepare_cached("UPDATE contents SET observed_at = ?2 WHERE id = ?1")?
                        .execute(params![id, observed])?;
                }
                return Ok(());
            }
            tx.prepare_cached(
                "UPDATE contents SET author = ?2, content_type = ?3, happened_at = ?4, disclosed_at = ?5, \
                 observed_at = MIN(observed_at, ?6), harvested_at = ?6, updated_at = ?7, lake_key = ?8, doc = ?9, \
                 fetched_by = ?10, sentiment = ?11, filtered = ?12, duplicate = ?13, language = ?14 \
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                c.author.as_ref().map(|a| a.handle.as_str()),
                c.content_type.as_str(),
                happened,
                c.disclosed_at.map(to_micros),
                observed,
                now,
                c.lake_key,
                doc,
                ix.fetched_by,
                ix.sentiment,
                ix.filtered,
                ix.duplicate,
                ix.language,
            ])?;
            // The old document says which ticker rows to remove: no index on content_id
            // needed, which would cost a random-page write per item on every insert.
            let old: Content = super::parse_doc(&old_doc)?;
            let mut del = tx.prepare_cached(
                "DELETE FROM content_tickers WHERE ticker = ?1 AND happened_at = ?2 AND content_id = ?3",
            )?;
            for t in &old.tickers {
                del.execute(params![t, to_micros(old.happened_at), id])?;
            }
        }
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO content_tickers (ticker, content_id, happened_at) VALUES (?1, ?2, ?3)",
    )?;
    for t in &c.tickers {
        ins.execute(params![t, id, happened])?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn change_counter(&self) -> Option<u64> {
        Some(self.db.writes())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // SqliteDb::open already migrated; nothing is left to do on this connection.
        Ok(())
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        self.writer.commit(commit).await
    }

    async fn offsets(&self, group: &str, topic: &str) -> Result<Vec<OffsetCommit>, StoreError> {
        let (group, topic) = (group.to_string(), topic.to_string());
        self.db
            .read(move |conn| {
                let mut st = conn.prepare_cached(
                    "SELECT partition, next_offset FROM consumer_offsets WHERE grp = ?1 AND topic = ?2 ORDER BY partition",
                )?;
                let rows = st.query_map(params![group, topic], |r| {
                    Ok(OffsetCommit { partition: r.get(0)?, next_offset: r.get::<_, i64>(1)? as u64 })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn set_offsets(
        &self,
        group: &str,
        topic: &str,
        offsets: &[OffsetCommit],
    ) -> Result<(), StoreError> {
        let (group, topic, offsets) = (group.to_string(), topic.to_string(), offsets.to_vec());
        self.db
            .write(move |conn| {
                let tx = conn.transaction()?;
                write_offsets(&tx, &group, &topic, &offsets, now_micros(), false)?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    fn sql(&self) -> &dyn SqlDb {
        &self.sql
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .read(|conn| {
                Ok(conn
                    .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .map(|_| ())?)
            })
            .await
    }

    async fn claim_partitions(
        &self,
        group: &str,
        topic: &str,
        member: &str,
        partitions: u32,
        ttl: std::time::Duration,
    ) -> Result<Vec<u32>, StoreError> {
        let (g, t, m) = (group.to_string(), topic.to_string(), member.to_string());
        self.db
            .write(move |conn| claim_on(conn, &g, &t, &m, partitions, ttl))
            .await
    }

    async fn leave_group(&self, group: &str, topic: &str, member: &str) -> Result<(), StoreError> {
        let (g, t, m) = (group.to_string(), topic.to_string(), member.to_string());
        self.db
            .write(move |conn| {
                let tx = conn.transaction()?;
                tx.execute(
                    "DELETE FROM group_members WHERE grp = ?1 AND topic = ?2 AND member = ?3",
                    params![g, t, m],
                )?;
                tx.execute(
                    "DELETE FROM partition_leases WHERE grp = ?1 AND topic = ?2 AND owner = ?3",
                    params![g, t, m],
                )?;
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

fn claim_on(
    conn: &mut Connection,
    group: &str,
    topic: &str,
    member: &str,
    partitions: u32,
    ttl: std::time::Duration,
) -> Result<Vec<u32>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = now_micros();
    tx.execute(
        "INSERT INTO group_members (grp, topic, member, expires_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (grp, topic, member) DO UPDATE SET expires_at = excluded.expires_at",
        params![group, topic, member, now + ttl.as_micros() as i64],
    )?;
    tx.execute(
        "DELETE FROM group_members WHERE grp = ?1 AND topic = ?2 AND expires_at < ?3",
        params![group, topic, now],
    )?;
    let members: std::collections::BTreeSet<String> = tx
        .prepare("SELECT member FROM group_members WHERE grp = ?1 AND topic = ?2")?
        .query_map(params![group, topic], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let leases: std::collections::BTreeMap<u32, String> = tx
        .prepare("SELECT partition, owner FROM partition_leases WHERE grp = ?1 AND topic = ?2")?
        .query_map(params![group, topic], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let plan = super::leases::plan(member, &members, &leases, partitions);
    for p in &plan.release {
        tx.execute(
            "DELETE FROM partition_leases WHERE grp = ?1 AND topic = ?2 AND partition = ?3",
            params![group, topic, p],
        )?;
    }
    for p in &plan.claim {
        tx.execute(
            "INSERT OR REPLACE INTO partition_leases (grp, topic, partition, owner) VALUES (?1, ?2, ?3, ?4)",
            params![group, topic, p, member],
        )?;
    }
    tx.commit()?;
    Ok(plan.owned)
}
