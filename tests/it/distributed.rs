//! The pipeline on the distributed backends that exist so far, through the real
//! binary: the S3 lake (moto). The stages do not change; only the lake URL does.

use std::time::Duration;

use crate::servers::Moto;
use crate::util::*;

#[test]
fn demo_end_to_end_and_across_kills_on_an_s3_lake() {
    let moto = Moto::start();
    moto.bucket("sigflow-lake");
    let dir = TestDir::new("s3-demo");
    let lake = moto.lake_url("sigflow-lake", "demo");
    let demo = |speed: &str| {
        let mut c = demo_cmd(&dir, speed);
        c.env("SIGFLOW__LAKE", &lake);
        c
    };

    // Kill -9 a few times mid-run, then let it finish: every good item exactly once.
    for i in 0..3 {
        let mut run = Running::spawn(&mut demo("400"));
        std::thread::sleep(Duration::from_millis(900 + 300 * i));
        let _ = run.child.kill();
        let _ = run.child.wait();
    }
    let out = run_ok(demo("max").arg("--exit-when-idle"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1200 items stored, 9 dead letters"),
        "{stderr}"
    );
    let conn = db(&dir.db());
    assert_eq!(stored_ids(&conn), expected_ids());
    // The raw payloads are in the bucket, under the prefix, not on local disk.
    assert!(
        !dir.data().join("lake/reddit").exists(),
        "nothing was filed locally"
    );
    let (code, listing) = http_get(&format!(
        "{}/sigflow-lake?list-type=2&prefix=demo/",
        moto.endpoint
    ))
    .unwrap();
    assert_eq!(code, 200);
    assert!(
        listing.contains("<Key>demo/reddit/raw/"),
        "{}",
        &listing[..listing.len().min(500)]
    );
    // Every raw event names an object that is there.
    let keys: Vec<String> = conn
        .prepare("SELECT DISTINCT lake_key FROM contents")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for k in keys.iter().take(20) {
        assert!(
            listing.contains(&format!("<Key>demo/{k}</Key>")),
            "{k} missing from the bucket"
        );
    }
}

#[test]
fn an_s3_lake_that_is_down_is_retried_not_dead_lettered() {
    let dir = TestDir::new("s3-down");
    // Nothing listens here: every lake write fails transiently.
    let port = free_port();
    let lake = format!(
        "s3://nowhere/x?endpoint=http://127.0.0.1:{port}&access_key_id=t&secret_access_key=t"
    );
    let api = free_port();
    // The last error is shown to admin keys only.
    let admin = make_key("admin", &["--data-dir".as_ref(), dir.data().as_os_str()]);
    let _run = Running::spawn(
        sigflow()
            .args([
                "demo",
                "--speed",
                "max",
                "--listen",
                &format!("127.0.0.1:{api}"),
                "--data-dir",
            ])
            .arg(dir.data())
            .env("SIGFLOW__LAKE", &lake),
    );
    // The S3 client retries on its own before it reports; on a busy machine that can
    // take a while, hence the generous wait (and the last answer if it runs out).
    let url = format!("http://127.0.0.1:{api}/readyz");
    let mut last = serde_json::Value::Null;
    let t = std::time::Instant::now();
    let seen = loop {
        if http_get(&url).is_ok() {
            let (code, v) = request_as(Some(&admin), "GET", &url, None);
            let src = &v["components"]["source:demo"];
            let failing = |c: &str| {
                v["failing"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x == c))
            };
            // The source cannot file its payloads: it retries, and says why. Until the
            // periodic lake probe has given up too, only the source is unwell (degraded,
            // 200); after it, the lake itself is down (not ready, 503, the same document).
            let verdict = (code == 200 && v["status"] == "degraded")
                || (code == 503 && v["status"] == "not_ready" && failing("lake"));
            let ok = verdict
                && src["status"] == "retrying"
                && src["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("lake"));
            last = v;
            if ok {
                break true;
            }
        }
        if t.elapsed() > Duration::from_secs(90) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        seen,
        "no lake error in /readyz within 90 s; last answer: {last}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count(&db(&dir.db()), "SELECT COUNT(*) FROM dlq"), 0);
    assert_eq!(count(&db(&dir.db()), "SELECT COUNT(*) FROM contents"), 0);
}
