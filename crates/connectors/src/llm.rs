//! The LLM analyst's HTTP client: one OpenAI-compatible chat-completions endpoint
//! (OpenAI, Ollama, llama.cpp's server, vLLM), plain reqwest so the exact bytes are
//! kept for the ledger's hashes.
//!
//! Retries follow the provider's conventions (`analyze::llm::classify`: 408, 409, 429
//! and 5xx, the server's `retry-after-ms` / `retry-after`, never a quota error), at
//! most `max_retries` times; requests are paced (`per_minute`) and bounded in flight
//! (`concurrency`). The key comes from the environment and goes only into the
//! `Authorization` header: errors name the host, never the key.

use std::time::{Duration, Instant};

use serde_json::Value;
use sigflow_logic::analyze::llm::{self, Failure};
use tokio::sync::{Mutex, Semaphore};

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// Unreachable, timing out, or failing after every retry: fall back to the rules.
    #[error("LLM unavailable: {0}")]
    Down(String),
    /// Out of quota or credit: not retried.
    #[error("LLM quota exhausted: {0}")]
    Quota(String),
    /// The request is refused as wrong (400, 401, 404): retrying cannot help.
    #[error("LLM refused the request: {0}")]
    Refused(String),
}

/// One successful exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub body: Vec<u8>,
    pub latency_ms: u64,
    pub attempts: u32,
}

/// The largest answer read: a chat completion is a few KiB; anything near this is not one.
pub const MAX_ANSWER_BYTES: usize = 4 << 20;

/// The body, or None once it passes [`MAX_ANSWER_BYTES`] (the rest is not read).
async fn read_capped(mut resp: reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

pub struct LlmClient {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    host: String,
    api_key: Option<String>,
    max_retries: u32,
    slots: Semaphore,
    spacing: Duration,
    next: Mutex<Instant>,
}

impl LlmClient {
    /// `base` is the API root (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`).
    pub fn new(
        base: &str,
        api_key: Option<String>,
        timeout: Duration,
        max_retries: u32,
        concurrency: usize,
        per_minute: u32,
    ) -> Result<LlmClient, String> {
        let base = crate::net::check_str(base)?;
        let endpoint = base
            .join(&format!(
                "{}/chat/completions",
                base.path().trim_end_matches('/')
            ))
            .map_err(|e| format!("LLM url: {e}"))?;
        let host = format!(
            "{}://{}{}",
            endpoint.scheme(),
            endpoint.host_str().unwrap_or(""),
            endpoint.port().map_or(String::new(), |p| format!(":{p}"))
        );
        let client = crate::net::client_builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("LLM client: {e}"))?;
        Ok(LlmClient {
            client,
            endpoint,
            host,
            api_key: api_key.filter(|k| !k.is_empty()),
            max_retries,
            slots: Semaphore::new(concurrency.max(1)),
            spacing: Duration::from_secs_f64(60.0 / f64::from(per_minute.max(1))),
            next: Mutex::new(Instant::now()),
        })
    }

    /// Where requests go, without credentials (for logs and health).
    pub fn host(&self) -> &str {
        &self.host
    }

    async fn pace(&self) {
        let wait = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.spacing;
            at - now
        };
        tokio::time::sleep(wait).await;
    }

    /// POSTs `request`; retries what the conventions say to retry.
    pub async fn complete(&self, request: &Value) -> Result<Exchange, LlmError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| LlmError::Down("client closed".into()))?;
        let body = serde_json::to_vec(request).map_err(|e| LlmError::Refused(e.to_string()))?;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            self.pace().await;
            attempt += 1;
            let mut req = self
                .client
                .post(self.endpoint.clone())
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(k) = &self.api_key {
                req = req.bearer_auth(k);
            }
            let failure = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let bytes = match read_capped(resp).await {
                        Ok(Some(b)) => b,
                        Ok(None) => {
                            return Err(LlmError::Down(format!(
                                "{}: an answer larger than {MAX_ANSWER_BYTES} bytes",
                                self.host
                            )));
                        }
                        Err(e) => {
                            metrics::counter!("sigflow_llm_http_total", "outcome" => "read_error")
                                .increment(1);
                            self.retry_or(
                                attempt,
                                None,
                                format!(
                                    "{}: reading the answer: {}",
                                    self.host,
                                    crate::net::error_chain(&e)
                                ),
                            )
                            .await?;
                            continue;
                        }
                    };
                    metrics::counter!("sigflow_llm_http_total", "outcome" => status.to_string())
                        .increment(1);
                    if (200..300).contains(&status) {
                        return Ok(Exchange {
                            body: bytes,
                            latency_ms: started.elapsed().as_millis() as u64,
                            attempts: attempt,
                        });
                    }
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    llm::classify(status, &header, &bytes)
                }
                Err(e) => {
                    metrics::counter!("sigflow_llm_http_total", "outcome" => "network")
                        .increment(1);
                    if crate::net::is_refusal(&e) {
                        return Err(LlmError::Refused(format!(
                            "{}: {}",
                            self.host,
                            crate::net::error_chain(&e)
                        )));
                    }
                    let note = format!("{}: {}", self.host, crate::net::error_chain(&e));
                    self.retry_or(attempt, None, note).await?;
                    continue;
                }
            };
            match failure {
                Failure::Quota(m) => return Err(LlmError::Quota(sigflow_core::redact::redact(&m))),
                Failure::Fatal(m) => {
                    return Err(LlmError::Refused(sigflow_core::redact::redact(&m)));
                }
                Failure::Retry(wait) => {
                    self.retry_or(attempt, wait, format!("{}: retries exhausted", self.host))
                        .await?
                }
            }
        }
    }

    /// Sleeps before the next attempt, or gives up with `last` once retries are spent.
    async fn retry_or(
        &self,
        attempt: u32,
        wait: Option<Duration>,
        last: String,
    ) -> Result<(), LlmError> {
        if attempt > self.max_retries {
            return Err(LlmError::Down(last));
        }
        let wait = wait.unwrap_or_else(|| llm::backoff(attempt - 1, fastrand::f64()));
        tokio::time::sleep(wait).await;
        Ok(())
    }
}
