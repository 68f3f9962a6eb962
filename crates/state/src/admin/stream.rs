//! `GET /v1/blocks/stream`: the CrowdSec-style change stream that firewalls
//! and bouncers follow, and the cursor each caller has reached. Callers are
//! remembered in a bounded table; when it is full the least recently seen
//! caller is forgotten, and its next pull is a resync (the complete set).

use super::AdminState;
use super::auth::Caller;
use super::error::ApiError;
use crate::blocklist::{BlockChanges, BlockDecision};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Stream callers remembered at most.
pub const MAX_STREAM_CALLERS: usize = 1024;

/// Query of `GET /v1/blocks/stream`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StreamQuery {
    #[serde(default)]
    startup: bool,
    caller: Option<String>,
    /// The `cursor` of the last answer the follower applied: it then resumes
    /// from there, whatever answers were lost or applied out of order.
    cursor: Option<u64>,
}

/// The response of the stream endpoint (CrowdSec's `new` / `deleted`, plus `resync`).
#[derive(Debug, Serialize)]
pub(super) struct StreamBody {
    /// Decisions added or extended since the last pull (all of them with `resync`).
    new: Vec<BlockDecision>,
    /// Decisions removed or expired since the last pull.
    deleted: Vec<BlockDecision>,
    /// `new` is the complete set of active decisions: drop anything not in
    /// it. True on `startup=true`, for an unknown caller, and when the
    /// caller's cursor is no longer known (restart, change log overflow, evicted caller).
    resync: bool,
    /// Where this answer leaves the follower; sent back as `cursor=`, the
    /// next pull resumes from it.
    cursor: u64,
}

/// Each stream caller's cursor, least recently seen forgotten first.
#[derive(Debug)]
pub struct StreamCursors {
    callers: Mutex<Callers>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Callers {
    /// Cursor and last-seen tick by caller.
    by_name: HashMap<String, (u64, u64)>,
    /// Callers by last-seen tick, oldest first.
    by_tick: BTreeMap<u64, String>,
    tick: u64,
    /// Pulls in flight by caller, and whether two of them overlapped since
    /// none was in flight.
    in_flight: HashMap<String, (u32, bool)>,
}

impl Callers {
    /// Ends one pull of `caller`; whether another of its pulls overlapped it.
    fn land(&mut self, caller: &str) -> bool {
        let flight = self.in_flight.get_mut(caller).map(|flight| {
            flight.0 = flight.0.saturating_sub(1);
            *flight
        });
        match flight {
            Some((0, overlapped)) => {
                self.in_flight.remove(caller);
                overlapped
            }
            Some((_, overlapped)) => overlapped,
            None => false,
        }
    }
}

impl Default for StreamCursors {
    fn default() -> Self {
        Self::new(MAX_STREAM_CALLERS)
    }
}

impl StreamCursors {
    /// A table of at most `capacity` callers (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            callers: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// Runs `pull` from `caller`'s cursor (0 when unknown or on `startup`)
    /// and keeps the cursor it returns; the caller becomes the most recently seen.
    ///
    /// The table is not locked during `pull` (a resync copies every decision),
    /// so callers do not queue behind each other. If pulls of the same caller
    /// overlap, the follower may apply their answers in any order, so no
    /// cursor is right: the caller is forgotten and its next pull is a resync.
    pub fn advance(
        &self,
        caller: &str,
        startup: bool,
        pull: impl FnOnce(u64) -> BlockChanges,
    ) -> BlockChanges {
        self.advance_from(caller, startup, None, pull)
    }

    /// `advance`, resuming from `given` (the cursor of the last answer the
    /// follower applied) instead of the stored cursor when there is one.
    pub fn advance_from(
        &self,
        caller: &str,
        startup: bool,
        given: Option<u64>,
        pull: impl FnOnce(u64) -> BlockChanges,
    ) -> BlockChanges {
        let cursor = {
            let mut callers = self.callers.lock();
            let flight = callers
                .in_flight
                .entry(caller.to_string())
                .or_insert((0, false));
            flight.0 += 1;
            flight.1 |= flight.0 > 1;
            match (given, callers.by_name.get(caller)) {
                _ if startup => 0,
                (Some(given), _) => given,
                (None, Some(&(cursor, _))) => cursor,
                (None, None) => 0,
            }
        };
        // A pull that panics must still land, or the caller would count as
        // overlapped (and resync) forever.
        let changes = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pull(cursor)))
        {
            Ok(changes) => changes,
            Err(panic) => {
                self.callers.lock().land(caller);
                std::panic::resume_unwind(panic)
            }
        };
        let mut callers = self.callers.lock();
        let overlapped = callers.land(caller);
        if let Some((_, tick)) = callers.by_name.remove(caller) {
            callers.by_tick.remove(&tick);
        }
        if overlapped {
            return changes;
        }
        while callers.by_name.len() >= self.capacity {
            let Some((_, oldest)) = callers.by_tick.pop_first() else {
                break;
            };
            callers.by_name.remove(&oldest);
        }
        callers.tick += 1;
        let tick = callers.tick;
        callers.by_tick.insert(tick, caller.to_string());
        callers
            .by_name
            .insert(caller.to_string(), (changes.cursor, tick));
        changes
    }

    /// Callers remembered.
    pub fn len(&self) -> usize {
        self.callers.lock().by_name.len()
    }

    /// Whether no caller is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `GET /v1/blocks/stream?startup=true&caller=NAME`: every active decision on
/// start-up (or for an unknown caller), then only what changed since that
/// caller's last pull. Callers are told apart by token and `caller`.
pub(super) async fn pull(
    State(state): State<AdminState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Json<StreamBody>, ApiError> {
    let Query(query) = query?;
    let name = query.caller.as_deref().unwrap_or("");
    if name.len() > 64 || name.chars().any(|c| !c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "caller: at most 64 printable ASCII characters",
        ));
    }
    let id = cursor_id(&caller.0, name);
    // A resync copies every active decision: off the async workers.
    let changes = tokio::task::spawn_blocking(move || {
        state
            .cursors
            .advance_from(&id, query.startup, query.cursor, |cursor| {
                state.blocks.changes_since(cursor)
            })
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("stream pull failed: {e}"),
        )
    })?;
    Ok(Json(StreamBody {
        new: changes.new,
        deleted: changes.deleted,
        resync: changes.resync,
        cursor: changes.cursor,
    }))
}

/// The cursor key of a (token, caller) pair, length-prefixed: a token's name
/// (a file path and line) may itself hold a '/', and no two pairs may share a
/// cursor.
fn cursor_id(token: &str, caller: &str) -> String {
    format!("{}:{token}/{caller}", token.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pulls of one caller overlapping: whichever answer the follower
    /// applies last, its next pull must put it right, so it is a resync.
    #[test]
    fn overlapping_pulls_of_one_caller_end_in_a_resync() {
        let cursors = StreamCursors::new(4);
        assert!(cursors.advance("f", false, step).resync);
        assert!(!cursors.advance("f", false, step).resync, "f is followed");
        for startup in [true, false] {
            cursors.advance("f", startup, |cursor| {
                let inner = cursors.advance("f", false, step);
                assert!(!inner.resync, "the inner pull finds f's cursor");
                step(cursor)
            });
            assert!(
                cursors.advance("f", false, step).resync,
                "startup {startup}: the next pull resyncs"
            );
            assert!(!cursors.advance("f", false, step).resync);
        }
    }

    /// Three first pulls of one caller, overlapping in a chain (A ⊃ B, A ⊃ C,
    /// C ⊃ … ends after B): no cursor survives, however the caller's entry
    /// came and went meanwhile.
    #[test]
    fn a_chain_of_overlapping_first_pulls_ends_in_a_resync() {
        let cursors = StreamCursors::new(4);
        cursors.advance("f", false, |a| {
            cursors.advance("f", false, |c| {
                cursors.advance("f", false, step);
                step(c)
            });
            step(a)
        });
        assert!(cursors.advance("f", false, step).resync);
        assert!(!cursors.advance("f", false, step).resync, "followed again");
    }

    /// Two overlapping first pulls while the caller is evicted meanwhile.
    #[test]
    fn overlapping_first_pulls_with_an_eviction_end_in_a_resync() {
        let cursors = StreamCursors::new(1);
        cursors.advance("f", false, |a| {
            cursors.advance("f", false, step);
            cursors.advance("other", false, step);
            step(a)
        });
        assert!(cursors.advance("f", false, step).resync);
    }

    /// A pull runs with the table unlocked: another caller's pull (here, one
    /// made from inside it) is not held up, and both cursors are kept.
    #[test]
    fn one_callers_pull_does_not_hold_up_another() {
        let cursors = StreamCursors::new(4);
        let outer = cursors.advance("slow", false, |cursor| {
            let inner = cursors.advance("fast", false, step);
            assert!(inner.resync, "the other caller was served meanwhile");
            step(cursor)
        });
        assert!(outer.resync);
        assert_eq!(cursors.len(), 2);
        assert!(
            !cursors.advance("slow", false, step).resync,
            "slow's cursor kept"
        );
        assert!(
            !cursors.advance("fast", false, step).resync,
            "fast's cursor kept"
        );
    }

    /// A pull that panics still lands: the caller is not taken for overlapped
    /// ever after.
    #[test]
    fn a_pull_that_panics_leaves_no_pull_in_flight() {
        let cursors = StreamCursors::new(4);
        assert!(cursors.advance("f", false, step).resync);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cursors.advance("f", false, |_| panic!("pull failed"))
        }));
        assert!(panicked.is_err());
        assert!(cursors.callers.lock().in_flight.is_empty());
        assert!(
            !cursors.advance("f", false, step).resync,
            "f is still followed"
        );
    }

    #[test]
    fn no_two_tokens_and_callers_share_a_cursor() {
        // Token names are `PATH:LINE`; a path may hold ':' and '/'.
        let a = cursor_id("/etc/t:1", "x:2/");
        let b = cursor_id("/etc/t:1/x:2", "");
        assert_ne!(a, b);
        assert_eq!(cursor_id("/etc/t:1", "fw"), cursor_id("/etc/t:1", "fw"));
    }

    /// A pull that answers `cursor + 1`, marking a resync for cursor 0.
    fn step(cursor: u64) -> BlockChanges {
        BlockChanges {
            cursor: cursor + 1,
            resync: cursor == 0,
            ..BlockChanges::default()
        }
    }

    #[test]
    fn the_least_recently_seen_caller_is_forgotten_first() {
        let cursors = StreamCursors::new(2);
        assert!(cursors.advance("a", false, step).resync);
        assert!(cursors.advance("b", false, step).resync);
        assert!(!cursors.advance("a", false, step).resync, "a is known");
        assert!(cursors.advance("c", false, step).resync);
        assert_eq!(cursors.len(), 2);
        assert!(
            !cursors.advance("a", false, step).resync,
            "a was seen after b"
        );
        assert!(cursors.advance("b", false, step).resync, "b was forgotten");
        assert!(
            cursors.advance("a", true, step).resync,
            "startup restarts a"
        );
        assert_eq!(cursors.len(), 2);
    }
}
