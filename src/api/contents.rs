//! `GET /api/v1/contents` (filters, keyset pagination, newest first) and
//! `GET /api/v1/contents/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState};
use crate::model::{Content, to_micros};
use crate::store::ContentQuery;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    source: Option<String>,
    ticker: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
    /// bullish | bearish | neutral (finance mode) or positive | negative (vader mode).
    sentiment: Option<String>,
    /// true: only items the filters flagged; false: only items they kept.
    filtered: Option<bool>,
    /// false: first occurrences only (no exact or near duplicates).
    duplicates: Option<bool>,
}

const LABELS: &[&str] = &["bullish", "bearish", "neutral", "positive", "negative"];

/// Accepts RFC 3339 (`2026-11-02T13:00:00Z`), a date (`2026-11-02`, midnight UTC) or
/// epoch seconds.
fn parse_time(name: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    if let Some(t) = s
        .parse::<i64>()
        .ok()
        .and_then(|n| DateTime::from_timestamp(n, 0))
    {
        return Ok(t);
    }
    Err(ApiError::bad_request(format!(
        "{name}: `{s}` is not a time (use RFC 3339, YYYY-MM-DD or epoch seconds)"
    )))
}

fn encode_cursor(c: &Content) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", to_micros(c.happened_at), c.id))
}

fn decode_cursor(s: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::bad_request("cursor is not one this API handed out");
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (ts, id) = raw.split_once('|').ok_or_else(bad)?;
    let ts = ts.parse().map_err(|_| bad())?;
    uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((ts, id.to_string()))
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    query: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(p) = query?;
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > st.max_page_size {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {}",
            st.max_page_size
        )));
    }
    let since = p
        .since
        .as_deref()
        .map(|s| parse_time("since", s))
        .transpose()?;
    let until = p
        .until
        .as_deref()
        .map(|s| parse_time("until", s))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(ApiError::bad_request("since must be earlier than until"));
    }
    if let Some(s) = &p.sentiment
        && !LABELS.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "sentiment: `{s}` (expected one of {})",
            LABELS.join(", ")
        )));
    }
    let q = ContentQuery {
        source: p.source.filter(|s| !s.is_empty()),
        ticker: p
            .ticker
            .filter(|t| !t.is_empty())
            .map(|t| t.trim_start_matches('$').to_uppercase()),
        since,
        until,
        before: p.cursor.as_deref().map(decode_cursor).transpose()?,
        // One extra row tells whether another page exists.
        limit: limit + 1,
        sentiment: p.sentiment,
        filtered: p.filtered,
        first_only: p.duplicates == Some(false),
    };
    let mut items = st.store.contents(&q).await?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(encode_cursor)
    } else {
        None
    };
    Ok(Json(json!({ "items": items, "next_cursor": next })))
}

pub async fn one(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Content>, ApiError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::bad_request(format!(
            "`{id}` is not a content id (a UUID)"
        )));
    }
    match st.store.content(&id).await? {
        Some(c) => Ok(Json(c)),
        None => Err(ApiError::not_found(format!("no content with id {id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_cursors() {
        assert_eq!(
            parse_time("s", "2026-11-02").unwrap().to_rfc3339(),
            "2026-11-02T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("s", "1762000000").unwrap().timestamp(),
            1762000000
        );
        assert!(parse_time("s", "yesterday").is_err());
        let raw = URL_SAFE_NO_PAD.encode("123|6b1f0c52-9d8e-4d4b-a3f1-5e0c7a2b91d4");
        assert_eq!(decode_cursor(&raw).unwrap().0, 123);
        assert!(decode_cursor("garbage!").is_err());
    }
}
