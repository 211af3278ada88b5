//! State the stateful enrichers share across items, restarts and workers: dedup
//! fingerprints, engagement observations and ticker mentions. It lives in the store
//! (`store::sqlite_state`), so it survives a restart and every worker sees the same;
//! [`MemoryState`] serves `sigflow enrich` on stdin and the unit tests.
//!
//! Every operation is idempotent per content id: a replay of the same item gets the
//! answer the first run got (its dedup verdict, its previous observation), so
//! replays do not change results.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct StateError {
    pub message: String,
    /// Busy / unavailable: retry the batch, never dead-letter.
    pub transient: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pub content_id: Uuid,
    /// Hash of the normalized text.
    pub exact: u64,
    /// Hashed word and word-pair features, sorted; empty when the text is too short
    /// for near-duplicate detection.
    pub features: Vec<u64>,
    /// MinHash LSH band keys of `features` (empty with them).
    pub bands: Vec<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DupKind {
    Unique,
    Exact,
    Near,
}

impl DupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DupKind::Unique => "unique",
            DupKind::Exact => "exact",
            DupKind::Near => "near",
        }
    }

    pub fn parse(s: &str) -> DupKind {
        match s {
            "exact" => DupKind::Exact,
            "near" => DupKind::Near,
            _ => DupKind::Unique,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub kind: DupKind,
    /// The first occurrence (the item itself when unique).
    pub first_id: Uuid,
    /// Jaccard similarity to the occurrence matched (near duplicates).
    pub similarity: f64,
}

/// Engagement counts of one item at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub content_id: Uuid,
    pub at: DateTime<Utc>,
    pub score: Option<i64>,
    pub comments: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MentionStats {
    pub ticker: String,
    /// Distinct items mentioning the ticker in the item's hour.
    pub this_hour: u32,
    /// Mean and standard deviation of the hourly counts over the baseline hours.
    pub mean: f64,
    pub std: f64,
}

pub trait EnrichState: Send + Sync {
    /// Registers `fp` and says whether it repeats an earlier item within `window`.
    fn dedup(
        &self,
        fp: &Fingerprint,
        window: chrono::Duration,
        near: f64,
    ) -> Result<Verdict, StateError>;
    /// Records `obs`; returns the latest earlier observation of the same item, as it
    /// stood when `obs` was first recorded (so a replay gets the same answer).
    fn observe(&self, obs: &Observation) -> Result<Option<Observation>, StateError>;
    /// Records that `content_id` mentions `tickers` in the hour of `at`; returns each
    /// ticker's count for that hour (this item included) and its baseline over the
    /// `baseline_hours` before — as first computed for this item, on a replay too.
    fn mentions(
        &self,
        content_id: Uuid,
        tickers: &[String],
        at: DateTime<Utc>,
        baseline_hours: u32,
    ) -> Result<Vec<MentionStats>, StateError>;
}

pub fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// Mean and population standard deviation of `baseline_hours` hourly counts, where
/// hours missing from `counts` had none.
pub fn baseline(counts: &[(i64, u32)], hour: i64, baseline_hours: u32) -> (f64, f64) {
    let n = f64::from(baseline_hours);
    let xs: Vec<f64> = (1..=i64::from(baseline_hours))
        .map(|k| {
            counts
                .iter()
                .find(|(h, _)| *h == hour - k)
                .map_or(0.0, |(_, c)| f64::from(*c))
        })
        .collect();
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[derive(Default)]
struct Mem {
    fps: FxHashMap<Uuid, (Fingerprint, Verdict)>,
    order: Vec<Uuid>,
    /// Each observation with the previous one as it stood when it was recorded.
    obs: FxHashMap<Uuid, Vec<(Observation, Option<Observation>)>>,
    mentions: FxHashMap<String, FxHashMap<Uuid, (i64, MentionStats)>>,
}

/// In-process state: one process, no persistence.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<Mem>,
}

impl EnrichState for MemoryState {
    fn dedup(
        &self,
        fp: &Fingerprint,
        window: chrono::Duration,
        near: f64,
    ) -> Result<Verdict, StateError> {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, v)) = m.fps.get(&fp.content_id) {
            return Ok(*v);
        }
        let mut best: Option<(DupKind, Uuid, f64, DateTime<Utc>)> = None;
        for id in &m.order {
            let (other, v) = &m.fps[id];
            if (other.at - fp.at).abs() > window {
                continue;
            }
            let hit = if other.exact == fp.exact {
                Some((DupKind::Exact, 1.0))
            } else if !fp.features.is_empty() && !other.features.is_empty() {
                let j = super::dedup::jaccard(&fp.features, &other.features);
                (j >= near).then_some((DupKind::Near, j))
            } else {
                None
            };
            if let Some((kind, sim)) = hit {
                let better = match &best {
                    None => true,
                    Some(b) => {
                        (kind == DupKind::Exact && b.0 != DupKind::Exact)
                            || (kind == b.0 && other.at < b.3)
                    }
                };
                if better {
                    best = Some((kind, v.first_id, sim, other.at));
                }
            }
        }
        let v = match best {
            Some((kind, first_id, similarity, _)) => Verdict {
                kind,
                first_id,
                similarity,
            },
            None => Verdict {
                kind: DupKind::Unique,
                first_id: fp.content_id,
                similarity: 0.0,
            },
        };
        m.fps.insert(fp.content_id, (fp.clone(), v));
        m.order.push(fp.content_id);
        Ok(v)
    }

    fn observe(&self, obs: &Observation) -> Result<Option<Observation>, StateError> {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let list = m.obs.entry(obs.content_id).or_default();
        if let Some((_, prev)) = list.iter().find(|(o, _)| o.at == obs.at) {
            return Ok(*prev);
        }
        let prev = list
            .iter()
            .map(|(o, _)| *o)
            .filter(|o| o.at < obs.at)
            .max_by_key(|o| o.at);
        list.push((*obs, prev));
        Ok(prev)
    }

    fn mentions(
        &self,
        content_id: Uuid,
        tickers: &[String],
        at: DateTime<Utc>,
        baseline_hours: u32,
    ) -> Result<Vec<MentionStats>, StateError> {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let hour = hour_of(at);
        let mut out = Vec::new();
        for t in tickers {
            let per = m.mentions.entry(t.clone()).or_default();
            if let Some(known) = per.get(&content_id) {
                out.push(known.1.clone());
                continue;
            }
            let mut counts: FxHashMap<i64, u32> = FxHashMap::default();
            for (h, _) in per.values() {
                *counts.entry(*h).or_default() += 1;
            }
            let counts: Vec<(i64, u32)> = counts.into_iter().collect();
            let (mean, std) = baseline(&counts, hour, baseline_hours);
            let this_hour = counts
                .iter()
                .find(|(h, _)| *h == hour)
                .map_or(0, |(_, c)| *c)
                + 1;
            let stats = MentionStats {
                ticker: t.clone(),
                this_hour,
                mean,
                std,
            };
            per.insert(content_id, (hour, stats.clone()));
            out.push(stats);
        }
        Ok(out)
    }
}
