//! `sigflow validate`: every config problem at once, exit 1 if any.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::{Config, DEFAULT_CONFIG};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The config file to check (defaults and SIGFLOW__* env are layered as at run time).
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        required_unless_present = "print_defaults"
    )]
    pub config: Option<PathBuf>,
    /// Print the built-in defaults (a documented starting point for a config file).
    #[arg(long)]
    pub print_defaults: bool,
}

pub fn run(a: ValidateArgs) -> anyhow::Result<ExitCode> {
    if a.print_defaults {
        print!("{DEFAULT_CONFIG}");
        return Ok(ExitCode::SUCCESS);
    }
    let path = a.config.expect("clap requires --config");
    match Config::load(Some(&path), std::env::vars(), &[]) {
        Ok(cfg) => {
            println!(
                "{}: ok (store {}, log {}, lake {}, {} source{})",
                path.display(),
                crate::store::redact_url(&cfg.store),
                crate::store::redact_url(&cfg.log),
                crate::store::redact_url(&cfg.lake),
                cfg.sources.len(),
                if cfg.sources.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errs) => {
            eprint!("{}: {errs}", path.display());
            Ok(ExitCode::FAILURE)
        }
    }
}
