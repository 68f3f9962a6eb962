//! Rate limits: a tier's windows (burst, hourly, daily…) decided together for
//! (tier, client key) — only code-executing routes count against them;
//! other routes get one light `passthrough` window.

use crate::config::{Rate, Tier, Window};
use crate::error::Refusal;
use execgate_core::{ClientKey, TierName};
use execgate_state::{RateDecision, RateLimiter, WindowSpec, ratelimit_headers};
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
            .collect();
        Self {
            limiter,
            passthrough: vec![spec],
            tiers,
        }
    }

    /// Takes one unit from every window, or refuses with 429 and takes none.
    pub fn check(
        &self,
        tier: &Tier,
        key: &ClientKey,
        charge: Charge,
    ) -> Result<LimitHeaders, Refusal> {
        let decision = match charge {
            Charge::Execution => match self.tiers.get(&tier.name) {
                Some(windows) => self
                    .limiter
                    .check(&tier.name, key, windows, NonZeroU32::MIN),
                None => self
                    .limiter
                    .check(&tier.name, key, &specs(&tier.windows), NonZeroU32::MIN),
            },
            Charge::Passthrough => {
                // A separate key keeps light traffic from eating execution quota.
                let key = ClientKey::parse(&format!("{key}#{PASSTHROUGH}"))
                    .unwrap_or_else(|| key.clone());
                self.limiter.check(
                    &TierName(PASSTHROUGH.into()),
                    &key,
                    &self.passthrough,
                    NonZeroU32::MIN,
                )
            }
        };
        let (policy, current) = ratelimit_headers(decision.windows());
        let headers = vec![("RateLimit-Policy", policy), ("RateLimit", current)];
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
}

fn specs(windows: &[Window]) -> Vec<WindowSpec> {
    windows
        .iter()
        .map(|w| WindowSpec::new(&w.name, w.quota, w.period))
        .collect()
}
