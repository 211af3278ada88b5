//! The committing half of a stage runner. Batches arrive processed, in poll order, and
//! leave committed — results, outputs, dead letters and input offsets together — while
//! the runner is already processing the next batch.
//!
//! * transient commit failure → retry the same batch with backoff (never dead-letter);
//! * poison commit failure (e.g. a constraint) → split the batch in halves, committed in
//!   order, until the one bad record is alone; that record is dead-lettered;
//! * fatal → stop the stage.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::backoff::{Backoff, sleep_or_shutdown};
use crate::error::{ErrorClass, StageError};
use crate::health::{Health, Status};
use crate::log::{EventLog, LogRecord};
use crate::runtime::commit;
use crate::stages::{Effects, Stage};
use crate::store::{Commit, DeadLetter, OffsetCommit, Store};

/// What one record came to.
pub(super) enum Outcome {
    Done(Effects),
    Dead(DeadLetter),
}

/// A processed batch on its way to the store.
pub(super) struct Processed {
    pub records: Vec<LogRecord>,
    pub outcomes: Vec<Outcome>,
    pub started: Instant,
}

/// Committed position per partition, shared with the runner for lag reporting.
pub(super) type Positions = Arc<Mutex<BTreeMap<u32, u64>>>;

pub(super) struct Committer {
    pub stage: Arc<dyn Stage>,
    pub log: Arc<dyn EventLog>,
    pub store: Arc<dyn Store>,
    pub health: Health,
    pub backoff: Backoff,
    pub committed: Positions,
}

impl Committer {
    fn component(&self) -> String {
        format!("stage:{}", self.stage.name())
    }

    /// Commits every batch received, in order, until the channel closes (the runner
    /// stopped) or shutdown interrupts a retry. Err only for fatal errors.
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<Processed>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), StageError> {
        let mut lag = LagReporter::new();
        while let Some(mut p) = rx.recv().await {
            match self
                .commit_ranges(&p.records, &mut p.outcomes, &mut shutdown)
                .await
            {
                Ok(()) => {}
                Err(None) => return Ok(()),
                Err(Some(e)) => return Err(e),
            }
            {
                let mut pos = self.committed.lock().unwrap_or_else(|e| e.into_inner());
                for r in &p.records {
                    pos.insert(r.partition, r.offset + 1);
                }
            }
            self.account(&p);
            lag.maybe(
                &self.log,
                self.stage.name(),
                self.stage.input(),
                &self.committed,
                &self.health,
            );
        }
        Ok(())
    }

    fn account(&self, p: &Processed) {
        let stage = self.stage.name();
        let (mut outs, mut dead) = (0u64, 0u64);
        for o in &p.outcomes {
            match o {
                Outcome::Done(fx) => {
                    outs += fx.outputs.len() as u64;
                    dead += fx.rejects.len() as u64;
                }
                Outcome::Dead(_) => dead += 1,
            }
        }
        metrics::counter!("sigflow_stage_records_in_total", "stage" => stage)
            .increment(p.records.len() as u64);
        metrics::counter!("sigflow_stage_records_out_total", "stage" => stage).increment(outs);
        metrics::counter!("sigflow_stage_records_failed_total", "stage" => stage).increment(dead);
        metrics::histogram!("sigflow_stage_batch_seconds", "stage" => stage)
            .record(p.started.elapsed().as_secs_f64());
        self.health.ok(&self.component(), p.records.len() as u64);
        tracing::debug!(
            stage,
            records = p.records.len(),
            outputs = outs,
            dead_letters = dead,
            ms = p.started.elapsed().as_millis() as u64,
            "batch committed"
        );
    }

    /// Commits `outcomes` in order, bisecting on poison. `Err(None)` = shutdown.
    async fn commit_ranges(
        &self,
        batch: &[LogRecord],
        outcomes: &mut [Outcome],
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Option<StageError>> {
        let mut ranges: VecDeque<(usize, usize)> = VecDeque::from([(0, batch.len())]);
        let mut attempt = 0;
        while let Some(&(lo, hi)) = ranges.front() {
            let c = self.build_commit(&batch[lo..hi], &outcomes[lo..hi]);
            match commit(self.log.as_ref(), self.store.as_ref(), c).await {
                Ok(()) => {
                    ranges.pop_front();
                    attempt = 0;
                }
                Err(e) if e.class == ErrorClass::Transient => {
                    attempt += 1;
                    metrics::counter!("sigflow_stage_retries_total", "stage" => self.stage.name())
                        .increment(1);
                    tracing::warn!(stage = self.stage.name(), attempt, error = %e, "commit failed transiently; retrying");
                    self.health.set_status(
                        &self.component(),
                        Status::Retrying,
                        Some(e.to_string()),
                    );
                    if !sleep_or_shutdown(self.backoff.delay(attempt), shutdown).await {
                        return Err(None);
                    }
                }
                Err(e) if e.class == ErrorClass::Poison && hi - lo > 1 => {
                    let mid = lo + (hi - lo) / 2;
                    ranges.pop_front();
                    ranges.push_front((mid, hi));
                    ranges.push_front((lo, mid));
                }
                Err(e)
                    if e.class == ErrorClass::Poison
                        && matches!(outcomes[lo], Outcome::Done(_)) =>
                {
                    tracing::warn!(stage = self.stage.name(), offset = batch[lo].offset, error = %e,
                        "record's results cannot be stored; dead-lettering it");
                    outcomes[lo] = Outcome::Dead(dead_letter(
                        self.stage.name(),
                        &batch[lo],
                        None,
                        &e.message,
                        None,
                        e.class,
                    ));
                }
                Err(e) => {
                    return Err(Some(StageError::fatal(format!(
                        "cannot commit even a dead letter: {e}"
                    ))));
                }
            }
        }
        Ok(())
    }

    fn build_commit(&self, records: &[LogRecord], outcomes: &[Outcome]) -> Commit {
        let stage = self.stage.name();
        let mut offsets: BTreeMap<u32, u64> = BTreeMap::new();
        let mut c = Commit {
            group: Some((stage.to_string(), self.stage.input().to_string())),
            ..Default::default()
        };
        for (rec, outcome) in records.iter().zip(outcomes) {
            let next = offsets.entry(rec.partition).or_insert(0);
            *next = (*next).max(rec.offset + 1);
            match outcome {
                Outcome::Done(fx) => {
                    c.appends.extend(fx.outputs.iter().cloned());
                    c.writes.extend(fx.writes.iter().cloned());
                    for r in &fx.rejects {
                        c.dead_letters.push(dead_letter(
                            stage,
                            rec,
                            Some(r.item_index),
                            &r.error,
                            Some(r.detail.clone()),
                            ErrorClass::Poison,
                        ));
                    }
                }
                Outcome::Dead(d) => c.dead_letters.push(d.clone()),
            }
        }
        for d in &c.dead_letters {
            // Once per letter as it is committed (a replay that dead-letters the same
            // input again says so again); `sigflow dlq list` has the payload.
            tracing::warn!(stage = %d.stage, topic = %d.topic, partition = d.partition,
                offset = d.offset, item = ?d.item_index, class = %d.error_class, id = %d.id,
                error = %sigflow_core::redact::redact(&d.error), "dead letter");
        }
        c.offsets = offsets
            .into_iter()
            .map(|(partition, next_offset)| OffsetCommit {
                partition,
                next_offset,
            })
            .collect();
        c
    }
}

/// What identifies a record's input for its dead letter (see [`DeadLetter::make_id`]).
fn input_of(rec: &LogRecord) -> String {
    match &rec.key {
        Some(k) if &*rec.topic == crate::log::TOPIC_RAW => {
            format!("key:{}", String::from_utf8_lossy(k))
        }
        _ => format!("{}/{}", rec.partition, rec.offset),
    }
}

pub(super) fn dead_letter(
    stage: &str,
    rec: &LogRecord,
    item: Option<u32>,
    error: &str,
    detail: Option<String>,
    class: ErrorClass,
) -> DeadLetter {
    DeadLetter {
        id: DeadLetter::make_id(stage, &rec.topic, &input_of(rec), item),
        stage: stage.to_string(),
        topic: rec.topic.to_string(),
        partition: rec.partition,
        offset: rec.offset,
        item_index: item,
        key: rec.key.clone(),
        payload: rec.value.clone(),
        detail,
        error: error.to_string(),
        error_class: class.as_str().to_string(),
    }
}

/// Refreshes a stage's lag at most once a second, in a task of its own: asking a
/// remote log for its ends takes round trips that neither the next poll nor the next
/// commit should wait for. At most one refresh runs at a time.
pub(super) struct LagReporter {
    last: Instant,
    running: Arc<std::sync::atomic::AtomicBool>,
}

impl LagReporter {
    pub fn new() -> Self {
        LagReporter {
            last: Instant::now() - Duration::from_secs(10),
            running: Default::default(),
        }
    }

    pub fn maybe(
        &mut self,
        log: &Arc<dyn EventLog>,
        stage: &'static str,
        topic: &'static str,
        committed: &Positions,
        health: &Health,
    ) {
        use std::sync::atomic::Ordering;
        if self.last.elapsed() < Duration::from_secs(1) || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.last = Instant::now();
        let (log, committed, health, running) = (
            log.clone(),
            committed.clone(),
            health.clone(),
            self.running.clone(),
        );
        tokio::spawn(async move {
            report_lag(log.as_ref(), stage, topic, &committed, &health).await;
            running.store(false, Ordering::Release);
        });
    }
}

/// Records waiting in the stage's input: end offsets minus committed positions.
pub(super) async fn report_lag(
    log: &dyn EventLog,
    stage: &'static str,
    topic: &str,
    committed: &Positions,
    health: &Health,
) {
    let Ok(topics) = log.describe().await else {
        return;
    };
    let Some(t) = topics.iter().find(|t| t.name == topic) else {
        return;
    };
    let lag: u64 = {
        let pos = committed.lock().unwrap_or_else(|e| e.into_inner());
        t.partitions
            .iter()
            .map(|p| {
                p.end
                    .saturating_sub(pos.get(&p.partition).copied().unwrap_or(0))
            })
            .sum()
    };
    metrics::gauge!("sigflow_stage_lag", "stage" => stage).set(lag as f64);
    health.update(&format!("stage:{stage}"), |c| c.lag = Some(lag));
}
