//! `RawEvent`: what travels on the `raw` topic. It names a lake object and never
//! carries the payload itself, so the log stays small and the lake stays the truth.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const RAW_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    pub schema_version: u32,
    /// The configured source instance that fetched the payload.
    pub source: String,
    /// The parser to use (`reddit`, `truthsocial`, `x`, `sec`, `fed`, …).
    pub format: String,
    /// Where the untouched bytes are in the lake.
    pub lake_key: String,
    pub content_type: String,
    pub bytes: u64,
    /// Hex SHA-256 of the payload; the lake key is derived from it.
    pub sha256: String,
    pub observed_at: DateTime<Utc>,
    /// Free-form fetch metadata (request URL, cursor used, HTTP status).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub meta: serde_json::Map<String, serde_json::Value>,
}

impl RawEvent {
    /// The log key: one payload hash per source instance, so re-appending the same
    /// payload lands in the same partition.
    pub fn key(&self) -> String {
        format!("{}:{}", self.source, self.sha256)
    }
}
