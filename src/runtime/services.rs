//! The one registry of services. Everything the pipeline runs is a service: a *stage*
//! (a consumer of one topic whose results the stage runner commits with its offsets)
//! or a *task* (its own loop: the source supervisor, the HTTP API, log retention; next:
//! a price refresher, a rules watcher, an outbox dispatcher, a stream fan-out).
//!
//! [`SERVICES`] declares each once — name, role, topics read and written, config
//! section, what it does — and everything else derives from it: the topics the
//! pipeline creates ([`topics`]), the roles of `sigflow run --role` with their help
//! ([`roles`]), which services a process starts, `topics describe`'s consumer groups,
//! `replay`'s stage names, `/readyz`'s components, and idle detection. Adding a stage
//! means one module, one entry here, its migration and its config section.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::pipeline::BuildError;
use super::source_supervisor::{Progress, SourceSupervisor};
use crate::config::Config;
use crate::enrich::SharedState;
use crate::error::StageError;
use crate::health::Health;
use crate::lake::Lake;
use crate::log::{EventLog, TOPIC_CONTENT, TOPIC_ENRICHED, TOPIC_RAW, TOPIC_SIGNALS};
use crate::stages::analyze::Rules;
use crate::stages::{AnalyzeStage, EnrichStage, ForwardStage, NormalizeStage, Stage};
use crate::store::Store;

/// A role nobody selects: the service runs in every process (housekeeping).
pub const EVERY_PROCESS: &str = "";

/// One entry of the registry.
pub struct ServiceSpec {
    /// Unique; a stage's name is also its consumer group.
    pub name: &'static str,
    /// The `--role` that runs it, or [`EVERY_PROCESS`].
    pub role: &'static str,
    pub kind: Kind,
    /// Topics it consumes (a stage: exactly one).
    pub reads: &'static [&'static str],
    /// Topics it appends to.
    pub writes: &'static [&'static str],
    /// The config section that shapes it.
    pub config: &'static str,
    /// One line for `--help` and `topics describe`.
    pub about: &'static str,
}

/// A stage as built: None when its config switches it off.
pub type BuiltStage = Result<Option<Arc<dyn Stage>>, BuildError>;

#[derive(Clone, Copy)]
pub enum Kind {
    /// None: switched off by its config (e.g. `forward.url` empty).
    Stage(fn(&Deps) -> BuiltStage),
    /// None: switched off by its config (e.g. `api.enabled = false`).
    Task(fn(&Deps, &TaskOptions) -> Result<Option<Task>, BuildError>),
}

/// What services are built from (opened backends and shared boards).
pub struct Deps {
    pub cfg: Config,
    pub store: Arc<dyn Store>,
    pub log: Arc<dyn EventLog>,
    pub lake: Arc<dyn Lake>,
    pub health: Health,
    pub state: SharedState,
    /// How far the sources are, for idle detection.
    pub progress: Arc<Progress>,
    /// The running rule set, shared by the analyze stage and the rules watcher.
    pub rules: Arc<Rules>,
}

/// Per-run settings a task may need.
#[derive(Debug, Clone, Default)]
pub struct TaskOptions {
    /// Called with the bound API address (the port may have been 0).
    pub on_listen: Option<fn(std::net::SocketAddr)>,
}

/// A built task: runs until the stop signal turns true (Ok) or fails fatally.
pub type Task = Box<
    dyn FnOnce(watch::Receiver<bool>) -> Pin<Box<dyn Future<Output = TaskResult> + Send>> + Send,
>;
pub type TaskResult = Result<(), StageError>;

/// Every service, in flow order.
pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        name: "sources",
        role: "ingest",
        kind: Kind::Task(sources_task),
        reads: &[],
        writes: &[TOPIC_RAW],
        config: "sources",
        about: "poll the configured sources, file raw payloads in the lake, append `raw`",
    },
    ServiceSpec {
        name: "normalize",
        role: "normalize",
        kind: Kind::Stage(normalize_stage),
        reads: &[TOPIC_RAW],
        writes: &[TOPIC_CONTENT],
        config: "pipeline",
        about: "raw payloads → one Content schema (`raw` → `content`)",
    },
    ServiceSpec {
        name: "enrich",
        role: "enrich",
        kind: Kind::Stage(enrich_stage),
        reads: &[TOPIC_CONTENT],
        writes: &[TOPIC_ENRICHED],
        config: "enrich",
        about: "language, filters, tickers, sentiment, dedup, velocity; stores items (`content` → `enriched`)",
    },
    ServiceSpec {
        name: "analyze",
        role: "analyze",
        kind: Kind::Stage(analyze_stage),
        reads: &[TOPIC_ENRICHED],
        writes: &[TOPIC_SIGNALS],
        config: "analyze",
        about: "rules (and an optional LLM analyst) → sealed predictions in the ledger (`enriched` → `signals`)",
    },
    ServiceSpec {
        name: "rules-watch",
        role: "analyze",
        kind: Kind::Task(rules_task),
        reads: &[],
        writes: &[],
        config: "analyze",
        about: "reloads the rule file when it changes (an invalid version keeps the old rules)",
    },
    ServiceSpec {
        name: "markets",
        role: "markets",
        kind: Kind::Task(markets_task),
        reads: &[],
        writes: &[],
        config: "markets",
        about: "fetch daily prices for open predictions, score them at T+1/3/7/30 sessions once final, stop tracking when done",
    },
    ServiceSpec {
        name: "forward",
        role: "forward",
        kind: Kind::Stage(forward_stage),
        reads: &[TOPIC_ENRICHED],
        writes: &[],
        config: "forward",
        about: "POST each enriched item to `[forward] url`, once (off while the url is empty)",
    },
    ServiceSpec {
        name: "api",
        role: "api",
        kind: Kind::Task(api_task),
        reads: &[],
        writes: &[TOPIC_RAW],
        config: "api",
        about: "the HTTP API: contents, DLQ, sources, webhook ingest, /readyz, /metrics",
    },
    ServiceSpec {
        name: "retention",
        role: EVERY_PROCESS,
        kind: Kind::Task(retention_task),
        reads: &[],
        writes: &[],
        config: "topics",
        about: "deletes log records past their topic's retention, and side-effect journal rows past twice that",
    },
];

/// Every topic a service reads or writes, each once, in flow order.
pub fn topics() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in SERVICES {
        for t in s.writes.iter().chain(s.reads) {
            if !out.contains(t) {
                out.push(t);
            }
        }
    }
    out
}

/// The selectable roles with what each runs, in flow order.
pub fn roles() -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for s in SERVICES.iter().filter(|s| s.role != EVERY_PROCESS) {
        match out.iter_mut().find(|(r, _)| *r == s.role) {
            Some((_, v)) => v.push(s.about),
            None => out.push((s.role, vec![s.about])),
        }
    }
    out.into_iter().map(|(r, v)| (r, v.join("; "))).collect()
}

/// The stages (services with a consumer), in flow order.
pub fn stages() -> impl Iterator<Item = &'static ServiceSpec> {
    SERVICES.iter().filter(|s| matches!(s.kind, Kind::Stage(_)))
}

pub fn stage_names() -> Vec<&'static str> {
    stages().map(|s| s.name).collect()
}

fn normalize_stage(d: &Deps) -> BuiltStage {
    Ok(Some(Arc::new(NormalizeStage::new(
        d.lake.clone(),
        d.store.clone(),
        d.health.clone(),
        d.cfg.pipeline.drift_threshold,
    ))))
}

fn enrich_stage(d: &Deps) -> BuiltStage {
    let chain = crate::enrich::Chain::new(&d.cfg.enrich).map_err(BuildError::Other)?;
    Ok(Some(Arc::new(EnrichStage::new(chain, d.state.clone()))))
}

fn analyze_stage(d: &Deps) -> BuiltStage {
    let a = &d.cfg.analyze;
    if !a.enabled {
        return Ok(None);
    }
    let analyst = if a.llm.url.is_empty() {
        None
    } else {
        let l = &a.llm;
        let key = (!l.api_key_env.is_empty())
            .then(|| std::env::var(&l.api_key_env).ok())
            .flatten();
        let client = sigflow_connectors::llm::LlmClient::new(
            &l.url,
            key,
            Duration::from_secs(l.timeout_secs),
            l.max_retries,
            l.concurrency,
            l.requests_per_minute,
        )
        .map_err(|e| BuildError::Other(format!("analyze.llm: {e}")))?;
        let prompt = if l.prompt.is_empty() {
            crate::analyze::llm::DEFAULT_PROMPT.to_string()
        } else {
            std::fs::read_to_string(&l.prompt)
                .map_err(|e| BuildError::Other(format!("analyze.llm.prompt: {e}")))?
        };
        d.health.register(crate::stages::analyze::LLM_COMPONENT);
        Some(crate::stages::analyst::Analyst {
            client,
            model: l.model.clone(),
            prompt: crate::analyze::llm::Prompt::new(&prompt),
            max_tokens: l.max_tokens,
            triage_score: l.triage_score,
            daily_requests: l.daily_requests,
            daily_tokens: l.daily_tokens,
            store: d.store.clone(),
            in_flight: l.concurrency * 4,
            budget_lock: Default::default(),
        })
    };
    Ok(Some(Arc::new(AnalyzeStage {
        rules: d.rules.clone(),
        analyst,
        health: d.health.clone(),
    })))
}

fn rules_task(d: &Deps, _: &TaskOptions) -> Result<Option<Task>, BuildError> {
    let a = &d.cfg.analyze;
    if !a.enabled || a.rules.is_empty() {
        return Ok(None);
    }
    let (rules, health) = (d.rules.clone(), d.health.clone());
    health.register(crate::stages::analyze::RULES_COMPONENT);
    health.ok(crate::stages::analyze::RULES_COMPONENT, 0);
    let every = Duration::from_secs(a.reload_secs);
    Ok(Some(Box::new(move |mut stop| {
        Box::pin(async move {
            while super::backoff::sleep_or_shutdown(every, &mut stop).await {
                let (r, h) = (rules.clone(), health.clone());
                let _ = tokio::task::spawn_blocking(move || r.reload(&h)).await;
            }
            Ok(())
        })
    })))
}

fn markets_task(d: &Deps, _: &TaskOptions) -> Result<Option<Task>, BuildError> {
    let m = &d.cfg.markets;
    if !m.enabled {
        return Ok(None);
    }
    let markets = Arc::new(
        crate::tracker::Markets::build(m)
            .map_err(|e| BuildError::Other(format!("markets: {e}")))?,
    );
    let (store, health) = (d.store.clone(), d.health.clone());
    let every = Duration::from_secs(m.poll_secs);
    Ok(Some(Box::new(move |stop| {
        Box::pin(async move {
            crate::tracker::service::run(markets, store, health, every, stop).await;
            Ok(())
        })
    })))
}

fn forward_stage(d: &Deps) -> BuiltStage {
    let f = &d.cfg.forward;
    if f.url.is_empty() {
        return Ok(None);
    }
    let timeout = Duration::from_secs(f.timeout_secs);
    ForwardStage::new(&f.url, timeout, d.store.clone())
        .map(|s| Some(Arc::new(s) as Arc<dyn Stage>))
        .map_err(|e| BuildError::Other(format!("forward: {e}")))
}

fn sources_task(d: &Deps, _: &TaskOptions) -> Result<Option<Task>, BuildError> {
    let supervisor = SourceSupervisor {
        config: d.cfg.sources.clone(),
        log: d.log.clone(),
        store: d.store.clone(),
        lake: d.lake.clone(),
        backoff: d.cfg.backoff(),
        breaker: d.cfg.breaker(),
        health: d.health.clone(),
        progress: d.progress.clone(),
    };
    Ok(Some(Box::new(move |stop| {
        Box::pin(async move {
            supervisor.run(stop).await;
            Ok(())
        })
    })))
}

fn api_task(d: &Deps, o: &TaskOptions) -> Result<Option<Task>, BuildError> {
    if !d.cfg.api.enabled {
        return Ok(None);
    }
    let a = &d.cfg.api;
    let listen = a.listen.clone();
    let on_listen = o.on_listen;
    let limits = crate::api::ConnLimits {
        max_connections: a.max_connections,
        reserved: a.reserved_connections,
        header_timeout: Duration::from_secs(a.header_timeout_secs),
    };
    let (loopback, insecure) = (a.is_loopback(), a.insecure_no_auth);
    let (threads, nice) = (a.threads, a.nice);
    let security = crate::api::Security {
        auth: sigflow_api_auth(loopback, insecure),
        allowed_hosts: a.allowed_hosts.clone(),
        allowed_origins: a.allowed_origins.clone(),
        rate_per_ip: a.rate_per_ip,
        rate_per_key: a.rate_per_key,
    };
    let admission = sigflow_connectors::sources::admission::Admission {
        env_prefix: a.secret_env_prefix.clone(),
        file_roots: a.file_roots.iter().map(std::path::PathBuf::from).collect(),
    };
    let store = d.store.clone();
    let app = crate::api::router(crate::api::AppState {
        store: d.store.clone(),
        lake: d.lake.clone(),
        log: d.log.clone(),
        health: d.health.clone(),
        max_page_size: d.cfg.api.max_page_size,
        max_body_bytes: d.cfg.api.max_body_bytes,
        request_timeout: Duration::from_secs(d.cfg.api.request_timeout_secs),
        config_sources: Arc::new(d.cfg.sources.clone()),
        render_metrics: crate::telemetry::render_metrics,
        security,
        admission,
        pages: Default::default(),
    });
    Ok(Some(Box::new(move |mut stop| {
        Box::pin(async move {
            check_exposure(store.as_ref(), &listen, loopback, insecure).await?;
            // Binding happens when the task runs: build never touches the network.
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            // The API's own runtime on its own threads: however busy its clients keep
            // it, the pipeline's runtime keeps its threads (and its share of the CPU).
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("sigflow-api".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(threads)
                        .thread_name("sigflow-api")
                        // Below the pipeline's threads: when the CPU is short, ingest
                        // goes first and the API's clients wait.
                        .on_thread_start(move || lower_priority(nice))
                        .enable_all()
                        .build();
                    let result = match rt {
                        Ok(rt) => {
                            rt.block_on(crate::api::serve(&listen, app, limits, on_listen, stopped))
                        }
                        Err(e) => Err(format!("API runtime: {e}")),
                    };
                    let _ = done_tx.send(result);
                })
                .map_err(|e| StageError::fatal(format!("API thread: {e}")))?;
            done_rx
                .await
                .unwrap_or_else(|_| Err("the API thread ended without a word".into()))
                .map_err(StageError::fatal)
        })
    })))
}

/// Lowers the calling thread's scheduling priority by `nice` (Linux: per thread).
pub fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
        tracing::debug!(error = %e, "cannot lower the API threads' priority");
    }
}

/// Keys are needed for reads beyond loopback, and for state changes everywhere,
/// unless the operator said `--insecure-no-auth`.
fn sigflow_api_auth(loopback: bool, insecure: bool) -> sigflow_api::gate::AuthPolicy {
    sigflow_api::gate::AuthPolicy {
        reads: !loopback && !insecure,
        writes: !insecure,
    }
}

/// Refuses to serve a non-loopback address with no key to guard it; says so loudly
/// when the operator insists.
async fn check_exposure(
    store: &dyn crate::store::Store,
    listen: &str,
    loopback: bool,
    insecure: bool,
) -> Result<(), StageError> {
    if loopback {
        return Ok(());
    }
    if insecure {
        tracing::warn!(%listen, "API SERVED WITHOUT AUTHENTICATION on a non-loopback address (--insecure-no-auth): anyone who reaches it can read everything and change sources");
        return Ok(());
    }
    let keys = crate::store::repos::api_keys::active_count(store.sql())
        .await
        .map_err(|e| StageError::transient(format!("counting API keys: {e}")))?;
    if keys == 0 {
        return Err(StageError::fatal(format!(
            "refusing to serve the API on {listen} (not loopback) with no API key: create one with `sigflow keys create --name NAME --scope admin`, listen on 127.0.0.1, or pass --insecure-no-auth"
        )));
    }
    Ok(())
}

fn retention_task(d: &Deps, _: &TaskOptions) -> Result<Option<Task>, BuildError> {
    let (log, store) = (d.log.clone(), d.store.clone());
    let every = Duration::from_secs(d.cfg.topics.retention_check_secs);
    // The side-effect journal keeps twice the log's retention: a replay re-reads only
    // what the log still holds, so older rows can no longer prevent a repeat.
    let journal_keep = Duration::from_secs(d.cfg.topics.retention_hours * 3600 * 2);
    Ok(Some(Box::new(move |mut stop| {
        Box::pin(async move {
            while super::backoff::sleep_or_shutdown(every, &mut stop).await {
                match log.enforce_retention().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "log retention removed old records"),
                    Err(e) => tracing::warn!(error = %e, "log retention failed; will try again"),
                }
                let before = crate::model::now_micros() - journal_keep.as_micros() as i64;
                let prune = crate::store::repos::effects::prune_mutation(before);
                match store.sql().execute_one(prune).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "side-effect journal: old rows removed"),
                    Err(e) => tracing::warn!(error = %e, "journal pruning failed; will try again"),
                }
            }
            Ok(())
        })
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_consistent() {
        let mut names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SERVICES.len(), "service names are unique");
        for s in stages() {
            assert_eq!(
                s.reads.len(),
                1,
                "a stage reads exactly one topic: {}",
                s.name
            );
        }
        assert_eq!(topics(), vec!["raw", "content", "enriched", "signals"]);
        let roles: Vec<&str> = roles().into_iter().map(|r| r.0).collect();
        assert_eq!(
            roles,
            vec![
                "ingest",
                "normalize",
                "enrich",
                "analyze",
                "markets",
                "forward",
                "api"
            ]
        );
        // Every topic a stage reads is written by some service: nothing waits forever.
        for s in stages() {
            assert!(
                SERVICES.iter().any(|w| w.writes.contains(&s.reads[0])),
                "nobody writes {}",
                s.reads[0]
            );
        }
    }
}
