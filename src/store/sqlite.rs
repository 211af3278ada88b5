//! The embedded store: SQLite, one file. Implements [`Store`] over [`SqliteDb`].

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite_writer::{Writer, write_offsets};
use super::{
    Commit, ContentQuery, DeadLetter, OffsetCommit, SourceDef, SourceState, SqliteDb, Store,
    StoreCounts, StoreError, StoredDeadLetter,
};
use crate::model::{Content, from_micros, now_micros, to_micros};

pub struct SqliteStore {
    db: Arc<SqliteDb>,
    /// Every commit goes through the group writer (`sqlite_writer.rs`).
    writer: Writer,
}

impl SqliteStore {
    pub fn new(db: Arc<SqliteDb>) -> Self {
        SqliteStore {
            writer: Writer::spawn(db.clone()),
            db,
        }
    }
}

/// Upserts one item, independent of arrival order: the stored document is the one from
/// the latest harvest (ties broken by lake key), the observation time is the earliest
/// seen. So a replay, or two harvests processed in either order on different
/// partitions, always converge on the same row, and identical input changes nothing.
pub(crate) fn upsert_content(
    tx: &Connection,
    c: &Content,
    doc: &str,
    now: i64,
) -> Result<(), StoreError> {
    let id = c.id.to_string();
    let happened = to_micros(c.happened_at);
    let observed = to_micros(c.observed_at);
    let existing: Option<(i64, i64, String, String)> = tx
        .prepare_cached(
            "SELECT observed_at, harvested_at, lake_key, doc FROM contents WHERE id = ?1",
        )?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    match existing {
        None => {
            tx.prepare_cached(
                "INSERT INTO contents (id, source, source_id, author, content_type, happened_at, disclosed_at, \
                 observed_at, harvested_at, stored_at, updated_at, lake_key, doc) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?9, ?10, ?11)",
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
                doc
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
                 observed_at = MIN(observed_at, ?6), harvested_at = ?6, updated_at = ?7, lake_key = ?8, doc = ?9 \
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
                doc
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
                write_offsets(&tx, &group, &topic, &offsets, now_micros())?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        let source = source.to_string();
        self.db
            .read(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT cursor FROM source_cursors WHERE source = ?1",
                        [source],
                        |r| r.get(0),
                    )
                    .optional()?)
            })
            .await
    }

    async fn contents(&self, q: &ContentQuery) -> Result<Vec<Content>, StoreError> {
        let q = q.clone();
        self.db.read(move |conn| query_contents(conn, &q)).await
    }

    async fn content(&self, id: &str) -> Result<Option<Content>, StoreError> {
        let id = id.to_string();
        self.db
            .read(move |conn| {
                let row: Option<(String, i64)> = conn
                    .query_row(
                        "SELECT doc, observed_at FROM contents WHERE id = ?1",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                row.map(|(doc, obs)| super::row_to_content(&doc, obs))
                    .transpose()
            })
            .await
    }

    async fn dead_letters(
        &self,
        limit: usize,
        ids: &[String],
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        let ids = ids.to_vec();
        self.db
            .read(move |conn| {
                let mut sql = String::from(
                    "SELECT id, stage, topic, partition, \"offset\", item_index, key, payload, detail, error, error_class, \
                     created_at, replayed_at, replay_count FROM dlq",
                );
                let mut args: Vec<Value> = Vec::new();
                if !ids.is_empty() {
                    sql.push_str(" WHERE id IN (");
                    sql.push_str(&vec!["?"; ids.len()].join(","));
                    sql.push(')');
                    args.extend(ids.into_iter().map(Value::Text));
                }
                sql.push_str(" ORDER BY created_at DESC, id LIMIT ?");
                args.push(Value::Integer(limit as i64));
                let mut st = conn.prepare(&sql)?;
                let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
                    let payload: Vec<u8> = r.get(7)?;
                    Ok(StoredDeadLetter {
                        payload_text: String::from_utf8(payload.clone()).ok(),
                        letter: DeadLetter {
                            id: r.get(0)?,
                            stage: r.get(1)?,
                            topic: r.get(2)?,
                            partition: r.get(3)?,
                            offset: r.get::<_, i64>(4)? as u64,
                            item_index: r.get(5)?,
                            key: r.get(6)?,
                            payload,
                            detail: r.get(8)?,
                            error: r.get(9)?,
                            error_class: r.get(10)?,
                        },
                        created_at: from_micros(r.get(11)?),
                        replayed_at: r.get::<_, Option<i64>>(12)?.map(from_micros),
                        replay_count: r.get(13)?,
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn mark_replayed(&self, ids: &[String]) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        self.db
            .write(move |conn| {
                let tx = conn.transaction()?;
                let now = now_micros();
                for id in &ids {
                    tx.execute(
                        "UPDATE dlq SET replayed_at = ?1, replay_count = replay_count + 1 WHERE id = ?2",
                        params![now, id],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.db
            .read(|conn| {
                let contents: i64 =
                    conn.query_row("SELECT COUNT(*) FROM contents", [], |r| r.get(0))?;
                let dlq: i64 = conn.query_row("SELECT COUNT(*) FROM dlq", [], |r| r.get(0))?;
                Ok(StoreCounts {
                    contents: contents as u64,
                    dlq: dlq as u64,
                })
            })
            .await
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

    async fn source_defs(&self) -> Result<Vec<SourceDef>, StoreError> {
        self.db.read(source_defs_on).await
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

    async fn put_source_def(&self, def: &SourceDef) -> Result<(), StoreError> {
        let def = def.clone();
        self.db
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO source_defs (name, state, kind, options, quarantine, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE SET state = excluded.state, \
                     kind = excluded.kind, options = excluded.options, quarantine = excluded.quarantine, \
                     updated_at = excluded.updated_at",
                )?
                .execute(params![
                    def.name,
                    def.state.as_str(),
                    def.kind,
                    def.options.as_ref().map(|o| o.to_string()),
                    def.quarantine,
                    to_micros(def.updated_at)
                ])?;
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

fn source_defs_on(conn: &Connection) -> Result<Vec<SourceDef>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT name, state, kind, options, quarantine, updated_at FROM source_defs ORDER BY name",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, state, kind, options, quarantine, at) = row?;
        out.push(SourceDef {
            state: SourceState::parse(&state).unwrap_or(SourceState::Active),
            options: options.and_then(|o| serde_json::from_str(&o).ok()),
            name,
            kind,
            quarantine,
            updated_at: from_micros(at),
        });
    }
    Ok(out)
}

fn query_contents(
    conn: &rusqlite::Connection,
    q: &ContentQuery,
) -> Result<Vec<Content>, StoreError> {
    let mut args: Vec<Value> = Vec::new();
    let mut conds: Vec<String> = Vec::new();
    // With a ticker, walk the (ticker, happened_at) index and join; else the time index.
    let (from, time_col, id_col) = if let Some(t) = &q.ticker {
        args.push(Value::Text(t.to_uppercase()));
        conds.push("t.ticker = ?".into());
        (
            "content_tickers t JOIN contents c ON c.id = t.content_id",
            "t.happened_at",
            "t.content_id",
        )
    } else {
        ("contents c", "c.happened_at", "c.id")
    };
    if let Some(s) = &q.source {
        conds.push("c.source = ?".into());
        args.push(Value::Text(s.clone()));
    }
    if let Some(s) = q.since {
        conds.push(format!("{time_col} >= ?"));
        args.push(Value::Integer(to_micros(s)));
    }
    if let Some(u) = q.until {
        conds.push(format!("{time_col} < ?"));
        args.push(Value::Integer(to_micros(u)));
    }
    // Enrichment filters read the stored document: they narrow a time-ordered walk.
    if let Some(label) = &q.sentiment {
        conds.push("json_extract(c.doc, '$.enrichments.sentiment.label') = ?".into());
        args.push(Value::Text(label.clone()));
    }
    if let Some(f) = q.filtered {
        conds.push("coalesce(json_extract(c.doc, '$.enrichments.filter.filtered'), 0) = ?".into());
        args.push(Value::Integer(i64::from(f)));
    }
    if q.first_only {
        conds.push(
            "coalesce(json_extract(c.doc, '$.enrichments.dedup.kind'), 'unique') = 'unique'".into(),
        );
    }
    if let Some((ts, id)) = &q.before {
        conds.push(format!("({time_col}, {id_col}) < (?, ?)"));
        args.push(Value::Integer(*ts));
        args.push(Value::Text(id.clone()));
    }
    let where_ = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    let sql = format!(
        "SELECT c.doc, c.observed_at FROM {from}{where_} ORDER BY {time_col} DESC, {id_col} DESC LIMIT ?"
    );
    args.push(Value::Integer(q.limit as i64));
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (doc, obs) = row?;
        out.push(super::row_to_content(&doc, obs)?);
    }
    Ok(out)
}
