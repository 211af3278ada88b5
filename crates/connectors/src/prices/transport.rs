//! The HTTP side every web provider shares: the guarded client, a pace between
//! requests, a cap on answer size, and network failures as [`PriceError`]s. The
//! provider reads the status and body itself (vendors put errors in 200 bodies).

use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{PriceError, ProviderSettings};

/// Larger answers are refused (ten years of daily bars is well under 2 MiB).
pub const MAX_BODY: usize = 16 << 20;

pub struct Transport {
    name: &'static str,
    client: reqwest::Client,
    gap: Duration,
    next_at: Mutex<Instant>,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Transport {
    pub fn new(name: &'static str, s: &ProviderSettings) -> Result<Transport, String> {
        let client = crate::net::client_builder()
            .user_agent(s.user_agent.clone())
            .timeout(s.timeout)
            .build()
            .map_err(|e| format!("{name}: building the HTTP client: {e}"))?;
        Ok(Transport {
            name,
            client,
            gap: Duration::from_secs_f64(1.0 / s.max_rps.max(0.001)),
            next_at: Mutex::new(Instant::now()),
        })
    }

    /// GET `url`; `shown` is the URL with its key masked, for messages.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer, PriceError> {
        let shown = sigflow_core::redact::redact_url(url);
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| PriceError::Config(format!("{}: bad URL {shown}: {e}", self.name)))?;
        crate::net::check_url(&parsed)
            .map_err(|e| PriceError::Config(format!("{}: {shown}: {e}", self.name)))?;
        {
            let mut next = self.next_at.lock().await;
            tokio::time::sleep_until(*next).await;
            *next = Instant::now() + self.gap;
        }
        let mut req = self.client.get(parsed);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let started = std::time::Instant::now();
        let mut resp = req.send().await.map_err(|e| {
            let e = e.without_url();
            let why = crate::net::error_chain(&e);
            if crate::net::is_refusal(&e) {
                PriceError::Config(format!("{}: GET {shown}: {why}", self.name))
            } else {
                PriceError::Transient(format!("{}: GET {shown}: {why}", self.name))
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| PriceError::Transient(format!("{}: reading {shown}: {e}", self.name)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(PriceError::Unavailable(format!(
                    "{}: {shown}: answer larger than {} MiB",
                    self.name,
                    MAX_BODY >> 20
                )));
            }
            body.extend_from_slice(&chunk);
        }
        metrics::counter!("sigflow_price_requests_total", "provider" => self.name, "status" => status.to_string())
            .increment(1);
        metrics::histogram!("sigflow_price_request_seconds", "provider" => self.name)
            .record(started.elapsed().as_secs_f64());
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

impl Answer {
    pub fn retry_after(&self) -> Option<Duration> {
        crate::sources::http::retry_after(&self.headers)
    }
}
