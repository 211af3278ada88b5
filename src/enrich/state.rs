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
    /// As the store classified it (`error.rs`): transient retries the batch.
    pub class: crate::error::ErrorClass,
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

/// Implementations are shared across threads as [`SharedState`]; the trait itself has
/// no `Sync` bound so that a view bound to one open transaction can implement it too.
pub trait EnrichState {
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
    /// Runs `f` with every operation in one unit (one store transaction): a batch of
    /// items pays for one commit instead of one per item. An error from any operation
    /// inside fails the whole unit, which the caller retries.
    fn batch(&self, f: &mut dyn FnMut(&dyn EnrichState)) -> Result<(), StateError>;
}

/// The state as the pipeline holds it: one per process, shared by every stage task.
pub type SharedState = std::sync::Arc<dyn EnrichState + Send + Sync>;

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

/// How a store keeps a fingerprint's features: little-endian u64s, and only for a
/// first occurrence (a duplicate is never a near candidate later).
pub fn feature_blob(fp: &Fingerprint, kind: DupKind) -> Vec<u8> {
    if kind == DupKind::Unique {
        fp.features.iter().flat_map(|f| f.to_le_bytes()).collect()
    } else {
        Vec::new()
    }
}

/// The near-duplicate verdict among stored candidates `(first id, feature blob, seen
/// at)`: the earliest (ties by id) whose Jaccard similarity reaches `near`.
pub fn nearest(
    fp: &Fingerprint,
    near: f64,
    candidates: impl IntoIterator<Item = (String, Vec<u8>, i64)>,
) -> Option<Verdict> {
    let mut best: Option<(i64, String, f64)> = None;
    for (first, blob, seen) in candidates {
        let other: Vec<u64> = blob
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let j = crate::enrich::dedup::jaccard(&fp.features, &other);
        if j >= near && best.as_ref().is_none_or(|b| (seen, &first) < (b.0, &b.1)) {
            best = Some((seen, first, j));
        }
    }
    best.map(|(_, first, similarity)| Verdict {
        kind: DupKind::Near,
        first_id: first.parse().unwrap_or(fp.content_id),
        similarity,
    })
}

/// One ticker's mentions: item → (hour, stats as first computed); hour → count.
type TickerMentions = (FxHashMap<Uuid, (i64, MentionStats)>, FxHashMap<i64, u32>);

#[derive(Default)]
struct Mem {
    fps: FxHashMap<Uuid, (Fingerprint, Verdict)>,
    /// exact hash → items, in registration order (the same index the store keeps).
    exact: FxHashMap<u64, Vec<Uuid>>,
    /// LSH band → first occurrences only (see migration 0002).
    bands: FxHashMap<i64, Vec<Uuid>>,
    /// Each observation with the previous one as it stood when it was recorded.
    obs: FxHashMap<Uuid, Vec<(Observation, Option<Observation>)>>,
    /// ticker → (item → its hour and stats as first computed, hour → count).
    mentions: FxHashMap<String, TickerMentions>,
}

/// In-process state: one process, no persistence.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<Mem>,
}

impl EnrichState for MemoryState {
    fn batch(&self, f: &mut dyn FnMut(&dyn EnrichState)) -> Result<(), StateError> {
        f(self);
        Ok(())
    }

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
        let in_window = |other: &Fingerprint| (other.at - fp.at).abs() <= window;
        // The earliest occurrence wins, as in the store (seen_at, then id).
        let exact: Option<Verdict> = m.exact.get(&fp.exact).and_then(|ids| {
            ids.iter()
                .map(|id| &m.fps[id])
                .filter(|(f, _)| in_window(f))
                .min_by_key(|(f, _)| (f.at, f.content_id))
                .map(|(_, v)| *v)
        });
        let v = if let Some(first) = exact {
            Verdict {
                kind: DupKind::Exact,
                first_id: first.first_id,
                similarity: 1.0,
            }
        } else {
            let mut best: Option<(DateTime<Utc>, Uuid, f64)> = None;
            if near < 1.0 && !fp.features.is_empty() {
                for band in &fp.bands {
                    for id in m.bands.get(band).into_iter().flatten() {
                        let (other, v) = &m.fps[id];
                        if !in_window(other) {
                            continue;
                        }
                        let j = super::dedup::jaccard(&fp.features, &other.features);
                        if j >= near && best.is_none_or(|b| (other.at, v.first_id) < (b.0, b.1)) {
                            best = Some((other.at, v.first_id, j));
                        }
                    }
                }
            }
            match best {
                Some((_, first_id, similarity)) => Verdict {
                    kind: DupKind::Near,
                    first_id,
                    similarity,
                },
                None => Verdict {
                    kind: DupKind::Unique,
                    first_id: fp.content_id,
                    similarity: 0.0,
                },
            }
        };
        m.exact.entry(fp.exact).or_default().push(fp.content_id);
        if v.kind == DupKind::Unique {
            for band in &fp.bands {
                m.bands.entry(*band).or_default().push(fp.content_id);
            }
        }
        m.fps.insert(fp.content_id, (fp.clone(), v));
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
            let (per, hours) = m.mentions.entry(t.clone()).or_default();
            if let Some(known) = per.get(&content_id) {
                out.push(known.1.clone());
                continue;
            }
            let counts: Vec<(i64, u32)> = (hour - i64::from(baseline_hours)..=hour)
                .filter_map(|h| hours.get(&h).map(|c| (h, *c)))
                .collect();
            let (mean, std) = baseline(&counts, hour, baseline_hours);
            let this_hour = hours.get(&hour).copied().unwrap_or(0) + 1;
            let stats = MentionStats {
                ticker: t.clone(),
                this_hour,
                mean,
                std,
            };
            per.insert(content_id, (hour, stats.clone()));
            *hours.entry(hour).or_default() += 1;
            out.push(stats);
        }
        Ok(out)
    }
}
