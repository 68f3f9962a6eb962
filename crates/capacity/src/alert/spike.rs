//! Counts refusals per UTC minute and says when a minute's count reaches the
//! threshold — once per minute, however many more follow. Two atomics: a
//! refusal flood must not queue behind a lock.

use std::sync::atomic::{AtomicU64, Ordering};

const MINUTE_MS: u64 = 60_000;

/// Refusals of the current minute.
#[derive(Debug)]
pub struct SpikeCounter {
    threshold: u64,
    /// The minute counted (Unix ms / 60 000).
    minute: AtomicU64,
    count: AtomicU64,
}

impl SpikeCounter {
    /// A counter that fires at `threshold` refusals in a minute (at least 1).
    pub fn new(threshold: u64) -> Self {
        Self {
            threshold: threshold.max(1),
            minute: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// The threshold.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// Counts one refusal at `now_ms`; the minute's start (Unix ms) when this
    /// one reached the threshold.
    pub fn refused(&self, now_ms: u64) -> Option<u64> {
        let minute = now_ms / MINUTE_MS;
        let seen = self.minute.load(Ordering::Acquire);
        if minute > seen
            && self
                .minute
                .compare_exchange(seen, minute, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // A refusal counted between the swap and this store lands in the
            // old minute's count and is lost: a miscount of a few at a minute's
            // edge, against a threshold meant to be far from the usual rate.
            self.count.store(0, Ordering::Release);
        }
        let count = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        (count == self.threshold).then_some(minute * MINUTE_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_minute_at_the_threshold() {
        let s = SpikeCounter::new(3);
        let t = 10 * MINUTE_MS;
        assert_eq!(s.refused(t), None);
        assert_eq!(s.refused(t + 1), None);
        assert_eq!(s.refused(t + 2), Some(t));
        assert_eq!(s.refused(t + 3), None, "fired once");
        // A new minute counts afresh.
        assert_eq!(s.refused(t + MINUTE_MS), None);
        assert_eq!(s.refused(t + MINUTE_MS), None);
        assert_eq!(s.refused(t + MINUTE_MS + 5), Some(t + MINUTE_MS));
    }
}
