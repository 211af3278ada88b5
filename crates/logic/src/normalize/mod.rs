//! Normalizers: raw payload bytes → [`Content`] items. One file per format, one trait,
//! one registry ([`normalizers`]).
//!
//! A normalizer is a pure function of (bytes, context): no I/O, no clock. That is what
//! makes a replay produce exactly the same items as the first run.
//!
//! Two kinds of failure: the whole payload is unreadable ([`PayloadError`], the raw
//! record goes to the DLQ), or one item in an otherwise good payload is malformed
//! ([`ItemError`], that item goes to the DLQ and its siblings are kept).

mod congress;
mod earnings;
mod fed;
mod form4;
pub mod html;
mod jsonl;
mod reddit;
mod rss;
mod sec;
mod sec_submissions;
mod truthsocial;
mod x;
pub mod xml;

pub use earnings::alpha_vantage_notice;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::{CONTENT_SCHEMA_VERSION, Content, ContentType, Engagement, content_id};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

/// One malformed item inside a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemError {
    /// Position of the item in the payload.
    pub index: u32,
    pub error: String,
    /// The offending item (truncated), for whoever inspects the DLQ.
    pub detail: String,
}

/// What a normalizer knows besides the bytes: who fetched them, when, and where they are.
#[derive(Debug, Clone)]
pub struct RawContext<'a> {
    pub fetched_by: &'a str,
    pub lake_key: &'a str,
    pub observed_at: DateTime<Utc>,
}

pub type Normalized = Vec<Result<Content, ItemError>>;

pub trait Normalizer: Sync {
    /// The format name used in raw events, configs and `sigflow parse --source`.
    fn name(&self) -> &'static str;
    /// The platform part of content ids.
    fn platform(&self) -> &'static str;
    /// File extension of the raw payload in the lake.
    fn ext(&self) -> &'static str;
    fn normalize(&self, body: &[u8], cx: &RawContext) -> Result<Normalized, PayloadError>;
}

/// Every normalizer sigflow has. The one registry: add a format here and nowhere else.
pub fn normalizers() -> &'static [&'static dyn Normalizer] {
    &[
        &truthsocial::TruthSocial,
        &truthsocial::Mastodon,
        &reddit::Reddit,
        &x::X,
        &sec::SecAtom,
        &form4::Form4,
        &sec_submissions::SecSubmissions,
        &fed::FedRss,
        &rss::Rss,
        &jsonl::Jsonl,
        &congress::HouseWatcher,
        &congress::SenateWatcher,
        &congress::HouseClerk,
        &earnings::Nasdaq,
        &earnings::Finnhub,
        &earnings::AlphaVantage,
    ]
}

/// Looks a format up by name or common alias.
pub fn find(name: &str) -> Option<&'static dyn Normalizer> {
    let canonical = match name.to_ascii_lowercase().as_str() {
        "truth" | "truth-social" | "truth_social" => "truthsocial".to_string(),
        "twitter" | "x-v2" => "x".to_string(),
        "sec-atom" | "sec_atom" | "edgar" => "sec".to_string(),
        "form4" | "form-4" | "sec_form4" => "sec-form4".to_string(),
        "atom" | "feed" => "rss".to_string(),
        "fed-rss" | "fed_rss" | "federalreserve" => "fed".to_string(),
        other => other.to_string(),
    };
    normalizers()
        .iter()
        .copied()
        .find(|n| n.name() == canonical)
}

pub fn names() -> Vec<&'static str> {
    normalizers().iter().map(|n| n.name()).collect()
}

/// A `Content` with the fields every normalizer sets the same way.
pub fn base(
    platform: &str,
    source_id: &str,
    cx: &RawContext,
    happened_at: DateTime<Utc>,
) -> Content {
    Content {
        schema_version: CONTENT_SCHEMA_VERSION,
        id: content_id(platform, source_id),
        source: platform.to_string(),
        source_id: source_id.to_string(),
        fetched_by: cx.fetched_by.to_string(),
        author: None,
        title: None,
        text: String::new(),
        url: None,
        content_type: ContentType::Original,
        engagement: Engagement::default(),
        tags: Vec::new(),
        mentions: Vec::new(),
        cashtags: Vec::new(),
        happened_at,
        disclosed_at: None,
        observed_at: cx.observed_at,
        lake_key: cx.lake_key.to_string(),
        extras: serde_json::Map::new(),
        enrichments: serde_json::Map::new(),
        tickers: Vec::new(),
    }
}

/// Parses JSON, turning an HTML error page or a truncated body into a clear message.
pub fn parse_json(body: &[u8]) -> Result<Value, PayloadError> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    serde_json::from_slice(body).map_err(|e| {
        let head = String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim_start()
            .to_lowercase();
        if head.starts_with("<!doctype html") || head.starts_with("<html") {
            PayloadError(format!("expected JSON, got an HTML page ({e})"))
        } else if e.is_eof() {
            PayloadError(format!("truncated JSON: {e}"))
        } else {
            PayloadError(format!("invalid JSON: {e}"))
        }
    })
}

/// The offending item for the DLQ, capped so one huge item cannot bloat the table.
pub fn detail_of(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 4096 {
        let mut cut = 4096;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

pub fn item_err(index: usize, error: impl Into<String>, item: &Value) -> ItemError {
    ItemError {
        index: index as u32,
        error: error.into(),
        detail: detail_of(item),
    }
}

/// A count that may arrive as an integer, a float (`1.0`) or be absent.
pub fn count(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    }
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    text_of(v.get(key))
}

/// A field's text: a non-empty string, else nothing.
pub fn text_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A context for normalizer unit tests.
#[cfg(test)]
pub fn test_cx() -> RawContext<'static> {
    RawContext {
        fetched_by: "t",
        lake_key: "k",
        observed_at: Utc::now(),
    }
}

/// A calendar day as midnight UTC: `YYYY-MM-DD` (anything after the tenth byte, such
/// as EDGAR's `2025-04-30-05:00`, ignored) or US `M/D/YYYY`.
pub fn parse_day(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    chrono::NaiveDate::parse_from_str(s, "%m/%d/%Y")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d"))
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
}

pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_findable() {
        let names = names();
        let set: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(set.len(), names.len());
        for n in names {
            assert_eq!(find(n).unwrap().name(), n);
        }
        assert_eq!(find("Twitter").unwrap().name(), "x");
        assert!(find("myspace").is_none());
    }

    #[test]
    fn json_errors_say_what_went_wrong() {
        assert!(
            parse_json(b"{\"a\": [1, 2")
                .unwrap_err()
                .0
                .starts_with("truncated JSON")
        );
        assert!(
            parse_json(b"<!DOCTYPE html><html>")
                .unwrap_err()
                .0
                .contains("HTML page")
        );
        assert!(parse_json(b"\xef\xbb\xbf{}").is_ok());
    }
}

// A payload nobody can read is the record's own fault (the error classes live in
// `sigflow_core::error`).
impl PayloadError {
    pub fn class(&self) -> crate::error::ErrorClass {
        crate::error::ErrorClass::Poison
    }
}

impl From<PayloadError> for crate::error::StageError {
    fn from(e: PayloadError) -> Self {
        crate::error::StageError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod round_trip {
    /// Enrich takes normalize's `Content` as is when both run in one process (the
    /// embedded log's tail) and parses the JSON otherwise (after a restart, on Kafka, on
    /// a replay). Both must give the same item, or a replay could change a stored doc:
    /// the JSON of a `Content` is exact, floats included.
    #[test]
    fn json_round_trip_is_exact() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../demo/dataset");
        let cx = crate::normalize::RawContext {
            fetched_by: "demo",
            lake_key: "k",
            observed_at: chrono::Utc::now(),
        };
        let mut items = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some(format) = name
                .split_once('-')
                .and_then(|(_, rest)| rest.split_once('.'))
                .map(|(f, _)| f.to_string())
            else {
                continue;
            };
            let n = crate::normalize::find(&format).unwrap();
            if let Ok(found) = n.normalize(&std::fs::read(&path).unwrap(), &cx) {
                items.extend(found.into_iter().flatten());
            }
        }
        assert!(items.len() > 1000, "{}", items.len());
        // Floats that a parser without exact rounding gets wrong in the last bit.
        let mut odd = items[0].clone();
        odd.engagement.upvote_ratio = Some(0.1 + 0.2);
        for (i, f) in [
            2.2250738585072014e-308,
            1.7976931348623157e308,
            5e-324,
            0.30000000000000004,
            1.0 / 3.0,
            9007199254740993.0,
        ]
        .into_iter()
        .enumerate()
        {
            odd.extras.insert(format!("f{i}"), serde_json::json!(f));
        }
        odd.extras.insert("big".into(), serde_json::json!(u64::MAX));
        odd.extras.insert("neg".into(), serde_json::json!(i64::MIN));
        items.push(odd);
        for c in items {
            let back: crate::model::Content =
                serde_json::from_slice(&serde_json::to_vec(&c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
    }
}
