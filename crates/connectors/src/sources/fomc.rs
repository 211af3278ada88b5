//! `fomc`: the Federal Open Market Committee's scheduled meetings as events, so that
//! rules and scores can line up with them. The Fed publishes the calendar only as an
//! HTML page, so sigflow bundles it as data (`data/fomc/meetings.tsv`, checked against
//! the page) and a user can point `calendar` at a newer file of the same shape.
//!
//! Each meeting is one item (platform `fomc`, id = the statement day) that happens at
//! 2:00 p.m. Eastern on the last day. The payload is `jsonl`; it is handed over again
//! only when the calendar changes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate, TimeZone, Utc, Weekday};
use serde_json::json;

use super::opts::Opts;
use super::{Payload, Poll, Source, SourceError};
use crate::sources::SourceConfig;

const BUNDLED: &str = include_str!("../../../../data/fomc/meetings.tsv");

struct Meeting {
    first: NaiveDate,
    last: NaiveDate,
    sep: bool,
}

fn parse(text: &str) -> Result<Vec<Meeting>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        match (
            f.first().and_then(|s| date(s)),
            f.get(1).and_then(|s| date(s)),
        ) {
            (Some(first), Some(last)) if first <= last => out.push(Meeting {
                first,
                last,
                sep: f.get(2).is_some_and(|s| s.trim() == "1"),
            }),
            _ => {
                return Err(format!(
                    "line {}: expected first_day<TAB>last_day<TAB>sep(0|1), got `{line}`",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

/// 2:00 p.m. in Washington on `day`, in UTC: US daylight time runs from the second
/// Sunday of March to the first Sunday of November.
fn statement_time(day: NaiveDate) -> chrono::DateTime<Utc> {
    let nth_sunday = |month: u32, n: u32| {
        let first = NaiveDate::from_ymd_opt(day.year(), month, 1).expect("valid month");
        let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
        first + chrono::Days::new(u64::from(to_sunday + 7 * (n - 1)))
    };
    let dst = day >= nth_sunday(3, 2) && day < nth_sunday(11, 1);
    let hour = if dst { 18 } else { 19 };
    Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).expect("valid time"))
}

fn body(meetings: &[Meeting]) -> Vec<u8> {
    let mut out = String::new();
    for m in meetings {
        let at = statement_time(m.last);
        let span = if m.first == m.last {
            m.last.format("%B %-d, %Y").to_string()
        } else if m.first.month() == m.last.month() {
            format!("{}–{}", m.first.format("%B %-d"), m.last.format("%-d, %Y"))
        } else {
            format!(
                "{} – {}",
                m.first.format("%B %-d"),
                m.last.format("%B %-d, %Y")
            )
        };
        let extra = if m.sep {
            ", with the Summary of Economic Projections"
        } else {
            ""
        };
        let weekday = match m.last.weekday() {
            Weekday::Sat | Weekday::Sun => " (a weekend: check the calendar)",
            _ => "",
        };
        let line = json!({
            "platform": "fomc",
            "id": m.last.to_string(),
            "title": format!("FOMC meeting {span}"),
            "text": format!("FOMC meeting {span}: policy statement at 2:00 p.m. ET on {}{extra}{weekday}.", m.last),
            "author": {"handle": "federalreserve", "name": "Federal Open Market Committee"},
            "url": "https://www.federalreserve.gov/monetarypolicy/fomccalendars.htm",
            "happened_at": at.to_rfc3339(),
            "tags": ["fomc", "monetary policy"],
            "extras": {"fomc": {"first_day": m.first.to_string(), "last_day": m.last.to_string(),
                "sep": m.sep, "statement_at": at.to_rfc3339()}},
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out.into_bytes()
}

struct Settings {
    calendar: Option<String>,
    interval: Duration,
}

fn read(cfg: &SourceConfig) -> (Settings, Vec<String>) {
    let mut o = Opts::new(cfg);
    let calendar = o.string("calendar");
    if let Some(p) = &calendar {
        match std::fs::read_to_string(p) {
            Ok(t) => {
                if let Err(e) = parse(&t) {
                    o.errors.push(format!("calendar `{p}`: {e}"));
                }
            }
            Err(e) => o.errors.push(format!("calendar `{p}`: {e}")),
        }
    }
    let s = Settings {
        calendar,
        interval: Duration::from_secs(o.uint("interval_secs", 86_400, 1, 604_800)),
    };
    (s, o.finish())
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    read(cfg).1
}

pub struct FomcSource {
    name: String,
    s: Settings,
}

impl FomcSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let (s, errs) = read(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        Ok(FomcSource {
            name: cfg.name.clone(),
            s,
        })
    }
}

#[async_trait]
impl Source for FomcSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        let text = match &self.s.calendar {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| SourceError::Transient(format!("calendar `{p}`: {e}")))?,
            None => BUNDLED.to_string(),
        };
        let meetings = parse(&text).map_err(SourceError::Fatal)?;
        let body = body(&meetings);
        let sha = crate::lake::sha256_hex(&body);
        if cursor == Some(sha.as_str()) {
            return Ok(Poll::Idle(self.s.interval));
        }
        Ok(Poll::Payloads {
            payloads: vec![Payload {
                format: "jsonl".into(),
                body,
                meta: serde_json::Map::new(),
            }],
            cursor: sha,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_calendar_and_statement_times() {
        let m = parse(BUNDLED).unwrap();
        assert!(m.len() >= 16);
        // January: standard time (UTC-5); June: daylight time (UTC-4).
        let jan = statement_time(NaiveDate::from_ymd_opt(2026, 1, 28).unwrap());
        assert_eq!(jan.to_rfc3339(), "2026-01-28T19:00:00+00:00");
        let jun = statement_time(NaiveDate::from_ymd_opt(2026, 6, 17).unwrap());
        assert_eq!(jun.to_rfc3339(), "2026-06-17T18:00:00+00:00");
        // The body is readable by the jsonl normalizer.
        let cx = crate::normalize::RawContext {
            fetched_by: "t",
            lake_key: "k",
            observed_at: Utc::now(),
        };
        let items = crate::normalize::find("jsonl")
            .unwrap()
            .normalize(&body(&m), &cx)
            .unwrap();
        assert!(items.iter().all(Result::is_ok));
        let c = items[9].as_ref().unwrap();
        assert_eq!(c.source, "fomc");
        assert!(
            c.text.contains("Summary of Economic Projections"),
            "{}",
            c.text
        );
        assert!(parse("2026-01-28\tnot a date\t0").is_err());
    }
}
