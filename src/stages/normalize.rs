//! normalize: `raw` → `content`. Reads the payload the raw event names from the lake
//! and maps it with the format's normalizer.
//!
//! **Parser drift quarantine.** When a source's payloads stop being readable — the
//! whole payload, or every item in it — `drift_threshold` times in a row, the platform
//! has most likely changed its shape. The source is quarantined (stored, so it holds
//! across restarts): its payloads are no longer parsed but dead-lettered as `unparsed`
//! (the raw bytes stay in the lake), a `parser:{source}` health error and a metric say
//! so, and every other source goes on. `sigflow sources reparse NAME` lifts it after a
//! fix and re-queues the unparsed payloads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Effects, Reject, Stage};
use crate::error::StageError;
use crate::lake::Lake;
use crate::log::{Decoded, LogRecord, TOPIC_CONTENT, TOPIC_RAW};
use crate::model::RawEvent;
use crate::normalize::{self, RawContext};
use crate::runtime::{Health, Status};
use crate::store::{Append, SourceDef, SourceState, Store};

pub struct NormalizeStage {
    lake: Arc<dyn Lake>,
    store: Arc<dyn Store>,
    health: Health,
    drift_threshold: u32,
    /// Unreadable payloads in a row, per source.
    strikes: Mutex<HashMap<String, u32>>,
    /// Quarantined sources (name → reason), as last read from the store.
    quarantined: tokio::sync::Mutex<(Option<Instant>, HashMap<String, String>)>,
}

/// How stale the cached quarantine list may be: a `reparse` applies within this.
const QUARANTINE_REFRESH: Duration = Duration::from_secs(1);

impl NormalizeStage {
    pub fn new(
        lake: Arc<dyn Lake>,
        store: Arc<dyn Store>,
        health: Health,
        drift_threshold: u32,
    ) -> Self {
        NormalizeStage {
            lake,
            store,
            health,
            drift_threshold,
            strikes: Mutex::new(HashMap::new()),
            quarantined: tokio::sync::Mutex::new((None, HashMap::new())),
        }
    }

    /// The reason `source` is quarantined, if it is (store read at most once a second).
    async fn quarantine_of(&self, source: &str) -> Result<Option<String>, StageError> {
        let mut q = self.quarantined.lock().await;
        if q.0.is_none_or(|t| t.elapsed() >= QUARANTINE_REFRESH) {
            let now: HashMap<String, String> =
                crate::store::repos::source_defs::list(self.store.sql())
                    .await?
                    .into_iter()
                    .filter_map(|d| d.quarantine.map(|r| (d.name, r)))
                    .collect();
            for lifted in q.1.keys().filter(|k| !now.contains_key(*k)) {
                tracing::info!(source = %lifted, "parser quarantine lifted");
                self.health.remove(&format!("parser:{lifted}"));
                metrics::gauge!("sigflow_source_quarantined", "source" => lifted.clone()).set(0.0);
            }
            for (name, reason) in now.iter().filter(|(k, _)| !q.1.contains_key(*k)) {
                self.flag(name, reason);
            }
            *q = (Some(Instant::now()), now);
        }
        Ok(q.1.get(source).cloned())
    }

    fn flag(&self, source: &str, reason: &str) {
        let comp = format!("parser:{source}");
        if !self.health.snapshot().contains_key(&comp) {
            self.health.register(&comp);
        }
        self.health.set_status(
            &comp,
            Status::Failed,
            Some(format!("parser drift, quarantined: {reason}")),
        );
        metrics::gauge!("sigflow_source_quarantined", "source" => source.to_string()).set(1.0);
    }

    /// Counts an unreadable payload; quarantines the source at the threshold.
    async fn strike(&self, source: &str, format: &str, error: &str) -> Result<bool, StageError> {
        let n = {
            let mut s = self.strikes.lock().unwrap_or_else(|p| p.into_inner());
            let n = s.entry(source.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        if n < self.drift_threshold {
            return Ok(false);
        }
        let reason = format!("{n} payloads in a row unreadable as `{format}`; last: {error}");
        let mut def = crate::store::repos::source_defs::list(self.store.sql())
            .await?
            .into_iter()
            .find(|d| d.name == source)
            .unwrap_or(SourceDef {
                name: source.to_string(),
                state: SourceState::Active,
                kind: None,
                options: None,
                quarantine: None,
                updated_at: chrono::Utc::now(),
            });
        if def.quarantine.is_none() {
            tracing::error!(
                source,
                format,
                error,
                "parser drift: source quarantined; fix the parser, then `sigflow sources reparse {source}`"
            );
            metrics::counter!("sigflow_parser_drift_total", "source" => source.to_string())
                .increment(1);
            def.quarantine = Some(reason.clone());
            def.updated_at = chrono::Utc::now();
            crate::store::repos::source_defs::put(self.store.sql(), &def).await?;
        }
        self.flag(source, &reason);
        let mut q = self.quarantined.lock().await;
        q.1.insert(source.to_string(), reason);
        Ok(true)
    }

    fn clear_strikes(&self, source: &str) {
        self.strikes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(source);
    }
}

#[async_trait]
impl Stage for NormalizeStage {
    fn name(&self) -> &'static str {
        "normalize"
    }

    fn input(&self) -> &'static str {
        TOPIC_RAW
    }

    async fn process(&self, record: &LogRecord) -> Result<Effects, StageError> {
        let raw: RawEvent = serde_json::from_slice(&record.value).map_err(|e| {
            StageError::poison(format!(
                "raw event is not valid JSON of the raw schema: {e}"
            ))
        })?;
        let normalizer = normalize::find(&raw.format).ok_or_else(|| {
            StageError::poison(format!(
                "no normalizer for format `{}` (known: {})",
                raw.format,
                normalize::names().join(", ")
            ))
        })?;
        if let Some(reason) = self.quarantine_of(&raw.source).await? {
            return Err(StageError::poison(format!(
                "unparsed: source `{}` is quarantined for parser drift ({reason}); fix the parser, then run `sigflow sources reparse {}`",
                raw.source, raw.source
            )));
        }
        let body = self.lake.get(&raw.lake_key).await?;
        let cx = RawContext {
            fetched_by: &raw.source,
            lake_key: &raw.lake_key,
            observed_at: raw.observed_at,
        };
        let result = normalizer.normalize(&body, &cx);
        let unreadable = match &result {
            Err(e) => Some(e.0.clone()),
            Ok(items) if !items.is_empty() && items.iter().all(Result::is_err) => {
                items.iter().find_map(|i| {
                    i.as_ref()
                        .err()
                        .map(|e| format!("every item failed, e.g. {}", e.error))
                })
            }
            Ok(_) => None,
        };
        match unreadable {
            Some(err) => {
                if self.strike(&raw.source, &raw.format, &err).await?
                    && let Err(e) = result
                {
                    return Err(StageError::poison(format!("{e} (source now quarantined)")));
                }
            }
            None => self.clear_strikes(&raw.source),
        }
        let mut items = result?;
        // A source's backfill window (`meta.not_before`): items disclosed earlier are
        // history the user did not ask for. Decided by the raw event, so replays agree.
        if let Some(nb) = raw
            .meta
            .get("not_before")
            .and_then(|v| v.as_str())
            .and_then(crate::normalize::parse_rfc3339)
        {
            let before = items.len();
            items.retain(|i| match i {
                Ok(c) => c.disclosed_at.unwrap_or(c.happened_at) >= nb,
                Err(_) => true,
            });
            let skipped = (before - items.len()) as u64;
            if skipped > 0 {
                metrics::counter!("sigflow_items_before_backfill_total", "source" => raw.source.clone())
                    .increment(skipped);
            }
        }
        let mut fx = Effects::default();
        for item in items {
            match item {
                Ok(content) => {
                    let value = serde_json::to_vec(&content)
                        .map_err(|e| StageError::fatal(e.to_string()))?;
                    fx.outputs.push(Append {
                        topic: TOPIC_CONTENT.into(),
                        key: Some(content.id.to_string().into_bytes()),
                        value,
                        // Enrich in this process takes the item as is (embedded log).
                        decoded: Decoded::new(std::sync::Arc::new(content)),
                    });
                }
                Err(e) => fx.rejects.push(Reject {
                    item_index: e.index,
                    error: e.error,
                    detail: e.detail,
                }),
            }
        }
        // Per-source item counts for the health board and metrics (a batch retried
        // after a transient failure counts again: these are rates, not a ledger).
        let n = fx.outputs.len() as u64;
        metrics::counter!("sigflow_source_items_total", "source" => raw.source.clone())
            .increment(n);
        self.health
            .update(&format!("source:{}", raw.source), |c| c.items += n);
        Ok(fx)
    }
}
