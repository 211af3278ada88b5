//! `sigflow dlq list|replay`: inspect dead letters; put them back on their topic.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{DataArgs, open_store};
use crate::store::Append;

#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub command: DlqCommand,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters, newest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per line (with the payload) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Re-append dead letters' input records to their topics, to be processed again by
    /// the running (or next) pipeline. Use after fixing what made them fail.
    Replay {
        /// Dead letter ids to replay (repeatable). Without ids: every one never replayed.
        #[arg(long = "id", value_name = "ID")]
        ids: Vec<String>,
    },
}

pub async fn run(a: DlqArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.data.load(&[])?;
    let crate::store::OpenedStore { store, db, .. } = open_store(&cfg)?;
    match a.command {
        DlqCommand::List { limit, json } => {
            let letters = crate::store::repos::dead_letters::list(store.sql(), limit, &[]).await?;
            if json {
                for l in &letters {
                    println!("{}", serde_json::to_string(l)?);
                }
            } else {
                println!(
                    "{:<36}  {:<9}  {:<18}  {:<5}  {:<8}  ERROR",
                    "ID", "STAGE", "TOPIC/PART@OFFSET", "ITEM", "REPLAYED"
                );
                for l in &letters {
                    let d = &l.letter;
                    let at = format!("{}/{}@{}", d.topic, d.partition, d.offset);
                    let item = d
                        .item_index
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "-".into());
                    let replayed = if l.replay_count > 0 {
                        format!("{}x", l.replay_count)
                    } else {
                        "-".into()
                    };
                    println!(
                        "{:<36}  {:<9}  {:<18}  {:<5}  {:<8}  {}",
                        d.id, d.stage, at, item, replayed, d.error
                    );
                }
                eprintln!("{} dead letter(s) shown", letters.len());
            }
        }
        DlqCommand::Replay { ids } => {
            let mut letters =
                crate::store::repos::dead_letters::list(store.sql(), usize::MAX >> 1, &ids).await?;
            if ids.is_empty() {
                letters.retain(|l| l.replayed_at.is_none());
            } else if letters.len() < ids.len() {
                let found: Vec<&str> = letters.iter().map(|l| l.letter.id.as_str()).collect();
                let missing: Vec<&String> = ids
                    .iter()
                    .filter(|i| !found.contains(&i.as_str()))
                    .collect();
                anyhow::bail!(
                    "no dead letter with id {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let log = crate::log::open(&cfg.log, db.as_ref())?;
            let n = requeue(log.as_ref(), store.as_ref(), &letters).await?;
            println!(
                "re-queued {n} record(s) for {} dead letter(s); a running pipeline picks them up within a second, \
                 otherwise the next `sigflow run`/`demo` does",
                letters.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Puts dead letters' input records back on their topics (once per record: several
/// items of one record share it) and marks the letters replayed. Returns the records
/// re-queued.
pub(super) async fn requeue(
    log: &dyn crate::log::EventLog,
    store: &dyn crate::store::Store,
    letters: &[crate::store::StoredDeadLetter],
) -> anyhow::Result<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut appends = Vec::new();
    for l in letters {
        let d = &l.letter;
        if seen.insert((d.topic.clone(), d.partition, d.offset)) {
            appends.push(Append {
                topic: d.topic.clone(),
                key: d.key.clone(),
                value: d.payload.clone(),
                ..Default::default()
            });
        }
    }
    let n = appends.len();
    if n > 0 {
        log.append(appends).await?;
    }
    let ids: Vec<String> = letters.iter().map(|l| l.letter.id.clone()).collect();
    crate::store::repos::dead_letters::mark_replayed(store.sql(), &ids).await?;
    Ok(n)
}
