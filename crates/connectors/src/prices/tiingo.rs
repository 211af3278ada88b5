//! Tiingo end-of-day prices (key). `open`…`close` are the prices as traded; `splitFactor`
//! and `divCash` are the day's corporate actions; the `adj*` columns are ignored.
//! No recorded answer was available: the shape follows Tiingo's documented field names.

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::Value;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

use super::{
    PriceError, PriceProvider, ProviderSettings, ProviderSpec, Transport, by_status, dashed, num,
    snippet, tidy,
};

pub const SPEC: ProviderSpec = ProviderSpec {
    name: "tiingo",
    about: "Tiingo end-of-day prices (key; full history, raw prices with split factors)",
    markets: &[Market::Nyse],
    default_base_url: "https://api.tiingo.com",
    key_env: Some("TIINGO_API_KEY"),
    default_max_rps: 1.0,
    build,
};

fn build(s: ProviderSettings) -> Result<Box<dyn PriceProvider>, String> {
    let key = s
        .key
        .clone()
        .ok_or("tiingo: no API key (set TIINGO_API_KEY or key_env)")?;
    Ok(Box::new(Tiingo {
        http: Transport::new("tiingo", &s)?,
        base: s.base_url,
        key,
    }))
}

struct Tiingo {
    http: Transport,
    base: String,
    key: String,
}

#[async_trait]
impl PriceProvider for Tiingo {
    fn name(&self) -> &'static str {
        "tiingo"
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
                "tiingo: no {market} daily series"
            )));
        }
        let url = reqwest::Url::parse_with_params(
            &format!("{}/tiingo/daily/{}/prices", self.base, dashed(asset)),
            [
                ("startDate", from.to_string()),
                ("endDate", to.to_string()),
                ("format", "json".into()),
            ],
        )
        .map_err(|e| PriceError::Config(format!("tiingo: {e}")))?;
        let auth = format!("Token {}", self.key);
        let a = self
            .http
            .get(url.as_str(), &[("Authorization", &auth)])
            .await?;
        let r = a.retry_after();
        if a.status == 429 {
            return Err(by_status("tiingo", 429, &a.body, r));
        }
        parse(a.status, &a.body)
    }
}

pub fn parse(status: u16, body: &[u8]) -> Result<Vec<Bar>, PriceError> {
    let v: Result<Value, _> = serde_json::from_slice(body);
    if !(200..300).contains(&status) {
        let detail = v
            .as_ref()
            .ok()
            .and_then(|v| v.get("detail"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if detail.to_ascii_lowercase().contains("not found") {
            return Err(PriceError::NotFound(format!("tiingo: {detail}")));
        }
        return Err(by_status("tiingo", status, body, None));
    }
    let Ok(Value::Array(rows)) = v else {
        return Err(PriceError::Unavailable(format!(
            "tiingo: not a JSON array ({})",
            snippet(body)
        )));
    };
    let mut bars = Vec::with_capacity(rows.len());
    for row in &rows {
        let date = row["date"].as_str().unwrap_or("");
        let Ok(session) = NaiveDate::parse_from_str(date.get(..10).unwrap_or(""), "%Y-%m-%d")
        else {
            continue;
        };
        let f = |k: &str| row.get(k).and_then(num);
        let (Some(open), Some(high), Some(low), Some(close)) =
            (f("open"), f("high"), f("low"), f("close"))
        else {
            continue;
        };
        bars.push(Bar {
            session,
            open,
            high,
            low,
            close,
            volume: f("volume").unwrap_or(0.0),
            split: f("splitFactor").filter(|s| *s > 0.0).unwrap_or(1.0),
            dividend: f("divCash").unwrap_or(0.0),
            is_final: false,
        });
    }
    Ok(tidy(bars))
}
