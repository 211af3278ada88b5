//! Open calls of a namespace → outcome rows, from the bars in the store. Pure
//! arithmetic (`markets::outcome::score`) on what is stored; each final or unscorable
//! outcome is inserted once (the insert ignores a row that exists), in batches.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::Markets;
use crate::analyze::Direction;
use crate::markets::bars::Bar;
use crate::markets::outcome::{self, Call, HORIZONS, Prices, Verdict};
use crate::model::from_micros;
use crate::store::StoreError;
use crate::store::repos::outcomes::{self, OpenCall, OutcomeRow};
use crate::store::repos::price_bars;
use crate::store::sql::SqlDb;

/// What one scoring pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scored {
    pub written: u64,
    pub unscorable: u64,
    pub pending: u64,
    pub calls: u64,
}

const BATCH: usize = 500;

/// The sessions the open calls of one asset span: (first entry, last exit).
pub fn span(m: &Markets, asset: &str, calls: &[OpenCall]) -> Option<(NaiveDate, NaiveDate)> {
    let market = m.market_of(asset);
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    for c in calls {
        let call = Call {
            direction: Direction::Bullish,
            knowable_at: from_micros(c.knowable_at_us),
            market,
        };
        let Ok((entry, _, exit)) =
            outcome::sessions_for(&m.calendar, &call, *HORIZONS.last().expect("horizons"))
        else {
            continue;
        };
        span = Some(match span {
            None => (entry.date, exit.date),
            Some((a, b)) => (a.min(entry.date), b.max(exit.date)),
        });
    }
    span
}

/// Scores the open `calls` of `namespace` (`outcomes::open_calls`) as of `now`.
/// `through`: per asset, the last session the providers answered for.
pub async fn score_calls(
    m: &Markets,
    db: &dyn SqlDb,
    namespace: &str,
    calls: Vec<OpenCall>,
    now: DateTime<Utc>,
    through: &HashMap<String, Option<NaiveDate>>,
) -> Result<Scored, StoreError> {
    let mut by_asset: BTreeMap<String, Vec<OpenCall>> = BTreeMap::new();
    for c in calls {
        by_asset.entry(c.asset.clone()).or_default().push(c);
    }
    let mut stats = Scored::default();
    let mut batch = Vec::new();
    let params = serde_json::json!({
        "threshold": m.params.threshold, "notional": m.params.notional,
        "cost_bps": m.params.cost_bps, "grace_sessions": m.params.grace_sessions,
    })
    .to_string();
    let mut bench_cache: HashMap<String, Vec<Bar>> = HashMap::new();
    for (asset, calls) in &by_asset {
        stats.calls += calls.len() as u64;
        let Some((from, to)) = span(m, asset, calls) else {
            stats.pending += calls.len() as u64;
            continue;
        };
        let market = m.market_of(asset);
        let bars = price_bars::range(db, asset, from, to).await?;
        let bench_name = m.benchmark_for(market).map(str::to_string);
        if let Some(b) = &bench_name
            && !bench_cache.contains_key(b)
        {
            // The benchmark's whole stored history the open calls could need.
            let (lo, hi) = by_asset
                .values()
                .flat_map(|v| v.iter())
                .map(|c| from_micros(c.knowable_at_us).date_naive())
                .fold((to, from), |(lo, hi), d| (lo.min(d), hi.max(d)));
            let hi = hi.max(to) + chrono::Days::new(60);
            bench_cache.insert(
                b.clone(),
                price_bars::range(db, b, lo - chrono::Days::new(7), hi).await?,
            );
        }
        let prices = Prices {
            bars: &bars,
            data_through: through.get(asset).copied().flatten(),
        };
        let bench = bench_name.as_ref().map(|b| Prices {
            bars: &bench_cache[b],
            data_through: through.get(b).copied().flatten(),
        });
        let ctx = Ctx {
            m,
            namespace,
            params: &params,
            now,
            market,
            bench_name: bench_name.as_deref(),
        };
        for c in calls {
            score_call(&ctx, c, prices, bench, &mut stats, &mut batch);
            if batch.len() >= BATCH {
                db.execute(std::mem::take(&mut batch)).await?;
            }
        }
    }
    if !batch.is_empty() {
        db.execute(batch).await?;
    }
    metrics::counter!("sigflow_outcomes_written_total", "namespace" => namespace.to_string())
        .increment(stats.written);
    Ok(stats)
}

struct Ctx<'a> {
    m: &'a Markets,
    namespace: &'a str,
    params: &'a str,
    now: DateTime<Utc>,
    market: crate::markets::Market,
    bench_name: Option<&'a str>,
}

fn score_call(
    ctx: &Ctx<'_>,
    c: &OpenCall,
    prices: Prices<'_>,
    bench: Option<Prices<'_>>,
    stats: &mut Scored,
    batch: &mut Vec<crate::store::sql::Mutation>,
) {
    let Some(direction) = Direction::parse(&c.direction) else {
        return;
    };
    let call = Call {
        direction,
        knowable_at: from_micros(c.knowable_at_us),
        market: ctx.market,
    };
    for h in HORIZONS.iter().filter(|h| !c.done.contains(h)) {
        let verdict = match outcome::score(
            &ctx.m.calendar,
            &call,
            *h,
            prices,
            bench,
            ctx.now,
            &ctx.m.params,
        ) {
            Ok(v) => v,
            // Past the calendar's table: wait for the operator to extend it.
            Err(_) => {
                stats.pending += 1;
                continue;
            }
        };
        let mut row = base_row(ctx, c, *h);
        match verdict {
            Verdict::Pending { .. } => {
                stats.pending += 1;
                continue;
            }
            Verdict::Unscorable(why) => {
                row.status = "unscorable".into();
                row.reason = Some(why);
                stats.unscorable += 1;
            }
            Verdict::Final(o) => {
                row.status = o.status.as_str().into();
                row.entry_session = Some(o.entry_session.to_string());
                row.entry_point = Some(o.entry_point.clone());
                row.entry_at_us = Some(o.entry_at.timestamp_micros());
                row.entry_price = Some(o.entry_price);
                row.exit_session = Some(o.exit_session.to_string());
                row.exit_at_us = Some(o.exit_at.timestamp_micros());
                row.exit_price = Some(o.exit_price);
                row.split_factor = Some(o.split_factor);
                row.ret = Some(o.ret);
                row.signed_return = Some(o.signed_return);
                row.correct = Some(o.correct);
                row.pnl = Some(o.pnl);
                row.benchmark = o.benchmark_return.and(ctx.bench_name.map(str::to_string));
                row.benchmark_return = o.benchmark_return;
                row.excess = o.excess;
                stats.written += 1;
            }
        }
        batch.push(outcomes::insert(&row));
    }
}

fn base_row(ctx: &Ctx<'_>, c: &OpenCall, horizon: u32) -> OutcomeRow {
    OutcomeRow {
        namespace: ctx.namespace.to_string(),
        prediction_id: c.id.clone(),
        horizon,
        asset: c.asset.clone(),
        market: ctx.market.as_str().into(),
        direction: c.direction.clone(),
        confidence: c.confidence,
        source: c.source.clone(),
        author: c.author.clone(),
        analyzer: c.analyzer.clone(),
        version: c.version.clone(),
        rules: c.rules.clone(),
        shadow: c.shadow,
        knowable_at_us: c.knowable_at_us,
        params: ctx.params.to_string(),
        computed_at_us: ctx.now.timestamp_micros(),
        ..OutcomeRow::default()
    }
}
