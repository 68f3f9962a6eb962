//! The shared limiter: every window of a tier decided in one round trip by a
//! server-side script ([`gcra.lua`](gcra.lua)), atomically, with the memory
//! limiter's GCRA (a refusal takes nothing from any window). Time comes from
//! the gateway's clock, so gateways need synchronised clocks (NTP), as any
//! shared limiter does.
//!
//! One hash per client, `<prefix>:rl:{<client key>}`, expiring once every
//! window is full again; the braces are the client's hash tag, so a Cluster
//! keeps all of a client's keys in one slot. The hash holds only what the
//! decision needs: each window's TAT under the window's name, as an integer,
//! and the fingerprint of the window set under `#` — a few dozen bytes, kept
//! by Redis as one listpack. A window's quota and period come with every
//! call; [`RateLimiter::usage`] finds them again by the fingerprint among the
//! window sets this limiter has decided.

use super::fallback::LocalLimiter;
use super::memory::Gcra;
use super::{PendingDecision, PendingUsage, RateDecision, RateLimiter, WindowSpec, WindowState};
use crate::backend::redis::Conn;
use crate::backend::{BackendError, OnError, RedisBackend};
use crate::metrics::StateMetrics;
use execgate_core::{ClientKey, Clock, TierName};
use parking_lot::RwLock;
use redis::{RedisError, Script, ScriptInvocation};
use std::collections::HashMap;
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

/// The hash field holding the window set's fingerprint (window names cannot contain `#`).
const FINGERPRINT_FIELD: &str = "#";

/// Window sets remembered for [`RateLimiter::usage`]; a set is one tier's
/// windows, so a handful in practice. Past this many the memory starts over.
const KNOWN_SETS: usize = 256;

static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("gcra.lua")));

/// Identifies a window set (names, quotas, periods, in order) across gateways
/// and restarts: FNV-1a, kept below 2³¹ so that Redis stores it as a 4-byte integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Fingerprint(u32);

impl Fingerprint {
    fn of(windows: &[WindowSpec]) -> Self {
        const OFFSET: u32 = 0x811c_9dc5;
        const PRIME: u32 = 0x0100_0193;
        let mut hash = OFFSET;
        let mut feed = |bytes: &[u8]| {
            for b in bytes {
                hash = (hash ^ u32::from(*b)).wrapping_mul(PRIME);
            }
        };
        for w in windows {
            feed(w.name.as_bytes());
            feed(&[0]);
            feed(&w.quota.get().to_le_bytes());
            feed(&period_us(w).to_le_bytes());
        }
        Self(hash & 0x7fff_ffff)
    }
}

fn period_us(w: &WindowSpec) -> u64 {
    u64::try_from(w.period.as_micros()).unwrap_or(u64::MAX)
}

/// The Redis implementation of [`RateLimiter`].
#[derive(Debug)]
pub struct RedisRateLimiter {
    backend: Arc<RedisBackend>,
    clock: Arc<dyn Clock>,
    on_error: OnError,
    fallback: LocalLimiter,
    metrics: Option<StateMetrics>,
    known: RwLock<HashMap<Fingerprint, Arc<[WindowSpec]>>>,
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
            known: RwLock::new(HashMap::new()),
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

    /// The script call deciding `windows` for `key`; the window set is
    /// remembered so that [`usage`](RateLimiter::usage) can name its windows.
    fn invocation(
        &self,
        key: &ClientKey,
        windows: &[WindowSpec],
        cost: NonZeroU32,
    ) -> ScriptInvocation<'static> {
        let fingerprint = self.remember(windows);
        let mut invocation = GCRA.key(self.key_of(key));
        invocation
            .arg(self.now_us())
            .arg(cost.get())
            .arg(fingerprint.0);
        for w in windows {
            invocation.arg(&w.name).arg(w.quota.get()).arg(period_us(w));
        }
        invocation
    }

    fn remember(&self, windows: &[WindowSpec]) -> Fingerprint {
        let fingerprint = Fingerprint::of(windows);
        if !self.known.read().contains_key(&fingerprint) {
            let mut known = self.known.write();
            if known.len() >= KNOWN_SETS {
                known.clear();
            }
            known.insert(fingerprint, windows.into());
        }
        fingerprint
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

/// The script run on one connection: the call both of the backend's paths make.
async fn run(
    invocation: ScriptInvocation<'static>,
    mut conn: Conn,
) -> Result<Vec<i64>, RedisError> {
    invocation.invoke_async(&mut conn).await
}

/// A window's stored TAT: an integer, or the `order:tat:quota:period` layout of earlier gateways.
fn stored_tat(value: &str) -> Option<u64> {
    match value.split(':').collect::<Vec<_>>().as_slice() {
        [tat] | [_, tat, _, _] => tat.parse().ok(),
        _ => None,
    }
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
        let invocation = self.invocation(key, windows, cost);
        let shared = self
            .backend
            .call(|conn| run(invocation, conn))
            .and_then(|reply| decided(windows, &reply));
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
            let invocation = self.invocation(key, windows, cost);
            let shared = self
                .backend
                .call_async(|conn| run(invocation, conn))
                .await
                .and_then(|reply| decided(windows, &reply));
            self.settle(key, windows, cost, shared)
        })
    }

    fn expect(&self, windows: &[WindowSpec]) {
        self.remember(windows);
    }

    fn usage(&self, key: &ClientKey) -> Vec<WindowState> {
        let hash = self.key_of(key);
        let fields = self.backend.call(|conn| read_hash(hash, conn));
        self.windows_of(key, fields)
    }

    fn usage_async<'a>(&'a self, key: &'a ClientKey) -> PendingUsage<'a> {
        Box::pin(async move {
            let hash = self.key_of(key);
            let fields = self.backend.call_async(|conn| read_hash(hash, conn)).await;
            self.windows_of(key, fields)
        })
    }
}

/// A client's hash, read on one connection: the call both of `usage`'s paths make.
async fn read_hash(hash: String, mut conn: Conn) -> Result<Vec<(String, String)>, RedisError> {
    redis::cmd("HGETALL").arg(hash).query_async(&mut conn).await
}

impl RedisRateLimiter {
    /// The windows a client's hash holds, by the window set its fingerprint
    /// names; none when the hash could not be read or names an unknown set.
    fn windows_of(
        &self,
        key: &ClientKey,
        fields: Result<Vec<(String, String)>, BackendError>,
    ) -> Vec<WindowState> {
        let fields = match fields {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(client = %key, error = %e, "rate limit: usage unavailable");
                return Vec::new();
            }
        };
        let fields: HashMap<String, String> = fields.into_iter().collect();
        let known = fields
            .get(FINGERPRINT_FIELD)
            .and_then(|f| f.parse().ok())
            .and_then(|f| self.known.read().get(&Fingerprint(f)).cloned());
        let Some(specs) = known else {
            tracing::debug!(client = %key, "rate limit: usage of a window set this gateway has not decided");
            return Vec::new();
        };
        let now = self.now_us();
        let mut windows = Vec::with_capacity(specs.len());
        for spec in specs.iter() {
            let tat = match fields.get(&spec.name).map(|v| stored_tat(v)) {
                Some(Some(tat)) => tat,
                Some(None) => {
                    tracing::warn!(client = %key, window = %spec.name, "rate limit: malformed window in Redis");
                    return Vec::new();
                }
                None => 0,
            };
            windows.push(Gcra::in_ticks(spec, TICK_NS).state(spec, tat.saturating_sub(now)));
        }
        windows
    }
}
