//! The shared SQLite database handle: one writer connection, a few readers, the
//! migrations, and the "something was appended" signal for the embedded log.
//!
//! The embedded store and the embedded event log are two views of this one database,
//! which is what lets a stage's log appends, results and offsets be one transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::watch;

use super::StoreError;

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `NORMAL` survives a killed process (the WAL is in the OS page cache); `FULL`
    /// also survives power loss, at the cost of an fsync per commit.
    pub synchronous_full: bool,
    pub busy_timeout: Duration,
    /// Page cache per connection, KiB. Bounded so memory stays flat as data grows.
    pub cache_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous_full: false,
            busy_timeout: Duration::from_secs(10),
            cache_kib: 8 * 1024,
        }
    }
}

pub struct SqliteDb {
    path: PathBuf,
    opts: SqliteOptions,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    appended: watch::Sender<u64>,
    /// Group commits that wrote stored rows (contents, …), for readers' caches.
    writes: std::sync::atomic::AtomicU64,
    /// Tells the checkpoint thread to stop when the database handle goes away.
    stop_checkpointer: Arc<AtomicBool>,
    /// The embedded log's recently committed records, for consumers in this process.
    tail: crate::log::Tail,
    /// The embedded log's topics' partition counts as this process last read them.
    log_partitions: crate::log::embedded::PartitionCache,
}

/// How often the background thread moves WAL pages into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// WAL frames (8 KiB pages, so ~16 MiB) past which the background thread restarts the
/// WAL instead of only copying it back. The restart holds writers off while it copies
/// the frames PASSIVE has not, so PASSIVE passes run first until fewer than
/// `RESTART_TAIL_FRAMES` are left. Measured at 1,000 items/s with the full enrichment
/// chain (`sigflow bench`): restarting straight away stalled writers 40–80 ms (p99
/// ~100 ms); with the catch-up passes a restart takes 5–12 ms (p99 ~45 ms).
const WAL_RESTART_FRAMES: i64 = 2_048;
/// Fallback: if the background thread could not keep up, the writer checkpoints itself
/// once the WAL holds this many pages (~256 MiB), so the WAL stays bounded.
/// A restart starts once the PASSIVE passes leave fewer frames than this to copy.
const RESTART_TAIL_FRAMES: i64 = 64;
const WAL_AUTOCHECKPOINT_PAGES: i64 = 65_536;

impl Drop for SqliteDb {
    fn drop(&mut self) {
        self.stop_checkpointer.store(true, Ordering::Relaxed);
    }
}

impl SqliteDb {
    pub fn open(path: &Path, opts: &SqliteOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                let why = if dir.is_file() {
                    "it is a file, not a directory".to_string()
                } else {
                    e.to_string()
                };
                StoreError::Unsupported(format!(
                    "data directory {}: cannot create it ({why}); choose another with --data-dir",
                    dir.display()
                ))
            })?;
        }
        let mut writer = Self::connect(path, opts)?;
        migrate(&mut writer)?;
        let (appended, _) = watch::channel(0);
        let stop_checkpointer = Arc::new(AtomicBool::new(false));
        Self::spawn_checkpointer(Self::connect(path, opts)?, stop_checkpointer.clone())?;
        Ok(SqliteDb {
            path: path.to_path_buf(),
            opts: opts.clone(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            appended,
            writes: Default::default(),
            stop_checkpointer,
            tail: crate::log::Tail::default(),
            log_partitions: Default::default(),
        })
    }

    /// Checkpoints run on their own connection and thread. A checkpoint is where WAL
    /// mode pays its fsyncs; done inside a commit it would stall the one writer (and
    /// every stage behind it) for the length of an fsync. PASSIVE never blocks writers.
    fn spawn_checkpointer(conn: Connection, stop: Arc<AtomicBool>) -> Result<(), StoreError> {
        std::thread::Builder::new()
            .name("sigflow-checkpoint".into())
            .spawn(move || {
                let passive = || {
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    })
                };
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    match passive() {
                        // Readers that never pause keep the WAL from being reused, so it
                        // only grows. Past the bound, restart it: that holds writers off
                        // while it copies what is left, so first let PASSIVE passes (which
                        // do not) catch up until little is left.
                        Ok((frames, _)) if frames > WAL_RESTART_FRAMES => {
                            for _ in 0..8 {
                                match passive() {
                                    Ok((f, done)) if f - done > RESTART_TAIL_FRAMES => continue,
                                    _ => break,
                                }
                            }
                            if let Err(e) =
                                conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
                            {
                                tracing::debug!(error = %e, "WAL restart deferred");
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::debug!(error = %e, "background checkpoint skipped"),
                    }
                }
            })?;
        Ok(())
    }

    fn connect(path: &Path, opts: &SqliteOptions) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)?;
        wait_when_busy(&mut conn, opts.busy_timeout)?;
        // 8 KiB pages (takes effect only when the file is created): items are ~1 KiB
        // documents plus compressed log records; measured best end to end (`sigflow bench`).
        conn.pragma_update(None, "page_size", 8192)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            if opts.synchronous_full {
                "FULL"
            } else {
                "NORMAL"
            },
        )?;
        conn.pragma_update(None, "cache_size", -(opts.cache_kib as i64))?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        // After a checkpoint resets the WAL, keep the file from staying at its peak size.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        // The bundled SQLite is built with STAT4, which marks range parameters
        // (`seen_at BETWEEN ?2 AND ?3`) as plan-relevant and recompiles the statement at
        // every new binding: a tenth of the enrich stage's time went to the parser. A
        // stable plan is what we want anyway: the indexes are made for these queries.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // The writer runs the commit path's and the enrich state's statements, more
        // than the default cache of 16 holds.
        conn.set_prepared_statement_cache_capacity(64);
        register_functions(&conn)?;
        Ok(conn)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer connection on a blocking thread.
    pub async fn write<R, F>(self: &std::sync::Arc<Self>, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Runs `f` on the writer connection on this thread (for callers that are not async).
    pub fn with_writer<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    /// Runs `f` on a reader connection (WAL lets readers run beside the writer).
    pub async fn read<R, F>(self: &std::sync::Arc<Self>, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = db.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => Self::connect(&db.path, &db.opts)?,
            };
            let out = f(&conn);
            let mut pool = db.readers.lock().unwrap_or_else(|p| p.into_inner());
            // Keep a handful; extra connections made under a burst are closed.
            if pool.len() < 4 {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    pub fn tail(&self) -> &crate::log::Tail {
        &self.tail
    }

    pub fn log_partitions(&self) -> &crate::log::embedded::PartitionCache {
        &self.log_partitions
    }

    /// Counts a group commit that wrote stored rows.
    pub fn note_writes(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Group commits so far that wrote stored rows: unchanged means nothing stored
    /// changed (this process is the only writer of an embedded store).
    pub fn writes(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Wakes embedded-log consumers after a commit that appended records.
    pub fn notify_appended(&self) {
        self.appended.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn subscribe_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }
}

/// Waits for a lock in short, even steps up to `limit`. SQLite's own busy timeout
/// sleeps in growing steps (1, 2, 5, … 100 ms), so a writer held off for 10 ms by a
/// WAL restart could sleep tens of milliseconds past its end; every stage waits
/// behind the one writer, so that sleep would land on the pipeline's latency.
fn wait_when_busy(conn: &mut Connection, limit: Duration) -> Result<(), StoreError> {
    let mut since = std::time::Instant::now();
    conn.busy_handler(Some(move |attempt: i32| {
        if attempt == 0 {
            since = std::time::Instant::now();
        }
        if since.elapsed() >= limit {
            return false;
        }
        let t = std::time::Instant::now();
        // The first waits are short: most locks are held for a commit (~1 ms).
        let step = if attempt < 10 { 100 } else { 1_000 };
        std::thread::sleep(Duration::from_micros(step));
        // Time a connection spent waiting for another's lock (a WAL restart holds the
        // writer off): shows when the store, not the work, is what is slow.
        let thread = std::thread::current().name().unwrap_or("other").to_string();
        metrics::counter!("sigflow_sqlite_busy_wait_micros_total", "thread" => thread.clone())
            .increment(t.elapsed().as_micros() as u64);
        metrics::counter!("sigflow_sqlite_busy_waits_total", "thread" => thread).increment(1);
        true
    }))?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let migrations = super::migrations::migrations(super::sql::Dialect::Sqlite);
    let known = migrations.last().map(|m| m.version as i64).unwrap_or(0);
    if current > known {
        return Err(StoreError::Corrupt(format!(
            "database schema is at migration {current}, newer than this sigflow knows ({known}); upgrade sigflow"
        )));
    }
    for m in migrations.iter().filter(|m| m.version as i64 > current) {
        tx.execute_batch(&m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![m.version, crate::model::now_micros()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// SQL functions the shared SQL needs and SQLite lacks: `sigflow_sha256(text)` (hex),
/// which the ledger's insert uses to chain a row to the one before it, as PostgreSQL's
/// `sha256()` does there (`repos/predictions.rs`).
fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "sigflow_sha256",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text: String = ctx.get(0)?;
            Ok(crate::hash::sha256_hex(text.as_bytes()))
        },
    )?;
    Ok(())
}
