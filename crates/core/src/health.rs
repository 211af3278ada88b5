//! The health board: every running component (store, lake, log, each stage, each
//! source) reports its state here; `/readyz` and `sigflow` logs read it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Starting,
    Ok,
    /// Failing transiently and retrying; not ready, but expected to recover.
    Retrying,
    /// Finished its work (a replay source that reached the end).
    Done,
    /// Stopped on a fatal error.
    Failed,
    /// Stopped on purpose (a paused source).
    Paused,
}

/// The board's verdict, for `/readyz`.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    Ready,
    /// These sources are failing; everything else works.
    Degraded(Vec<String>),
    /// These components are failing: the pipeline cannot make progress.
    NotReady(Vec<String>),
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Ok => "ok",
            Status::Retrying => "retrying",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Paused => "paused",
        }
    }

    fn is_well(self) -> bool {
        matches!(
            self,
            Status::Ok | Status::Done | Status::Starting | Status::Paused
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentHealth {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<Utc>>,
    /// Records (stages) or payloads (sources) handled since start.
    pub processed: u64,
    /// Items normalized from a source's payloads since start (sources only).
    #[serde(skip_serializing_if = "is_zero")]
    pub items: u64,
    /// Records waiting in the input topic (stages only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// When a source polls next (sources only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_poll: Option<DateTime<Utc>>,
}

#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<RwLock<BTreeMap<String, ComponentHealth>>>,
}

impl Health {
    pub fn register(&self, name: &str) {
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                name.to_string(),
                ComponentHealth {
                    status: Status::Starting,
                    last_error: None,
                    last_success: None,
                    processed: 0,
                    items: 0,
                    lag: None,
                    cursor: None,
                    next_poll: None,
                },
            );
    }

    pub fn update(&self, name: &str, f: impl FnOnce(&mut ComponentHealth)) {
        if let Some(c) = self
            .inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(name)
        {
            f(c);
        }
    }

    pub fn ok(&self, name: &str, processed: u64) {
        self.update(name, |c| {
            c.status = Status::Ok;
            c.last_success = Some(Utc::now());
            c.processed += processed;
        });
    }

    pub fn set_status(&self, name: &str, status: Status, error: Option<String>) {
        self.update(name, |c| {
            c.status = status;
            if let Some(e) = error {
                // The board is shown to people: no credentials, no page-long bodies.
                c.last_error = Some(crate::redact::truncate(&crate::redact::redact(&e), 500));
            }
        });
    }

    pub fn remove(&self, name: &str) {
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    pub fn snapshot(&self) -> BTreeMap<String, ComponentHealth> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Ready when nothing is failing or retrying.
    pub fn ready(&self) -> bool {
        self.snapshot().values().all(|c| c.status.is_well())
    }

    /// Whether the pipeline can make progress: a failing stage or service makes it
    /// not ready; a failing source (one platform down, or its payloads quarantined)
    /// only degrades it.
    pub fn readiness(&self) -> Readiness {
        let (mut down, mut degraded) = (Vec::new(), Vec::new());
        for (name, c) in self.snapshot() {
            if c.status.is_well() {
                continue;
            }
            // A source, or the parser of one source's payloads (drift quarantine), or
            // the analysis's helpers (an invalid new rule file: the old rules run; the
            // LLM down: the rules decide).
            if name.starts_with("source:")
                || name.starts_with("parser:")
                || name.starts_with("analyze:")
                || name.starts_with("markets:")
            {
                degraded.push(name);
            } else {
                down.push(name);
            }
        }
        if !down.is_empty() {
            Readiness::NotReady(down)
        } else if !degraded.is_empty() {
            Readiness::Degraded(degraded)
        } else {
            Readiness::Ready
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn names_are_the_serialized_ones() {
        for s in [
            Status::Starting,
            Status::Ok,
            Status::Retrying,
            Status::Done,
            Status::Failed,
            Status::Paused,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
