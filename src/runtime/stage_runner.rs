//! The stage runner: one implementation for every stage. It polls micro-batches
//! (bounded by size and wait time), runs the stage on each record, and hands the
//! processed batch to its [`Committer`], which commits it — results, outputs, dead
//! letters and input offsets in one unit — while the runner processes the next batch.
//! At most one batch waits between the two, so memory stays bounded.
//!
//! Failure handling while processing, decided by [`ErrorClass`] only:
//! * transient (any record) → the whole batch is processed again after a backoff;
//! * poison (a record) → that record becomes a dead letter, the rest go on;
//! * fatal → the runner stops and returns the error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use super::backoff::{Backoff, sleep_or_shutdown};
use super::committer::{Committer, LagReporter, Outcome, Positions, Processed, dead_letter};
use crate::error::{ErrorClass, StageError};
use crate::health::{Health, Status};
use crate::log::{Consumer, EventLog, LogRecord};
use crate::stages::{Effects, Stage};
use crate::store::{OffsetCommit, Store};

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub batch_size: usize,
    /// How long a poll waits for the first record before coming back empty.
    pub poll_wait: Duration,
    /// Once a batch has its first record, how long to wait for it to fill.
    pub linger: Duration,
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
                self.health
                    .set_status(&comp, Status::Failed, Some(e.to_string()));
            }
            Ok(()) => tracing::info!(stage = self.stage.name(), "stage stopped"),
        }
        result
    }

    async fn run_inner(&self, shutdown: &mut watch::Receiver<bool>) -> Result<(), StageError> {
        let (name, topic) = (self.stage.name(), self.stage.input());
        let Some((mut consumer, committed)) = self.open_consumer(shutdown).await? else {
            return Ok(());
        };
        self.health.ok(&self.component(), 0);
        tracing::info!(stage = name, topic, positions = ?committed, "stage started");
        let committed: Positions = Arc::new(Mutex::new(committed));
        let (tx, rx) = mpsc::channel::<Processed>(1);
        let committer = Committer {
            stage: self.stage.clone(),
            log: self.log.clone(),
            store: self.store.clone(),
            health: self.health.clone(),
            backoff: self.cfg.backoff,
            committed: committed.clone(),
        };
        let committing = tokio::spawn(committer.run(rx, shutdown.clone()));

        let produced = self
            .produce(consumer.as_mut(), &tx, &committed, shutdown)
            .await;
        // Closing the channel lets the committer finish what it holds, then stop.
        drop(tx);
        let committed_result = committing
            .await
            .unwrap_or_else(|e| Err(StageError::fatal(format!("committer panicked: {e}"))));
        // Only after the last commit: the partitions go to other workers from there.
        consumer.close().await;
        produced.and(committed_result)
    }

    /// Poll → process → hand over, until shutdown, a fatal error, or the committer stops.
    async fn produce(
        &self,
        consumer: &mut dyn Consumer,
        tx: &mpsc::Sender<Processed>,
        committed: &Positions,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), StageError> {
        let mut lag = LagReporter::new();
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let polled = tokio::select! {
                r = consumer.poll(self.cfg.batch_size, self.cfg.poll_wait) => r,
                _ = shutdown.changed() => return Ok(()),
            };
            let batch = match polled {
                Ok(b) => self.fill(consumer, b).await,
                Err(e) => {
                    let e = StageError::from(e);
                    if e.class == ErrorClass::Fatal {
                        return Err(e);
                    }
                    self.health.set_status(
                        &self.component(),
                        Status::Retrying,
                        Some(e.to_string()),
                    );
                    // Positions only move on a successful fetch, so just wait and poll again.
                    if !sleep_or_shutdown(self.cfg.backoff.delay(1), shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                // Idle: a moment to refresh the lag.
                lag.maybe(
                    &self.log,
                    self.stage.name(),
                    self.stage.input(),
                    committed,
                    &self.health,
                );
                continue;
            }
            let started = Instant::now();
            let Some(outcomes) = self.process(&batch, shutdown).await? else {
                return Ok(());
            };
            let batch = give_back_unprocessed(consumer, batch, outcomes.len());
            if tx
                .send(Processed {
                    records: batch,
                    outcomes,
                    started,
                })
                .await
                .is_err()
            {
                // The committer stopped (fatal error or shutdown); its result says which.
                return Ok(());
            }
        }
    }

    /// Lingers up to `linger` for a started batch to fill: one larger commit costs the
    /// store far less than several small ones (each rewrites the pages it touches), at
    /// the price of at most `linger` of added latency per stage.
    async fn fill(&self, consumer: &mut dyn Consumer, mut batch: Vec<LogRecord>) -> Vec<LogRecord> {
        if batch.is_empty() || self.cfg.linger.is_zero() {
            return batch;
        }
        let deadline = Instant::now() + self.cfg.linger;
        while batch.len() < self.cfg.batch_size {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match consumer.poll(self.cfg.batch_size - batch.len(), left).await {
                Ok(more) if !more.is_empty() => batch.extend(more),
                // Nothing more in time, or a read error: go with what we have (a failed
                // read did not move the consumer's positions).
                _ => break,
            }
        }
        batch
    }

    /// Runs the stage on the records of `batch`, in order, until their effects reach
    /// `batch_size`; returns one outcome per record processed (a prefix of the batch).
    /// `Ok(None)` = shutdown during a retry wait.
    async fn process(
        &self,
        batch: &[LogRecord],
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<Vec<Outcome>>, StageError> {
        if self.stage.retry_per_record() {
            return self.process_one_by_one(batch, shutdown).await;
        }
        let name = self.stage.name();
        let mut attempt = 0;
        loop {
            let results = if self.stage.batched() {
                // One record in, at most one item out: the batch is already bounded.
                self.stage.process_batch(batch).await
            } else {
                self.process_each(batch).await
            };
            if let Some(Err(e)) = results
                .iter()
                .find(|r| matches!(r, Err(e) if e.class == ErrorClass::Fatal))
            {
                return Err(e.clone());
            }
            if let Some(Err(e)) = results
                .iter()
                .find(|r| matches!(r, Err(e) if e.class == ErrorClass::Transient))
            {
                attempt += 1;
                metrics::counter!("sigflow_stage_retries_total", "stage" => name).increment(1);
                tracing::warn!(stage = name, attempt, error = %e, "transient failure; retrying the batch");
                self.health
                    .set_status(&self.component(), Status::Retrying, Some(e.to_string()));
                if !sleep_or_shutdown(self.cfg.backoff.delay(attempt), shutdown).await {
                    return Ok(None);
                }
                continue;
            }
            return Ok(Some(
                results
                    .into_iter()
                    .zip(batch)
                    .map(|(r, rec)| match r {
                        Ok(fx) => Outcome::Done(fx),
                        Err(e) => {
                            Outcome::Dead(dead_letter(name, rec, None, &e.message, None, e.class))
                        }
                    })
                    .collect(),
            ));
        }
    }

    /// A stage with side effects: one record at a time, a transient failure retried
    /// for that record alone (the ones before it are done and are not run again), until
    /// the effects reach `batch_size`. `Ok(None)` = shutdown during a retry wait: what
    /// was processed is dropped uncommitted, and its side effects' journal rows make
    /// the redo free.
    async fn process_one_by_one(
        &self,
        batch: &[LogRecord],
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<Vec<Outcome>>, StageError> {
        let name = self.stage.name();
        let mut out = Vec::with_capacity(batch.len());
        let mut produced = 0usize;
        for rec in batch {
            let mut attempt = 0;
            let result = loop {
                match self.stage.process(rec).await {
                    Err(e) if e.class == ErrorClass::Transient => {
                        attempt += 1;
                        metrics::counter!("sigflow_stage_retries_total", "stage" => name)
                            .increment(1);
                        tracing::warn!(stage = name, attempt, partition = rec.partition,
                            offset = rec.offset, error = %e, "transient failure; retrying this record");
                        self.health.set_status(
                            &self.component(),
                            Status::Retrying,
                            Some(e.to_string()),
                        );
                        if !sleep_or_shutdown(self.cfg.backoff.delay(attempt), shutdown).await {
                            return Ok(None);
                        }
                    }
                    other => break other,
                }
            };
            out.push(match result {
                Ok(fx) => {
                    produced += fx.outputs.len().max(fx.writes.len()) + fx.rejects.len();
                    Outcome::Done(fx)
                }
                Err(e) if e.class == ErrorClass::Fatal => return Err(e),
                Err(e) => Outcome::Dead(dead_letter(name, rec, None, &e.message, None, e.class)),
            });
            if produced >= self.cfg.batch_size {
                break;
            }
        }
        Ok(Some(out))
    }

    /// Record by record, `concurrency` at a time, until the effects reach `batch_size`.
    async fn process_each(&self, batch: &[LogRecord]) -> Vec<Result<Effects, StageError>> {
        // Owned records and an owned stage handle per future: the futures must not
        // borrow from this frame, or the runner's future stops being `Send`.
        let stage = self.stage.clone();
        let mut stream = futures::stream::iter(batch.iter().cloned())
            .map(move |r| {
                let stage = stage.clone();
                async move { stage.process(&r).await }
            })
            .buffered(self.cfg.concurrency.max(1));
        // A batch is bounded by what it produces, not only by what it reads: one raw
        // record is a page of up to hundreds of items. Stop taking records once the
        // effects reach `batch_size`; the rest go back to the consumer.
        let mut results: Vec<Result<Effects, StageError>> = Vec::with_capacity(batch.len());
        let mut produced = 0usize;
        while let Some(r) = stream.next().await {
            if let Ok(fx) = &r {
                produced += fx.outputs.len().max(fx.writes.len()) + fx.rejects.len();
            }
            results.push(r);
            if produced >= self.cfg.batch_size {
                break;
            }
        }
        results
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
                let mut consumer = self
                    .log
                    .group_consumer(topic, name, self.store.clone())
                    .await?;
                let stored = self.store.offsets(name, topic).await?;
                let mut committed: BTreeMap<u32, u64> = stored
                    .iter()
                    .map(|o| (o.partition, o.next_offset))
                    .collect();
                let mut missing = Vec::new();
                for p in consumer.assignment() {
                    let at = *committed.entry(p).or_insert_with(|| {
                        missing.push(OffsetCommit {
                            partition: p,
                            next_offset: 0,
                        });
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
                    self.health.set_status(
                        &self.component(),
                        Status::Retrying,
                        Some(e.to_string()),
                    );
                    if !sleep_or_shutdown(self.cfg.backoff.delay(attempt), shutdown).await {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Keeps the first `processed` records of `batch` and seeks the consumer back to the
/// rest, partition by partition, so they are polled again next time.
fn give_back_unprocessed(
    consumer: &mut dyn Consumer,
    mut batch: Vec<LogRecord>,
    processed: usize,
) -> Vec<LogRecord> {
    if processed < batch.len() {
        let mut first_left: BTreeMap<u32, u64> = BTreeMap::new();
        for r in &batch[processed..] {
            let at = first_left.entry(r.partition).or_insert(r.offset);
            *at = (*at).min(r.offset);
        }
        for (partition, offset) in first_left {
            consumer.seek(partition, offset);
        }
        batch.truncate(processed);
    }
    batch
}
