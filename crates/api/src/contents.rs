//! `GET /api/v1/contents` (filters, keyset pagination, newest first) and
//! `GET /api/v1/contents/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::dto::{ContentItem, ContentPage};
use crate::model::to_micros;
use crate::problem::Problem;
use crate::store::repos::contents::{self, ContentQuery, KnownColumn, Order};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The platform: reddit, x, truthsocial, sec, congress, fed, rss, …
    source: Option<String>,
    /// The configured source's name (`sigflow sources list`).
    source_name: Option<String>,
    /// The author's handle as the platform gives it.
    author: Option<String>,
    /// A ticker (`AAPL` or `$AAPL`).
    ticker: Option<String>,
    /// A language code as detected (`en`, `de`, …).
    language: Option<String>,
    /// Items that happened at or after: RFC 3339, YYYY-MM-DD or epoch seconds.
    since: Option<String>,
    /// Items that happened before (same formats).
    until: Option<String>,
    /// Page size (default 50; more than the server's `max_page_size` gives that many).
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// `happened` (newest first, the default) or `ingested` (commit order, oldest
    /// first: follow new items with the returned cursor, late ones included).
    order: Option<OrderParam>,
    /// The `next_cursor` of the previous page (of the same order).
    cursor: Option<String>,
    /// bullish | bearish | neutral (finance mode) or positive | negative (vader mode).
    sentiment: Option<Sentiment>,
    /// true: only items the filters flagged; false: only items they kept.
    filtered: Option<bool>,
    /// false: first occurrences only (no exact or near duplicates).
    duplicates: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    Bullish,
    Bearish,
    Neutral,
    Positive,
    Negative,
}

impl Sentiment {
    fn as_str(self) -> &'static str {
        match self {
            Sentiment::Bullish => "bullish",
            Sentiment::Bearish => "bearish",
            Sentiment::Neutral => "neutral",
            Sentiment::Positive => "positive",
            Sentiment::Negative => "negative",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderParam {
    #[default]
    Happened,
    Ingested,
}

/// Accepts RFC 3339 (`2026-11-02T13:00:00Z`), a date (`2026-11-02`, midnight UTC) or
/// epoch seconds.
pub(crate) fn parse_time(name: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
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

fn encode_cursor(c: &ContentItem) -> String {
    encode_keyset(to_micros(c.happened_at), &c.id)
}

/// A keyset cursor (time in µs, then id), for every newest-first list of this API.
pub(crate) fn encode_keyset(ts: i64, id: &uuid::Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{ts}|{id}"))
}

fn encode_seq(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq|{seq}"))
}

fn decode_cursor(s: &str) -> Result<(i64, String), ApiError> {
    decode_keyset(s, "for order=happened")
}

/// The (time, id) of a cursor [`encode_keyset`] made; `which` names the list in the
/// error.
pub(crate) fn decode_keyset(s: &str, which: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::bad_request(format!("cursor is not one this API handed out ({which})"));
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (ts, id) = raw.split_once('|').ok_or_else(bad)?;
    let ts = ts.parse().map_err(|_| bad())?;
    uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((ts, id.to_string()))
}

fn decode_seq(s: &str) -> Result<i64, ApiError> {
    let bad =
        || ApiError::bad_request("cursor is not one this API handed out (for order=ingested)");
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    raw.strip_prefix("seq|")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(bad)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Stored items, filtered; every filter is served by an index.
#[utoipa::path(get, path = "/api/v1/contents", tag = "contents", params(ListParams),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of items", body = ContentPage),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = query?;
    // Same question, nothing added since: the same answer, already serialized.
    let key = raw.unwrap_or_default();
    let gz = accepts_gzip(&headers);
    let high = version(&st).await?;
    if let Some(page) = st.pages.get(&key, high, gz) {
        return Ok(page_response(page, gz));
    }
    let _building = st.pages.building(&key).await;
    // Whoever held the lock before may have just built it.
    let high = version(&st).await?;
    if let Some(page) = st.pages.get(&key, high, gz) {
        return Ok(page_response(page, gz));
    }
    let page = build(&st, p).await?;
    let json = Bytes::from(serde_json::to_vec(&page).map_err(|e| {
        tracing::error!(error = %e, "serializing a page");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not serialize the page",
        )
    })?);
    st.pages.put(key.clone(), high, json.clone());
    let page = if gz {
        st.pages.get(&key, high, true)
    } else {
        None
    };
    Ok(match page {
        Some(p) => page_response(p, true),
        None => page_response(crate::page_cache::Page { json, gzip: None }, false),
    })
}

/// What the cached pages are valid for: the embedded store's write counter when this
/// process is its writer (no round trip), else the highest `seq` stored.
async fn version(st: &AppState) -> Result<i64, ApiError> {
    Ok(match st.store.change_counter() {
        Some(n) => n as i64,
        None => contents::high_water(st.store.sql()).await?,
    })
}

fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                let mut parts = e.split(';');
                let name = parts.next().unwrap_or("").trim();
                let refused = parts.any(|q| q.trim().replace(' ', "") == "q=0");
                name.eq_ignore_ascii_case("gzip") && !refused
            })
        })
}

fn page_response(p: crate::page_cache::Page, gz: bool) -> Response {
    let mut r = match (gz, p.gzip) {
        (true, Some(g)) => {
            let mut r = Response::new(Body::from(g));
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        _ => Response::new(Body::from(p.json)),
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    r
}

async fn build(st: &AppState, p: ListParams) -> Result<ContentPage, ApiError> {
    let limit = st.page_limit(p.limit, 50)?;
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
    let order = match (
        p.order.unwrap_or_default(),
        p.cursor.as_deref().filter(|c| !c.is_empty()),
    ) {
        (OrderParam::Happened, None) => Order::Happened,
        (OrderParam::Happened, Some(c)) => {
            let (ts, id) = decode_cursor(c)?;
            Order::HappenedBefore(ts, id)
        }
        (OrderParam::Ingested, c) => {
            Order::IngestedAfter(c.map(decode_seq).transpose()?.unwrap_or(0))
        }
    };
    let ingested = matches!(order, Order::IngestedAfter(_));
    let after = match order {
        Order::IngestedAfter(n) => n,
        _ => 0,
    };
    let q = ContentQuery {
        source: non_empty(p.source),
        fetched_by: non_empty(p.source_name),
        author: non_empty(p.author),
        ticker: non_empty(p.ticker).map(|t| t.trim_start_matches('$').to_uppercase()),
        language: non_empty(p.language),
        since,
        until,
        order,
        // One extra row tells whether another page exists.
        limit: limit + 1,
        sentiment: p.sentiment.map(|l| l.as_str().to_string()),
        filtered: p.filtered,
        first_only: p.duplicates == Some(false),
    };
    let mut rows = contents::query_raw(st.store.sql(), &q).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if ingested {
        // Always a cursor: the poller asks again with it and gets only what is new.
        Some(encode_seq(rows.last().map_or(after, |r| r.seq)))
    } else {
        None
    };
    let items = rows
        .iter()
        .map(|r| ContentItem::from_doc(&r.doc, r.observed_at))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            tracing::error!(error = %e, "a stored document does not read as an item");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a stored item cannot be read",
            )
        })?;
    let next_cursor = next_cursor.or_else(|| {
        (!ingested && more)
            .then(|| items.last().map(encode_cursor))
            .flatten()
    });
    let warnings = if rows.is_empty() {
        unknown_names(st, &q).await?
    } else {
        Vec::new()
    };
    Ok(ContentPage {
        items,
        next_cursor,
        warnings,
    })
}

/// For an empty page: the names in the filters that no stored item has.
async fn unknown_names(st: &AppState, q: &ContentQuery) -> Result<Vec<String>, ApiError> {
    let checks = [
        (KnownColumn::Source, &q.source, "source"),
        (KnownColumn::FetchedBy, &q.fetched_by, "source_name"),
        (KnownColumn::Author, &q.author, "author"),
        (KnownColumn::Ticker, &q.ticker, "ticker"),
    ];
    let mut out = Vec::new();
    for (col, value, param) in checks {
        if let Some(v) = value
            && !contents::known(st.store.sql(), col, v).await?
        {
            out.push(format!("{param}: no stored item has `{v}`"));
        }
    }
    Ok(out)
}

/// One stored item.
#[utoipa::path(get, path = "/api/v1/contents/{id}", tag = "contents",
    params(("id" = uuid::Uuid, Path, description = "The item's id (a UUID)")),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "The item", body = ContentItem),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn one(
    State(st): State<Arc<AppState>>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<ContentItem>, ApiError> {
    let Path(id) = path?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::bad_request(format!(
            "`{id}` is not a content id (a UUID)"
        )));
    }
    match contents::get(st.store.sql(), &id).await? {
        Some(c) => Ok(Json(ContentItem::from(c))),
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
