//! Rate limits: a tier's windows (burst, hourly, daily…) decided together for
//! (tier, client key) — only code-executing routes count against them, one
//! unit per program run (a Judge0 batch of n costs n, charged once its body
//! says n); other routes get one light `passthrough` window.

use crate::config::{Rate, Tier, Window};
use crate::error::Refusal;
use execgate_core::{ClientKey, TierName};
use execgate_state::{RateDecision, RateLimiter, WindowSpec, WindowState, ratelimit_headers};
use std::borrow::Cow;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Which window set a request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// An executing route: the tier's windows.
    Execution,
    /// Any other route: the light passthrough window.
    Passthrough,
}

/// Headers announcing the client's standing (`RateLimit-Policy`, `RateLimit`).
pub type LimitHeaders = Vec<(&'static str, String)>;

/// The passthrough window's name; its key space is separate from executions.
const PASSTHROUGH: &str = "passthrough";

/// The limiter with the window specs derived from config (once, not per request).
pub struct Limits {
    limiter: Arc<dyn RateLimiter>,
    passthrough: Vec<WindowSpec>,
    tiers: HashMap<TierName, Vec<WindowSpec>>,
}

impl Limits {
    /// Wraps `limiter` for `tiers`; `passthrough` is the light limit of non-executing routes.
    pub fn new<'a>(
        limiter: Arc<dyn RateLimiter>,
        tiers: impl IntoIterator<Item = &'a Tier>,
        passthrough: Rate,
    ) -> Self {
        let spec = WindowSpec::new(PASSTHROUGH, passthrough.quota, passthrough.period);
        let tiers = tiers
            .into_iter()
            .map(|t| (t.name.clone(), specs(&t.windows)))
            .collect::<HashMap<_, _>>();
        for windows in tiers.values().chain([&vec![spec.clone()]]) {
            limiter.expect(windows);
        }
        Self {
            limiter,
            passthrough: vec![spec],
            tiers,
        }
    }

    /// Takes `cost` units from every window, or refuses with 429 and takes none.
    /// A cost no window of the tier could ever hold is the client's error (400).
    /// Awaited: no worker thread waits while a shared limiter answers.
    pub async fn check_async(
        &self,
        tier: &Tier,
        key: &ClientKey,
        charge: Charge,
        cost: NonZeroU32,
    ) -> Result<LimitHeaders, Refusal> {
        let ask = self.ask(tier, key, charge, cost)?;
        let decision = self
            .limiter
            .check_async(&ask.tier, &ask.key, &ask.windows, cost)
            .await;
        conclude(decision)
    }

    /// The key and windows a charge is decided on.
    fn ask(
        &self,
        tier: &Tier,
        key: &ClientKey,
        charge: Charge,
        cost: NonZeroU32,
    ) -> Result<Ask<'_>, Refusal> {
        match charge {
            Charge::Execution => {
                let windows = match self.tiers.get(&tier.name) {
                    Some(windows) => Cow::Borrowed(windows.as_slice()),
                    None => Cow::Owned(specs(&tier.windows)),
                };
                check_fits(&windows, cost)?;
                Ok(Ask {
                    tier: tier.name.clone(),
                    key: key.clone(),
                    windows,
                })
            }
            // A separate key keeps light traffic from eating execution quota.
            Charge::Passthrough => Ok(Ask {
                tier: TierName(PASSTHROUGH.into()),
                key: ClientKey::parse(&format!("{key}#{PASSTHROUGH}"))
                    .unwrap_or_else(|| key.clone()),
                windows: Cow::Borrowed(self.passthrough.as_slice()),
            }),
        }
    }

    /// Refuses, taking nothing, a client whose execution windows have no unit
    /// left at all: what a request whose cost is known only from its body
    /// (a batch) is told before that body is read. It is charged once known.
    /// A shared limiter's read is awaited, not waited out on the worker thread;
    /// one that does not answer in time refuses nothing (the charge decides).
    pub async fn peek(&self, key: &ClientKey) -> Result<LimitHeaders, Refusal> {
        let windows = self.limiter.usage_async(key).await;
        let empty = windows
            .iter()
            .filter(|w| w.remaining == 0)
            .max_by_key(|w| w.reset_after);
        match empty {
            Some(w) => Err(Refusal::RateLimited {
                window: w.name.clone(),
                retry_after: w.reset_after,
                headers: headers(&windows),
            }),
            None => Ok(headers(&windows)),
        }
    }
}

/// What one charge asks the limiter.
struct Ask<'a> {
    tier: TierName,
    key: ClientKey,
    windows: Cow<'a, [WindowSpec]>,
}

/// The limiter's decision as the request's headers, or its refusal.
fn conclude(decision: RateDecision) -> Result<LimitHeaders, Refusal> {
    let headers = headers(decision.windows());
    match decision {
        RateDecision::Allowed { .. } => Ok(headers),
        RateDecision::Limited {
            window,
            retry_after,
            ..
        } => Err(Refusal::RateLimited {
            window,
            retry_after,
            headers,
        }),
    }
}

/// The `RateLimit-Policy` and `RateLimit` headers for `windows` (none when unknown).
fn headers(windows: &[WindowState]) -> LimitHeaders {
    if windows.is_empty() {
        return Vec::new();
    }
    let (policy, current) = ratelimit_headers(windows);
    vec![("RateLimit-Policy", policy), ("RateLimit", current)]
}

/// A cost larger than a window's whole quota would be refused forever.
fn check_fits(windows: &[WindowSpec], cost: NonZeroU32) -> Result<(), Refusal> {
    match windows.iter().find(|w| w.quota < cost) {
        Some(w) => Err(Refusal::InvalidRequest {
            field: Some("submissions".into()),
            message: format!(
                "{cost} runs in one request exceed the {} window of {} runs per {}s",
                w.name,
                w.quota,
                w.period.as_secs()
            ),
        }),
        None => Ok(()),
    }
}

fn specs(windows: &[Window]) -> Vec<WindowSpec> {
    windows
        .iter()
        .map(|w| WindowSpec::new(&w.name, w.quota, w.period))
        .collect()
}
