//! `sigflow markets calendar|providers|parse`: the trading calendar, the price
//! providers, and a recorded provider answer read as bars.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use super::DataArgs;
use crate::markets::{Calendar, Market};

#[derive(Debug, Args)]
#[command(about = "Trading calendars and price providers")]
pub struct MarketsArgs {
    #[command(subcommand)]
    pub command: MarketsCommand,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum MarketsCommand {
    /// The sessions from --from to --to with their open and close in UTC, closures and
    /// early closes named ("is the market open on …": `--from D --to D`). NYSE uses the
    /// bundled 2000-2027 table plus `[markets.calendar]`; crypto trades every UTC day.
    Calendar {
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: NaiveDate,
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: NaiveDate,
        /// nyse or crypto.
        #[arg(long, default_value = "nyse")]
        market: Market,
        /// One JSON object per day (sessions and closed weekdays).
        #[arg(long)]
        json: bool,
    },
    /// The price providers: which markets each serves, whether it is configured, the
    /// order tried per market.
    Providers,
    /// Read a recorded provider answer (a file) as bars, one JSON object per line; an
    /// error answer is reported with its class and exit code 1.
    Parse {
        /// csv, tiingo, massive, alphavantage, yahoo, coinbase or kraken.
        #[arg(long)]
        provider: String,
        /// The HTTP status the answer came with.
        #[arg(long, default_value_t = 200)]
        status: u16,
        #[arg(long, default_value = "nyse")]
        market: Market,
        file: PathBuf,
    },
}

pub async fn run(a: MarketsArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        MarketsCommand::Calendar {
            from,
            to,
            market,
            json,
        } => {
            let cfg = a.data.load(&[])?;
            let cal = Calendar::new(
                &cfg.markets
                    .overrides()
                    .map_err(|e| anyhow::anyhow!(e.join("; ")))?,
            )
            .map_err(anyhow::Error::msg)?;
            calendar(&cal, market, from, to, json)
        }
        MarketsCommand::Providers => {
            let cfg = a.data.load(&[])?;
            let m = crate::tracker::Markets::build(&cfg.markets).map_err(anyhow::Error::msg)?;
            for p in crate::prices::PROVIDERS {
                let markets: Vec<&str> = p.markets.iter().map(|m| m.as_str()).collect();
                let key = p
                    .key_env
                    .map(|k| format!(", key in ${k}"))
                    .unwrap_or_default();
                println!("{:<13} {:<12} {}{key}", p.name, markets.join(","), p.about);
            }
            for market in [Market::Nyse, Market::Crypto] {
                println!(
                    "order for {market}: {}",
                    m.chain.providers(market).join(" → ")
                );
            }
            for why in &m.left_out {
                println!("not used: {why}");
            }
            Ok(ExitCode::SUCCESS)
        }
        MarketsCommand::Parse {
            provider,
            status,
            market,
            file,
        } => {
            let body =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            match crate::prices::parse_recorded(&provider, status, &body, market) {
                Ok(bars) => {
                    for b in bars {
                        println!("{}", serde_json::to_string(&b)?);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    let class = if e.retryable() {
                        "retry later"
                    } else {
                        "do not retry"
                    };
                    eprintln!("{provider}: {e} ({class})");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

fn calendar(
    cal: &Calendar,
    market: Market,
    from: NaiveDate,
    to: NaiveDate,
    json: bool,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(from <= to, "--from must not be after --to");
    anyhow::ensure!(
        (to - from).num_days() <= 366 * 30,
        "at most 30 years at a time"
    );
    let mut d = from;
    let mut sessions = 0;
    while d <= to {
        let s = cal.session(market, d)?;
        let note = cal.note(market, d);
        let weekend = matches!(
            chrono::Datelike::weekday(&d),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        if json {
            let v = match s {
                Some(s) => serde_json::json!({
                    "date": d, "market": market, "open": true, "open_at": s.open, "close_at": s.close,
                    "early_close": s.early_close, "note": note,
                }),
                None => serde_json::json!({
                    "date": d, "market": market, "open": false,
                    "note": note.unwrap_or(if weekend { "weekend" } else { "closed" }),
                }),
            };
            println!("{v}");
        } else {
            match s {
                Some(s) => {
                    let early = if s.early_close {
                        format!("  early close ({})", note.unwrap_or(""))
                    } else {
                        String::new()
                    };
                    println!(
                        "{d} {}  open {}  close {}{early}",
                        weekday(d),
                        s.open.format("%H:%MZ"),
                        s.close.format("%H:%MZ")
                    );
                }
                None if !weekend => {
                    println!("{d} {}  closed: {}", weekday(d), note.unwrap_or("closed"))
                }
                None => {}
            }
        }
        sessions += s.is_some() as u32;
        d = d.succ_opt().context("date out of range")?;
    }
    if !json {
        println!("{sessions} {market} sessions from {from} to {to}");
    }
    Ok(ExitCode::SUCCESS)
}

fn weekday(d: NaiveDate) -> String {
    d.format("%a").to_string()
}
