//! `sigflow bench --suite analyze`: how fast the analyze stage decides, and whether it
//! slows the embedded pipeline.
//!
//! * Per core: the stage's whole work per record without the commit (parse the
//!   enriched JSON, evaluate every rule, build the predictions, their seal statements
//!   and `signals` records) on the demo items, enriched, with the default rules and
//!   with 200 rules (the default ones plus 187 of the kinds users write: keywords,
//!   authors, tickers with a sentiment bound, engagement; half guarded by a source).
//! * End to end: the embedded pipeline at full speed with analyze off, on with the
//!   default rules, on with 200 rules, next to the store's limit (each the median of
//!   `--repeat` runs, each in its own process).

use std::time::Instant;

use serde::Serialize;

use crate::analyze::RuleSet;
use crate::bench::{BenchArgs, PhaseResult, median};
use crate::enrich::{Chain, MemoryState};
use crate::log::LogRecord;

/// 200 rules: the default file plus generated ones.
pub fn many_rules() -> String {
    let mut text =
        crate::analyze::rules::DEFAULT_RULES.replace("${SIGFLOW_RULES_THRESHOLD:-3.0}", "3.0");
    let words = [
        "guidance",
        "recall",
        "merger",
        "buyback",
        "downgrade",
        "upgrade",
        "lawsuit",
        "tariff",
        "layoffs",
        "dividend",
        "investigation",
        "acquisition",
        "bankruptcy",
        "partnership",
        "approval",
    ];
    let tickers = [
        "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOGL", "AMD", "INTC", "NFLX", "JPM",
        "BA", "XOM", "WMT", "DIS",
    ];
    let sources = ["reddit", "x", "truthsocial", "sec", "fed", "rss"];
    let mut n = 0;
    while text.matches("[[rule]]").count() < 200 {
        let (w, t, s) = (
            words[n % words.len()],
            tickers[n % tickers.len()],
            sources[n % sources.len()],
        );
        let when = match n % 4 {
            0 => format!("source == \"{s}\" && text.lowerAscii().contains(\"{w}\")"),
            1 => format!("\"{t}\" in tickers && (compound >= 0.4 || compound <= -0.4)"),
            2 => format!("source == \"{s}\" && author == \"user{n}\" && size(tickers) > 0"),
            _ => format!(
                "size(tickers) > 0 && text.contains(\"{w}\") && !duplicate && has(engagement.score) && engagement.score > {}",
                100 * n
            ),
        };
        text.push_str(&format!(
            "\n[[rule]]\nname = \"generated-{n}\"\nwhen = '''{when}'''\nscore = 1.0\nreason = \"generated\"\ndirection = \"sentiment\"\n"
        ));
        n += 1;
    }
    text
}

fn enriched_records(n: usize) -> anyhow::Result<Vec<LogRecord>> {
    let cfg = crate::cli::load_config(None, &[])?;
    let chain = Chain::new(&cfg.enrich).map_err(anyhow::Error::msg)?;
    let state = MemoryState::default();
    let base: Vec<Vec<u8>> = crate::sources::demo_items()
        .into_iter()
        .map(|mut c| {
            c.enrichments.clear();
            c.tickers.clear();
            chain
                .run(&mut c, &state)
                .map_err(|e| anyhow::anyhow!(e.message))?;
            Ok(serde_json::to_vec(&c)?)
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((0..n)
        .map(|i| LogRecord {
            topic: "enriched".into(),
            partition: (i % 4) as u32,
            offset: i as u64,
            ts: 0,
            key: None,
            value: base[i % base.len()].clone(),
            decoded: Default::default(),
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct PerCore {
    pub rules: usize,
    pub items_per_sec: f64,
    pub predictions_per_item: f64,
}

fn per_core(set: &RuleSet, records: &[LogRecord]) -> anyhow::Result<PerCore> {
    let now = chrono::Utc::now();
    // Warm: the CEL programs' first runs, the allocator.
    for r in records.iter().take(200) {
        let _ = crate::stages::AnalyzeStage::by_rules(set, r, now);
    }
    let t = Instant::now();
    let mut sealed = 0usize;
    for r in records {
        let fx = crate::stages::AnalyzeStage::by_rules(set, r, now)
            .map_err(|e| anyhow::anyhow!(e.message))?;
        sealed += fx.outputs.len();
    }
    let secs = t.elapsed().as_secs_f64();
    Ok(PerCore {
        rules: set.rules.len(),
        items_per_sec: records.len() as f64 / secs.max(1e-9),
        predictions_per_item: sealed as f64 / records.len().max(1) as f64,
    })
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub items: u64,
    pub repeat: u32,
    pub per_core: Vec<PerCore>,
    pub limit: PhaseResult,
    pub e2e_off: PhaseResult,
    pub e2e_default: PhaseResult,
    pub e2e_200: PhaseResult,
}

fn phase(
    a: &BenchArgs,
    dir: &std::path::Path,
    name: &str,
    env: &[(&str, String)],
) -> anyhow::Result<PhaseResult> {
    let sub = dir.join(format!("{name}-{}", uuid::Uuid::now_v7()));
    crate::bench::run_phase(a, &sub, name, a.items, env)
}

pub fn run(a: &BenchArgs) -> anyhow::Result<Report> {
    let n = a.enrich_items.clamp(1_000, 200_000) as usize;
    eprintln!("bench: analyze per core on {n} enriched demo items …");
    let records = enriched_records(n)?;
    let many = RuleSet::compile(&many_rules(), &|_| None).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if std::env::var_os("SIGFLOW_BENCH_BREAKDOWN").is_some() {
        breakdown(&RuleSet::default_rules(), &records);
        breakdown(&many, &records);
    }
    let per_core = vec![
        per_core(&RuleSet::default_rules(), &records)?,
        per_core(&many, &records)?,
    ];

    let dir = std::env::temp_dir().join(format!("sigflow-bench-analyze-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let rules_file = dir.join("rules-200.toml");
    std::fs::write(&rules_file, many_rules())?;
    let off = [("SIGFLOW__ANALYZE__ENABLED", "false".to_string())];
    let many_env = [("SIGFLOW__ANALYZE__RULES", rules_file.display().to_string())];
    let (mut limits, mut offs, mut defs, mut manys) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..a.repeat.max(1) {
        eprintln!(
            "bench: analyze e2e round {} of {} ({} items) …",
            i + 1,
            a.repeat.max(1),
            a.items
        );
        limits.push(phase(a, &dir, "limit", &[])?);
        offs.push(phase(a, &dir, "e2e", &off)?);
        defs.push(phase(a, &dir, "e2e", &[])?);
        manys.push(phase(a, &dir, "e2e", &many_env)?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Report {
        items: a.items,
        repeat: a.repeat.max(1),
        per_core,
        limit: median(limits),
        e2e_off: median(offs),
        e2e_default: median(defs),
        e2e_200: median(manys),
    })
}

pub fn print(r: &Report) {
    println!("sigflow bench — analyze (rules; the LLM analyst is not in these figures)");
    println!("per core (parse + every rule + predictions + seal statements + signals records):");
    for p in &r.per_core {
        println!(
            "  {:>4} rules: {:>9.0} items/s   ({:.2} predictions per item)",
            p.rules, p.items_per_sec, p.predictions_per_item
        );
    }
    println!(
        "embedded pipeline, {} items, median of {}:",
        r.items, r.repeat
    );
    let row = |label: &str, p: &PhaseResult| println!("  {label:<40} {:>9.0} items/s", p.per_sec);
    row("store limit (batched upsert)", &r.limit);
    row("e2e, analyze off", &r.e2e_off);
    row("e2e, analyze on (default rules)", &r.e2e_default);
    row("e2e, analyze on (200 rules)", &r.e2e_200);
    println!(
        "  analyze costs the pipeline {:.0}% (default rules), {:.0}% (200 rules)",
        (1.0 - r.e2e_default.per_sec / r.e2e_off.per_sec) * 100.0,
        (1.0 - r.e2e_200.per_sec / r.e2e_off.per_sec) * 100.0
    );
}

/// Where a record's time goes (for `SIGFLOW_BENCH_BREAKDOWN=1`): parse, view, evaluate.
pub fn breakdown(set: &RuleSet, records: &[LogRecord]) {
    let t = Instant::now();
    let items: Vec<crate::model::Content> = records
        .iter()
        .map(|r| serde_json::from_slice(&r.value).unwrap())
        .collect();
    let parse = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in &items {
        let v = crate::analyze::view::ItemView::of(i);
        std::hint::black_box(v.context());
    }
    let view = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in &items {
        std::hint::black_box(set.evaluate(i));
    }
    let eval = t.elapsed().as_secs_f64();
    let us = |s: f64| s * 1e6 / items.len() as f64;
    eprintln!(
        "breakdown ({} rules): parse {:.1} µs, view+context {:.1} µs, evaluate (incl. view) {:.1} µs per item",
        set.rules.len(),
        us(parse),
        us(view),
        us(eval)
    );
}
