//! The sealed ledger on every store backend, with the same cases: predictions sealed
//! through a commit's `Write::Sql` chain per partition; sealing the same id again adds
//! nothing; a new version supersedes the old row; the database itself refuses UPDATE,
//! DELETE (and on PostgreSQL TRUNCATE); an edit made behind its back (triggers
//! dropped) is found by `verify`; two writers sealing on one chain concurrently still
//! make one unbroken chain.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sigflow::analyze::ledger::{self, Prediction};
use sigflow::store::repos::predictions;
use sigflow::store::sql::Mutation;
use sigflow::store::{Commit, Store, Write};
use uuid::Uuid;

use crate::conformance::{backends, rt};

fn prediction(content: u128, version: &str, asset: &str) -> Prediction {
    let t: DateTime<Utc> = DateTime::from_timestamp(1_790_000_000 + content as i64, 0).unwrap();
    let content_id = Uuid::from_u128(content);
    Prediction {
        id: ledger::prediction_id(content_id, ledger::RULES, version, asset, false),
        content_id,
        source: "truthsocial".into(),
        author: "someone".into(),
        analyzer: ledger::RULES.into(),
        version: version.into(),
        asset: asset.into(),
        direction: "bullish".into(),
        confidence: 0.4667,
        horizon_days: 3,
        shadow: false,
        score: 3.5,
        group: "president".into(),
        rules: vec!["a".into(), "b".into()],
        reasons: vec!["because | of \"this\"".into()],
        abstain_reason: None,
        fallback_reason: None,
        llm: None,
        happened_at: t,
        disclosed_at: Some(t + chrono::Duration::days(45)),
        observed_at: t,
        sealed_at: t + chrono::Duration::seconds(1),
    }
}

async fn seal(store: &dyn Store, ps: &[Prediction], chain: &str) -> Result<(), String> {
    let writes = ps
        .iter()
        .flat_map(|p| predictions::seal(p, chain))
        .map(Write::Sql)
        .collect();
    store
        .commit(Commit {
            writes,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())
}

async fn verify(store: &dyn Store) -> ledger::Report {
    ledger::verify(predictions::chain_rows(store.sql()).await.unwrap())
}

async fn raw(store: &dyn Store, sql: &str) -> Result<u64, String> {
    store
        .sql()
        .execute_one(Mutation::new(sql.to_string(), vec![]))
        .await
        .map_err(|e| e.to_string())
}

async fn suite(store: Arc<dyn Store>, postgres: bool) -> Result<(), String> {
    let s = store.as_ref();
    let first: Vec<Prediction> = (1..=5).map(|n| prediction(n, "v1", "AAPL")).collect();
    seal(s, &first[..3], "p0").await?;
    seal(s, &first[3..], "p1").await?;
    // The same ids again (a replay): nothing new.
    seal(s, &first, "p0").await?;
    let r = verify(s).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!((r.rows, r.chains), (5, 2));

    // A new version of the rules: a new row that names the one it supersedes.
    let v2 = prediction(1, "v2", "AAPL");
    seal(s, std::slice::from_ref(&v2), "p0").await?;
    let got = predictions::get(s.sql(), &v2.id.to_string())
        .await
        .map_err(|e| e.to_string())?
        .unwrap();
    assert_eq!(
        got.supersedes.as_deref(),
        Some(first[0].id.to_string().as_str())
    );
    assert_eq!(got.prediction, v2, "the body reads back exactly");
    assert_eq!((got.chain.as_str(), got.seq), ("p0", 4));
    assert_eq!(
        predictions::superseded_by(s.sql(), &first[0].id.to_string())
            .await
            .unwrap(),
        vec![v2.id.to_string()]
    );
    let page = predictions::list(
        s.sql(),
        &predictions::SignalQuery {
            asset: Some("AAPL".into()),
            rule: Some("b".into()),
            min_confidence: Some(0.4),
            limit: 3,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    assert_eq!(page.len(), 3);
    let wildcard = predictions::SignalQuery {
        rule: Some("%".into()),
        limit: 10,
        ..Default::default()
    };
    assert!(
        predictions::list(s.sql(), &wildcard)
            .await
            .map_err(|e| e.to_string())?
            .is_empty(),
        "a rule name is matched literally"
    );
    assert!(
        page.windows(2)
            .all(|w| w[0].prediction.sealed_at >= w[1].prediction.sealed_at)
    );

    // The database refuses changes, whoever asks.
    for sql in [
        "UPDATE predictions SET direction = 'bearish'",
        "DELETE FROM predictions",
    ] {
        let e = raw(s, sql).await.expect_err(sql);
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    if postgres {
        let e = raw(s, "TRUNCATE predictions").await.expect_err("truncate");
        assert!(e.contains("append-only"), "{e}");
    }
    assert!(verify(s).await.ok());

    // Behind its back (triggers off): an edit and a deletion are found.
    if postgres {
        raw(s, "ALTER TABLE predictions DISABLE TRIGGER USER").await?;
    } else {
        raw(s, "DROP TRIGGER predictions_no_update").await?;
        raw(s, "DROP TRIGGER predictions_no_delete").await?;
    }
    let edited = first[1].id.to_string();
    raw(s, &format!("UPDATE predictions SET body = REPLACE(body, 'bullish', 'bearish'), direction = 'bearish' WHERE id = '{edited}'")).await?;
    let r = verify(s).await;
    assert!(
        r.problems
            .iter()
            .any(|p| p.id == edited && p.kind == "changed"),
        "{r:?}"
    );
    raw(
        s,
        &format!("DELETE FROM predictions WHERE id = '{}'", first[2].id),
    )
    .await?;
    let r = verify(s).await;
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == "missing" && p.chain == "p0"),
        "{r:?}"
    );
    Ok(())
}

#[test]
fn the_ledger_chains_refuses_changes_and_finds_edits_on_every_store() {
    for b in backends() {
        rt().block_on(suite(b.store.clone(), false))
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
    }
    #[cfg(feature = "postgres")]
    {
        let (pg, rt) = (crate::servers::Postgres::start(), rt());
        let store = pg.migrated_store(&rt);
        rt.block_on(async {
            suite(store.clone(), true).await?;
            // Two writers on one chain at once: one unbroken chain, nothing lost.
            let (a, b) = (store.clone(), store.clone());
            let one = tokio::spawn(async move {
                for n in 100..120 {
                    seal(a.as_ref(), &[prediction(n, "c", "MSFT")], "p9")
                        .await
                        .unwrap();
                }
            });
            let two = tokio::spawn(async move {
                for n in 200..220 {
                    seal(b.as_ref(), &[prediction(n, "c", "MSFT")], "p9")
                        .await
                        .unwrap();
                }
            });
            one.await.unwrap();
            two.await.unwrap();
            let rows = predictions::chain_rows(store.sql()).await.unwrap();
            let p9: Vec<_> = rows.into_iter().filter(|r| r.chain == "p9").collect();
            assert_eq!(p9.len(), 40);
            let r = ledger::verify(p9);
            assert!(r.ok(), "{r:?}");
            Ok::<_, String>(())
        })
        .unwrap_or_else(|e| panic!("postgres: {e}"));
    }
}
