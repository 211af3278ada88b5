//! The command line: `validate` names every problem; `parse` turns every payload of a
//! supported source into items; `--help` teaches.

use std::path::Path;

use crate::util::*;

#[test]
fn validate_names_every_problem_at_once() {
    let dir = TestDir::new("validate");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        r#"
store = "mysql://db.internal/sigflow"
lake = "ftp://files"
colour = "blue"

[api]
listen = "everywhere"
max_page_size = 0

[pipeline]
batch_size = 0
retries = 3

[sqlite]
synchronous = "sometimes"

[enrich]
chain = ["cashtags", "astrology"]

[[sources]]
kind = "myspace"

[[sources]]
name = "replay"
kind = "files"
format = "morse"

[[sources]]
name = "replay"
kind = "demo"
speed = "fast"
"#,
    )
    .unwrap();
    let out = sigflow()
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "store: unsupported URL `mysql://db.internal/sigflow`",
        "lake: unsupported URL `ftp://files`",
        "colour: unknown key",
        "api.listen: `everywhere`",
        "api.max_page_size: must be between 1",
        "pipeline.batch_size: must be between 1",
        "pipeline.retries: unknown key",
        "sqlite.synchronous: `sometimes`",
        "unknown enricher `astrology`",
        "sources[0].name: missing",
        "unknown kind `myspace`",
        "option `path` (a directory of payload files) is required",
        "unknown format `morse`",
        "`replay` is used by another source",
        "speed must be \"max\" or a positive number",
    ] {
        assert!(
            err.contains(needle),
            "validate did not report `{needle}`:\n{err}"
        );
    }
    assert!(err.contains("15 configuration problems"), "{err}");

    // Syntax errors say where.
    std::fs::write(dir.join("syntax.toml"), "[api\nlisten = 1").unwrap();
    let out = sigflow()
        .args(["validate", "--config"])
        .arg(dir.join("syntax.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid TOML"));

    // A running command refuses a broken config with the same report.
    let out = sigflow()
        .args(["run", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown enricher `astrology`"));
}

#[test]
fn defaults_validate_and_env_overrides_are_checked_too() {
    let dir = TestDir::new("defaults");
    let out = run_ok(sigflow().args(["validate", "--print-defaults"]));
    let defaults = dir.join("defaults.toml");
    std::fs::write(&defaults, &out.stdout).unwrap();
    let ok = run_ok(sigflow().args(["validate", "--config"]).arg(&defaults));
    assert!(String::from_utf8_lossy(&ok.stdout).contains(": ok (store sqlite://"));

    let out = sigflow()
        .args(["validate", "--config"])
        .arg(&defaults)
        .env("SIGFLOW__PIPELINE__BATCH_SIZE", "0")
        .env("SIGFLOW__API__LISTEN", "127.0.0.1:notaport")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pipeline.batch_size") && err.contains("api.listen"),
        "{err}"
    );
}

#[test]
fn parse_turns_every_demo_payload_into_items() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/dataset");
    let manifest = manifest();
    let poisoned: Vec<&str> = manifest["poison"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    let mut items = 0;
    for f in manifest["files"].as_array().unwrap() {
        let (file, format) = (f["file"].as_str().unwrap(), f["format"].as_str().unwrap());
        let out = sigflow()
            .args(["parse", "--source", format])
            .arg(root.join(file))
            .output()
            .unwrap();
        let expect_ok = !poisoned.contains(&file);
        assert_eq!(
            out.status.success(),
            expect_ok,
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let c: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(c["source"], format);
            assert!(c["id"].is_string() && c["happened_at"].is_string() && c["text"].is_string());
            items += 1;
        }
    }
    assert!(items >= 1200, "{items}");

    let out = sigflow()
        .args(["parse", "--source", "myspace", "x.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown source format `myspace`"));
}

/// The real recorded payloads in ../shared, when this checkout has them beside it.
#[test]
fn parse_handles_the_real_recorded_payloads_when_present() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/sources");
    if !dir.is_dir() {
        eprintln!(
            "../shared/fixtures/sources is not beside this checkout; the bundled fixtures cover the shapes"
        );
        return;
    }
    let cases: &[(&str, &str, usize)] = &[
        ("truthsocial", "truthsocial_status.json", 1),
        ("mastodon", "mastodon_status_docs_example.json", 1),
        ("reddit", "reddit_listing_new.json", 2),
        ("x", "x_users_tweets_783214.json", 2),
        ("x", "x_search_recent_query_tweepy.json", 10),
        ("sec", "sec_latest_filings_atom.xml", 1),
        ("fed", "fed_press_all.xml", 2),
    ];
    for (format, file, n) in cases {
        let out = run_ok(
            sigflow()
                .args(["parse", "--source", format])
                .arg(dir.join(file)),
        );
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), *n, "{file}");
    }
    // Error bodies are refused, not turned into items.
    for (format, file) in [
        ("reddit", "reddit_error_429.json"),
        ("x", "x_error_429.json"),
    ] {
        let out = sigflow()
            .args(["parse", "--source", format])
            .arg(dir.join(file))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{file}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn help_teaches() {
    let out = run_ok(sigflow().arg("--help"));
    let s = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "demo", "run", "validate", "parse", "dlq", "replay", "topics", "bench",
    ] {
        assert!(s.contains(cmd), "--help lacks {cmd}");
    }
    let out = run_ok(sigflow().args(["demo", "--help"]));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("--speed")
            && s.contains("--exit-when-idle")
            && s.contains("--data-dir")
            && s.contains("--listen")
    );
}

#[test]
fn topics_are_created_explicitly_and_migrate_reports_the_schema() {
    let dir = TestDir::new("topics-create");
    let data = dir.data();
    let out = run_ok(
        sigflow()
            .args([
                "topics",
                "create",
                "--name",
                "alerts",
                "--partitions",
                "3",
                "--retention-hours",
                "2",
                "--data-dir",
            ])
            .arg(&data),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("topic `alerts`: 3 partition(s), retention 2 h")
    );
    let out = run_ok(
        sigflow()
            .args(["topics", "describe", "--json", "--data-dir"])
            .arg(&data),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let alerts = v["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "alerts")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(alerts["partitions"].as_array().unwrap().len(), 3);
    // Shrinking is refused with the reason.
    let out = sigflow()
        .args([
            "topics",
            "create",
            "--name",
            "alerts",
            "--partitions",
            "2",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot shrink"));
    let out = run_ok(sigflow().args(["migrate", "--data-dir"]).arg(&data));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!(
        "schema at migration {}",
        sigflow::store::SCHEMA_VERSION
    )));
}

/// The shipped benchmark runs end to end on a small size and reports what it measured:
/// every phase stored every item, the ratios are computed from real rates.
#[test]
fn bench_runs_every_phase_and_reports_ratios() {
    let dir = TestDir::new("bench-smoke");
    let out = run_ok(sigflow().args([
        "bench",
        "--items",
        "600",
        "--repeat",
        "1",
        "--memory-items",
        "300",
        "--scale",
        "2",
        "--latency-secs",
        "1",
        "--rate",
        "300",
        "--json",
        "--dir",
        dir.join("b").to_str().unwrap(),
    ]));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("bench --json prints one JSON object");
    for chain in ["foundation", "full"] {
        let t = &v[chain];
        for phase in ["limit", "limit_with_log", "e2e"] {
            assert_eq!(t[phase]["stored"], 600, "{chain}.{phase}: {t}");
            assert!(
                t[phase]["per_sec"].as_f64().unwrap() > 0.0,
                "{chain}.{phase}"
            );
        }
        let ratio = t["e2e_over_limit"].as_f64().unwrap();
        let expect =
            t["e2e"]["per_sec"].as_f64().unwrap() / t["limit"]["per_sec"].as_f64().unwrap();
        assert!(
            (ratio - expect).abs() < 1e-9 && ratio > 0.0,
            "{chain}: {ratio}"
        );
        assert!(t["e2e"]["p99_ms"].as_f64().is_some());
    }
    assert_eq!(v["latency"]["stored"], 300, "{}", v["latency"]);
    assert!(v["latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(v["memory_small"]["stored"], 300);
    assert_eq!(v["memory_big"]["stored"], 600);
    assert!(v["memory_big"]["peak_rss_mib"].as_f64().unwrap() > 0.0);
}
