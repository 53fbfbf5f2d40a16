//! De-duplication of client `event_id`s, shared by every events store's writer: 128-bit
//! fingerprints of (org, environment, id) remembered for a window of arrival days, so memory is
//! bounded by the window rather than by history. Each store persists the fingerprints it commits
//! (with their arrival day) beside the events, and reloads only the window's at start. A writer
//! that keeps several inserts in flight (ClickHouse) also reserves the ids of in-flight groups, so
//! a later group that repeats one waits for the outcome instead of guessing it.

use std::{collections::HashSet, collections::VecDeque, hash::BuildHasherDefault};

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
pub fn fingerprint(scope: StoreScope, event_id: &str) -> u128 {
    let id = event_id.as_bytes();
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if id.len() + 16 <= stack.len() {
        &mut stack[..id.len() + 16]
    } else {
        heap.resize(id.len() + 16, 0);
        &mut heap
    };
    buf[..8].copy_from_slice(&scope.org_id.to_le_bytes());
    buf[8..16].copy_from_slice(&scope.env_id.to_le_bytes());
    buf[16..].copy_from_slice(id);
    xxhash_rust::xxh3::xxh3_128(buf)
}

/// Each event's de-duplication key: its fingerprint when it has a client id, else `None`.
pub fn keys(scope: StoreScope, events: &[NewEvent]) -> Vec<Option<u128>> {
    events.iter().map(|e| e.client_event_id.then(|| fingerprint(scope, &e.event_id))).collect()
}

/// How long a client `event_id` is remembered, in UTC days of arrival (`--dedup-window-days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupWindow {
    /// Whole days: an id that arrived on day `d` is a duplicate through day `d + days`.
    pub days: u32,
}

impl DedupWindow {
    /// The default: a week, like Segment's and RudderStack's windows are measured in days.
    pub const DEFAULT: DedupWindow = DedupWindow { days: 7 };

    /// The oldest arrival day still remembered on `today`.
    pub fn first_day(self, today: i32) -> i32 {
        today - self.days as i32
    }
}

impl Default for DedupWindow {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Today as a UTC day number (days since 1970-01-01): the arrival day the writers stamp.
pub fn today() -> i32 {
    (chrono::Utc::now().timestamp().div_euclid(86_400)) as i32
}

/// The client event ids stored within the window (one set per arrival day, oldest first), and
/// those of groups still in flight.
pub struct DedupSet {
    window: DedupWindow,
    days: VecDeque<(i32, IdSet)>,
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
    /// (org, fingerprint) of each id in `fresh`, in event order: what the store persists.
    fresh_rows: Vec<(i64, u128)>,
}

impl GroupPlan {
    /// The (org, fingerprint) of each client id this group adds, which a store persists beside
    /// the events (the org, so deleting an org deletes its ids too).
    pub fn fresh(&self) -> &[(i64, u128)] {
        &self.fresh_rows
    }
}

impl DedupSet {
    /// An empty set remembering ids for `window`.
    pub fn new(window: DedupWindow) -> Self {
        DedupSet { window, days: VecDeque::new(), pending: IdSet::default() }
    }

    /// The window.
    pub fn window(&self) -> DedupWindow {
        self.window
    }

    /// Logs the window read back at start, `started` when the read began (both stores).
    pub fn log_loaded(&self, started: std::time::Instant) {
        tracing::info!(
            ids = self.len(),
            days = self.window.days,
            ms = started.elapsed().as_millis() as u64,
            "de-duplication window loaded"
        );
    }

    /// Ids remembered (for logs and tests).
    pub fn len(&self) -> usize {
        self.days.iter().map(|(_, set)| set.len()).sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn contains(&self, key: &u128) -> bool {
        self.days.iter().rev().any(|(_, set)| set.contains(key))
    }

    fn day_mut(&mut self, day: i32) -> &mut IdSet {
        let at = self.days.partition_point(|(d, _)| *d < day);
        if self.days.get(at).is_none_or(|(d, _)| *d != day) {
            self.days.insert(at, (day, IdSet::default()));
        }
        &mut self.days[at].1
    }

    /// Makes room for `n` ids of arrival `day` (loading at start: no rehashing while it grows).
    pub fn reserve_day(&mut self, day: i32, n: usize) {
        self.day_mut(day).reserve(n);
    }

    /// Records a stored fingerprint that arrived on `day` (loading at start: the store reads only
    /// the window's days, and the next commit expires any older).
    pub fn insert_fingerprint(&mut self, fingerprint: u128, day: i32) {
        self.day_mut(day).insert(fingerprint);
    }

    /// Records an id found stored (a partly written batch), as arrived on `day`.
    pub fn insert_stored(&mut self, scope: StoreScope, event_id: &str, day: i32) {
        self.insert_fingerprint(fingerprint(scope, event_id), day);
    }

    /// Forgets the days that left the window on `today`: whole sets are dropped, so expiry costs
    /// nothing per id.
    pub fn expire(&mut self, today: i32) {
        let first = self.window.first_day(today);
        while self.days.front().is_some_and(|(d, _)| *d < first) {
            self.days.pop_front();
        }
    }

    /// Decides which events of a group are new: events without a client id always are; a client
    /// id remembered, or repeated earlier in the group, is a duplicate.
    pub fn plan<'a>(&self, batches: impl IntoIterator<Item = (StoreScope, &'a [NewEvent])>) -> GroupPlan {
        let keys: Vec<(StoreScope, Vec<Option<u128>>)> =
            batches.into_iter().map(|(scope, events)| (scope, keys(scope, events))).collect();
        self.plan_keys(keys.iter().map(|(scope, keys)| (*scope, keys.as_slice())))
    }

    /// [`plan`](Self::plan) over keys computed beforehand (by [`keys`], on the request's task):
    /// `None` for an event without a client id.
    pub fn plan_keys<'a>(
        &self,
        batches: impl IntoIterator<Item = (StoreScope, &'a [Option<u128>])>,
    ) -> GroupPlan {
        let mut plan = GroupPlan {
            keep: Vec::new(),
            outcomes: Vec::new(),
            waits_on_pending: false,
            fresh: IdSet::default(),
            fresh_rows: Vec::new(),
        };
        for (scope, keys) in batches {
            let mut outcome = InsertOutcome::default();
            let mask: Vec<bool> = keys
                .iter()
                .map(|key| {
                    let new = key.is_none_or(|key| {
                        plan.waits_on_pending |= self.pending.contains(&key);
                        let new = !self.contains(&key) && plan.fresh.insert(key);
                        if new {
                            plan.fresh_rows.push((scope.org_id, key));
                        }
                        new
                    });
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

    /// Remembers a committed group's ids as arrived on `day` (call only after the store accepted
    /// the group, so a failed batch's ids are not remembered), and expires days past the window.
    pub fn commit(&mut self, plan: GroupPlan, day: i32) -> Vec<InsertOutcome> {
        for key in &plan.fresh {
            self.pending.remove(key);
        }
        self.expire(day);
        self.day_mut(day).extend(plan.fresh);
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
    const DAY: i32 = 20_000;

    #[test]
    fn in_flight_ids_make_a_later_group_wait_and_a_failed_group_is_forgotten() {
        let mut set = DedupSet::new(DedupWindow::DEFAULT);
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
        let mut set = DedupSet::new(DedupWindow::DEFAULT);
        let batch = [event("a"), event("a")];
        let plan = set.plan([(SCOPE, &batch[..])]);
        assert_eq!(plan.keep, vec![vec![true, false]], "repeated within the group");
        set.reserve(&plan);
        let outcomes = set.commit(plan, DAY);
        assert_eq!((outcomes[0].stored, outcomes[0].duplicates), (1, 1));

        let later = set.plan([(SCOPE, &batch[..1])]);
        assert!(!later.waits_on_pending, "committed, no longer in flight");
        assert_eq!(later.keep, vec![vec![false]]);
        let other_env = set.plan([(StoreScope { org_id: 1, env_id: 2 }, &batch[..1])]);
        assert_eq!(other_env.keep, vec![vec![true]]);
    }

    #[test]
    fn ids_are_remembered_for_the_window_of_arrival_days_then_forgotten_whole_days_at_a_time() {
        let window = DedupWindow { days: 2 };
        let mut set = DedupSet::new(window);
        for (id, day) in [("a", DAY), ("b", DAY + 1)] {
            let batch = [event(id)];
            let plan = set.plan([(SCOPE, &batch[..])]);
            set.commit(plan, day);
        }
        // Loaded at start from the store, out of order: still sorted by day.
        set.insert_fingerprint(fingerprint(SCOPE, "z"), DAY - 1);
        assert_eq!(set.len(), 3);
        let probe = [event("z"), event("a"), event("b"), event("c")];
        assert_eq!(set.plan([(SCOPE, &probe[..])]).keep, vec![vec![false, false, false, true]]);

        // On DAY + 2 the window starts at DAY: "z" (DAY - 1) is forgotten, "a" is not yet.
        set.expire(DAY + 2);
        assert_eq!(set.plan([(SCOPE, &probe[..])]).keep, vec![vec![true, false, false, true]]);
        // A commit on DAY + 3 expires DAY: "a" is new again, "b" (DAY + 1) still a duplicate.
        let c = [event("c")];
        let plan = set.plan([(SCOPE, &c[..])]);
        set.commit(plan, DAY + 3);
        assert_eq!(set.plan([(SCOPE, &probe[..])]).keep, vec![vec![true, true, false, false]]);
        assert_eq!(set.len(), 2, "memory holds the window's ids only");
    }
}
