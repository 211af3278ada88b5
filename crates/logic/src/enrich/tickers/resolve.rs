//! From matches to mentions: which candidate names and symbols in a text really name a
//! traded company, with how each was found and how sure we are.
//!
//! Evidence, strongest first (confidence in brackets):
//! * a cashtag (`$TSLA`, found by the cashtags enricher) [1.0];
//! * an exchange-prefixed symbol, `NYSE: BA`, `NASDAQ:MSFT` [0.97];
//! * a parenthesised symbol after a name, `Apple (AAPL)` [0.93];
//! * a company @handle, `@Boeing` [0.9];
//! * a company name: distinctive [0.9]; made of everyday words, capitalized [0.85];
//!   ambiguous (an everyday word, a person, a place) [0.75, with context];
//! * a bare upper-case symbol (`TSLA`), only with market context [0.6].
//!
//! Context is market words ("shares", "earnings", …), a `$` or `%`, another company
//! found in the same text, or a finance source (SEC filings, insider trades,
//! congressional disclosures, earnings calendars, the Fed): the source kind is evidence.
//!
//! A candidate is refused when it is part of something else: a venue or place ("Target
//! Center", "Ford Field"), a person ("Harrison Ford", "Dr. Pepper"), a lower-case
//! everyday word, an acronym ("IT", "AM", "GM" as in good morning). Every decision,
//! taken or refused, can be explained ([`TickerIndex::explain`]).

use super::index::{Kind, Pattern, TickerIndex};

/// What the resolver knows about an item besides its text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence {
    /// The item comes from a finance source (filings, disclosures, calendars).
    pub finance_source: bool,
    /// The item has cashtags: it is about markets.
    pub cashtags: bool,
}

/// How a mention was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Exchange,
    Paren,
    Handle,
    Name,
    Symbol,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Exchange => "exchange",
            Via::Paren => "paren",
            Via::Handle => "handle",
            Via::Name => "name",
            Via::Symbol => "symbol",
        }
    }
}

/// One ticker found, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub ticker: String,
    pub via: Via,
    pub matched: String,
    pub confidence: f64,
}

/// A candidate and what was decided about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub found: Found,
    pub accepted: bool,
    pub reason: &'static str,
}

/// Exchanges written before a symbol: `NYSE: BA`, `(NASDAQ:MSFT)`.
const EXCHANGES: &[&str] = &[
    "NYSE",
    "NASDAQ",
    "NYSEAMERICAN",
    "NYSEARCA",
    "NYSEMKT",
    "AMEX",
    "CBOE",
    "BATS",
    "OTC",
    "OTCQX",
    "OTCQB",
    "OTCMKTS",
];

/// A word after a name that makes the two a venue, place, event or institution.
const PLACE_WORDS: &[&str] = &[
    "center",
    "centre",
    "arena",
    "stadium",
    "field",
    "park",
    "garden",
    "gardens",
    "amphitheatre",
    "amphitheater",
    "pavilion",
    "bowl",
    "dome",
    "coliseum",
    "theatre",
    "theater",
    "hall",
    "classic",
    "open",
    "championship",
    "invitational",
    "museum",
    "foundation",
    "institute",
    "university",
    "college",
    "police",
    "county",
    "city",
    "street",
    "avenue",
    "road",
    "boulevard",
    "family",
    "award",
    "awards",
    "prize",
    "borealis",
];

/// Titles that make the next word a person's name.
const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "dr",
    "sen",
    "rep",
    "gov",
    "president",
    "senator",
    "judge",
    "coach",
    "sir",
    "dame",
    "saint",
    "st",
];

impl TickerIndex {
    /// Tickers named in `text` (explicit markers, names and bare symbols), in order,
    /// each once.
    pub fn find(&self, text: &str, ev: Evidence) -> Vec<Found> {
        self.explain(text, ev)
            .into_iter()
            .filter(|d| d.accepted)
            .map(|d| d.found)
            .collect()
    }

    /// Every candidate with the decision taken on it and why: what `sigflow enrich
    /// --explain` prints.
    pub fn explain(&self, text: &str, ev: Evidence) -> Vec<Decision> {
        let mut out: Vec<Decision> = Vec::new();
        let shouting = !text.chars().any(|c| c.is_lowercase());
        // In Title Case ("Going To The Mall With My Mom") a capital says nothing.
        let title_case = shouting || is_title_case(text);
        self.markers(text, &mut out);
        let strong = out.iter().any(|d| d.accepted);
        let mut context = ev.finance_source || ev.cashtags || strong || self.has_context(text);
        // Ambiguous names wait until the others are known: another company in the same
        // text is context ("Apple and Microsoft ...").
        let mut pending: Vec<(usize, &Pattern, &str)> = Vec::new();
        for m in self.ac.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            if !boundary_before(text, s) || !boundary_after(text, e) {
                continue;
            }
            let p = &self.patterns[m.pattern().as_usize()];
            let matched = &text[s..e];
            let d = |accepted, reason, confidence| Decision {
                found: Found {
                    ticker: p.ticker.to_string(),
                    via: Via::Name,
                    matched: matched.to_string(),
                    confidence,
                },
                accepted,
                reason,
            };
            let written_as_name = shouting || capitalized(matched);
            if let Some(why) = self.part_of_other_name(text, s, e, p) {
                push(&mut out, d(false, why, 0.0));
                continue;
            }
            // "Madison Square Garden" is a company and an arena: the arena, unless the
            // text is about markets.
            let last = matched.rsplit(' ').next().unwrap_or(matched).to_lowercase();
            if !context && !p.one_word && PLACE_WORDS.contains(&last.as_str()) {
                push(
                    &mut out,
                    d(false, "a venue's name without market context", 0.0),
                );
                continue;
            }
            let decision = match p.kind {
                Kind::Plain
                    if p.one_word
                        && self.small.contains(&*p.ticker)
                        && !context
                        && (!written_as_name || sentence_initial(text, s) || title_case) =>
                {
                    d(
                        false,
                        "a small company's one-word name without market context",
                        0.0,
                    )
                }
                // "the stryker on our team": a registered name in lower case is a word
                // until the text is about markets (our aliases, "nvidia", are names).
                Kind::Plain if !written_as_name && p.one_word && !p.curated && !context => d(
                    false,
                    "a company's one-word name in lower case without market context",
                    0.0,
                ),
                // "Dell Curry", "Cisco Ramon": a one-word name run into another capitalized
                // word is part of a longer name, unless the text is about markets.
                Kind::Plain | Kind::Capitalized
                    if p.one_word && !context && next_is_capitalized(text, e) =>
                {
                    d(
                        false,
                        "part of a longer name (a capitalized word follows) without market context",
                        0.0,
                    )
                }
                Kind::Plain if written_as_name => d(true, "distinctive company name", 0.9),
                Kind::Plain if !p.one_word => d(true, "distinctive company name", 0.85),
                Kind::Plain if self.everyday.contains(matched.to_lowercase().as_str()) => {
                    d(false, "an everyday word in lower case", 0.0)
                }
                Kind::Plain => d(true, "distinctive company name, lower case", 0.8),
                Kind::Capitalized if written_as_name => {
                    d(true, "company name of everyday words, capitalized", 0.85)
                }
                Kind::Capitalized => d(false, "everyday words in lower case", 0.0),
                Kind::Ambiguous if written_as_name => {
                    pending.push((s, p, matched));
                    continue;
                }
                Kind::Ambiguous => d(false, "an everyday word in lower case", 0.0),
            };
            push(&mut out, decision);
        }
        context |= out.iter().any(|d| d.accepted);
        let many = pending.len() > 1;
        for (_, p, matched) in pending {
            push(&mut out, ambiguous(text, p, matched, context || many));
        }
        context |= out.iter().any(|d| d.accepted);
        if !shouting {
            self.bare_symbols(text, context, &mut out);
        }
        out
    }

    /// `NYSE: BA`, `(AAPL)`, `@Boeing`.
    fn markers(&self, text: &str, out: &mut Vec<Decision>) {
        let b = text.as_bytes();
        for (s, word) in words(text) {
            let w = word.trim_start_matches(['(', '[']);
            // Exchange-prefixed: "NYSE:BA", or "NYSE:" followed by the symbol.
            if let Some((ex, rest)) = w.split_once(':')
                && EXCHANGES.contains(&ex.to_ascii_uppercase().as_str())
            {
                let sym = if rest.is_empty() {
                    let after = s + word.len();
                    text[after..].split_whitespace().next().unwrap_or("")
                } else {
                    rest
                };
                let sym = clean_symbol(sym);
                let listed = self.symbols.contains(sym.as_str());
                let matched = format!("{ex}: {sym}");
                push(
                    out,
                    explicit(
                        &sym,
                        Via::Exchange,
                        &matched,
                        listed,
                        0.97,
                        "exchange-prefixed symbol",
                    ),
                );
                continue;
            }
            // "(AAPL)" or "(AAPL.O)": a symbol in parentheses, right after a name.
            if let Some(rest) = word.strip_prefix('(') {
                let inner = rest.split(')').next().unwrap_or("");
                let sym = clean_symbol(inner);
                let shaped = !sym.is_empty()
                    && sym.len() <= 6
                    && rest.contains(')')
                    && inner
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || matches!(c, '.' | '-'));
                let after_name = previous_word(text, s).is_some_and(|p| {
                    p.chars().next().is_some_and(char::is_uppercase) || p.ends_with('.')
                });
                // A short, everyday or acronym-like symbol ("(A)", "(ON)", "(IT)") counts
                // only right after a name ("Gartner (IT)"); "the policy (IT)" is not one.
                let weak = sym.len() <= 2
                    || self.everyday.contains(sym.to_ascii_lowercase().as_str())
                    || self.acronyms.contains(sym.as_str());
                if !shaped || weak && !after_name {
                    continue;
                }
                let listed = self.symbols.contains(sym.as_str());
                push(
                    out,
                    explicit(
                        &sym,
                        Via::Paren,
                        word,
                        listed,
                        0.93,
                        "symbol in parentheses",
                    ),
                );
                continue;
            }
            // "@Boeing": a handle that is a company's name.
            if let Some(h) = word.strip_prefix('@') {
                if s > 0 && b[s - 1].is_ascii_alphanumeric() {
                    continue;
                }
                let h: String = h
                    .trim_end_matches(|c: char| !c.is_alphanumeric())
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .flat_map(char::to_lowercase)
                    .collect();
                if let Some(t) = self.handles.get(h.as_str()) {
                    push(
                        out,
                        explicit(t, Via::Handle, word, true, 0.9, "company @handle"),
                    );
                }
            }
        }
    }

    /// `TSLA` without a `$`: listed, not an everyday word or acronym, in market context.
    fn bare_symbols(&self, text: &str, context: bool, out: &mut Vec<Decision>) {
        for (s, word) in words(text) {
            let sym = word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
            if sym.len() < 3
                || sym.len() > 6
                || !sym.chars().all(|c| c.is_ascii_uppercase() || c == '.')
                || s > 0 && matches!(text.as_bytes()[s - 1], b'$' | b'(' | b'@' | b':')
                || !self.symbols.contains(sym)
            {
                continue;
            }
            let refused = if self.acronyms.contains(sym) {
                Some("a common acronym")
            } else if self.everyday.contains(sym.to_ascii_lowercase().as_str()) {
                Some("an everyday word in capitals")
            } else if !context {
                Some("bare symbol without market context")
            } else {
                None
            };
            push(
                out,
                Decision {
                    found: Found {
                        ticker: sym.to_string(),
                        via: Via::Symbol,
                        matched: sym.to_string(),
                        confidence: if refused.is_none() { 0.6 } else { 0.0 },
                    },
                    accepted: refused.is_none(),
                    reason: refused.unwrap_or("bare symbol in market context"),
                },
            );
        }
    }

    /// A one-word name that is part of a venue, place or person's name.
    fn part_of_other_name(
        &self,
        text: &str,
        s: usize,
        e: usize,
        p: &Pattern,
    ) -> Option<&'static str> {
        if let Some(next) = text[e..].split_whitespace().next() {
            let next = next.trim_end_matches(|c: char| !c.is_alphanumeric());
            if next.chars().next().is_some_and(char::is_uppercase)
                && PLACE_WORDS.contains(&next.to_lowercase().as_str())
            {
                return Some("part of a venue, place or event name");
            }
        }
        if !p.one_word || p.kind == Kind::Plain && !capitalized(&text[s..e]) {
            return None;
        }
        let prev = previous_word(text, s)?;
        let bare = prev.trim_end_matches('.').to_lowercase();
        if prev.chars().next().is_some_and(char::is_uppercase) {
            if self.first_names.contains(bare.as_str()) {
                return Some("a person's name (given name before it)");
            }
            if TITLES.contains(&bare.as_str()) {
                return Some("a person's name (title before it)");
            }
        }
        None
    }

    pub(super) fn has_context(&self, text: &str) -> bool {
        words(text).any(|(_, w)| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '&');
            let w = w.strip_suffix("'s").unwrap_or(w);
            self.context.contains(w.to_lowercase().as_str())
        }) || text.contains('$')
            || text.contains('%')
    }
}

/// One of the name's own context words ("flight" for Delta) is in the text.
fn has_own_context(text: &str, p: &Pattern) -> bool {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .collect();
    p.own_context.iter().any(|c| {
        if c.contains(' ') {
            lower.contains(&**c)
        } else {
            words.contains(&&**c)
        }
    })
}

/// Most words (four or more of them) start with a capital.
fn is_title_case(text: &str) -> bool {
    let (mut words, mut caps) = (0usize, 0usize);
    for w in text.split_whitespace() {
        let Some(c) = w.chars().find(|c| c.is_alphabetic()) else {
            continue;
        };
        words += 1;
        caps += usize::from(c.is_uppercase());
    }
    words >= 4 && caps * 10 >= words * 8
}

/// An everyday word, a person or a place as often as the company ("Apple pie", "Ford
/// v Ferrari", "GM everyone"): it counts only with context, market words or its own
/// ("Delta" with "flight"). A brand mention without any market word is missed instead,
/// which costs nothing downstream.
fn ambiguous(text: &str, p: &Pattern, matched: &str, market_context: bool) -> Decision {
    let own = !p.own_context.is_empty() && has_own_context(text, p);
    let market = market_context && !p.own_only;
    let (accepted, reason) = if own {
        (true, "ambiguous name with its own context words")
    } else if market {
        (true, "ambiguous name with market context")
    } else if p.own_only {
        (false, "ambiguous name without its own context words")
    } else {
        (false, "ambiguous name without market context")
    };
    Decision {
        found: Found {
            ticker: p.ticker.to_string(),
            via: Via::Name,
            matched: matched.to_string(),
            confidence: if accepted { 0.75 } else { 0.0 },
        },
        accepted,
        reason,
    }
}

fn explicit(
    sym: &str,
    via: Via,
    matched: &str,
    accepted: bool,
    confidence: f64,
    reason: &'static str,
) -> Decision {
    Decision {
        found: Found {
            ticker: sym.to_string(),
            via,
            matched: matched
                .trim_end_matches(|c: char| !c.is_alphanumeric() && c != ')')
                .to_string(),
            confidence: if accepted { confidence } else { 0.0 },
        },
        accepted,
        reason: if accepted {
            reason
        } else {
            "not a listed symbol"
        },
    }
}

/// Keeps the first decision per ticker that accepts it (or the first refusal when none
/// does), so a ticker is listed once, with its strongest evidence first.
fn push(out: &mut Vec<Decision>, d: Decision) {
    if let Some(i) = out.iter().position(|o| o.found.ticker == d.found.ticker) {
        if !out[i].accepted && d.accepted {
            out[i] = d;
        }
        return;
    }
    out.push(d);
}

/// "BRK-B" → "BRK.B"; trailing punctuation off.
fn clean_symbol(s: &str) -> String {
    s.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .replace('-', ".")
        .to_ascii_uppercase()
}

pub(super) fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace()
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

fn previous_word(text: &str, s: usize) -> Option<&str> {
    text[..s].split_whitespace().next_back()
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

/// Each word but the small ones is written as a name: a capital first ("Bank of
/// America") or a capital inside ("iRobot", "eBay").
pub(super) fn capitalized(s: &str) -> bool {
    s.split([' ', '-'])
        .filter(|w| !matches!(*w, "of" | "and" | "&" | "the" | "de" | "for"))
        .all(|w| {
            let mut cs = w.chars();
            cs.next()
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
                || cs.any(char::is_uppercase)
        })
}

/// The next word, right after `e` with only a space between, starts with a capital.
fn next_is_capitalized(text: &str, e: usize) -> bool {
    let rest = &text[e..];
    rest.starts_with(' ') && rest[1..].chars().next().is_some_and(|c| c.is_uppercase())
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
