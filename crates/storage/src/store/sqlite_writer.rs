//! The embedded store's writer: one thread owns SQLite's single write connection and
//! applies every [`Commit`] (group commit), then hands the log appends of what
//! committed to the embedded log's in-memory tail.

use std::sync::Arc;

use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use super::sqlite::upsert_content;
use super::{Commit, OffsetCommit, SqliteDb, StoreError, Write};
use crate::log::embedded::Placed;
use crate::log::runs::Run;
use crate::model::now_micros;

/// The queue in front of the writer thread.
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
    db: Arc<SqliteDb>,
}

impl Writer {
    pub fn spawn(db: Arc<SqliteDb>) -> Self {
        let (queue, rx) = mpsc::channel(256);
        let writer_db = db.clone();
        std::thread::Builder::new()
            .name("sigflow-writer".into())
            .spawn(move || group_writer(writer_db, rx))
            .expect("spawning the store's writer thread");
        Writer { queue, db }
    }

    /// Applies `commit` atomically; waits for the group it joined to commit.
    pub async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        // Grouped and compressed here, on the caller's task, not on the one writer thread.
        let runs = if commit.appends.is_empty() {
            Vec::new()
        } else {
            crate::log::embedded::prepare_runs(&self.db, &commit.appends).await?
        };
        let (done, result) = oneshot::channel();
        let stopped = || StoreError::Join("the store's writer has stopped".into());
        self.queue
            .send(Job { commit, runs, done })
            .await
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }
}

/// One caller's commit, its log appends as stored runs, and where to send its outcome.
struct Job {
    commit: Commit,
    runs: Vec<Run>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// Where a commit's appends landed, and the append time they were given.
type Applied = (Vec<Placed>, i64);

/// Most rows one group transaction takes on: bounds the transaction and how long a
/// commit that arrives during it waits.
const GROUP_MAX_ROWS: usize = 5_000;

fn rows_of(c: &Commit) -> usize {
    c.appends.len() + c.writes.len() + c.dead_letters.len() + c.offsets.len() + c.cursors.len()
}

/// Group commit. SQLite has one writer, and what a transaction costs is mostly fixed
/// (pages rewritten into the WAL), so every commit already waiting — a source's raw
/// events, normalize's batch, enrich's batch — goes into one transaction. A commit that
/// fails is rolled back alone and told so (see `apply_group`), the others still land;
/// each remains all-or-nothing. Under light load a group is one commit, so nobody
/// waits for company. Once a group has committed, its appends go to the log's
/// in-memory tail (`log/tail.rs`) for the consumers in this process.
fn group_writer(db: Arc<SqliteDb>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut rows = rows_of(&first.commit);
        let mut jobs = vec![first];
        while rows < GROUP_MAX_ROWS {
            match rx.try_recv() {
                Ok(j) => {
                    rows += rows_of(&j.commit);
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let mut appended = false;
        let wrote = jobs.iter().any(|j| !j.commit.writes.is_empty());
        let results = db
            .with_writer(|conn| {
                let results = apply_group(conn, &jobs);
                // Under the writer lock, so the tail sees each partition in offset order.
                let mut out = Vec::with_capacity(results.len());
                for (j, r) in jobs.iter_mut().zip(results) {
                    out.push(r.map(|(placed, now)| {
                        appended |= !placed.is_empty();
                        let appends = std::mem::take(&mut j.commit.appends);
                        crate::log::embedded::to_tail(db.tail(), appends, &placed, now);
                    }));
                }
                Ok(out)
            })
            .unwrap_or_else(|e| {
                let e = e.to_string();
                jobs.iter()
                    .map(|_| Err(StoreError::Join(e.clone())))
                    .collect()
            });
        if appended {
            db.notify_appended();
        }
        if wrote {
            db.note_writes();
        }
        for (j, r) in jobs.into_iter().zip(results) {
            let _ = j.done.send(r);
        }
    }
}

fn apply_group(conn: &mut Connection, jobs: &[Job]) -> Vec<Result<Applied, StoreError>> {
    let t = std::time::Instant::now();
    // Optimistic first: the whole group in one transaction with no savepoints. A
    // savepoint copies every page it first touches into a sub-journal, a tenth of the
    // writer's time (`perf` on `sigflow bench`), paid for the rare commit that fails.
    // If one does, everything is rolled back and the group applied again with a
    // savepoint per commit, so that commit fails alone.
    let now = now_micros();
    let results = match apply_together(conn, jobs, now) {
        Ok(placed) => placed.into_iter().map(|p| Ok((p, now))).collect(),
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(_) => apply_isolated(conn, jobs, now)
            .into_iter()
            .map(|r| r.map(|p| (p, now)))
            .collect(),
    };
    metrics::histogram!("sigflow_store_commit_seconds").record(t.elapsed().as_secs_f64());
    metrics::histogram!("sigflow_store_commit_rows")
        .record(jobs.iter().map(|j| rows_of(&j.commit)).sum::<usize>() as f64);
    metrics::histogram!("sigflow_store_group_commits").record(jobs.len() as f64);
    results
}

/// Every commit of the group in one transaction; any error rolls all of it back.
fn apply_together(
    conn: &mut Connection,
    jobs: &[Job],
    now: i64,
) -> Result<Vec<Vec<Placed>>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut placed = Vec::with_capacity(jobs.len());
    for j in jobs {
        placed.push(apply_commit(&tx, j, now)?);
    }
    tx.commit()?;
    Ok(placed)
}

/// One transaction, a savepoint per commit: a failing commit leaves the others.
fn apply_isolated(
    conn: &mut Connection,
    jobs: &[Job],
    now: i64,
) -> Vec<Result<Vec<Placed>, StoreError>> {
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return jobs.iter().map(|_| Err(dup(&e))).collect(),
    };
    let mut results: Vec<Result<Vec<Placed>, StoreError>> = Vec::with_capacity(jobs.len());
    for j in jobs {
        let r = (|| {
            let sp = tx.savepoint()?;
            let placed = apply_commit(&sp, j, now)?;
            sp.commit()?;
            Ok(placed)
        })();
        results.push(r);
    }
    if let Err(e) = tx.commit() {
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(dup(&e));
        }
    }
    results
}

/// The same failure for every commit of a group (rusqlite errors are not Clone).
fn dup(e: &rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, m) => {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(*f, m.clone()))
        }
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// Applies one [`Commit`] inside an open transaction; returns where its appends landed.
fn apply_commit(tx: &Connection, job: &Job, now: i64) -> Result<Vec<Placed>, StoreError> {
    let c = &job.commit;
    let placed = if c.appends.is_empty() {
        Vec::new()
    } else {
        crate::log::embedded::append_in_tx(tx, &c.appends, &job.runs, now)?
    };
    for w in &c.writes {
        match w {
            Write::UpsertContent(sc) => upsert_content(tx, &sc.content, &sc.doc, now)?,
            Write::Sql(m) => drop(super::sql::sqlite::apply(tx, m)?),
        }
    }
    if !c.dead_letters.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT INTO dlq (id, stage, topic, partition, \"offset\", item_index, key, payload, detail, error, \
             error_class, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT(id) DO NOTHING",
        )?;
        for d in &c.dead_letters {
            st.execute(params![
                d.id,
                d.stage,
                d.topic,
                d.partition,
                d.offset as i64,
                d.item_index,
                d.key,
                d.payload,
                d.detail,
                d.error,
                d.error_class,
                now
            ])?;
            metrics::counter!("sigflow_dlq_records_total", "stage" => d.stage.clone()).increment(1);
        }
    }
    if let Some((group, topic)) = &c.group {
        write_offsets(tx, group, topic, &c.offsets, now, true)?;
    }
    for (source, cursor) in &c.cursors {
        tx.prepare_cached(
            "INSERT INTO source_cursors (source, cursor, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )?
        .execute(params![source, cursor, now])?;
    }
    Ok(placed)
}

/// `forward_only`: a commit never moves a position back (a worker that lost a
/// partition and commits late must not rewind its new owner); replay's `set_offsets`
/// overwrites. The same rule as the PostgreSQL store's.
pub(super) fn write_offsets(
    tx: &Connection,
    group: &str,
    topic: &str,
    offsets: &[OffsetCommit],
    now: i64,
    forward_only: bool,
) -> Result<(), StoreError> {
    let mut st = tx.prepare_cached(if forward_only {
        "INSERT INTO consumer_offsets (grp, topic, partition, next_offset, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT(grp, topic, partition) DO UPDATE SET \
         next_offset = MAX(consumer_offsets.next_offset, excluded.next_offset), updated_at = excluded.updated_at"
    } else {
        "INSERT INTO consumer_offsets (grp, topic, partition, next_offset, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT(grp, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, \
         updated_at = excluded.updated_at"
    })?;
    for o in offsets {
        st.execute(params![
            group,
            topic,
            o.partition,
            o.next_offset as i64,
            now
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{EmbeddedLog, EventLog, TopicSpec};
    use crate::store::Append;

    fn job(topic: &str) -> Job {
        let (done, _) = oneshot::channel();
        Job {
            commit: Commit {
                appends: vec![Append {
                    topic: topic.into(),
                    key: Some(b"k".to_vec()),
                    value: b"{}".to_vec(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            // Not grouped by the caller: the writer groups them itself.
            runs: Vec::new(),
            done,
        }
    }

    /// The optimistic group transaction must give the same answers as one savepoint
    /// per commit: a commit that fails fails alone, the others hold.
    #[tokio::test]
    async fn a_failing_commit_in_a_group_fails_alone() {
        let dir = std::env::temp_dir().join(format!("sigflow-group-{}", uuid::Uuid::now_v7()));
        let db = Arc::new(SqliteDb::open(&dir.join("db"), &Default::default()).unwrap());
        let log = EmbeddedLog::new(db.clone());
        let spec = TopicSpec {
            name: "t".into(),
            partitions: 1,
            retention: std::time::Duration::from_secs(3600),
        };
        log.create_topic(&spec).await.unwrap();
        let jobs = [job("t"), job("missing"), job("t")];
        let results = db.with_writer(|c| Ok(apply_group(c, &jobs))).unwrap();
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert!(results[1].is_err());
        // Where the surviving appends landed (what the log's tail is given): the
        // failed commit's offset is not skipped.
        let offsets = |r: &Result<Applied, StoreError>| {
            r.as_ref()
                .unwrap()
                .0
                .iter()
                .map(|p| p.2)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            (offsets(&results[0]), offsets(&results[2])),
            (vec![0], vec![1])
        );
        let alone = db.with_writer(|c| Ok(apply_group(c, &jobs[..1]))).unwrap();
        assert_eq!(offsets(&alone[0]), vec![2]);
        let n: i64 = db
            .with_writer(|c| Ok(c.query_row("SELECT count(*) FROM log_records", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(
            n, 3,
            "two from the group, one alone; nothing of the failed commit"
        );
        drop(log);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
