//! Cashtags: `$TSLA`, `$brk.b` → tickers. Merges what the platform marked (X entities)
//! with what the title and text contain.
//!
//! A cashtag is `$` + 1–6 letters, optionally `.` + 1–2 letters (share classes),
//! not preceded by a letter, digit or `$`, and not followed by a letter or digit. So
//! `$5B`, `US$100`, `$$` and `$ABCDEFGH` are not tickers. Mixed case (`$Money`) is
//! prose, not a ticker; all-lower (`$tsla`) is how people type on phones, so it counts.

use super::Enricher;
use crate::model::Content;

pub struct Cashtags;

impl Enricher for Cashtags {
    fn name(&self) -> &'static str {
        "cashtags"
    }

    fn enrich(
        &self,
        item: &mut Content,
        _state: &dyn super::EnrichState,
    ) -> Result<(), super::EnrichError> {
        let mut tags: Vec<String> = item
            .cashtags
            .iter()
            .map(|t| t.trim_start_matches('$').to_uppercase())
            .collect();
        if let Some(title) = &item.title {
            tags.extend(scan_cashtags(title));
        }
        tags.extend(scan_cashtags(&item.text));
        dedup_keep_order(&mut tags);
        item.cashtags = tags.clone();
        item.tickers.extend(tags);
        dedup_keep_order(&mut item.tickers);
        Ok(())
    }
}

fn dedup_keep_order(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|t| seen.insert(t.clone()));
}

/// Finds cashtags in `text`, upper-cased, in order of appearance (duplicates kept).
pub fn scan_cashtags(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(pos) = memchr_dollar(&b[i..]) {
        let at = i + pos;
        i = at + 1;
        if at > 0 {
            let prev = b[at - 1];
            if prev.is_ascii_alphanumeric() || prev == b'$' {
                continue;
            }
        }
        let mut j = at + 1;
        while j < b.len() && b[j].is_ascii_alphabetic() {
            j += 1;
        }
        let sym_len = j - (at + 1);
        if sym_len == 0 || sym_len > 6 {
            continue;
        }
        // Share class: `.B` in `$BRK.B`, but not a sentence-ending period.
        let mut end = j;
        if j + 1 < b.len() && b[j] == b'.' {
            let mut k = j + 1;
            while k < b.len() && b[k].is_ascii_alphabetic() {
                k += 1;
            }
            if (1..=2).contains(&(k - j - 1)) && (k == b.len() || !b[k].is_ascii_alphanumeric()) {
                end = k;
            }
        }
        if end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            continue;
        }
        let sym = &text[at + 1..end];
        let letters = sym.chars().filter(|c| c.is_ascii_alphabetic());
        let (upper, lower) = letters.fold((0, 0), |(u, l), c| {
            if c.is_ascii_uppercase() {
                (u + 1, l)
            } else {
                (u, l + 1)
            }
        });
        if upper > 0 && lower > 0 {
            continue;
        }
        out.push(sym.to_ascii_uppercase());
        i = end;
    }
    out
}

fn memchr_dollar(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_real_cashtags_only() {
        assert_eq!(
            scan_cashtags("$TSLA and $aapl, $BRK.B."),
            vec!["TSLA", "AAPL", "BRK.B"]
        );
        assert_eq!(
            scan_cashtags("paid $5B, US$100, $$, $ABCDEFGH, $Money"),
            Vec::<String>::new()
        );
        assert_eq!(scan_cashtags("($NVDA)"), vec!["NVDA"]);
        assert_eq!(scan_cashtags("$GME."), vec!["GME"]);
        assert_eq!(scan_cashtags("emoji 🚀$AMC🚀"), vec!["AMC"]);
        assert_eq!(scan_cashtags("$F_x"), Vec::<String>::new());
    }
}
