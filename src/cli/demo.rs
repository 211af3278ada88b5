//! `sigflow demo`: the bundled dataset through the whole pipeline, API on.

use std::process::ExitCode;

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
    let pipeline = Pipeline::build(cfg).await?;
    let opts = RunOptions {
        exit_when_idle: a.exit_when_idle,
        roles: RunOptions::all_roles(),
        on_listen: Some(super::announce_api),
    };
    let summary = pipeline.run(opts, shutdown_signal()).await?;
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
