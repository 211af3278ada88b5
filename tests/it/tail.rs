//! The embedded log's in-memory tail against a second process on the same database:
//! records committed in this process come from memory (with the producer's decoded
//! value), and an append by another process in between is neither lost nor reordered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sigflow::log::{Consumer, Decoded, EventLog, LogRecord, TopicSpec};
use sigflow::store::{Append, Commit, Store};

use crate::util::TestDir;

fn open(path: &std::path::Path) -> (Arc<dyn Store>, Arc<dyn EventLog>) {
    let sigflow::store::OpenedStore { store, db, .. } =
        sigflow::store::open(&format!("sqlite://{}", path.display()), &Default::default()).unwrap();
    (store, sigflow::log::open("embedded", db.as_ref()).unwrap())
}

fn rec(v: &str, decoded: bool) -> Append {
    Append {
        topic: "t".into(),
        key: Some(b"k".to_vec()),
        value: v.as_bytes().to_vec(),
        decoded: if decoded {
            Decoded::new(Arc::new(v.to_string()))
        } else {
            Decoded::default()
        },
    }
}

async fn read(c: &mut Box<dyn Consumer>, n: usize) -> Vec<LogRecord> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < n && Instant::now() < deadline {
        got.extend(c.poll(100, Duration::from_millis(100)).await.unwrap());
    }
    got
}

fn values(rs: &[LogRecord]) -> Vec<String> {
    rs.iter()
        .map(|r| String::from_utf8(r.value.clone()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_serves_this_process_and_never_hides_another_s_appends() {
    let dir = TestDir::new("tail");
    let path = dir.join("s.db");
    let (store, log) = open(&path);
    log.create_topic(&TopicSpec {
        name: "t".into(),
        partitions: 1,
        retention: Duration::from_secs(3600),
    })
    .await
    .unwrap();
    let mut c = log.consumer("t").await.unwrap();

    // Committed through the store (the stages' path) and appended directly: both come
    // back in order, with the producer's value when it gave one.
    store
        .commit(Commit {
            appends: (0..3).map(|i| rec(&format!("a{i}"), true)).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    log.append(vec![rec("b0", false)]).await.unwrap();
    let got = read(&mut c, 4).await;
    assert_eq!(values(&got), ["a0", "a1", "a2", "b0"]);
    assert_eq!(
        got.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(
        got[1].decoded.get::<String>().map(String::as_str),
        Some("a1")
    );
    assert!(!got[3].decoded.is_some());

    // This process appends, another one, then this one again, before the consumer
    // reads: it gets all three in order, though this process's tail only knows its own.
    let (other_store, _other_log) = open(&path);
    let commit = |store: Arc<dyn Store>, v: &'static str, decoded: bool| async move {
        store
            .commit(Commit {
                appends: vec![rec(v, decoded)],
                ..Default::default()
            })
            .await
            .unwrap()
    };
    commit(store.clone(), "x0", true).await;
    commit(other_store.clone(), "other", false).await;
    commit(store.clone(), "mine", true).await;
    let got = read(&mut c, 3).await;
    assert_eq!(values(&got), ["x0", "other", "mine"]);
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), [4, 5, 6]);

    // Caught up, and only the other process appends: still seen, within the
    // cross-process poll.
    commit(other_store.clone(), "late", false).await;
    let t = Instant::now();
    let got = read(&mut c, 1).await;
    assert_eq!(values(&got), ["late"]);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    // A consumer that seeks back reads what the tail has let go of, from storage.
    c.seek(0, 1);
    let got = read(&mut c, 7).await;
    assert_eq!(
        values(&got),
        ["a1", "a2", "b0", "x0", "other", "mine", "late"]
    );
    let more = c.poll(10, Duration::from_millis(400)).await.unwrap();
    assert!(more.is_empty(), "{more:?}");
}

/// Appends are grouped into runs per partition before they reach the writer, with a
/// partition count cached in this process. Another process grows the topic: the next
/// commit must still put every record where `partition_for` says, not where the stale
/// count would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_follow_a_partition_count_grown_by_another_process() {
    let dir = TestDir::new("runs-grown");
    let path = dir.join("s.db");
    let (store, log) = open(&path);
    let spec = |partitions| TopicSpec {
        name: "t".into(),
        partitions,
        retention: Duration::from_secs(3600),
    };
    log.create_topic(&spec(1)).await.unwrap();
    let keyless = |v: String| Append {
        topic: "t".into(),
        value: v.into_bytes(),
        ..Default::default()
    };
    // Fills this process's cache: one partition.
    store
        .commit(Commit {
            appends: vec![keyless("first".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    let (_other_store, other_log) = open(&path);
    other_log.create_topic(&spec(4)).await.unwrap();
    store
        .commit(Commit {
            appends: (0..8).map(|i| keyless(i.to_string())).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut c = log.consumer("t").await.unwrap();
    let got = read(&mut c, 9).await;
    assert_eq!(got.len(), 9);
    for r in got.iter().filter(|r| r.value != b"first") {
        let i: usize = String::from_utf8(r.value.clone()).unwrap().parse().unwrap();
        assert_eq!(
            r.partition,
            sigflow::log::partition_for(None, i, 4),
            "record {i}"
        );
    }
    let info = log.describe().await.unwrap();
    let ends: Vec<u64> = info[0].partitions.iter().map(|p| p.end).collect();
    assert_eq!(ends, vec![3, 2, 2, 2]);
}
