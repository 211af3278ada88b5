//! Earnings calendars: Nasdaq (display strings: "$0.46", "$71,008,400,000", "N/A"),
//! Finnhub (numbers, nulls) and Alpha Vantage (CSV, 6 or 7 columns, CRLF or LF).
//!
//! One event per (symbol, report date) whatever the provider: the id is built from
//! those two, so the same report seen by two providers is one item (the latest
//! harvest wins), and a calendar re-polled every day updates it as actuals arrive.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::{
    ItemError, Normalized, Normalizer, PayloadError, RawContext, base, item_err, parse_json, str_of,
};
use crate::model::{Author, Content};

pub struct Nasdaq;
pub struct Finnhub;
pub struct AlphaVantage;

/// One calendar row, provider-neutral.
#[derive(Default)]
struct Report {
    symbol: String,
    company: Option<String>,
    date: Option<NaiveDate>,
    /// pre-market, after-hours, during-market or unknown.
    time: &'static str,
    fiscal_period: Option<String>,
    eps_estimate: Option<f64>,
    eps_actual: Option<f64>,
    surprise_pct: Option<f64>,
    revenue_estimate: Option<f64>,
    revenue_actual: Option<f64>,
    market_cap: Option<f64>,
    analysts: Option<u64>,
    currency: Option<String>,
}

impl Report {
    fn item(
        self,
        i: usize,
        raw: &Value,
        provider: &str,
        cx: &RawContext,
    ) -> Result<Content, ItemError> {
        if self.symbol.is_empty() {
            return Err(item_err(i, "row has no symbol", raw));
        }
        let date = self
            .date
            .ok_or_else(|| item_err(i, "row has no readable report date", raw))?;
        let happened: DateTime<Utc> = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let mut c = base("earnings", &format!("{}:{date}", self.symbol), cx, happened);
        c.disclosed_at = Some(happened);
        c.author = Some(Author {
            id: None,
            handle: provider.to_string(),
            name: Some(format!("{provider} earnings calendar")),
        });
        let when = match self.time {
            "pre-market" => " before the open",
            "after-hours" => " after the close",
            "during-market" => " during market hours",
            _ => "",
        };
        let name = self.company.clone().unwrap_or_else(|| self.symbol.clone());
        let mut text = format!(
            "${} ({name}) reports{} earnings on {date}{when}",
            self.symbol,
            self.fiscal_period
                .as_ref()
                .map_or(String::new(), |p| format!(" {p}"))
        );
        if let Some(e) = self.eps_estimate {
            text.push_str(&format!("; EPS estimate {e}"));
        }
        if let Some(a) = self.eps_actual {
            text.push_str(&format!("; EPS actual {a}"));
            if let Some(s) = self.surprise_pct {
                let word = if s >= 0.0 { "beat" } else { "miss" };
                text.push_str(&format!(" ({word}, surprise {s:+}%)"));
            }
        }
        text.push('.');
        c.title = Some(format!("${} earnings {date}", self.symbol));
        c.text = text;
        c.cashtags = vec![self.symbol.clone()];
        c.extras.insert(
            "earnings".into(),
            json!({
                "symbol": self.symbol, "company": self.company, "report_date": date.to_string(),
                "time": self.time, "fiscal_period": self.fiscal_period,
                "eps_estimate": self.eps_estimate, "eps_actual": self.eps_actual,
                "surprise_pct": self.surprise_pct, "revenue_estimate": self.revenue_estimate,
                "revenue_actual": self.revenue_actual, "market_cap": self.market_cap,
                "analysts": self.analysts, "currency": self.currency, "provider": provider,
            }),
        );
        Ok(c)
    }
}

/// Nasdaq's display numbers: "$0.46", "$(0.12)" (negative), "6.98", "$71,008,400,000";
/// "N/A", "" and "--" are absent.
fn display_number(s: Option<&str>) -> Option<f64> {
    let s = s?.trim();
    let neg = s.starts_with('-') || (s.contains('(') && s.contains(')'));
    let digits: String = s
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: f64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

impl Normalizer for Nasdaq {
    fn name(&self) -> &'static str {
        "nasdaq-earnings"
    }
    fn platform(&self) -> &'static str {
        "earnings"
    }
    fn ext(&self) -> &'static str {
        "json"
    }
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let v = parse_json(body)?;
        if let Some(code) = v.pointer("/status/rCode").and_then(Value::as_i64)
            && code != 200
        {
            return Err(PayloadError(format!(
                "Nasdaq answered rCode {code}: {}",
                v.pointer("/status/bCodeMessage").unwrap_or(&Value::Null)
            )));
        }
        let data = v
            .get("data")
            .filter(|d| d.is_object())
            .ok_or_else(|| PayloadError("not a Nasdaq calendar: no data object".into()))?;
        // The date the calendar is for: "Fri, Nov 3, 2023".
        let day = str_of(data, "asOf").and_then(|s| {
            NaiveDate::parse_from_str(s.trim(), "%a, %b %e, %Y")
                .or_else(|_| NaiveDate::parse_from_str(s.trim(), "%a, %b %d, %Y"))
                .ok()
        });
        let rows = match data.get("rows") {
            Some(Value::Array(r)) => r.as_slice(),
            // A day without reports: rows is null.
            Some(Value::Null) | None => &[],
            Some(_) => return Err(PayloadError("Nasdaq rows is not a list".into())),
        };
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Report {
                    symbol: str_of(r, "symbol")
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_uppercase(),
                    company: str_of(r, "name").map(String::from),
                    date: day,
                    time: match str_of(r, "time") {
                        Some("time-pre-market") => "pre-market",
                        Some("time-after-hours") => "after-hours",
                        _ => "unknown",
                    },
                    fiscal_period: str_of(r, "fiscalQuarterEnding").map(String::from),
                    eps_estimate: display_number(str_of(r, "epsForecast")),
                    eps_actual: display_number(str_of(r, "eps")),
                    surprise_pct: display_number(str_of(r, "surprise")),
                    market_cap: display_number(str_of(r, "marketCap")),
                    analysts: display_number(str_of(r, "noOfEsts")).map(|n| n as u64),
                    currency: Some("USD".into()),
                    ..Default::default()
                }
                .item(i, r, "nasdaq", cx)
            })
            .collect())
    }
}

impl Normalizer for Finnhub {
    fn name(&self) -> &'static str {
        "finnhub-earnings"
    }
    fn platform(&self) -> &'static str {
        "earnings"
    }
    fn ext(&self) -> &'static str {
        "json"
    }
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let v = parse_json(body)?;
        if let Some(e) = str_of(&v, "error") {
            return Err(PayloadError(format!("Finnhub error: {e}")));
        }
        let rows = v
            .get("earningsCalendar")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                PayloadError("not a Finnhub calendar: no earningsCalendar list".into())
            })?;
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let est = r.get("epsEstimate").and_then(Value::as_f64);
                let act = r.get("epsActual").and_then(Value::as_f64);
                Report {
                    symbol: str_of(r, "symbol").unwrap_or_default().to_ascii_uppercase(),
                    date: str_of(r, "date")
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
                    time: match str_of(r, "hour") {
                        Some("bmo") => "pre-market",
                        Some("amc") => "after-hours",
                        Some("dmh") => "during-market",
                        _ => "unknown",
                    },
                    fiscal_period: match (
                        r.get("quarter").and_then(Value::as_u64),
                        r.get("year").and_then(Value::as_u64),
                    ) {
                        (Some(q), Some(y)) => Some(format!("Q{q} {y}")),
                        _ => None,
                    },
                    eps_estimate: est,
                    eps_actual: act,
                    surprise_pct: match (est, act) {
                        (Some(e), Some(a)) if e != 0.0 => {
                            Some(((a - e) / e.abs() * 10_000.0).round() / 100.0)
                        }
                        _ => None,
                    },
                    revenue_estimate: r.get("revenueEstimate").and_then(Value::as_f64),
                    revenue_actual: r.get("revenueActual").and_then(Value::as_f64),
                    ..Default::default()
                }
                .item(i, r, "finnhub", cx)
            })
            .collect())
    }
}

impl Normalizer for AlphaVantage {
    fn name(&self) -> &'static str {
        "alphavantage-earnings"
    }
    fn platform(&self) -> &'static str {
        "earnings"
    }
    fn ext(&self) -> &'static str {
        "csv"
    }
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let text = std::str::from_utf8(body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body))
            .map_err(|e| PayloadError(format!("CSV is not UTF-8: {e}")))?;
        // The rate limit (and errors) arrive as JSON with HTTP 200.
        if let Some(msg) = alpha_vantage_notice(body) {
            return Err(PayloadError(format!("Alpha Vantage: {msg}")));
        }
        let mut lines = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty());
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| PayloadError("empty CSV".into()))?
            .split(',')
            .collect();
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let (Some(sym), Some(date)) = (col("symbol"), col("reportDate")) else {
            return Err(PayloadError(format!(
                "not an Alpha Vantage earnings calendar: header is `{}`",
                header.join(",")
            )));
        };
        let (name, fiscal, est, cur, tod) = (
            col("name"),
            col("fiscalDateEnding"),
            col("estimate"),
            col("currency"),
            col("timeOfTheDay"),
        );
        Ok(lines
            .enumerate()
            .map(|(i, line)| {
                let f = split_csv(line);
                let get = |c: Option<usize>| {
                    c.and_then(|c| f.get(c))
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                };
                let raw = Value::String(line.to_string());
                Report {
                    symbol: get(Some(sym)).unwrap_or_default().to_ascii_uppercase(),
                    company: get(name).map(String::from),
                    date: get(Some(date))
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
                    time: match get(tod) {
                        Some("pre-market") => "pre-market",
                        Some("post-market") | Some("after-hours") => "after-hours",
                        _ => "unknown",
                    },
                    fiscal_period: get(fiscal).map(|d| format!("period ending {d}")),
                    eps_estimate: get(est).and_then(|e| e.parse().ok()),
                    currency: get(cur).map(String::from),
                    ..Default::default()
                }
                .item(i, &raw, "alphavantage", cx)
            })
            .collect())
    }
}

/// Alpha Vantage's rate limit or error: JSON (`Information`, `Note` or `Error
/// Message`) sent with HTTP 200 where CSV was asked for. The source waits it out; the
/// normalizer refuses it as data.
pub fn alpha_vantage_notice(body: &[u8]) -> Option<String> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[start] != b'{' {
        return None;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Some("a body that looks like JSON but does not parse, instead of CSV".into());
    };
    Some(
        ["Information", "Note", "Error Message"]
            .iter()
            .find_map(|k| str_of(&v, k))
            .unwrap_or("unexpected JSON instead of CSV")
            .to_string(),
    )
}

/// One CSV line, honouring double quotes (company names hold commas).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::normalize::test_cx as cx;

    #[test]
    fn nasdaq_display_strings() {
        let body = br#"{"data":{"asOf":"Fri, Nov 3, 2023","headers":{},"rows":[
            {"eps":"$0.46","surprise":"6.98","time":"time-not-supplied","symbol":"ENB","name":"Enbridge Inc",
             "marketCap":"$71,008,400,000","fiscalQuarterEnding":"Sep/2023","epsForecast":"$0.43","noOfEsts":"6"},
            {"eps":"$(0.12)","surprise":"N/A","time":"time-pre-market","symbol":"XYZ","name":"X","marketCap":"",
             "fiscalQuarterEnding":"Sep/2023","epsForecast":"","noOfEsts":"N/A"}]},
            "message":null,"status":{"rCode":200,"bCodeMessage":null,"developerMessage":null}}"#;
        let items = Nasdaq.normalize(body, &cx()).unwrap();
        let e = &items[0].as_ref().unwrap().extras["earnings"];
        assert_eq!(e["eps_actual"], 0.46);
        assert_eq!(e["market_cap"], 71_008_400_000.0);
        assert_eq!(e["report_date"], "2023-11-03");
        let x = &items[1].as_ref().unwrap().extras["earnings"];
        assert_eq!(x["eps_actual"], -0.12);
        assert_eq!(x["surprise_pct"], Value::Null);
        assert_eq!(x["time"], "pre-market");
    }

    #[test]
    fn providers_converge_on_one_event() {
        let f = br#"{"earningsCalendar":[{"date":"2026-01-29","epsActual":2.84,"epsEstimate":2.7257,"hour":"amc","quarter":1,
            "revenueActual":143756000000,"revenueEstimate":141253997332,"symbol":"AAPL","year":2026}]}"#;
        let a = Finnhub.normalize(f, &cx()).unwrap();
        let csv = b"symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\nAAPL,\"Apple, Inc\",2026-01-29,2025-12-31,2.72,USD,post-market\r\n";
        let b = AlphaVantage.normalize(csv, &cx()).unwrap();
        let (a, b) = (a[0].as_ref().unwrap(), b[0].as_ref().unwrap());
        assert_eq!(a.id, b.id);
        assert_eq!(b.extras["earnings"]["company"], "Apple, Inc");
        assert_eq!(a.extras["earnings"]["surprise_pct"], 4.19);
    }

    #[test]
    fn alpha_vantage_limit_is_recognised_by_content() {
        let body =
            b"{\n    \"Information\": \"our standard API rate limit is 25 requests per day.\"\n}";
        assert!(alpha_vantage_notice(body).unwrap().contains("25 requests"));
        assert!(alpha_vantage_notice(b"symbol,name,reportDate\r\n").is_none());
    }

    #[test]
    fn alpha_vantage_rate_limit_is_a_payload_error() {
        let body = br#"{"Information": "our standard API rate limit is 25 requests per day."}"#;
        let e = AlphaVantage.normalize(body, &cx()).unwrap_err();
        assert!(e.0.contains("25 requests per day"));
    }
}
