//! `sigflow bench --suite markets`: outcomes and backtests, side by side.
//!
//! 1. Outcomes: `--outcome-predictions` calls (default 100,000) on 100 symbols with
//!    18 months of stored daily bars, each scored at T+1/3/7/30: the arithmetic alone
//!    (bars in memory), then the whole scorer as the markets service runs it (open
//!    calls and bars read from the store, outcome rows written in batches).
//! 2. Backtest: `--backtest-items` stored items (default 1,000,000; synthetic
//!    enriched posts over a month), a candidate rule set beside the built-in one:
//!    evaluation and simulated predictions, prices from a CSV directory, scoring.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::analyze::RuleSet;
use crate::bench::{BenchArgs, db_write, synthetic_enriched};
use crate::markets::bars::Bar;
use crate::markets::outcome::{self, Call, HORIZONS, Prices};
use crate::markets::{Calendar, Market};
use crate::store::repos::outcomes as orepo;
use crate::store::repos::price_bars;
use crate::tracker::Markets;

#[derive(Debug, Clone, Serialize)]
pub struct OutcomesBench {
    pub predictions: u64,
    pub outcomes: u64,
    pub arithmetic_per_sec: f64,
    pub stored_per_sec: f64,
    pub stored_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BacktestBench {
    pub items: u64,
    pub prefill_secs: f64,
    pub secs: f64,
    pub items_per_sec: f64,
    pub candidate_predictions: u64,
    pub baseline_predictions: u64,
    pub outcomes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarketsBenchReport {
    pub outcomes: OutcomesBench,
    pub backtest: BacktestBench,
}

fn markets(dir: &Path, csv: &Path) -> anyhow::Result<(crate::config::Config, Markets)> {
    let s = |v: &str| toml::Value::String(v.to_string());
    let list = |v: &str| toml::Value::Array(vec![s(v)]);
    let cfg = crate::config::Config::load(
        None,
        std::iter::empty(),
        &[
            ("data_dir", s(&dir.display().to_string())),
            ("markets.providers.nyse", list("csv")),
            ("markets.providers.crypto", list("csv")),
            ("markets.provider.csv.dir", s(&csv.display().to_string())),
        ],
    )?;
    let m = Markets::build(&cfg.markets).map_err(anyhow::Error::msg)?;
    Ok((cfg, m))
}

/// A seeded random walk on the NYSE sessions of `from..=to`.
fn walk(cal: &Calendar, seed: u64, from: NaiveDate, to: NaiveDate) -> Vec<Bar> {
    let mut r = fastrand::Rng::with_seed(seed);
    let mut p = 20.0 + r.f64() * 300.0;
    cal.sessions(Market::Nyse, from, to)
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let o = p * (1.0 + (r.f64() - 0.5) * 0.01);
            let c = o * (1.0 + (r.f64() - 0.5) * 0.04);
            p = c;
            Bar::ohlc(s.date, o, o.max(c) * 1.002, o.min(c) * 0.998, c, 1e6)
        })
        .collect()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

async fn open(
    dir: &Path,
    cfg: &crate::config::Config,
) -> anyhow::Result<std::sync::Arc<dyn crate::store::Store>> {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let opened = crate::store::open(&url, &cfg.sqlite_options())?;
    opened.store.migrate().await?;
    Ok(opened.store)
}

async fn outcomes_phase(dir: &Path, n: u64) -> anyhow::Result<OutcomesBench> {
    let (cfg, m) = markets(dir, &dir.join("none"))?;
    let store = open(dir, &cfg).await?;
    let db = store.sql();
    let (from, to) = (d("2025-01-02"), d("2026-06-30"));
    let symbols: Vec<String> = (0..100)
        .map(|i| format!("B{i:03}"))
        .chain(["SPY".to_string()])
        .collect();
    let mut all: HashMap<String, Vec<Bar>> = HashMap::new();
    for (i, s) in symbols.iter().enumerate() {
        let bars = walk(&m.calendar, i as u64, from, to);
        db.execute(price_bars::upsert(s, Market::Nyse, &bars, "bench", 0))
            .await?;
        all.insert(s.clone(), bars);
    }
    // Calls sealed at random instants from 2025-02 to 2026-04.
    let mut r = fastrand::Rng::with_seed(7);
    let start = d("2025-02-01")
        .and_hms_opt(0, 0, 0)
        .expect("time")
        .and_utc();
    let mut calls = Vec::with_capacity(n as usize);
    let mut batch = Vec::new();
    for i in 0..n {
        let asset = &symbols[r.usize(0..100)];
        let at = start + chrono::Duration::seconds(r.i64(0..440 * 86_400));
        let direction = ["bullish", "bearish", "neutral"][r.usize(0..3)];
        let p = sim_prediction(i, asset, direction, r.f64(), at);
        batch.push(orepo::insert_sim("bench", &p));
        calls.push(p);
        if batch.len() == 5_000 {
            db.execute(std::mem::take(&mut batch)).await?;
        }
    }
    db.execute(batch).await?;
    let as_of = d("2026-07-15")
        .and_hms_opt(0, 0, 0)
        .expect("time")
        .and_utc();

    // The arithmetic alone.
    let t = Instant::now();
    let mut scored = 0u64;
    for p in &calls {
        let call = Call {
            direction: crate::analyze::Direction::parse(&p.direction).expect("a direction"),
            knowable_at: p.knowable_at(),
            market: Market::Nyse,
        };
        let prices = Prices {
            bars: &all[&p.asset],
            data_through: Some(to),
        };
        let bench = Prices {
            bars: &all["SPY"],
            data_through: Some(to),
        };
        for h in HORIZONS {
            if matches!(
                outcome::score(&m.calendar, &call, h, prices, Some(bench), as_of, &m.params),
                Ok(outcome::Verdict::Final(_))
            ) {
                scored += 1;
            }
        }
    }
    let arithmetic_per_sec = (n * 4) as f64 / t.elapsed().as_secs_f64();

    // The scorer as the service runs it.
    let through: HashMap<String, Option<NaiveDate>> =
        symbols.iter().map(|s| (s.clone(), Some(to))).collect();
    let t = Instant::now();
    let calls = orepo::open_calls(db, "bench", HORIZONS.len()).await?;
    let s = crate::tracker::scorer::score_calls(&m, db, "bench", calls, as_of, &through).await?;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        s.written == scored,
        "the scorer wrote {} outcomes, the arithmetic found {scored}",
        s.written
    );
    Ok(OutcomesBench {
        predictions: n,
        outcomes: s.written,
        arithmetic_per_sec,
        stored_per_sec: (n * 4) as f64 / secs,
        stored_secs: secs,
    })
}

fn sim_prediction(
    i: u64,
    asset: &str,
    direction: &str,
    confidence: f64,
    at: DateTime<Utc>,
) -> crate::analyze::ledger::Prediction {
    let content_id = uuid::Uuid::from_u128(i as u128 + 1);
    crate::analyze::ledger::Prediction {
        id: crate::analyze::ledger::prediction_id(content_id, "rules", "bench", asset, false),
        content_id,
        source: ["reddit", "x", "truthsocial"][(i % 3) as usize].into(),
        author: format!("user{}", i % 500),
        analyzer: "rules".into(),
        version: "bench".into(),
        asset: asset.into(),
        direction: direction.into(),
        confidence,
        horizon_days: 3,
        shadow: false,
        score: 3.0,
        group: String::new(),
        rules: vec![format!("r{}", i % 13)],
        reasons: Vec::new(),
        abstain_reason: None,
        fallback_reason: None,
        llm: None,
        happened_at: at,
        disclosed_at: None,
        observed_at: at,
        sealed_at: at,
    }
}

/// CSV files for `symbols`, 2 months back and 2 forward of `around`.
fn csv_dir(
    dir: &Path,
    cal: &Calendar,
    symbols: &[String],
    around: NaiveDate,
) -> anyhow::Result<PathBuf> {
    let csv = dir.join("prices");
    std::fs::create_dir_all(&csv)?;
    for (i, s) in symbols.iter().enumerate() {
        let mut text = String::from("Date,Open,High,Low,Close,Volume\n");
        for b in walk(
            cal,
            1000 + i as u64,
            around - Days::new(70),
            around + Days::new(70),
        ) {
            text.push_str(&format!(
                "{},{:.4},{:.4},{:.4},{:.4},{}\n",
                b.session, b.open, b.high, b.low, b.close, b.volume
            ));
        }
        std::fs::write(csv.join(format!("{}.csv", s.replace('.', "-"))), text)?;
    }
    Ok(csv)
}

async fn backtest_phase(dir: &Path, items: u64) -> anyhow::Result<BacktestBench> {
    // Items spread over the month before 2026-05-01.
    let end = d("2026-05-01")
        .and_hms_opt(0, 0, 0)
        .expect("time")
        .and_utc();
    let (cfg0, m0) = markets(dir, &dir.join("none"))?;
    let chain = crate::enrich::Chain::new(&cfg0.enrich).map_err(anyhow::Error::msg)?;
    let state = crate::enrich::MemoryState::default();
    let pool = synthetic_enriched(&chain, &state, 0, 5_000).await?;
    let baseline = RuleSet::default_rules();
    // The candidate: the built-in rules at a lower threshold (the file reads it from
    // `SIGFLOW_RULES_THRESHOLD`).
    let env = |name: &str| (name == "SIGFLOW_RULES_THRESHOLD").then(|| "1.5".to_string());
    let candidate = RuleSet::compile(crate::analyze::rules::DEFAULT_RULES, &env)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // The symbols the calls will name, for the price files.
    let mut symbols: Vec<String> = pool
        .iter()
        .flat_map(|s| {
            crate::stages::analyze::rule_predictions(
                &s.content,
                &candidate.evaluate(&s.content),
                end,
            )
        })
        .map(|p| p.asset)
        .filter(|a| !a.is_empty())
        .collect();
    symbols.push("SPY".into());
    symbols.sort();
    symbols.dedup();
    let csv = csv_dir(dir, &m0.calendar, &symbols, end.date_naive())?;
    let (cfg, m) = markets(dir, &csv)?;
    let db_path = dir.join("bench.db");
    let _ = std::fs::remove_file(&db_path);
    let store = open(dir, &cfg).await?;
    eprintln!("bench markets: filling the store with {items} items …");
    let t = Instant::now();
    let sqlite = crate::store::SqliteDb::open(&db_path, &cfg.sqlite_options())?;
    let mut done = 0u64;
    while done < items {
        let n = 5_000.min(items - done);
        let rows = (done..done + n)
            .map(|i| {
                let mut c = pool[(i % pool.len() as u64) as usize].content.clone();
                c.source_id = format!("bt-{i}");
                c.id = crate::model::content_id(&c.source, &c.source_id);
                c.happened_at =
                    end - chrono::Duration::milliseconds((i * 2_500) as i64 % (30 * 86_400_000));
                c.observed_at = c.happened_at;
                crate::store::StoredContent::new(c)
            })
            .collect();
        db_write(&sqlite, rows, Vec::new(), Vec::new())?;
        done += n;
    }
    let prefill_secs = t.elapsed().as_secs_f64();
    let o = crate::tracker::backtest::Options {
        namespace: "bench".into(),
        since: None,
        until: None,
        sources: Vec::new(),
        timing: crate::tracker::backtest::Timing::Observed,
        as_of: d("2026-07-01")
            .and_hms_opt(0, 0, 0)
            .expect("time")
            .and_utc(),
    };
    eprintln!("bench markets: backtest over {items} items …");
    let t = Instant::now();
    let r = crate::tracker::backtest::run(
        &m,
        store.sql(),
        &candidate,
        Some(&baseline),
        &o,
        &mut |_, _, _| {},
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    let outcomes: u64 = r
        .candidate
        .records
        .iter()
        .chain(&r.baseline.records)
        .map(|x| x.n)
        .sum();
    Ok(BacktestBench {
        items: r.items,
        prefill_secs,
        secs,
        items_per_sec: r.items as f64 / secs,
        candidate_predictions: r.candidate.predictions,
        baseline_predictions: r.baseline.predictions,
        outcomes,
    })
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<MarketsBenchReport> {
    let dir = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sigflow-bench-markets-{}", uuid::Uuid::now_v7()))
    });
    std::fs::create_dir_all(&dir)?;
    eprintln!(
        "bench markets: outcomes for {} predictions × 4 horizons …",
        a.outcome_predictions
    );
    let o_dir = dir.join("outcomes");
    std::fs::create_dir_all(&o_dir)?;
    let outcomes = outcomes_phase(&o_dir, a.outcome_predictions).await?;
    let b_dir = dir.join("backtest");
    std::fs::create_dir_all(&b_dir)?;
    let backtest = backtest_phase(&b_dir, a.backtest_items).await?;
    if a.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(MarketsBenchReport { outcomes, backtest })
}

pub fn print(r: &MarketsBenchReport) {
    let o = &r.outcomes;
    println!("sigflow bench — markets");
    println!(
        "outcomes: {} predictions × 4 horizons from stored bars ({} final)",
        o.predictions, o.outcomes
    );
    println!(
        "  {:<44} {:>12.0} outcomes/s",
        "arithmetic alone (bars in memory)", o.arithmetic_per_sec
    );
    println!(
        "  {:<44} {:>12.0} outcomes/s  ({:.1} s)",
        "scorer: store reads + batched inserts", o.stored_per_sec, o.stored_secs
    );
    let b = &r.backtest;
    println!(
        "backtest: {} stored items (prefill {:.1} s), candidate + built-in rules side by side",
        b.items, b.prefill_secs
    );
    println!(
        "  {:<44} {:>12.0} items/s     ({:.1} s; {} + {} calls, {} outcomes)",
        "evaluate, simulate, fetch prices, score",
        b.items_per_sec,
        b.secs,
        b.candidate_predictions,
        b.baseline_predictions,
        b.outcomes
    );
}
