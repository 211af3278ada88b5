//! Error classification: the one place that decides retry versus dead-letter.
//!
//! Every boundary error type (store, lake, log, parse) says which [`ErrorClass`] it
//! belongs to here, and nowhere else. The stage runner only ever looks at the class:
//!
//! * `Transient` — the world is temporarily unwell (store busy, disk I/O, timeout).
//!   The whole batch is retried with backoff; the record is never dead-lettered.
//! * `Poison` — this record is bad for its own reasons (unparseable payload, broken
//!   invariant, constraint violation). It goes to the DLQ and the batch continues.
//! * `Fatal` — configuration or schema is wrong; retrying cannot help and skipping
//!   would silently lose data. The stage stops loudly.

/// How a failure must be handled by whoever runs the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Transient,
    Poison,
    Fatal,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Poison => "poison",
            ErrorClass::Fatal => "fatal",
        }
    }
}

/// A stage's failure on one record, already classified.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    pub class: ErrorClass,
    pub message: String,
}

impl StageError {
    pub fn poison(message: impl Into<String>) -> Self {
        StageError {
            class: ErrorClass::Poison,
            message: message.into(),
        }
    }
    pub fn transient(message: impl Into<String>) -> Self {
        StageError {
            class: ErrorClass::Transient,
            message: message.into(),
        }
    }
    pub fn fatal(message: impl Into<String>) -> Self {
        StageError {
            class: ErrorClass::Fatal,
            message: message.into(),
        }
    }
}

/// An outbound delivery's HTTP answer (webhooks now; alert channels next): 2xx is
/// done; 408, 429 and 5xx are worth retrying; any other 4xx is this message's own
/// problem (dead-lettered, never retried).
pub fn classify_delivery(status: u16) -> Option<ErrorClass> {
    match status {
        200..=299 => None,
        408 | 429 | 500..=599 => Some(ErrorClass::Transient),
        _ => Some(ErrorClass::Poison),
    }
}

pub fn classify_io(e: &std::io::Error) -> ErrorClass {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied | K::InvalidInput | K::Unsupported => ErrorClass::Fatal,
        _ => ErrorClass::Transient,
    }
}
