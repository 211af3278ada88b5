//! `sigflow enrich`: texts on stdin → one JSON line per input with what every enricher
//! makes of it. For people ("what does sigflow think of this sentence?") and for
//! scripts (run a corpus through it). Dedup and velocity state is kept in memory for
//! the run, so duplicates within the input are found.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Map, Value, json};

use crate::enrich::tickers::Tickers;
use crate::enrich::{Chain, MemoryState, text_item};

#[derive(Debug, Args)]
#[command(
    after_help = "Input: one text per line, or JSON lines with a `text` field (and \
optionally `title`, `id`, `source`, `author`, `happened_at`, `observed_at`, `engagement`).\n\
Output: one JSON object per input line, in input order, holding the text, `tickers`, and one key per \
enricher (language, filter, tickers, sentiment, keywords, dedup, velocity).\n\n\
Examples:\n  echo 'Apple beats estimates, raises guidance 🚀' | sigflow enrich\n  \
sigflow enrich --mode vader --only sentiment < corpus.txt > scores.jsonl\n  \
echo 'Harrison Ford at the Target Center; Boeing (NYSE: BA) up 3%' | sigflow enrich --only cashtags,tickers --explain"
)]
pub struct EnrichArgs {
    /// Sentiment mode: `finance` (market lexicon and phrases) or `vader` (exactly
    /// Python vaderSentiment 3.3.2). Default: `enrich.sentiment.mode` of the config.
    #[arg(long, value_name = "MODE", value_parser = ["vader", "finance"])]
    pub mode: Option<String>,
    /// Run only these enrichers, comma-separated, in this order (e.g. `sentiment,tickers`).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Treat every line as plain text, even one that looks like JSON.
    #[arg(long)]
    pub plain: bool,
    /// Add `explain`: every ticker candidate (explicit marker, name, bare symbol) with
    /// the decision taken on it, its confidence and why — refusals included.
    #[arg(long)]
    pub explain: bool,
    /// Config file whose `[enrich]` settings to use.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn run(a: EnrichArgs) -> anyhow::Result<ExitCode> {
    let mut overrides = Vec::new();
    if let Some(m) = &a.mode {
        overrides.push(("enrich.sentiment.mode", toml::Value::String(m.clone())));
    }
    let cfg = super::load_config(a.config.as_deref(), &overrides)?;
    let chain = if a.only.is_empty() {
        Chain::new(&cfg.enrich)
    } else {
        // Unknown names are refused by the registry, with the list of known ones.
        Chain::only(&cfg.enrich, &a.only)
    }
    .map_err(anyhow::Error::msg)?;
    let explainer = if a.explain {
        Some(Tickers::new(&cfg.enrich.tickers).map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    let state = MemoryState::default();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut bad = 0usize;
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line.context("reading stdin (input must be UTF-8)")?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let (mut item, echo) = match parse_line(line, a.plain) {
            Ok(x) => x,
            Err(e) => {
                bad += 1;
                eprintln!("line {}: {e}", n + 1);
                serde_json::to_writer(&mut out, &json!({"line": n + 1, "error": e}))?;
                out.write_all(b"\n")?;
                continue;
            }
        };
        let mut obj = Map::new();
        if let Some(id) = echo {
            obj.insert("id".into(), id);
        }
        obj.insert("text".into(), json!(item.text));
        match chain.run(&mut item, &state) {
            Ok(()) => {
                if let Some(t) = &explainer {
                    obj.insert("explain".into(), explain(t, &item));
                }
                if chain
                    .names()
                    .iter()
                    .any(|n| *n == "tickers" || *n == "cashtags")
                {
                    obj.insert("tickers".into(), json!(item.tickers));
                }
                for (k, v) in std::mem::take(&mut item.enrichments) {
                    let k = if k == "tickers" {
                        "ticker_mentions".to_string()
                    } else {
                        k
                    };
                    obj.insert(k, v);
                }
            }
            Err(e) => {
                bad += 1;
                obj.insert("error".into(), json!(e.message));
            }
        }
        serde_json::to_writer(&mut out, &Value::Object(obj))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every ticker candidate of `item` with its decision.
fn explain(t: &Tickers, item: &crate::model::Content) -> Value {
    let cashtags = item
        .cashtags
        .iter()
        .map(|c| json!({"ticker": c, "via": "cashtag", "confidence": 1.0, "accepted": true, "reason": "cashtag"}));
    let decided = t.explain(item).into_iter().map(|d| {
        json!({
            "ticker": d.found.ticker,
            "via": d.found.via.as_str(),
            "matched": d.found.matched,
            "confidence": d.found.confidence,
            "accepted": d.accepted,
            "reason": d.reason,
        })
    });
    Value::Array(cashtags.chain(decided).collect())
}

/// A line → an item (and the input `id` to echo back, if any).
fn parse_line(line: &str, plain: bool) -> Result<(crate::model::Content, Option<Value>), String> {
    if plain || !line.trim_start().starts_with('{') {
        return Ok((text_item(line), None));
    }
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let text = v
        .get("text")
        .and_then(Value::as_str)
        .ok_or("a JSON line needs a string `text` field")?;
    let mut item = text_item(text);
    if let Some(t) = v.get("title").and_then(Value::as_str) {
        item.title = Some(t.to_string());
    }
    let id = v.get("id").cloned();
    if let Some(id) = &id {
        let s = id
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| id.to_string());
        item.id = crate::model::content_id("text", &s);
        item.source_id = s;
    }
    // The source kind is evidence for tickers (a filing's text is about a company).
    if let Some(src) = v.get("source").and_then(Value::as_str) {
        item.source = src.to_string();
    }
    if let Some(a) = v.get("author").and_then(Value::as_str) {
        item.author = Some(crate::model::Author {
            id: None,
            handle: a.to_string(),
            name: None,
        });
    }
    if let Some(t) = v.get("happened_at").and_then(Value::as_str) {
        let t = chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("happened_at `{t}` is not RFC 3339: {e}"))?
            .with_timezone(&chrono::Utc);
        item.happened_at = t;
        item.observed_at = t;
    }
    if let Some(t) = v.get("observed_at").and_then(Value::as_str) {
        item.observed_at = chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("observed_at `{t}` is not RFC 3339: {e}"))?
            .with_timezone(&chrono::Utc);
    }
    if let Some(e) = v.get("engagement") {
        item.engagement =
            serde_json::from_value(e.clone()).map_err(|e| format!("engagement: {e}"))?;
    }
    Ok((item, id))
}
