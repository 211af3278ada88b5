//! Kraken public OHLC (no key) for crypto: `{"error": [], "result": {"<pair>": [[time,
//! "open", "high", "low", "close", "vwap", "volume", count], …], "last": <s>}}`. Kraken
//! names assets its own way (`BTC` is `XBT`, `DOGE` is `XDG`) and answers under its own
//! pair name (`XXBTZUSD` for `XBTUSD`): the one array in `result` is read, whatever its
//! key. Prices are strings; the newest candle is the running day; errors come in
//! `error[]` with HTTP 200 (`EQuery:Unknown asset pair`, `EAPI:Rate limit exceeded`,
//! `EService:Unavailable`). At most the 720 newest candles are served: a daily series
//! reaches about two years back.

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::Value;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

use super::{
    Candle, PriceError, PriceProvider, ProviderSettings, ProviderSpec, Web, by_status, candles,
    snippet,
};

pub const SPEC: ProviderSpec = ProviderSpec {
    name: "kraken",
    about: "Kraken daily OHLC for crypto (no key; about two years back)",
    markets: &[Market::Crypto],
    default_base_url: "https://api.kraken.com",
    key_env: None,
    default_max_rps: 0.5,
    build,
};

fn build(s: ProviderSettings) -> Result<Box<dyn PriceProvider>, String> {
    Ok(Box::new(Kraken(Web::new(&SPEC, s)?)))
}

struct Kraken(Web);

/// `BTC` → `XBTUSD`, `DOGE` → `XDGUSD`, `ETH` → `ETHUSD` (`BTC-USD` too).
pub fn pair(asset: &str) -> String {
    let base = asset
        .split('-')
        .next()
        .unwrap_or(asset)
        .to_ascii_uppercase();
    let base = match base.as_str() {
        "BTC" => "XBT".to_string(),
        "DOGE" => "XDG".to_string(),
        _ => base,
    };
    format!("{base}USD")
}

#[async_trait]
impl PriceProvider for Kraken {
    fn name(&self) -> &'static str {
        "kraken"
    }

    async fn daily(
        &self,
        asset: &str,
        market: Market,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, PriceError> {
        if market != Market::Crypto {
            return Err(PriceError::Unavailable("kraken: crypto only".into()));
        }
        // `since` is exclusive: ask from the day before.
        let since = from
            .pred_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(0, |t| t.and_utc().timestamp());
        let url = format!(
            "{}/0/public/OHLC?pair={}&interval=1440&since={since}",
            self.0.base,
            pair(asset)
        );
        let a = self.0.http.get(&url, &[]).await?;
        if a.status == 429 {
            return Err(by_status("kraken", 429, &a.body, a.retry_after()));
        }
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
                "kraken: not JSON ({})",
                snippet(body)
            )));
        }
        Err(_) => return Err(by_status("kraken", status, body, None)),
    };
    let errors: Vec<&str> = v["error"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(e) = errors.first() {
        let msg = format!("kraken: {}", errors.join("; "));
        return Err(if e.starts_with("EQuery:Unknown asset pair") {
            PriceError::NotFound(msg)
        } else if e.contains("Rate limit") || e.contains("Too many requests") {
            PriceError::Throttled {
                message: msg,
                wait: Duration::from_secs(60),
            }
        } else if e.starts_with("EService") || e.starts_with("EGeneral:Internal") {
            PriceError::Transient(msg)
        } else {
            PriceError::Unavailable(msg)
        });
    }
    if !(200..300).contains(&status) {
        return Err(by_status("kraken", status, body, None));
    }
    let Some(rows) = v["result"]
        .as_object()
        .and_then(|r| r.iter().find(|(k, _)| *k != "last"))
        .and_then(|(_, rows)| rows.as_array())
    else {
        return Err(PriceError::NotFound(
            "kraken: no series in the answer".into(),
        ));
    };
    Ok(candles(
        rows,
        Candle {
            open: 1,
            high: 2,
            low: 3,
            close: 4,
            volume: 6,
        },
    ))
}
