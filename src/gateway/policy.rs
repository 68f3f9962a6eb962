//! The part of the gateway a config reload replaces: who clients are (API
//! keys, JWT keys, proxy trust), the static IP and GeoIP policy, the tiers
//! with their limits, screening thresholds and output policies.
//!
//! A request takes one snapshot when it starts and reads every decision from
//! it, so a reload in the middle of a request never mixes two configs.

use super::identity::{Identifier, Identity};
use super::ip_policy::IpPolicy;
use super::limits::Limits;
use crate::config::{Settings, Tier};
use execgate_core::{ClientKey, TierName};
use execgate_sanitize::OutputPolicy;
use execgate_screen::ScreenPolicy;
use execgate_state::RateLimiter;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Per-tier policies derived once from config.
pub struct TierPolicies {
    /// The tier.
    pub tier: Tier,
    /// Screening policy with the tier's threshold.
    pub screen: ScreenPolicy,
    /// Output policy with the tier's caps.
    pub output: OutputPolicy,
}

/// Everything reloadable a request is decided by.
pub struct Policy {
    /// API keys, JWT and the proxies trusted for the client address.
    pub identifier: Identifier,
    /// Allow and deny lists, GeoIP databases.
    pub ip_policy: IpPolicy,
    /// The tiers' rate windows over the shared limiter.
    pub limits: Arc<Limits>,
    tiers: BTreeMap<TierName, Arc<TierPolicies>>,
    fallback: Arc<TierPolicies>,
    /// `client:ID` of each API key and client certificate owner → its tier.
    client_tiers: HashMap<String, TierName>,
}

impl Policy {
    /// Builds the policy of `settings` over the process's `limiter`; opens
    /// the GeoIP databases (errors say `file: reason`).
    pub fn new(settings: &Settings, limiter: Arc<dyn RateLimiter>) -> Result<Self, String> {
        let tiers: BTreeMap<TierName, Arc<TierPolicies>> = settings
            .tiers
            .values()
            .map(|t| (t.name.clone(), Arc::new(policies(settings, t))))
            .collect();
        let fallback = tiers
            .get(&settings.anonymous_tier)
            .or_else(|| tiers.values().next())
            .cloned()
            .ok_or("config has no tiers")?;
        Ok(Self {
            identifier: Identifier::new(
                &settings.identity,
                &settings.tiers,
                settings.anonymous_tier.clone(),
            )?,
            ip_policy: IpPolicy::new(&settings.ip_policy)?,
            limits: Arc::new(Limits::new(
                limiter,
                settings.tiers.values(),
                settings.limits.passthrough,
            )),
            tiers,
            fallback,
            client_tiers: settings
                .identity
                .api_keys
                .values()
                .chain(settings.identity.client_certs.values())
                .map(|c| (format!("client:{}", c.client), c.tier.clone()))
                .collect(),
        })
    }

    /// The tier of a client key, for the admin API: addresses are
    /// anonymous, configured clients have theirs, token subjects are unknown.
    pub fn tier_of_key(&self, key: &ClientKey) -> Option<TierName> {
        if key.as_str().starts_with("ip:") {
            Some(self.fallback.tier.name.clone())
        } else {
            self.client_tiers.get(key.as_str()).cloned()
        }
    }

    /// The tier of `identity` (anonymous when its tier vanished on reload).
    pub fn tier(&self, identity: &Identity) -> &Tier {
        &self.policies(identity).tier
    }

    /// The policies of `identity`'s tier.
    pub fn policies(&self, identity: &Identity) -> &Arc<TierPolicies> {
        self.tiers.get(&identity.tier).unwrap_or(&self.fallback)
    }
}

fn policies(settings: &Settings, tier: &Tier) -> TierPolicies {
    let mut screen = settings.screen.clone();
    screen.threshold = tier.inbound_threshold;
    // The gateway's own environment is a secret as much as the listed names.
    let mut output = settings.output.clone().with_process_env();
    output.stdout_max_bytes = tier.stdout_max;
    output.stderr_max_bytes = tier.stderr_max;
    TierPolicies {
        tier: tier.clone(),
        screen,
        output,
    }
}
