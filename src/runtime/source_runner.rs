//! The source runner: polls a [`Source`], files each payload in the lake (write-once,
//! content-addressed), then commits the `raw` events together with the new cursor.
//!
//! Crash safety: a crash after the lake write but before the commit re-fetches the same
//! payload on restart; the lake key is its hash, so the second write finds the object
//! already there and the raw event is appended exactly once (embedded log) or with the
//! same key (separate log).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    pub breaker: BreakerSettings,
}

/// When a source's circuit opens: after `failures` transient failures in a row it
/// rests for `cooldown` before one trial poll (instead of retrying at the backoff's
/// cap forever); a success closes it.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    pub failures: u32,
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failures: 5,
            cooldown: Duration::from_secs(300),
        }
    }
}

struct Breaker {
    settings: BreakerSettings,
    failures: u32,
}

impl Breaker {
    fn new(settings: BreakerSettings) -> Self {
        Breaker {
            settings,
            failures: 0,
        }
    }

    fn success(&mut self) {
        self.failures = 0;
    }

    /// The wait before the next try, and whether the circuit is (still) open.
    fn failure(&mut self, backoff: &Backoff) -> (Duration, bool) {
        self.failures += 1;
        if self.failures >= self.settings.failures {
            (self.settings.cooldown, true)
        } else {
            (backoff.delay(self.failures), false)
        }
    }
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
        let mut breaker = Breaker::new(self.breaker);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let polled = tokio::select! {
                r = self.source.poll(cursor.as_deref()) => r,
                _ = shutdown.changed() => return,
            };
            let wait = match polled {
                Ok(Poll::Payloads {
                    payloads,
                    cursor: next,
                }) => {
                    let n = payloads.len() as u64;
                    match self.deliver(&name, payloads, &next, &mut shutdown).await {
                        Some(()) => {
                            breaker.success();
                            self.health.ok(&comp, n);
                            self.health.update(&comp, |c| {
                                c.cursor = Some(next.clone());
                                c.next_poll = None;
                            });
                            cursor = Some(next);
                            continue;
                        }
                        None => return,
                    }
                }
                Ok(Poll::Idle(wait)) => {
                    breaker.success();
                    self.health.ok(&comp, 0);
                    wait
                }
                Ok(Poll::Done) => {
                    tracing::info!(source = %name, "source reached its end");
                    self.health.set_status(&comp, Status::Done, None);
                    self.done.store(true, Ordering::SeqCst);
                    return;
                }
                Err(SourceError::Throttled { message, wait }) => {
                    tracing::warn!(source = %name, error = %message, wait_secs = wait.as_secs_f64(), "source throttled by the platform; waiting");
                    metrics::counter!("sigflow_source_throttled_total", "source" => name.clone())
                        .increment(1);
                    self.health
                        .set_status(&comp, Status::Retrying, Some(message));
                    wait
                }
                Err(SourceError::Transient(e)) => {
                    let (wait, opened) = breaker.failure(&self.backoff);
                    let attempt = breaker.failures;
                    if opened {
                        tracing::error!(source = %name, error = %e, attempt, cooldown_secs = wait.as_secs(), "source keeps failing; circuit open");
                        metrics::counter!("sigflow_source_circuit_open_total", "source" => name.clone())
                            .increment(1);
                        let msg = format!(
                            "circuit open after {attempt} failures in a row, next try in {}s: {e}",
                            wait.as_secs()
                        );
                        self.health.set_status(&comp, Status::Retrying, Some(msg));
                    } else {
                        tracing::warn!(source = %name, error = %e, attempt, "source poll failed; backing off");
                        self.health.set_status(&comp, Status::Retrying, Some(e));
                    }
                    wait
                }
                Err(SourceError::Fatal(e)) => {
                    tracing::error!(source = %name, error = %e, "source stopped");
                    self.health.set_status(&comp, Status::Failed, Some(e));
                    self.done.store(true, Ordering::SeqCst);
                    return;
                }
            };
            let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            self.health.update(&comp, |c| c.next_poll = Some(at));
            if !sleep_or_shutdown(wait, &mut shutdown).await {
                return;
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
            let ext = ext_of(&p);
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
            appends.push(raw_append(name, p, key, sha, observed_at));
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

/// The lake file extension of a payload: its format's, unless the bytes are a ZIP
/// archive (the House Clerk publishes its index zipped).
pub fn ext_of(p: &Payload) -> &'static str {
    if p.body.starts_with(b"PK\x03\x04") {
        return "zip";
    }
    crate::normalize::find(&p.format)
        .map(|n| n.ext())
        .unwrap_or("bin")
}

/// The `raw` event of a payload already filed in the lake under `key`: what the
/// source runner and the webhook endpoint append.
pub fn raw_append(
    source: &str,
    p: Payload,
    key: String,
    sha: String,
    observed_at: chrono::DateTime<Utc>,
) -> Append {
    let ext = ext_of(&p);
    let event = RawEvent {
        schema_version: RAW_SCHEMA_VERSION,
        source: source.to_string(),
        format: p.format,
        lake_key: key,
        content_type: match ext {
            "xml" => "application/xml",
            "csv" => "text/csv",
            "jsonl" => "application/x-ndjson",
            "zip" => "application/zip",
            _ => "application/json",
        }
        .into(),
        bytes: p.body.len() as u64,
        sha256: sha,
        observed_at,
        meta: p.meta,
    };
    Append {
        topic: TOPIC_RAW.into(),
        key: Some(event.key().into_bytes()),
        value: serde_json::to_vec(&event).expect("raw events serialize"),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_a_run_of_failures_and_closes_on_success() {
        let backoff = Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
        };
        let mut b = Breaker::new(BreakerSettings {
            failures: 3,
            cooldown: Duration::from_secs(60),
        });
        assert!(!b.failure(&backoff).1);
        assert!(!b.failure(&backoff).1);
        assert_eq!(b.failure(&backoff), (Duration::from_secs(60), true));
        // Still open: every further failure waits the cooldown.
        assert_eq!(b.failure(&backoff), (Duration::from_secs(60), true));
        b.success();
        let (wait, open) = b.failure(&backoff);
        assert!(!open && wait <= Duration::from_millis(10));
    }
}
