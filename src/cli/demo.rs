//! `sigflow demo`: the bundled dataset through the whole pipeline, API on.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{DataArgs, init_telemetry, shutdown_signal};
use crate::config::SourceConfig;
use crate::runtime::{Pipeline, RunOptions};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Replay pace in items per second, or "max" for as fast as possible.
    #[arg(long, default_value = "50", value_name = "X|max")]
    pub speed: String,
    /// Stop once the dataset is replayed and every stage has caught up (for scripts).
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Address of the HTTP API.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Serve the API on a non-loopback address without API keys (anyone who reaches
    /// it can read everything and change sources). Logged loudly at every start.
    #[arg(long)]
    pub insecure_no_auth: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let mut extra = Vec::new();
    if let Some(l) = &a.listen {
        extra.push(("api.listen", toml::Value::String(l.clone())));
    }
    if a.insecure_no_auth {
        extra.push(("api.insecure_no_auth", toml::Value::Boolean(true)));
    }
    let mut cfg = a.data.load(&extra)?;
    let speed = match a.speed.as_str() {
        "max" => toml::Value::String("max".into()),
        s => toml::Value::String(s.to_string()),
    };
    let demo = SourceConfig {
        name: "demo".into(),
        kind: "demo".into(),
        enabled: true,
        options: toml::Table::from_iter([("speed".to_string(), speed)]),
    };
    let problems = crate::sources::validate(&demo);
    if !problems.is_empty() {
        anyhow::bail!("--speed: {}", problems.join("; "));
    }
    cfg.sources.retain(|s| s.name != "demo");
    cfg.sources.push(demo);
    // The demo's prices: synthetic, bundled, read offline through the csv provider.
    let prices_dir = cfg.data_dir.join("demo-prices");
    sigflow_connectors::prices::demo::write_to(&prices_dir)
        .with_context(|| format!("writing the demo prices to {}", prices_dir.display()))?;
    cfg.markets.providers.nyse = vec!["csv".into()];
    cfg.markets.providers.crypto = vec!["csv".into()];
    cfg.markets.provider.insert(
        "csv".into(),
        crate::config::ProviderConfig {
            dir: prices_dir.display().to_string(),
            ..Default::default()
        },
    );
    init_telemetry(&cfg);
    let manifest = crate::sources::demo_manifest();
    tracing::info!(
        payloads = manifest.files.len(),
        good_items = manifest.good_items,
        poison = manifest.poison.len(),
        data_dir = %cfg.data_dir.display(),
        speed = %a.speed,
        "demo: replaying the bundled dataset"
    );
    let history_cfg = cfg.clone();
    let pipeline = Pipeline::build(cfg).await?;
    let opts = RunOptions {
        exit_when_idle: a.exit_when_idle,
        roles: RunOptions::all_roles(),
        on_listen: Some(super::announce_api),
    };
    // The history replay runs once the dataset is in, beside the live pipeline (which
    // keeps serving the API unless --exit-when-idle).
    let good = manifest.good_items as u64;
    let history = tokio::spawn(async move { history_when_loaded(&history_cfg, good).await });
    let summary = pipeline.run(opts, shutdown_signal()).await?;
    match tokio::time::timeout(std::time::Duration::from_secs(120), history).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("demo: history replay failed: {e:#}"),
        Ok(Err(e)) => eprintln!("demo: history replay failed: {e}"),
        Err(_) => eprintln!("demo: history replay did not finish in time"),
    }
    eprintln!(
        "demo: {} items stored, {} dead letters (dataset: {} good items, {} planted poison), {} predictions sealed in {:.1} s; stopped: {}",
        summary.counts.contents,
        summary.counts.dlq,
        manifest.good_items,
        manifest.poison.len(),
        summary.counts.predictions,
        summary.elapsed_secs,
        summary.stopped_because
    );
    if summary.counts.predictions > 0 {
        eprintln!(
            "demo: see them with `sigflow signals list`, GET /api/v1/signals; check the ledger with `sigflow ledger verify`"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The namespace of the demo's scored history.
pub const HISTORY: &str = "demo-history";

/// The dataset is imported history: its items were published weeks ago, and the live
/// ledger seals them now (their outcomes lie in the future). So the demo also replays
/// them as history — the live rule set, each prediction sealed at the item's
/// publication time, scored on the bundled synthetic prices as of 2026-12-01 (after
/// the prices end; a fixed instant, so every run shows the same outcomes) — into the
/// namespace `demo-history`. The ledger is not touched.
async fn history_when_loaded(cfg: &crate::config::Config, good_items: u64) -> anyhow::Result<()> {
    let opened = super::open_store(cfg)?;
    let store = opened.store;
    // Wait until the dataset is stored and the analyze stage has caught up (its count
    // is still for a second).
    let mut last = (0, 0);
    for _ in 0..600 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let c = crate::store::repos::counts(store.sql()).await?;
        let now = (c.contents, c.predictions);
        if c.contents >= good_items && now == last {
            break;
        }
        last = now;
    }
    let rules = crate::stages::analyze::Rules::load(&cfg.analyze.rules)
        .map_err(anyhow::Error::msg)?
        .get();
    let markets = crate::tracker::Markets::build(&cfg.markets).map_err(anyhow::Error::msg)?;
    let o = crate::tracker::backtest::Options {
        namespace: HISTORY.into(),
        since: None,
        until: None,
        sources: Vec::new(),
        timing: crate::tracker::backtest::Timing::Published,
        as_of: "2026-12-01T00:00:00Z".parse().expect("a valid instant"),
    };
    let r =
        crate::tracker::backtest::run(&markets, store.sql(), &rules, None, &o, &mut |_, _, _| {})
            .await?;
    let scored: u64 = r.candidate.records.iter().map(|x| x.n).sum();
    eprintln!(
        "demo: history replay (SYNTHETIC demo prices): {} predictions sealed at each item's publication time, {} outcomes at T+1/3/7/30 ({} still open on 2026-12-01)",
        r.candidate.predictions, scored, r.pending
    );
    for rec in &r.candidate.records {
        eprintln!(
            "demo:   T+{:<2} n={:<4} hit rate {:.1}% (95% {:.1}-{:.1}%), P&L {:+.2} on $1,000 a call",
            rec.horizon,
            rec.n,
            rec.hit_rate * 100.0,
            rec.hit_rate_low * 100.0,
            rec.hit_rate_high * 100.0,
            rec.pnl
        );
    }
    eprintln!(
        "demo: see them with `sigflow track-record --namespace {HISTORY}`, `sigflow outcomes list --namespace {HISTORY}`, GET /api/v1/track-record?namespace={HISTORY}"
    );
    Ok(())
}
