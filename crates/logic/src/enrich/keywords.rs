//! Keywords: the top keyphrases of an item, unsupervised, per item, in the manner of
//! YAKE (Campos et al., 2020): each word is scored from its casing, position,
//! frequency, spread over sentences and how many different words surround it (a word
//! with many neighbours is a function word); a phrase of 1..=max_ngram words scores the
//! product of its words over its frequency. Lower is better. Written for sigflow: YAKE's
//! crate pulls in an HTML stack we do not need, and tweets and headlines are short
//! enough that the simple form works.

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::Enricher;
use crate::model::Content;

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "im",
    "i'm",
    "in",
    "into",
    "is",
    "it",
    "it's",
    "its",
    "itself",
    "just",
    "let",
    "like",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "new",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "really",
    "said",
    "same",
    "says",
    "she",
    "should",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "that's",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "via",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "rt",
    "amp",
    "today",
    "just",
    "will",
    "s",
    "t",
    "don't",
    "can't",
    "won't",
    "it’s",
    "i’m",
];

/// Built once: the set used to be rebuilt per item, a third of the enricher's time.
static STOP: std::sync::LazyLock<FxHashSet<&'static str>> =
    std::sync::LazyLock::new(|| STOPWORDS.iter().copied().collect());

#[derive(Default)]
struct Term {
    tf: f64,
    upper: f64,
    acronym: f64,
    /// Distinct sentences the term occurs in.
    sentences: usize,
    /// The sentence of each occurrence, in text order (so already sorted).
    positions: Vec<usize>,
    left: FxHashSet<u32>,
    right: FxHashSet<u32>,
}

/// A token: its lower-case form and its term id, or a break (punctuation, stopword
/// boundary, sentence end) that a phrase may not span.
#[derive(Clone, Copy)]
enum Tok {
    Word { id: u32, stop: bool },
    Break,
}

/// The `top` keyphrases of `text`, best first, lower-cased.
pub fn extract(text: &str, top: usize, max_ngram: usize) -> Vec<(String, f64)> {
    let stop = &*STOP;
    let mut ids: FxHashMap<String, u32> = FxHashMap::default();
    let mut names: Vec<String> = Vec::new();
    let mut terms: Vec<Term> = Vec::new();
    let mut toks: Vec<Tok> = Vec::new();
    let mut sentence = 0usize;
    let mut position = 0usize;
    for raw in text.split_whitespace() {
        if raw.contains("://") || raw.starts_with("www.") || raw.starts_with('@') {
            toks.push(Tok::Break);
            continue;
        }
        let ends_sentence = raw.ends_with(['.', '!', '?']) && raw.len() > 1;
        let breaks = raw.ends_with([',', ';', ':', '.', '!', '?', ')', '"']);
        let w = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '$' && c != '&');
        let w = w.trim_start_matches('$');
        if w.is_empty()
            || w.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        {
            toks.push(Tok::Break);
        } else {
            let lower = w.to_lowercase();
            let is_stop = stop.contains(lower.as_str()) || lower.chars().count() < 2;
            let id = match ids.get(lower.as_str()) {
                Some(id) => *id,
                None => {
                    let id = terms.len() as u32;
                    ids.insert(lower.clone(), id);
                    names.push(lower);
                    terms.push(Term::default());
                    id
                }
            };
            let t = &mut terms[id as usize];
            t.tf += 1.0;
            let (mut letters, mut all_upper) = (0usize, true);
            for c in w.chars().filter(|c| c.is_alphabetic()) {
                letters += 1;
                all_upper &= c.is_uppercase();
            }
            if letters > 1 && all_upper {
                t.acronym += 1.0;
            } else if w.chars().next().is_some_and(char::is_uppercase) {
                // A capital at a sentence start says less than one mid-sentence.
                t.upper += if position > 0 { 1.0 } else { 0.5 };
            }
            if t.positions.last() != Some(&sentence) {
                t.sentences += 1;
            }
            t.positions.push(sentence);
            toks.push(Tok::Word { id, stop: is_stop });
            position += 1;
        }
        if breaks {
            toks.push(Tok::Break);
        }
        if ends_sentence {
            sentence += 1;
            position = 0;
        }
    }
    if terms.is_empty() {
        return Vec::new();
    }
    // Co-occurrence within a window of one word on each side (short texts).
    for pair in toks.windows(2) {
        if let [Tok::Word { id: a, .. }, Tok::Word { id: b, .. }] = pair {
            terms[*b as usize].left.insert(*a);
            terms[*a as usize].right.insert(*b);
        }
    }
    let sentences = (sentence + 1) as f64;
    let content: Vec<f64> = terms
        .iter()
        .zip(&names)
        .filter(|(_, n)| !stop.contains(n.as_str()))
        .map(|(t, _)| t.tf)
        .collect();
    let mean = content.iter().sum::<f64>() / content.len().max(1) as f64;
    let sd = (content.iter().map(|x| (x - mean).powi(2)).sum::<f64>()
        / content.len().max(1) as f64)
        .sqrt();
    let max_tf = terms.iter().map(|t| t.tf).fold(1.0, f64::max);
    let score: Vec<f64> = terms
        .iter()
        .map(|t| {
            let case = t.upper.max(t.acronym) / (1.0 + t.tf.ln());
            let median = t.positions[t.positions.len() / 2] as f64;
            let position = (3.0 + median).ln().ln();
            let freq = t.tf / (mean + sd).max(1e-9);
            let rel = 1.0 + (t.left.len() + t.right.len()) as f64 / (2.0 * t.tf) * (t.tf / max_tf);
            let spread = t.sentences as f64 / sentences;
            position * rel / (case + (freq + spread) / rel)
        })
        .collect();

    let mut cands: FxHashMap<Vec<u32>, f64> = FxHashMap::default();
    for start in 0..toks.len() {
        let mut ngram: Vec<u32> = Vec::new();
        for tok in toks.iter().skip(start).take(max_ngram) {
            // Phrases of content words only: "shares fell sharply", not "sharply on thursday".
            let Tok::Word { id, stop: false } = *tok else {
                break;
            };
            ngram.push(id);
            *cands.entry(ngram.clone()).or_default() += 1.0;
        }
    }
    let mut scored: Vec<(String, f64)> = cands
        .into_iter()
        .map(|(ng, tf)| {
            let prod: f64 = ng.iter().map(|i| score[*i as usize]).product();
            let sum: f64 = ng.iter().map(|i| score[*i as usize]).sum();
            let phrase = ng
                .iter()
                .map(|i| names[*i as usize].as_str())
                .collect::<Vec<_>>()
                .join(" ");
            (phrase, prod / (tf * (1.0 + sum)))
        })
        .collect();
    scored.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    // Skip a phrase whose words are all inside one already chosen, and vice versa.
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut chosen: Vec<FxHashSet<&str>> = Vec::new();
    for (p, s) in &scored {
        if out.len() == top {
            break;
        }
        let words: FxHashSet<&str> = p.split(' ').collect();
        let dup = chosen
            .iter()
            .any(|qw| words.is_subset(qw) || qw.is_subset(&words));
        if !dup {
            out.push((p.clone(), (s * 1e4).round() / 1e4));
            chosen.push(words);
        }
    }
    out
}

pub struct Keywords {
    pub top: usize,
    pub max_ngram: usize,
}

impl Enricher for Keywords {
    fn name(&self) -> &'static str {
        "keywords"
    }

    fn enrich(
        &self,
        item: &mut Content,
        _state: &dyn super::EnrichState,
    ) -> Result<(), super::EnrichError> {
        let kws = extract(
            &super::sentiment::reading_text(item),
            self.top,
            self.max_ngram,
        );
        let list: Vec<_> = kws.into_iter().map(|(k, _)| k).collect();
        item.enrichments.insert("keywords".into(), json!(list));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finance_paragraph_keyphrases() {
        let text = "Apple shares fell sharply on Thursday after the company missed quarterly \
                    revenue estimates. Apple said iPhone sales slowed in China, and shares fell \
                    further in late trading.";
        let kws: Vec<String> = extract(text, 5, 3).into_iter().map(|(k, _)| k).collect();
        assert!(kws.iter().any(|k| k.contains("apple")), "{kws:?}");
        assert!(
            kws.iter()
                .any(|k| k.contains("shares fell") || k.contains("revenue")),
            "{kws:?}"
        );
        assert!(
            kws.iter()
                .all(|k| !k.starts_with("the ") && !k.ends_with(" the")),
            "{kws:?}"
        );
        assert!(extract("", 5, 3).is_empty());
        assert!(extract("the and of", 5, 3).is_empty());
    }
}
