//! The source supervisor: keeps one [`SourceRunner`] per active source of the
//! [catalog](crate::sources::catalog), and follows the catalog as it changes — a source
//! added, paused, resumed, removed or redefined through the CLI or the API starts or
//! stops within a second, without a restart. A stopped runner commits nothing half-way
//! (its cursor moves only with its raw events), so stopping is always safe.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::backoff::{Backoff, sleep_or_shutdown};
use super::source_runner::{BreakerSettings, SourceRunner};
use crate::config::SourceConfig;
use crate::health::{Health, Status};
use crate::lake::Lake;
use crate::log::EventLog;
use crate::sources::catalog;
use crate::store::{SourceState, Store};

/// How often the catalog is read: the bound on how long a change takes to apply.
const EVERY: Duration = Duration::from_secs(1);

pub struct SourceSupervisor {
    pub config: Vec<SourceConfig>,
    pub log: Arc<dyn EventLog>,
    pub store: Arc<dyn Store>,
    pub lake: Arc<dyn Lake>,
    pub backoff: Backoff,
    pub breaker: BreakerSettings,
    pub health: Health,
    pub progress: Arc<Progress>,
}

/// What `--exit-when-idle` needs to know: whether every running source has finished.
#[derive(Default)]
pub struct Progress {
    reconciled: AtomicBool,
    done: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

impl Progress {
    /// True once the catalog was applied and every source in it reached its end.
    pub fn all_done(&self) -> bool {
        self.reconciled.load(Ordering::SeqCst)
            && self
                .done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .all(|d| d.load(Ordering::SeqCst))
    }
}

struct Running {
    cfg: SourceConfig,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SourceSupervisor {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut running: HashMap<String, Running> = HashMap::new();
        // Definitions that failed to build, kept so they are not rebuilt every second.
        let mut broken: HashMap<String, SourceConfig> = HashMap::new();
        loop {
            match catalog::load(&self.config, self.store.as_ref()).await {
                Ok(entries) => self.reconcile(&entries, &mut running, &mut broken),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the source catalog; keeping sources as they are")
                }
            }
            self.progress.reconciled.store(true, Ordering::SeqCst);
            if !sleep_or_shutdown(EVERY, &mut shutdown).await {
                break;
            }
        }
        for (_, r) in running.drain() {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }

    fn reconcile(
        &self,
        entries: &[catalog::Entry],
        running: &mut HashMap<String, Running>,
        broken: &mut HashMap<String, SourceConfig>,
    ) {
        let active: HashMap<&str, &catalog::Entry> = entries
            .iter()
            .filter(|e| e.state == SourceState::Active)
            .map(|e| (e.config.name.as_str(), e))
            .collect();
        // Stop what is no longer active, or whose definition changed.
        let stale: Vec<String> = running
            .iter()
            .filter(|(name, r)| active.get(name.as_str()).is_none_or(|e| e.config != r.cfg))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            let r = running.remove(&name).expect("listed above");
            let _ = r.stop.send(true);
            // The runner ends at its next await point; it holds nothing half-done.
            drop(r.task);
            self.progress
                .done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
            let comp = format!("source:{name}");
            match entries.iter().find(|e| e.config.name == name) {
                Some(e) if e.state == SourceState::Paused => {
                    tracing::info!(source = %name, "source paused");
                    self.health.set_status(&comp, Status::Paused, None);
                }
                Some(_) => tracing::info!(source = %name, "source redefined; restarting"),
                None => {
                    tracing::info!(source = %name, "source removed");
                    self.health.remove(&comp);
                }
            }
        }
        for e in entries {
            let comp = format!("source:{}", e.config.name);
            if e.state == SourceState::Paused && !running.contains_key(&e.config.name) {
                if !self.health.snapshot().contains_key(&comp) {
                    self.health.register(&comp);
                }
                self.health.set_status(&comp, Status::Paused, None);
            }
        }
        // Start what is active and not running.
        for (name, e) in active {
            if running.contains_key(name) || broken.get(name) == Some(&e.config) {
                continue;
            }
            match crate::sources::build(&e.config) {
                Ok(source) => {
                    broken.remove(name);
                    let done = Arc::new(AtomicBool::new(false));
                    self.progress
                        .done
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.to_string(), done.clone());
                    let (stop, stop_rx) = watch::channel(false);
                    let runner = SourceRunner {
                        source,
                        log: self.log.clone(),
                        store: self.store.clone(),
                        lake: self.lake.clone(),
                        backoff: self.backoff,
                        health: self.health.clone(),
                        done,
                        breaker: self.breaker,
                    };
                    let task = tokio::spawn(runner.run(stop_rx));
                    running.insert(
                        name.to_string(),
                        Running {
                            cfg: e.config.clone(),
                            stop,
                            task,
                        },
                    );
                }
                Err(err) => {
                    tracing::error!(source = %name, error = %err, "source cannot start");
                    let comp = format!("source:{name}");
                    self.health.register(&comp);
                    self.health.set_status(
                        &comp,
                        Status::Failed,
                        Some(format!("cannot start: {err}")),
                    );
                    broken.insert(name.to_string(), e.config.clone());
                }
            }
        }
    }
}
