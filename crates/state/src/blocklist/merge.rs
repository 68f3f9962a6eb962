//! One active decision per value. Adding a value that is already blocked
//! folds into its decision instead of making a second one, which a single
//! delete would not lift: the decision keeps its id and `created_at` and takes
//! the later of the two expiries (no expiry is the latest). The add that
//! extends it also replaces its reason, origin and author, since the block now
//! lasts because of that add; an add that does not extend it changes nothing.

use super::{BlockDecision, Target};
use std::collections::HashMap;
use std::time::SystemTime;

/// What a batch did to one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// A new decision.
    Created,
    /// An active decision now lasts longer.
    Extended,
    /// An active decision already lasted at least as long.
    Unchanged,
}

/// A decision a batch touches, in its state after the batch.
#[derive(Debug)]
pub(super) struct Touched {
    pub(super) decision: BlockDecision,
    pub(super) target: Target,
    pub(super) outcome: Outcome,
}

/// The effect of a batch, worked out before anything is written.
#[derive(Debug)]
pub(super) struct Plan {
    touched: Vec<Touched>,
    /// For each request of the batch, its decision's index in `touched`.
    replies: Vec<usize>,
    next_id: u64,
}

impl Plan {
    /// Folds `candidates` (decisions to add, ids not yet set) into the active
    /// decisions `held` finds and into each other; new decisions are numbered from `next_id`.
    pub(super) fn new(
        candidates: Vec<(BlockDecision, Target)>,
        held: impl Fn(&Target) -> Option<BlockDecision>,
        mut next_id: u64,
    ) -> Self {
        let mut touched: Vec<Touched> = Vec::new();
        let mut slots: HashMap<Target, usize> = HashMap::new();
        let mut replies = Vec::with_capacity(candidates.len());
        for (candidate, target) in candidates {
            let slot = match slots.get(&target) {
                Some(&slot) => slot,
                None => {
                    let (decision, outcome) = match held(&target) {
                        Some(decision) => (decision, Outcome::Unchanged),
                        None => {
                            let id = next_id;
                            next_id += 1;
                            (
                                BlockDecision {
                                    id,
                                    ..candidate.clone()
                                },
                                Outcome::Created,
                            )
                        }
                    };
                    slots.insert(target.clone(), touched.len());
                    touched.push(Touched {
                        decision,
                        target,
                        outcome,
                    });
                    touched.len() - 1
                }
            };
            let entry = &mut touched[slot];
            if absorb(&mut entry.decision, candidate) && entry.outcome == Outcome::Unchanged {
                entry.outcome = Outcome::Extended;
            }
            replies.push(slot);
        }
        Self {
            touched,
            replies,
            next_id,
        }
    }

    /// Decisions created or extended: what must be journaled and applied.
    pub(super) fn changed(&self) -> impl Iterator<Item = &Touched> {
        self.touched
            .iter()
            .filter(|t| t.outcome != Outcome::Unchanged)
    }

    /// How many new decisions the batch makes.
    pub(super) fn created(&self) -> usize {
        self.touched
            .iter()
            .filter(|t| t.outcome == Outcome::Created)
            .count()
    }

    /// The first id the batch left unused.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The resulting decision of each request, in request order.
    pub(super) fn replies(&self) -> Vec<BlockDecision> {
        self.replies
            .iter()
            .map(|&slot| self.touched[slot].decision.clone())
            .collect()
    }
}

/// Folds `newer` into `held`; whether it extended it.
pub(super) fn absorb(held: &mut BlockDecision, newer: BlockDecision) -> bool {
    if !outlasts(newer.expires_at, held.expires_at) {
        return false;
    }
    held.expires_at = newer.expires_at;
    held.reason = newer.reason;
    held.origin = newer.origin;
    held.created_by = newer.created_by;
    true
}

/// Whether expiry `a` is later than `b` (`None` is never).
fn outlasts(a: Option<SystemTime>, b: Option<SystemTime>) -> bool {
    match (a, b) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(a), Some(b)) => a > b,
    }
}
