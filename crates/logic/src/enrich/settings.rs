//! `[enrich]` configuration: the chain and each enricher's own table. Validation
//! returns every problem, for `Config` to report with the rest.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct EnrichConfig {
    pub chain: Vec<String>,
    pub sentiment: SentimentConfig,
    pub tickers: TickersConfig,
    pub filters: FiltersConfig,
    pub dedup: DedupConfig,
    pub keywords: KeywordsConfig,
    pub velocity: VelocityConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SentimentConfig {
    /// "vader" (reference VADER) or "finance".
    pub mode: String,
    /// |compound| below this is neutral.
    pub neutral_threshold: f64,
    pub finance_lexicon: Option<PathBuf>,
    pub finance_phrases: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TickersConfig {
    /// Match company names (not only cashtags).
    pub names: bool,
    /// Extra `name<TAB>TICKER` aliases (added to the bundled ones).
    pub aliases_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FiltersConfig {
    /// Languages kept (ISO 639-1); an item detected as another language is filtered.
    /// Empty = keep every language.
    pub languages: Vec<String>,
    pub spam: bool,
    pub block_authors: Vec<String>,
    pub block_words: Vec<String>,
    pub block_domains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DedupConfig {
    pub window_days: u32,
    /// Jaccard similarity (words and word pairs) from which an item is a near
    /// duplicate; 1.0 = exact duplicates only.
    pub near_threshold: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KeywordsConfig {
    pub top: usize,
    pub max_ngram: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VelocityConfig {
    /// Score velocity (points/s) that adds 0.4 to the trending score.
    pub velocity_high: f64,
    /// ... that adds 0.2.
    pub velocity_low: f64,
    /// |sentiment| that adds 0.2.
    pub sentiment_min: f64,
    /// Comment count that adds 0.2.
    pub comment_min: i64,
    /// Trending when the score reaches this.
    pub trending_threshold: f64,
    /// Hours of history a ticker's mention baseline is computed from.
    pub mention_baseline_hours: u32,
    /// z-score of this hour's mentions over the baseline that flags a spike.
    pub mention_z_spike: f64,
    /// Fewest mentions in the hour for a spike (a jump from 0 to 1 is not news).
    pub mention_min: u32,
}

impl EnrichConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for name in &self.chain {
            if !super::ENRICHERS.contains(&name.as_str()) {
                errors.push(format!(
                    "enrich.chain: unknown enricher `{name}` (known: {})",
                    super::ENRICHERS.join(", ")
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for name in &self.chain {
            if !seen.insert(name) {
                errors.push(format!("enrich.chain: `{name}` listed twice"));
            }
        }
        if super::sentiment::Mode::parse(&self.sentiment.mode).is_none() {
            errors.push(format!(
                "enrich.sentiment.mode: `{}` (expected \"vader\" or \"finance\")",
                self.sentiment.mode
            ));
        }
        if !(0.0..1.0).contains(&self.sentiment.neutral_threshold) {
            errors.push("enrich.sentiment.neutral_threshold: must be in [0, 1)".into());
        }
        for (key, p) in [
            (
                "enrich.sentiment.finance_lexicon",
                &self.sentiment.finance_lexicon,
            ),
            (
                "enrich.sentiment.finance_phrases",
                &self.sentiment.finance_phrases,
            ),
            ("enrich.tickers.aliases_file", &self.tickers.aliases_file),
        ] {
            if let Some(p) = p
                && !p.is_file()
            {
                errors.push(format!("{key}: {} is not a readable file", p.display()));
            }
        }
        for l in &self.filters.languages {
            if !super::language::SUPPORTED.contains(&l.as_str()) {
                errors.push(format!(
                    "enrich.filters.languages: `{l}` is not detected (supported: {})",
                    super::language::SUPPORTED.join(", ")
                ));
            }
        }
        if self.dedup.window_days == 0 {
            errors.push("enrich.dedup.window_days: must be at least 1".into());
        }
        if !(self.dedup.near_threshold > 0.0 && self.dedup.near_threshold <= 1.0) {
            errors.push("enrich.dedup.near_threshold: must be in (0, 1]".into());
        }
        if self.keywords.top == 0 || self.keywords.top > 50 {
            errors.push("enrich.keywords.top: must be 1..=50".into());
        }
        if !(1..=3).contains(&self.keywords.max_ngram) {
            errors.push("enrich.keywords.max_ngram: must be 1..=3".into());
        }
        let v = &self.velocity;
        if v.velocity_low > v.velocity_high {
            errors.push("enrich.velocity: velocity_low must not exceed velocity_high".into());
        }
        if v.mention_baseline_hours < 2 {
            errors.push("enrich.velocity.mention_baseline_hours: must be at least 2".into());
        }
        errors
    }
}
