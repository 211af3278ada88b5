//! Crash safety: SIGKILL the running binary at random moments, restart, repeat; then
//! everything must be exactly as after a run that was never interrupted — the stored
//! items, the DLQ, and the log itself (each record appended once, offsets at the end).

use std::time::Duration;

use crate::util::*;

/// What a data directory holds, in the terms effectively-once is judged by.
#[derive(Debug, PartialEq)]
struct Outcome {
    ids: std::collections::BTreeSet<String>,
    contents: i64,
    dlq: Vec<(String, String)>,
    log: Vec<(String, i64)>,
    lagging_partitions: i64,
}

fn outcome(dir: &TestDir) -> Outcome {
    let conn = db(&dir.db());
    let mut st = conn
        .prepare("SELECT stage, error FROM dlq ORDER BY stage, error")
        .unwrap();
    let dlq = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut st = conn
        .prepare("SELECT topic, COUNT(*) FROM log GROUP BY topic ORDER BY topic")
        .unwrap();
    let log = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    // Every stage's committed position equals its input partition's end.
    let lagging = count(
        &conn,
        "SELECT COUNT(*) FROM log_heads h JOIN consumer_offsets o ON o.topic = h.topic AND o.partition = h.partition \
         WHERE o.next_offset != h.next_offset",
    );
    Outcome {
        ids: stored_ids(&conn),
        contents: count(&conn, "SELECT COUNT(*) FROM contents"),
        dlq,
        log,
        lagging_partitions: lagging,
    }
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let clean = TestDir::new("crash-clean");
    demo_to_idle(&clean, &[]);
    let expected = outcome(&clean);
    assert_eq!(expected.contents, 1200);
    assert_eq!(expected.dlq.len(), 9);
    assert_eq!(expected.lagging_partitions, 0);

    let dir = TestDir::new("crash");
    let mut rng = fastrand::Rng::with_seed(
        std::env::var("SIGFLOW_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7),
    );
    // Kill until 10 kills have landed mid-run (some items stored, not all), so the test
    // proves the same on a fast machine as on a slow one; bounded in attempts.
    let (mut kills, mut kills_mid_run) = (0, 0);
    while kills_mid_run < 10 {
        assert!(
            kills < 80,
            "only {kills_mid_run} of {kills} kills landed mid-run"
        );
        let mut child = demo_cmd(&dir, "300")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.u64(30..400)));
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        kills += 1;
        let n = if dir.db().exists() {
            count(&db(&dir.db()), "SELECT COUNT(*) FROM contents")
        } else {
            0
        };
        if n > 0 && n < 1200 {
            kills_mid_run += 1;
        }
        if n == 1200 {
            break;
        }
    }
    assert!(
        kills_mid_run >= 10,
        "only {kills_mid_run} of {kills} kills landed mid-run; the test proves too little"
    );

    demo_to_idle(&dir, &[]);
    let got = outcome(&dir);
    assert_eq!(got.ids, expected_ids());
    assert_eq!(
        got, expected,
        "after {kills} SIGKILLs the data must equal an uninterrupted run's"
    );
}
