//! The EnrichState conformance suite (dedup, observations, mentions), run against every
//! backend: in-memory and SQLite. Then the properties only a store can have: dedup
//! survives a restart, and two workers (two connections to one database, each on its
//! own thread) racing on the same texts agree on exactly one first occurrence.

use chrono::{DateTime, Duration, Utc};
use sigflow::enrich::EnrichState;
use sigflow::enrich::dedup::fingerprint;
use sigflow::enrich::state::{DupKind, Observation};
use sigflow::model::content_id;

use crate::util::TestDir;

fn sqlite(dir: &TestDir) -> sigflow::enrich::SharedState {
    let opened = sigflow::store::open(
        &format!("sqlite://{}", dir.join("s.db").display()),
        &Default::default(),
    )
    .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(opened.store.migrate())
        .unwrap();
    opened.state
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T14:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn fp(id: &str, text: &str, at: DateTime<Utc>) -> sigflow::enrich::state::Fingerprint {
    let mut item = sigflow::enrich::text_item(text);
    item.id = content_id("t", id);
    item.happened_at = at;
    fingerprint(&item).unwrap()
}

const HEADLINE: &str = "Tesla recalls 2 million vehicles over autopilot concerns, regulators say";

fn suite(s: &dyn EnrichState) -> Result<(), String> {
    let w = Duration::days(14);
    let first = s
        .dedup(&fp("a", HEADLINE, t0()), w, 0.6)
        .map(|r| r.verdict)
        .map_err(|e| e.message)?;
    if first.kind != DupKind::Unique || first.first_id != content_id("t", "a") {
        return Err(format!("first occurrence: {first:?}"));
    }
    let exact = s
        .dedup(
            &fp("b", &HEADLINE.to_uppercase(), t0() + Duration::hours(1)),
            w,
            0.7,
        )
        .map(|r| r.verdict)
        .map_err(|e| e.message)?;
    if exact.kind != DupKind::Exact || exact.first_id != content_id("t", "a") {
        return Err(format!("exact duplicate: {exact:?}"));
    }
    let near_text =
        "BREAKING: Tesla recalls 2 million cars over autopilot concerns, regulators say";
    let near = s
        .dedup(&fp("c", near_text, t0() + Duration::hours(2)), w, 0.6)
        .map(|r| r.verdict)
        .map_err(|e| e.message)?;
    if near.kind != DupKind::Near || near.first_id != content_id("t", "a") || near.similarity < 0.6
    {
        return Err(format!("near duplicate: {near:?}"));
    }
    let other = s
        .dedup(
            &fp(
                "d",
                "Apple unveils a new iPhone with a faster chip and a better camera",
                t0(),
            ),
            w,
            0.7,
        )
        .map(|r| r.verdict)
        .map_err(|e| e.message)?;
    if other.kind != DupKind::Unique {
        return Err(format!("unrelated text: {other:?}"));
    }
    // Outside the window, the same text is new again.
    let late = s
        .dedup(&fp("e", HEADLINE, t0() + Duration::days(20)), w, 0.6)
        .map(|r| r.verdict)
        .map_err(|e| e.message)?;
    if late.kind != DupKind::Unique {
        return Err(format!("outside the window: {late:?}"));
    }
    // Idempotent: asking again for an item gives its answer (as revised since, if an
    // item it repeats arrived after it; none did here).
    let again = s
        .dedup(
            &fp("b", &HEADLINE.to_uppercase(), t0() + Duration::hours(1)),
            w,
            0.6,
        )
        .map(|r| r.verdict)
        .map_err(|e| e.message)?;
    if again != exact {
        return Err(format!(
            "replay changed the verdict: {again:?} vs {exact:?}"
        ));
    }

    // Order does not matter: an item that arrives after a later one it repeats becomes
    // that one's original (and says so), the later one now links to it.
    let story =
        "Senate passes the stablecoin bill after months of negotiation, sending it to the House";
    let late = s
        .dedup(&fp("s2", story, t0() + Duration::hours(5)), w, 0.6)
        .map_err(|e| e.message)?;
    let early = s
        .dedup(&fp("s1", story, t0() + Duration::hours(4)), w, 0.6)
        .map_err(|e| e.message)?;
    let s2 = content_id("t", "s2");
    if late.verdict.kind != DupKind::Unique
        || early.verdict.kind != DupKind::Unique
        || early.revised.iter().map(|r| r.0).collect::<Vec<_>>() != vec![s2]
    {
        return Err(format!("late original: {late:?} then {early:?}"));
    }
    let now = s
        .dedup(&fp("s2", story, t0() + Duration::hours(5)), w, 0.6)
        .map_err(|e| e.message)?;
    if now.verdict.kind != DupKind::Exact || now.verdict.first_id != content_id("t", "s1") {
        return Err(format!("revised verdict: {now:?}"));
    }
    let replay = s
        .dedup(&fp("s1", story, t0() + Duration::hours(4)), w, 0.6)
        .map_err(|e| e.message)?;
    if replay != early {
        return Err(format!("replayed revision: {replay:?} vs {early:?}"));
    }
    // Different tickers are different news, even word for word the same otherwise.
    let mut x = sigflow::enrich::text_item(
        "$AAPL $MSFT both red today, tech getting hit hard across the board",
    );
    x.id = content_id("t", "tk1");
    x.happened_at = t0();
    x.tickers = vec!["AAPL".into(), "MSFT".into()];
    let mut y = sigflow::enrich::text_item(
        "$GOOGL $AMZN both red today, tech getting hit hard across the board",
    );
    y.id = content_id("t", "tk2");
    y.happened_at = t0() + Duration::minutes(1);
    y.tickers = vec!["AMZN".into(), "GOOGL".into()];
    s.dedup(&fingerprint(&x).unwrap(), w, 0.5)
        .map_err(|e| e.message)?;
    let other = s
        .dedup(&fingerprint(&y).unwrap(), w, 0.5)
        .map_err(|e| e.message)?;
    if other.verdict.kind != DupKind::Unique {
        return Err(format!("different tickers linked: {other:?}"));
    }

    let id = content_id("t", "post");
    let o = |secs: i64, score: i64| Observation {
        content_id: id,
        at: t0() + Duration::seconds(secs),
        score: Some(score),
        comments: Some(score / 10),
    };
    if s.observe(&o(0, 45)).map_err(|e| e.message)?.is_some() {
        return Err("first observation has a predecessor".into());
    }
    let prev = s.observe(&o(300, 1200)).map_err(|e| e.message)?;
    if prev != Some(o(0, 45)) {
        return Err(format!("previous observation: {prev:?}"));
    }
    // An observation that arrives late (out of time order) sees what was before it...
    if s.observe(&o(150, 600)).map_err(|e| e.message)? != Some(o(0, 45)) {
        return Err("late observation".into());
    }
    // ...and a replay of the second one still sees the first, as when it was recorded.
    if s.observe(&o(300, 1200)).map_err(|e| e.message)? != Some(o(0, 45)) {
        return Err("replayed observation".into());
    }

    let tickers = vec!["GME".to_string()];
    for i in 0..6 {
        s.mentions(
            content_id("m", &i.to_string()),
            &tickers,
            t0() - Duration::hours(i + 1),
            24,
        )
        .map_err(|e| e.message)?;
    }
    for i in 0..4 {
        let st = s
            .mentions(content_id("now", &i.to_string()), &tickers, t0(), 24)
            .map_err(|e| e.message)?;
        if st[0].this_hour != i as u32 + 1 {
            return Err(format!("mentions this hour: {st:?}"));
        }
    }
    // The same item mentioned again (a replay) counts once and reads back its stats.
    let st = s
        .mentions(content_id("now", "0"), &tickers, t0(), 24)
        .map_err(|e| e.message)?;
    if st[0].this_hour != 1 || (st[0].mean - 6.0 / 24.0).abs() > 1e-9 {
        return Err(format!("mention baseline: {st:?}"));
    }
    let st = s
        .mentions(content_id("now", "4"), &tickers, t0(), 24)
        .map_err(|e| e.message)?;
    if st[0].this_hour != 5 {
        return Err(format!("mentions after a replay: {st:?}"));
    }
    Ok(())
}

#[test]
fn enrich_state_conformance() {
    let mem = sigflow::enrich::MemoryState::default();
    suite(&mem).unwrap_or_else(|e| panic!("memory: {e}"));
    let dir = TestDir::new("state-conformance");
    suite(&*sqlite(&dir)).unwrap_or_else(|e| panic!("sqlite: {e}"));
}

#[test]
fn dedup_survives_restart() {
    let dir = TestDir::new("state-restart");
    let w = Duration::days(14);
    {
        let s = sqlite(&dir);
        s.dedup(&fp("a", HEADLINE, t0()), w, 0.6)
            .map(|r| r.verdict)
            .unwrap();
    }
    let s = sqlite(&dir);
    let v = s
        .dedup(&fp("b", HEADLINE, t0() + Duration::hours(1)), w, 0.6)
        .map(|r| r.verdict)
        .unwrap();
    assert_eq!(v.kind, DupKind::Exact);
    assert_eq!(v.first_id, content_id("t", "a"));
}

#[test]
fn two_workers_agree_on_the_first_occurrence() {
    let dir = TestDir::new("state-workers");
    race(sqlite(&dir), sqlite(&dir), |f| {
        std::thread::spawn(f).join().unwrap()
    });
}

/// The suite and the race on PostgreSQL: two pools (two workers) on one database. The
/// state is called where the pipeline calls it, on the runtime's blocking threads.
#[cfg(feature = "postgres")]
#[test]
fn postgres_state_conformance_and_two_workers() {
    let pg = crate::servers::Postgres::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let open = || {
        let _in_runtime = rt.enter();
        let o = sigflow::store::open(&pg.url(), &Default::default()).unwrap();
        rt.block_on(o.store.migrate()).unwrap();
        o.state
    };
    let (a, b) = (open(), open());
    let s = a.clone();
    rt.block_on(async move { tokio::task::spawn_blocking(move || suite(&*s)).await })
        .unwrap()
        .unwrap_or_else(|e| panic!("postgres: {e}"));
    let handle = rt.handle().clone();
    race(a, b, move |f| {
        handle
            .block_on(async move { tokio::task::spawn_blocking(f).await })
            .unwrap()
    });
}

type Verdicts = Vec<(DupKind, uuid::Uuid)>;

/// Both workers see every text, under different item ids, at the same time; `run`
/// runs one worker's loop on a thread of its choosing and returns its verdicts.
fn race(
    a: sigflow::enrich::SharedState,
    b: sigflow::enrich::SharedState,
    run_on: impl Fn(Box<dyn FnOnce() -> Verdicts + Send>) -> Verdicts + Send + Sync + Clone + 'static,
) {
    let texts: Vec<String> = (0..40)
        .map(|i| {
            format!("Headline number {i}: the company reports record quarterly revenue growth")
        })
        .collect();
    let run = |s: sigflow::enrich::SharedState, worker: &'static str, texts: Vec<String>| {
        let run_on = run_on.clone();
        std::thread::spawn(move || {
            run_on(Box::new(move || {
                texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let v = s
                            .dedup(
                                &fp(&format!("{worker}{i}"), t, t0()),
                                Duration::days(14),
                                1.0,
                            )
                            .map(|r| r.verdict)
                            .unwrap();
                        (v.kind, v.first_id)
                    })
                    .collect::<Vec<_>>()
            }))
        })
    };
    let again = a.clone();
    let (ha, hb) = (run(a, "a", texts.clone()), run(b, "b", texts.clone()));
    let (ra, rb) = (ha.join().unwrap(), hb.join().unwrap());
    assert_eq!((ra.len(), rb.len()), (texts.len(), texts.len()));
    // Verdicts as they stand once both are done (a replay answers the current one: an
    // item that arrived after one it precedes became that one's original).
    let now = |worker: &'static str| {
        let (s, texts) = (again.clone(), texts.clone());
        run_on(Box::new(move || {
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let v = s
                        .dedup(
                            &fp(&format!("{worker}{i}"), t, t0()),
                            Duration::days(14),
                            1.0,
                        )
                        .unwrap()
                        .verdict;
                    (v.kind, v.first_id)
                })
                .collect()
        }))
    };
    let (ra, rb) = (now("a"), now("b"));
    for i in 0..texts.len() {
        let (ka, fa) = ra[i];
        let (kb, fb) = rb[i];
        assert_eq!(fa, fb, "text {i}: both link to the same first occurrence");
        let earliest = content_id("t", &format!("a{i}")).min(content_id("t", &format!("b{i}")));
        assert_eq!(
            fa, earliest,
            "text {i}: the original is the earliest (time, then id)"
        );
        assert_eq!(
            [ka, kb].iter().filter(|k| **k == DupKind::Unique).count(),
            1,
            "text {i}: exactly one is the original ({ka:?}, {kb:?})"
        );
    }
}
