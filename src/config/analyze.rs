//! `[analyze]` and `[analyze.llm]`: the rules, the optional LLM analyst, its budgets.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct AnalyzeConfig {
    pub enabled: bool,
    /// A rule file; empty = the built-in default rules.
    pub rules: String,
    /// How often the rule file is checked for a new version.
    pub reload_secs: u64,
    pub llm: LlmConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LlmConfig {
    /// The API root of an OpenAI-compatible server; empty = rules only.
    pub url: String,
    pub model: String,
    /// The environment variable holding the API key ("" = none, e.g. Ollama).
    pub api_key_env: String,
    /// A prompt file; empty = the built-in prompt.
    pub prompt: String,
    pub timeout_secs: u64,
    pub max_retries: u32,
    pub concurrency: usize,
    pub requests_per_minute: u32,
    pub max_tokens: u32,
    /// The rules' score an item needs before it is worth an LLM call.
    pub triage_score: f64,
    pub daily_requests: u64,
    pub daily_tokens: u64,
}

impl AnalyzeConfig {
    pub fn validate(&self, errors: &mut Vec<String>) {
        if !(1..=3600).contains(&self.reload_secs) {
            errors.push("analyze.reload_secs: must be from 1 to 3600".into());
        }
        if !self.rules.is_empty() {
            match std::fs::read_to_string(&self.rules) {
                Err(e) => errors.push(format!("analyze.rules: cannot read {}: {e}", self.rules)),
                Ok(text) => {
                    let file = std::path::Path::new(&self.rules);
                    if let Err(errs) = crate::stages::analyze::compile_rules(file, &text) {
                        errors.extend(errs.into_iter().map(|e| format!("analyze.rules: {e}")));
                    }
                }
            }
        }
        let l = &self.llm;
        if l.url.is_empty() {
            return;
        }
        // The address itself is checked against `[outbound] allow` when the client is
        // built (the policy is installed after validation).
        match url::Url::parse(&l.url) {
            Err(e) => errors.push(format!("analyze.llm.url: not a URL ({e})")),
            Ok(u) => {
                if let Err(e) = sigflow_connectors::net::check_scheme(&u) {
                    errors.push(format!("analyze.llm.url: {e}"));
                }
            }
        }
        if l.model.trim().is_empty() {
            errors.push("analyze.llm.model: required when analyze.llm.url is set".into());
        }
        if !l.prompt.is_empty()
            && let Err(e) = std::fs::read_to_string(&l.prompt)
        {
            errors.push(format!("analyze.llm.prompt: cannot read {}: {e}", l.prompt));
        }
        if !(1..=600).contains(&l.timeout_secs) {
            errors.push("analyze.llm.timeout_secs: must be from 1 to 600".into());
        }
        if l.max_retries > 10 {
            errors.push("analyze.llm.max_retries: at most 10".into());
        }
        if !(1..=64).contains(&l.concurrency) {
            errors.push("analyze.llm.concurrency: must be from 1 to 64".into());
        }
        if l.requests_per_minute == 0 {
            errors.push("analyze.llm.requests_per_minute: must be at least 1".into());
        }
        if !(16..=32_000).contains(&l.max_tokens) {
            errors.push("analyze.llm.max_tokens: must be from 16 to 32000".into());
        }
        if !l.triage_score.is_finite() {
            errors.push("analyze.llm.triage_score: must be a number".into());
        }
    }
}
