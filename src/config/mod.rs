//! Configuration: built-in defaults (`default.toml`) < config file < `SIGFLOW__*`
//! environment < command-line overrides; then validation that reports every problem at
//! once. Nothing here connects or spawns: [`Config`] is plain data for the builder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

mod analyze;
mod api;
mod markets;

pub use analyze::{AnalyzeConfig, LlmConfig};
pub use api::{ApiConfig, OutboundConfig};
pub use markets::{MarketsConfig, ProviderConfig};

pub const DEFAULT_CONFIG: &str = include_str!("default.toml");
pub const ENV_PREFIX: &str = "SIGFLOW__";

#[derive(Debug, Clone, Deserialize)]
pub struct PipelineConfig {
    pub batch_size: usize,
    pub poll_wait_ms: u64,
    pub linger_ms: u64,
    pub concurrency: usize,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    pub drift_threshold: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TopicsConfig {
    pub partitions: u32,
    pub retention_hours: u64,
    pub retention_check_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SqliteConfig {
    pub synchronous: String,
    pub busy_timeout_ms: u64,
    pub cache_kib: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LakeFilesConfig {
    pub fsync: bool,
}

pub use crate::enrich::EnrichConfig;
pub use crate::enrich::settings::SentimentConfig;

/// `[forward]`: POST every enriched item to a webhook (off while `url` is empty).
#[derive(Debug, Clone, Deserialize)]
pub struct ForwardConfig {
    pub url: String,
    pub timeout_secs: u64,
}

impl ForwardConfig {
    fn validate(&self, errors: &mut Vec<String>) {
        if self.url.is_empty() {
            return;
        }
        // The message leaves the URL out: it may hold the webhook's secret.
        if let Err(e) = sigflow_connectors::notify::webhook::check_url(&self.url) {
            errors.push(format!("forward.url: {e}"));
        }
        if !(1..=300).contains(&self.timeout_secs) {
            errors.push("forward.timeout_secs: must be from 1 to 300".into());
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LoggingConfig {
    pub format: String,
    pub level: String,
}

pub use sigflow_connectors::sources::SourceConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub store: String,
    pub log: String,
    pub lake: String,
    pub api: ApiConfig,
    pub pipeline: PipelineConfig,
    pub topics: TopicsConfig,
    pub sqlite: SqliteConfig,
    pub lake_files: LakeFilesConfig,
    pub enrich: EnrichConfig,
    pub logging: LoggingConfig,
    pub forward: ForwardConfig,
    pub analyze: AnalyzeConfig,
    pub markets: MarketsConfig,
    pub outbound: OutboundConfig,
    pub sources: Vec<SourceConfig>,
}

/// Every problem found, each as `where: what`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} configuration problem{}:",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

const TOP_LEVEL: &[&str] = &[
    "data_dir",
    "store",
    "log",
    "lake",
    "api",
    "pipeline",
    "topics",
    "sqlite",
    "lake_files",
    "enrich",
    "logging",
    "forward",
    "analyze",
    "markets",
    "outbound",
    "sources",
];

impl Config {
    /// Layers defaults, the file, the environment and `overrides` (dotted path → value),
    /// then validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[(&str, toml::Value)],
    ) -> Result<Config, ConfigErrors> {
        let mut root: toml::Table = DEFAULT_CONFIG
            .parse()
            .expect("built-in default.toml parses");
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigErrors(vec![format!("{}: cannot read: {e}", path.display())]))?;
            let user: toml::Table = text.parse().map_err(|e| {
                ConfigErrors(vec![format!("{}: not valid TOML: {e}", path.display())])
            })?;
            merge(&mut root, user);
        }
        let mut errors = Vec::new();
        let mut from_env = Vec::new();
        for (k, v) in env {
            let Some(rest) = k.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
            if path.iter().any(|p| p.is_empty()) {
                errors.push(format!("environment {k}: empty key segment"));
                continue;
            }
            set_path(&mut root, &path, env_value(&v));
            from_env.push((path.join("."), k));
        }
        for (path, v) in overrides {
            let path: Vec<String> = path.split('.').map(str::to_string).collect();
            set_path(&mut root, &path, v.clone());
        }
        Self::from_table(root, errors).map_err(|e| ConfigErrors(blame_env(e.0, &from_env)))
    }

    fn from_table(root: toml::Table, mut errors: Vec<String>) -> Result<Config, ConfigErrors> {
        for k in root.keys() {
            if !TOP_LEVEL.contains(&k.as_str()) {
                errors.push(format!(
                    "{k}: unknown key (known: {})",
                    TOP_LEVEL.join(", ")
                ));
            }
        }
        let data_dir: Option<String> = section(&root, "data_dir", &mut errors);
        let store: Option<String> = section(&root, "store", &mut errors);
        let log: Option<String> = section(&root, "log", &mut errors);
        let lake: Option<String> = section(&root, "lake", &mut errors);
        let api: Option<ApiConfig> = section(&root, "api", &mut errors);
        let pipeline: Option<PipelineConfig> = section(&root, "pipeline", &mut errors);
        let topics: Option<TopicsConfig> = section(&root, "topics", &mut errors);
        let sqlite: Option<SqliteConfig> = section(&root, "sqlite", &mut errors);
        let lake_files: Option<LakeFilesConfig> = section(&root, "lake_files", &mut errors);
        let enrich: Option<EnrichConfig> = section(&root, "enrich", &mut errors);
        let logging: Option<LoggingConfig> = section(&root, "logging", &mut errors);
        let forward: Option<ForwardConfig> = section(&root, "forward", &mut errors);
        let outbound: Option<OutboundConfig> = section(&root, "outbound", &mut errors);
        let analyze: Option<AnalyzeConfig> = section(&root, "analyze", &mut errors);
        let markets: Option<MarketsConfig> = section(&root, "markets", &mut errors);
        if let Some(m) = &markets {
            m.validate(&mut errors);
        }
        if let Some(f) = &forward {
            f.validate(&mut errors);
        }
        if let Some(a) = &analyze {
            a.validate(&mut errors);
        }
        let sources = sources(root.get("sources"), &mut errors);

        let data_dir = data_dir.map(PathBuf::from);
        let dd = data_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let expand = |s: Option<String>| s.map(|s| s.replace("{data_dir}", &dd));
        let (store, log, lake) = (expand(store), expand(log), expand(lake));

        if let Some(s) = &store {
            let shown = crate::store::redact_url(s);
            if !s.starts_with("sqlite://")
                && !s.starts_with("postgres://")
                && !s.starts_with("postgresql://")
            {
                errors.push(format!(
                    "store: unsupported URL `{shown}` (expected sqlite://PATH or postgres://USER@HOST:PORT/DB)"
                ));
            } else if s.starts_with("postgres") {
                if !cfg!(feature = "postgres") {
                    errors.push(format!("store: `{shown}` needs the `postgres` cargo feature, which this build does not have (cargo build --release --features postgres); or use sqlite://PATH"));
                } else if let Err(e) = crate::store::check_postgres_url(s) {
                    errors.push(format!("store: `{shown}`: {e}"));
                }
            } else if s == "sqlite://" {
                errors.push("store: sqlite:// needs a file path".into());
            }
        }
        if let Some(l) = &log {
            let shown = crate::store::redact_url(l);
            if l.starts_with("kafka://") {
                if !cfg!(feature = "kafka") {
                    errors.push(format!("log: `{shown}` needs the `kafka` cargo feature, which this build does not have (cargo build --release --features kafka); or use \"embedded\""));
                } else if let Err(e) = check_kafka_url(l) {
                    errors.push(format!("log: `{shown}`: {e}"));
                }
            } else if l != "embedded" {
                errors.push(format!(
                    "log: unsupported value `{shown}` (expected \"embedded\" or kafka://HOST:PORT)"
                ));
            } else if store.as_deref().is_some_and(|s| s.starts_with("postgres")) {
                errors.push(
                    "log: \"embedded\" lives in the SQLite store; with a postgres:// store set log = \"kafka://HOST:PORT\""
                        .into(),
                );
            }
        }
        if let Some(l) = &lake {
            // The query may carry test-server credentials: never echo it.
            let shown = l.split('?').next().unwrap_or(l);
            if let Some(rest) = l.strip_prefix("s3://") {
                if !cfg!(feature = "s3") {
                    errors.push(format!("lake: `{shown}` needs the `s3` cargo feature, which this build does not have (cargo build --features s3); or use file://DIR"));
                } else if rest.split(['/', '?']).next().unwrap_or("").is_empty() {
                    errors.push(format!(
                        "lake: `{shown}` names no bucket (expected s3://BUCKET[/PREFIX])"
                    ));
                }
            } else if !l.starts_with("file://") || l == "file://" {
                errors.push(format!(
                    "lake: unsupported URL `{shown}` (expected file://DIR or s3://BUCKET[/PREFIX])"
                ));
            }
        }
        if let Some(a) = &api {
            a.validate(&mut errors);
        }
        if let Some(o) = &outbound {
            o.validate(&mut errors);
        }
        if let Some(p) = &pipeline {
            range(
                &mut errors,
                "pipeline.batch_size",
                p.batch_size as u64,
                1,
                100_000,
            );
            range(
                &mut errors,
                "pipeline.poll_wait_ms",
                p.poll_wait_ms,
                1,
                60_000,
            );
            range(&mut errors, "pipeline.linger_ms", p.linger_ms, 0, 60_000);
            range(
                &mut errors,
                "pipeline.breaker_failures",
                u64::from(p.breaker_failures),
                1,
                1000,
            );
            range(
                &mut errors,
                "pipeline.drift_threshold",
                u64::from(p.drift_threshold),
                1,
                1000,
            );
            range(
                &mut errors,
                "pipeline.breaker_cooldown_secs",
                p.breaker_cooldown_secs,
                1,
                86_400,
            );
            range(
                &mut errors,
                "pipeline.concurrency",
                p.concurrency as u64,
                1,
                1024,
            );
            range(
                &mut errors,
                "pipeline.retry_initial_ms",
                p.retry_initial_ms,
                1,
                600_000,
            );
            range(
                &mut errors,
                "pipeline.retry_max_ms",
                p.retry_max_ms,
                1,
                3_600_000,
            );
            if p.retry_max_ms < p.retry_initial_ms {
                errors.push("pipeline.retry_max_ms: must be at least retry_initial_ms".into());
            }
        }
        if let Some(t) = &topics {
            range(
                &mut errors,
                "topics.partitions",
                t.partitions as u64,
                1,
                1024,
            );
            range(
                &mut errors,
                "topics.retention_hours",
                t.retention_hours,
                1,
                24 * 365 * 100,
            );
            range(
                &mut errors,
                "topics.retention_check_secs",
                t.retention_check_secs,
                1,
                86_400,
            );
        }
        if let Some(s) = &sqlite {
            if !["normal", "full"].contains(&s.synchronous.to_ascii_lowercase().as_str()) {
                errors.push(format!(
                    "sqlite.synchronous: `{}` (expected \"normal\" or \"full\")",
                    s.synchronous
                ));
            }
            range(
                &mut errors,
                "sqlite.busy_timeout_ms",
                s.busy_timeout_ms,
                1,
                600_000,
            );
            range(
                &mut errors,
                "sqlite.cache_kib",
                s.cache_kib as u64,
                64,
                16 * 1024 * 1024,
            );
        }
        if let Some(e) = &enrich {
            errors.extend(e.validate());
        }
        if let Some(l) = &logging {
            if !["auto", "json", "text"].contains(&l.format.as_str()) {
                errors.push(format!(
                    "logging.format: `{}` (expected \"auto\", \"json\" or \"text\")",
                    l.format
                ));
            }
            if tracing_subscriber::EnvFilter::try_new(&l.level).is_err() {
                errors.push(format!(
                    "logging.level: `{}` is not a valid filter",
                    l.level
                ));
            }
        }

        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let (Some(data_dir), Some(store), Some(log), Some(lake)) = (data_dir, store, log, lake)
        else {
            unreachable!("every missing section produced an error above")
        };
        let (
            Some(api),
            Some(pipeline),
            Some(topics),
            Some(sqlite),
            Some(lake_files),
            Some(enrich),
            Some(logging),
            Some(forward),
            Some(outbound),
            Some(analyze),
            Some(markets),
        ) = (
            api, pipeline, topics, sqlite, lake_files, enrich, logging, forward, outbound, analyze,
            markets,
        )
        else {
            unreachable!("every missing section produced an error above")
        };
        Ok(Config {
            data_dir,
            store,
            log,
            lake,
            api,
            pipeline,
            topics,
            sqlite,
            lake_files,
            enrich,
            logging,
            forward,
            analyze,
            markets,
            outbound,
            sources,
        })
    }

    pub fn breaker(&self) -> crate::runtime::BreakerSettings {
        crate::runtime::BreakerSettings {
            failures: self.pipeline.breaker_failures,
            cooldown: Duration::from_secs(self.pipeline.breaker_cooldown_secs),
        }
    }

    pub fn backoff(&self) -> crate::runtime::Backoff {
        crate::runtime::Backoff {
            initial: Duration::from_millis(self.pipeline.retry_initial_ms),
            max: Duration::from_millis(self.pipeline.retry_max_ms),
        }
    }

    pub fn sqlite_options(&self) -> crate::store::SqliteOptions {
        crate::store::SqliteOptions {
            synchronous_full: self.sqlite.synchronous.eq_ignore_ascii_case("full"),
            busy_timeout: Duration::from_millis(self.sqlite.busy_timeout_ms),
            cache_kib: self.sqlite.cache_kib,
        }
    }
}

pub(crate) fn range(errors: &mut Vec<String>, key: &str, v: u64, lo: u64, hi: u64) {
    if v < lo || v > hi {
        errors.push(format!("{key}: must be between {lo} and {hi} (got {v})"));
    }
}

/// Deserializes one top-level entry on its own, so that a mistake in one section does
/// not hide mistakes in the others; unknown keys are collected, not fatal.
fn section<T: DeserializeOwned>(
    root: &toml::Table,
    key: &str,
    errors: &mut Vec<String>,
) -> Option<T> {
    let Some(v) = root.get(key) else {
        errors.push(format!("{key}: missing"));
        return None;
    };
    let mut unknown = Vec::new();
    let r: Result<T, _> =
        serde_ignored::deserialize(v.clone(), |path| unknown.push(path.to_string()));
    for u in &unknown {
        errors.push(format!("{key}.{u}: unknown key"));
    }
    match r {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(format!("{key}: {}", e.to_string().trim()));
            None
        }
    }
}

fn sources(v: Option<&toml::Value>, errors: &mut Vec<String>) -> Vec<SourceConfig> {
    let Some(v) = v else { return Vec::new() };
    let Some(list) = v.as_array() else {
        errors.push("sources: must be a list of [[sources]] tables".into());
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for (i, entry) in list.iter().enumerate() {
        let Some(t) = entry.as_table() else {
            errors.push(format!("sources[{i}]: must be a table"));
            continue;
        };
        let mut options = t.clone();
        let name = options.remove("name");
        let kind = options.remove("kind");
        let enabled = options.remove("enabled");
        let label = match name.as_ref().and_then(|n| n.as_str()) {
            Some(n) => format!("sources[{i}] ({n})"),
            None => format!("sources[{i}]"),
        };
        let name = match name {
            Some(toml::Value::String(n)) if valid_name(&n) => Some(n),
            Some(toml::Value::String(n)) => {
                errors.push(format!(
                    "{label}.name: `{n}` must be 1-64 of a-z, 0-9, '-', '_'"
                ));
                None
            }
            Some(_) => {
                errors.push(format!("{label}.name: must be a string"));
                None
            }
            None => {
                errors.push(format!("{label}.name: missing"));
                None
            }
        };
        if let Some(n) = &name
            && !names.insert(n.clone())
        {
            errors.push(format!("{label}.name: `{n}` is used by another source"));
        }
        let kind = match kind {
            Some(toml::Value::String(k)) => Some(k),
            Some(_) => {
                errors.push(format!("{label}.kind: must be a string"));
                None
            }
            None => {
                errors.push(format!(
                    "{label}.kind: missing (known: {})",
                    crate::sources::KINDS.join(", ")
                ));
                None
            }
        };
        let enabled = match enabled {
            None => true,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => {
                errors.push(format!("{label}.enabled: must be true or false"));
                true
            }
        };
        if let Some(kind) = kind {
            // Kind-specific checks run even when the name is broken: report everything.
            let cfg = SourceConfig {
                name: name.clone().unwrap_or_default(),
                kind,
                enabled,
                options,
            };
            for e in crate::sources::validate(&cfg) {
                errors.push(format!("{label}: {e}"));
            }
            if name.is_some() {
                out.push(cfg);
            }
        }
    }
    out
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Environment values are TOML when they parse as a TOML value (numbers, booleans,
/// arrays), else plain strings — so `SIGFLOW__STORE=sqlite://x` needs no quotes.
/// Says which environment variable a problem comes from, when one set the key it
/// names (a typo in `SIGFLOW__…` is not the config file's fault).
fn blame_env(errors: Vec<String>, from_env: &[(String, String)]) -> Vec<String> {
    errors
        .into_iter()
        .map(|e| {
            let at = e.split(':').next().unwrap_or("");
            let var = from_env.iter().find(|(path, _)| {
                !at.is_empty() && (path == at || path.starts_with(&format!("{at}.")))
            });
            match var {
                Some((_, var)) => format!("{e} (set by the environment variable {var})"),
                None => e,
            }
        })
        .collect()
}

fn env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

fn set_path(root: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut t = root;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        t = entry.as_table_mut().expect("just made a table");
    }
    t.insert(last.clone(), value);
}

/// Deep merge: tables merge key by key; anything else (including arrays) is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(feature = "kafka")]
fn check_kafka_url(url: &str) -> Result<(), String> {
    crate::log::kafka::check_url(url)
}
#[cfg(not(feature = "kafka"))]
fn check_kafka_url(_url: &str) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(s: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let dir = std::env::temp_dir().join(format!("sigflow-cfg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(&f, s).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let r = Config::load(Some(&f), env, &[]);
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    #[test]
    fn the_defaults_name_every_source_kind_and_blame_the_environment() {
        for k in sigflow_connectors::sources::KINDS {
            assert!(
                DEFAULT_CONFIG.contains(&format!(" {k}")),
                "default.toml misses `{k}`"
            );
        }
        let env = [("SIGFLOW__APII__LISTEN".to_string(), "x".to_string())];
        let e = Config::load(None, env, &[]).unwrap_err();
        assert!(
            e.0[0].contains("environment variable SIGFLOW__APII__LISTEN"),
            "{e}"
        );
    }

    #[test]
    fn defaults_alone_are_valid() {
        let c = Config::load(None, std::iter::empty(), &[]).unwrap();
        assert_eq!(c.store, "sqlite://./sigflow-data/sigflow.db");
        assert_eq!(c.lake, "file://./sigflow-data/lake");
        assert!(c.sources.is_empty());
    }

    #[test]
    fn env_beats_file_beats_defaults() {
        let c = load_str(
            "[pipeline]\nbatch_size = 7\n",
            &[("SIGFLOW__PIPELINE__CONCURRENCY", "3"), ("OTHER", "x")],
        )
        .unwrap();
        assert_eq!(c.pipeline.batch_size, 7);
        assert_eq!(c.pipeline.concurrency, 3);
        let c = load_str(
            "[pipeline]\nbatch_size = 7\n",
            &[("SIGFLOW__PIPELINE__BATCH_SIZE", "9")],
        )
        .unwrap();
        assert_eq!(c.pipeline.batch_size, 9);
        let c = load_str(
            "data_dir = \"/tmp/x\"\n",
            &[("SIGFLOW__API__LISTEN", "127.0.0.1:9999")],
        )
        .unwrap();
        assert_eq!(c.store, "sqlite:///tmp/x/sigflow.db");
        assert_eq!(c.api.listen, "127.0.0.1:9999");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errs = load_str(
            "store = \"mysql://db\"\nbogus = 1\n[api]\nlisten = \"nowhere\"\ncolour = \"red\"\n\
             [pipeline]\nbatch_size = 0\n[[sources]]\nkind = \"myspace\"\n[[sources]]\nname = \"d\"\nkind = \"demo\"\nspeed = -1\n",
            &[],
        )
        .unwrap_err()
        .0;
        let all = errs.join("\n");
        for needle in [
            "store: unsupported URL",
            "bogus: unknown key",
            "api.listen",
            "api.colour: unknown key",
            "pipeline.batch_size",
            "sources[0].name: missing",
            "unknown kind `myspace`",
            "speed must be",
        ] {
            assert!(all.contains(needle), "missing `{needle}` in:\n{all}");
        }
    }
}
