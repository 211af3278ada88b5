//! Outcome arithmetic: one prediction at one horizon → the outcome, once it is final.
//!
//! Entry: the first official price known strictly after the moment sigflow could have
//! known (`knowable_at` = max(sealed_at, disclosed_at)): a session's open is known at
//! the open, its close at the close (`Calendar::entry_after`). Exit at T+N: the close
//! of the N-th session after the entry's session (crypto: N UTC days). Return is the
//! price return of one share, split-corrected with the splits between the two
//! sessions; dividends are stored with the bars but not added (a price return, like
//! the benchmark's). Correctness and P&L follow the direction of the call.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::bars::{Bar, split_factor};
use super::calendar::{Calendar, Market, OutOfRange, Point, Session};
use crate::analyze::Direction;

/// The horizons every prediction is scored at, in sessions.
pub const HORIZONS: [u32; 4] = [1, 3, 7, 30];

/// How outcomes are judged; from `[markets.outcomes]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// A call is right beyond this fraction (0.005 = 0.5 %).
    pub threshold: f64,
    /// The notional of the position behind the P&L.
    pub notional: f64,
    /// Costs per side (entry and exit), in basis points of the notional.
    pub cost_bps: f64,
    /// Sessions after the exit with no price at all before a symbol counts as delisted.
    pub grace_sessions: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            threshold: 0.005,
            notional: 1000.0,
            cost_bps: 5.0,
            grace_sessions: 5,
        }
    }
}

/// What is being scored.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub direction: Direction,
    pub knowable_at: DateTime<Utc>,
    pub market: Market,
}

/// An asset's stored bars (sorted by session) and the last session the providers have
/// answered for (None: never asked). Knowing how far the data was asked for tells
/// "not fetched yet" from "there is no price" (a delisted symbol).
#[derive(Debug, Clone, Copy)]
pub struct Prices<'a> {
    pub bars: &'a [Bar],
    pub data_through: Option<NaiveDate>,
}

/// How the exit price was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The exit session's close.
    Scored,
    /// No price at or after the exit session although the providers were asked well
    /// after it: the last close before it (a delisted or suspended symbol).
    Delisted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scored => "scored",
            Status::Delisted => "delisted",
        }
    }
}

/// A final outcome. Written once; never recomputed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub horizon: u32,
    pub status: Status,
    pub entry_session: NaiveDate,
    pub entry_point: String,
    pub entry_at: DateTime<Utc>,
    /// Raw price as traded.
    pub entry_price: f64,
    pub exit_session: NaiveDate,
    pub exit_at: DateTime<Utc>,
    pub exit_price: f64,
    /// Shares one entry share became through splits between entry and exit.
    pub split_factor: f64,
    /// The asset's price return from entry to exit.
    pub ret: f64,
    /// The return of the call: +ret for bullish, −ret for bearish, 0 for neutral.
    pub signed_return: f64,
    pub correct: bool,
    /// P&L of the notional: long for bullish, short for bearish, none for neutral;
    /// after costs on both sides.
    pub pnl: f64,
    pub benchmark_return: Option<f64>,
    /// The call's return minus the same call on the benchmark.
    pub excess: Option<f64>,
}

/// Where one prediction at one horizon stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Final(Box<Outcome>),
    /// Not yet: why, and the earliest time it could change.
    Pending {
        reason: String,
        not_before: DateTime<Utc>,
    },
    /// Never: no price exists for it (written as such, so it stops being tracked).
    Unscorable(String),
}

fn sign(d: Direction) -> f64 {
    match d {
        Direction::Bullish => 1.0,
        Direction::Bearish => -1.0,
        Direction::Neutral => 0.0,
    }
}

/// The sessions an outcome at `horizon` needs: entry (with its point) and exit.
pub fn sessions_for(
    cal: &Calendar,
    call: &Call,
    horizon: u32,
) -> Result<(Session, Point, Session), OutOfRange> {
    let (entry, point) = cal.entry_after(call.market, call.knowable_at)?;
    let exit = cal.nth_session_after(call.market, entry.date, horizon)?;
    Ok((entry, point, exit))
}

/// Score `call` at `horizon` from `prices` (and the benchmark's), as of `now`.
pub fn score(
    cal: &Calendar,
    call: &Call,
    horizon: u32,
    prices: Prices<'_>,
    bench: Option<Prices<'_>>,
    now: DateTime<Utc>,
    p: &Params,
) -> Result<Verdict, OutOfRange> {
    let (entry_s, point, exit_s) = sessions_for(cal, call, horizon)?;
    if now < exit_s.close {
        return Ok(pending("the exit session has not closed", exit_s.close));
    }
    let asked_past = |through: Option<NaiveDate>| -> Result<bool, OutOfRange> {
        let limit = cal.nth_session_after(call.market, exit_s.date, p.grace_sessions)?;
        Ok(through.is_some_and(|t| t >= limit.date))
    };
    // Entry: the bar of the entry session; with none (a halt, a gap in the data),
    // the open of the first later bar — still the first price after the instant.
    let Some(entry_bar) = prices
        .bars
        .iter()
        .find(|b| b.session >= entry_s.date && b.is_final)
    else {
        if asked_past(prices.data_through)? {
            return Ok(Verdict::Unscorable(format!(
                "no price from the entry session {} on",
                entry_s.date
            )));
        }
        return Ok(pending("waiting for the entry bar", now));
    };
    let (entry_session, point, entry_price) = if entry_bar.session == entry_s.date {
        let price = match point {
            Point::Open => entry_bar.open,
            Point::Close => entry_bar.close,
        };
        (entry_s, point, price)
    } else {
        let s = cal
            .session(call.market, entry_bar.session)?
            .unwrap_or(entry_s);
        (s, Point::Open, entry_bar.open)
    };
    if entry_session.date > exit_s.date {
        return Ok(Verdict::Unscorable(format!(
            "no price between the entry session {} and the exit session {}",
            entry_s.date, exit_s.date
        )));
    }
    let exit_bar = prices.bars.iter().find(|b| b.session == exit_s.date);
    let (status, exit_bar) = match exit_bar {
        Some(b) if b.is_final => (Status::Scored, b),
        Some(_) => return Ok(pending("the exit bar is not final yet", now)),
        None => {
            let later = prices
                .bars
                .iter()
                .any(|b| b.session > exit_s.date && b.is_final);
            let last = prices.bars.iter().rev().find(|b| {
                b.session <= exit_s.date && b.session >= entry_session.date && b.is_final
            });
            match (later, last) {
                // Trading resumed after a gap: the last close at or before the exit.
                (true, Some(b)) => (Status::Scored, b),
                (false, Some(b)) if asked_past(prices.data_through)? => (Status::Delisted, b),
                _ => return Ok(pending("waiting for the exit bar", now)),
            }
        }
    };
    let exit_session = cal
        .session(call.market, exit_bar.session)?
        .unwrap_or(exit_s);
    let factor = split_factor(prices.bars, entry_session.date, exit_session.date);
    let ret = exit_bar.close * factor / entry_price - 1.0;
    let benchmark_return = match bench {
        None => None,
        Some(b) => match bench_return(b, entry_session.date, point, exit_session.date) {
            Some(r) => Some(r),
            None if b.data_through.is_some_and(|t| t >= exit_session.date) => None,
            None => return Ok(pending("waiting for the benchmark's bars", now)),
        },
    };
    let s = sign(call.direction);
    let correct = match call.direction {
        Direction::Bullish => ret > p.threshold,
        Direction::Bearish => ret < -p.threshold,
        Direction::Neutral => ret.abs() <= p.threshold,
    };
    let costs = if s == 0.0 {
        0.0
    } else {
        2.0 * p.notional * p.cost_bps / 10_000.0
    };
    Ok(Verdict::Final(Box::new(Outcome {
        horizon,
        status,
        entry_session: entry_session.date,
        entry_point: point.as_str().into(),
        entry_at: point.at(&entry_session),
        entry_price,
        exit_session: exit_session.date,
        exit_at: exit_session.close,
        exit_price: exit_bar.close,
        split_factor: factor,
        ret,
        signed_return: s * ret,
        correct,
        pnl: p.notional * s * ret - costs,
        benchmark_return,
        excess: match (call.direction, benchmark_return) {
            (Direction::Neutral, _) | (_, None) => None,
            (_, Some(b)) => Some(s * (ret - b)),
        },
    })))
}

fn pending(reason: &str, not_before: DateTime<Utc>) -> Verdict {
    Verdict::Pending {
        reason: reason.into(),
        not_before,
    }
}

/// The benchmark's return between the same prices of the same sessions.
fn bench_return(b: Prices<'_>, entry: NaiveDate, point: Point, exit: NaiveDate) -> Option<f64> {
    let e = b.bars.iter().find(|x| x.session == entry && x.is_final)?;
    let x = b.bars.iter().find(|x| x.session == exit && x.is_final)?;
    let ep = match point {
        Point::Open => e.open,
        Point::Close => e.close,
    };
    Some(x.close * split_factor(b.bars, entry, exit) / ep - 1.0)
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;
