//! `sigflow bench --suite enrich`: what each enricher costs, alone and as the chain,
//! and VADER against the Python reference on the same texts, in one run.
//!
//! * Items: the bundled demo dataset's items (real shapes, written by us), repeated
//!   with fresh ids up to `--enrich-items`.
//! * Per enricher: the items first go through the enrichers before it (untimed), so
//!   each is measured on the input it really gets; stateful ones are measured on the
//!   in-memory state and on SQLite, in batches of `pipeline.batch_size` per state
//!   transaction, as the enrich stage runs them.
//! * VADER vs Python: the same texts scored by our VADER and by `vaderSentiment`
//!   (`--python`, default `python3`; skipped with a hint when it is not installed).
//!   Both on one core, both timing only the scoring loop.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use crate::bench::BenchArgs;
use crate::enrich::{Chain, EnrichState, MemoryState};
use crate::model::Content;

fn items(n: u64) -> Vec<Content> {
    let base = crate::sources::demo_items();
    (0..n as usize)
        .map(|i| {
            let mut c = base[i % base.len()].clone();
            c.id = crate::model::content_id("bench", &i.to_string());
            c.enrichments.clear();
            c.tickers.clear();
            c
        })
        .collect()
}

fn per_sec(n: usize, secs: f64) -> f64 {
    n as f64 / secs.max(1e-9)
}

/// Runs `chain[range]` over `items` with `state`, batch by batch; returns items/s.
fn time_range(
    chain: &Chain,
    items: &mut [Content],
    state: &dyn EnrichState,
    range: std::ops::Range<usize>,
    batch: usize,
    stateful: bool,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    for chunk in items.chunks_mut(batch.max(1)) {
        let mut err = None;
        let mut run = |st: &dyn EnrichState| {
            for it in chunk.iter_mut() {
                if let Err(e) = chain.run_range(it, st, range.clone()) {
                    err.get_or_insert(e.message);
                }
            }
        };
        if stateful {
            state
                .batch(&mut run)
                .map_err(|e| anyhow::anyhow!(e.message))?;
        } else {
            run(state);
        }
        if let Some(e) = err {
            anyhow::bail!("enricher failed: {e}");
        }
    }
    Ok(per_sec(items.len(), t.elapsed().as_secs_f64()))
}

fn sqlite_state(dir: &Path, name: &str) -> anyhow::Result<crate::enrich::SharedState> {
    let path = dir.join(format!("{name}.db"));
    // Opening migrates.
    let opened = crate::store::open(&format!("sqlite://{}", path.display()), &Default::default())?;
    Ok(opened.state)
}

pub fn run(a: &BenchArgs) -> anyhow::Result<serde_json::Value> {
    let cfg = crate::cli::load_config(None, &[])?;
    let chain = Chain::new(&cfg.enrich).map_err(anyhow::Error::msg)?;
    let batch = cfg.pipeline.batch_size;
    let n = a.enrich_items.min(200_000);
    let dir = std::env::temp_dir().join(format!("sigflow-bench-enrich-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    eprintln!("bench: enrich suite on {n} demo items …");
    // Warm the lazily built tables (lexicons, ticker automaton) outside the timings.
    let mut warm = items(1);
    chain
        .run(&mut warm[0], &MemoryState::default())
        .map_err(|e| anyhow::anyhow!(e.message))?;

    let names = chain.names();
    let mut rows = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let stateful = crate::enrich::STATEFUL.contains(name);
        let variants: &[&str] = if stateful {
            &["memory", "sqlite"]
        } else {
            &["-"]
        };
        for variant in variants {
            let mem = MemoryState::default();
            let sql;
            let state: &dyn EnrichState = if *variant == "sqlite" {
                sql = sqlite_state(&dir, &format!("{name}-{k}"))?;
                &*sql
            } else {
                &mem
            };
            let mut its = items(n);
            // Prepare: the enrichers before this one, untimed, on the same state.
            for it in its.iter_mut() {
                chain
                    .run_range(it, &mem, 0..k)
                    .map_err(|e| anyhow::anyhow!(e.message))?;
            }
            let rate = time_range(&chain, &mut its, state, k..k + 1, batch, stateful)?;
            rows.push(json!({"enricher": name, "state": variant, "items_per_sec": rate.round()}));
        }
    }
    let mut chain_rows = Vec::new();
    for variant in ["memory", "sqlite"] {
        let mem = MemoryState::default();
        let sql;
        let state: &dyn EnrichState = if variant == "sqlite" {
            sql = sqlite_state(&dir, "chain")?;
            &*sql
        } else {
            &mem
        };
        let mut its = items(n);
        let split = chain.stateful_from();
        let t = Instant::now();
        time_range(&chain, &mut its, state, 0..split, batch, false)?;
        time_range(&chain, &mut its, state, split..names.len(), batch, true)?;
        chain_rows.push(json!({"state": variant, "items_per_sec": per_sec(n as usize, t.elapsed().as_secs_f64()).round()}));
    }
    let vader = vader_vs_python(&items(n), &a.python, &dir)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({"items": n, "enrichers": rows, "chain": chain_rows, "vader": vader}))
}

/// Our VADER alone over the demo texts for `secs`: texts/s.
pub fn vader_only(secs: f64) -> f64 {
    let texts: Vec<String> = items(20_000)
        .iter()
        .map(|c| crate::enrich::sentiment::reading_text(c).into_owned())
        .collect();
    let v = crate::enrich::vader::Vader::standard();
    let t = Instant::now();
    let mut n = 0usize;
    while t.elapsed().as_secs_f64() < secs {
        for s in &texts {
            std::hint::black_box(v.polarity_scores(s));
        }
        n += texts.len();
    }
    per_sec(n, t.elapsed().as_secs_f64())
}

/// Our VADER and Python's on the same texts, one core each.
fn vader_vs_python(
    items: &[Content],
    python: &str,
    dir: &Path,
) -> anyhow::Result<serde_json::Value> {
    let texts: Vec<String> = items
        .iter()
        .map(|c| crate::enrich::sentiment::reading_text(c).into_owned())
        .collect();
    let v = crate::enrich::vader::Vader::standard();
    let _ = v.polarity_scores("warm up");
    let mut checksum = 0.0;
    for s in &texts {
        checksum += v.polarity_scores(s).compound;
    }
    // Passes until a second has gone by: one pass is too short to time well.
    let t = Instant::now();
    let mut scored = 0usize;
    while t.elapsed().as_secs_f64() < 1.0 {
        for s in &texts {
            std::hint::black_box(v.polarity_scores(s));
        }
        scored += texts.len();
    }
    let ours = per_sec(scored, t.elapsed().as_secs_f64());
    let file = dir.join("texts.json");
    std::fs::write(&file, serde_json::to_vec(&texts)?)?;
    let script = r#"
import json, sys, time
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
texts = json.load(open(sys.argv[1], encoding="utf-8"))
sia = SentimentIntensityAnalyzer()
sia.polarity_scores("warm up")
t = time.perf_counter()
total = 0.0
for s in texts:
    total += sia.polarity_scores(s)["compound"]
dt = time.perf_counter() - t
print(json.dumps({"per_sec": len(texts) / dt, "checksum": total}))
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output();
    let py = match out {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value =
                serde_json::from_slice(&o.stdout).context("python output")?;
            Some(v)
        }
        Ok(o) => {
            eprintln!(
                "bench: Python vaderSentiment not usable with `{python}` ({}); install it with \
                 `pip install vaderSentiment==3.3.2` or pass --python",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
            );
            None
        }
        Err(e) => {
            eprintln!("bench: cannot run `{python}`: {e}");
            None
        }
    };
    let py_rate = py.as_ref().and_then(|v| v["per_sec"].as_f64());
    let same = py
        .as_ref()
        .and_then(|v| v["checksum"].as_f64())
        .map(|c| (c - checksum).abs() < 1e-6);
    Ok(json!({
        "texts": texts.len(),
        "ours_per_sec": ours.round(),
        "python_per_sec": py_rate.map(f64::round),
        "ratio": py_rate.map(|p| (ours / p * 10.0).round() / 10.0),
        "same_scores": same,
    }))
}

pub fn print(r: &serde_json::Value) {
    println!(
        "sigflow bench — enrichment ({} demo items, one core)",
        r["items"]
    );
    println!("{:<28} {:>10} {:>14}", "enricher", "state", "items/s");
    for row in r["enrichers"].as_array().into_iter().flatten() {
        println!(
            "{:<28} {:>10} {:>14}",
            row["enricher"].as_str().unwrap_or(""),
            row["state"].as_str().unwrap_or(""),
            row["items_per_sec"]
        );
    }
    for row in r["chain"].as_array().into_iter().flatten() {
        println!(
            "{:<28} {:>10} {:>14}",
            "whole chain",
            row["state"].as_str().unwrap_or(""),
            row["items_per_sec"]
        );
    }
    let v = &r["vader"];
    println!();
    match v["ratio"].as_f64() {
        Some(ratio) => println!(
            "VADER: ours {} texts/s, Python vaderSentiment {} texts/s: ×{ratio}   (target ≥ ×50); same scores: {}",
            v["ours_per_sec"], v["python_per_sec"], v["same_scores"]
        ),
        None => println!(
            "VADER: ours {} texts/s; Python vaderSentiment not run (see above)",
            v["ours_per_sec"]
        ),
    }
}
