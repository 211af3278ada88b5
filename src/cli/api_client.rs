//! The CLI's client for a pipeline's API: the key as a bearer token, JSON bodies
//! (the API refuses state changes without them), problem+json errors turned into one
//! readable line.

use std::time::Duration;

use anyhow::{Context, bail};

pub struct ApiClient {
    base: String,
    key: Option<String>,
    client: reqwest::Client,
}

impl ApiClient {
    pub fn new(addr: &str, key: Option<String>) -> anyhow::Result<ApiClient> {
        let base = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.trim_end_matches('/').to_string()
        } else {
            format!("http://{addr}")
        };
        let client = reqwest::Client::builder()
            .build()
            .context("building the HTTP client")?;
        Ok(ApiClient {
            base,
            key: key.filter(|k| !k.trim().is_empty()),
            client,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request; the status and the JSON body (null when there is none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        timeout: Duration,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .timeout(timeout);
        if method != reqwest::Method::GET {
            req = req.json(&body.unwrap_or_else(|| serde_json::json!({})));
        }
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        let r = req
            .send()
            .await
            .with_context(|| format!("no sigflow API answered at {}", self.base))?;
        let code = r.status().as_u16();
        Ok((code, r.json().await.unwrap_or_default()))
    }

    /// An error for a non-2xx answer, with the server's explanation.
    pub fn check(&self, code: u16, body: &serde_json::Value) -> anyhow::Result<()> {
        if code < 300 {
            return Ok(());
        }
        let detail = body["detail"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or("no explanation");
        let hint = match (code, &self.key) {
            (401, None) => " (pass --api-key or set SIGFLOW_API_KEY)",
            _ => "",
        };
        bail!("the API at {} answered {code}: {detail}{hint}", self.base)
    }
}
