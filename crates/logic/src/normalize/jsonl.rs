//! `jsonl`: sigflow's own generic shape, one JSON object per line — for webhook pushes,
//! file replays and any source without a normalizer of its own.
//!
//! ```text
//! {"id": "42", "text": "…", "title": "…", "author": "…", "url": "…",
//!  "happened_at": "2026-11-20T14:00:00Z", "platform": "newswire",
//!  "tags": ["…"], "engagement": {"likes": 3}, "extras": {…}}
//! ```
//!
//! `id` and `text` (or `title`) are required. `platform` (default `jsonl`) names the id
//! space: a line with `"platform": "reddit", "id": "abc"` is the same item as the
//! Reddit post `abc`. Without `happened_at` an item happened when it was observed.
//! A bad line is that line's error; the rest are kept.

use serde_json::Value;

use super::{
    ItemError, Normalized, Normalizer, PayloadError, RawContext, base, detail_of, parse_rfc3339,
    str_of,
};
use crate::model::{Author, Content, Engagement};

pub struct Jsonl;

impl Normalizer for Jsonl {
    fn name(&self) -> &'static str {
        "jsonl"
    }
    fn platform(&self) -> &'static str {
        "jsonl"
    }
    fn ext(&self) -> &'static str {
        "jsonl"
    }

    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError> {
        let text = std::str::from_utf8(body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body))
            .map_err(|e| PayloadError(format!("JSON lines must be UTF-8: {e}")))?;
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .collect();
        if lines.is_empty() {
            return Err(PayloadError("no JSON lines in the body".into()));
        }
        // A body that is one JSON array is accepted too (a common mistake to forgive).
        if lines.len() == 1 && lines[0].1.trim_start().starts_with('[') {
            let v: Value = serde_json::from_str(lines[0].1)
                .map_err(|e| PayloadError(format!("invalid JSON: {e}")))?;
            let arr = v.as_array().cloned().unwrap_or_default();
            return Ok(arr
                .iter()
                .enumerate()
                .map(|(i, v)| item(i, v, cx))
                .collect());
        }
        Ok(lines
            .into_iter()
            .map(|(i, l)| match serde_json::from_str::<Value>(l) {
                Ok(v) => item(i, &v, cx),
                Err(e) => Err(ItemError {
                    index: i as u32,
                    error: format!("line {}: invalid JSON: {e}", i + 1),
                    detail: l.chars().take(4096).collect(),
                }),
            })
            .collect())
    }
}

fn item(i: usize, v: &Value, cx: &RawContext) -> Result<Content, ItemError> {
    let err = |m: String| ItemError {
        index: i as u32,
        error: format!("line {}: {m}", i + 1),
        detail: detail_of(v),
    };
    if !v.is_object() {
        return Err(err("expected a JSON object".into()));
    }
    let id = match v.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(err("missing `id` (a string or number)".into())),
    };
    let platform = str_of(v, "platform")
        .unwrap_or("jsonl")
        .trim()
        .to_ascii_lowercase();
    if !platform
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(err(format!(
            "`platform` `{platform}` must be letters, digits, - or _"
        )));
    }
    let happened = match str_of(v, "happened_at") {
        Some(s) => {
            parse_rfc3339(s).ok_or_else(|| err(format!("`happened_at` `{s}` is not RFC 3339")))?
        }
        None => cx.observed_at,
    };
    let mut c = base(&platform, &id, cx, happened);
    c.text = str_of(v, "text").unwrap_or("").to_string();
    c.title = str_of(v, "title").map(String::from);
    if c.text.trim().is_empty() && c.title.is_none() {
        return Err(err("missing `text` (or `title`)".into()));
    }
    c.url = str_of(v, "url").map(String::from);
    c.author = match v.get("author") {
        Some(Value::String(a)) if !a.is_empty() => Some(Author {
            id: None,
            handle: a.clone(),
            name: None,
        }),
        Some(a @ Value::Object(_)) => serde_json::from_value(a.clone()).ok(),
        _ => None,
    };
    if let Some(d) = str_of(v, "disclosed_at") {
        c.disclosed_at = parse_rfc3339(d);
    }
    if let Some(tags) = v.get("tags").and_then(Value::as_array) {
        c.tags = tags
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect();
    }
    if let Some(e) = v.get("engagement") {
        c.engagement = serde_json::from_value::<Engagement>(e.clone())
            .map_err(|e| err(format!("`engagement`: {e}")))?;
    }
    if let Some(Value::Object(x)) = v.get("extras") {
        c.extras = x.clone();
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_ids_and_platforms() {
        let cx = RawContext {
            fetched_by: "t",
            lake_key: "k",
            observed_at: chrono::Utc::now(),
        };
        let body = b"{\"id\": \"1\", \"text\": \"Acme beats\", \"happened_at\": \"2026-11-20T14:00:00Z\"}\n\
{\"id\": 2, \"title\": \"Only a title\", \"platform\": \"newswire\", \"engagement\": {\"likes\": 3}}\n\
not json\n{\"text\": \"no id\"}\n";
        let items = Jsonl.normalize(body, &cx).unwrap();
        assert_eq!(items.len(), 4);
        let a = items[0].as_ref().unwrap();
        assert_eq!(a.happened_at.to_rfc3339(), "2026-11-20T14:00:00+00:00");
        let b = items[1].as_ref().unwrap();
        assert_eq!(b.source, "newswire");
        assert_eq!(b.engagement.likes, Some(3));
        assert!(items[2].as_ref().unwrap_err().error.contains("line 3"));
        assert!(
            items[3]
                .as_ref()
                .unwrap_err()
                .error
                .contains("missing `id`")
        );
        // Same platform and id as the Reddit normalizer: the same item.
        let r = Jsonl
            .normalize(br#"{"platform": "reddit", "id": "abc", "text": "x"}"#, &cx)
            .unwrap();
        assert_eq!(
            r[0].as_ref().unwrap().id,
            crate::model::content_id("reddit", "abc")
        );
    }
}
