//! The stage runner on real embedded backends, with a store that refuses one record's
//! results the way a constraint violation would: the batch is split until that record
//! is alone, it is dead-lettered, and every other record is committed exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sigflow::error::StageError;
use sigflow::log::{LogRecord, TopicSpec};
use sigflow::model::Content;
use sigflow::runtime::{Backoff, Health, RunnerConfig, StageRunner};
use sigflow::stages::{Effects, Stage};
use sigflow::store::{Append, Commit, ContentQuery, OffsetCommit, Store, StoreError, Write};

use crate::util::TestDir;

/// Delegates to the real store, but refuses (as SQLite would a constraint) any commit
/// that contains the item whose text is "POISON".
struct Refusing {
    inner: Arc<dyn Store>,
    refused: AtomicUsize,
}

#[async_trait]
impl Store for Refusing {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }
    async fn commit(&self, c: Commit) -> Result<(), StoreError> {
        let poisoned = c
            .writes
            .iter()
            .any(|w| matches!(w, Write::UpsertContent(sc) if sc.content.text == "POISON"));
        if poisoned {
            self.refused.fetch_add(1, Ordering::SeqCst);
            let constraint = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT);
            return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                constraint,
                Some("CHECK failed".into()),
            )));
        }
        self.inner.commit(c).await
    }
    async fn offsets(&self, g: &str, t: &str) -> Result<Vec<OffsetCommit>, StoreError> {
        self.inner.offsets(g, t).await
    }
    async fn set_offsets(&self, g: &str, t: &str, o: &[OffsetCommit]) -> Result<(), StoreError> {
        self.inner.set_offsets(g, t, o).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    fn sql(&self) -> &dyn sigflow::store::sql::SqlDb {
        self.inner.sql()
    }
    async fn claim_partitions(
        &self,
        g: &str,
        t: &str,
        m: &str,
        n: u32,
        ttl: Duration,
    ) -> Result<Vec<u32>, StoreError> {
        self.inner.claim_partitions(g, t, m, n, ttl).await
    }
    async fn leave_group(&self, g: &str, t: &str, m: &str) -> Result<(), StoreError> {
        self.inner.leave_group(g, t, m).await
    }
}

/// Stores each input record (a Content document) as is.
struct StoreIt;

#[async_trait]
impl Stage for StoreIt {
    fn name(&self) -> &'static str {
        "store-it"
    }
    fn input(&self) -> &'static str {
        "in"
    }
    async fn process(&self, r: &LogRecord) -> Result<Effects, StageError> {
        let c: Content =
            serde_json::from_slice(&r.value).map_err(|e| StageError::poison(e.to_string()))?;
        Ok(Effects {
            writes: vec![Write::content(c)],
            ..Default::default()
        })
    }
}

fn doc(i: usize, text: &str) -> Vec<u8> {
    let c = serde_json::json!({
        "schema_version": 1, "id": sigflow::model::content_id("t", &i.to_string()), "source": "t",
        "source_id": i.to_string(), "fetched_by": "test", "text": text, "content_type": "original",
        "happened_at": "2026-11-01T00:00:00Z", "observed_at": "2026-11-01T00:00:01Z", "lake_key": "t/raw/x.json"
    });
    serde_json::to_vec(&c).unwrap()
}

#[test]
fn a_record_the_store_refuses_is_isolated_by_splitting_the_batch() {
    let dir = TestDir::new("bisect");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opened = sigflow::store::open(
            &format!("sqlite://{}", dir.join("s.db").display()),
            &Default::default(),
        )
        .unwrap();
        let log = sigflow::log::open("embedded", opened.db.as_ref()).unwrap();
        log.create_topic(&TopicSpec {
            name: "in".into(),
            partitions: 1,
            retention: Duration::from_secs(3600),
        })
        .await
        .unwrap();
        // 64 records in one batch; number 37 is refused by the store, 50 is not even JSON.
        let appends = (0..64)
            .map(|i| Append {
                topic: "in".into(),
                key: Some(b"k".to_vec()),
                value: match i {
                    37 => doc(i, "POISON"),
                    50 => b"{ not json".to_vec(),
                    _ => doc(i, "fine"),
                },
                ..Default::default()
            })
            .collect();
        log.append(appends).await.unwrap();

        let store = Arc::new(Refusing {
            inner: opened.store.clone(),
            refused: AtomicUsize::new(0),
        });
        let runner = StageRunner {
            stage: Arc::new(StoreIt),
            log: log.clone(),
            store: store.clone(),
            cfg: RunnerConfig {
                batch_size: 100,
                poll_wait: Duration::from_millis(20),
                linger: Duration::from_millis(20),
                concurrency: 4,
                backoff: Backoff {
                    initial: Duration::from_millis(5),
                    max: Duration::from_millis(50),
                },
            },
            health: Health::default(),
        };
        let (stop, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(runner.run(rx));
        let inner = opened.store.clone();
        for _ in 0..200 {
            if inner
                .offsets("store-it", "in")
                .await
                .unwrap()
                .first()
                .map(|o| o.next_offset)
                == Some(64)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();

        assert_eq!(
            inner.offsets("store-it", "in").await.unwrap(),
            vec![OffsetCommit {
                partition: 0,
                next_offset: 64
            }]
        );
        assert_eq!(
            sigflow::store::repos::counts(inner.sql())
                .await
                .unwrap()
                .contents,
            62,
            "every record but the two bad ones"
        );
        let letters = sigflow::store::repos::dead_letters::list(inner.sql(), 10, &[])
            .await
            .unwrap();
        let mut got: Vec<(u64, String)> = letters
            .iter()
            .map(|l| (l.letter.offset, l.letter.error.clone()))
            .collect();
        got.sort();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, 37);
        assert!(got[0].1.contains("CHECK failed"), "{got:?}");
        assert_eq!(got[1].0, 50);
        // Halving 64 records down to one takes log2(64) refusals plus the last try.
        assert!(
            store.refused.load(Ordering::SeqCst) <= 8,
            "bisect, not one try per record"
        );
        let by_text = sigflow::store::repos::contents::query(
            inner.sql(),
            &ContentQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(by_text.iter().all(|c| c.1.text == "fine"));
    });
}
