//! The OpenAPI document against the running binary, by a third-party fuzzer:
//! schemathesis generates requests from `/api/v1/openapi.json` (valid ones, invalid
//! ones, sequences) and checks every answer: no server error, every status and
//! content type documented, every body valid against its schema, invalid input
//! refused.
//!
//! One check is left out, `positive_data_acceptance`: some inputs are free-form in the
//! schema but have rules it cannot express (a time in one of three formats, a cursor
//! only this server hands out, a source's options by kind), so a schema-valid request
//! may rightly get 400 or 422.

use std::process::Command;
use std::time::Duration;

use crate::util::*;

fn schemathesis() -> std::path::PathBuf {
    let st = std::path::Path::new(&test_tools()).join("st-venv/bin/st");
    assert!(
        st.exists(),
        "schemathesis is not installed at {}: run scripts/test-tools.sh",
        st.display()
    );
    st
}

#[test]
fn the_openapi_document_holds_under_a_fuzzer() {
    let st = schemathesis();
    let dir = TestDir::new("openapi");
    let admin = make_key("admin", &["--data-dir".as_ref(), dir.data().as_os_str()]);
    // The fuzzer is one client asking as fast as it can: above the per-address rate
    // (tested in security.rs) the gate answers 429 before it looks at the key, which
    // the fuzzer's authentication checks would count as a failure.
    let (_run, base) = demo_with_api_env(&dir, &[("SIGFLOW__API__RATE_PER_IP", "100000")]);
    let (code, doc) = get_json(&format!("{base}/api/v1/openapi.json"));
    assert_eq!(code, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let (code, page) = http_get(&format!("{base}/api/v1/docs")).unwrap();
    assert_eq!(code, 200);
    assert!(
        page.contains("/api/v1/contents") && !page.contains("<script"),
        "offline, ours"
    );
    let out = Command::new(st)
        .args(["run", &format!("{base}/api/v1/openapi.json")])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args([
            "--max-examples",
            "40",
            "--seed",
            "20261203",
            "--request-timeout",
            "20",
        ])
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // Its example cache goes in the test's directory, not the clone.
        .current_dir(&dir.path)
        .output()
        .expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}"
    );
    assert!(report.contains("generated"), "{report}");
    // The pipeline was never disturbed: the API still answers.
    wait_until("the API after fuzzing", Duration::from_secs(5), || {
        http_get(&format!("{base}/healthz")).is_ok()
    });
}
