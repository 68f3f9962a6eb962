//! Brute-force protection of the admin API: failed token checks are limited
//! per client address with a keyed GCRA limiter (`governor`). Past the limit
//! the address is locked out — every request from it is a 429, a right token
//! included, or the difference between 429 and 200 would still tell a guesser
//! when it has hit — until the limiter lets one more failure through.
//!
//! Each failure below the limit is audited on its own (a typo, a slow
//! guesser); a burst that overruns it is audited once, when it is cut off.

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Failed token checks an address may make at once.
pub const AUTH_FAILURE_BURST: u32 = 10;

/// After the burst, one more failure is allowed per this period.
pub const AUTH_FAILURE_PERIOD: Duration = Duration::from_secs(30);

/// Locked addresses kept before expired locks are swept.
const SWEEP_AT: usize = 1024;

/// The decision on a request before its token is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The token may be checked.
    Check,
    /// The address is locked out for this long.
    LockedOut(Duration),
}

/// What a failed token check did to its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Still within the limit.
    Counted,
    /// This failure overran the limit: the address is locked for this long.
    Locked(Duration),
}

/// Failed admin logins per address, and the addresses locked out.
pub struct AuthFailures<C: Clock = DefaultClock> {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    locked: Mutex<HashMap<IpAddr, C::Instant>>,
}

impl<C: Clock> std::fmt::Debug for AuthFailures<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFailures")
            .field("locked", &self.locked.lock().len())
            .finish()
    }
}

impl Default for AuthFailures {
    fn default() -> Self {
        Self::with_clock(DefaultClock::default())
    }
}

impl<C: Clock + Clone> AuthFailures<C> {
    /// The shipped limit, timed by `clock`.
    pub fn with_clock(clock: C) -> Self {
        let burst = NonZeroU32::new(AUTH_FAILURE_BURST).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(AUTH_FAILURE_PERIOD)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            locked: Mutex::default(),
        }
    }

    /// Whether a request from `ip` may have its token checked.
    pub fn admit(&self, ip: IpAddr) -> Admission {
        let group = address_group(ip);
        let now = self.clock.now();
        let mut locked = self.locked.lock();
        match locked.get(&group) {
            Some(until) if *until > now => Admission::LockedOut(until.duration_since(now).into()),
            Some(_) => {
                locked.remove(&group);
                Admission::Check
            }
            None => Admission::Check,
        }
    }

    /// Counts a failed token check from `ip`.
    pub fn fail(&self, ip: IpAddr) -> Failure {
        let group = address_group(ip);
        let Err(not_until) = self.limiter.check_key(&group) else {
            return Failure::Counted;
        };
        let now = self.clock.now();
        let until = not_until.earliest_possible();
        let mut locked = self.locked.lock();
        if locked.len() >= SWEEP_AT {
            locked.retain(|_, until| *until > now);
            self.limiter.retain_recent();
        }
        locked.insert(group, until);
        Failure::Locked(not_until.wait_time_from(now))
    }
}

/// One client address: IPv4 as it is, IPv6 by its /64 (what one client holds).
fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn an_address_is_locked_past_the_burst_and_let_back_one_failure_per_period() {
        let clock = FakeRelativeClock::default();
        let failures = AuthFailures::with_clock(clock.clone());
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        for _ in 0..AUTH_FAILURE_BURST {
            assert_eq!(failures.admit(ip), Admission::Check);
            assert_eq!(failures.fail(ip), Failure::Counted);
        }
        assert_eq!(failures.fail(ip), Failure::Locked(AUTH_FAILURE_PERIOD));
        assert_eq!(
            failures.admit(ip),
            Admission::LockedOut(AUTH_FAILURE_PERIOD)
        );
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            failures.admit(ip),
            Admission::LockedOut(Duration::from_secs(20))
        );
        let other: IpAddr = "203.0.113.6".parse().unwrap();
        assert_eq!(failures.admit(other), Admission::Check, "another address");
        clock.advance(Duration::from_secs(20));
        assert_eq!(failures.admit(ip), Admission::Check);
        assert_eq!(failures.fail(ip), Failure::Counted, "one more per period");
        assert!(matches!(failures.fail(ip), Failure::Locked(_)));
    }

    #[test]
    fn one_ipv6_client_is_its_slash_64() {
        let failures = AuthFailures::with_clock(FakeRelativeClock::default());
        for i in 0..=AUTH_FAILURE_BURST {
            failures.fail(format!("2001:db8::{i:x}").parse().unwrap());
        }
        assert!(matches!(
            failures.admit("2001:db8::ffff".parse().unwrap()),
            Admission::LockedOut(_)
        ));
        assert_eq!(
            failures.admit("2001:db8:0:1::1".parse().unwrap()),
            Admission::Check
        );
    }
}
