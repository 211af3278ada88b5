//! `sigflow backtest --rules FILE`: a candidate rule set over stored history, beside the
//! live rule set, scored by the same outcome code; nothing live is touched.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::{DataArgs, open_store};
use crate::tracker::backtest::{self, Options, Timing};

#[derive(Debug, Args)]
#[command(
    about = "Run a candidate rule file over stored history and compare it with the live rules",
    long_about = "Run a candidate rule file over the stored items, beside the live rule set \
        ([analyze] rules, or the built-in rules), with each prediction sealed at a simulated \
        time: when the item was observed (--timing observed), or when it became public \
        (--timing published: its disclosure time, else its publication time; for history \
        imported after the fact). Never the time an event happened before it was disclosed.\n\n\
        Predictions live in their own namespace (default `backtest`, the baseline in \
        `backtest/baseline`); the ledger, the topics and alerts are not touched. Prices are \
        fetched through the configured providers, then both are scored at T+1/3/7/30 by the \
        same code as live outcomes, as of --as-of (default now). Same inputs and --as-of, \
        same output. See the rows with `sigflow outcomes list --namespace backtest`."
)]
pub struct BacktestArgs {
    /// The candidate rule file.
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
    /// Only items that happened on or after this date (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Only items that happened before this date.
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Only these platforms (reddit, x, truthsocial, sec, …), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub sources: Vec<String>,
    #[arg(long, value_enum, default_value = "observed")]
    pub timing: Timing,
    /// Judge outcomes with what was known at this instant (RFC 3339); default now.
    #[arg(long)]
    pub as_of: Option<DateTime<Utc>>,
    /// Where the predictions and outcomes go (replaced on each run).
    #[arg(long, default_value = "backtest")]
    pub namespace: String,
    /// The report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn run(a: BacktestArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !a.namespace.is_empty() && a.namespace != "live" && a.namespace.len() <= 64,
        "--namespace: any name of 1 to 64 characters but `live`"
    );
    let cfg = a.data.load(&[])?;
    let text = std::fs::read_to_string(&a.rules)
        .with_context(|| format!("reading {}", a.rules.display()))?;
    let candidate = crate::stages::analyze::compile_rules(&a.rules, &text)
        .map_err(|e| anyhow::anyhow!("{}", e.join("\n")))?;
    let baseline = crate::stages::analyze::Rules::load(&cfg.analyze.rules)
        .map_err(anyhow::Error::msg)?
        .get();
    let markets = crate::tracker::Markets::build(&cfg.markets).map_err(anyhow::Error::msg)?;
    let opened = open_store(&cfg)?;
    opened.store.migrate().await?;
    let day = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let o = Options {
        namespace: a.namespace.clone(),
        since: a.from.and_then(day),
        until: a.to.and_then(day),
        sources: a.sources.clone(),
        timing: a.timing,
        as_of: a.as_of.unwrap_or_else(crate::clock::now),
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>8} [{bar:40}] {pos}/{len} ({per_sec}, {eta})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    if a.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut on = |phase: &str, done: u64, total: u64| {
        bar.set_message(phase.to_string());
        bar.set_length(total.max(done));
        bar.set_position(done);
    };
    let report = backtest::run(
        &markets,
        opened.store.sql(),
        &candidate,
        Some(&baseline),
        &o,
        &mut on,
    )
    .await?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} items in {:.1} s ({:.0} items/s), predictions sealed at the {} time, outcomes as of {}",
        report.items,
        report.elapsed_secs,
        report.items_per_sec,
        serde_json::to_value(report.timing)?.as_str().unwrap_or(""),
        report.as_of.format("%Y-%m-%dT%H:%MZ")
    );
    println!(
        "candidate {} : {} calls   live rules {} : {} calls   added {}  removed {}",
        &report.candidate_version[..12.min(report.candidate_version.len())],
        report.candidate.predictions,
        &report.baseline_version[..12.min(report.baseline_version.len())],
        report.baseline.predictions,
        report.added,
        report.removed
    );
    for (name, side) in [
        ("candidate", &report.candidate),
        ("live rules", &report.baseline),
    ] {
        println!("\n{name}:");
        super::outcomes::print_records(&side.records);
    }
    if report.pending + report.unscorable > 0 {
        println!(
            "\n{} outcomes not final yet, {} unscorable (no price)",
            report.pending, report.unscorable
        );
    }
    for e in &report.price_errors {
        println!("prices: {e}");
    }
    Ok(ExitCode::SUCCESS)
}
