//! Prices for open predictions: what each asset needs (from `backfill_sessions` before
//! its first entry to its last exit; the benchmark over the span of its market), and
//! one fetch per due asset from where its data stops, filed with the tracking row in
//! one transaction — a crash between fetch and commit refetches, never loses.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::{Markets, scorer};
use crate::markets::Market;
use crate::store::StoreError;
use crate::store::repos::outcomes::OpenCall;
use crate::store::repos::{price_bars, price_tracking};
use crate::store::sql::SqlDb;

/// The sessions an asset needs prices for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub market: Market,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// What one tracking round did.
#[derive(Debug, Clone, Default)]
pub struct Round {
    pub tracked: u64,
    pub fetched: u64,
    pub failed: u64,
    pub bars: u64,
    pub stopped: u64,
    pub errors: Vec<String>,
}

/// `n` sessions before `date` (or the first the calendar has).
fn back(m: &Markets, market: Market, date: NaiveDate, n: u32) -> NaiveDate {
    let mut d = date;
    let mut left = n;
    while left > 0 {
        let Some(p) = d.pred_opt() else { break };
        d = p;
        match m.calendar.session(market, d) {
            Ok(Some(_)) => left -= 1,
            Ok(None) => {}
            Err(_) => break,
        }
    }
    d
}

/// Per asset, the sessions `calls` need.
pub fn needs_of(m: &Markets, calls: &[OpenCall]) -> BTreeMap<String, Need> {
    let mut by_asset: BTreeMap<&str, Vec<OpenCall>> = BTreeMap::new();
    for c in calls {
        by_asset
            .entry(c.asset.as_str())
            .or_default()
            .push(c.clone());
    }
    let mut out = BTreeMap::new();
    let mut bench: BTreeMap<Market, (NaiveDate, NaiveDate)> = BTreeMap::new();
    for (asset, calls) in by_asset {
        let market = m.market_of(asset);
        let Some((from, to)) = scorer::span(m, asset, &calls) else {
            continue;
        };
        let from = back(m, market, from, m.backfill_sessions);
        // Past the last exit by the grace period: long enough to tell a delisted
        // symbol (no price at all after its exit) from one not fetched yet.
        let to = m
            .calendar
            .nth_session_after(market, to, m.params.grace_sessions)
            .map_or(to, |s| s.date);
        out.insert(asset.to_string(), Need { market, from, to });
        let e = bench.entry(market).or_insert((from, to));
        *e = (e.0.min(from), e.1.max(to));
    }
    for (market, (from, to)) in bench {
        if let Some(b) = m.benchmark_for(market) {
            let e = out
                .entry(b.to_string())
                .or_insert(Need { market, from, to });
            e.from = e.from.min(from);
            e.to = e.to.max(to);
        }
    }
    out
}

/// The range to fetch now: from where the data stops (the first bar not final, or the
/// day after `through`) to the last session closed before `now` — or None when nothing
/// new can be had yet, with when to look again.
fn window(
    m: &Markets,
    asset: &str,
    need: &Need,
    through: Option<NaiveDate>,
    first_open: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<(NaiveDate, NaiveDate), DateTime<Utc>> {
    let later = now + chrono::Duration::hours(6);
    let Ok(last) = m.calendar.last_closed(need.market, now - m.settle) else {
        return Err(later);
    };
    let to = need.to.min(last.date);
    let mut from = match (first_open, through) {
        (Some(o), _) => o,
        (None, Some(t)) => t.succ_opt().unwrap_or(t),
        (None, None) => need.from,
    };
    from = from.max(need.from);
    if from > to {
        // Up to date: the next bar is final after the next close.
        let next = m
            .calendar
            .nth_session_after(need.market, last.date, 1)
            .map(|s| s.close + m.settle);
        tracing::trace!(asset, %from, %to, "prices up to date");
        return Err(next
            .unwrap_or(later)
            .max(now + chrono::Duration::seconds(30)));
    }
    Ok((from, to))
}

/// Where fetches happen: as of `now`; `track` files each result on the asset's tracking
/// row (the live service) or not (backtests).
struct Fetcher<'a> {
    m: &'a Markets,
    db: &'a dyn SqlDb,
    now: DateTime<Utc>,
    track: bool,
}

/// Fetches in a row that no provider could answer before an asset is given up.
const GIVE_UP_AFTER: i64 = 12;

/// One fetch of `asset` for `need`, filed with its tracking row; how far it answered.
/// `attempts`: the fetches before it that no provider could answer.
async fn fetch_one(
    f: &Fetcher<'_>,
    asset: &str,
    need: &Need,
    (through, attempts): (Option<NaiveDate>, i64),
    round: &mut Round,
) -> Result<Option<NaiveDate>, StoreError> {
    let Fetcher { m, db, now, track } = *f;
    let now_us = now.timestamp_micros();
    let first_open = price_bars::first_open(db, asset).await?;
    let (from, to) = match window(m, asset, need, through, first_open, now) {
        Ok(w) => w,
        Err(next) => {
            if track {
                let note = through
                    .is_none()
                    .then_some("waiting for the first needed session to close");
                db.execute(vec![price_tracking::fetched(
                    asset,
                    None,
                    "",
                    note,
                    next.timestamp_micros(),
                    now_us,
                )])
                .await?;
            }
            return Ok(through);
        }
    };
    match m.chain.fetch(asset, need.market, from, to, now).await {
        // Nobody has prices and nobody can say there are none (premium-only answers,
        // HTML pages, a CSV file that stops earlier): ask again less and less often,
        // and after `GIVE_UP_AFTER` times not at all — never forever.
        Ok(f) if f.bars.is_empty() && f.through.is_none() => {
            round.failed += 1;
            let why = f.skipped.join("; ");
            round.errors.push(format!("{asset}: {why}"));
            if track {
                let (next, why) = if attempts + 1 >= GIVE_UP_AFTER {
                    (
                        now + chrono::Duration::days(3650),
                        format!("gave up after {GIVE_UP_AFTER} tries: {why}"),
                    )
                } else {
                    (
                        now + chrono::Duration::minutes(30 << attempts.clamp(0, 9)),
                        why,
                    )
                };
                tracing::warn!(asset, %from, %to, error = %why, "no provider has prices for the range");
                db.execute(vec![price_tracking::failed(
                    asset,
                    &why,
                    next.timestamp_micros(),
                    now_us,
                )])
                .await?;
            }
            Ok(through)
        }
        Ok(f) => {
            round.fetched += 1;
            round.bars += f.bars.len() as u64;
            let open_left = f.bars.iter().any(|b| !b.is_final) || f.through.is_none_or(|t| t < to);
            let next = if open_left {
                now + chrono::Duration::minutes(30).max(m.settle)
            } else {
                m.calendar
                    .nth_session_after(need.market, to, 1)
                    .map(|s| s.close + m.settle)
                    .unwrap_or(now + chrono::Duration::hours(6))
            };
            let note = (!f.skipped.is_empty()).then(|| f.skipped.join("; "));
            if f.bars.is_empty() {
                tracing::info!(asset, %from, %to, skipped = ?f.skipped, "no prices for the range");
            }
            let mut muts = price_bars::upsert(asset, need.market, &f.bars, f.provider, now_us);
            if track {
                muts.push(price_tracking::fetched(
                    asset,
                    f.through,
                    f.provider,
                    note.as_deref(),
                    next.timestamp_micros(),
                    now_us,
                ));
            }
            db.execute(muts).await?;
            Ok(through.max(f.through))
        }
        Err(fail) => {
            round.failed += 1;
            let why = fail.errors.join("; ");
            tracing::warn!(asset, %from, %to, error = %why, retry_secs = fail.retry_in.as_secs(), "no provider could give prices; will try again");
            round.errors.push(format!("{asset}: {why}"));
            if track {
                let next = now + chrono::Duration::from_std(fail.retry_in).unwrap_or_default();
                db.execute(vec![price_tracking::failed(
                    asset,
                    &why,
                    next.timestamp_micros(),
                    now_us,
                )])
                .await?;
            }
            Ok(through)
        }
    }
}

/// One round for the live ledger: bring the tracking rows in line with what the open
/// `calls` need (new assets, grown ranges, assets no longer needed stop), then fetch
/// every asset that is due. Returns per asset how far the data is known.
pub async fn track(
    m: &Markets,
    db: &dyn SqlDb,
    calls: &[OpenCall],
    now: DateTime<Utc>,
) -> Result<(Round, HashMap<String, Option<NaiveDate>>), StoreError> {
    let now_us = now.timestamp_micros();
    let needs = needs_of(m, calls);
    let rows = price_tracking::all(db).await?;
    let mut muts = Vec::new();
    for (asset, n) in &needs {
        muts.push(price_tracking::need(
            asset,
            n.market.as_str(),
            n.from,
            n.to,
            now_us,
        ));
    }
    let mut round = Round::default();
    for r in rows
        .iter()
        .filter(|r| r.state == "active" && !needs.contains_key(&r.asset))
    {
        muts.push(price_tracking::done(&r.asset, now_us));
        round.stopped += 1;
        tracing::info!(asset = %r.asset, "no open prediction needs this asset any more: tracking stopped");
    }
    if !muts.is_empty() {
        db.execute(muts).await?;
    }
    let mut through = HashMap::new();
    for r in price_tracking::all(db).await? {
        through.insert(r.asset.clone(), r.data_through);
        let Some(need) = needs.get(&r.asset) else {
            continue;
        };
        round.tracked += 1;
        if r.next_at_us > now_us {
            continue;
        }
        let f = Fetcher {
            m,
            db,
            now,
            track: true,
        };
        let t = fetch_one(&f, &r.asset, need, (r.data_through, r.attempts), &mut round).await?;
        through.insert(r.asset.clone(), t);
    }
    Ok((round, through))
}

/// Fetch what `needs` lack without tracking rows (backtests, the demo's history): every
/// asset once, from its first missing session. `tick` is called after each asset.
pub async fn fill(
    m: &Markets,
    db: &dyn SqlDb,
    needs: &BTreeMap<String, Need>,
    now: DateTime<Utc>,
    tick: &mut (dyn FnMut(&str) + Send),
) -> Result<(Round, HashMap<String, Option<NaiveDate>>), StoreError> {
    let mut round = Round::default();
    let mut through = HashMap::new();
    for (asset, need) in needs {
        let f = Fetcher {
            m,
            db,
            now,
            track: false,
        };
        let t = fetch_one(&f, asset, need, (None, 0), &mut round).await?;
        through.insert(asset.clone(), t);
        tick(asset);
    }
    Ok((round, through))
}
