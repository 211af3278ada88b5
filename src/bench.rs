//! `sigflow bench`: the embedded pipeline measured against its own limit, side by side
//! in one run. Each phase runs in a fresh child process (`--phase`), so peak memory is
//! per phase and one phase's caches do not help the next.
//!
//! * limit — the same Content rows inserted straight into a fresh SQLite store, in
//!   batches, through the store's own upsert: the ceiling for the whole pipeline.
//! * e2e — synthetic source → lake → raw → normalize → content → enrich → store, as
//!   fast as possible: items/s from start until every stage has caught up.
//! * latency — the same pipeline offered a fixed rate; ingest→stored per item is
//!   `stored_at − observed_at`, both recorded by the pipeline itself.
//! * memory — e2e at N and at N × scale items; peak RSS of each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::config::{Config, SourceConfig};
use crate::normalize::{self, RawContext};
use crate::runtime::{Pipeline, RunOptions};
use crate::store::SqliteDb;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Items for the throughput phases. Large enough that the database outgrows
    /// SQLite's page cache, as it does in any deployment that runs for a day.
    #[arg(long, default_value_t = 100_000)]
    pub items: u64,
    /// `--suite enrich`: demo items each enricher is measured on.
    #[arg(long, default_value_t = 20_000)]
    pub enrich_items: u64,
    /// Runs of each throughput phase; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Offered rate (items/s) for the latency phase.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Duration of the latency phase, seconds.
    #[arg(long, default_value_t = 10)]
    pub latency_secs: u64,
    /// Memory phase: e2e with this many items, then with `scale` times as many, and
    /// compare peak RSS. Big enough that the page caches are already full.
    #[arg(long, default_value_t = 100_000)]
    pub memory_items: u64,
    /// Memory phase growth factor.
    #[arg(long, default_value_t = 10)]
    pub scale: u64,
    /// Items per synthetic page (one raw payload).
    #[arg(long, default_value_t = 100)]
    pub page_size: u64,
    /// What to measure: `pipeline` (throughput, latency and memory of the embedded
    /// pipeline), `enrich` (each enricher, the chain, VADER vs Python), `all` (both),
    /// `api` (the HTTP API with every filter at --api-items stored items, while the
    /// pipeline ingests at --rate), `quality` (how right tickers, sentiment and dedup
    /// are on labelled sets), `analyze` (rules per core with the default and 200 rules,
    /// and the pipeline with analyze off and on), or `distributed` (Kafka + PostgreSQL next to
    /// embedded, and 1 vs 2 workers; needs --store and --log, and a build with
    /// `--features kafka,postgres`).
    #[arg(long, value_enum, default_value = "pipeline")]
    pub suite: Suite,
    /// Python interpreter with `vaderSentiment` installed, for the VADER comparison.
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub python: String,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// `--suite distributed`: the PostgreSQL server to measure on (a database per phase
    /// is created there), e.g. postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// `--suite distributed`: the Kafka-protocol broker (its raw/content/enriched topics
    /// are deleted and created again for each phase), e.g. kafka://127.0.0.1:9092.
    #[arg(long, value_name = "URL")]
    pub log: Option<String>,
    /// `--suite distributed`: a second latency run at this offered rate (items/s),
    /// below the distributed pipeline's capacity on one small machine.
    #[arg(long, default_value_t = 250.0)]
    pub distributed_rate: f64,
    /// `--suite distributed`: partitions per topic.
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    /// `--suite api`: items in the store the API serves from.
    #[arg(long, default_value_t = 1_000_000)]
    pub api_items: u64,
    /// `--suite api`: seconds of load per filter (and of ingest alone).
    #[arg(long, default_value_t = 3)]
    pub api_secs: u64,
    /// `--suite api`: concurrent keep-alive client connections.
    #[arg(long, default_value_t = 32)]
    pub api_connections: usize,
    /// `--suite quality`: a directory whose files replace the bundled labelled sets of
    /// the same name (tickers_headlines.tsv, tickers_headlines_check.tsv,
    /// tickers_chatter.tsv, tickers_chatter_check.tsv, sentiment_headlines.tsv,
    /// finance_sentiment_check.tsv, dedup_pairs.tsv), in the same formats.
    #[arg(long, value_name = "DIR")]
    pub quality_dir: Option<PathBuf>,
    /// `--suite markets`: predictions scored at 4 horizons each.
    #[arg(long, default_value_t = 100_000)]
    pub outcome_predictions: u64,
    /// `--suite markets`: stored items the backtest runs over.
    #[arg(long, default_value_t = 1_000_000)]
    pub backtest_items: u64,
    /// Scratch directory (default: a new one under the system temp dir, removed after).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Internal: run one phase in this process and print its result as JSON.
    #[arg(long, value_enum, hide = true)]
    pub phase: Option<Phase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    Pipeline,
    Enrich,
    All,
    Api,
    Distributed,
    Quality,
    Analyze,
    /// Outcomes per second (100k predictions × 4 horizons) and a backtest over 1M items.
    Markets,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Phase {
    Limit,
    /// The limit's rows plus the two log records per item the pipeline appends
    /// (`content`, `enriched`), in the same batches: storage cost without the pipeline.
    LimitWithLog,
    E2e,
    Latency,
    /// Our VADER alone on the demo texts for `--latency-secs` (for profiling).
    Vader,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhaseResult {
    pub items: u64,
    pub secs: f64,
    pub per_sec: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub peak_rss_mib: f64,
    pub stored: u64,
}

pub async fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    if a.phase == Some(Phase::Vader) {
        let rate = crate::bench_enrich::vader_only(a.latency_secs as f64);
        println!("{}", serde_json::json!({ "per_sec": rate.round() }));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(phase) = a.phase {
        let dir = a.dir.clone().context("--phase needs --dir")?;
        let r = match phase {
            Phase::Limit => limit(&dir, a.items, a.page_size, false).await?,
            Phase::LimitWithLog => limit(&dir, a.items, a.page_size, true).await?,
            Phase::E2e => pipeline_phase(&dir, a.items, None, a.page_size).await?,
            Phase::Vader => unreachable!("handled above"),
            Phase::Latency => {
                let items = (a.rate * a.latency_secs as f64).round().max(1.0) as u64;
                // Pages every ~10 ms: small enough that batching does not add latency.
                let page = ((a.rate / 100.0).round() as u64).max(1);
                pipeline_phase(&dir, items, Some(a.rate), page).await?
            }
        };
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if a.suite == Suite::Distributed {
        #[cfg(all(feature = "kafka", feature = "postgres"))]
        {
            crate::bench_distributed::run(&a).await?;
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(not(all(feature = "kafka", feature = "postgres")))]
        anyhow::bail!(
            "--suite distributed needs a build with `--features kafka,postgres` (cargo build --release --features kafka,postgres)"
        );
    }
    if a.suite == Suite::Quality {
        let r = crate::bench_quality::run(&a)?;
        if a.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            crate::bench_quality::print(&r);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.suite == Suite::Analyze {
        let r = tokio::task::spawn_blocking({
            let a = a.clone();
            move || crate::bench_analyze::run(&a)
        })
        .await??;
        if a.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            crate::bench_analyze::print(&r);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.suite == Suite::Markets {
        let r = crate::bench_markets::run(&a).await?;
        if a.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            crate::bench_markets::print(&r);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.suite == Suite::Api {
        let r = crate::bench_api::run(&a).await?;
        if a.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            crate::bench_api::print(&r);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.suite != Suite::Pipeline {
        let r = tokio::task::spawn_blocking({
            let a = a.clone();
            move || crate::bench_enrich::run(&a)
        })
        .await??;
        if a.json {
            println!("{r}");
        } else {
            crate::bench_enrich::print(&r);
        }
        if a.suite == Suite::Enrich {
            return Ok(ExitCode::SUCCESS);
        }
        println!();
    }
    orchestrate(a)
}

/// The enricher chain of issue 2's walking skeleton: cashtags only.
const FOUNDATION_CHAIN: &str = r#"["cashtags"]"#;

/// One chain's throughput: its limit and its e2e, each the median of `repeat` runs.
#[derive(Debug, Clone, Serialize)]
struct Throughput {
    chain: &'static str,
    limit: PhaseResult,
    limit_with_log: PhaseResult,
    e2e: PhaseResult,
    e2e_over_limit: f64,
}

fn orchestrate(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let (dir, cleanup) = match &a.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("sigflow-bench-{}", uuid::Uuid::now_v7())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let mut run_no = 0u32;
    let mut child = |phase: &str, items: u64, chain: Option<&str>| -> anyhow::Result<PhaseResult> {
        run_no += 1;
        let sub = dir.join(format!("{phase}-{items}-{run_no}"));
        eprintln!(
            "bench: {phase} with {items} items{} …",
            if chain.is_some() {
                " (cashtags chain)"
            } else {
                ""
            }
        );
        let env: Vec<(&str, String)> = chain
            .map(|c| ("SIGFLOW__ENRICH__CHAIN", c.to_string()))
            .into_iter()
            .collect();
        run_phase(&a, &sub, phase, items, &env)
    };
    // Limit and e2e alternate, so a slow spell of the machine (shared disks, a noisy
    // neighbour) falls on both sides of the ratio; each side is the median of its runs.
    let repeat = a.repeat.max(1);
    let mut throughput = |chain: Option<&'static str>| -> anyhow::Result<Throughput> {
        let (mut limits, mut logs, mut e2es) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..repeat {
            limits.push(child("limit", a.items, chain)?);
            logs.push(child("limit-with-log", a.items, chain)?);
            e2es.push(child("e2e", a.items, chain)?);
        }
        let (limit, limit_with_log, e2e) = (median(limits), median(logs), median(e2es));
        Ok(Throughput {
            chain: if chain.is_some() {
                "foundation (cashtags)"
            } else {
                "full default chain"
            },
            e2e_over_limit: e2e.per_sec / limit.per_sec,
            limit,
            limit_with_log,
            e2e,
        })
    };
    let foundation = throughput(Some(FOUNDATION_CHAIN))?;
    let full = throughput(None)?;
    let latency = child("latency", 0, None)?;
    // The full chain's e2e runs already are the memory phase's first point.
    let small = if a.memory_items == a.items {
        full.e2e.clone()
    } else {
        child("e2e", a.memory_items, None)?
    };
    let big = child("e2e", a.memory_items * a.scale, None)?;
    if cleanup {
        let _ = std::fs::remove_dir_all(&dir);
    }

    let rss_growth = big.peak_rss_mib / small.peak_rss_mib.max(1.0);
    if a.json {
        println!(
            "{}",
            serde_json::json!({"foundation": foundation, "full": full, "latency": latency,
                "memory_small": small, "memory_big": big, "rss_growth": rss_growth,
                "offered_rate": a.rate, "items": a.items, "repeat": repeat})
        );
        return Ok(ExitCode::SUCCESS);
    }
    let ms = |v: Option<f64>| {
        v.map(|x| format!("{x:.1} ms"))
            .unwrap_or_else(|| "-".into())
    };
    let row = |label: String, r: &PhaseResult, lat: bool| {
        let (p50, p99) = if lat {
            (ms(r.p50_ms), ms(r.p99_ms))
        } else {
            ("-".into(), "-".into())
        };
        println!("{label:<46} {:>12.0} {p50:>11} {p99:>11}", r.per_sec);
    };
    println!(
        "sigflow bench — embedded pipeline (SQLite store + embedded log + file lake), {} items, median of {repeat}",
        a.items
    );
    println!("{:<46} {:>12} {:>11} {:>11}", "", "items/s", "p50", "p99");
    for t in [&foundation, &full] {
        println!("{}:", t.chain);
        row("  limit: batched upsert, same rows".into(), &t.limit, false);
        row(
            "  limit + the 2 log records per item".into(),
            &t.limit_with_log,
            false,
        );
        row("  e2e: source→…→store, max speed".into(), &t.e2e, true);
        println!(
            "  e2e / limit = {:.0}%   (target ≥ 50%)",
            t.e2e_over_limit * 100.0
        );
    }
    row(
        format!(
            "latency: offered {:.0} items/s for {} s",
            a.rate, a.latency_secs
        ),
        &latency,
        true,
    );
    println!();
    println!(
        "p99 ingest→stored at {:.0} items/s = {}   (target ≤ 50 ms)",
        a.rate,
        ms(latency.p99_ms)
    );
    println!(
        "peak RSS: {:.1} MiB at {} items, {:.1} MiB at {} items ({}×): growth ×{:.2}   (target: flat)",
        small.peak_rss_mib, small.items, big.peak_rss_mib, big.items, a.scale, rss_growth
    );
    println!(
        "stored: {}/{}, {}/{}, {}/{}, {}/{}, {}/{} (e2e foundation, e2e full, latency, memory ×1, memory ×{})",
        foundation.e2e.stored,
        foundation.e2e.items,
        full.e2e.stored,
        full.e2e.items,
        latency.stored,
        latency.items,
        small.stored,
        small.items,
        big.stored,
        big.items,
        a.scale
    );
    Ok(ExitCode::SUCCESS)
}

/// One phase in a child process (its own allocator, page cache and metrics) in `dir`,
/// with `env` on top of ours; what it printed. The directory is removed afterwards.
pub(crate) fn run_phase(
    a: &BenchArgs,
    dir: &Path,
    phase: &str,
    items: u64,
    env: &[(&str, String)],
) -> anyhow::Result<PhaseResult> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["bench", "--phase", phase, "--items", &items.to_string()])
        .args([
            "--page-size",
            &a.page_size.to_string(),
            "--rate",
            &a.rate.to_string(),
        ])
        .args(["--latency-secs", &a.latency_secs.to_string()])
        .arg("--dir")
        .arg(dir)
        .env("SIGFLOW__LOGGING__LEVEL", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(std::process::Stdio::inherit());
    let out = cmd
        .output()
        .with_context(|| format!("running bench phase {phase}"))?;
    let _ = std::fs::remove_dir_all(dir);
    if !out.status.success() {
        anyhow::bail!("bench phase {phase} failed ({})", out.status);
    }
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).with_context(|| format!("phase {phase} printed `{line}`"))
}

/// The run with the median rate (the upper one of an even count).
pub(crate) fn median(mut runs: Vec<PhaseResult>) -> PhaseResult {
    runs.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
    runs.swap_remove(runs.len() / 2)
}

/// `n` synthetic items from `start` as the pipeline would store them: synthetic page
/// → reddit normalizer → the enricher chain.
pub(crate) async fn synthetic_enriched(
    chain: &crate::enrich::Chain,
    state: &crate::enrich::MemoryState,
    start: u64,
    n: u64,
) -> anyhow::Result<Vec<crate::store::StoredContent>> {
    let reddit = normalize::find("reddit").expect("reddit normalizer");
    let mut src = crate::sources::build(&SourceConfig {
        name: "bench".into(),
        kind: "synthetic".into(),
        enabled: true,
        options: toml::Table::from_iter([
            (
                "items".to_string(),
                toml::Value::Integer((start + n) as i64),
            ),
            ("page_size".to_string(), toml::Value::Integer(n as i64)),
        ]),
    })
    .map_err(anyhow::Error::msg)?;
    let crate::sources::Poll::Payloads { payloads, .. } =
        src.poll(Some(&start.to_string())).await?
    else {
        anyhow::bail!("synthetic source produced nothing");
    };
    let cx = RawContext {
        fetched_by: "bench",
        lake_key: "bench/raw/x.json",
        observed_at: chrono::Utc::now(),
    };
    let mut rows = Vec::with_capacity(n as usize);
    for item in reddit.normalize(&payloads[0].body, &cx)? {
        let mut c = item.map_err(|e| anyhow::anyhow!(e.error))?;
        chain
            .run(&mut c, state)
            .map_err(|e| anyhow::anyhow!(e.message))?;
        rows.push(crate::store::StoredContent::new(c));
    }
    Ok(rows)
}

/// The ceiling: the same rows the pipeline stores, upserted in batches of the pipeline's
/// batch size, each batch one transaction, timing only the inserts.
async fn limit(
    dir: &Path,
    items: u64,
    page_size: u64,
    with_log: bool,
) -> anyhow::Result<PhaseResult> {
    std::fs::create_dir_all(dir)?;
    let cfg = bench_config(dir, None, items, page_size)?;
    let db = std::sync::Arc::new(SqliteDb::open(
        &dir.join("limit.db"),
        &cfg.sqlite_options(),
    )?);
    if with_log {
        let log = crate::log::EmbeddedLog::new(db.clone());
        for t in crate::runtime::services::topics() {
            use crate::log::EventLog;
            log.create_topic(&crate::log::TopicSpec {
                name: t.to_string(),
                partitions: cfg.topics.partitions,
                retention: Duration::from_secs(3600),
            })
            .await?;
        }
    }
    let chain = crate::enrich::Chain::new(&cfg.enrich).map_err(anyhow::Error::msg)?;
    let state = crate::enrich::MemoryState::default();
    let batch = cfg.pipeline.batch_size as u64;
    let mut spent = Duration::ZERO;
    let mut done = 0u64;
    while done < items {
        let n = batch.min(items - done);
        let rows = synthetic_enriched(&chain, &state, done, n).await?;
        let appends: Vec<crate::store::Append> = if with_log {
            rows.iter()
                .flat_map(|r| {
                    let key = Some(r.content.id.to_string().into_bytes());
                    [crate::log::TOPIC_CONTENT, crate::log::TOPIC_ENRICHED].map(|topic| {
                        crate::store::Append {
                            topic: topic.to_string(),
                            key: key.clone(),
                            value: r.doc.clone().into_bytes(),
                            ..Default::default()
                        }
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        // Grouped and compressed before the clock starts, as the pipeline's callers do
        // before their commit reaches the writer thread.
        let runs = crate::log::embedded::prepare_runs(&db, &appends).await?;
        let t = Instant::now();
        db_write(&db, rows, appends, runs)?;
        spent += t.elapsed();
        done += n;
    }
    Ok(PhaseResult {
        items,
        secs: spent.as_secs_f64(),
        per_sec: items as f64 / spent.as_secs_f64(),
        peak_rss_mib: peak_rss_mib(),
        stored: items,
        ..Default::default()
    })
}

pub(crate) fn db_write(
    db: &SqliteDb,
    rows: Vec<crate::store::StoredContent>,
    appends: Vec<crate::store::Append>,
    runs: Vec<crate::log::runs::Run>,
) -> anyhow::Result<()> {
    db.with_writer(|conn| {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = crate::model::now_micros();
        if !appends.is_empty() {
            crate::log::embedded::append_in_tx(&tx, &appends, &runs, now)?;
        }
        for c in &rows {
            crate::store::upsert_content(&tx, &c.content, &c.doc, now)?;
        }
        tx.commit()?;
        Ok(())
    })?;
    Ok(())
}

async fn pipeline_phase(
    dir: &Path,
    items: u64,
    rate: Option<f64>,
    page_size: u64,
) -> anyhow::Result<PhaseResult> {
    std::fs::create_dir_all(dir)?;
    let cfg = bench_config(dir, rate, items, page_size)?;
    crate::telemetry::init_logging("text", &cfg.logging.level);
    crate::telemetry::init_metrics();
    let db_path = dir.join("sigflow.db");
    let store_url = cfg.store.clone();
    let pipeline = Pipeline::build(cfg).await?;
    let t = Instant::now();
    let opts = RunOptions {
        exit_when_idle: true,
        roles: RunOptions::all_roles_but(&["api"]),
        on_listen: None,
    };
    let summary = pipeline.run(opts, std::future::pending()).await?;
    let secs = t.elapsed().as_secs_f64();
    if std::env::var_os("SIGFLOW_BENCH_METRICS").is_some() {
        for l in crate::telemetry::render_metrics()
            .lines()
            .filter(|l| l.contains("_sum") || l.contains("_count") || l.contains("busy_wait"))
        {
            eprintln!("{l}");
        }
    }
    let mut lat = if store_url.starts_with("postgres") {
        latencies_ms_pg(&store_url).await?
    } else {
        latencies_ms(&db_path)?
    };
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        (!lat.is_empty())
            .then(|| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1])
    };
    Ok(PhaseResult {
        items,
        secs,
        per_sec: summary.counts.contents as f64 / secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied(),
        peak_rss_mib: peak_rss_mib(),
        stored: summary.counts.contents,
    })
}

fn bench_config(
    dir: &Path,
    rate: Option<f64>,
    items: u64,
    page_size: u64,
) -> anyhow::Result<Config> {
    let mut cfg = Config::load(
        None,
        std::env::vars(),
        &[
            ("data_dir", toml::Value::String(dir.display().to_string())),
            ("api.enabled", toml::Value::Boolean(false)),
        ],
    )?;
    let rate = match rate {
        Some(r) => toml::Value::Float(r),
        None => toml::Value::String("max".into()),
    };
    cfg.sources = vec![SourceConfig {
        name: "bench".into(),
        kind: "synthetic".into(),
        enabled: true,
        options: toml::Table::from_iter([
            ("items".to_string(), toml::Value::Integer(items as i64)),
            (
                "page_size".to_string(),
                toml::Value::Integer(page_size as i64),
            ),
            ("rate".to_string(), rate),
        ]),
    }];
    Ok(cfg)
}

fn latencies_ms(db: &Path) -> anyhow::Result<Vec<f64>> {
    let conn = rusqlite::Connection::open(db)?;
    let mut st = conn.prepare("SELECT stored_at - observed_at FROM contents")?;
    let rows = st.query_map([], |r| r.get::<_, i64>(0))?;
    Ok(rows
        .map(|r| r.map(|us| us as f64 / 1000.0))
        .collect::<Result<Vec<_>, _>>()?)
}

#[cfg(feature = "postgres")]
async fn latencies_ms_pg(url: &str) -> anyhow::Result<Vec<f64>> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let rows = client
        .query("SELECT stored_at - observed_at FROM contents", &[])
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, i64>(0) as f64 / 1000.0)
        .collect())
}

#[cfg(not(feature = "postgres"))]
async fn latencies_ms_pg(_url: &str) -> anyhow::Result<Vec<f64>> {
    anyhow::bail!("a postgres:// store needs the `postgres` feature")
}

/// Peak resident set size of this process (Linux `VmHWM`), MiB; 0 where unknown.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
