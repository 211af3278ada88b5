//! VADER sentiment, written for sigflow: the scores equal Python `vaderSentiment` 3.3.2
//! to the last rounded digit on any text, and it runs two orders of magnitude faster.
//!
//! Why our own and not the `vader_sentiment` crate: that crate differs from the
//! reference on emoticons (it counts `:(` as ALL CAPS) and on short tokens (it strips
//! `ok,` to `ok`). Parity is a product requirement here, so the rules are implemented
//! from the published algorithm, and every Python `str` behaviour they lean on is
//! reproduced in [`pystr`]. The quirks of the reference are kept on purpose (see the
//! comments marked "reference quirk"): a score that differs from what users compare
//! against is a bug report, however principled.
//!
//! The lexicons (`data/vader/`, MIT, © C.J. Hutto) are bundled as data.
//!
//! Finance mode ([`finance`]) is the same machine with a lexicon overlay and phrase
//! rules: per-token valences are resolved once into `lex`, and every rule reads them
//! from there, so the two modes share all of the code below.

pub mod finance;
pub mod pystr;
mod rules;

use std::borrow::Cow;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

/// Per-thread buffers reused from text to text: scoring allocates nothing once they
/// have grown to the longest text seen.
#[derive(Default)]
struct Scratch {
    lowbuf: String,
    /// (in lowbuf?, start, end) of each token's lower-case form.
    spans: Vec<(bool, u32, u32)>,
    upper: Vec<bool>,
    lex: Vec<Option<f64>>,
    boost: Vec<Option<f64>>,
    neg: Vec<bool>,
    sentiments: Vec<f64>,
}

impl Scratch {
    fn clear(&mut self) {
        self.lowbuf.clear();
        self.spans.clear();
        self.upper.clear();
        self.lex.clear();
        self.boost.clear();
        self.neg.clear();
        self.sentiments.clear();
    }
}

const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'A'..=b'Z' => 1,
            b'a'..=b'z' => 2,
            0x80..=0xFF => 4,
            _ => 0,
        };
        c += 1;
    }
    t
};

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}
use serde::Serialize;

use pystr::{for_each_word, is_upper, lower, round, strip_punc_if_word, strip_space};
use rules::{BOOSTER_NGRAMS, C_INCR, N_SCALAR, SPECIAL_CASES, booster, contains_nt};

const LEXICON: &str = include_str!("../../../../../data/vader/vader_lexicon.txt");
const EMOJI_LEXICON: &str = include_str!("../../../../../data/vader/emoji_utf8_lexicon.txt");

/// VADER's output: proportions of the text that are negative, neutral and positive
/// (rounded to 3 decimals) and the normalized compound score in [-1, 1] (4 decimals).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub neg: f64,
    pub neu: f64,
    pub pos: f64,
    pub compound: f64,
}

/// A sentiment analyzer: a lexicon, the emoji descriptions, and (finance mode) phrase
/// rules. Build once, share everywhere; scoring takes `&self`.
pub struct Vader {
    lexicon: FxHashMap<Box<str>, f64>,
    /// Lexicon valence and booster value of every word that has either: one hash
    /// lookup per token instead of two.
    words: FxHashMap<Box<str>, Word>,
    emojis: FxHashMap<char, Box<str>>,
    phrases: finance::Phrases,
}

impl Vader {
    /// The reference analyzer: VADER's own lexicon, no additions.
    pub fn standard() -> &'static Vader {
        static V: OnceLock<Vader> = OnceLock::new();
        V.get_or_init(|| {
            let lexicon = parse_lexicon(LEXICON);
            Vader {
                words: word_index(&lexicon),
                lexicon,
                emojis: parse_emojis(EMOJI_LEXICON),
                phrases: finance::Phrases::default(),
            }
        })
    }

    /// VADER's lexicon with `overlay` applied (a `None` removes a word) and phrase rules.
    pub fn with_overlay(
        overlay: impl IntoIterator<Item = (String, Option<f64>)>,
        phrases: finance::Phrases,
    ) -> Vader {
        let base = Vader::standard();
        let mut lexicon = base.lexicon.clone();
        for (word, v) in overlay {
            match v {
                Some(v) => lexicon.insert(word.into_boxed_str(), v),
                None => lexicon.remove(word.as_str()),
            };
        }
        Vader {
            words: word_index(&lexicon),
            lexicon,
            emojis: base.emojis.clone(),
            phrases,
        }
    }

    pub fn polarity_scores(&self, text: &str) -> Scores {
        SCRATCH.with(|s| self.score_with(text, &mut s.borrow_mut()))
    }

    fn score_with(&self, text: &str, sc: &mut Scratch) -> Scores {
        let text = self.replace_emojis(text);
        let text = strip_space(&text);
        sc.clear();
        // One pass per token: `str.split()`, VADER's punctuation strip, and what the
        // case rules need (Python's isupper(), whether lower-casing changes anything).
        // Lower-case forms of tokens that need one go into one reused buffer; tokens
        // already in lower-case ASCII (most) are their own.
        let base = text.as_ptr() as usize;
        for_each_word(text, |w| {
            let t = strip_punc_if_word(w);
            let b = t.as_bytes();
            // One table load per byte: bit 1 upper, 2 lower, 4 non-ASCII.
            let class = b.iter().fold(0u8, |acc, &c| acc | BYTE_CLASS[c as usize]);
            let (up, lo, non_ascii) = (class & 1 != 0, class & 2 != 0, class & 4 != 0);
            if !non_ascii && !up {
                let start = t.as_ptr() as usize - base;
                sc.spans
                    .push((false, start as u32, (start + t.len()) as u32));
                sc.upper.push(false);
                return;
            }
            let start = sc.lowbuf.len();
            if non_ascii {
                sc.lowbuf.push_str(&lower(t));
                sc.upper.push(is_upper(t));
            } else {
                sc.lowbuf.push_str(t);
                sc.lowbuf[start..].make_ascii_lowercase();
                sc.upper.push(!lo);
            }
            sc.spans.push((true, start as u32, sc.lowbuf.len() as u32));
        });
        if sc.spans.is_empty() {
            return Scores {
                neg: 0.0,
                neu: 0.0,
                pos: 0.0,
                compound: 0.0,
            };
        }
        let Scratch {
            lowbuf,
            spans,
            upper,
            lex,
            boost,
            neg,
            sentiments,
        } = sc;
        // The tokens' lower-case forms, on the stack for all but very long texts.
        let resolve = |&(in_buf, s, e): &(bool, u32, u32)| {
            let (s, e) = (s as usize, e as usize);
            if in_buf { &lowbuf[s..e] } else { &text[s..e] }
        };
        let mut on_stack: [&str; 64] = [""; 64];
        let on_heap: Vec<&str>;
        let low: &[&str] = if spans.len() <= on_stack.len() {
            for (slot, sp) in on_stack.iter_mut().zip(spans.iter()) {
                *slot = resolve(sp);
            }
            &on_stack[..spans.len()]
        } else {
            on_heap = spans.iter().map(resolve).collect();
            &on_heap
        };
        let mut idioms = false;
        for w in low {
            let x = self.words.get(*w).copied().unwrap_or_default();
            lex.push(x.lex);
            boost.push(x.boost);
            neg.push(x.neg);
            idioms |= x.idiom;
        }
        let heads = self.phrases.apply(low, lex);
        let (lex, boost, upper): (&[Option<f64>], &[Option<f64>], &[bool]) = (lex, boost, upper);
        let t = Text {
            low,
            lex,
            boost,
            cap_diff: cap_differential(upper),
            upper,
            idioms,
            neg,
        };
        for i in 0..low.len() {
            let is_head = heads.as_ref().is_some_and(|h| h[i]);
            if !is_head
                && (boost[i].is_some()
                    || (i + 1 < low.len() && low[i] == "kind" && low[i + 1] == "of"))
            {
                sentiments.push(0.0);
                continue;
            }
            sentiments.push(t.valence(i));
        }
        but_check(low, sentiments);
        score(sentiments, text)
    }

    /// Each character found in the emoji lexicon becomes its description, set off by a
    /// space unless one precedes it (the reference adds no space after it).
    fn replace_emojis<'a>(&self, text: &'a str) -> Cow<'a, str> {
        // Every emoji is non-ASCII: ASCII characters need no lookup.
        // Decode only at the lead bytes of multi-byte characters.
        let b = text.as_bytes();
        let has_emoji = !text.is_ascii()
            && b.iter().enumerate().any(|(i, &lead)| {
                lead >= 0xC0
                    && text[i..]
                        .chars()
                        .next()
                        .is_some_and(|c| self.emojis.contains_key(&c))
            });
        if !has_emoji {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 32);
        let mut prev_space = true;
        for c in text.chars() {
            if let Some(desc) = self.emojis.get(&c) {
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(desc);
                prev_space = false;
            } else {
                out.push(c);
                // Reference quirk: only U+0020 counts here, not other whitespace.
                prev_space = c == ' ';
            }
        }
        Cow::Owned(out)
    }
}

/// One text, tokenized, with each token's lexicon valence resolved.
struct Text<'a> {
    low: &'a [&'a str],
    lex: &'a [Option<f64>],
    boost: &'a [Option<f64>],
    /// Python's `isupper()` of each token.
    upper: &'a [bool],
    cap_diff: bool,
    /// Whether any token is an idiom marker: without one no idiom or booster n-gram can
    /// match, and the (exact) check is skipped.
    idioms: bool,
    /// Whether each token is in the negation list.
    neg: &'a [bool],
}

impl Text<'_> {
    fn valence(&self, i: usize) -> f64 {
        let Some(word_valence) = self.lex[i] else {
            return 0.0;
        };
        let low = self.low;
        let n = low.len();
        let mut valence = word_valence;
        // "no" right before a lexicon word negates that word instead of scoring itself.
        if low[i] == "no" && i != n - 1 && self.lex[i + 1].is_some() {
            valence = 0.0;
        }
        if (i > 0 && low[i - 1] == "no")
            || (i > 1 && low[i - 2] == "no")
            || (i > 2 && low[i - 3] == "no" && (low[i - 1] == "or" || low[i - 1] == "nor"))
        {
            valence = word_valence * N_SCALAR;
        }
        if self.upper[i] && self.cap_diff {
            // Reference quirk: a zero valence ("no" above) counts as negative here.
            if valence > 0.0 {
                valence += C_INCR;
            } else {
                valence -= C_INCR;
            }
        }
        for start_i in 0..3 {
            let j = i.wrapping_sub(start_i + 1);
            if i > start_i && self.lex[j].is_none() {
                let mut s = self.scalar_inc_dec(j, valence);
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = negation_check(valence, low, self.neg, start_i, i);
                if start_i == 2 && self.idioms {
                    valence = special_idioms_check(valence, low, i);
                }
            }
        }
        self.least_check(valence, i)
    }

    /// How much the modifier at `j` raises or lowers the valence that follows it.
    fn scalar_inc_dec(&self, j: usize, valence: f64) -> f64 {
        let Some(mut scalar) = self.boost[j] else {
            return 0.0;
        };
        if valence < 0.0 {
            scalar *= -1.0;
        }
        if self.upper[j] && self.cap_diff {
            if valence > 0.0 {
                scalar += C_INCR;
            } else {
                scalar -= C_INCR;
            }
        }
        scalar
    }

    fn least_check(&self, valence: f64, i: usize) -> f64 {
        let low = self.low;
        if i > 1 && self.lex[i - 1].is_none() && low[i - 1] == "least" {
            if low[i - 2] != "at" && low[i - 2] != "very" {
                return valence * N_SCALAR;
            }
        } else if i > 0 && self.lex[i - 1].is_none() && low[i - 1] == "least" {
            return valence * N_SCALAR;
        }
        valence
    }
}

/// Python's `allcap_differential`: some, but not all, tokens are ALL CAPS.
fn cap_differential(upper: &[bool]) -> bool {
    let caps = upper.iter().filter(|u| **u).count();
    let diff = upper.len() - caps;
    0 < diff && diff < upper.len()
}

fn negation_check(valence: f64, low: &[&str], neg: &[bool], start_i: usize, i: usize) -> f64 {
    // The reference's `negated()`: in the list, or holding "n't".
    let is_negation_word = |k: usize| neg[k] || contains_nt(low[k].as_bytes());
    let so_this = |w: &str| w == "so" || w == "this";
    match start_i {
        0 if is_negation_word(i - 1) => valence * N_SCALAR,
        1 => {
            if low[i - 2] == "never" && so_this(low[i - 1]) {
                valence * 1.25
            } else if low[i - 2] == "without" && low[i - 1] == "doubt" {
                valence
            } else if is_negation_word(i - 2) {
                valence * N_SCALAR
            } else {
                valence
            }
        }
        2 => {
            // Reference quirk (operator precedence): "so"/"this" right before the word
            // boosts it on its own, "never" or not.
            if (low[i - 3] == "never" && so_this(low[i - 2])) || so_this(low[i - 1]) {
                valence * 1.25
            } else if low[i - 3] == "without" && (low[i - 2] == "doubt" || low[i - 1] == "doubt") {
                valence
            } else if is_negation_word(i - 3) {
                valence * N_SCALAR
            } else {
                valence
            }
        }
        _ => valence,
    }
}

fn seq_eq(words: &[&str], key: &[&str]) -> bool {
    words.len() == key.len() && words.iter().zip(key).all(|(a, b)| a == b)
}

fn special_case(words: &[&str]) -> Option<f64> {
    SPECIAL_CASES
        .iter()
        .find(|(k, _)| seq_eq(words, k))
        .map(|(_, v)| *v)
}

/// Idioms around word `i` (i ≥ 3) replace its valence; "kind of"/"sort of" before it
/// dampen it.
fn special_idioms_check(mut valence: f64, low: &[&str], i: usize) -> f64 {
    let onezero = [low[i - 1], low[i]];
    let twoonezero = [low[i - 2], low[i - 1], low[i]];
    let twoone = [low[i - 2], low[i - 1]];
    let threetwoone = [low[i - 3], low[i - 2], low[i - 1]];
    let threetwo = [low[i - 3], low[i - 2]];
    let before: [&[&str]; 5] = [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo];
    if let Some(v) = before.iter().find_map(|seq| special_case(seq)) {
        valence = v;
    }
    if low.len() - 1 > i
        && let Some(v) = special_case(&[low[i], low[i + 1]])
    {
        valence = v;
    }
    if low.len() - 1 > i + 1
        && let Some(v) = special_case(&[low[i], low[i + 1], low[i + 2]])
    {
        valence = v;
    }
    for n_gram in [&threetwoone[..], &threetwo[..], &twoone[..]] {
        if let Some((_, v)) = BOOSTER_NGRAMS.iter().find(|(k, _)| seq_eq(n_gram, k)) {
            valence += v;
        }
    }
    valence
}

/// The contrastive "but": what precedes it counts half, what follows one and a half.
///
/// Reference quirk: the reference finds each value's position with `list.index`, i.e.
/// the *first* equal value, so with repeated values (zeros, above all) it rescales the
/// first occurrence again and leaves later ones alone. Reproduced exactly.
fn but_check(low: &[&str], sentiments: &mut [f64]) {
    let Some(bi) = low.iter().position(|w| *w == "but") else {
        return;
    };
    for k in 0..sentiments.len() {
        let v = sentiments[k];
        let si = sentiments[..=k].iter().position(|x| *x == v).unwrap_or(k);
        if si < bi {
            sentiments[si] = v * 0.5;
        } else if si > bi {
            sentiments[si] = v * 1.5;
        }
    }
}

fn punctuation_emphasis(text: &str) -> f64 {
    let ep = memchr::memchr_iter(b'!', text.as_bytes()).count().min(4);
    let qm = memchr::memchr_iter(b'?', text.as_bytes()).count();
    let qm_amp = match qm {
        0 | 1 => 0.0,
        2 | 3 => qm as f64 * 0.18,
        _ => 0.96,
    };
    ep as f64 * 0.292 + qm_amp
}

fn normalize(score: f64) -> f64 {
    (score / (score * score + 15.0).sqrt()).clamp(-1.0, 1.0)
}

fn score(sentiments: &[f64], text: &str) -> Scores {
    let mut sum_s: f64 = sentiments.iter().fold(0.0, |a, s| a + s);
    // The emphasis only ever moves a non-zero sum: a text with no sentiment at all
    // (a good share of posts) skips counting its punctuation.
    let amp = if sentiments.iter().any(|s| *s != 0.0) {
        punctuation_emphasis(text)
    } else {
        0.0
    };
    if sum_s > 0.0 {
        sum_s += amp;
    } else if sum_s < 0.0 {
        sum_s -= amp;
    }
    let compound = normalize(sum_s);
    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0f64, 0.0f64, 0u32);
    for &s in sentiments {
        if s > 0.0 {
            pos_sum += s + 1.0;
        }
        if s < 0.0 {
            neg_sum += s - 1.0;
        }
        if s == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += amp;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= amp;
    }
    let total = pos_sum + neg_sum.abs() + f64::from(neu_count);
    Scores {
        neg: round((neg_sum / total).abs(), 3),
        neu: round((f64::from(neu_count) / total).abs(), 3),
        pos: round((pos_sum / total).abs(), 3),
        compound: round(compound, 4),
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Word {
    lex: Option<f64>,
    boost: Option<f64>,
    /// One of the uncommon words every idiom key holds (see `rules::IDIOM_MARKERS`).
    idiom: bool,
    /// In the reference's negation list (words with `n't` are negations too, checked
    /// where needed).
    neg: bool,
}

fn word_index(lexicon: &FxHashMap<Box<str>, f64>) -> FxHashMap<Box<str>, Word> {
    let mut m: FxHashMap<Box<str>, Word> = lexicon
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Word {
                    lex: Some(*v),
                    boost: booster(k),
                    idiom: false,
                    neg: false,
                },
            )
        })
        .collect();
    for w in rules::booster_words() {
        m.entry(w.into()).or_default().boost = booster(w);
    }
    for w in rules::IDIOM_MARKERS {
        m.entry((*w).into()).or_default().idiom = true;
    }
    for w in rules::negation_words() {
        m.entry(w.into()).or_default().neg = true;
    }
    m
}

/// `word<TAB>mean<TAB>…` lines; a later duplicate wins, as in a Python dict.
fn parse_lexicon(src: &str) -> FxHashMap<Box<str>, f64> {
    let mut map = FxHashMap::default();
    for line in src.trim_end_matches('\n').split('\n') {
        if line.is_empty() {
            continue;
        }
        let mut f = strip_space(line).split('\t');
        let (Some(word), Some(v)) = (f.next(), f.next()) else {
            continue;
        };
        if let Ok(v) = v.parse::<f64>() {
            map.insert(word.into(), v);
        }
    }
    map
}

/// `emoji<TAB>description` lines. Only single-character keys can ever match: the
/// reference looks emojis up one code point at a time.
fn parse_emojis(src: &str) -> FxHashMap<char, Box<str>> {
    let mut map = FxHashMap::default();
    for line in src.trim_end_matches('\n').split('\n') {
        let mut f = strip_space(line).split('\t');
        let (Some(emoji), Some(desc)) = (f.next(), f.next()) else {
            continue;
        };
        let mut chars = emoji.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            map.insert(c, desc.into());
        }
    }
    map
}

/// The label conventionally read off a compound score.
pub fn label(compound: f64) -> &'static str {
    if compound >= 0.05 {
        "positive"
    } else if compound <= -0.05 {
        "negative"
    } else {
        "neutral"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> f64 {
        Vader::standard().polarity_scores(text).compound
    }

    /// Values printed by Python vaderSentiment 3.3.2 for the same sentences.
    #[test]
    fn reference_examples() {
        assert_eq!(c("VADER is smart, handsome, and funny."), 0.8316);
        assert_eq!(
            c("VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!"),
            0.9469
        );
        assert_eq!(
            c("The product was kind of ok, but the support was horrible :("),
            -0.7227
        );
        assert_eq!(c("At least it isn't a horrible book."), 0.431);
        assert_eq!(c("Today only kinda sux! But I'll get by, lol"), 0.5249);
        assert_eq!(c("Catch utf-8 emoji such as 💘 and 💋 and 😁"), 0.875);
        assert_eq!(c("The Fed held rates steady on Wednesday."), 0.0);
        assert_eq!(c(""), 0.0);
    }
}
