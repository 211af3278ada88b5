//! forward: `enriched` → a webhook. POSTs each enriched item, as stored, to
//! `[forward] url`, once: the first stage with a side effect, and the reference for
//! the next ones (LLM analysis, alerts).
//!
//! The delivery goes through the side-effect journal (`repos::effects::once`): its
//! answer is committed before the stage reports the record done, keyed by the item
//! and the exact document (`forward/<content id>/<sha256 of the doc>`), so a retry, a
//! replay or a restart never sends the same document twice — an edited item (a new
//! harvest) is a new document and is sent again. The key also goes out as
//! `Idempotency-Key`, which lets a receiver drop the one repeat a crash between the
//! POST and its journal row can cause. The stage asks the runner to retry record by
//! record, so one failing delivery never re-runs its batch's others.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::{Effects, Stage};
use crate::error::StageError;
use crate::log::{LogRecord, TOPIC_ENRICHED};
use crate::notify::Webhook;
use crate::store::Store;
use crate::store::repos::effects::{self, OnceError};

/// The journal scope, and the consumer group.
pub const NAME: &str = "forward";

pub struct ForwardStage {
    webhook: Webhook,
    store: Arc<dyn Store>,
}

impl ForwardStage {
    pub fn new(url: &str, timeout: Duration, store: Arc<dyn Store>) -> Result<Self, String> {
        Ok(ForwardStage {
            webhook: Webhook::new(url, timeout)?,
            store,
        })
    }
}

/// What identifies one delivery: the item, and the exact document sent.
pub fn delivery_key(record: &LogRecord) -> Result<String, StageError> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let id: Id = serde_json::from_slice(&record.value)
        .map_err(|e| StageError::poison(format!("enriched record has no item id: {e}")))?;
    let digest = Sha256::digest(&record.value);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{NAME}/{}/{hex}", id.id))
}

#[async_trait]
impl Stage for ForwardStage {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input(&self) -> &'static str {
        TOPIC_ENRICHED
    }

    fn retry_per_record(&self) -> bool {
        true
    }

    async fn process(&self, record: &LogRecord) -> Result<Effects, StageError> {
        let key = delivery_key(record)?;
        let sent = effects::once(self.store.sql(), NAME, &key, || async {
            let (status, answer) = self.webhook.post(&key, record.value.clone()).await?;
            Ok::<_, StageError>(
                serde_json::json!({"status": status, "answer": answer})
                    .to_string()
                    .into_bytes(),
            )
        })
        .await;
        match sent {
            Ok(e) => {
                let label = if e.performed { "sent" } else { "journalled" };
                metrics::counter!("sigflow_forward_total", "outcome" => label).increment(1);
                Ok(Effects::default())
            }
            Err(OnceError::Call(e)) => Err(e),
            Err(OnceError::Store(e)) => Err(StageError::from(e)),
        }
    }
}
