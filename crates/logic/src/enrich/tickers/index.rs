//! The ticker index: every name, alias, handle and symbol sigflow knows, built once
//! from bundled data into one Aho–Corasick automaton (one pass over a text however
//! many names there are). How a match becomes a mention is `resolve.rs`.
//!
//! Names come from the SEC ticker list (`data/tickers/sec_company_tickers.json`,
//! public data from sec.gov) with legal suffixes stripped ("Exxon Mobil Corp" →
//! "exxon mobil"), and our alias list (`data/tickers/aliases.tsv`: short names,
//! brands, former names). Each name gets a [`Kind`] when the index is built:
//! * a distinctive name ("nvidia", "exxon mobil") counts as written, in any case;
//! * a name made only of everyday words ("general mills", "bank of america") counts
//!   only capitalized, as a name is written;
//! * an alias marked `ambiguous` ("Apple", "Target", "Delta") is an everyday word, a
//!   person or a place too: it counts capitalized, and where a reader could take it
//!   either way only with market context — or with its own context words
//!   (`ambiguous:flight,airline` for Delta);
//! * a one-word SEC name that is an everyday word ("Block", "Gap") is not used at all
//!   (only its alias, if it has one).

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rustc_hash::{FxHashMap, FxHashSet};

/// Bare symbols are checked against this many of the most frequent words: enough for
/// every everyday word, few enough to let through AMC or IBM (frequent as names).
const EVERYDAY_RANK: usize = 5000;

/// Last words of a company's registered name that people leave out.
const GENERIC_TAIL: &[&str] = &[
    "bancorp",
    "bancorporation",
    "bancshares",
    "financial",
    "services",
    "systems",
    "industries",
    "enterprises",
    "brands",
    "resources",
    "solutions",
    "pharmaceuticals",
    "therapeutics",
    "entertainment",
    "communications",
    "networks",
    "laboratories",
    "labs",
];

/// The SEC list is ordered by size: past this many companies, a one-word name is a
/// small company's, and as often an ordinary word or someone's name ("Sprout").
const LARGE_RANK: usize = 500;

const SEC_LIST: &str = include_str!("../../../../../data/tickers/sec_company_tickers.json");
const ALIASES: &str = include_str!("../../../../../data/tickers/aliases.tsv");
const COMMON_WORDS: &str = include_str!("../../../../../data/tickers/common_words_en.txt");
const FIRST_NAMES: &str = include_str!("../../../../../data/tickers/first_names.txt");

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
    "AI", "LNG", "EVS", "GDPR",
];

/// Words that put a sentence-initial ambiguous name ("Apple ...") in a market context.
#[rustfmt::skip]
const CONTEXT: &[&str] = &[
    "shares", "share", "stock", "stocks", "earnings", "revenue", "revenues", "sales", "profit",
    "profits", "quarter", "quarterly", "guidance", "analyst", "analysts", "ceo", "cfo",
    "investors", "investor", "market", "valuation", "deal", "acquisition", "acquire",
    "acquires", "merger", "ipo", "dividend", "buyback", "rating", "outlook", "forecast",
    "results", "reported", "reports", "announced", "announces", "launches",
    "launched", "unveils", "unveiled", "company", "inc", "corp", "nasdaq", "nyse", "s&p", "dow",
    "q1", "q2", "q3", "q4", "fy", "billion", "million", "lawsuit", "regulators", "antitrust",
    "ftc", "doj", "sec", "estimates", "upgrade", "upgraded", "downgrade", "downgraded",
    "layoffs", "employees", "customers", "iphone", "ipad", "mac", "chips", "chip", "store",
    "stores", "retailer", "bank", "payments", "airline", "stake", "price",
    "bullish", "bearish", "calls", "puts", "rallies", "rally", "surges", "falls", "jumps",
    "drops", "plunges", "soars", "beats", "misses", "raises", "cuts", "hires", "fires", "sues",
    "sued", "cloud", "software", "ai", "climbs", "climbed", "gains", "gained", "rises", "rose",
    "fell", "slides", "slid", "sinks", "sank", "slumps", "tumbles", "plummets", "crashes",
    "warns", "posts", "tops", "lifts", "lowers", "boosts", "trims", "expects", "forecasts",
    "buys", "sells", "wins", "loses", "companies", "brand", "brands", "app", "users",
    "subscribers", "deliveries", "premarket", "valuable", "listed", "shareholders", "board",
    "executives", "drivers", "shoppers", "recall", "recalls", "cut", "jobs", "agrees",
    "bought", "buy", "merge", "acquired", "names", "chief", "executive", "orders", "order",
    "completes", "production", "plant", "plants", "workers", "strike", "union", "contract",
    "tariffs", "demand", "record", "books", "bookings", "slashes", "slash", "hikes",
    "suspends", "withdraws", "spin", "spins", "stake", "bid", "takeover", "offer", "outage",
    "probe", "fined", "settlement", "lawsuit", "ruling", "approval", "approves", "approved",
    "inc.", "corp.", "co.", "plc", "nyse", "forecast", "dividend", "loss", "losses", "swings",
    "rise", "fall", "gain", "jump", "climb", "drop", "sink", "slide", "surge", "beat", "miss",
    "volume", "volumes", "output", "guidance", "outlook", "profit", "ceo", "cfo",
    "shareholders", "approve", "approves", "lands", "wins", "posts", "net", "income",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Distinctive: counts as written.
    Plain,
    /// Everyday words: counts capitalized.
    Capitalized,
    /// An everyday word as a name: capitalized, and in context at a sentence start.
    Ambiguous,
}

#[derive(Clone)]
pub(super) struct Pattern {
    pub ticker: Box<str>,
    pub kind: Kind,
    /// Words that make an ambiguous alias mean the company (Delta: flight, airline).
    pub own_context: Box<[Box<str>]>,
    /// Only `own_context` makes the name the company; market words do not.
    pub own_only: bool,
    /// From our alias list, not derived from a registered name.
    pub curated: bool,
    /// The name is one word.
    pub one_word: bool,
}

pub struct TickerIndex {
    pub(super) ac: AhoCorasick,
    pub(super) patterns: Vec<Pattern>,
    pub(super) symbols: FxHashSet<Box<str>>,
    /// Tickers of companies past [`LARGE_RANK`] in the SEC list.
    pub(super) small: FxHashSet<Box<str>>,
    /// A company's name squashed ("exxonmobil", "boeing"): what an @handle names.
    pub(super) handles: FxHashMap<Box<str>, Box<str>>,
    /// The most frequent English words: a bare symbol that is one of them ("NOW",
    /// "CAT") needs a `$`.
    pub(super) everyday: FxHashSet<&'static str>,
    pub(super) acronyms: FxHashSet<&'static str>,
    pub(super) context: FxHashSet<&'static str>,
    /// Given names: "Harrison Ford" is a person, not the carmaker.
    pub(super) first_names: FxHashSet<&'static str>,
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
        .filter(|w| !is_state_tag(w))
        // "CORP/DE", "INC/RI", "CO \DE\": the state tag glued to the suffix.
        .map(|w| w.split(['/', '\\']).next().unwrap_or(w))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
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
    /// Whether `symbol` is a listed symbol (`BRK.B` and `BRK-B` alike).
    pub fn is_listed(&self, symbol: &str) -> bool {
        self.symbols.contains(symbol)
            || self.symbols.contains(symbol.replace('.', "-").as_str())
            || self.symbols.contains(symbol.replace('-', ".").as_str())
    }

    pub fn standard() -> &'static TickerIndex {
        static I: OnceLock<TickerIndex> = OnceLock::new();
        I.get_or_init(|| TickerIndex::build("").expect("bundled ticker data is valid"))
    }

    /// Builds the index from the bundled data plus `extra_aliases` (aliases.tsv format).
    pub fn build(extra_aliases: &str) -> Result<TickerIndex, String> {
        let words = Words::load();
        let (mut by_name, symbols, small) = sec_names(&words)?;
        add_aliases(&mut by_name, ALIASES, "aliases", &words)?;
        add_aliases(&mut by_name, extra_aliases, "extra aliases", &words)?;
        let (ac, patterns, handles) = compile(by_name)?;
        Ok(TickerIndex {
            ac,
            patterns,
            symbols,
            small,
            handles,
            everyday: words.everyday,
            acronyms: ACRONYMS.iter().copied().collect(),
            context: CONTEXT.iter().copied().collect(),
            first_names: FIRST_NAMES
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(str::trim)
                .collect(),
        })
    }
}

/// The English word lists names are judged by.
struct Words {
    common: FxHashSet<&'static str>,
    /// The most frequent ones (everyday words, not names).
    everyday: FxHashSet<&'static str>,
}

impl Words {
    fn load() -> Words {
        let common: Vec<&'static str> = COMMON_WORDS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        Words {
            everyday: common.iter().take(EVERYDAY_RANK).copied().collect(),
            common: common.into_iter().collect(),
        }
    }

    fn is_common(&self, w: &str) -> bool {
        self.common.contains(w) || w.len() <= 2
    }

    /// Plain when any word is distinctive, capitalized when all are everyday words.
    fn kind_of(&self, words: &[&str]) -> Kind {
        if words.iter().all(|w| self.is_common(w.trim_matches('\''))) {
            Kind::Capitalized
        } else {
            Kind::Plain
        }
    }
}

/// What one name stands for.
#[derive(Clone)]
struct Entry {
    ticker: Box<str>,
    kind: Kind,
    own_context: Box<[Box<str>]>,
    own_only: bool,
    /// From our alias list (a name people use), not derived from a registered name.
    curated: bool,
}

impl Entry {
    fn derived(ticker: &str, kind: Kind) -> Entry {
        Entry {
            ticker: ticker.into(),
            kind,
            own_context: Box::default(),
            own_only: false,
            curated: false,
        }
    }
}

type Names = FxHashMap<String, Entry>;

/// Names, every listed symbol, and the small companies' tickers.
type SecNames = (Names, FxHashSet<Box<str>>, FxHashSet<Box<str>>);

/// The automaton, its patterns in order, and handles → tickers.
type Compiled = (AhoCorasick, Vec<Pattern>, FxHashMap<Box<str>, Box<str>>);

/// Names from the SEC list: each company's registered name without its suffixes, the
/// same without generic last words, and its distinctive first word. Also every listed
/// symbol, and which companies are small.
fn sec_names(words: &Words) -> Result<SecNames, String> {
    let sec: FxHashMap<String, SecEntry> =
        serde_json::from_str(SEC_LIST).map_err(|e| format!("SEC ticker list: {e}"))?;
    let mut entries: Vec<(usize, SecEntry)> = sec
        .into_iter()
        .filter_map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, v)))
        .collect();
    entries.sort_by_key(|(i, _)| *i);
    let (mut symbols, mut small) = (FxHashSet::default(), FxHashSet::default());
    let mut by_name = Names::default();
    // First words: a word shared by two companies names neither (None).
    let mut first_words: FxHashMap<String, Option<(Box<str>, Kind)>> = FxHashMap::default();
    let mut seen_cik = FxHashSet::default();
    for (_, e) in &entries {
        let ticker: Box<str> = e.ticker.replace('-', ".").into();
        symbols.insert(ticker.clone());
        // The first (largest) listing of a company is its primary ticker.
        if !seen_cik.insert(e.cik_str) {
            continue;
        }
        let large = seen_cik.len() <= LARGE_RANK;
        if !large {
            small.insert(ticker.clone());
        }
        let name = normalize_name(&e.title);
        let ws: Vec<&str> = name.split(' ').filter(|w| !w.is_empty()).collect();
        if ws.is_empty() {
            continue;
        }
        // A large company's name-like word ("Eaton", "Baxter": in the long word list,
        // not an everyday word) is its name too, given context.
        let name_like =
            |w: &str| w.len() >= 4 && (!words.is_common(w) || large && !words.everyday.contains(w));
        let one_kind = |w: &str| {
            if words.is_common(w) {
                Kind::Ambiguous
            } else {
                Kind::Plain
            }
        };
        if ws.len() == 1 {
            if name_like(ws[0]) {
                by_name
                    .entry(name.clone())
                    .or_insert_with(|| Entry::derived(&ticker, one_kind(ws[0])));
            }
            continue;
        }
        by_name
            .entry(name.clone())
            .or_insert_with(|| Entry::derived(&ticker, words.kind_of(&ws)));
        // "Discover Financial Services" is written "Discover Financial", "Fifth Third
        // Bancorp" "Fifth Third": the name without its generic last words.
        let mut short = ws.clone();
        while short.len() > 2 && short.last().is_some_and(|w| GENERIC_TAIL.contains(w)) {
            short.pop();
            by_name
                .entry(short.join(" "))
                .or_insert_with(|| Entry::derived(&ticker, words.kind_of(&short)));
        }
        if name_like(ws[0]) && ws[0].chars().all(|c| c.is_ascii_alphabetic()) {
            let kind = one_kind(ws[0]);
            first_words
                .entry(ws[0].to_string())
                .and_modify(|t| {
                    if t.as_ref().is_some_and(|(x, _)| *x != ticker) {
                        *t = None
                    }
                })
                .or_insert(Some((ticker.clone(), kind)));
        }
    }
    for (w, t) in first_words {
        if let Some((t, kind)) = t {
            by_name.entry(w).or_insert_with(|| Entry::derived(&t, kind));
        }
    }
    Ok((by_name, symbols, small))
}

/// Lines `name<TAB>TICKER[<TAB>flag]` of an alias file; they override derived names.
fn add_aliases(by_name: &mut Names, src: &str, origin: &str, words: &Words) -> Result<(), String> {
    for (n, line) in src.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |msg: String| format!("{origin} line {}: {msg}", n + 1);
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 2 || f[0].trim().is_empty() || f[1].trim().is_empty() {
            return Err(at(
                "expected `name<TAB>TICKER[<TAB>ambiguous[:words]|context:words|capitalized]`"
                    .into(),
            ));
        }
        let lower = f[0].trim().to_lowercase();
        let all_common = lower.split_whitespace().all(|w| words.is_common(w));
        let flag = f.get(2).map(|s| s.trim()).unwrap_or("");
        let (flag, own) = flag.split_once(':').unwrap_or((flag, ""));
        let own_context: Box<[Box<str>]> = own
            .split(',')
            .map(|w| w.trim().to_lowercase().into_boxed_str())
            .filter(|w| !w.is_empty())
            .collect();
        let own_only = flag == "context";
        if own_only && own_context.is_empty() {
            return Err(at(
                "`context:` needs its words (context:flight,airline)".into()
            ));
        }
        let kind = match flag {
            "ambiguous" | "context" => Kind::Ambiguous,
            "capitalized" => Kind::Capitalized,
            "" if all_common => Kind::Capitalized,
            "" => Kind::Plain,
            other => {
                return Err(at(format!(
                    "unknown flag `{other}` (ambiguous[:words], context:words, capitalized)"
                )));
            }
        };
        by_name.insert(
            lower,
            Entry {
                ticker: f[1].trim().to_uppercase().into(),
                kind,
                own_context,
                own_only,
                curated: true,
            },
        );
    }
    Ok(())
}

/// Every name (and its curly-apostrophe and hyphenated spellings) into one automaton;
/// handles are the names squashed ("exxonmobil").
fn compile(by_name: Names) -> Result<Compiled, String> {
    let mut handles: FxHashMap<Box<str>, Box<str>> = FxHashMap::default();
    for (name, e) in &by_name {
        let squashed: String = name.chars().filter(|c| c.is_alphanumeric()).collect();
        if squashed.len() >= 3 {
            handles
                .entry(squashed.into())
                .or_insert_with(|| e.ticker.clone());
        }
    }
    let mut names: Vec<String> = Vec::with_capacity(by_name.len() * 2);
    let mut patterns = Vec::with_capacity(by_name.len() * 2);
    for (name, e) in by_name {
        let pattern = Pattern {
            ticker: e.ticker,
            kind: e.kind,
            own_context: e.own_context,
            own_only: e.own_only,
            curated: e.curated,
            one_word: !name.contains(' '),
        };
        // People type curly apostrophes ("McDonald’s") as often as straight ones, and
        // join two-word names with a hyphen ("Sherwin-Williams").
        let mut variants = vec![name.replace('\'', "\u{2019}")];
        if name.matches(' ').count() == 1 {
            variants.push(name.replace(' ', "-"));
        }
        for v in variants {
            if v != name {
                names.push(v);
                patterns.push(pattern.clone());
            }
        }
        names.push(name);
        patterns.push(pattern);
    }
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(&names)
        .map_err(|e| format!("building the name matcher: {e}"))?;
    Ok((ac, patterns, handles))
}

#[derive(serde::Deserialize)]
struct SecEntry {
    cik_str: u64,
    ticker: String,
    title: String,
}
