//! De-duplication of client `event_id`s, shared by every events store's writer: a set of 128-bit
//! fingerprints of (org, environment, id), loaded at start and extended after each commit. A writer
//! that keeps several inserts in flight (ClickHouse) also reserves the ids of in-flight groups, so
//! a later group that repeats one waits for the outcome instead of guessing it.

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

/// The client event ids already stored, and those of groups still in flight.
#[derive(Default)]
pub struct DedupSet {
    stored: IdSet,
    pending: IdSet,
}

/// What a group of batches will store: a keep-mask and an outcome per batch, and the new
/// fingerprints to remember once the group is committed.
pub struct GroupPlan {
    /// Per batch, per event: whether it is stored (not a duplicate).
    pub keep: Vec<Vec<bool>>,
    /// Per batch: stored and duplicate counts.
    pub outcomes: Vec<InsertOutcome>,
    /// Whether an id of this group belongs to a group still in flight: the plan is then only
    /// valid once that group settled (its insert may yet fail), so plan again after it.
    pub waits_on_pending: bool,
    fresh: IdSet,
}

impl DedupSet {
    /// Records an id found in the store at start-up.
    pub fn insert_stored(&mut self, scope: StoreScope, event_id: &str) {
        self.stored.insert(fingerprint(scope, event_id));
    }

    /// Decides which events of a group are new: events without a client id always are; a client
    /// id already stored, or repeated earlier in the group, is a duplicate.
    pub fn plan<'a>(&self, batches: impl IntoIterator<Item = (StoreScope, &'a [NewEvent])>) -> GroupPlan {
        let mut plan = GroupPlan {
            keep: Vec::new(),
            outcomes: Vec::new(),
            waits_on_pending: false,
            fresh: IdSet::default(),
        };
        for (scope, events) in batches {
            let mut outcome = InsertOutcome::default();
            let mask: Vec<bool> = events
                .iter()
                .map(|event| {
                    let new = !event.client_event_id || {
                        let key = fingerprint(scope, &event.event_id);
                        plan.waits_on_pending |= self.pending.contains(&key);
                        !self.stored.contains(&key) && plan.fresh.insert(key)
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

    /// Marks a group's new ids as in flight (a writer with several inserts under way calls this
    /// before sending the group, then [`commit`](Self::commit) or [`release`](Self::release)).
    pub fn reserve(&mut self, plan: &GroupPlan) {
        self.pending.extend(plan.fresh.iter().copied());
    }

    /// Remembers a committed group's ids (call only after the store accepted the group, so a
    /// failed batch's ids are not remembered).
    pub fn commit(&mut self, plan: GroupPlan) -> Vec<InsertOutcome> {
        for key in &plan.fresh {
            self.pending.remove(key);
        }
        self.stored.extend(plan.fresh);
        plan.outcomes
    }

    /// Forgets a failed group's reserved ids: a retry of the same events is new again.
    pub fn release(&mut self, plan: GroupPlan) {
        for key in &plan.fresh {
            self.pending.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> NewEvent {
        NewEvent {
            tenant_id: "t".to_owned(),
            event_name: "e".to_owned(),
            timestamp: chrono::Utc::now(),
            event_id: id.to_owned(),
            client_event_id: true,
            user_id: None,
            string_props: Vec::new(),
            numeric_props: Vec::new(),
        }
    }

    const SCOPE: StoreScope = StoreScope { org_id: 1, env_id: 1 };

    #[test]
    fn in_flight_ids_make_a_later_group_wait_and_a_failed_group_is_forgotten() {
        let mut set = DedupSet::default();
        let first = [event("a"), event("b")];
        let plan = set.plan([(SCOPE, &first[..])]);
        assert!(!plan.waits_on_pending);
        set.reserve(&plan);

        let second = [event("b"), event("c")];
        assert!(set.plan([(SCOPE, &second[..])]).waits_on_pending, "b is in flight");
        let unrelated = [event("c")];
        assert!(!set.plan([(SCOPE, &unrelated[..])]).waits_on_pending);

        // The first insert failed: b is new again, and nothing waits.
        set.release(plan);
        let again = set.plan([(SCOPE, &second[..])]);
        assert!(!again.waits_on_pending);
        assert_eq!(again.keep, vec![vec![true, true]]);
    }

    #[test]
    fn committed_ids_are_duplicates_in_their_scope_only() {
        let mut set = DedupSet::default();
        let batch = [event("a"), event("a")];
        let plan = set.plan([(SCOPE, &batch[..])]);
        assert_eq!(plan.keep, vec![vec![true, false]], "repeated within the group");
        set.reserve(&plan);
        let outcomes = set.commit(plan);
        assert_eq!((outcomes[0].stored, outcomes[0].duplicates), (1, 1));

        let later = set.plan([(SCOPE, &batch[..1])]);
        assert!(!later.waits_on_pending, "committed, no longer in flight");
        assert_eq!(later.keep, vec![vec![false]]);
        let other_env = set.plan([(StoreScope { org_id: 1, env_id: 2 }, &batch[..1])]);
        assert_eq!(other_env.keep, vec![vec![true]]);
    }
}
