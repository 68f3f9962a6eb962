//! One contract suite over the `RateLimiter` and `BlockStore` traits. Each
//! check takes a factory, so a Redis implementation runs the same suite by
//! adding its own `#[test]` lines at the bottom.

use execgate_core::{ClientKey, ManualClock, TierName};
use execgate_state::{
    BlockError, BlockFilter, BlockQuery, BlockStore, MemoryBlockStore, MemoryRateLimiter, NewBlock,
    Origin, Page, RateDecision, RateLimiter, Scope, WindowSpec,
};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/redis.rs"]
mod redis_support;

type LimiterFactory = fn(ManualClock) -> Arc<dyn RateLimiter>;
type StoreFactory = fn(ManualClock) -> Arc<dyn BlockStore>;

fn window(name: &str, quota: u32, secs: u64) -> WindowSpec {
    WindowSpec::new(
        name,
        NonZeroU32::new(quota).unwrap(),
        Duration::from_secs(secs),
    )
}

fn tier() -> TierName {
    TierName::anonymous()
}

mod limiter {
    use super::*;

    pub fn quota_then_refusal_with_retry_after(make: LimiterFactory) {
        let clock = ManualClock::default();
        let l = make(clock.clone());
        let key = ClientKey::from_client_id("a");
        let w = [window("burst", 3, 10)];
        for left in [2, 1, 0] {
            let d = l.check(&tier(), &key, &w, NonZeroU32::MIN);
            assert!(d.is_allowed(), "{d:?}");
            assert_eq!(d.windows()[0].remaining, left);
        }
        match l.check(&tier(), &key, &w, NonZeroU32::MIN) {
            RateDecision::Limited {
                window,
                retry_after,
                windows,
            } => {
                assert_eq!(window, "burst");
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(10));
                assert_eq!(windows[0].remaining, 0);
                assert_eq!(windows[0].reset_after, retry_after);
            }
            d => panic!("not limited: {d:?}"),
        }
    }

    pub fn windows_refill_with_time(make: LimiterFactory) {
        let clock = ManualClock::default();
        let l = make(clock.clone());
        let key = ClientKey::from_client_id("a");
        let w = [window("burst", 3, 9)];
        for _ in 0..3 {
            l.check(&tier(), &key, &w, NonZeroU32::MIN);
        }
        let RateDecision::Limited { retry_after, .. } = l.check(&tier(), &key, &w, NonZeroU32::MIN)
        else {
            panic!("expected a refusal")
        };
        clock.advance(retry_after);
        assert!(
            l.check(&tier(), &key, &w, NonZeroU32::MIN).is_allowed(),
            "one unit back after retry_after"
        );
        assert!(!l.check(&tier(), &key, &w, NonZeroU32::MIN).is_allowed());
        clock.advance(Duration::from_secs(9));
        let usage = l.usage(&key);
        assert_eq!(
            (usage[0].remaining, usage[0].reset_after),
            (3, Duration::ZERO)
        );
    }

    pub fn a_refusal_consumes_no_other_window(make: LimiterFactory) {
        let clock = ManualClock::default();
        let l = make(clock.clone());
        let key = ClientKey::from_client_id("a");
        let w = [window("burst", 3, 10), window("hourly", 5, 3600)];
        for _ in 0..3 {
            assert!(l.check(&tier(), &key, &w, NonZeroU32::MIN).is_allowed());
        }
        for _ in 0..10 {
            let d = l.check(&tier(), &key, &w, NonZeroU32::MIN);
            assert!(
                matches!(&d, RateDecision::Limited { window, .. } if window == "burst"),
                "{d:?}"
            );
        }
        assert_eq!(
            l.usage(&key)[1].remaining,
            2,
            "burst refusals took nothing from hourly"
        );
        clock.advance(Duration::from_secs(10));
        assert!(l.check(&tier(), &key, &w, NonZeroU32::MIN).is_allowed());
        assert!(l.check(&tier(), &key, &w, NonZeroU32::MIN).is_allowed());
        let d = l.check(&tier(), &key, &w, NonZeroU32::MIN);
        let RateDecision::Limited {
            window,
            retry_after,
            ..
        } = &d
        else {
            panic!("{d:?}")
        };
        assert_eq!(window, "hourly");
        assert!(*retry_after > Duration::from_secs(600), "{retry_after:?}");
        assert_eq!(
            l.usage(&key)[0].remaining,
            1,
            "the hourly refusal took nothing from burst"
        );
    }

    pub fn keys_are_independent_and_usage_takes_nothing(make: LimiterFactory) {
        let clock = ManualClock::default();
        let l = make(clock);
        let (a, b) = (
            ClientKey::from_client_id("a"),
            ClientKey::from_client_id("b"),
        );
        let w = [window("burst", 1, 10)];
        assert!(l.check(&tier(), &a, &w, NonZeroU32::MIN).is_allowed());
        assert!(!l.check(&tier(), &a, &w, NonZeroU32::MIN).is_allowed());
        assert!(l.usage(&b).is_empty(), "unknown keys have no windows");
        for _ in 0..5 {
            assert_eq!(l.usage(&a)[0].remaining, 0);
        }
        assert!(l.check(&tier(), &b, &w, NonZeroU32::MIN).is_allowed());
    }

    pub fn a_cost_is_taken_whole_from_every_window_or_not_at_all(make: LimiterFactory) {
        let clock = ManualClock::default();
        let l = make(clock.clone());
        let key = ClientKey::from_client_id("batch");
        let w = [window("burst", 5, 10), window("hourly", 20, 3600)];
        let cost = |n: u32| NonZeroU32::new(n).unwrap();
        let d = l.check(&tier(), &key, &w, cost(3));
        assert!(d.is_allowed(), "{d:?}");
        assert_eq!(
            (d.windows()[0].remaining, d.windows()[1].remaining),
            (2, 17)
        );
        let before = l.usage(&key);
        let d = l.check(&tier(), &key, &w, cost(3));
        let RateDecision::Limited {
            window,
            retry_after,
            ..
        } = &d
        else {
            panic!("three runs fit in two: {d:?}")
        };
        assert_eq!(window, "burst");
        // One unit comes back every 2 s: three are free 2 s after the first.
        assert!(
            *retry_after > Duration::from_secs(1) && *retry_after <= Duration::from_secs(2),
            "{retry_after:?}"
        );
        assert_eq!(l.usage(&key), before, "a refused cost took nothing");
        assert!(l.check(&tier(), &key, &w, cost(2)).is_allowed());
        clock.advance(Duration::from_secs(6));
        assert!(l.check(&tier(), &key, &w, cost(3)).is_allowed());
        assert_eq!(l.usage(&key)[1].remaining, 12);
        assert!(
            !l.check(&tier(), &key, &w, cost(6)).is_allowed(),
            "a cost above the quota never fits"
        );
    }

    pub fn concurrent_callers_never_exceed_the_quota(make: LimiterFactory) {
        let clock = ManualClock::default();
        let l = make(clock);
        let key = ClientKey::from_client_id("hot");
        let w = [window("burst", 50, 60)];
        let allowed: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..40)
                            .filter(|_| l.check(&tier(), &key, &w, NonZeroU32::MIN).is_allowed())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(allowed, 50);
    }
}

mod store {
    use super::*;

    pub fn new_block(value: &str, secs: Option<u64>) -> NewBlock {
        NewBlock {
            value: value.into(),
            duration: secs.map(Duration::from_secs),
            reason: "contract".into(),
            origin: Origin::Manual,
            created_by: "suite".into(),
        }
    }

    pub fn hit(
        s: &dyn BlockStore,
        ip: &str,
        client: &str,
        country: Option<&str>,
        asn: Option<u32>,
    ) -> Option<String> {
        let ip: IpAddr = ip.parse().unwrap();
        let key = ClientKey::parse(client).unwrap();
        s.check(&BlockQuery {
            ip,
            client: &key,
            country,
            asn,
        })
        .map(|d| d.value)
    }

    pub fn every_scope_matches(make: StoreFactory) {
        let s = make(ManualClock::default());
        for v in [
            "203.0.113.7",
            "198.51.100.0/24",
            "2001:db8:1::/48",
            "client:evil",
            "country:KP",
            "asn:64500",
        ] {
            s.add(new_block(v, None)).unwrap();
        }
        let anon = "ip:192.0.2.1";
        /// (ip, client key, country, asn) → the value of the matching decision.
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<u32>,
            Option<&'a str>,
        );
        let cases: [Case; 9] = [
            ("203.0.113.7", anon, None, None, Some("203.0.113.7")),
            ("::ffff:203.0.113.7", anon, None, None, Some("203.0.113.7")),
            ("198.51.100.200", anon, None, None, Some("198.51.100.0/24")),
            (
                "2001:db8:1:ffff::1",
                anon,
                None,
                None,
                Some("2001:db8:1::/48"),
            ),
            ("192.0.2.1", "client:evil", None, None, Some("client:evil")),
            ("192.0.2.1", anon, Some("kp"), None, Some("country:KP")),
            ("192.0.2.1", anon, None, Some(64500), Some("asn:64500")),
            ("192.0.2.1", "client:good", Some("FR"), Some(1), None),
            ("198.51.101.1", anon, None, None, None),
        ];
        for (ip, client, country, asn, expected) in cases {
            let found = hit(&*s, ip, client, country, asn);
            assert_eq!(
                found.as_deref(),
                expected,
                "{ip} {client} {country:?} {asn:?}"
            );
        }
        assert_eq!(s.len(), 6);
    }

    pub fn expired_decisions_never_match_and_are_purged(make: StoreFactory) {
        let clock = ManualClock::default();
        let s = make(clock.clone());
        let short = s.add(new_block("203.0.113.7", Some(60))).unwrap();
        let long = s.add(new_block("203.0.113.0/24", Some(120))).unwrap();
        assert_eq!(
            hit(&*s, "203.0.113.7", "ip:x", None, None).as_deref(),
            Some("203.0.113.7")
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            hit(&*s, "203.0.113.7", "ip:x", None, None).as_deref(),
            Some("203.0.113.0/24")
        );
        assert!(s.get(short.id).is_none());
        assert_eq!(
            s.list(
                &BlockFilter::default(),
                Page {
                    offset: 0,
                    limit: 10
                }
            )
            .len(),
            1
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(hit(&*s, "203.0.113.7", "ip:x", None, None), None);
        assert!(s.get(long.id).is_none());
        assert_eq!(s.purge_expired(), 2);
        assert_eq!(s.purge_expired(), 0);
        assert!(s.is_empty());
    }

    pub fn add_get_remove(make: StoreFactory) {
        let clock = ManualClock::default();
        let s = make(clock.clone());
        let a = s.add(new_block("2001:DB8::1", Some(3600))).unwrap();
        assert_eq!(
            (a.scope, a.value.as_str(), a.r#type.as_str()),
            (Scope::Ip, "2001:db8::1", "ban")
        );
        assert_eq!(
            a.expires_at.unwrap().duration_since(a.created_at).unwrap(),
            Duration::from_secs(3600)
        );
        let b = s.add(new_block("client:x", None)).unwrap();
        assert!(b.id > a.id, "ids increase");
        assert_eq!(s.get(a.id), Some(a.clone()));
        assert_eq!(s.remove(a.id).unwrap(), Some(a.clone()));
        assert_eq!(s.remove(a.id).unwrap(), None);
        assert!(s.get(a.id).is_none());
        let c = s.add(new_block("2001:db8::1", None)).unwrap();
        assert!(c.id > b.id, "ids are never reused");
    }

    pub fn invalid_blocks_are_refused_and_batches_are_all_or_none(make: StoreFactory) {
        let s = make(ManualClock::default());
        let err = s.add(new_block("10.0.0.1/8", None)).unwrap_err();
        assert!(
            matches!(err, BlockError::Invalid { field: "value", .. }),
            "{err}"
        );
        let err = s.add(new_block("1.2.3.4", Some(0))).unwrap_err();
        assert!(
            matches!(
                err,
                BlockError::Invalid {
                    field: "duration",
                    ..
                }
            ),
            "{err}"
        );
        let err = s
            .add_batch(vec![new_block("1.2.3.4", None), new_block("bad", None)])
            .unwrap_err();
        assert!(err.to_string().starts_with("item 1: value:"), "{err}");
        assert!(s.is_empty(), "nothing of a failed batch was added");
        assert_eq!(
            s.add_batch(vec![new_block("1.2.3.4", None), new_block("asn:1", None)])
                .unwrap()
                .len(),
            2
        );
    }

    pub fn listing_filters_and_pages(make: StoreFactory) {
        let s = make(ManualClock::default());
        for i in 0..7 {
            s.add(new_block(&format!("client:c{i}"), None)).unwrap();
        }
        let mut list_block = new_block("10.0.0.0/8", None);
        list_block.origin = Origin::List;
        s.add(list_block).unwrap();
        let clients = BlockFilter {
            scope: Some(Scope::Client),
            ..BlockFilter::default()
        };
        let page = |offset| s.list(&clients, Page { offset, limit: 3 });
        let values: Vec<String> = (0..3).flat_map(|p| page(p * 3)).map(|d| d.value).collect();
        assert_eq!(values.len(), 7);
        assert_eq!(values[0], "client:c0");
        let lists = BlockFilter {
            origin: Some(Origin::List),
            ..BlockFilter::default()
        };
        assert_eq!(
            s.list(
                &lists,
                Page {
                    offset: 0,
                    limit: 10
                }
            )[0]
            .value,
            "10.0.0.0/8"
        );
        let exact = BlockFilter {
            value: Some("client:c3".into()),
            ..BlockFilter::default()
        };
        assert_eq!(
            s.list(
                &exact,
                Page {
                    offset: 0,
                    limit: 10
                }
            )
            .len(),
            1
        );
    }

    /// Regression: adding a value already blocked made a second decision, and
    /// deleting one left the value blocked.
    pub fn one_active_decision_per_value(make: StoreFactory) {
        let clock = ManualClock::default();
        let s = make(clock.clone());
        let first = s.add(new_block("192.0.2.1", Some(600))).unwrap();
        let mut shorter = new_block("192.0.2.1", Some(60));
        shorter.reason = "shorter".into();
        assert_eq!(
            s.add(shorter).unwrap(),
            first,
            "a shorter add changes nothing"
        );
        let mut longer = new_block("ip:192.0.2.1", Some(3600));
        longer.reason = "longer".into();
        longer.origin = Origin::List;
        let extended = s.add(longer).unwrap();
        assert_eq!(extended.id, first.id);
        assert_eq!(extended.created_at, first.created_at);
        assert_eq!(
            extended.expires_at,
            Some(first.created_at + Duration::from_secs(3600))
        );
        assert_eq!(
            (extended.reason.as_str(), extended.origin),
            ("longer", Origin::List),
            "the add that extends names the decision"
        );
        let batch = vec![
            new_block("192.0.2.2", Some(60)),
            new_block("192.0.2.1", None),
            new_block("192.0.2.2", Some(120)),
        ];
        let added = s.add_batch(batch.clone()).unwrap();
        assert_eq!(
            added[0], added[2],
            "duplicates within a batch are one decision"
        );
        assert_eq!(added[1].id, first.id);
        assert_eq!(added[1].expires_at, None, "forever is the latest expiry");
        assert_eq!(s.add_batch(batch).unwrap(), added, "the same batch again");
        assert_eq!(s.len(), 2);
        s.remove(first.id).unwrap();
        assert_eq!(
            hit(s.as_ref(), "192.0.2.1", "client:nobody", None, None),
            None,
            "one delete unblocks"
        );
        clock.advance(Duration::from_secs(120));
        let again = s.add(new_block("192.0.2.2", Some(60))).unwrap();
        assert!(again.id > added[0].id, "an expired decision is not revived");
    }

    pub fn extensions_reach_stream_followers(make: StoreFactory) {
        let clock = ManualClock::default();
        let s = make(clock.clone());
        let a = s.add(new_block("192.0.2.1", Some(60))).unwrap();
        let start = s.changes_since(0);
        let extended = s.add(new_block("192.0.2.1", Some(600))).unwrap();
        let next = s.changes_since(start.cursor);
        assert_eq!(
            next.new,
            vec![extended.clone()],
            "an extension is new again"
        );
        assert!(next.deleted.is_empty());
        s.add(new_block("192.0.2.1", Some(6000))).unwrap();
        s.remove(a.id).unwrap();
        let last = s.changes_since(next.cursor);
        assert!(last.new.is_empty(), "{last:?}");
        assert_eq!(
            last.deleted.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![a.id],
            "extended then removed is still a deletion for a follower who had it"
        );
    }

    pub fn changes_since_a_cursor(make: StoreFactory) {
        let clock = ManualClock::default();
        let s = make(clock.clone());
        let a = s.add(new_block("192.0.2.1", None)).unwrap();
        let start = s.changes_since(0);
        assert_eq!(start.new, vec![a.clone()]);
        assert!(start.resync, "cursor 0 is the complete set");
        let b = s.add(new_block("192.0.2.2", Some(10))).unwrap();
        let c = s.add(new_block("192.0.2.3", None)).unwrap();
        s.remove(c.id).unwrap();
        s.remove(a.id).unwrap();
        let next = s.changes_since(start.cursor);
        assert!(!next.resync, "an increment");
        assert_eq!(next.new, vec![b.clone()], "added-then-removed nets out");
        assert_eq!(next.deleted, vec![a]);
        clock.advance(Duration::from_secs(10));
        let after = s.changes_since(next.cursor);
        assert!(after.new.is_empty());
        assert_eq!(
            after.deleted.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![b.id],
            "expiry is a deletion"
        );
        let quiet = s.changes_since(after.cursor);
        assert!(quiet.new.is_empty() && quiet.deleted.is_empty());
        assert!(
            s.changes_since(0).new.is_empty(),
            "a fresh start lists only active decisions"
        );
    }
}

fn memory_limiter(clock: ManualClock) -> Arc<dyn RateLimiter> {
    Arc::new(MemoryRateLimiter::new(Arc::new(clock), 10_000))
}

fn memory_store(clock: ManualClock) -> Arc<dyn BlockStore> {
    Arc::new(MemoryBlockStore::open(None, Arc::new(clock)).unwrap())
}

/// The memory store persisted to a temporary file passes the same suite.
fn persisted_store(clock: ManualClock) -> Arc<dyn BlockStore> {
    let dir = tempfile::tempdir().unwrap().keep();
    Arc::new(MemoryBlockStore::open(Some(&dir.join("blocks.json")), Arc::new(clock)).unwrap())
}

macro_rules! suite {
    ($module:ident, $factory:expr, [$($check:ident),+ $(,)?]) => {
        mod $module {
            $( #[test] fn $check() { super::$check($factory) } )+
        }
    };
}

use limiter::*;
use store::*;

suite!(
    memory_rate_limiter,
    super::memory_limiter,
    [
        quota_then_refusal_with_retry_after,
        windows_refill_with_time,
        a_refusal_consumes_no_other_window,
        keys_are_independent_and_usage_takes_nothing,
        a_cost_is_taken_whole_from_every_window_or_not_at_all,
        concurrent_callers_never_exceed_the_quota,
    ]
);

/// The same limiter checks against a real redis-server and a 3-master cluster.
macro_rules! limiter_suite {
    ($module:ident, $factory:expr) => {
        suite!(
            $module,
            $factory,
            [
                quota_then_refusal_with_retry_after,
                windows_refill_with_time,
                a_refusal_consumes_no_other_window,
                keys_are_independent_and_usage_takes_nothing,
                a_cost_is_taken_whole_from_every_window_or_not_at_all,
                concurrent_callers_never_exceed_the_quota,
            ]
        );
    };
}

limiter_suite!(redis_rate_limiter, super::redis_support::standalone_limiter);
limiter_suite!(
    redis_cluster_rate_limiter,
    super::redis_support::cluster_limiter
);

/// Every `BlockStore` check, for one factory.
macro_rules! store_suite {
    ($module:ident, $factory:expr) => {
        suite!(
            $module,
            $factory,
            [
                every_scope_matches,
                expired_decisions_never_match_and_are_purged,
                add_get_remove,
                invalid_blocks_are_refused_and_batches_are_all_or_none,
                listing_filters_and_pages,
                changes_since_a_cursor,
                one_active_decision_per_value,
                extensions_reach_stream_followers,
            ]
        );
    };
}

store_suite!(memory_block_store, super::memory_store);
store_suite!(persisted_block_store, super::persisted_store);
store_suite!(redis_block_store, super::redis_support::standalone_store);
store_suite!(
    redis_cluster_block_store,
    super::redis_support::cluster_store
);
