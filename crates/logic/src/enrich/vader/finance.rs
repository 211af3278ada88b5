//! Finance mode: VADER's rules (negation, boosters, caps, "but", punctuation) over a
//! finance-aware lexicon and phrase rules.
//!
//! General-purpose VADER reads markets badly: "shares outstanding" is glowing
//! (`outstanding` +3.0), "gross margin" is disgusting (`gross` −2.1), and "beat
//! estimates", "cuts guidance", "bullish" or 🚀 score nothing. Finance mode fixes that
//! with two bundled, documented data files (and optional user files in the same
//! format, see `[enrich.sentiment]` in the config):
//!
//! * `data/finance/lexicon.tsv` — `word<TAB>valence` adds or re-scores a word;
//!   `word<TAB>-` removes it (a neutral word in finance).
//! * `data/finance/phrases.tsv` — `pattern<TAB>valence`: a sequence of tokens that,
//!   where it appears, scores as one lexicon word at its first token (so a preceding
//!   "not" or "very" still applies) while its other tokens score nothing. A pattern
//!   token is a word, alternatives `a|b|c` (one word each), `<pct>` (a percentage like `5%` or
//!   `+3.2%`), `<num>` (a number, `$` and `,` allowed) or `*` (any one token).

use std::path::Path;

use rustc_hash::FxHashMap;

use super::Vader;

const LEXICON: &str = include_str!("../../../../../data/finance/lexicon.tsv");
const PHRASES: &str = include_str!("../../../../../data/finance/phrases.tsv");

#[derive(Debug, Clone, PartialEq)]
enum Pat {
    Words(Vec<Box<str>>),
    Percent,
    Number,
    Any,
}

impl Pat {
    fn matches(&self, tok: &str) -> bool {
        match self {
            Pat::Words(ws) => ws.iter().any(|w| **w == *tok),
            Pat::Percent => {
                let t = tok.trim_start_matches(['+', '-']);
                t.len() > 1 && t.ends_with('%') && is_number(&t[..t.len() - 1])
            }
            Pat::Number => is_number(tok.trim_start_matches(['+', '-', '$'])),
            Pat::Any => true,
        }
    }
}

fn is_number(t: &str) -> bool {
    !t.is_empty()
        && t.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
}

#[derive(Debug, Clone)]
struct Phrase {
    pats: Vec<Pat>,
    valence: f64,
}

/// Phrase rules, indexed by the literal words a phrase can start with.
#[derive(Debug, Clone, Default)]
pub struct Phrases {
    phrases: Vec<Phrase>,
    by_first: FxHashMap<Box<str>, Vec<usize>>,
    /// Phrases that start with a class (`<pct>`, `*`): tried at every token.
    unanchored: Vec<usize>,
}

impl Phrases {
    pub fn parse(src: &str, origin: &str) -> Result<Phrases, String> {
        let mut p = Phrases::default();
        p.extend(src, origin)?;
        Ok(p)
    }

    fn extend(&mut self, src: &str, origin: &str) -> Result<(), String> {
        for (n, line) in data_lines(src) {
            let (pattern, valence) = line
                .split_once('\t')
                .ok_or_else(|| format!("{origin}:{n}: expected `pattern<TAB>valence`"))?;
            let valence: f64 = valence
                .trim()
                .parse()
                .map_err(|_| format!("{origin}:{n}: valence `{valence}` is not a number"))?;
            let pats: Vec<Pat> = pattern
                .split_whitespace()
                .map(|t| match t {
                    "<pct>" => Pat::Percent,
                    "<num>" => Pat::Number,
                    "*" => Pat::Any,
                    w => Pat::Words(w.split('|').map(|a| a.to_lowercase().into()).collect()),
                })
                .collect();
            if pats.is_empty() {
                return Err(format!("{origin}:{n}: empty pattern"));
            }
            let idx = self.phrases.len();
            match &pats[0] {
                Pat::Words(ws) => {
                    for w in ws {
                        self.by_first.entry(w.clone()).or_default().push(idx);
                    }
                }
                _ => self.unanchored.push(idx),
            }
            self.phrases.push(Phrase { pats, valence });
        }
        // Longest phrase first at each position.
        let phrases = &self.phrases;
        for v in self.by_first.values_mut() {
            v.sort_by_key(|i| std::cmp::Reverse(phrases[*i].pats.len()));
        }
        self.unanchored
            .sort_by_key(|i| std::cmp::Reverse(phrases[*i].pats.len()));
        Ok(())
    }

    /// Marks phrase matches: the first token gets the phrase's valence, the rest none.
    /// Returns which tokens head a phrase (`None` when there are no phrase rules, the
    /// standard VADER path).
    pub(super) fn apply(&self, low: &[&str], lex: &mut [Option<f64>]) -> Option<Vec<bool>> {
        if self.phrases.is_empty() {
            return None;
        }
        // Short tokens keep their punctuation in VADER ("up," stays "up,"); phrases
        // match on the bare word.
        let bare: Vec<&str> = low
            .iter()
            .map(|t| t.trim_matches(|c: char| c.is_ascii_punctuation() && c != '%'))
            .collect();
        let mut heads = vec![false; low.len()];
        let mut i = 0;
        while i < bare.len() {
            let anchored = self
                .by_first
                .get(bare[i])
                .map(|v| v.as_slice())
                .unwrap_or(&[]);
            let found = anchored
                .iter()
                .chain(&self.unanchored)
                .map(|&k| &self.phrases[k])
                .find(|p| {
                    p.pats.len() <= bare.len() - i
                        && p.pats.iter().zip(&bare[i..]).all(|(pat, t)| pat.matches(t))
                });
            match found {
                Some(p) => {
                    lex[i] = Some(p.valence);
                    heads[i] = true;
                    for slot in &mut lex[i + 1..i + p.pats.len()] {
                        *slot = None;
                    }
                    i += p.pats.len();
                }
                None => i += 1,
            }
        }
        Some(heads)
    }
}

/// Non-empty, non-comment lines with their 1-based line numbers.
fn data_lines(src: &str) -> impl Iterator<Item = (usize, &str)> {
    src.lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
}

fn parse_lexicon(
    src: &str,
    origin: &str,
    out: &mut Vec<(String, Option<f64>)>,
) -> Result<(), String> {
    for (n, line) in data_lines(src) {
        let (word, v) = line
            .split_once('\t')
            .ok_or_else(|| format!("{origin}:{n}: expected `word<TAB>valence` or `word<TAB>-`"))?;
        let v = v.trim();
        let v = if v == "-" {
            None
        } else {
            Some(
                v.parse::<f64>()
                    .map_err(|_| format!("{origin}:{n}: valence `{v}` is not a number or `-`"))?,
            )
        };
        out.push((word.trim().to_lowercase(), v));
    }
    Ok(())
}

/// The finance analyzer: the bundled finance lexicon and phrases, then the user's own
/// files (which win, being applied last).
pub fn analyzer(
    extra_lexicon: Option<&Path>,
    extra_phrases: Option<&Path>,
) -> Result<Vader, String> {
    let mut overlay = Vec::new();
    parse_lexicon(LEXICON, "data/finance/lexicon.tsv", &mut overlay)?;
    if let Some(p) = extra_lexicon {
        let src = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        parse_lexicon(&src, &p.display().to_string(), &mut overlay)?;
    }
    let mut phrases = Phrases::parse(PHRASES, "data/finance/phrases.tsv")?;
    if let Some(p) = extra_phrases {
        let src = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        phrases.extend(&src, &p.display().to_string())?;
    }
    Ok(Vader::with_overlay(overlay, phrases))
}

/// The bundled finance analyzer, built once.
pub fn standard() -> &'static Vader {
    static V: std::sync::OnceLock<Vader> = std::sync::OnceLock::new();
    V.get_or_init(|| analyzer(None, None).expect("the bundled finance data parses"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t: &str) -> f64 {
        standard().polarity_scores(t).compound
    }

    #[test]
    fn finance_phrases_and_words() {
        assert!(c("Apple beats earnings estimates, raises guidance") > 0.3);
        assert!(c("Tesla misses on deliveries and cuts its outlook") < -0.3);
        assert!(c("Analyst upgrades NVDA to outperform, price target raised to $900") > 0.3);
        assert!(c("$GME to the moon 🚀🚀") > 0.3);
        assert!(c("Shares fell 8% after the company lowered its forecast") < -0.3);
        assert!(c("Company did not beat estimates") < 0.0);
        assert_eq!(c("Shares outstanding: 3.2 billion; gross margin 45%"), 0.0);
        assert!(c("I am bullish on $AMD") > 0.3);
        assert!(c("bagholders everywhere, this is going to zero") < -0.3);
    }

    #[test]
    fn bad_user_files_are_reported_with_their_line() {
        let err = Phrases::parse("beat estimates\tlots\n", "x.tsv").unwrap_err();
        assert!(err.contains("x.tsv:1"), "{err}");
        let mut v = Vec::new();
        let err = parse_lexicon("# c\nmoon 3\n", "y.tsv", &mut v).unwrap_err();
        assert!(err.contains("y.tsv:2"), "{err}");
    }
}
