//! A transient failure is retried and never dead-lettered: another process holds the
//! database's write lock for seconds mid-run (every write answers SQLITE_BUSY).

use std::fs::File;
use std::time::Duration;

use crate::util::*;

#[test]
fn store_busy_mid_run_is_retried_not_dead_lettered() {
    let dir = TestDir::new("outage");
    let log = dir.join("sigflow.log");
    let mut child = demo_cmd(&dir, "300")
        .arg("--exit-when-idle")
        .env("SIGFLOW__SQLITE__BUSY_TIMEOUT_MS", "50")
        .env("SIGFLOW__PIPELINE__RETRY_INITIAL_MS", "20")
        .env("SIGFLOW__PIPELINE__RETRY_MAX_MS", "200")
        .stdout(std::process::Stdio::null())
        .stderr(File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_until("the run to be under way", Duration::from_secs(30), || {
        count_while_starting(&dir.db(), "SELECT COUNT(*) FROM contents") > 50
    });

    // Hold the write lock for 2.5 s, as a backup job or a second writer might.
    let conn = db(&dir.db());
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let during = count(&conn, "SELECT COUNT(*) FROM contents");
    std::thread::sleep(Duration::from_millis(2500));
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    assert!(during < 1200, "the lock must land mid-run");

    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{text}");
    assert!(
        text.contains("retrying"),
        "the outage was seen and retried:\n{text}"
    );
    let conn = db(&dir.db());
    assert_eq!(stored_ids(&conn), expected_ids());
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM dlq"),
        9,
        "only the planted poison, nothing from the outage"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM dlq WHERE error LIKE '%locked%' OR error LIKE '%busy%'"
        ),
        0
    );
}
