//! Replay: re-running a stage from an offset or a time changes nothing that the code
//! would not compute differently; the DLQ can be replayed after the cause is fixed.

use crate::crash::{Deployment, Embedded, Probe, Snapshot, demo};
use crate::util::*;

/// Same rows, same documents, same timestamps, same dead letters; names the first difference.
fn assert_same(a: &Snapshot, b: &Snapshot) {
    assert_eq!(a.0.len(), b.0.len(), "row count");
    for (x, y) in a.0.iter().zip(&b.0) {
        assert!(
            x == y,
            "row {} differs:\n before: {x:?}\n after:  {y:?}",
            x.0
        );
    }
    assert_eq!(a.1, b.1, "dead letters");
}

fn replay(d: &dyn Deployment, dir: &TestDir, args: &[&str]) -> std::process::Output {
    let mut c = sigflow();
    d.env(&mut c)
        .arg("replay")
        .args(args)
        .arg("--data-dir")
        .arg(dir.data());
    run_ok(&mut c)
}

/// The scenario, on any deployment: a finished demo, then normalize replayed from
/// offset 0 and enrich from a time before everything; the store must not change.
pub(crate) fn replay_changes_nothing(d: &dyn Deployment, dir: &TestDir) {
    run_ok(demo(d, dir, "max").arg("--exit-when-idle"));
    let probe = Probe::open(d);
    let before = probe.snapshot();
    assert_eq!(before.0.len(), 1200, "{}", d.name());
    let content_records = probe.records("content");

    let out = replay(d, dir, &["--stage", "normalize", "--from-offset", "0"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("1200 items stored, 9 dead letters"), "{said}");
    let probe = Probe::open(d);
    assert_same(&before, &probe.snapshot());
    // The stage really ran again: it re-emitted every item (downstream upserts absorbed them).
    assert_eq!(
        probe.records("content"),
        2 * content_records,
        "{}",
        d.name()
    );

    // Enrich from a time before everything: also a no-op on the store.
    replay(
        d,
        dir,
        &["--stage", "enrich", "--from-time", "2000-01-01T00:00:00Z"],
    );
    assert_same(&before, &Probe::open(d).snapshot());
}

#[test]
fn replaying_normalize_from_offset_zero_changes_nothing() {
    let d = Embedded(TestDir::new("replay"));
    replay_changes_nothing(&d, &d.0);
    let bad = sigflow()
        .args([
            "replay",
            "--stage",
            "sentiment",
            "--from-offset",
            "0",
            "--data-dir",
        ])
        .arg(d.0.data())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown stage `sentiment`"));
}

/// A listing in Reddit's real shape, written by us.
const LISTING: &str = r#"{"kind":"Listing","data":{"after":"t3_zz2","dist":2,"modhash":null,"children":[
 {"kind":"t3","data":{"id":"zz1","name":"t3_zz1","title":"$NVDA guidance raised","selftext":"Datacenter revenue up again.","author":"quietcompounder","author_fullname":"t2_1","subreddit":"stocks","created":1762650000,"created_utc":1762621200,"score":41,"upvote_ratio":0.97,"num_comments":12,"permalink":"/r/stocks/comments/zz1/nvda/","url":"https://www.reddit.com/r/stocks/comments/zz1/nvda/","is_self":true}},
 {"kind":"t3","data":{"id":"zz2","name":"t3_zz2","title":"Apple buyback","selftext":"","author":"dividend_dave","subreddit":"investing","created":1762650100,"created_utc":1762621300.0,"score":7,"upvote_ratio":1,"num_comments":0,"permalink":"/r/investing/comments/zz2/apple/","url":"https://www.reuters.com/x","is_self":false}}],"before":null}}"#;

#[test]
fn dead_letters_replay_after_the_cause_is_fixed() {
    let dir = TestDir::new("dlq-replay");
    let rec = dir.join("recordings");
    std::fs::create_dir_all(&rec).unwrap();
    std::fs::write(rec.join("0001.json"), LISTING).unwrap();
    let cfg = dir.join("sigflow.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[[sources]]\nname = \"rec\"\nkind = \"files\"\npath = \"{}\"\nformat = \"reddit\"\nonce = true\n",
            dir.data().display(),
            rec.display()
        ),
    )
    .unwrap();
    let run = || {
        run_ok(
            sigflow()
                .args(["run", "--exit-when-idle", "--no-api", "--config"])
                .arg(&cfg),
        )
    };
    run();
    assert_eq!(count(&db(&dir.db()), "SELECT COUNT(*) FROM contents"), 2);
    let before = Probe::embedded(&dir).snapshot().0;

    // Break it: the raw object vanishes from the lake; a replay dead-letters the event.
    let lake_obj = std::fs::read_dir(dir.data().join("lake/reddit/raw")).unwrap();
    let obj = find_file(lake_obj.map(|e| e.unwrap().path()).collect());
    let aside = dir.join("aside.json");
    std::fs::rename(&obj, &aside).unwrap();
    run_ok(
        sigflow()
            .args([
                "replay",
                "--stage",
                "normalize",
                "--from-offset",
                "0",
                "--config",
            ])
            .arg(&cfg),
    );
    let conn = db(&dir.db());
    let err: String = conn
        .query_row("SELECT error FROM dlq", [], |r| r.get(0))
        .unwrap();
    assert!(err.contains("does not exist"), "{err}");

    let listed = run_ok(
        sigflow()
            .args(["dlq", "list", "--json", "--config"])
            .arg(&cfg),
    );
    let letter: serde_json::Value =
        serde_json::from_slice(listed.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(letter["stage"], "normalize");
    assert!(
        letter["payload_text"]
            .as_str()
            .unwrap()
            .contains("lake_key")
    );

    // Fix it, replay the dead letter, run: processed, nothing changed, marked replayed.
    std::fs::rename(&aside, &obj).unwrap();
    let out = run_ok(
        sigflow()
            .args([
                "dlq",
                "replay",
                "--id",
                letter["id"].as_str().unwrap(),
                "--config",
            ])
            .arg(&cfg),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-queued 1 record(s)"));
    run();
    assert_same(
        &(before, vec![]),
        &(Probe::embedded(&dir).snapshot().0, vec![]),
    );
    let conn = db(&dir.db());
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM dlq"),
        1,
        "the replay succeeded: no new dead letter"
    );
    assert_eq!(count(&conn, "SELECT replay_count FROM dlq"), 1);

    let missing = sigflow()
        .args(["dlq", "replay", "--id", "nope", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no dead letter with id nope"));
}

fn find_file(mut paths: Vec<std::path::PathBuf>) -> std::path::PathBuf {
    while let Some(p) = paths.pop() {
        if p.is_dir() {
            paths.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            return p;
        }
    }
    panic!("no lake object found");
}
