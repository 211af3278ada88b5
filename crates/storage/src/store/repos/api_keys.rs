//! `api_keys` (migration 0007): who may call the API. Keys are made by
//! `sigflow keys create` and only their hash is stored ([`sigflow_core::apikey`]);
//! the API looks a presented key up by hash.

use serde::Serialize;

use crate::model::now_micros;
use crate::store::StoreError;
use crate::store::sql::{FromRow, Mutation, Row, SqlDb};

/// A key as `sigflow keys list` shows it (never the key itself).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scope: String,
    /// µs since epoch.
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl FromRow for ApiKey {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: r.text(0)?,
            name: r.text(1)?,
            scope: r.text(2)?,
            created_at: r.i64(3)?,
            revoked_at: r.opt_i64(4)?,
        })
    }
}

const COLUMNS: &str = "id, name, scope, created_at, revoked_at";

pub async fn create(
    db: &dyn SqlDb,
    id: &str,
    name: &str,
    scope: &str,
    hash: &str,
) -> Result<ApiKey, StoreError> {
    let now = now_micros();
    db.execute_one(Mutation::new(
        "INSERT INTO api_keys (id, name, scope, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        crate::sql_params![id, name, scope, hash, now],
    ))
    .await?;
    Ok(ApiKey {
        id: id.into(),
        name: name.into(),
        scope: scope.into(),
        created_at: now,
        revoked_at: None,
    })
}

/// Every key, revoked ones included, oldest first.
pub async fn list(db: &dyn SqlDb) -> Result<Vec<ApiKey>, StoreError> {
    db.query_as(
        &format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"),
        vec![],
    )
    .await
}

/// The working key with this hash.
pub async fn by_hash(db: &dyn SqlDb, hash: &str) -> Result<Option<ApiKey>, StoreError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE hash = $1 AND revoked_at IS NULL"),
        crate::sql_params![hash],
    )
    .await
}

/// How many keys work.
pub async fn active_count(db: &dyn SqlDb) -> Result<u64, StoreError> {
    Ok(list(db)
        .await?
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .count() as u64)
}

/// Revokes the working keys whose id or name is `which`; returns them.
pub async fn revoke(db: &dyn SqlDb, which: &str) -> Result<Vec<ApiKey>, StoreError> {
    let hits: Vec<ApiKey> = list(db)
        .await?
        .into_iter()
        .filter(|k| k.revoked_at.is_none() && (k.id == which || k.name == which))
        .collect();
    let now = now_micros();
    let updates = hits
        .iter()
        .map(|k| {
            Mutation::new(
                "UPDATE api_keys SET revoked_at = $1 WHERE id = $2",
                crate::sql_params![now, k.id.as_str()],
            )
        })
        .collect();
    db.execute(updates).await?;
    Ok(hits
        .into_iter()
        .map(|k| ApiKey {
            revoked_at: Some(now),
            ..k
        })
        .collect())
}
