//! Coinbase Exchange daily candles (no key) for crypto: `[time, low, high, open, close,
//! volume]` — low before high, open fourth; newest first; at most 300 per request, so a
//! long range is asked in pieces. A candle is one UTC day.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use serde_json::Value;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

use super::{
    Candle, PriceError, PriceProvider, ProviderSettings, ProviderSpec, Web, by_status, candles,
    json_rows, tidy,
};

pub const SPEC: ProviderSpec = ProviderSpec {
    name: "coinbase",
    about: "Coinbase Exchange daily candles for crypto (no key)",
    markets: &[Market::Crypto],
    default_base_url: "https://api.exchange.coinbase.com",
    key_env: None,
    default_max_rps: 3.0,
    build,
};

const MAX_CANDLES: u64 = 300;

fn build(s: ProviderSettings) -> Result<Box<dyn PriceProvider>, String> {
    Ok(Box::new(Coinbase(Web::new(&SPEC, s)?)))
}

struct Coinbase(Web);

/// `BTC` → `BTC-USD`.
pub fn product(asset: &str) -> String {
    if asset.contains('-') {
        asset.to_string()
    } else {
        format!("{asset}-USD")
    }
}

#[async_trait]
impl PriceProvider for Coinbase {
    fn name(&self) -> &'static str {
        "coinbase"
    }

    async fn daily(
        &self,
        asset: &str,
        market: Market,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, PriceError> {
        if market != Market::Crypto {
            return Err(PriceError::Unavailable("coinbase: crypto only".into()));
        }
        let mut bars = Vec::new();
        let mut start = from;
        while start <= to {
            let end = (start + Days::new(MAX_CANDLES - 1)).min(to);
            let url = format!(
                "{}/products/{}/candles?granularity=86400&start={start}T00:00:00Z&end={end}T23:59:59Z",
                self.0.base,
                product(asset)
            );
            let a = self.0.http.get(&url, &[]).await?;
            if a.status == 429 {
                return Err(by_status(
                    "coinbase",
                    429,
                    &a.body,
                    a.retry_after().or(Some(Duration::from_secs(5))),
                ));
            }
            bars.extend(parse(a.status, &a.body)?);
            start = end + Days::new(1);
        }
        Ok(tidy(bars))
    }
}

pub fn parse(status: u16, body: &[u8]) -> Result<Vec<Bar>, PriceError> {
    let rows = json_rows("coinbase", status, body, |status, v| {
        let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
        (status == 404 || msg.eq_ignore_ascii_case("notfound")).then(|| msg.to_string())
    })?;
    Ok(candles(
        &rows,
        Candle {
            low: 1,
            high: 2,
            open: 3,
            close: 4,
            volume: 5,
        },
    ))
}
