//! `GET /api/v1/signals` (sealed predictions, newest first, filters, cursor),
//! `GET /api/v1/signals/{id}` (with its item, matched rules or LLM reasoning, versions
//! and what supersedes it) and `GET /api/v1/ledger/verify`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::contents::{decode_keyset, encode_keyset, parse_time};
use crate::dto::ContentItem;
use crate::problem::Problem;
use crate::store::repos::predictions::{self, Sealed, SignalQuery};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SignalParams {
    /// A symbol (`AAPL` or `$AAPL`).
    asset: Option<String>,
    direction: Option<DirectionParam>,
    /// `rules` or `llm`.
    analyzer: Option<AnalyzerParam>,
    /// A rule's name: predictions it contributed to.
    rule: Option<String>,
    /// At least this confidence (0 to 1).
    #[param(minimum = 0.0, maximum = 1.0)]
    min_confidence: Option<f64>,
    /// The platform of the item (reddit, truthsocial, sec-form4, …).
    source: Option<String>,
    /// true: shadow predictions only; false (the default): live ones only.
    shadow: Option<bool>,
    /// Sealed at or after: RFC 3339, YYYY-MM-DD or epoch seconds.
    since: Option<String>,
    /// Sealed before (same formats).
    until: Option<String>,
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DirectionParam {
    Bullish,
    Bearish,
    Neutral,
    Abstain,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnalyzerParam {
    Rules,
    Llm,
}

impl DirectionParam {
    fn as_str(self) -> &'static str {
        match self {
            DirectionParam::Bullish => "bullish",
            DirectionParam::Bearish => "bearish",
            DirectionParam::Neutral => "neutral",
            DirectionParam::Abstain => "abstain",
        }
    }
}

impl AnalyzerParam {
    fn as_str(self) -> &'static str {
        match self {
            AnalyzerParam::Rules => "rules",
            AnalyzerParam::Llm => "llm",
        }
    }
}

/// What an LLM call cost and returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmTrace {
    pub model: String,
    pub prompt_version: String,
    pub prompt_hash: String,
    pub request_hash: String,
    pub response_hash: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: u64,
    /// Symbols the model named that are not listed (dropped).
    pub dropped: Vec<String>,
}

/// One sealed prediction.
#[derive(Debug, Serialize, ToSchema)]
pub struct Signal {
    pub id: uuid::Uuid,
    pub content_id: uuid::Uuid,
    pub source: String,
    pub author: String,
    /// `rules` or `llm`.
    pub analyzer: String,
    /// The rule set's version, or `model@prompt version`.
    pub version: String,
    /// "" for an abstention.
    pub asset: String,
    /// bullish, bearish, neutral or abstain.
    pub direction: String,
    pub confidence: f64,
    pub horizon_days: u32,
    pub shadow: bool,
    pub score: f64,
    pub group: String,
    pub rules: Vec<String>,
    /// The matching rules' reasons, or the LLM's reasoning.
    pub reasons: Vec<String>,
    pub abstain_reason: Option<String>,
    pub fallback_reason: Option<String>,
    pub llm: Option<LlmTrace>,
    pub happened_at: DateTime<Utc>,
    pub disclosed_at: Option<DateTime<Utc>>,
    pub observed_at: DateTime<Utc>,
    pub sealed_at: DateTime<Utc>,
    /// The hash chain and place in it.
    pub chain: String,
    pub seq: i64,
    pub row_hash: String,
    /// The earlier prediction of the same item and asset this one replaces.
    pub supersedes: Option<String>,
}

impl From<Sealed> for Signal {
    fn from(s: Sealed) -> Signal {
        let p = s.prediction;
        Signal {
            id: p.id,
            content_id: p.content_id,
            source: p.source,
            author: p.author,
            analyzer: p.analyzer,
            version: p.version,
            asset: p.asset,
            direction: p.direction,
            confidence: p.confidence,
            horizon_days: p.horizon_days,
            shadow: p.shadow,
            score: p.score,
            group: p.group,
            rules: p.rules,
            reasons: p.reasons,
            abstain_reason: p.abstain_reason,
            fallback_reason: p.fallback_reason,
            llm: p.llm.map(|l| LlmTrace {
                model: l.model,
                prompt_version: l.prompt_version,
                prompt_hash: l.prompt_hash,
                request_hash: l.request_hash,
                response_hash: l.response_hash,
                prompt_tokens: l.prompt_tokens,
                completion_tokens: l.completion_tokens,
                latency_ms: l.latency_ms,
                dropped: l.dropped,
            }),
            happened_at: p.happened_at,
            disclosed_at: p.disclosed_at,
            observed_at: p.observed_at,
            sealed_at: p.sealed_at,
            chain: s.chain,
            seq: s.seq,
            row_hash: s.row_hash,
            supersedes: s.supersedes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignalPage {
    pub items: Vec<Signal>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignalDetail {
    pub signal: Signal,
    /// The item it was made from (absent if it is no longer stored).
    pub content: Option<ContentItem>,
    /// Later predictions that supersede this one.
    pub superseded_by: Vec<String>,
    /// Its outcomes so far (T+1/3/7/30 as each becomes final).
    pub outcomes: Vec<crate::outcomes::OutcomeDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerProblem {
    pub chain: String,
    pub seq: i64,
    pub id: String,
    /// changed, missing, reordered, column_mismatch or unreadable.
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerReport {
    /// True when every chain verifies.
    pub intact: bool,
    pub rows: u64,
    pub chains: u64,
    /// Every problem found; `problems` lists the first 1,000.
    pub problem_count: u64,
    pub problems: Vec<LedgerProblem>,
}

/// Sealed predictions, newest first.
#[utoipa::path(get, path = "/api/v1/signals", tag = "signals", params(SignalParams),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of predictions", body = SignalPage),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    query: Result<Query<SignalParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SignalPage>, ApiError> {
    let Query(p) = query?;
    let limit = st.page_limit(p.limit, 50)?;
    if let Some(c) = p.min_confidence
        && !(0.0..=1.0).contains(&c)
    {
        return Err(ApiError::bad_request("min_confidence must be from 0 to 1"));
    }
    let time = |name: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| parse_time(name, s).map(|t| t.timestamp_micros()))
            .transpose()
    };
    let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let q = SignalQuery {
        asset: text(p.asset).map(|a| a.trim_start_matches('$').to_ascii_uppercase()),
        direction: p.direction.map(|d| d.as_str().to_string()),
        analyzer: p.analyzer.map(|a| a.as_str().to_string()),
        rule: text(p.rule),
        min_confidence: p.min_confidence,
        source: text(p.source),
        content_id: None,
        shadow: Some(p.shadow.unwrap_or(false)),
        since_us: time("since", &p.since)?,
        until_us: time("until", &p.until)?,
        before: p
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| decode_keyset(c, "for /api/v1/signals"))
            .transpose()?,
        limit: limit + 1,
    };
    let mut rows = predictions::list(st.store.sql(), &q).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more.then(|| {
        let last = &rows[rows.len() - 1].prediction;
        encode_keyset(last.sealed_at.timestamp_micros(), &last.id)
    });
    Ok(Json(SignalPage {
        items: rows.into_iter().map(Signal::from).collect(),
        next_cursor,
    }))
}

/// One sealed prediction with its item and what supersedes it.
#[utoipa::path(get, path = "/api/v1/signals/{id}", tag = "signals",
    params(("id" = uuid::Uuid, Path, description = "The prediction's id (a UUID)")),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "The prediction", body = SignalDetail),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such prediction", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn one(
    State(st): State<Arc<AppState>>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<SignalDetail>, ApiError> {
    let Path(id) = path?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::bad_request(format!(
            "`{id}` is not a prediction id (a UUID)"
        )));
    }
    let db = st.store.sql();
    let Some(s) = predictions::get(db, &id).await? else {
        return Err(ApiError::not_found(format!("no prediction with id {id}")));
    };
    let content = crate::store::repos::contents::get(db, &s.prediction.content_id.to_string())
        .await?
        .map(ContentItem::from);
    let superseded_by = predictions::superseded_by(db, &id).await?;
    let outcomes =
        crate::store::repos::outcomes::of_prediction(db, crate::store::repos::outcomes::LIVE, &id)
            .await?
            .into_iter()
            .map(crate::outcomes::OutcomeDto::from)
            .collect();
    Ok(Json(SignalDetail {
        signal: Signal::from(s),
        content,
        superseded_by,
        outcomes,
    }))
}

/// Recomputes the ledger's hash chains (reads every row; a read like any other, under
/// the per-address and per-key rates).
#[utoipa::path(get, path = "/api/v1/ledger/verify", tag = "signals",
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "The verification report", body = LedgerReport),
        (status = 429, description = "A verification is already running", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify(State(st): State<Arc<AppState>>) -> Result<Json<LedgerReport>, ApiError> {
    // One verification at a time: it reads every row, and a second one at once would
    // only compete with the first (and with the pipeline) for the same answer.
    static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let Ok(_one) = RUNNING.try_acquire() else {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "a ledger verification is already running; try again when it is done",
        ));
    };
    let mut v = sigflow_logic::analyze::ledger::Verifier::default();
    predictions::for_each_chain_row(st.store.sql(), &mut |r| v.check(r)).await?;
    let r = v.report;
    Ok(Json(LedgerReport {
        intact: r.ok(),
        rows: r.rows,
        chains: r.chains,
        problem_count: r.problem_count,
        problems: r
            .problems
            .into_iter()
            .map(|p| LedgerProblem {
                chain: p.chain,
                seq: p.seq,
                id: p.id,
                kind: p.kind.to_string(),
                detail: p.detail,
            })
            .collect(),
    }))
}
