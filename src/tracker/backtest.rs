//! Backtests: a candidate rule set over stored history, in its own namespace.
//!
//! Each stored item is evaluated by the candidate rules and, in the same pass, by the
//! live rule set (the baseline), with a simulated `sealed_at`: when the item was
//! observed — or, for imported history (`Timing::Published`), when it became public
//! (its disclosure time, else its publication time). Never the time an event
//! happened before it was disclosed. Predictions go to `sim_predictions` under
//! `<namespace>` and `<namespace>/baseline`; nothing touches the ledger, the topics or
//! any alert. Prices the predictions need are fetched like the live tracker's, then
//! both namespaces are scored by the same code as live outcomes, as of `as_of`. The
//! same inputs and `as_of` give the same rows and the same report.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Markets, prices, scorer};
use crate::analyze::RuleSet;
use crate::markets::outcome::HORIZONS;
use crate::markets::track::{self, Record};
use crate::model::Content;
use crate::store::StoreError;
use crate::store::repos::contents::{self, ContentQuery, Order};
use crate::store::repos::outcomes::{self, By};
use crate::store::sql::SqlDb;

/// Which moment a simulated prediction is sealed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Timing {
    /// When sigflow first observed the item (a replay of what the pipeline saw).
    Observed,
    /// When the item became public: its disclosure time, else its publication time
    /// (for history imported after the fact, whose observation time is the import).
    Published,
}

impl Timing {
    pub fn sealed_at(self, c: &Content) -> DateTime<Utc> {
        match self {
            Timing::Observed => c.observed_at,
            Timing::Published => c.disclosed_at.unwrap_or(c.happened_at),
        }
    }
}

pub struct Options {
    pub namespace: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub sources: Vec<String>,
    pub timing: Timing,
    /// Outcomes are judged with what was known at this instant.
    pub as_of: DateTime<Utc>,
}

/// Per horizon, one side of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub predictions: u64,
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub namespace: String,
    pub baseline_namespace: String,
    pub candidate_version: String,
    pub baseline_version: String,
    pub timing: Timing,
    pub as_of: DateTime<Utc>,
    pub items: u64,
    pub candidate: Side,
    /// Empty when there was no baseline (the demo's history replay).
    pub baseline: Side,
    /// Calls (item, asset, direction) the candidate makes and the baseline does not.
    pub added: u64,
    /// Calls the baseline makes and the candidate does not.
    pub removed: u64,
    pub pending: u64,
    pub unscorable: u64,
    pub price_errors: Vec<String>,
    pub elapsed_secs: f64,
    pub items_per_sec: f64,
}

/// Progress as (phase, done, total).
pub type Progress<'a> = &'a mut (dyn FnMut(&str, u64, u64) + Send);

const PAGE: usize = 2_000;
const WRITE_BATCH: usize = 1_000;

pub fn baseline_of(namespace: &str) -> String {
    format!("{namespace}/baseline")
}

/// Runs the backtest; replaces whatever `namespace` held.
pub async fn run(
    m: &Markets,
    db: &dyn SqlDb,
    candidate: &RuleSet,
    baseline: Option<&RuleSet>,
    o: &Options,
    progress: Progress<'_>,
) -> Result<Report, StoreError> {
    let started = Instant::now();
    let base_ns = baseline_of(&o.namespace);
    let mut clear = outcomes::delete_namespace(&o.namespace);
    clear.extend(outcomes::delete_namespace(&base_ns));
    db.execute(clear).await?;
    // The highest seq is an upper bound that costs one index seek; good for a bar.
    let total = contents::high_water(db).await?.max(0) as u64;
    let (mut items, mut seq) = (0u64, 0i64);
    let (mut cand_keys, mut base_keys) = (BTreeSet::new(), BTreeSet::new());
    let mut batch = Vec::new();
    loop {
        let page = page(db, o, seq).await?;
        let Some(last) = page.last() else { break };
        seq = last.0;
        for (_, item) in &page {
            let at = o.timing.sealed_at(item);
            let sides = [
                (&o.namespace, Some(candidate), &mut cand_keys),
                (&base_ns, baseline, &mut base_keys),
            ];
            for (ns, set, keys) in sides {
                let Some(set) = set else { continue };
                let e = set.evaluate(item);
                for p in crate::stages::analyze::rule_predictions(item, &e, at) {
                    if p.shadow || p.asset.is_empty() || p.direction == "abstain" {
                        continue;
                    }
                    keys.insert((p.content_id, p.asset.clone(), p.direction.clone()));
                    batch.push(outcomes::insert_sim(ns, &p));
                }
            }
            if batch.len() >= WRITE_BATCH {
                db.execute(std::mem::take(&mut batch)).await?;
            }
        }
        items += page.len() as u64;
        progress("analyze", items, total);
    }
    if !batch.is_empty() {
        db.execute(batch).await?;
    }
    // Prices for both namespaces, then the same scoring as live outcomes.
    let cand_calls = outcomes::open_calls(db, &o.namespace, HORIZONS.len()).await?;
    let base_calls = outcomes::open_calls(db, &base_ns, HORIZONS.len()).await?;
    let mut needs = prices::needs_of(m, &cand_calls);
    for (a, n) in prices::needs_of(m, &base_calls) {
        let e = needs.entry(a).or_insert(n);
        e.from = e.from.min(n.from);
        e.to = e.to.max(n.to);
    }
    let n_assets = needs.len() as u64;
    let mut done = 0;
    let (round, through) = prices::fill(m, db, &needs, o.as_of, &mut |_| {
        done += 1;
        progress("prices", done, n_assets);
    })
    .await?;
    let through: HashMap<_, _> = through;
    let sc = scorer::score_calls(m, db, &o.namespace, cand_calls, o.as_of, &through).await?;
    let sb = scorer::score_calls(m, db, &base_ns, base_calls, o.as_of, &through).await?;
    progress("score", 1, 1);
    let side = |db, ns: String, n: usize| async move {
        let rows = outcomes::track_rows(db, &ns, By::All, None, false, None, None).await?;
        Ok::<_, StoreError>(Side {
            predictions: n as u64,
            records: track::records(rows),
        })
    };
    let candidate_side = side(db, o.namespace.clone(), cand_keys.len()).await?;
    let baseline_side = side(db, base_ns.clone(), base_keys.len()).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let report = Report {
        namespace: o.namespace.clone(),
        baseline_namespace: base_ns,
        candidate_version: candidate.version.clone(),
        baseline_version: baseline.map(|b| b.version.clone()).unwrap_or_default(),
        timing: o.timing,
        as_of: o.as_of,
        items,
        candidate: candidate_side,
        baseline: baseline_side,
        added: cand_keys.difference(&base_keys).count() as u64,
        removed: base_keys.difference(&cand_keys).count() as u64,
        pending: sc.pending + sb.pending,
        unscorable: sc.unscorable + sb.unscorable,
        price_errors: round.errors,
        elapsed_secs: elapsed,
        items_per_sec: items as f64 / elapsed.max(1e-9),
    };
    let summary = serde_json::json!({
        "candidate_version": report.candidate_version, "baseline_version": report.baseline_version,
        "timing": o.timing, "as_of": o.as_of, "items": items, "sources": o.sources,
        "since": o.since, "until": o.until,
    })
    .to_string();
    let at = o.as_of.timestamp_micros();
    let mut runs = vec![outcomes::insert_run(&o.namespace, at, &summary)];
    if baseline.is_some() {
        runs.push(outcomes::insert_run(
            &report.baseline_namespace,
            at,
            &summary,
        ));
    }
    db.execute(runs).await?;
    Ok(report)
}

fn query(o: &Options, seq: i64, source: Option<&String>) -> ContentQuery {
    ContentQuery {
        source: source.cloned(),
        since: o.since,
        until: o.until,
        order: Order::IngestedAfter(seq),
        limit: PAGE,
        ..ContentQuery::default()
    }
}

/// The next page of items after `seq` (any of the sources), oldest commit first.
async fn page(db: &dyn SqlDb, o: &Options, seq: i64) -> Result<Vec<(i64, Content)>, StoreError> {
    if o.sources.is_empty() {
        return contents::query(db, &query(o, seq, None)).await;
    }
    let mut all = Vec::new();
    for s in &o.sources {
        all.extend(contents::query(db, &query(o, seq, Some(s))).await?);
    }
    all.sort_by_key(|(s, _)| *s);
    all.truncate(PAGE);
    Ok(all)
}
