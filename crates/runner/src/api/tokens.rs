//! Judge0 submission results, kept for a bounded time and a bounded count so
//! that polling clients can read them and memory stays flat: the oldest
//! entries go first when either bound is reached. Time comes from a `Clock`.

use execgate_core::Clock;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The store.
#[derive(Debug)]
pub struct TokenStore {
    inner: Mutex<Inner>,
    retention: Duration,
    max: usize,
    clock: Arc<dyn Clock>,
}

/// What `remove_if` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Removal {
    /// The submission, now forgotten.
    Removed(Value),
    /// Not removed: it is still queued or running.
    Busy(Value),
    /// No such token (never issued, expired or already removed).
    Unknown,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Value>,
    order: VecDeque<(SystemTime, String)>,
}

impl TokenStore {
    /// A store keeping at most `max` results for `retention`.
    pub fn new(retention: Duration, max: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::default(),
            retention,
            max: max.max(1),
            clock,
        }
    }

    /// Adds a new token's submission.
    pub fn insert(&self, token: &str, submission: Value) {
        let now = self.clock.now();
        let mut inner = self.inner.lock();
        self.expire(&mut inner, now);
        while inner.entries.len() >= self.max {
            let Some((_, old)) = inner.order.pop_front() else {
                break;
            };
            inner.entries.remove(&old);
        }
        inner.entries.insert(token.to_string(), submission);
        inner.order.push_back((now, token.to_string()));
    }

    /// Replaces a token's submission if it is still kept.
    pub fn update(&self, token: &str, submission: Value) {
        let mut inner = self.inner.lock();
        if let Some(slot) = inner.entries.get_mut(token) {
            *slot = submission;
        }
    }

    /// A token's submission, if still kept.
    pub fn get(&self, token: &str) -> Option<Value> {
        let now = self.clock.now();
        let mut inner = self.inner.lock();
        self.expire(&mut inner, now);
        inner.entries.get(token).cloned()
    }

    /// Removes a token's submission if it is still kept, and returns it; `in_flight`
    /// says which submissions may not be removed yet (they are left in place).
    pub fn remove_if(&self, token: &str, in_flight: impl Fn(&Value) -> bool) -> Removal {
        let now = self.clock.now();
        let mut inner = self.inner.lock();
        self.expire(&mut inner, now);
        match inner.entries.get(token) {
            None => Removal::Unknown,
            Some(record) if in_flight(record) => Removal::Busy(record.clone()),
            Some(_) => {
                let record = inner.entries.remove(token).unwrap_or_default();
                inner.order.retain(|(_, t)| t != token);
                Removal::Removed(record)
            }
        }
    }

    /// How many results are kept.
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expire(&self, inner: &mut Inner, now: SystemTime) {
        while let Some((at, _)) = inner.order.front() {
            let age = now.duration_since(*at).unwrap_or_default();
            if age <= self.retention {
                break;
            }
            if let Some((_, token)) = inner.order.pop_front() {
                inner.entries.remove(&token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use execgate_core::ManualClock;
    use serde_json::json;

    #[test]
    fn results_expire_after_retention() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
        let store = TokenStore::new(Duration::from_secs(60), 10, Arc::new(clock.clone()));
        store.insert("a", json!(1));
        clock.advance(Duration::from_secs(59));
        assert_eq!(store.get("a"), Some(json!(1)));
        clock.advance(Duration::from_secs(2));
        assert_eq!(store.get("a"), None);
        assert!(store.is_empty());
    }

    #[test]
    fn count_is_bounded_oldest_first() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
        let store = TokenStore::new(Duration::from_secs(60), 2, Arc::new(clock));
        store.insert("a", json!(1));
        store.insert("b", json!(2));
        store.insert("c", json!(3));
        assert_eq!(store.len(), 2);
        assert_eq!(store.get("a"), None);
        assert_eq!(store.get("c"), Some(json!(3)));
        store.update("b", json!(22));
        assert_eq!(store.get("b"), Some(json!(22)));
    }
}
