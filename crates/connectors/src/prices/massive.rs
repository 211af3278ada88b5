//! Massive (Polygon.io until 2025-10-30; `api.massive.com`, same fields) daily
//! aggregates (key). Bars are asked for unadjusted (`adjusted=false`): the traded
//! prices; the splits come from the reference endpoint, one more request per fetch.
//! A bar's `t` (ms) is read as a date in New York, which holds whether it marks the
//! start of the day or the close.

use async_trait::async_trait;
use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::America::New_York;
use serde_json::Value;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

use super::{
    PriceError, PriceProvider, ProviderSettings, ProviderSpec, Web, by_status, num, snippet, tidy,
};

pub const SPEC: ProviderSpec = ProviderSpec {
    name: "massive",
    about: "Massive (formerly Polygon.io) daily aggregates, unadjusted, with splits (key)",
    markets: &[Market::Nyse],
    default_base_url: "https://api.massive.com",
    key_env: Some("MASSIVE_API_KEY"),
    default_max_rps: 0.08,
    build,
};

fn build(s: ProviderSettings) -> Result<Box<dyn PriceProvider>, String> {
    Ok(Box::new(Massive(Web::new(&SPEC, s)?)))
}

struct Massive(Web);

#[async_trait]
impl PriceProvider for Massive {
    fn name(&self) -> &'static str {
        "massive"
    }

    async fn daily(
        &self,
        asset: &str,
        market: Market,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, PriceError> {
        if market != Market::Nyse {
            return Err(PriceError::Unavailable(format!(
                "massive: {market} is not configured"
            )));
        }
        let url = reqwest::Url::parse_with_params(
            &format!(
                "{}/v2/aggs/ticker/{asset}/range/1/day/{from}/{to}",
                self.0.base
            ),
            [
                ("adjusted", "false"),
                ("sort", "asc"),
                ("limit", "50000"),
                ("apiKey", &self.0.key),
            ],
        )
        .map_err(|e| PriceError::Config(format!("massive: {e}")))?;
        let a = self.0.http.get(url.as_str(), &[]).await?;
        let mut bars = match a.status {
            429 => return Err(by_status("massive", 429, &a.body, a.retry_after())),
            s => parse_aggs(s, &a.body, market)?,
        };
        if bars.is_empty() {
            return Ok(bars);
        }
        let url = reqwest::Url::parse_with_params(
            &format!("{}/v3/reference/splits", self.0.base),
            [
                ("ticker", asset),
                ("execution_date.gte", &from.to_string()),
                ("execution_date.lte", &to.to_string()),
                ("limit", "1000"),
                ("apiKey", &self.0.key),
            ],
        )
        .map_err(|e| PriceError::Config(format!("massive: {e}")))?;
        let a = self.0.http.get(url.as_str(), &[]).await?;
        for (date, ratio) in parse_splits(a.status, &a.body)? {
            if let Some(b) = bars.iter_mut().find(|b| b.session == date) {
                b.split = ratio;
            }
        }
        Ok(bars)
    }
}

/// An aggregates answer → bars.
pub fn parse_aggs(status: u16, body: &[u8], market: Market) -> Result<Vec<Bar>, PriceError> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if (200..300).contains(&status) => {
            return Err(PriceError::Unavailable(format!(
                "massive: not JSON ({})",
                snippet(body)
            )));
        }
        Err(_) => return Err(by_status("massive", status, body, None)),
    };
    let st = v["status"].as_str().unwrap_or("");
    if !(200..300).contains(&status) || matches!(st, "ERROR" | "NOT_AUTHORIZED") {
        let msg = v["message"].as_str().or(v["error"].as_str()).unwrap_or("");
        return Err(match (status, st) {
            (_, "NOT_AUTHORIZED") | (401 | 403, _) => {
                PriceError::Config(format!("massive: {st} {msg}; check the key and plan"))
            }
            (404, _) => PriceError::NotFound(format!("massive: {msg}")),
            _ => by_status("massive", status, body, None),
        });
    }
    let empty = Vec::new();
    let rows = v["results"].as_array().unwrap_or(&empty);
    let mut bars = Vec::with_capacity(rows.len());
    for r in rows {
        let (Some(t), Some(open), Some(high), Some(low), Some(close)) = (
            r["t"].as_i64(),
            num(&r["o"]),
            num(&r["h"]),
            num(&r["l"]),
            num(&r["c"]),
        ) else {
            continue;
        };
        let Some(at) = Utc.timestamp_millis_opt(t).single() else {
            continue;
        };
        let session = match market {
            Market::Nyse => at.with_timezone(&New_York).date_naive(),
            Market::Crypto => at.date_naive(),
        };
        let volume = num(&r["v"]).unwrap_or(0.0);
        bars.push(Bar::fetched(session, open, high, low, close, volume));
    }
    Ok(tidy(bars))
}

/// A splits reference answer → (execution date, new shares per old).
pub fn parse_splits(status: u16, body: &[u8]) -> Result<Vec<(NaiveDate, f64)>, PriceError> {
    if !(200..300).contains(&status) {
        return Err(by_status("massive", status, body, None));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        PriceError::Unavailable(format!("massive: splits not JSON ({})", snippet(body)))
    })?;
    let empty = Vec::new();
    Ok(v["results"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|r| {
            let d = NaiveDate::parse_from_str(r["execution_date"].as_str()?, "%Y-%m-%d").ok()?;
            let (from, to) = (num(&r["split_from"])?, num(&r["split_to"])?);
            (from > 0.0 && to > 0.0).then_some((d, to / from))
        })
        .collect())
}
