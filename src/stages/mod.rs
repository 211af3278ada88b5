//! Stages: one input topic, a function per record, effects out. The runner
//! ([`crate::runtime::StageRunner`]) owns batching, retries, DLQ, offsets and metrics,
//! so a stage is only the logic of its step.

mod enrich;
mod normalize;

use async_trait::async_trait;

use crate::error::StageError;
use crate::log::LogRecord;
use crate::store::{Append, Write};

pub use enrich::EnrichStage;
pub use normalize::NormalizeStage;

/// One item of an otherwise good record that failed (goes to the DLQ on its own).
#[derive(Debug, Clone)]
pub struct Reject {
    pub item_index: u32,
    pub error: String,
    pub detail: String,
}

/// What processing one record produced.
#[derive(Debug, Default)]
pub struct Effects {
    pub outputs: Vec<Append>,
    pub writes: Vec<Write>,
    pub rejects: Vec<Reject>,
}

#[async_trait]
pub trait Stage: Send + Sync {
    /// Also the consumer group name.
    fn name(&self) -> &'static str;
    fn input(&self) -> &'static str;
    /// Processes one record. Must be deterministic in the record's content (and the
    /// lake bytes it names), so a replay produces the same effects.
    async fn process(&self, record: &LogRecord) -> Result<Effects, StageError>;

    /// True when the stage prefers [`Stage::process_batch`]: one record in, at most
    /// one item out, and shared work per batch (the enrich stage's state transaction).
    fn batched(&self) -> bool {
        false
    }

    /// Processes a whole batch, one result per record, in order.
    async fn process_batch(&self, records: &[LogRecord]) -> Vec<Result<Effects, StageError>> {
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(self.process(r).await);
        }
        out
    }
}

/// Every stage, by name, in flow order. The one registry.
pub const STAGES: &[&str] = &["normalize", "enrich"];
