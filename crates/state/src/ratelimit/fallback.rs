//! The local limiter a gateway uses while the shared backend is unreachable:
//! governor's keyed GCRA, one limiter per window, each allowing this gateway's
//! share of the quota (with N gateways behind a balancer, a share of 1/N keeps
//! the sum close to the shared quota).
//!
//! governor decides one quota per key, so the windows of a tier are checked
//! one after the other: a refusal by a later window may already have taken a
//! unit from an earlier one. That is the price of a degraded mode; the shared
//! limiter's all-or-nothing decision is the Redis script's.

use super::{RateDecision, WindowSpec, WindowState};
use execgate_core::ClientKey;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Checks between two sweeps of keys whose windows are full again.
const SWEEP_EVERY: u64 = 4096;

type WindowId = (String, u32, Duration);

/// governor limiters per window, keyed by client.
#[derive(Debug)]
pub struct LocalLimiter {
    share: f64,
    limiters: Mutex<HashMap<WindowId, Arc<DefaultKeyedRateLimiter<ClientKey>>>>,
    checks: AtomicU64,
    clock: DefaultClock,
}

impl LocalLimiter {
    /// A limiter allowing `share` ∈ (0, 1] of every quota (at least one request).
    pub fn new(share: f64) -> Self {
        Self {
            share: if share > 0.0 && share <= 1.0 {
                share
            } else {
                1.0
            },
            limiters: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
            clock: DefaultClock::default(),
        }
    }

    /// This gateway's part of `quota`.
    fn local_quota(&self, quota: NonZeroU32) -> NonZeroU32 {
        let part = (f64::from(quota.get()) * self.share).floor() as u32;
        NonZeroU32::new(part).unwrap_or(NonZeroU32::MIN)
    }

    fn limiter(&self, spec: &WindowSpec) -> Arc<DefaultKeyedRateLimiter<ClientKey>> {
        let id = (spec.name.clone(), spec.quota.get(), spec.period);
        let local = self.local_quota(spec.quota);
        self.limiters
            .lock()
            .entry(id)
            .or_insert_with(|| {
                let unit = (spec.period / local.get()).max(Duration::from_nanos(1));
                let quota = Quota::with_period(unit)
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(local);
                Arc::new(DefaultKeyedRateLimiter::keyed(quota))
            })
            .clone()
    }

    /// Takes `cost` units from each window in turn; the first refusal ends the check.
    pub fn check(&self, key: &ClientKey, windows: &[WindowSpec], cost: NonZeroU32) -> RateDecision {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for limiter in self.limiters.lock().values() {
                limiter.retain_recent();
            }
        }
        let states = |refused: Option<(usize, Duration)>| -> Vec<WindowState> {
            windows
                .iter()
                .enumerate()
                .map(|(i, w)| WindowState {
                    name: w.name.clone(),
                    quota: self.local_quota(w.quota).get(),
                    period: w.period,
                    remaining: 0,
                    reset_after: match refused {
                        Some((r, wait)) if r == i => wait,
                        _ => Duration::ZERO,
                    },
                })
                .collect()
        };
        for (i, spec) in windows.iter().enumerate() {
            let refused = match self.limiter(spec).check_key_n(key, cost) {
                Ok(Ok(())) => None,
                Ok(Err(not_until)) => Some(not_until.wait_time_from(self.clock.now())),
                // More than this gateway's share of the window can ever hold.
                Err(_) => Some(spec.period),
            };
            if let Some(wait) = refused {
                return RateDecision::Limited {
                    window: spec.name.clone(),
                    retry_after: wait,
                    windows: states(Some((i, wait))),
                };
            }
        }
        RateDecision::Allowed {
            windows: states(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(quota: u32, secs: u64) -> WindowSpec {
        WindowSpec::new(
            "burst",
            NonZeroU32::new(quota).unwrap(),
            Duration::from_secs(secs),
        )
    }

    #[test]
    fn each_gateway_allows_its_share_of_the_quota() {
        let half = LocalLimiter::new(0.5);
        let key = ClientKey::from_client_id("a");
        let allowed = (0..10)
            .filter(|_| {
                half.check(&key, &[spec(6, 3600)], NonZeroU32::MIN)
                    .is_allowed()
            })
            .count();
        assert_eq!(allowed, 3);
        let d = half.check(&key, &[spec(6, 3600)], NonZeroU32::MIN);
        let RateDecision::Limited {
            retry_after,
            window,
            ..
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(window, "burst");
        assert!(retry_after > Duration::from_secs(60), "{retry_after:?}");
    }

    #[test]
    fn a_tiny_share_still_allows_one_request() {
        let l = LocalLimiter::new(0.01);
        let key = ClientKey::from_client_id("a");
        assert!(l.check(&key, &[spec(3, 60)], NonZeroU32::MIN).is_allowed());
        assert!(!l.check(&key, &[spec(3, 60)], NonZeroU32::MIN).is_allowed());
    }
}
