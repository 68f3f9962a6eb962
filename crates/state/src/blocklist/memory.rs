//! The memory block store: decisions in a B-tree by id, an [`Index`] for
//! lookups, a bounded change log for stream consumers, and optionally a
//! snapshot + journal on disk so that a restart or crash loses no decision.
//! A value has at most one active decision (see [`super::merge`]).
//!
//! Writers take the `writer` lock, journal and fsync their change, and only
//! then take the index's write lock for the in-memory update: a slow disk
//! delays other writers, never the lookups of requests in flight.

use super::index::Index;
use super::journal::{Journal, PendingSnapshot, Record};
use super::merge::{Outcome, Plan, Touched, absorb};
use super::time::to_millis;
use super::{
    BlockChanges, BlockDecision, BlockError, BlockFilter, BlockQuery, BlockStore, NewBlock, Origin,
    Page, Target,
};
use crate::metrics::StateMetrics;
use execgate_core::{Clock, FileError};
use parking_lot::{Mutex, RwLock};
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

/// The most decisions one `add_batch` (one API request) may carry.
pub const MAX_BATCH: usize = 10_000;
/// The most decisions the store holds by default.
const DEFAULT_MAX_ENTRIES: usize = 1_000_000;
/// Changes kept for stream consumers; an older cursor gets a full resync.
const CHANGES_KEPT: usize = 100_000;
/// Journal records after which the snapshot is rewritten.
const COMPACT_AFTER: usize = 10_000;
/// Journal records past which a change rewrites the snapshot itself, so the
/// journal stays bounded when no upkeep runs (a snapshot of a million decisions
/// is about 285 MB: upkeep, not a request, should write it).
const COMPACT_INLINE_AFTER: usize = 10 * COMPACT_AFTER;

/// The memory implementation of [`BlockStore`], optionally persisted.
#[derive(Debug)]
pub struct MemoryBlockStore {
    clock: Arc<dyn Clock>,
    inner: RwLock<Inner>,
    writer: Mutex<Writer>,
    /// Held while a snapshot is written, so two never overwrite each other;
    /// it also paces upkeep's attempts after a failed one.
    snapshot_writer: Mutex<SnapshotBackoff>,
    max_entries: usize,
    metrics: Option<StateMetrics>,
}

/// What lookups read.
#[derive(Debug, Default)]
struct Inner {
    decisions: BTreeMap<u64, Entry>,
    index: Index,
    seq: u64,
    changes: VecDeque<(u64, Change)>,
    /// The most changes kept in `changes`.
    changes_kept: usize,
}

/// Upkeep ticks to skip after failed snapshots: a failing disk is not asked
/// to take a snapshot of every decision on every tick.
#[derive(Debug, Default)]
struct SnapshotBackoff {
    /// Ticks left to skip.
    skip: u32,
    /// Ticks skipped after the last failure (doubles, up to the maximum).
    after_failure: u32,
}

/// Most upkeep ticks skipped between two snapshot attempts.
const MAX_SNAPSHOT_BACKOFF: u32 = 64;

impl SnapshotBackoff {
    /// Resets the pace after a snapshot, or slows it after a failure (logged).
    fn record(&mut self, written: Result<(), BlockError>) {
        match written {
            Ok(()) => *self = SnapshotBackoff::default(),
            Err(e) => {
                self.after_failure = (self.after_failure * 2).clamp(1, MAX_SNAPSHOT_BACKOFF);
                self.skip = self.after_failure;
                tracing::error!(error = %e, retry_in_ticks = self.skip,
                    "blocklist snapshot failed; the journals still hold every change");
            }
        }
    }
}

/// What only writers touch: id allocation and the files.
#[derive(Debug)]
struct Writer {
    next_id: u64,
    journal: Option<Journal>,
}

#[derive(Debug)]
struct Entry {
    decision: BlockDecision,
    target: Target,
}

#[derive(Debug)]
enum Change {
    Added(u64),
    Extended(u64),
    Deleted(BlockDecision),
}

impl MemoryBlockStore {
    /// Opens the store; with `path`, loads `path` and `path.journal` and persists every change there.
    ///
    /// Several active decisions of one value found in the files are folded
    /// into the oldest, as a new add would be: a value has at most one.
    pub fn open(path: Option<&Path>, clock: Arc<dyn Clock>) -> Result<Self, BlockError> {
        let mut inner = Inner {
            seq: first_seq(),
            changes_kept: CHANGES_KEPT,
            ..Inner::default()
        };
        let mut writer = Writer {
            next_id: 1,
            journal: None,
        };
        if let Some(path) = path {
            let loaded = Journal::load(path)?;
            let now = clock.now();
            for (id, decision) in loaded.decisions {
                let target: Target = decision.value.parse().map_err(|e| {
                    BlockError::Corrupt(FileError::new(
                        path,
                        format!("decision {id}: invalid value {:?}: {e}", decision.value),
                    ))
                })?;
                if decision.is_active(now) {
                    inner.load(decision, target, now);
                }
            }
            writer.next_id = loaded.next_id;
            writer.journal = Some(Journal::start(path, &inner.snapshot(), loaded.next_id)?);
        }
        Ok(Self {
            clock,
            inner: RwLock::new(inner),
            writer: Mutex::new(writer),
            snapshot_writer: Mutex::new(SnapshotBackoff::default()),
            max_entries: DEFAULT_MAX_ENTRIES,
            metrics: None,
        })
    }

    /// Caps the number of decisions held (default one million).
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// Keeps only `n` changes for stream consumers.
    #[cfg(test)]
    fn with_change_log(self, n: usize) -> Self {
        self.inner.write().changes_kept = n;
        self
    }

    /// Reports active decisions and manual/list bans to `metrics`.
    pub fn with_metrics(self, metrics: StateMetrics) -> Self {
        metrics.set_active(self.inner.read().decisions.len());
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    fn validate_batch(&self, blocks: &[NewBlock]) -> Result<Vec<Target>, BlockError> {
        if blocks.len() > MAX_BATCH {
            return Err(BlockError::invalid(
                "decisions",
                format!(
                    "{} decisions in one request; at most {MAX_BATCH}",
                    blocks.len()
                ),
            ));
        }
        let several = blocks.len() > 1;
        blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                b.validate().map_err(|e| match e {
                    BlockError::Invalid { field, message, .. } if several => BlockError::Invalid {
                        item: Some(i),
                        field,
                        message,
                    },
                    other => other,
                })
            })
            .collect()
    }

    /// Mirrors a decision of a shared store as it is (its id included); a
    /// decision already held identically changes nothing, so a change both
    /// applied by its writer and received from the backend is recorded once.
    pub(super) fn mirror_put(&self, decision: BlockDecision) -> Result<(), String> {
        let target: Target = decision.value.parse().map_err(|e| {
            format!(
                "decision {}: invalid value {:?}: {e}",
                decision.id, decision.value
            )
        })?;
        let mut inner = self.inner.write();
        // A late notice of a decision expired (and perhaps purged) meanwhile.
        if !decision.is_active(self.clock.now()) && !inner.decisions.contains_key(&decision.id) {
            return Ok(());
        }
        let outcome = match inner.decisions.get(&decision.id) {
            Some(e) if e.decision == decision => return Ok(()),
            Some(e) if e.target == target => Outcome::Extended,
            // The id now names another value (a Redis that lost its data
            // numbers from 1 again): the old one is gone.
            Some(_) => {
                inner.take(decision.id);
                Outcome::Created
            }
            None => Outcome::Created,
        };
        let touched = Touched {
            decision,
            target,
            outcome,
        };
        inner.apply(&touched);
        self.report(
            &inner,
            std::iter::once(&touched.decision).filter(|_| outcome == Outcome::Created),
        );
        drop(inner);
        audit(&touched);
        Ok(())
    }

    /// Drops a mirrored decision removed from the shared store.
    pub(super) fn mirror_remove(&self, id: u64) -> Option<BlockDecision> {
        let mut inner = self.inner.write();
        let removed = inner.take(id);
        self.report(&inner, std::iter::empty());
        removed
    }

    /// Makes the mirror hold exactly `all` plus what was given an id after
    /// `last_id` (added since the snapshot): what is gone is removed, what is
    /// new or changed is put, so stream followers see the difference only.
    pub(super) fn mirror_resync(&self, all: Vec<BlockDecision>, last_id: u64) -> usize {
        let keep: BTreeSet<u64> = all.iter().map(|d| d.id).collect();
        let gone: Vec<u64> = self
            .inner
            .read()
            .decisions
            .keys()
            .filter(|id| **id <= last_id && !keep.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.mirror_remove(id);
        }
        let mut bad = 0;
        for decision in all {
            if let Err(e) = self.mirror_put(decision) {
                tracing::warn!(error = %e, "shared blocklist: skipping a decision");
                bad += 1;
            }
        }
        bad
    }

    /// Validates a batch as `add_batch` does: the targets, in order.
    pub(super) fn validate_new(&self, blocks: &[NewBlock]) -> Result<Vec<Target>, BlockError> {
        self.validate_batch(blocks)
    }

    /// Ids of the decisions expired at `now`; the scan runs under the read lock
    /// only, so lookups go on meanwhile.
    fn expired_ids(&self, now: SystemTime) -> Vec<u64> {
        let inner = self.inner.read();
        inner
            .decisions
            .iter()
            .filter(|(_, e)| !e.decision.is_active(now))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Drops the decisions of `ids` that are still expired at `now`: one may
    /// have been extended since the scan, and must stay.
    fn drop_expired(&self, ids: &[u64], now: SystemTime) -> usize {
        if ids.is_empty() {
            return 0;
        }
        let mut inner = self.inner.write();
        let purged = ids
            .iter()
            .filter(|id| inner.active(**id, now).is_none() && inner.take(**id).is_some())
            .count();
        self.report(&inner, std::iter::empty());
        purged
    }

    /// Rewrites the snapshot once the journal holds `due` records, holding the
    /// writers' lock; a failure is logged, the journal keeps everything. Skipped
    /// while upkeep writes a rotated snapshot (it covers these records).
    fn maybe_compact(&self, writer: &mut Writer, due: usize) {
        let Some(journal) = writer.journal.as_mut() else {
            return;
        };
        if journal.records() < due {
            return;
        }
        // A failing disk is not asked again by every change either: the
        // backoff upkeep counts down holds for this path too.
        let Some(mut backoff) = self.snapshot_writer.try_lock() else {
            return;
        };
        if backoff.skip > 0 {
            return;
        }
        let decisions = self.inner.read().snapshot();
        let written = journal.compact(&decisions, writer.next_id);
        backoff.record(written);
    }

    fn report<'a>(&self, inner: &Inner, changed: impl Iterator<Item = &'a BlockDecision>) {
        let Some(metrics) = &self.metrics else { return };
        metrics.set_active(inner.decisions.len());
        for d in changed.filter(|d| d.origin != Origin::Anomaly) {
            metrics.banned(d.origin.as_str());
        }
    }
}

impl Inner {
    fn record(&mut self, change: Change) {
        self.seq += 1;
        self.changes.push_back((self.seq, change));
        if self.changes.len() > self.changes_kept {
            self.changes.pop_front();
        }
    }

    /// Applies a created or extended decision. An extended decision purged
    /// as expired since the batch was planned is put back, as journaled.
    fn apply(&mut self, touched: &Touched) {
        let decision = touched.decision.clone();
        let id = decision.id;
        match self.decisions.get_mut(&id) {
            Some(entry) => entry.decision = decision,
            None => {
                self.index.insert(&touched.target, id);
                let target = touched.target.clone();
                self.decisions.insert(id, Entry { decision, target });
            }
        }
        self.record(match touched.outcome {
            Outcome::Created => Change::Added(id),
            Outcome::Extended | Outcome::Unchanged => Change::Extended(id),
        });
    }

    /// Adds a decision read at start-up, folded into an active one of the same value.
    fn load(&mut self, decision: BlockDecision, target: Target, now: SystemTime) {
        if let Some(id) = self.held(&target, now).map(|d| d.id) {
            tracing::warn!(id = decision.id, into = id, value = %decision.value,
                "folding a second decision of one value into the first");
            if let Some(entry) = self.decisions.get_mut(&id) {
                absorb(&mut entry.decision, decision);
            }
            return;
        }
        self.index.insert(&target, decision.id);
        self.decisions
            .insert(decision.id, Entry { decision, target });
    }

    /// The active decision of exactly `target`, if any.
    fn held(&self, target: &Target, now: SystemTime) -> Option<&BlockDecision> {
        self.index
            .ids(target)
            .iter()
            .find_map(|id| self.active(*id, now))
    }

    /// Every decision, for a snapshot.
    fn snapshot(&self) -> BTreeMap<u64, BlockDecision> {
        self.decisions
            .iter()
            .map(|(id, e)| (*id, e.decision.clone()))
            .collect()
    }

    fn take(&mut self, id: u64) -> Option<BlockDecision> {
        let entry = self.decisions.remove(&id)?;
        self.index.remove(&entry.target, id);
        self.record(Change::Deleted(entry.decision.clone()));
        Some(entry.decision)
    }

    fn active(&self, id: u64, now: SystemTime) -> Option<&BlockDecision> {
        self.decisions
            .get(&id)
            .map(|e| &e.decision)
            .filter(|d| d.is_active(now))
    }

    /// Net changes after `cursor`; `None` when the log no longer reaches back that far.
    fn net_changes(&self, cursor: u64, now: SystemTime) -> Option<BlockChanges> {
        let oldest = self.changes.front().map_or(self.seq + 1, |(seq, _)| *seq);
        if cursor == 0 || cursor > self.seq || oldest > cursor + 1 {
            return None;
        }
        // Decisions made after the cursor, and those made or extended after it.
        let mut created = BTreeSet::new();
        let mut touched = BTreeSet::new();
        let mut deleted = Vec::new();
        for (_, change) in self.changes.iter().filter(|(seq, _)| *seq > cursor) {
            match change {
                Change::Added(id) => {
                    created.insert(*id);
                    touched.insert(*id);
                }
                Change::Extended(id) => {
                    touched.insert(*id);
                }
                Change::Deleted(d) => {
                    touched.remove(&d.id);
                    // The follower never saw one made after its cursor.
                    if !created.remove(&d.id) {
                        deleted.push(d.clone());
                    }
                }
            }
        }
        let new = touched
            .iter()
            .filter_map(|id| self.active(*id, now).cloned())
            .collect();
        Some(BlockChanges {
            new,
            deleted,
            cursor: self.seq,
            resync: false,
        })
    }
}

/// Where a store's change numbers (stream cursors) start: each store gets a
/// random range of 2^40 changes, so that a cursor handed out by another store
/// (before a reopen, or by an earlier process: followers send cursors back) is
/// never taken for one of its own, and gets a resync.
fn first_seq() -> u64 {
    // RandomState is seeded from the OS once per process and differs per call.
    let random = RandomState::new().build_hasher().finish();
    ((random >> 41) | (1 << 22)) << 40
}

/// Writes a created or extended decision to the audit log.
fn audit(touched: &Touched) {
    let d = &touched.decision;
    let event = match touched.outcome {
        Outcome::Created => "block.added",
        Outcome::Extended | Outcome::Unchanged => "block.extended",
    };
    tracing::info!(
        target: "execgate::audit",
        event,
        id = d.id,
        scope = d.scope.as_str(),
        value = %d.value,
        origin = d.origin.as_str(),
        created_by = %d.created_by,
        reason = %d.reason,
        expires_at = ?d.expires_at.map(humantime::format_rfc3339_millis),
    );
}

/// The decisions `blocks` ask for, made at `now`, not yet numbered.
fn candidates(
    blocks: Vec<NewBlock>,
    targets: Vec<Target>,
    now: SystemTime,
) -> Vec<(BlockDecision, Target)> {
    blocks
        .into_iter()
        .zip(targets)
        .map(|(b, target)| {
            let decision = BlockDecision {
                id: 0,
                scope: target.scope(),
                value: target.to_string(),
                r#type: "ban".to_string(),
                origin: b.origin,
                reason: b.reason.trim().to_string(),
                created_at: now,
                expires_at: b.duration.map(|d| to_millis(now + d)),
                created_by: b.created_by,
            };
            (decision, target)
        })
        .collect()
}

impl BlockStore for MemoryBlockStore {
    /// From the index: a reputation ban asks this of a store of up to a
    /// million decisions, which `find` would scan.
    fn held(&self, target: &Target) -> Option<BlockDecision> {
        self.inner.read().held(target, self.clock.now()).cloned()
    }

    fn check(&self, q: &BlockQuery) -> Option<BlockDecision> {
        let inner = self.inner.read();
        let mut hit = None;
        let mut now = None;
        inner.index.find(q, |id| {
            let now = *now.get_or_insert_with(|| self.clock.now());
            hit = inner.active(id, now).cloned();
            hit.is_some()
        });
        hit
    }

    fn add(&self, b: NewBlock) -> Result<BlockDecision, BlockError> {
        let mut added = self.add_batch(vec![b])?;
        added
            .pop()
            .ok_or_else(|| BlockError::Io("empty batch".into()))
    }

    /// Adds, or folds into the active decision of the same value (see
    /// [`super::merge`]); one resulting decision per request, in order.
    fn add_batch(&self, blocks: Vec<NewBlock>) -> Result<Vec<BlockDecision>, BlockError> {
        let mut writer = self.writer.lock();
        let targets = self.validate_batch(&blocks)?;
        let now = to_millis(self.clock.now());
        let plan = {
            let inner = self.inner.read();
            let held = |t: &Target| inner.held(t, now).cloned();
            let plan = Plan::new(candidates(blocks, targets, now), held, writer.next_id);
            if inner.decisions.len() + plan.created() > self.max_entries {
                return Err(BlockError::Full {
                    max: self.max_entries,
                });
            }
            plan
        };
        let records: Vec<Record> = plan
            .changed()
            .map(|t| Record::Add {
                decision: t.decision.clone(),
            })
            .collect();
        if let Some(journal) = writer.journal.as_mut().filter(|_| !records.is_empty()) {
            journal.append(&records)?;
        }
        writer.next_id = plan.next_id();
        {
            let mut inner = self.inner.write();
            for touched in plan.changed() {
                inner.apply(touched);
            }
            self.report(&inner, plan.changed().map(|t| &t.decision));
        }
        // Logged once lookups can go on: a batch writes up to 10 000 lines.
        plan.changed().for_each(audit);
        self.maybe_compact(&mut writer, COMPACT_INLINE_AFTER);
        Ok(plan.replies())
    }

    fn remove(&self, id: u64) -> Result<Option<BlockDecision>, BlockError> {
        let mut writer = self.writer.lock();
        if !self.inner.read().decisions.contains_key(&id) {
            return Ok(None);
        }
        if let Some(journal) = writer.journal.as_mut() {
            journal.append(&[Record::Remove { id }])?;
        }
        let mut inner = self.inner.write();
        let removed = inner.take(id);
        self.report(&inner, std::iter::empty());
        Ok(removed)
    }

    fn get(&self, id: u64) -> Option<BlockDecision> {
        self.inner.read().active(id, self.clock.now()).cloned()
    }

    fn list(&self, filter: &BlockFilter, page: Page) -> Vec<BlockDecision> {
        let now = self.clock.now();
        self.inner
            .read()
            .decisions
            .values()
            .map(|e| &e.decision)
            .filter(|d| d.is_active(now) && filter.matches(d))
            .skip(page.offset)
            .take(page.limit)
            .cloned()
            .collect()
    }

    fn changes_since(&self, cursor: u64) -> BlockChanges {
        self.purge_expired();
        let now = self.clock.now();
        let inner = self.inner.read();
        inner
            .net_changes(cursor, now)
            .unwrap_or_else(|| BlockChanges {
                new: inner
                    .decisions
                    .values()
                    .map(|e| e.decision.clone())
                    .filter(|d| d.is_active(now))
                    .collect(),
                deleted: Vec::new(),
                cursor: inner.seq,
                resync: true,
            })
    }

    /// Rotates the journal under the writers' lock, then writes the snapshot
    /// without it: adds, removes and bans go on while a large file is written.
    fn compact_if_due(&self) {
        let Some(mut backoff) = self.snapshot_writer.try_lock() else {
            return;
        };
        if backoff.skip > 0 {
            backoff.skip -= 1;
            return;
        }
        let pending = {
            let mut writer = self.writer.lock();
            let next_id = writer.next_id;
            let Some(journal) = writer.journal.as_mut() else {
                return;
            };
            if journal.records() < COMPACT_AFTER && !journal.rotated() {
                return;
            }
            let decisions = self.inner.read().snapshot().into_values().collect();
            journal.rotate(decisions, next_id)
        };
        backoff.record(pending.and_then(PendingSnapshot::write));
    }

    fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        let expired = self.expired_ids(now);
        self.drop_expired(&expired, now)
    }

    /// Counts active decisions (a scan: for admin use, not per request).
    fn len(&self) -> usize {
        let now = self.clock.now();
        self.inner
            .read()
            .decisions
            .values()
            .filter(|e| e.decision.is_active(now))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::Scope;
    use execgate_core::{ClientKey, ManualClock};
    use prometheus::Registry;

    fn block(value: &str, origin: Origin) -> NewBlock {
        NewBlock {
            value: value.into(),
            duration: None,
            reason: "unit".into(),
            origin,
            created_by: "unit".into(),
        }
    }

    /// A resync from a snapshot read before a decision was given its id keeps
    /// that decision (its notice is still on its way); older ones it lacks go.
    #[test]
    fn a_resync_keeps_decisions_newer_than_its_snapshot() {
        let clock = ManualClock::default();
        let source = MemoryBlockStore::open(None, Arc::new(clock.clone())).unwrap();
        let old = source.add(block("203.0.113.7", Origin::Manual)).unwrap();
        let new = source
            .add(block("198.51.100.0/24", Origin::Manual))
            .unwrap();
        let mirror = MemoryBlockStore::open(None, Arc::new(clock)).unwrap();
        mirror.mirror_put(old.clone()).unwrap();
        mirror.mirror_put(new.clone()).unwrap();
        mirror.mirror_resync(Vec::new(), old.id);
        assert!(mirror.get(old.id).is_none(), "gone from the snapshot");
        assert!(mirror.get(new.id).is_some(), "added after the snapshot");
        mirror.mirror_resync(Vec::new(), new.id);
        assert!(mirror.get(new.id).is_none());
    }

    /// `held` finds the active decision on exactly a value, from the index, as
    /// the scanning `find` of the trait does.
    #[test]
    fn held_is_the_active_decision_of_exactly_that_value() {
        let clock = ManualClock::default();
        let s = MemoryBlockStore::open(None, Arc::new(clock.clone())).unwrap();
        let range = s.add(block("198.51.100.0/24", Origin::Manual)).unwrap();
        let short = NewBlock {
            duration: Some(std::time::Duration::from_secs(10)),
            ..block("client:abc", Origin::Manual)
        };
        s.add(short).unwrap();
        let target = |v: &str| v.parse::<Target>().unwrap();
        let by_index = |v: &str| s.held(&target(v)).map(|d| d.id);
        let by_scan = |v: &str| {
            let filter = BlockFilter {
                value: Some(target(v).to_string()),
                ..BlockFilter::default()
            };
            s.find(&filter).map(|d| d.id)
        };
        for value in ["198.51.100.0/24", "198.51.100.7", "client:abc", "client:x"] {
            assert_eq!(by_index(value), by_scan(value), "{value}");
        }
        assert_eq!(by_index("198.51.100.0/24"), Some(range.id));
        assert_eq!(
            by_index("198.51.100.7"),
            None,
            "inside the range, not the value"
        );
        clock.advance(std::time::Duration::from_secs(11));
        assert_eq!(by_index("client:abc"), None, "expired");
    }

    /// Stores draw their cursor ranges at random, so no store (of this process
    /// or a later one) takes another store's cursor for its own.
    #[test]
    fn every_store_numbers_its_changes_in_a_range_of_its_own() {
        let starts: BTreeSet<u64> = (0..64).map(|_| first_seq()).collect();
        assert_eq!(starts.len(), 64, "distinct ranges");
        assert!(starts.iter().all(|s| *s > 1 << 62 && s % (1 << 40) == 0));
        let sequential: BTreeSet<u64> = (1..=64).map(|k| k << 40).collect();
        assert!(
            starts.is_disjoint(&sequential),
            "not numbered by opening order"
        );
    }

    /// Purging scans for expired decisions before it takes the write lock; a
    /// decision extended in between is active again and must not be dropped.
    #[test]
    fn a_decision_extended_after_the_expiry_scan_is_not_purged() {
        let clock = ManualClock::default();
        let s = MemoryBlockStore::open(None, Arc::new(clock.clone())).unwrap();
        let short = NewBlock {
            duration: Some(std::time::Duration::from_secs(10)),
            ..block("192.0.2.1", Origin::Manual)
        };
        let id = s.add(short).unwrap().id;
        // The add plans at t+5 s, when the decision is active, and applies after
        // a purge that read the clock at t+20 s has scanned.
        clock.advance(std::time::Duration::from_secs(5));
        let purge_now = clock.now() + std::time::Duration::from_secs(15);
        let expired = s.expired_ids(purge_now);
        assert_eq!(expired, vec![id]);
        let extended = s.add(block("192.0.2.1", Origin::Manual)).unwrap();
        assert_eq!(extended.id, id, "the same decision, extended");
        assert_eq!(s.drop_expired(&expired, purge_now), 0);
        assert!(s.get(id).is_some(), "the extended decision stays");
        let key = ClientKey::parse("ip:192.0.2.1").unwrap();
        let query = BlockQuery {
            ip: "192.0.2.1".parse().unwrap(),
            client: &key,
            country: None,
            asn: None,
        };
        assert!(s.check(&query).is_some(), "the address is still blocked");
    }

    #[test]
    fn a_full_store_refuses_more_decisions() {
        let s = MemoryBlockStore::open(None, Arc::new(ManualClock::default()))
            .unwrap()
            .with_max_entries(2);
        s.add(block("192.0.2.1", Origin::Manual)).unwrap();
        s.add(block("192.0.2.2", Origin::Manual)).unwrap();
        let err = s.add(block("192.0.2.3", Origin::Manual)).unwrap_err();
        assert!(matches!(err, BlockError::Full { max: 2 }), "{err}");
        let batch = vec![
            block("192.0.2.1", Origin::List),
            block("192.0.2.2", Origin::List),
        ];
        assert_eq!(s.add_batch(batch).unwrap().len(), 2, "known values merge");
    }

    /// Rotates the journal of `s` as upkeep does, returning the snapshot to write.
    fn rotate(s: &MemoryBlockStore) -> PendingSnapshot {
        let mut writer = s.writer.lock();
        let next_id = writer.next_id;
        let decisions = s.inner.read().snapshot().into_values().collect();
        writer
            .journal
            .as_mut()
            .unwrap()
            .rotate(decisions, next_id)
            .unwrap()
    }

    /// Between the rotation and the snapshot, changes go on in a fresh journal;
    /// a crash before the snapshot is written, or after, loses none of them.
    #[test]
    fn changes_during_a_rotated_snapshot_survive_a_crash_at_any_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let old = dir.path().join("blocks.json.journal.old");
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
        let values = |s: &MemoryBlockStore| {
            let all = Page {
                offset: 0,
                limit: 100,
            };
            let mut v: Vec<String> = s
                .list(&BlockFilter::default(), all)
                .into_iter()
                .map(|d| d.value)
                .collect();
            v.sort();
            v
        };
        for write_snapshot in [false, true] {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(dir.path().join("blocks.json.journal"));
            let s = MemoryBlockStore::open(Some(&path), clock.clone()).unwrap();
            let gone = s.add(block("192.0.2.1", Origin::Manual)).unwrap();
            s.add(block("192.0.2.2", Origin::Manual)).unwrap();
            let pending = rotate(&s);
            assert!(old.exists());
            // The writers' lock is free while the snapshot waits to be written.
            s.add(block("192.0.2.3", Origin::Manual)).unwrap();
            s.remove(gone.id).unwrap();
            if write_snapshot {
                pending.write().unwrap();
                assert!(!old.exists(), "the snapshot covers the old journal");
            } else {
                drop(pending); // the process dies before writing it
            }
            s.add(block("192.0.2.4", Origin::Manual)).unwrap();
            let expected = values(&s);
            assert_eq!(expected, ["192.0.2.2", "192.0.2.3", "192.0.2.4"]);
            drop(s);
            let reopened = MemoryBlockStore::open(Some(&path), clock.clone()).unwrap();
            assert_eq!(
                values(&reopened),
                expected,
                "snapshot written: {write_snapshot}"
            );
            assert!(!old.exists(), "start-up folds the old journal in");
        }
    }

    /// After a failed snapshot, upkeep skips ticks (1, 2, 4… up to 64) before it
    /// tries again; a success resets the pace. Nothing is lost meanwhile.
    #[test]
    fn upkeep_backs_off_after_a_failed_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
        let s = MemoryBlockStore::open(Some(&path), clock.clone()).unwrap();
        let batch: Vec<NewBlock> = (0..COMPACT_AFTER)
            .map(|i| block(&format!("client:c{i}"), Origin::Manual))
            .collect();
        s.add_batch(batch).unwrap();
        // The snapshot's temporary file cannot be created: the write fails for real.
        let blocker = dir.path().join("blocks.json.tmp");
        std::fs::create_dir_all(blocker.join("x")).unwrap();
        let old = dir.path().join("blocks.json.journal.old");
        s.compact_if_due();
        assert!(old.exists(), "rotated, but the snapshot failed");
        std::fs::remove_dir_all(&blocker).unwrap();
        s.compact_if_due();
        assert!(old.exists(), "one tick skipped after the first failure");
        s.compact_if_due();
        assert!(!old.exists(), "the next tick writes the snapshot");
        // A change's own compaction keeps the pace too.
        std::fs::create_dir_all(blocker.join("x")).unwrap();
        s.maybe_compact(&mut s.writer.lock(), 0);
        assert_eq!(s.snapshot_writer.lock().skip, 1, "failed once");
        std::fs::remove_dir_all(&blocker).unwrap();
        s.add(block("client:late", Origin::Manual)).unwrap();
        s.maybe_compact(&mut s.writer.lock(), 0);
        let records = s.writer.lock().journal.as_ref().unwrap().records();
        assert_eq!(records, 1, "no attempt while upkeep's pace says wait");
        s.compact_if_due();
        s.maybe_compact(&mut s.writer.lock(), 0);
        assert_eq!(s.writer.lock().journal.as_ref().unwrap().records(), 0);
        drop(s);
        let reopened = MemoryBlockStore::open(Some(&path), clock).unwrap();
        assert_eq!(reopened.len(), COMPACT_AFTER + 1);
    }

    /// Upkeep's snapshot and a change's own compaction never run together: the
    /// older of the two snapshots could otherwise overwrite the newer.
    #[test]
    fn no_inline_compaction_while_upkeep_writes_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let s = MemoryBlockStore::open(Some(&path), Arc::new(ManualClock::default())).unwrap();
        s.add(block("192.0.2.1", Origin::Manual)).unwrap();
        let writing = s.snapshot_writer.lock();
        s.maybe_compact(&mut s.writer.lock(), 1);
        assert_eq!(
            s.writer.lock().journal.as_ref().unwrap().records(),
            1,
            "skipped while a snapshot is being written"
        );
        drop(writing);
        s.maybe_compact(&mut s.writer.lock(), 1);
        assert_eq!(s.writer.lock().journal.as_ref().unwrap().records(), 0);
    }

    #[test]
    fn a_failed_journal_write_is_an_error_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
        let s = MemoryBlockStore::open(Some(&path), clock.clone()).unwrap();
        let kept = s.add(block("192.0.2.1", Origin::Manual)).unwrap();
        let fail_next_append = |bytes| {
            if let Some(j) = s.writer.lock().journal.as_mut() {
                j.fault = Some(bytes);
            }
        };
        fail_next_append(30);
        let err = s.add(block("192.0.2.2", Origin::Manual)).unwrap_err();
        assert!(matches!(err, BlockError::Io(_)), "{err}");
        fail_next_append(5);
        assert!(s.remove(kept.id).is_err());
        let all = Page {
            offset: 0,
            limit: 10,
        };
        let values = |s: &MemoryBlockStore| {
            s.list(&BlockFilter::default(), all)
                .into_iter()
                .map(|d| d.value)
                .collect::<Vec<_>>()
        };
        assert_eq!(values(&s), vec!["192.0.2.1"], "nothing changed in memory");
        s.add(block("192.0.2.3", Origin::Manual)).unwrap();
        drop(s);
        let reopened = MemoryBlockStore::open(Some(&path), clock).unwrap();
        assert_eq!(values(&reopened), vec!["192.0.2.1", "192.0.2.3"]);
    }

    #[test]
    fn a_cursor_older_than_the_change_log_gets_a_resync() {
        let s = MemoryBlockStore::open(None, Arc::new(ManualClock::default()))
            .unwrap()
            .with_change_log(3);
        let a = s.add(block("192.0.2.1", Origin::Manual)).unwrap();
        let cursor = s.changes_since(0).cursor;
        s.remove(a.id).unwrap();
        let b = s.add(block("192.0.2.2", Origin::Manual)).unwrap();
        let c = s.add(block("192.0.2.3", Origin::Manual)).unwrap();
        let within = s.changes_since(cursor);
        assert!(!within.resync);
        assert_eq!(within.deleted, vec![a]);
        let d = s.add(block("192.0.2.4", Origin::Manual)).unwrap();
        let past = s.changes_since(cursor);
        assert!(past.resync, "the deletion fell out of the log");
        assert_eq!(past.new, vec![b, c, d]);
        assert!(past.deleted.is_empty());
    }

    #[test]
    fn metrics_follow_active_decisions_and_count_manual_and_list_bans() {
        let registry = Registry::new();
        let metrics = StateMetrics::register(&registry).unwrap();
        let s = MemoryBlockStore::open(None, Arc::new(ManualClock::default()))
            .unwrap()
            .with_metrics(metrics);
        let a = s.add(block("192.0.2.1", Origin::Manual)).unwrap();
        s.add(block("192.0.2.0/24", Origin::List)).unwrap();
        s.add(block("client:x", Origin::Anomaly)).unwrap();
        s.remove(a.id).unwrap();
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        assert!(text.contains("execgate_active_decisions 2"), "{text}");
        assert!(
            text.contains("execgate_bans_total{reason=\"manual\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("execgate_bans_total{reason=\"list\"} 1"),
            "{text}"
        );
        assert!(
            !text.contains("reason=\"anomaly\""),
            "anomaly bans are counted by reputation"
        );
        let key = ClientKey::from_client_id("x");
        let q = BlockQuery {
            ip: "198.51.100.1".parse().unwrap(),
            client: &key,
            country: None,
            asn: None,
        };
        assert_eq!(s.check(&q).map(|d| d.scope), Some(Scope::Client));
    }
}
