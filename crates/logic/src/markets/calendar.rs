//! Trading calendars: when a market has a session, and its open and close instants.
//!
//! NYSE: Monday–Friday 09:30–16:00 America/New_York, minus the bundled table of
//! full-day closures and early closes (`data/markets/nyse.csv`, 2000–2027, with its
//! provenance), plus the operator's overrides from config (an ad-hoc closure announced
//! a week ahead must not wait for a release). Outside the table's years a query is an
//! error, never a guess. Crypto: every UTC day is a session, 00:00 to 24:00 UTC.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use serde::Serialize;

const NYSE_TABLE: &str = include_str!("../../../../data/markets/nyse.csv");

/// A market whose sessions sigflow knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Market {
    Nyse,
    Crypto,
}

impl Market {
    pub fn as_str(self) -> &'static str {
        match self {
            Market::Nyse => "nyse",
            Market::Crypto => "crypto",
        }
    }

    /// The exchange's IANA time zone (what a bar's session date is local to).
    pub fn tz(self) -> &'static str {
        match self {
            Market::Nyse => "America/New_York",
            Market::Crypto => "UTC",
        }
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Market {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nyse" | "xnys" | "us" => Ok(Market::Nyse),
            "crypto" => Ok(Market::Crypto),
            other => Err(format!("unknown market {other:?} (nyse or crypto)")),
        }
    }
}

/// One trading session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Session {
    pub market: Market,
    /// The session's date in the market's time zone.
    pub date: NaiveDate,
    pub open: DateTime<Utc>,
    pub close: DateTime<Utc>,
    pub early_close: bool,
}

/// A date the calendar cannot answer for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {market} calendar covers {first} to {last}; {date} is outside it (add the year's \
     closures to [markets.calendar] or upgrade sigflow)"
)]
pub struct OutOfRange {
    pub market: Market,
    pub date: NaiveDate,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// An exception to the regular week.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exception {
    Closed(String),
    EarlyClose(NaiveTime, String),
}

/// Ad-hoc changes from config, applied over the bundled table.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Extra full-day closures.
    pub closed: Vec<NaiveDate>,
    /// Extra early closes, at the given local time.
    pub early_close: Vec<(NaiveDate, NaiveTime)>,
    /// Let the table run to this date (the operator lists that year's closures above).
    pub covered_through: Option<NaiveDate>,
}

/// The calendars of every market sigflow knows.
#[derive(Debug, Clone)]
pub struct Calendar {
    nyse: BTreeMap<NaiveDate, Exception>,
    first: NaiveDate,
    last: NaiveDate,
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("a valid time")
}

fn ny(date: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
    // Session times are never in the DST gap (02:00-03:00), so `earliest` is exact.
    New_York
        .from_local_datetime(&date.and_time(t))
        .earliest()
        .expect("09:30-16:00 New York exists every day")
        .with_timezone(&Utc)
}

impl Calendar {
    /// The bundled table with `overrides` applied; errors name the bad row.
    pub fn new(overrides: &Overrides) -> Result<Calendar, String> {
        let mut nyse = BTreeMap::new();
        for (n, line) in NYSE_TABLE.lines().enumerate() {
            if line.starts_with('#') || line.starts_with("date,") || line.trim().is_empty() {
                continue;
            }
            let (date, ex) =
                parse_row(line).map_err(|e| format!("nyse.csv line {}: {e}", n + 1))?;
            nyse.insert(date, ex);
        }
        for d in &overrides.closed {
            nyse.insert(*d, Exception::Closed("closure from config".into()));
        }
        for (d, t) in &overrides.early_close {
            nyse.insert(
                *d,
                Exception::EarlyClose(*t, "early close from config".into()),
            );
        }
        let first = NaiveDate::from_ymd_opt(2000, 1, 1).expect("date");
        let mut last = NaiveDate::from_ymd_opt(2027, 12, 31).expect("date");
        if let Some(t) = overrides.covered_through {
            last = last.max(t);
        }
        Ok(Calendar { nyse, first, last })
    }

    /// The bundled table alone.
    pub fn bundled() -> Calendar {
        Calendar::new(&Overrides::default()).expect("the bundled calendar parses (tested)")
    }

    /// The dates the NYSE table answers for.
    pub fn nyse_coverage(&self) -> (NaiveDate, NaiveDate) {
        (self.first, self.last)
    }

    fn check(&self, market: Market, date: NaiveDate) -> Result<(), OutOfRange> {
        if market == Market::Nyse && (date < self.first || date > self.last) {
            return Err(OutOfRange {
                market,
                date,
                first: self.first,
                last: self.last,
            });
        }
        Ok(())
    }

    /// The session on `date`, or None when the market is closed that day.
    pub fn session(&self, market: Market, date: NaiveDate) -> Result<Option<Session>, OutOfRange> {
        self.check(market, date)?;
        Ok(match market {
            Market::Crypto => {
                let open = Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN));
                Some(Session {
                    market,
                    date,
                    open,
                    close: open + chrono::Duration::days(1),
                    early_close: false,
                })
            }
            Market::Nyse => {
                if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                    return Ok(None);
                }
                let (close, early) = match self.nyse.get(&date) {
                    Some(Exception::Closed(_)) => return Ok(None),
                    Some(Exception::EarlyClose(t, _)) => (*t, true),
                    None => (hm(16, 0), false),
                };
                Some(Session {
                    market,
                    date,
                    open: ny(date, hm(9, 30)),
                    close: ny(date, close),
                    early_close: early,
                })
            }
        })
    }

    /// Why the market is closed on `date` (holiday name), or its early-close reason.
    pub fn note(&self, market: Market, date: NaiveDate) -> Option<&str> {
        if market != Market::Nyse {
            return None;
        }
        match self.nyse.get(&date)? {
            Exception::Closed(r) | Exception::EarlyClose(_, r) => Some(r),
        }
    }

    /// Every session from `from` to `to`, both included.
    pub fn sessions(
        &self,
        market: Market,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Session>, OutOfRange> {
        let mut out = Vec::new();
        let mut d = from;
        while d <= to {
            if let Some(s) = self.session(market, d)? {
                out.push(s);
            }
            d = d.succ_opt().expect("date in range");
        }
        Ok(out)
    }

    /// The first session on or after `date`.
    pub fn session_on_or_after(
        &self,
        market: Market,
        date: NaiveDate,
    ) -> Result<Session, OutOfRange> {
        let mut d = date;
        loop {
            if let Some(s) = self.session(market, d)? {
                return Ok(s);
            }
            d = d.succ_opt().expect("date in range");
        }
    }

    /// The `n`-th session after the session on `date` (n = 0: that session).
    pub fn nth_session_after(
        &self,
        market: Market,
        date: NaiveDate,
        n: u32,
    ) -> Result<Session, OutOfRange> {
        let mut s = self.session_on_or_after(market, date)?;
        for _ in 0..n {
            s = self.session_on_or_after(market, s.date + Days::new(1))?;
        }
        Ok(s)
    }

    /// The session whose close is the latest at or before `t` (the last finished one).
    pub fn last_closed(&self, market: Market, t: DateTime<Utc>) -> Result<Session, OutOfRange> {
        let mut d = t.with_timezone(&New_York).date_naive();
        if market == Market::Crypto {
            d = t.date_naive();
        }
        loop {
            if let Some(s) = self.session(market, d)?
                && s.close <= t
            {
                return Ok(s);
            }
            d = d.pred_opt().expect("date in range");
        }
    }

    /// The session of the first official price known strictly after `t`, and which
    /// price it is: the next open if `t` is before a session's open, else that
    /// session's close if `t` is inside it, else the next session's open.
    pub fn entry_after(
        &self,
        market: Market,
        t: DateTime<Utc>,
    ) -> Result<(Session, Point), OutOfRange> {
        let local = match market {
            Market::Nyse => t.with_timezone(&New_York).date_naive(),
            Market::Crypto => t.date_naive(),
        };
        let mut d = local;
        loop {
            if let Some(s) = self.session(market, d)? {
                if t < s.open {
                    return Ok((s, Point::Open));
                }
                if t < s.close {
                    return Ok((s, Point::Close));
                }
            }
            d = d.succ_opt().expect("date in range");
        }
    }
}

/// Which of a session's official prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Point {
    Open,
    Close,
}

impl Point {
    pub fn as_str(self) -> &'static str {
        match self {
            Point::Open => "open",
            Point::Close => "close",
        }
    }

    /// When the price becomes known.
    pub fn at(self, s: &Session) -> DateTime<Utc> {
        match self {
            Point::Open => s.open,
            Point::Close => s.close,
        }
    }
}

fn parse_row(line: &str) -> Result<(NaiveDate, Exception), String> {
    let mut f = line.splitn(4, ',');
    let date = f.next().unwrap_or_default();
    let kind = f.next().unwrap_or_default();
    let close = f.next().unwrap_or_default();
    let reason = f.next().unwrap_or_default().to_string();
    let date =
        NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|e| format!("date {date:?}: {e}"))?;
    match kind {
        "closed" => Ok((date, Exception::Closed(reason))),
        "early" => {
            let t = NaiveTime::parse_from_str(close, "%H:%M")
                .map_err(|e| format!("close {close:?}: {e}"))?;
            Ok((date, Exception::EarlyClose(t, reason)))
        }
        other => Err(format!("kind {other:?} (closed or early)")),
    }
}

/// `"2026-12-24"` or `"2026-12-24 13:00"` (an early close), as config writes them.
pub fn parse_override(s: &str) -> Result<(NaiveDate, Option<NaiveTime>), String> {
    let (d, t) = match s.trim().split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s.trim(), None),
    };
    let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .map_err(|_| format!("{s:?}: a date is YYYY-MM-DD"))?;
    let time = t
        .map(|t| {
            NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| format!("{s:?}: a close time is HH:MM"))
        })
        .transpose()?;
    Ok((date, time))
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
