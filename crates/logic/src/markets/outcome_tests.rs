//! Hand-computed cases. Prices are round so each expected value can be checked by eye.
use super::*;

fn d(m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, day).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Bars on every NYSE session from `from`; open = close − 1, close = 100 + index.
fn nyse_bars(from: NaiveDate, to: NaiveDate) -> Vec<Bar> {
    Calendar::bundled()
        .sessions(Market::Nyse, from, to)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let c = 100.0 + i as f64;
            Bar::ohlc(s.date, c - 1.0, c + 1.0, c - 2.0, c, 1e6)
        })
        .collect()
}

fn call(dir: Direction, at: &str) -> Call {
    Call {
        direction: dir,
        knowable_at: utc(at),
        market: Market::Nyse,
    }
}

fn prices(bars: &[Bar]) -> Prices<'_> {
    Prices {
        bars,
        data_through: bars.last().map(|b| b.session),
    }
}

fn final_of(v: Verdict) -> Outcome {
    match v {
        Verdict::Final(o) => *o,
        other => panic!("not final: {other:?}"),
    }
}

const LATER: &str = "2027-03-01T00:00:00Z";

fn run(c: &Call, h: u32, bars: &[Bar]) -> Outcome {
    let cal = Calendar::bundled();
    final_of(
        score(
            &cal,
            c,
            h,
            prices(bars),
            None,
            utc(LATER),
            &Params::default(),
        )
        .unwrap(),
    )
}

#[test]
fn a_post_after_the_close_enters_at_the_next_open() {
    // Tue 2026-12-01 21:30 UTC = 16:30 ET, after the close. Bars from Mon 11-30:
    // index 0 = 11-30 (close 100), 1 = 12-01 (101), 2 = 12-02 (open 101, close 102).
    let bars = nyse_bars(d(11, 30), d(12, 31));
    let o = run(&call(Direction::Bullish, "2026-12-01T21:30:00Z"), 1, &bars);
    assert_eq!(o.entry_session, d(12, 2));
    assert_eq!(o.entry_point, "open");
    assert_eq!(o.entry_price, 101.0);
    assert_eq!(o.entry_at, utc("2026-12-02T14:30:00Z"));
    // T+1 = Thu 12-03, close 103.
    assert_eq!((o.exit_session, o.exit_price), (d(12, 3), 103.0));
    assert!((o.ret - 2.0 / 101.0).abs() < 1e-12);
    assert!(o.correct);
    // $1,000 × 1.980 % − 2 × 5 bps × $1,000 = 19.80 − 1.00.
    assert!((o.pnl - (1000.0 * 2.0 / 101.0 - 1.0)).abs() < 1e-9);
}

#[test]
fn a_post_before_the_open_enters_at_that_days_open() {
    let bars = nyse_bars(d(11, 30), d(12, 31));
    // 12:00 UTC = 07:00 ET on Wed 12-02: its open (101).
    let o = run(&call(Direction::Bearish, "2026-12-02T12:00:00Z"), 3, &bars);
    assert_eq!(
        (o.entry_session, o.entry_point.as_str(), o.entry_price),
        (d(12, 2), "open", 101.0)
    );
    // T+3 = Mon 12-07 (index 5, close 105): +3.96 %, a wrong bearish call, a short's loss.
    assert_eq!((o.exit_session, o.exit_price), (d(12, 7), 105.0));
    assert!(!o.correct);
    assert!((o.signed_return + 4.0 / 101.0).abs() < 1e-12);
    assert!((o.pnl - (-1000.0 * 4.0 / 101.0 - 1.0)).abs() < 1e-9);
}

#[test]
fn a_post_during_the_session_enters_at_its_close() {
    let bars = nyse_bars(d(11, 30), d(12, 31));
    let o = run(&call(Direction::Neutral, "2026-12-02T15:00:00Z"), 1, &bars);
    assert_eq!((o.entry_point.as_str(), o.entry_price), ("close", 102.0));
    // 103 / 102 − 1 = 0.98 % > 0.5 %: a wrong neutral call; neutral holds no position.
    assert!(!o.correct);
    assert_eq!(o.pnl, 0.0);
    assert_eq!(o.signed_return, 0.0);
}

#[test]
fn a_weekend_post_enters_at_mondays_open() {
    let bars = nyse_bars(d(11, 30), d(12, 31));
    let o = run(&call(Direction::Bullish, "2026-12-05T18:00:00Z"), 1, &bars);
    assert_eq!(
        (o.entry_session, o.entry_point.as_str()),
        (d(12, 7), "open")
    );
    assert_eq!(o.exit_session, d(12, 8));
}

#[test]
fn an_early_close_is_known_at_1300_and_holidays_are_skipped() {
    let bars = nyse_bars(d(12, 1), d(12, 31));
    // Thu 12-24 closes at 13:00 ET (18:00 UTC). A post at 18:30 UTC is after it:
    // the next session is Mon 12-28 (Friday is Christmas).
    let o = run(&call(Direction::Bullish, "2026-12-24T18:30:00Z"), 1, &bars);
    assert_eq!(
        (o.entry_session, o.entry_point.as_str()),
        (d(12, 28), "open")
    );
    assert_eq!(o.exit_session, d(12, 29));
    // A post at 17:30 UTC is inside the short session: its close, known at 18:00 UTC.
    let o = run(&call(Direction::Bullish, "2026-12-24T17:30:00Z"), 1, &bars);
    assert_eq!(o.entry_at, utc("2026-12-24T18:00:00Z"));
    assert_eq!(o.exit_session, d(12, 28));
}

#[test]
fn a_split_between_entry_and_exit_does_not_look_like_a_crash() {
    let mut bars = nyse_bars(d(12, 1), d(12, 31));
    // A 4-for-1 split effective at the open of 12-04: raw prices from then on are /4.
    for b in bars.iter_mut().filter(|b| b.session >= d(12, 4)) {
        for p in [&mut b.open, &mut b.high, &mut b.low, &mut b.close] {
            *p /= 4.0;
        }
    }
    bars.iter_mut()
        .find(|b| b.session == d(12, 4))
        .unwrap()
        .split = 4.0;
    // Entry: close of 12-02 (101). T+3 = 12-07 close = 104 / 4 = 26 raw.
    let o = run(&call(Direction::Bullish, "2026-12-02T15:00:00Z"), 3, &bars);
    assert_eq!(
        (o.entry_price, o.exit_price, o.split_factor),
        (101.0, 26.0, 4.0)
    );
    assert!((o.ret - 3.0 / 101.0).abs() < 1e-12);
    assert!(o.correct);
}

#[test]
fn a_delisted_symbol_exits_at_its_last_close_once_the_grace_passed() {
    // Trading stops after 12-09; T+7 from a 12-02 close entry is 12-11.
    let bars = nyse_bars(d(12, 1), d(12, 9));
    let cal = Calendar::bundled();
    let c = call(Direction::Bearish, "2026-12-02T15:00:00Z");
    // Asked only through 12-11: it may still come.
    let early = Prices {
        bars: &bars,
        data_through: Some(d(12, 11)),
    };
    let v = score(&cal, &c, 7, early, None, utc(LATER), &Params::default()).unwrap();
    assert!(matches!(v, Verdict::Pending { .. }), "{v:?}");
    // Asked through 12-21 (5 sessions after the exit): delisted, last close 12-09 = 106.
    let late = Prices {
        bars: &bars,
        data_through: Some(d(12, 21)),
    };
    let o = final_of(score(&cal, &c, 7, late, None, utc(LATER), &Params::default()).unwrap());
    assert_eq!(o.status, Status::Delisted);
    assert_eq!((o.exit_session, o.exit_price), (d(12, 9), 106.0));
    // No price at all after the entry: unscorable.
    let none = Prices {
        bars: &[],
        data_through: Some(d(12, 31)),
    };
    let v = score(&cal, &c, 7, none, None, utc(LATER), &Params::default()).unwrap();
    assert!(matches!(v, Verdict::Unscorable(_)), "{v:?}");
}

#[test]
fn a_crypto_asset_counts_utc_days() {
    let cal = Calendar::bundled();
    let bars: Vec<Bar> = (0..40)
        .map(|i| {
            let s = d(11, 1) + chrono::Days::new(i);
            let c = 1000.0 + 10.0 * i as f64;
            Bar::ohlc(s, c - 5.0, c + 5.0, c - 10.0, c, 1.0)
        })
        .collect();
    let c = Call {
        direction: Direction::Bullish,
        knowable_at: utc("2026-11-07T23:59:00Z"),
        market: Market::Crypto,
    };
    // Saturday 11-07 is a session; entry its close (1060), T+7 = Saturday 11-14 (1130).
    let o = final_of(
        score(
            &cal,
            &c,
            7,
            prices(&bars),
            None,
            utc(LATER),
            &Params::default(),
        )
        .unwrap(),
    );
    assert_eq!((o.entry_session, o.entry_price), (d(11, 7), 1060.0));
    assert_eq!((o.exit_session, o.exit_price), (d(11, 14), 1130.0));
}

#[test]
fn nothing_is_final_before_the_exit_close_or_with_a_live_bar() {
    let cal = Calendar::bundled();
    let mut bars = nyse_bars(d(11, 30), d(12, 3));
    let c = call(Direction::Bullish, "2026-12-01T21:30:00Z");
    // 12-03 20:59 UTC: the exit session is still open.
    let v = score(
        &cal,
        &c,
        1,
        prices(&bars),
        None,
        utc("2026-12-03T20:59:00Z"),
        &Params::default(),
    );
    assert!(matches!(v.unwrap(), Verdict::Pending { .. }));
    bars.last_mut().unwrap().is_final = false;
    let v = score(
        &cal,
        &c,
        1,
        prices(&bars),
        None,
        utc("2026-12-03T21:30:00Z"),
        &Params::default(),
    );
    assert!(matches!(v.unwrap(), Verdict::Pending { .. }));
}

#[test]
fn excess_return_is_the_call_against_the_same_call_on_the_benchmark() {
    let cal = Calendar::bundled();
    let bars = nyse_bars(d(11, 30), d(12, 31));
    let spy: Vec<Bar> = bars
        .iter()
        .map(|b| Bar {
            open: 500.0,
            close: 505.0,
            ..b.clone()
        })
        .collect();
    let c = call(Direction::Bearish, "2026-12-01T21:30:00Z");
    let v = score(
        &cal,
        &c,
        1,
        prices(&bars),
        Some(prices(&spy)),
        utc(LATER),
        &Params::default(),
    );
    let o = final_of(v.unwrap());
    // Asset +1.980 %, SPY open→close +1 %: the short lost 0.980 % more than shorting SPY.
    assert!((o.benchmark_return.unwrap() - 0.01).abs() < 1e-12);
    assert!((o.excess.unwrap() + (2.0 / 101.0 - 0.01)).abs() < 1e-12);
}
