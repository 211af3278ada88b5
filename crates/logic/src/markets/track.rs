//! Track records: scored outcomes grouped by who or what made the call.
//!
//! Per group and horizon: n, hit rate with its 95 % Wilson interval, mean and median
//! return of the call, cumulative P&L, the Brier score of the stated confidence
//! against whether the call was right, a 10-bin reliability table (bins with n), and
//! the Brier skill score against the group's own base rate in the window (the
//! climatology forecast that always says the base rate): 1 − BS / (c(1 − c)).

use std::collections::BTreeMap;

use serde::Serialize;

/// One scored outcome, reduced to what a track record needs.
#[derive(Debug, Clone)]
pub struct Row {
    pub key: String,
    pub horizon: u32,
    pub correct: bool,
    pub signed_return: f64,
    pub pnl: f64,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// Confidence range [lo, hi).
    pub lo: f64,
    pub hi: f64,
    pub n: u64,
    pub mean_confidence: f64,
    pub hit_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub key: String,
    pub horizon: u32,
    pub n: u64,
    pub hits: u64,
    pub hit_rate: f64,
    pub hit_rate_low: f64,
    pub hit_rate_high: f64,
    pub mean_return: f64,
    pub median_return: f64,
    pub pnl: f64,
    pub brier: f64,
    /// None when every call was right or every call wrong (no base-rate uncertainty).
    pub skill: Option<f64>,
    /// Non-empty bins only.
    pub reliability: Vec<Bin>,
}

/// The 95 % Wilson score interval of `hits` out of `n`.
pub fn wilson(hits: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n_f = n as f64;
    let p = hits as f64 / n_f;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n_f);
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    let den = 1.0 + z2 / n_f;
    (
        ((centre - half) / den).max(0.0),
        ((centre + half) / den).min(1.0),
    )
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// One record per (key, horizon), ordered by key then horizon.
pub fn records(rows: impl IntoIterator<Item = Row>) -> Vec<Record> {
    let mut groups: BTreeMap<(String, u32), Vec<Row>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.key.clone(), r.horizon))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((key, horizon), rows)| record(key, horizon, &rows))
        .collect()
}

fn record(key: String, horizon: u32, rows: &[Row]) -> Record {
    let n = rows.len() as u64;
    let hits = rows.iter().filter(|r| r.correct).count() as u64;
    let nf = n.max(1) as f64;
    let c = hits as f64 / nf;
    let (lo, hi) = wilson(hits, n);
    let outcome = |r: &Row| if r.correct { 1.0 } else { 0.0 };
    let brier = rows
        .iter()
        .map(|r| (r.confidence - outcome(r)).powi(2))
        .sum::<f64>()
        / nf;
    let unc = c * (1.0 - c);
    let mut returns: Vec<f64> = rows.iter().map(|r| r.signed_return).collect();
    let mut bins: Vec<(u64, f64, u64)> = vec![(0, 0.0, 0); 10];
    for r in rows {
        let i = ((r.confidence.clamp(0.0, 1.0) * 10.0) as usize).min(9);
        bins[i].0 += 1;
        bins[i].1 += r.confidence;
        bins[i].2 += r.correct as u64;
    }
    Record {
        key,
        horizon,
        n,
        hits,
        hit_rate: c,
        hit_rate_low: lo,
        hit_rate_high: hi,
        mean_return: returns.iter().sum::<f64>() / nf,
        median_return: median(&mut returns),
        pnl: rows.iter().map(|r| r.pnl).sum(),
        brier,
        skill: (unc > 0.0).then(|| 1.0 - brier / unc),
        reliability: bins
            .into_iter()
            .enumerate()
            .filter(|(_, b)| b.0 > 0)
            .map(|(i, (bn, sum, h))| Bin {
                lo: i as f64 / 10.0,
                hi: (i + 1) as f64 / 10.0,
                n: bn,
                mean_confidence: sum / bn as f64,
                hit_rate: h as f64 / bn as f64,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(correct: bool, conf: f64, ret: f64) -> Row {
        Row {
            key: "a".into(),
            horizon: 1,
            correct,
            signed_return: ret,
            pnl: ret * 1000.0,
            confidence: conf,
        }
    }

    #[test]
    fn wilson_matches_published_values() {
        // 8 of 10 → [0.4902, 0.9433] (Wilson 1927; the figures every calculator gives).
        let (lo, hi) = wilson(8, 10);
        assert!(
            (lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        let (lo, _) = wilson(0, 5);
        assert_eq!(lo, 0.0);
    }

    #[test]
    fn a_record_by_hand() {
        let rows = vec![
            row(true, 0.9, 0.02),
            row(true, 0.7, 0.01),
            row(false, 0.8, -0.03),
            row(true, 0.65, 0.005),
        ];
        let r = &records(rows)[0];
        assert_eq!((r.n, r.hits), (4, 3));
        assert_eq!(r.hit_rate, 0.75);
        // Brier: (0.1² + 0.3² + 0.8² + 0.35²) / 4 = (0.01 + 0.09 + 0.64 + 0.1225) / 4.
        assert!((r.brier - 0.215625).abs() < 1e-12);
        // Skill against the base rate 0.75: 1 − 0.215625 / 0.1875 < 0: worse than it.
        assert!((r.skill.unwrap() - (1.0 - 0.215625 / 0.1875)).abs() < 1e-12);
        assert!((r.mean_return - 0.00125).abs() < 1e-12);
        assert!((r.median_return - 0.0075).abs() < 1e-12);
        assert!((r.pnl - 5.0).abs() < 1e-9);
        // Bins 0.6 (0.65), 0.7 (0.7), 0.8 (0.8), 0.9 (0.9): four bins of one.
        assert_eq!(r.reliability.len(), 4);
        assert_eq!(r.reliability[0].lo, 0.6);
        assert_eq!(r.reliability[2].hit_rate, 0.0);
    }

    #[test]
    fn all_right_has_no_skill_score_and_groups_split_by_horizon() {
        let mut rows = vec![row(true, 0.9, 0.01), row(true, 0.99, 0.01)];
        rows.push(Row {
            horizon: 3,
            ..row(false, 0.5, -0.01)
        });
        let recs = records(rows);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].skill, None);
        assert_eq!(recs[0].reliability.last().unwrap().lo, 0.9);
        assert_eq!(recs[1].horizon, 3);
    }
}
