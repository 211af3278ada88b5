//! The `sigflow` command line. One file per subcommand; this file holds the argument
//! definitions and the dispatch. `anyhow` is used here and nowhere else.

mod api_client;
mod backtest;
mod demo;
mod dlq;
mod enrich;
mod keys;
mod ledger;
mod markets;
mod outcomes;
mod parse;
mod replay;
mod rules;
mod run;
mod sources;
mod topics;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "sigflow",
    version,
    about = "Real-time signal pipeline for markets: ingest, normalize, enrich, analyze, seal, serve.",
    long_about = "Real-time signal pipeline for markets.\n\n\
        Sources write raw payloads to an immutable lake and a `raw` event to the log; \
        stages normalize and enrich them into one Content schema; the store serves them \
        over HTTP. Everything is embedded by default (SQLite file, local lake, embedded log).\n\n\
        Start with `sigflow demo`, then open http://127.0.0.1:8080/api/v1/contents.\n\n\
        Backends: store sqlite://, log embedded, lake file:// (s3:// in builds with `--features s3`).",
    after_help = "Configuration: built-in defaults < --config FILE < SIGFLOW__SECTION__KEY env vars < flags.\n\
        Print the defaults with `sigflow validate --print-defaults`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay the bundled multi-source dataset through the whole pipeline and serve the API.
    Demo(demo::DemoArgs),
    /// Run the pipeline from a config file (sources, stages and API).
    Run(run::RunArgs),
    /// Check a config file and print every problem at once.
    Validate(validate::ValidateArgs),
    /// Print the normalized items of raw payload files as JSON lines (adapter debugging).
    Parse(parse::ParseArgs),
    /// Enrich texts from stdin and print what sigflow makes of each (JSON lines).
    Enrich(enrich::EnrichArgs),
    /// Inspect and replay the dead-letter queue.
    Dlq(dlq::DlqArgs),
    /// Manage sources while the pipeline runs: list, add, pause, resume, remove, test, reparse.
    Sources(sources::SourcesArgs),
    /// Re-run a stage from a log offset or a time (e.g. after changing a parser).
    Replay(replay::ReplayArgs),
    /// Create topics; show topics, partitions and consumer positions of the event log.
    Topics(topics::TopicsArgs),
    /// Apply the store's schema migrations (every command that opens the store does it
    /// too; this one only migrates and says where the schema stands).
    Migrate(DataArgs),
    /// API keys: create (shown once), list, revoke.
    Keys(keys::KeysArgs),
    Rules(rules::RulesArgs),
    Signals(ledger::SignalsArgs),
    Ledger(ledger::LedgerArgs),
    Markets(markets::MarketsArgs),
    Outcomes(outcomes::OutcomesArgs),
    TrackRecord(outcomes::TrackRecordArgs),
    Backtest(backtest::BacktestArgs),
    /// Measure throughput and latency of the embedded pipeline against the store's limit.
    Bench(crate::bench::BenchArgs),
}

/// Options every command that opens the data takes.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Config file (TOML). Without it, built-in defaults (plus SIGFLOW__* env) are used.
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory for the embedded backends (overrides `data_dir`).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

impl DataArgs {
    pub fn load(&self, extra: &[(&str, toml::Value)]) -> anyhow::Result<Config> {
        let mut overrides: Vec<(&str, toml::Value)> = Vec::new();
        if let Some(d) = &self.data_dir {
            overrides.push(("data_dir", toml::Value::String(d.display().to_string())));
        }
        overrides.extend(extra.iter().cloned());
        load_config(self.config.as_deref(), &overrides)
    }
}

pub fn load_config(
    file: Option<&Path>,
    overrides: &[(&str, toml::Value)],
) -> anyhow::Result<Config> {
    let cfg = Config::load(file, std::env::vars(), overrides)?;
    // Every outbound client of this process is built under this policy.
    sigflow_connectors::net::install(cfg.outbound.policy());
    Ok(cfg)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(dispatch(cli.command));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Demo(a) => demo::run(a).await,
        Command::Run(a) => run::run(a).await,
        Command::Validate(a) => validate::run(a),
        Command::Parse(a) => parse::run(a),
        Command::Enrich(a) => enrich::run(a),
        Command::Dlq(a) => dlq::run(a).await,
        Command::Sources(a) => sources::run(a).await,
        Command::Replay(a) => replay::run(a).await,
        Command::Topics(a) => topics::run(a).await,
        Command::Migrate(a) => {
            let cfg = a.load(&[])?;
            let opened = open_store(&cfg)?;
            opened.store.migrate().await?;
            println!(
                "store {}: schema at migration {}",
                crate::store::redact_url(&cfg.store),
                crate::store::SCHEMA_VERSION
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(a) => keys::run(a).await,
        Command::Rules(a) => rules::run(a).await,
        Command::Signals(a) => ledger::run_signals(a).await,
        Command::Ledger(a) => ledger::run(a).await,
        Command::Markets(a) => markets::run(a).await,
        Command::Outcomes(a) => outcomes::run(a).await,
        Command::TrackRecord(a) => outcomes::run_track_record(a).await,
        Command::Backtest(a) => backtest::run(a).await,
        Command::Bench(a) => crate::bench::run(a).await,
    }
}

/// Sets up logs and metrics from the config (once per process).
pub fn init_telemetry(cfg: &Config) {
    crate::telemetry::init_logging(&cfg.logging.format, &cfg.logging.level);
    crate::telemetry::init_metrics();
    // A shifted clock changes what gets sealed when and what counts as final: say so.
    if let Some(v) = crate::clock::invalid_setting() {
        tracing::error!(value = %v, "{} is not an RFC 3339 instant: the wall clock is used", crate::clock::ENV);
    } else if crate::clock::is_shifted() {
        tracing::warn!(now = %crate::clock::now(), "{} is set: this process's clock is shifted (tests and demonstrations only)", crate::clock::ENV);
    }
}

/// Tells a person where the API is (the logs say it too, for machines).
pub fn announce_api(addr: std::net::SocketAddr) {
    eprintln!(
        "sigflow: API on http://{addr} (try /api/v1/contents, /api/v1/signals, /readyz, /metrics); Ctrl-C stops"
    );
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Opens only the store (no lock, no topics): for read-mostly commands.
pub fn open_store(cfg: &Config) -> anyhow::Result<crate::store::OpenedStore> {
    crate::store::open(&cfg.store, &cfg.sqlite_options())
        .with_context(|| format!("opening store {}", crate::store::redact_url(&cfg.store)))
}
