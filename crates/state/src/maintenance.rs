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
            let (blocks, limiter) = (blocks.clone(), limiter.clone());
            // A snapshot of a large store takes a while to write: off the async workers.
            let upkeep = tokio::task::spawn_blocking(move || {
                let purged = blocks.purge_expired();
                blocks.compact_if_due();
                let evicted = limiter.as_ref().map_or(0, |l| l.evict_idle());
                (purged, evicted)
            });
            match upkeep.await {
                Ok((purged, evicted)) if purged + evicted > 0 => {
                    tracing::debug!(purged, evicted, "state maintenance");
                }
                Ok(_) => {}
                Err(e) => tracing::error!("state maintenance failed: {e}"),
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
        limiter.check(
            &TierName::anonymous(),
            &ClientKey::from_client_id("a"),
            &w,
            NonZeroU32::MIN,
        );
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

    /// The snapshot of a long journal is written by upkeep, not by a request.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upkeep_writes_the_snapshot_of_a_long_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let clock = ManualClock::default();
        let blocks = Arc::new(MemoryBlockStore::open(Some(&path), Arc::new(clock)).unwrap());
        let batch: Vec<NewBlock> = (0..10_000u32)
            .map(|i| NewBlock {
                value: format!("client:c{i}"),
                duration: None,
                reason: "t".into(),
                origin: Origin::Manual,
                created_by: "t".into(),
            })
            .collect();
        blocks.add_batch(batch).unwrap();
        let journal = dir.path().join("blocks.json.journal");
        let journal_len = || std::fs::metadata(&journal).unwrap().len();
        assert!(journal_len() > 100_000, "the request wrote no snapshot");
        let task = spawn_maintenance(blocks.clone(), None, Duration::from_millis(10));
        let mut compacted = false;
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if journal_len() == 0 {
                compacted = true;
                break;
            }
        }
        task.abort();
        assert!(compacted, "upkeep emptied the journal into the snapshot");
        let reopened = MemoryBlockStore::open(Some(&path), Arc::new(ManualClock::default()));
        assert_eq!(reopened.unwrap().len(), 10_000);
    }
}
