//! Tickers from company names and bare symbols, on top of cashtags.
//!
//! Names come from two bundled data files: the SEC ticker list
//! (`data/tickers/sec_company_tickers.json`, public data from sec.gov) with legal
//! suffixes stripped ("Exxon Mobil Corp" → "exxon mobil"), and our alias list
//! (`data/tickers/aliases.tsv`: Google → GOOGL, Facebook → META, …). All of them go
//! into one Aho–Corasick automaton matched case-insensitively over the raw text, so
//! the cost is one pass however many names there are.
//!
//! Precision comes from the ambiguity rules, decided per pattern when it is built:
//! * a distinctive name ("nvidia", "exxon mobil") counts as written, in any case;
//! * a name made only of everyday words ("general mills", "bank of america") counts
//!   only capitalized, as a name is written;
//! * an alias marked `ambiguous` ("Apple", "Target", "Visa") counts only capitalized,
//!   and at the start of a sentence only when the text has market context;
//! * a one-word SEC name that is an everyday word ("Block", "Gap") is not used at all
//!   (only its alias, if it has one);
//! * a bare symbol ("TSLA") counts only in capitals, in a text that is not all
//!   capitals, when it is listed, not an everyday word (so `ON`, `ALL`, `NOW`, `CAT`,
//!   `ARE`, `A`, `IT` need a `$`) and not a common acronym (CEO, ETF, FDA, …).

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::Enricher;
use crate::model::Content;

/// Bare symbols are checked against this many of the most frequent words: enough for
/// every everyday word, few enough to let through AMC or IBM (frequent as names).
const EVERYDAY_RANK: usize = 5000;

const SEC_LIST: &str = include_str!("../../data/tickers/sec_company_tickers.json");
const ALIASES: &str = include_str!("../../data/tickers/aliases.tsv");
const COMMON_WORDS: &str = include_str!("../../data/tickers/common_words_en.txt");

/// Acronyms that are listed symbols somewhere but almost never mean the stock.
const ACRONYMS: &[&str] = &[
    "CEO", "CFO", "COO", "CTO", "USA", "USD", "EUR", "GBP", "JPY", "GDP", "CPI", "PPI", "PCE",
    "FOMC", "FED", "SEC", "FDA", "FTC", "DOJ", "IRS", "ETF", "ETFS", "IPO", "EPS", "ATH", "YOLO",
    "FOMO", "IMO", "IMHO", "LOL", "LMAO", "WSB", "TLDR", "API", "NYSE", "NASDAQ", "NYC", "CNBC",
    "CNN", "WSJ", "NBA", "NFL", "ESPN", "NASA", "FBI", "CIA", "OPEC", "ECB", "BOJ", "BOE", "IMF",
    "WTO", "WHO", "CDC", "COVID", "ESG", "SPAC", "ATM", "OTC", "YTD", "QOQ", "YOY", "EBITDA",
    "GAAP", "ROI", "ROE", "EOD", "TBH", "BTW", "FYI", "ASAP", "RIP", "OMG", "WTF", "USDT", "BTC",
    "ETH", "GPU", "CPU", "NFT", "LLC", "INC", "LTD", "PLC", "CORP", "DCF", "ARR", "MRR", "CAGR",
    "OEM", "B2B", "SAAS", "AGM", "HODL", "MOASS", "BREAKING", "UPDATE", "NEWS", "ALERT", "THE",
    "AND", "FOR", "BUY", "SELL", "HOLD", "CALLS", "PUTS", "USA", "EST", "PST", "EDT", "UTC",
    "LIVE", "NEW", "TOP", "JUST", "IN", "BIG", "HUGE", "OMG", "FAQ", "DM", "PDF", "URL", "HTML",
    "AI",
];

/// Words that put a sentence-initial ambiguous name ("Apple ...") in a market context.
#[rustfmt::skip]
const CONTEXT: &[&str] = &[
    "shares", "share", "stock", "stocks", "earnings", "revenue", "revenues", "sales", "profit",
    "profits", "quarter", "quarterly", "guidance", "analyst", "analysts", "ceo", "cfo",
    "investors", "investor", "market", "valuation", "deal", "acquisition", "acquire",
    "acquires", "merger", "ipo", "dividend", "buyback", "rating", "outlook", "forecast",
    "results", "reported", "reports", "announced", "announces", "said", "says", "launches",
    "launched", "unveils", "unveiled", "company", "inc", "corp", "nasdaq", "nyse", "s&p", "dow",
    "q1", "q2", "q3", "q4", "fy", "billion", "million", "lawsuit", "regulators", "antitrust",
    "ftc", "doj", "sec", "estimates", "upgrade", "upgraded", "downgrade", "downgraded",
    "layoffs", "employees", "customers", "iphone", "ipad", "mac", "chips", "chip", "store",
    "stores", "retailer", "bank", "payments", "card", "cards", "airline", "stake", "price",
    "bullish", "bearish", "calls", "puts", "rallies", "rally", "surges", "falls", "jumps",
    "drops", "plunges", "soars", "beats", "misses", "raises", "cuts", "hires", "fires", "sues",
    "sued", "cloud", "software", "ai", "climbs", "climbed", "gains", "gained", "rises", "rose",
    "fell", "slides", "slid", "sinks", "sank", "slumps", "tumbles", "plummets", "crashes",
    "warns", "posts", "tops", "lifts", "lowers", "boosts", "trims", "expects", "forecasts",
    "buys", "sells", "wins", "loses", "companies", "brand", "brands", "app", "users",
    "subscribers", "deliveries", "premarket", "valuable", "listed", "shareholders", "board",
    "executives", "drivers", "shoppers",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Distinctive: counts as written.
    Plain,
    /// Everyday words: counts capitalized.
    Capitalized,
    /// An everyday word as a name: capitalized, and in context at a sentence start.
    Ambiguous,
}

struct Pattern {
    ticker: Box<str>,
    kind: Kind,
}

pub struct TickerIndex {
    ac: AhoCorasick,
    patterns: Vec<Pattern>,
    symbols: FxHashSet<Box<str>>,
    /// The most frequent English words: a bare symbol that is one of them ("NOW",
    /// "CAT") needs a `$`.
    everyday: FxHashSet<&'static str>,
    acronyms: FxHashSet<&'static str>,
    context: FxHashSet<&'static str>,
}

/// One ticker found, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub ticker: String,
    pub via: &'static str,
    pub matched: String,
}

const SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "companies",
    "ltd",
    "limited",
    "plc",
    "llc",
    "lp",
    "l.p",
    "sa",
    "s.a",
    "nv",
    "n.v",
    "ag",
    "se",
    "holdings",
    "holding",
    "group",
    "international",
    "technologies",
    "technology",
    "com",
    "the",
    "&",
    "and",
    "de",
    "trust",
];

/// `/DE/`, `/NEW/`: the SEC's state-of-incorporation tags.
fn is_state_tag(w: &str) -> bool {
    w.len() > 1 && w.starts_with('/') && w.ends_with('/')
}

/// "Exxon Mobil Corp /NJ/" → "exxon mobil"; "The Walt Disney Company" → "walt disney".
pub fn normalize_name(title: &str) -> String {
    let lower = title.to_lowercase();
    let mut words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty() && !is_state_tag(w))
        .collect();
    while words.last().is_some_and(|w| SUFFIXES.contains(w)) {
        words.pop();
    }
    while words.first().is_some_and(|w| *w == "the") {
        words.remove(0);
    }
    words.join(" ")
}

impl TickerIndex {
    pub fn standard() -> &'static TickerIndex {
        static I: OnceLock<TickerIndex> = OnceLock::new();
        I.get_or_init(|| TickerIndex::build("").expect("bundled ticker data is valid"))
    }

    /// Builds the index from the bundled data plus `extra_aliases` (aliases.tsv format).
    pub fn build(extra_aliases: &str) -> Result<TickerIndex, String> {
        let common: Vec<&'static str> = COMMON_WORDS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        let everyday: FxHashSet<&'static str> =
            common.iter().take(EVERYDAY_RANK).copied().collect();
        let common: FxHashSet<&'static str> = common.into_iter().collect();
        let is_common = |w: &str| common.contains(w) || w.len() <= 2;
        let sec: FxHashMap<String, SecEntry> =
            serde_json::from_str(SEC_LIST).map_err(|e| format!("SEC ticker list: {e}"))?;
        let mut entries: Vec<(usize, SecEntry)> = sec
            .into_iter()
            .filter_map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, v)))
            .collect();
        entries.sort_by_key(|(i, _)| *i);

        let mut symbols = FxHashSet::default();
        let mut by_name: FxHashMap<String, (Box<str>, Kind)> = FxHashMap::default();
        let mut first_words: FxHashMap<String, Option<Box<str>>> = FxHashMap::default();
        let mut seen_cik = FxHashSet::default();
        for (_, e) in &entries {
            let ticker: Box<str> = e.ticker.replace('-', ".").into();
            symbols.insert(ticker.clone());
            // The first (largest) listing of a company is its primary ticker.
            if !seen_cik.insert(e.cik_str) {
                continue;
            }
            let name = normalize_name(&e.title);
            let words: Vec<&str> = name.split(' ').filter(|w| !w.is_empty()).collect();
            match words.len() {
                0 => continue,
                1 => {
                    if words[0].len() >= 4 && !is_common(words[0]) {
                        by_name
                            .entry(name.clone())
                            .or_insert((ticker.clone(), Kind::Plain));
                    }
                }
                _ => {
                    let all_common = words.iter().all(|w| is_common(w.trim_matches('\'')));
                    let kind = if all_common {
                        Kind::Capitalized
                    } else {
                        Kind::Plain
                    };
                    by_name
                        .entry(name.clone())
                        .or_insert((ticker.clone(), kind));
                    let first = words[0];
                    if first.len() >= 4
                        && first.chars().all(|c| c.is_ascii_alphabetic())
                        && !is_common(first)
                    {
                        // A first word shared by two companies names neither.
                        first_words
                            .entry(first.to_string())
                            .and_modify(|t| {
                                if t.as_deref() != Some(&*ticker) {
                                    *t = None
                                }
                            })
                            .or_insert(Some(ticker.clone()));
                    }
                }
            }
        }
        for (w, t) in first_words {
            if let Some(t) = t {
                by_name.entry(w).or_insert((t, Kind::Plain));
            }
        }
        for (n, line) in ALIASES.lines().chain(extra_aliases.lines()).enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 2 || f[0].trim().is_empty() || f[1].trim().is_empty() {
                return Err(format!(
                    "aliases line {}: expected `name<TAB>TICKER[<TAB>ambiguous|capitalized]`",
                    n + 1
                ));
            }
            let all_common = f[0]
                .split_whitespace()
                .all(|w| is_common(&w.to_lowercase()));
            let kind = match f.get(2).map(|s| s.trim()) {
                Some("ambiguous") => Kind::Ambiguous,
                Some("capitalized") => Kind::Capitalized,
                None | Some("") if all_common => Kind::Capitalized,
                None | Some("") => Kind::Plain,
                Some(other) => {
                    return Err(format!("aliases line {}: unknown flag `{other}`", n + 1));
                }
            };
            by_name.insert(
                f[0].trim().to_lowercase(),
                (f[1].trim().to_uppercase().into(), kind),
            );
        }

        let mut names: Vec<String> = Vec::with_capacity(by_name.len() * 2);
        let mut patterns = Vec::with_capacity(by_name.len() * 2);
        for (name, (ticker, kind)) in by_name {
            // People type curly apostrophes ("McDonald’s") as often as straight ones.
            if name.contains('\'') {
                names.push(name.replace('\'', "\u{2019}"));
                patterns.push(Pattern {
                    ticker: ticker.clone(),
                    kind,
                });
            }
            names.push(name);
            patterns.push(Pattern { ticker, kind });
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&names)
            .map_err(|e| format!("building the name matcher: {e}"))?;
        Ok(TickerIndex {
            ac,
            patterns,
            symbols,
            everyday,
            acronyms: ACRONYMS.iter().copied().collect(),
            context: CONTEXT.iter().copied().collect(),
        })
    }

    /// Tickers named in `text` (company names and bare symbols), in order, deduplicated.
    pub fn find(&self, text: &str) -> Vec<Found> {
        let mut out: Vec<Found> = Vec::new();
        let shouting = !text.chars().any(|c| c.is_lowercase());
        // Ambiguous names wait until the unambiguous ones are known: another company
        // in the same text is context ("Apple and Microsoft ...").
        let mut pending: Vec<(usize, &Pattern, &str)> = Vec::new();
        for m in self.ac.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            if !boundary_before(text, s) || !boundary_after(text, e) {
                continue;
            }
            let p = &self.patterns[m.pattern().as_usize()];
            let matched = &text[s..e];
            let ok = match p.kind {
                Kind::Plain => true,
                Kind::Capitalized => shouting || capitalized(matched),
                Kind::Ambiguous => {
                    if shouting || capitalized(matched) {
                        pending.push((s, p, matched));
                    }
                    false
                }
            };
            if ok && !out.iter().any(|f| *f.ticker == *p.ticker) {
                out.push(Found {
                    ticker: p.ticker.to_string(),
                    via: "name",
                    matched: matched.to_string(),
                });
            }
        }
        if !pending.is_empty() {
            let context = !out.is_empty() || pending.len() > 1 || self.has_context(text);
            for (s, p, matched) in pending {
                // At a sentence start or after "the" ("the Amazon rainforest") the word
                // is as likely a word as a name: it takes market context.
                let needs_context = sentence_initial(text, s) || after_the(text, s);
                if (!needs_context || context) && !out.iter().any(|f| *f.ticker == *p.ticker) {
                    out.push(Found {
                        ticker: p.ticker.to_string(),
                        via: "name",
                        matched: matched.to_string(),
                    });
                }
            }
        }
        if !shouting {
            for (s, word) in words(text) {
                let sym = word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
                if sym.len() < 2
                    || sym.len() > 6
                    || !sym.chars().all(|c| c.is_ascii_uppercase() || c == '.')
                    || s > 0 && text.as_bytes()[s - 1] == b'$'
                    || self.acronyms.contains(sym)
                    || self.everyday.contains(sym.to_ascii_lowercase().as_str())
                    || sym.len() < 3
                    || !self.symbols.contains(sym)
                {
                    continue;
                }
                if !out.iter().any(|f| f.ticker == sym) {
                    out.push(Found {
                        ticker: sym.to_string(),
                        via: "symbol",
                        matched: sym.to_string(),
                    });
                }
            }
        }
        out
    }

    fn has_context(&self, text: &str) -> bool {
        words(text).any(|(_, w)| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '&');
            let w = w.strip_suffix("'s").unwrap_or(w);
            self.context.contains(w.to_lowercase().as_str())
        }) || text.contains('$')
            || text.contains('%')
    }
}

#[derive(serde::Deserialize)]
struct SecEntry {
    cik_str: u64,
    ticker: String,
    title: String,
}

fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace()
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

fn boundary_before(text: &str, s: usize) -> bool {
    let Some(c) = text[..s].chars().next_back() else {
        return true;
    };
    !(c.is_alphanumeric() || matches!(c, '$' | '-' | '@' | '_' | '/' | '.'))
}

fn boundary_after(text: &str, e: usize) -> bool {
    let mut it = text[e..].chars();
    let Some(c) = it.next() else {
        return true;
    };
    if c.is_alphanumeric() || c == '_' {
        return false;
    }
    // "Meta-analysis", "apple.com": the name is part of a longer word.
    if matches!(c, '-' | '.' | '/' | '@') {
        return !it.next().is_some_and(|n| n.is_alphanumeric());
    }
    true
}

/// Each word but the small ones starts with a capital ("Bank of America").
fn capitalized(s: &str) -> bool {
    s.split([' ', '-'])
        .filter(|w| !matches!(*w, "of" | "and" | "&" | "the" | "de" | "for"))
        .all(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
        })
}

/// The word before `s` is "the".
fn after_the(text: &str, s: usize) -> bool {
    text[..s]
        .trim_end()
        .rsplit(char::is_whitespace)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("the"))
}

/// Nothing but punctuation and space between the previous sentence end and `s`.
fn sentence_initial(text: &str, s: usize) -> bool {
    for c in text[..s].chars().rev() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '“' | '‘' | '(' | '*' | '-' | '•' | '#')
        {
            continue;
        }
        return matches!(c, '.' | '!' | '?' | ':' | '|' | '—' | ';');
    }
    true
}

/// The enricher: merges name and symbol matches into `tickers`, after cashtags.
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

    fn index(&self) -> &TickerIndex {
        self.own.as_deref().unwrap_or(self.index)
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
        let mut found = Vec::new();
        if self.names {
            if let Some(t) = &item.title {
                found.extend(self.index().find(t));
            }
            for f in self.index().find(&item.text) {
                if !found.iter().any(|g: &Found| g.ticker == f.ticker) {
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
            .map(|t| json!({"ticker": t, "via": "cashtag"}))
            .chain(
                found
                    .iter()
                    .filter(|f| !item.cashtags.contains(&f.ticker))
                    .map(|f| json!({"ticker": f.ticker, "via": f.via, "matched": f.matched})),
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
            .find(text)
            .into_iter()
            .map(|f| f.ticker)
            .collect()
    }

    #[test]
    fn names_and_suffixes() {
        assert_eq!(normalize_name("Exxon Mobil Corp /NJ/"), "exxon mobil");
        assert_eq!(normalize_name("The Walt Disney Company"), "walt disney");
        assert_eq!(normalize_name("Meta Platforms, Inc."), "meta platforms");
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
    fn bare_symbols() {
        assert_eq!(t("TSLA and NVDA up big"), ["TSLA", "NVDA"]);
        assert_eq!(
            t("It is ON now, ALL of it, the CEO said"),
            Vec::<String>::new()
        );
    }
}
