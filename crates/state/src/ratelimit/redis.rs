//! The shared limiter: every window of a tier decided in one round trip by a
//! server-side script ([`gcra.lua`](gcra.lua)), atomically, with the memory
//! limiter's GCRA (a refusal takes nothing from any window). Time comes from
//! the gateway's clock, so gateways need synchronised clocks (NTP), as any
//! shared limiter does.
//!
//! One hash per client, `<prefix>:rl:{<client key>}`, one field per window,
//! expiring once every window is full again; the braces are the client's hash
//! tag, so a Cluster keeps all of a client's keys in one slot.

use super::fallback::LocalLimiter;
use super::memory::Gcra;
use super::{PendingDecision, RateDecision, RateLimiter, WindowSpec, WindowState};
use crate::backend::{BackendError, OnError, RedisBackend};
use crate::metrics::StateMetrics;
use execgate_core::{ClientKey, Clock, TierName};
use redis::Script;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, UNIX_EPOCH};

/// The window named in a refusal made because the shared state did not
/// answer and the limits fail closed.
pub const UNAVAILABLE_WINDOW: &str = "shared_state_unavailable";

/// How long a fail-closed refusal asks the client to wait.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(1);

/// Nanoseconds per tick of the script's clock (microseconds).
const TICK_NS: u64 = 1_000;

static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("gcra.lua")));

/// The Redis implementation of [`RateLimiter`].
#[derive(Debug)]
pub struct RedisRateLimiter {
    backend: Arc<RedisBackend>,
    clock: Arc<dyn Clock>,
    on_error: OnError,
    fallback: LocalLimiter,
    metrics: Option<StateMetrics>,
}

impl RedisRateLimiter {
    /// A limiter on `backend`; while it is unreachable, `on_error` decides:
    /// `Open` falls back to a local limiter allowing `local_share` of each quota.
    pub fn new(
        backend: Arc<RedisBackend>,
        clock: Arc<dyn Clock>,
        on_error: OnError,
        local_share: f64,
    ) -> Self {
        Self {
            backend,
            clock,
            on_error,
            fallback: LocalLimiter::new(local_share),
            metrics: None,
        }
    }

    /// Counts refusals by window in `metrics`.
    pub fn with_metrics(mut self, metrics: StateMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The client's hash.
    pub fn key_of(&self, key: &ClientKey) -> String {
        format!("{}:rl:{{{}}}", self.backend.prefix(), key.as_str())
    }

    fn now_us(&self) -> u64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    /// The script call deciding `windows` for `key`.
    fn invocation(
        &self,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
    ) -> redis::ScriptInvocation<'static> {
        let mut invocation = GCRA.key(self.key_of(key));
        invocation.arg(self.now_us()).arg(cost.get());
        for w in windows {
            let period = u64::try_from(w.period.as_micros()).unwrap_or(u64::MAX);
            invocation.arg(&w.name).arg(w.quota.get()).arg(period);
        }
        invocation
    }

    fn shared(
        &self,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
    ) -> Result<RateDecision, BackendError> {
        let invocation = self.invocation(key, windows, cost);
        let reply: Vec<i64> = self
            .backend
            .call(move |mut conn| async move { invocation.invoke_async(&mut conn).await })?;
        decided(windows, &reply)
    }

    async fn shared_async(
        &self,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
    ) -> Result<RateDecision, BackendError> {
        let invocation = self.invocation(key, windows, cost);
        let reply: Vec<i64> = self
            .backend
            .call_async(move |mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await?;
        decided(windows, &reply)
    }

    /// The decision to give: the shared one, or the failure policy's.
    fn settle(
        &self,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
        shared: Result<RateDecision, BackendError>,
    ) -> RateDecision {
        let decision = match shared {
            Ok(d) => d,
            Err(e) => self.degraded(key, windows, cost, &e),
        };
        if let (Some(metrics), RateDecision::Limited { window, .. }) = (&self.metrics, &decision) {
            metrics.rate_limited(window);
        }
        decision
    }

    fn degraded(
        &self,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
        why: &BackendError,
    ) -> RateDecision {
        if !why.is_outage() {
            tracing::warn!(client = %key, error = %why, "rate limit: shared state refused the check");
        }
        let metrics = self.backend.metrics();
        match self.on_error {
            OnError::Open => {
                let d = self.fallback.check(key, windows, cost);
                metrics.fallback("limits", if d.is_allowed() { "allowed" } else { "limited" });
                d
            }
            OnError::Closed => {
                metrics.fallback("limits", "refused");
                RateDecision::Limited {
                    window: UNAVAILABLE_WINDOW.to_string(),
                    retry_after: UNAVAILABLE_RETRY,
                    windows: Vec::new(),
                }
            }
        }
    }
}

/// The script's reply as a decision, or the reply's fault.
fn decided(windows: &[WindowSpec], reply: &[i64]) -> Result<RateDecision, BackendError> {
    decision(windows, reply)
        .ok_or_else(|| BackendError::Reply(format!("unexpected script reply {reply:?}")))
}

/// The script's reply as a decision; `None` when it has the wrong shape.
fn decision(windows: &[WindowSpec], reply: &[i64]) -> Option<RateDecision> {
    if reply.len() != windows.len() + 2 {
        return None;
    }
    let backlog = |i: usize| u64::try_from(reply[i + 2]).unwrap_or(0);
    let states = windows
        .iter()
        .enumerate()
        .map(|(i, w)| Gcra::in_ticks(w, TICK_NS).state(w, backlog(i)))
        .collect();
    let refusing = usize::try_from(reply[0]).ok()?;
    if refusing == 0 {
        return Some(RateDecision::Allowed { windows: states });
    }
    let wait = u64::try_from(reply[1]).ok()?;
    Some(RateDecision::Limited {
        window: windows.get(refusing - 1)?.name.clone(),
        retry_after: Duration::from_nanos(wait.saturating_mul(TICK_NS)),
        windows: states,
    })
}

/// One stored field `order:tat:quota:period` as (order, window, tat).
fn parse_field(name: &str, value: &str) -> Option<(u32, WindowSpec, u64)> {
    let mut parts = value.split(':').map(str::parse::<u64>);
    let (order, tat, quota, period) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let quota = std::num::NonZeroU32::new(u32::try_from(quota).ok()?)?;
    let spec = WindowSpec::new(name, quota, Duration::from_micros(period));
    Some((u32::try_from(order).ok()?, spec, tat))
}

impl RateLimiter for RedisRateLimiter {
    fn check(
        &self,
        tier: &TierName,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
    ) -> RateDecision {
        let _ = tier;
        let shared = self.shared(key, windows, cost);
        self.settle(key, windows, cost, shared)
    }

    fn check_async<'a>(
        &'a self,
        tier: &'a TierName,
        key: &'a ClientKey,
        windows: &'a [WindowSpec],
        cost: NonZeroU32,
    ) -> PendingDecision<'a> {
        let _ = tier;
        Box::pin(async move {
            let shared = self.shared_async(key, windows, cost).await;
            self.settle(key, windows, cost, shared)
        })
    }

    fn usage(&self, key: &ClientKey) -> Vec<WindowState> {
        let hash = self.key_of(key);
        let fields: Result<Vec<(String, String)>, BackendError> =
            self.backend.call(move |mut conn| async move {
                redis::cmd("HGETALL").arg(hash).query_async(&mut conn).await
            });
        let fields = match fields {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(client = %key, error = %e, "rate limit: usage unavailable");
                return Vec::new();
            }
        };
        let now = self.now_us();
        let mut windows: Vec<(u32, WindowState)> = fields
            .iter()
            .filter_map(|(name, value)| {
                let parsed = parse_field(name, value);
                if parsed.is_none() {
                    tracing::warn!(client = %key, field = %name, "rate limit: malformed window in Redis");
                }
                parsed
            })
            .map(|(order, spec, tat)| {
                let state = Gcra::in_ticks(&spec, TICK_NS).state(&spec, tat.saturating_sub(now));
                (order, state)
            })
            .collect();
        windows.sort_by_key(|(order, _)| *order);
        windows.into_iter().map(|(_, w)| w).collect()
    }
}
