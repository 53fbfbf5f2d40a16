//! De-duplication of client `event_id`s, shared by every events store's writer: a set of 128-bit
//! fingerprints of (org, environment, id), loaded at start and extended after each commit.

use std::{collections::HashSet, hash::BuildHasherDefault};

use super::{InsertOutcome, NewEvent, StoreScope};

/// Fingerprints already are uniformly distributed hashes: hashing them again (SipHash) would
/// only cost time on the writer's hot path.
#[derive(Default)]
struct FingerprintHasher(u64);

impl std::hash::Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

type IdSet = HashSet<u128, BuildHasherDefault<FingerprintHasher>>;

/// A 128-bit fingerprint of (org, environment, client event id): the de-duplication key.
fn fingerprint(scope: StoreScope, event_id: &str) -> u128 {
    let mut buf = Vec::with_capacity(event_id.len() + 16);
    buf.extend_from_slice(&scope.org_id.to_le_bytes());
    buf.extend_from_slice(&scope.env_id.to_le_bytes());
    buf.extend_from_slice(event_id.as_bytes());
    xxhash_rust::xxh3::xxh3_128(&buf)
}

/// The client event ids already stored.
#[derive(Default)]
pub struct DedupSet(IdSet);

/// What a group of batches will store: a keep-mask and an outcome per batch, and the new
/// fingerprints to remember once the group is committed.
pub struct GroupPlan {
    /// Per batch, per event: whether it is stored (not a duplicate).
    pub keep: Vec<Vec<bool>>,
    /// Per batch: stored and duplicate counts.
    pub outcomes: Vec<InsertOutcome>,
    fresh: IdSet,
}

impl DedupSet {
    /// Records an id found in the store at start-up.
    pub fn insert_stored(&mut self, scope: StoreScope, event_id: &str) {
        self.0.insert(fingerprint(scope, event_id));
    }

    /// Decides which events of a group are new: events without a client id always are; a client
    /// id already stored, or repeated earlier in the group, is a duplicate.
    pub fn plan<'a>(&self, batches: impl IntoIterator<Item = (StoreScope, &'a [NewEvent])>) -> GroupPlan {
        let mut plan = GroupPlan { keep: Vec::new(), outcomes: Vec::new(), fresh: IdSet::default() };
        for (scope, events) in batches {
            let mut outcome = InsertOutcome::default();
            let mask: Vec<bool> = events
                .iter()
                .map(|event| {
                    let new = !event.client_event_id || {
                        let key = fingerprint(scope, &event.event_id);
                        !self.0.contains(&key) && plan.fresh.insert(key)
                    };
                    if new {
                        outcome.stored += 1;
                    } else {
                        outcome.duplicates += 1;
                    }
                    new
                })
                .collect();
            plan.keep.push(mask);
            plan.outcomes.push(outcome);
        }
        plan
    }

    /// Remembers a committed group's ids (call only after the store accepted the group, so a
    /// failed batch's ids are not remembered).
    pub fn commit(&mut self, plan_fresh: GroupPlan) -> Vec<InsertOutcome> {
        self.0.extend(plan_fresh.fresh);
        plan_fresh.outcomes
    }
}
