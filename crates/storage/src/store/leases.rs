//! Worker groups coordinated through the store: which member of a stage's group reads
//! which partition of its input topic, when the log is shared by several processes.
//!
//! Every member calls [`Store::claim_partitions`](super::Store::claim_partitions) about
//! once a second. In one store transaction that call renews the member, forgets members
//! whose TTL ran out, and moves partitions toward an even split: the live members,
//! sorted by id, take partitions round-robin (`partition % n == index`). A member
//! releases what is no longer its share and claims what is its share and free. A
//! partition changes hands only through "released" or "owner gone", so no two live
//! members read it at once (beyond the moment a batch in flight commits; offsets only
//! move forward and writes are idempotent, so that overlap is harmless).
//!
//! Why not the broker's group protocol: the store is what every worker shares and
//! where positions are committed; coordinating here works with every Kafka-protocol
//! broker (tansu 0.6 does not reassign a killed member's partitions), and membership
//! and positions are checked in one place.

use std::collections::{BTreeMap, BTreeSet};

/// What a claim decides, from the rows as they stand.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Partitions to take (free, or held by a member that is gone).
    pub claim: Vec<u32>,
    /// Partitions this member holds but another member should have.
    pub release: Vec<u32>,
    /// What this member owns once the plan is applied.
    pub owned: Vec<u32>,
}

/// `members`: live members (self included); `leases`: partition → owner.
pub fn plan(
    me: &str,
    members: &BTreeSet<String>,
    leases: &BTreeMap<u32, String>,
    partitions: u32,
) -> Plan {
    let index = members.iter().position(|m| m == me).unwrap_or(0);
    let n = members.len().max(1);
    let mine = |p: u32| p as usize % n == index;
    let mut out = Plan::default();
    for p in 0..partitions {
        match leases.get(&p) {
            Some(owner) if owner == me => {
                if mine(p) {
                    out.owned.push(p);
                } else {
                    out.release.push(p);
                }
            }
            Some(owner) if members.contains(owner) => {}
            // Free, or its owner is gone.
            _ if mine(p) => {
                out.claim.push(p);
                out.owned.push(p);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn alone_takes_everything_then_shares_then_takes_over() {
        let leases = BTreeMap::new();
        let p = plan("a", &set(&["a"]), &leases, 4);
        assert_eq!(p.owned, vec![0, 1, 2, 3]);
        // b joins: a releases b's share; b waits until it is free.
        let held: BTreeMap<u32, String> = (0..4).map(|p| (p, "a".to_string())).collect();
        let a = plan("a", &set(&["a", "b"]), &held, 4);
        assert_eq!((a.owned, a.release), (vec![0, 2], vec![1, 3]));
        let b = plan("b", &set(&["a", "b"]), &held, 4);
        assert!(b.owned.is_empty(), "nothing is free yet");
        let split: BTreeMap<u32, String> = [(0, "a"), (2, "a")]
            .into_iter()
            .map(|(p, o)| (p, o.to_string()))
            .collect();
        assert_eq!(plan("b", &set(&["a", "b"]), &split, 4).claim, vec![1, 3]);
        // a is gone (not live): b takes a's partitions too.
        let both: BTreeMap<u32, String> = [(0, "a"), (1, "b"), (2, "a"), (3, "b")]
            .into_iter()
            .map(|(p, o)| (p, o.to_string()))
            .collect();
        let b = plan("b", &set(&["b"]), &both, 4);
        assert_eq!((b.claim, b.owned), (vec![0, 2], vec![0, 1, 2, 3]));
    }
}
