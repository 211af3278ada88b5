//! The outbound guard, secrets and admission, tried as an attacker would through the
//! real binary: a source that reads the server's files or environment, SSRF by
//! literal address, by DNS name and by redirect, and a provider key that must never
//! be shown.

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::mock_http::{MockServer, Resp};
use crate::util::*;

/// A config with the API on a free port; returns (config, base URL).
fn api_config(dir: &TestDir, extra: &str) -> (std::path::PathBuf, String) {
    let port = free_port();
    let cfg = source_config(
        dir,
        &format!("[api]\nlisten = \"127.0.0.1:{port}\"\n{extra}"),
    );
    (cfg, format!("http://127.0.0.1:{port}"))
}

fn start(cfg: &std::path::Path, base: &str, allow: &str) -> Running {
    let run = Running::spawn(
        sigflow()
            .args(["run", "--config"])
            .arg(cfg)
            .env("SIGFLOW__OUTBOUND__ALLOW", allow),
    );
    wait_until("the API", Duration::from_secs(20), || {
        http_get(&format!("{base}/healthz")).is_ok()
    });
    run
}

#[test]
fn sources_added_over_the_api_cannot_read_the_servers_files_or_environment() {
    let dir = TestDir::new("sec-admission");
    let (cfg, base) = api_config(&dir, "");
    let key = make_key("admin", &["--config".as_ref(), cfg.as_os_str()]);
    let _run = start(&cfg, &base, "[]");
    let add = |body| {
        request_as(
            Some(&key),
            "POST",
            &format!("{base}/api/v1/sources"),
            Some(body),
        )
    };

    // A `files` source on /etc (it exists) and on a path that does not: the same answer,
    // which says nothing about either path.
    let (code, etc) = add(
        json!({"name": "etc", "kind": "files", "options": {"path": "/etc", "format": "reddit"}}),
    );
    assert_eq!(code, 422, "{etc}");
    let (_, nothing) = add(
        json!({"name": "etc", "kind": "files", "options": {"path": "/no/such/dir", "format": "reddit"}}),
    );
    assert_eq!(etc["detail"], nothing["detail"], "{etc} vs {nothing}");
    assert!(
        etc["detail"].as_str().unwrap().contains("api.file_roots"),
        "{etc}"
    );

    // `secret_env` naming a server variable: refused without reading it; PATH (set)
    // and an unset name get the same answer.
    let hook = |var: &str| {
        add(
            json!({"name": "hook", "kind": "webhook", "options": {"format": "jsonl", "secret_env": var}}),
        )
    };
    let (code, path) = hook("PATH");
    assert_eq!(code, 422, "{path}");
    let (_, unset) = hook("NO_SUCH_VARIABLE_X");
    assert_eq!(path["detail"], unset["detail"]);
    assert!(
        path["detail"].as_str().unwrap().contains("SIGFLOW_SECRET_"),
        "{path}"
    );

    // SSRF by literal address, mapped address, metadata name and scheme.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://127.0.0.1:1/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
    ] {
        let (code, body) = add(json!({"name": "ssrf", "kind": "rss", "options": {"url": url}}));
        assert_eq!(code, 422, "{url}: {body}");
    }
    let (_, list) = request_as(Some(&key), "GET", &format!("{base}/api/v1/sources"), None);
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
}

/// A listener on 127.0.0.2 that counts connections: the address a redirect points at.
fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.2:0").expect("127.0.0.2 is loopback on Linux");
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut c) = c {
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf);
                use std::io::Write;
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nsecret-data");
            }
        }
    });
    (format!("http://{addr}"), n)
}

#[test]
fn redirects_and_names_that_lead_to_forbidden_addresses_are_not_followed() {
    let dir = TestDir::new("sec-ssrf");
    let (inner, hits) = counting_listener();
    let target = format!("{inner}/latest/meta-data/");
    let mock = MockServer::start(move |r| match r.path() {
        "/feed" => Resp::json(302, "").with("location", &target),
        _ => Resp::json(404, "{}"),
    });
    let port = mock.base.rsplit(':').next().unwrap().to_string();
    let (cfg, base) = api_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"hop\"\nkind = \"rss\"\nurl = \"{m}/feed\"\ninterval_secs = 3600\n\
             [[sources]]\nname = \"byname\"\nkind = \"rss\"\nurl = \"http://localhost:{port}/feed\"\ninterval_secs = 3600\n",
            m = mock.base
        ),
    );
    let key = make_key("admin", &["--config".as_ref(), cfg.as_os_str()]);
    // Only the mock's own address is allowed: not 127.0.0.2, not the name `localhost`'s
    // other addresses.
    let _run = start(&cfg, &base, r#"["127.0.0.1/32"]"#);
    let test = |name: &str| {
        request_as(
            Some(&key),
            "POST",
            &format!("{base}/api/v1/sources/{name}/test"),
            None,
        )
    };
    let (code, body) = test("hop");
    assert_eq!(code, 502, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("redirect refused"),
        "{body}"
    );
    assert!(!body.to_string().contains("secret-data"), "{body}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "never connected to the redirect's target"
    );
    // `localhost` resolves to loopback, which is allowed only as 127.0.0.1: the guard
    // checks the resolved addresses (and connects only to those it checked).
    let (code, body) = test("byname");
    assert!(code == 200 || code == 502, "{body}");
    let (_, body) = request_as(
        None,
        "GET",
        &format!("{base}/api/v1/contents?source_name=hop"),
        None,
    );
    assert_eq!(body["items"].as_array().unwrap().len(), 0);

    // With nothing allowed, the name is refused at resolution.
    drop(_run);
    let _run = start(&cfg, &base, "[]");
    let (code, body) = test("byname");
    assert_eq!(code, 502, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("loopback"),
        "{body}"
    );
}

#[test]
fn a_provider_key_is_never_shown_in_logs_readyz_the_api_or_the_cli() {
    let dir = TestDir::new("sec-leak");
    const KEY: &str = "AVKEY-s3cr3t-9f8e7d";
    // Alpha Vantage answers with an error page that echoes the request URL.
    let mock = MockServer::start(|r| {
        let query = r.target.split_once('?').map_or("", |x| x.1);
        let echoed = format!("https://www.alphavantage.co{}?{query}", r.path());
        Resp::json(
            503,
            json!({"Error Message": format!("backend down for {echoed}")}).to_string(),
        )
    });
    let (cfg, base) = api_config(
        &dir,
        &format!(
            "[[sources]]\nname = \"av\"\nkind = \"earnings\"\nprovider = \"alphavantage\"\nkey_env = \"AV_KEY\"\nbase_url = \"{b}\"\nmax_rps = 20\n",
            b = mock.base
        ),
    );
    let admin = make_key("admin", &["--data-dir".as_ref(), dir.data().as_os_str()]);
    let log = dir.join("sigflow.log");
    let mut cmd = sigflow();
    cmd.args(["run", "--config"])
        .arg(&cfg)
        .env("AV_KEY", KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let run = Running {
        child: cmd.spawn().unwrap(),
    };
    wait_until("the failing poll", Duration::from_secs(20), || {
        mock.hits("/query").len() >= 2
    });
    assert!(
        mock.requests()[0].query("apikey").as_deref() == Some(KEY),
        "the key is sent"
    );
    let (_, ready) = request_as(Some(&admin), "GET", &format!("{base}/readyz"), None);
    let err = ready["components"]["source:av"]["last_error"]
        .as_str()
        .unwrap_or("");
    assert!(err.contains("apikey=REDACTED"), "{ready}");
    let (_, sources) = request_as(Some(&admin), "GET", &format!("{base}/api/v1/sources"), None);
    let out = run_ok(
        sigflow()
            .args(["sources", "list", "--config"])
            .arg(&cfg)
            .env("AV_KEY", KEY),
    );
    drop(run);
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("REDACTED"), "the failure is logged, redacted");
    for (what, text) in [
        ("/readyz", ready.to_string()),
        ("/api/v1/sources", sources.to_string()),
        (
            "sources list",
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        ("logs", logs),
    ] {
        assert!(!text.contains(KEY), "{what} shows the key: {text}");
    }
}
