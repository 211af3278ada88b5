//! The one commit path for stages and sources.
//!
//! Embedded log: the appends ride in the store transaction: outputs, results, DLQ rows,
//! cursors and input offsets are one atomic unit.
//! Separate log: outputs are appended (and acknowledged) first, then the store commits
//! results + offsets. A crash between the two re-sends the same outputs with the same
//! keys and ids, and every consumer upserts, so nothing is lost or stored twice.

use crate::error::StageError;
use crate::log::EventLog;
use crate::store::{Commit, Store};

pub async fn commit(
    log: &dyn EventLog,
    store: &dyn Store,
    mut c: Commit,
) -> Result<(), StageError> {
    if !log.transactional_with_store() && !c.appends.is_empty() {
        log.append(std::mem::take(&mut c.appends)).await?;
    }
    store.commit(c).await?;
    Ok(())
}
