//! `Content`: the one schema every source is normalized into.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the JSON carried on the `content` and `enriched` topics. Bump it when a
/// field changes meaning; readers outside sigflow key off it.
pub const CONTENT_SCHEMA_VERSION: u32 = 1;

/// Namespace for content ids. Fixed forever: changing it would change every id.
const CONTENT_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_0c52_9d8e_4d4b_a3f1_5e0c_7a2b_91d4);

/// The deterministic id of an item: the same (platform, source id) always gives the
/// same id, so a re-harvest, a replay or a second worker upserts instead of duplicating.
pub fn content_id(platform: &str, source_id: &str) -> Uuid {
    let mut name = String::with_capacity(platform.len() + source_id.len() + 1);
    name.push_str(platform);
    name.push(':');
    name.push_str(source_id);
    Uuid::new_v5(&CONTENT_NAMESPACE, name.as_bytes())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    #[default]
    Original,
    Repost,
    Reply,
    Quote,
}

impl ContentType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Original => "original",
            ContentType::Repost => "repost",
            ContentType::Reply => "reply",
            ContentType::Quote => "quote",
        }
    }
}

/// Engagement counts as the platform reported them at `observed_at`. Every field is
/// optional because no platform has all of them (Reddit has no likes, X no score).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub likes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reposts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub replies: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quotes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comments: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upvote_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub views: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Author {
    /// The platform's stable id for the author, when it has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    /// Handle / username / filer name: what a person would search for.
    pub handle: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
}

/// One normalized item. Produced by normalize, extended by enrich, stored, served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Content {
    pub schema_version: u32,
    pub id: Uuid,
    /// The platform (`reddit`, `truthsocial`, `x`, `sec`, `fed`, …), part of the id.
    pub source: String,
    /// The platform's own id of the item.
    pub source_id: String,
    /// The configured source instance that fetched it (`demo`, `wsb-new`, …).
    pub fetched_by: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<Author>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
    pub content_type: ContentType,
    #[serde(default)]
    pub engagement: Engagement,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub mentions: Vec<String>,
    /// Cashtags as the platform marked them or as they appear in the text, upper-case,
    /// without `$`.
    #[serde(default)]
    pub cashtags: Vec<String>,
    /// When it happened at the origin (post time, transaction date).
    pub happened_at: DateTime<Utc>,
    /// When the public could know (filing or disclosure date); None = same as happened.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub disclosed_at: Option<DateTime<Utc>>,
    /// When sigflow fetched it: the start of every latency measurement.
    pub observed_at: DateTime<Utc>,
    /// The lake object this item was parsed from: the way back to the exact bytes.
    pub lake_key: String,
    /// Source-specific fields that do not fit the common schema.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extras: serde_json::Map<String, serde_json::Value>,
    /// Enrichment results, keyed by enricher name. Empty until the enrich stage.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub enrichments: serde_json::Map<String, serde_json::Value>,
    /// Tickers the item is about (from cashtags now; company names later).
    #[serde(default)]
    pub tickers: Vec<String>,
}

impl Content {
    /// The moment from which an outcome may be scored: what we could have known, when.
    pub fn knowable_at(&self) -> DateTime<Utc> {
        match self.disclosed_at {
            Some(d) if d > self.observed_at => d,
            _ => self.observed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct_per_platform() {
        assert_eq!(content_id("reddit", "abc"), content_id("reddit", "abc"));
        assert_ne!(content_id("reddit", "abc"), content_id("x", "abc"));
        // "a:b" + "c" must not collide with "a" + "b:c" in practice: the separator is
        // fixed and platforms never contain ':'.
        assert_ne!(content_id("ab", "c"), content_id("a", "bc"));
    }
}
