//! The source runner: polls a [`Source`], files each payload in the lake (write-once,
//! content-addressed), then commits the `raw` events together with the new cursor.
//!
//! Crash safety: a crash after the lake write but before the commit re-fetches the same
//! payload on restart; the lake key is its hash, so the second write finds the object
//! already there and the raw event is appended exactly once (embedded log) or with the
//! same key (separate log).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;

use super::backoff::{Backoff, sleep_or_shutdown};
use crate::error::ErrorClass;
use crate::health::{Health, Status};
use crate::lake::{Lake, PutOutcome, raw_key, sha256_hex};
use crate::log::EventLog;
use crate::runtime::commit;
use crate::sources::raw::{ext_of, raw_append};
use crate::sources::{Payload, Poll, Source, SourceError};
use crate::store::{Commit, Store};

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

/// Opens when a source has been failing for a while, not after a burst: at least
/// `failures` failures *and* [`MIN_FAILING`] since the first of them, so a blip of a
/// few seconds only backs off. Once open it probes again (half-open) after
/// [`FIRST_PROBE`], doubling to `cooldown` while the probes fail.
struct Breaker {
    settings: BreakerSettings,
    failures: u32,
    since: Option<Instant>,
    open_rounds: u32,
}

const MIN_FAILING: Duration = Duration::from_secs(30);
const FIRST_PROBE: Duration = Duration::from_secs(30);

impl Breaker {
    fn new(settings: BreakerSettings) -> Self {
        Breaker {
            settings,
            failures: 0,
            since: None,
            open_rounds: 0,
        }
    }

    fn success(&mut self) {
        self.failures = 0;
        self.since = None;
        self.open_rounds = 0;
    }

    /// The wait before the next try, and whether the circuit is (still) open.
    fn failure(&mut self, backoff: &Backoff, now: Instant) -> (Duration, bool) {
        self.failures += 1;
        let since = *self.since.get_or_insert(now);
        if self.failures >= self.settings.failures && now.duration_since(since) >= MIN_FAILING {
            let probe = FIRST_PROBE
                .saturating_mul(1 << self.open_rounds.min(16))
                .min(self.settings.cooldown);
            self.open_rounds += 1;
            (probe, true)
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
            match crate::store::repos::cursors::get(self.store.sql(), &name).await {
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
                    let (wait, opened) = breaker.failure(&self.backoff, Instant::now());
                    let attempt = breaker.failures;
                    if opened {
                        tracing::error!(source = %name, error = %e, attempt, cooldown_secs = wait.as_secs(), "source keeps failing; circuit open");
                        metrics::counter!("sigflow_source_circuit_open_total", "source" => name.clone())
                            .increment(1);
                        let msg = format!(
                            "circuit open after {attempt} failures over 30 s or more, next try in {}s: {e}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_on_a_lasting_failure_not_a_blip_and_probes_sooner() {
        let backoff = Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
        };
        let mut b = Breaker::new(BreakerSettings {
            failures: 3,
            cooldown: Duration::from_secs(300),
        });
        let t0 = Instant::now();
        // A blip: many failures within a few seconds only back off.
        for i in 0..8 {
            assert!(!b.failure(&backoff, t0 + Duration::from_millis(500 * i)).1);
        }
        // Still failing 30 s later: open, first probe after 30 s, then 60, 120, 240, 300.
        let later = t0 + Duration::from_secs(31);
        assert_eq!(b.failure(&backoff, later), (Duration::from_secs(30), true));
        assert_eq!(b.failure(&backoff, later).0, Duration::from_secs(60));
        assert_eq!(b.failure(&backoff, later).0, Duration::from_secs(120));
        assert_eq!(b.failure(&backoff, later).0, Duration::from_secs(240));
        assert_eq!(b.failure(&backoff, later).0, Duration::from_secs(300));
        b.success();
        let (wait, open) = b.failure(&backoff, later);
        assert!(!open && wait <= Duration::from_millis(10));
    }
}
