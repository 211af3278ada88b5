//! Alpha Vantage `TIME_SERIES_DAILY` (key). The free tier gives 25 requests a day and
//! only the last 100 sessions (`outputsize=compact`; `full` is premium), so it is a
//! refresh provider, not a backfill one. Errors arrive as HTTP 200 bodies:
//! `Information` (daily limit, burst, premium), `Note` (the older per-minute limit),
//! `Error Message` (an invalid call — usually an unknown symbol). Values are strings,
//! newest first; the adjusted series' extra columns (dividend, split coefficient) are
//! read when present.

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::Value;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

use super::{
    PriceError, PriceProvider, ProviderSettings, ProviderSpec, Web, by_status, num, snippet, tidy,
};

pub const SPEC: ProviderSpec = ProviderSpec {
    name: "alphavantage",
    about: "Alpha Vantage daily series (key; free tier: 25 requests/day, last 100 sessions only)",
    markets: &[Market::Nyse],
    default_base_url: "https://www.alphavantage.co",
    key_env: Some("ALPHAVANTAGE_API_KEY"),
    default_max_rps: 0.2,
    build,
};

fn build(s: ProviderSettings) -> Result<Box<dyn PriceProvider>, String> {
    Ok(Box::new(AlphaVantage(Web::new(&SPEC, s)?)))
}

struct AlphaVantage(Web);

#[async_trait]
impl PriceProvider for AlphaVantage {
    fn name(&self) -> &'static str {
        "alphavantage"
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
                "alphavantage: no {market} series"
            )));
        }
        let url = reqwest::Url::parse_with_params(
            &format!("{}/query", self.0.base),
            [
                ("function", "TIME_SERIES_DAILY"),
                ("symbol", asset),
                ("outputsize", "compact"),
                ("apikey", &self.0.key),
            ],
        )
        .map_err(|e| PriceError::Config(format!("alphavantage: {e}")))?;
        let a = self.0.http.get(url.as_str(), &[]).await?;
        let bars = parse(a.status, &a.body)?;
        Ok(bars
            .into_iter()
            .filter(|b| b.session >= from && b.session <= to)
            .collect())
    }
}

pub fn parse(status: u16, body: &[u8]) -> Result<Vec<Bar>, PriceError> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if (200..300).contains(&status) => {
            return Err(PriceError::Unavailable(format!(
                "alphavantage: not JSON ({})",
                snippet(body)
            )));
        }
        Err(_) => return Err(by_status("alphavantage", status, body, None)),
    };
    if let Some(info) = v.get("Information").and_then(Value::as_str) {
        let lower = info.to_ascii_lowercase();
        let msg = format!("alphavantage: {info}");
        return Err(
            if lower.contains("premium") && !lower.contains("rate limit") {
                PriceError::Unavailable(msg)
            } else if lower.contains("per day") || lower.contains("daily") {
                PriceError::Throttled {
                    message: msg,
                    wait: Duration::from_secs(6 * 3600),
                }
            } else if lower.contains("burst") || lower.contains("per second") {
                PriceError::Throttled {
                    message: msg,
                    wait: Duration::from_secs(2),
                }
            } else {
                PriceError::Throttled {
                    message: msg,
                    wait: Duration::from_secs(60),
                }
            },
        );
    }
    if let Some(note) = v.get("Note").and_then(Value::as_str) {
        return Err(PriceError::Throttled {
            message: format!("alphavantage: {note}"),
            wait: Duration::from_secs(60),
        });
    }
    if let Some(e) = v.get("Error Message").and_then(Value::as_str) {
        return Err(PriceError::NotFound(format!("alphavantage: {e}")));
    }
    if !(200..300).contains(&status) {
        return Err(by_status("alphavantage", status, body, None));
    }
    let Some(series) = v.get("Time Series (Daily)").and_then(Value::as_object) else {
        return Err(PriceError::NotFound(format!(
            "alphavantage: no daily series ({})",
            snippet(body)
        )));
    };
    let mut bars = Vec::with_capacity(series.len());
    for (date, row) in series {
        let Ok(session) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
            continue;
        };
        let f = |k: &str| row.get(k).and_then(num);
        let (Some(open), Some(high), Some(low), Some(close)) =
            (f("1. open"), f("2. high"), f("3. low"), f("4. close"))
        else {
            continue;
        };
        let volume = f("5. volume").or(f("6. volume")).unwrap_or(0.0);
        bars.push(
            Bar::fetched(session, open, high, low, close, volume)
                .with_actions(f("8. split coefficient"), f("7. dividend amount")),
        );
    }
    Ok(tidy(bars))
}
