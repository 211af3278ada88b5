//! VADER's fixed word lists and constants (Hutto & Gilbert, ICWSM 2014), as the
//! reference implementation `vaderSentiment` 3.3.2 defines them. They are data: the
//! published values, not tuning knobs — changing one breaks parity.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

/// Mean intensity increase of a booster word ("very").
pub const B_INCR: f64 = 0.293;
/// ... and decrease of a dampener ("slightly").
pub const B_DECR: f64 = -0.293;
/// Increase for an ALL-CAPS word among mixed-case ones.
pub const C_INCR: f64 = 0.733;
/// Factor applied to a negated word.
pub const N_SCALAR: f64 = -0.74;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS_UP: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];

const BOOSTERS_DOWN: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "just enough",
    "kind of",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sort of",
    "sorta",
    "sortof",
    "sort-of",
];

/// Multi-word booster keys, as word sequences (tokens never hold a space, so a joined
/// n-gram equals a key exactly when its words do).
pub const BOOSTER_NGRAMS: &[(&[&str], f64)] = &[
    (&["just", "enough"], B_DECR),
    (&["kind", "of"], B_DECR),
    (&["sort", "of"], B_DECR),
];

/// Idioms and phrases holding lexicon words, with the valence that replaces the word's.
/// (`badass` is a one-word key in the reference; it can never equal a two-word n-gram,
/// so it is left out here exactly as it has no effect there.)
pub const SPECIAL_CASES: &[(&[&str], f64)] = &[
    (&["the", "shit"], 3.0),
    (&["the", "bomb"], 3.0),
    (&["bad", "ass"], 1.5),
    (&["bus", "stop"], 0.0),
    (&["yeah", "right"], -2.0),
    (&["kiss", "of", "death"], -1.5),
    (&["to", "die", "for"], 3.0),
    (&["beating", "heart"], 3.5),
];

/// A word of every key of `SPECIAL_CASES` and `BOOSTER_NGRAMS` that is uncommon in
/// text (not "the", "of", "to", "for"): a text without any of them cannot match one.
/// `idiom_markers_cover_every_key` keeps this list honest.
pub const IDIOM_MARKERS: &[&str] = &[
    "shit", "bomb", "ass", "bus", "yeah", "kiss", "die", "beating", "enough", "kind", "sort",
];

/// The negation words of the reference's list (the `n't` rule is separate).
pub fn negation_words() -> impl Iterator<Item = &'static str> {
    NEGATE.iter().copied()
}

/// `"n't" in word`, without a general substring search: most words hold no
/// apostrophe at all, and this runs several times per sentiment word.
pub fn contains_nt(b: &[u8]) -> bool {
    memchr::memchr_iter(b'\'', b).any(|i| i > 0 && b[i - 1] == b'n' && b.get(i + 1) == Some(&b't'))
}

/// Every booster and dampener word.
pub fn booster_words() -> impl Iterator<Item = &'static str> {
    BOOSTERS_UP.iter().chain(BOOSTERS_DOWN).copied()
}

/// The booster/dampener value of a single word, if it is one.
pub fn booster(lower: &str) -> Option<f64> {
    static MAP: OnceLock<FxHashMap<&'static str, f64>> = OnceLock::new();
    MAP.get_or_init(|| {
        BOOSTERS_UP
            .iter()
            .map(|w| (*w, B_INCR))
            .chain(BOOSTERS_DOWN.iter().map(|w| (*w, B_DECR)))
            .collect()
    })
    .get(lower)
    .copied()
}

#[cfg(test)]
mod tests {
    #[test]
    fn negations_with_and_without_apostrophes() {
        let negated =
            |w: &str| super::negation_words().any(|n| n == w) || super::contains_nt(w.as_bytes());
        for w in ["not", "never", "don't", "isn't", "ain't", "wasn't", "n't"] {
            assert!(negated(w), "{w}");
        }
        for w in ["now", "n'", "'t", "n", "can", "won", "o'neil"] {
            assert!(!negated(w), "{w}");
        }
    }

    #[test]
    fn idiom_markers_cover_every_key() {
        for (key, _) in super::SPECIAL_CASES.iter().chain(super::BOOSTER_NGRAMS) {
            assert!(
                key.iter().any(|w| super::IDIOM_MARKERS.contains(w)),
                "{key:?} holds no marker"
            );
        }
    }
}
