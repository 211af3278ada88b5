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

/// `string.punctuation`: ASCII only. Unicode quotes and dashes are not stripped.
pub fn is_ascii_punct(c: char) -> bool {
    c.is_ascii_punctuation()
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

/// Python's `str.strip()` with no argument.
pub fn strip_space(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// VADER's token clean-up: strip leading and trailing ASCII punctuation, unless what is
/// left has two characters or fewer: then the token was probably an emoticon (`:)`) or
/// a short word whose punctuation VADER keeps (`ok,` stays `ok,`).
pub fn strip_punc_if_word(token: &str) -> &str {
    let stripped = token.trim_matches(is_ascii_punct);
    if stripped.chars().take(3).count() <= 2 {
        token
    } else {
        stripped
    }
}

/// Python's `round(x, digits)`: correctly rounded from the exact binary value, ties to
/// even. Rust's fixed-precision formatting rounds the same way, so going through the
/// decimal string gives the very float Python returns.
pub fn round(x: f64, digits: usize) -> f64 {
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
