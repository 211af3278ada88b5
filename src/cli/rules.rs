//! `sigflow rules check|explain|variables`: a rule file's errors (all at once, with
//! line and column), and why each rule did or did not match an item.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{DataArgs, open_store};
use crate::analyze::RuleSet;
use crate::analyze::view::VARIABLES;
use crate::model::Content;

#[derive(Debug, Args)]
#[command(
    about = "Check a rule file, or explain what it makes of an item",
    long_about = "Rules are CEL expressions in a TOML file ([analyze] rules = \"FILE\"; without one, the \
        built-in rules run — print them with `sigflow rules show-default`). Each [[rule]] has a name, \
        `when` (a CEL expression over the item), `score`, `reason`, and optionally `direction` \
        (bullish, bearish, neutral, sentiment), `assets` (a CEL expression giving a list of \
        symbols; default: the item's tickers), `group` (declared in [groups] with a priority: the \
        highest-priority matching group decides direction, assets and horizon), `horizon` (\"3d\": \
        trading days) and `mode` (live, shadow). An item's score is the sum of its matching live \
        rules' scores; a prediction is sealed at `threshold`, with confidence score / (score + \
        confidence_half). `${NAME}` / `${NAME:-default}` come from the environment.",
    after_help = "Variables a rule may use: `sigflow rules variables`."
)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Compile a rule file and print every error with its line and column (exit 1 on any).
    Check { file: PathBuf },
    /// Evaluate a rule file on one item and show each rule's result and the value of each
    /// part of its `when`.
    Explain {
        file: PathBuf,
        /// The item as JSON (a stored item's document, e.g. from /api/v1/contents/{id}).
        #[arg(long, conflicts_with = "content_id")]
        item: Option<String>,
        /// A stored item's id (read from the store of --config / --data-dir).
        #[arg(long)]
        content_id: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// The variables a rule may use, with what each holds.
    Variables,
    /// Print the built-in rule file.
    ShowDefault,
}

fn compile(file: &PathBuf) -> anyhow::Result<Result<RuleSet, Vec<String>>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(crate::stages::analyze::compile_rules(file, &text))
}

pub async fn run(a: RulesArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        RulesCommand::Check { file } => match compile(&file)? {
            Ok(set) => {
                let shadow = set
                    .rules
                    .iter()
                    .filter(|r| r.mode == crate::analyze::rules::Mode::Shadow)
                    .count();
                println!(
                    "{}: ok — {} rules ({} shadow), threshold {}, version {}",
                    file.display(),
                    set.rules.len(),
                    shadow,
                    set.threshold,
                    set.version
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(errs) => {
                for e in &errs {
                    eprintln!("{e}");
                }
                eprintln!(
                    "{} error{}",
                    errs.len(),
                    if errs.len() == 1 { "" } else { "s" }
                );
                Ok(ExitCode::FAILURE)
            }
        },
        RulesCommand::Variables => {
            for (n, what) in VARIABLES {
                println!("{n:<14} {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::ShowDefault => {
            print!("{}", crate::analyze::rules::DEFAULT_RULES);
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Explain {
            file,
            item,
            content_id,
            json,
            data,
        } => {
            let set = match compile(&file)? {
                Ok(s) => s,
                Err(errs) => {
                    errs.iter().for_each(|e| eprintln!("{e}"));
                    return Ok(ExitCode::FAILURE);
                }
            };
            let item: Content = match (item, content_id) {
                (Some(j), _) => {
                    serde_json::from_str(&j).context("--item is not a Content JSON document")?
                }
                (None, Some(id)) => {
                    let cfg = data.load(&[])?;
                    let opened = open_store(&cfg)?;
                    crate::store::repos::contents::get(opened.store.sql(), &id)
                        .await?
                        .with_context(|| format!("no stored item with id {id}"))?
                }
                (None, None) => anyhow::bail!("give the item: --item JSON or --content-id ID"),
            };
            explain(&set, &item, json)
        }
    }
}

fn explain(set: &RuleSet, item: &Content, json: bool) -> anyhow::Result<ExitCode> {
    let traces = set.explain(item);
    let e = set.evaluate(item);
    if json {
        let call = |c: &Option<crate::analyze::Call>| {
            c.as_ref().map(|c| serde_json::json!({
                "assets": c.assets.iter().map(|(a, d)| serde_json::json!({"asset": a, "direction": d})).collect::<Vec<_>>(),
                "confidence": c.confidence, "horizon_days": c.horizon_days, "group": c.group, "rules": c.rules,
            }))
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": set.version, "threshold": set.threshold, "score": e.score,
                "call": call(&e.call), "shadow_call": call(&e.shadow_call), "rules": traces,
                "errors": e.errors,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    for t in &traces {
        let mark = if t.skipped_by_source {
            "skip"
        } else if t.result == "true" {
            "MATCH"
        } else {
            "-"
        };
        let shadow = if t.shadow { " (shadow)" } else { "" };
        println!(
            "{mark:<5} {}{shadow}  score {}  → {}",
            t.rule, t.score, t.result
        );
        if t.skipped_by_source {
            continue;
        }
        for (expr, value) in &t.parts {
            println!("        {expr}  = {value}");
        }
    }
    println!(
        "\nscore {} (threshold {}), rule set {}",
        e.score, set.threshold, set.version
    );
    match &e.call {
        Some(c) => println!(
            "call: {} — confidence {}, horizon {}d, decided by group `{}`",
            c.assets
                .iter()
                .map(|(a, d)| format!("{a} {}", d.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            c.confidence,
            c.horizon_days,
            c.group
        ),
        None => println!("no call"),
    }
    if let Some(c) = &e.shadow_call {
        println!(
            "shadow call: {}",
            c.assets
                .iter()
                .map(|(a, d)| format!("{a} {}", d.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (rule, err) in &e.errors {
        println!("error in `{rule}`: {err}");
    }
    Ok(ExitCode::SUCCESS)
}
