//! What the API answers, type by type: the OpenAPI document is generated from these,
//! and handlers build them from the store's rows (never the stored document passed
//! through). Free-form members (`extras`, `enrichments`, source `options`) are
//! objects by design: their keys depend on the source kind and the enrichers
//! configured.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::model::Content;

#[derive(Debug, Serialize, ToSchema)]
pub struct Healthz {
    /// Always `ok`: the process answers.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, `degraded` (a source is failing; the pipeline works) or `not_ready`
    /// (a stage or service is failing, or the store is unreachable).
    pub status: String,
    /// True unless `not_ready`.
    pub ready: bool,
    pub log: String,
    pub lake: String,
    pub store_reachable: bool,
    /// Failing sources (degraded).
    pub degraded: Vec<String>,
    /// Failing stages and services (not ready).
    pub failing: Vec<String>,
    pub components: BTreeMap<String, Component>,
    pub topics: Vec<Topic>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Component {
    /// starting, ok, retrying, done, failed or paused.
    pub status: String,
    /// The last error (admin keys only: it may quote an upstream answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<Utc>>,
    pub processed: u64,
    pub items: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_poll: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Topic {
    pub name: String,
    pub retention_secs: u64,
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Partition {
    pub partition: u32,
    pub start: u64,
    pub end: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContentAuthor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub handle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ContentEngagement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub likes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reposts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replies: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quotes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upvote_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub views: Option<i64>,
}

/// One stored item: what was said, by whom, when, and what enrichment made of it.
/// Read straight from the stored document (its members have these names), with
/// the free-form members kept as raw JSON: no maps are built to be serialized again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContentItem {
    pub id: uuid::Uuid,
    pub schema_version: u32,
    /// The platform (reddit, x, sec, …).
    pub source: String,
    /// The platform's own id.
    pub source_id: String,
    /// The configured source that fetched it.
    pub fetched_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<ContentAuthor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// original, repost, reply or quote.
    pub content_type: String,
    #[serde(default)]
    pub engagement: ContentEngagement,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub mentions: Vec<String>,
    #[serde(default)]
    pub cashtags: Vec<String>,
    #[serde(default)]
    pub tickers: Vec<String>,
    /// When it was said (published, filed, traded).
    pub happened_at: DateTime<Utc>,
    /// When it became public, if later (filings, congressional trades).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosed_at: Option<DateTime<Utc>>,
    /// When sigflow first saw it.
    pub observed_at: DateTime<Utc>,
    /// The raw payload it came from, in the lake.
    pub lake_key: String,
    /// Source-specific fields.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub extras: Box<RawValue>,
    /// Enricher results by name (language, filter, sentiment, dedup, keywords, velocity).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub enrichments: Box<RawValue>,
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".into()).expect("{} is JSON")
}

fn raw(m: &Map<String, Value>) -> Box<RawValue> {
    serde_json::value::to_raw_value(m).unwrap_or_else(|_| empty_object())
}

impl ContentItem {
    /// An item from its stored document and first observation (µs).
    pub fn from_doc(doc: &str, observed_at: i64) -> Result<ContentItem, serde_json::Error> {
        let mut c: ContentItem = serde_json::from_str(doc)?;
        c.observed_at = crate::model::from_micros(observed_at);
        c.url = c.url.map(|u| sigflow_core::redact::redact_url(&u));
        c.engagement.upvote_ratio = c.engagement.upvote_ratio.filter(|f| f.is_finite());
        Ok(c)
    }
}

impl From<Content> for ContentItem {
    fn from(c: Content) -> Self {
        let e = c.engagement;
        ContentItem {
            id: c.id,
            schema_version: c.schema_version,
            source: c.source,
            source_id: c.source_id,
            fetched_by: c.fetched_by,
            author: c.author.map(|a| ContentAuthor {
                id: a.id,
                handle: a.handle,
                name: a.name,
            }),
            title: c.title,
            text: c.text,
            url: c.url.map(|u| sigflow_core::redact::redact_url(&u)),
            content_type: c.content_type.as_str().to_string(),
            engagement: ContentEngagement {
                likes: e.likes,
                reposts: e.reposts,
                replies: e.replies,
                quotes: e.quotes,
                score: e.score,
                comments: e.comments,
                upvote_ratio: e.upvote_ratio.filter(|f| f.is_finite()),
                views: e.views,
            },
            tags: c.tags,
            mentions: c.mentions,
            cashtags: c.cashtags,
            tickers: c.tickers,
            happened_at: c.happened_at,
            disclosed_at: c.disclosed_at,
            observed_at: c.observed_at,
            lake_key: c.lake_key,
            extras: raw(&c.extras),
            enrichments: raw(&c.enrichments),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentPage {
    pub items: Vec<ContentItem>,
    /// Pass as `cursor` for the next page; absent on the last page. With
    /// `order=ingested` it is present even then: keep polling with it for new items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Filters that can match nothing (an unknown ticker or source), said plainly.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterItem {
    pub id: String,
    pub stage: String,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_index: Option<u32>,
    pub error: String,
    /// transient, poison or fatal.
    pub error_class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_count: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterPage {
    pub items: Vec<DeadLetterItem>,
    pub total: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceItem {
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    /// The kind's options (credential-bearing URLs shown redacted).
    pub options: Map<String, Value>,
    /// active, paused or removed.
    pub state: String,
    /// `config` (the file) or `runtime` (added through the CLI or API).
    pub origin: String,
    /// Why parsing is stopped (parser drift), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Component>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceList {
    pub items: Vec<SourceItem>,
}

/// A run-time source definition as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceDefinition {
    pub name: String,
    /// active, paused or removed.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceChanged {
    pub source: SourceDefinition,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    /// Letters, digits, - and _.
    pub name: String,
    /// A source kind (`sigflow sources kinds`), e.g. `rss`, `reddit`, `webhook`.
    pub kind: String,
    /// The kind's options, as in a config file's [[sources]] table.
    #[serde(default)]
    pub options: Map<String, Value>,
    /// Redefine a source of this name instead of refusing.
    #[serde(default)]
    pub replace: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestProblem {
    pub format: String,
    pub index: u32,
    pub error: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// What one poll would store (nothing is stored).
    pub items: Vec<ContentItem>,
    pub problems: Vec<TestProblem>,
    pub stored: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestAccepted {
    pub accepted: bool,
    pub lake_key: String,
    pub sha256: String,
    pub items: usize,
    pub item_errors: usize,
}

/// Masks credentials in every string of an options object that looks like a URL.
pub fn redact_options(v: &mut Value) {
    match v {
        Value::String(s) if s.contains("://") => *s = sigflow_core::redact::redact(s),
        Value::Array(a) => a.iter_mut().for_each(redact_options),
        Value::Object(o) => o.values_mut().for_each(redact_options),
        _ => {}
    }
}

pub fn component(c: &sigflow_core::health::ComponentHealth, admin: bool) -> Component {
    Component {
        status: c.status.as_str().into(),
        last_error: c.last_error.clone().filter(|_| admin),
        last_success: c.last_success,
        processed: c.processed,
        items: c.items,
        lag: c.lag,
        next_poll: c.next_poll,
    }
}

pub fn definition(d: crate::store::SourceDef) -> SourceDefinition {
    let options = d.options.map(|mut o| {
        redact_options(&mut o);
        match o {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    });
    SourceDefinition {
        name: d.name,
        state: d.state.as_str().to_string(),
        kind: d.kind,
        options,
        quarantine: d.quarantine,
        updated_at: d.updated_at,
    }
}
