//! Enrichers: each adds one kind of knowledge to an item. One trait, one file per
//! enricher, one registry ([`build`]); the chain order and each enricher's settings
//! come from config (`[enrich]`). Most enrichers are pure functions of the item; the
//! stateful ones (dedup, velocity) read and write [`EnrichState`], which lives in the
//! store so that it survives restarts and is shared by every worker.

mod cashtags;
pub mod dedup;
pub mod filters;
pub mod keywords;
pub mod language;
pub mod quality;
pub mod sentiment;
pub mod settings;
pub mod state;
pub mod tickers;
pub mod vader;
pub mod velocity;

use std::time::Instant;

use crate::model::Content;

pub use cashtags::{Cashtags, scan_cashtags};
pub use settings::EnrichConfig;
pub use state::{EnrichState, MemoryState, SharedState, StateError};

/// Why an item could not be enriched, classified where the cause was (the store, for
/// state); `error.rs` turns it into the stage's error.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichError {
    pub message: String,
    pub class: crate::error::ErrorClass,
}

impl From<StateError> for EnrichError {
    fn from(e: StateError) -> Self {
        EnrichError {
            message: e.message,
            class: e.class,
        }
    }
}

pub trait Enricher: Send + Sync {
    fn name(&self) -> &'static str;
    /// Adds to `item`. The error's class decides: poison dead-letters the item,
    /// transient retries the batch.
    fn enrich(&self, item: &mut Content, state: &dyn EnrichState) -> Result<(), EnrichError>;
}

/// Every enricher sigflow has, by name, in the recommended order.
pub const ENRICHERS: &[&str] = &[
    "language",
    "filters",
    "cashtags",
    "tickers",
    "sentiment",
    "keywords",
    "dedup",
    "velocity",
];

/// Enrichers that need [`EnrichState`] (the others are pure).
pub const STATEFUL: &[&str] = &["dedup", "velocity"];

pub fn build(name: &str, cfg: &EnrichConfig) -> Result<Box<dyn Enricher>, String> {
    Ok(match name {
        "language" => Box::new(language::Language),
        "filters" => Box::new(filters::Filters::new(&cfg.filters)),
        "cashtags" => Box::new(Cashtags),
        "tickers" => Box::new(tickers::Tickers::new(&cfg.tickers)?),
        "sentiment" => {
            let mode = sentiment::Mode::parse(&cfg.sentiment.mode)
                .ok_or_else(|| format!("unknown sentiment mode `{}`", cfg.sentiment.mode))?;
            Box::new(sentiment::Sentiment::new(mode, &cfg.sentiment)?)
        }
        "keywords" => Box::new(keywords::Keywords {
            top: cfg.keywords.top,
            max_ngram: cfg.keywords.max_ngram,
        }),
        "dedup" => Box::new(dedup::Dedup {
            window: chrono::Duration::days(i64::from(cfg.dedup.window_days)),
            near: cfg.dedup.near_threshold,
        }),
        "velocity" => Box::new(velocity::Velocity {
            cfg: cfg.velocity.clone(),
        }),
        _ => {
            return Err(format!(
                "unknown enricher `{name}` (known: {})",
                ENRICHERS.join(", ")
            ));
        }
    })
}

/// The configured enrichers, run in order, each timed and counted under its own name.
pub struct Chain {
    enrichers: Vec<Box<dyn Enricher>>,
}

impl Chain {
    /// Builds `cfg.chain`; unknown names are refused (config validation reports them first).
    pub fn new(cfg: &EnrichConfig) -> Result<Chain, String> {
        Chain::only(cfg, &cfg.chain)
    }

    /// Builds the named enrichers, in the order given.
    pub fn only(cfg: &EnrichConfig, names: &[String]) -> Result<Chain, String> {
        let enrichers = names
            .iter()
            .map(|n| build(n, cfg))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Chain { enrichers })
    }

    pub fn run(&self, item: &mut Content, state: &dyn EnrichState) -> Result<(), EnrichError> {
        self.run_range(item, state, 0..self.enrichers.len())
    }

    /// Where the stateful part of the chain starts: enrichers before it are pure and
    /// can run outside the state transaction.
    pub fn stateful_from(&self) -> usize {
        self.enrichers
            .iter()
            .position(|e| STATEFUL.contains(&e.name()))
            .unwrap_or(self.enrichers.len())
    }

    /// Runs the enrichers in `range` (see [`Chain::stateful_from`]).
    pub fn run_range(
        &self,
        item: &mut Content,
        state: &dyn EnrichState,
        range: std::ops::Range<usize>,
    ) -> Result<(), EnrichError> {
        for e in &self.enrichers[range] {
            let t = Instant::now();
            let r = e.enrich(item, state);
            metrics::histogram!("sigflow_enricher_seconds", "enricher" => e.name())
                .record(t.elapsed().as_secs_f64());
            if let Err(err) = r {
                metrics::counter!("sigflow_enricher_failed_total", "enricher" => e.name())
                    .increment(1);
                return Err(EnrichError {
                    message: format!("{}: {}", e.name(), err.message),
                    ..err
                });
            }
            metrics::counter!("sigflow_enricher_items_total", "enricher" => e.name()).increment(1);
        }
        Ok(())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.enrichers.iter().map(|e| e.name()).collect()
    }

    pub fn enrichers(&self) -> &[Box<dyn Enricher>] {
        &self.enrichers
    }

    pub fn is_stateful(&self) -> bool {
        self.enrichers.iter().any(|e| STATEFUL.contains(&e.name()))
    }
}

/// An item holding just `text`, for `sigflow enrich`, benchmarks and tests.
pub fn text_item(text: &str) -> Content {
    let now = chrono::Utc::now();
    Content {
        schema_version: crate::model::CONTENT_SCHEMA_VERSION,
        id: crate::model::content_id("text", text),
        source: "text".into(),
        source_id: String::new(),
        fetched_by: "enrich".into(),
        author: None,
        title: None,
        text: text.to_string(),
        url: None,
        content_type: Default::default(),
        engagement: Default::default(),
        tags: Vec::new(),
        mentions: Vec::new(),
        cashtags: Vec::new(),
        happened_at: now,
        disclosed_at: None,
        observed_at: now,
        lake_key: String::new(),
        extras: Default::default(),
        enrichments: Default::default(),
        tickers: Vec::new(),
    }
}

impl From<EnrichError> for crate::error::StageError {
    fn from(e: EnrichError) -> Self {
        crate::error::StageError {
            class: e.class,
            message: e.message,
        }
    }
}
