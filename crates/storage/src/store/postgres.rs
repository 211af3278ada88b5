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

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use tokio_postgres::types::ToSql;

use super::sql::SqlDb;
use super::sql::postgres::PgSql;
use super::{Commit, DeadLetter, OffsetCommit, Store, StoreError, StoredContent, Write};
use crate::model::now_micros;

/// Advisory lock keys (arbitrary constants, namespaced by the first word).
const LOCK_MIGRATE: i64 = 0x5167_666c_0001;

pub struct PgStore {
    pool: Pool,
    sql: PgSql,
}

/// Opens a pool for `url` (connections are made on first use, so an unreachable
/// server shows as transient errors later, not as a failed start).
pub fn pool(url: &str, max_size: usize) -> Result<Pool, StoreError> {
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
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

/// Runs `sql` as a statement prepared once per connection (the pool keeps it): a
/// plain `execute(&str)` prepares it again on every call, one more round trip on the
/// commit path.
pub async fn exec(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    let st = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&st, params).await?)
}

/// [`exec`] for a query.
pub(super) async fn query(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let st = tx.prepare_cached(sql).await?;
    Ok(tx.query(&st, params).await?)
}

impl PgStore {
    pub fn new(pool: Pool) -> Self {
        PgStore {
            sql: PgSql(pool.clone()),
            pool,
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
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
    exec(tx,
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
    exec(tx,
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
        let migrations = super::migrations::migrations(super::sql::Dialect::Postgres);
        let known = migrations.last().map(|m| m.version as i64).unwrap_or(0);
        if current > known {
            return Err(StoreError::Corrupt(format!(
                "database schema is at migration {current}, newer than this sigflow knows ({known}); upgrade sigflow"
            )));
        }
        for m in migrations.iter().filter(|m| m.version as i64 > current) {
            tx.batch_execute(&m.sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&(m.version as i64), &now_micros()],
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
        // The content upserts together (one round trip per kind of change), then every
        // other write in order.
        let contents: Vec<&StoredContent> = c
            .writes
            .iter()
            .filter_map(|w| match w {
                Write::UpsertContent(sc) => Some(&**sc),
                Write::Sql(_) => None,
            })
            .collect();
        super::postgres_upsert::upsert_contents(&tx, &contents, now).await?;
        for w in &c.writes {
            if let Write::Sql(m) = w {
                super::sql::postgres::apply(&tx, m).await?;
            }
        }
        insert_dead_letters(&tx, &c.dead_letters, now).await?;
        if let Some((group, topic)) = &c.group {
            write_offsets(&tx, group, topic, &c.offsets, now, true).await?;
        }
        for (source, cursor) in &c.cursors {
            exec(&tx,
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

    fn sql(&self) -> &dyn SqlDb {
        &self.sql
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.query_one("SELECT 1", &[]).await?;
        Ok(())
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
        exec(
            &tx,
            "DELETE FROM group_members WHERE grp = $1 AND topic = $2 AND member = $3",
            &[&group, &topic, &member],
        )
        .await?;
        exec(
            &tx,
            "DELETE FROM partition_leases WHERE grp = $1 AND topic = $2 AND owner = $3",
            &[&group, &topic, &member],
        )
        .await?;
        tx.commit().await?;
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
    exec(
        tx,
        "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
        &[&group, &topic],
    )
    .await?;
    let now = now_micros();
    exec(
        tx,
        "INSERT INTO group_members (grp, topic, member, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (grp, topic, member) DO UPDATE SET expires_at = excluded.expires_at",
        &[&group, &topic, &member, &(now + ttl.as_micros() as i64)],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM group_members WHERE grp = $1 AND topic = $2 AND expires_at < $3",
        &[&group, &topic, &now],
    )
    .await?;
    let members: std::collections::BTreeSet<String> = query(
        tx,
        "SELECT member FROM group_members WHERE grp = $1 AND topic = $2",
        &[&group, &topic],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let leases: std::collections::BTreeMap<u32, String> = query(
        tx,
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
        exec(
            tx,
            "DELETE FROM partition_leases WHERE grp = $1 AND topic = $2 AND partition = ANY($3)",
            &[&group, &topic, &release],
        )
        .await?;
    }
    if !claim.is_empty() {
        exec(tx,
            "INSERT INTO partition_leases (grp, topic, partition, owner) SELECT $1, $2, p, $4 \
             FROM unnest($3::bigint[]) AS p ON CONFLICT (grp, topic, partition) DO UPDATE SET owner = excluded.owner",
            &[&group, &topic, &claim, &member],
        )
        .await?;
    }
    Ok(plan.owned)
}
