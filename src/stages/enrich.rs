//! enrich: `content` → store + `enriched`. Runs the enricher chain, upserts the item,
//! and passes it on for analysis.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Effects, Stage};
use crate::enrich::{Chain, EnrichState};
use crate::error::StageError;
use crate::log::{LogRecord, TOPIC_CONTENT, TOPIC_ENRICHED};
use crate::model::Content;
use crate::store::{Append, StoredContent, Write};

pub struct EnrichStage {
    chain: Arc<Chain>,
    state: Arc<dyn EnrichState>,
}

impl EnrichStage {
    pub fn new(chain: Chain, state: Arc<dyn EnrichState>) -> Self {
        EnrichStage {
            chain: Arc::new(chain),
            state,
        }
    }
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
        let mut item: Content = serde_json::from_slice(&record.value).map_err(|e| {
            StageError::poison(format!("content record is not valid Content JSON: {e}"))
        })?;
        // Enrichment is recomputed from scratch, so a replay gives the same result.
        item.tickers.clear();
        item.enrichments.clear();
        let item = if self.chain.is_stateful() {
            // Stateful enrichers wait on the store's writer: keep that off the
            // async workers.
            let (chain, state) = (self.chain.clone(), self.state.clone());
            tokio::task::spawn_blocking(move || chain.run(&mut item, &*state).map(|()| item))
                .await
                .map_err(|e| StageError::transient(format!("enrich task: {e}")))?
        } else {
            self.chain.run(&mut item, &*self.state).map(|()| item)
        }
        .map_err(|e| {
            if e.transient {
                StageError::transient(e.message)
            } else {
                StageError::poison(e.message)
            }
        })?;
        let stored = StoredContent::new(item);
        Ok(Effects {
            outputs: vec![Append {
                topic: TOPIC_ENRICHED.into(),
                key: record.key.clone(),
                value: stored.doc.clone().into_bytes(),
            }],
            writes: vec![Write::UpsertContent(Box::new(stored))],
            rejects: Vec::new(),
        })
    }
}
