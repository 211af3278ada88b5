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
    /// Serve the API on a non-loopback address without API keys (anyone who reaches
    /// it can read everything and change sources). Logged loudly at every start.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Do not start the HTTP API.
    #[arg(long)]
    pub no_api: bool,
    /// What this process does, as a comma list of roles (default: all of them). With a
    /// shared log and store (kafka:// + postgres://) run one process per role, and N
    /// processes of a stage role to share its partitions, e.g. `--role ingest,api` on
    /// one host and `--role normalize` on two.
    #[arg(long, value_name = "ROLES", value_delimiter = ',', value_parser = role_parser())]
    pub role: Vec<String>,
    #[command(flatten)]
    pub data: DataArgs,
}

/// The roles of the service registry, each with what it runs, plus `all`.
fn role_parser() -> clap::builder::PossibleValuesParser {
    let mut values: Vec<clap::builder::PossibleValue> = crate::runtime::services::roles()
        .into_iter()
        .map(|(role, about)| clap::builder::PossibleValue::new(role).help(about))
        .collect();
    values.push(clap::builder::PossibleValue::new("all").help("every role (the default)"));
    clap::builder::PossibleValuesParser::new(values)
}

pub async fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let mut extra = Vec::new();
    if let Some(l) = &a.listen {
        extra.push(("api.listen", toml::Value::String(l.clone())));
    }
    if a.insecure_no_auth {
        extra.push(("api.insecure_no_auth", toml::Value::Boolean(true)));
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
    let every = RunOptions::all_roles();
    let roles: Vec<&'static str> = if a.role.is_empty() || a.role.iter().any(|r| r == "all") {
        every.clone()
    } else {
        every
            .iter()
            .copied()
            .filter(|r| a.role.iter().any(|x| x == r))
            .collect()
    };
    if cfg.log == "embedded" && roles.len() < every.len() {
        tracing::warn!(roles = ?roles, "a process with only some roles on the embedded log: the other roles must run in this same process's data dir, which is locked; use kafka:// and postgres:// to split roles across processes");
    }
    let pipeline = Pipeline::build(cfg).await?;
    let mut opts = RunOptions {
        exit_when_idle: a.exit_when_idle,
        roles,
        on_listen: Some(super::announce_api),
    };
    if a.no_api {
        opts.roles.retain(|r| *r != "api");
    }
    tracing::info!(roles = ?opts.roles, "roles");
    let summary = pipeline.run(opts, shutdown_signal()).await?;
    eprintln!(
        "run: {} items stored, {} dead letters; stopped after {:.1} s: {}",
        summary.counts.contents, summary.counts.dlq, summary.elapsed_secs, summary.stopped_because
    );
    Ok(ExitCode::SUCCESS)
}
