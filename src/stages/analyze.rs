//! analyze: `enriched` → the sealed ledger + `signals`. Evaluates the rules on each
//! item; when an LLM analyst is configured and the item passes triage, asks it (once,
//! through the journal); seals every resulting prediction in the item's chain (the
//! input partition) and publishes it on `signals`.
//!
//! Who decides: the LLM when it answers with a call; the rules otherwise, with
//! `fallback_reason` saying why the LLM did not decide (bypassed, abstained, down).
//! An LLM abstention is sealed too (direction `abstain`), so a silent month of parse
//! failures cannot happen. Shadow rules' calls are sealed flagged `shadow`.
//!
//! `sealed_at` is read from the clock here, when the prediction is made, one batch
//! before its commit at most; a replay of the same version seals nothing new (same
//! ids), though the `signals` topic gets the record again, as any replay does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::analyst::{Analyst, bypass};
use super::{Effects, Stage};
use crate::analyze::ledger::{self, Prediction};
use crate::analyze::{Call, Evaluation, RuleSet};
use crate::error::StageError;
use crate::health::{Health, Status};
use crate::log::{LogRecord, TOPIC_ENRICHED, TOPIC_SIGNALS};
use crate::model::Content;
use crate::store::repos::predictions;
use crate::store::{Append, Write};

pub const NAME: &str = "analyze";
/// The health component of the rule file.
pub const RULES_COMPONENT: &str = "analyze:rules";
/// The health component of the LLM analyst.
pub const LLM_COMPONENT: &str = "analyze:llm";
/// `schema_version` of a `signals` record (docs/topics.md).
pub const SIGNAL_SCHEMA_VERSION: u32 = 1;

/// The running rule set, and where its next version comes from.
pub struct Rules {
    current: RwLock<Arc<RuleSet>>,
    path: Option<PathBuf>,
    /// The text last compiled (valid or not), so an unchanged file is not recompiled.
    seen: Mutex<Option<String>>,
}

/// A rule file's text compiled with this process's environment for `${NAME}`; every
/// error shown as `FILE:LINE:COL: …`. The one way the stage, the watcher, config
/// validation and `sigflow rules` compile a file.
pub fn compile_rules(file: &std::path::Path, text: &str) -> Result<RuleSet, Vec<String>> {
    RuleSet::compile(text, &|name| std::env::var(name).ok()).map_err(|errs| {
        errs.iter()
            .map(|e| format!("{}:{e}", file.display()))
            .collect()
    })
}

impl Rules {
    /// The built-in rules, or the file's (which must compile: validation checked it).
    pub fn load(path: &str) -> Result<Rules, String> {
        if path.is_empty() {
            return Ok(Rules {
                current: RwLock::new(Arc::new(RuleSet::default_rules())),
                path: None,
                seen: Mutex::new(None),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let set = compile_rules(std::path::Path::new(path), &text).map_err(|e| e.join("; "))?;
        Ok(Rules {
            current: RwLock::new(Arc::new(set)),
            path: Some(PathBuf::from(path)),
            seen: Mutex::new(Some(text)),
        })
    }

    pub fn get(&self) -> Arc<RuleSet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the file; a changed text that compiles replaces the rules, one that does
    /// not leaves them and puts its errors on the health board.
    pub fn reload(&self, health: &Health) {
        let Some(path) = &self.path else {
            return;
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!(
                    "{}: cannot read ({e}); the previous rules keep running",
                    path.display()
                );
                health.set_status(RULES_COMPONENT, Status::Retrying, Some(msg));
                return;
            }
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.as_deref() == Some(text.as_str()) {
            return;
        }
        *seen = Some(text.clone());
        match compile_rules(path, &text) {
            Ok(set) => {
                let (old, new) = (self.get().version.clone(), set.version.clone());
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
                metrics::counter!("sigflow_rules_reloads_total", "outcome" => "applied")
                    .increment(1);
                tracing::info!(file = %path.display(), %old, %new, "rules reloaded");
                health.ok(RULES_COMPONENT, 0);
            }
            Err(shown) => {
                metrics::counter!("sigflow_rules_reloads_total", "outcome" => "invalid")
                    .increment(1);
                tracing::error!(errors = ?shown, "the new rule file is invalid; the previous rules keep running");
                health.set_status(
                    RULES_COMPONENT,
                    Status::Retrying,
                    Some(format!(
                        "invalid rule file, previous rules running: {}",
                        shown.join("; ")
                    )),
                );
            }
        }
    }
}

pub struct AnalyzeStage {
    pub rules: Arc<Rules>,
    pub analyst: Option<Analyst>,
    pub health: Health,
}

fn parse(record: &LogRecord) -> Result<std::borrow::Cow<'_, Content>, StageError> {
    // Enrich in this process handed over the stored item (embedded log tail): the
    // same value, without the parse.
    match record.decoded.get::<crate::store::StoredContent>() {
        Some(s) => Ok(std::borrow::Cow::Borrowed(&s.content)),
        None => serde_json::from_slice(&record.value)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| {
                StageError::poison(format!("enriched record is not valid Content JSON: {e}"))
            }),
    }
}

/// The parts of a prediction every row of one item shares.
struct Base<'a> {
    item: &'a Content,
    sealed_at: DateTime<Utc>,
}

impl Base<'_> {
    #[allow(clippy::too_many_arguments)]
    fn prediction(
        &self,
        analyzer: &str,
        version: &str,
        call: Option<&Call>,
        asset: (&str, &str),
        shadow: bool,
        abstain_reason: Option<String>,
        fallback_reason: Option<String>,
        llm: Option<ledger::LlmTrace>,
    ) -> Prediction {
        let item = self.item;
        Prediction {
            id: ledger::prediction_id(item.id, analyzer, version, asset.0, shadow),
            content_id: item.id,
            source: item.source.clone(),
            author: item
                .author
                .as_ref()
                .map(|a| a.handle.clone())
                .unwrap_or_default(),
            analyzer: analyzer.into(),
            version: version.into(),
            asset: asset.0.into(),
            direction: asset.1.into(),
            confidence: call.map_or(0.0, |c| c.confidence),
            horizon_days: call.map_or(0, |c| c.horizon_days),
            shadow,
            score: call.map_or(0.0, |c| c.score),
            group: call.map_or(String::new(), |c| c.group.clone()),
            rules: call.map_or(Vec::new(), |c| c.rules.clone()),
            reasons: call.map_or(Vec::new(), |c| c.reasons.clone()),
            abstain_reason,
            fallback_reason,
            llm,
            happened_at: item.happened_at,
            disclosed_at: item.disclosed_at,
            observed_at: item.observed_at,
            sealed_at: self.sealed_at,
        }
    }

    fn rows(
        &self,
        analyzer: &str,
        version: &str,
        call: &Call,
        shadow: bool,
        fallback: Option<String>,
        llm: Option<ledger::LlmTrace>,
    ) -> Vec<Prediction> {
        call.assets
            .iter()
            .map(|(a, d)| {
                self.prediction(
                    analyzer,
                    version,
                    Some(call),
                    (a, d.as_str()),
                    shadow,
                    None,
                    fallback.clone(),
                    llm.clone(),
                )
            })
            .collect()
    }
}

/// The predictions the rules make of `item` sealed at `sealed_at` (live and shadow):
/// what the stage seals, and what a backtest simulates.
pub fn rule_predictions(
    item: &Content,
    e: &Evaluation,
    sealed_at: DateTime<Utc>,
) -> Vec<Prediction> {
    rule_rows(&Base { item, sealed_at }, e, None)
}

/// The rules' rows (live and shadow) for an evaluation.
fn rule_rows(b: &Base, e: &Evaluation, fallback: Option<String>) -> Vec<Prediction> {
    let mut out = Vec::new();
    if let Some(c) = &e.call {
        out.extend(b.rows(ledger::RULES, &e.version, c, false, fallback, None));
    }
    if let Some(c) = &e.shadow_call {
        out.extend(b.rows(ledger::RULES, &e.version, c, true, None, None));
    }
    out
}

/// A `signals` record: the prediction, its chain and the schema version.
pub fn signal_record(p: &Prediction, chain: &str) -> Vec<u8> {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("schema_version".into(), SIGNAL_SCHEMA_VERSION.into());
        o.insert("chain".into(), chain.into());
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

fn effects_of(record: &LogRecord, rows: Vec<Prediction>) -> Effects {
    let chain = format!("p{}", record.partition);
    let mut fx = Effects::default();
    for p in rows {
        metrics::counter!("sigflow_predictions_total", "analyzer" => p.analyzer.clone(), "shadow" => p.shadow.to_string()).increment(1);
        fx.outputs.push(Append {
            topic: TOPIC_SIGNALS.into(),
            key: Some(p.content_id.to_string().into_bytes()),
            value: signal_record(&p, &chain),
            ..Default::default()
        });
        fx.writes
            .extend(predictions::seal(&p, &chain).into_iter().map(Write::Sql));
    }
    fx
}

impl AnalyzeStage {
    /// The rules alone (no LLM configured): pure, so batches run on a blocking thread.
    /// (Public for `bench --suite analyze`.)
    pub fn by_rules(
        set: &RuleSet,
        record: &LogRecord,
        now: DateTime<Utc>,
    ) -> Result<Effects, StageError> {
        let item = parse(record)?;
        let e = set.evaluate(&item);
        for (rule, err) in &e.errors {
            metrics::counter!("sigflow_rules_eval_errors_total", "rule" => rule.clone())
                .increment(1);
            tracing::debug!(%rule, error = %err, id = %item.id, "rule could not be evaluated");
        }
        let b = Base {
            item: &item,
            sealed_at: now,
        };
        Ok(effects_of(record, rule_rows(&b, &e, None)))
    }

    async fn with_llm(&self, analyst: &Analyst, record: &LogRecord) -> Result<Effects, StageError> {
        let item = parse(record)?;
        let set = self.rules.get();
        let e = set.evaluate(&item);
        let b = Base {
            item: &item,
            sealed_at: crate::clock::now(),
        };
        if let Some(why) = bypass(&item, e.score, analyst.triage_score) {
            let fallback = (why != "below_triage").then(|| format!("llm_bypassed: {why}"));
            return Ok(effects_of(record, rule_rows(&b, &e, fallback)));
        }
        let version = format!("{}@{}", analyst.model, analyst.prompt.version);
        let rows = match analyst.verdict(&item).await {
            Ok(v) => {
                self.health.ok(LLM_COMPONENT, 1);
                match v.call() {
                    Some(call) => {
                        let mut rows = b.rows(
                            ledger::LLM,
                            &version,
                            &call,
                            false,
                            None,
                            Some(v.trace.clone()),
                        );
                        rows.extend(rule_rows(&b, &Evaluation { call: None, ..e }, None));
                        rows
                    }
                    None => {
                        let reason = v
                            .abstain_reason
                            .clone()
                            .unwrap_or_else(|| "no_assets".into());
                        let mut rows = vec![b.prediction(
                            ledger::LLM,
                            &version,
                            None,
                            ("", ledger::ABSTAIN),
                            false,
                            Some(reason.clone()),
                            None,
                            Some(v.trace.clone()),
                        )];
                        rows.extend(rule_rows(&b, &e, Some(format!("llm_abstained: {reason}"))));
                        rows
                    }
                }
            }
            Err(super::analyst::VerdictError::Store(e)) => return Err(e),
            Err(super::analyst::VerdictError::Llm(err)) => {
                metrics::counter!("sigflow_llm_failures_total", "kind" => match err {
                    sigflow_connectors::llm::LlmError::Down(_) => "down",
                    sigflow_connectors::llm::LlmError::Quota(_) => "quota",
                    sigflow_connectors::llm::LlmError::Refused(_) => "refused",
                })
                .increment(1);
                self.health.set_status(
                    LLM_COMPONENT,
                    Status::Retrying,
                    Some(format!("{err}; the rules decide meanwhile")),
                );
                tracing::warn!(error = %err, id = %item.id, "LLM analyst unavailable; sealing the rules' call");
                rule_rows(&b, &e, Some(format!("llm_unavailable: {err}")))
            }
        };
        Ok(effects_of(record, rows))
    }
}

#[async_trait]
impl Stage for AnalyzeStage {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input(&self) -> &'static str {
        TOPIC_ENRICHED
    }

    /// Batched either way. With an LLM, a batch's calls run concurrently (bounded by
    /// `analyze.llm.concurrency`); a transient failure re-runs the batch, which pays
    /// nothing again: every answer was journalled before it was used.
    fn batched(&self) -> bool {
        true
    }

    async fn process(&self, record: &LogRecord) -> Result<Effects, StageError> {
        match &self.analyst {
            Some(a) => self.with_llm(a, record).await,
            None => Self::by_rules(&self.rules.get(), record, crate::clock::now()),
        }
    }

    async fn process_batch(&self, records: &[LogRecord]) -> Vec<Result<Effects, StageError>> {
        if let Some(a) = &self.analyst {
            use futures::StreamExt;
            // In order, `in_flight` at a time: the client's own semaphore and pacing
            // bound the calls; records below triage finish at once.
            // (By index: a closure over `&LogRecord` is not general enough for the
            // `Send` future `async_trait` needs.)
            return futures::stream::iter(0..records.len())
                .map(|i| self.with_llm(a, &records[i]))
                .buffered(a.in_flight)
                .collect()
                .await;
        }
        let (set, owned) = (self.rules.get(), records.to_vec());
        let now = crate::clock::now();
        let run = move || owned.iter().map(|r| Self::by_rules(&set, r, now)).collect();
        match tokio::task::spawn_blocking(run).await {
            Ok(r) => r,
            Err(e) => {
                let e = StageError::transient(format!("analyze task: {e}"));
                records.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }
}
