//! Markets through the real binary, against mock price servers speaking the vendors'
//! formats: predictions get prices (Tiingo; Yahoo as the fallback for a symbol Tiingo
//! fails; Coinbase for crypto; the benchmark too), a kill -9 during the backfill loses
//! nothing, a restart days later (`SIGFLOW_CLOCK`) writes every outcome once with the
//! hand-computable values, an unknown symbol ends unscorable, and the API and CLI
//! serve outcomes and track records. Also: a backtest that is isolated and
//! reproducible. The calendar CLI and recorded answers: `markets_cli.rs`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use crate::mock_http::{MockServer, Resp};
use crate::util::*;

const HOLIDAYS_2026: [(u32, u32); 5] = [(1, 1), (5, 25), (6, 19), (7, 3), (9, 7)];

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn days(d: NaiveDate) -> i32 {
    (d - day("2026-01-01")).num_days() as i32
}

/// Price paths: every calendar day multiplies the close by `growth`.
fn close(base: f64, growth: f64, d: NaiveDate) -> f64 {
    base * growth.powi(days(d))
}

fn sessions(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| d.weekday().num_days_from_monday() < 5)
        .filter(|d| !HOLIDAYS_2026.contains(&(d.month(), d.day())))
        .collect()
}

fn param_date(v: Option<String>) -> NaiveDate {
    day(&v.unwrap_or_default()[..10])
}

struct Prices {
    server: MockServer,
    tiingo_calls: Arc<AtomicU32>,
    slow: Arc<AtomicBool>,
    paths: Arc<Mutex<Vec<String>>>,
}

fn price_server() -> Prices {
    let tiingo_calls = Arc::new(AtomicU32::new(0));
    let slow = Arc::new(AtomicBool::new(false));
    let paths = Arc::new(Mutex::new(Vec::new()));
    let (calls, sl, ps) = (tiingo_calls.clone(), slow.clone(), paths.clone());
    let server = MockServer::start(move |r| {
        ps.lock().unwrap().push(r.path().to_string());
        let path = r.path().to_string();
        if let Some(sym) = path
            .strip_prefix("/tiingo/daily/")
            .and_then(|p| p.strip_suffix("/prices"))
        {
            calls.fetch_add(1, Ordering::SeqCst);
            assert_eq!(r.header("authorization"), Some("Token tiingo-test-key"));
            if sl.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(700));
            }
            let (base, growth) = match sym {
                "AAPL" => (100.0, 1.01),
                "SPY" => (200.0, 1.005),
                "MSFT" => return Resp::json(503, r#"{"detail":"upstream timeout"}"#),
                // A login wall instead of data: nobody can answer for QQQQ.
                "QQQQ" => return Resp::json(200, "<!DOCTYPE html><html>sign in</html>"),
                _ => {
                    return Resp::json(
                        404,
                        format!(r#"{{"detail":"Error: Ticker '{sym}' not found"}}"#),
                    );
                }
            };
            let rows: Vec<Value> = sessions(param_date(r.query("startDate")), param_date(r.query("endDate")))
                .into_iter()
                .map(|d| {
                    let c = close(base, growth, d);
                    json!({"date": format!("{d}T00:00:00.000Z"), "open": c / 1.001, "high": c * 1.01, "low": c / 1.02,
                           "close": c, "volume": 1000, "adjOpen": c, "adjHigh": c, "adjLow": c, "adjClose": c,
                           "adjVolume": 1000, "divCash": 0.0, "splitFactor": 1.0})
                })
                .collect();
            return Resp::json(200, Value::Array(rows).to_string());
        }
        if let Some(sym) = path.strip_prefix("/v8/finance/chart/") {
            if sym == "QQQQ" {
                return Resp::json(
                    200,
                    r#"{"chart":{"result":[{"meta":{"dataGranularity":"1mo"},"timestamp":[]}],"error":null}}"#,
                );
            }
            if sym != "MSFT" {
                return Resp::json(
                    404,
                    r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#,
                );
            }
            let p1: i64 = r.query("period1").unwrap().parse().unwrap();
            let p2: i64 = r.query("period2").unwrap().parse().unwrap();
            let from = Utc.timestamp_opt(p1, 0).unwrap().date_naive();
            let to = Utc
                .timestamp_opt(p2, 0)
                .unwrap()
                .date_naive()
                .pred_opt()
                .unwrap();
            let ds = sessions(from, to);
            let ts: Vec<i64> = ds
                .iter()
                .map(|d| d.and_hms_opt(16, 0, 0).unwrap().and_utc().timestamp())
                .collect();
            let cl: Vec<f64> = ds.iter().map(|d| close(50.0, 0.99, *d)).collect();
            let op: Vec<f64> = cl.iter().map(|c| c * 1.001).collect();
            let body = json!({"chart": {"result": [{
                "meta": {"currency": "USD", "symbol": "MSFT", "exchangeTimezoneName": "America/New_York",
                         "timezone": "EDT", "gmtoffset": -14400, "dataGranularity": "1d"},
                "timestamp": ts,
                "indicators": {"quote": [{"open": op, "high": op, "low": cl, "close": cl, "volume": vec![1000; ds.len()]}],
                               "adjclose": [{"adjclose": cl}]}}], "error": null}});
            return Resp::json(200, body.to_string());
        }
        if path == "/0/public/OHLC" {
            // Kraken first for crypto: it does not know the pair here, Coinbase does.
            assert_eq!(r.query("pair").as_deref(), Some("XBTUSD"));
            return Resp::json(200, r#"{"error":["EQuery:Unknown asset pair"]}"#);
        }
        if path == "/products/BTC-USD/candles" {
            let from = param_date(r.query("start"));
            let to = param_date(r.query("end"));
            let mut rows: Vec<Value> = from
                .iter_days()
                .take_while(|d| *d <= to)
                .map(|d| {
                    let c = close(1000.0, 1.02, d);
                    json!([
                        d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp(),
                        c / 1.05,
                        c * 1.05,
                        c / 1.001,
                        c,
                        12.5
                    ])
                })
                .collect();
            rows.reverse();
            return Resp::json(200, Value::Array(rows).to_string());
        }
        Resp::json(404, r#"{"message":"NotFound"}"#)
    });
    Prices {
        server,
        tiingo_calls,
        slow,
        paths,
    }
}

const RULES: &str = r#"threshold = 1.0
[[rule]]
name = "alpha"
when = 'text.contains("alpha")'
score = 5.0
reason = "alpha news"
direction = "bullish"
assets = '["AAPL"]'

[[rule]]
name = "beta"
when = 'text.contains("beta")'
score = 5.0
reason = "beta news"
direction = "bearish"
assets = '["MSFT"]'

[[rule]]
name = "gamma"
when = 'text.contains("gamma")'
score = 5.0
reason = "gamma news"
direction = "bullish"
assets = '["ZZZZ"]'

[[rule]]
name = "delta"
when = 'text.contains("delta")'
score = 5.0
reason = "delta news"
direction = "bullish"
assets = '["BTC"]'

[[rule]]
name = "epsilon"
when = 'text.contains("epsilon")'
score = 5.0
reason = "epsilon news"
direction = "bullish"
assets = '["QQQQ"]'
"#;

fn config(dir: &TestDir, prices: &str, port: u16) -> std::path::PathBuf {
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let lines: String = ["alpha", "beta", "gamma", "delta", "epsilon"]
        .iter()
        .map(|w| format!("{}\n", json!({"id": w, "text": format!("{w} news today"), "platform": "newswire", "happened_at": "2026-06-01T14:00:00Z"})))
        .collect();
    std::fs::write(inbox.join("01.jsonl"), lines).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    source_config(
        dir,
        &format!(
            "[api]\nlisten = \"127.0.0.1:{port}\"\n[analyze]\nrules = \"{}\"\n\
             [markets]\npoll_secs = 1\nsettle_secs = 0\nbackfill_sessions = 5\n\
             [markets.providers]\nnyse = [\"tiingo\", \"yahoo\"]\ncrypto = [\"kraken\", \"coinbase\"]\n\
             [markets.provider.tiingo]\nbase_url = \"{prices}\"\nkey_env = \"TEST_TIINGO\"\nmax_rps = 100\n\
             [markets.provider.yahoo]\nbase_url = \"{prices}\"\nmax_rps = 100\n\
             [markets.provider.coinbase]\nbase_url = \"{prices}\"\nmax_rps = 100\n\
             [markets.provider.kraken]\nbase_url = \"{prices}\"\nmax_rps = 100\n\
             [[sources]]\nname = \"inbox\"\nkind = \"files\"\npath = \"{}\"\nformat = \"jsonl\"\nonce = true\n",
            rules.display(),
            inbox.display()
        ),
    )
}

fn start(cfg: &std::path::Path, clock: &str) -> Running {
    Running::spawn(
        sigflow()
            .args(["run", "--config"])
            .arg(cfg)
            .env("TEST_TIINGO", "tiingo-test-key")
            .env("SIGFLOW_CLOCK", clock),
    )
}

fn scalar(dir: &TestDir, sql: &str) -> i64 {
    count_while_starting(&dir.db(), sql)
}

#[test]
fn prices_outcomes_and_restarts_through_the_binary() {
    let p = price_server();
    let dir = TestDir::new("markets-e2e");
    let port = free_port();
    let cfg = config(&dir, &p.server.base, port);
    let base = format!("http://127.0.0.1:{port}");

    // Monday 2026-06-01 15:00 UTC, inside the session. Backfill requests are slow;
    // kill -9 while they are in flight, twice.
    p.slow.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        let before = p.tiingo_calls.load(Ordering::SeqCst);
        let run = start(&cfg, "2026-06-01T15:00:00Z");
        wait_until("a backfill request", Duration::from_secs(60), || {
            p.tiingo_calls.load(Ordering::SeqCst) > before
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(run);
    }
    p.slow.store(false, Ordering::SeqCst);
    assert_eq!(
        scalar(&dir, "SELECT COUNT(*) FROM predictions"),
        5,
        "sealed once, whatever the kills"
    );

    // Resumed: every needed asset tracked, backfilled to the last closed session.
    let run = start(&cfg, "2026-06-01T15:00:00Z");
    wait_until("the backfill", Duration::from_secs(60), || {
        scalar(
            &dir,
            "SELECT COUNT(*) FROM price_tracking WHERE data_through >= '2026-05-29'",
        ) >= 4
    });
    assert_eq!(
        scalar(&dir, "SELECT COUNT(*) FROM outcomes"),
        0,
        "nothing is final before the exits close"
    );
    let (_, ready) = get_json(&format!("{base}/readyz"));
    assert!(ready.to_string().contains("markets:prices"), "{ready}");
    drop(run);
    let backfilled = scalar(&dir, "SELECT COUNT(*) FROM price_bars WHERE asset = 'AAPL'");
    assert_eq!(
        backfilled, 5,
        "the 5 sessions before the entry (May 22-29; Memorial Day off); its own has not closed"
    );

    // Nine weeks later the refresh fetches the sessions since; kill -9 in the middle
    // of it (requests slow again), with some outcomes perhaps already written.
    p.slow.store(true, Ordering::SeqCst);
    let before = p.tiingo_calls.load(Ordering::SeqCst);
    let run = start(&cfg, "2026-08-03T12:00:00Z");
    wait_until("a refresh request", Duration::from_secs(60), || {
        p.tiingo_calls.load(Ordering::SeqCst) > before
    });
    std::thread::sleep(Duration::from_millis(900));
    drop(run);
    p.slow.store(false, Ordering::SeqCst);
    let early = outcome_rows(&dir);

    // Resumed: every outcome is final: 3 assets × 4 horizons, and ZZZZ (unknown to
    // every provider) unscorable at each horizon; those written before the kill kept.
    let run = start(&cfg, "2026-08-03T12:00:00Z");
    wait_until("16 outcomes", Duration::from_secs(90), || {
        scalar(&dir, "SELECT COUNT(*) FROM outcomes") >= 16
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(scalar(&dir, "SELECT COUNT(*) FROM outcomes"), 16);
    assert_eq!(
        scalar(
            &dir,
            "SELECT COUNT(*) FROM outcomes WHERE status = 'unscorable' AND asset = 'ZZZZ'"
        ),
        4
    );
    let after = outcome_rows(&dir);
    assert!(
        early.iter().all(|o| after.contains(o)),
        "an outcome written before the kill is unchanged"
    );
    check_api(&base);
    // QQQQ: every provider answers something that is not prices (a login page, monthly
    // bars): not "unknown", not "down". Asked again later and later, never hammered.
    let (tries, error, next_at): (i64, String, i64) = db(&dir.db())
        .query_row(
            "SELECT attempts, last_error, next_at FROM price_tracking WHERE asset = 'QQQQ'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(
        tries >= 1 && error.contains("HTML") && error.contains("daily"),
        "{tries} {error}"
    );
    let clock_now = chrono::DateTime::parse_from_rfc3339("2026-08-03T12:00:00Z")
        .unwrap()
        .timestamp_micros();
    assert!(
        next_at > clock_now + 25 * 60 * 1_000_000,
        "backed off: {next_at}"
    );
    let (_, ready) = get_json(&format!("{base}/readyz"));
    assert!(
        ready["degraded"].to_string().contains("markets:prices"),
        "{ready}"
    );
    drop(run);

    let snapshot = outcome_rows(&dir);
    // A restart later changes nothing already written.
    let run = start(&cfg, "2026-08-20T12:00:00Z");
    wait_until("a round", Duration::from_secs(30), || {
        http_get(&format!("{base}/readyz")).is_ok()
    });
    std::thread::sleep(Duration::from_millis(2500));
    drop(run);
    assert_eq!(outcome_rows(&dir), snapshot, "outcomes are written once");
    let conn = db(&dir.db());
    let e = conn.execute("UPDATE outcomes SET pnl = 0", []).unwrap_err();
    assert!(e.to_string().contains("never changed"), "{e}");
    assert!(conn.execute("DELETE FROM outcomes", []).is_err());
    let e = conn
        .execute("UPDATE price_bars SET close = 1 WHERE asset = 'AAPL'", [])
        .unwrap_err();
    assert!(e.to_string().contains("final price bar"), "{e}");
    // Bars: no gap from the backfill start to past the last exit.
    let aapl = scalar(
        &dir,
        "SELECT COUNT(*) FROM price_bars WHERE asset = 'AAPL' AND session BETWEEN '2026-05-22' AND '2026-07-14'",
    );
    assert_eq!(
        aapl as usize,
        sessions(day("2026-05-22"), day("2026-07-14")).len()
    );
    // Tracking stopped once nothing open needed the assets (QQQQ, never priced, is
    // still open, and so is the benchmark its outcomes will need).
    assert_eq!(
        scalar(
            &dir,
            "SELECT COUNT(*) FROM price_tracking WHERE state = 'active' AND asset NOT IN ('QQQQ', 'SPY')"
        ),
        0
    );
    assert!(
        p.paths
            .lock()
            .unwrap()
            .iter()
            .any(|x| x == "/0/public/OHLC"),
        "Kraken was asked first for BTC"
    );
    assert!(
        p.paths
            .lock()
            .unwrap()
            .iter()
            .any(|x| x == "/v8/finance/chart/MSFT"),
        "MSFT came from the fallback"
    );

    let out = run_ok(
        sigflow()
            .args([
                "track-record",
                "--by",
                "asset",
                "--horizon",
                "1",
                "--config",
            ])
            .arg(&cfg),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("AAPL") && text.contains("MSFT") && text.contains("BTC"),
        "{text}"
    );
    let out = run_ok(
        sigflow()
            .args(["outcomes", "list", "--asset", "aapl", "--json", "--config"])
            .arg(&cfg),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
}

fn outcome_rows(dir: &TestDir) -> Vec<(String, i64, String, i64)> {
    let conn = db(&dir.db());
    let mut st = conn
        .prepare("SELECT prediction_id, horizon, status, computed_at FROM outcomes ORDER BY 1, 2")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn near(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

fn check_api(base: &str) {
    let (s, page) = get_json(&format!("{base}/api/v1/outcomes?asset=AAPL&limit=10"));
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{page}");
    let by_h = |h: u64| items.iter().find(|o| o["horizon"] == h).unwrap().clone();
    // Sealed 2026-06-01 ~15:00 UTC, inside the session: entry at that day's close.
    let t1 = by_h(1);
    assert_eq!(t1["entry_session"], "2026-06-01");
    assert_eq!(t1["entry_point"], "close");
    assert_eq!(t1["entry_at"], "2026-06-01T20:00:00Z");
    assert!(
        near(&t1["entry_price"], close(100.0, 1.01, day("2026-06-01"))),
        "{t1}"
    );
    assert_eq!(t1["exit_session"], "2026-06-02");
    assert!(near(&t1["return"], 0.01), "{t1}");
    assert_eq!(t1["correct"], true);
    // $1,000 × 1 % − 2 × 5 bps.
    assert!(near(&t1["pnl"], 9.0), "{t1}");
    assert!(near(&t1["benchmark_return"], 0.005), "{t1}");
    assert!(near(&t1["excess"], 0.005), "{t1}");
    // T+7: seven sessions after June 1 is June 10 (nine calendar days).
    let t7 = by_h(7);
    assert_eq!(t7["exit_session"], "2026-06-10");
    assert!(near(&t7["return"], 1.01f64.powi(9) - 1.0), "{t7}");
    // T+30 skips Juneteenth and July 3.
    let t30 = by_h(30);
    let exit = sessions(day("2026-06-02"), day("2026-08-01"))[29];
    assert_eq!(t30["exit_session"], exit.to_string());

    // MSFT (bearish) from the Yahoo fallback: falls 1 % a day, a right call, a short's gain.
    let (_, m) = get_json(&format!("{base}/api/v1/outcomes?asset=MSFT&horizon=1"));
    let m = &m["items"][0];
    assert!(
        near(&m["return"], 0.99 - 1.0) && m["correct"] == true && near(&m["pnl"], 9.0),
        "{m}"
    );
    // BTC on UTC days: T+7 is June 8, from Coinbase, no benchmark.
    let (_, b) = get_json(&format!("{base}/api/v1/outcomes?asset=BTC&horizon=7"));
    let b = &b["items"][0];
    assert_eq!(b["market"], "crypto");
    assert_eq!(b["exit_session"], "2026-06-08");
    assert!(
        near(&b["return"], 1.02f64.powi(7) - 1.0) && b["benchmark_return"].is_null(),
        "{b}"
    );
    let (_, z) = get_json(&format!(
        "{base}/api/v1/outcomes?asset=ZZZZ&status=unscorable"
    ));
    assert_eq!(z["items"].as_array().unwrap().len(), 4, "{z}");

    // The prediction carries its outcomes.
    let id = t1["prediction_id"].as_str().unwrap();
    let (_, sig) = get_json(&format!("{base}/api/v1/signals/{id}"));
    assert_eq!(sig["outcomes"].as_array().unwrap().len(), 4, "{sig}");

    let (s, tr) = get_json(&format!("{base}/api/v1/track-record?by=rule&horizon=1"));
    assert_eq!(s, 200, "{tr}");
    let alpha = tr["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "alpha")
        .unwrap()
        .clone();
    assert_eq!(
        (alpha["n"].as_u64(), alpha["hits"].as_u64()),
        (Some(1), Some(1)),
        "{alpha}"
    );
    assert!(
        tr["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["key"] != "gamma"),
        "unscorable outcomes are not in track records"
    );
    // Bad parameters are problems, not guesses.
    for q in ["by=planet", "horizon=2", "namespace=%01", "since=yesterday"] {
        let (s, body) = get_json(&format!("{base}/api/v1/track-record?{q}"));
        assert_eq!(s, 400, "{q}: {body}");
    }
    let (s, _) = get_json(&format!("{base}/api/v1/outcomes?cursor=bm9wZQ"));
    assert_eq!(s, 400);
}

#[test]
fn a_backtest_is_isolated_and_reproducible() {
    let dir = TestDir::new("markets-backtest");
    demo_to_idle(&dir, &[]);
    let ledger = scalar(&dir, "SELECT COUNT(*) FROM predictions");
    let history = scalar(
        &dir,
        "SELECT COUNT(*) FROM outcomes WHERE namespace = 'demo-history'",
    );
    assert!(
        history > 500,
        "the demo ends with outcomes of its history: {history}"
    );
    // The candidate: the built-in rules with a lower threshold.
    let rules = dir.join("candidate.toml");
    let default = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/rules/default.toml"),
    )
    .unwrap();
    let lowered = regex_free_threshold(&default);
    std::fs::write(&rules, lowered).unwrap();
    let prices = dir.data().join("demo-prices");
    let run = || {
        let out = run_ok(
            sigflow()
                .args(["backtest", "--rules"])
                .arg(&rules)
                .args([
                    "--timing",
                    "published",
                    "--as-of",
                    "2026-12-01T00:00:00Z",
                    "--json",
                    "--data-dir",
                ])
                .arg(dir.data())
                .env("SIGFLOW__MARKETS__PROVIDERS__NYSE", r#"["csv"]"#)
                .env(
                    "SIGFLOW__MARKETS__PROVIDER__CSV__DIR",
                    prices.display().to_string(),
                ),
        );
        let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
        for k in ["elapsed_secs", "items_per_sec"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let first = run();
    assert_eq!(run(), first, "same inputs, same output");
    assert!(
        first["added"].as_u64().unwrap() > 0,
        "a lower threshold adds calls: {first}"
    );
    assert_eq!(first["removed"], 0, "{first}");
    assert!(first["candidate"]["predictions"].as_u64() > first["baseline"]["predictions"].as_u64());
    let t1 = first["candidate"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["horizon"] == 1)
        .unwrap()
        .clone();
    assert!(
        t1["n"].as_u64().unwrap() > 0 && t1["hit_rate_low"].as_f64() <= t1["hit_rate"].as_f64(),
        "{t1}"
    );
    assert_eq!(
        scalar(&dir, "SELECT COUNT(*) FROM predictions"),
        ledger,
        "the ledger is not touched"
    );
    assert!(
        scalar(
            &dir,
            "SELECT COUNT(*) FROM outcomes WHERE namespace = 'backtest'"
        ) > 0
    );
    let out = run_ok(
        sigflow()
            .args(["outcomes", "namespaces", "--data-dir"])
            .arg(dir.data()),
    );
    let ns = String::from_utf8_lossy(&out.stdout);
    assert!(
        ns.contains("backtest/baseline") && ns.contains("demo-history"),
        "{ns}"
    );
    // A bad rule file is refused with where the error is.
    std::fs::write(&rules, "threshold = 1\n[[rule]]\nname = \"x\"\nwhen = 'text.contains('\nscore = 1\nreason = \"r\"\n").unwrap();
    let out = sigflow()
        .args(["backtest", "--rules"])
        .arg(&rules)
        .args(["--data-dir"])
        .arg(dir.data())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("candidate.toml:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rule file with a lower `threshold` (the built-in one is 3.0).
fn regex_free_threshold(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("threshold = ") {
            Some(_) => "threshold = 1.5".to_string(),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
