//! One repository per table (noun): its row type, its reads, and the mutations that
//! change it — SQL written once ([`super::sql`]) for both backends. The API and the CLI
//! read the store through these; a new table is one file here plus its migration.
//!
//! Hand-tuned writes stay where the benchmark put them: the content upsert
//! (`sqlite.rs::upsert_content`, `postgres_upsert.rs`), dead-letter inserts and
//! offsets on the commit path, the embedded log, the enrichment state.

pub mod api_keys;
pub mod contents;
pub mod cursors;
pub mod dead_letters;
pub mod effects;
pub mod llm_usage;
pub mod outcomes;
pub mod predictions;
pub mod price_bars;
pub mod price_tracking;
pub mod source_defs;

use serde::Serialize;

use super::StoreError;
use super::sql::{FromRow, Row, SqlDb};

/// Row counts for health and tests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreCounts {
    pub contents: u64,
    pub dlq: u64,
    /// Sealed predictions (live and shadow).
    pub predictions: u64,
}

impl FromRow for StoreCounts {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        Ok(StoreCounts {
            contents: r.u64(0)?,
            dlq: r.u64(1)?,
            predictions: r.u64(2)?,
        })
    }
}

/// Rows in `contents`, `dlq` and `predictions`.
pub async fn counts(db: &dyn SqlDb) -> Result<StoreCounts, StoreError> {
    db.query_opt(
        "SELECT (SELECT COUNT(*) FROM contents), (SELECT COUNT(*) FROM dlq), \
         (SELECT COUNT(*) FROM predictions)",
        vec![],
    )
    .await
    .map(Option::unwrap_or_default)
}
