//! `outcomes` (migration 0011): one row per prediction and horizon, inserted once when
//! final (`ON CONFLICT DO NOTHING`: a second writer, a replay or a restart cannot
//! change it; a trigger refuses updates, and deletes in the `live` namespace). The
//! call's facts are copied in, so track records read one table.

use crate::store::StoreError;
use sigflow_logic::markets::track::Row as TrackRow;

/// The ledger's namespace.
pub const LIVE: &str = "live";
use crate::store::sql::{FromRow, Mutation, Params, Row, SqlDb, Where};

/// Everything an outcome row holds. Options are empty for an unscorable row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutcomeRow {
    pub namespace: String,
    pub prediction_id: String,
    pub horizon: u32,
    /// scored | delisted | unscorable
    pub status: String,
    pub asset: String,
    pub market: String,
    pub direction: String,
    pub confidence: f64,
    pub source: String,
    pub author: String,
    pub analyzer: String,
    pub version: String,
    /// `|a|b|`
    pub rules: String,
    pub shadow: bool,
    pub knowable_at_us: i64,
    pub entry_session: Option<String>,
    pub entry_point: Option<String>,
    pub entry_at_us: Option<i64>,
    pub entry_price: Option<f64>,
    pub exit_session: Option<String>,
    pub exit_at_us: Option<i64>,
    pub exit_price: Option<f64>,
    pub split_factor: Option<f64>,
    pub ret: Option<f64>,
    pub signed_return: Option<f64>,
    pub correct: Option<bool>,
    pub pnl: Option<f64>,
    pub benchmark: Option<String>,
    pub benchmark_return: Option<f64>,
    pub excess: Option<f64>,
    pub reason: Option<String>,
    pub params: String,
    pub computed_at_us: i64,
}

const COLUMNS: &str = "namespace, prediction_id, horizon, status, asset, market, direction, confidence, \
    source, author, analyzer, version, rules, shadow, knowable_at, entry_session, entry_point, entry_at, \
    entry_price, exit_session, exit_at, exit_price, split_factor, ret, signed_return, correct, pnl, \
    benchmark, benchmark_return, excess, reason, params, computed_at";

/// Insert `o` unless that (namespace, prediction, horizon) has an outcome already.
pub fn insert(o: &OutcomeRow) -> Mutation {
    Mutation::new(
        format!(
            "INSERT INTO outcomes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, \
             $30, $31, $32, $33) ON CONFLICT (namespace, prediction_id, horizon) DO NOTHING"
        ),
        crate::sql_params![
            o.namespace.as_str(),
            o.prediction_id.as_str(),
            o.horizon as i64,
            o.status.as_str(),
            o.asset.as_str(),
            o.market.as_str(),
            o.direction.as_str(),
            o.confidence,
            o.source.as_str(),
            o.author.as_str(),
            o.analyzer.as_str(),
            o.version.as_str(),
            o.rules.as_str(),
            o.shadow as i64,
            o.knowable_at_us,
            o.entry_session.clone(),
            o.entry_point.clone(),
            o.entry_at_us,
            o.entry_price,
            o.exit_session.clone(),
            o.exit_at_us,
            o.exit_price,
            o.split_factor,
            o.ret,
            o.signed_return,
            o.correct.map(|c| c as i64),
            o.pnl,
            o.benchmark.clone(),
            o.benchmark_return,
            o.excess,
            o.reason.clone(),
            o.params.as_str(),
            o.computed_at_us
        ],
    )
}

impl FromRow for OutcomeRow {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        Ok(OutcomeRow {
            namespace: r.text(0)?,
            prediction_id: r.text(1)?,
            horizon: r.u32(2)?,
            status: r.text(3)?,
            asset: r.text(4)?,
            market: r.text(5)?,
            direction: r.text(6)?,
            confidence: r.opt_f64(7)?.unwrap_or(0.0),
            source: r.text(8)?,
            author: r.text(9)?,
            analyzer: r.text(10)?,
            version: r.text(11)?,
            rules: r.text(12)?,
            shadow: r.i64(13)? != 0,
            knowable_at_us: r.i64(14)?,
            entry_session: r.opt_text(15)?,
            entry_point: r.opt_text(16)?,
            entry_at_us: r.opt_i64(17)?,
            entry_price: r.opt_f64(18)?,
            exit_session: r.opt_text(19)?,
            exit_at_us: r.opt_i64(20)?,
            exit_price: r.opt_f64(21)?,
            split_factor: r.opt_f64(22)?,
            ret: r.opt_f64(23)?,
            signed_return: r.opt_f64(24)?,
            correct: r.opt_i64(25)?.map(|c| c != 0),
            pnl: r.opt_f64(26)?,
            benchmark: r.opt_text(27)?,
            benchmark_return: r.opt_f64(28)?,
            excess: r.opt_f64(29)?,
            reason: r.opt_text(30)?,
            params: r.text(31)?,
            computed_at_us: r.i64(32)?,
        })
    }
}

/// Filters of `GET /api/v1/outcomes` and `sigflow outcomes list`.
#[derive(Debug, Clone, Default)]
pub struct OutcomeQuery {
    pub namespace: String,
    pub prediction_id: Option<String>,
    pub asset: Option<String>,
    pub horizon: Option<u32>,
    pub status: Option<String>,
    pub source: Option<String>,
    /// Keyset cursor: rows strictly before (computed_at, prediction_id, horizon), newest first.
    pub before: Option<(i64, String, u32)>,
    pub limit: usize,
}

/// Newest first (by when they were computed).
pub async fn list(db: &dyn SqlDb, q: &OutcomeQuery) -> Result<Vec<OutcomeRow>, StoreError> {
    let (mut p, mut w) = (Params::default(), Where::default());
    w.and(format!("namespace = {}", p.bind(q.namespace.as_str())));
    for (col, v) in [
        ("prediction_id", &q.prediction_id),
        ("asset", &q.asset),
        ("status", &q.status),
        ("source", &q.source),
    ] {
        if let Some(v) = v {
            w.and(format!("{col} = {}", p.bind(v.as_str())));
        }
    }
    if let Some(h) = q.horizon {
        w.and(format!("horizon = {}", p.bind(h as i64)));
    }
    if let Some((t, id, h)) = &q.before {
        let (a, b, c, d, e, f) = (
            p.bind(*t),
            p.bind(*t),
            p.bind(id.as_str()),
            p.bind(*t),
            p.bind(id.as_str()),
            p.bind(*h as i64),
        );
        w.and(format!(
            "(computed_at < {a} OR (computed_at = {b} AND prediction_id < {c}) \
             OR (computed_at = {d} AND prediction_id = {e} AND horizon < {f}))"
        ));
    }
    let limit = p.bind(q.limit as i64);
    db.query_as(
        &format!(
            "SELECT {COLUMNS} FROM outcomes{} ORDER BY computed_at DESC, prediction_id DESC, horizon DESC LIMIT {limit}",
            w.sql()
        ),
        p.0,
    )
    .await
}

/// A prediction's outcomes, by horizon.
pub async fn of_prediction(
    db: &dyn SqlDb,
    namespace: &str,
    id: &str,
) -> Result<Vec<OutcomeRow>, StoreError> {
    db.query_as(
        &format!("SELECT {COLUMNS} FROM outcomes WHERE namespace = $1 AND prediction_id = $2 ORDER BY horizon"),
        crate::sql_params![namespace, id],
    )
    .await
}

/// What a track record groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Source,
    Author,
    Rule,
    Analyzer,
    Asset,
    All,
}

impl By {
    pub fn parse(s: &str) -> Option<By> {
        Some(match s {
            "source" => By::Source,
            "author" => By::Author,
            "rule" => By::Rule,
            "analyzer" | "model" => By::Analyzer,
            "asset" => By::Asset,
            "all" => By::All,
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "source, author, rule, analyzer, asset, all";
}

/// Scored (and delisted) outcomes of `namespace` as track-record rows (a prediction of
/// several rules counts once under each), live calls only unless `shadow`, exits in
/// `[since, until)` (µs), one horizon or all.
pub async fn track_rows(
    db: &dyn SqlDb,
    namespace: &str,
    by: By,
    horizon: Option<u32>,
    shadow: bool,
    since_us: Option<i64>,
    until_us: Option<i64>,
) -> Result<Vec<TrackRow>, StoreError> {
    let key = match by {
        By::Source => "source".to_string(),
        By::Author => "source || ':' || author".to_string(),
        By::Rule => "rules".to_string(),
        By::Analyzer => "analyzer || '@' || version".to_string(),
        By::Asset => "asset".to_string(),
        By::All => "'all'".to_string(),
    };
    let (mut p, mut w) = (Params::default(), Where::default());
    w.and(format!("namespace = {}", p.bind(namespace)));
    w.and("status <> 'unscorable'");
    if let Some(h) = horizon {
        w.and(format!("horizon = {}", p.bind(h as i64)));
    }
    if !shadow {
        w.and("shadow = 0");
    }
    if let Some(t) = since_us {
        w.and(format!("exit_at >= {}", p.bind(t)));
    }
    if let Some(t) = until_us {
        w.and(format!("exit_at < {}", p.bind(t)));
    }
    struct T(String, u32, bool, f64, f64, f64);
    impl FromRow for T {
        fn from_row(r: &Row) -> Result<Self, StoreError> {
            Ok(T(
                r.text(0)?,
                r.u32(1)?,
                r.opt_i64(2)?.unwrap_or(0) != 0,
                r.opt_f64(3)?.unwrap_or(0.0),
                r.opt_f64(4)?.unwrap_or(0.0),
                r.opt_f64(5)?.unwrap_or(0.0),
            ))
        }
    }
    let rows: Vec<T> = db
        .query_as(
            &format!(
                "SELECT {key}, horizon, correct, signed_return, pnl, confidence FROM outcomes{}",
                w.sql()
            ),
            p.0,
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for T(k, horizon, correct, signed_return, pnl, confidence) in rows {
        let row = |key: &str| TrackRow {
            key: key.to_string(),
            horizon,
            correct,
            signed_return,
            pnl,
            confidence,
        };
        if by == By::Rule {
            out.extend(k.split('|').filter(|r| !r.is_empty()).map(row));
        } else {
            out.push(row(&k));
        }
    }
    Ok(out)
}

/// A prediction that still lacks an outcome at some horizon.
#[derive(Debug, Clone)]
pub struct OpenCall {
    pub id: String,
    pub asset: String,
    pub direction: String,
    pub confidence: f64,
    pub source: String,
    pub author: String,
    pub analyzer: String,
    pub version: String,
    pub rules: String,
    pub shadow: bool,
    pub knowable_at_us: i64,
    /// Horizons already written.
    pub done: Vec<u32>,
}

/// Calls of `namespace` (the ledger for `live`, else the simulated predictions) with
/// fewer than `horizons` outcomes.
pub async fn open_calls(
    db: &dyn SqlDb,
    namespace: &str,
    horizons: usize,
) -> Result<Vec<OpenCall>, StoreError> {
    let (table, author, only) = if namespace == LIVE {
        (
            "predictions",
            db.dialect().json_text("p.body", &["author"]),
            "",
        )
    } else {
        (
            "sim_predictions",
            "p.author".to_string(),
            " AND p.namespace = $1",
        )
    };
    struct O(OpenCall, Option<u32>);
    impl FromRow for O {
        fn from_row(r: &Row) -> Result<Self, StoreError> {
            Ok(O(
                OpenCall {
                    id: r.text(0)?,
                    asset: r.text(1)?,
                    direction: r.text(2)?,
                    confidence: r.opt_f64(3)?.unwrap_or(0.0),
                    source: r.text(4)?,
                    analyzer: r.text(5)?,
                    version: r.text(6)?,
                    rules: r.text(7)?,
                    shadow: r.i64(8)? != 0,
                    knowable_at_us: r.i64(9)?,
                    author: r.opt_text(10)?.unwrap_or_default(),
                    done: Vec::new(),
                },
                r.opt_u32(11)?,
            ))
        }
    }
    let sql = format!(
        "SELECT p.id, p.asset, p.direction, p.confidence, p.source, p.analyzer, p.version, p.rules, \
         p.shadow, p.knowable_at, {author}, o.horizon FROM {table} p \
         LEFT JOIN outcomes o ON o.namespace = $1 AND o.prediction_id = p.id \
         WHERE p.direction <> 'abstain' AND p.asset <> ''{only} AND \
         (SELECT COUNT(*) FROM outcomes c WHERE c.namespace = $1 AND c.prediction_id = p.id) < $2 \
         ORDER BY p.id"
    );
    let rows: Vec<O> = db
        .query_as(&sql, crate::sql_params![namespace, horizons as i64])
        .await?;
    let mut out: Vec<OpenCall> = Vec::new();
    for O(mut c, h) in rows {
        match out.last_mut() {
            Some(last) if last.id == c.id => last.done.extend(h),
            _ => {
                c.done.extend(h);
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// Removes a simulated namespace (its outcomes, predictions and run); `live` refuses.
pub fn delete_namespace(namespace: &str) -> Vec<Mutation> {
    vec![
        Mutation::new(
            "DELETE FROM outcomes WHERE namespace = $1",
            crate::sql_params![namespace],
        ),
        Mutation::new(
            "DELETE FROM sim_predictions WHERE namespace = $1",
            crate::sql_params![namespace],
        ),
        Mutation::new(
            "DELETE FROM sim_runs WHERE namespace = $1",
            crate::sql_params![namespace],
        ),
    ]
}

/// A simulated prediction (backtest, history replay).
pub fn insert_sim(namespace: &str, p: &sigflow_logic::analyze::ledger::Prediction) -> Mutation {
    let rules = if p.rules.is_empty() {
        String::new()
    } else {
        format!("|{}|", p.rules.join("|"))
    };
    Mutation::new(
        "INSERT INTO sim_predictions (namespace, id, content_id, asset, direction, confidence, source, \
         author, analyzer, version, rules, shadow, knowable_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (namespace, id) DO NOTHING",
        crate::sql_params![
            namespace,
            p.id.to_string(),
            p.content_id.to_string(),
            p.asset.as_str(),
            p.direction.as_str(),
            p.confidence,
            p.source.as_str(),
            p.author.as_str(),
            p.analyzer.as_str(),
            p.version.as_str(),
            rules,
            p.shadow as i64,
            p.knowable_at().timestamp_micros(),
            p.body()
        ],
    )
}

/// Records what made a simulated namespace.
pub fn insert_run(namespace: &str, created_at_us: i64, summary: &str) -> Mutation {
    Mutation::new(
        "INSERT INTO sim_runs (namespace, created_at, summary) VALUES ($1, $2, $3)",
        crate::sql_params![namespace, created_at_us, summary],
    )
}

/// The namespaces with outcomes or a run, and how many outcomes each has.
pub async fn namespaces(db: &dyn SqlDb) -> Result<Vec<(String, u64)>, StoreError> {
    struct N(String, u64);
    impl FromRow for N {
        fn from_row(r: &Row) -> Result<Self, StoreError> {
            Ok(N(r.text(0)?, r.u64(1)?))
        }
    }
    let rows: Vec<N> = db
        .query_as(
            "SELECT namespace, COUNT(*) FROM outcomes GROUP BY namespace \
             UNION ALL SELECT namespace, 0 FROM sim_runs WHERE namespace NOT IN (SELECT namespace FROM outcomes) \
             ORDER BY 1",
            vec![],
        )
        .await?;
    Ok(rows.into_iter().map(|n| (n.0, n.1)).collect())
}
