//! The side-effect contract, through the real binary: the `forward` stage POSTs every
//! enriched item to a webhook while the run is SIGKILLed at random moments and the
//! webhook answers 503 to every seventh request. Afterwards every delivery was
//! accepted exactly once — at most one more per kill (a kill between the webhook's
//! answer and the journal's commit) —, its answer is in the journal, and a replay of
//! the stage sends nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sigflow::store::repos;

use crate::mock_http::{MockServer, Resp};
use crate::util::*;

type Accepted = Arc<Mutex<BTreeMap<String, u32>>>;

fn webhook() -> (MockServer, Accepted) {
    let accepted: Accepted = Arc::default();
    let n = AtomicU64::new(0);
    let acc = accepted.clone();
    let mock = MockServer::start(move |r| {
        if r.method != "POST" || r.path() != "/hook" {
            return Resp::json(404, "{}");
        }
        if n.fetch_add(1, Ordering::SeqCst) % 7 == 3 {
            return Resp::json(503, r#"{"error": "busy"}"#);
        }
        let key = r.header("idempotency-key").unwrap_or("(none)").to_string();
        let doc: serde_json::Value = serde_json::from_slice(&r.body).expect("a JSON item");
        assert!(key.starts_with(&format!("forward/{}/", doc["id"].as_str().unwrap())));
        *acc.lock().unwrap().entry(key).or_default() += 1;
        Resp::json(200, r#"{"ok": true}"#)
    });
    (mock, accepted)
}

fn with_forward(cmd: &mut std::process::Command, url: &str) {
    cmd.env("SIGFLOW__FORWARD__URL", url)
        .env("SIGFLOW__PIPELINE__RETRY_INITIAL_MS", "5")
        .env("SIGFLOW__PIPELINE__RETRY_MAX_MS", "50");
}

fn journal(dir: &TestDir) -> BTreeSet<String> {
    let opened = sigflow::store::open(
        &format!("sqlite://{}", dir.db().display()),
        &Default::default(),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let keys: Vec<String> = rt
        .block_on(opened.store.sql().query_as(
            "SELECT key FROM effects WHERE scope = $1",
            sigflow::sql_params!["forward"],
        ))
        .unwrap();
    assert_eq!(
        rt.block_on(repos::counts(opened.store.sql()))
            .unwrap()
            .contents,
        1200
    );
    keys.into_iter().collect()
}

#[test]
fn forward_delivers_each_item_once_across_kills_and_503s() {
    let dir = TestDir::new("forward");
    let (mock, accepted) = webhook();
    let url = format!("{}/hook", mock.base);
    let mut rng = fastrand::Rng::with_seed(11);
    // Kill while deliveries are under way, until 5 kills landed mid-forwarding.
    let (mut kills, mut mid) = (0, 0);
    while mid < 5 && kills < 40 {
        let before = accepted.lock().unwrap().len();
        let mut cmd = demo_cmd(&dir, "max");
        with_forward(&mut cmd, &url);
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.u64(300..2500)));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        if accepted.lock().unwrap().len() > before {
            mid += 1;
        }
    }
    assert!(
        mid >= 5,
        "only {mid} of {kills} kills landed mid-forwarding"
    );

    let mut cmd = demo_cmd(&dir, "max");
    cmd.arg("--exit-when-idle");
    with_forward(&mut cmd, &url);
    run_ok(&mut cmd);

    let accepted = accepted.lock().unwrap().clone();
    let journalled = journal(&dir);
    assert_eq!(
        accepted.keys().cloned().collect::<BTreeSet<_>>(),
        journalled,
        "every accepted delivery is journalled, and nothing else"
    );
    let ids: BTreeSet<String> = journalled
        .iter()
        .map(|k| k.split('/').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(ids, expected_ids(), "every stored item was delivered");
    let repeats: u32 = accepted.values().map(|n| n - 1).sum();
    assert!(
        repeats <= kills,
        "{repeats} repeated deliveries after {kills} kills: at most one per kill"
    );
    let dlq = count(
        &db(&dir.db()),
        "SELECT COUNT(*) FROM dlq WHERE stage = 'forward'",
    );
    assert_eq!(dlq, 0, "a 503 is retried, never dead-lettered");
    eprintln!(
        "forward: {} deliveries, {repeats} repeated after {kills} kills ({mid} mid-run)",
        accepted.len()
    );

    // A replay of the stage finds every answer in the journal: nothing is sent again.
    let sent_before = mock.hits("/hook").len();
    let mut cmd = sigflow();
    cmd.args([
        "replay",
        "--stage",
        "forward",
        "--from-offset",
        "0",
        "--data-dir",
    ])
    .arg(dir.data());
    with_forward(&mut cmd, &url);
    run_ok(&mut cmd);
    assert_eq!(
        mock.hits("/hook").len(),
        sent_before,
        "a replay sends nothing"
    );
}

#[test]
fn a_refused_delivery_is_dead_lettered_and_a_bad_url_is_refused_at_validation() {
    let dir = TestDir::new("forward-refused");
    let mock = MockServer::start(|r| {
        // The receiver refuses one particular kind of item for its own reasons.
        if String::from_utf8_lossy(&r.body).contains("\"source\":\"sec\"") {
            Resp::json(422, r#"{"error": "unsupported item"}"#)
        } else {
            Resp::json(204, "")
        }
    });
    let mut cmd = demo_cmd(&dir, "max");
    cmd.arg("--exit-when-idle");
    with_forward(&mut cmd, &format!("{}/hook", mock.base));
    run_ok(&mut cmd);
    let conn = db(&dir.db());
    let dead = count(&conn, "SELECT COUNT(*) FROM dlq WHERE stage = 'forward'");
    let refused = mock
        .hits("/hook")
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("\"source\":\"sec\""))
        .count() as i64;
    assert!(refused > 0, "the demo has SEC items");
    assert_eq!(
        dead, refused,
        "each refused item is one dead letter, sent once"
    );
    let error: String = conn
        .query_row(
            "SELECT error FROM dlq WHERE stage = 'forward' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(error.contains("HTTP 422"), "{error}");
    assert!(
        !error.contains("/hook"),
        "a dead letter names the receiver's host, never its URL path: {error}"
    );

    let cfg = dir.join("forward.toml");
    std::fs::write(&cfg, "[forward]\nurl = \"https://hooks.example.com/in\"\n").unwrap();
    let out = sigflow()
        .args(["validate", "--config"])
        .arg(&cfg)
        .env("SIGFLOW__FORWARD__URL", "file:///etc/passwd")
        .env("SIGFLOW__FORWARD__TIMEOUT_SECS", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("forward.url") && said.contains("forward.timeout_secs"),
        "{said}"
    );
}
