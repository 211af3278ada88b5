//! The `raw` event of a filed payload: what the source runner and the webhook endpoint
//! append once a payload's bytes are in the lake.

use chrono::Utc;

use super::Payload;
use crate::log::TOPIC_RAW;
use crate::model::{RAW_SCHEMA_VERSION, RawEvent};
use crate::store::Append;

/// The lake file extension of a payload: its format's, unless the bytes are a ZIP
/// archive (the House Clerk publishes its index zipped).
pub fn ext_of(p: &Payload) -> &'static str {
    if p.body.starts_with(b"PK\x03\x04") {
        return "zip";
    }
    crate::normalize::find(&p.format)
        .map(|n| n.ext())
        .unwrap_or("bin")
}

/// The `raw` event of a payload already filed in the lake under `key`: what the
/// source runner and the webhook endpoint append.
pub fn raw_append(
    source: &str,
    p: Payload,
    key: String,
    sha: String,
    observed_at: chrono::DateTime<Utc>,
) -> Append {
    let ext = ext_of(&p);
    let event = RawEvent {
        schema_version: RAW_SCHEMA_VERSION,
        source: source.to_string(),
        format: p.format,
        lake_key: key,
        content_type: match ext {
            "xml" => "application/xml",
            "csv" => "text/csv",
            "jsonl" => "application/x-ndjson",
            "zip" => "application/zip",
            _ => "application/json",
        }
        .into(),
        bytes: p.body.len() as u64,
        sha256: sha,
        observed_at,
        meta: p.meta,
    };
    Append {
        topic: TOPIC_RAW.into(),
        key: Some(event.key().into_bytes()),
        value: serde_json::to_vec(&event).expect("raw events serialize"),
        ..Default::default()
    }
}
