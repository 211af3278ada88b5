//! Sources managed while the pipeline runs (CLI and API, persisted across a restart),
//! and the parser-drift quarantine: one source's changed shape stops only that source.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::mock_http::{MockServer, Resp};
use crate::util::*;

fn feed(tag: &str, n: u32) -> Vec<u8> {
    let mut s = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{tag} wire</title><link>https://{tag}.example/</link>"
    );
    for i in 1..=n {
        s.push_str(&format!(
            "<item><title>{tag} story {i}</title><guid>https://{tag}.example/{i}</guid>\
             <pubDate>Fri, 20 Nov 2026 1{}:00:00 GMT</pubDate><description>Shares of $ACME rose on {tag} news {i}.</description></item>",
            i % 10
        ));
    }
    s.push_str("</channel></rss>");
    s.into_bytes()
}

fn rss_response(body: Vec<u8>) -> Resp {
    Resp {
        status: 200,
        headers: vec![("content-type".into(), "application/rss+xml".into())],
        body,
    }
}

fn stored_from(dir: &TestDir, feed: &str) -> i64 {
    if !dir.db().exists() {
        return 0;
    }
    count(
        &db(&dir.db()),
        &format!(
            "SELECT COUNT(*) FROM contents WHERE json_extract(doc, '$.extras.feed') = '{feed}.example'"
        ),
    )
}

#[test]
fn sources_are_added_paused_tested_and_removed_while_running() {
    let dir = TestDir::new("src-live");
    let mock = MockServer::start(|r| match r.path() {
        "/a.xml" => rss_response(feed("alpha", 3)),
        "/b.xml" => rss_response(feed("beta", 2)),
        _ => Resp::json(404, "{}"),
    });
    let port = free_port();
    let cfg = dir.join("sigflow.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n",
            dir.data().display()
        ),
    )
    .unwrap();
    let cli = |args: &[&str]| {
        let out = sigflow()
            .arg("sources")
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let start = || Running::spawn(sigflow().args(["run", "--config"]).arg(&cfg));
    // Changing sources over the API takes an admin key, even on loopback.
    let key = make_key("admin", &["--config".as_ref(), cfg.as_os_str()]);
    let request = |m: &str, u: &str, b| request_as(Some(&key), m, u, b);
    let mut run = start();
    let base = format!("http://127.0.0.1:{port}");
    wait_until("the API", Duration::from_secs(20), || {
        http_get(&format!("{base}/healthz")).is_ok()
    });

    // A bad definition is refused with every problem named.
    let (code, _, err) = cli(&["add", "bad", "--kind", "rss", "--set", "interval_secs=0"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("url") && err.contains("interval_secs"),
        "{err}"
    );

    let url_a = format!("url=\"{}/a.xml\"", mock.base);
    let (code, out, err) = cli(&[
        "add",
        "alpha",
        "--kind",
        "rss",
        "--set",
        &url_a,
        "--set",
        "interval_secs=1",
        "--set",
        "backfill_days=36500",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    wait_until("items of the added source", Duration::from_secs(15), || {
        stored_from(&dir, "alpha") == 3
    });
    let (_, list, _) = cli(&["list"]);
    let row = list
        .lines()
        .find(|l| l.starts_with("alpha"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        row.contains("active") && row.contains("runtime") && row.contains(" ok "),
        "the live health of a running pipeline is shown: {list}"
    );

    // Pause: polling stops; /readyz says paused.
    cli(&["pause", "alpha"]);
    wait_until("the pause", Duration::from_secs(10), || {
        let (_, r) = get_json(&format!("{base}/readyz"));
        r["components"]["source:alpha"]["status"] == "paused"
    });
    let before = mock.hits("/a.xml").len();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        mock.hits("/a.xml").len(),
        before,
        "a paused source does not poll"
    );

    // Test: polls once, prints the items, stores nothing.
    let (code, out, err) = cli(&["test", "alpha"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(err.contains("nothing stored"), "{err}");
    assert_eq!(stored_from(&dir, "alpha"), 3);

    // The API does the same.
    let (code, body) = request(
        "POST",
        &format!("{base}/api/v1/sources"),
        Some(
            json!({"name": "beta", "kind": "rss", "options": {"url": format!("{}/b.xml", mock.base), "interval_secs": 1, "backfill_days": 36500}}),
        ),
    );
    assert_eq!(code, 201, "{body}");
    wait_until(
        "items of the source added by API",
        Duration::from_secs(15),
        || stored_from(&dir, "beta") == 2,
    );
    let (code, body) = request(
        "POST",
        &format!("{base}/api/v1/sources"),
        Some(json!({"name": "gamma", "kind": "rss", "options": {}})),
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.to_string().contains("url"), "{body}");
    let (code, body) = request("POST", &format!("{base}/api/v1/sources/beta/test"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    // Without a key, or with a read key, nothing changes.
    let (code, body) = request_as(None, "DELETE", &format!("{base}/api/v1/sources/beta"), None);
    assert_eq!(code, 401, "{body}");
    let read = make_key("read", &["--config".as_ref(), cfg.as_os_str()]);
    let (code, body) = request_as(
        Some(&read),
        "DELETE",
        &format!("{base}/api/v1/sources/beta"),
        None,
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["required_scope"], "admin", "{body}");
    let (code, _) = request("DELETE", &format!("{base}/api/v1/sources/beta"), None);
    assert_eq!(code, 200);
    let (_, list) = request("GET", &format!("{base}/api/v1/sources"), None);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["alpha"], "{list}");

    // Persisted: after a restart alpha is still there, still paused; resume works.
    drop(run);
    run = start();
    wait_until("the API after restart", Duration::from_secs(20), || {
        http_get(&format!("{base}/healthz")).is_ok()
    });
    let (_, list, _) = cli(&["list"]);
    assert!(list.contains("paused"), "{list}");
    let before = mock.hits("/a.xml").len();
    cli(&["resume", "alpha"]);
    wait_until("polling again", Duration::from_secs(10), || {
        mock.hits("/a.xml").len() > before
    });
    drop(run);
}

#[test]
fn a_drifted_source_is_quarantined_alone_and_reparse_requeues_it() {
    let dir = TestDir::new("src-drift");
    let drifted = Arc::new(Mutex::new(false));
    let polls = Arc::new(AtomicU32::new(0));
    let mock = {
        let (drifted, polls) = (drifted.clone(), polls.clone());
        MockServer::start(move |r| match r.path() {
            "/ok.xml" => {
                let n = 1 + polls.fetch_add(1, Ordering::SeqCst) / 3;
                rss_response(feed("steady", n.min(9)))
            }
            "/drift.xml" if *drifted.lock().unwrap() => {
                // The platform's new shape: JSON where RSS was, new on every poll.
                let n = polls.load(Ordering::SeqCst);
                Resp::json(
                    200,
                    json!({"version": 2, "entries": [{"headline": format!("story {n}")}]})
                        .to_string(),
                )
            }
            "/drift.xml" => rss_response(feed("drifty", 2)),
            _ => Resp::json(404, "{}"),
        })
    };
    let port = free_port();
    let cfg = dir.join("sigflow.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{d}\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
             [[sources]]\nname = \"drifty\"\nkind = \"rss\"\nurl = \"{b}/drift.xml\"\ninterval_secs = 1\nbackfill_days = 36500\n\
             [[sources]]\nname = \"steady\"\nkind = \"rss\"\nurl = \"{b}/ok.xml\"\ninterval_secs = 1\nbackfill_days = 36500\n",
            d = dir.data().display(),
            b = mock.base
        ),
    )
    .unwrap();
    let _run = Running::spawn(sigflow().args(["run", "--config"]).arg(&cfg));
    let base = format!("http://127.0.0.1:{port}");
    wait_until("both sources' first items", Duration::from_secs(20), || {
        stored_from(&dir, "drifty") == 2 && stored_from(&dir, "steady") >= 1
    });
    *drifted.lock().unwrap() = true;
    wait_until("the quarantine in /readyz", Duration::from_secs(20), || {
        let (_, r) = get_json(&format!("{base}/readyz"));
        r["components"]["parser:drifty"]["status"] == "failed"
    });
    // The last error is for admin keys (it may quote an upstream answer); a parser
    // stopped by drift degrades the service, it does not make it unready.
    let (code, r) = get_json(&format!("{base}/readyz"));
    assert_eq!((code, r["status"].as_str()), (200, Some("degraded")), "{r}");
    assert!(
        r["components"]["parser:drifty"]["last_error"].is_null(),
        "{r}"
    );
    let admin = make_key("admin", &["--config".as_ref(), cfg.as_os_str()]);
    let (_, r) = request_as(Some(&admin), "GET", &format!("{base}/readyz"), None);
    let msg = r["components"]["parser:drifty"]["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("parser drift") && msg.contains("3 payloads in a row"),
        "{msg}"
    );
    // Later payloads are kept raw and dead-lettered as unparsed, without parsing.
    wait_until("an unparsed payload", Duration::from_secs(20), || {
        let (_, d) = get_json(&format!("{base}/api/v1/dlq"));
        d.to_string()
            .contains("unparsed: source `drifty` is quarantined")
    });
    // The other source goes on.
    let steady = stored_from(&dir, "steady");
    wait_until(
        "the steady source to go on",
        Duration::from_secs(20),
        || stored_from(&dir, "steady") > steady,
    );
    let (_, metrics) = http_get(&format!("{base}/metrics")).unwrap();
    assert!(
        metrics.contains("sigflow_source_quarantined{source=\"drifty\"} 1"),
        "metric"
    );
    let out = run_ok(sigflow().args(["sources", "list", "--config"]).arg(&cfg));
    assert!(String::from_utf8_lossy(&out.stdout).contains("QUARANTINED"));

    // reparse: the quarantine is lifted and every unreadable payload re-queued.
    let out = run_ok(
        sigflow()
            .args(["sources", "reparse", "drifty", "--config"])
            .arg(&cfg),
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let n: usize = said
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or(0);
    assert!(n >= 3, "{said}");
    let letters = count(
        &db(&dir.db()),
        "SELECT COUNT(*) FROM dlq WHERE replayed_at IS NOT NULL",
    );
    assert!(letters >= 3);
}

#[test]
fn the_cli_manages_the_sources_of_a_running_demo_through_its_api() {
    let dir = TestDir::new("src-demo-cli");
    let (_run, base) = demo_with_api(&dir);
    let api = base.trim_start_matches("http://").to_string();
    let out = run_ok(
        sigflow()
            .args(["sources", "list", "--api", &api, "--data-dir"])
            .arg(dir.data()),
    );
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = list
        .lines()
        .find(|l| l.starts_with("demo "))
        .unwrap_or_else(|| panic!("the demo's own source is listed: {list}"));
    assert!(row.contains("config"), "{row}");
    // Pausing takes a write key; without one the CLI says how to give it.
    let out = sigflow()
        .args(["sources", "pause", "demo", "--api", &api, "--data-dir"])
        .arg(dir.data())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("401") && err.contains("--api-key"), "{err}");
    let key = make_key("write", &["--data-dir".as_ref(), dir.data().as_os_str()]);
    run_ok(
        sigflow()
            .args([
                "sources",
                "pause",
                "demo",
                "--api",
                &api,
                "--api-key",
                &key,
                "--data-dir",
            ])
            .arg(dir.data()),
    );
    wait_until("the demo source paused", Duration::from_secs(10), || {
        let (_, r) = get_json(&format!("{base}/readyz"));
        r["components"]["source:demo"]["status"] == "paused"
    });
}
