//! The sealed ledger's pure parts: what a prediction is, its id, its canonical body,
//! how rows chain, and how a chain is verified.
//!
//! A prediction row is never changed: the database refuses UPDATE and DELETE
//! (triggers, migration 0010). Each row belongs to a chain (the analyze stage's
//! partition it was sealed from) and has a `seq` in it; its hash covers the chain,
//! its seq, the previous row's hash, what it supersedes and its body:
//!
//! `row_hash = sha256_hex("{chain}|{seq}|{prev_hash}|{supersedes}|{body}")`
//!
//! The store computes it inside the inserting statement (so the link to the previous
//! row is made where the previous row is known); [`verify`] recomputes it for every
//! row. Editing a body or a column, deleting a row or swapping two breaks the chain at
//! that row, and the report says where.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace of prediction ids (UUIDv5).
const NAMESPACE: Uuid = Uuid::from_u128(0x5f1a_7c3e_0b2d_4e89_9a61_d4c2_8e73_b015);

/// The analyzer that made a call.
pub const RULES: &str = "rules";
pub const LLM: &str = "llm";

/// What a row's `direction` is when the analyst declined to call.
pub const ABSTAIN: &str = "abstain";

/// A prediction's id: the same (content, analyzer, version, asset, shadow) is the
/// same row, so a replay of the same version seals nothing new.
pub fn prediction_id(
    content_id: Uuid,
    analyzer: &str,
    version: &str,
    asset: &str,
    shadow: bool,
) -> Uuid {
    let name = format!(
        "{content_id}\n{analyzer}\n{version}\n{asset}\n{}",
        if shadow { "shadow" } else { "live" }
    );
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// What the LLM call cost and returned (for an `llm` prediction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LlmTrace {
    pub model: String,
    pub prompt_version: String,
    pub prompt_hash: String,
    pub request_hash: String,
    pub response_hash: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: u64,
    /// Symbols the model named that the ticker list does not know (dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
}

/// One sealed prediction: the body that is hashed, in this field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub id: Uuid,
    pub content_id: Uuid,
    pub source: String,
    pub author: String,
    /// `rules` or `llm`.
    pub analyzer: String,
    /// The rule set's version, or `model@prompt version`.
    pub version: String,
    /// "" for an abstention.
    pub asset: String,
    /// bullish, bearish, neutral, or abstain.
    pub direction: String,
    pub confidence: f64,
    pub horizon_days: u32,
    pub shadow: bool,
    pub score: f64,
    pub group: String,
    pub rules: Vec<String>,
    pub reasons: Vec<String>,
    pub abstain_reason: Option<String>,
    /// Why the rules decided although an LLM is configured (bypassed, failed, abstained).
    pub fallback_reason: Option<String>,
    pub llm: Option<LlmTrace>,
    pub happened_at: DateTime<Utc>,
    pub disclosed_at: Option<DateTime<Utc>>,
    pub observed_at: DateTime<Utc>,
    /// When sigflow sealed it.
    pub sealed_at: DateTime<Utc>,
}

impl Prediction {
    /// The canonical body: this struct as JSON, fields in declaration order.
    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("a prediction serializes")
    }

    /// The moment scoring may start from: when sigflow could have known and did seal.
    pub fn knowable_at(&self) -> DateTime<Utc> {
        let d = self.disclosed_at.unwrap_or(self.happened_at);
        d.max(self.sealed_at)
    }
}

/// The chain hash of a row.
pub fn row_hash(chain: &str, seq: i64, prev: &str, supersedes: Option<&str>, body: &str) -> String {
    crate::hash::sha256_hex(
        format!("{chain}|{seq}|{prev}|{}|{body}", supersedes.unwrap_or("")).as_bytes(),
    )
}

/// A stored row as `verify` reads it: the indexed columns beside the body.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub id: String,
    pub chain: String,
    pub seq: i64,
    pub content_id: String,
    pub analyzer: String,
    pub asset: String,
    pub direction: String,
    pub confidence: f64,
    pub shadow: bool,
    pub sealed_at_us: i64,
    pub supersedes: Option<String>,
    pub body: String,
    pub prev_hash: String,
    pub row_hash: String,
}

/// One thing wrong with the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub chain: String,
    pub seq: i64,
    pub id: String,
    /// changed, missing, reordered, column_mismatch, unreadable.
    pub kind: &'static str,
    pub detail: String,
}

/// What `ledger verify` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub rows: u64,
    pub chains: u64,
    /// Every problem found (the list stops at [`MAX_PROBLEMS`]).
    pub problem_count: u64,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problem_count == 0
    }
}

fn columns_match(r: &StoredRow, p: &Prediction) -> Result<(), String> {
    let sealed_us = p.sealed_at.timestamp_micros();
    let checks = [
        ("id", r.id == p.id.to_string()),
        ("content_id", r.content_id == p.content_id.to_string()),
        ("analyzer", r.analyzer == p.analyzer),
        ("asset", r.asset == p.asset),
        ("direction", r.direction == p.direction),
        ("confidence", (r.confidence - p.confidence).abs() < 1e-9),
        ("shadow", r.shadow == p.shadow),
        ("sealed_at", r.sealed_at_us == sealed_us),
    ];
    match checks.iter().find(|(_, ok)| !ok) {
        Some((col, _)) => Err(format!("column `{col}` differs from the sealed body")),
        None => Ok(()),
    }
}

/// Verifies rows given in (chain, seq) order; every chain starts at seq 1.
pub fn verify(rows: impl IntoIterator<Item = StoredRow>) -> Report {
    let mut v = Verifier::default();
    rows.into_iter().for_each(|r| v.check(&r));
    v.report
}

/// [`verify`] one row at a time, so a ledger of any size is checked in bounded memory.
/// At most [`MAX_PROBLEMS`] problems are listed (all are counted).
#[derive(Debug, Default)]
pub struct Verifier {
    pub report: Report,
    chain: Option<String>,
    expect_seq: i64,
    prev: String,
}

/// Problems listed in a report at most (a broken chain breaks every later row's link).
pub const MAX_PROBLEMS: usize = 1_000;

impl Verifier {
    pub fn check(&mut self, r: &StoredRow) {
        self.report.rows += 1;
        if self.chain.as_deref() != Some(r.chain.as_str()) {
            self.chain = Some(r.chain.clone());
            self.report.chains += 1;
            self.expect_seq = 1;
            self.prev.clear();
        }
        let mut found: Vec<(&'static str, String)> = Vec::new();
        if r.seq != self.expect_seq {
            let kind = if r.seq > self.expect_seq {
                "missing"
            } else {
                "reordered"
            };
            found.push((
                kind,
                format!("expected seq {}, found {}", self.expect_seq, r.seq),
            ));
        }
        if r.prev_hash != self.prev {
            found.push((
                "reordered",
                "its prev_hash is not the hash of the row before it".into(),
            ));
        }
        let recomputed = row_hash(
            &r.chain,
            r.seq,
            &r.prev_hash,
            r.supersedes.as_deref(),
            &r.body,
        );
        if recomputed != r.row_hash {
            found.push((
                "changed",
                "the row's content does not match its hash".into(),
            ));
        }
        match serde_json::from_str::<Prediction>(&r.body) {
            Ok(p) => {
                if let Err(e) = columns_match(r, &p) {
                    found.push(("column_mismatch", e));
                }
            }
            Err(e) => found.push(("unreadable", format!("body is not a prediction: {e}"))),
        }
        for (kind, detail) in found {
            self.report.problem_count += 1;
            if self.report.problems.len() < MAX_PROBLEMS {
                self.report.problems.push(Problem {
                    chain: r.chain.clone(),
                    seq: r.seq,
                    id: r.id.clone(),
                    kind,
                    detail,
                });
            }
        }
        self.expect_seq = r.seq + 1;
        self.prev = r.row_hash.clone();
    }
}

/// One day's digest for `ledger export`: every row hash sealed that UTC day, in
/// (chain, seq) order, hashed together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayDigest {
    pub day: String,
    pub rows: u64,
    pub digest: String,
    /// HMAC-SHA256 of `{day}|{rows}|{digest}` with the operator's key, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The days of an earlier export whose digest no longer matches the ledger: rows
/// deleted, added or rewritten in a day already exported — even when the culprit
/// recomputed every hash after its edit, which the chain alone cannot see.
pub fn compare_with_export(exported: &[DayDigest], now: &[DayDigest]) -> Vec<Problem> {
    exported
        .iter()
        .filter_map(|e| {
            let cur = now.iter().find(|d| d.day == e.day);
            let (rows, digest) = cur.map_or((0, ""), |d| (d.rows, d.digest.as_str()));
            (rows != e.rows || digest != e.digest).then(|| Problem {
                chain: String::new(),
                seq: 0,
                id: String::new(),
                kind: "differs_from_export",
                detail: format!(
                    "day {}: exported {} rows (digest {}…), the ledger now has {rows} (digest {}…)",
                    e.day,
                    e.rows,
                    &e.digest[..e.digest.len().min(12)],
                    &digest[..digest.len().min(12)]
                ),
            })
        })
        .collect()
}

/// Digests per day from rows in (chain, seq) order.
pub fn day_digests(rows: &[StoredRow]) -> Vec<DayDigest> {
    let mut d = DayDigests::default();
    rows.iter().for_each(|r| d.add(r));
    d.finish()
}

/// [`day_digests`] one row at a time: a running SHA-256 per day.
#[derive(Default)]
pub struct DayDigests(std::collections::BTreeMap<String, (u64, sha2::Sha256)>);

impl DayDigests {
    pub fn add(&mut self, r: &StoredRow) {
        use sha2::Digest;
        let day = DateTime::from_timestamp_micros(r.sealed_at_us)
            .map_or_else(|| "invalid".into(), |t| t.format("%Y-%m-%d").to_string());
        let e = self.0.entry(day).or_default();
        e.0 += 1;
        e.1.update(r.row_hash.as_bytes());
        e.1.update(b"\n");
    }

    pub fn finish(self) -> Vec<DayDigest> {
        use sha2::Digest;
        self.0
            .into_iter()
            .map(|(day, (rows, h))| DayDigest {
                day,
                rows,
                digest: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
                signature: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(n: u128) -> Prediction {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Prediction {
            id: Uuid::from_u128(n),
            content_id: Uuid::from_u128(1000 + n),
            source: "x".into(),
            author: "a".into(),
            analyzer: RULES.into(),
            version: "sha256:1".into(),
            asset: "AAPL".into(),
            direction: "bullish".into(),
            confidence: 0.6,
            horizon_days: 3,
            shadow: false,
            score: 4.0,
            group: String::new(),
            rules: vec!["r".into()],
            reasons: vec!["because".into()],
            abstain_reason: None,
            fallback_reason: None,
            llm: None,
            happened_at: t,
            disclosed_at: None,
            observed_at: t,
            sealed_at: t,
        }
    }

    fn chain(n: usize) -> Vec<StoredRow> {
        let mut prev = String::new();
        (1..=n)
            .map(|i| {
                let p = prediction(i as u128);
                let body = p.body();
                let h = row_hash("p0", i as i64, &prev, None, &body);
                let r = StoredRow {
                    id: p.id.to_string(),
                    chain: "p0".into(),
                    seq: i as i64,
                    content_id: p.content_id.to_string(),
                    analyzer: p.analyzer.clone(),
                    asset: p.asset.clone(),
                    direction: p.direction.clone(),
                    confidence: p.confidence,
                    shadow: false,
                    sealed_at_us: p.sealed_at.timestamp_micros(),
                    supersedes: None,
                    body,
                    prev_hash: prev.clone(),
                    row_hash: h.clone(),
                };
                prev = h;
                r
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let r = verify(chain(5));
        assert!(r.ok(), "{r:?}");
        assert_eq!((r.rows, r.chains), (5, 1));
    }

    #[test]
    fn an_edited_body_a_column_a_deletion_and_a_swap_are_each_found() {
        let mut rows = chain(5);
        rows[1].body = rows[1].body.replace("bullish", "bearish");
        let r = verify(rows);
        assert_eq!(
            r.problems
                .iter()
                .map(|p| (p.seq, p.kind))
                .collect::<Vec<_>>(),
            vec![(2, "changed"), (2, "column_mismatch")]
        );

        let mut rows = chain(5);
        rows[2].direction = "bearish".into();
        assert_eq!(verify(rows).problems[0].kind, "column_mismatch");

        let mut rows = chain(5);
        rows.remove(2);
        let kinds: Vec<_> = verify(rows)
            .problems
            .iter()
            .map(|p| (p.seq, p.kind))
            .collect();
        assert_eq!(kinds, vec![(4, "missing"), (4, "reordered")]);

        let mut rows = chain(5);
        rows.swap(1, 2);
        assert!(verify(rows).problems.iter().any(|p| p.kind == "reordered"));
    }

    #[test]
    fn ids_are_deterministic_per_version_and_knowable_at_is_never_the_past() {
        let c = Uuid::from_u128(7);
        assert_eq!(
            prediction_id(c, RULES, "v1", "AAPL", false),
            prediction_id(c, RULES, "v1", "AAPL", false)
        );
        assert_ne!(
            prediction_id(c, RULES, "v1", "AAPL", false),
            prediction_id(c, RULES, "v2", "AAPL", false)
        );
        assert_ne!(
            prediction_id(c, RULES, "v1", "AAPL", false),
            prediction_id(c, RULES, "v1", "AAPL", true)
        );
        let mut p = prediction(1);
        p.disclosed_at = Some(p.happened_at + chrono::Duration::days(45));
        assert_eq!(p.knowable_at(), p.happened_at + chrono::Duration::days(45));
    }

    #[test]
    fn digests_are_per_day_and_an_export_catches_a_rewritten_day() {
        let d = day_digests(&chain(3));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].rows, 3);
        assert_eq!(d[0].day, "2023-11-14");
        assert!(compare_with_export(&d, &d).is_empty());
        // The last row deleted: the chain still verifies, the export does not.
        let mut short = chain(3);
        short.pop();
        assert!(verify(short.clone()).ok());
        let p = compare_with_export(&d, &day_digests(&short));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].detail.contains("exported 3 rows"), "{p:?}");
    }
}
