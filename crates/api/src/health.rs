//! `/healthz` (the process answers), `/readyz` (the pipeline can make progress; a
//! failing source only degrades it), `/metrics` (Prometheus text).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use sigflow_core::health::Readiness as Verdict;

use super::AppState;
use crate::auth::Caller;
use crate::dto::{self, Healthz, Partition, Readiness, Topic};

/// The process answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Healthz)))]
pub async fn healthz() -> Json<Healthz> {
    Json(Healthz {
        status: "ok".into(),
    })
}

/// 200 when ready or degraded (a source is failing, the pipeline works), 503 when a
/// stage or service is failing or the store is unreachable. Each component's state is
/// listed; its last error only for admin keys (it may quote an upstream answer).
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready or degraded", body = Readiness),
        (status = 503, description = "Not ready", body = Readiness),
    ))]
pub async fn readyz(
    State(st): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
) -> impl IntoResponse {
    let admin = caller.is_some_and(|c| c.is_admin());
    let store_ok = st.store.ping().await.is_ok();
    let (status, degraded, mut failing) = match st.health.readiness() {
        Verdict::Ready => ("ready", vec![], vec![]),
        Verdict::Degraded(d) => ("degraded", d, vec![]),
        Verdict::NotReady(f) => ("not_ready", vec![], f),
    };
    let status = if store_ok { status } else { "not_ready" };
    if !store_ok {
        failing.push("store".into());
    }
    let topics = st
        .log
        .describe()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| Topic {
            name: t.name,
            retention_secs: t.retention_secs,
            partitions: t
                .partitions
                .into_iter()
                .map(|p| Partition {
                    partition: p.partition,
                    start: p.start,
                    end: p.end,
                })
                .collect(),
        })
        .collect();
    let body = Readiness {
        status: status.into(),
        ready: status != "not_ready",
        log: st.log.kind().into(),
        lake: st.lake.kind().into(),
        store_reachable: store_ok,
        degraded,
        failing,
        components: st
            .health
            .snapshot()
            .iter()
            // The rule file's errors quote only the operator's own file: shown to
            // every reader, so fixing a rule needs no admin key.
            .map(|(k, c)| (k.clone(), dto::component(c, admin || k == "analyze:rules")))
            .collect(),
        topics,
    };
    let code = if body.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// Prometheus metrics of this process.
#[utoipa::path(get, path = "/metrics", tag = "health",
    security((), ("api_key" = [])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        (st.render_metrics)(),
    )
}
