//! `sigflow sources list|add|pause|resume|remove|test|reparse`: manage sources while
//! the pipeline runs. Changes go to the store; a running `sigflow run`/`demo` on the
//! same data applies them within a second, and they outlive restarts.

use std::process::ExitCode;

use std::time::Duration;

use clap::{Args, Subcommand};

use super::api_client::ApiClient;
use super::{DataArgs, open_store};
use crate::config::SourceConfig;
use crate::sources::catalog;
use crate::store::SourceState;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    sigflow sources add wsb --kind reddit --set 'subreddits=[\"wallstreetbets\"]' --set interval_secs=60\n  \
    sigflow sources test wsb          # poll once, print the normalized items, store nothing\n  \
    sigflow sources pause wsb\n  \
    sigflow sources reparse wsb       # after a parser fix: re-run its quarantined payloads")]
pub struct SourcesArgs {
    #[command(subcommand)]
    pub command: SourcesCommand,
    #[command(flatten)]
    pub data: DataArgs,
    /// Manage the sources of the pipeline serving this API (e.g. on another host)
    /// instead of this data directory's store. Every command then goes through the
    /// API, with the key from --api-key or $SIGFLOW_API_KEY. Without --api, changes go
    /// to the store (a running pipeline on it applies them within a second) and
    /// `list`/`test` ask the local pipeline at `api.listen` when one answers.
    #[arg(long, value_name = "HOST:PORT", global = true)]
    pub api: Option<String>,
    /// API key for --api (scope write for pause/resume, admin for add/remove/test).
    #[arg(
        long,
        value_name = "KEY",
        global = true,
        env = "SIGFLOW_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Every source with its state, origin (config file or run time) and cursor.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Define a source at run time (validated first; persisted).
    Add {
        name: String,
        /// Source kind (reddit, truthsocial, mastodon, x, sec, fed, rss, congress, earnings, webhook, files, …).
        #[arg(long)]
        kind: String,
        /// An option as key=value; the value is read as TOML (numbers, true/false, ["lists"]),
        /// or taken as a string. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Replace an existing source of that name.
        #[arg(long)]
        replace: bool,
    },
    /// Stop polling a source (its cursor is kept).
    Pause { name: String },
    /// Start polling a paused source again, from its cursor.
    Resume { name: String },
    /// Remove a source (its stored items and cursor stay).
    Remove { name: String },
    /// Poll a source once from scratch and print the normalized items; stores nothing.
    Test {
        name: String,
        /// Print at most this many items.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Lift a source's parser-drift quarantine and re-run its unparsed payloads.
    Reparse { name: String },
}

fn parse_set(kv: &str) -> anyhow::Result<(String, toml::Value)> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--set `{kv}`: expected KEY=VALUE"))?;
    let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()));
    Ok((k.trim().to_string(), value))
}

pub async fn run(a: SourcesArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.data.load(&[])?;
    if let Some(addr) = &a.api {
        let client = super::api_client::ApiClient::new(addr, a.api_key.clone())?;
        return remote(&client, a.command).await;
    }
    let opened = open_store(&cfg)?;
    opened.store.migrate().await?;
    let store = opened.store.clone();
    let api = cfg.api.listen.clone();
    let local = super::api_client::ApiClient::new(&api, a.api_key.clone())?;
    match a.command {
        SourcesCommand::List { json } => {
            // A running pipeline knows its sources (the demo's included) and their
            // health: ask it first; without one, read the catalog from the store.
            let rows: Vec<serde_json::Value> = match live(&local).await {
                Some(items) => items,
                None => {
                    let mut rows = Vec::new();
                    for e in catalog::load(&cfg.sources, store.as_ref()).await? {
                        let mut v = serde_json::to_value(&e)?;
                        v["cursor"] = serde_json::json!(
                            crate::store::repos::cursors::get(store.sql(), &e.config.name).await?
                        );
                        rows.push(v);
                    }
                    if !json {
                        eprintln!(
                            "(no pipeline answered on {api}: health not shown; --api names another address)"
                        );
                    }
                    rows
                }
            };
            if json {
                for r in &rows {
                    println!("{r}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<16} {:<11} {:<7} {:<7} {:<9} {:<20} {:<20} NOTE",
                "NAME", "KIND", "STATE", "ORIGIN", "HEALTH", "LAST SUCCESS", "NEXT POLL"
            );
            for r in &rows {
                let s = |v: &serde_json::Value| {
                    v.as_str()
                        .unwrap_or("-")
                        .chars()
                        .take(19)
                        .collect::<String>()
                };
                let h = &r["health"];
                let note = match (r["quarantine"].as_str(), h["last_error"].as_str()) {
                    (Some(q), _) => format!("QUARANTINED: {q}"),
                    (None, Some(err)) => format!("last error: {err}"),
                    (None, None) => r["cursor"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .take(50)
                        .collect(),
                };
                println!(
                    "{:<16} {:<11} {:<7} {:<7} {:<9} {:<20} {:<20} {note}",
                    s(&r["name"]),
                    s(&r["kind"]),
                    s(&r["state"]),
                    s(&r["origin"]),
                    s(&h["status"]),
                    s(&h["last_success"]),
                    s(&h["next_poll"]),
                );
            }
            eprintln!("{} source(s)", rows.len());
        }
        SourcesCommand::Add {
            name,
            kind,
            set,
            replace,
        } => {
            let mut options = toml::Table::new();
            for kv in &set {
                let (k, v) = parse_set(kv)?;
                options.insert(k, v);
            }
            let sc = SourceConfig {
                name: name.clone(),
                kind,
                enabled: true,
                options,
            };
            match catalog::add(&cfg.sources, store.as_ref(), &sc, replace).await {
                Ok(_) => {
                    println!("source `{name}` added; a running pipeline starts it within a second")
                }
                Err(errs) => {
                    for e in &errs {
                        eprintln!("error: source `{name}`: {e}");
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        SourcesCommand::Pause { name } => {
            state(&cfg.sources, store.as_ref(), &name, SourceState::Paused).await?
        }
        SourcesCommand::Resume { name } => {
            state(&cfg.sources, store.as_ref(), &name, SourceState::Active).await?
        }
        SourcesCommand::Remove { name } => {
            state(&cfg.sources, store.as_ref(), &name, SourceState::Removed).await?
        }
        SourcesCommand::Test { name, limit } => {
            // The running pipeline's definition when there is one (the demo's, say).
            let entries = catalog::load(&cfg.sources, store.as_ref()).await?;
            let Some(e) = entries.iter().find(|e| e.config.name == name) else {
                // Not defined here: the local pipeline's own (the demo's, say).
                if live(&local).await.is_some() {
                    return print_test(&local, &name, limit).await;
                }
                anyhow::bail!("no source named `{name}`");
            };
            let results = catalog::test_once(&e.config)
                .await
                .map_err(|e| anyhow::anyhow!("source `{name}`: {e}"))?;
            let (mut shown, mut good, mut bad) = (0, 0, 0);
            for (format, items) in results {
                for item in items {
                    match item {
                        Ok(c) => {
                            good += 1;
                            if shown < limit {
                                println!("{}", serde_json::to_string(&c)?);
                                shown += 1;
                            }
                        }
                        Err(err) => {
                            bad += 1;
                            eprintln!("problem ({format}, item {}): {}", err.index, err.error);
                        }
                    }
                }
            }
            eprintln!(
                "test {name}: {good} item(s), {bad} problem(s), {shown} shown; nothing stored"
            );
            if bad > 0 && good == 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        SourcesCommand::Reparse { name } => {
            let mut defs = crate::store::repos::source_defs::list(store.sql()).await?;
            let quarantined = defs
                .iter_mut()
                .find(|d| d.name == name)
                .filter(|d| d.quarantine.is_some());
            if let Some(d) = quarantined {
                d.quarantine = None;
                d.updated_at = chrono::Utc::now();
                crate::store::repos::source_defs::put(store.sql(), d).await?;
            }
            // Every dead letter of this source's raw payloads, never replayed.
            let letters: Vec<_> =
                crate::store::repos::dead_letters::list(store.sql(), usize::MAX >> 1, &[])
                    .await?
                    .into_iter()
                    .filter(|l| l.replayed_at.is_none() && l.letter.stage == "normalize")
                    .filter(|l| {
                        serde_json::from_slice::<crate::model::RawEvent>(&l.letter.payload)
                            .is_ok_and(|r| r.source == name)
                    })
                    .collect();
            let log = crate::log::open(&cfg.log, opened.db.as_ref())?;
            let n = super::dlq::requeue(log.as_ref(), store.as_ref(), &letters).await?;
            println!("source `{name}`: quarantine lifted; {n} payload(s) re-queued for parsing");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn state(
    config: &[SourceConfig],
    store: &dyn crate::store::Store,
    name: &str,
    state: SourceState,
) -> anyhow::Result<()> {
    catalog::set_state(config, store, name, state)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    println!(
        "source `{name}` {}; a running pipeline applies it within a second",
        past(state)
    );
    Ok(())
}

fn past(state: SourceState) -> &'static str {
    match state {
        SourceState::Active => "resumed",
        SourceState::Paused => "paused",
        SourceState::Removed => "removed",
    }
}

/// The sources of a running pipeline, from its API, if one answers within a second.
async fn live(api: &ApiClient) -> Option<Vec<serde_json::Value>> {
    let (code, v) = api
        .send(
            reqwest::Method::GET,
            "/api/v1/sources",
            None,
            Duration::from_secs(1),
        )
        .await
        .ok()?;
    (code == 200)
        .then(|| v["items"].as_array().cloned())
        .flatten()
}

/// Every command through a (possibly remote) pipeline's API.
async fn remote(api: &ApiClient, cmd: SourcesCommand) -> anyhow::Result<ExitCode> {
    let t = Duration::from_secs(60);
    let (method, path, body, done) = match cmd {
        SourcesCommand::List { json } => {
            let (code, v) = api
                .send(reqwest::Method::GET, "/api/v1/sources", None, t)
                .await?;
            api.check(code, &v)?;
            for r in v["items"].as_array().cloned().unwrap_or_default() {
                if json {
                    println!("{r}");
                } else {
                    println!(
                        "{:<16} {:<11} {:<7} {:<7} {}",
                        r["name"].as_str().unwrap_or("-"),
                        r["kind"].as_str().unwrap_or("-"),
                        r["state"].as_str().unwrap_or("-"),
                        r["origin"].as_str().unwrap_or("-"),
                        r["health"]["status"].as_str().unwrap_or("-")
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        SourcesCommand::Test { name, limit } => return print_test(api, &name, limit).await,
        SourcesCommand::Reparse { .. } => {
            anyhow::bail!("reparse works on the store: run it where the data is (without --api)")
        }
        SourcesCommand::Add {
            name,
            kind,
            set,
            replace,
        } => {
            let mut options = serde_json::Map::new();
            for kv in &set {
                let (k, v) = parse_set(kv)?;
                options.insert(k, serde_json::to_value(v)?);
            }
            let body = serde_json::json!({"name": name, "kind": kind, "options": options, "replace": replace});
            (
                reqwest::Method::POST,
                "/api/v1/sources".to_string(),
                Some(body),
                format!("source `{name}` added"),
            )
        }
        SourcesCommand::Pause { name } => (
            reqwest::Method::POST,
            format!("/api/v1/sources/{name}/pause"),
            None,
            format!("source `{name}` paused"),
        ),
        SourcesCommand::Resume { name } => (
            reqwest::Method::POST,
            format!("/api/v1/sources/{name}/resume"),
            None,
            format!("source `{name}` resumed"),
        ),
        SourcesCommand::Remove { name } => (
            reqwest::Method::DELETE,
            format!("/api/v1/sources/{name}"),
            None,
            format!("source `{name}` removed"),
        ),
    };
    let (code, v) = api.send(method, &path, body, t).await?;
    api.check(code, &v)?;
    println!("{done} (by the pipeline at {})", api.base());
    Ok(ExitCode::SUCCESS)
}

/// `POST …/test` on a pipeline, its items and problems printed.
async fn print_test(api: &ApiClient, name: &str, limit: usize) -> anyhow::Result<ExitCode> {
    let path = format!("/api/v1/sources/{name}/test");
    let (code, body) = api
        .send(reqwest::Method::POST, &path, None, Duration::from_secs(60))
        .await?;
    api.check(code, &body)?;
    let items = body["items"].as_array().cloned().unwrap_or_default();
    let problems = body["problems"].as_array().cloned().unwrap_or_default();
    for it in items.iter().take(limit) {
        println!("{it}");
    }
    for p in &problems {
        eprintln!(
            "problem ({}, item {}): {}",
            p["format"], p["index"], p["error"]
        );
    }
    eprintln!(
        "test {name}: {} item(s), {} problem(s), {} shown; nothing stored",
        items.len(),
        problems.len(),
        items.len().min(limit)
    );
    Ok(if items.is_empty() && !problems.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
