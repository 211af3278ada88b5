//! The domain model: what flows through the pipeline. No I/O here.

mod content;
mod raw;

pub use content::{Author, CONTENT_SCHEMA_VERSION, Content, ContentType, Engagement, content_id};
pub use raw::{RAW_SCHEMA_VERSION, RawEvent};

/// Time as stored in the database and carried in offsets: microseconds since the epoch.
pub fn to_micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub fn now_micros() -> i64 {
    to_micros(chrono::Utc::now())
}
