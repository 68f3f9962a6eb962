//! New connections per client address, a keyed GCRA (`governor`): an address
//! may open `quota` connections at once and one more each `period / quota`
//! after that. It bounds what the connection cap cannot: a client that opens
//! and closes connections as fast as it can, each costing an accept, a task
//! and a handshake. Addresses are grouped as the connection cap groups them
//! (IPv6 by /64); trusted proxies are exempt.

use crate::config::Rate;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Admissions between two sweeps of addresses whose allowance is whole again.
const SWEEP_EVERY: u32 = 4096;

/// The accept rate of every client address.
pub struct AcceptRate {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    exempt: Vec<ipnet::IpNet>,
    since_sweep: AtomicU32,
}

impl std::fmt::Debug for AcceptRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptRate")
            .field("addresses", &self.limiter.len())
            .finish_non_exhaustive()
    }
}

impl AcceptRate {
    /// `rate` new connections per address; `exempt` addresses are never limited.
    pub fn new(rate: Rate, exempt: Vec<ipnet::IpNet>) -> Self {
        let every = (rate.period / rate.quota.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(every)
            .unwrap_or_else(|| Quota::per_second(rate.quota))
            .allow_burst(rate.quota);
        Self {
            limiter: RateLimiter::keyed(quota),
            exempt,
            since_sweep: AtomicU32::new(0),
        }
    }

    /// Whether `ip` may open one more connection now (taking it when so).
    pub fn admits(&self, ip: IpAddr) -> bool {
        let own = ip.to_canonical();
        if self.exempt.iter().any(|net| net.contains(&own)) {
            return true;
        }
        if self.since_sweep.fetch_add(1, Ordering::Relaxed) >= SWEEP_EVERY {
            self.since_sweep.store(0, Ordering::Relaxed);
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&crate::accept::address_group(ip))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(s: &str) -> Rate {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_burst_then_waits_and_others_are_apart() {
        let r = AcceptRate::new(rate("3/1h"), Vec::new());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let taken: Vec<bool> = (0..4).map(|_| r.admits(a)).collect();
        assert_eq!(taken, [true, true, true, false]);
        assert!(r.admits("192.0.2.2".parse().unwrap()), "another address");
    }

    #[test]
    fn one_ipv6_client_is_its_64_and_a_mapped_ipv4_is_the_ipv4() {
        let r = AcceptRate::new(rate("1/1h"), Vec::new());
        assert!(r.admits("2001:db8::1".parse().unwrap()));
        assert!(!r.admits("2001:db8::ffff".parse().unwrap()), "same /64");
        assert!(r.admits("192.0.2.7".parse().unwrap()));
        assert!(!r.admits("::ffff:192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn trusted_proxies_are_not_limited() {
        let r = AcceptRate::new(rate("1/1h"), vec!["10.0.0.5/32".parse().unwrap()]);
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        assert!((0..100).all(|_| r.admits(proxy)));
    }
}
