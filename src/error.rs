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

use crate::lake::LakeError;
use crate::log::LogError;
use crate::normalize::PayloadError;
use crate::store::StoreError;

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

impl From<crate::enrich::EnrichError> for StageError {
    fn from(e: crate::enrich::EnrichError) -> Self {
        StageError {
            class: e.class,
            message: e.message,
        }
    }
}

/// Classifies SQLite result codes. Busy/locked/I-O/full are the machine's state and pass;
/// constraint/mismatch/too-big are the record's own fault; the rest (corrupt file,
/// schema mismatch, misuse) mean the deployment is broken.
pub fn classify_sqlite(e: &rusqlite::Error) -> ErrorClass {
    use rusqlite::ErrorCode as C;
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::DatabaseBusy
            | C::DatabaseLocked
            | C::SystemIoFailure
            | C::DiskFull
            | C::OutOfMemory => ErrorClass::Transient,
            C::ConstraintViolation | C::TypeMismatch | C::TooBig => ErrorClass::Poison,
            _ => ErrorClass::Fatal,
        },
        rusqlite::Error::ToSqlConversionFailure(_)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => ErrorClass::Poison,
        _ => ErrorClass::Fatal,
    }
}

/// PostgreSQL errors by SQLSTATE class: connection trouble, rollbacks (serialization,
/// deadlock), resources and operator intervention (a restarting server) are transient;
/// data and integrity errors are the record's; the rest (syntax, permissions, a
/// missing table) need a person. An error without a SQLSTATE is the client's own:
/// a lost or refused connection, transient.
#[cfg(feature = "postgres")]
pub fn classify_postgres(e: &tokio_postgres::Error) -> ErrorClass {
    match e.code().map(|c| c.code()) {
        None => {
            if e.is_closed()
                || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
                || e.to_string().contains("connect")
            {
                ErrorClass::Transient
            } else {
                ErrorClass::Fatal
            }
        }
        Some(code) => match &code[..2] {
            "08" | "40" | "53" | "57" | "58" => ErrorClass::Transient,
            "22" | "23" => ErrorClass::Poison,
            _ => ErrorClass::Fatal,
        },
    }
}

/// Kafka errors: a record the broker refuses for its own sake (too large, invalid) is
/// poison; a client that cannot be configured is fatal; everything else — brokers
/// down, leaders moving, timeouts, a group rebalancing — is transient (librdkafka
/// reconnects on its own).
#[cfg(feature = "kafka")]
pub fn classify_kafka(e: &rdkafka::error::KafkaError) -> ErrorClass {
    use rdkafka::error::{KafkaError as K, RDKafkaErrorCode as C};
    match e {
        K::ClientConfig(..) | K::ClientCreation(_) | K::Subscription(_) => ErrorClass::Fatal,
        _ => match e.rdkafka_error_code() {
            Some(C::MessageSizeTooLarge | C::InvalidMessage | C::InvalidRecord) => {
                ErrorClass::Poison
            }
            Some(C::TopicAuthorizationFailed | C::GroupAuthorizationFailed) => ErrorClass::Fatal,
            _ => ErrorClass::Transient,
        },
    }
}

pub fn classify_io(e: &std::io::Error) -> ErrorClass {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied | K::InvalidInput | K::Unsupported => ErrorClass::Fatal,
        _ => ErrorClass::Transient,
    }
}

impl StoreError {
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Sqlite(e) => classify_sqlite(e),
            StoreError::Io(e) => classify_io(e),
            StoreError::Join(_) => ErrorClass::Transient,
            #[cfg(feature = "postgres")]
            StoreError::Postgres(e) => classify_postgres(e),
            StoreError::Unavailable(_) => ErrorClass::Transient,
            StoreError::Corrupt(_) => ErrorClass::Fatal,
            StoreError::Unsupported(_) => ErrorClass::Fatal,
        }
    }
}

impl LakeError {
    pub fn class(&self) -> ErrorClass {
        match self {
            // A raw event that points at nothing cannot get better by waiting: the
            // event is bad (hand-made, or its object was deleted by someone).
            LakeError::NotFound(_) => ErrorClass::Poison,
            LakeError::BadKey(_) => ErrorClass::Poison,
            LakeError::Conflict(_) => ErrorClass::Fatal,
            LakeError::Io(e) => classify_io(e),
            LakeError::Join(_) => ErrorClass::Transient,
            LakeError::Remote(_, true) => ErrorClass::Transient,
            LakeError::Remote(_, false) => ErrorClass::Fatal,
            LakeError::Unsupported(_) => ErrorClass::Fatal,
        }
    }
}

impl LogError {
    pub fn class(&self) -> ErrorClass {
        match self {
            LogError::Store(e) => e.class(),
            LogError::UnknownTopic(_) => ErrorClass::Fatal,
            #[cfg(feature = "kafka")]
            LogError::Kafka(e) => classify_kafka(e),
            LogError::Config(_) => ErrorClass::Fatal,
        }
    }
}

impl PayloadError {
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Poison
    }
}

impl From<StoreError> for StageError {
    fn from(e: StoreError) -> Self {
        StageError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

impl From<LakeError> for StageError {
    fn from(e: LakeError) -> Self {
        StageError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

impl From<LogError> for StageError {
    fn from(e: LogError) -> Self {
        StageError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

impl From<PayloadError> for StageError {
    fn from(e: PayloadError) -> Self {
        StageError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_busy_is_transient_and_constraint_is_poison() {
        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(5), None);
        assert_eq!(classify_sqlite(&busy), ErrorClass::Transient);
        let constraint = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(19), None);
        assert_eq!(classify_sqlite(&constraint), ErrorClass::Poison);
        let corrupt = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(11), None);
        assert_eq!(classify_sqlite(&corrupt), ErrorClass::Fatal);
    }

    #[test]
    fn missing_lake_object_is_poison_but_io_is_transient() {
        assert_eq!(LakeError::NotFound("k".into()).class(), ErrorClass::Poison);
        let io = LakeError::Io(std::io::Error::other("disk hiccup"));
        assert_eq!(io.class(), ErrorClass::Transient);
    }
}
