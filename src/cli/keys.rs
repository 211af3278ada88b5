//! `sigflow keys create|list|revoke`: the API's keys. A key is printed once, when it
//! is made; the store keeps only its hash.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::{DataArgs, open_store};
use crate::store::repos::api_keys;
use sigflow_core::apikey::{self, Scope};

#[derive(Debug, Args)]
#[command(
    after_help = "Send a key as `Authorization: Bearer sfk_…`. Scopes nest: \
    read (every GET), write (+ pause/resume sources), admin (+ add/remove/test sources, \
    upstream error details in /readyz).\n\
    Example: sigflow keys create --name grafana --scope read"
)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it (once: it cannot be shown again).
    Create {
        /// Who or what uses it, e.g. `grafana` or `alice-laptop`.
        #[arg(long)]
        name: String,
        /// read, write or admin.
        #[arg(long, value_parser = ["read", "write", "admin"])]
        scope: String,
        /// Print `{"key": …, "id": …}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every key: id, name, scope, when made, when revoked.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke keys by id or name (the API refuses them within two seconds).
    Revoke {
        /// A key's id (the 8 characters after `sfk_`) or its name.
        which: String,
    },
}

pub async fn run(a: KeysArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.data.load(&[])?;
    let opened = open_store(&cfg)?;
    opened.store.migrate().await?;
    let db = opened.store.sql();
    match a.command {
        KeysCommand::Create { name, scope, json } => {
            let name = name.trim().to_string();
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                bail!("--name: 1 to 100 printable characters");
            }
            let scope = Scope::parse(&scope).context("--scope: read, write or admin")?;
            let mut random = [0u8; 80];
            getrandom::fill(&mut random)
                .map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
            let k = apikey::generate(&random);
            api_keys::create(db, &k.id, &name, scope.as_str(), &k.hash).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"key": k.key, "id": k.id, "name": name, "scope": scope.as_str()})
                );
            } else {
                println!("{}", k.key);
                eprintln!(
                    "key {} (`{name}`, scope {}) created. It is shown this once: store it now.",
                    k.id,
                    scope.as_str()
                );
            }
        }
        KeysCommand::List { json } => {
            let keys = api_keys::list(db).await?;
            if json {
                for k in &keys {
                    println!("{}", serde_json::to_string(k)?);
                }
            } else {
                println!(
                    "{:<8}  {:<6}  {:<20}  {:<20}  NAME",
                    "ID", "SCOPE", "CREATED", "REVOKED"
                );
                for k in &keys {
                    let when = |us: i64| {
                        chrono::DateTime::from_timestamp_micros(us)
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                            .unwrap_or_default()
                    };
                    println!(
                        "{:<8}  {:<6}  {:<20}  {:<20}  {}",
                        k.id,
                        k.scope,
                        when(k.created_at),
                        k.revoked_at.map(when).unwrap_or_else(|| "-".into()),
                        k.name
                    );
                }
                eprintln!("{} key(s)", keys.len());
            }
        }
        KeysCommand::Revoke { which } => {
            let gone = api_keys::revoke(db, &which).await?;
            if gone.is_empty() {
                eprintln!("no working key with id or name `{which}` (see `sigflow keys list`)");
                return Ok(ExitCode::FAILURE);
            }
            for k in gone {
                println!("revoked {} (`{}`, scope {})", k.id, k.name, k.scope);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
