//! `source_defs`: sources added, paused, resumed or removed at run time, and
//! parser-drift quarantines (migration 0003). The catalog (`sources/catalog.rs`)
//! overlays these on the config file's sources.

use serde::{Deserialize, Serialize};

use crate::model::{from_micros, to_micros};
use crate::store::StoreError;
use crate::store::sql::{FromRow, Mutation, Row, SqlDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Active,
    Paused,
    Removed,
}

impl SourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Active => "active",
            SourceState::Paused => "paused",
            SourceState::Removed => "removed",
        }
    }
    pub fn parse(s: &str) -> Option<SourceState> {
        match s {
            "active" => Some(SourceState::Active),
            "paused" => Some(SourceState::Paused),
            "removed" => Some(SourceState::Removed),
            _ => None,
        }
    }
}

/// A source added, paused, resumed or removed at run time, or quarantined for parser
/// drift. `kind`/`options` are set for sources defined at run time; None means the
/// row only overrides a source of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceDef {
    pub name: String,
    pub state: SourceState,
    pub kind: Option<String>,
    pub options: Option<serde_json::Value>,
    pub quarantine: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl FromRow for SourceDef {
    fn from_row(r: &Row) -> Result<Self, StoreError> {
        let state = r.text(1)?;
        Ok(SourceDef {
            name: r.text(0)?,
            // A state written by a newer sigflow reads as active rather than failing
            // the whole catalog.
            state: SourceState::parse(&state).unwrap_or(SourceState::Active),
            kind: r.opt_text(2)?,
            options: r.opt_text(3)?.and_then(|o| serde_json::from_str(&o).ok()),
            quarantine: r.opt_text(4)?,
            updated_at: from_micros(r.i64(5)?),
        })
    }
}

/// Every definition, by name.
pub async fn list(db: &dyn SqlDb) -> Result<Vec<SourceDef>, StoreError> {
    db.query_as(
        "SELECT name, state, kind, options, quarantine, updated_at FROM source_defs ORDER BY name",
        vec![],
    )
    .await
}

/// Inserts or replaces `def` (by name).
pub fn put_mutation(def: &SourceDef) -> Mutation {
    Mutation::new(
        "INSERT INTO source_defs (name, state, kind, options, quarantine, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET state = excluded.state, \
         kind = excluded.kind, options = excluded.options, quarantine = excluded.quarantine, \
         updated_at = excluded.updated_at",
        crate::sql_params![
            def.name.as_str(),
            def.state.as_str(),
            def.kind.as_deref(),
            def.options.as_ref().map(|o| o.to_string()),
            def.quarantine.as_deref(),
            to_micros(def.updated_at),
        ],
    )
}

/// [`put_mutation`], on its own.
pub async fn put(db: &dyn SqlDb, def: &SourceDef) -> Result<(), StoreError> {
    db.execute_one(put_mutation(def)).await.map(drop)
}
