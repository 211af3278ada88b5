//! The LLM analyst's pure parts: the chat-completions request (strict JSON schema),
//! the local validation of the answer, and how an HTTP answer is classified.
//!
//! Whatever the server promises about the schema (Ollama Cloud accepts it without
//! enforcing it), the answer is checked here: a symbol must be one the ticker list
//! knows (else dropped, with a note), confidence in [0, 1], direction in the enum.
//! Every way an answer can fail becomes an explicit [`Answer::Abstain`] with a reason,
//! never an empty call.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Call, Direction};
use crate::model::Content;

/// The prompt the stage uses when none is configured (`data/prompts/analyst.txt`).
pub const DEFAULT_PROMPT: &str = include_str!("../../../../data/prompts/analyst.txt");

/// A loaded prompt: its text, the version it declares (first line `version: NAME`)
/// or one derived from its hash, and the hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub version: String,
    pub hash: String,
    pub text: String,
}

impl Prompt {
    pub fn new(file: &str) -> Prompt {
        let hash = crate::hash::sha256_hex(file.as_bytes())[..16].to_string();
        let (version, text) = match file.split_once('\n') {
            Some((first, rest)) if first.trim_start().starts_with("version:") => (
                first.trim_start()["version:".len()..].trim().to_string(),
                rest.trim_start_matches('\n').to_string(),
            ),
            _ => (format!("h{}", &hash[..12]), file.to_string()),
        };
        Prompt {
            version,
            hash,
            text,
        }
    }
}

/// The schema the model must answer in (strict: every property required, nothing
/// else allowed).
pub fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["abstain", "abstain_reason", "assets", "confidence", "horizon_days", "reasoning"],
        "properties": {
            "abstain": {"type": "boolean", "description": "true when the item gives no tradeable view"},
            "abstain_reason": {"type": ["string", "null"]},
            "assets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["symbol", "direction"],
                    "properties": {
                        "symbol": {"type": "string", "description": "exchange ticker, e.g. AAPL, BRK.B"},
                        "direction": {"type": "string", "enum": ["bullish", "bearish", "neutral"]}
                    }
                }
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "horizon_days": {"type": "integer", "minimum": 1, "maximum": 60},
            "reasoning": {"type": "string"}
        }
    })
}

/// What the model is told about the item: the fields as JSON (never pasted into the
/// prompt's text, so an item cannot rewrite the instructions).
pub fn item_message(item: &Content) -> String {
    let sentiment = item
        .enrichments
        .get("sentiment")
        .and_then(|s| s.get("compound"));
    json!({
        "source": item.source,
        "author": item.author.as_ref().map(|a| a.handle.as_str()),
        "title": item.title,
        "text": item.text.chars().take(8_000).collect::<String>(),
        "tickers_found": item.tickers,
        "sentiment_compound": sentiment,
        "happened_at": item.happened_at,
        "disclosed_at": item.disclosed_at,
        "extras": item.extras,
    })
    .to_string()
}

/// The chat-completions request.
pub fn request(model: &str, prompt: &Prompt, item: &Content, max_tokens: u32) -> Value {
    json!({
        "model": model,
        "temperature": 0,
        "max_tokens": max_tokens,
        "messages": [
            {"role": "system", "content": prompt.text},
            {"role": "user", "content": item_message(item)},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "sigflow_call", "strict": true, "schema": schema()}
        }
    })
}

/// The one repair attempt: the same conversation, the bad answer, and what was wrong.
pub fn repair_request(first: &Value, bad_answer: &str, problem: &str) -> Value {
    let mut r = first.clone();
    if let Some(m) = r.get_mut("messages").and_then(Value::as_array_mut) {
        m.push(json!({"role": "assistant", "content": bad_answer}));
        m.push(json!({"role": "user", "content": format!(
            "Your answer was not valid ({problem}). Answer again with only a JSON object that matches the schema."
        )}));
    }
    r
}

/// Tokens a response reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// The analyst's answer, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Call {
        call: Call,
        dropped: Vec<String>,
    },
    Abstain {
        reason: String,
    },
    /// The content is not valid JSON for the schema: worth one repair attempt.
    Invalid {
        content: String,
        problem: String,
    },
}

pub fn usage(body: &Value) -> Usage {
    let u = &body["usage"];
    Usage {
        prompt_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
        completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
    }
}

/// Reads a 2xx chat-completions body. `known` says whether a symbol is listed.
pub fn parse(body: &[u8], known: &dyn Fn(&str) -> bool) -> Answer {
    let abstain = |r: &str| Answer::Abstain { reason: r.into() };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return abstain("unreadable_response");
    };
    let Some(choice) = v["choices"].get(0) else {
        return abstain("no_choices");
    };
    let message = &choice["message"];
    if message["refusal"].as_str().is_some_and(|r| !r.is_empty()) {
        return abstain("refusal");
    }
    match choice["finish_reason"].as_str() {
        // Truncated JSON is not repaired: the same limit would cut it again.
        Some("length") => return abstain("truncated"),
        Some("content_filter") => return abstain("content_filter"),
        _ => {}
    }
    let Some(content) = message["content"].as_str() else {
        return abstain("empty_answer");
    };
    let invalid = |problem: String| Answer::Invalid {
        content: content.chars().take(4_000).collect(),
        problem,
    };
    let a: Value = match serde_json::from_str(content.trim()) {
        Ok(a) => a,
        Err(e) => return invalid(format!("not JSON: {e}")),
    };
    if a["abstain"] == Value::Bool(true) {
        let why = a["abstain_reason"].as_str().unwrap_or("").trim();
        let why: String = why.chars().take(200).collect();
        return abstain(&format!(
            "model: {}",
            if why.is_empty() {
                "no reason given"
            } else {
                &why
            }
        ));
    }
    let Some(confidence) = a["confidence"].as_f64().filter(|c| (0.0..=1.0).contains(c)) else {
        return invalid("confidence must be a number from 0 to 1".into());
    };
    let horizon = a["horizon_days"].as_u64().filter(|h| (1..=60).contains(h));
    let Some(horizon_days) = horizon else {
        return invalid("horizon_days must be an integer from 1 to 60".into());
    };
    let Some(list) = a["assets"].as_array() else {
        return invalid("assets must be a list".into());
    };
    let mut assets = Vec::new();
    let mut dropped = Vec::new();
    for x in list.iter().take(super::eval::MAX_ASSETS * 2) {
        let sym = x["symbol"]
            .as_str()
            .unwrap_or("")
            .trim()
            .trim_start_matches('$')
            .to_ascii_uppercase();
        let Some(dir) = x["direction"].as_str().and_then(Direction::parse) else {
            return invalid(format!(
                "direction of `{sym}` must be bullish, bearish or neutral"
            ));
        };
        if !super::eval::valid_symbol(&sym) || !known(&sym) {
            dropped.push(sym);
            continue;
        }
        if !assets.iter().any(|(s, _): &(String, Direction)| s == &sym) {
            assets.push((sym, dir));
        }
    }
    assets.truncate(super::eval::MAX_ASSETS);
    if assets.is_empty() {
        return abstain(if dropped.is_empty() {
            "no_assets"
        } else {
            "unknown_symbols"
        });
    }
    let reasoning: String = a["reasoning"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(2_000)
        .collect();
    Answer::Call {
        call: Call {
            assets,
            confidence: (confidence * 10_000.0).round() / 10_000.0,
            horizon_days: horizon_days as u32,
            score: 0.0,
            group: String::new(),
            rules: Vec::new(),
            reasons: vec![reasoning],
        },
        dropped,
    }
}

/// What to do with a non-2xx answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Try again after this long (the server's word, or our backoff).
    Retry(Option<Duration>),
    /// Never retried: the account is out of quota or credit.
    Quota(String),
    /// Retrying cannot help (a 400, 401, 404): the request or the setup is wrong.
    Fatal(String),
}

/// Classifies an error answer the way OpenAI's own clients do: `x-should-retry`
/// first; 408, 409, 429 and 5xx are retried unless the body says the quota is gone;
/// the wait comes from `retry-after-ms`, then `retry-after` (seconds).
pub fn classify(status: u16, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Failure {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = &v["error"];
    let code = err["code"].as_str().or(err["type"].as_str()).unwrap_or("");
    let message: String = err["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    let message: String = message.chars().take(200).collect();
    if matches!(
        code,
        "insufficient_quota" | "credit_balance_exhausted" | "billing_hard_limit_reached"
    ) || err["type"].as_str() == Some("insufficient_quota")
    {
        return Failure::Quota(format!("{status} {code}: {message}"));
    }
    let wait = header("retry-after-ms")
        .and_then(|s| s.trim().parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64((ms / 1000.0).clamp(0.0, 60.0)))
        .or_else(|| {
            header("retry-after")
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.clamp(0.0, 60.0)))
        });
    match header("x-should-retry").as_deref() {
        Some("true") => return Failure::Retry(wait),
        Some("false") => return Failure::Fatal(format!("{status}: {message}")),
        _ => {}
    }
    if matches!(status, 408 | 409 | 429) || status >= 500 {
        Failure::Retry(wait)
    } else {
        Failure::Fatal(format!("{status}: {message}"))
    }
}

/// The client's own backoff when the server names no wait: 0.5 s doubling, at most
/// 8 s, minus up to a quarter (`jitter` in [0, 1)).
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let base = (0.5 * 2f64.powi(attempt as i32)).min(8.0);
    Duration::from_secs_f64(base * (1.0 - 0.25 * jitter.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(content: &str, finish: &str) -> Vec<u8> {
        json!({"choices": [{"message": {"role": "assistant", "content": content, "refusal": null}, "finish_reason": finish}],
               "usage": {"prompt_tokens": 10, "completion_tokens": 5}})
        .to_string()
        .into_bytes()
    }

    fn known(s: &str) -> bool {
        matches!(s, "AAPL" | "MSFT" | "BRK.B")
    }

    #[test]
    fn a_good_answer_is_a_call_and_unknown_symbols_are_dropped() {
        let c = r#"{"abstain":false,"abstain_reason":null,"assets":[{"symbol":"$aapl","direction":"bullish"},{"symbol":"ZZZZ","direction":"bearish"}],"confidence":0.7,"horizon_days":3,"reasoning":"r"}"#;
        match parse(&answer(c, "stop"), &known) {
            Answer::Call { call, dropped } => {
                assert_eq!(call.assets, vec![("AAPL".to_string(), Direction::Bullish)]);
                assert_eq!(dropped, vec!["ZZZZ".to_string()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_failure_is_an_explicit_abstention_or_a_repair() {
        let reason = |b: &[u8]| match parse(b, &known) {
            Answer::Abstain { reason } => reason,
            Answer::Invalid { problem, .. } => format!("invalid: {problem}"),
            Answer::Call { .. } => "call".into(),
        };
        assert_eq!(reason(&answer("{\"abstain\":", "length")), "truncated");
        assert_eq!(reason(&answer("", "content_filter")), "content_filter");
        let refusal = json!({"choices":[{"message":{"content":null,"refusal":"I can't"},"finish_reason":"stop"}]});
        assert_eq!(reason(refusal.to_string().as_bytes()), "refusal");
        assert!(reason(&answer("not json", "stop")).starts_with("invalid: not JSON"));
        let c = r#"{"abstain":false,"abstain_reason":null,"assets":[],"confidence":1.5,"horizon_days":3,"reasoning":""}"#;
        assert!(reason(&answer(c, "stop")).starts_with("invalid: confidence"));
        let c = r#"{"abstain":true,"abstain_reason":"no view","assets":[],"confidence":0,"horizon_days":1,"reasoning":""}"#;
        assert_eq!(reason(&answer(c, "stop")), "model: no view");
        assert_eq!(reason(b"<html>"), "unreadable_response");
    }

    #[test]
    fn http_failures_follow_the_providers_conventions() {
        let none = |_: &str| None;
        let quota = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        assert!(matches!(classify(429, &none, quota), Failure::Quota(_)));
        let rate = br#"{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}"#;
        let ms = |h: &str| (h == "retry-after-ms").then(|| "250".to_string());
        assert_eq!(
            classify(429, &ms, rate),
            Failure::Retry(Some(Duration::from_millis(250)))
        );
        let secs = |h: &str| (h == "retry-after").then(|| "2".to_string());
        assert_eq!(
            classify(503, &secs, b""),
            Failure::Retry(Some(Duration::from_secs(2)))
        );
        assert_eq!(classify(408, &none, b""), Failure::Retry(None));
        assert_eq!(classify(409, &none, b""), Failure::Retry(None));
        assert!(matches!(classify(400, &none, b"{}"), Failure::Fatal(_)));
        let no = |h: &str| (h == "x-should-retry").then(|| "false".to_string());
        assert!(matches!(classify(500, &no, b""), Failure::Fatal(_)));
        assert_eq!(backoff(10, 0.0), Duration::from_secs(8));
    }

    #[test]
    fn the_prompt_declares_its_version_or_gets_one() {
        let p = Prompt::new("version: 2026-12\nYou are…");
        assert_eq!(
            (p.version.as_str(), p.text.as_str()),
            ("2026-12", "You are…")
        );
        assert!(Prompt::new("plain").version.starts_with('h'));
        assert!(Prompt::new(DEFAULT_PROMPT).version.len() > 1);
    }
}
