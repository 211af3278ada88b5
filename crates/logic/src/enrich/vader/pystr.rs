//! Python `str` semantics that VADER's scores depend on. Parity with the reference
//! implementation is decided here, character by character: Rust's own notions of
//! whitespace, upper case and punctuation differ from Python's at the edges, and every
//! such edge moves a score.

use std::borrow::Cow;

/// Python's `str.isspace()` / the separators of `str.split()`: Unicode `White_Space`
/// plus the four ASCII information separators (U+001C..U+001F), which Python counts
/// as whitespace (bidirectional class B/S) and Rust does not.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Title-case letters (category Lt). Python's `isupper()` is False for a string holding
/// one; Rust has no predicate for the category, and the set is small and stable.
fn is_titlecase(c: char) -> bool {
    matches!(c,
        '\u{1C5}' | '\u{1C8}' | '\u{1CB}' | '\u{1F2}'
        | '\u{1F88}'..='\u{1F8F}'
        | '\u{1F98}'..='\u{1F9F}'
        | '\u{1FA8}'..='\u{1FAF}'
        | '\u{1FBC}' | '\u{1FCC}' | '\u{1FFC}')
}

/// Python's `str.isupper()`: at least one cased character, and no lower- or title-case
/// one. `":("` is not upper (no cased character), `"GREAT!!"` is.
pub fn is_upper(s: &str) -> bool {
    if s.is_ascii() {
        let b = s.as_bytes();
        return !b.iter().any(u8::is_ascii_lowercase) && b.iter().any(u8::is_ascii_uppercase);
    }
    let mut cased = false;
    for c in s.chars() {
        if c.is_ascii() {
            if c.is_ascii_lowercase() {
                return false;
            }
            cased |= c.is_ascii_uppercase();
            continue;
        }
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// Python's `str.lower()`, borrowing when nothing changes (the common case).
pub fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else if s.is_ascii() {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Python's `str.split()` with no argument: calls `f` with each non-empty run between
/// whitespace. ASCII bytes are classified by table; only non-ASCII characters are
/// decoded (tokenizing is a fifth of VADER's time, so it is written for speed).
pub fn for_each_word<'a>(s: &'a str, mut f: impl FnMut(&'a str)) {
    let b = s.as_bytes();
    let n = b.len();
    let mut start: Option<usize> = None;
    let mut i = 0;
    // One table load decides most bytes: part of a word, ASCII whitespace, or the lead
    // byte of a character that may be Unicode whitespace (decoded only then).
    while i < n {
        match SPLIT_CLASS[b[i] as usize] {
            WORD => {
                if start.is_none() {
                    start = Some(i);
                }
                i += 1;
                // Inside a word: the tight loop most bytes take (an iterator, so no
                // bounds checks).
                i += b[i..]
                    .iter()
                    .position(|&c| SPLIT_CLASS[c as usize] != WORD)
                    .unwrap_or(n - i);
            }
            SPACE => {
                if let Some(st) = start.take() {
                    f(&s[st..i]);
                }
                i += 1;
            }
            _ => match multibyte_space(s, i) {
                Some(len) => {
                    if let Some(st) = start.take() {
                        f(&s[st..i]);
                    }
                    i += len;
                }
                None => {
                    if start.is_none() {
                        start = Some(i);
                    }
                    i += 1;
                }
            },
        }
    }
    if let Some(st) = start {
        f(&s[st..]);
    }
}

const WORD: u8 = 0;
const SPACE: u8 = 1;
const MAYBE_SPACE: u8 = 2;

/// Only ASCII and the lead bytes C2 (U+0085, U+00A0), E1 (U+1680), E2 (U+2000..) and
/// E3 (U+3000) can start whitespace; every other byte is part of a word.
const SPLIT_CLASS: [u8; 256] = {
    let mut t = [WORD; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f => SPACE,
            0xC2 | 0xE1 | 0xE2 | 0xE3 => MAYBE_SPACE,
            _ => WORD,
        };
        c += 1;
    }
    t
};

#[cold]
fn multibyte_space(s: &str, i: usize) -> Option<usize> {
    let ch = s[i..].chars().next()?;
    is_space(ch).then(|| ch.len_utf8())
}

const ASCII_SPACE: [bool; 128] = {
    let mut t = [false; 128];
    let mut c = 0;
    while c < 128 {
        t[c] = matches!(
            c as u8,
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f
        );
        c += 1;
    }
    t
};

/// Python's `str.strip()` with no argument.
pub fn strip_space(s: &str) -> &str {
    let b = s.as_bytes();
    let ascii_space = |c: &u8| c.is_ascii() && ASCII_SPACE[*c as usize];
    // Fast path: ASCII at both ends (the general path handles U+00A0 and the like).
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii() && l.is_ascii() => {
            let start = b.iter().position(|c| !ascii_space(c)).unwrap_or(b.len());
            let end = b
                .iter()
                .rposition(|c| !ascii_space(c))
                .map_or(start, |e| e + 1);
            let inner = &s[start..end];
            match (inner.as_bytes().first(), inner.as_bytes().last()) {
                (Some(f), Some(l)) if !f.is_ascii() || !l.is_ascii() => {
                    inner.trim_matches(is_space)
                }
                _ => inner,
            }
        }
        _ => s.trim_matches(is_space),
    }
}

/// VADER's token clean-up: strip leading and trailing ASCII punctuation, unless what is
/// left has two characters or fewer: then the token was probably an emoticon (`:)`) or
/// a short word whose punctuation VADER keeps (`ok,` stays `ok,`).
pub fn strip_punc_if_word(token: &str) -> &str {
    // ASCII punctuation is one byte, so trimming bytes keeps char boundaries.
    let b = token.as_bytes();
    let start = b
        .iter()
        .position(|c| !PUNCT[*c as usize])
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !PUNCT[*c as usize])
        .map_or(start, |e| e + 1);
    let stripped = &token[start..end];
    // Up to 2 bytes is at most 2 chars; over 8 bytes is at least 3.
    let short = match stripped.len() {
        0..=2 => true,
        9.. => false,
        // 3 to 8 bytes of ASCII are 3 to 8 characters: no decoding needed.
        _ if stripped.is_ascii() => false,
        _ => stripped.chars().take(3).count() <= 2,
    };
    if short { token } else { stripped }
}

/// `u8::is_ascii_punctuation` as a table (Python's `string.punctuation`: the same 32).
const PUNCT: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_punctuation();
        c += 1;
    }
    t
};

/// Python's `round(x, digits)`: correctly rounded from the exact binary value, ties to
/// even. Rust's fixed-precision formatting rounds the same way, so going through the
/// decimal string gives the very float Python returns.
pub fn round(x: f64, digits: usize) -> f64 {
    const SCALE: [f64; 5] = [1.0, 10.0, 100.0, 1000.0, 10000.0];
    // Fast path: scaled, the value is far from a rounding tie, so rounding the scaled
    // float gives the decimal Python's correctly rounded algorithm gives; and y / 10^d
    // of two exact integers is the double nearest that decimal, as parsing it would be.
    // Scores are in [-1, 1]: |x·10^d| ≤ 10^4, where a double's error is ~1e-12.
    if digits < SCALE.len() && x.abs() <= 1e4 {
        let scaled = x * SCALE[digits];
        let frac = (scaled - scaled.trunc()).abs();
        if (frac - 0.5).abs() > 1e-6 {
            return scaled.round() / SCALE[digits];
        }
    }
    let s = format!("{x:.digits$}");
    s.parse().expect("a formatted float parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_isupper_edges() {
        assert!(is_upper("GREAT!!"));
        assert!(is_upper("ÉTÉ"));
        assert!(!is_upper(":("));
        assert!(!is_upper("123"));
        assert!(!is_upper("Great"));
        assert!(!is_upper("AǅB"));
    }

    #[test]
    fn python_strip_and_split_edges() {
        assert_eq!(strip_punc_if_word("ok,"), "ok,");
        assert_eq!(strip_punc_if_word("good!!!"), "good");
        assert_eq!(strip_punc_if_word(":)"), ":)");
        assert_eq!(strip_punc_if_word("'cool'"), "cool");
        assert!(is_space('\u{1f}'));
        assert!(is_space('\u{a0}'));
        assert!(!is_space('\u{200b}'));
    }

    #[test]
    fn python_round() {
        assert_eq!(round(0.0625, 3), 0.062);
        assert_eq!(round(0.12345, 4), 0.1235);
        assert_eq!(round(-0.79835, 4), -0.7984);
        assert_eq!(round(2.675, 2), 2.67);
    }
}
