//! Tickers from explicit markers, company names and bare symbols, on top of cashtags.
//! `index.rs` holds what sigflow knows (names, aliases, handles, symbols);
//! `resolve.rs` decides, from the text and the item's source, which candidates name a
//! traded company, and keeps how each was found and how sure it is.

mod index;
mod resolve;

use serde_json::json;

pub use index::{TickerIndex, normalize_name};
pub use resolve::{Decision, Evidence, Found, Via};

use super::Enricher;
use crate::model::Content;

/// Platforms whose items are about listed companies by nature: their text is market
/// context for an ambiguous name or a bare symbol.
const FINANCE_SOURCES: &[&str] = &[
    "sec",
    "sec-form4",
    "fed",
    "congress",
    "house-clerk",
    "earnings",
];

/// What the item itself says about its subject, besides its text.
pub fn evidence(item: &Content) -> Evidence {
    Evidence {
        finance_source: FINANCE_SOURCES.contains(&item.source.as_str()),
        cashtags: !item.cashtags.is_empty(),
    }
}

/// The enricher: merges marker, name and symbol mentions into `tickers`, after cashtags.
pub struct Tickers {
    index: &'static TickerIndex,
    own: Option<Box<TickerIndex>>,
    names: bool,
}

impl Tickers {
    pub fn new(cfg: &crate::enrich::settings::TickersConfig) -> Result<Tickers, String> {
        let own = match &cfg.aliases_file {
            Some(p) => {
                let src =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                Some(Box::new(TickerIndex::build(&src)?))
            }
            None => None,
        };
        Ok(Tickers {
            index: TickerIndex::standard(),
            own,
            names: cfg.names,
        })
    }

    pub fn index(&self) -> &TickerIndex {
        self.own.as_deref().unwrap_or(self.index)
    }

    /// Every candidate in the item's title and text with the decision taken on it.
    pub fn explain(&self, item: &Content) -> Vec<Decision> {
        let ev = evidence(item);
        let mut out = Vec::new();
        if let Some(t) = &item.title {
            out.extend(self.index().explain(t, ev));
        }
        out.extend(self.index().explain(&item.text, ev));
        out
    }
}

impl Enricher for Tickers {
    fn name(&self) -> &'static str {
        "tickers"
    }

    fn enrich(
        &self,
        item: &mut Content,
        _state: &dyn super::EnrichState,
    ) -> Result<(), super::EnrichError> {
        let mut found: Vec<Found> = Vec::new();
        if self.names {
            let ev = evidence(item);
            let title = item.title.as_deref().map(|t| self.index().find(t, ev));
            for f in title
                .into_iter()
                .flatten()
                .chain(self.index().find(&item.text, ev))
            {
                if !found.iter().any(|g| g.ticker == f.ticker) {
                    found.push(f);
                }
            }
        }
        for f in &found {
            if !item.tickers.contains(&f.ticker) {
                item.tickers.push(f.ticker.clone());
            }
        }
        let mentions: Vec<_> = item
            .cashtags
            .iter()
            .map(|t| json!({"ticker": t, "via": "cashtag", "confidence": 1.0}))
            .chain(
                found
                    .iter()
                    .filter(|f| !item.cashtags.contains(&f.ticker))
                    .map(|f| {
                        json!({
                            "ticker": f.ticker,
                            "via": f.via.as_str(),
                            "matched": f.matched,
                            "confidence": f.confidence,
                        })
                    }),
            )
            .collect();
        item.enrichments.insert("tickers".into(), json!(mentions));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Vec<String> {
        TickerIndex::standard()
            .find(text, Evidence::default())
            .into_iter()
            .map(|f| f.ticker)
            .collect()
    }

    #[test]
    fn names_and_suffixes() {
        assert_eq!(normalize_name("Exxon Mobil Corp /NJ/"), "exxon mobil");
        assert_eq!(normalize_name("The Walt Disney Company"), "walt disney");
        assert_eq!(normalize_name("Meta Platforms, Inc."), "meta platforms");
        assert_eq!(normalize_name("DEVON ENERGY CORP/DE"), "devon energy");
        assert_eq!(normalize_name("US BANCORP \\DE\\"), "us bancorp");
        assert_eq!(t("Exxon Mobil and Chevron rallied on oil"), ["XOM", "CVX"]);
        assert_eq!(t("Google and Facebook face new rules"), ["GOOGL", "META"]);
        assert_eq!(t("nvidia is ripping today"), ["NVDA"]);
    }

    #[test]
    fn ambiguous_names_need_capitals_and_context() {
        assert_eq!(t("I ate an apple and hit my target"), Vec::<String>::new());
        assert_eq!(t("Apple pie recipe for the holidays"), Vec::<String>::new());
        assert_eq!(t("Apple shares rose after earnings"), ["AAPL"]);
        assert_eq!(t("Analysts like Apple and Target here"), ["AAPL", "TGT"]);
        assert_eq!(t("The meta-analysis was published"), Vec::<String>::new());
    }

    #[test]
    fn explicit_markers_are_strong_evidence() {
        assert_eq!(t("Boeing Co (NYSE: BA) delivered 40 jets"), ["BA"]);
        assert_eq!(t("NASDAQ:MSFT hits a fresh high"), ["MSFT"]);
        assert_eq!(t("Shares of Apple (AAPL) edged higher"), ["AAPL"]);
        assert_eq!(t("@Boeing says deliveries resume"), ["BA"]);
        assert_eq!(t("the new policy (IT) is live"), Vec::<String>::new());
        assert_eq!(t("Gartner (IT) raises its outlook"), ["IT"]);
    }

    #[test]
    fn people_venues_and_acronyms_are_not_companies() {
        assert_eq!(
            t("Harrison Ford looked great at the premiere"),
            Vec::<String>::new()
        );
        assert_eq!(
            t("concert at the Target Center tonight"),
            Vec::<String>::new()
        );
        assert_eq!(t("IT support told me to reboot"), Vec::<String>::new());
        assert_eq!(t("GM everyone, coffee first"), Vec::<String>::new());
        assert_eq!(t("iRobot shares sink after deal collapses"), ["IRBT"]);
        assert_eq!(t("Dell Curry is Steph's dad"), Vec::<String>::new());
    }

    #[test]
    fn bare_symbols_need_market_context() {
        assert_eq!(
            t("TSLA and NVDA up big today, calls printing"),
            ["TSLA", "NVDA"]
        );
        assert_eq!(
            t("It is ON now, ALL of it, the CEO said"),
            Vec::<String>::new()
        );
        assert_eq!(
            t("watching the NBA finals with AMC popcorn"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_refusal_says_why() {
        let d =
            TickerIndex::standard().explain("Harrison Ford at Chase Center", Evidence::default());
        assert!(
            d.iter().all(|d| !d.accepted && !d.reason.is_empty()),
            "{d:?}"
        );
    }
}
