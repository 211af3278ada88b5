//! Dedup: exact (hash of the normalized text) and near duplicates (Jaccard similarity
//! of word and word-pair sets ≥ `near_threshold`) within a window, against state in
//! the store — so it holds across restarts and is shared by every worker. A duplicate
//! is kept and linked to its original (`dedup.first_id`): the earliest item it repeats,
//! by `happened_at` then id, whatever the processing order (`state::decide`).
//!
//! Items about different tickers are never duplicates: the item's sorted ticker set is
//! part of both the exact hash and every LSH band key, so "$A $B both red today" and
//! "$C $D both red today" never even meet as candidates.
//!
//! Near candidates are found by MinHash LSH (32 hashes in 16 bands of 2: a pair at
//! Jaccard 0.7 shares a band with probability > 0.99), then confirmed with the exact
//! Jaccard of the stored feature sets. Simhash was tried first and rejected: on a
//! 15-word headline one added word moved 5–8 of 64 bits, as many as a real rewrite.

use serde_json::json;

use super::state::{EnrichState, Fingerprint};
use super::{EnrichError, Enricher};
use crate::model::Content;

/// Lower-case words, without links, mentions-prefix noise ("RT @x:") or punctuation:
/// the text as a reader would compare it.
pub fn normalized_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = text
        .split_whitespace()
        .filter(|w| !(w.contains("://") || w.starts_with("www.")))
        // "better-than-expected" and "better than expected" are the same words.
        .flat_map(|w| w.split(['-', '\u{2013}', '\u{2014}']))
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '$')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.first().is_some_and(|w| w == "rt") {
        words.remove(0);
        if text
            .split_whitespace()
            .nth(1)
            .is_some_and(|w| w.starts_with('@'))
            && !words.is_empty()
        {
            words.remove(0);
        }
    }
    words
}

/// FNV-1a, then a final avalanche so nearby strings spread over all 64 bits (simhash
/// needs every bit of a feature hash to be a fair coin).
fn hash64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Texts shorter than this many words get exact dedup only: two different three-word
/// posts easily share most of their words.
const NEAR_MIN_WORDS: usize = 6;

/// The features compared: each word and each adjacent word pair, hashed, sorted,
/// deduplicated.
pub fn features(words: &[String]) -> Vec<u64> {
    let mut f: Vec<u64> = words.iter().map(|w| hash64(w)).collect();
    f.extend(
        words
            .windows(2)
            .map(|p| hash64(&format!("{} {}", p[0], p[1]))),
    );
    f.sort_unstable();
    f.dedup();
    f
}

const MINHASHES: usize = 32;
const ROWS_PER_BAND: usize = 2;

/// LSH band keys of the feature set: items sharing a key are near candidates.
pub fn band_keys(features: &[u64]) -> Vec<i64> {
    let mut mins = [u64::MAX; MINHASHES];
    for f in features {
        for (k, m) in mins.iter_mut().enumerate() {
            // One cheap permutation per k: xor with a per-k constant, then avalanche.
            let h = mix(f ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(k as u64 + 1)));
            if h < *m {
                *m = h;
            }
        }
    }
    mins.chunks(ROWS_PER_BAND)
        .enumerate()
        .map(|(band, rows)| {
            let h = rows.iter().fold(band as u64, |acc, r| mix(acc ^ r));
            h as i64
        })
        .collect()
}

fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Exact Jaccard similarity of two sorted, deduplicated feature sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 {
        1.0
    } else {
        both as f64 / union as f64
    }
}

/// The item's tickers, sorted, as one hash (0 when it names none).
fn tickers_hash(item: &Content) -> u64 {
    if item.tickers.is_empty() {
        return 0;
    }
    let mut t: Vec<&str> = item.tickers.iter().map(String::as_str).collect();
    t.sort_unstable();
    t.dedup();
    hash64(&t.join(","))
}

pub fn fingerprint(item: &Content) -> Option<Fingerprint> {
    let words = normalized_words(&super::sentiment::reading_text(item));
    if words.is_empty() {
        return None;
    }
    let tickers = tickers_hash(item);
    let exact = mix(hash64(&words.join(" ")) ^ tickers);
    let (features, bands) = if words.len() >= NEAR_MIN_WORDS {
        let f = features(&words);
        let b = band_keys(&f)
            .into_iter()
            .map(|k| mix(k as u64 ^ tickers) as i64)
            .collect();
        (f, b)
    } else {
        (Vec::new(), Vec::new())
    };
    Some(Fingerprint {
        content_id: item.id,
        exact,
        features,
        bands,
        at: item.happened_at,
    })
}

pub struct Dedup {
    pub window: chrono::Duration,
    /// Jaccard similarity from which an item is a near duplicate (1.0 = exact only).
    pub near: f64,
}

impl Enricher for Dedup {
    fn name(&self) -> &'static str {
        "dedup"
    }

    fn enrich(&self, item: &mut Content, state: &dyn EnrichState) -> Result<(), EnrichError> {
        let Some(fp) = fingerprint(item) else {
            item.enrichments.insert(
                "dedup".into(),
                json!({"kind": "unique", "first_id": item.id}),
            );
            return Ok(());
        };
        let r = state
            .dedup(&fp, self.window, self.near)
            .map_err(EnrichError::from)?;
        let v = r.verdict;
        let mut out = json!({"kind": v.kind.as_str(), "first_id": v.first_id});
        if v.kind == super::state::DupKind::Near {
            out["similarity"] = json!((v.similarity * 1000.0).round() / 1000.0);
        }
        item.enrichments.insert("dedup".into(), out);
        // Later items (processed earlier) this one turned out to precede: the stage
        // brings their stored verdicts up to date. Kept beside `dedup`, not in it: the
        // store rewrites a revised item's `dedup` object in place (`sync_dedup`), which
        // holds only flat values.
        if !r.revised.is_empty() {
            let revised: Vec<_> = r
                .revised
                .iter()
                .map(|(id, at)| json!({"id": id, "at_ms": at}))
                .collect();
            item.enrichments
                .insert("dedup_revised".into(), serde_json::Value::Array(revised));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::state::{DupKind, MemoryState};

    fn run(d: &Dedup, s: &MemoryState, id: &str, text: &str) -> (String, String) {
        let mut i = crate::enrich::text_item(text);
        i.id = crate::model::content_id("t", id);
        d.enrich(&mut i, s).unwrap();
        let v = &i.enrichments["dedup"];
        (
            v["kind"].as_str().unwrap().to_string(),
            v["first_id"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn exact_near_and_distinct() {
        let d = Dedup {
            window: chrono::Duration::days(14),
            near: 0.7,
        };
        let s = MemoryState::default();
        let first = crate::model::content_id("t", "1").to_string();
        let text =
            "Tesla recalls 2 million vehicles over autopilot concerns, regulators say in a filing";
        assert_eq!(run(&d, &s, "1", text), ("unique".into(), first.clone()));
        assert_eq!(
            run(&d, &s, "2", &format!("RT @bot: {}", text.to_uppercase())),
            ("exact".into(), first.clone())
        );
        let near = "Tesla recalls 2 million vehicles over autopilot concerns, regulators say in a filing today";
        let fp = |t: &str| fingerprint(&crate::enrich::text_item(t)).unwrap().features;
        let cars =
            "Tesla recalls 2 million cars over autopilot concerns, regulators say in a filing";
        assert!(jaccard(&fp(text), &fp(cars)) > 0.7);
        assert!(
            jaccard(
                &fp(text),
                &fp("Apple unveils a new iPhone with a faster chip and better camera")
            ) < 0.1
        );
        assert_eq!(run(&d, &s, "3", near).0, "near");
        assert_eq!(
            run(
                &d,
                &s,
                "4",
                "Apple unveils a new iPhone with a faster chip and better camera"
            )
            .0,
            "unique"
        );
        // A replay gets the same verdict.
        assert_eq!(run(&d, &s, "2", text), ("exact".into(), first));
        let _ = DupKind::Unique;
    }
}
