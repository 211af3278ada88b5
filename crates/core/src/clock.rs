//! The process's clock for time that matters to results (when a prediction is sealed,
//! whether a session has closed): the wall clock, or — when the environment variable
//! `SIGFLOW_CLOCK` holds an RFC 3339 instant — a clock that read that instant when the
//! process started and runs at normal speed from there. It exists so that tests (and
//! demonstrations) can put a run on a given day: outcomes become final days after a
//! prediction, and no test may depend on the day it runs. The CLI logs it loudly.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

pub const ENV: &str = "SIGFLOW_CLOCK";

static OFFSET: OnceLock<Option<chrono::Duration>> = OnceLock::new();

fn offset() -> Option<chrono::Duration> {
    *OFFSET.get_or_init(|| {
        let v = std::env::var(ENV).ok()?;
        let at = DateTime::parse_from_rfc3339(v.trim())
            .ok()?
            .with_timezone(&Utc);
        Some(at - Utc::now())
    })
}

/// Now, as this process counts it.
pub fn now() -> DateTime<Utc> {
    match offset() {
        Some(o) => Utc::now() + o,
        None => Utc::now(),
    }
}

/// Whether the clock is shifted (`SIGFLOW_CLOCK` set and valid).
pub fn is_shifted() -> bool {
    offset().is_some()
}

/// `SIGFLOW_CLOCK` when it is set but not an RFC 3339 instant.
pub fn invalid_setting() -> Option<String> {
    let v = std::env::var(ENV).ok()?;
    DateTime::parse_from_rfc3339(v.trim()).is_err().then_some(v)
}
