//! Every error the API answers is `application/problem+json` (RFC 9457): `type`,
//! `title`, `status`, `detail`, plus members that help the caller fix the request
//! (`limit`, `valid_values`, `retry_after_secs`). Handlers return [`ApiError`]; the
//! [`uniform`] middleware rewrites errors made elsewhere (axum's 405, the body limit's
//! 413, the timeout's 408, a rejected extractor) into the same shape.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::AppState;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer. Internal details are logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    extra: Map<String, Value>,
    retry_after: Option<u64>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

/// The body of every error (documented in the OpenAPI document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank`: the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong with this request, and how to fix it.
    pub detail: String,
    /// Extra members (`limit`, `valid_values`, `retry_after_secs`) where they help.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
            headers: Vec::new(),
        }
    }
    pub fn bad_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, d)
    }
    pub fn not_found(d: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, d)
    }
    pub fn unavailable(d: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, d).retry_after(5)
    }
    /// Adds an extension member (e.g. `limit`, `valid_values`).
    pub fn with(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), v.into());
        self
    }
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self.extra.insert("retry_after_secs".into(), secs.into());
        self
    }
    pub fn header(mut self, k: header::HeaderName, v: HeaderValue) -> Self {
        self.headers.push((k, v));
        self
    }
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: "about:blank".into(),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
            extra: self.extra,
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (k, v) in self.headers {
            r.headers_mut().insert(k, v);
        }
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// Query-string problems answer in the same shape as every other error.
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(
            r.body_text()
                .replace("Failed to deserialize query string: ", ""),
        )
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::new(r.status(), format!("body: {}", r.body_text()))
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error while serving a request");
        ApiError::unavailable("the store is unavailable; try again")
    }
}

/// Rewrites any error response that is not problem+json yet (405, 408, 413, 415,
/// extractor rejections) into one, keeping its status and headers.
pub async fn uniform(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    // A problem already, or a handler's deliberate JSON answer (`/readyz`'s 503 carries
    // the readiness document its OpenAPI entry promises): left as it is.
    let deliberate = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(PROBLEM_JSON.as_bytes()) || v.starts_with(b"application/json")
    });
    if deliberate {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let mut e = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            ApiError::new(
                status,
                format!("{method} is not allowed here (allowed: {allowed})"),
            )
            .with("allowed_methods", allowed)
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            format!("the body is over {} bytes", st.max_body_bytes),
        )
        .with("limit", st.max_body_bytes),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(
            status,
            format!("the request took over {} s", st.request_timeout.as_secs()),
        )
        .with("limit_secs", st.request_timeout.as_secs()),
        _ if text.is_empty() => ApiError::new(status, status.canonical_reason().unwrap_or("")),
        _ => ApiError::new(status, text),
    };
    if let Some(ra) = parts
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
    {
        e = e.with("retry_after_secs", ra.parse::<u64>().unwrap_or(1));
    }
    let mut out = e.into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}
