//! The API tried as an attacker would, through the real binary: keys and scopes,
//! foreign Host and Origin, form-encoded state changes, exposure without keys, rate
//! limits, floods of idle connections and trickled headers; and the uniform error
//! shape every refusal has.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

/// A raw HTTP/1.1 exchange (headers exactly as given): status, head, body.
fn raw(addr: &str, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn api_run(dir: &TestDir, api: &str) -> (std::path::PathBuf, String, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = source_config(dir, &format!("[api]\nlisten = \"{addr}\"\n{api}"));
    (cfg, format!("http://{addr}"), addr)
}

fn wait_api(base: &str) {
    wait_until("the API", Duration::from_secs(20), || {
        http_get(&format!("{base}/healthz")).is_ok()
    });
}

#[test]
fn state_changes_need_a_key_a_json_body_and_this_servers_host_and_origin() {
    let dir = TestDir::new("sec-gate");
    let (cfg, base, addr) = api_run(&dir, "");
    let admin = make_key("admin", &["--config".as_ref(), cfg.as_os_str()]);
    let _run = Running::spawn(sigflow().args(["run", "--config"]).arg(&cfg));
    wait_api(&base);
    let body = r#"{"name":"x","kind":"rss","options":{"url":"https://example.com/feed"}}"#;
    let post = |headers: &str| {
        raw(
            &addr,
            &format!(
                "POST /api/v1/sources HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n{headers}\r\n{body}",
                body.len()
            ),
        )
    };
    let auth = format!("authorization: Bearer {admin}\r\n");
    // A form post or text/plain fetch from another site: refused before anything else.
    let (code, head, problem) = post(&format!(
        "host: {addr}\r\ncontent-type: text/plain\r\n{auth}"
    ));
    assert_eq!(code, 415, "{head}{problem}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    // DNS rebinding: a name this server was not told to answer for.
    let (code, _, problem) = post(&format!(
        "host: evil.example:80\r\ncontent-type: application/json\r\n{auth}"
    ));
    assert_eq!(code, 421, "{problem}");
    // A page on another origin.
    let (code, _, problem) = post(&format!(
        "host: {addr}\r\norigin: http://evil.example\r\ncontent-type: application/json\r\n{auth}"
    ));
    assert_eq!(code, 403, "{problem}");
    // No key, a mistyped key, a revoked key.
    let (code, head, _) = post(&format!(
        "host: {addr}\r\ncontent-type: application/json\r\n"
    ));
    assert_eq!(code, 401);
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    let mut typo = admin.clone().into_bytes();
    typo[12] = if typo[12] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let (code, _, p) = post(&format!(
        "host: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer {typo}\r\n"
    ));
    assert_eq!(code, 401, "{p}");
    // The real thing, same origin: accepted.
    let (code, _, p) = post(&format!(
        "host: {addr}\r\norigin: {base}\r\ncontent-type: application/json\r\n{auth}"
    ));
    assert_eq!(code, 201, "{p}");
    // Revoked keys stop working within seconds.
    let id = &admin[4..12];
    run_ok(sigflow().args(["keys", "revoke", id, "--config"]).arg(&cfg));
    let listed = run_ok(sigflow().args(["keys", "list", "--config"]).arg(&cfg));
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains(id) && !listed.contains(&admin), "{listed}");
    wait_until("the revocation", Duration::from_secs(5), || {
        request_as(
            Some(&admin),
            "POST",
            &format!("{base}/api/v1/sources/x/pause"),
            None,
        )
        .0 == 401
    });
    // Only the hash is stored.
    let stored: String = db(&dir.db())
        .query_row("SELECT hash FROM api_keys", [], |r| r.get(0))
        .unwrap();
    assert!(
        !stored.contains(&admin[4..]),
        "the key itself is not stored"
    );
}

#[test]
fn a_non_loopback_api_needs_keys_or_an_explicit_insecure_flag() {
    let dir = TestDir::new("sec-exposed");
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let base = format!("http://127.0.0.1:{port}");
    let cfg = source_config(&dir, "");
    let out = sigflow()
        .args(["run", "--listen", &listen, "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keys create") && err.contains("--insecure-no-auth"),
        "{err}"
    );

    // Insisting works, loudly.
    let log = dir.join("insecure.log");
    let mut cmd = sigflow();
    cmd.args(["run", "--insecure-no-auth", "--listen", &listen, "--config"])
        .arg(&cfg)
        .stderr(std::fs::File::create(&log).unwrap());
    let run = Running {
        child: cmd.spawn().unwrap(),
    };
    wait_api(&base);
    assert_eq!(get_json(&format!("{base}/api/v1/contents")).0, 200);
    drop(run);
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("WITHOUT AUTHENTICATION")
    );

    // With a key: reads need one too.
    let read = make_key("read", &["--config".as_ref(), cfg.as_os_str()]);
    let _run = Running::spawn(
        sigflow()
            .args(["run", "--listen", &listen, "--config"])
            .arg(&cfg),
    );
    wait_api(&base);
    let (code, p) = get_json(&format!("{base}/api/v1/contents"));
    assert_eq!(code, 401, "{p}");
    assert_eq!(p["required_scope"], "read");
    assert_eq!(
        request_as(Some(&read), "GET", &format!("{base}/api/v1/contents"), None).0,
        200
    );
    // Health stays open for probes; the failure details do not.
    assert_eq!(get_json(&format!("{base}/readyz")).0, 200);
}

#[test]
fn errors_are_problem_json_with_the_limit_and_answers_carry_nosniff_and_gzip() {
    let dir = TestDir::new("sec-problems");
    let (cfg, base, addr) = api_run(&dir, "max_body_bytes = 2048\n");
    let admin = make_key("admin", &["--config".as_ref(), cfg.as_os_str()]);
    let _run = Running::spawn(sigflow().args(["run", "--config"]).arg(&cfg));
    wait_api(&base);
    let (code, head, body) = raw(
        &addr,
        &format!(
            "DELETE /api/v1/contents HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {admin}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{{}}"
        ),
    );
    assert_eq!(code, 405);
    assert!(head.contains("application/problem+json"), "{head}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["status"], 405);
    assert!(p["detail"].as_str().unwrap().contains("GET"), "{p}");
    let big = "x".repeat(4096);
    let (code, head, body) = raw(
        &addr,
        &format!(
            "POST /api/v1/ingest/nohook HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{big}",
            big.len()
        ),
    );
    assert_eq!(code, 413, "{body}");
    assert!(head.contains("application/problem+json"), "{head}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["limit"], 2048, "{p}");
    let (code, p) = get_json(&format!("{base}/api/v1/nothing-here"));
    assert_eq!((code, p["status"].as_u64()), (404, Some(404)));
    let (code, p) = get_json(&format!("{base}/api/v1/contents?order=sideways"));
    assert_eq!(code, 400);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("happened") && detail.contains("ingested"),
        "{p}"
    );
    let (code, head, _) = raw(
        &addr,
        &format!(
            "GET /api/v1/openapi.json HTTP/1.1\r\nhost: {addr}\r\naccept-encoding: gzip\r\nconnection: close\r\n\r\n"
        ),
    );
    assert_eq!(code, 200);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let dir = TestDir::new("sec-rate");
    let (cfg, base, addr) = api_run(&dir, "rate_per_ip = 5\n");
    let _run = Running::spawn(sigflow().args(["run", "--config"]).arg(&cfg));
    wait_api(&base);
    let mut limited = None;
    for _ in 0..40 {
        let (code, head, body) = raw(
            &addr,
            &format!("GET /api/v1/contents HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"),
        );
        if code == 429 {
            limited = Some((head, body));
            break;
        }
        assert!(head.contains("ratelimit-limit: 5"), "{head}");
    }
    let (head, body) = limited.expect("a burst over the rate is limited");
    assert!(head.contains("retry-after: "), "{head}");
    assert!(body.contains("retry_after_secs"), "{body}");
    // Health probes are never limited.
    assert_eq!(get_json(&format!("{base}/healthz")).0, 200);
}

/// Raises this test process's open-file limit so it can hold many sockets.
fn raise_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

#[test]
fn idle_floods_and_trickled_headers_do_not_stop_the_api_or_the_pipeline() {
    let dir = TestDir::new("sec-flood");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let base = format!("http://{addr}");
    let run = Running::spawn(
        sigflow()
            .args(["demo", "--speed", "5", "--listen", &addr, "--data-dir"])
            .arg(dir.data())
            .env("SIGFLOW__API__MAX_CONNECTIONS", "512")
            .env("SIGFLOW__API__HEADER_TIMEOUT_SECS", "2"),
    );
    wait_api(&base);
    // As many idle connections as this process may open (20,000 where allowed).
    let n = (raise_limit().saturating_sub(200)).min(20_000) as usize;
    let mut idle = Vec::with_capacity(n);
    let opening = Instant::now();
    for _ in 0..n {
        if opening.elapsed() > Duration::from_secs(40) {
            break;
        }
        match TcpStream::connect(&addr) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    assert!(idle.len() >= 1000, "opened only {}", idle.len());
    // The API still answers health at once, and the pipeline keeps storing.
    let t = Instant::now();
    let before = count_while_starting(&dir.db(), "SELECT COUNT(*) FROM contents");
    wait_until("health during the flood", Duration::from_secs(5), || {
        http_get(&format!("{base}/healthz")).is_ok_and(|(c, _)| c == 200)
    });
    assert!(t.elapsed() < Duration::from_secs(5));
    wait_until("ingest during the flood", Duration::from_secs(20), || {
        count_while_starting(&dir.db(), "SELECT COUNT(*) FROM contents") > before
    });
    // Idle connections are closed after the header timeout.
    std::thread::sleep(Duration::from_secs(3));
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    let mut closed = 0;
    for c in idle.iter_mut().take(50) {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if matches!(c.read(&mut buf), Ok(0)) || c.write_all(b"x").is_err() {
            closed += 1;
        }
    }
    assert_eq!(closed, 50);
    drop(idle);
    // A client that trickles its headers is cut off after the header timeout.
    let t = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let mut cut = false;
    for _ in 0..10 {
        if s.write_all(b"x-slow: 1\r\n").is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        if matches!(s.read(&mut buf), Ok(0)) {
            cut = true;
            break;
        }
    }
    assert!(
        cut && t.elapsed() < Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(get_json(&format!("{base}/healthz")).0, 200);
    drop(run);
}
