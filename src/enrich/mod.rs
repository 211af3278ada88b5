//! Enrichers: each adds one kind of knowledge to an item. One trait, one file per
//! enricher, one registry ([`build`]); the chain order comes from config
//! (`[enrich] chain`). Enrichers are pure functions of the item: no I/O, no clock.

mod cashtags;

use std::time::Instant;

use crate::model::Content;

pub use cashtags::{Cashtags, scan_cashtags};

pub trait Enricher: Send + Sync {
    fn name(&self) -> &'static str;
    /// Adds to `item`. An error means this item cannot be enriched (it is dead-lettered).
    fn enrich(&self, item: &mut Content) -> Result<(), String>;
}

/// Every enricher sigflow has, by name.
pub const ENRICHERS: &[&str] = &["cashtags"];

pub fn build(name: &str) -> Option<Box<dyn Enricher>> {
    match name {
        "cashtags" => Some(Box::new(Cashtags)),
        _ => None,
    }
}

/// The configured enrichers, run in order, each timed and counted under its own name.
pub struct Chain {
    enrichers: Vec<Box<dyn Enricher>>,
}

impl Chain {
    /// Builds the chain; unknown names are refused (config validation reports them first).
    pub fn new(names: &[String]) -> Result<Chain, String> {
        let enrichers = names
            .iter()
            .map(|n| {
                build(n).ok_or_else(|| {
                    format!("unknown enricher `{n}` (known: {})", ENRICHERS.join(", "))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Chain { enrichers })
    }

    pub fn run(&self, item: &mut Content) -> Result<(), String> {
        for e in &self.enrichers {
            let t = Instant::now();
            let r = e.enrich(item);
            metrics::histogram!("sigflow_enricher_seconds", "enricher" => e.name())
                .record(t.elapsed().as_secs_f64());
            if let Err(err) = r {
                metrics::counter!("sigflow_enricher_failed_total", "enricher" => e.name())
                    .increment(1);
                return Err(format!("{}: {err}", e.name()));
            }
            metrics::counter!("sigflow_enricher_items_total", "enricher" => e.name()).increment(1);
        }
        Ok(())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.enrichers.iter().map(|e| e.name()).collect()
    }
}
