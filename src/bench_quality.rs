//! `sigflow bench --suite quality`: how right the enrichers are on labelled text —
//! tickers (precision, recall, wrong tickers per 1,000 posts), finance sentiment
//! (three-class accuracy, direction among polar items) and dedup (links on labelled
//! pairs, links between items with disjoint tickers, verdicts that change with the
//! processing order). The bundled sets are ours (`tests/data/quality/`); `--quality-dir`
//! puts your own files of the same names and formats in their place.

use std::path::Path;

use serde_json::{Value, json};

use crate::bench::BenchArgs;
use crate::enrich::quality;

/// (file name, bundled contents).
const SETS: &[(&str, &str)] = &[
    (
        "tickers_headlines.tsv",
        include_str!("../tests/data/quality/tickers_headlines.tsv"),
    ),
    (
        "tickers_chatter.tsv",
        include_str!("../tests/data/quality/tickers_chatter.tsv"),
    ),
    (
        "tickers_headlines_check.tsv",
        include_str!("../tests/data/quality/tickers_headlines_check.tsv"),
    ),
    (
        "tickers_chatter_check.tsv",
        include_str!("../tests/data/quality/tickers_chatter_check.tsv"),
    ),
    (
        "sentiment_headlines.tsv",
        include_str!("../tests/data/quality/sentiment_headlines.tsv"),
    ),
    (
        "finance_sentiment_check.tsv",
        include_str!("../tests/data/finance_sentiment_check.tsv"),
    ),
    (
        "dedup_pairs.tsv",
        include_str!("../tests/data/quality/dedup_pairs.tsv"),
    ),
];

fn set(dir: Option<&Path>, name: &str) -> anyhow::Result<(String, String)> {
    if let Some(d) = dir {
        let p = d.join(name);
        if p.exists() {
            let text =
                std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            return Ok((p.display().to_string(), text));
        }
    }
    let (_, text) = SETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a bundled set");
    Ok((format!("bundled {name}"), (*text).to_string()))
}

pub fn run(a: &BenchArgs) -> anyhow::Result<Value> {
    let cfg = crate::cli::load_config(None, &[])?.enrich;
    let dir = a.quality_dir.as_deref();
    let mut tickers = Vec::new();
    for name in [
        "tickers_headlines.tsv",
        "tickers_headlines_check.tsv",
        "tickers_chatter.tsv",
        "tickers_chatter_check.tsv",
    ] {
        let (from, text) = set(dir, name)?;
        let s = quality::tickers(&cfg, &text).map_err(anyhow::Error::msg)?;
        tickers.push(json!({
            "set": from, "texts": s.texts,
            "precision": round3(s.precision()), "recall": round3(s.recall()),
            "wrong_per_1000": round1(s.wrong_per_1000()),
            "mistakes": s.mistakes,
        }));
    }
    let mut sentiment = Vec::new();
    for name in ["sentiment_headlines.tsv", "finance_sentiment_check.tsv"] {
        let (from, text) = set(dir, name)?;
        let s = quality::sentiment(&cfg, &text).map_err(anyhow::Error::msg)?;
        sentiment.push(json!({
            "set": from, "items": s.n,
            "accuracy": round3(s.accuracy()), "direction": round3(s.direction()),
            "neutral_scored_polar": s.neutral_as_polar, "neutral": s.neutral,
            "mistakes": s.mistakes,
        }));
    }
    let (from, text) = set(dir, "dedup_pairs.tsv")?;
    let d = quality::dedup(&cfg, &text).map_err(anyhow::Error::msg)?;
    let dedup = json!({
        "set": from, "pairs": d.pairs,
        "same_linked": d.same_linked, "same": d.same,
        "different_linked": d.different_linked,
        "disjoint_ticker_links": d.disjoint_links,
        "order_changes": d.order_changes,
        "mistakes": d.mistakes,
    });
    Ok(json!({"tickers": tickers, "sentiment": sentiment, "dedup": dedup}))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A JSON value as text, so that the table's widths apply.
fn t(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn print(r: &Value) {
    println!("quality (targets: tickers recall >= 0.95 on headlines, <= 3 wrong per 1,000 posts;");
    println!(
        "         sentiment accuracy >= 0.70 with direction >= 0.80; dedup 0 disjoint links, 0 order changes)"
    );
    println!();
    println!(
        "{:<48} {:>6} {:>9} {:>7} {:>11}",
        "tickers", "texts", "precision", "recall", "wrong/1000"
    );
    for x in r["tickers"].as_array().into_iter().flatten() {
        println!(
            "{:<48} {:>6} {:>9} {:>7} {:>11}",
            t(&x["set"]),
            t(&x["texts"]),
            t(&x["precision"]),
            t(&x["recall"]),
            t(&x["wrong_per_1000"])
        );
    }
    println!();
    println!(
        "{:<48} {:>6} {:>9} {:>9} {:>15}",
        "finance sentiment", "items", "accuracy", "direction", "neutral->polar"
    );
    for x in r["sentiment"].as_array().into_iter().flatten() {
        println!(
            "{:<48} {:>6} {:>9} {:>9} {:>15}",
            t(&x["set"]),
            t(&x["items"]),
            t(&x["accuracy"]),
            t(&x["direction"]),
            format!("{}/{}", x["neutral_scored_polar"], x["neutral"])
        );
    }
    println!();
    let d = &r["dedup"];
    println!(
        "dedup: {} — pairs {}, same linked {}/{}, different linked {}, disjoint-ticker links {}, order changes {}",
        t(&d["set"]),
        d["pairs"],
        d["same_linked"],
        d["same"],
        d["different_linked"],
        d["disjoint_ticker_links"],
        d["order_changes"]
    );
    let mistakes: usize = r["tickers"]
        .as_array()
        .into_iter()
        .chain(r["sentiment"].as_array())
        .flatten()
        .chain(std::iter::once(d))
        .map(|s| s["mistakes"].as_array().map_or(0, Vec::len))
        .sum();
    if mistakes > 0 {
        println!();
        println!("{mistakes} mistakes listed with --json (each with its text).");
    }
}
