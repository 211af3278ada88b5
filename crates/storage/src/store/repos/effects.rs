//! `effects`: the side-effect journal (migration 0006). A stage that calls the outside
//! world — a webhook delivery now; an LLM answer or an alert next — goes through
//! [`once`]: the journal is read first, the call is made only when it holds nothing
//! for the key, and the result is committed *before* the stage uses it. A retry, a
//! replay or a restart after a crash therefore finds the result instead of paying for
//! or sending the same thing again.
//!
//! The one window left: a crash after the call returned and before its row committed
//! (one store transaction, measured as `sigflow_effect_journal_seconds`; see
//! ARCHITECTURE.md) repeats that call once on restart. A receiver that honours the
//! `Idempotency-Key` the caller sends (the key here) closes it. Two workers racing on
//! the same key may both call; the first row wins and both use it.

use std::future::Future;
use std::time::Instant;

use crate::model::now_micros;
use crate::store::StoreError;
use crate::store::sql::{FromRow, Mutation, Row, SqlDb};

/// A journalled result.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub result: Vec<u8>,
    /// True when this call performed it; false when the journal already had it.
    pub performed: bool,
}

struct Stored(Vec<u8>);

impl FromRow for Stored {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        r.blob(0).map(Stored)
    }
}

/// The result journalled for (`scope`, `key`), if any.
pub async fn get(db: &dyn SqlDb, scope: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(db
        .query_opt::<Stored>(
            "SELECT result FROM effects WHERE scope = $1 AND key = $2",
            crate::sql_params![scope, key],
        )
        .await?
        .map(|s| s.0))
}

/// Journals `result` unless a row for the key exists (the first one wins).
pub fn put_mutation(scope: &str, key: &str, result: Vec<u8>, call_ms: u64) -> Mutation {
    Mutation::new(
        "INSERT INTO effects (scope, key, result, call_ms, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (scope, key) DO NOTHING",
        crate::sql_params![scope, key, result, call_ms, now_micros()],
    )
}

/// Deletes journal rows older than `before` (µs): rows a replay can no longer need,
/// because the log records that could cause their calls are gone.
pub fn prune_mutation(before: i64) -> Mutation {
    Mutation::new(
        "DELETE FROM effects WHERE created_at < $1",
        crate::sql_params![before],
    )
}

/// Why [`once`] has no result.
#[derive(Debug)]
pub enum OnceError<E> {
    /// The journal could not be read or written (the call may have been made).
    Store(StoreError),
    /// The call failed; nothing was journalled, so a retry calls again.
    Call(E),
}

/// Performs `call` at most once per (`scope`, `key`), as far as the journal can tell:
/// a journalled result is returned without calling; a fresh result is committed to
/// the journal before it is returned. Failed calls are not journalled.
pub async fn once<E, F, Fut>(
    db: &dyn SqlDb,
    scope: &str,
    key: &str,
    call: F,
) -> Result<Effect, OnceError<E>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Vec<u8>, E>>,
{
    if let Some(result) = get(db, scope, key).await.map_err(OnceError::Store)? {
        return Ok(Effect {
            result,
            performed: false,
        });
    }
    let t = Instant::now();
    let result = call().await.map_err(OnceError::Call)?;
    let call_ms = t.elapsed().as_millis() as u64;
    let returned = Instant::now();
    let inserted = db
        .execute_one(put_mutation(scope, key, result.clone(), call_ms))
        .await
        .map_err(OnceError::Store)?;
    // The crash window: from the call's return to its row being committed.
    metrics::histogram!("sigflow_effect_journal_seconds", "scope" => scope.to_string())
        .record(returned.elapsed().as_secs_f64());
    if inserted == 1 {
        return Ok(Effect {
            result,
            performed: true,
        });
    }
    // Another worker journalled first: use its row, as every later reader will.
    let result = get(db, scope, key)
        .await
        .map_err(OnceError::Store)?
        .ok_or_else(|| {
            OnceError::Store(StoreError::Corrupt("journalled effect vanished".into()))
        })?;
    Ok(Effect {
        result,
        performed: true,
    })
}
