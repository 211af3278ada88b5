//! `price_tracking` (migration 0011): the assets open predictions need prices for, the
//! sessions they need, how far the providers have answered, and when to ask next. The
//! markets service derives the need from the ledger each round and files every fetch's
//! result here in the same transaction as its bars, so a restart resumes where it was.

use chrono::NaiveDate;

use crate::store::StoreError;
use crate::store::sql::{FromRow, Mutation, Row, SqlDb};

#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    pub asset: String,
    pub market: String,
    /// active | done
    pub state: String,
    pub need_from: NaiveDate,
    pub need_to: NaiveDate,
    pub data_through: Option<NaiveDate>,
    pub next_at_us: i64,
    pub attempts: i64,
    pub provider: Option<String>,
    pub last_error: Option<String>,
    pub updated_at_us: i64,
}

fn date(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| StoreError::Corrupt(format!("price_tracking date {s:?}: {e}")))
}

impl FromRow for Tracking {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        Ok(Tracking {
            asset: r.text(0)?,
            market: r.text(1)?,
            state: r.text(2)?,
            need_from: date(&r.text(3)?)?,
            need_to: date(&r.text(4)?)?,
            data_through: r.opt_text(5)?.map(|s| date(&s)).transpose()?,
            next_at_us: r.i64(6)?,
            attempts: r.i64(7)?,
            provider: r.opt_text(8)?,
            last_error: r.opt_text(9)?,
            updated_at_us: r.i64(10)?,
        })
    }
}

const COLUMNS: &str = "asset, market, state, need_from, need_to, data_through, next_at, attempts, provider, last_error, updated_at";

pub async fn all(db: &dyn SqlDb) -> Result<Vec<Tracking>, StoreError> {
    db.query_as(
        &format!("SELECT {COLUMNS} FROM price_tracking ORDER BY asset"),
        vec![],
    )
    .await
}

pub async fn get(db: &dyn SqlDb, asset: &str) -> Result<Option<Tracking>, StoreError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM price_tracking WHERE asset = $1"),
        crate::sql_params![asset],
    )
    .await
}

/// Track `asset` for `need_from..=need_to` (a new row is due at once; a known one keeps
/// its schedule unless the need grew backwards, which needs a backfill now).
pub fn need(
    asset: &str,
    market: &str,
    need_from: NaiveDate,
    need_to: NaiveDate,
    now_us: i64,
) -> Mutation {
    Mutation::new(
        "INSERT INTO price_tracking (asset, market, state, need_from, need_to, data_through, next_at, \
         attempts, provider, last_error, updated_at) \
         VALUES ($1, $2, 'active', $3, $4, NULL, $5, 0, NULL, NULL, $6) \
         ON CONFLICT (asset) DO UPDATE SET state = 'active', market = excluded.market, \
         data_through = CASE WHEN excluded.need_from < price_tracking.need_from THEN NULL \
                        ELSE price_tracking.data_through END, \
         next_at = CASE WHEN excluded.need_from < price_tracking.need_from OR price_tracking.state <> 'active' \
                   THEN excluded.next_at ELSE price_tracking.next_at END, \
         need_from = CASE WHEN excluded.need_from < price_tracking.need_from THEN excluded.need_from \
                     ELSE price_tracking.need_from END, \
         need_to = excluded.need_to, updated_at = excluded.updated_at",
        crate::sql_params![
            asset,
            market,
            need_from.to_string(),
            need_to.to_string(),
            now_us,
            now_us
        ],
    )
}

/// No open prediction needs `asset` any more.
pub fn done(asset: &str, now_us: i64) -> Mutation {
    Mutation::new(
        "UPDATE price_tracking SET state = 'done', updated_at = $1 WHERE asset = $2 AND state <> 'done'",
        crate::sql_params![now_us, asset],
    )
}

/// A fetch answered through `through` (None: nothing newer); next one at `next_at`.
pub fn fetched(
    asset: &str,
    through: Option<NaiveDate>,
    provider: &str,
    note: Option<&str>,
    next_at_us: i64,
    now_us: i64,
) -> Mutation {
    Mutation::new(
        "UPDATE price_tracking SET data_through = CASE WHEN CAST($1 AS TEXT) IS NULL THEN data_through \
         WHEN data_through IS NULL OR data_through < CAST($2 AS TEXT) THEN CAST($3 AS TEXT) \
         ELSE data_through END, provider = CAST($4 AS TEXT), last_error = CAST($5 AS TEXT), \
         next_at = CAST($6 AS BIGINT), attempts = 0, updated_at = CAST($7 AS BIGINT) \
         WHERE asset = CAST($8 AS TEXT)",
        crate::sql_params![
            through.map(|d| d.to_string()),
            through.map(|d| d.to_string()),
            through.map(|d| d.to_string()),
            provider,
            note,
            next_at_us,
            now_us,
            asset
        ],
    )
}

/// Every provider failed; try again at `next_at`.
pub fn failed(asset: &str, error: &str, next_at_us: i64, now_us: i64) -> Mutation {
    Mutation::new(
        "UPDATE price_tracking SET attempts = attempts + 1, last_error = $1, next_at = $2, updated_at = $3 \
         WHERE asset = $4",
        crate::sql_params![error, next_at_us, now_us, asset],
    )
}
