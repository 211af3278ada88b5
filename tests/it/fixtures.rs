//! `sigflow parse` on every recorded real payload in `../shared/fixtures/sources/` of a
//! source sigflow supports: the right number of items, the fields that matter, and the
//! error bodies reported as problems (exit code 1), not as items.
//!
//! The recordings live beside the project (CI has them); on a clone without them this
//! test says so and checks nothing else — the same shapes are covered by our own
//! fixtures in the other tests.

use serde_json::Value;

use crate::util::*;

fn parse(format: &str, file: &std::path::Path) -> (i32, Vec<Value>, String) {
    let out = sigflow()
        .args(["parse", "--source", format])
        .arg(file)
        .output()
        .unwrap();
    let items = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{format}: bad JSON line {e}: {l}"))
        })
        .collect();
    (
        out.status.code().unwrap_or(-1),
        items,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_recorded_payload_of_a_supported_source_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/sources");
    if !dir.is_dir() {
        eprintln!("{} not found: recorded payloads not checked", dir.display());
        return;
    }
    // (file, format, items expected; None = the body is an error report)
    let cases: &[(&str, &str, Option<usize>)] = &[
        ("reddit_listing_new.json", "reddit", Some(2)),
        ("reddit_error_429.json", "reddit", None),
        ("truthsocial_status.json", "truthsocial", Some(1)),
        ("mastodon_status_docs_example.json", "mastodon", Some(1)),
        ("x_users_tweets_783214.json", "x", Some(2)),
        ("x_search_recent_query_tweepy.json", "x", Some(10)),
        ("x_error_429.json", "x", None),
        ("sec_latest_filings_atom.xml", "sec", Some(1)),
        (
            "sec_submissions_tsla_trimmed.json",
            "sec-submissions",
            Some(13),
        ),
        ("sec_form4_374water.xml", "sec-form4", Some(2)),
        (
            "house_stock_watcher_transactions_sample.json",
            "house-watcher",
            Some(3),
        ),
        (
            "senate_stock_watcher_all_transactions_sample.json",
            "senate-watcher",
            Some(8),
        ),
        (
            "senate_stock_watcher_daily_report.json",
            "senate-watcher",
            Some(1),
        ),
        ("house_clerk_fd_index_sample.xml", "house-clerk", Some(1)),
        ("fed_press_all.xml", "fed", Some(2)),
        ("fed_press_all.xml", "rss", Some(2)),
        (
            "nasdaq_calendar_earnings_2023-11-03.json",
            "nasdaq-earnings",
            Some(85),
        ),
        (
            "finnhub_calendar_earnings.json",
            "finnhub-earnings",
            Some(1),
        ),
        (
            "alphavantage_earnings_calendar.csv",
            "alphavantage-earnings",
            Some(2),
        ),
        (
            "alphavantage_rate_limit.json",
            "alphavantage-earnings",
            None,
        ),
    ];
    let mut by_file = std::collections::BTreeMap::new();
    for (file, format, expected) in cases {
        let (code, items, err) = parse(format, &dir.join(file));
        match expected {
            Some(n) => {
                assert_eq!(code, 0, "{file} as {format}: {err}");
                assert_eq!(items.len(), *n, "{file} as {format}: {err}");
                for it in &items {
                    assert!(
                        it["id"].is_string() && it["happened_at"].is_string(),
                        "{file}: {it}"
                    );
                    let words = format!(
                        "{}{}",
                        it["title"].as_str().unwrap_or(""),
                        it["text"].as_str().unwrap_or("")
                    );
                    assert!(!words.trim().is_empty(), "{file}: no title, no text {it}");
                }
            }
            None => {
                assert_eq!(code, 1, "{file}: an error body is a problem, not data");
                assert!(items.is_empty(), "{file}");
            }
        }
        by_file.insert((*file, *format), items);
    }

    // Field checks on the shapes with traps.
    let reddit = &by_file[&("reddit_listing_new.json", "reddit")];
    assert!(reddit.iter().all(|c| c["engagement"]["score"].is_i64()));
    let truth = &by_file[&("truthsocial_status.json", "truthsocial")][0];
    assert_eq!(truth["author"]["handle"], "realDonaldTrump");
    assert!(!truth["text"].as_str().unwrap().contains("<p>"));
    let form4 = &by_file[&("sec_form4_374water.xml", "sec-form4")][0];
    assert_eq!(form4["extras"]["insider_trade"]["symbol"], "SCWO");
    assert_eq!(form4["extras"]["insider_trade"]["transaction_code"], "A");
    assert_eq!(
        form4["extras"]["insider_trade"]["relationship"]["officer"],
        true
    );
    let house = &by_file[&(
        "house_stock_watcher_transactions_sample.json",
        "house-watcher",
    )][0];
    assert_eq!(house["happened_at"], "2021-09-27T00:00:00Z");
    assert_eq!(house["disclosed_at"], "2021-10-04T00:00:00Z");
    let daily = &by_file[&("senate_stock_watcher_daily_report.json", "senate-watcher")][0];
    assert_eq!(
        daily["cashtags"][0], "CRSP",
        "the ticker is an HTML anchor in daily reports"
    );
    let nasdaq = &by_file[&(
        "nasdaq_calendar_earnings_2023-11-03.json",
        "nasdaq-earnings",
    )];
    let enb = nasdaq.iter().find(|c| c["cashtags"][0] == "ENB").unwrap();
    assert_eq!(enb["extras"]["earnings"]["eps_actual"], 0.46);
    assert_eq!(enb["extras"]["earnings"]["report_date"], "2023-11-03");
    let tsla = &by_file[&("sec_submissions_tsla_trimmed.json", "sec-submissions")];
    assert!(tsla.iter().all(|c| c["cashtags"][0] == "TSLA"));
}
