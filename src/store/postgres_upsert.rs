//! The content upsert of the PostgreSQL store, for a whole batch at once: read the
//! batch's existing rows in one query (`FOR UPDATE`, so two workers upserting the same
//! item are serialized), fold the batch per id with the embedded store's rule (the
//! latest harvest wins, ties by lake key; the first observation is kept), then write
//! inserts, replacements, first-seen moves and ticker rows with one `unnest` statement
//! each.

use std::collections::HashMap;

use super::postgres::{exec, query};
use super::{StoreError, Write};
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

pub(super) async fn upsert_contents(
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
        exec(tx,
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
    exec(tx,
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
