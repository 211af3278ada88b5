//! `GET /api/v1/dlq`: dead letters, newest first.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqParams {
    limit: Option<usize>,
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    query: Result<Query<DlqParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(p) = query?;
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > st.max_page_size {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {}",
            st.max_page_size
        )));
    }
    let items = st.store.dead_letters(limit, &[]).await?;
    let total = st.store.counts().await?.dlq;
    Ok(Json(json!({ "items": items, "total": total })))
}
