//! `contents` (+ `content_tickers`): the stored items. Written by the enrich stage's
//! upsert on the commit path (hand-tuned per backend: it is the benchmark's hot path);
//! read here.

use chrono::{DateTime, Utc};

use crate::model::{Content, to_micros};
use crate::store::StoreError;
use crate::store::sql::{FromRow, Params, Row, SqlDb, Where};

/// Filters of `GET /api/v1/contents`. Each is a column with an index (migration
/// 0008); none reads the document.
#[derive(Debug, Clone, Default)]
pub struct ContentQuery {
    /// The platform (reddit, x, …).
    pub source: Option<String>,
    /// The configured source's name.
    pub fetched_by: Option<String>,
    pub author: Option<String>,
    pub ticker: Option<String>,
    pub language: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub order: Order,
    pub limit: usize,
    /// Only items whose sentiment label is this (bullish, bearish, neutral, …).
    pub sentiment: Option<String>,
    /// Some(true): only filtered items; Some(false): only items the filters kept.
    pub filtered: Option<bool>,
    /// Only first occurrences (no exact or near duplicates).
    pub first_only: bool,
}

/// Which way a page walks, and from where.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Order {
    /// Newest `happened_at` first; `before` continues after (happened_at µs, id).
    #[default]
    Happened,
    HappenedBefore(i64, String),
    /// Commit order, oldest first: items with `seq` above this (0 = from the start).
    /// A poller keeps the last `seq` it saw and sees every later commit, whatever
    /// the item's own time.
    IngestedAfter(i64),
}

/// The filter columns of an item's row (migration 0008), taken from the item as it
/// is written: the upserts of both backends store these beside the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed<'a> {
    pub fetched_by: &'a str,
    pub sentiment: Option<&'a str>,
    pub filtered: i64,
    pub duplicate: i64,
    pub language: Option<&'a str>,
}

impl<'a> Indexed<'a> {
    pub fn of(c: &'a Content) -> Indexed<'a> {
        let e = &c.enrichments;
        let at = |k: &str, f: &str| e.get(k).and_then(|v| v.get(f));
        Indexed {
            fetched_by: &c.fetched_by,
            sentiment: at("sentiment", "label").and_then(|v| v.as_str()),
            filtered: at("filter", "filtered")
                .and_then(|v| v.as_bool())
                .map_or(0, i64::from),
            duplicate: at("dedup", "kind")
                .and_then(|v| v.as_str())
                .map_or(0, |k| i64::from(k != "unique")),
            language: at("language", "lang").and_then(|v| v.as_str()),
        }
    }
}

/// A `contents` row as one item: the document, with the first observation.
struct Doc(Content);

impl FromRow for Doc {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        crate::store::row_to_content(&r.text(0)?, r.i64(1)?).map(Doc)
    }
}

/// One item by id.
pub async fn get(db: &dyn SqlDb, id: &str) -> Result<Option<Content>, StoreError> {
    Ok(db
        .query_opt::<Doc>(
            "SELECT doc, observed_at FROM contents WHERE id = $1",
            crate::sql_params![id],
        )
        .await?
        .map(|d| d.0))
}

/// Items matching `q` (with each one's `seq`), in `q.order`.
pub async fn query(db: &dyn SqlDb, q: &ContentQuery) -> Result<Vec<(i64, Content)>, StoreError> {
    query_raw(db, q)
        .await?
        .into_iter()
        .map(|r| crate::store::row_to_content(&r.doc, r.observed_at).map(|c| (r.seq, c)))
        .collect()
}

/// One matching row, its document unparsed: the API reads it straight into its own
/// response type (no intermediate `Content`, no maps built for free-form members).
#[derive(Debug, Clone)]
pub struct RawDoc {
    pub seq: i64,
    /// The stored document (JSON of `Content`).
    pub doc: String,
    /// The first observation (µs), which the document's own `observed_at` may postdate.
    pub observed_at: i64,
}

impl FromRow for RawDoc {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        Ok(RawDoc {
            doc: r.text(0)?,
            observed_at: r.i64(1)?,
            seq: r.i64(2)?,
        })
    }
}

/// [`query`] without parsing the documents.
pub async fn query_raw(db: &dyn SqlDb, q: &ContentQuery) -> Result<Vec<RawDoc>, StoreError> {
    let (mut p, mut w) = (Params::default(), Where::default());
    // With a ticker, walk the (ticker, happened_at) index and join; else the contents
    // indexes (the planner picks the one of the most selective equality filter).
    let (from, time_col, id_col) = if let Some(t) = &q.ticker {
        w.and(format!("t.ticker = {}", p.bind(t.to_uppercase())));
        (
            "content_tickers t JOIN contents c ON c.id = t.content_id",
            "t.happened_at",
            "t.content_id",
        )
    } else {
        ("contents c", "c.happened_at", "c.id")
    };
    let eq = [
        ("c.source", &q.source),
        ("c.fetched_by", &q.fetched_by),
        ("c.author", &q.author),
        ("c.sentiment", &q.sentiment),
        ("c.language", &q.language),
    ];

    for (col, v) in eq {
        if let Some(v) = v {
            w.and(format!("{col} = {}", p.bind(v.as_str())));
        }
    }
    match q.filtered {
        Some(true) => w.and("c.filtered = 1".to_string()),
        Some(false) => w.and("c.filtered = 0".to_string()),
        None => {}
    }
    if q.first_only {
        w.and("c.duplicate = 0".to_string());
    }
    if let Some(s) = q.since {
        w.and(format!("{time_col} >= {}", p.bind(to_micros(s))));
    }
    if let Some(u) = q.until {
        w.and(format!("{time_col} < {}", p.bind(to_micros(u))));
    }
    let order = match &q.order {
        Order::Happened => format!("{time_col} DESC, {id_col} DESC"),
        Order::HappenedBefore(ts, id) => {
            let (a, b) = (p.bind(*ts), p.bind(id.as_str()));
            w.and(format!("({time_col}, {id_col}) < ({a}, {b})"));
            format!("{time_col} DESC, {id_col} DESC")
        }
        Order::IngestedAfter(seq) => {
            w.and(format!("c.seq > {}", p.bind(*seq)));
            "c.seq".to_string()
        }
    };
    let limit = p.bind(q.limit as u64);
    let sql = format!(
        "SELECT c.doc, c.observed_at, c.seq FROM {from}{} ORDER BY {order} LIMIT {limit}",
        w.sql()
    );
    db.query_as::<RawDoc>(&sql, p.0).await
}

/// The highest `seq` stored (0 when empty): it moves whenever an item is added.
pub async fn high_water(db: &dyn SqlDb) -> Result<i64, StoreError> {
    let rows = db
        .query("SELECT coalesce(max(seq), 0) FROM contents", vec![])
        .await?;
    rows.first().map_or(Ok(0), |r| r.i64(0))
}

/// Whether any item has this value in `col` (source, fetched_by, author): lets the
/// API say "unknown source" instead of answering an empty page silently.
pub async fn known(db: &dyn SqlDb, col: KnownColumn, value: &str) -> Result<bool, StoreError> {
    let (table, column) = match col {
        KnownColumn::Source => ("contents", "source"),
        KnownColumn::FetchedBy => ("contents", "fetched_by"),
        KnownColumn::Author => ("contents", "author"),
        KnownColumn::Ticker => ("content_tickers", "ticker"),
    };
    let rows = db
        .query(
            &format!("SELECT 1 FROM {table} WHERE {column} = $1 LIMIT 1"),
            crate::sql_params![value],
        )
        .await?;
    Ok(!rows.is_empty())
}

#[derive(Debug, Clone, Copy)]
pub enum KnownColumn {
    Source,
    FetchedBy,
    Author,
    Ticker,
}

/// Brings a stored item's dedup verdict (the `duplicate` column and the document's
/// `enrichments.dedup`) up to date with the enrich state, after an item that precedes
/// it arrived later and became its original (`enrich::state::decide`). Reads the state
/// at commit time, so revisions applied in any order end at the latest; a no-op when
/// the item is not stored yet (its own upsert, later, carries a verdict at least as
/// recent as the state it was enriched against).
///
/// The `dedup` object is rewritten in the document's text, exactly as the enricher
/// writes it (`{"first_id":…,"kind":…[,"similarity":…]}`, flat, keys in order,
/// similarity to three decimals), so that a replay of the item finds the same bytes
/// and writes nothing.
pub fn sync_dedup(id: &str, seen_at_ms: i64) -> crate::store::sql::Mutation {
    // The document's own `enrichments.dedup` is the last `"enrichments":{"dedup":{` in
    // its text: `extras` (a source's fields, which may hold anything) comes before
    // `enrichments`, and what follows it holds no such key unescaped.
    crate::store::sql::Mutation::per_dialect(
        r#"UPDATE contents SET
             duplicate = CASE f.kind WHEN 'unique' THEN 0 ELSE 1 END,
             doc = (WITH RECURSIVE p(at, rest) AS (
                      SELECT 0, contents.doc
                      UNION ALL
                      SELECT at + instr(rest, '"enrichments":{"dedup":{'),
                             substr(rest, instr(rest, '"enrichments":{"dedup":{') + 1)
                      FROM p WHERE instr(rest, '"enrichments":{"dedup":{') > 0),
                    s(o) AS (SELECT max(at) + 15 FROM p)
                    SELECT substr(contents.doc, 1, o - 1)
                        || '"dedup":{"first_id":"' || f.first_id || '","kind":"' || f.kind || '"'
                        || CASE WHEN f.kind = 'near'
                                THEN ',"similarity":'
                                     || CAST(round(f.similarity * 1000) / 1000.0 AS TEXT)
                                ELSE '' END
                        || '}'
                        || substr(contents.doc, o + instr(substr(contents.doc, o), '}'))
                    FROM s)
           FROM dedup_fingerprints f
           WHERE contents.id = $1 AND f.content_id = $1 AND f.seen_at = $2
             AND instr(contents.doc, '"enrichments":{"dedup":{') > 0"#,
        r#"UPDATE contents SET
             duplicate = CASE f.kind WHEN 'unique' THEN 0 ELSE 1 END,
             doc = regexp_replace(contents.doc,
                     '^(.*)"enrichments":\{"dedup":\{[^}]*\}',
                     '\1"enrichments":{"dedup":{"first_id":"' || f.first_id || '","kind":"'
                       || f.kind || '"'
                       || CASE WHEN f.kind = 'near'
                               THEN ',"similarity":'
                                    || ((round((f.similarity * 1000)::numeric) / 1000)::float8)::text
                               ELSE '' END
                       || '}',
                     's')
           FROM dedup_fingerprints f
           WHERE contents.id = $1 AND f.content_id = $1 AND f.seen_at = $2
             AND strpos(contents.doc, '"enrichments":{"dedup":{') > 0"#,
        crate::sql_params![id.to_string(), seen_at_ms],
    )
}
