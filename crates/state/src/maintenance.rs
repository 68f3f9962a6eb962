//! Background upkeep: expired decisions leave the blocklist (and reach stream
//! consumers as deletions) and idle rate-limit keys are forgotten, even when
//! no request or stream pull triggers it.

use crate::blocklist::BlockStore;
use crate::ratelimit::MemoryRateLimiter;
use std::sync::Arc;
use std::time::Duration;

/// Runs `purge_expired` and `evict_idle` every `every` on the current Tokio runtime.
pub fn spawn_maintenance(
    blocks: Arc<dyn BlockStore>,
    limiter: Option<Arc<MemoryRateLimiter>>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let purged = blocks.purge_expired();
            let evicted = limiter.as_ref().map_or(0, |l| l.evict_idle());
            if purged + evicted > 0 {
                tracing::debug!(purged, evicted, "state maintenance");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::{MemoryBlockStore, NewBlock, Origin};
    use crate::ratelimit::{RateLimiter, WindowSpec};
    use execgate_core::{ClientKey, ManualClock, TierName};
    use std::num::NonZeroU32;

    #[tokio::test]
    async fn expired_decisions_and_idle_keys_are_cleaned_up_in_the_background() {
        let clock = ManualClock::default();
        let blocks = Arc::new(MemoryBlockStore::open(None, Arc::new(clock.clone())).unwrap());
        let limiter = Arc::new(MemoryRateLimiter::new(Arc::new(clock.clone()), 10));
        let block = NewBlock {
            value: "192.0.2.1".into(),
            duration: Some(Duration::from_secs(60)),
            reason: "t".into(),
            origin: Origin::Manual,
            created_by: "t".into(),
        };
        blocks.add(block).unwrap();
        let w = [WindowSpec::new(
            "burst",
            NonZeroU32::new(3).unwrap(),
            Duration::from_secs(10),
        )];
        limiter.check(&TierName::anonymous(), &ClientKey::from_client_id("a"), &w);
        let task = spawn_maintenance(
            blocks.clone(),
            Some(limiter.clone()),
            Duration::from_millis(10),
        );
        clock.advance(Duration::from_secs(61));
        let mut clean = false;
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if limiter.is_empty() {
                clean = true;
                break;
            }
        }
        task.abort();
        assert!(clean, "the eviction ran");
        assert_eq!(
            blocks.purge_expired(),
            0,
            "the task already purged the expired decision"
        );
    }
}
