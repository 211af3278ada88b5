//! `demo`: replays the bundled dataset (demo/dataset/, compiled into the binary) in
//! file order, paced at `speed` items per second (or as fast as possible with "max").
//! The cursor is the last file replayed, so a restart resumes where it stopped.

use std::time::Duration;

use async_trait::async_trait;
use rust_embed::RustEmbed;
use serde::Deserialize;

use super::{Payload, Poll, Source, SourceError, parse_speed};
use crate::sources::SourceConfig;

#[derive(RustEmbed)]
#[folder = "../../demo/dataset/"]
struct Dataset;

/// How many files one poll may hand over at full speed: enough to amortise the
/// commit, few enough that the cursor moves often.
const MAX_FILES_PER_POLL: usize = 8;

#[derive(Debug, Clone, Deserialize)]
pub struct ManifestFile {
    pub file: String,
    pub format: String,
    pub items: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub files: Vec<ManifestFile>,
    pub good_items: u64,
    pub good_keys: Vec<String>,
    pub poison: Vec<serde_json::Value>,
}

/// The bundled dataset's manifest (also used by tests and `sigflow demo` to report).
pub fn demo_manifest() -> Manifest {
    let raw = Dataset::get("manifest.json").expect("demo/dataset/manifest.json is bundled");
    serde_json::from_slice(&raw.data).expect("bundled manifest is valid")
}

/// Every good item of the bundled dataset, normalized (for benchmarks and tests).
pub fn demo_items() -> Vec<crate::model::Content> {
    let cx = crate::normalize::RawContext {
        fetched_by: "demo",
        lake_key: "demo",
        observed_at: chrono::Utc::now(),
    };
    let mut out = Vec::new();
    for f in demo_manifest().files {
        let (Some(raw), Some(n)) = (Dataset::get(&f.file), crate::normalize::find(&f.format))
        else {
            continue;
        };
        if let Ok(items) = n.normalize(&raw.data, &cx) {
            out.extend(items.into_iter().filter_map(Result::ok));
        }
    }
    out
}

pub struct DemoSource {
    name: String,
    speed: Option<f64>,
    manifest: Manifest,
    /// Items of the previous poll still to be "paid for" before the next one.
    owed: Duration,
}

pub(super) fn validate(cfg: &SourceConfig) -> Vec<String> {
    let mut errs = Vec::new();
    if let Err(e) = parse_speed(cfg.options.get("speed")) {
        errs.push(e);
    }
    for k in cfg.options.keys().filter(|k| k.as_str() != "speed") {
        errs.push(format!(
            "unknown option `{k}` for kind `demo` (known: speed)"
        ));
    }
    errs
}

impl DemoSource {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, String> {
        Ok(DemoSource {
            name: cfg.name.clone(),
            speed: parse_speed(cfg.options.get("speed"))?,
            manifest: demo_manifest(),
            owed: Duration::ZERO,
        })
    }
}

#[async_trait]
impl Source for DemoSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&mut self, cursor: Option<&str>) -> Result<Poll, SourceError> {
        if !self.owed.is_zero() {
            tokio::time::sleep(std::mem::take(&mut self.owed)).await;
        }
        let start = match cursor {
            None => 0,
            Some(c) => match self.manifest.files.iter().position(|f| f.file == c) {
                Some(i) => i + 1,
                None => {
                    return Err(SourceError::Fatal(format!(
                        "demo cursor `{c}` names no bundled file"
                    )));
                }
            },
        };
        let take = if self.speed.is_some() {
            1
        } else {
            MAX_FILES_PER_POLL
        };
        let files: Vec<&ManifestFile> = self.manifest.files.iter().skip(start).take(take).collect();
        let Some(last) = files.last() else {
            return Ok(Poll::Done);
        };
        let mut payloads = Vec::with_capacity(files.len());
        let mut items = 0;
        for f in &files {
            let body = Dataset::get(&f.file)
                .ok_or_else(|| SourceError::Fatal(format!("bundled file {} is missing", f.file)))?;
            let mut meta = serde_json::Map::new();
            meta.insert("file".into(), f.file.clone().into());
            payloads.push(Payload {
                format: f.format.clone(),
                body: body.data.into_owned(),
                meta,
            });
            items += f.items.max(1);
        }
        if let Some(speed) = self.speed {
            self.owed = Duration::from_secs_f64(items as f64 / speed);
        }
        Ok(Poll::Payloads {
            payloads,
            cursor: last.file.clone(),
        })
    }
}
