//! The Pingora proxy: one module per stage of a request's way through the gateway.
//!
//! `Gateway` owns what the stages share (the reloadable `policy`: identity,
//! IP policy, tiers and limits; dialect, rules, upstreams, metrics); `context` is the per-request record they write.
//! `proxy` is the `ProxyHttp` impl, a table of contents calling in order
//! `admission` (request head), `body` (request body and its decision, `exec`),
//! `upstream` (the executor and the head it gets), `outbound` (response side),
//! then `audit` and `account`; `refusal` answers every failure on the way.
//! Stages use this module and `context`, which use no stage back.

pub mod account;
pub mod admission;
pub mod alerts;
pub mod audit;
pub mod body;
pub mod capacity;
pub mod context;
pub mod exec;
pub mod identity;
pub mod ip_policy;
pub mod limits;
pub mod outbound;
pub mod policy;
pub mod proxy;
pub mod refusal;
pub mod request_id;
pub mod session;
pub mod tokens;
pub mod unpolled;
pub mod upstream;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::rules::Rules;
use execgate_core::Live;
use execgate_dialect::Dialect;
use execgate_state::{BlockStore, Reputation};
pub use policy::{Policy, TierPolicies};
use std::sync::Arc;
use std::time::Duration;
use upstream::Upstreams;

/// What the proxy needs from outside config: shared state and the rule set.
pub struct Shared {
    /// Identity, IP policy, tiers and limits, swapped by a config reload.
    pub policy: Arc<Live<Policy>>,
    /// The dynamic blocklist.
    pub blocks: Arc<dyn BlockStore>,
    /// Screening and output rules, swapped on reload.
    pub rules: Arc<Live<Rules>>,
    /// Metrics registry.
    pub metrics: Metrics,
    /// Client reputation (bans repeat offenders).
    pub reputation: Arc<Reputation>,
    /// Execution pool, metering and budgets (`[capacity] enabled`).
    pub capacity: Option<Arc<execgate_capacity::Capacity>>,
    /// The console's top clients, counted as requests finish.
    pub top: Arc<crate::console::top::TopClients>,
}

/// The gateway: everything the proxy hooks share.
pub struct Gateway {
    /// Identity, IP policy, tiers and limits: each request reads the
    /// snapshot it started with (`RequestCtx::policy`).
    policy: Arc<Live<Policy>>,
    blocks: Arc<dyn BlockStore>,
    dialect: Arc<Dialect>,
    rules: Arc<Live<Rules>>,
    upstreams: Upstreams,
    metrics: Metrics,
    reputation: Arc<Reputation>,
    /// Judge0 result tokens and who submitted them.
    tokens: Arc<tokens::TokenOwners>,
    body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    idle_timeout: Duration,
    /// `Strict-Transport-Security` on every answer, while TLS is on.
    hsts: Option<Arc<crate::tls::Hsts>>,
    /// Execution pool, metering and budgets, when enabled.
    capacity: Option<Arc<execgate_capacity::Capacity>>,
    /// Judge0 `callback_url` delivery.
    callbacks: Arc<crate::callback::Callbacks>,
    top: Arc<crate::console::top::TopClients>,
}

impl Gateway {
    /// Builds the gateway from validated settings and the shared state.
    pub fn new(settings: &Settings, shared: Shared, upstreams: Upstreams) -> Result<Self, String> {
        let dialect = Arc::new(Dialect::new(settings.dialect.clone())?);
        let callbacks = Arc::new(crate::callback::Callbacks::new(
            &settings.dialect.callbacks,
            &settings.upstream,
            shared.metrics.callbacks.clone(),
            shared.rules.clone(),
            dialect.clone(),
        )?);
        alerts::watch_executors(&upstreams, shared.capacity.as_ref());
        Ok(Self {
            policy: shared.policy,
            blocks: shared.blocks,
            dialect,
            callbacks,
            rules: shared.rules,
            upstreams,
            metrics: shared.metrics,
            reputation: shared.reputation,
            capacity: shared.capacity,
            top: shared.top,
            tokens: Arc::new(tokens::TokenOwners::new(
                settings.limits.result_tokens_ttl,
                settings.limits.max_result_tokens,
            )),
            body_timeout: settings.server.body_timeout,
            idle_timeout: settings.server.header_timeout,
            hsts: settings
                .tls
                .as_ref()
                .and_then(|t| t.hsts_max_age)
                .map(|max_age| Arc::new(crate::tls::Hsts::new(max_age))),
        })
    }

    /// The policy new requests are decided by.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load()
    }
}
