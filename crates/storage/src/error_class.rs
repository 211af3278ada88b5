//! How the storage backends' errors classify ([`ErrorClass`]): the driver codes of
//! SQLite, PostgreSQL and Kafka, and each boundary error's class. Part of the one
//! classification (`sigflow_core::error`): the classes are defined there, the driver
//! codes are read here, where the drivers are.

use crate::error::{ErrorClass, StageError, classify_io};
use crate::lake::LakeError;
use crate::log::LogError;
use crate::store::StoreError;

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
