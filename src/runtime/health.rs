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
            if error.is_some() {
                c.last_error = error;
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
        self.snapshot().values().all(|c| {
            matches!(
                c.status,
                Status::Ok | Status::Done | Status::Starting | Status::Paused
            )
        })
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
