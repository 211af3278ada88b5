//! Every provider's parser on answers in the real shapes (our own recordings in
//! `tests/data/prices/`, written after the vendors' payloads), and the chain's
//! fallback, breaker and finality with scripted providers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use sigflow_logic::markets::Calendar;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../../tests/data/prices/", $name)).as_slice()
    };
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn yahoo_bars_become_traded_prices_with_the_days_events() {
    let bars = yahoo::parse(200, fixture!("yahoo_chart_msft_split.json")).unwrap();
    // 8 timestamps, one null bar (06-05) dropped.
    assert_eq!(bars.len(), 7);
    assert_eq!(bars[0].session, d(2026, 6, 3));
    assert!(bars.iter().all(|b| b.session != d(2026, 6, 5)));
    // Before the 2-for-1 split of 06-10 the traded price was twice the adjusted one.
    assert_eq!(bars[0].close, 500.0);
    let split_day = bars.iter().find(|b| b.session == d(2026, 6, 10)).unwrap();
    assert_eq!((split_day.split, split_day.close), (2.0, 254.0));
    // The dividend is filed on its ex-date (06-08), not on the map key's bar (06-03).
    let ex = bars.iter().find(|b| b.session == d(2026, 6, 8)).unwrap();
    assert_eq!(ex.dividend, 0.83);
    assert_eq!(bars[0].dividend, 0.0);
}

#[test]
fn yahoo_failures_have_reasons() {
    assert!(
        matches!(yahoo::parse(404, fixture!("yahoo_chart_unknown_404.json")), Err(PriceError::NotFound(m)) if m.contains("delisted"))
    );
    let e = yahoo::parse(429, fixture!("yahoo_429.txt")).unwrap_err();
    assert!(
        e.retryable() && e.to_string().contains("non-browser"),
        "{e}"
    );
    assert!(matches!(
        yahoo::parse(200, fixture!("yahoo_chart_monthly.json")),
        Err(PriceError::Unavailable(_))
    ));
    assert!(matches!(
        yahoo::parse(200, fixture!("html_page.csv")),
        Err(PriceError::Unavailable(_))
    ));
    assert!(matches!(
        yahoo::parse(503, b"<html>down</html>"),
        Err(PriceError::Transient(_))
    ));
    assert_eq!(yahoo::symbol("BRK.B", Market::Nyse), "BRK-B");
    assert_eq!(yahoo::symbol("BTC", Market::Crypto), "BTC-USD");
}

#[test]
fn alphavantage_reads_strings_newest_first_and_its_200_errors() {
    let bars = alphavantage::parse(200, fixture!("alphavantage_daily_ibm.json")).unwrap();
    assert_eq!(bars.len(), 5);
    assert!(bars.windows(2).all(|w| w[0].session < w[1].session));
    assert_eq!((bars[4].session, bars[4].close), (d(2026, 11, 30), 180.0));
    let adj = alphavantage::parse(200, fixture!("alphavantage_daily_adjusted_split.json")).unwrap();
    assert_eq!((adj[0].close, adj[0].dividend), (522.0, 0.24));
    assert_eq!(adj[1].split, 4.0);
    let limit = alphavantage::parse(200, fixture!("alphavantage_daily_limit.json")).unwrap_err();
    assert!(
        matches!(&limit, PriceError::Throttled { wait, .. } if wait.as_secs() >= 3600),
        "{limit:?}"
    );
    assert!(matches!(
        alphavantage::parse(200, fixture!("alphavantage_premium.json")),
        Err(PriceError::Unavailable(_))
    ));
    assert!(matches!(
        alphavantage::parse(200, fixture!("alphavantage_note.json")),
        Err(PriceError::Throttled { .. })
    ));
    assert!(matches!(
        alphavantage::parse(200, fixture!("alphavantage_error.json")),
        Err(PriceError::NotFound(_))
    ));
}

#[test]
fn tiingo_massive_coinbase_and_csv() {
    let t = tiingo::parse(200, fixture!("tiingo_prices_split.json")).unwrap();
    assert_eq!((t[0].close, t[2].close, t[2].split), (300.0, 101.0, 3.0));
    assert!(matches!(
        tiingo::parse(404, fixture!("tiingo_not_found.json")),
        Err(PriceError::NotFound(_))
    ));
    assert!(matches!(
        tiingo::parse(401, b"{\"detail\":\"Invalid token.\"}"),
        Err(PriceError::Config(_))
    ));

    let m = massive::parse_aggs(200, fixture!("massive_aggs_aapl.json"), Market::Nyse).unwrap();
    assert_eq!(
        (m[0].session, m[0].open, m[1].close),
        (d(2026, 12, 1), 189.0, 191.5)
    );
    assert_eq!(
        massive::parse_splits(200, fixture!("massive_splits.json")).unwrap(),
        vec![(d(2026, 12, 2), 10.0)]
    );
    assert!(
        massive::parse_aggs(200, fixture!("massive_aggs_empty.json"), Market::Nyse)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        massive::parse_aggs(403, fixture!("massive_not_authorized.json"), Market::Nyse),
        Err(PriceError::Config(_))
    ));

    let c = coinbase::parse(200, fixture!("coinbase_candles_btc_1d.json")).unwrap();
    assert_eq!(c.len(), 3);
    // [time, low, high, open, close, volume]: open is the 4th field.
    assert_eq!(
        (c[0].session, c[0].low, c[0].high, c[0].open, c[0].close),
        (d(2026, 11, 1), 89800.0, 91800.5, 90300.25, 90800.75)
    );
    assert!(matches!(
        coinbase::parse(404, fixture!("coinbase_not_found.json")),
        Err(PriceError::NotFound(_))
    ));
    assert_eq!(coinbase::product("ETH"), "ETH-USD");

    // Kraken: string prices, the series under Kraken's own pair name, errors in 200s.
    let k = kraken::parse(200, fixture!("kraken_ohlc_xbtusd_1d.json")).unwrap();
    assert_eq!(k.len(), 3);
    assert_eq!(
        (k[0].session, k[0].open, k[0].high, k[0].low, k[0].close),
        (d(2026, 11, 1), 90000.0, 91500.0, 89200.0, 90500.0)
    );
    assert!(matches!(
        kraken::parse(200, fixture!("kraken_error_unknown_pair.json")),
        Err(PriceError::NotFound(_))
    ));
    assert!(matches!(
        kraken::parse(200, fixture!("kraken_error_rate_limit.json")),
        Err(PriceError::Throttled { .. })
    ));
    assert_eq!(
        (
            kraken::pair("BTC"),
            kraken::pair("DOGE"),
            kraken::pair("ETH-USD")
        ),
        ("XBTUSD".into(), "XDGUSD".into(), "ETHUSD".into())
    );

    let s = csv_dir::parse(fixture!("stooq_style.csv")).unwrap();
    assert_eq!((s.len(), s[1].close), (2, 101.5));
    let y = csv_dir::parse(fixture!("yfinance_export.csv")).unwrap();
    // The null row is dropped; "Stock Splits" 0 means none; Close (not Adj Close) is kept.
    assert_eq!(y.len(), 2);
    assert_eq!((y[0].split, y[0].close, y[1].split), (1.0, 412.0, 4.0));
    assert!(
        matches!(csv_dir::parse(fixture!("html_page.csv")), Err(PriceError::Unavailable(m)) if m.contains("HTML"))
    );
}

/// A provider that answers from a script and counts its calls.
struct Scripted {
    name: &'static str,
    answer: fn(u32) -> Result<Vec<Bar>, PriceError>,
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl PriceProvider for Scripted {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn daily(
        &self,
        _: &str,
        _: Market,
        _: NaiveDate,
        _: NaiveDate,
    ) -> Result<Vec<Bar>, PriceError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        (self.answer)(n)
    }
}

fn chain(
    a: fn(u32) -> Result<Vec<Bar>, PriceError>,
    b: fn(u32) -> Result<Vec<Bar>, PriceError>,
) -> (PriceChain, Arc<AtomicU32>, Arc<AtomicU32>) {
    let (ca, cb) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let providers: Vec<Box<dyn PriceProvider>> = vec![
        Box::new(Scripted {
            name: "a",
            answer: a,
            calls: ca.clone(),
        }),
        Box::new(Scripted {
            name: "b",
            answer: b,
            calls: cb.clone(),
        }),
    ];
    let order = BTreeMap::from([(Market::Nyse, vec!["a".to_string(), "b".to_string()])]);
    let c = PriceChain::new(
        providers,
        &order,
        Arc::new(Calendar::bundled()),
        Duration::from_secs(900),
    )
    .unwrap();
    (c, ca, cb)
}

fn two_bars(_: u32) -> Result<Vec<Bar>, PriceError> {
    Ok(vec![
        Bar::ohlc(
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            1.0,
            2.0,
            0.5,
            1.5,
            1.0,
        ),
        Bar::ohlc(
            NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
            1.0,
            2.0,
            0.5,
            1.5,
            1.0,
        ),
    ])
}

fn utc(s: &str) -> DateTime<chrono::Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

use chrono::DateTime;

#[tokio::test]
async fn the_chain_falls_back_pauses_a_throttled_provider_and_marks_live_bars() {
    let (c, ca, cb) = chain(
        |_| {
            Err(PriceError::Throttled {
                message: "429".into(),
                wait: Duration::from_secs(600),
            })
        },
        two_bars,
    );
    // 2026-12-02 20:05 UTC: the 12-02 session closed at 21:00 UTC; it is still live.
    let f = c
        .fetch(
            "AAPL",
            Market::Nyse,
            d(2026, 12, 1),
            d(2026, 12, 2),
            utc("2026-12-02T20:05:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(f.provider, "b");
    assert!(f.bars[0].is_final && !f.bars[1].is_final);
    // 21:05 is within the settling delay; 21:20 is past it.
    assert!(!c.is_final(Market::Nyse, d(2026, 12, 2), utc("2026-12-02T21:05:00Z")));
    assert!(c.is_final(Market::Nyse, d(2026, 12, 2), utc("2026-12-02T21:20:00Z")));
    // The throttled provider is skipped while its pause lasts.
    c.fetch(
        "AAPL",
        Market::Nyse,
        d(2026, 12, 1),
        d(2026, 12, 2),
        utc("2026-12-03T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(
        (ca.load(Ordering::SeqCst), cb.load(Ordering::SeqCst)),
        (1, 2)
    );
}

#[tokio::test]
async fn unknown_everywhere_is_an_answer_and_down_everywhere_is_a_retry() {
    let (c, _, _) = chain(|_| Err(PriceError::NotFound("a".into())), |_| Ok(vec![]));
    let f = c
        .fetch(
            "GONE",
            Market::Nyse,
            d(2026, 12, 1),
            d(2026, 12, 2),
            utc("2026-12-03T00:00:00Z"),
        )
        .await
        .unwrap();
    assert!(f.bars.is_empty() && f.skipped.len() == 2);
    let (c, ca, _) = chain(
        |_| Err(PriceError::Transient("down".into())),
        |_| Err(PriceError::Transient("down".into())),
    );
    for _ in 0..3 {
        let e = c
            .fetch(
                "X",
                Market::Nyse,
                d(2026, 12, 1),
                d(2026, 12, 2),
                utc("2026-12-03T00:00:00Z"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.errors.len(), 2);
    }
    // After three failures in a row the breaker opens: the provider is not called.
    let e = c
        .fetch(
            "X",
            Market::Nyse,
            d(2026, 12, 1),
            d(2026, 12, 2),
            utc("2026-12-03T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(ca.load(Ordering::SeqCst), 3);
    assert!(e.errors[0].contains("skipped"), "{:?}", e.errors);
    assert!(e.retry_in >= Duration::from_secs(50), "{:?}", e.retry_in);
}

#[tokio::test]
async fn a_key_in_the_url_never_shows_in_an_error() {
    let s = ProviderSettings {
        base_url: "http://127.0.0.1:9".into(),
        key: None,
        dir: None,
        max_rps: 100.0,
        timeout: Duration::from_secs(2),
        user_agent: "test".into(),
    };
    let t = Transport::new("alphavantage", &s).unwrap();
    // Loopback is refused by the outbound guard (no allowlist in this process).
    for url in [
        "http://127.0.0.1:9/query?function=TIME_SERIES_DAILY&apikey=SECRET123",
        "http://127.0.0.1:9/v2/aggs?adjusted=false&apiKey=SECRET123",
        "http://127.0.0.1:9/tiingo/daily/X/prices?token=SECRET123",
    ] {
        let e = t.get(url, &[]).await.err().expect("refused");
        assert!(!e.to_string().contains("SECRET123"), "{e}");
        assert!(!e.retryable(), "a refused address is configuration: {e}");
    }
}
