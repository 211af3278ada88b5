//! The stage runner: one implementation for every stage. It polls micro-batches
//! (bounded by size and wait time), runs the stage on each record, and commits the
//! batch's effects with its input offsets through the one commit path.
//!
//! Failure handling, decided by [`ErrorClass`] only:
//! * transient (any record) → the whole batch is retried with backoff, never dead-lettered;
//! * poison (a record) → that record becomes a dead letter, the rest of the batch goes on;
//! * poison at commit time (e.g. a constraint) → the batch is split in halves, committed
//!   in order, until the one bad record is isolated and dead-lettered;
//! * fatal → the runner stops and returns the error.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::watch;

use super::backoff::{Backoff, sleep_or_shutdown};
use super::commit::commit;
use super::health::{Health, Status};
use crate::error::{ErrorClass, StageError};
use crate::log::{Consumer, EventLog, LogRecord};
use crate::stages::{Effects, Stage};
use crate::store::{Commit, DeadLetter, OffsetCommit, Store};

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub batch_size: usize,
    /// How long a poll waits for the first record before coming back empty.
    pub poll_wait: Duration,
    /// Records of one batch processed concurrently (lake reads overlap).
    pub concurrency: usize,
    pub backoff: Backoff,
}

pub struct StageRunner {
    pub stage: Arc<dyn Stage>,
    pub log: Arc<dyn EventLog>,
    pub store: Arc<dyn Store>,
    pub cfg: RunnerConfig,
    pub health: Health,
}

/// What one record came to.
enum Outcome {
    Done(Effects),
    Dead(DeadLetter),
}

/// Why a batch loop ended early.
enum Stop {
    Shutdown,
    Fatal(StageError),
}

impl StageRunner {
    fn component(&self) -> String {
        format!("stage:{}", self.stage.name())
    }

    /// Runs until `shutdown` turns true (Ok) or a fatal error (Err).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), StageError> {
        let comp = self.component();
        self.health.register(&comp);
        let result = self.run_inner(&mut shutdown).await;
        match &result {
            Err(e) => {
                tracing::error!(stage = self.stage.name(), error = %e, "stage stopped on a fatal error");
                self.health.set_status(&comp, Status::Failed, Some(e.to_string()));
            }
            Ok(()) => tracing::info!(stage = self.stage.name(), "stage stopped"),
        }
        result
    }

    async fn run_inner(&self, shutdown: &mut watch::Receiver<bool>) -> Result<(), StageError> {
        let (name, topic) = (self.stage.name(), self.stage.input());
        let Some((mut consumer, mut committed)) = self.open_consumer(shutdown).await? else {
            return Ok(());
        };
        self.health.ok(&self.component(), 0);
        tracing::info!(stage = name, topic, positions = ?committed, "stage started");
        let mut last_lag = Instant::now() - Duration::from_secs(10);
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let polled = tokio::select! {
                r = consumer.poll(self.cfg.batch_size, self.cfg.poll_wait) => r,
                _ = shutdown.changed() => return Ok(()),
            };
            let batch = match polled {
                Ok(b) => b,
                Err(e) => {
                    let e = StageError::from(e);
                    if e.class == ErrorClass::Fatal {
                        return Err(e);
                    }
                    self.health.set_status(&self.component(), Status::Retrying, Some(e.to_string()));
                    // Positions only move on a successful fetch, so just wait and poll again.
                    if !sleep_or_shutdown(self.cfg.backoff.delay(1), shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            if !batch.is_empty() {
                match self.handle_batch(&batch, shutdown).await {
                    Ok(()) => {
                        for r in &batch {
                            committed.insert(r.partition, r.offset + 1);
                        }
                    }
                    Err(Stop::Shutdown) => return Ok(()),
                    Err(Stop::Fatal(e)) => return Err(e),
                }
            }
            if last_lag.elapsed() >= Duration::from_secs(1) || batch.is_empty() {
                last_lag = Instant::now();
                self.report_lag(topic, &committed).await;
            }
        }
    }

    /// Creates the consumer and seeks it to the offsets committed in the store. Every
    /// assigned partition gets a committed offset (0 if new), which registers the group
    /// so that retention never deletes what it has not read.
    async fn open_consumer(
        &self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<(Box<dyn Consumer>, BTreeMap<u32, u64>)>, StageError> {
        let (name, topic) = (self.stage.name(), self.stage.input());
        let mut attempt = 0;
        loop {
            let opened = async {
                let mut consumer = self.log.consumer(topic).await?;
                let stored = self.store.offsets(name, topic).await?;
                let mut committed: BTreeMap<u32, u64> = stored.iter().map(|o| (o.partition, o.next_offset)).collect();
                let mut missing = Vec::new();
                for p in consumer.assignment() {
                    let at = *committed.entry(p).or_insert_with(|| {
                        missing.push(OffsetCommit { partition: p, next_offset: 0 });
                        0
                    });
                    consumer.seek(p, at);
                }
                if !missing.is_empty() {
                    self.store.set_offsets(name, topic, &missing).await?;
                }
                Ok::<_, StageError>((consumer, committed))
            }
            .await;
            match opened {
                Ok(ok) => return Ok(Some(ok)),
                Err(e) if e.class == ErrorClass::Transient => {
                    attempt += 1;
                    self.health.set_status(&self.component(), Status::Retrying, Some(e.to_string()));
                    if !sleep_or_shutdown(self.cfg.backoff.delay(attempt), shutdown).await {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn report_lag(&self, topic: &str, committed: &BTreeMap<u32, u64>) {
        let Ok(topics) = self.log.describe().await else { return };
        let Some(t) = topics.iter().find(|t| t.name == topic) else { return };
        let lag: u64 = t
            .partitions
            .iter()
            .map(|p| p.end.saturating_sub(committed.get(&p.partition).copied().unwrap_or(0)))
            .sum();
        metrics::gauge!("sigflow_stage_lag", "stage" => self.stage.name()).set(lag as f64);
        self.health.update(&self.component(), |c| c.lag = Some(lag));
    }

    /// Processes and commits one batch; returns only once it is committed (or on
    /// shutdown / fatal error).
    async fn handle_batch(&self, batch: &[LogRecord], shutdown: &mut watch::Receiver<bool>) -> Result<(), Stop> {
        let started = Instant::now();
        let stage_name = self.stage.name();
        let mut attempt = 0;
        let outcomes: Vec<Outcome> = loop {
            // Owned records and an owned stage handle per future: the futures must not
            // borrow from this frame, or the runner's future stops being `Send`.
            let stage = self.stage.clone();
            let results: Vec<Result<Effects, StageError>> = futures::stream::iter(batch.iter().cloned())
                .map(move |r| {
                    let stage = stage.clone();
                    async move { stage.process(&r).await }
                })
                .buffered(self.cfg.concurrency.max(1))
                .collect()
                .await;
            if let Some(Err(e)) = results.iter().find(|r| matches!(r, Err(e) if e.class == ErrorClass::Fatal)) {
                return Err(Stop::Fatal(e.clone()));
            }
            if let Some(Err(e)) = results.iter().find(|r| matches!(r, Err(e) if e.class == ErrorClass::Transient)) {
                attempt += 1;
                metrics::counter!("sigflow_stage_retries_total", "stage" => stage_name).increment(1);
                tracing::warn!(stage = stage_name, attempt, error = %e, "transient failure; retrying the batch");
                self.health.set_status(&self.component(), Status::Retrying, Some(e.to_string()));
                if !sleep_or_shutdown(self.cfg.backoff.delay(attempt), shutdown).await {
                    return Err(Stop::Shutdown);
                }
                continue;
            }
            break results
                .into_iter()
                .zip(batch)
                .map(|(r, rec)| match r {
                    Ok(fx) => Outcome::Done(fx),
                    Err(e) => Outcome::Dead(self.dead_letter(rec, None, &e.message, None, e.class)),
                })
                .collect();
        };
        let mut outcomes: Vec<Option<Outcome>> = outcomes.into_iter().map(Some).collect();
        self.commit_ranges(batch, &mut outcomes, shutdown).await?;

        let (mut outs, mut dead) = (0u64, 0u64);
        for o in outcomes.iter().flatten() {
            match o {
                Outcome::Done(fx) => {
                    outs += fx.outputs.len() as u64;
                    dead += fx.rejects.len() as u64;
                }
                Outcome::Dead(_) => dead += 1,
            }
        }
        metrics::counter!("sigflow_stage_records_in_total", "stage" => stage_name).increment(batch.len() as u64);
        metrics::counter!("sigflow_stage_records_out_total", "stage" => stage_name).increment(outs);
        metrics::counter!("sigflow_stage_records_failed_total", "stage" => stage_name).increment(dead);
        metrics::histogram!("sigflow_stage_batch_seconds", "stage" => stage_name).record(started.elapsed().as_secs_f64());
        self.health.ok(&self.component(), batch.len() as u64);
        tracing::debug!(stage = stage_name, records = batch.len(), outputs = outs, dead_letters = dead,
            ms = started.elapsed().as_millis() as u64, "batch committed");
        Ok(())
    }

    /// Commits `outcomes` in order. A commit that fails as poison is split in halves
    /// until the offending record is alone; that record is then dead-lettered with the
    /// commit's error. Offsets only ever move forward because ranges commit in order.
    async fn commit_ranges(
        &self,
        batch: &[LogRecord],
        outcomes: &mut [Option<Outcome>],
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Stop> {
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
                    metrics::counter!("sigflow_stage_retries_total", "stage" => self.stage.name()).increment(1);
                    tracing::warn!(stage = self.stage.name(), attempt, error = %e, "commit failed transiently; retrying");
                    self.health.set_status(&self.component(), Status::Retrying, Some(e.to_string()));
                    if !sleep_or_shutdown(self.cfg.backoff.delay(attempt), shutdown).await {
                        return Err(Stop::Shutdown);
                    }
                }
                Err(e) if e.class == ErrorClass::Poison && hi - lo > 1 => {
                    let mid = lo + (hi - lo) / 2;
                    ranges.pop_front();
                    ranges.push_front((mid, hi));
                    ranges.push_front((lo, mid));
                }
                Err(e) if e.class == ErrorClass::Poison && matches!(outcomes[lo], Some(Outcome::Done(_))) => {
                    tracing::warn!(stage = self.stage.name(), offset = batch[lo].offset, error = %e,
                        "record's results cannot be stored; dead-lettering it");
                    outcomes[lo] = Some(Outcome::Dead(self.dead_letter(&batch[lo], None, &e.message, None, e.class)));
                }
                Err(e) => return Err(Stop::Fatal(StageError::fatal(format!("cannot commit even a dead letter: {e}")))),
            }
        }
        Ok(())
    }

    fn build_commit(&self, records: &[LogRecord], outcomes: &[Option<Outcome>]) -> Commit {
        let mut offsets: BTreeMap<u32, u64> = BTreeMap::new();
        let mut c = Commit {
            group: Some((self.stage.name().to_string(), self.stage.input().to_string())),
            ..Default::default()
        };
        for (rec, outcome) in records.iter().zip(outcomes) {
            let next = offsets.entry(rec.partition).or_insert(0);
            *next = (*next).max(rec.offset + 1);
            match outcome {
                Some(Outcome::Done(fx)) => {
                    c.appends.extend(fx.outputs.iter().cloned());
                    c.writes.extend(fx.writes.iter().cloned());
                    for r in &fx.rejects {
                        c.dead_letters.push(self.dead_letter(
                            rec,
                            Some(r.item_index),
                            &r.error,
                            Some(r.detail.clone()),
                            ErrorClass::Poison,
                        ));
                    }
                }
                Some(Outcome::Dead(d)) => c.dead_letters.push(d.clone()),
                None => {}
            }
        }
        c.offsets = offsets.into_iter().map(|(partition, next_offset)| OffsetCommit { partition, next_offset }).collect();
        c
    }

    fn dead_letter(
        &self,
        rec: &LogRecord,
        item: Option<u32>,
        error: &str,
        detail: Option<String>,
        class: ErrorClass,
    ) -> DeadLetter {
        let stage = self.stage.name();
        DeadLetter {
            id: DeadLetter::make_id(stage, &rec.topic, rec.partition, rec.offset, item),
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
}
