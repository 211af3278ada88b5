//! `POST /api/v1/ingest/{source}`: a webhook source's pushed payload. Checked (size,
//! HMAC signature, readable by the source's format), filed in the lake, and appended
//! as a `raw` event; the pipeline takes it from there like any polled payload.

use std::sync::Arc;

use super::{ApiError, AppState};
use crate::dto::IngestAccepted;
use crate::lake::{raw_key, sha256_hex};
use crate::normalize::RawContext;
use crate::problem::Problem;
use crate::store::Commit;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use sigflow_connectors::sources::Payload;

/// A webhook source's pushed payload, signed with HMAC-SHA256 of the body.
#[utoipa::path(post, path = "/api/v1/ingest/{source}", tag = "ingest",
    params(
        ("source" = String, Path, description = "A webhook source's name"),
        ("X-Sigflow-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body> (X-Hub-Signature-256 is accepted too)"),
    ),
    request_body(content = String, description = "The payload in the source's format", content_type = "application/octet-stream"),
    responses(
        (status = 202, description = "Filed and queued", body = IngestAccepted),
        (status = 401, description = "Missing or wrong signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook source", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over the source's max_bytes", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not readable in the source's format", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn push(
    State(st): State<Arc<AppState>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<IngestAccepted>), ApiError> {
    // The catalog, not the config file alone: a webhook added at run time works too.
    let entries =
        sigflow_connectors::sources::catalog::load(&st.config_sources, st.store.as_ref()).await?;
    let configs: Vec<sigflow_connectors::sources::SourceConfig> = entries
        .into_iter()
        .filter(|e| e.state == crate::store::SourceState::Active && e.config.name == source)
        .map(|e| e.config)
        .collect();
    let specs = sigflow_connectors::sources::webhook::specs(&configs);
    let Some(spec) = specs.first() else {
        return Err(ApiError::not_found(format!(
            "no webhook source named `{source}` (configure a source of kind \"webhook\")"
        )));
    };
    if body.len() > spec.max_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body of {} bytes is over this source's max_bytes ({})",
                body.len(),
                spec.max_bytes
            ),
        )
        .with("limit", spec.max_bytes));
    }
    let sig = headers
        .get("x-sigflow-signature")
        .or_else(|| headers.get("x-hub-signature-256"))
        .and_then(|v| v.to_str().ok());
    if !spec.verify(sig, &body) {
        metrics::counter!("sigflow_webhook_rejected_total", "source" => source.clone(), "reason" => "signature").increment(1);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or wrong signature: send X-Sigflow-Signature: sha256=<hex HMAC-SHA256 of the body>",
        ));
    }
    let normalizer = crate::normalize::find(spec.format).expect("validated format");
    let observed_at = Utc::now();
    let sha = sha256_hex(&body);
    let payload = Payload {
        format: spec.format.to_string(),
        body: body.to_vec(),
        meta: serde_json::Map::new(),
    };
    let key = raw_key(
        spec.format,
        observed_at,
        &sha,
        sigflow_connectors::sources::raw::ext_of(&payload),
    );
    // Refuse what the pipeline could not read at all: the sender learns now, not later.
    let cx = RawContext {
        fetched_by: &source,
        lake_key: &key,
        observed_at,
    };
    let items = match normalizer.normalize(&body, &cx) {
        Ok(items) => items,
        Err(e) => {
            metrics::counter!("sigflow_webhook_rejected_total", "source" => source.clone(), "reason" => "unreadable").increment(1);
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("not readable as `{}`: {e}", spec.format),
            ));
        }
    };
    let (good, bad) = (
        items.iter().filter(|i| i.is_ok()).count(),
        items.iter().filter(|i| i.is_err()).count(),
    );
    st.lake.put_once(&key, &body).await.map_err(|e| {
        tracing::warn!(source = %source, error = %e, "webhook payload not filed");
        ApiError::unavailable("the lake is not available; retry later")
    })?;
    let append = sigflow_connectors::sources::raw::raw_append(
        &source,
        payload,
        key.clone(),
        sha.clone(),
        observed_at,
    );
    let c = Commit {
        appends: vec![append],
        ..Default::default()
    };
    sigflow_storage::commit::commit(st.log.as_ref(), st.store.as_ref(), c)
        .await
        .map_err(|e| {
            tracing::warn!(source = %source, error = %e, "webhook payload not committed");
            ApiError::unavailable("the log is not available; retry later")
        })?;
    metrics::counter!("sigflow_webhook_accepted_total", "source" => source.clone()).increment(1);
    Ok((
        StatusCode::ACCEPTED,
        Json(IngestAccepted {
            accepted: true,
            lake_key: key,
            sha256: sha,
            items: good,
            item_errors: bad,
        }),
    ))
}
