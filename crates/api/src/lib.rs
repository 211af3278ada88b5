//! sigflow-api: the HTTP API — health, readiness, metrics, contents, DLQ, sources,
//! webhook ingest. The only crate that serves HTTP; handlers call the store's
//! repositories, the catalog and the health board, nothing else.

mod auth;
mod contents;
mod dlq;
mod dto;
pub mod gate;
mod health;
mod ingest;
pub mod openapi;
pub mod outcomes;
mod page_cache;
mod problem;
mod server;
mod signals;
mod sources;

pub use gate::Security;
pub use page_cache::PageCache;
pub use problem::{ApiError, Problem};
pub use server::{ConnLimits, serve};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::{delete, get, post};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::lake::Lake;
use crate::log::EventLog;
use sigflow_core::health::Health;

// Sibling crates' modules under their old paths, so `crate::store::…` reads as before.
use crate::store::Store;
use sigflow_core::model;
use sigflow_logic::normalize;
use sigflow_storage::{lake, log, store};

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
    pub config_sources: Arc<Vec<sigflow_connectors::sources::SourceConfig>>,
    /// The Prometheus text of this process's metrics (the recorder is the binary's).
    pub render_metrics: fn() -> String,
    /// Keys, hosts, origins, rates.
    pub security: Security,
    /// What sources added over the API may name (variables, directories, addresses).
    pub admission: sigflow_connectors::sources::admission::Admission,
    /// Recently served content pages (`Default::default()`).
    pub pages: Arc<PageCache>,
}

impl AppState {
    /// A list endpoint's page size: `default` when not asked, at least 1, and over the
    /// cap the cap (a client need not know this server's setting).
    pub fn page_limit(&self, asked: Option<usize>, default: usize) -> Result<usize, ApiError> {
        match asked.unwrap_or(default) {
            0 => Err(ApiError::bad_request("limit must be at least 1")),
            n => Ok(n.min(self.max_page_size)),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let (limit, timeout) = (state.max_body_bytes, state.request_timeout);
    let gate = Arc::new(gate::Gate::new(state.security.clone(), state.store.clone()));
    let state = Arc::new(state);
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/contents", get(contents::list))
        .route("/api/v1/contents/{id}", get(contents::one))
        .route("/api/v1/signals", get(signals::list))
        .route("/api/v1/signals/{id}", get(signals::one))
        .route("/api/v1/ledger/verify", get(signals::verify))
        .route("/api/v1/outcomes", get(outcomes::list))
        .route("/api/v1/track-record", get(outcomes::track_record))
        .route("/api/v1/dlq", get(dlq::list))
        .route("/api/v1/ingest/{source}", post(ingest::push))
        .route("/api/v1/sources", get(sources::list).post(sources::add))
        .route("/api/v1/sources/{name}", delete(sources::remove))
        .route("/api/v1/sources/{name}/pause", post(sources::pause))
        .route("/api/v1/sources/{name}/resume", post(sources::resume))
        .route("/api/v1/sources/{name}/test", post(sources::test))
        .route("/api/v1/openapi.json", get(openapi::json))
        .route("/api/v1/docs", get(openapi::docs))
        .fallback(|| async { ApiError::not_found("no such endpoint (see /api/v1/openapi.json)") })
        .with_state(state.clone());
    // The layers wrap the whole router, not each route: axum adds `Allow` to a 405
    // outside a route's own layers, and the uniform error shape must see it.
    Router::new()
        .fallback_service(routes)
        // Innermost first: the body cap (the only one: axum's own 2 MiB default is
        // replaced by it), the gate, the timeout, then the uniform error shape over
        // all of them, compression, and headers every answer carries.
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(gate, gate::gate))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            problem::uniform,
        ))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(
            TraceLayer::new_for_http()
                // Failures are the client's or are logged where they happen (a store
                // error); a 503 from /readyz is an answer, not an ERROR line.
                .on_failure(
                    tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
                ),
        )
}
