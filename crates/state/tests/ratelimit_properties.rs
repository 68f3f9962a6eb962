//! Properties of the limiters over random request timings (GCRA, the
//! algorithm of governor): a burst of at most `quota` at once, at most
//! `(k + 1) × quota` in any span of `k` periods, and a refusal changes nothing.
//! Each property runs on the memory limiter, a real redis-server and a
//! 3-master Redis Cluster.

use execgate_core::{ClientKey, ManualClock, TierName};
use execgate_state::{MemoryRateLimiter, RateLimiter, WindowSpec};
use proptest::prelude::*;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/redis.rs"]
mod redis_support;

type LimiterFactory = fn(ManualClock) -> Arc<dyn RateLimiter>;

fn memory(clock: ManualClock) -> Arc<dyn RateLimiter> {
    Arc::new(MemoryRateLimiter::new(Arc::new(clock), 10))
}

/// Sends one request after each gap; (time, allowed) per request.
fn run(make: LimiterFactory, quota: u32, period_ms: u64, gaps_ms: &[u64]) -> Vec<(u64, bool)> {
    let clock = ManualClock::default();
    let limiter = make(clock.clone());
    let window = [WindowSpec::new(
        "w",
        NonZeroU32::new(quota).unwrap(),
        Duration::from_millis(period_ms),
    )];
    let key = ClientKey::from_client_id("p");
    let mut t = 0;
    let mut log = Vec::new();
    for gap in gaps_ms {
        clock.advance(Duration::from_millis(*gap));
        t += gap;
        let before = limiter.usage(&key);
        let decision = limiter.check(&TierName::anonymous(), &key, &window, NonZeroU32::MIN);
        if !decision.is_allowed() {
            assert_eq!(limiter.usage(&key), before, "a refusal changed the window");
        }
        log.push((t, decision.is_allowed()));
    }
    log
}

/// Both properties for one limiter factory.
macro_rules! properties {
    ($module:ident, $factory:expr, $cases:expr) => {
        mod $module {
            use super::*;

            proptest! {
                #![proptest_config(ProptestConfig::with_cases($cases))]

                #[test]
                fn bursts_and_long_run_rates_stay_within_the_quota(
                    quota in 1u32..20,
                    period_ms in 100u64..10_000,
                    gaps_ms in prop::collection::vec(prop_oneof![Just(0u64), 0u64..50, 0u64..2_000], 1..300),
                ) {
                    let log = run($factory, quota, period_ms, &gaps_ms);
                    let allowed: Vec<u64> = log.iter().filter(|(_, ok)| *ok).map(|(t, _)| *t).collect();
                    for (i, &start) in allowed.iter().enumerate() {
                        let at_once = allowed[i..].iter().take_while(|&&t| t == start).count();
                        prop_assert!(at_once <= quota as usize, "{at_once} at one instant");
                        for k in 1..=3u64 {
                            let span = allowed[i..].iter().take_while(|&&t| t < start + k * period_ms).count();
                            prop_assert!(span as u64 <= (k + 1) * u64::from(quota), "{span} in {k} periods");
                        }
                    }
                }

                #[test]
                fn a_client_that_waits_a_full_period_gets_the_whole_quota_back(
                    quota in 1u32..20,
                    period_ms in 100u64..10_000,
                    gaps_ms in prop::collection::vec(0u64..500, 1..100),
                ) {
                    let mut gaps = gaps_ms.clone();
                    gaps.push(period_ms);
                    gaps.extend(std::iter::repeat_n(0, quota as usize - 1));
                    let log = run($factory, quota, period_ms, &gaps);
                    let tail = &log[log.len() - quota as usize..];
                    prop_assert!(tail.iter().all(|(_, ok)| *ok), "quota not restored: {tail:?}");
                }
            }
        }
    };
}

properties!(memory_limiter, memory, 256);
// Fewer cases over the network: each case is up to 600 round trips.
properties!(redis_limiter, redis_support::standalone_limiter, 64);
properties!(redis_cluster_limiter, redis_support::cluster_limiter, 32);
