//! Sentiment: VADER (`mode = "vader"`, exact parity with Python vaderSentiment 3.3.2) or
//! finance mode (`mode = "finance"`, VADER's rules over a market lexicon and phrase
//! rules). Scores title and text together, the way a reader takes them in.

use serde_json::json;

use super::Enricher;
use super::vader::{Scores, Vader, finance};
use crate::model::Content;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Vader,
    Finance,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "vader" => Some(Mode::Vader),
            "finance" => Some(Mode::Finance),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Vader => "vader",
            Mode::Finance => "finance",
        }
    }
}

pub struct Sentiment {
    mode: Mode,
    analyzer: Analyzer,
    /// |compound| below this is neutral.
    threshold: f64,
}

enum Analyzer {
    Shared(&'static Vader),
    Own(Box<Vader>),
}

impl Sentiment {
    pub fn new(
        mode: Mode,
        cfg: &crate::enrich::settings::SentimentConfig,
    ) -> Result<Sentiment, String> {
        let analyzer = match mode {
            Mode::Vader => Analyzer::Shared(Vader::standard()),
            Mode::Finance if cfg.finance_lexicon.is_none() && cfg.finance_phrases.is_none() => {
                Analyzer::Shared(finance::standard())
            }
            Mode::Finance => Analyzer::Own(Box::new(finance::analyzer(
                cfg.finance_lexicon.as_deref(),
                cfg.finance_phrases.as_deref(),
            )?)),
        };
        Ok(Sentiment {
            mode,
            analyzer,
            threshold: cfg.neutral_threshold,
        })
    }

    fn vader(&self) -> &Vader {
        match &self.analyzer {
            Analyzer::Shared(v) => v,
            Analyzer::Own(v) => v,
        }
    }

    pub fn score(&self, text: &str) -> Scores {
        self.vader().polarity_scores(text)
    }

    /// The label of `text` (what the enricher stores as `sentiment.label`).
    pub fn classify(&self, text: &str) -> &'static str {
        self.label(self.score(text).compound)
    }

    /// bullish / bearish / neutral (finance) or positive / negative / neutral (vader).
    pub fn label(&self, compound: f64) -> &'static str {
        let (pos, neg) = match self.mode {
            Mode::Finance => ("bullish", "bearish"),
            Mode::Vader => ("positive", "negative"),
        };
        if compound >= self.threshold {
            pos
        } else if compound <= -self.threshold {
            neg
        } else {
            "neutral"
        }
    }
}

/// What a reader sees: the title, then the text (when they differ).
pub fn reading_text(item: &Content) -> std::borrow::Cow<'_, str> {
    match &item.title {
        Some(t) if !t.is_empty() && !item.text.starts_with(t.as_str()) => {
            if item.text.is_empty() {
                t.as_str().into()
            } else {
                format!("{t}\n{}", item.text).into()
            }
        }
        _ => item.text.as_str().into(),
    }
}

impl Enricher for Sentiment {
    fn name(&self) -> &'static str {
        "sentiment"
    }

    fn enrich(
        &self,
        item: &mut Content,
        _state: &dyn super::EnrichState,
    ) -> Result<(), super::EnrichError> {
        let s = self.score(&reading_text(item));
        item.enrichments.insert(
            "sentiment".into(),
            json!({
                "mode": self.mode.as_str(),
                "compound": s.compound,
                "pos": s.pos,
                "neu": s.neu,
                "neg": s.neg,
                "label": self.label(s.compound),
            }),
        );
        Ok(())
    }
}
