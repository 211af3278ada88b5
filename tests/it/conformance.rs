//! One conformance suite per backend trait (EventLog, Store, Lake), written against the
//! trait objects and run for every backend this build has. A new backend joins by being
//! added to `backends()`; the scenarios do not change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sigflow::lake::{Lake, LakeError, PutOutcome};
use sigflow::log::{EventLog, TopicSpec};
use sigflow::model::{CONTENT_SCHEMA_VERSION, Content, ContentType, content_id};
use sigflow::store::repos::contents::Order;
use sigflow::store::{
    Append, Commit, ContentQuery, DeadLetter, OffsetCommit, Store, StoreError, Write, repos,
};

use crate::util::TestDir;

pub(crate) struct Backends {
    pub name: &'static str,
    pub log: Arc<dyn EventLog>,
    pub store: Arc<dyn Store>,
    pub lake: Arc<dyn Lake>,
    _dir: TestDir,
}

pub(crate) fn backends() -> Vec<Backends> {
    let dir = TestDir::new("conformance-embedded");
    let sigflow::store::OpenedStore { store, db, .. } = sigflow::store::open(
        &format!("sqlite://{}", dir.join("s.db").display()),
        &Default::default(),
    )
    .unwrap();
    let log = sigflow::log::open("embedded", db.as_ref()).unwrap();
    let lake =
        sigflow::lake::open(&format!("file://{}", dir.join("lake").display()), false).unwrap();
    vec![Backends {
        name: "embedded (sqlite + embedded log + file lake)",
        log,
        store,
        lake,
        _dir: dir,
    }]
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn topic(name: &str, partitions: u32) -> TopicSpec {
    TopicSpec {
        name: name.into(),
        partitions,
        retention: Duration::from_secs(3600),
    }
}

fn rec(topic: &str, key: &str, v: &str) -> Append {
    Append {
        topic: topic.into(),
        key: Some(key.as_bytes().to_vec()),
        value: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

#[test]
fn event_log_conformance() {
    for b in backends() {
        rt().block_on(event_log_suite(b.log.clone(), b.store.clone()))
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
    }
    #[cfg(all(feature = "kafka", feature = "postgres"))]
    {
        let (_servers, log, store) = distributed();
        rt().block_on(event_log_suite(log, store))
            .unwrap_or_else(|e| panic!("kafka log (tansu) + postgres store: {e}"));
    }
}

/// The distributed pair on real servers started for the test: a Kafka-protocol broker
/// (tansu) and PostgreSQL 15. The servers stop when the first element drops.
#[cfg(all(feature = "kafka", feature = "postgres"))]
pub(crate) fn distributed() -> (
    (crate::servers::Tansu, crate::servers::Postgres),
    Arc<dyn EventLog>,
    Arc<dyn Store>,
) {
    let tansu = crate::servers::Tansu::start();
    let pg = crate::servers::Postgres::start();
    let log = sigflow::log::open(&tansu.url(), None).unwrap();
    let store = sigflow::store::open(&pg.url(), &Default::default())
        .unwrap()
        .store;
    rt().block_on(store.migrate()).unwrap();
    assert_eq!(
        (log.kind(), log.transactional_with_store()),
        ("kafka", false)
    );
    ((tansu, pg), log, store)
}

async fn event_log_suite(log: Arc<dyn EventLog>, store: Arc<dyn Store>) -> Result<(), String> {
    log.create_topic(&topic("t", 3))
        .await
        .map_err(|e| e.to_string())?;
    log.create_topic(&topic("t", 3))
        .await
        .map_err(|e| format!("create is idempotent: {e}"))?;
    assert!(
        log.create_topic(&topic("t", 2)).await.is_err(),
        "shrinking partitions is refused"
    );
    assert!(
        log.append(vec![rec("nope", "k", "v")]).await.is_err(),
        "unknown topics are refused"
    );

    // Keys map to a stable partition; offsets are contiguous per partition from 0.
    let appends: Vec<Append> = (0..30)
        .map(|i| rec("t", &format!("k{}", i % 5), &format!("v{i}")))
        .collect();
    log.append(appends).await.map_err(|e| e.to_string())?;
    let mut c = log.consumer("t").await.map_err(|e| e.to_string())?;
    assert_eq!(c.assignment(), vec![0, 1, 2]);
    // Read until all 30 arrived (a remote log needs a moment to connect and fetch),
    // then nothing more comes.
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while all.len() < 30 && Instant::now() < deadline {
        let batch = c
            .poll(7, Duration::from_millis(200))
            .await
            .map_err(|e| e.to_string())?;
        assert!(batch.len() <= 7, "batches respect max");
        all.extend(batch);
    }
    assert_eq!(all.len(), 30);
    assert!(
        c.poll(7, Duration::from_millis(300))
            .await
            .map_err(|e| e.to_string())?
            .is_empty(),
        "nothing beyond what was appended"
    );
    for p in 0..3 {
        let offs: Vec<u64> = all
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert_eq!(
            offs,
            (0..offs.len() as u64).collect::<Vec<_>>(),
            "partition {p} offsets contiguous and ordered"
        );
    }
    for k in 0..5 {
        let key = format!("k{k}").into_bytes();
        let parts: std::collections::BTreeSet<u32> = all
            .iter()
            .filter(|r| r.key.as_deref() == Some(&key[..]))
            .map(|r| r.partition)
            .collect();
        assert_eq!(parts.len(), 1, "one key, one partition");
        let values: Vec<String> = all
            .iter()
            .filter(|r| r.key.as_deref() == Some(&key[..]))
            .map(|r| String::from_utf8(r.value.clone()).unwrap())
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by_key(|v| v[1..].parse::<u32>().unwrap());
        assert_eq!(values, sorted, "per-key order is kept");
    }

    // Seek back re-reads; an empty poll waits about `wait`, and an append wakes it early.
    let first = all.iter().find(|r| r.offset == 0).unwrap().partition;
    c.seek(first, 0);
    assert_eq!(
        c.poll(1, Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?[0]
            .offset,
        0
    );
    // From the middle of what one append wrote (the embedded log stores it as one run).
    c.seek(first, 2);
    let mid = c
        .poll(2, Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(
        mid.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3],
        "a seek lands on the record, wherever it is stored"
    );
    let mut fresh = log.consumer("t").await.map_err(|e| e.to_string())?;
    for p in 0..3 {
        fresh.seek(p, 1_000);
    }
    let t = Instant::now();
    assert!(
        fresh
            .poll(10, Duration::from_millis(200))
            .await
            .map_err(|e| e.to_string())?
            .is_empty()
    );
    assert!(
        t.elapsed() >= Duration::from_millis(190),
        "empty poll waited {:?}",
        t.elapsed()
    );
    let mut waiting = log.consumer("t").await.map_err(|e| e.to_string())?;
    let describe = log.describe().await.map_err(|e| e.to_string())?;
    for p in &describe.iter().find(|t| t.name == "t").unwrap().partitions {
        waiting.seek(p.partition, p.end);
    }
    let log2 = log.clone();
    let appender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        log2.append(vec![rec("t", "late", "late")]).await
    });
    let t = Instant::now();
    let got = waiting
        .poll(10, Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(got.len(), 1);
    let late = got[0].clone();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "an append wakes a waiting poll ({:?})",
        t.elapsed()
    );
    appender.await.unwrap().map_err(|e| e.to_string())?;

    // Reading from a time: everything was appended after the epoch, nothing after now+1h.
    let from_epoch = log
        .offsets_for_time("t", 0)
        .await
        .map_err(|e| e.to_string())?;
    assert!(from_epoch.iter().all(|o| o.next_offset == 0));
    let future = sigflow::model::now_micros() + 3_600_000_000;
    let from_future = log
        .offsets_for_time("t", future)
        .await
        .map_err(|e| e.to_string())?;
    let ends = log.describe().await.map_err(|e| e.to_string())?;
    let t_info = ends.iter().find(|t| t.name == "t").unwrap();
    // From the late record's append time: it, and nothing before it.
    let from_late = log
        .offsets_for_time("t", late.ts)
        .await
        .map_err(|e| e.to_string())?;
    for o in &from_late {
        let want = if o.partition == late.partition {
            late.offset
        } else {
            t_info.partitions[o.partition as usize].end
        };
        assert_eq!(
            o.next_offset, want,
            "partition {} from the late record's time",
            o.partition
        );
    }
    for o in &from_future {
        assert_eq!(
            o.next_offset, t_info.partitions[o.partition as usize].end,
            "after the last record = end"
        );
    }

    if log.kind() == "kafka" {
        // Documented exception: the broker enforces retention (`retention.ms`, set at
        // creation); sigflow's own rule below applies to the embedded log, and on
        // Kafka sigflow deletes nothing itself.
        let deleted = log.enforce_retention().await.map_err(|e| e.to_string())?;
        assert_eq!(deleted, 0, "sigflow never deletes from a Kafka topic");
        return Ok(());
    }
    // Retention removes old records only below every group's committed offset.
    log.create_topic(&TopicSpec {
        name: "r".into(),
        partitions: 1,
        retention: Duration::from_micros(1),
    })
    .await
    .map_err(|e| e.to_string())?;
    log.append((0..10).map(|i| rec("r", "k", &i.to_string())).collect())
        .await
        .map_err(|e| e.to_string())?;
    store
        .set_offsets(
            "g",
            "r",
            &[OffsetCommit {
                partition: 0,
                next_offset: 4,
            }],
        )
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let deleted = log.enforce_retention().await.map_err(|e| e.to_string())?;
    assert_eq!(deleted, 4, "only what group g has read");
    let info = log.describe().await.map_err(|e| e.to_string())?;
    let r = info.iter().find(|t| t.name == "r").unwrap();
    assert_eq!((r.partitions[0].start, r.partitions[0].end), (4, 10));
    log.append(vec![rec("r", "k", "after")])
        .await
        .map_err(|e| e.to_string())?;
    let info = log.describe().await.map_err(|e| e.to_string())?;
    assert_eq!(
        info.iter().find(|t| t.name == "r").unwrap().partitions[0].end,
        11,
        "offsets are never reused"
    );
    Ok(())
}

pub(crate) fn item(source_id: &str, text: &str, hour: u32) -> Content {
    let t = chrono::DateTime::parse_from_rfc3339(&format!("2026-11-01T{hour:02}:00:00Z"))
        .unwrap()
        .to_utc();
    Content {
        schema_version: CONTENT_SCHEMA_VERSION,
        id: content_id("reddit", source_id),
        source: "reddit".into(),
        source_id: source_id.into(),
        fetched_by: "test".into(),
        author: None,
        title: None,
        text: text.into(),
        url: None,
        content_type: ContentType::Original,
        engagement: Default::default(),
        tags: vec![],
        mentions: vec![],
        cashtags: vec![],
        happened_at: t,
        disclosed_at: None,
        observed_at: t + chrono::Duration::minutes(5),
        lake_key: "reddit/raw/2026/11/01/x.json".into(),
        extras: Default::default(),
        enrichments: Default::default(),
        tickers: if text.contains("$TSLA") {
            vec!["TSLA".into()]
        } else {
            vec![]
        },
    }
}

#[test]
fn store_conformance() {
    for b in backends() {
        rt().block_on(store_suite(b.store.clone(), b.log.clone()))
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
    }
    #[cfg(all(feature = "kafka", feature = "postgres"))]
    {
        let (_servers, log, store) = distributed();
        rt().block_on(store_suite(store, log))
            .unwrap_or_else(|e| panic!("postgres store (+ kafka log): {e}"));
    }
}

async fn store_suite(store: Arc<dyn Store>, log: Arc<dyn EventLog>) -> Result<(), String> {
    let e = |e: StoreError| e.to_string();
    log.create_topic(&topic("out", 1))
        .await
        .map_err(|e| e.to_string())?;
    let dl = |n: u64| DeadLetter {
        id: DeadLetter::make_id("s", "in", &format!("0/{n}"), None),
        stage: "s".into(),
        topic: "in".into(),
        partition: 0,
        offset: n,
        item_index: None,
        key: None,
        payload: b"{}".to_vec(),
        detail: None,
        error: "bad".into(),
        error_class: "poison".into(),
    };
    let transactional = log.transactional_with_store();
    let commit = Commit {
        group: Some(("s".into(), "in".into())),
        offsets: vec![OffsetCommit {
            partition: 0,
            next_offset: 3,
        }],
        appends: if transactional {
            vec![rec("out", "a", "1")]
        } else {
            vec![]
        },
        writes: vec![
            Write::content(item("a", "$TSLA up", 1)),
            Write::content(item("b", "flat", 2)),
        ],
        dead_letters: vec![dl(2)],
        cursors: vec![("src".into(), "c1".into())],
    };
    store.commit(commit).await.map_err(e)?;
    assert_eq!(
        store.offsets("s", "in").await.map_err(e)?,
        vec![OffsetCommit {
            partition: 0,
            next_offset: 3
        }]
    );
    assert_eq!(
        repos::cursors::get(store.sql(), "src")
            .await
            .map_err(e)?
            .as_deref(),
        Some("c1")
    );
    assert_eq!(repos::counts(store.sql()).await.map_err(e)?.contents, 2);

    // All or nothing: a commit whose log append cannot be applied leaves no trace.
    if transactional {
        let broken = Commit {
            group: Some(("s".into(), "in".into())),
            offsets: vec![OffsetCommit {
                partition: 0,
                next_offset: 9,
            }],
            appends: vec![rec("no-such-topic", "k", "v")],
            writes: vec![Write::content(item("c", "never", 3))],
            dead_letters: vec![dl(8)],
            cursors: vec![("src".into(), "c9".into())],
        };
        assert!(store.commit(broken).await.is_err());
        assert_eq!(
            store.offsets("s", "in").await.map_err(e)?[0].next_offset,
            3,
            "offsets unchanged"
        );
        assert_eq!(
            repos::cursors::get(store.sql(), "src")
                .await
                .map_err(e)?
                .as_deref(),
            Some("c1")
        );
        assert_eq!(repos::counts(store.sql()).await.map_err(e)?.contents, 2);
        assert_eq!(repos::counts(store.sql()).await.map_err(e)?.dlq, 1);
    }

    // Idempotent upserts: the same document changes nothing; a newer harvest replaces the
    // document but keeps the first observation time.
    let a = repos::contents::get(store.sql(), &content_id("reddit", "a").to_string())
        .await
        .map_err(e)?
        .ok_or("a stored")?;
    store
        .commit(Commit {
            writes: vec![Write::content(item("a", "$TSLA up", 1))],
            ..Default::default()
        })
        .await
        .map_err(e)?;
    assert_eq!(
        repos::contents::get(store.sql(), &a.id.to_string())
            .await
            .map_err(e)?
            .unwrap(),
        a
    );
    let mut newer = item("a", "$TSLA up, edited", 1);
    newer.observed_at = a.observed_at + chrono::Duration::hours(1);
    store
        .commit(Commit {
            writes: vec![Write::content(newer)],
            ..Default::default()
        })
        .await
        .map_err(e)?;
    let a2 = repos::contents::get(store.sql(), &a.id.to_string())
        .await
        .map_err(e)?
        .unwrap();
    assert_eq!(a2.text, "$TSLA up, edited");
    assert_eq!(a2.observed_at, a.observed_at, "first observation is kept");

    // Order independence: an older harvest arriving after a newer one (another partition,
    // a replay) does not win; it only lends its earlier observation time.
    let mut old = item("o", "old harvest", 4);
    old.lake_key = "reddit/raw/2026/11/01/k1.json".into();
    let mut new = item("o", "new harvest", 4);
    new.lake_key = "reddit/raw/2026/11/01/k2.json".into();
    new.observed_at = old.observed_at + chrono::Duration::hours(2);
    for first in [new.clone(), old.clone()] {
        store
            .commit(Commit {
                writes: vec![Write::content(first)],
                ..Default::default()
            })
            .await
            .map_err(e)?;
    }
    let o = repos::contents::get(store.sql(), &old.id.to_string())
        .await
        .map_err(e)?
        .unwrap();
    assert_eq!(
        (o.text.as_str(), o.observed_at),
        ("new harvest", old.observed_at)
    );
    store
        .commit(Commit {
            writes: vec![Write::content(new.clone())],
            ..Default::default()
        })
        .await
        .map_err(e)?;
    assert_eq!(
        repos::contents::get(store.sql(), &old.id.to_string())
            .await
            .map_err(e)?
            .unwrap(),
        o,
        "re-applying changes nothing"
    );

    // Queries: newest first, filters, keyset paging.
    let all = repos::contents::query(
        store.sql(),
        &ContentQuery {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    assert_eq!(
        all.iter()
            .map(|c| c.1.source_id.as_str())
            .collect::<Vec<_>>(),
        vec!["o", "b", "a"]
    );
    // Commit order: `o` was committed last; a replaced document keeps its number, so
    // a poller following `seq` is not shown the edited `a` again.
    let ingested = repos::contents::query(
        store.sql(),
        &ContentQuery {
            order: Order::IngestedAfter(0),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    let seqs: Vec<i64> = ingested.iter().map(|r| r.0).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(ingested.last().map(|r| r.1.source_id.as_str()), Some("o"));
    let after = repos::contents::query(
        store.sql(),
        &ContentQuery {
            order: Order::IngestedAfter(seqs[1]),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    assert_eq!(
        after
            .iter()
            .map(|r| r.1.source_id.as_str())
            .collect::<Vec<_>>(),
        vec!["o"]
    );
    let by_name = repos::contents::query(
        store.sql(),
        &ContentQuery {
            fetched_by: Some(all[0].1.fetched_by.clone()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    assert_eq!(by_name.len(), 3);
    let tsla = repos::contents::query(
        store.sql(),
        &ContentQuery {
            ticker: Some("TSLA".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    assert_eq!(tsla.len(), 1);
    let page2 = repos::contents::query(
        store.sql(),
        &ContentQuery {
            order: Order::HappenedBefore(
                sigflow::model::to_micros(all[0].1.happened_at),
                all[0].1.id.to_string(),
            ),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    assert_eq!(
        page2
            .iter()
            .map(|c| c.1.source_id.as_str())
            .collect::<Vec<_>>(),
        vec!["b", "a"]
    );
    assert!(
        repos::contents::get(store.sql(), &content_id("reddit", "zzz").to_string())
            .await
            .map_err(e)?
            .is_none()
    );

    // Dead letters: one row per id however often the same failure is committed.
    store
        .commit(Commit {
            dead_letters: vec![dl(2)],
            ..Default::default()
        })
        .await
        .map_err(e)?;
    assert_eq!(repos::counts(store.sql()).await.map_err(e)?.dlq, 1);
    let id = dl(2).id;
    repos::dead_letters::mark_replayed(store.sql(), std::slice::from_ref(&id))
        .await
        .map_err(e)?;
    let got = repos::dead_letters::list(store.sql(), 10, &[id])
        .await
        .map_err(e)?;
    assert_eq!(got[0].replay_count, 1);
    assert!(got[0].replayed_at.is_some());
    store.ping().await.map_err(e)?;

    // Worker groups: a lone member owns every partition; a second one gets its share
    // once the first has released it; a member that stops renewing is gone after its
    // TTL and the survivor takes everything; leaving frees at once.
    let ttl = Duration::from_millis(400);
    let claim = |m: &'static str| {
        let store = store.clone();
        async move { store.claim_partitions("g", "t", m, 4, ttl).await }
    };
    assert_eq!(claim("a").await.map_err(e)?, vec![0, 1, 2, 3]);
    assert_eq!(
        claim("b").await.map_err(e)?,
        Vec::<u32>::new(),
        "nothing free yet"
    );
    assert_eq!(
        claim("a").await.map_err(e)?,
        vec![0, 2],
        "a releases b's share"
    );
    assert_eq!(claim("b").await.map_err(e)?, vec![1, 3]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(claim("b").await.map_err(e)?, vec![0, 1, 2, 3], "a expired");
    store.leave_group("g", "t", "b").await.map_err(e)?;
    assert_eq!(claim("c").await.map_err(e)?, vec![0, 1, 2, 3], "b left");
    Ok(())
}

#[test]
fn lake_conformance() {
    for b in backends() {
        rt().block_on(lake_suite(b.lake.clone()))
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
    }
    #[cfg(feature = "s3")]
    {
        let moto = crate::servers::Moto::start();
        moto.bucket("lake");
        for prefix in ["", "team/raw-lake"] {
            let lake = sigflow::lake::open(&moto.lake_url("lake", prefix), false).unwrap();
            assert_eq!(lake.kind(), "s3");
            rt().block_on(lake_suite(lake))
                .unwrap_or_else(|e| panic!("s3 lake (moto, prefix `{prefix}`): {e}"));
        }
        // A bucket that does not exist: readiness says so, nothing panics.
        let gone = sigflow::lake::open(&moto.lake_url("no-such-bucket", ""), false).unwrap();
        assert!(rt().block_on(gone.ping()).is_err());
    }
}

async fn lake_suite(lake: Arc<dyn Lake>) -> Result<(), String> {
    let e = |e: LakeError| e.to_string();
    assert_eq!(
        lake.put_once("reddit/raw/2026/11/01/a.json", b"one")
            .await
            .map_err(e)?,
        PutOutcome::Created
    );
    assert_eq!(
        lake.put_once("reddit/raw/2026/11/01/a.json", b"one")
            .await
            .map_err(e)?,
        PutOutcome::AlreadyExisted
    );
    assert!(matches!(
        lake.put_once("reddit/raw/2026/11/01/a.json", b"two").await,
        Err(LakeError::Conflict(_))
    ));
    assert_eq!(
        lake.get("reddit/raw/2026/11/01/a.json").await.map_err(e)?,
        b"one",
        "never overwritten"
    );
    assert!(matches!(
        lake.get("reddit/raw/2026/11/01/missing.json").await,
        Err(LakeError::NotFound(_))
    ));
    assert!(matches!(
        lake.put_once("../escape", b"x").await,
        Err(LakeError::BadKey(_))
    ));
    lake.put_once("x/raw/2026/11/02/b.xml", b"<b/>")
        .await
        .map_err(e)?;
    lake.put_once("reddit/raw/2026/11/02/c.json", b"c")
        .await
        .map_err(e)?;
    assert_eq!(
        lake.list("reddit/").await.map_err(e)?,
        vec![
            "reddit/raw/2026/11/01/a.json".to_string(),
            "reddit/raw/2026/11/02/c.json".to_string()
        ]
    );
    // Many writers of the same object at once: exactly one creates it.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let l = lake.clone();
        tasks.push(tokio::spawn(async move {
            l.put_once("race/raw/2026/11/01/r.json", b"same").await
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap().map_err(e)? == PutOutcome::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    lake.ping().await.map_err(e)?;
    Ok(())
}
