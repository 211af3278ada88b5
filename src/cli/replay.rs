//! `sigflow replay`: move a stage's consumer position back (to an offset or a time) and
//! re-run the pipeline's stages until they catch up. Ids are deterministic and writes
//! are upserts, so a replay changes only what the new code or rules compute differently.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{DataArgs, init_telemetry, shutdown_signal};
use crate::runtime::{Pipeline, RunOptions};
use crate::store::OffsetCommit;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("from").required(true).args(["from_offset", "from_time"]))]
pub struct ReplayArgs {
    /// The stage to re-run (its consumer group is moved): normalize, enrich, analyze or forward
    /// (a stage of the service registry).
    #[arg(long, value_name = "STAGE")]
    pub stage: String,
    /// Re-read every partition of the stage's input from this offset.
    #[arg(long, value_name = "N")]
    pub from_offset: Option<u64>,
    /// Re-read records appended at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub from_time: Option<String>,
    /// Only move the position; let the next `run`/`demo` do the work.
    #[arg(long)]
    pub no_run: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn run(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = a.data.load(&[])?;
    cfg.sources.clear();
    init_telemetry(&cfg);
    let pipeline = Pipeline::build(cfg).await?;
    let stage = pipeline.stage(&a.stage).with_context(|| {
        let names = crate::runtime::services::stage_names();
        if names.contains(&a.stage.as_str()) {
            format!(
                "stage `{}` is switched off by its config section (see `sigflow validate --print-defaults`)",
                a.stage
            )
        } else {
            format!("unknown stage `{}` (stages: {})", a.stage, names.join(", "))
        }
    })?;
    let topic = stage.input();
    let positions: Vec<OffsetCommit> = match (a.from_offset, &a.from_time) {
        (Some(n), _) => {
            let topics = pipeline.log.describe().await?;
            let t = topics
                .iter()
                .find(|t| t.name == topic)
                .with_context(|| format!("topic {topic} does not exist"))?;
            t.partitions
                .iter()
                .map(|p| OffsetCommit {
                    partition: p.partition,
                    next_offset: n.max(p.start),
                })
                .collect()
        }
        (None, Some(t)) => {
            let ts = chrono::DateTime::parse_from_rfc3339(t)
                .with_context(|| format!("--from-time `{t}` is not RFC 3339"))?;
            pipeline
                .log
                .offsets_for_time(topic, ts.timestamp_micros())
                .await?
        }
        (None, None) => unreachable!("clap requires one of them"),
    };
    pipeline
        .store
        .set_offsets(stage.name(), topic, &positions)
        .await?;
    let from: Vec<String> = positions
        .iter()
        .map(|p| format!("partition {} at offset {}", p.partition, p.next_offset))
        .collect();
    eprintln!(
        "replay: {} will re-read {topic} from {}",
        stage.name(),
        from.join(", ")
    );
    if a.no_run {
        return Ok(ExitCode::SUCCESS);
    }
    let opts = RunOptions {
        exit_when_idle: true,
        // Every stage downstream too, so the replayed outputs are processed; no
        // sources and no API.
        roles: RunOptions::all_roles_but(&["ingest", "api"]),
        on_listen: None,
    };
    let summary = pipeline.run(opts, shutdown_signal()).await?;
    eprintln!(
        "replay: done in {:.1} s; {} items stored, {} dead letters",
        summary.elapsed_secs, summary.counts.contents, summary.counts.dlq
    );
    Ok(ExitCode::SUCCESS)
}
