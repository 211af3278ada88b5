//! The catalog: which sources exist right now, and in what state. It is the config
//! file's `[[sources]]` overlaid with what was changed at run time (stored
//! [`SourceDef`]s): a stored row pauses, resumes or removes a config source, or defines
//! a source of its own. The running pipeline, the CLI and the API all read it here, so
//! they never disagree.

use chrono::Utc;
use serde::Serialize;

use super::{Poll, SourceError};
use crate::normalize::{Normalized, RawContext};
use crate::sources::SourceConfig;
use crate::store::{SourceDef, SourceState, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The effective definition: name, kind, options.
    #[serde(flatten)]
    pub config: SourceConfig,
    pub state: SourceState,
    /// `config` (the file) or `runtime` (added through the CLI or API).
    pub origin: &'static str,
    /// Why parsing is stopped (parser drift), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
}

/// The sources as they stand: config first (in file order), then run-time ones.
pub fn effective(config: &[SourceConfig], defs: &[SourceDef]) -> Vec<Entry> {
    let mut out = Vec::new();
    for c in config {
        let def = defs.iter().find(|d| d.name == c.name);
        // A run-time definition with the same name replaces the file's.
        let (cfg, origin) = match def.and_then(runtime_config) {
            Some(rc) => (rc, "runtime"),
            None => (c.clone(), "config"),
        };
        let state = match def {
            Some(d) => d.state,
            None if c.enabled => SourceState::Active,
            None => SourceState::Paused,
        };
        out.push(Entry {
            config: cfg,
            state,
            origin,
            quarantine: def.and_then(|d| d.quarantine.clone()),
        });
    }
    for d in defs {
        if config.iter().any(|c| c.name == d.name) {
            continue;
        }
        let Some(cfg) = runtime_config(d) else {
            continue;
        };
        out.push(Entry {
            config: cfg,
            state: d.state,
            origin: "runtime",
            quarantine: d.quarantine.clone(),
        });
    }
    out.retain(|e| e.state != SourceState::Removed);
    out
}

fn runtime_config(d: &SourceDef) -> Option<SourceConfig> {
    let kind = d.kind.clone()?;
    let options: toml::Table = match &d.options {
        Some(o) => serde_json::from_value(o.clone()).ok()?,
        None => toml::Table::new(),
    };
    Some(SourceConfig {
        name: d.name.clone(),
        kind,
        enabled: d.state == SourceState::Active,
        options,
    })
}

/// Reads the catalog from the store.
pub async fn load(config: &[SourceConfig], store: &dyn Store) -> Result<Vec<Entry>, StoreError> {
    Ok(effective(
        config,
        &crate::store::repos::source_defs::list(store.sql()).await?,
    ))
}

/// A changed definition for `name`, keeping what the store already says about it.
pub async fn set_state(
    config: &[SourceConfig],
    store: &dyn Store,
    name: &str,
    state: SourceState,
) -> Result<SourceDef, String> {
    let defs = crate::store::repos::source_defs::list(store.sql())
        .await
        .map_err(|e| e.to_string())?;
    // A source of the file, or one defined at run time (even if removed: resume
    // brings it back).
    let known = config.iter().any(|c| c.name == name)
        || defs.iter().any(|d| d.name == name && d.kind.is_some());
    if !known {
        return Err(format!("no source named `{name}`"));
    }
    let mut def = defs
        .into_iter()
        .find(|d| d.name == name)
        .unwrap_or(SourceDef {
            name: name.to_string(),
            state,
            kind: None,
            options: None,
            quarantine: None,
            updated_at: Utc::now(),
        });
    def.state = state;
    def.updated_at = Utc::now();
    crate::store::repos::source_defs::put(store.sql(), &def)
        .await
        .map_err(|e| e.to_string())?;
    Ok(def)
}

/// Adds (or with `replace`, redefines) a run-time source after validating it.
pub async fn add(
    config: &[SourceConfig],
    store: &dyn Store,
    cfg: &SourceConfig,
    replace: bool,
) -> Result<SourceDef, Vec<String>> {
    let mut errs = Vec::new();
    if cfg.name.trim().is_empty()
        || !cfg
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        errs.push(format!(
            "name `{}` must be letters, digits, - or _",
            cfg.name
        ));
    }
    errs.extend(super::validate(cfg));
    let defs = crate::store::repos::source_defs::list(store.sql())
        .await
        .map_err(|e| vec![e.to_string()])?;
    if !replace
        && effective(config, &defs)
            .iter()
            .any(|e| e.config.name == cfg.name)
    {
        errs.push(format!(
            "a source named `{}` exists already (remove it first, or replace it)",
            cfg.name
        ));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let def = SourceDef {
        name: cfg.name.clone(),
        state: SourceState::Active,
        kind: Some(cfg.kind.clone()),
        options: Some(serde_json::to_value(&cfg.options).map_err(|e| vec![e.to_string()])?),
        quarantine: None,
        updated_at: Utc::now(),
    };
    crate::store::repos::source_defs::put(store.sql(), &def)
        .await
        .map_err(|e| vec![e.to_string()])?;
    Ok(def)
}

/// Polls a source once from scratch (no stored cursor, nothing written) and normalizes
/// what it fetched: what `sources test` shows before a source goes live.
pub async fn test_once(cfg: &SourceConfig) -> Result<Vec<(String, Normalized)>, String> {
    let mut source = super::build(cfg)?;
    let poll = source.poll(None).await.map_err(|e| match e {
        SourceError::Throttled { message, wait } => {
            format!("{message} (the platform asks to wait {}s)", wait.as_secs())
        }
        other => other.to_string(),
    })?;
    let payloads = match poll {
        Poll::Payloads { payloads, .. } => payloads,
        Poll::Idle(_) | Poll::Done => Vec::new(),
    };
    let now = Utc::now();
    let mut out = Vec::new();
    for p in payloads {
        let n = crate::normalize::find(&p.format)
            .ok_or_else(|| format!("no normalizer for format `{}`", p.format))?;
        let cx = RawContext {
            fetched_by: &cfg.name,
            lake_key: "(test: not filed)",
            observed_at: now,
        };
        let items = n.normalize(&p.body, &cx).map_err(|e| e.to_string());
        match items {
            Ok(items) => out.push((p.format.clone(), items)),
            Err(e) => out.push((
                p.format.clone(),
                vec![Err(crate::normalize::ItemError {
                    index: 0,
                    error: format!("payload not readable: {e}"),
                    detail: String::new(),
                })],
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: &str) -> SourceConfig {
        SourceConfig {
            name: name.into(),
            kind: "demo".into(),
            enabled: true,
            options: toml::Table::new(),
        }
    }

    fn def(name: &str, state: SourceState, kind: Option<&str>) -> SourceDef {
        SourceDef {
            name: name.into(),
            state,
            kind: kind.map(String::from),
            options: kind.map(|_| serde_json::json!({"speed": "max"})),
            quarantine: None,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn stored_rows_override_the_file_and_add_sources() {
        let config = [cfg("a"), cfg("b"), cfg("c")];
        let defs = [
            def("a", SourceState::Paused, None),
            def("b", SourceState::Removed, None),
            def("d", SourceState::Active, Some("demo")),
        ];
        let e = effective(&config, &defs);
        let names: Vec<(&str, SourceState, &str)> = e
            .iter()
            .map(|e| (e.config.name.as_str(), e.state, e.origin))
            .collect();
        assert_eq!(
            names,
            vec![
                ("a", SourceState::Paused, "config"),
                ("c", SourceState::Active, "config"),
                ("d", SourceState::Active, "runtime"),
            ]
        );
        assert_eq!(e[2].config.options["speed"].as_str(), Some("max"));
    }
}
