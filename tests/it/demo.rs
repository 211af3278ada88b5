//! End to end: the demo dataset in → every good item stored exactly once and served by
//! the API; every planted poison in the DLQ with a reason.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::util::*;

#[test]
fn demo_stores_every_good_item_once_and_dead_letters_every_poison() {
    let dir = TestDir::new("demo");
    let out = demo_to_idle(&dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1200 items stored, 9 dead letters"),
        "{stderr}"
    );

    let conn = db(&dir.db());
    assert_eq!(
        stored_ids(&conn),
        expected_ids(),
        "stored ids must be exactly the manifest's good items"
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM contents"), 1200);

    // Every planted poison, and nothing else, with a reason that says what is wrong.
    let manifest = manifest();
    let poison = manifest["poison"].as_array().unwrap();
    let mut st = conn
        .prepare("SELECT error, item_index, detail FROM dlq")
        .unwrap();
    let rows: Vec<(String, Option<i64>, Option<String>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), poison.len());
    for needle in [
        "post has no id",
        "created_utc is missing or not a number",
        "truncated JSON",
        "status has no created_at",
        "tweet has no text",
        "no accession number",
        "item has no guid or link",
        "expected JSON, got an HTML page",
        "invalid XML",
    ] {
        assert!(
            rows.iter().any(|r| r.0.contains(needle)),
            "no dead letter says `{needle}`: {rows:?}"
        );
    }
    let item_level = poison.iter().filter(|p| p["kind"] == "item").count();
    assert_eq!(
        rows.iter()
            .filter(|r| r.1.is_some() && r.2.is_some())
            .count(),
        item_level,
        "item rejects carry the item"
    );

    // The lake holds every payload, untouched, under the documented key scheme.
    let lake_files: Vec<_> = walk(&dir.data().join("lake"))
        .into_iter()
        .filter(|p| !p.contains(".tmp"))
        .collect();
    assert_eq!(
        lake_files.len(),
        manifest["files"].as_array().unwrap().len()
    );
    assert!(
        lake_files.iter().all(|p| p.contains("/raw/20")),
        "{lake_files:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn api_serves_contents_with_filters_pagination_and_the_dlq() {
    let dir = TestDir::new("api");
    let (_run, base) = demo_with_api(&dir);

    let (s, h) = get_json(&format!("{base}/healthz"));
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
    let (s, r) = get_json(&format!("{base}/readyz"));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["ready"], true);
    assert!(
        r["components"]["stage:normalize"].is_object()
            && r["components"]["source:demo"].is_object(),
        "{r}"
    );

    // Walk every page: each item once, newest first, 1200 in all.
    let mut seen = BTreeSet::new();
    let mut last: Option<String> = None;
    let mut url = format!("{base}/api/v1/contents?limit=137");
    loop {
        let (s, page) = get_json(&url);
        assert_eq!(s, 200, "{page}");
        for it in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(it["id"].as_str().unwrap().to_string()),
                "duplicate across pages"
            );
            let t = it["happened_at"].as_str().unwrap().to_string();
            if let Some(prev) = &last {
                assert!(chrono_le(&t, prev), "not newest first: {t} after {prev}");
            }
            last = Some(t);
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{base}/api/v1/contents?limit=137&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, expected_ids());

    // Filters: source, ticker (cashtag), time window.
    let (_, sec) = get_json(&format!("{base}/api/v1/contents?source=sec&limit=500"));
    let sec = sec["items"].as_array().unwrap().clone();
    assert!(!sec.is_empty() && sec.iter().all(|i| i["source"] == "sec"));
    let (_, tsla) = get_json(&format!("{base}/api/v1/contents?ticker=$tsla&limit=500"));
    let tsla = tsla["items"].as_array().unwrap().clone();
    assert!(!tsla.is_empty());
    assert!(
        tsla.iter()
            .all(|i| i["tickers"].as_array().unwrap().iter().any(|t| t == "TSLA"))
    );
    let (_, win) = get_json(&format!(
        "{base}/api/v1/contents?since=2026-10-20&until=2026-10-21T00:00:00Z&limit=500"
    ));
    let win = win["items"].as_array().unwrap().clone();
    assert!(!win.is_empty());
    assert!(
        win.iter()
            .all(|i| i["happened_at"].as_str().unwrap().starts_with("2026-10-20")),
        "{win:?}"
    );

    // One item by id, and the errors a client can make.
    let id = tsla[0]["id"].as_str().unwrap();
    let (s, one) = get_json(&format!("{base}/api/v1/contents/{id}"));
    assert_eq!((s, one["id"].as_str()), (200, Some(id)));
    assert_eq!(
        get_json(&format!(
            "{base}/api/v1/contents/00000000-0000-0000-0000-000000000000"
        ))
        .0,
        404
    );
    assert_eq!(
        get_json(&format!("{base}/api/v1/contents/not-a-uuid")).0,
        400
    );
    assert_eq!(get_json(&format!("{base}/api/v1/contents?limit=0")).0, 400);
    assert_eq!(
        get_json(&format!("{base}/api/v1/contents?cursor=garbage")).0,
        400
    );
    assert_eq!(
        get_json(&format!("{base}/api/v1/contents?since=soon")).0,
        400
    );
    // Query-string mistakes answer in the same JSON shape, naming the problem.
    let (s, e) = get_json(&format!("{base}/api/v1/contents?colour=red"));
    assert_eq!(s, 400);
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{e}"
    );
    assert_eq!(get_json(&format!("{base}/api/v1/dlq?limit=many")).0, 400);

    let (s, dlq) = get_json(&format!("{base}/api/v1/dlq"));
    assert_eq!(s, 200);
    assert_eq!(dlq["total"], 9);
    assert_eq!(dlq["items"].as_array().unwrap().len(), 9);

    let (s, metrics) = http_get(&format!("{base}/metrics")).unwrap();
    assert_eq!(s, 200);
    for m in [
        "sigflow_stage_records_in_total{stage=\"normalize\"}",
        "sigflow_stage_batch_seconds_bucket",
        "sigflow_stage_lag{stage=\"enrich\"}",
        "sigflow_ingest_to_stored_seconds_count 1200",
        "sigflow_dlq_records_total",
    ] {
        assert!(metrics.contains(m), "metrics lack `{m}`:\n{}", metrics.lines().filter(|l| l.contains("ingest_to_stored_seconds_count") || l.contains("records_in")).collect::<Vec<_>>().join("\n"));
    }
}

/// RFC 3339 strings in UTC compare correctly once parsed; compare as instants.
fn chrono_le(a: &str, b: &str) -> bool {
    let p = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    p(a) <= p(b)
}

#[test]
fn a_second_pipeline_on_the_same_data_is_refused() {
    let dir = TestDir::new("lock");
    let _first = Running::spawn(&mut demo_cmd(&dir, "1"));
    wait_until(
        "the first pipeline to start",
        Duration::from_secs(30),
        || dir.db().exists(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let out = demo_cmd(&dir, "max")
        .arg("--exit-when-idle")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another sigflow pipeline is running"));
}

#[test]
fn demo_resumes_where_it_stopped() {
    let dir = TestDir::new("resume");
    // Slow pace; stop it politely part-way.
    let mut run = Running::spawn(&mut demo_cmd(&dir, "300"));
    wait_until("some items", Duration::from_secs(30), || {
        count_while_starting(&dir.db(), "SELECT COUNT(*) FROM contents") > 100
    });
    sigterm(run.child.id());
    let status = run.child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    let part = count(&db(&dir.db()), "SELECT COUNT(*) FROM contents");
    assert!(part > 0 && part < 1200, "stopped part-way ({part})");
    let cursor: String = db(&dir.db())
        .query_row(
            "SELECT cursor FROM source_cursors WHERE source='demo'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(cursor.ends_with(".json") || cursor.ends_with(".xml"));

    demo_to_idle(&dir, &[]);
    let conn = db(&dir.db());
    assert_eq!(stored_ids(&conn), expected_ids());
    // Every payload appended to `raw` exactly once across both runs.
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM log WHERE topic='raw'"),
        65
    );
}

fn sigterm(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn a_poller_following_ingest_order_sees_every_item_exactly_once() {
    let dir = TestDir::new("follow");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _run = Running::spawn(
        sigflow()
            .args([
                "demo",
                "--speed",
                "400",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.data()),
    );
    wait_until("the API", Duration::from_secs(20), || {
        http_get(&format!("{base}/healthz")).is_ok()
    });
    // Poll while the demo ingests (items arrive in any time order): every id once.
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    let t = std::time::Instant::now();
    while seen.len() < 1200 && t.elapsed() < Duration::from_secs(60) {
        let (code, page) = get_json(&format!(
            "{base}/api/v1/contents?order=ingested&limit=97&cursor={cursor}"
        ));
        assert_eq!(code, 200, "{page}");
        for it in page["items"].as_array().unwrap() {
            seen.push(it["id"].as_str().unwrap().to_string());
        }
        cursor = page["next_cursor"]
            .as_str()
            .expect("always a cursor")
            .to_string();
        std::thread::sleep(Duration::from_millis(50));
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no item twice");
    assert_eq!(unique, expected_ids());
    // A filter that can match nothing says why.
    let (code, page) = get_json(&format!("{base}/api/v1/contents?ticker=ZZZZQ"));
    assert_eq!(code, 200);
    assert!(
        page["warnings"][0].as_str().unwrap().contains("ZZZZQ"),
        "{page}"
    );
}
