//! Rate limits per (tier, client key): every window of a tier is decided in one
//! step, so a request refused by one window consumes none of the others.

mod fallback;
mod headers;
mod memory;
mod redis;

pub use fallback::LocalLimiter;
pub use headers::ratelimit_headers;
pub use memory::MemoryRateLimiter;
pub use redis::{RedisRateLimiter, UNAVAILABLE_WINDOW};

use execgate_core::{ClientKey, TierName};
use serde::Serialize;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::time::Duration;

/// One window of a tier's limits: at most `quota` requests per `period`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// The window's name as shown in headers and errors (`burst`, `hourly`, `daily`…).
    pub name: String,
    /// Requests allowed per period.
    pub quota: NonZeroU32,
    /// The period the quota is spread over.
    pub period: Duration,
}

impl WindowSpec {
    /// A window named `name` allowing `quota` requests per `period`.
    pub fn new(name: &str, quota: NonZeroU32, period: Duration) -> Self {
        Self {
            name: name.to_string(),
            quota,
            period,
        }
    }
}

/// Where a client stands in one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowState {
    /// The window's name.
    pub name: String,
    /// Requests allowed per period.
    pub quota: u32,
    /// The period, serialized as whole seconds.
    #[serde(serialize_with = "serialize_secs", rename = "period_secs")]
    pub period: Duration,
    /// Requests the client may still make right now.
    pub remaining: u32,
    /// Time until one more request is allowed (zero when the window is full).
    #[serde(serialize_with = "serialize_secs", rename = "reset_after_secs")]
    pub reset_after: Duration,
}

/// The outcome of one rate-limit check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateDecision {
    /// Every window had room for the request's cost; it was taken from each.
    Allowed {
        /// The windows after this request.
        windows: Vec<WindowState>,
    },
    /// A window is exhausted; nothing was taken from any window.
    Limited {
        /// The refusing window (the one with the longest wait when several refuse).
        window: String,
        /// How long until the request would be allowed.
        retry_after: Duration,
        /// The windows as they stand (unchanged by this request).
        windows: Vec<WindowState>,
    },
}

impl RateDecision {
    /// The windows carried by either outcome.
    pub fn windows(&self) -> &[WindowState] {
        match self {
            RateDecision::Allowed { windows } | RateDecision::Limited { windows, .. } => windows,
        }
    }

    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        matches!(self, RateDecision::Allowed { .. })
    }
}

/// Keyed rate limiting shared by every gateway worker.
pub trait RateLimiter: Send + Sync {
    /// Decides all `windows` of `tier` for `key` together; see [`RateDecision`].
    /// The request costs `cost` units of every window (a batch of runs costs one
    /// per run): all of them are taken, or none. A cost above a window's quota
    /// never fits; callers refuse such a request before asking.
    fn check(
        &self,
        tier: &TierName,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
    ) -> RateDecision;
    /// [`check`](Self::check) for the request path: a limiter whose state lives
    /// elsewhere answers without holding the caller's thread while it waits.
    fn check_async<'a>(
        &'a self,
        tier: &'a TierName,
        key: &'a ClientKey,
        windows: &'a [WindowSpec],
        cost: NonZeroU32,
    ) -> PendingDecision<'a> {
        Box::pin(std::future::ready(self.check(tier, key, windows, cost)))
    }
    /// The client's windows as last configured, without taking a unit (empty when unknown).
    fn usage(&self, key: &ClientKey) -> Vec<WindowState>;
    /// [`usage`](Self::usage) for the request path: a limiter whose state lives
    /// elsewhere answers without holding the caller's thread while it waits.
    fn usage_async<'a>(&'a self, key: &'a ClientKey) -> PendingUsage<'a> {
        Box::pin(std::future::ready(self.usage(key)))
    }
    /// Announces a window set that checks will use (a tier's), so that
    /// [`usage`](Self::usage) can show it before this limiter has decided on it:
    /// a shared limiter stores only a fingerprint of the set with each client.
    fn expect(&self, windows: &[WindowSpec]) {
        let _ = windows;
    }
}

/// A decision still being made (the shared limiter awaits Redis).
pub type PendingDecision<'a> = Pin<Box<dyn Future<Output = RateDecision> + Send + 'a>>;

/// A client's windows still being read (the shared limiter awaits Redis).
pub type PendingUsage<'a> = Pin<Box<dyn Future<Output = Vec<WindowState>> + Send + 'a>>;

/// Duration → whole seconds, rounded up so that a client never retries too
/// early: the value of `Retry-After` for a `retry_after`.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn serialize_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(ceil_secs(*d))
}
