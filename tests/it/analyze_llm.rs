//! The LLM analyst through the real binary, against a local server that speaks the
//! chat-completions format and answers each item's case: a good call (with a symbol
//! the ticker list does not know), a 429 with `retry-after-ms` then a call, an
//! exhausted quota (never retried), truncation, a refusal, a content filter, invalid
//! JSON twice (one repair, then abstain), invalid JSON once (repaired), a 503 that
//! stays (the rules decide), the model abstaining. Then: a replay pays nothing again,
//! a spent budget abstains, an LLM that is down leaves /readyz degraded while the rules
//! decide, and kill -9 during analysis loses and doubles no prediction and repeats at
//! most one call per kill.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::mock_http::{MockServer, Req, Resp};
use crate::util::*;

const RULES: &str = r#"threshold = 2.0
[[rule]]
name = "case"
when = 'text.startsWith("CASE")'
score = 5.0
reason = "a test case"
direction = "bullish"
assets = "cashtags"
"#;

const CASES: &[&str] = &[
    "ok", "retry", "quota", "length", "refusal", "filter", "badjson", "repair", "down", "abstain",
];

fn completion(content: Option<&str>, finish: &str, refusal: Option<&str>) -> Resp {
    Resp::json(
        200,
        json!({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 1_790_000_000,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                "refusal": refusal, "annotations": []}, "logprobs": null, "finish_reason": finish}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
            "service_tier": "default", "system_fingerprint": "fp_test"
        })
        .to_string(),
    )
}

fn call_for(symbols: &[(&str, &str)]) -> String {
    json!({
        "abstain": false, "abstain_reason": null, "confidence": 0.72, "horizon_days": 3,
        "reasoning": "the item names the company with a clear tone",
        "assets": symbols.iter().map(|(s, d)| json!({"symbol": s, "direction": d})).collect::<Vec<_>>(),
    })
    .to_string()
}

/// The item the request is about: (its case, its first cashtag).
fn case_of(r: &Req) -> (String, String) {
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-not-shown"));
    let messages = body["messages"].as_array().unwrap();
    let item: Value = serde_json::from_str(messages[1]["content"].as_str().unwrap()).unwrap();
    let text = item["text"].as_str().unwrap_or("");
    let case = text.split_whitespace().nth(1).unwrap_or("").to_string();
    let ticker = item["tickers_found"][0]
        .as_str()
        .unwrap_or("AAPL")
        .to_string();
    (case, ticker)
}

type Calls = Arc<Mutex<BTreeMap<String, u32>>>;

fn llm_mock() -> (MockServer, Calls) {
    let calls: Calls = Arc::default();
    let c = calls.clone();
    let mock = MockServer::start(move |r| {
        if r.path() != "/v1/chat/completions" {
            return Resp::json(404, "{}");
        }
        let (case, ticker) = case_of(r);
        let n = {
            let mut m = c.lock().unwrap();
            let n = m.entry(format!("{case}/{ticker}")).or_default();
            *n += 1;
            *n
        };
        let good = call_for(&[(&ticker, "bullish"), ("ZZZZQ", "bearish")]);
        match case.as_str() {
            "retry" if n == 1 => Resp::json(429, r#"{"error":{"message":"Rate limit reached for gpt-4o on tokens per min. Please try again in 50ms.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#)
                .with("retry-after-ms", "50"),
            "quota" => Resp::json(429, r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#),
            "length" => completion(Some("{\"abstain\": false, \"assets\": [{\"sym"), "length", None),
            "refusal" => completion(None, "stop", Some("I can't help with that.")),
            "filter" => completion(Some(""), "content_filter", None),
            "badjson" => completion(Some("Sure! Here is my view: bullish"), "stop", None),
            "repair" if n == 1 => completion(Some("{not json"), "stop", None),
            "down" => Resp::json(503, r#"{"error":{"message":"overloaded","type":"server_error"}}"#),
            "abstain" => completion(Some(r#"{"abstain":true,"abstain_reason":"no tradeable view","assets":[],"confidence":0,"horizon_days":1,"reasoning":""}"#), "stop", None),
            _ => completion(Some(&good), "stop", None),
        }
    });
    (mock, calls)
}

fn config(
    dir: &TestDir,
    llm_url: &str,
    extra: &str,
    items: &[(String, String)],
) -> std::path::PathBuf {
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let lines: String = items
        .iter()
        .map(|(id, text)| format!("{}\n", json!({"id": id, "text": text, "platform": "newswire", "happened_at": "2026-11-20T14:00:00Z"})))
        .collect();
    std::fs::write(inbox.join("01.jsonl"), lines).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    source_config(
        dir,
        &format!(
            "[analyze]\nrules = \"{}\"\n[analyze.llm]\nurl = \"{llm_url}\"\napi_key_env = \"TEST_LLM_KEY\"\n\
             max_retries = 1\ntimeout_secs = 5\nrequests_per_minute = 6000\ntriage_score = 3.0\n{extra}\n\
             [[sources]]\nname = \"inbox\"\nkind = \"files\"\npath = \"{}\"\nformat = \"jsonl\"\nonce = true\n",
            rules.display(),
            inbox.display()
        ),
    )
}

fn run_to_idle(cfg: &std::path::Path) -> std::process::Output {
    run_ok(
        sigflow()
            .args(["run", "--exit-when-idle", "--no-api", "--config"])
            .arg(cfg)
            .env("TEST_LLM_KEY", "sk-test-not-shown"),
    )
}

/// (analyzer, asset, direction, abstain_reason, fallback_reason).
type Row = (String, String, String, String, String);

/// The sealed rows per item id.
fn sealed(dir: &TestDir) -> BTreeMap<String, Vec<Row>> {
    let conn = db(&dir.db());
    let mut st = conn
        .prepare(
            "SELECT c.source_id, p.analyzer, p.asset, p.direction, \
             coalesce(json_extract(p.body, '$.abstain_reason'), ''), coalesce(json_extract(p.body, '$.fallback_reason'), '') \
             FROM predictions p JOIN contents c ON c.id = p.content_id ORDER BY p.analyzer, p.asset",
        )
        .unwrap();
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for r in st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })
        .unwrap()
    {
        let (id, row) = r.unwrap();
        out.entry(id).or_default().push(row);
    }
    out
}

fn row(
    a: &str,
    asset: &str,
    d: &str,
    abstain: &str,
    fallback: &str,
) -> (String, String, String, String, String) {
    (
        a.into(),
        asset.into(),
        d.into(),
        abstain.into(),
        fallback.into(),
    )
}

#[test]
fn every_llm_failure_mode_is_explicit_and_a_replay_pays_nothing() {
    let dir = TestDir::new("llm-modes");
    let (mock, calls) = llm_mock();
    let items: Vec<(String, String)> = CASES
        .iter()
        .map(|c| (c.to_string(), format!("CASE {c} about $AAPL today")))
        .collect();
    let cfg = config(&dir, &format!("{}/v1", mock.base), "", &items);
    let out = run_to_idle(&cfg);
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        !logs.contains("sk-test-not-shown"),
        "the API key is never logged"
    );

    let got = sealed(&dir);
    let fallback_unavailable =
        |g: &Vec<Row>| g.len() == 1 && g[0].0 == "rules" && g[0].4.starts_with("llm_unavailable");
    assert_eq!(
        got["ok"],
        vec![row("llm", "AAPL", "bullish", "", "")],
        "the unknown symbol is dropped"
    );
    assert_eq!(got["retry"], vec![row("llm", "AAPL", "bullish", "", "")]);
    assert_eq!(
        got["repair"],
        vec![row("llm", "AAPL", "bullish", "", "")],
        "repaired"
    );
    assert!(fallback_unavailable(&got["quota"]), "{:?}", got["quota"]);
    assert!(got["quota"][0].4.contains("quota"), "{:?}", got["quota"]);
    assert!(fallback_unavailable(&got["down"]), "{:?}", got["down"]);
    for (case, reason) in [
        ("length", "truncated"),
        ("refusal", "refusal"),
        ("filter", "content_filter"),
        ("badjson", "invalid_json"),
        ("abstain", "model: no tradeable view"),
    ] {
        assert_eq!(
            got[case],
            vec![
                row("llm", "", "abstain", reason, ""),
                row(
                    "rules",
                    "AAPL",
                    "bullish",
                    "",
                    &format!("llm_abstained: {reason}")
                ),
            ],
            "{case}"
        );
    }
    let calls_now = calls.lock().unwrap().clone();
    assert_eq!(calls_now["quota/AAPL"], 1, "a quota error is never retried");
    assert_eq!(calls_now["retry/AAPL"], 2);
    assert_eq!(calls_now["down/AAPL"], 2, "max_retries = 1");
    assert_eq!(calls_now["badjson/AAPL"], 2, "one repair attempt");
    assert_eq!(calls_now["repair/AAPL"], 2);
    assert_eq!(calls_now["ok/AAPL"], 1);
    let conn = db(&dir.db());
    let dropped = count(
        &conn,
        "SELECT COUNT(*) FROM predictions WHERE json_extract(body, '$.llm.dropped[0]') = 'ZZZZQ'",
    );
    assert_eq!(
        dropped, 3,
        "ok, retry and repair name the unknown symbol they dropped"
    );
    let tokens = count(&conn, "SELECT tokens FROM llm_usage");
    assert!(tokens >= 160 * 8, "usage is counted: {tokens}");
    let before = count(&conn, "SELECT COUNT(*) FROM predictions");
    drop(conn);

    replay_pays_nothing(&dir, &cfg, &calls, &calls_now, before);
}

/// A replay: every journalled answer is read back; only the failed calls are tried again.
fn replay_pays_nothing(
    dir: &TestDir,
    cfg: &std::path::Path,
    calls: &Calls,
    calls_now: &BTreeMap<String, u32>,
    before: i64,
) {
    run_ok(
        sigflow()
            .args([
                "replay",
                "--stage",
                "analyze",
                "--from-offset",
                "0",
                "--no-run",
                "--config",
            ])
            .arg(cfg),
    );
    run_to_idle(cfg);
    let again = calls.lock().unwrap().clone();
    for (k, n) in calls_now {
        let retried = k.starts_with("quota/") || k.starts_with("down/");
        assert_eq!(again[k] > *n, retried, "{k}: {n} → {}", again[k]);
    }
    assert_eq!(
        count(&db(&dir.db()), "SELECT COUNT(*) FROM predictions"),
        before,
        "a replay seals nothing new"
    );
    let out = run_ok(sigflow().args(["ledger", "verify", "--config"]).arg(cfg));
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));
}

#[test]
fn a_spent_budget_abstains_and_a_dead_llm_leaves_the_rules_deciding() {
    let dir = TestDir::new("llm-budget");
    let (mock, calls) = llm_mock();
    let items: Vec<(String, String)> = ["AAPL", "MSFT", "NVDA", "TSLA"]
        .iter()
        .map(|t| (t.to_string(), format!("CASE ok about ${t}")))
        .collect();
    let cfg = config(
        &dir,
        &format!("{}/v1", mock.base),
        "daily_requests = 2",
        &items,
    );
    run_to_idle(&cfg);
    assert_eq!(
        calls.lock().unwrap().values().sum::<u32>(),
        2,
        "the budget stops the calls"
    );
    let got = sealed(&dir);
    let exhausted = got
        .values()
        .filter(|g| g.iter().any(|r| r.3 == "budget_exhausted"))
        .count();
    assert_eq!(exhausted, 2, "{got:?}");
    assert_eq!(
        got.values()
            .filter(|g| g[0].0 == "llm" && g[0].2 == "bullish")
            .count(),
        2
    );

    // An LLM nobody answers: the rules decide, /readyz says the analyst is degraded.
    let dir = TestDir::new("llm-down");
    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    let cfg = config(
        &dir,
        &dead,
        "",
        &[("x".into(), "CASE ok about $AAPL".into())],
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _run = Running::spawn(
        sigflow()
            .args(["run", "--listen", &format!("127.0.0.1:{port}"), "--config"])
            .arg(&cfg),
    );
    wait_until("the rules' fallback", Duration::from_secs(40), || {
        count_while_starting(&dir.db(), "SELECT COUNT(*) FROM predictions") == 1
    });
    let (s, ready) = get_json(&format!("{base}/readyz"));
    assert_eq!(
        (s, ready["status"].as_str()),
        (200, Some("degraded")),
        "{ready}"
    );
    assert!(
        ready["degraded"].to_string().contains("analyze:llm"),
        "{ready}"
    );
    let got = sealed(&dir);
    assert!(got["x"][0].4.starts_with("llm_unavailable"), "{got:?}");
}

#[test]
fn kill_9_during_analysis_loses_and_doubles_nothing() {
    let (mock, calls) = llm_mock();
    let url = format!("{}/v1", mock.base);
    let items: Vec<(String, String)> = (0..150)
        .map(|i| (format!("k{i}"), format!("CASE ok number {i} about $AAPL")))
        .collect();
    // The reference: the same items analysed without interruption.
    let clean = TestDir::new("llm-clean");
    let cfg = config(&clean, &url, "", &items);
    run_to_idle(&cfg);
    let expected = sealed(&clean);
    assert_eq!(expected.len(), 150);
    assert_eq!(calls.lock().unwrap().values().sum::<u32>(), 150);
    calls.lock().unwrap().clear();

    let dir = TestDir::new("llm-kill");
    let cfg = config(&dir, &url, "", &items);
    let mut rng = fastrand::Rng::with_seed(17);
    let (mut kills, mut mid) = (0u32, 0u32);
    while mid < 3 && kills < 30 {
        let before = calls.lock().unwrap().values().sum::<u32>();
        let mut child = sigflow()
            .args(["run", "--no-api", "--config"])
            .arg(&cfg)
            .env("TEST_LLM_KEY", "sk-test-not-shown")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.u64(400..1500)));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        let after = calls.lock().unwrap().values().sum::<u32>();
        if after > before
            && count_while_starting(&dir.db(), "SELECT COUNT(*) FROM predictions") < 150
        {
            mid += 1;
        }
    }
    assert!(mid >= 1, "no kill landed mid-analysis in {kills}");
    run_to_idle(&cfg);
    let got = sealed(&dir);
    assert_eq!(
        got, expected,
        "the same predictions as an uninterrupted run"
    );
    let paid = calls.lock().unwrap().values().sum::<u32>();
    // A kill can catch each of the `concurrency` (2) calls in flight between its answer
    // and its journal row.
    assert!(
        paid as i64 <= 150 + 2 * kills as i64,
        "{paid} calls for 150 items after {kills} kills: at most one repeat per call in flight per kill"
    );
    let out = run_ok(sigflow().args(["ledger", "verify", "--config"]).arg(&cfg));
    assert!(String::from_utf8_lossy(&out.stdout).contains("150 rows"));
}
