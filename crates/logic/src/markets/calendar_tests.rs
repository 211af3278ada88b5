//! The calendar by hand on DST, holidays, early closes, overrides and entries, and
//! against an independent implementation for every weekday of 2010-2027.
use super::*;
use chrono::Timelike;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn regular_sessions_follow_daylight_saving() {
    let c = Calendar::bundled();
    let winter = c.session(Market::Nyse, d(2026, 1, 5)).unwrap().unwrap();
    assert_eq!(winter.open, utc("2026-01-05T14:30:00Z"));
    assert_eq!(winter.close, utc("2026-01-05T21:00:00Z"));
    let summer = c.session(Market::Nyse, d(2026, 7, 6)).unwrap().unwrap();
    assert_eq!(summer.open, utc("2026-07-06T13:30:00Z"));
    assert_eq!(summer.close, utc("2026-07-06T20:00:00Z"));
    // Before 2007 DST began on the first Sunday of April.
    let s = c.session(Market::Nyse, d(2005, 3, 28)).unwrap().unwrap();
    assert_eq!(s.open.hour(), 14);
}

#[test]
fn holidays_weekends_and_early_closes() {
    let c = Calendar::bundled();
    assert!(c.session(Market::Nyse, d(2026, 12, 25)).unwrap().is_none());
    assert!(
        c.session(Market::Nyse, d(2026, 12, 5)).unwrap().is_none(),
        "Saturday"
    );
    assert!(
        c.session(Market::Nyse, d(2025, 1, 9)).unwrap().is_none(),
        "Carter"
    );
    assert!(
        c.session(Market::Nyse, d(2021, 12, 31)).unwrap().is_some(),
        "Saturday New Year not observed"
    );
    let eve = c.session(Market::Nyse, d(2026, 12, 24)).unwrap().unwrap();
    assert!(eve.early_close);
    assert_eq!(eve.close, utc("2026-12-24T18:00:00Z"));
    assert_eq!(
        c.note(Market::Nyse, d(2026, 11, 26)),
        Some("Thanksgiving Day")
    );
}

#[test]
fn outside_the_table_is_an_error_not_a_guess() {
    let c = Calendar::bundled();
    let e = c.session(Market::Nyse, d(2028, 1, 3)).unwrap_err();
    assert_eq!(e.last, d(2027, 12, 31));
    assert!(c.session(Market::Crypto, d(2040, 1, 1)).unwrap().is_some());
}

#[test]
fn overrides_add_closures_and_early_closes() {
    let o = Overrides {
        closed: vec![d(2026, 12, 7)],
        early_close: vec![(d(2026, 12, 8), hm(12, 0))],
        covered_through: None,
    };
    let c = Calendar::new(&o).unwrap();
    assert!(c.session(Market::Nyse, d(2026, 12, 7)).unwrap().is_none());
    let s = c.session(Market::Nyse, d(2026, 12, 8)).unwrap().unwrap();
    assert_eq!(s.close, utc("2026-12-08T17:00:00Z"));
    assert_eq!(
        parse_override("2026-12-08 12:00").unwrap(),
        (d(2026, 12, 8), Some(hm(12, 0)))
    );
    assert!(parse_override("12/08/2026").is_err());
}

#[test]
fn entry_is_the_first_price_known_after_the_instant() {
    let c = Calendar::bundled();
    // Before the open: that day's open.
    let (s, p) = c
        .entry_after(Market::Nyse, utc("2026-12-01T12:00:00Z"))
        .unwrap();
    assert_eq!((s.date, p), (d(2026, 12, 1), Point::Open));
    // During the session: its close.
    let (s, p) = c
        .entry_after(Market::Nyse, utc("2026-12-01T15:00:00Z"))
        .unwrap();
    assert_eq!((s.date, p), (d(2026, 12, 1), Point::Close));
    // Exactly at the open: the open is not strictly after, so the close.
    let (_, p) = c
        .entry_after(Market::Nyse, utc("2026-12-01T14:30:00Z"))
        .unwrap();
    assert_eq!(p, Point::Close);
    // After the close (21:30 UTC = 16:30 ET): the next open.
    let (s, p) = c
        .entry_after(Market::Nyse, utc("2026-12-01T21:30:00Z"))
        .unwrap();
    assert_eq!((s.date, p), (d(2026, 12, 2), Point::Open));
    // Friday evening after the close, 01:00 UTC Saturday: Monday's open.
    let (s, p) = c
        .entry_after(Market::Nyse, utc("2026-12-05T01:00:00Z"))
        .unwrap();
    assert_eq!((s.date, p), (d(2026, 12, 7), Point::Open));
    // Crypto: inside the UTC day, its close.
    let (s, p) = c
        .entry_after(Market::Crypto, utc("2026-12-05T01:00:00Z"))
        .unwrap();
    assert_eq!((s.date, p), (d(2026, 12, 5), Point::Close));
}

#[test]
fn nth_session_skips_holidays() {
    let c = Calendar::bundled();
    // Wed 2026-12-23 + 1 = Thu 24th (early), + 2 = Mon 28th (Christmas Friday).
    assert_eq!(
        c.nth_session_after(Market::Nyse, d(2026, 12, 23), 2)
            .unwrap()
            .date,
        d(2026, 12, 28)
    );
    assert_eq!(
        c.last_closed(Market::Nyse, utc("2026-12-07T20:59:00Z"))
            .unwrap()
            .date,
        d(2026, 12, 4)
    );
}

/// Every weekday of 2010–2027 against an independent implementation (the
/// `exchange-hours` crate's own table, built from the operator's notices).
#[test]
fn every_weekday_2010_to_2027_matches_an_independent_calendar() {
    use exchange_hours::{Exchange, ExchangeCalendar, SessionKind};
    let ours = Calendar::bundled();
    let theirs = ExchangeCalendar::new(Exchange::Nyse);
    let mut day = d(2010, 1, 4);
    let mut checked = 0;
    let mut wrong = Vec::new();
    // Where the independent table is the one that is wrong, with the evidence.
    // 2018-12-05: NYSE closed for President George H. W. Bush's National Day of
    // Mourning (NYSE notice of 2018-12-01; pandas_market_calendars has it too);
    // exchange-hours 1.3.0's 2018 rows omit it.
    let known = [d(2018, 12, 5)];
    while day <= d(2027, 12, 31) {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            // Ask from 05:00 New York time for the regular session that contains or follows it.
            let probe = ny(day, hm(5, 0));
            let window = theirs
                .session_bounds_with(probe, SessionKind::Regular)
                .unwrap_or_else(|e| panic!("{day}: {e:?}"));
            let theirs_today =
                window.filter(|(o, _)| o.with_timezone(&New_York).date_naive() == day);
            let mine = ours
                .session(Market::Nyse, day)
                .unwrap()
                .map(|s| (s.open, s.close));
            if theirs_today != mine && !known.contains(&day) {
                wrong.push(format!("{day}: ours {mine:?}, theirs {theirs_today:?}"));
            }
            checked += 1;
        }
        day = day.succ_opt().unwrap();
    }
    assert!(checked > 4600, "{checked}");
    assert!(
        wrong.is_empty(),
        "{} days differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
