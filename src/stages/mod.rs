//! Stages: one input topic, a function per record, effects out. The runner
//! ([`crate::runtime::StageRunner`]) owns batching, retries, DLQ, offsets and metrics,
//! so a stage is only the logic of its step.

pub mod analyst;
pub mod analyze;
mod enrich;
pub mod forward;
mod normalize;

use async_trait::async_trait;

use crate::error::StageError;
use crate::log::LogRecord;
use crate::store::{Append, Write};

pub use analyze::AnalyzeStage;
pub use enrich::EnrichStage;
pub use forward::ForwardStage;
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
    /// lake bytes it names), so a replay produces the same effects. A call to the
    /// outside world (a delivery, an LLM) goes through the side-effect journal
    /// (`store::repos::effects::once`), which makes it once per key.
    async fn process(&self, record: &LogRecord) -> Result<Effects, StageError>;

    /// True for a stage with side effects: the runner then processes its records one
    /// at a time and retries a transient failure for that record alone, so the
    /// records before it in the batch are not processed (and paid for) again.
    fn retry_per_record(&self) -> bool {
        false
    }

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
