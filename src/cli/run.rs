//! `sigflow run`: the pipeline from a config file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{DataArgs, init_telemetry, shutdown_signal};
use crate::runtime::{Pipeline, RunOptions};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Stop once every finite source is done and every stage has caught up.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Address of the HTTP API (overrides api.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Do not start the HTTP API.
    #[arg(long)]
    pub no_api: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let mut extra = Vec::new();
    if let Some(l) = &a.listen {
        extra.push(("api.listen", toml::Value::String(l.clone())));
    }
    let cfg = a.data.load(&extra)?;
    init_telemetry(&cfg);
    let file: Option<PathBuf> = a.data.config.clone();
    tracing::info!(config = ?file, store = %cfg.store, log = %cfg.log, lake = %cfg.lake,
        sources = cfg.sources.len(), "starting pipeline");
    if cfg.sources.iter().all(|s| !s.enabled) {
        tracing::warn!("no enabled [[sources]] in the config: only the stages and the API run");
    }
    let pipeline = Pipeline::build(cfg).await?;
    let opts = RunOptions {
        exit_when_idle: a.exit_when_idle,
        start_sources: true,
        start_api: !a.no_api,
        on_listen: Some(super::announce_api),
    };
    let summary = pipeline.run(opts, shutdown_signal()).await?;
    eprintln!(
        "run: {} items stored, {} dead letters; stopped after {:.1} s: {}",
        summary.counts.contents, summary.counts.dlq, summary.elapsed_secs, summary.stopped_because
    );
    Ok(ExitCode::SUCCESS)
}
