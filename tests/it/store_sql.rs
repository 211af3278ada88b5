//! The store's generic path, on every store backend with the same cases: a repository's
//! [`Mutation`] committed with a batch (`Write::Sql`) — all or nothing, including when
//! the mutation is the part that fails —, forward-only offsets on the commit path
//! (replay's `set_offsets` still overwrites), repositories round-tripping their rows
//! through both drivers, and decoding errors that say what is wrong.

use std::sync::Arc;

use sigflow::store::repos::{self, source_defs};
use sigflow::store::sql::{Mutation, SqlValue};
use sigflow::store::{Commit, DeadLetter, OffsetCommit, SourceDef, SourceState, Store, Write};

use crate::conformance::{backends, rt};

fn def(name: &str, state: SourceState) -> SourceDef {
    SourceDef {
        name: name.into(),
        state,
        kind: Some("rss".into()),
        options: Some(serde_json::json!({"url": "https://example.com/feed", "n": 3})),
        quarantine: None,
        updated_at: chrono::DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap(),
    }
}

fn offsets(next: u64) -> Vec<OffsetCommit> {
    vec![OffsetCommit {
        partition: 0,
        next_offset: next,
    }]
}

async fn suite(store: Arc<dyn Store>) -> Result<(), String> {
    let e = |e: sigflow::store::StoreError| e.to_string();
    let db = store.sql();

    // A repository's mutation rides in a batch's commit, with its offsets.
    let a = def("a-feed", SourceState::Active);
    store
        .commit(Commit {
            group: Some(("g".into(), "in".into())),
            offsets: offsets(5),
            writes: vec![Write::Sql(source_defs::put_mutation(&a))],
            ..Default::default()
        })
        .await
        .map_err(e)?;
    assert_eq!(source_defs::list(db).await.map_err(e)?, vec![a.clone()]);

    // All or nothing when the generic write is what fails: a state the table's CHECK
    // refuses leaves neither the row nor the offsets nor the dead letter.
    let mut bad = def("b-feed", SourceState::Paused);
    bad.quarantine = Some("x".into());
    let mut refused = source_defs::put_mutation(&bad);
    refused.params[1] = SqlValue::Text("bogus".into());
    let letter = DeadLetter {
        id: DeadLetter::make_id("g", "in", "0/1", None),
        stage: "g".into(),
        topic: "in".into(),
        partition: 0,
        offset: 1,
        item_index: None,
        key: None,
        payload: b"{}".to_vec(),
        detail: None,
        error: "e".into(),
        error_class: "poison".into(),
    };
    let failed = store
        .commit(Commit {
            group: Some(("g".into(), "in".into())),
            offsets: offsets(9),
            writes: vec![
                Write::Sql(source_defs::put_mutation(&def(
                    "c-feed",
                    SourceState::Active,
                ))),
                Write::Sql(refused),
            ],
            dead_letters: vec![letter],
            ..Default::default()
        })
        .await;
    assert!(failed.is_err(), "the CHECK constraint refuses the state");
    assert_eq!(store.offsets("g", "in").await.map_err(e)?, offsets(5));
    assert_eq!(source_defs::list(db).await.map_err(e)?, vec![a.clone()]);
    assert_eq!(repos::counts(db).await.map_err(e)?.dlq, 0);

    // Upsert through the same mutation; NULLs round-trip; rows come back in order.
    let mut a2 = a.clone();
    a2.state = SourceState::Paused;
    a2.options = None;
    a2.quarantine = Some("drift: 3 payloads".into());
    source_defs::put(db, &bad).await.map_err(e)?;
    source_defs::put(db, &a2).await.map_err(e)?;
    assert_eq!(source_defs::list(db).await.map_err(e)?, vec![a2, bad]);

    // Offsets only move forward on the commit path (a worker that lost its partition
    // and commits late cannot move the new owner back); replay's set_offsets overwrites.
    store
        .commit(Commit {
            group: Some(("g".into(), "in".into())),
            offsets: offsets(3),
            ..Default::default()
        })
        .await
        .map_err(e)?;
    assert_eq!(
        store.offsets("g", "in").await.map_err(e)?,
        offsets(5),
        "forward only"
    );
    store.set_offsets("g", "in", &offsets(2)).await.map_err(e)?;
    assert_eq!(store.offsets("g", "in").await.map_err(e)?, offsets(2));

    // Several mutations outside a commit: one transaction, all or nothing.
    let n = db
        .execute(vec![
            Mutation::new(
                "UPDATE source_defs SET quarantine = $1 WHERE name = $2",
                sigflow::sql_params![None::<String>, "a-feed"],
            ),
            Mutation::new(
                "UPDATE source_defs SET state = $1 WHERE name = $2",
                sigflow::sql_params!["nope", "b-feed"],
            ),
        ])
        .await;
    assert!(n.is_err());
    let quarantined: Vec<String> = db
        .query_as(
            "SELECT name FROM source_defs WHERE quarantine IS NOT NULL ORDER BY name",
            vec![],
        )
        .await
        .map_err(e)?;
    assert_eq!(
        quarantined,
        vec!["a-feed", "b-feed"],
        "the first UPDATE was rolled back"
    );

    // Harvests of one item inside one batch fold exactly as one by one: the latest
    // harvest wins, the earliest observation is kept — whatever the batching.
    let harvest = |id: &str, text: &str, hour: i64, key: &str| {
        let mut c = crate::conformance::item(id, text, 1);
        c.observed_at = chrono::DateTime::from_timestamp(1_790_000_000 + hour * 3600, 0).unwrap();
        c.lake_key = format!("reddit/raw/2026/11/01/{key}.json");
        Write::content(c)
    };
    let commit = |writes: Vec<Write>| Commit {
        writes,
        ..Default::default()
    };
    let id_of = |id: &str| sigflow::model::content_id("reddit", id).to_string();
    // A stored row, then a batch with an older harvest (loses) and a newer one (wins).
    store
        .commit(commit(vec![harvest("h", "second", 2, "k2")]))
        .await
        .map_err(e)?;
    store
        .commit(commit(vec![
            harvest("h", "first", 1, "k1"),
            harvest("h", "third", 3, "k3"),
        ]))
        .await
        .map_err(e)?;
    let h = repos::contents::get(db, &id_of("h"))
        .await
        .map_err(e)?
        .ok_or("h stored")?;
    assert_eq!(
        h.text, "third",
        "a newer harvest after a losing one still wins"
    );
    assert_eq!(
        h.observed_at.timestamp(),
        1_790_000_000 + 3600,
        "earliest observation"
    );
    // A new item whose batch holds a newer harvest first, then an older one.
    store
        .commit(commit(vec![
            harvest("n", "newer", 5, "k5"),
            harvest("n", "older", 4, "k4"),
        ]))
        .await
        .map_err(e)?;
    let n = repos::contents::get(db, &id_of("n"))
        .await
        .map_err(e)?
        .ok_or("n stored")?;
    assert_eq!(
        (n.text.as_str(), n.observed_at.timestamp()),
        ("newer", 1_790_000_000 + 4 * 3600)
    );

    // The side-effect journal: a call is made once per key; a failed call is not
    // journalled (so it is made again); pruning forgets.
    use repos::effects::{self, OnceError};
    let calls = std::sync::atomic::AtomicU32::new(0);
    let call = |ok: bool| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if ok {
                Ok(b"answer".to_vec())
            } else {
                Err("503")
            }
        }
    };
    let first = effects::once(db, "t", "k1", || call(false)).await;
    assert!(matches!(first, Err(OnceError::Call("503"))));
    let second = effects::once(db, "t", "k1", || call(true))
        .await
        .map_err(|_| "once")?;
    assert!(second.performed && second.result == b"answer");
    let third = effects::once(db, "t", "k1", || call(true))
        .await
        .map_err(|_| "once")?;
    assert!(
        !third.performed && third.result == b"answer",
        "journalled: no call"
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    let far = sigflow::model::now_micros() + 3_600_000_000;
    assert_eq!(
        db.execute_one(effects::prune_mutation(far))
            .await
            .map_err(e)?,
        1
    );
    assert!(effects::get(db, "t", "k1").await.map_err(e)?.is_none());

    // A dedup revision: the stored row and document take the state's verdict, in the
    // same way in both dialects (JSON functions differ; the statement is written twice).
    let mut item = sigflow::enrich::text_item("Late original, later duplicate");
    item.id = sigflow::model::content_id("t", "revised");
    // A source's own fields may hold anything, our key names included: left alone.
    item.extras.insert(
        "enrichments".into(),
        serde_json::json!({"dedup": {"kind": {"nested": "}"}, "first_id": "x"}}),
    );
    item.enrichments.insert(
        "dedup".into(),
        serde_json::json!({"kind": "unique", "first_id": item.id}),
    );
    let at = item.happened_at.timestamp_millis();
    store
        .commit(Commit {
            writes: vec![Write::content(item.clone())],
            ..Default::default()
        })
        .await
        .map_err(e)?;
    let first = sigflow::model::content_id("t", "original").to_string();
    db.execute_one(sigflow::store::sql::Mutation::new(
        "INSERT INTO dedup_fingerprints
           (seen_at, content_id, exact_hash, features, first_id, kind, similarity, first_at, revised)
         VALUES ($1, $2, 7, $3, $4, 'near', 0.71234, $5, '')",
        sigflow::sql_params![at, item.id.to_string(), Vec::<u8>::new(), first.clone(), at - 1],
    ))
    .await
    .map_err(e)?;
    let sync = repos::contents::sync_dedup(&item.id.to_string(), at);
    store
        .commit(Commit {
            writes: vec![Write::Sql(sync.clone()), Write::Sql(sync)],
            ..Default::default()
        })
        .await
        .map_err(e)?;
    let rows = db
        .query(
            "SELECT duplicate, doc FROM contents WHERE id = $1",
            sigflow::sql_params![item.id.to_string()],
        )
        .await
        .map_err(e)?;
    // Byte for byte what the enricher writes for that verdict: a replay of the item
    // then finds its document unchanged and writes nothing.
    let mut expected = item.clone();
    expected.enrichments.insert(
        "dedup".into(),
        serde_json::json!({"kind": "near", "first_id": first, "similarity": 0.712}),
    );
    let expected = serde_json::to_string(&expected).map_err(|x| x.to_string())?;
    let doc = rows[0].text(1).map_err(e)?;
    if rows[0].i64(0).map_err(e)? != 1 || doc != expected {
        return Err(format!("sync_dedup:\n{doc}\nexpected\n{expected}"));
    }

    // A row that is not what its decoder expects is an error that says so.
    let wrong = db
        .query_as::<i64>("SELECT name FROM source_defs", vec![])
        .await;
    let msg = wrong.expect_err("text is not an integer").to_string();
    assert!(msg.contains("expected an integer"), "{msg}");
    Ok(())
}

#[test]
fn generic_writes_repositories_and_forward_offsets_on_every_store() {
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
