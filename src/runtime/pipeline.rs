//! [`Pipeline`]: build (open backends, create topics, make stages) then run (spawn
//! stage runners, the source supervisor, API, retention; stop on signal, on idle, or
//! on a fatal error).
//!
//! Build may connect but never spawns; run owns every task it starts and joins them
//! before returning.

use std::fs::File;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::services::{self, Deps, Kind, SERVICES, TaskOptions};
use super::stage_runner::{RunnerConfig, StageRunner};
use crate::config::Config;
use crate::error::StageError;
use crate::health::{Health, Status};
use crate::lake::Lake;
use crate::log::{EventLog, TopicSpec};
use crate::stages::Stage;
use crate::store::{SqliteDb, Store, StoreCounts};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("lake: {0}")]
    Lake(#[from] crate::lake::LakeError),
    #[error("log: {0}")]
    Log(#[from] crate::log::LogError),
    #[error("{0}")]
    Other(String),
}

/// Why a run ended in failure.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("pipeline stopped on a fatal error: {0}")]
    Fatal(StageError),
}

pub struct Pipeline {
    pub cfg: Config,
    pub store: Arc<dyn Store>,
    pub db: Option<Arc<SqliteDb>>,
    pub log: Arc<dyn EventLog>,
    pub lake: Arc<dyn Lake>,
    pub health: Health,
    /// What the services are built from.
    deps: Deps,
    /// Every stage of the registry (idle means all of them caught up, wherever they run).
    stages: Vec<Arc<dyn Stage>>,
    /// Held while the pipeline lives: two pipelines on one database would fight over
    /// consumer offsets.
    _lock: Option<File>,
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop once every finite source is done and every stage has caught up.
    pub exit_when_idle: bool,
    /// Roles this process runs (see [`services::roles`]); the others run elsewhere.
    /// Services of no role (housekeeping) run in every process.
    pub roles: Vec<&'static str>,
    /// Called with the bound API address (the port may have been 0).
    pub on_listen: Option<fn(std::net::SocketAddr)>,
}

impl RunOptions {
    /// Every role of the registry.
    pub fn all_roles() -> Vec<&'static str> {
        services::roles().into_iter().map(|r| r.0).collect()
    }

    /// Every role but those named.
    pub fn all_roles_but(skip: &[&str]) -> Vec<&'static str> {
        let mut r = Self::all_roles();
        r.retain(|x| !skip.contains(x));
        r
    }

    fn runs(&self, role: &str) -> bool {
        role == services::EVERY_PROCESS || self.roles.contains(&role)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub counts: StoreCounts,
    pub elapsed_secs: f64,
    pub stopped_because: String,
}

impl Pipeline {
    /// Opens the backends named in `cfg` and creates the topics.
    pub async fn build(cfg: Config) -> Result<Pipeline, BuildError> {
        let crate::store::OpenedStore { store, db, state } =
            crate::store::open(&cfg.store, &cfg.sqlite_options())?;
        let lock = match &db {
            Some(db) => Some(lock_file(db.path().with_extension("lock"))?),
            None => None,
        };
        store.migrate().await?;
        let log = crate::log::open(&cfg.log, db.as_ref())?;
        let lake = crate::lake::open(&cfg.lake, cfg.lake_files.fsync)?;
        // A topic made bigger on purpose (`sigflow topics create --partitions 8`) keeps
        // its partitions: the config's count is the least, not a demand to shrink.
        let existing: std::collections::HashMap<String, u32> = log
            .describe()
            .await?
            .into_iter()
            .map(|t| (t.name, t.partitions.len() as u32))
            .collect();
        for name in services::topics() {
            let have = existing.get(name).copied().unwrap_or(0);
            if have > cfg.topics.partitions {
                tracing::info!(
                    topic = name,
                    partitions = have,
                    configured = cfg.topics.partitions,
                    "topic has more partitions than topics.partitions; keeping them"
                );
            }
            log.create_topic(&TopicSpec {
                name: name.to_string(),
                partitions: cfg.topics.partitions.max(have),
                retention: Duration::from_secs(cfg.topics.retention_hours * 3600),
            })
            .await?;
        }
        let health = Health::default();
        let deps = Deps {
            cfg: cfg.clone(),
            store: store.clone(),
            log: log.clone(),
            lake: lake.clone(),
            health: health.clone(),
            state,
            progress: Arc::new(super::source_supervisor::Progress::default()),
            rules: Arc::new(
                crate::stages::analyze::Rules::load(&cfg.analyze.rules)
                    .map_err(|e| BuildError::Other(format!("analyze.rules: {e}")))?,
            ),
        };
        let stages = SERVICES
            .iter()
            .filter_map(|s| match s.kind {
                Kind::Stage(build) => build(&deps).transpose(),
                Kind::Task(_) => None,
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Sources are not built here: the config's validation already checked each
        // one, and the supervisor builds them when it starts them (a source that still
        // cannot start is reported on the health board, not fatal to the others).
        Ok(Pipeline {
            cfg,
            store,
            db,
            log,
            lake,
            health,
            deps,
            stages,
            _lock: lock,
        })
    }

    pub fn stage(&self, name: &str) -> Option<Arc<dyn Stage>> {
        self.stages.iter().find(|s| s.name() == name).cloned()
    }

    /// Runs until `signal` resolves, the pipeline goes idle (with `exit_when_idle`), or
    /// a stage fails fatally (returned as the error).
    pub async fn run(
        self,
        opts: RunOptions,
        signal: impl Future<Output = ()>,
    ) -> Result<RunSummary, RunError> {
        let started = Instant::now();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks: JoinSet<Result<(), StageError>> = JoinSet::new();
        let runner_cfg = RunnerConfig {
            batch_size: self.cfg.pipeline.batch_size,
            poll_wait: Duration::from_millis(self.cfg.pipeline.poll_wait_ms),
            linger: Duration::from_millis(self.cfg.pipeline.linger_ms),
            concurrency: self.cfg.pipeline.concurrency,
            backoff: self.cfg.backoff(),
        };

        let task_opts = TaskOptions {
            on_listen: opts.on_listen,
        };
        for spec in SERVICES.iter().filter(|s| opts.runs(s.role)) {
            match spec.kind {
                Kind::Stage(_) => {
                    let Some(stage) = self.stage(spec.name) else {
                        continue;
                    };
                    let runner = StageRunner {
                        stage,
                        log: self.log.clone(),
                        store: self.store.clone(),
                        cfg: runner_cfg.clone(),
                        health: self.health.clone(),
                    };
                    tasks.spawn(runner.run(stop_rx.clone()));
                }
                Kind::Task(build) => {
                    let Some(task) = build(&self.deps, &task_opts)? else {
                        continue;
                    };
                    let (health, comp) = (self.health.clone(), format!("service:{}", spec.name));
                    health.register(&comp);
                    health.ok(&comp, 0);
                    let run = task(stop_rx.clone());
                    tasks.spawn(async move {
                        let res = run.await;
                        if let Err(e) = &res {
                            health.set_status(&comp, Status::Failed, Some(e.to_string()));
                        }
                        res
                    });
                }
            }
        }
        let progress = self.deps.progress.clone();
        // Idle waits for the sources only where they run.
        let start_sources = SERVICES
            .iter()
            .any(|s| s.name == "sources" && opts.runs(s.role));
        self.health.register("store");
        self.health.register("lake");

        let idle_check = async {
            if !opts.exit_when_idle {
                return std::future::pending::<()>().await;
            }
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if (!start_sources || progress.all_done())
                    // Every stage of the pipeline, wherever it runs: with roles split
                    // across processes, "idle" still means the whole flow caught up.
                    && idle(self.log.as_ref(), self.store.as_ref(), &self.stages)
                        .await
                        .unwrap_or(false)
                {
                    return;
                }
            }
        };
        let backend_watch = async {
            loop {
                self.refresh_backend_health().await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        };

        // A task that ends cleanly (a finite source) is fine; an error or a panic stops all.
        let task_failure = async {
            loop {
                match tasks.join_next().await {
                    Some(Ok(Ok(()))) => continue,
                    Some(Ok(Err(e))) => return (format!("fatal: {e}"), Some(e)),
                    Some(Err(e)) => {
                        return (
                            format!("task panicked: {e}"),
                            Some(StageError::fatal(e.to_string())),
                        );
                    }
                    None => std::future::pending::<()>().await,
                }
            }
        };
        tokio::pin!(signal);
        let mut fatal: Option<StageError> = None;
        let reason = tokio::select! {
            _ = &mut signal => "signal".to_string(),
            _ = idle_check => "idle".to_string(),
            _ = backend_watch => unreachable!("backend watch never ends"),
            (reason, err) = task_failure => { fatal = err; reason }
        };
        tracing::info!(reason = %reason, "stopping");
        let _ = stop_tx.send(true);
        // In-flight batches finish their commit or are abandoned uncommitted; either is safe.
        let drain = async {
            while let Some(res) = tasks.join_next().await {
                if let Ok(Err(e)) = res {
                    fatal.get_or_insert(e);
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(15), drain)
            .await
            .is_err()
        {
            tracing::warn!(
                "some tasks did not stop within 15 s; abandoning them (uncommitted work is redone on restart)"
            );
        }
        let counts = crate::store::repos::counts(self.store.sql())
            .await
            .unwrap_or_default();
        if let Some(e) = fatal {
            return Err(RunError::Fatal(e));
        }
        Ok(RunSummary {
            counts,
            elapsed_secs: started.elapsed().as_secs_f64(),
            stopped_because: reason,
        })
    }

    async fn refresh_backend_health(&self) {
        match self.store.ping().await {
            Ok(()) => self.health.ok("store", 0),
            Err(e) => self
                .health
                .set_status("store", Status::Retrying, Some(e.to_string())),
        }
        match self.lake.ping().await {
            Ok(()) => self.health.ok("lake", 0),
            Err(e) => self
                .health
                .set_status("lake", Status::Retrying, Some(e.to_string())),
        }
    }
}

/// True when every stage's committed offsets equal its input topic's end offsets.
/// Stages are checked in flow order: a stage that commits between two checks has
/// already made its outputs visible downstream, so a later check sees them.
pub async fn idle(
    log: &dyn EventLog,
    store: &dyn Store,
    stages: &[Arc<dyn Stage>],
) -> Result<bool, BuildError> {
    for stage in stages {
        let topics = log.describe().await?;
        let Some(t) = topics.iter().find(|t| t.name == stage.input()) else {
            continue;
        };
        let committed = store.offsets(stage.name(), stage.input()).await?;
        for p in &t.partitions {
            let at = committed
                .iter()
                .find(|o| o.partition == p.partition)
                .map(|o| o.next_offset)
                .unwrap_or(0);
            if at < p.end {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn lock_file(path: PathBuf) -> Result<File, BuildError> {
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| BuildError::Other(format!("cannot open lock file {}: {e}", path.display())))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(BuildError::Other(format!(
            "another sigflow pipeline is running on this database (lock {} is held); stop it first",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(BuildError::Other(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}
