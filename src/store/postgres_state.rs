//! [`EnrichState`] on PostgreSQL: the same tables and the same answers as
//! `sqlite_state.rs`, shared by every enrich worker of a deployment.
//!
//! The trait is synchronous (the enrichers run on a blocking thread, see
//! `stages/enrich.rs`), and so is this backend: a small pool of `postgres` (sync)
//! clients, each driving its own connection on the calling thread. Measured against
//! driving the async pool with `Handle::block_on` from the same blocking thread, this
//! removes two cross-thread hand-offs per round trip, which were most of its cost (the
//! state step is a few round trips per item). Statements are prepared once per
//! connection.
//!
//! Every unit (one call, or one [`EnrichState::batch`]) is a transaction that first
//! takes a transaction-scoped advisory lock: workers see each other's fingerprints
//! in a definite order, so of two workers that meet the same text at the same moment
//! exactly one is "first" — what SQLite's single writer gives the embedded mode.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use postgres::{Client, Statement, Transaction};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::StoreError;
use crate::enrich::state::{
    DupKind, EnrichState, Fingerprint, MentionStats, Observation, StateError, Verdict, baseline,
    feature_blob, hour_of, nearest,
};

const LOCK_STATE: i64 = 0x5167_666c_0002;
/// Idle connections kept (one per enrich batch in flight is enough).
const IDLE_CLIENTS: usize = 4;

/// A connection and the statements prepared on it.
struct Conn {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

pub struct PgState {
    config: postgres::Config,
    idle: Mutex<Vec<Conn>>,
}

impl PgState {
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unsupported(format!("bad postgres URL: {e}")))?;
        config.connect_timeout(std::time::Duration::from_secs(5));
        Ok(PgState {
            config,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn conn(&self) -> Result<Conn, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(c) if !c.client.is_closed() => Ok(c),
            _ => Ok(Conn {
                client: self.config.connect(tokio_postgres::NoTls)?,
                prepared: HashMap::new(),
            }),
        }
    }

    fn give_back(&self, c: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CLIENTS && !c.client.is_closed() {
            idle.push(c);
        }
    }

    fn in_tx<R>(&self, f: impl FnOnce(&Tx<'_>) -> Result<R, StoreError>) -> Result<R, StateError> {
        let run = || -> Result<R, StoreError> {
            let mut conn = self.conn()?;
            let r = (|| {
                let Conn { client, prepared } = &mut conn;
                let tx = client.transaction()?;
                let view = Tx {
                    tx: RefCell::new(Db { tx, prepared }),
                    failed: RefCell::new(None),
                };
                view.db()
                    .exec("SELECT pg_advisory_xact_lock($1)", &[&LOCK_STATE])?;
                let r = f(&view);
                if let Some(e) = view.failed.into_inner() {
                    return Err(e);
                }
                let r = r?;
                view.tx.into_inner().tx.commit()?;
                Ok(r)
            })();
            // A connection that failed mid-transaction is dropped, not reused.
            if r.is_ok() {
                self.give_back(conn);
            }
            r
        };
        run().map_err(|e| state_err(&e))
    }
}

impl Drop for PgState {
    /// Closing a sync client blocks on its own runtime, which must not happen on a
    /// thread that drives async tasks (where the last handle often goes away): close
    /// the idle connections on a thread of their own.
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// A transaction and its connection's prepared statements.
struct Db<'c> {
    tx: Transaction<'c>,
    prepared: &'c mut HashMap<&'static str, Statement>,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Db<'_> {
    fn stmt(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(st) = self.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx.prepare(sql)?;
        self.prepared.insert(sql, st.clone());
        Ok(st)
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<postgres::Row>, StoreError> {
        let st = self.stmt(sql)?;
        Ok(self.tx.query(&st, params)?)
    }

    fn exec(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, StoreError> {
        let st = self.stmt(sql)?;
        Ok(self.tx.execute(&st, params)?)
    }
}

fn state_err(e: &StoreError) -> StateError {
    StateError {
        class: e.class(),
        message: e.to_string(),
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// One open transaction, as the enrichers of a batch see it.
struct Tx<'c> {
    tx: RefCell<Db<'c>>,
    failed: RefCell<Option<StoreError>>,
}

impl<'c> Tx<'c> {
    fn db(&self) -> std::cell::RefMut<'_, Db<'c>> {
        self.tx.borrow_mut()
    }

    fn run<R>(&self, r: Result<R, StoreError>) -> Result<R, StateError> {
        r.map_err(|e| {
            let out = state_err(&e);
            // A failed statement aborts a PostgreSQL transaction: the whole unit fails.
            self.failed.borrow_mut().get_or_insert(e);
            out
        })
    }
}

impl EnrichState for PgState {
    fn dedup(
        &self,
        fp: &Fingerprint,
        window: chrono::Duration,
        near: f64,
    ) -> Result<Verdict, StateError> {
        self.in_tx(|t| dedup_on(&mut t.db(), fp, window, near))
    }

    fn observe(&self, obs: &Observation) -> Result<Option<Observation>, StateError> {
        self.in_tx(|t| observe_on(&mut t.db(), obs))
    }

    fn mentions(
        &self,
        content_id: Uuid,
        tickers: &[String],
        at: DateTime<Utc>,
        baseline_hours: u32,
    ) -> Result<Vec<MentionStats>, StateError> {
        self.in_tx(|t| mentions_on(&mut t.db(), content_id, tickers, at, baseline_hours))
    }

    fn batch(&self, f: &mut dyn FnMut(&dyn EnrichState)) -> Result<(), StateError> {
        self.in_tx(|t| {
            f(t);
            Ok(())
        })
    }
}

impl EnrichState for Tx<'_> {
    fn dedup(
        &self,
        fp: &Fingerprint,
        window: chrono::Duration,
        near: f64,
    ) -> Result<Verdict, StateError> {
        self.run(dedup_on(&mut self.db(), fp, window, near))
    }

    fn observe(&self, obs: &Observation) -> Result<Option<Observation>, StateError> {
        self.run(observe_on(&mut self.db(), obs))
    }

    fn mentions(
        &self,
        content_id: Uuid,
        tickers: &[String],
        at: DateTime<Utc>,
        baseline_hours: u32,
    ) -> Result<Vec<MentionStats>, StateError> {
        self.run(mentions_on(
            &mut self.db(),
            content_id,
            tickers,
            at,
            baseline_hours,
        ))
    }

    fn batch(&self, f: &mut dyn FnMut(&dyn EnrichState)) -> Result<(), StateError> {
        f(self);
        Ok(())
    }
}

fn dedup_on(
    tx: &mut Db<'_>,
    fp: &Fingerprint,
    window: chrono::Duration,
    near: f64,
) -> Result<Verdict, StoreError> {
    let id = fp.content_id.to_string();
    let parse = |s: &str| s.parse().unwrap_or(fp.content_id);
    let (lo, hi) = (ms(fp.at - window), ms(fp.at + window));
    // One round trip: the verdict recorded on a first run (k = 0), else the earliest
    // exact repeat in the window (k = 1).
    let rows = tx.query(
        "SELECT 0 AS k, first_id, kind, similarity FROM dedup_fingerprints
           WHERE seen_at = $1 AND content_id = $2
         UNION ALL
         (SELECT 1, first_id, 'exact', 1.0 FROM dedup_fingerprints
           WHERE exact_hash = $3 AND seen_at BETWEEN $4 AND $5
           ORDER BY seen_at, content_id LIMIT 1)",
        &[&ms(fp.at), &id, &(fp.exact as i64), &lo, &hi],
    )?;
    if let Some(r) = rows.iter().find(|r| r.get::<_, i32>(0) == 0) {
        return Ok(Verdict {
            kind: DupKind::parse(r.get(2)),
            first_id: parse(r.get(1)),
            similarity: r.get(3),
        });
    }
    let exact = rows.first();
    let mut verdict = exact.map(|r| Verdict {
        kind: DupKind::Exact,
        first_id: parse(r.get(1)),
        similarity: 1.0,
    });
    if verdict.is_none() && near < 1.0 && !fp.bands.is_empty() {
        // All bands in one query; the per-band limit of the embedded store becomes a
        // limit per band through the window function.
        let rows = tx.query("SELECT f.first_id, f.features, f.seen_at FROM (
                   SELECT b.seen_at, b.content_id,
                          row_number() OVER (PARTITION BY b.band ORDER BY b.seen_at) AS n
                   FROM dedup_bands b WHERE b.band = ANY($1) AND b.seen_at BETWEEN $2 AND $3
                 ) c JOIN dedup_fingerprints f ON f.seen_at = c.seen_at AND f.content_id = c.content_id
                 WHERE c.n <= 64",
                &[&fp.bands, &lo, &hi],
            )?;
        verdict = nearest(
            fp,
            near,
            rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))),
        );
    }
    let v = verdict.unwrap_or(Verdict {
        kind: DupKind::Unique,
        first_id: fp.content_id,
        similarity: 0.0,
    });
    let blob = feature_blob(fp, v.kind);
    let (exact, seen, first) = (fp.exact as i64, ms(fp.at), v.first_id.to_string());
    let kind = v.kind.as_str();
    // Only first occurrences are indexed for near matching (see migration 0002).
    let bands: &[i64] = if v.kind == DupKind::Unique {
        &fp.bands
    } else {
        &[]
    };
    tx.exec("WITH f AS (
           INSERT INTO dedup_fingerprints (content_id, exact_hash, features, seen_at, first_id, kind, similarity)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING 1)
         INSERT INTO dedup_bands (band, seen_at, content_id)
         SELECT b, $4, $1 FROM unnest($8::bigint[]) AS b WHERE EXISTS (SELECT 1 FROM f)
         ON CONFLICT DO NOTHING",
        &[&id, &exact, &blob, &seen, &first, &kind, &v.similarity, &bands],
    )?;
    Ok(v)
}

fn observe_on(tx: &mut Db<'_>, obs: &Observation) -> Result<Option<Observation>, StoreError> {
    let id = obs.content_id.to_string();
    let at = ms(obs.at);
    let to_obs = |t: Option<i64>, score: Option<i64>, comments: Option<i64>| {
        t.map(|t| Observation {
            content_id: obs.content_id,
            at: DateTime::from_timestamp_millis(t).unwrap_or(obs.at),
            score,
            comments,
        })
    };
    // One round trip: the answer recorded on a first run, else the latest earlier
    // observation, recorded with this one (the insert only when it is new).
    let r = tx.query(
        "WITH known AS (
           SELECT prev_at, prev_score, prev_comments FROM engagement_observations
           WHERE content_id = $1 AND observed_at = $2),
         prev AS (
           SELECT observed_at, score, comments FROM engagement_observations
           WHERE content_id = $1 AND observed_at < $2 ORDER BY observed_at DESC LIMIT 1),
         ins AS (
           INSERT INTO engagement_observations
             (content_id, observed_at, score, comments, prev_at, prev_score, prev_comments)
           SELECT $1, $2, $3, $4, (SELECT observed_at FROM prev), (SELECT score FROM prev),
                  (SELECT comments FROM prev)
           WHERE NOT EXISTS (SELECT 1 FROM known)
           RETURNING prev_at, prev_score, prev_comments)
         SELECT * FROM known UNION ALL SELECT * FROM ins",
        &[&id, &at, &obs.score, &obs.comments],
    )?;
    Ok(r.first().and_then(|r| to_obs(r.get(0), r.get(1), r.get(2))))
}

fn mentions_on(
    tx: &mut Db<'_>,
    content_id: Uuid,
    tickers: &[String],
    at: DateTime<Utc>,
    baseline_hours: u32,
) -> Result<Vec<MentionStats>, StoreError> {
    let hour = hour_of(at);
    let id = content_id.to_string();
    if tickers.is_empty() {
        return Ok(Vec::new());
    }
    // Two round trips for all the item's tickers: what was recorded on a first run and
    // the hourly counts of the window; then the new rows and counts in one statement.
    let lo = hour - i64::from(baseline_hours);
    let rows = tx.query(
        "SELECT ticker, 0 AS k, this_hour, mean, std FROM ticker_mentions
           WHERE ticker = ANY($1) AND hour = $2 AND content_id = $3
         UNION ALL
         SELECT ticker, 1, hour, count::float8, 0 FROM ticker_mention_hours
           WHERE ticker = ANY($1) AND hour BETWEEN $4 AND $2",
        &[&tickers, &hour, &id, &lo],
    )?;
    let mut known: std::collections::HashMap<String, MentionStats> = Default::default();
    let mut counts: std::collections::HashMap<String, Vec<(i64, u32)>> = Default::default();
    for r in &rows {
        let t: String = r.get(0);
        if r.get::<_, i32>(1) == 0 {
            known.insert(
                t.clone(),
                MentionStats {
                    ticker: t,
                    this_hour: r.get::<_, i64>(2) as u32,
                    mean: r.get(3),
                    std: r.get(4),
                },
            );
        } else {
            counts
                .entry(t)
                .or_default()
                .push((r.get(2), r.get::<_, f64>(3) as u32));
        }
    }
    let mut out = Vec::with_capacity(tickers.len());
    let (mut nt, mut nthis, mut nmean, mut nstd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for t in tickers {
        if let Some(k) = known.get(t) {
            out.push(k.clone());
            continue;
        }
        let c = counts.get(t).map(Vec::as_slice).unwrap_or(&[]);
        let (mean, std) = baseline(c, hour, baseline_hours);
        let this_hour = c.iter().find(|(h, _)| *h == hour).map_or(0, |(_, c)| *c) + 1;
        nt.push(t.clone());
        nthis.push(i64::from(this_hour));
        nmean.push(mean);
        nstd.push(std);
        out.push(MentionStats {
            ticker: t.clone(),
            this_hour,
            mean,
            std,
        });
    }
    if !nt.is_empty() {
        tx.exec(
            "WITH m AS (
               INSERT INTO ticker_mentions (ticker, content_id, hour, this_hour, mean, std)
               SELECT t, $2, $3, th, mn, sd
               FROM unnest($1::text[], $4::bigint[], $5::float8[], $6::float8[]) AS x(t, th, mn, sd)
               RETURNING ticker)
             INSERT INTO ticker_mention_hours (ticker, hour, count)
             SELECT ticker, $3, 1 FROM m
             ON CONFLICT (ticker, hour) DO UPDATE SET count = ticker_mention_hours.count + 1",
            &[&nt, &id, &hour, &nthis, &nmean, &nstd],
        )?;
    }
    Ok(out)
}
