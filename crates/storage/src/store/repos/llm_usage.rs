//! `llm_usage` (migration 0010): what the LLM analyst spent per UTC day, against the
//! configured request and token budgets. Counted after each paid call; a crash between
//! the call and this row under-counts that one call (the budget is a guard, not a bill).

use crate::store::StoreError;
use crate::store::sql::{FromRow, Mutation, Row, SqlDb};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub requests: u64,
    pub tokens: u64,
}

impl FromRow for Usage {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        Ok(Usage {
            requests: r.u64(0)?,
            tokens: r.u64(1)?,
        })
    }
}

/// Spent on `day` (YYYY-MM-DD).
pub async fn on(db: &dyn SqlDb, day: &str) -> Result<Usage, StoreError> {
    Ok(db
        .query_opt(
            "SELECT requests, tokens FROM llm_usage WHERE day = $1",
            crate::sql_params![day],
        )
        .await?
        .unwrap_or_default())
}

/// Adds one call's cost to `day`.
pub fn add(day: &str, requests: u64, tokens: u64) -> Mutation {
    Mutation::new(
        "INSERT INTO llm_usage (day, requests, tokens) VALUES ($1, $2, $3) \
         ON CONFLICT (day) DO UPDATE SET requests = llm_usage.requests + excluded.requests, \
         tokens = llm_usage.tokens + excluded.tokens",
        crate::sql_params![day, requests, tokens],
    )
}
