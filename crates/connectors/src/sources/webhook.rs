//! `webhook`: payloads pushed to `POST /api/v1/ingest/{name}` instead of polled.
//!
//! Every request is signed: `X-Sigflow-Signature: sha256=<hex HMAC-SHA256 of the body>`
//! with the secret in `$secret_env` (GitHub's `X-Hub-Signature-256` is accepted too,
//! so a GitHub-style sender works unchanged). Bodies over `max_bytes` are refused, and
//! a body the source's `format` cannot read is refused with the reason (422) rather
//! than filed, so the sender learns at once.
//!
//! The source itself has nothing to poll: its runner only shows it on the health board.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::opts::Opts;
use super::{Poll, Source, SourceError};
use crate::sources::SourceConfig;

/// What the ingest endpoint needs to accept a push for one webhook source.
#[derive(Clone)]
pub struct WebhookSpec {
    pub name: String,
    pub format: &'static str,
    secret: Vec<u8>,
    pub max_bytes: usize,
}

impl std::fmt::Debug for WebhookSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSpec")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

fn read(cfg: &SourceConfig) -> (Option<WebhookSpec>, Vec<String>) {
    let mut o = Opts::new(cfg);
    let format = o.required(
        "format",
        "how pushed bodies are read, e.g. \"jsonl\", \"rss\", \"x\"",
    );
    let normalizer = crate::normalize::find(&format);
    if normalizer.is_none() && !format.is_empty() {
        o.errors.push(format!(
            "option `format`: unknown format `{format}` (known: {})",
            crate::normalize::names().join(", ")
        ));
    }
    let var = o.required(
        "secret_env",
        "the environment variable holding the HMAC secret senders sign with",
    );
    let secret = std::env::var(&var).unwrap_or_default();
    if !var.is_empty() && secret.len() < 16 {
        o.errors.push(format!(
            "${var} must hold the webhook's HMAC secret, at least 16 characters"
        ));
    }
    let max_bytes = o.uint("max_bytes", 1 << 20, 1, 64 << 20) as usize;
    let errs = o.finish();
    let spec = normalizer.map(|n| WebhookSpec {
        name: cfg.name.clone(),
        format: n.name(),
        secret: secret.into_bytes(),
        max_bytes,
    });
    (spec.filter(|_| errs.is_empty()), errs)
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    read(cfg).1
}

/// The webhook sources of a configuration, ready for the ingest endpoint.
pub fn specs(sources: &[SourceConfig]) -> Vec<WebhookSpec> {
    sources
        .iter()
        .filter(|s| s.enabled && s.kind == "webhook")
        .filter_map(|s| read(s).0)
        .collect()
}

impl WebhookSpec {
    /// Checks a signature header (`sha256=<hex>`) against the body, in constant time.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> bool {
        let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
            return false;
        };
        let Some(sig) = decode_hex(hex) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub struct WebhookSource {
    name: String,
}

impl WebhookSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let errs = validate(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        Ok(WebhookSource {
            name: cfg.name.clone(),
        })
    }
}

#[async_trait]
impl Source for WebhookSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, _cursor: Option<&str>) -> Result<Poll, SourceError> {
        Ok(Poll::Idle(Duration::from_secs(3600)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked() {
        let spec = WebhookSpec {
            name: "hook".into(),
            format: "jsonl",
            secret: b"0123456789abcdef".to_vec(),
            max_bytes: 100,
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(b"0123456789abcdef").unwrap();
        mac.update(b"hello");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(spec.verify(Some(&format!("sha256={hex}")), b"hello"));
        assert!(!spec.verify(Some(&format!("sha256={hex}")), b"hello!"));
        assert!(!spec.verify(Some(&hex), b"hello"));
        assert!(!spec.verify(None, b"hello"));
        assert!(!spec.verify(Some("sha256=zz"), b"hello"));
    }
}
