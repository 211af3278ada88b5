//! `[api]` (who may reach the HTTP API, and how much of the process its clients may
//! use) and `[outbound]` (what sigflow itself may connect to).

use std::net::SocketAddr;

use serde::Deserialize;

use super::range;

#[derive(Debug, Clone, Deserialize)]
pub struct ApiConfig {
    pub enabled: bool,
    pub listen: String,
    pub max_page_size: usize,
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    /// Serve without API keys on a non-loopback address (loudly logged).
    pub insecure_no_auth: bool,
    /// Host header values accepted besides the listen address and localhost names.
    pub allowed_hosts: Vec<String>,
    /// Origins (scheme://host[:port]) whose browsers may call the API.
    pub allowed_origins: Vec<String>,
    /// Most open connections; `reserved_connections` of them are kept for health
    /// probes, metrics and admin keys.
    pub max_connections: usize,
    pub reserved_connections: usize,
    /// A client must send its request head within this long (idle keep-alive
    /// connections too).
    pub header_timeout_secs: u64,
    /// Threads of the API's own runtime (the pipeline keeps its own).
    pub threads: usize,
    /// How much lower than the pipeline's the API threads' priority is (nice, 0–19).
    pub nice: i32,
    /// Requests per second (sustained; twice that as a burst) per client address and
    /// per API key. 0 = unlimited.
    pub rate_per_ip: u32,
    pub rate_per_key: u32,
    /// `*_env` options of sources added over the API may only name variables with
    /// this prefix (the server's other variables are not the caller's to read).
    pub secret_env_prefix: String,
    /// Directories under which `files` sources added over the API may read.
    pub file_roots: Vec<String>,
}

impl ApiConfig {
    pub fn validate(&self, errors: &mut Vec<String>) {
        if self.listen.parse::<SocketAddr>().is_err() {
            errors.push(format!(
                "api.listen: `{}` is not an address like 127.0.0.1:8080",
                self.listen
            ));
        }
        range(
            errors,
            "api.max_page_size",
            self.max_page_size as u64,
            1,
            10_000,
        );
        // The largest body any endpoint reads; webhook sources may ask for less.
        range(
            errors,
            "api.max_body_bytes",
            self.max_body_bytes as u64,
            1024,
            64 << 20,
        );
        range(
            errors,
            "api.request_timeout_secs",
            self.request_timeout_secs,
            1,
            3600,
        );
        range(
            errors,
            "api.max_connections",
            self.max_connections as u64,
            16,
            1 << 20,
        );
        if self.reserved_connections >= self.max_connections {
            errors.push("api.reserved_connections: must be less than api.max_connections".into());
        }
        range(
            errors,
            "api.header_timeout_secs",
            self.header_timeout_secs,
            1,
            300,
        );
        range(errors, "api.threads", self.threads as u64, 1, 64);
        if !(0..=19).contains(&self.nice) {
            errors.push("api.nice: must be from 0 to 19".into());
        }
        for o in &self.allowed_origins {
            let authority = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .map(|a| a.trim_end_matches('/'));
            if !authority.is_some_and(|a| !a.is_empty() && !a.contains(['/', '?', '#', '@'])) {
                errors.push(format!(
                    "api.allowed_origins: `{o}` is not an origin like https://dash.example.com"
                ));
            }
        }
        if self.secret_env_prefix.len() < 4 {
            errors
                .push("api.secret_env_prefix: at least 4 characters (e.g. SIGFLOW_SECRET_)".into());
        }
        for r in &self.file_roots {
            if !std::path::Path::new(r).is_absolute() {
                errors.push(format!("api.file_roots: `{r}` must be an absolute path"));
            }
        }
    }

    /// Whether the API listens only on the loopback interface.
    pub fn is_loopback(&self) -> bool {
        self.listen
            .parse::<SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback())
    }
}

/// `[outbound]`: addresses beyond the public internet that sigflow may connect to.
#[derive(Debug, Clone, Deserialize)]
pub struct OutboundConfig {
    pub allow: Vec<String>,
}

impl OutboundConfig {
    pub fn validate(&self, errors: &mut Vec<String>) {
        if let Err(es) = sigflow_connectors::net::Policy::parse(&self.allow) {
            errors.extend(es.into_iter().map(|e| format!("outbound.allow: {e}")));
        }
    }

    pub fn policy(&self) -> sigflow_connectors::net::Policy {
        sigflow_connectors::net::Policy::parse(&self.allow).unwrap_or_default()
    }
}
