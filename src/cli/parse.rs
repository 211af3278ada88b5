//! `sigflow parse`: raw payload files → normalized items as JSON lines on stdout;
//! problems on stderr; exit 1 if any payload or item failed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::normalize::{self, RawContext};

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The format of the files: truthsocial, mastodon, reddit, x, sec, fed.
    #[arg(long, short = 's', value_name = "NAME")]
    pub source: String,
    /// Raw payload files, exactly as the platform sent them.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

pub fn run(a: ParseArgs) -> anyhow::Result<ExitCode> {
    let n = normalize::find(&a.source).with_context(|| {
        format!(
            "unknown source format `{}` (known: {})",
            a.source,
            normalize::names().join(", ")
        )
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    let mut items = 0usize;
    for f in &a.files {
        let body = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let key = f.display().to_string();
        let cx = RawContext {
            fetched_by: "parse",
            lake_key: &key,
            observed_at: chrono::Utc::now(),
        };
        match n.normalize(&body, &cx) {
            Ok(list) => {
                for item in list {
                    match item {
                        Ok(c) => {
                            items += 1;
                            serde_json::to_writer(&mut out, &c)?;
                            out.write_all(b"\n")?;
                        }
                        Err(e) => {
                            failed += 1;
                            eprintln!("{}: item {}: {}", f.display(), e.index, e.error);
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e}", f.display());
            }
        }
    }
    out.flush()?;
    eprintln!(
        "parse: {items} items from {} file(s), {failed} problem(s)",
        a.files.len()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
