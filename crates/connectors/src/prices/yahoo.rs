//! Yahoo Finance v8 chart (no key). Best effort only: since 2025 Yahoo answers 429 to
//! clients without a browser's TLS fingerprint, whatever their User-Agent, so it must
//! never be a market's only provider. Daily bars are stamped at the session open
//! (epoch seconds, `meta.exchangeTimezoneName` gives the zone); prices are split-
//! adjusted as of the fetch, so they are turned back into traded prices with the
//! splits of the same answer; events are read by their `date`, not their map key.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::{Bar, unadjust_splits};

use super::{
    PriceError, PriceProvider, ProviderSettings, ProviderSpec, Web, by_status, dashed, num,
    snippet, tidy,
};

pub const SPEC: ProviderSpec = ProviderSpec {
    name: "yahoo",
    about: "Yahoo Finance chart API, no key; best effort (Yahoo answers 429 to non-browser clients since 2025)",
    markets: &[Market::Nyse, Market::Crypto],
    default_base_url: "https://query2.finance.yahoo.com",
    key_env: None,
    default_max_rps: 0.5,
    build,
};

fn build(s: ProviderSettings) -> Result<Box<dyn PriceProvider>, String> {
    Ok(Box::new(Yahoo(Web::new(&SPEC, s)?)))
}

struct Yahoo(Web);

/// `BRK.B` → `BRK-B`; crypto `BTC` → `BTC-USD`.
pub fn symbol(asset: &str, market: Market) -> String {
    match market {
        Market::Crypto if !asset.contains('-') => format!("{asset}-USD"),
        _ => dashed(asset),
    }
}

#[async_trait]
impl PriceProvider for Yahoo {
    fn name(&self) -> &'static str {
        "yahoo"
    }

    async fn daily(
        &self,
        asset: &str,
        market: Market,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, PriceError> {
        let p1 = from
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp();
        let p2 = (to + chrono::Days::new(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp();
        let url = format!(
            "{}/v8/finance/chart/{}?period1={p1}&period2={p2}&interval=1d&events=div%2Csplits",
            self.0.base,
            symbol(asset, market)
        );
        let a = self.0.http.get(&url, &[]).await?;
        let wait = a.retry_after();
        parse(a.status, &a.body).map_err(|e| match e {
            PriceError::Throttled { message, wait: w } => PriceError::Throttled {
                message,
                wait: wait.unwrap_or(w),
            },
            e => e,
        })
    }
}

/// A chart answer → bars (traded prices), or why not.
pub fn parse(status: u16, body: &[u8]) -> Result<Vec<Bar>, PriceError> {
    if status == 429 {
        return Err(PriceError::Throttled {
            message: format!(
                "yahoo: HTTP 429 ({}); Yahoo blocks non-browser clients since 2025, configure another provider",
                snippet(body)
            ),
            wait: Duration::from_secs(900),
        });
    }
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if (200..300).contains(&status) => {
            return Err(PriceError::Unavailable(format!(
                "yahoo: not JSON ({})",
                snippet(body)
            )));
        }
        Err(_) => return Err(by_status("yahoo", status, body, None)),
    };
    let err = v
        .pointer("/chart/error")
        .or_else(|| v.pointer("/finance/error"));
    if let Some(e) = err.filter(|e| !e.is_null()) {
        let code = e["code"].as_str().unwrap_or("");
        let desc = e["description"].as_str().unwrap_or("");
        let msg = format!("yahoo: {code}: {desc}");
        return Err(match (status, code) {
            (404, _) | (_, "Not Found") => PriceError::NotFound(msg),
            (401 | 403, _) | (_, "Unauthorized") => PriceError::Unavailable(msg),
            (s, _) if s >= 500 => PriceError::Transient(msg),
            _ => PriceError::Unavailable(msg),
        });
    }
    if !(200..300).contains(&status) {
        return Err(by_status("yahoo", status, body, None));
    }
    let Some(r) = v.pointer("/chart/result/0") else {
        return Err(PriceError::NotFound("yahoo: no result".into()));
    };
    let granularity = r
        .pointer("/meta/dataGranularity")
        .and_then(Value::as_str)
        .unwrap_or("1d");
    if granularity != "1d" {
        return Err(PriceError::Unavailable(format!(
            "yahoo: the answer has {granularity} bars, not daily"
        )));
    }
    let tz: Option<chrono_tz::Tz> = r
        .pointer("/meta/exchangeTimezoneName")
        .and_then(Value::as_str)
        .and_then(|n| n.parse().ok());
    let offset = r
        .pointer("/meta/gmtoffset")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let date_of = |secs: i64| -> Option<NaiveDate> {
        let t: DateTime<Utc> = Utc.timestamp_opt(secs, 0).single()?;
        Some(match tz {
            Some(tz) => t.with_timezone(&tz).date_naive(),
            None => (t + chrono::Duration::seconds(offset)).date_naive(),
        })
    };
    let empty = Vec::new();
    let ts = r["timestamp"].as_array().unwrap_or(&empty);
    let q = &r["indicators"]["quote"][0];
    let col = |k: &str, i: usize| q[k].get(i).and_then(num);
    let mut bars = Vec::with_capacity(ts.len());
    for (i, t) in ts.iter().enumerate() {
        let (Some(session), Some(open), Some(high), Some(low), Some(close)) = (
            t.as_i64().and_then(date_of),
            col("open", i),
            col("high", i),
            col("low", i),
            col("close", i),
        ) else {
            continue; // a null bar (a halt): no price that day
        };
        let volume = col("volume", i).unwrap_or(0.0);
        bars.push(Bar::fetched(session, open, high, low, close, volume));
    }
    let mut bars = tidy(bars);
    if let Some(splits) = r.pointer("/events/splits").and_then(Value::as_object) {
        for s in splits.values() {
            let (Some(d), Some(n), Some(den)) = (
                s["date"].as_i64().and_then(date_of),
                num(&s["numerator"]),
                num(&s["denominator"]),
            ) else {
                continue;
            };
            if let Some(b) = bars
                .iter_mut()
                .find(|b| b.session == d)
                .filter(|_| n > 0.0 && den > 0.0)
            {
                b.split = n / den;
            }
        }
    }
    if let Some(divs) = r.pointer("/events/dividends").and_then(Value::as_object) {
        for x in divs.values() {
            let (Some(d), Some(a)) = (x["date"].as_i64().and_then(date_of), num(&x["amount"]))
            else {
                continue;
            };
            if let Some(b) = bars.iter_mut().find(|b| b.session == d) {
                b.dividend = a;
            }
        }
    }
    unadjust_splits(&mut bars);
    Ok(bars)
}
