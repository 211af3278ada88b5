//! The source runner: polls a [`Source`], files each payload in the lake (write-once,
//! content-addressed), then commits the `raw` events together with the new cursor.
//!
//! Crash safety: a crash after the lake write but before the commit re-fetches the same
//! payload on restart; the lake key is its hash, so the second write finds the object
//! already there and the raw event is appended exactly once (embedded log) or with the
//! same key (separate log).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use tokio::sync::watch;

use super::backoff::{Backoff, sleep_or_shutdown};
use super::commit::commit;
use super::health::{Health, Status};
use crate::error::ErrorClass;
use crate::lake::{Lake, PutOutcome, raw_key, sha256_hex};
use crate::log::{EventLog, TOPIC_RAW};
use crate::model::{RAW_SCHEMA_VERSION, RawEvent};
use crate::sources::{Payload, Poll, Source, SourceError};
use crate::store::{Append, Commit, Store};

pub struct SourceRunner {
    pub source: Box<dyn Source>,
    pub log: Arc<dyn EventLog>,
    pub store: Arc<dyn Store>,
    pub lake: Arc<dyn Lake>,
    pub backoff: Backoff,
    pub health: Health,
    /// Set once a finite source has delivered everything (for `--exit-when-idle`).
    pub done: Arc<AtomicBool>,
}

impl SourceRunner {
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let name = self.source.name().to_string();
        let comp = format!("source:{name}");
        self.health.register(&comp);
        let mut cursor = loop {
            match self.store.cursor(&name).await {
                Ok(c) => break c,
                Err(e) => {
                    self.health
                        .set_status(&comp, Status::Retrying, Some(e.to_string()));
                    if !sleep_or_shutdown(self.backoff.delay(3), &mut shutdown).await {
                        return;
                    }
                }
            }
        };
        tracing::info!(source = %name, cursor = ?cursor, "source started");
        let mut failures = 0u32;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let polled = tokio::select! {
                r = self.source.poll(cursor.as_deref()) => r,
                _ = shutdown.changed() => return,
            };
            match polled {
                Ok(Poll::Payloads {
                    payloads,
                    cursor: next,
                }) => {
                    let n = payloads.len() as u64;
                    match self.deliver(&name, payloads, &next, &mut shutdown).await {
                        Some(()) => {
                            failures = 0;
                            self.health.ok(&comp, n);
                            self.health.update(&comp, |c| c.cursor = Some(next.clone()));
                            cursor = Some(next);
                        }
                        None => return,
                    }
                }
                Ok(Poll::Idle(wait)) => {
                    self.health.ok(&comp, 0);
                    if !sleep_or_shutdown(wait, &mut shutdown).await {
                        return;
                    }
                }
                Ok(Poll::Done) => {
                    tracing::info!(source = %name, "source reached its end");
                    self.health.set_status(&comp, Status::Done, None);
                    self.done.store(true, Ordering::SeqCst);
                    return;
                }
                Err(SourceError::Transient(e)) => {
                    failures += 1;
                    tracing::warn!(source = %name, error = %e, attempt = failures, "source poll failed; backing off");
                    self.health.set_status(&comp, Status::Retrying, Some(e));
                    if !sleep_or_shutdown(self.backoff.delay(failures), &mut shutdown).await {
                        return;
                    }
                }
                Err(SourceError::Fatal(e)) => {
                    tracing::error!(source = %name, error = %e, "source stopped");
                    self.health.set_status(&comp, Status::Failed, Some(e));
                    self.done.store(true, Ordering::SeqCst);
                    return;
                }
            }
        }
    }

    /// Lake writes then one commit of raw events + cursor, each retried while transient.
    /// None means shutdown came first (nothing committed; the cursor did not move).
    async fn deliver(
        &self,
        name: &str,
        payloads: Vec<Payload>,
        cursor: &str,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<()> {
        let comp = format!("source:{name}");
        let observed_at = Utc::now();
        let mut appends = Vec::with_capacity(payloads.len());
        for p in payloads {
            let ext = crate::normalize::find(&p.format)
                .map(|n| n.ext())
                .unwrap_or("bin");
            let sha = sha256_hex(&p.body);
            let key = raw_key(&p.format, observed_at, &sha, ext);
            let mut attempt = 0;
            loop {
                match self.lake.put_once(&key, &p.body).await {
                    Ok(outcome) => {
                        if outcome == PutOutcome::AlreadyExisted {
                            tracing::debug!(source = name, key, "payload already in the lake");
                        }
                        break;
                    }
                    Err(e) if e.class() == ErrorClass::Transient => {
                        attempt += 1;
                        self.health
                            .set_status(&comp, Status::Retrying, Some(e.to_string()));
                        if !sleep_or_shutdown(self.backoff.delay(attempt), shutdown).await {
                            return None;
                        }
                    }
                    Err(e) => {
                        // Not retryable (bad key, conflict): say so and keep trying slowly,
                        // since skipping would lose the payload.
                        tracing::error!(source = name, key, error = %e, "cannot write payload to the lake");
                        self.health
                            .set_status(&comp, Status::Failed, Some(e.to_string()));
                        if !sleep_or_shutdown(self.backoff.max, shutdown).await {
                            return None;
                        }
                    }
                }
            }
            let event = RawEvent {
                schema_version: RAW_SCHEMA_VERSION,
                source: name.to_string(),
                format: p.format,
                lake_key: key,
                content_type: if ext == "xml" {
                    "application/xml"
                } else {
                    "application/json"
                }
                .into(),
                bytes: p.body.len() as u64,
                sha256: sha,
                observed_at,
                meta: p.meta,
            };
            let key = event.key().into_bytes();
            let value = serde_json::to_vec(&event).expect("raw events serialize");
            appends.push(Append {
                topic: TOPIC_RAW.into(),
                key: Some(key),
                value,
            });
        }
        let n = appends.len() as u64;
        let mut attempt = 0;
        loop {
            let c = Commit {
                appends: appends.clone(),
                cursors: vec![(name.to_string(), cursor.to_string())],
                ..Default::default()
            };
            match commit(self.log.as_ref(), self.store.as_ref(), c).await {
                Ok(()) => {
                    metrics::counter!("sigflow_source_payloads_total", "source" => name.to_string()).increment(n);
                    return Some(());
                }
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(source = name, error = %e, attempt, "raw commit failed; retrying");
                    self.health
                        .set_status(&comp, Status::Retrying, Some(e.to_string()));
                    if !sleep_or_shutdown(self.backoff.delay(attempt), shutdown).await {
                        return None;
                    }
                }
            }
        }
    }
}
