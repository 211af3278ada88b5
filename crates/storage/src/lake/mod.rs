//! The `Lake` trait: immutable raw payloads, written once, kept forever. It is the
//! source of truth: every item in the store can be re-derived from it.
//!
//! Backends are chosen by URL in [`open`]: `file://DIR` (default), `s3://BUCKET/PREFIX`
//! (cargo feature `s3`).

mod file;
#[cfg(feature = "s3")]
mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use file::FileLake;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("lake object `{0}` does not exist")]
    NotFound(String),
    #[error("invalid lake key `{0}`")]
    BadKey(String),
    #[error("lake object `{0}` exists with different bytes; objects are never overwritten")]
    Conflict(String),
    #[error("lake I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("lake worker failed: {0}")]
    Join(String),
    /// A remote object store's error; true when retrying may help.
    #[error("lake store: {0}")]
    Remote(String, bool),
    #[error("{0}")]
    Unsupported(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// The same bytes were already there (a retry after a crash, or a re-fetch).
    AlreadyExisted,
}

#[async_trait]
pub trait Lake: Send + Sync {
    fn kind(&self) -> &'static str;
    /// Writes `bytes` at `key` unless an object is already there. Never overwrites.
    async fn put_once(&self, key: &str, bytes: &[u8]) -> Result<PutOutcome, LakeError>;
    async fn get(&self, key: &str) -> Result<Vec<u8>, LakeError>;
    /// Keys under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, LakeError>;
    /// Readiness: can we write?
    async fn ping(&self) -> Result<(), LakeError>;
}

pub use crate::hash::sha256_hex;

/// `{format}/raw/YYYY/MM/DD/{sha256}.{ext}`: content-addressed, so writing the same
/// payload twice (a crash between lake write and log append) is harmless.
pub fn raw_key(format: &str, observed_at: DateTime<Utc>, sha256: &str, ext: &str) -> String {
    format!(
        "{format}/raw/{}/{sha256}.{ext}",
        observed_at.format("%Y/%m/%d")
    )
}

/// Opens the lake named by `url`.
pub fn open(url: &str, fsync: bool) -> Result<Arc<dyn Lake>, LakeError> {
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Arc::new(FileLake::new(
            std::path::PathBuf::from(path),
            fsync,
        )?));
    }
    if url.starts_with("s3://") {
        #[cfg(feature = "s3")]
        return Ok(Arc::new(s3::S3Lake::open(url)?));
        #[cfg(not(feature = "s3"))]
        return Err(LakeError::Unsupported(
            "lake backend `s3://` is not enabled in this build: rebuild with `--features s3`"
                .into(),
        ));
    }
    Err(LakeError::BadKey(format!(
        "unknown lake URL `{url}`: expected file://DIR or s3://BUCKET[/PREFIX]"
    )))
}

/// Keys are relative paths of plain segments; anything that could escape the lake root
/// or alias another key is refused.
pub fn validate_key(key: &str) -> Result<(), LakeError> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if ok {
        Ok(())
    } else {
        Err(LakeError::BadKey(key.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_dated_and_content_addressed() {
        let t = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let h = sha256_hex(b"abc");
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            raw_key("reddit", t, &h, "json"),
            format!("reddit/raw/2026/11/22/{h}.json")
        );
        assert!(validate_key(&raw_key("reddit", t, &h, "json")).is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "a/./b", "a b"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
