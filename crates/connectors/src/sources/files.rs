//! `files`: replays raw payload files from a directory, in name order, as one format.
//! New files whose names sort after the cursor are picked up as they appear, so a
//! directory that a recorder keeps filling works as a live source.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use super::{Payload, Poll, Source, SourceError};
use crate::sources::SourceConfig;

/// Files handed over per poll: bounded so one huge directory cannot build one huge commit.
const MAX_FILES_PER_POLL: usize = 16;

pub struct FilesSource {
    name: String,
    dir: PathBuf,
    format: String,
    /// Stop (Done) once every file present has been replayed, instead of watching.
    once: bool,
    interval: Duration,
    /// Files that arrived after the cursor moved past their name: skipped (the cursor
    /// is a name), but said once each, so a misnamed recording is not lost silently.
    warned: std::collections::HashSet<String>,
    started: std::time::SystemTime,
    listed: usize,
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    let mut errs = Vec::new();
    match cfg.options.get("path").and_then(|v| v.as_str()) {
        None => errs.push("option `path` (a directory of payload files) is required".into()),
        Some(p) if !std::path::Path::new(p).is_dir() => {
            errs.push(format!("path `{p}` is not a directory"))
        }
        Some(_) => {}
    }
    match cfg.options.get("format").and_then(|v| v.as_str()) {
        None => errs.push(format!(
            "option `format` is required (one of: {})",
            crate::normalize::names().join(", ")
        )),
        Some(f) if crate::normalize::find(f).is_none() => errs.push(format!(
            "unknown format `{f}` (known: {})",
            crate::normalize::names().join(", ")
        )),
        Some(_) => {}
    }
    if let Some(v) = cfg.options.get("once")
        && !v.is_bool()
    {
        errs.push("option `once` must be true or false".into());
    }
    if let Some(v) = cfg.options.get("interval_secs")
        && !matches!(v.as_integer(), Some(i) if i > 0)
    {
        errs.push("option `interval_secs` must be a positive integer".into());
    }
    for k in cfg.options.keys() {
        if !["path", "format", "once", "interval_secs"].contains(&k.as_str()) {
            errs.push(format!(
                "unknown option `{k}` for kind `files` (known: path, format, once, interval_secs)"
            ));
        }
    }
    errs
}

impl FilesSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        let errs = validate(cfg);
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        let o = &cfg.options;
        let format = crate::normalize::find(o["format"].as_str().unwrap_or_default())
            .map(|n| n.name())
            .unwrap_or_default();
        Ok(FilesSource {
            name: cfg.name.clone(),
            dir: PathBuf::from(o["path"].as_str().unwrap_or_default()),
            format: format.to_string(),
            once: o.get("once").and_then(|v| v.as_bool()).unwrap_or(false),
            interval: Duration::from_secs(
                o.get("interval_secs")
                    .and_then(|v| v.as_integer())
                    .unwrap_or(5) as u64,
            ),
            warned: Default::default(),
            started: std::time::SystemTime::now(),
            listed: 0,
        })
    }
}

impl FilesSource {
    /// Warns (once per file) about files written since this source started whose names
    /// sort at or before the cursor: they will not be read.
    fn warn_late(&mut self, names: &[String], cursor: &str) {
        if names.len() == self.listed {
            return;
        }
        self.listed = names.len();
        for n in names.iter().filter(|n| n.as_str() <= cursor) {
            if self.warned.contains(n) {
                continue;
            }
            let fresh = std::fs::metadata(self.dir.join(n))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > self.started);
            if fresh && n.as_str() != cursor {
                tracing::warn!(source = %self.name, file = %n, cursor = %cursor,
                    "a new file sorts before the last one read and is skipped; name recordings so they sort in arrival order (e.g. by time)");
                self.warned.insert(n.clone());
            }
        }
    }
}

#[async_trait]
impl Source for FilesSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| {
                SourceError::Transient(format!("cannot list {}: {e}", self.dir.display()))
            })?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        if let Some(c) = cursor {
            self.warn_late(&names, c);
            names.retain(|n| n.as_str() > c);
        }
        names.sort();
        names.truncate(MAX_FILES_PER_POLL);
        let Some(last) = names.last().cloned() else {
            return Ok(if self.once {
                Poll::Done
            } else {
                Poll::Idle(self.interval)
            });
        };
        let mut payloads = Vec::with_capacity(names.len());
        for n in names {
            let body = std::fs::read(self.dir.join(&n))
                .map_err(|e| SourceError::Transient(format!("cannot read {n}: {e}")))?;
            let mut meta = serde_json::Map::new();
            meta.insert("file".into(), n.into());
            payloads.push(Payload {
                format: self.format.clone(),
                body,
                meta,
            });
        }
        Ok(Poll::Payloads {
            payloads,
            cursor: last,
        })
    }
}
