//! The in-memory limiter: GCRA (the algorithm behind governor) per window, keys
//! sharded over a few mutexes, idle keys evicted so memory stays bounded.
//!
//! GCRA keeps one "theoretical arrival time" (TAT) per window instead of a log
//! of requests: a request is allowed when `TAT - now + T <= period`, where
//! `T = period / quota` is the time one unit takes to come back.

use super::{RateDecision, RateLimiter, WindowSpec, WindowState};
use crate::metrics::StateMetrics;
use execgate_core::{ClientKey, Clock, TierName};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// Keys are spread over this many locks once the limiter is large enough.
const SHARDS: usize = 32;
/// Keys looked at to choose one to evict from a full shard.
const EVICTION_SAMPLE: usize = 16;

/// The memory implementation of [`RateLimiter`].
#[derive(Debug)]
pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    shards: Vec<Mutex<HashMap<ClientKey, Entry>>>,
    per_shard: usize,
    hasher: RandomState,
    metrics: Option<StateMetrics>,
}

/// One client's windows.
#[derive(Debug)]
struct Entry {
    cells: Vec<Cell>,
}

/// One window of one client: its spec and its theoretical arrival time.
#[derive(Debug)]
struct Cell {
    spec: WindowSpec,
    tat_ns: u64,
}

impl Entry {
    /// When every window is full again: the entry carries no information after that.
    fn idle_at(&self) -> u64 {
        self.cells.iter().map(|c| c.tat_ns).max().unwrap_or(0)
    }
}

/// GCRA arithmetic for one window, in ticks of `tick_ns` nanoseconds (the
/// memory limiter counts in nanoseconds, the Redis script in microseconds).
pub(super) struct Gcra {
    unit: u64,
    limit: u64,
    quota: u32,
    tick_ns: u64,
}

impl Gcra {
    fn of(spec: &WindowSpec) -> Self {
        Self::in_ticks(spec, 1)
    }

    /// The window counted in ticks of `tick_ns` nanoseconds.
    pub(super) fn in_ticks(spec: &WindowSpec, tick_ns: u64) -> Self {
        let quota = spec.quota.get();
        let period =
            u64::try_from(spec.period.as_nanos() / u128::from(tick_ns.max(1))).unwrap_or(u64::MAX);
        let unit = (period / u64::from(quota)).max(1);
        Self {
            unit,
            limit: unit.saturating_mul(u64::from(quota)),
            quota,
            tick_ns: tick_ns.max(1),
        }
    }

    /// How long until `cost` more units are free, given the backlog `d = TAT - now`.
    fn wait(&self, d: u64, cost: u64) -> u64 {
        d.saturating_add(self.unit.saturating_mul(cost))
            .saturating_sub(self.limit)
    }

    /// The client's standing in this window with backlog `d`.
    pub(super) fn state(&self, spec: &WindowSpec, d: u64) -> WindowState {
        let remaining = (self.limit.saturating_sub(d) / self.unit).min(u64::from(self.quota));
        let reset_after = if remaining >= u64::from(self.quota) {
            0
        } else {
            (d + (remaining + 1) * self.unit).saturating_sub(self.limit)
        };
        WindowState {
            name: spec.name.clone(),
            quota: self.quota,
            period: spec.period,
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset_after: Duration::from_nanos(reset_after.saturating_mul(self.tick_ns)),
        }
    }
}

impl MemoryRateLimiter {
    /// A limiter reading time from `clock` and keeping at most `max_keys` clients.
    pub fn new(clock: Arc<dyn Clock>, max_keys: usize) -> Self {
        let max_keys = max_keys.max(1);
        let shards = if max_keys < 1024 { 1 } else { SHARDS };
        Self {
            clock,
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max_keys.div_ceil(shards),
            hasher: RandomState::new(),
            metrics: None,
        }
    }

    /// Counts refusals by window in `metrics`.
    pub fn with_metrics(mut self, metrics: StateMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Clients currently remembered.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no client is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every client whose windows are all full again; returns how many.
    pub fn evict_idle(&self) -> usize {
        let now = self.now_ns();
        self.shards
            .iter()
            .map(|s| {
                let mut map = s.lock();
                let before = map.len();
                map.retain(|_, e| e.idle_at() > now);
                before - map.len()
            })
            .sum()
    }

    fn now_ns(&self) -> u64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn shard(&self, key: &ClientKey) -> &Mutex<HashMap<ClientKey, Entry>> {
        let index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        &self.shards[index]
    }

    /// Makes room for one more key in a full shard, in constant time (like
    /// Redis's approximated LRU): among a sample of keys, the idle ones go,
    /// or else the one closest to idle. A flood of fresh keys thus mostly
    /// evicts its own kind and never costs a scan of the whole shard.
    fn make_room(&self, map: &mut HashMap<ClientKey, Entry>, now: u64) {
        while map.len() >= self.per_shard {
            let sample: Vec<(ClientKey, u64)> = map
                .iter()
                .take(EVICTION_SAMPLE)
                .map(|(k, e)| (k.clone(), e.idle_at()))
                .collect();
            let idle: Vec<&ClientKey> = sample
                .iter()
                .filter(|(_, at)| *at <= now)
                .map(|(k, _)| k)
                .collect();
            let victims = if idle.is_empty() {
                sample
                    .iter()
                    .min_by_key(|(_, at)| *at)
                    .map(|(k, _)| k)
                    .into_iter()
                    .collect()
            } else {
                idle
            };
            if victims.is_empty() {
                return;
            }
            for key in victims {
                map.remove(key);
            }
        }
    }
}

/// Brings an entry's cells in line with the tier's current windows, keeping
/// the arrival time of windows that keep their name.
fn align(entry: &mut Entry, windows: &[WindowSpec]) {
    let same = entry.cells.len() == windows.len()
        && entry.cells.iter().zip(windows).all(|(c, w)| c.spec == *w);
    if same {
        return;
    }
    let old = std::mem::take(&mut entry.cells);
    entry.cells = windows
        .iter()
        .map(|w| Cell {
            spec: w.clone(),
            tat_ns: old
                .iter()
                .find(|c| c.spec.name == w.name)
                .map_or(0, |c| c.tat_ns),
        })
        .collect();
}

/// Decides all cells at `now`: takes `cost` units from each, or from none.
fn decide(entry: &mut Entry, now: u64, cost: u64) -> RateDecision {
    let mut refusal: Option<(usize, u64)> = None;
    for (i, cell) in entry.cells.iter().enumerate() {
        let gcra = Gcra::of(&cell.spec);
        let wait = gcra.wait(cell.tat_ns.saturating_sub(now), cost);
        if wait > 0 && refusal.is_none_or(|(_, w)| wait > w) {
            refusal = Some((i, wait));
        }
    }
    if let Some((i, wait)) = refusal {
        return RateDecision::Limited {
            window: entry.cells[i].spec.name.clone(),
            retry_after: Duration::from_nanos(wait),
            windows: states(entry, now),
        };
    }
    for cell in &mut entry.cells {
        let gcra = Gcra::of(&cell.spec);
        cell.tat_ns = cell
            .tat_ns
            .max(now)
            .saturating_add(gcra.unit.saturating_mul(cost));
    }
    RateDecision::Allowed {
        windows: states(entry, now),
    }
}

fn states(entry: &Entry, now: u64) -> Vec<WindowState> {
    entry
        .cells
        .iter()
        .map(|c| Gcra::of(&c.spec).state(&c.spec, c.tat_ns.saturating_sub(now)))
        .collect()
}

impl RateLimiter for MemoryRateLimiter {
    fn check(
        &self,
        _tier: &TierName,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
    ) -> RateDecision {
        let now = self.now_ns();
        let decision = {
            let mut map = self.shard(key).lock();
            if !map.contains_key(key) {
                self.make_room(&mut map, now);
            }
            let entry = map
                .entry(key.clone())
                .or_insert_with(|| Entry { cells: Vec::new() });
            align(entry, windows);
            decide(entry, now, u64::from(cost.get()))
        };
        if let (Some(metrics), RateDecision::Limited { window, .. }) = (&self.metrics, &decision) {
            metrics.rate_limited(window);
        }
        decision
    }

    fn usage(&self, key: &ClientKey) -> Vec<WindowState> {
        let now = self.now_ns();
        self.shard(key)
            .lock()
            .get(key)
            .map(|e| states(e, now))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use execgate_core::ManualClock;
    use std::num::NonZeroU32;

    fn spec(name: &str, quota: u32, secs: u64) -> WindowSpec {
        WindowSpec::new(
            name,
            NonZeroU32::new(quota).unwrap(),
            Duration::from_secs(secs),
        )
    }

    #[test]
    fn idle_keys_are_evicted_and_memory_stays_bounded() {
        let clock = ManualClock::default();
        let limiter = MemoryRateLimiter::new(Arc::new(clock.clone()), 10);
        let windows = [spec("burst", 3, 10)];
        for i in 0..50 {
            let key = ClientKey::from_client_id(&format!("c{i}"));
            limiter.check(&TierName::anonymous(), &key, &windows, NonZeroU32::MIN);
            assert!(limiter.len() <= 10, "{} keys kept", limiter.len());
        }
        clock.advance(Duration::from_secs(11));
        assert_eq!(limiter.evict_idle(), 10);
        assert!(limiter.is_empty());
    }

    #[test]
    fn a_full_limiter_evicts_the_key_closest_to_idle() {
        let clock = ManualClock::default();
        let limiter = MemoryRateLimiter::new(Arc::new(clock.clone()), 2);
        let busy = ClientKey::from_client_id("busy");
        let windows = [spec("burst", 3, 10)];
        for _ in 0..3 {
            limiter.check(&TierName::anonymous(), &busy, &windows, NonZeroU32::MIN);
        }
        limiter.check(
            &TierName::anonymous(),
            &ClientKey::from_client_id("a"),
            &windows,
            NonZeroU32::MIN,
        );
        limiter.check(
            &TierName::anonymous(),
            &ClientKey::from_client_id("b"),
            &windows,
            NonZeroU32::MIN,
        );
        assert_eq!(limiter.usage(&busy)[0].remaining, 0, "busy key kept");
        assert!(limiter.usage(&ClientKey::from_client_id("a")).is_empty());
    }

    #[test]
    fn a_flood_of_fresh_keys_cannot_evict_an_exhausted_client() {
        let clock = ManualClock::default();
        let limiter = MemoryRateLimiter::new(Arc::new(clock.clone()), 100);
        let windows = [spec("daily", 50, 86_400)];
        let attacker = ClientKey::from_client_id("attacker");
        while limiter
            .check(&TierName::anonymous(), &attacker, &windows, NonZeroU32::MIN)
            .is_allowed()
        {}
        for i in 0..10_000 {
            let key = ClientKey::from_ip(format!("2001:db8:{i:x}::1").parse().unwrap(), 64);
            limiter.check(&TierName::anonymous(), &key, &windows, NonZeroU32::MIN);
            assert!(limiter.len() <= 100);
        }
        let d = limiter.check(&TierName::anonymous(), &attacker, &windows, NonZeroU32::MIN);
        assert!(!d.is_allowed(), "the exhausted key was forgotten: {d:?}");
    }

    #[test]
    fn changing_a_tier_keeps_the_windows_that_keep_their_name() {
        let clock = ManualClock::default();
        let limiter = MemoryRateLimiter::new(Arc::new(clock), 10);
        let key = ClientKey::from_client_id("x");
        limiter.check(
            &TierName::anonymous(),
            &key,
            &[spec("burst", 3, 10)],
            NonZeroU32::MIN,
        );
        let d = limiter.check(
            &TierName("free".into()),
            &key,
            &[spec("burst", 5, 10), spec("daily", 9, 86400)],
            NonZeroU32::MIN,
        );
        let w = d.windows();
        assert_eq!((w[0].quota, w[0].remaining), (5, 2));
        assert_eq!((w[1].quota, w[1].remaining), (9, 8));
    }
}

#[cfg(test)]
mod metrics_tests {
    use super::*;
    use execgate_core::ManualClock;
    use std::num::NonZeroU32;

    #[test]
    fn refusals_are_counted_by_window() {
        let registry = prometheus::Registry::new();
        let metrics = StateMetrics::register(&registry).unwrap();
        let limiter =
            MemoryRateLimiter::new(Arc::new(ManualClock::default()), 10).with_metrics(metrics);
        let w = [WindowSpec::new(
            "burst",
            NonZeroU32::new(1).unwrap(),
            Duration::from_secs(10),
        )];
        let key = ClientKey::from_client_id("a");
        for _ in 0..3 {
            limiter.check(&TierName::anonymous(), &key, &w, NonZeroU32::MIN);
        }
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        assert!(
            text.contains("execgate_rate_limit_refusals_total{window=\"burst\"} 2"),
            "{text}"
        );
    }
}
