//! `sigflow markets calendar` ("is the market open on …", config overrides, refusal
//! outside the table, validation of the markets config) and `sigflow markets parse` on
//! recorded provider answers: ours always, the vendors' own when `../shared` is beside
//! the clone.

use serde_json::Value;

use crate::util::*;

#[test]
fn the_calendar_cli_answers_is_the_market_open() {
    let out = run_ok(sigflow().args([
        "markets",
        "calendar",
        "--from",
        "2026-11-25",
        "--to",
        "2026-11-30",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2026-11-26 Thu  closed: Thanksgiving Day"),
        "{text}"
    );
    assert!(
        text.contains("2026-11-27 Fri  open 14:30Z  close 18:00Z  early close"),
        "{text}"
    );
    assert!(text.contains("3 nyse sessions"), "{text}");
    let out = run_ok(sigflow().args([
        "markets",
        "calendar",
        "--from",
        "2026-07-03",
        "--to",
        "2026-07-03",
        "--json",
    ]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["open"].as_bool(), v["note"].as_str()),
        (Some(false), Some("Independence Day"))
    );
    let out = run_ok(sigflow().args([
        "markets",
        "calendar",
        "--market",
        "crypto",
        "--from",
        "2026-07-04",
        "--to",
        "2026-07-05",
    ]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 crypto sessions"));
    // An ad-hoc closure from config, without a release.
    let dir = TestDir::new("markets-cal");
    let cfg = source_config(&dir, "[markets.calendar]\nclosed = [\"2026-12-07\"]\n");
    let out = run_ok(
        sigflow()
            .args([
                "markets",
                "calendar",
                "--from",
                "2026-12-07",
                "--to",
                "2026-12-07",
                "--config",
            ])
            .arg(&cfg),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("closed: closure from config"));
    // Outside the table: an error, not a guess.
    let out = sigflow()
        .args([
            "markets",
            "calendar",
            "--from",
            "2028-01-03",
            "--to",
            "2028-01-04",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2027-12-31"));
    let bad = source_config(
        &dir,
        "[markets.calendar]\nearly_close = [\"2026-12-08\"]\n[markets.providers]\nnyse = [\"stooq\"]\n",
    );
    let out = sigflow()
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs a close time") && err.contains("unknown provider \"stooq\""),
        "{err}"
    );
}

/// Our recordings (always) and the vendors' own (when `../shared` is beside the clone).
#[test]
fn recorded_provider_answers_parse_or_fail_with_a_reason() {
    let ours = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/prices");
    let theirs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/prices");
    let sources =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/sources");
    // (dir, file, provider, status, bars expected; None = an error answer)
    let cases: &[(&std::path::Path, &str, &str, u16, Option<usize>)] = &[
        (&ours, "yahoo_chart_msft_split.json", "yahoo", 200, Some(7)),
        (&ours, "tiingo_prices_split.json", "tiingo", 200, Some(3)),
        (
            &ours,
            "coinbase_candles_btc_1d.json",
            "coinbase",
            200,
            Some(3),
        ),
        (&ours, "html_page.csv", "csv", 200, None),
        (&ours, "kraken_ohlc_xbtusd_1d.json", "kraken", 200, Some(3)),
        (&ours, "kraken_error_unknown_pair.json", "kraken", 200, None),
        (
            &ours,
            "alphavantage_daily_limit.json",
            "alphavantage",
            200,
            None,
        ),
        (
            &theirs,
            "yahoo_chart_aapl_1mo_1d_div.json",
            "yahoo",
            200,
            Some(22),
        ),
        (
            &theirs,
            "yahoo_chart_aapl_5y_1mo_div.json",
            "yahoo",
            200,
            None,
        ),
        (
            &theirs,
            "yahoo_chart_bad_symbol_404.json",
            "yahoo",
            404,
            None,
        ),
        (&theirs, "yahoo_crumb_429_body.txt", "yahoo", 429, None),
        (
            &theirs,
            "alphavantage_daily_adjusted_aapl_2021-05.json",
            "alphavantage",
            200,
            Some(0),
        ),
        (
            &theirs,
            "alphavantage_premium_outputsize_full.json",
            "alphavantage",
            200,
            None,
        ),
        (
            &theirs,
            "alphavantage_note_per_minute_legacy.json",
            "alphavantage",
            200,
            None,
        ),
        (
            &theirs,
            "alphavantage_error_invalid_call.json",
            "alphavantage",
            200,
            None,
        ),
        (
            &theirs,
            "polygon_massive_prev_aapl.json",
            "massive",
            200,
            Some(1),
        ),
        (
            &theirs,
            "coinbase_exchange_candles_btc_1h.json",
            "coinbase",
            200,
            Some(1),
        ),
        // Taken during a session: the last bar is the running day.
        (
            &sources,
            "yahoo_chart_aapl_5d_1d.json",
            "yahoo",
            200,
            Some(5),
        ),
        (
            &sources,
            "yahoo_chart_error_not_found.json",
            "yahoo",
            404,
            None,
        ),
        (
            &sources,
            "alphavantage_time_series_daily_ibm.json",
            "alphavantage",
            200,
            Some(8),
        ),
        (
            &sources,
            "alphavantage_rate_limit.json",
            "alphavantage",
            200,
            None,
        ),
        (&sources, "stooq_daily_aapl.csv", "csv", 200, Some(1)),
    ];
    if !theirs.is_dir() {
        eprintln!(
            "{} not found: the vendors' recordings are not checked",
            theirs.display()
        );
    }
    for (dir, file, provider, status, want) in cases {
        let path = dir.join(file);
        if !path.exists() {
            continue;
        }
        let out = sigflow()
            .args([
                "markets",
                "parse",
                "--provider",
                provider,
                "--status",
                &status.to_string(),
            ])
            .arg(&path)
            .output()
            .unwrap();
        let bars: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        match want {
            Some(n) if *n > 0 => {
                assert!(
                    out.status.success(),
                    "{file}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(bars.len(), *n, "{file}");
                assert!(bars.iter().all(|b| b["close"].as_f64().unwrap() > 0.0));
            }
            Some(_) => assert!(out.status.success() && !bars.is_empty(), "{file}"),
            None => {
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "{file}: an error answer is not bars"
                );
                assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());
            }
        }
    }
}
