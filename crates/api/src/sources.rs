//! `/api/v1/sources`: the same source management as `sigflow sources`, over HTTP.
//!
//! * `GET /api/v1/sources` — every source, its state and its health (read).
//! * `POST /api/v1/sources` — `{"name", "kind", "options": {…}, "replace": false}` (admin).
//! * `POST /api/v1/sources/{name}/pause|resume` (write), `POST …/test` and
//!   `DELETE /api/v1/sources/{name}` (admin).
//!
//! A source added here passes the operator's admission rules first
//! (`sources::admission`): no server files outside `api.file_roots`, no environment
//! variables outside `api.secret_env_prefix`, no address the outbound guard refuses.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::{ApiError, AppState};
use crate::auth::Caller;
use crate::dto::{
    self, ContentItem, NewSource, SourceChanged, SourceItem, SourceList, TestProblem, TestResult,
};
use crate::problem::Problem;
use crate::store::SourceState;
use sigflow_connectors::sources::SourceConfig;
use sigflow_connectors::sources::catalog;

type PathResult = Result<Path<String>, axum::extract::rejection::PathRejection>;

/// Every source: configured and added at run time, with state and health.
#[utoipa::path(get, path = "/api/v1/sources", tag = "sources",
    security((), ("api_key" = [])),
    responses((status = 200, description = "Sources", body = SourceList)))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
) -> Result<Json<SourceList>, ApiError> {
    let admin = caller.is_some_and(|c| c.is_admin());
    let entries = catalog::load(&st.config_sources, st.store.as_ref()).await?;
    let health = st.health.snapshot();
    let mut items = Vec::new();
    for e in entries {
        let mut options = serde_json::to_value(&e.config.options).unwrap_or_default();
        dto::redact_options(&mut options);
        let cursor = crate::store::repos::cursors::get(st.store.sql(), &e.config.name).await?;
        items.push(SourceItem {
            health: health
                .get(&format!("source:{}", e.config.name))
                .map(|c| dto::component(c, admin)),
            name: e.config.name,
            kind: e.config.kind,
            enabled: e.config.enabled,
            options: match options {
                serde_json::Value::Object(m) => m,
                _ => Default::default(),
            },
            state: e.state.as_str().into(),
            origin: e.origin.into(),
            quarantine: e.quarantine,
            cursor,
        });
    }
    Ok(Json(SourceList { items }))
}

/// Adds a source at run time (or redefines one, with `replace`).
#[utoipa::path(post, path = "/api/v1/sources", tag = "sources", request_body = NewSource,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Added", body = SourceChanged),
        (status = 400, description = "Not a valid body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The source is not valid or not allowed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add(
    State(st): State<Arc<AppState>>,
    body: Result<Json<NewSource>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<SourceChanged>), ApiError> {
    let Json(n) = body?;
    let options: toml::Table = serde_json::from_value(serde_json::Value::Object(n.options))
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("options: {e} (null values are not allowed)"),
            )
        })?;
    let cfg = SourceConfig {
        name: n.name.clone(),
        kind: n.kind,
        enabled: true,
        options,
    };
    let refuse = |errs: Vec<String>| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("source `{}`: {}", n.name, errs.join("; ")),
        )
        .with("problems", errs)
    };
    let denied = st.admission.check(&cfg);
    if !denied.is_empty() {
        return Err(refuse(denied));
    }
    match catalog::add(&st.config_sources, st.store.as_ref(), &cfg, n.replace).await {
        Ok(def) => Ok((
            StatusCode::CREATED,
            Json(SourceChanged {
                source: dto::definition(def),
            }),
        )),
        Err(errs) => Err(refuse(errs)),
    }
}

/// Stops polling a source (its cursor is kept).
#[utoipa::path(post, path = "/api/v1/sources/{name}/pause", tag = "sources",
    params(("name" = String, Path)), security(("api_key" = [])),
    responses(
        (status = 200, description = "Paused", body = SourceChanged),
        (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn pause(
    State(st): State<Arc<AppState>>,
    name: PathResult,
) -> Result<Json<SourceChanged>, ApiError> {
    set(&st, &name?.0, SourceState::Paused).await
}

/// Polls a paused source again, from its cursor.
#[utoipa::path(post, path = "/api/v1/sources/{name}/resume", tag = "sources",
    params(("name" = String, Path)), security(("api_key" = [])),
    responses(
        (status = 200, description = "Resumed", body = SourceChanged),
        (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resume(
    State(st): State<Arc<AppState>>,
    name: PathResult,
) -> Result<Json<SourceChanged>, ApiError> {
    set(&st, &name?.0, SourceState::Active).await
}

/// Removes a source (what it stored stays).
#[utoipa::path(delete, path = "/api/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path)), security(("api_key" = [])),
    responses(
        (status = 200, description = "Removed", body = SourceChanged),
        (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(st): State<Arc<AppState>>,
    name: PathResult,
) -> Result<Json<SourceChanged>, ApiError> {
    set(&st, &name?.0, SourceState::Removed).await
}

async fn set(
    st: &AppState,
    name: &str,
    state: SourceState,
) -> Result<Json<SourceChanged>, ApiError> {
    let def = catalog::set_state(&st.config_sources, st.store.as_ref(), name, state)
        .await
        .map_err(ApiError::not_found)?;
    Ok(Json(SourceChanged {
        source: dto::definition(def),
    }))
}

/// Polls a source once and shows what it would store (nothing is stored).
#[utoipa::path(post, path = "/api/v1/sources/{name}/test", tag = "sources",
    params(("name" = String, Path)), security(("api_key" = [])),
    responses(
        (status = 200, description = "What one poll gives", body = TestResult),
        (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The upstream failed or was refused", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn test(
    State(st): State<Arc<AppState>>,
    name: PathResult,
) -> Result<Json<TestResult>, ApiError> {
    let name = name?.0;
    let entries = catalog::load(&st.config_sources, st.store.as_ref()).await?;
    let e = entries
        .iter()
        .find(|e| e.config.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no source named `{name}`")))?;
    let results = catalog::test_once(&e.config).await.map_err(|e| {
        let e = sigflow_core::redact::truncate(&sigflow_core::redact::redact(&e), 500);
        ApiError::new(StatusCode::BAD_GATEWAY, e)
    })?;
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for (format, list) in results {
        for i in list {
            match i {
                Ok(c) => items.push(ContentItem::from(c)),
                Err(e) => problems.push(TestProblem {
                    format: format.clone(),
                    index: e.index,
                    error: e.error,
                }),
            }
        }
    }
    Ok(Json(TestResult {
        items,
        problems,
        stored: false,
    }))
}
