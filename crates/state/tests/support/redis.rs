//! Limiters over real Redis servers shared by one test binary: a standalone
//! server and a 3-master cluster, started on first use. Every limiter gets a
//! key prefix of its own, so tests sharing a server never see each other's keys.

#![allow(dead_code)]

use execgate_core::ManualClock;
use execgate_state::backend::{
    BackendKind, BackendMetrics, OnError, RedisBackend, SharedStateConfig,
};
use execgate_state::testing::{RedisCluster, RedisServer};
use execgate_state::{RateLimiter, RedisRateLimiter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

static STANDALONE: OnceLock<RedisServer> = OnceLock::new();
static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
static NEXT_PREFIX: AtomicUsize = AtomicUsize::new(0);

pub fn standalone() -> &'static RedisServer {
    STANDALONE.get_or_init(RedisServer::start)
}

pub fn cluster() -> &'static RedisCluster {
    CLUSTER.get_or_init(RedisCluster::start)
}

fn fresh_prefix() -> String {
    format!(
        "t{}-{}",
        std::process::id(),
        NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn standalone_config() -> SharedStateConfig {
    SharedStateConfig {
        backend: BackendKind::Redis,
        url: Some(standalone().url()),
        key_prefix: fresh_prefix(),
        pool_size: 1,
        // Wide: a loaded test machine must not turn into a fallback decision.
        command_timeout: execgate_core::HumanDuration(std::time::Duration::from_secs(5)),
        ..SharedStateConfig::default()
    }
}

pub fn cluster_config() -> SharedStateConfig {
    SharedStateConfig {
        url: None,
        cluster: cluster().urls(),
        ..standalone_config_without_server()
    }
}

fn standalone_config_without_server() -> SharedStateConfig {
    SharedStateConfig {
        backend: BackendKind::Redis,
        key_prefix: fresh_prefix(),
        pool_size: 1,
        command_timeout: execgate_core::HumanDuration(std::time::Duration::from_secs(5)),
        ..SharedStateConfig::default()
    }
}

pub fn limiter_on(config: &SharedStateConfig, clock: ManualClock) -> Arc<dyn RateLimiter> {
    let backend = RedisBackend::connect(config, BackendMetrics::unregistered().unwrap())
        .expect("connect to the test Redis");
    Arc::new(RedisRateLimiter::new(
        backend,
        Arc::new(clock),
        OnError::Closed,
        1.0,
    ))
}

pub fn standalone_limiter(clock: ManualClock) -> Arc<dyn RateLimiter> {
    limiter_on(&standalone_config(), clock)
}

pub fn cluster_limiter(clock: ManualClock) -> Arc<dyn RateLimiter> {
    limiter_on(&cluster_config(), clock)
}

pub fn store_on(
    config: &SharedStateConfig,
    clock: ManualClock,
) -> Arc<dyn execgate_state::BlockStore> {
    let backend = RedisBackend::connect(config, BackendMetrics::unregistered().unwrap())
        .expect("connect to the test Redis");
    Arc::new(
        execgate_state::RedisBlockStore::open(backend, Arc::new(clock), OnError::Open, None)
            .expect("open the shared blocklist"),
    )
}

pub fn standalone_store(clock: ManualClock) -> Arc<dyn execgate_state::BlockStore> {
    store_on(&standalone_config(), clock)
}

pub fn cluster_store(clock: ManualClock) -> Arc<dyn execgate_state::BlockStore> {
    store_on(&cluster_config(), clock)
}
