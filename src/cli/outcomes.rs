//! `sigflow outcomes list` and `sigflow track-record`: what the predictions' calls
//! turned out to be, and the track records that follow.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{DataArgs, open_store};
use crate::markets::track;
use crate::store::repos::outcomes::{self, By, OutcomeQuery};

#[derive(Debug, Args)]
#[command(about = "Outcomes of sealed predictions at T+1/3/7/30 sessions")]
pub struct OutcomesArgs {
    #[command(subcommand)]
    pub command: OutcomesCommand,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum OutcomesCommand {
    /// Outcomes, newest first: entry and exit, return, whether the call was right, P&L.
    List {
        /// `live` (the ledger), or a backtest's namespace.
        #[arg(long, default_value = "live")]
        namespace: String,
        #[arg(long)]
        asset: Option<String>,
        #[arg(long)]
        horizon: Option<u32>,
        /// One prediction's outcomes.
        #[arg(long, value_name = "ID")]
        prediction: Option<String>,
        /// scored, delisted or unscorable.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// The namespaces that hold outcomes (live, backtests, the demo's history).
    Namespaces,
}

#[derive(Debug, Args)]
#[command(
    about = "Track records: hit rate with its 95% Wilson interval, returns, P&L, Brier score, reliability and skill, per source, author, rule, analyzer or asset"
)]
pub struct TrackRecordArgs {
    /// source, author, rule, analyzer, asset or all.
    #[arg(long, default_value = "source")]
    pub by: String,
    /// One horizon (1, 3, 7 or 30); all by default.
    #[arg(long)]
    pub horizon: Option<u32>,
    /// `live` (the ledger), a backtest's namespace, or the demo's `demo-history`
    /// (`sigflow outcomes namespaces` lists them).
    #[arg(long, default_value = "live")]
    pub namespace: String,
    /// Count shadow predictions too.
    #[arg(long)]
    pub shadow: bool,
    /// Only outcomes whose exit is on or after this date (YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<chrono::NaiveDate>,
    /// Only outcomes whose exit is before this date.
    #[arg(long)]
    pub until: Option<chrono::NaiveDate>,
    /// The records as JSON (with the reliability tables).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn run(a: OutcomesArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.data.load(&[])?;
    let opened = open_store(&cfg)?;
    opened.store.migrate().await?;
    let db = opened.store.sql();
    match a.command {
        OutcomesCommand::List {
            namespace,
            asset,
            horizon,
            prediction,
            status,
            limit,
            json,
        } => {
            anyhow::ensure!(
                (1..=10_000).contains(&limit),
                "--limit must be from 1 to 10000"
            );
            let q = OutcomeQuery {
                namespace,
                prediction_id: prediction,
                asset: asset.map(|a| a.to_ascii_uppercase()),
                horizon,
                status,
                limit,
                ..OutcomeQuery::default()
            };
            let rows = outcomes::list(db, &q).await?;
            for o in &rows {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string(&crate::api::outcomes::OutcomeDto::from(o.clone()))?
                    );
                    continue;
                }
                match (o.ret, o.correct) {
                    (Some(r), Some(c)) => println!(
                        "{} T+{:<2} {:<6} {:<7} entry {} {} {:.4}  exit {} {:.4}  {:+.2}%  {}  P&L {:+.2}{}",
                        &o.prediction_id[..8.min(o.prediction_id.len())],
                        o.horizon,
                        o.asset,
                        o.direction,
                        o.entry_session.as_deref().unwrap_or("?"),
                        o.entry_point.as_deref().unwrap_or("?"),
                        o.entry_price.unwrap_or(0.0),
                        o.exit_session.as_deref().unwrap_or("?"),
                        o.exit_price.unwrap_or(0.0),
                        r * 100.0,
                        if c { "right" } else { "wrong" },
                        o.pnl.unwrap_or(0.0),
                        if o.status == "delisted" {
                            "  (delisted: last price)"
                        } else {
                            ""
                        }
                    ),
                    _ => println!(
                        "{} T+{:<2} {:<6} {:<7} unscorable: {}",
                        &o.prediction_id[..8.min(o.prediction_id.len())],
                        o.horizon,
                        o.asset,
                        o.direction,
                        o.reason.as_deref().unwrap_or("")
                    ),
                }
            }
            if !json {
                println!("{} outcomes", rows.len());
            }
        }
        OutcomesCommand::Namespaces => {
            for (ns, n) in outcomes::namespaces(db).await? {
                println!("{ns}\t{n} outcomes");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_track_record(a: TrackRecordArgs) -> anyhow::Result<ExitCode> {
    let by = By::parse(&a.by).ok_or_else(|| anyhow::anyhow!("--by: one of {}", By::NAMES))?;
    if let Some(h) = a.horizon {
        anyhow::ensure!(
            crate::markets::outcome::HORIZONS.contains(&h),
            "--horizon: one of 1, 3, 7, 30"
        );
    }
    let cfg = a.data.load(&[])?;
    let opened = open_store(&cfg)?;
    opened.store.migrate().await?;
    let day = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros())
    };
    let rows = outcomes::track_rows(
        opened.store.sql(),
        &a.namespace,
        by,
        a.horizon,
        a.shadow,
        a.since.and_then(day),
        a.until.and_then(day),
    )
    .await?;
    let records = track::records(rows);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_records(&records);
    Ok(ExitCode::SUCCESS)
}

pub fn print_records(records: &[track::Record]) {
    println!(
        "{:<28} {:>4} {:>6} {:>7} {:>15} {:>8} {:>8} {:>10} {:>7} {:>7}",
        "key", "T+", "n", "hit", "95% interval", "mean", "median", "P&L", "Brier", "skill"
    );
    for r in records {
        println!(
            "{:<28} {:>4} {:>6} {:>6.1}% {:>6.1}%-{:>5.1}% {:>+7.2}% {:>+7.2}% {:>+10.2} {:>7.3} {:>7}",
            sigflow_core::redact::truncate(&r.key, 27),
            r.horizon,
            r.n,
            r.hit_rate * 100.0,
            r.hit_rate_low * 100.0,
            r.hit_rate_high * 100.0,
            r.mean_return * 100.0,
            r.median_return * 100.0,
            r.pnl,
            r.brier,
            r.skill.map_or("-".to_string(), |s| format!("{s:+.3}"))
        );
    }
    if records.is_empty() {
        println!("(no scored outcomes yet)");
    }
}
