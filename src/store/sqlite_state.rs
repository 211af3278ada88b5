//! [`EnrichState`] on SQLite: dedup fingerprints, engagement observations and ticker
//! mentions in the store's database (migration 0002). Every call runs in an IMMEDIATE
//! transaction on the writer connection — one per call, or one for a whole batch
//! ([`EnrichState::batch`]) — so two workers that see the same text at the same moment
//! are serialized and exactly one of them is "first".

use std::sync::Arc;

use chrono::{DateTime, Utc};
use std::cell::RefCell;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::{SqliteDb, StoreError};
use crate::enrich::state::{
    DupKind, EnrichState, Fingerprint, MentionStats, Observation, StateError, Verdict, baseline,
    feature_blob, hour_of, nearest,
};

pub struct SqliteState {
    db: Arc<SqliteDb>,
}

impl SqliteState {
    pub fn new(db: Arc<SqliteDb>) -> Self {
        SqliteState { db }
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

impl SqliteState {
    /// Runs `f` in one IMMEDIATE transaction on the writer connection.
    fn in_tx<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StateError> {
        self.db
            .with_writer(|conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let r = f(&tx)?;
                tx.commit()?;
                Ok(r)
            })
            .map_err(|e| state_err(&e))
    }
}

impl EnrichState for SqliteState {
    fn dedup(
        &self,
        fp: &Fingerprint,
        window: chrono::Duration,
        near: f64,
    ) -> Result<Verdict, StateError> {
        self.in_tx(|c| dedup_on(c, fp, window, near))
    }

    fn observe(&self, obs: &Observation) -> Result<Option<Observation>, StateError> {
        self.in_tx(|c| observe_on(c, obs))
    }

    fn mentions(
        &self,
        content_id: Uuid,
        tickers: &[String],
        at: DateTime<Utc>,
        baseline_hours: u32,
    ) -> Result<Vec<MentionStats>, StateError> {
        self.in_tx(|c| mentions_on(c, content_id, tickers, at, baseline_hours))
    }

    fn batch(&self, f: &mut dyn FnMut(&dyn EnrichState)) -> Result<(), StateError> {
        self.in_tx(|c| {
            let tx = TxState {
                conn: c,
                failed: RefCell::new(None),
            };
            f(&tx);
            // A failed statement leaves the transaction suspect: roll it all back (the
            // caller retries the batch; every operation is idempotent).
            match tx.failed.into_inner() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }
}

/// The state inside one open transaction: what a batch's enrichers see.
struct TxState<'c> {
    conn: &'c Connection,
    failed: RefCell<Option<StoreError>>,
}

impl TxState<'_> {
    fn run<R>(&self, r: Result<R, StoreError>) -> Result<R, StateError> {
        r.map_err(|e| {
            let out = state_err(&e);
            self.failed.borrow_mut().get_or_insert(e);
            out
        })
    }
}

impl EnrichState for TxState<'_> {
    fn dedup(
        &self,
        fp: &Fingerprint,
        window: chrono::Duration,
        near: f64,
    ) -> Result<Verdict, StateError> {
        self.run(dedup_on(self.conn, fp, window, near))
    }

    fn observe(&self, obs: &Observation) -> Result<Option<Observation>, StateError> {
        self.run(observe_on(self.conn, obs))
    }

    fn mentions(
        &self,
        content_id: Uuid,
        tickers: &[String],
        at: DateTime<Utc>,
        baseline_hours: u32,
    ) -> Result<Vec<MentionStats>, StateError> {
        self.run(mentions_on(
            self.conn,
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
    conn: &Connection,
    fp: &Fingerprint,
    window: chrono::Duration,
    near: f64,
) -> Result<Verdict, StoreError> {
    let id = fp.content_id.to_string();
    let known: Option<(String, String, f64)> = conn
        .prepare_cached(
            "SELECT first_id, kind, similarity FROM dedup_fingerprints
             WHERE seen_at = ?1 AND content_id = ?2",
        )?
        .query_row(params![ms(fp.at), id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    if let Some((first, kind, similarity)) = known {
        return Ok(Verdict {
            kind: DupKind::parse(&kind),
            first_id: first.parse().unwrap_or(fp.content_id),
            similarity,
        });
    }
    let (lo, hi) = (ms(fp.at - window), ms(fp.at + window));
    // Exact first; the earliest occurrence in the window wins.
    let exact: Option<String> = conn
        .prepare_cached(
            "SELECT first_id FROM dedup_fingerprints
                 WHERE exact_hash = ?1 AND seen_at BETWEEN ?2 AND ?3
                 ORDER BY seen_at, content_id LIMIT 1",
        )?
        .query_row(params![fp.exact as i64, lo, hi], |r| r.get(0))
        .optional()?;
    let mut verdict = exact.map(|first| Verdict {
        kind: DupKind::Exact,
        first_id: first.parse().unwrap_or(fp.content_id),
        similarity: 1.0,
    });
    if verdict.is_none() && near < 1.0 && !fp.bands.is_empty() {
        let mut stmt = conn.prepare_cached(
            "SELECT f.first_id, f.features, f.seen_at
             FROM dedup_bands b JOIN dedup_fingerprints f
               ON f.seen_at = b.seen_at AND f.content_id = b.content_id
             WHERE b.band = ?1 AND b.seen_at BETWEEN ?2 AND ?3
             ORDER BY b.seen_at LIMIT 64",
        )?;
        let mut candidates = Vec::new();
        for band in &fp.bands {
            let rows = stmt.query_map(params![band, lo, hi], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                candidates.push(row?);
            }
        }
        verdict = nearest(fp, near, candidates);
    }
    let v = verdict.unwrap_or(Verdict {
        kind: DupKind::Unique,
        first_id: fp.content_id,
        similarity: 0.0,
    });
    let blob = feature_blob(fp, v.kind);
    conn.prepare_cached("INSERT INTO dedup_fingerprints (content_id, exact_hash, features, seen_at, first_id, kind, similarity)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
            params![id, fp.exact as i64, blob, ms(fp.at), v.first_id.to_string(), v.kind.as_str(), v.similarity],
        )?;
    // Only first occurrences are indexed for near matching (see migration 0002).
    if v.kind == DupKind::Unique {
        let mut ins = conn.prepare_cached(
            "INSERT OR IGNORE INTO dedup_bands (band, seen_at, content_id) VALUES (?1, ?2, ?3)",
        )?;
        for band in &fp.bands {
            ins.execute(params![band, ms(fp.at), id])?;
        }
    }
    Ok(v)
}

fn observe_on(conn: &Connection, obs: &Observation) -> Result<Option<Observation>, StoreError> {
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
    type Prev = (Option<i64>, Option<i64>, Option<i64>);
    let known: Option<Prev> = conn
        .prepare_cached(
            "SELECT prev_at, prev_score, prev_comments FROM engagement_observations
                 WHERE content_id = ?1 AND observed_at = ?2",
        )?
        .query_row(params![id, at], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((t, s, c)) = known {
        return Ok(to_obs(t, s, c));
    }
    let prev: Option<Prev> = conn
        .prepare_cached(
            "SELECT observed_at, score, comments FROM engagement_observations
                 WHERE content_id = ?1 AND observed_at < ?2 ORDER BY observed_at DESC LIMIT 1",
        )?
        .query_row(params![id, at], |r| {
            Ok((Some(r.get(0)?), r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let (pt, ps, pc) = prev.unwrap_or((None, None, None));
    conn.prepare_cached(
        "INSERT INTO engagement_observations
               (content_id, observed_at, score, comments, prev_at, prev_score, prev_comments)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, at, obs.score, obs.comments, pt, ps, pc])?;
    Ok(to_obs(pt, ps, pc))
}

fn mentions_on(
    conn: &Connection,
    content_id: Uuid,
    tickers: &[String],
    at: DateTime<Utc>,
    baseline_hours: u32,
) -> Result<Vec<MentionStats>, StoreError> {
    let hour = hour_of(at);
    let id = content_id.to_string();
    let mut out = Vec::with_capacity(tickers.len());
    for t in tickers {
        let known: Option<(u32, f64, f64)> = conn.prepare_cached("SELECT this_hour, mean, std FROM ticker_mentions WHERE ticker = ?1 AND hour = ?2 AND content_id = ?3")?.query_row(
                    params![t, hour, id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
        if let Some((this_hour, mean, std)) = known {
            out.push(MentionStats {
                ticker: t.clone(),
                this_hour,
                mean,
                std,
            });
            continue;
        }
        let mut stmt = conn.prepare_cached(
            "SELECT hour, count FROM ticker_mention_hours WHERE ticker = ?1 AND hour BETWEEN ?2 AND ?3",
        )?;
        let counts: Vec<(i64, u32)> = stmt
            .query_map(params![t, hour - i64::from(baseline_hours), hour], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let (mean, std) = baseline(&counts, hour, baseline_hours);
        // This item is one of this hour's mentions.
        let this_hour = counts
            .iter()
            .find(|(h, _)| *h == hour)
            .map_or(0, |(_, c)| *c)
            + 1;
        conn.prepare_cached(
            "INSERT INTO ticker_mentions (ticker, content_id, hour, this_hour, mean, std)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![t, id, hour, this_hour, mean, std])?;
        conn.prepare_cached(
            "INSERT INTO ticker_mention_hours (ticker, hour, count) VALUES (?1, ?2, 1)
             ON CONFLICT (ticker, hour) DO UPDATE SET count = count + 1",
        )?
        .execute(params![t, hour])?;
        out.push(MentionStats {
            ticker: t.clone(),
            this_hour,
            mean,
            std,
        });
    }
    Ok(out)
}
