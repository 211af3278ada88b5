//! `price_bars` (migration 0011): daily bars, raw prices plus the day's split and
//! dividend. The upsert refreshes a bar only while it is not final, so a final bar —
//! what an outcome may have been computed from — never changes (a trigger guards it).

use chrono::NaiveDate;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

use crate::store::StoreError;
use crate::store::sql::{FromRow, Mutation, Row, SqlDb};

/// Statements that file `bars` of `asset` (one transaction with the tracking row).
pub fn upsert(
    asset: &str,
    market: Market,
    bars: &[Bar],
    provider: &str,
    fetched_at_us: i64,
) -> Vec<Mutation> {
    bars.iter()
        .map(|b| {
            Mutation::new(
                "INSERT INTO price_bars (asset, session, market, tz, open, high, low, close, volume, \
                 split, dividend, final, provider, fetched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (asset, session) DO UPDATE SET open = excluded.open, high = excluded.high, \
                 low = excluded.low, close = excluded.close, volume = excluded.volume, \
                 split = excluded.split, dividend = excluded.dividend, final = excluded.final, \
                 provider = excluded.provider, fetched_at = excluded.fetched_at \
                 WHERE price_bars.final = 0",
                crate::sql_params![
                    asset,
                    b.session.to_string(),
                    market.as_str(),
                    market.tz(),
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume,
                    b.split,
                    b.dividend,
                    b.is_final as i64,
                    provider,
                    fetched_at_us
                ],
            )
        })
        .collect()
}

struct R(Bar);

impl FromRow for R {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        let s = r.text(0)?;
        let session = NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|e| StoreError::Corrupt(format!("price_bars.session {s:?}: {e}")))?;
        Ok(R(Bar {
            session,
            open: r.opt_f64(1)?.unwrap_or(f64::NAN),
            high: r.opt_f64(2)?.unwrap_or(f64::NAN),
            low: r.opt_f64(3)?.unwrap_or(f64::NAN),
            close: r.opt_f64(4)?.unwrap_or(f64::NAN),
            volume: r.opt_f64(5)?.unwrap_or(0.0),
            split: r.opt_f64(6)?.unwrap_or(1.0),
            dividend: r.opt_f64(7)?.unwrap_or(0.0),
            is_final: r.i64(8)? != 0,
        }))
    }
}

/// Bars of `asset` from `from` to `to` (both included), by session.
pub async fn range(
    db: &dyn SqlDb,
    asset: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Bar>, StoreError> {
    let rows: Vec<R> = db
        .query_as(
            "SELECT session, open, high, low, close, volume, split, dividend, final FROM price_bars \
             WHERE asset = $1 AND session >= $2 AND session <= $3 ORDER BY session",
            crate::sql_params![asset, from.to_string(), to.to_string()],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The earliest bar of `asset` that is not final yet, if any.
pub async fn first_open(db: &dyn SqlDb, asset: &str) -> Result<Option<NaiveDate>, StoreError> {
    struct D(String);
    impl FromRow for D {
        fn from_row(r: &Row) -> Result<Self, StoreError> {
            r.text(0).map(D)
        }
    }
    let d: Option<D> = db
        .query_opt(
            "SELECT session FROM price_bars WHERE asset = $1 AND final = 0 ORDER BY session LIMIT 1",
            crate::sql_params![asset],
        )
        .await?;
    Ok(d.and_then(|d| NaiveDate::parse_from_str(&d.0, "%Y-%m-%d").ok()))
}

/// How many bars are stored (all assets).
pub async fn count(db: &dyn SqlDb) -> Result<u64, StoreError> {
    struct C(u64);
    impl FromRow for C {
        fn from_row(r: &Row) -> Result<Self, StoreError> {
            r.u64(0).map(C)
        }
    }
    Ok(db
        .query_opt::<C>("SELECT COUNT(*) FROM price_bars", vec![])
        .await?
        .map_or(0, |c| c.0))
}
