//! `sigflow ledger verify|export` and `sigflow signals list`: the sealed predictions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{DataArgs, open_store};
use crate::analyze::ledger;
use crate::store::repos::predictions::{self, SignalQuery};

#[derive(Debug, Args)]
#[command(about = "Verify the sealed prediction ledger, or export its daily digests")]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Recompute every row's hash chain: report changed, missing and reordered rows, and
    /// columns that no longer match the sealed body. Exit 1 on any problem.
    Verify {
        /// The report as JSON (rows, chains, problem_count, problems).
        #[arg(long)]
        json: bool,
        /// Also compare with an earlier `ledger export` file: a day whose rows or digest
        /// changed since is reported, even if every hash was recomputed after an edit.
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
    },
    /// Write one digest per UTC day (rows sealed that day, the hash of their row hashes),
    /// one JSON object per line: keep it elsewhere to prove later what was sealed when.
    Export {
        /// Output file ("-" = stdout).
        #[arg(long, default_value = "-")]
        out: PathBuf,
        /// Sign each digest (HMAC-SHA256) with the key in this environment variable.
        #[arg(long, value_name = "VAR")]
        key_env: Option<String>,
        /// Include today (UTC), which is not over: its digest will change as more is
        /// sealed, so a later `verify --against` would report it.
        #[arg(long)]
        include_today: bool,
    },
}

pub async fn run(a: LedgerArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.data.load(&[])?;
    let opened = open_store(&cfg)?;
    opened.store.migrate().await?;
    let db = opened.store.sql();
    match a.command {
        LedgerCommand::Verify { json, against } => {
            let exported: Vec<ledger::DayDigest> = match &against {
                None => Vec::new(),
                Some(f) => std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(serde_json::from_str)
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("{} is not a `ledger export` file", f.display()))?,
            };
            let (mut v, mut days) = (ledger::Verifier::default(), ledger::DayDigests::default());
            predictions::for_each_chain_row(db, &mut |r| {
                v.check(r);
                days.add(r);
            })
            .await?;
            let mut report = v.report;
            for p in ledger::compare_with_export(&exported, &days.finish()) {
                report.problem_count += 1;
                report.problems.push(p);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for p in &report.problems {
                    println!(
                        "{} chain {} seq {} ({}): {}",
                        p.kind.to_uppercase(),
                        p.chain,
                        p.seq,
                        p.id,
                        p.detail
                    );
                }
                println!(
                    "{} rows in {} chains: {}",
                    report.rows,
                    report.chains,
                    if report.ok() {
                        "intact".to_string()
                    } else {
                        format!("{} problems", report.problem_count)
                    }
                );
            }
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        LedgerCommand::Export {
            out,
            key_env,
            include_today,
        } => {
            let key = match &key_env {
                Some(v) => Some(
                    std::env::var(v)
                        .with_context(|| format!("environment variable {v} is not set"))?,
                ),
                None => None,
            };
            let mut days = ledger::DayDigests::default();
            predictions::for_each_chain_row(db, &mut |r| days.add(r)).await?;
            let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
            let mut digests = days.finish();
            digests.retain(|d| include_today || d.day < today);
            if let Some(k) = &key {
                use hmac::Mac;
                for d in &mut digests {
                    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(k.as_bytes())
                        .map_err(|e| anyhow::anyhow!("key: {e}"))?;
                    mac.update(format!("{}|{}|{}", d.day, d.rows, d.digest).as_bytes());
                    d.signature = Some(
                        mac.finalize()
                            .into_bytes()
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect(),
                    );
                }
            }
            let mut text = String::new();
            for d in &digests {
                text.push_str(&serde_json::to_string(d)?);
                text.push('\n');
            }
            if out.as_os_str() == "-" {
                print!("{text}");
            } else {
                std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
                eprintln!("{} days written to {}", digests.len(), out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Args)]
#[command(about = "List sealed predictions (signals), newest first")]
pub struct SignalsArgs {
    #[command(subcommand)]
    pub command: SignalsCommand,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum SignalsCommand {
    /// Newest first; filters combine.
    List {
        /// A symbol (AAPL, $aapl).
        #[arg(long)]
        asset: Option<String>,
        /// bullish, bearish, neutral, abstain
        #[arg(long)]
        direction: Option<String>,
        /// rules or llm
        #[arg(long)]
        analyzer: Option<String>,
        /// Predictions a rule (by name) contributed to.
        #[arg(long)]
        rule: Option<String>,
        /// At least this confidence (0 to 1).
        #[arg(long)]
        min_confidence: Option<f64>,
        /// The item's platform (reddit, truthsocial, sec-form4, …).
        #[arg(long)]
        source: Option<String>,
        /// Only shadow predictions (default: live only).
        #[arg(long)]
        shadow: bool,
        /// At most this many (newest first).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One prediction per line as JSON (the sealed body).
        #[arg(long)]
        json: bool,
    },
}

pub async fn run_signals(a: SignalsArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.data.load(&[])?;
    let opened = open_store(&cfg)?;
    opened.store.migrate().await?;
    let SignalsCommand::List {
        asset,
        direction,
        analyzer,
        rule,
        min_confidence,
        source,
        shadow,
        limit,
        json,
    } = a.command;
    let q = SignalQuery {
        asset: asset.map(|a| a.to_ascii_uppercase()),
        direction,
        analyzer,
        rule,
        min_confidence,
        source,
        shadow: Some(shadow),
        limit: limit.clamp(1, 10_000),
        ..Default::default()
    };
    let rows = predictions::list(opened.store.sql(), &q).await?;
    if json {
        for r in &rows {
            println!("{}", serde_json::to_string(&r.prediction)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24}  {:<8}  {:<8}  {:<5}  {:<6}  {:<12}  WHY",
        "SEALED", "ASSET", "DIRECTION", "CONF", "BY", "SOURCE"
    );
    for r in &rows {
        let p = &r.prediction;
        let why = p
            .abstain_reason
            .clone()
            .or_else(|| p.rules.first().cloned())
            .unwrap_or_default();
        println!(
            "{:<24}  {:<8}  {:<8}  {:<5.2}  {:<6}  {:<12}  {why}",
            p.sealed_at.format("%Y-%m-%d %H:%M:%S%.3f"),
            p.asset,
            p.direction,
            p.confidence,
            p.analyzer,
            p.source
        );
    }
    Ok(ExitCode::SUCCESS)
}
