//! enrich: `content` → store + `enriched`. Runs the enricher chain, upserts the item,
//! and passes it on for analysis.
//!
//! Batched: the pure enrichers run item by item, then the stateful ones (dedup,
//! velocity) run for the whole batch inside one state transaction — one commit per
//! batch instead of one per item. Both run on a blocking thread: they are CPU work and
//! a wait on the store's writer, neither of which belongs on the async workers.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Effects, Stage};
use crate::enrich::{Chain, EnrichState, SharedState};
use crate::error::{ErrorClass, StageError};
use crate::log::{LogRecord, TOPIC_CONTENT, TOPIC_ENRICHED};
use crate::model::Content;
use crate::store::{Append, StoredContent, Write};

pub struct EnrichStage {
    chain: Arc<Chain>,
    state: SharedState,
}

impl EnrichStage {
    pub fn new(chain: Chain, state: SharedState) -> Self {
        EnrichStage {
            chain: Arc::new(chain),
            state,
        }
    }
}

fn parse(record: &LogRecord) -> Result<Content, StageError> {
    // Normalize in this process handed over the item its JSON was made from (embedded
    // log tail): the same value, without the parse.
    let mut item: Content = match record.decoded.get::<Content>() {
        Some(item) => item.clone(),
        None => serde_json::from_slice(&record.value).map_err(|e| {
            StageError::poison(format!("content record is not valid Content JSON: {e}"))
        })?,
    };
    // Enrichment is recomputed from scratch, so a replay gives the same result.
    item.tickers.clear();
    item.enrichments.clear();
    Ok(item)
}

fn effects(record: &LogRecord, item: Content) -> Effects {
    // Items this one turned out to precede (it arrived after them): their stored
    // verdicts are brought up to date in the same commit.
    let revised: Vec<Write> = item
        .enrichments
        .get("dedup_revised")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r.get("id")?.as_str()?, r.get("at_ms")?.as_i64()?)))
        .map(|(id, at)| Write::Sql(crate::store::repos::contents::sync_dedup(id, at)))
        .collect();
    let stored = Arc::new(StoredContent::new(item));
    let value = stored.doc.clone().into_bytes();
    let mut writes = vec![Write::UpsertContent(stored.clone())];
    writes.extend(revised);
    Effects {
        outputs: vec![Append {
            topic: TOPIC_ENRICHED.into(),
            key: record.key.clone(),
            value,
            // The analyze stage in this process takes the item without parsing it.
            decoded: crate::log::Decoded::new(stored),
        }],
        writes,
        rejects: Vec::new(),
    }
}

/// The whole batch: pure part per item, stateful part in one state transaction.
fn enrich_batch(
    chain: &Chain,
    state: &dyn EnrichState,
    records: &[LogRecord],
) -> Vec<Result<Effects, StageError>> {
    let split = chain.stateful_from();
    let all = 0..chain.enrichers().len();
    let mut items: Vec<Result<Content, StageError>> = records
        .iter()
        .map(|r| {
            let mut item = parse(r)?;
            chain
                .run_range(&mut item, state, 0..split)
                .map_err(StageError::from)?;
            Ok(item)
        })
        .collect();
    if split < all.end && items.iter().any(Result::is_ok) {
        // The stateful part in time order (happened_at, then id): items that arrive
        // together are decided as if they had arrived one by one, earliest first.
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| match &items[i] {
            Ok(it) => (0, it.happened_at, it.id),
            Err(_) => (
                1,
                chrono::DateTime::<chrono::Utc>::MIN_UTC,
                uuid::Uuid::nil(),
            ),
        });
        let outcome = state.batch(&mut |tx| {
            for &i in &order {
                let item = &mut items[i];
                if let Ok(it) = item
                    && let Err(e) = chain.run_range(it, tx, split..all.end)
                {
                    *item = Err(StageError::from(e));
                }
            }
        });
        if let Err(e) = outcome {
            // The transaction was rolled back: nothing of this batch's state holds.
            // The failure is the batch's, not one item's: it cannot be dead-lettered
            // item by item, so anything but transient stops the stage.
            let class = match e.class {
                ErrorClass::Transient => ErrorClass::Transient,
                _ => ErrorClass::Fatal,
            };
            let e = StageError {
                class,
                message: format!("enrich state: {}", e.message),
            };
            return records.iter().map(|_| Err(e.clone())).collect();
        }
    }
    items
        .into_iter()
        .zip(records)
        .map(|(item, r)| item.map(|it| effects(r, it)))
        .collect()
}

#[async_trait]
impl Stage for EnrichStage {
    fn name(&self) -> &'static str {
        "enrich"
    }

    fn input(&self) -> &'static str {
        TOPIC_CONTENT
    }

    async fn process(&self, record: &LogRecord) -> Result<Effects, StageError> {
        self.process_batch(std::slice::from_ref(record))
            .await
            .pop()
            .expect("one result per record")
    }

    fn batched(&self) -> bool {
        true
    }

    async fn process_batch(&self, records: &[LogRecord]) -> Vec<Result<Effects, StageError>> {
        let (chain, state, records_owned) =
            (self.chain.clone(), self.state.clone(), records.to_vec());
        match tokio::task::spawn_blocking(move || enrich_batch(&chain, &*state, &records_owned))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let e = StageError::transient(format!("enrich task: {e}"));
                records.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }
}
