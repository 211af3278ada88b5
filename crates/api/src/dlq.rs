//! `GET /api/v1/dlq`: dead letters, newest first.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::dto::{DeadLetterItem, DeadLetterPage};
use crate::problem::Problem;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DlqParams {
    /// At most this many (default 100; capped at the server's `max_page_size`).
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// Dead letters, newest first (what could not be processed, and why).
#[utoipa::path(get, path = "/api/v1/dlq", tag = "dlq", params(DlqParams),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "Dead letters", body = DeadLetterPage),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    query: Result<Query<DlqParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let Query(p) = query?;
    let limit = st.page_limit(p.limit, 100)?;
    let items = crate::store::repos::dead_letters::list(st.store.sql(), limit, &[]).await?;
    let total = crate::store::repos::counts(st.store.sql()).await?.dlq;
    let items = items
        .into_iter()
        .map(|s| {
            let l = s.letter;
            DeadLetterItem {
                id: l.id,
                stage: l.stage,
                topic: l.topic,
                partition: l.partition,
                offset: l.offset,
                item_index: l.item_index,
                error: sigflow_core::redact::redact(&l.error),
                error_class: l.error_class,
                detail: l.detail.map(|d| {
                    sigflow_core::redact::truncate(&sigflow_core::redact::redact(&d), 2000)
                }),
                created_at: s.created_at,
                replayed_at: s.replayed_at,
                replay_count: s.replay_count,
            }
        })
        .collect();
    Ok(Json(DeadLetterPage { items, total }))
}
