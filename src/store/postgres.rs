//! The distributed store: PostgreSQL through a small connection pool. Implements
//! [`Store`] with the same numbered migration history as SQLite
//! (`migrations/postgres/`), and the same rules: every commit is one transaction,
//! upserts converge whatever the arrival order, dead letters are keyed by their input.
//!
//! Differences from the embedded store, and why:
//! * Several processes commit at once, so consumer offsets only move forward in
//!   [`Store::commit`] (`GREATEST`): a worker that lost a partition in a rebalance and
//!   commits late cannot drag the new owner's position back. [`Store::set_offsets`]
//!   (replay, reset) still overwrites.
//! * Content rows of a batch are locked (`FOR UPDATE`) before the upsert decision, so
//!   two workers upserting the same item are serialized.
//! * Round trips cost more than statements: a commit reads the batch's existing rows
//!   in one query and writes new rows, tickers and dead letters with one `unnest`
//!   statement each.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use tokio_postgres::types::ToSql;

use super::{
    Commit, ContentQuery, DeadLetter, OffsetCommit, SourceDef, SourceState, Store, StoreCounts,
    StoreError, StoredDeadLetter, Write,
};
use crate::model::{Content, from_micros, now_micros, to_micros};

/// Every migration, in order: the PostgreSQL texts of the one history (a unit test
/// checks the last is [`super::SCHEMA_VERSION`]).
pub(crate) const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_enrich_state.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_sources.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_partition_leases.sql"),
    ),
];

/// Advisory lock keys (arbitrary constants, namespaced by the first word).
const LOCK_MIGRATE: i64 = 0x5167_666c_0001;

pub struct PgStore {
    pool: Pool,
}

/// Opens a pool for `url` (connections are made on first use, so an unreachable
/// server shows as transient errors later, not as a failed start).
pub(crate) fn pool(url: &str, max_size: usize) -> Result<Pool, StoreError> {
    let pg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Unsupported(format!("bad postgres URL: {e}")))?;
    let mgr = Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // Bounded waits: when the server is down a caller gets an error (and retries with
    // backoff) instead of hanging on a connection that will not come.
    Pool::builder(mgr)
        .max_size(max_size)
        .timeouts(Timeouts {
            wait: Some(Duration::from_secs(10)),
            create: Some(Duration::from_secs(5)),
            recycle: Some(Duration::from_secs(5)),
        })
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Unsupported(format!("postgres pool: {e}")))
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::Unavailable(format!("postgres: {other}")),
        }
    }
}

/// The server's own message (and SQLSTATE) when there is one: tokio-postgres shows
/// only "db error" for those.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

impl PgStore {
    pub fn new(pool: Pool) -> Self {
        PgStore { pool }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

/// The row a batch's upsert decision starts from.
struct Existing {
    observed_at: i64,
    harvested_at: i64,
    lake_key: String,
    doc: String,
    happened_at: i64,
    tickers: Vec<String>,
}

/// What one id of a batch comes to.
enum RowPlan<'a> {
    Insert(&'a super::StoredContent),
    /// The harvest that wins, and the row it replaces.
    Replace(&'a super::StoredContent, Existing),
    /// Keep the document; only the first-seen time moves earlier.
    Observed(i64),
}

fn ids_of(writes: &[Write]) -> Vec<String> {
    writes
        .iter()
        .map(|Write::UpsertContent(sc)| sc.content.id.to_string())
        .collect()
}

async fn upsert_contents(
    tx: &deadpool_postgres::Transaction<'_>,
    writes: &[Write],
    now: i64,
) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut ids = ids_of(writes);
    ids.sort();
    ids.dedup();
    let rows = tx
        .query(
            "SELECT id, observed_at, harvested_at, lake_key, doc, happened_at FROM contents \
             WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&ids],
        )
        .await?;
    let mut existing: HashMap<String, Existing> = HashMap::with_capacity(rows.len());
    for r in rows {
        let doc: String = r.get(4);
        let old: Content = serde_json::from_str(&doc)
            .map_err(|e| StoreError::Corrupt(format!("content doc: {e}")))?;
        existing.insert(
            r.get(0),
            Existing {
                observed_at: r.get(1),
                harvested_at: r.get(2),
                lake_key: r.get(3),
                doc,
                happened_at: r.get(5),
                tickers: old.tickers,
            },
        );
    }
    // Fold the batch per id, in order, with the same rule as the embedded store: the
    // latest harvest wins (ties by lake key), the first observation is kept.
    let mut plans: HashMap<String, RowPlan> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for Write::UpsertContent(sc) in writes {
        let id = sc.content.id.to_string();
        let observed = to_micros(sc.content.observed_at);
        let plan = match plans.remove(&id) {
            None => match existing.remove(&id) {
                None => RowPlan::Insert(sc),
                Some(e) => decide(sc, e, observed),
            },
            Some(RowPlan::Insert(prev)) => {
                let (po, pk) = (to_micros(prev.content.observed_at), &prev.content.lake_key);
                if (observed, sc.content.lake_key.as_str()) > (po, pk.as_str()) {
                    RowPlan::Insert(sc)
                } else {
                    RowPlan::Insert(prev)
                }
            }
            Some(RowPlan::Replace(prev, e)) => {
                let (po, pk) = (to_micros(prev.content.observed_at), &prev.content.lake_key);
                if (observed, sc.content.lake_key.as_str()) > (po, pk.as_str()) {
                    RowPlan::Replace(sc, e)
                } else {
                    RowPlan::Replace(prev, e)
                }
            }
            Some(RowPlan::Observed(first)) => match existing.remove(&id) {
                // Unreachable in practice (Observed consumed the row); keep the data safe.
                Some(e) => decide(sc, e, observed),
                None => RowPlan::Observed(first.min(observed)),
            },
        };
        if !order.contains(&id) {
            order.push(id.clone());
        }
        plans.insert(id, plan);
    }

    let mut ins: Vec<&super::StoredContent> = Vec::new();
    let (mut tk_t, mut tk_h, mut tk_id): (Vec<String>, Vec<i64>, Vec<String>) = Default::default();
    let (mut del_t, mut del_h, mut del_id): (Vec<String>, Vec<i64>, Vec<String>) =
        Default::default();
    // Replacements and first-seen moves: one statement each, whatever the batch size.
    let mut rep = Replaced::default();
    let (mut obs_id, mut obs_at): (Vec<&str>, Vec<i64>) = Default::default();
    for id in &order {
        match plans.get(id).expect("planned") {
            RowPlan::Insert(sc) => {
                ins.push(sc);
                for t in &sc.content.tickers {
                    tk_t.push(t.clone());
                    tk_h.push(to_micros(sc.content.happened_at));
                    tk_id.push(id.clone());
                }
            }
            RowPlan::Replace(sc, e) => {
                for t in &e.tickers {
                    del_t.push(t.clone());
                    del_h.push(e.happened_at);
                    del_id.push(id.clone());
                }
                for t in &sc.content.tickers {
                    tk_t.push(t.clone());
                    tk_h.push(to_micros(sc.content.happened_at));
                    tk_id.push(id.clone());
                }
                let c = &sc.content;
                let observed = to_micros(c.observed_at);
                rep.id.push(id);
                rep.author
                    .push(c.author.as_ref().map(|a| a.handle.as_str()));
                rep.ctype.push(c.content_type.as_str());
                rep.happened.push(to_micros(c.happened_at));
                rep.disclosed.push(c.disclosed_at.map(to_micros));
                rep.first_seen.push(observed.min(e.observed_at));
                rep.observed.push(observed);
                rep.key.push(c.lake_key.as_str());
                rep.doc.push(sc.doc.as_str());
            }
            RowPlan::Observed(first) => {
                obs_id.push(id);
                obs_at.push(*first);
            }
        }
    }
    if !rep.id.is_empty() {
        tx.execute(
            "UPDATE contents c SET author = u.a, content_type = u.ct, happened_at = u.h, disclosed_at = u.d, \
             observed_at = u.f, harvested_at = u.o, updated_at = $10, lake_key = u.k, doc = u.doc \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], \
                         $7::bigint[], $8::text[], $9::text[]) AS u(id, a, ct, h, d, f, o, k, doc) \
             WHERE c.id = u.id",
            &[
                &rep.id,
                &rep.author,
                &rep.ctype,
                &rep.happened,
                &rep.disclosed,
                &rep.first_seen,
                &rep.observed,
                &rep.key,
                &rep.doc,
                &now,
            ],
        )
        .await?;
    }
    if !obs_id.is_empty() {
        tx.execute(
            "UPDATE contents c SET observed_at = LEAST(c.observed_at, u.o) \
             FROM unnest($1::text[], $2::bigint[]) AS u(id, o) WHERE c.id = u.id",
            &[&obs_id, &obs_at],
        )
        .await?;
    }
    if !del_t.is_empty() {
        tx.execute(
            "DELETE FROM content_tickers t USING unnest($1::text[], $2::bigint[], $3::text[]) AS d(ticker, h, id) \
             WHERE t.ticker = d.ticker AND t.happened_at = d.h AND t.content_id = d.id",
            &[&del_t, &del_h, &del_id],
        )
        .await?;
    }
    if !ins.is_empty() {
        insert_new(tx, &ins, now).await?;
    }
    if !tk_t.is_empty() {
        tx.execute(
            "INSERT INTO content_tickers (ticker, happened_at, content_id) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING",
            &[&tk_t, &tk_h, &tk_id],
        )
        .await?;
    }
    Ok(())
}

/// Columns of the rows a batch replaces, for one `unnest` update.
#[derive(Default)]
struct Replaced<'a> {
    id: Vec<&'a str>,
    author: Vec<Option<&'a str>>,
    ctype: Vec<&'static str>,
    happened: Vec<i64>,
    disclosed: Vec<Option<i64>>,
    first_seen: Vec<i64>,
    observed: Vec<i64>,
    key: Vec<&'a str>,
    doc: Vec<&'a str>,
}

fn decide<'a>(sc: &'a super::StoredContent, e: Existing, observed: i64) -> RowPlan<'a> {
    let c = &sc.content;
    let wins = (observed, c.lake_key.as_str()) > (e.harvested_at, e.lake_key.as_str())
        || (observed == e.harvested_at && c.lake_key == e.lake_key && sc.doc != e.doc);
    if wins {
        RowPlan::Replace(sc, e)
    } else {
        RowPlan::Observed(observed.min(e.observed_at))
    }
}

async fn insert_new(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[&super::StoredContent],
    now: i64,
) -> Result<(), StoreError> {
    let n = rows.len();
    let (mut id, mut source, mut sid, mut author, mut ctype) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut happened, mut disclosed, mut observed, mut key, mut doc) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for sc in rows {
        let c = &sc.content;
        id.push(c.id.to_string());
        source.push(c.source.as_str());
        sid.push(c.source_id.as_str());
        author.push(c.author.as_ref().map(|a| a.handle.as_str()));
        ctype.push(c.content_type.as_str());
        happened.push(to_micros(c.happened_at));
        disclosed.push(c.disclosed_at.map(to_micros));
        observed.push(to_micros(c.observed_at));
        key.push(c.lake_key.as_str());
        doc.push(sc.doc.as_str());
    }
    // ON CONFLICT DO NOTHING: a row another worker inserted since the batch read is the
    // same item from the same input (same key, same partition), so either copy is right.
    tx.execute(
        "INSERT INTO contents (id, source, source_id, author, content_type, happened_at, disclosed_at, \
         observed_at, harvested_at, stored_at, updated_at, lake_key, doc) \
         SELECT i, s, sid, a, ct, h, d, o, o, $11, $11, k, doc FROM \
         unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], \
                $8::bigint[], $9::text[], $10::text[]) AS x(i, s, sid, a, ct, h, d, o, k, doc) \
         ON CONFLICT (id) DO NOTHING",
        &[
            &id, &source, &sid, &author, &ctype, &happened, &disclosed, &observed, &key, &doc, &now,
        ],
    )
    .await?;
    for o in &observed {
        metrics::histogram!("sigflow_ingest_to_stored_seconds")
            .record((now - o).max(0) as f64 / 1e6);
    }
    Ok(())
}

async fn insert_dead_letters(
    tx: &deadpool_postgres::Transaction<'_>,
    letters: &[DeadLetter],
    now: i64,
) -> Result<(), StoreError> {
    if letters.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&DeadLetter) -> String| letters.iter().map(f).collect::<Vec<String>>();
    let parts: Vec<i64> = letters.iter().map(|d| i64::from(d.partition)).collect();
    let offs: Vec<i64> = letters.iter().map(|d| d.offset as i64).collect();
    let items: Vec<Option<i64>> = letters
        .iter()
        .map(|d| d.item_index.map(i64::from))
        .collect();
    let keys: Vec<Option<&[u8]>> = letters.iter().map(|d| d.key.as_deref()).collect();
    let payloads: Vec<&[u8]> = letters.iter().map(|d| d.payload.as_slice()).collect();
    let details: Vec<Option<&str>> = letters.iter().map(|d| d.detail.as_deref()).collect();
    tx.execute(
        "INSERT INTO dlq (id, stage, topic, partition, \"offset\", item_index, key, payload, detail, error, error_class, created_at) \
         SELECT *, $12 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], \
                $7::bytea[], $8::bytea[], $9::text[], $10::text[], $11::text[]) \
         ON CONFLICT (id) DO NOTHING",
        &[
            &col(|d| d.id.clone()),
            &col(|d| d.stage.clone()),
            &col(|d| d.topic.clone()),
            &parts,
            &offs,
            &items,
            &keys,
            &payloads,
            &details,
            &col(|d| d.error.clone()),
            &col(|d| d.error_class.clone()),
            &now,
        ],
    )
    .await?;
    for d in letters {
        metrics::counter!("sigflow_dlq_records_total", "stage" => d.stage.clone()).increment(1);
    }
    Ok(())
}

/// `forward_only`: a commit never moves a position back (see the module docs).
async fn write_offsets(
    tx: &deadpool_postgres::Transaction<'_>,
    group: &str,
    topic: &str,
    offsets: &[OffsetCommit],
    now: i64,
    forward_only: bool,
) -> Result<(), StoreError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let parts: Vec<i64> = offsets.iter().map(|o| i64::from(o.partition)).collect();
    let next: Vec<i64> = offsets.iter().map(|o| o.next_offset as i64).collect();
    let set = if forward_only {
        "GREATEST(consumer_offsets.next_offset, excluded.next_offset)"
    } else {
        "excluded.next_offset"
    };
    tx.execute(
        &format!(
            "INSERT INTO consumer_offsets (grp, topic, partition, next_offset, updated_at) \
             SELECT $1, $2, p, n, $5 FROM unnest($3::bigint[], $4::bigint[]) AS x(p, n) \
             ON CONFLICT (grp, topic, partition) DO UPDATE SET next_offset = {set}, updated_at = excluded.updated_at"
        ),
        &[&group, &topic, &parts, &next, &now],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Several processes may start at once: one migrates, the others wait and find
        // nothing left to do.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_MIGRATE])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        let known = MIGRATIONS.last().map(|m| m.0 as i64).unwrap_or(0);
        if current > known {
            return Err(StoreError::Corrupt(format!(
                "database schema is at migration {current}, newer than this sigflow knows ({known}); upgrade sigflow"
            )));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 as i64 > current) {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&(*version as i64), &now_micros()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn commit(&self, c: Commit) -> Result<(), StoreError> {
        if c.is_empty() {
            return Ok(());
        }
        if !c.appends.is_empty() {
            return Err(StoreError::Unsupported(
                "the PostgreSQL store holds no event log: appends go to the log before the commit"
                    .into(),
            ));
        }
        let t = std::time::Instant::now();
        let now = now_micros();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        upsert_contents(&tx, &c.writes, now).await?;
        insert_dead_letters(&tx, &c.dead_letters, now).await?;
        if let Some((group, topic)) = &c.group {
            write_offsets(&tx, group, topic, &c.offsets, now, true).await?;
        }
        for (source, cursor) in &c.cursors {
            tx.execute(
                "INSERT INTO source_cursors (source, cursor, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                &[source, cursor, &now],
            )
            .await?;
        }
        tx.commit().await?;
        metrics::histogram!("sigflow_store_commit_seconds").record(t.elapsed().as_secs_f64());
        Ok(())
    }

    async fn offsets(&self, group: &str, topic: &str) -> Result<Vec<OffsetCommit>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT partition, next_offset FROM consumer_offsets WHERE grp = $1 AND topic = $2 ORDER BY partition",
                &[&group, &topic],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| OffsetCommit {
                partition: r.get::<_, i64>(0) as u32,
                next_offset: r.get::<_, i64>(1) as u64,
            })
            .collect())
    }

    async fn set_offsets(
        &self,
        group: &str,
        topic: &str,
        offsets: &[OffsetCommit],
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        write_offsets(&tx, group, topic, offsets, now_micros(), false).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT cursor FROM source_cursors WHERE source = $1",
                &[&source],
            )
            .await?
            .map(|r| r.get(0)))
    }

    async fn contents(&self, q: &ContentQuery) -> Result<Vec<Content>, StoreError> {
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut conds: Vec<String> = Vec::new();
        let mut arg = |v: Box<dyn ToSql + Sync + Send>| {
            args.push(v);
            format!("${}", args.len())
        };
        let (from, time_col, id_col) = if let Some(t) = &q.ticker {
            conds.push(format!("t.ticker = {}", arg(Box::new(t.to_uppercase()))));
            (
                "content_tickers t JOIN contents c ON c.id = t.content_id",
                "t.happened_at",
                "t.content_id",
            )
        } else {
            ("contents c", "c.happened_at", "c.id")
        };
        if let Some(s) = &q.source {
            conds.push(format!("c.source = {}", arg(Box::new(s.clone()))));
        }
        if let Some(s) = q.since {
            conds.push(format!("{time_col} >= {}", arg(Box::new(to_micros(s)))));
        }
        if let Some(u) = q.until {
            conds.push(format!("{time_col} < {}", arg(Box::new(to_micros(u)))));
        }
        if let Some(label) = &q.sentiment {
            conds.push(format!(
                "(c.doc::jsonb #>> '{{enrichments,sentiment,label}}') = {}",
                arg(Box::new(label.clone()))
            ));
        }
        if let Some(f) = q.filtered {
            conds.push(format!(
                "COALESCE((c.doc::jsonb #>> '{{enrichments,filter,filtered}}')::boolean, false) = {}",
                arg(Box::new(f))
            ));
        }
        if q.first_only {
            conds.push(
                "COALESCE(c.doc::jsonb #>> '{enrichments,dedup,kind}', 'unique') = 'unique'".into(),
            );
        }
        if let Some((ts, id)) = &q.before {
            let a = arg(Box::new(*ts));
            let b = arg(Box::new(id.clone()));
            conds.push(format!("({time_col}, {id_col}) < ({a}, {b})"));
        }
        let where_ = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let limit = arg(Box::new(q.limit as i64));
        let sql = format!(
            "SELECT c.doc, c.observed_at FROM {from}{where_} ORDER BY {time_col} DESC, {id_col} DESC LIMIT {limit}"
        );
        let params: Vec<&(dyn ToSql + Sync)> = args
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = self.client().await?.query(&sql, &params).await?;
        rows.iter()
            .map(|r| row_to_content(r.get(0), r.get(1)))
            .collect()
    }

    async fn content(&self, id: &str) -> Result<Option<Content>, StoreError> {
        self.client()
            .await?
            .query_opt(
                "SELECT doc, observed_at FROM contents WHERE id = $1",
                &[&id],
            )
            .await?
            .map(|r| row_to_content(r.get(0), r.get(1)))
            .transpose()
    }

    async fn dead_letters(
        &self,
        limit: usize,
        ids: &[String],
    ) -> Result<Vec<StoredDeadLetter>, StoreError> {
        let ids = ids.to_vec();
        let all = ids.is_empty();
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, stage, topic, partition, \"offset\", item_index, key, payload, detail, error, error_class, \
                 created_at, replayed_at, replay_count FROM dlq WHERE $1 OR id = ANY($2) \
                 ORDER BY created_at DESC, id LIMIT $3",
                &[&all, &ids, &(limit as i64)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let payload: Vec<u8> = r.get(7);
                StoredDeadLetter {
                    payload_text: String::from_utf8(payload.clone()).ok(),
                    letter: DeadLetter {
                        id: r.get(0),
                        stage: r.get(1),
                        topic: r.get(2),
                        partition: r.get::<_, i64>(3) as u32,
                        offset: r.get::<_, i64>(4) as u64,
                        item_index: r.get::<_, Option<i64>>(5).map(|i| i as u32),
                        key: r.get(6),
                        payload,
                        detail: r.get(8),
                        error: r.get(9),
                        error_class: r.get(10),
                    },
                    created_at: from_micros(r.get(11)),
                    replayed_at: r.get::<_, Option<i64>>(12).map(from_micros),
                    replay_count: r.get::<_, i64>(13) as u32,
                }
            })
            .collect())
    }

    async fn mark_replayed(&self, ids: &[String]) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE dlq SET replayed_at = $1, replay_count = replay_count + 1 WHERE id = ANY($2)",
                &[&now_micros(), &ids],
            )
            .await?;
        Ok(())
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let r = self
            .client()
            .await?
            .query_one(
                "SELECT (SELECT COUNT(*) FROM contents), (SELECT COUNT(*) FROM dlq)",
                &[],
            )
            .await?;
        Ok(StoreCounts {
            contents: r.get::<_, i64>(0) as u64,
            dlq: r.get::<_, i64>(1) as u64,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn source_defs(&self) -> Result<Vec<SourceDef>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT name, state, kind, options, quarantine, updated_at FROM source_defs ORDER BY name",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SourceDef {
                name: r.get(0),
                state: SourceState::parse(r.get(1)).unwrap_or(SourceState::Active),
                kind: r.get(2),
                options: r
                    .get::<_, Option<String>>(3)
                    .and_then(|o| serde_json::from_str(&o).ok()),
                quarantine: r.get(4),
                updated_at: from_micros(r.get(5)),
            })
            .collect())
    }

    async fn claim_partitions(
        &self,
        group: &str,
        topic: &str,
        member: &str,
        partitions: u32,
        ttl: std::time::Duration,
    ) -> Result<Vec<u32>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let owned = claim_on(&tx, group, topic, member, partitions, ttl).await?;
        tx.commit().await?;
        Ok(owned)
    }

    async fn leave_group(&self, group: &str, topic: &str, member: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "DELETE FROM group_members WHERE grp = $1 AND topic = $2 AND member = $3",
            &[&group, &topic, &member],
        )
        .await?;
        tx.execute(
            "DELETE FROM partition_leases WHERE grp = $1 AND topic = $2 AND owner = $3",
            &[&group, &topic, &member],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_source_def(&self, def: &SourceDef) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO source_defs (name, state, kind, options, quarantine, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET state = excluded.state, \
                 kind = excluded.kind, options = excluded.options, quarantine = excluded.quarantine, \
                 updated_at = excluded.updated_at",
                &[
                    &def.name,
                    &def.state.as_str(),
                    &def.kind,
                    &def.options.as_ref().map(|o| o.to_string()),
                    &def.quarantine,
                    &to_micros(def.updated_at),
                ],
            )
            .await?;
        Ok(())
    }
}

async fn claim_on(
    tx: &deadpool_postgres::Transaction<'_>,
    group: &str,
    topic: &str,
    member: &str,
    partitions: u32,
    ttl: std::time::Duration,
) -> Result<Vec<u32>, StoreError> {
    // One member of a group at a time: each sees the others' last moves.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
        &[&group, &topic],
    )
    .await?;
    let now = now_micros();
    tx.execute(
        "INSERT INTO group_members (grp, topic, member, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (grp, topic, member) DO UPDATE SET expires_at = excluded.expires_at",
        &[&group, &topic, &member, &(now + ttl.as_micros() as i64)],
    )
    .await?;
    tx.execute(
        "DELETE FROM group_members WHERE grp = $1 AND topic = $2 AND expires_at < $3",
        &[&group, &topic, &now],
    )
    .await?;
    let members: std::collections::BTreeSet<String> = tx
        .query(
            "SELECT member FROM group_members WHERE grp = $1 AND topic = $2",
            &[&group, &topic],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let leases: std::collections::BTreeMap<u32, String> = tx
        .query(
            "SELECT partition, owner FROM partition_leases WHERE grp = $1 AND topic = $2",
            &[&group, &topic],
        )
        .await?
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u32, r.get(1)))
        .collect();
    let plan = super::leases::plan(member, &members, &leases, partitions);
    let release: Vec<i64> = plan.release.iter().map(|p| i64::from(*p)).collect();
    let claim: Vec<i64> = plan.claim.iter().map(|p| i64::from(*p)).collect();
    if !release.is_empty() {
        tx.execute(
            "DELETE FROM partition_leases WHERE grp = $1 AND topic = $2 AND partition = ANY($3)",
            &[&group, &topic, &release],
        )
        .await?;
    }
    if !claim.is_empty() {
        tx.execute(
            "INSERT INTO partition_leases (grp, topic, partition, owner) SELECT $1, $2, p, $4 \
             FROM unnest($3::bigint[]) AS p ON CONFLICT (grp, topic, partition) DO UPDATE SET owner = excluded.owner",
            &[&group, &topic, &claim, &member],
        )
        .await?;
    }
    Ok(plan.owned)
}

fn row_to_content(doc: &str, observed_at: i64) -> Result<Content, StoreError> {
    let mut c: Content =
        serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("content doc: {e}")))?;
    c.observed_at = from_micros(observed_at);
    Ok(c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_version_is_the_last_migration() {
        assert_eq!(
            super::MIGRATIONS.last().map(|m| m.0),
            Some(crate::store::SCHEMA_VERSION)
        );
    }
}
