//! `dlq`: records that failed for their own reasons. Inserted on the commit path
//! (`Commit::dead_letters`, hand-tuned per backend); read and marked replayed here.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{from_micros, now_micros};
use crate::store::sql::{FromRow, Mutation, Params, Row, SqlDb};
use crate::store::{DeadLetter, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct StoredDeadLetter {
    #[serde(flatten)]
    pub letter: DeadLetter,
    pub created_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_count: u32,
    /// The input record, as text when it is UTF-8.
    pub payload_text: Option<String>,
}

const COLUMNS: &str = "id, stage, topic, partition, \"offset\", item_index, key, payload, detail, \
     error, error_class, created_at, replayed_at, replay_count";

impl FromRow for StoredDeadLetter {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        let payload = r.blob(7)?;
        Ok(StoredDeadLetter {
            payload_text: String::from_utf8(payload.clone()).ok(),
            letter: DeadLetter {
                id: r.text(0)?,
                stage: r.text(1)?,
                topic: r.text(2)?,
                partition: r.u32(3)?,
                offset: r.u64(4)?,
                item_index: r.opt_u32(5)?,
                key: r.opt_blob(6)?,
                payload,
                detail: r.opt_text(8)?,
                error: r.text(9)?,
                error_class: r.text(10)?,
            },
            created_at: from_micros(r.i64(11)?),
            replayed_at: r.opt_i64(12)?.map(from_micros),
            replay_count: r.u32(13)?,
        })
    }
}

/// Binds `ids` as `$a, $b, …` for an `IN (…)` list (portable, unlike arrays).
fn in_list(p: &mut Params, ids: &[String]) -> String {
    ids.iter()
        .map(|id| p.bind(id.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite's default bound on parameters per statement is 32,766; stay well below.
const IDS_PER_STATEMENT: usize = 500;

/// The newest `limit` dead letters, or those with the given ids (at most `limit`).
pub async fn list(
    db: &dyn SqlDb,
    limit: usize,
    ids: &[String],
) -> Result<Vec<StoredDeadLetter>, StoreError> {
    if ids.is_empty() {
        return db
            .query_as(
                &format!("SELECT {COLUMNS} FROM dlq ORDER BY created_at DESC, id LIMIT $1"),
                crate::sql_params![limit as u64],
            )
            .await;
    }
    let mut out = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut p = Params::default();
        let list = in_list(&mut p, chunk);
        out.extend(
            db.query_as::<StoredDeadLetter>(
                &format!("SELECT {COLUMNS} FROM dlq WHERE id IN ({list})"),
                p.0,
            )
            .await?,
        );
    }
    out.sort_by(|a, b| (b.created_at, &a.letter.id).cmp(&(a.created_at, &b.letter.id)));
    out.truncate(limit);
    Ok(out)
}

/// Counts one more replay of each of `ids`, now.
pub async fn mark_replayed(db: &dyn SqlDb, ids: &[String]) -> Result<(), StoreError> {
    let now = now_micros();
    let muts = ids
        .chunks(IDS_PER_STATEMENT)
        .map(|chunk| {
            let mut p = Params::default();
            let at = p.bind(now);
            let list = in_list(&mut p, chunk);
            Mutation::new(
                format!(
                    "UPDATE dlq SET replayed_at = {at}, replay_count = replay_count + 1 WHERE id IN ({list})"
                ),
                p.0,
            )
        })
        .collect();
    db.execute(muts).await.map(drop)
}
