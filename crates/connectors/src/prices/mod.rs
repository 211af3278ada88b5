//! Price providers: one trait, one registry, one file per provider.
//!
//! A provider turns (asset, market, date range) into daily bars with raw prices and
//! the day's split and dividend, or a [`PriceError`] that says whether asking again
//! can help ([`PriceError::retryable`] — the one place that decides). Each file keeps
//! its parsing a pure function of (HTTP status, body), tested on recorded payloads.
//! [`chain::PriceChain`] tries the providers configured for a market in order, with a
//! circuit breaker per provider, and marks which bars are final.

pub mod alphavantage;
pub mod chain;
pub mod coinbase;
pub mod csv_dir;
pub mod demo;
pub mod kraken;
pub mod massive;
pub mod tiingo;
pub mod transport;
pub mod yahoo;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use sigflow_logic::markets::Market;
use sigflow_logic::markets::bars::Bar;

pub use chain::PriceChain;
pub use transport::Transport;

/// Why a provider gave no bars.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    /// The provider does not know the symbol ("No data found, symbol may be delisted").
    #[error("unknown symbol: {0}")]
    NotFound(String),
    /// It will not answer this: a premium-only feature, an HTML page instead of data,
    /// a market it does not cover. Another provider may.
    #[error("not available: {0}")]
    Unavailable(String),
    /// Too many requests: stay away for `wait`.
    #[error("rate limited: {message}")]
    Throttled { message: String, wait: Duration },
    /// Down, timed out, a 5xx: later.
    #[error("{0}")]
    Transient(String),
    /// The configuration is wrong (a missing or rejected key, a refused address).
    #[error("configuration: {0}")]
    Config(String),
}

impl PriceError {
    /// Whether asking the same provider again later can give a different answer.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            PriceError::Throttled { .. } | PriceError::Transient(_)
        )
    }

    /// The provider answered: there is no price for this (the asset's data is known
    /// to be absent rather than not fetched).
    pub fn is_answer(&self) -> bool {
        matches!(self, PriceError::NotFound(_))
    }
}

/// A source of daily bars.
#[async_trait]
pub trait PriceProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Bars of `asset` for sessions `from..=to` (raw prices; `is_final` is set by the
    /// chain, which knows the calendar).
    async fn daily(
        &self,
        asset: &str,
        market: Market,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, PriceError>;

    /// How far an answer for `..=to` speaks for the market: a web provider answers for
    /// the whole range (no bar on a session means none traded); a file only as far as
    /// it goes.
    fn answers_through(&self, to: NaiveDate, _bars: &[Bar]) -> Option<NaiveDate> {
        Some(to)
    }
}

/// What building a provider takes (from `[markets.provider.<name>]`).
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub base_url: String,
    pub key: Option<String>,
    pub dir: Option<PathBuf>,
    pub max_rps: f64,
    pub timeout: Duration,
    pub user_agent: String,
}

/// One kind of provider.
pub struct ProviderSpec {
    pub name: &'static str,
    pub about: &'static str,
    pub markets: &'static [Market],
    pub default_base_url: &'static str,
    /// The environment variable its API key is read from by default (None: no key).
    pub key_env: Option<&'static str>,
    pub default_max_rps: f64,
    pub build: fn(ProviderSettings) -> Result<Box<dyn PriceProvider>, String>,
}

/// Every provider sigflow has.
pub static PROVIDERS: &[ProviderSpec] = &[
    csv_dir::SPEC,
    tiingo::SPEC,
    massive::SPEC,
    alphavantage::SPEC,
    yahoo::SPEC,
    coinbase::SPEC,
    kraken::SPEC,
];

pub fn spec(name: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS.iter().find(|s| s.name == name)
}

/// Parse a recorded answer of `provider` (for `sigflow markets parse` and tests).
pub fn parse_recorded(
    provider: &str,
    status: u16,
    body: &[u8],
    market: Market,
) -> Result<Vec<Bar>, PriceError> {
    match provider {
        "yahoo" => yahoo::parse(status, body),
        "alphavantage" => alphavantage::parse(status, body),
        "tiingo" => tiingo::parse(status, body),
        "massive" => massive::parse_aggs(status, body, market),
        "coinbase" => coinbase::parse(status, body),
        "kraken" => kraken::parse(status, body),
        "csv" => csv_dir::parse(body),
        other => Err(PriceError::Config(format!("unknown provider {other:?}"))),
    }
}

/// A symbol with a share class written the way a provider wants it (`BRK.B` → `BRK-B`).
pub(crate) fn dashed(asset: &str) -> String {
    asset.replace(['.', '/'], "-")
}

/// What a web provider holds: its transport, its base URL and (for keyed ones) its key.
pub(crate) struct Web {
    pub http: Transport,
    pub base: String,
    pub key: String,
}

impl Web {
    /// `key_env` set: the key is required (a provider without it is left out).
    pub(crate) fn new(spec: &ProviderSpec, s: ProviderSettings) -> Result<Web, String> {
        let key = match (spec.key_env, s.key.clone()) {
            (Some(var), None) => {
                return Err(format!("{}: no API key (set {var} or key_env)", spec.name));
            }
            (_, k) => k.unwrap_or_default(),
        };
        Ok(Web {
            http: Transport::new(spec.name, &s)?,
            base: s.base_url,
            key,
        })
    }
}

/// A JSON array answer; an error answer becomes `NotFound` when `not_found` says so
/// from its parsed body, else what its status means.
pub(crate) fn json_rows(
    provider: &str,
    status: u16,
    body: &[u8],
    not_found: fn(u16, &serde_json::Value) -> Option<String>,
) -> Result<Vec<serde_json::Value>, PriceError> {
    let v: Result<serde_json::Value, _> = serde_json::from_slice(body);
    if !(200..300).contains(&status) {
        if let Some(why) = v.as_ref().ok().and_then(|v| not_found(status, v)) {
            return Err(PriceError::NotFound(format!("{provider}: {why}")));
        }
        return Err(by_status(provider, status, body, None));
    }
    match v {
        Ok(serde_json::Value::Array(rows)) => Ok(rows),
        _ if is_html(body) => Err(PriceError::Unavailable(format!(
            "{provider}: an HTML page, not data ({})",
            snippet(body)
        ))),
        _ => Err(PriceError::Unavailable(format!(
            "{provider}: not a JSON array ({})",
            snippet(body)
        ))),
    }
}

/// The start of an answer, for messages (the sources' own: folded, cut, redacted).
pub(crate) use crate::sources::http::snippet;

/// A body that is an HTML page (a login wall, a block page, Stooq without a key).
pub(crate) fn is_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    start.starts_with(b"<!doctype") || start.starts_with(b"<html") || start.starts_with(b"<")
}

/// The common reading of a status no provider-specific rule claimed.
pub(crate) fn by_status(
    provider: &str,
    status: u16,
    body: &[u8],
    retry: Option<Duration>,
) -> PriceError {
    let what = format!("{provider}: HTTP {status} ({})", snippet(body));
    match status {
        429 => PriceError::Throttled {
            message: what,
            wait: retry.unwrap_or(Duration::from_secs(60)),
        },
        401 | 403 => PriceError::Config(format!("{what}; check the API key")),
        404 | 410 => PriceError::NotFound(what),
        408 | 500..=599 => PriceError::Transient(what),
        _ => PriceError::Unavailable(what),
    }
}

/// Where each field of an array candle `[time, …]` (epoch seconds, one UTC day) is.
pub(crate) struct Candle {
    pub open: usize,
    pub high: usize,
    pub low: usize,
    pub close: usize,
    pub volume: usize,
}

/// Array candles (numbers or strings) → bars of their UTC day; malformed rows skipped.
pub(crate) fn candles(rows: &[serde_json::Value], at: Candle) -> Vec<Bar> {
    let bars = rows
        .iter()
        .filter_map(|r| {
            let session = chrono::DateTime::from_timestamp(r[0].as_i64()?, 0)?.date_naive();
            let (open, high, low, close) = (
                num(&r[at.open])?,
                num(&r[at.high])?,
                num(&r[at.low])?,
                num(&r[at.close])?,
            );
            let volume = num(&r[at.volume]).unwrap_or(0.0);
            Some(Bar::fetched(session, open, high, low, close, volume))
        })
        .collect();
    tidy(bars)
}

/// Bars sorted by session with one bar per session (the last wins) and only sane ones.
pub(crate) fn tidy(mut bars: Vec<Bar>) -> Vec<Bar> {
    bars.retain(Bar::is_sane);
    bars.sort_by_key(|b| b.session);
    let mut out: Vec<Bar> = Vec::with_capacity(bars.len());
    for b in bars {
        match out.last_mut() {
            Some(last) if last.session == b.session => *last = b,
            _ => out.push(b),
        }
    }
    out
}

pub(crate) fn num(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
