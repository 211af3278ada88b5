//! Tiingo end-of-day prices (key). `open`…`close` are the prices as traded; `splitFactor`
//! and `divCash` are the day's corporate actions; the `adj*` columns are ignored.
//! No recorded answer was available: the shape follows Tiingo's documented field names.

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::Value;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

use super::{
    PriceError, PriceProvider, ProviderSettings, ProviderSpec, Web, by_status, dashed, json_rows,
    num, tidy,
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
    Ok(Box::new(Tiingo(Web::new(&SPEC, s)?)))
}

struct Tiingo(Web);

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
            &format!("{}/tiingo/daily/{}/prices", self.0.base, dashed(asset)),
            [
                ("startDate", from.to_string()),
                ("endDate", to.to_string()),
                ("format", "json".into()),
            ],
        )
        .map_err(|e| PriceError::Config(format!("tiingo: {e}")))?;
        let auth = format!("Token {}", self.0.key);
        let a = self
            .0
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
    let rows = json_rows("tiingo", status, body, |_, v| {
        let detail = v.get("detail").and_then(Value::as_str)?;
        detail
            .to_ascii_lowercase()
            .contains("not found")
            .then(|| detail.to_string())
    })?;
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
        let volume = f("volume").unwrap_or(0.0);
        bars.push(
            Bar::fetched(session, open, high, low, close, volume)
                .with_actions(f("splitFactor"), f("divCash")),
        );
    }
    Ok(tidy(bars))
}
