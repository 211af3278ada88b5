//! `sigflow topics create|describe`: create topics explicitly (partitions, retention),
//! and see the log as it is: topics, partitions, offsets, and how far each stage
//! (consumer group) has read.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{DataArgs, open_store};

#[derive(Debug, Args)]
pub struct TopicsArgs {
    #[command(subcommand)]
    pub command: TopicsCommand,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Topics with per-partition start/end offsets and each consumer group's position.
    Describe {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create sigflow's topics (or one named topic) with the configured or given
    /// partitions and retention. An existing topic takes the new retention and may
    /// grow its partitions (never shrink: records would be stranded).
    Create {
        /// Only this topic (default: raw, content, enriched).
        #[arg(long)]
        name: Option<String>,
        /// Partitions (default: `topics.partitions` of the config).
        #[arg(long)]
        partitions: Option<u32>,
        /// Retention in hours (default: `topics.retention_hours`).
        #[arg(long)]
        retention_hours: Option<u64>,
    },
}

pub async fn run(a: TopicsArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.data.load(&[])?;
    let crate::store::OpenedStore { store, db, .. } = open_store(&cfg)?;
    let log = crate::log::open(&cfg.log, db.as_ref())?;
    let json = match a.command {
        TopicsCommand::Describe { json } => json,
        TopicsCommand::Create {
            name,
            partitions,
            retention_hours,
        } => {
            let names: Vec<String> = match name {
                Some(n) => vec![n],
                None => crate::runtime::services::topics()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            };
            let partitions = partitions.unwrap_or(cfg.topics.partitions);
            if !(1..=4096).contains(&partitions) {
                anyhow::bail!("--partitions must be from 1 to 4096");
            }
            let hours = retention_hours.unwrap_or(cfg.topics.retention_hours);
            for n in names {
                log.create_topic(&crate::log::TopicSpec {
                    name: n.clone(),
                    partitions,
                    retention: std::time::Duration::from_secs(hours * 3600),
                })
                .await?;
                println!("topic `{n}`: {partitions} partition(s), retention {hours} h");
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let topics = log.describe().await?;
    let mut groups = Vec::new();
    for stage in crate::runtime::services::stage_names() {
        for t in &topics {
            let offs = store.offsets(stage, &t.name).await?;
            if !offs.is_empty() {
                groups
                    .push(serde_json::json!({ "group": stage, "topic": t.name, "offsets": offs }));
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "topics": topics, "groups": groups })
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<10} {:>4} {:>10} {:>10}",
        "TOPIC", "PART", "START", "END"
    );
    for t in &topics {
        for p in &t.partitions {
            println!(
                "{:<10} {:>4} {:>10} {:>10}",
                t.name, p.partition, p.start, p.end
            );
        }
    }
    println!();
    println!(
        "{:<10} {:<10} {:>4} {:>10} {:>8}",
        "GROUP", "TOPIC", "PART", "POSITION", "LAG"
    );
    for g in &groups {
        let topic = g["topic"].as_str().unwrap_or_default();
        let t = topics.iter().find(|t| t.name == topic);
        for o in g["offsets"].as_array().into_iter().flatten() {
            let part = o["partition"].as_u64().unwrap_or(0);
            let pos = o["next_offset"].as_u64().unwrap_or(0);
            let end = t
                .and_then(|t| t.partitions.iter().find(|p| p.partition as u64 == part))
                .map(|p| p.end)
                .unwrap_or(0);
            println!(
                "{:<10} {:<10} {:>4} {:>10} {:>8}",
                g["group"].as_str().unwrap_or(""),
                topic,
                part,
                pos,
                end.saturating_sub(pos)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
