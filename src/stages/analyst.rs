//! The LLM analyst as the analyze stage uses it: governance (budgets, the cache) around
//! one chat-completions exchange and its one repair attempt.
//!
//! The cache is the side-effect journal: an answer is journalled under
//! `llm/<sha256 of the request>/<model>/<prompt version>` before it is used, so a
//! retry, a replay or a restart reads it back instead of paying again. A spent budget
//! is journalled too (as the abstention it caused), so a replay seals the same thing.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sigflow_connectors::llm::{LlmClient, LlmError};

use crate::analyze::Call;
use crate::analyze::ledger::LlmTrace;
use crate::analyze::llm::{self, Answer, Prompt};
use crate::hash::sha256_hex;
use crate::model::Content;
use crate::store::Store;
use crate::store::repos::{effects, llm_usage};

/// Journal scope.
pub const SCOPE: &str = "llm";

/// Why no verdict: the LLM (the rules decide instead), or the store (the stage retries
/// the record: a store that hiccups must not turn into a rules-only prediction).
#[derive(Debug)]
pub enum VerdictError {
    Llm(LlmError),
    Store(crate::error::StageError),
}

impl From<LlmError> for VerdictError {
    fn from(e: LlmError) -> Self {
        VerdictError::Llm(e)
    }
}

fn store_error(what: &str, e: impl std::fmt::Display) -> VerdictError {
    VerdictError::Store(crate::error::StageError::transient(format!("{what}: {e}")))
}

pub struct Analyst {
    pub client: LlmClient,
    pub model: String,
    pub prompt: Prompt,
    pub max_tokens: u32,
    pub triage_score: f64,
    pub daily_requests: u64,
    pub daily_tokens: u64,
    pub store: Arc<dyn Store>,
    /// Records of a batch analysed at once (a few more than the client's concurrency,
    /// so a record below triage never waits behind a call).
    pub in_flight: usize,
    /// Serializes budget checks with their reservations (see `reserve`).
    pub budget_lock: tokio::sync::Mutex<()>,
}

/// What the analyst decided, as journalled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// (symbol, direction) — empty when abstaining.
    pub assets: Vec<(String, String)>,
    pub confidence: f64,
    pub horizon_days: u32,
    pub reasoning: String,
    pub abstain_reason: Option<String>,
    pub trace: LlmTrace,
}

impl Verdict {
    pub fn call(&self) -> Option<Call> {
        if self.abstain_reason.is_some() || self.assets.is_empty() {
            return None;
        }
        Some(Call {
            assets: self
                .assets
                .iter()
                .filter_map(|(s, d)| Some((s.clone(), crate::analyze::Direction::parse(d)?)))
                .collect(),
            confidence: self.confidence,
            horizon_days: self.horizon_days,
            score: 0.0,
            group: String::new(),
            rules: Vec::new(),
            reasons: vec![self.reasoning.clone()],
        })
    }
}

/// Why the LLM was not asked about an item (the rules decide alone), if it was not.
pub fn bypass(item: &Content, score: f64, triage: f64) -> Option<&'static str> {
    let e = &item.enrichments;
    let flag = |k: &str, f: &str| e.get(k).and_then(|v| v.get(f)).and_then(|v| v.as_bool());
    let kind = e
        .get("dedup")
        .and_then(|d| d.get("kind"))
        .and_then(|k| k.as_str());
    if item.content_type == crate::model::ContentType::Repost && item.text.trim().len() < 20 {
        Some("repost_without_comment")
    } else if flag("filter", "filtered") == Some(true) {
        Some("filtered")
    } else if kind.is_some_and(|k| k != "unique") {
        Some("duplicate")
    } else if score < triage {
        Some("below_triage")
    } else {
        None
    }
}

fn known(symbol: &str) -> bool {
    crate::enrich::tickers::TickerIndex::standard().is_listed(symbol)
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

impl Analyst {
    /// The journalled verdict on `item`: from the journal, or from one paid exchange.
    pub async fn verdict(&self, item: &Content) -> Result<Verdict, VerdictError> {
        let request = llm::request(&self.model, &self.prompt, item, self.max_tokens);
        let request_bytes = serde_json::to_vec(&request).unwrap_or_default();
        let request_hash = sha256_hex(&request_bytes);
        let key = format!(
            "{}/{}/{}",
            &request_hash[..32],
            self.model,
            self.prompt.version
        );
        let db = self.store.sql();
        let got = effects::once(db, SCOPE, &key, || async {
            let v = self.ask(&request, request_hash.clone()).await?;
            Ok::<_, VerdictError>(serde_json::to_vec(&v).unwrap_or_default())
        })
        .await;
        match got {
            Ok(e) => {
                metrics::counter!("sigflow_llm_calls_total", "outcome" => if e.performed { "paid" } else { "cached" }).increment(1);
                serde_json::from_slice(&e.result).map_err(|e| {
                    VerdictError::Store(crate::error::StageError::poison(format!(
                        "journalled LLM verdict unreadable: {e}"
                    )))
                })
            }
            Err(effects::OnceError::Call(e)) => Err(e),
            Err(effects::OnceError::Store(e)) => Err(VerdictError::Store(e.into())),
        }
    }

    fn trace(&self, request_hash: String) -> LlmTrace {
        LlmTrace {
            model: self.model.clone(),
            prompt_version: self.prompt.version.clone(),
            prompt_hash: self.prompt.hash.clone(),
            request_hash,
            ..Default::default()
        }
    }

    async fn ask(
        &self,
        request: &serde_json::Value,
        request_hash: String,
    ) -> Result<Verdict, VerdictError> {
        let mut trace = self.trace(request_hash);
        let abstain = |reason: &str, trace: LlmTrace| {
            metrics::counter!("sigflow_llm_abstain_total", "reason" => reason.split(':').next().unwrap_or("").to_string()).increment(1);
            Verdict {
                assets: Vec::new(),
                confidence: 0.0,
                horizon_days: 0,
                reasoning: String::new(),
                abstain_reason: Some(reason.to_string()),
                trace,
            }
        };
        let day = today();
        let Some(mut answer) = self.exchange(request, &mut trace, &day).await? else {
            return Ok(abstain("budget_exhausted", trace));
        };
        if let Answer::Invalid { content, problem } = &answer {
            // One repair attempt, then an explicit abstention.
            let repair = llm::repair_request(request, content, problem);
            match self.exchange(&repair, &mut trace, &day).await? {
                None => return Ok(abstain("budget_exhausted", trace)),
                Some(Answer::Invalid { .. }) => return Ok(abstain("invalid_json", trace)),
                Some(a) => answer = a,
            }
        }
        Ok(match answer {
            Answer::Call { call, dropped } => {
                trace.dropped = dropped;
                Verdict {
                    assets: call
                        .assets
                        .iter()
                        .map(|(s, d)| (s.clone(), d.as_str().to_string()))
                        .collect(),
                    confidence: call.confidence,
                    horizon_days: call.horizon_days,
                    reasoning: call.reasons.concat(),
                    abstain_reason: None,
                    trace,
                }
            }
            Answer::Abstain { reason } => abstain(&reason, trace),
            Answer::Invalid { .. } => unreachable!("repaired or abstained above"),
        })
    }

    /// Takes one request from today's budget, or says it is spent. Under a lock, so
    /// concurrent calls of this process cannot all pass the check before any counts.
    async fn reserve(&self, day: &str) -> Result<bool, VerdictError> {
        let _one = self.budget_lock.lock().await;
        let db = self.store.sql();
        let spent = llm_usage::on(db, day)
            .await
            .map_err(|e| store_error("reading the LLM budget", e))?;
        if spent.requests >= self.daily_requests || spent.tokens >= self.daily_tokens {
            return Ok(false);
        }
        db.execute_one(llm_usage::add(day, 1, 0))
            .await
            .map_err(|e| store_error("counting the LLM request", e))?;
        Ok(true)
    }

    /// One exchange within the budget (None: the budget is spent).
    async fn exchange(
        &self,
        request: &serde_json::Value,
        trace: &mut LlmTrace,
        day: &str,
    ) -> Result<Option<Answer>, VerdictError> {
        if !self.reserve(day).await? {
            return Ok(None);
        }
        let ex = self.client.complete(request).await?;
        let body: serde_json::Value = serde_json::from_slice(&ex.body).unwrap_or_default();
        let usage = llm::usage(&body);
        trace.prompt_tokens += usage.prompt_tokens;
        trace.completion_tokens += usage.completion_tokens;
        trace.latency_ms += ex.latency_ms;
        trace.response_hash = sha256_hex(&ex.body);
        let tokens = usage.prompt_tokens + usage.completion_tokens;
        metrics::counter!("sigflow_llm_tokens_total").increment(tokens);
        if let Err(e) = self
            .store
            .sql()
            .execute_one(llm_usage::add(day, 0, tokens))
            .await
        {
            tracing::warn!(error = %e, "LLM budget: the call's tokens were not counted");
        }
        Ok(Some(llm::parse(&ex.body, &known)))
    }
}
