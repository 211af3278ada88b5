//! The HTTP API: health, readiness, metrics, contents, DLQ. The only module that knows
//! HTTP; handlers call the store and the health board, nothing else.

mod contents;
mod dlq;
mod health;
mod ingest;
mod sources;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::lake::Lake;
use crate::log::EventLog;
use crate::runtime::Health;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub lake: Arc<dyn Lake>,
    pub log: Arc<dyn EventLog>,
    pub health: Health,
    pub max_page_size: usize,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// The config file's sources (the catalog overlays run-time changes on them).
    pub config_sources: Arc<Vec<crate::config::SourceConfig>>,
}

pub fn router(state: AppState) -> Router {
    let (limit, timeout) = (state.max_body_bytes, state.request_timeout);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/contents", get(contents::list))
        .route("/api/v1/contents/{id}", get(contents::one))
        .route("/api/v1/dlq", get(dlq::list))
        .route("/api/v1/ingest/{source}", post(ingest::push))
        .route("/api/v1/sources", get(sources::list).post(sources::add))
        .route("/api/v1/sources/{name}", delete(sources::remove))
        .route("/api/v1/sources/{name}/{action}", post(sources::action))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(Arc::new(state))
}

/// An error answer: a status and a message for the caller. Internal details are
/// logged, not sent.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, m: impl Into<String>) -> Self {
        ApiError {
            status,
            message: m.into(),
        }
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, m)
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: m.into(),
        }
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: m.into(),
        }
    }
}

/// Query-string problems answer in the API's JSON error shape, like every other error.
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error while serving a request");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the store is unavailable; try again".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}
