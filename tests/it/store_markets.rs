//! The markets tables on every store backend, with the same cases: a final bar is never
//! changed (the upsert skips it, the database refuses an UPDATE); the tracking row's
//! life (need, fetched, failed, a need that grows backwards, done); an outcome is
//! inserted once and then refused any change, a live one any delete; a simulated
//! namespace is cleared whole; open calls and track rows read back what was written.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sigflow::analyze::ledger::{self, Prediction};
use sigflow::markets::Market;
use sigflow::markets::bars::Bar;
use sigflow::store::Store;
use sigflow::store::repos::outcomes::{self, By, OutcomeQuery, OutcomeRow};
use sigflow::store::repos::{predictions, price_bars, price_tracking};
use sigflow::store::sql::Mutation;
use uuid::Uuid;

use crate::conformance::{backends, rt};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn prediction(n: u128, asset: &str, direction: &str, rules: &[&str]) -> Prediction {
    let t: DateTime<Utc> = DateTime::from_timestamp(1_790_000_000 + n as i64, 0).unwrap();
    let content_id = Uuid::from_u128(n);
    Prediction {
        id: ledger::prediction_id(content_id, ledger::RULES, "v1", asset, false),
        content_id,
        source: "reddit".into(),
        author: format!("author{n}"),
        analyzer: ledger::RULES.into(),
        version: "v1".into(),
        asset: asset.into(),
        direction: direction.into(),
        confidence: 0.75,
        horizon_days: 3,
        shadow: false,
        score: 3.0,
        group: String::new(),
        rules: rules.iter().map(|r| r.to_string()).collect(),
        reasons: vec![],
        abstain_reason: None,
        fallback_reason: None,
        llm: None,
        happened_at: t,
        disclosed_at: None,
        observed_at: t,
        sealed_at: t,
    }
}

fn row(ns: &str, id: &str, horizon: u32, correct: bool, rules: &str) -> OutcomeRow {
    OutcomeRow {
        namespace: ns.into(),
        prediction_id: id.into(),
        horizon,
        status: "scored".into(),
        asset: "AAPL".into(),
        market: "nyse".into(),
        direction: "bullish".into(),
        confidence: 0.75,
        source: "reddit".into(),
        author: "a".into(),
        analyzer: "rules".into(),
        version: "v1".into(),
        rules: rules.into(),
        knowable_at_us: 1,
        ret: Some(if correct { 0.02 } else { -0.01 }),
        signed_return: Some(if correct { 0.02 } else { -0.01 }),
        correct: Some(correct),
        pnl: Some(if correct { 19.0 } else { -11.0 }),
        params: "{}".into(),
        computed_at_us: 7,
        ..OutcomeRow::default()
    }
}

async fn suite(store: Arc<dyn Store>) -> Result<(), String> {
    let e = |e: sigflow::store::StoreError| e.to_string();
    let db = store.sql();

    // Bars: a live bar is refreshed; a final one is kept as it was.
    let mut bar = Bar::ohlc(d("2026-06-01"), 10.0, 11.0, 9.0, 10.5, 100.0);
    bar.is_final = false;
    db.execute(price_bars::upsert(
        "AAPL",
        Market::Nyse,
        std::slice::from_ref(&bar),
        "t",
        1,
    ))
    .await
    .map_err(e)?;
    bar.close = 10.7;
    bar.is_final = true;
    db.execute(price_bars::upsert(
        "AAPL",
        Market::Nyse,
        std::slice::from_ref(&bar),
        "t",
        2,
    ))
    .await
    .map_err(e)?;
    bar.close = 99.0;
    bar.split = 4.0;
    db.execute(price_bars::upsert(
        "AAPL",
        Market::Nyse,
        std::slice::from_ref(&bar),
        "t",
        3,
    ))
    .await
    .map_err(e)?;
    let got = price_bars::range(db, "AAPL", d("2026-05-01"), d("2026-06-30"))
        .await
        .map_err(e)?;
    if got.len() != 1 || got[0].close != 10.7 || got[0].split != 1.0 || !got[0].is_final {
        return Err(format!("a final bar changed: {got:?}"));
    }
    if db
        .execute_one(Mutation::new("UPDATE price_bars SET close = 1", vec![]))
        .await
        .is_ok()
    {
        return Err("UPDATE of a final bar was accepted".into());
    }

    // Tracking: new rows are due now; a fetch moves data_through forward only.
    db.execute(vec![price_tracking::need(
        "AAPL",
        "nyse",
        d("2026-05-20"),
        d("2026-07-15"),
        100,
    )])
    .await
    .map_err(e)?;
    db.execute(vec![price_tracking::fetched(
        "AAPL",
        Some(d("2026-06-01")),
        "tiingo",
        None,
        500,
        200,
    )])
    .await
    .map_err(e)?;
    db.execute(vec![price_tracking::fetched(
        "AAPL",
        Some(d("2026-05-29")),
        "tiingo",
        None,
        600,
        300,
    )])
    .await
    .map_err(e)?;
    db.execute(vec![price_tracking::fetched(
        "AAPL",
        None,
        "",
        Some("waiting"),
        700,
        400,
    )])
    .await
    .map_err(e)?;
    let t = price_tracking::get(db, "AAPL")
        .await
        .map_err(e)?
        .ok_or("no tracking row")?;
    if t.data_through != Some(d("2026-06-01")) || t.next_at_us != 700 || t.state != "active" {
        return Err(format!("tracking after fetches: {t:?}"));
    }
    db.execute(vec![price_tracking::failed("AAPL", "down", 900, 800)])
        .await
        .map_err(e)?;
    db.execute(vec![price_tracking::failed("AAPL", "down", 1000, 900)])
        .await
        .map_err(e)?;
    let t = price_tracking::get(db, "AAPL").await.map_err(e)?.unwrap();
    if t.attempts != 2 || t.last_error.as_deref() != Some("down") {
        return Err(format!("tracking after failures: {t:?}"));
    }
    // A need that reaches further back is due at once and refetched from its start.
    db.execute(vec![price_tracking::need(
        "AAPL",
        "nyse",
        d("2026-05-01"),
        d("2026-07-15"),
        1100,
    )])
    .await
    .map_err(e)?;
    let t = price_tracking::get(db, "AAPL").await.map_err(e)?.unwrap();
    if t.need_from != d("2026-05-01") || t.data_through.is_some() || t.next_at_us != 1100 {
        return Err(format!("tracking after a wider need: {t:?}"));
    }
    db.execute(vec![price_tracking::done("AAPL", 1200)])
        .await
        .map_err(e)?;
    if price_tracking::get(db, "AAPL")
        .await
        .map_err(e)?
        .unwrap()
        .state
        != "done"
    {
        return Err("done".into());
    }

    // Open calls: sealed predictions without their four outcomes.
    let (p1, p2) = (
        prediction(1, "AAPL", "bullish", &["alpha", "beta"]),
        prediction(2, "MSFT", "bearish", &["beta"]),
    );
    let abstain = prediction(3, "", "abstain", &[]);
    let seal: Vec<Mutation> = [&p1, &p2, &abstain]
        .iter()
        .flat_map(|p| predictions::seal(p, "c0"))
        .collect();
    db.execute(seal).await.map_err(e)?;
    let (id1, id2) = (p1.id.to_string(), p2.id.to_string());
    let mut first = row("live", &id1, 1, true, "|alpha|beta|");
    db.execute(vec![outcomes::insert(&first)])
        .await
        .map_err(e)?;
    first.pnl = Some(-500.0);
    db.execute(vec![outcomes::insert(&first)])
        .await
        .map_err(e)?;
    let open = outcomes::open_calls(db, "live", 4).await.map_err(e)?;
    let ids: Vec<(&str, &Vec<u32>, &str)> = open
        .iter()
        .map(|c| (c.id.as_str(), &c.done, c.author.as_str()))
        .collect();
    if open.len() != 2 || !ids.contains(&(id1.as_str(), &vec![1], "author1")) {
        return Err(format!("open calls: {ids:?}"));
    }
    let got = outcomes::of_prediction(db, "live", &id1).await.map_err(e)?;
    if got.len() != 1 || got[0].pnl != Some(19.0) {
        return Err(format!("the second insert changed the outcome: {got:?}"));
    }
    for sql in [
        "UPDATE outcomes SET pnl = 0",
        "DELETE FROM outcomes WHERE namespace = 'live'",
    ] {
        if db.execute_one(Mutation::new(sql, vec![])).await.is_ok() {
            return Err(format!("{sql} was accepted"));
        }
    }
    for h in [3, 7, 30] {
        db.execute(vec![outcomes::insert(&row(
            "live",
            &id1,
            h,
            h != 30,
            "|alpha|beta|",
        ))])
        .await
        .map_err(e)?;
    }
    if outcomes::open_calls(db, "live", 4).await.map_err(e)?.len() != 1 {
        return Err("a prediction with four outcomes is still open".into());
    }

    // Track rows: a prediction of two rules counts under each; unscorable ones not at all.
    let mut un = row("live", &id2, 1, false, "|beta|");
    un.status = "unscorable".into();
    un.correct = None;
    db.execute(vec![outcomes::insert(&un)]).await.map_err(e)?;
    let rows = outcomes::track_rows(db, "live", By::Rule, None, false, None, None)
        .await
        .map_err(e)?;
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    if rows.len() != 8 || keys.iter().filter(|k| **k == "beta").count() != 4 {
        return Err(format!("track rows by rule: {keys:?}"));
    }
    let page = outcomes::list(
        db,
        &OutcomeQuery {
            namespace: "live".into(),
            limit: 3,
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    let next = outcomes::list(
        db,
        &OutcomeQuery {
            namespace: "live".into(),
            limit: 10,
            before: page
                .last()
                .map(|o| (o.computed_at_us, o.prediction_id.clone(), o.horizon)),
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    if page.len() != 3 || next.len() != 2 {
        return Err(format!("pages of 3 then {}", next.len()));
    }

    // A simulated namespace: its own predictions, cleared whole; live is untouched.
    db.execute(vec![
        outcomes::insert_sim("bt", &p2),
        outcomes::insert(&row("bt", &id2, 1, true, "|beta|")),
    ])
    .await
    .map_err(e)?;
    if outcomes::open_calls(db, "bt", 4).await.map_err(e)?.len() != 1 {
        return Err("sim open calls".into());
    }
    db.execute(outcomes::delete_namespace("bt"))
        .await
        .map_err(e)?;
    let left = outcomes::namespaces(db).await.map_err(e)?;
    if left != vec![("live".to_string(), 5)] {
        return Err(format!("namespaces after clearing bt: {left:?}"));
    }
    if db.execute(outcomes::delete_namespace("live")).await.is_ok() {
        return Err("clearing `live` was accepted".into());
    }
    Ok(())
}

#[test]
fn markets_tables_on_every_store() {
    for b in backends() {
        rt().block_on(suite(b.store.clone()))
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
    }
    #[cfg(feature = "postgres")]
    {
        let (pg, rt) = (crate::servers::Postgres::start(), rt());
        rt.block_on(suite(pg.migrated_store(&rt)))
            .unwrap_or_else(|e| panic!("postgres: {e}"));
    }
}
