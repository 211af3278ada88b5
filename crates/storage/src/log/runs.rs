//! How the embedded log stores records: one row per *run* — up to [`MAX_RUN`] records
//! one commit appends to one partition — compressed together.
//!
//! A stage's commit appends a few hundred records to a handful of partitions. Stored
//! one row per record, each row is a b-tree insert on the single writer thread and each
//! value is compressed alone; documents of one batch share most of their structure and
//! vocabulary, which LZ4 only sees when they are compressed together (the demo set's
//! documents: 4.6× in runs of 64, 1.27× one by one). So a run becomes one row: `pos` is the
//! position of its first record, `n` how many it holds, `ts` their append time (one
//! transaction, one time), `key` NULL, and `value` the run's frames, compressed.
//!
//! A run of one record is stored as before (its key in `key`, its value alone), so the
//! rows older versions wrote and single appends read the same way.
//!
//! Runs are built by the caller, before the commit reaches the writer thread (the one
//! thread SQLite allows to write sets the pipeline's pace): grouping needs each topic's
//! partition count, which the caller takes from a cache. The writer checks that count
//! against the database inside its transaction and regroups itself if it changed.

use std::collections::HashMap;

use super::partition_for;
use crate::store::{Append, StoreError};

/// Stored values at least this long are compressed (below it LZ4 saves nothing).
const COMPRESS_FROM: usize = 128;
/// First byte of a compressed single value. JSON never starts with NUL, and a raw
/// value that does is stored compressed, so the marker is unambiguous.
const LZ4_MARKER: u8 = 0;
/// First byte of a run's stored value (rows with `n` > 1).
const RUN_MARKER: u8 = 2;
/// A frame's key length when the record has no key.
const NO_KEY: u32 = u32::MAX;
/// Most records in one run. A reader that starts inside a run decompresses all of it,
/// so this bounds the work a small read can cost; the demo set's documents compress
/// 4.6× in runs of 64 against 4.9× in runs of 1,024 (and 1.27× one by one).
pub const MAX_RUN: usize = 64;

/// The records one commit appends to one partition, in stored form.
#[derive(Debug)]
pub struct Run {
    pub topic: String,
    /// The topic's partition count the grouping assumed (0: the topic was unknown).
    pub partitions: u32,
    pub partition: u32,
    /// Indices of the run's records in the commit's appends, in append order.
    pub members: Vec<usize>,
    /// The `key` column: the record's key for a run of one, NULL otherwise.
    pub key: Option<Vec<u8>>,
    /// The `value` column.
    pub value: Vec<u8>,
}

/// Groups a commit's appends into runs, in order of first appearance. A record's
/// partition is the same as if it were appended alone ([`partition_for`] on its key, or
/// on its index in the commit when it has none). `partitions_of` gives each topic's
/// partition count, `None` for a topic the caller does not know.
pub fn prepare(appends: &[Append], partitions_of: impl Fn(&str) -> Option<u32>) -> Vec<Run> {
    let mut index: HashMap<(&str, u32), usize> = HashMap::new();
    let mut groups: Vec<(&str, u32, u32, Vec<usize>)> = Vec::new();
    for (i, a) in appends.iter().enumerate() {
        let n = partitions_of(&a.topic).unwrap_or(0);
        let p = partition_for(a.key.as_deref(), i, n);
        let at = match index.get(&(a.topic.as_str(), p)) {
            Some(&at) if groups[at].3.len() < MAX_RUN => at,
            // A full run is closed; the partition's next records start another, after
            // it in `groups`, so their offsets still follow on.
            _ => {
                groups.push((a.topic.as_str(), n, p, Vec::new()));
                index.insert((a.topic.as_str(), p), groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[at].3.push(i);
    }
    groups
        .into_iter()
        .map(|(topic, partitions, partition, members)| {
            let (key, value) = columns(
                members
                    .iter()
                    .map(|&i| (appends[i].key.as_deref(), &appends[i].value[..])),
            );
            Run {
                topic: topic.to_string(),
                partitions,
                partition,
                members,
                key,
                value,
            }
        })
        .collect()
}

/// The `key` and `value` columns of a row holding these (key, value) records: a single
/// record as itself, more as a compressed run.
pub fn columns<'a>(
    records: impl ExactSizeIterator<Item = (Option<&'a [u8]>, &'a [u8])> + Clone,
) -> (Option<Vec<u8>>, Vec<u8>) {
    if records.len() == 1 {
        let (key, value) = records.clone().next().expect("one record");
        return (key.map(<[u8]>::to_vec), encode_value(value));
    }
    (None, encode_run(records))
}

/// A single value in its stored form: LZ4 (size-prepended) behind a marker byte when
/// that helps.
pub fn encode_value(v: &[u8]) -> Vec<u8> {
    if v.len() < COMPRESS_FROM && v.first() != Some(&LZ4_MARKER) {
        return v.to_vec();
    }
    compressed(LZ4_MARKER, v)
}

/// `bytes` LZ4-compressed (size-prepended) behind a marker byte.
fn compressed(marker: u8, bytes: &[u8]) -> Vec<u8> {
    let packed = lz4_flex::compress_prepend_size(bytes);
    let mut out = Vec::with_capacity(packed.len() + 1);
    out.push(marker);
    out.extend_from_slice(&packed);
    out
}

fn decode_value(stored: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    match stored.first() {
        Some(&LZ4_MARKER) => lz4_flex::decompress_size_prepended(&stored[1..])
            .map_err(|e| StoreError::Corrupt(format!("log record does not decompress: {e}"))),
        _ => Ok(stored),
    }
}

/// Frames — key length (u32 LE, [`NO_KEY`] for none), key, value length, value — one
/// after another, compressed as one block behind [`RUN_MARKER`].
fn encode_run<'a>(records: impl Iterator<Item = (Option<&'a [u8]>, &'a [u8])> + Clone) -> Vec<u8> {
    let size: usize = records
        .clone()
        .map(|(k, v)| 8 + k.map_or(0, <[u8]>::len) + v.len())
        .sum();
    let mut frames = Vec::with_capacity(size);
    for (key, value) in records {
        match key {
            Some(k) => {
                frames.extend_from_slice(&(k.len() as u32).to_le_bytes());
                frames.extend_from_slice(k);
            }
            None => frames.extend_from_slice(&NO_KEY.to_le_bytes()),
        }
        frames.extend_from_slice(&(value.len() as u32).to_le_bytes());
        frames.extend_from_slice(value);
    }
    compressed(RUN_MARKER, &frames)
}

/// A record's key and value.
pub type KeyValue = (Option<Vec<u8>>, Vec<u8>);

/// The (key, value) records of a stored row holding `n` records.
pub fn unpack(n: i64, key: Option<Vec<u8>>, value: Vec<u8>) -> Result<Vec<KeyValue>, StoreError> {
    if n == 1 {
        return Ok(vec![(key, decode_value(value)?)]);
    }
    let corrupt = |what: &str| StoreError::Corrupt(format!("log run of {n} records: {what}"));
    if n < 1 || value.first() != Some(&RUN_MARKER) {
        return Err(corrupt("not a run"));
    }
    let frames = lz4_flex::decompress_size_prepended(&value[1..])
        .map_err(|e| corrupt(&format!("does not decompress: {e}")))?;
    let mut out = Vec::with_capacity(n as usize);
    let mut rest = frames.as_slice();
    let take = |len: usize, rest: &mut &[u8]| -> Result<Vec<u8>, StoreError> {
        if rest.len() < len {
            return Err(corrupt("truncated"));
        }
        let (head, tail) = rest.split_at(len);
        *rest = tail;
        Ok(head.to_vec())
    };
    let len = |rest: &mut &[u8]| -> Result<u32, StoreError> {
        let b: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt("truncated"))?;
        *rest = &rest[4..];
        Ok(u32::from_le_bytes(b))
    };
    while !rest.is_empty() {
        let key = match len(&mut rest)? {
            NO_KEY => None,
            k => Some(take(k as usize, &mut rest)?),
        };
        let v = len(&mut rest)? as usize;
        out.push((key, take(v, &mut rest)?));
    }
    if out.len() != n as usize {
        return Err(corrupt(&format!("holds {} frames", out.len())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(topic: &str, key: Option<&str>, value: &str) -> Append {
        Append {
            topic: topic.into(),
            key: key.map(|k| k.as_bytes().to_vec()),
            value: value.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn runs_group_by_partition_keep_order_and_round_trip() {
        let long = "x".repeat(300);
        let appends = vec![
            append("a", Some("k1"), "one"),
            append("a", None, &long),
            append("b", Some("k1"), "two"),
            append("a", Some("k1"), ""),
            append("a", None, "\0starts with the marker"),
        ];
        let runs = prepare(&appends, |t| Some(if t == "a" { 2 } else { 1 }));
        // Each record is in the partition it would have alone.
        for r in &runs {
            for &i in &r.members {
                let a = &appends[i];
                assert_eq!(a.topic, r.topic);
                assert_eq!(
                    r.partition,
                    partition_for(a.key.as_deref(), i, r.partitions)
                );
            }
        }
        let mut seen: Vec<usize> = runs.iter().flat_map(|r| r.members.clone()).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        for r in runs {
            let got = unpack(r.members.len() as i64, r.key, r.value).unwrap();
            let want: Vec<_> = r
                .members
                .iter()
                .map(|&i| (appends[i].key.clone(), appends[i].value.clone()))
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn runs_are_capped_and_a_partition_s_runs_stay_in_order() {
        let appends: Vec<Append> = (0..MAX_RUN * 2 + 3)
            .map(|i| append("a", Some("k"), &i.to_string()))
            .collect();
        let runs = prepare(&appends, |_| Some(1));
        let sizes: Vec<usize> = runs.iter().map(|r| r.members.len()).collect();
        assert_eq!(sizes, vec![MAX_RUN, MAX_RUN, 3]);
        let order: Vec<usize> = runs.iter().flat_map(|r| r.members.clone()).collect();
        assert_eq!(order, (0..appends.len()).collect::<Vec<_>>());
    }

    #[test]
    fn a_damaged_run_is_an_error_not_a_guess() {
        let appends = vec![append("a", None, "x"), append("a", None, "y")];
        let run = prepare(&appends, |_| Some(1)).pop().unwrap();
        assert_eq!(run.members.len(), 2);
        assert!(unpack(3, None, run.value.clone()).is_err(), "count differs");
        assert!(unpack(2, None, b"{}".to_vec()).is_err(), "not a run");
        let mut cut = run.value.clone();
        cut.truncate(cut.len() - 1);
        assert!(unpack(2, None, cut).is_err(), "truncated");
        assert_eq!(unpack(2, None, run.value).unwrap().len(), 2);
    }
}
