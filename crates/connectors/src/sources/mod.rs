//! Sources: where raw payloads come from. One trait, one file per kind, one registry
//! ([`KINDS`], [`validate`], [`build`]).
//!
//! A source only fetches bytes and moves a cursor; the [`SourceRunner`]
//! (crate::runtime::SourceRunner) writes them to the lake and commits the raw events
//! together with the new cursor.

pub mod admission;
pub mod catalog;
mod demo;
mod earnings;
mod feed;
mod files;
mod fomc;
pub mod http;
mod mastodon;
pub mod opts;
pub mod raw;
mod reddit;
mod sec;
mod synthetic;
pub mod webhook;
mod x;

use std::time::Duration;

use async_trait::async_trait;

pub use demo::{DemoSource, demo_items, demo_manifest};

/// One `[[sources]]` entry: common keys, plus kind-specific options checked by the
/// source registry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SourceConfig {
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub options: toml::Table,
}

/// One raw payload as fetched: untouched bytes plus what is needed to file them.
#[derive(Debug, Clone)]
pub struct Payload {
    /// Normalizer name (`reddit`, `sec`, …).
    pub format: String,
    pub body: Vec<u8>,
    pub meta: serde_json::Map<String, serde_json::Value>,
}

pub enum Poll {
    /// New payloads, and the cursor to store once they are safely in the log.
    Payloads {
        payloads: Vec<Payload>,
        cursor: String,
    },
    /// Nothing new; ask again after this long.
    Idle(Duration),
    /// A finite source reached its end.
    Done,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Worth retrying after a backoff (network, 5xx, a store hiccup).
    #[error("{0}")]
    Transient(String),
    /// The platform asked us to wait (429, Retry-After, a rate window used up): wait
    /// exactly that long; not a failure for the circuit breaker.
    #[error("{message} (waiting {}s)", wait.as_secs())]
    Throttled { message: String, wait: Duration },
    /// Retrying cannot help (bad credentials, unknown account): the source stops and
    /// says why in its health.
    #[error("{0}")]
    Fatal(String),
}

#[async_trait]
pub trait Source: Send + Sync {
    fn name(&self) -> &str;
    /// Fetches what comes after `cursor` (None = first run). May wait (pacing, rate
    /// limits); the runner cancels it on shutdown.
    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError>;
}

/// Every source kind sigflow has.
pub const KINDS: &[&str] = &[
    "demo",
    "files",
    "synthetic",
    "reddit",
    "truthsocial",
    "mastodon",
    "x",
    "sec",
    "fed",
    "rss",
    "congress",
    "earnings",
    "webhook",
    "fomc",
];

/// Checks one `[[sources]]` entry; returns every problem.
pub fn validate(cfg: &SourceConfig) -> Vec<String> {
    match cfg.kind.as_str() {
        "demo" => demo::validate(cfg),
        "files" => files::validate(cfg),
        "synthetic" => synthetic::validate(cfg),
        "reddit" => reddit::validate(cfg),
        "truthsocial" | "mastodon" => mastodon::validate(cfg),
        "x" => x::validate(cfg),
        "sec" => sec::validate(cfg),
        "fed" | "rss" | "congress" => feed::validate(cfg),
        "earnings" => earnings::validate(cfg),
        "webhook" => webhook::validate(cfg),
        "fomc" => fomc::validate(cfg),
        other => vec![format!(
            "unknown kind `{other}` (known: {})",
            KINDS.join(", ")
        )],
    }
}

pub fn build(cfg: &SourceConfig) -> Result<Box<dyn Source>, String> {
    match cfg.kind.as_str() {
        "demo" => Ok(Box::new(DemoSource::from_config(cfg)?)),
        "files" => Ok(Box::new(files::FilesSource::from_config(cfg)?)),
        "synthetic" => Ok(Box::new(synthetic::SyntheticSource::from_config(cfg)?)),
        "reddit" => Ok(Box::new(reddit::RedditSource::from_config(cfg)?)),
        "truthsocial" | "mastodon" => Ok(Box::new(mastodon::MastodonSource::from_config(cfg)?)),
        "x" => Ok(Box::new(x::XSource::from_config(cfg)?)),
        "sec" => Ok(Box::new(sec::SecSource::from_config(cfg)?)),
        "fed" | "rss" | "congress" => Ok(Box::new(feed::FeedSource::from_config(cfg)?)),
        "earnings" => Ok(Box::new(earnings::EarningsSource::from_config(cfg)?)),
        "webhook" => Ok(Box::new(webhook::WebhookSource::from_config(cfg)?)),
        "fomc" => Ok(Box::new(fomc::FomcSource::from_config(cfg)?)),
        other => Err(format!("unknown source kind `{other}`")),
    }
}

/// `speed = "max"` or a positive number of items per second.
pub fn parse_speed(v: Option<&toml::Value>) -> Result<Option<f64>, String> {
    match v {
        None => Ok(None),
        Some(toml::Value::String(s)) if s == "max" => Ok(None),
        Some(toml::Value::String(s)) => match s.parse::<f64>() {
            Ok(x) if x > 0.0 && x.is_finite() => Ok(Some(x)),
            _ => Err(format!(
                "speed must be \"max\" or a positive number of items per second, got `{s}`"
            )),
        },
        Some(toml::Value::Integer(i)) if *i > 0 => Ok(Some(*i as f64)),
        Some(toml::Value::Float(f)) if *f > 0.0 && f.is_finite() => Ok(Some(*f)),
        Some(other) => Err(format!(
            "speed must be \"max\" or a positive number of items per second, got `{other}`"
        )),
    }
}

/// Snowflake ids (Mastodon, Truth Social, X) compare as numbers: by length, then digit
/// by digit — they outgrow u64 on no platform yet, but strings never overflow.
pub fn snowflake_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Reads a source's JSON cursor; none yet is the default (first run).
pub fn read_cursor<T: serde::de::DeserializeOwned + Default>(
    cursor: Option<&str>,
    kind: &str,
) -> Result<T, SourceError> {
    match cursor {
        None => Ok(T::default()),
        Some(c) => serde_json::from_str(c).map_err(|e| {
            SourceError::Fatal(format!("stored cursor is not a {kind} cursor ({e}): {c}"))
        }),
    }
}

/// The end of a poll: the payloads with the new cursor, or `Idle(idle)` when nothing
/// was fetched and the cursor did not move.
pub fn answer<T: serde::Serialize>(
    payloads: Vec<Payload>,
    cur: &T,
    old: Option<&str>,
    idle: Duration,
) -> Poll {
    let cursor = serde_json::to_string(cur).expect("cursors serialize");
    if payloads.is_empty() && old == Some(cursor.as_str()) {
        return Poll::Idle(idle);
    }
    Poll::Payloads { payloads, cursor }
}

/// `Idle` until `next` when it is still ahead: a poll that comes early fetches nothing.
pub fn too_early(next: tokio::time::Instant) -> Option<Poll> {
    let wait = next.saturating_duration_since(tokio::time::Instant::now());
    (!wait.is_zero()).then_some(Poll::Idle(wait))
}
