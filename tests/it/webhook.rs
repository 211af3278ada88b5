//! Webhook pushes through the real binary: signed bodies are filed and processed;
//! unsigned, oversized, unreadable and misaddressed ones are refused with the reason.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::util::*;

const SECRET: &str = "test-secret-0123456789";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn post(url: &str, body: &[u8], sig: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut req = agent
        .post(url)
        .header("content-type", "application/x-ndjson");
    if let Some(s) = sig {
        req = req.header("x-sigflow-signature", s);
    }
    let mut resp = req.send(body).unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

#[test]
fn signed_pushes_are_processed_and_bad_ones_refused() {
    let dir = TestDir::new("webhook");
    let port = free_port();
    let cfg = dir.join("sigflow.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
             [[sources]]\nname = \"newswire\"\nkind = \"webhook\"\nformat = \"jsonl\"\nsecret_env = \"NEWSWIRE_SECRET\"\nmax_bytes = 2048\n",
            dir.data().display()
        ),
    )
    .unwrap();
    // Without the secret the configuration is refused.
    let out = sigflow()
        .args(["validate", "--config"])
        .arg(&cfg)
        .env_remove("NEWSWIRE_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("$NEWSWIRE_SECRET"));

    let _run = Running::spawn(
        sigflow()
            .args(["run", "--config"])
            .arg(&cfg)
            .env("NEWSWIRE_SECRET", SECRET),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until("the API", Duration::from_secs(20), || {
        http_get(&format!("{base}/healthz")).is_ok()
    });
    let url = format!("{base}/api/v1/ingest/newswire");
    let body = b"{\"id\": \"pr-1\", \"title\": \"Acme Corp raises full-year guidance\", \"text\": \"$ACME raises guidance after record quarter\", \"happened_at\": \"2026-11-20T13:30:00Z\", \"platform\": \"newswire\"}\n\
{\"id\": \"pr-2\", \"text\": \"Globex misses estimates\", \"platform\": \"newswire\"}\n";
    let (code, resp) = post(&url, body, Some(&sign(body)));
    assert_eq!(code, 202, "{resp}");
    assert!(resp.contains("\"items\":2"), "{resp}");
    wait_until("the pushed items", Duration::from_secs(20), || {
        dir.db().exists()
            && count(
                &db(&dir.db()),
                "SELECT COUNT(*) FROM contents WHERE source = 'newswire'",
            ) == 2
    });
    let (_, one) = get_json(&format!("{base}/api/v1/contents?source=newswire"));
    assert!(one.to_string().contains("raises guidance"), "{one}");

    let (code, resp) = post(&url, body, Some("sha256=00"));
    assert_eq!(code, 401, "{resp}");
    let (code, _) = post(&url, body, None);
    assert_eq!(code, 401);
    let big = vec![b'x'; 4096];
    let (code, resp) = post(&url, &big, Some(&sign(&big)));
    assert_eq!(code, 413, "{resp}");
    let junk = b"\n\n";
    let (code, resp) = post(&url, junk, Some(&sign(junk)));
    assert_eq!(code, 422, "{resp}");
    assert!(resp.contains("no JSON lines"), "{resp}");
    let (code, _) = post(
        &format!("{base}/api/v1/ingest/nosuch"),
        body,
        Some(&sign(body)),
    );
    assert_eq!(code, 404);
    // Nothing refused reached the lake: one payload filed.
    let filed = count(
        &db(&dir.db()),
        "SELECT COUNT(*) FROM log WHERE topic = 'raw'",
    );
    assert_eq!(filed, 1);
}
