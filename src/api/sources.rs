//! `/api/v1/sources`: the same source management as `sigflow sources`, over HTTP.
//!
//! * `GET /api/v1/sources` — every source, its state and its health.
//! * `POST /api/v1/sources` — `{"name", "kind", "options": {…}, "replace": false}`.
//! * `POST /api/v1/sources/{name}/pause|resume|test`, `DELETE /api/v1/sources/{name}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState};
use crate::config::SourceConfig;
use crate::sources::catalog;
use crate::store::SourceState;

pub async fn list(State(st): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let entries = catalog::load(&st.config_sources, st.store.as_ref()).await?;
    let health = st.health.snapshot();
    let mut items = Vec::new();
    for e in entries {
        let mut v = serde_json::to_value(&e).unwrap_or_default();
        v["health"] = json!(health.get(&format!("source:{}", e.config.name)));
        v["cursor"] = json!(st.store.cursor(&e.config.name).await?);
        items.push(v);
    }
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    name: String,
    kind: String,
    #[serde(default)]
    options: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    replace: bool,
}

pub async fn add(
    State(st): State<Arc<AppState>>,
    body: Result<Json<NewSource>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(n) = body.map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
    let options: toml::Table = serde_json::from_value(serde_json::Value::Object(n.options))
        .map_err(|e| {
            ApiError::bad_request(format!("options: {e} (null values are not allowed)"))
        })?;
    let cfg = SourceConfig {
        name: n.name.clone(),
        kind: n.kind,
        enabled: true,
        options,
    };
    match catalog::add(&st.config_sources, st.store.as_ref(), &cfg, n.replace).await {
        Ok(def) => Ok((StatusCode::CREATED, Json(json!({ "source": def })))),
        Err(errs) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("source `{}`: {}", n.name, errs.join("; ")),
        )),
    }
}

pub async fn action(
    State(st): State<Arc<AppState>>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let state = match action.as_str() {
        "pause" => SourceState::Paused,
        "resume" => SourceState::Active,
        "test" => return test(&st, &name).await,
        other => {
            return Err(ApiError::not_found(format!(
                "no action `{other}` (pause, resume, test)"
            )));
        }
    };
    set(&st, &name, state).await
}

pub async fn remove(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set(&st, &name, SourceState::Removed).await
}

async fn set(
    st: &AppState,
    name: &str,
    state: SourceState,
) -> Result<Json<serde_json::Value>, ApiError> {
    let def = catalog::set_state(&st.config_sources, st.store.as_ref(), name, state)
        .await
        .map_err(ApiError::not_found)?;
    Ok(Json(json!({ "source": def })))
}

async fn test(st: &AppState, name: &str) -> Result<Json<serde_json::Value>, ApiError> {
    let entries = catalog::load(&st.config_sources, st.store.as_ref()).await?;
    let e = entries
        .iter()
        .find(|e| e.config.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no source named `{name}`")))?;
    let results = catalog::test_once(&e.config)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e))?;
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for (format, list) in results {
        for i in list {
            match i {
                Ok(c) => items.push(serde_json::to_value(&c).unwrap_or_default()),
                Err(e) => {
                    problems.push(json!({"format": format, "index": e.index, "error": e.error}))
                }
            }
        }
    }
    Ok(Json(
        json!({ "items": items, "problems": problems, "stored": false }),
    ))
}
