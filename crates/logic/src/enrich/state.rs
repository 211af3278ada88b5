//! State the stateful enrichers share across items, restarts and workers: dedup
//! fingerprints, engagement observations and ticker mentions. It lives in the store
//! (`store::sqlite_state`), so it survives a restart and every worker sees the same;
//! [`MemoryState`] serves `sigflow enrich` on stdin and the unit tests.
//!
//! Every operation is idempotent per content id: a replay of the same item gets the
//! answer the first run got (its previous observation, its mention statistics) or, for
//! dedup, its verdict as it stands now (an item that arrived later may have become its
//! original, [`decide`]) with the items it revised, so replays do not change results.

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

/// A dedup verdict, and the later items it revised: an item that arrives after items
/// it precedes becomes their original (see [`decide`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DedupResult {
    pub verdict: Verdict,
    /// Items whose verdict this one changed, with their times in ms (on a replay: the
    /// same list).
    pub revised: Vec<(Uuid, i64)>,
}

/// A stored fingerprint similar to the one being decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub at: i64,
    pub id: Uuid,
    /// Its current first occurrence (itself when unique), and that one's time.
    pub first_id: Uuid,
    pub first_at: i64,
    /// Same exact hash (else a near match at `similarity`).
    pub exact: bool,
    pub similarity: f64,
}

/// A change to a stored verdict that [`decide`] asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub at: i64,
    pub id: Uuid,
    pub verdict: Verdict,
    pub first_at: i64,
}

/// The one dedup rule, for every backend. An item's original is the earliest item
/// (by time, then id) it repeats within the window — whatever order the items are
/// processed in. So an item compares with every similar item, earlier and later: the
/// earliest earlier one is its original, and each later one whose original is later
/// than this item (or that has none) gets this item as its original instead.
/// `at` is the item's time in ms; `candidates` are the similar stored items.
pub fn decide(id: Uuid, at: i64, candidates: &[Candidate]) -> (Verdict, i64, Vec<Revision>) {
    let key = (at, id);
    let original = candidates
        .iter()
        .filter(|c| (c.at, c.id) < key)
        .min_by_key(|c| (c.at, c.id));
    let (verdict, first_at) = match original {
        Some(c) => (
            Verdict {
                kind: if c.exact {
                    DupKind::Exact
                } else {
                    DupKind::Near
                },
                first_id: c.id,
                similarity: c.similarity,
            },
            c.at,
        ),
        None => (
            Verdict {
                kind: DupKind::Unique,
                first_id: id,
                similarity: 0.0,
            },
            at,
        ),
    };
    let revisions = candidates
        .iter()
        .filter(|c| (c.at, c.id) > key && (c.first_at, c.first_id) > key)
        .map(|c| Revision {
            at: c.at,
            id: c.id,
            verdict: Verdict {
                kind: if c.exact {
                    DupKind::Exact
                } else {
                    DupKind::Near
                },
                first_id: id,
                similarity: c.similarity,
            },
            first_at: at,
        })
        .collect();
    (verdict, first_at, revisions)
}

/// How a store keeps the list of revised items: `id@ms,id@ms`.
pub fn revised_text(revised: &[Revision]) -> String {
    revised
        .iter()
        .map(|r| format!("{}@{}", r.id, r.at))
        .collect::<Vec<_>>()
        .join(",")
}

/// The list back from its text (unreadable entries are skipped).
pub fn parse_revised(text: &str) -> Vec<(Uuid, i64)> {
    text.split(',')
        .filter_map(|e| {
            let (id, at) = e.split_once('@')?;
            Some((id.parse().ok()?, at.parse().ok()?))
        })
        .collect()
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
    /// Registers `fp` and says whether it repeats an earlier item within `window`
    /// (and which later items it now precedes as their original, see [`decide`]).
    fn dedup(
        &self,
        fp: &Fingerprint,
        window: chrono::Duration,
        near: f64,
    ) -> Result<DedupResult, StateError>;
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

/// How a store keeps a fingerprint's features: little-endian u64s, for the items that
/// keep them ([`needs_bands`]); empty otherwise.
pub fn feature_blob(fp: &Fingerprint, banded: bool) -> Vec<u8> {
    if banded {
        fp.features.iter().flat_map(|f| f.to_le_bytes()).collect()
    } else {
        Vec::new()
    }
}

/// Stored features back from their blob.
pub fn features_of(blob: &[u8]) -> Vec<u64> {
    blob.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// Where an item looks for a banded item of its own text (ms): half a window either
/// side. An item stores its features and LSH bands ("banded") only when none is there,
/// so every item has a banded item of its text within half a window, and a story
/// repeated a thousand times keeps a handful of band rows, not a thousand.
///
/// A banded item searches the bands over [`band_span`] and links its text with every
/// near text it finds (both ways, `dedup_links`); any other item reads its text's links
/// instead. That is complete whatever the order: for an item P and a similar item Q of
/// another text within the window, their texts' banded items near them are at most two
/// windows apart, so the later of those two found the other and linked the texts.
pub fn band_neighbourhood(at: i64, window_ms: i64) -> (i64, i64) {
    (
        at.saturating_sub(window_ms / 2),
        at.saturating_add(window_ms / 2),
    )
}

/// The times (ms) a banded item's band search covers: two windows either side.
pub fn band_span(at: i64, window_ms: i64) -> (i64, i64) {
    (
        at.saturating_sub(2 * window_ms),
        at.saturating_add(2 * window_ms),
    )
}

/// A stored item of one text, as the backends read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub at: i64,
    pub id: Uuid,
    pub first_id: Uuid,
    pub first_at: i64,
    pub kind: DupKind,
    pub similarity: f64,
}

impl Member {
    /// A member from a store's row; None when an id does not parse (never written so).
    pub fn stored(
        at: i64,
        id: &str,
        first_id: &str,
        first_at: i64,
        kind: &str,
        similarity: f64,
    ) -> Option<Member> {
        Some(Member {
            at,
            id: id.parse().ok()?,
            first_id: first_id.parse().ok()?,
            first_at,
            kind: DupKind::parse(kind),
            similarity,
        })
    }

    fn candidate(&self, exact: bool, similarity: f64) -> Candidate {
        Candidate {
            at: self.at,
            id: self.id,
            first_id: self.first_id,
            first_at: self.first_at,
            exact,
            similarity,
        }
    }
}

/// What a store knows of an item's own text when asked to decide it.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnText {
    /// The item was decided before (a replay): its verdict as it stands.
    Known(DedupResult),
    /// The earliest item of its text in the window, those at or after it whose original
    /// is too, whether this item keeps bands (none of its text does nearby), and its
    /// text's links (the near texts and their similarity).
    New {
        earliest: Option<Member>,
        later: Vec<Member>,
        banded: bool,
        links: Vec<(u64, f64)>,
    },
}

/// Candidates from one text: its earliest item in the window and its later items that
/// may need a new original (`later`: items at or after `at` whose original is too).
pub fn text_candidates(
    fp: &Fingerprint,
    exact: bool,
    similarity: f64,
    earliest: Option<&Member>,
    later: &[Member],
    out: &mut Vec<Candidate>,
) {
    for m in earliest.into_iter().chain(later) {
        if m.id != fp.content_id && !out.iter().any(|c| c.id == m.id) {
            out.push(m.candidate(exact, similarity));
        }
    }
}

/// Texts sharing a band with `fp` (rows: their exact hash and features, one row per
/// text; a store decodes its blob with [`features_of`]), with their Jaccard similarity, for those at or above `near`. Every item of
/// such a text in the window (its exact group) is then a candidate at that similarity.
pub fn near_texts<F: AsRef<[u64]>>(
    fp: &Fingerprint,
    near: f64,
    rows: impl IntoIterator<Item = (u64, F)>,
) -> Vec<(u64, f64)> {
    let mut out: Vec<(u64, f64)> = Vec::new();
    for (exact, features) in rows {
        if exact == fp.exact || out.iter().any(|(h, _)| *h == exact) {
            continue;
        }
        let j = crate::enrich::dedup::jaccard(&fp.features, features.as_ref());
        if j >= near {
            out.push((exact, j));
        }
    }
    out
}

/// One ticker's mentions: item → (hour, stats as first computed); hour → count.
type TickerMentions = (FxHashMap<Uuid, (i64, MentionStats)>, FxHashMap<i64, u32>);

#[derive(Default)]
struct Mem {
    /// item → its fingerprint, current verdict, its original's time (ms) and the
    /// items it revised.
    fps: FxHashMap<Uuid, MemFp>,
    /// exact hash → items, in registration order (the same index the store keeps).
    exact: FxHashMap<u64, Vec<Uuid>>,
    /// LSH band → banded items.
    bands: FxHashMap<i64, Vec<Uuid>>,
    /// text → near texts and their similarity.
    links: FxHashMap<u64, Vec<(u64, f64)>>,
    /// Each observation with the previous one as it stood when it was recorded.
    obs: FxHashMap<Uuid, Vec<(Observation, Option<Observation>)>>,
    /// ticker → (item → its hour and stats as first computed, hour → count).
    mentions: FxHashMap<String, TickerMentions>,
}

struct MemFp {
    fp: Fingerprint,
    /// Its features and bands are indexed (see [`needs_bands`]).
    banded: bool,
    verdict: Verdict,
    first_at: i64,
    revised: Vec<(Uuid, i64)>,
}

impl Mem {
    /// One text's items within `w` ms of `at`: the earliest, and those at or after
    /// `(at, id)` whose original is after it too (the queries the stores run).
    fn text(&self, h: u64, (at, id): (i64, Uuid), w: i64) -> (Option<Member>, Vec<Member>) {
        let mut items: Vec<Member> = self
            .exact
            .get(&h)
            .into_iter()
            .flatten()
            .map(|id| &self.fps[id])
            .filter(|f| (f.fp.at.timestamp_millis() - at).abs() <= w)
            .map(|f| Member {
                at: f.fp.at.timestamp_millis(),
                id: f.fp.content_id,
                first_id: f.verdict.first_id,
                first_at: f.first_at,
                kind: f.verdict.kind,
                similarity: f.verdict.similarity,
            })
            .collect();
        items.sort_by_key(|m| (m.at, m.id));
        let earliest = items.first().cloned();
        let later = items
            .into_iter()
            .filter(|m| m.at >= at && (m.first_at, m.first_id) > (at, id))
            .collect();
        (earliest, later)
    }

    /// Candidates, whether `fp` is banded, and the near texts it found (to link).
    fn candidates(
        &self,
        fp: &Fingerprint,
        w: i64,
        near: f64,
    ) -> (Vec<Candidate>, bool, Vec<(u64, f64)>) {
        let at = fp.at.timestamp_millis();
        let (lo, hi) = band_neighbourhood(at, w);
        let banded = !self.exact.get(&fp.exact).into_iter().flatten().any(|id| {
            let f = &self.fps[id];
            f.banded && (lo..=hi).contains(&f.fp.at.timestamp_millis())
        });
        let (earliest, later) = self.text(fp.exact, (at, fp.content_id), w);
        let mut cands = Vec::new();
        text_candidates(fp, true, 1.0, earliest.as_ref(), &later, &mut cands);
        if near >= 1.0 || fp.features.is_empty() {
            return (cands, banded, Vec::new());
        }
        let texts: Vec<(u64, f64)> = if banded {
            let (lo, hi) = band_span(at, w);
            let mut hashes: Vec<u64> = Vec::new();
            for id in fp
                .bands
                .iter()
                .flat_map(|b| self.bands.get(b).into_iter().flatten())
            {
                let f = &self.fps[id];
                if (lo..=hi).contains(&f.fp.at.timestamp_millis()) && !hashes.contains(&f.fp.exact)
                {
                    hashes.push(f.fp.exact);
                }
            }
            let rows = hashes.into_iter().filter_map(|h| {
                let any = self.exact.get(&h)?.iter().find(|id| self.fps[*id].banded)?;
                Some((h, self.fps[any].fp.features.as_slice()))
            });
            near_texts(fp, near, rows)
        } else {
            self.links.get(&fp.exact).cloned().unwrap_or_default()
        };
        for (h, j) in &texts {
            let (e, l) = self.text(*h, (at, fp.content_id), w);
            text_candidates(fp, false, *j, e.as_ref(), &l, &mut cands);
        }
        let found = if banded { texts } else { Vec::new() };
        (cands, banded, found)
    }
}

/// In-process state: one process, no persistence.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<Mem>,
}

impl MemoryState {
    /// The first occurrence `id` is linked to now (after any later revision).
    pub fn current_first(&self, id: &Uuid) -> Option<Uuid> {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.fps.get(id).map(|f| f.verdict.first_id)
    }
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
    ) -> Result<DedupResult, StateError> {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = m.fps.get(&fp.content_id) {
            return Ok(DedupResult {
                verdict: f.verdict,
                revised: f.revised.clone(),
            });
        }
        let at = fp.at.timestamp_millis();
        let w = window.num_milliseconds();
        let (cands, banded, found) = m.candidates(fp, w, near);
        for (h, j) in found {
            for (a, b) in [(fp.exact, h), (h, fp.exact)] {
                let l = m.links.entry(a).or_default();
                if !l.iter().any(|x| x.0 == b) {
                    l.push((b, j));
                }
            }
        }
        let (verdict, first_at, revisions) = decide(fp.content_id, at, &cands);
        for r in &revisions {
            if let Some(f) = m.fps.get_mut(&r.id) {
                f.verdict = r.verdict;
                f.first_at = r.first_at;
            }
        }
        m.exact.entry(fp.exact).or_default().push(fp.content_id);
        if banded {
            for band in &fp.bands {
                m.bands.entry(*band).or_default().push(fp.content_id);
            }
        }
        let revised: Vec<(Uuid, i64)> = revisions.iter().map(|r| (r.id, r.at)).collect();
        m.fps.insert(
            fp.content_id,
            MemFp {
                fp: fp.clone(),
                banded,
                verdict,
                first_at,
                revised: revised.clone(),
            },
        );
        Ok(DedupResult { verdict, revised })
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
