//! `GET /api/v1/outcomes` (outcomes at T+1/3/7/30, newest first, filters, cursor) and
//! `GET /api/v1/track-record` (per source, author, rule, analyzer or asset).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sigflow_logic::markets::track;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::contents::parse_time;
use crate::problem::Problem;
use crate::store::repos::outcomes::{self, By, OutcomeQuery, OutcomeRow};

/// One prediction's outcome at one horizon. Written once, when final; never changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeDto {
    /// `live` (the ledger) or a backtest's namespace.
    pub namespace: String,
    pub prediction_id: String,
    /// Sessions after the entry's session (crypto: UTC days).
    pub horizon: u32,
    /// scored, delisted (exit at the last price before the symbol stopped trading) or
    /// unscorable (no price at all; see `reason`).
    pub status: String,
    pub asset: String,
    /// nyse or crypto.
    pub market: String,
    pub direction: String,
    pub confidence: f64,
    pub source: String,
    pub author: String,
    pub analyzer: String,
    pub version: String,
    pub rules: Vec<String>,
    pub shadow: bool,
    /// max(sealed_at, disclosed_at): the entry is the first price known after it.
    pub knowable_at: DateTime<Utc>,
    pub entry_session: Option<String>,
    /// open or close of the entry session.
    pub entry_point: Option<String>,
    pub entry_at: Option<DateTime<Utc>>,
    /// As traded (not adjusted).
    pub entry_price: Option<f64>,
    pub exit_session: Option<String>,
    pub exit_at: Option<DateTime<Utc>>,
    pub exit_price: Option<f64>,
    /// Shares one entry share became through splits before the exit.
    pub split_factor: Option<f64>,
    /// The asset's price return from entry to exit (0.01 = 1 %).
    #[serde(rename = "return")]
    #[schema(rename = "return")]
    pub ret: Option<f64>,
    /// The call's return: +return bullish, −return bearish, 0 neutral.
    pub signed_return: Option<f64>,
    /// Bullish: return > +threshold; bearish: < −threshold; neutral: |return| ≤ threshold.
    pub correct: Option<bool>,
    /// P&L of the configured notional (long bullish, short bearish) after costs.
    pub pnl: Option<f64>,
    pub benchmark: Option<String>,
    pub benchmark_return: Option<f64>,
    /// The call's return minus the same call on the benchmark.
    pub excess: Option<f64>,
    pub reason: Option<String>,
    /// threshold, notional, cost_bps and grace_sessions as used.
    pub params: serde_json::Value,
    pub computed_at: DateTime<Utc>,
}

fn t(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

impl From<OutcomeRow> for OutcomeDto {
    fn from(o: OutcomeRow) -> Self {
        OutcomeDto {
            rules: o
                .rules
                .split('|')
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect(),
            params: serde_json::from_str(&o.params).unwrap_or(serde_json::Value::Null),
            knowable_at: t(o.knowable_at_us),
            entry_at: o.entry_at_us.map(t),
            exit_at: o.exit_at_us.map(t),
            computed_at: t(o.computed_at_us),
            namespace: o.namespace,
            prediction_id: o.prediction_id,
            horizon: o.horizon,
            status: o.status,
            asset: o.asset,
            market: o.market,
            direction: o.direction,
            confidence: o.confidence,
            source: o.source,
            author: o.author,
            analyzer: o.analyzer,
            version: o.version,
            shadow: o.shadow,
            entry_session: o.entry_session,
            entry_point: o.entry_point,
            entry_price: o.entry_price,
            exit_session: o.exit_session,
            exit_price: o.exit_price,
            split_factor: o.split_factor,
            ret: o.ret,
            signed_return: o.signed_return,
            correct: o.correct,
            pnl: o.pnl,
            benchmark: o.benchmark,
            benchmark_return: o.benchmark_return,
            excess: o.excess,
            reason: o.reason,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutcomeParams {
    /// `live` (default) or a backtest's namespace.
    namespace: Option<String>,
    /// One prediction's outcomes.
    prediction_id: Option<uuid::Uuid>,
    asset: Option<String>,
    horizon: Option<HorizonParam>,
    status: Option<StatusParam>,
    source: Option<String>,
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum HorizonParam {
    #[serde(rename = "1")]
    T1,
    #[serde(rename = "3")]
    T3,
    #[serde(rename = "7")]
    T7,
    #[serde(rename = "30")]
    T30,
}

impl HorizonParam {
    fn days(self) -> u32 {
        match self {
            HorizonParam::T1 => 1,
            HorizonParam::T3 => 3,
            HorizonParam::T7 => 7,
            HorizonParam::T30 => 30,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusParam {
    Scored,
    Delisted,
    Unscorable,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomePage {
    pub items: Vec<OutcomeDto>,
    pub next_cursor: Option<String>,
}

fn encode(o: &OutcomeRow) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}|{}",
        o.computed_at_us, o.prediction_id, o.horizon
    ))
}

fn decode(s: &str) -> Result<(i64, String, u32), ApiError> {
    let bad =
        || ApiError::bad_request("cursor is not one this API handed out (for /api/v1/outcomes)");
    let raw =
        String::from_utf8(URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?).map_err(|_| bad())?;
    let mut it = raw.split('|');
    let (Some(ts), Some(id), Some(h), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((
        ts.parse().map_err(|_| bad())?,
        id.to_string(),
        h.parse().map_err(|_| bad())?,
    ))
}

fn namespace(ns: Option<String>) -> Result<String, ApiError> {
    let ns = ns
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| outcomes::LIVE.into());
    if ns.len() > 80 || ns.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "namespace: at most 80 printable characters",
        ));
    }
    Ok(ns)
}

/// Outcomes, newest first.
#[utoipa::path(get, path = "/api/v1/outcomes", tag = "outcomes", params(OutcomeParams),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of outcomes", body = OutcomePage),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    query: Result<Query<OutcomeParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OutcomePage>, ApiError> {
    let Query(p) = query?;
    let limit = st.page_limit(p.limit, 50)?;
    let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let q = OutcomeQuery {
        namespace: namespace(p.namespace)?,
        prediction_id: p.prediction_id.map(|u| u.to_string()),
        asset: text(p.asset).map(|a| a.trim_start_matches('$').to_ascii_uppercase()),
        horizon: p.horizon.map(HorizonParam::days),
        status: p.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
        source: text(p.source),
        before: p
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode)
            .transpose()?,
        limit: limit + 1,
    };
    let mut rows = outcomes::list(st.store.sql(), &q).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more.then(|| encode(&rows[rows.len() - 1]));
    Ok(Json(OutcomePage {
        items: rows.into_iter().map(OutcomeDto::from).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ByParam {
    Source,
    Author,
    Rule,
    Analyzer,
    Asset,
    All,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrackParams {
    /// What to group by (default source).
    by: Option<ByParam>,
    horizon: Option<HorizonParam>,
    namespace: Option<String>,
    /// Count shadow predictions too.
    shadow: Option<bool>,
    /// Exits at or after: RFC 3339, YYYY-MM-DD or epoch seconds.
    since: Option<String>,
    /// Exits before.
    until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReliabilityBin {
    pub lo: f64,
    pub hi: f64,
    pub n: u64,
    pub mean_confidence: f64,
    pub hit_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackRecord {
    pub key: String,
    pub horizon: u32,
    pub n: u64,
    pub hits: u64,
    pub hit_rate: f64,
    /// The 95 % Wilson interval of the hit rate.
    pub hit_rate_low: f64,
    pub hit_rate_high: f64,
    pub mean_return: f64,
    pub median_return: f64,
    pub pnl: f64,
    /// Mean of (confidence − correct)², lower is better.
    pub brier: f64,
    /// 1 − Brier / (c(1−c)) with c the group's hit rate in the window; null when c is 0 or 1.
    pub skill: Option<f64>,
    /// Non-empty bins of the stated confidence.
    pub reliability: Vec<ReliabilityBin>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackRecords {
    pub by: String,
    pub namespace: String,
    pub records: Vec<TrackRecord>,
}

/// Track records from the scored outcomes.
#[utoipa::path(get, path = "/api/v1/track-record", tag = "outcomes", params(TrackParams),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "Track records per group and horizon", body = TrackRecords),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn track_record(
    State(st): State<Arc<AppState>>,
    query: Result<Query<TrackParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TrackRecords>, ApiError> {
    let Query(p) = query?;
    let by_name = format!("{:?}", p.by.unwrap_or(ByParam::Source)).to_ascii_lowercase();
    let by = By::parse(&by_name).unwrap_or(By::Source);
    let ns = namespace(p.namespace)?;
    let time = |name: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| parse_time(name, s).map(|t| t.timestamp_micros()))
            .transpose()
    };
    let rows = outcomes::track_rows(
        st.store.sql(),
        &ns,
        by,
        p.horizon.map(HorizonParam::days),
        p.shadow.unwrap_or(false),
        time("since", &p.since)?,
        time("until", &p.until)?,
    )
    .await?;
    let records = track::records(rows);
    Ok(Json(TrackRecords {
        by: by_name,
        namespace: ns,
        records: records
            .into_iter()
            .map(|r| TrackRecord {
                key: r.key,
                horizon: r.horizon,
                n: r.n,
                hits: r.hits,
                hit_rate: r.hit_rate,
                hit_rate_low: r.hit_rate_low,
                hit_rate_high: r.hit_rate_high,
                mean_return: r.mean_return,
                median_return: r.median_return,
                pnl: r.pnl,
                brier: r.brier,
                skill: r.skill,
                reliability: r
                    .reliability
                    .into_iter()
                    .map(|b| ReliabilityBin {
                        lo: b.lo,
                        hi: b.hi,
                        n: b.n,
                        mean_confidence: b.mean_confidence,
                        hit_rate: b.hit_rate,
                    })
                    .collect(),
            })
            .collect(),
    }))
}
