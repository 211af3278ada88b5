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
    Candidate, DedupResult, DupKind, EnrichState, Fingerprint, Member, MentionStats, Observation,
    OwnText, StateError, Verdict, band_neighbourhood, band_span, baseline, decide, feature_blob,
    features_of, hour_of, near_texts, parse_revised, revised_text, text_candidates,
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
    ) -> Result<DedupResult, StateError> {
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
    ) -> Result<DedupResult, StateError> {
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
) -> Result<DedupResult, StoreError> {
    let (at, w) = (ms(fp.at), window.num_milliseconds());
    let (lo, hi) = (at - w, at + w);
    let id = fp.content_id.to_string();
    let (earliest, later, banded, links) = match own_text_on(tx, fp, w)? {
        OwnText::Known(r) => return Ok(r),
        OwnText::New {
            earliest,
            later,
            banded,
            links,
        } => (earliest, later, banded, links),
    };
    let mut cands = Vec::new();
    text_candidates(fp, true, 1.0, earliest.as_ref(), &later, &mut cands);
    // Near texts through the bands when this item is banded (and linked), else through
    // its text's links (see `band_neighbourhood`).
    let mut found = Vec::new();
    if near < 1.0 && !fp.bands.is_empty() {
        let texts = if banded {
            found = band_search_on(tx, fp, near, band_span(at, w))?;
            found.clone()
        } else {
            links
        };
        near_on(tx, fp, &texts, (lo, hi), &mut cands)?;
    }
    for (h, j) in &found {
        tx.exec(
            "INSERT INTO dedup_links (text, other, similarity) VALUES ($1, $2, $3), ($2, $1, $3)
             ON CONFLICT DO NOTHING",
            &[&(fp.exact as i64), &(*h as i64), j],
        )?;
    }
    let (v, first_at, revisions) = decide(fp.content_id, at, &cands);
    let (exact, first) = (fp.exact as i64, v.first_id.to_string());
    let (kind, blob, revised) = (
        v.kind.as_str(),
        feature_blob(fp, banded),
        revised_text(&revisions),
    );
    let bands: &[i64] = if banded { &fp.bands } else { &[] };
    tx.exec("WITH f AS (
           INSERT INTO dedup_fingerprints
             (content_id, exact_hash, features, seen_at, first_id, kind, similarity, first_at, revised)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $10) RETURNING 1)
         INSERT INTO dedup_bands (band, seen_at, content_id, exact_hash)
         SELECT b, $4, $1, $2 FROM unnest($8::bigint[]) AS b WHERE EXISTS (SELECT 1 FROM f)
         ON CONFLICT DO NOTHING",
        &[&id, &exact, &blob, &at, &first, &kind, &v.similarity, &bands, &first_at, &revised],
    )?;
    for r in &revisions {
        tx.exec(
            "UPDATE dedup_fingerprints SET first_id = $1, kind = $2, similarity = $3, first_at = $4
             WHERE seen_at = $5 AND content_id = $6",
            &[
                &r.verdict.first_id.to_string(),
                &r.verdict.kind.as_str(),
                &r.verdict.similarity,
                &r.first_at,
                &r.at,
                &r.id.to_string(),
            ],
        )?;
    }
    Ok(DedupResult {
        verdict: v,
        revised: revisions.iter().map(|r| (r.id, r.at)).collect(),
    })
}

fn own_text_on(tx: &mut Db<'_>, fp: &Fingerprint, w: i64) -> Result<OwnText, StoreError> {
    let id = fp.content_id.to_string();
    let at = ms(fp.at);
    let parse = |s: &str| s.parse::<Uuid>().unwrap_or(fp.content_id);
    let (lo, hi) = (at - w, at + w);
    let (nlo, nhi) = band_neighbourhood(at, w);
    // One round trip: the verdict recorded on a first run (k = 0), else the earliest
    // item of the same text in the window (k = 1), its items at or after this one
    // whose original is too (k = 2), and whether one near it keeps bands (k = 3).
    let rows = tx.query(
        "SELECT 0 AS k, seen_at, content_id, first_id, kind, similarity, revised,
                coalesce(first_at, seen_at) FROM dedup_fingerprints
           WHERE seen_at = $1 AND content_id = $2
         UNION ALL
         (SELECT 1, seen_at, content_id, first_id, kind, similarity, '', coalesce(first_at, seen_at)
           FROM dedup_fingerprints
           WHERE exact_hash = $3 AND seen_at BETWEEN $4 AND $5
           ORDER BY seen_at, content_id LIMIT 1)
         UNION ALL
         (SELECT 2, seen_at, content_id, first_id, kind, similarity, '', coalesce(first_at, seen_at)
           FROM dedup_fingerprints
           WHERE exact_hash = $3 AND seen_at BETWEEN $1 AND $5
             AND (coalesce(first_at, seen_at), first_id) > ($1, $2)
           ORDER BY seen_at, content_id LIMIT 64)
         UNION ALL
         (SELECT 3, seen_at, content_id, first_id, kind, similarity, '', 0
           FROM dedup_fingerprints
           WHERE exact_hash = $3 AND seen_at BETWEEN $6 AND $7 AND octet_length(features) > 0
           LIMIT 1)
         UNION ALL
         SELECT 4, other, '', '', '', similarity, '', 0 FROM dedup_links WHERE text = $3",
        &[&at, &id, &(fp.exact as i64), &lo, &hi, &nlo, &nhi],
    )?;
    if let Some(r) = rows.iter().find(|r| r.get::<_, i32>(0) == 0) {
        let revised: String = r.get(6);
        return Ok(OwnText::Known(DedupResult {
            verdict: Verdict {
                kind: DupKind::parse(r.get(4)),
                first_id: parse(r.get(3)),
                similarity: r.get(5),
            },
            revised: parse_revised(&revised),
        }));
    }
    let banded = !rows.iter().any(|r| r.get::<_, i32>(0) == 3);
    let member = |r: &postgres::Row| {
        Member::stored(r.get(1), r.get(2), r.get(3), r.get(7), r.get(4), r.get(5))
    };
    let earliest = rows
        .iter()
        .find(|r| r.get::<_, i32>(0) == 1)
        .and_then(member);
    let later: Vec<Member> = rows
        .iter()
        .filter(|r| r.get::<_, i32>(0) == 2)
        .filter_map(member)
        .collect();
    let links = rows
        .iter()
        .filter(|r| r.get::<_, i32>(0) == 4)
        .map(|r| (r.get::<_, i64>(1) as u64, r.get::<_, f64>(5)))
        .collect();
    Ok(OwnText::New {
        earliest,
        later,
        banded,
        links,
    })
}

/// Texts with a banded item in the span sharing a band with `fp`, at Jaccard ≥ `near`
/// (at most 32 per band, as on SQLite), each read with one stored copy of its features.
fn band_search_on(
    tx: &mut Db<'_>,
    fp: &Fingerprint,
    near: f64,
    (blo, bhi): (i64, i64),
) -> Result<Vec<(u64, f64)>, StoreError> {
    let rows = tx.query(
        "SELECT t.exact_hash,
                (SELECT f.features FROM dedup_fingerprints f
                  WHERE f.exact_hash = t.exact_hash AND octet_length(f.features) > 0 LIMIT 1)
         FROM (SELECT DISTINCT exact_hash FROM (
                 SELECT b.exact_hash,
                        dense_rank() OVER (PARTITION BY b.band ORDER BY b.exact_hash) AS n
                 FROM dedup_bands b
                 WHERE b.band = ANY($1) AND b.seen_at BETWEEN $2 AND $3
                   AND b.exact_hash IS NOT NULL AND b.exact_hash <> $4
               ) d WHERE d.n <= 32) t",
        &[&fp.bands, &blo, &bhi, &(fp.exact as i64)],
    )?;
    Ok(near_texts(
        fp,
        near,
        rows.iter().filter_map(|r| {
            let blob: Option<Vec<u8>> = r.get(1);
            Some((r.get::<_, i64>(0) as u64, features_of(&blob?)))
        }),
    ))
}

/// The items of the near `texts` in the window: each one's earliest and its items at
/// or after `fp` whose original is too.
fn near_on(
    tx: &mut Db<'_>,
    fp: &Fingerprint,
    texts: &[(u64, f64)],
    (lo, hi): (i64, i64),
    cands: &mut Vec<Candidate>,
) -> Result<(), StoreError> {
    if texts.is_empty() {
        return Ok(());
    }
    // Each text's earliest item in the window and its items at or after this one whose
    // original is too, in one query.
    let at = ms(fp.at);
    let hashes: Vec<i64> = texts.iter().map(|(h, _)| *h as i64).collect();
    let rows = tx.query(
        "(SELECT DISTINCT ON (exact_hash) 1 AS k, exact_hash, seen_at, content_id, first_id,
                 coalesce(first_at, seen_at), kind, similarity
           FROM dedup_fingerprints
           WHERE exact_hash = ANY($1) AND seen_at BETWEEN $2 AND $3
           ORDER BY exact_hash, seen_at, content_id)
         UNION ALL
         (SELECT 2, exact_hash, seen_at, content_id, first_id, coalesce(first_at, seen_at),
                 kind, similarity
           FROM dedup_fingerprints
           WHERE exact_hash = ANY($1) AND seen_at BETWEEN $4 AND $3
             AND (coalesce(first_at, seen_at), first_id) > ($4, $5)
           ORDER BY seen_at, content_id LIMIT 256)",
        &[&hashes, &lo, &hi, &at, &fp.content_id.to_string()],
    )?;
    let member = |r: &postgres::Row| {
        Member::stored(r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7))
    };
    for &(h, j) in texts {
        let of = |k: i32| {
            rows.iter()
                .filter(move |r| r.get::<_, i32>(0) == k && r.get::<_, i64>(1) as u64 == h)
                .filter_map(member)
        };
        let earliest = of(1).next();
        let later: Vec<Member> = of(2).collect();
        text_candidates(fp, false, j, earliest.as_ref(), &later, cands);
    }
    Ok(())
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
