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
    Candidate, DedupResult, DupKind, EnrichState, Fingerprint, Member, MentionStats, Observation,
    OwnText, StateError, Verdict, band_neighbourhood, band_span, baseline, decide, feature_blob,
    features_of, hour_of, near_texts, parse_revised, revised_text, text_candidates,
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
    ) -> Result<DedupResult, StateError> {
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
    ) -> Result<DedupResult, StateError> {
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

/// A band search reads at most four times this many distinct texts (a bound on the
/// work of one item when a template floods the bands).
const BAND_CANDIDATES: i64 = 32;

fn dedup_on(
    conn: &Connection,
    fp: &Fingerprint,
    window: chrono::Duration,
    near: f64,
) -> Result<DedupResult, StoreError> {
    let id = fp.content_id.to_string();
    let at = ms(fp.at);
    let (cands, banded, found) = match own_text_on(conn, fp, window)? {
        OwnText::Known(r) => return Ok(r),
        OwnText::New {
            earliest,
            later,
            banded,
            links,
        } => candidates_on(conn, fp, window, near, (earliest, later, banded, links))?,
    };
    let (v, first_at, revisions) = decide(fp.content_id, at, &cands);
    conn.prepare_cached(
        "INSERT INTO dedup_fingerprints
           (content_id, exact_hash, features, seen_at, first_id, kind, similarity, first_at, revised)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        fp.exact as i64,
        feature_blob(fp, banded),
        at,
        v.first_id.to_string(),
        v.kind.as_str(),
        v.similarity,
        first_at,
        revised_text(&revisions)
    ])?;
    let mut ins = conn.prepare_cached(
        "INSERT OR IGNORE INTO dedup_bands (band, seen_at, content_id, exact_hash)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    if banded {
        for band in &fp.bands {
            ins.execute(params![band, at, id, fp.exact as i64])?;
        }
    }
    let mut link = conn.prepare_cached(
        "INSERT OR IGNORE INTO dedup_links (text, other, similarity) VALUES (?1, ?2, ?3)",
    )?;
    for (h, j) in &found {
        link.execute(params![fp.exact as i64, *h as i64, j])?;
        link.execute(params![*h as i64, fp.exact as i64, j])?;
    }
    let mut upd = conn.prepare_cached(
        "UPDATE dedup_fingerprints SET first_id = ?1, kind = ?2, similarity = ?3, first_at = ?4
         WHERE seen_at = ?5 AND content_id = ?6",
    )?;
    for r in &revisions {
        upd.execute(params![
            r.verdict.first_id.to_string(),
            r.verdict.kind.as_str(),
            r.verdict.similarity,
            r.first_at,
            r.at,
            r.id.to_string()
        ])?;
    }
    Ok(DedupResult {
        verdict: v,
        revised: revisions.iter().map(|r| (r.id, r.at)).collect(),
    })
}

/// In one statement: the item's verdict if it was decided before (k = 0); else its
/// text's earliest item in the window (1), the items at or after it whose original is
/// too (2), whether one of its text near it keeps bands (3), and its text's links (4).
fn own_text_on(
    conn: &Connection,
    fp: &Fingerprint,
    window: chrono::Duration,
) -> Result<OwnText, StoreError> {
    let (at, w) = (ms(fp.at), window.num_milliseconds());
    let (nlo, nhi) = band_neighbourhood(at, w);
    let mut stmt = conn.prepare_cached(
        "SELECT 0, seen_at, content_id, first_id, coalesce(first_at, seen_at), kind,
                similarity, revised
         FROM dedup_fingerprints WHERE seen_at = ?4 AND content_id = ?5
         UNION ALL
         SELECT * FROM (SELECT 1, seen_at, content_id, first_id, coalesce(first_at, seen_at),
                               kind, similarity, ''
                        FROM dedup_fingerprints
                        WHERE exact_hash = ?1 AND seen_at BETWEEN ?2 AND ?3
                        ORDER BY seen_at, content_id LIMIT 1)
         UNION ALL
         SELECT * FROM (SELECT 2, seen_at, content_id, first_id, coalesce(first_at, seen_at),
                               kind, similarity, ''
                        FROM dedup_fingerprints
                        WHERE exact_hash = ?1 AND seen_at BETWEEN ?4 AND ?3
                          AND (coalesce(first_at, seen_at), first_id) > (?4, ?5)
                        ORDER BY seen_at, content_id LIMIT 64)
         UNION ALL
         SELECT * FROM (SELECT 3, 0, '', '', 0, '', 0.0, ''
                        FROM dedup_fingerprints
                        WHERE exact_hash = ?1 AND seen_at BETWEEN ?6 AND ?7
                          AND length(features) > 0
                        LIMIT 1)
         UNION ALL
         SELECT 4, other, '', '', 0, '', similarity, '' FROM dedup_links WHERE text = ?1",
    )?;
    let rows = stmt.query_map(
        params![
            fp.exact as i64,
            at - w,
            at + w,
            at,
            fp.content_id.to_string(),
            nlo,
            nhi
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, f64>(6)?,
                r.get::<_, String>(7)?,
            ))
        },
    )?;
    let (mut earliest, mut later, mut banded, mut links) = (None, Vec::new(), true, Vec::new());
    for row in rows {
        let (k, seen, cid, first, first_at, kind, similarity, revised) = row?;
        if k == 3 {
            banded = false;
            continue;
        }
        if k == 4 {
            links.push((seen as u64, similarity));
            continue;
        }
        if k == 0 {
            return Ok(OwnText::Known(DedupResult {
                verdict: Verdict {
                    kind: DupKind::parse(&kind),
                    first_id: first.parse().unwrap_or(fp.content_id),
                    similarity,
                },
                revised: parse_revised(&revised),
            }));
        }
        let Some(m) = Member::stored(seen, &cid, &first, first_at, &kind, similarity) else {
            continue;
        };
        if k == 1 {
            earliest = Some(m);
        } else {
            later.push(m);
        }
    }
    Ok(OwnText::New {
        earliest,
        later,
        banded,
        links,
    })
}

/// One text's items within the window of an item at `(at, id)`: the earliest, and those
/// at or after it whose original is after it too (the ones it may become the original of).
fn text_on(
    conn: &Connection,
    h: u64,
    (at, id): (i64, Uuid),
    (lo, hi): (i64, i64),
) -> Result<(Option<Member>, Vec<Member>), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT * FROM (SELECT 0, seen_at, content_id, first_id, coalesce(first_at, seen_at),
                               kind, similarity
                        FROM dedup_fingerprints
                        WHERE exact_hash = ?1 AND seen_at BETWEEN ?2 AND ?3
                        ORDER BY seen_at, content_id LIMIT 1)
         UNION ALL
         SELECT * FROM (SELECT 1, seen_at, content_id, first_id, coalesce(first_at, seen_at),
                               kind, similarity
                        FROM dedup_fingerprints
                        WHERE exact_hash = ?1 AND seen_at BETWEEN ?4 AND ?3
                          AND (coalesce(first_at, seen_at), first_id) > (?4, ?5)
                        ORDER BY seen_at, content_id LIMIT 64)",
    )?;
    let rows = stmt.query_map(params![h as i64, lo, hi, at, id.to_string()], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, f64>(6)?,
        ))
    })?;
    let (mut earliest, mut later) = (None, Vec::new());
    for row in rows {
        let (k, seen, id, first, first_at, kind, similarity) = row?;
        let Some(m) = Member::stored(seen, &id, &first, first_at, &kind, similarity) else {
            continue;
        };
        if k == 0 {
            earliest = Some(m);
        } else {
            later.push(m);
        }
    }
    Ok((earliest, later))
}

/// What [`candidates_on`] found: the candidates, whether `fp` is banded, and the near
/// texts its band search found (to link).
type Found = (Vec<Candidate>, bool, Vec<(u64, f64)>);

/// The parts of [`OwnText::New`]: earliest, later, banded, links.
type OwnNew = (Option<Member>, Vec<Member>, bool, Vec<(u64, f64)>);

/// Stored items that repeat `fp` in the window, earlier and later: its own text's, and
/// those of near texts — found through the bands when `fp` is banded (no banded item of
/// its text in its [`band_neighbourhood`]), else through its text's links.
fn candidates_on(
    conn: &Connection,
    fp: &Fingerprint,
    window: chrono::Duration,
    near: f64,
    (earliest, later, banded, links): OwnNew,
) -> Result<Found, StoreError> {
    let (at, w) = (ms(fp.at), window.num_milliseconds());
    let span = (at - w, at + w);
    let mut cands: Vec<Candidate> = Vec::new();
    text_candidates(fp, true, 1.0, earliest.as_ref(), &later, &mut cands);
    if near >= 1.0 || fp.bands.is_empty() {
        return Ok((cands, banded, Vec::new()));
    }
    let texts = if banded {
        band_search_on(conn, fp, near, band_span(at, w))?
    } else {
        links
    };
    for (h, j) in &texts {
        let (e, l) = text_on(conn, *h, (at, fp.content_id), span)?;
        text_candidates(fp, false, *j, e.as_ref(), &l, &mut cands);
    }
    let found = if banded { texts } else { Vec::new() };
    Ok((cands, banded, found))
}

/// Texts with a banded item in `(lo, hi)` sharing a band with `fp`, at Jaccard ≥ `near`.
fn band_search_on(
    conn: &Connection,
    fp: &Fingerprint,
    near: f64,
    (lo, hi): (i64, i64),
) -> Result<Vec<(u64, f64)>, StoreError> {
    // All bands in one statement (a fingerprint has the same number every time).
    let marks = vec!["?"; fp.bands.len()].join(", ");
    let sql = format!(
        "SELECT DISTINCT exact_hash FROM dedup_bands
         WHERE band IN ({marks}) AND seen_at BETWEEN ? AND ? AND exact_hash IS NOT NULL
         LIMIT {}",
        BAND_CANDIDATES * 4
    );
    let mut texts_of = conn.prepare_cached(&sql)?;
    let mut args: Vec<i64> = fp.bands.clone();
    args.extend([lo, hi]);
    let mut hashes: Vec<i64> = Vec::new();
    for h in texts_of.query_map(rusqlite::params_from_iter(&args), |r| r.get::<_, i64>(0))? {
        let h = h?;
        if h != fp.exact as i64 && !hashes.contains(&h) {
            hashes.push(h);
        }
    }
    let mut stored = conn.prepare_cached(
        "SELECT features FROM dedup_fingerprints
         WHERE exact_hash = ?1 AND length(features) > 0 LIMIT 1",
    )?;
    let mut rows = Vec::with_capacity(hashes.len());
    for h in hashes {
        if let Some(blob) = stored
            .query_row(params![h], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
        {
            rows.push((h as u64, features_of(&blob)));
        }
    }
    Ok(near_texts(fp, near, rows))
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
