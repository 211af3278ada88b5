//! Language detection, explicit and small: seven Latin-script languages by their most
//! frequent words (`data/language/*.txt`, from wordfreq), five more by script. A text
//! too short or too mixed to tell is `und` (undetermined) — never guessed, because a
//! wrong guess filters a good item.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use serde_json::json;

use super::Enricher;
use crate::model::Content;

/// Languages the detector can name (ISO 639-1).
/// Below this the detector says `und` rather than guess.
const MIN_CONFIDENCE: f64 = 0.05;

pub const SUPPORTED: &[&str] = &[
    "en", "de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ja", "ko", "ar",
];

const WORD_LISTS: &[(&str, &str)] = &[
    ("en", include_str!("../../../../data/language/en.txt")),
    ("de", include_str!("../../../../data/language/de.txt")),
    ("fr", include_str!("../../../../data/language/fr.txt")),
    ("es", include_str!("../../../../data/language/es.txt")),
    ("it", include_str!("../../../../data/language/it.txt")),
    ("pt", include_str!("../../../../data/language/pt.txt")),
    ("nl", include_str!("../../../../data/language/nl.txt")),
];

/// word → bitmask of the languages whose top words include it.
fn index() -> &'static FxHashMap<&'static str, u8> {
    static I: OnceLock<FxHashMap<&'static str, u8>> = OnceLock::new();
    I.get_or_init(|| {
        let mut m: FxHashMap<&'static str, u8> = FxHashMap::default();
        for (i, (_, list)) in WORD_LISTS.iter().enumerate() {
            for w in list
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                *m.entry(w).or_default() |= 1 << i;
            }
        }
        m
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    pub lang: &'static str,
    pub confidence: f64,
}

pub fn detect(text: &str) -> Detected {
    let und = Detected {
        lang: "und",
        confidence: 0.0,
    };
    // Script first: letters outside Latin decide on their own.
    let (mut latin, mut cyr, mut han, mut kana, mut hangul, mut arabic) = (0, 0, 0, 0, 0, 0);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        match c as u32 {
            0x0041..=0x024F => latin += 1,
            0x0400..=0x04FF => cyr += 1,
            0x3040..=0x30FF => kana += 1,
            0x4E00..=0x9FFF => han += 1,
            0xAC00..=0xD7AF | 0x1100..=0x11FF => hangul += 1,
            0x0600..=0x06FF => arabic += 1,
            _ => {}
        }
    }
    let non_latin = cyr + han + kana + hangul + arabic;
    if non_latin > latin {
        let lang = if kana > 0 {
            "ja"
        } else if hangul >= han.max(cyr).max(arabic) {
            "ko"
        } else if han >= cyr.max(arabic) {
            "zh"
        } else if cyr >= arabic {
            "ru"
        } else {
            "ar"
        };
        let share = non_latin as f64 / (latin + non_latin) as f64;
        return Detected {
            lang,
            confidence: round2(share),
        };
    }
    let idx = index();
    let mut hits = [0u32; 7];
    let mut words = 0u32;
    for raw in text.split_whitespace() {
        // Cashtags, mentions, links and numbers say nothing about the language.
        if raw.starts_with(['$', '@', '#']) || raw.contains("://") || raw.starts_with("www.") {
            continue;
        }
        let w = raw.trim_matches(|c: char| !c.is_alphabetic() && c != '\'');
        if w.is_empty() {
            continue;
        }
        words += 1;
        let lw = w.to_lowercase();
        if let Some(mask) = idx.get(lw.as_str()) {
            for (i, h) in hits.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    *h += 1;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..7).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(hits[i]));
    let (best, second) = (hits[order[0]], hits[order[1]]);
    // Two function words at least, and clearly more than the runner-up (two more, and
    // a quarter more).
    if best < 2 || words < 3 || best * 4 < second * 5 || best - second < 2 {
        return und;
    }
    let confidence = (best - second) as f64 / best as f64 * (best as f64 / words as f64).min(1.0);
    // Filings and tickers-and-numbers posts match a word or two of some list by
    // chance: below this, it is not a language, it is noise.
    if confidence < MIN_CONFIDENCE {
        return und;
    }
    Detected {
        lang: WORD_LISTS[order[0]].0,
        confidence: round2(confidence.max(0.01)),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub struct Language;

impl Enricher for Language {
    fn name(&self) -> &'static str {
        "language"
    }

    fn enrich(
        &self,
        item: &mut Content,
        _state: &dyn super::EnrichState,
    ) -> Result<(), super::EnrichError> {
        let d = detect(&super::sentiment::reading_text(item));
        item.enrichments.insert(
            "language".into(),
            json!({"lang": d.lang, "confidence": d.confidence}),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_supported_languages() {
        assert_eq!(
            detect("The company said that its revenue for the quarter was up").lang,
            "en"
        );
        assert_eq!(
            detect("Die Aktie ist heute um fünf Prozent gefallen, sagt der Analyst").lang,
            "de"
        );
        assert_eq!(
            detect("Le titre a chuté de cinq pour cent après les résultats").lang,
            "fr"
        );
        assert_eq!(
            detect("Las acciones de la empresa subieron un cinco por ciento hoy").lang,
            "es"
        );
        assert_eq!(
            detect("Акции компании выросли на пять процентов").lang,
            "ru"
        );
        assert_eq!(detect("トヨタの株価が上昇した").lang, "ja");
        assert_eq!(detect("$TSLA 🚀").lang, "und");
        assert_eq!(detect("TSLA calls").lang, "und");
        assert_eq!(
            detect("Filed: 2026-10-15 AccNo: 0000950170-26-000000 Size: 812 KB").lang,
            "und"
        );
    }
}
