//! normalize: `raw` → `content`. Reads the payload the raw event names from the lake
//! and maps it with the format's normalizer.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Effects, Reject, Stage};
use crate::error::StageError;
use crate::lake::Lake;
use crate::log::{LogRecord, TOPIC_CONTENT, TOPIC_RAW};
use crate::model::RawEvent;
use crate::normalize::{self, RawContext};
use crate::store::Append;

pub struct NormalizeStage {
    lake: Arc<dyn Lake>,
}

impl NormalizeStage {
    pub fn new(lake: Arc<dyn Lake>) -> Self {
        NormalizeStage { lake }
    }
}

#[async_trait]
impl Stage for NormalizeStage {
    fn name(&self) -> &'static str {
        "normalize"
    }

    fn input(&self) -> &'static str {
        TOPIC_RAW
    }

    async fn process(&self, record: &LogRecord) -> Result<Effects, StageError> {
        let raw: RawEvent = serde_json::from_slice(&record.value).map_err(|e| {
            StageError::poison(format!(
                "raw event is not valid JSON of the raw schema: {e}"
            ))
        })?;
        let normalizer = normalize::find(&raw.format).ok_or_else(|| {
            StageError::poison(format!(
                "no normalizer for format `{}` (known: {})",
                raw.format,
                normalize::names().join(", ")
            ))
        })?;
        let body = self.lake.get(&raw.lake_key).await?;
        let cx = RawContext {
            fetched_by: &raw.source,
            lake_key: &raw.lake_key,
            observed_at: raw.observed_at,
        };
        let items = normalizer.normalize(&body, &cx)?;
        let mut fx = Effects::default();
        for item in items {
            match item {
                Ok(content) => {
                    let value = serde_json::to_vec(&content)
                        .map_err(|e| StageError::fatal(e.to_string()))?;
                    fx.outputs.push(Append {
                        topic: TOPIC_CONTENT.into(),
                        key: Some(content.id.to_string().into_bytes()),
                        value,
                    });
                }
                Err(e) => fx.rejects.push(Reject {
                    item_index: e.index,
                    error: e.error,
                    detail: e.detail,
                }),
            }
        }
        Ok(fx)
    }
}
