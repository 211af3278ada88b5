//! The content upsert of the PostgreSQL store, for a whole batch at once: read the
//! batch's existing rows in one query (`FOR UPDATE`, so two workers upserting the same
//! item are serialized), fold the batch per id with the embedded store's rule (the
//! latest harvest wins, ties by lake key; the first observation is kept), then write
//! inserts, replacements, first-seen moves and ticker rows with one `unnest` statement
//! each.

use std::collections::HashMap;

use super::postgres::{exec, query};
use super::{StoreError, StoredContent};
use crate::model::{Content, to_micros};

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
    /// A new row: the winning harvest, and the batch's earliest observation.
    Insert(&'a super::StoredContent, i64),
    /// The harvest that wins, the row it replaces, and the earliest observation of all.
    Replace(&'a super::StoredContent, Existing, i64),
    /// Keep the document; only the first-seen time moves earlier.
    Observed(i64),
}

/// One id of a batch, folded in order.
struct Fold<'a> {
    /// The stored row, if there is one.
    existing: Option<Existing>,
    /// The batch's winning harvest so far.
    best: &'a super::StoredContent,
    /// The batch's earliest observation.
    first_seen: i64,
}

/// Whether a harvest observed at `o` from lake key `key` with document `doc` replaces
/// the one at (`bo`, `bkey`, `bdoc`): the embedded store's rule
/// (`sqlite.rs::upsert_content`) — the later harvest wins, ties by lake key, and an
/// equal harvest with another document replaces it.
fn beats(o: i64, key: &str, doc: &str, bo: i64, bkey: &str, bdoc: &str) -> bool {
    (o, key) > (bo, bkey) || (o == bo && key == bkey && doc != bdoc)
}

fn ids_of(writes: &[&StoredContent]) -> Vec<String> {
    writes.iter().map(|sc| sc.content.id.to_string()).collect()
}

pub(super) async fn upsert_contents(
    tx: &deadpool_postgres::Transaction<'_>,
    writes: &[&StoredContent],
    now: i64,
) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut ids = ids_of(writes);
    ids.sort();
    ids.dedup();
    let rows = query(
        tx,
        "SELECT id, observed_at, harvested_at, lake_key, doc, happened_at FROM contents \
             WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &[&ids],
    )
    .await?;
    let mut existing: HashMap<String, Existing> = HashMap::with_capacity(rows.len());
    for r in rows {
        let doc: String = r.get(4);
        let old: Content = super::parse_doc(&doc)?;
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
    // latest harvest wins (ties by lake key), the earliest observation is kept — of
    // the stored row and of every harvest in the batch, so that how items fall into
    // batches never changes the result.
    let mut folds: HashMap<String, Fold> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for &sc in writes {
        let id = sc.content.id.to_string();
        let observed = to_micros(sc.content.observed_at);
        match folds.get_mut(&id) {
            None => {
                let existing = existing.remove(&id);
                order.push(id.clone());
                folds.insert(
                    id,
                    Fold {
                        existing,
                        best: sc,
                        first_seen: observed,
                    },
                );
            }
            Some(f) => {
                f.first_seen = f.first_seen.min(observed);
                let b = &f.best.content;
                let (c, doc) = (&sc.content, sc.doc.as_str());
                let best_doc = f.best.doc.as_str();
                if beats(
                    observed,
                    &c.lake_key,
                    doc,
                    to_micros(b.observed_at),
                    &b.lake_key,
                    best_doc,
                ) {
                    f.best = sc;
                }
            }
        }
    }
    let mut plans: HashMap<String, RowPlan> = HashMap::with_capacity(folds.len());
    for (id, f) in folds {
        let plan = match f.existing {
            None => RowPlan::Insert(f.best, f.first_seen),
            Some(e) => decide(f.best, e, f.first_seen),
        };
        plans.insert(id, plan);
    }

    let mut ins: Vec<(&super::StoredContent, i64)> = Vec::new();
    let (mut tk_t, mut tk_h, mut tk_id): (Vec<String>, Vec<i64>, Vec<String>) = Default::default();
    let (mut del_t, mut del_h, mut del_id): (Vec<String>, Vec<i64>, Vec<String>) =
        Default::default();
    // Replacements and first-seen moves: one statement each, whatever the batch size.
    let mut rep = Replaced::default();
    let (mut obs_id, mut obs_at): (Vec<&str>, Vec<i64>) = Default::default();
    for id in &order {
        match plans.get(id).expect("planned") {
            RowPlan::Insert(sc, first_seen) => {
                ins.push((sc, *first_seen));
                for t in &sc.content.tickers {
                    tk_t.push(t.clone());
                    tk_h.push(to_micros(sc.content.happened_at));
                    tk_id.push(id.clone());
                }
            }
            RowPlan::Replace(sc, e, first_seen) => {
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
                rep.first_seen.push(*first_seen);
                rep.observed.push(observed);
                rep.key.push(c.lake_key.as_str());
                rep.doc.push(sc.doc.as_str());
                rep.ix.push(c);
            }
            RowPlan::Observed(first) => {
                obs_id.push(id);
                obs_at.push(*first);
            }
        }
    }
    if !rep.id.is_empty() {
        exec(tx,
            "UPDATE contents c SET author = u.a, content_type = u.ct, happened_at = u.h, disclosed_at = u.d, \
             observed_at = u.f, harvested_at = u.o, updated_at = $10, lake_key = u.k, doc = u.doc, \
             fetched_by = u.fb, sentiment = u.se, filtered = u.fi, duplicate = u.du, language = u.la \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], \
                         $7::bigint[], $8::text[], $9::text[], $11::text[], $12::text[], $13::bigint[], \
                         $14::bigint[], $15::text[]) AS u(id, a, ct, h, d, f, o, k, doc, fb, se, fi, du, la) \
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
                &rep.ix.fetched_by,
                &rep.ix.sentiment,
                &rep.ix.filtered,
                &rep.ix.duplicate,
                &rep.ix.language,
            ],
        )
        .await?;
    }
    if !obs_id.is_empty() {
        exec(
            tx,
            "UPDATE contents c SET observed_at = LEAST(c.observed_at, u.o) \
             FROM unnest($1::text[], $2::bigint[]) AS u(id, o) WHERE c.id = u.id",
            &[&obs_id, &obs_at],
        )
        .await?;
    }
    if !del_t.is_empty() {
        exec(tx,
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
        exec(
            tx,
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
    ix: IndexedCols<'a>,
}

/// The filter columns (migration 0008) of a batch's rows, one vector each.
#[derive(Default)]
struct IndexedCols<'a> {
    fetched_by: Vec<&'a str>,
    sentiment: Vec<Option<&'a str>>,
    filtered: Vec<i64>,
    duplicate: Vec<i64>,
    language: Vec<Option<&'a str>>,
}

impl<'a> IndexedCols<'a> {
    fn push(&mut self, c: &'a Content) {
        let ix = super::repos::contents::Indexed::of(c);
        self.fetched_by.push(ix.fetched_by);
        self.sentiment.push(ix.sentiment);
        self.filtered.push(ix.filtered);
        self.duplicate.push(ix.duplicate);
        self.language.push(ix.language);
    }
}

/// The batch's winner `sc` against the stored row `e`; `first_seen` is the batch's
/// earliest observation.
fn decide<'a>(sc: &'a super::StoredContent, e: Existing, first_seen: i64) -> RowPlan<'a> {
    let c = &sc.content;
    let observed = to_micros(c.observed_at);
    let first_seen = first_seen.min(e.observed_at);
    if beats(
        observed,
        &c.lake_key,
        &sc.doc,
        e.harvested_at,
        &e.lake_key,
        &e.doc,
    ) {
        RowPlan::Replace(sc, e, first_seen)
    } else {
        RowPlan::Observed(first_seen)
    }
}

/// New rows: each harvest with the batch's earliest observation of its item.
async fn insert_new(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[(&super::StoredContent, i64)],
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
    let mut harvested = Vec::with_capacity(n);
    let (mut happened, mut disclosed, mut observed, mut key, mut doc) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut ix = IndexedCols::default();
    for (sc, first_seen) in rows {
        let c = &sc.content;
        ix.push(c);
        id.push(c.id.to_string());
        source.push(c.source.as_str());
        sid.push(c.source_id.as_str());
        author.push(c.author.as_ref().map(|a| a.handle.as_str()));
        ctype.push(c.content_type.as_str());
        happened.push(to_micros(c.happened_at));
        disclosed.push(c.disclosed_at.map(to_micros));
        observed.push(*first_seen);
        harvested.push(to_micros(c.observed_at));
        key.push(c.lake_key.as_str());
        doc.push(sc.doc.as_str());
    }
    // `seq` must follow commit order or a poller reading `seq > N` could pass over a
    // number a slower transaction commits later: writers that insert take this lock
    // (held to their commit) before drawing numbers, so numbers commit in order.
    exec(tx, "SELECT pg_advisory_xact_lock(8317001)", &[]).await?;
    // ON CONFLICT DO NOTHING: a row another worker inserted since the batch read is the
    // same item from the same input (same key, same partition), so either copy is right.
    exec(tx,
        "INSERT INTO contents (id, source, source_id, author, content_type, happened_at, disclosed_at, \
         observed_at, harvested_at, stored_at, updated_at, lake_key, doc, \
         fetched_by, sentiment, filtered, duplicate, language) \
         SELECT i, s, sid, a, ct, h, d, o, hv, $11, $11, k, doc, fb, se, fi, du, la FROM \
         unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], \
                $8::bigint[], $9::text[], $10::text[], $12::bigint[], $13::text[], $14::text[], \
                $15::bigint[], $16::bigint[], $17::text[]) \
                AS x(i, s, sid, a, ct, h, d, o, k, doc, hv, fb, se, fi, du, la) \
         ON CONFLICT (id) DO NOTHING",
        &[
            &id, &source, &sid, &author, &ctype, &happened, &disclosed, &observed, &key, &doc, &now,
            &harvested, &ix.fetched_by, &ix.sentiment, &ix.filtered, &ix.duplicate, &ix.language,
        ],
    )
    .await?;
    for o in &observed {
        metrics::histogram!("sigflow_ingest_to_stored_seconds")
            .record((now - o).max(0) as f64 / 1e6);
    }
    Ok(())
}
