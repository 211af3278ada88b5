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
    /// What this process does, as a comma list: ingest (sources), normalize, enrich,
    /// api. Default: all of them. With a shared log and store (kafka:// + postgres://)
    /// run one process per role, and N processes of a stage role to share its
    /// partitions, e.g. `--role ingest,api` on one host and `--role normalize` on two.
    #[arg(long, value_name = "ROLES", value_delimiter = ',', value_parser = ["ingest", "normalize", "enrich", "api", "all"])]
    pub role: Vec<String>,
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
    tracing::info!(config = ?file, store = %crate::store::redact_url(&cfg.store),
        log = %crate::store::redact_url(&cfg.log), lake = %crate::store::redact_url(&cfg.lake),
        sources = cfg.sources.len(), "starting pipeline");
    if cfg.sources.iter().all(|s| !s.enabled) {
        tracing::warn!("no enabled [[sources]] in the config: only the stages and the API run");
    }
    let all = a.role.is_empty() || a.role.iter().any(|r| r == "all");
    let has = |r: &str| all || a.role.iter().any(|x| x == r);
    if !all && cfg.log == "embedded" && a.role.len() < 4 {
        tracing::warn!(roles = ?a.role, "a process with only some roles on the embedded log: the other roles must run in this same process's data dir, which is locked; use kafka:// and postgres:// to split roles across processes");
    }
    let pipeline = Pipeline::build(cfg).await?;
    let opts = RunOptions {
        exit_when_idle: a.exit_when_idle,
        start_sources: has("ingest"),
        start_api: has("api") && !a.no_api,
        stages: ["normalize", "enrich"]
            .into_iter()
            .filter(|s| has(s))
            .map(String::from)
            .collect(),
        on_listen: Some(super::announce_api),
    };
    tracing::info!(sources = opts.start_sources, api = opts.start_api, stages = ?opts.stages, "roles");
    let summary = pipeline.run(opts, shutdown_signal()).await?;
    eprintln!(
        "run: {} items stored, {} dead letters; stopped after {:.1} s: {}",
        summary.counts.contents, summary.counts.dlq, summary.elapsed_secs, summary.stopped_because
    );
    Ok(ExitCode::SUCCESS)
}
