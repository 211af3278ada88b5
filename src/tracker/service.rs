//! The `markets` task: every `poll_secs`, one tracking round (fetch due prices) and one
//! scoring pass of the live ledger. Its state is all in the store (tracking rows,
//! bars, outcomes), so a restart — or a kill -9 — resumes where it was; an outcome is
//! inserted at most once whatever happens.

use std::sync::Arc;
use std::time::Duration;

use super::{Markets, prices, scorer};
use crate::health::{Health, Status};
use crate::markets::outcome::HORIZONS;
use crate::store::Store;
use crate::store::repos::outcomes::LIVE;

/// On `/readyz`: degraded (not down) while price providers fail.
pub const COMPONENT: &str = "markets:prices";

/// One round: prices, then outcomes. Errors are the store's (the providers' failures
/// are recorded per asset and retried on their own schedule).
pub async fn round(
    m: &Markets,
    store: &dyn Store,
) -> Result<(prices::Round, scorer::Scored), crate::store::StoreError> {
    let now = crate::clock::now();
    let db = store.sql();
    // The open calls are read once a round: the tracker and the scorer share them.
    let calls = crate::store::repos::outcomes::open_calls(db, LIVE, HORIZONS.len()).await?;
    let (mut r, through) = prices::track(m, db, &calls, now).await?;
    let s = scorer::score_calls(m, db, LIVE, calls, now, &through).await?;
    // The board shows every asset whose last fetch failed, not only this round's.
    r.errors = crate::store::repos::price_tracking::all(db)
        .await?
        .into_iter()
        .filter(|t| t.state == "active" && t.attempts > 0)
        .map(|t| format!("{}: {}", t.asset, t.last_error.unwrap_or_default()))
        .collect();
    Ok((r, s))
}

pub async fn run(
    m: Arc<Markets>,
    store: Arc<dyn Store>,
    health: Health,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    health.register(COMPONENT);
    for why in &m.left_out {
        tracing::info!("markets: price provider {why}");
    }
    loop {
        match round(&m, store.as_ref()).await {
            Ok((r, s)) => {
                if r.errors.is_empty() {
                    health.ok(COMPONENT, r.fetched);
                } else {
                    health.set_status(COMPONENT, Status::Retrying, Some(r.errors.join("; ")));
                }
                if r.fetched + r.failed + s.written + s.unscorable + r.stopped > 0 {
                    tracing::info!(
                        tracked = r.tracked,
                        fetched = r.fetched,
                        failed = r.failed,
                        bars = r.bars,
                        stopped = r.stopped,
                        outcomes = s.written,
                        unscorable = s.unscorable,
                        pending = s.pending,
                        "markets round"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "markets round failed; will try again");
                health.set_status(COMPONENT, Status::Retrying, Some(e.to_string()));
            }
        }
        if !crate::runtime::sleep_or_shutdown(every, &mut stop).await {
            return;
        }
    }
}
