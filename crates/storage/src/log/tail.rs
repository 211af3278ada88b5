//! The embedded log's in-memory tail: the records this process committed last, kept
//! for the consumers in this process.
//!
//! When normalize and enrich run in one process, enrich would read back from SQLite
//! the records normalize committed a moment ago, decompress them and parse their JSON
//! into the `Content` normalize had in hand (`perf` on `sigflow bench`: ~14% of the
//! pipeline's CPU). The store's writer thread hands the records of every committed
//! transaction to the tail instead — the value's bytes and the producer's [`Decoded`]
//! value — and a consumer takes them from here.
//!
//! Storage stays the truth, so the tail may forget anything at any time:
//! - it only ever holds records whose transaction committed (pushed after the commit);
//! - a partition's records are contiguous: a push that does not follow the last one
//!   (another process appended in between, e.g. `sigflow dlq replay`) drops the rest;
//! - a consumer whose position the tail does not hold reads SQLite, as before;
//! - it starts empty, so after a restart everything is read from SQLite;
//! - only topics with a consumer in this process are kept, at most
//!   [`PER_PARTITION`] records each, and records are dropped once taken.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, RwLock};

use super::Decoded;

/// Most records kept per partition: a consumer further behind reads SQLite.
const PER_PARTITION: usize = 1024;

/// One committed record.
pub struct TailRecord {
    pub offset: u64,
    pub ts: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub decoded: Decoded,
}

#[derive(Default)]
struct Part {
    records: VecDeque<TailRecord>,
    /// Offset after the last record pushed: where this process's next append lands,
    /// unless another process appends first.
    next: Option<u64>,
}

/// What the tail knows about a partition from a position on.
pub enum Taken {
    /// The records from the position on (at least one).
    Records(Vec<TailRecord>),
    /// This process has appended nothing past the position. Another process may have:
    /// look in storage now and then.
    CaughtUp,
    /// The tail does not hold the position: read storage.
    Unknown,
}

#[derive(Default)]
pub struct Tail {
    /// Topic ids with a consumer in this process.
    watched: RwLock<HashSet<i64>>,
    parts: Mutex<HashMap<(i64, u32), Part>>,
}

impl Tail {
    /// From now on, keep the records of this topic.
    pub fn watch(&self, topic_id: i64) {
        self.watched
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic_id);
    }

    pub fn is_watched(&self, topic_id: i64) -> bool {
        self.watched
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&topic_id)
    }

    /// A record whose transaction has committed. Records of one partition must come in
    /// offset order (the store's single writer pushes them as it commits them).
    pub fn push(&self, topic_id: i64, partition: u32, record: TailRecord) {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        let part = parts.entry((topic_id, partition)).or_default();
        if part.next != Some(record.offset) {
            // Something this process did not see was appended in between: what is kept
            // must stay contiguous, so start over here.
            part.records.clear();
        }
        if part.records.len() >= PER_PARTITION {
            part.records.pop_front();
        }
        part.next = Some(record.offset + 1);
        part.records.push_back(record);
    }

    /// At most `max` records of a partition from offset `from` on. Records before
    /// `from` are dropped: the consumer has moved past them.
    pub fn take(&self, topic_id: i64, partition: u32, from: u64, max: usize) -> Taken {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        let Some(part) = parts.get_mut(&(topic_id, partition)) else {
            return Taken::Unknown;
        };
        while part.records.front().is_some_and(|r| r.offset < from) {
            part.records.pop_front();
        }
        match part.records.front() {
            Some(r) if r.offset == from => {
                let n = max.min(part.records.len());
                Taken::Records(part.records.drain(..n).collect())
            }
            None if part.next == Some(from) => Taken::CaughtUp,
            _ => Taken::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: u64) -> TailRecord {
        TailRecord {
            offset,
            ts: 0,
            key: None,
            value: offset.to_string().into_bytes(),
            decoded: Decoded::default(),
        }
    }

    fn offsets(t: Taken) -> Option<Vec<u64>> {
        match t {
            Taken::Records(r) => Some(r.iter().map(|r| r.offset).collect()),
            _ => None,
        }
    }

    #[test]
    fn hands_out_contiguous_committed_records_and_says_when_it_cannot() {
        let t = Tail::default();
        assert!(matches!(t.take(1, 0, 0, 10), Taken::Unknown));
        for o in 5..10 {
            t.push(1, 0, rec(o));
        }
        // Behind what the tail holds: storage has it.
        assert!(matches!(t.take(1, 0, 3, 10), Taken::Unknown));
        assert_eq!(offsets(t.take(1, 0, 5, 2)), Some(vec![5, 6]));
        assert_eq!(offsets(t.take(1, 0, 7, 10)), Some(vec![7, 8, 9]));
        assert!(matches!(t.take(1, 0, 10, 10), Taken::CaughtUp));
        // Another process appended offset 10; this one appends 11: the tail must not
        // hand out 11 to a consumer at 10, nor claim it is caught up.
        t.push(1, 0, rec(11));
        assert!(matches!(t.take(1, 0, 10, 10), Taken::Unknown));
        assert_eq!(offsets(t.take(1, 0, 11, 10)), Some(vec![11]));
        // Partitions and topics are apart.
        assert!(matches!(t.take(1, 1, 0, 10), Taken::Unknown));
        assert!(matches!(t.take(2, 0, 11, 10), Taken::Unknown));
    }

    #[test]
    fn a_consumer_that_falls_behind_is_sent_to_storage() {
        let t = Tail::default();
        for o in 0..(PER_PARTITION as u64 + 10) {
            t.push(1, 0, rec(o));
        }
        assert!(matches!(t.take(1, 0, 0, 10), Taken::Unknown));
        assert_eq!(offsets(t.take(1, 0, 10, 1)), Some(vec![10]));
    }
}
