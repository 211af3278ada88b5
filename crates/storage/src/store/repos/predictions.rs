//! `predictions`: the sealed ledger (migration 0010). Rows are only ever inserted —
//! the database refuses UPDATE and DELETE — by [`seal`], whose one statement numbers
//! the row in its chain, links it to the chain's previous row and computes its hash
//! (`analyze::ledger::row_hash`, as SQL: `sigflow_sha256` on SQLite, `sha256` on
//! PostgreSQL), and names the prediction it supersedes. Sealing an id that exists
//! changes nothing, so a replay of the same version is a no-op.

use std::sync::LazyLock;

use crate::model::from_micros;
use crate::store::StoreError;
use crate::store::sql::{FromRow, Mutation, Params, Row, SqlDb, Where};
use sigflow_logic::analyze::ledger::{Prediction, StoredRow};

/// The row's hash input: `analyze::ledger::row_hash`'s format, in SQL.
const HASHED: &str = "CAST($2 AS TEXT) || '|' || CAST(h.seq AS TEXT) || '|' || h.prev || '|' || COALESCE(s.sup, '') || '|' || CAST($14 AS TEXT)";

/// The chain's last row is found by its (chain, seq) index, newest first: one seek,
/// however long the chain (an aggregate `MAX(seq)` with a `WHERE` scans the chain on
/// SQLite — measured: the pipeline at 100k items fell to a third).
fn insert(hash: &str) -> String {
    format!(
        "INSERT INTO predictions (id, chain, seq, content_id, analyzer, version, asset, \
         direction, confidence, shadow, source, rules, sealed_at, knowable_at, supersedes, body, \
         prev_hash, row_hash) \
         SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), h.seq, CAST($3 AS TEXT), CAST($4 AS TEXT), \
         CAST($5 AS TEXT), CAST($6 AS TEXT), CAST($7 AS TEXT), CAST($8 AS DOUBLE PRECISION), \
         CAST($9 AS BIGINT), CAST($10 AS TEXT), CAST($11 AS TEXT), CAST($12 AS BIGINT), \
         CAST($13 AS BIGINT), s.sup, CAST($14 AS TEXT), h.prev, {hash} \
         FROM (SELECT COALESCE((SELECT seq FROM predictions WHERE chain = CAST($2 AS TEXT) \
                                ORDER BY seq DESC LIMIT 1), 0) + 1 AS seq, \
                      COALESCE((SELECT row_hash FROM predictions WHERE chain = CAST($2 AS TEXT) \
                                ORDER BY seq DESC LIMIT 1), '') AS prev) AS h, \
              (SELECT (SELECT id FROM predictions WHERE content_id = CAST($3 AS TEXT) \
                       AND asset = CAST($6 AS TEXT) AND shadow = CAST($9 AS BIGINT) \
                       ORDER BY sealed_at DESC, seq DESC LIMIT 1) AS sup) AS s \
         WHERE NOT EXISTS (SELECT 1 FROM predictions WHERE id = CAST($1 AS TEXT))"
    )
}

static INSERT_SQLITE: LazyLock<String> =
    LazyLock::new(|| insert(&format!("sigflow_sha256({HASHED})")));
// sha256(bytea) → hex, over the text's UTF-8 bytes: what `sha256_hex` computes.
static INSERT_POSTGRES: LazyLock<String> = LazyLock::new(|| {
    insert(&format!(
        "encode(sha256(convert_to({HASHED}, 'UTF8')), 'hex')"
    ))
});

/// A lock per chain for the inserting transaction (PostgreSQL: two workers sealing on
/// one chain wait for each other instead of both taking the same `seq`; SQLite has one
/// writer, so nothing to do).
fn chain_lock(chain: &str) -> Mutation {
    let key = chain.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    }) as i64;
    Mutation::postgres_only(
        "SELECT pg_advisory_xact_lock(CAST($1 AS BIGINT))",
        crate::sql_params![key],
    )
}

/// The statements that seal `p` at the end of `chain` (for a commit's `Write::Sql`).
pub fn seal(p: &Prediction, chain: &str) -> Vec<Mutation> {
    let rules = if p.rules.is_empty() {
        String::new()
    } else {
        format!("|{}|", p.rules.join("|"))
    };
    let params = crate::sql_params![
        p.id.to_string(),
        chain,
        p.content_id.to_string(),
        p.analyzer.as_str(),
        p.version.as_str(),
        p.asset.as_str(),
        p.direction.as_str(),
        p.confidence,
        p.shadow as i64,
        p.source.as_str(),
        rules,
        p.sealed_at.timestamp_micros(),
        p.knowable_at().timestamp_micros(),
        p.body(),
    ];
    vec![
        chain_lock(chain),
        Mutation {
            sql: INSERT_SQLITE.as_str().into(),
            postgres: Some(INSERT_POSTGRES.as_str().into()),
            params,
        },
    ]
}

/// A sealed row as the API shows it.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub prediction: Prediction,
    pub chain: String,
    pub seq: i64,
    pub supersedes: Option<String>,
    pub row_hash: String,
}

const COLUMNS: &str = "body, chain, seq, supersedes, row_hash";

impl FromRow for Sealed {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        let body = r.text(0)?;
        let prediction = serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("a prediction body does not parse: {e}")))?;
        Ok(Sealed {
            prediction,
            chain: r.text(1)?,
            seq: r.i64(2)?,
            supersedes: r.opt_text(3)?,
            row_hash: r.text(4)?,
        })
    }
}

/// Filters of `GET /api/v1/signals`.
#[derive(Debug, Clone, Default)]
pub struct SignalQuery {
    pub asset: Option<String>,
    pub direction: Option<String>,
    pub analyzer: Option<String>,
    pub rule: Option<String>,
    pub min_confidence: Option<f64>,
    pub source: Option<String>,
    pub content_id: Option<String>,
    /// None: both; Some(false): live only (the default of the API); Some(true): shadow only.
    pub shadow: Option<bool>,
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    /// Keyset cursor: rows strictly before (sealed_at, id) in newest-first order.
    pub before: Option<(i64, String)>,
    pub limit: usize,
}

/// Newest first.
pub async fn list(db: &dyn SqlDb, q: &SignalQuery) -> Result<Vec<Sealed>, StoreError> {
    let (mut p, mut w) = (Params::default(), Where::default());
    let eq = |p: &mut Params, w: &mut Where, col: &str, v: &Option<String>| {
        if let Some(v) = v {
            w.and(format!("{col} = {}", p.bind(v.as_str())));
        }
    };
    eq(&mut p, &mut w, "asset", &q.asset);
    eq(&mut p, &mut w, "direction", &q.direction);
    eq(&mut p, &mut w, "analyzer", &q.analyzer);
    eq(&mut p, &mut w, "source", &q.source);
    eq(&mut p, &mut w, "content_id", &q.content_id);
    if let Some(r) = &q.rule {
        // A rule's name is found literally and case-sensitively (LIKE would read `%`
        // and `_` as wildcards, and ignores case on SQLite).
        let find = match db.dialect() {
            crate::store::sql::Dialect::Sqlite => "instr",
            crate::store::sql::Dialect::Postgres => "strpos",
        };
        w.and(format!("{find}(rules, {}) > 0", p.bind(format!("|{r}|"))));
    }
    if let Some(c) = q.min_confidence {
        w.and(format!("confidence >= {}", p.bind(c)));
    }
    if let Some(s) = q.shadow {
        w.and(format!("shadow = {}", p.bind(s as i64)));
    }
    if let Some(t) = q.since_us {
        w.and(format!("sealed_at >= {}", p.bind(t)));
    }
    if let Some(t) = q.until_us {
        w.and(format!("sealed_at < {}", p.bind(t)));
    }
    if let Some((t, id)) = &q.before {
        let (a, b, c) = (p.bind(*t), p.bind(*t), p.bind(id.as_str()));
        w.and(format!(
            "(sealed_at < {a} OR (sealed_at = {b} AND id < {c}))"
        ));
    }
    let limit = p.bind(q.limit as i64);
    db.query_as(
        &format!(
            "SELECT {COLUMNS} FROM predictions{} ORDER BY sealed_at DESC, id DESC LIMIT {limit}",
            w.sql()
        ),
        p.0,
    )
    .await
}

pub async fn get(db: &dyn SqlDb, id: &str) -> Result<Option<Sealed>, StoreError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM predictions WHERE id = $1"),
        crate::sql_params![id],
    )
    .await
}

/// The ids of rows that name `id` as the one they supersede.
pub async fn superseded_by(db: &dyn SqlDb, id: &str) -> Result<Vec<String>, StoreError> {
    struct Id(String);
    impl FromRow for Id {
        fn from_row(r: &Row) -> Result<Self, StoreError> {
            r.text(0).map(Id)
        }
    }
    let rows: Vec<Id> = db
        .query_as(
            "SELECT id FROM predictions WHERE supersedes = $1 ORDER BY sealed_at, id",
            crate::sql_params![id],
        )
        .await?;
    Ok(rows.into_iter().map(|i| i.0).collect())
}

struct Verify(StoredRow);

impl FromRow for Verify {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        Ok(Verify(StoredRow {
            id: r.text(0)?,
            chain: r.text(1)?,
            seq: r.i64(2)?,
            content_id: r.text(3)?,
            analyzer: r.text(4)?,
            asset: r.text(5)?,
            direction: r.text(6)?,
            confidence: r.opt_f64(7)?.unwrap_or(f64::NAN),
            shadow: r.i64(8)? != 0,
            sealed_at_us: r.i64(9)?,
            supersedes: r.opt_text(10)?,
            body: r.text(11)?,
            prev_hash: r.text(12)?,
            row_hash: r.text(13)?,
        }))
    }
}

/// Every row in (chain, seq) order, handed to `f` a page at a time: memory stays at one
/// page whatever the ledger's size.
pub async fn for_each_chain_row(
    db: &dyn SqlDb,
    f: &mut (dyn FnMut(&StoredRow) + Send),
) -> Result<(), StoreError> {
    const PAGE: i64 = 2_000;
    let (mut chain, mut seq) = (String::new(), 0i64);
    loop {
        let page: Vec<Verify> = db
            .query_as(
                "SELECT id, chain, seq, content_id, analyzer, asset, direction, confidence, shadow, \
                 sealed_at, supersedes, body, prev_hash, row_hash FROM predictions \
                 WHERE chain > $1 OR (chain = $2 AND seq > $3) ORDER BY chain, seq LIMIT $4",
                crate::sql_params![chain.as_str(), chain.as_str(), seq, PAGE],
            )
            .await?;
        let n = page.len() as i64;
        for v in &page {
            f(&v.0);
        }
        match page.last() {
            Some(last) if n == PAGE => (chain, seq) = (last.0.chain.clone(), last.0.seq),
            _ => return Ok(()),
        }
    }
}

/// Every row in (chain, seq) order (tests, small ledgers).
pub async fn chain_rows(db: &dyn SqlDb) -> Result<Vec<StoredRow>, StoreError> {
    let mut out = Vec::new();
    for_each_chain_row(db, &mut |r| out.push(r.clone())).await?;
    Ok(out)
}

/// How many rows, and the newest seal.
pub async fn count(
    db: &dyn SqlDb,
) -> Result<(u64, Option<chrono::DateTime<chrono::Utc>>), StoreError> {
    struct C(u64, Option<i64>);
    impl FromRow for C {
        fn from_row(r: &Row) -> Result<Self, StoreError> {
            Ok(C(r.u64(0)?, r.opt_i64(1)?))
        }
    }
    let c: Option<C> = db
        .query_opt("SELECT COUNT(*), MAX(sealed_at) FROM predictions", vec![])
        .await?;
    Ok(c.map_or((0, None), |c| (c.0, c.1.map(from_micros))))
}
