//! `source_cursors`: each source's position, written on the commit path with the raw
//! events it covers (`Commit::cursors`), read here.

use crate::store::StoreError;
use crate::store::sql::SqlDb;

/// The committed cursor of `source`, if it ever committed one.
pub async fn get(db: &dyn SqlDb, source: &str) -> Result<Option<String>, StoreError> {
    db.query_opt(
        "SELECT cursor FROM source_cursors WHERE source = $1",
        crate::sql_params![source],
    )
    .await
}
