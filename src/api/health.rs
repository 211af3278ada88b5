//! `/healthz` (the process answers), `/readyz` (every component is well), `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 200 when every component is starting, ok or done; 503 otherwise, with each
/// component's state so an operator sees which one is unwell and why.
pub async fn readyz(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    let components = st.health.snapshot();
    let store_ok = st.store.ping().await.is_ok();
    let ready = store_ok && st.health.ready();
    let topics = st.log.describe().await.ok();
    let body = json!({
        "ready": ready,
        "log": st.log.kind(),
        "lake": st.lake.kind(),
        "store_reachable": store_ok,
        "components": components,
        "topics": topics,
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render_metrics(),
    )
}
