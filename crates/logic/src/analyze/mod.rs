//! analyze: an enriched item → a call (which assets, which direction, how confident,
//! why), by rules and optionally an LLM; and the sealed ledger's pure parts.
//!
//! * [`rules`] — the rule file (TOML + CEL), compiled whole; [`eval`] — evaluating it
//!   on an item (and `explain`); [`view`] — the item as bounded CEL variables.
//! * [`llm`] — the LLM analyst's request and the local validation of its answer.
//! * [`ledger`] — a sealed prediction: its deterministic id, its canonical body, the
//!   hash chain and its verification.
//!
//! Nothing here does I/O or reads a clock: the stage hands in the time it seals at.

pub mod eval;
pub mod ledger;
pub mod llm;
pub mod rules;
pub mod view;

use serde::{Deserialize, Serialize};

pub use eval::Evaluation;
pub use rules::{RuleError, RuleSet};

/// Which way a call expects the asset to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Bullish,
    Bearish,
    Neutral,
}

impl Direction {
    /// From a sentiment compound score: beyond ±0.05 (VADER's own cut) it has a side.
    pub fn from_compound(c: f64) -> Direction {
        if c >= 0.05 {
            Direction::Bullish
        } else if c <= -0.05 {
            Direction::Bearish
        } else {
            Direction::Neutral
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Bullish => "bullish",
            Direction::Bearish => "bearish",
            Direction::Neutral => "neutral",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "bullish" => Some(Direction::Bullish),
            "bearish" => Some(Direction::Bearish),
            "neutral" => Some(Direction::Neutral),
            _ => None,
        }
    }
}

/// One analyzer's call on one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// (symbol, direction), at most [`eval::MAX_ASSETS`].
    pub assets: Vec<(String, Direction)>,
    /// In [0, 1].
    pub confidence: f64,
    /// Trading days the call is about.
    pub horizon_days: u32,
    /// The rules' score (0 for an LLM call).
    pub score: f64,
    /// The deciding priority group ("" for none).
    pub group: String,
    /// The rules that matched (rules), in file order.
    pub rules: Vec<String>,
    /// Their reasons, or the LLM's reasoning (one entry).
    pub reasons: Vec<String>,
}
