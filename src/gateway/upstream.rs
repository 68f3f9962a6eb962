//! The executors: round-robin over the healthy ones, TCP health checks in the
//! background, and the timeouts every upstream exchange runs under.

use crate::config::UpstreamSettings;
use crate::error::Refusal;
use pingora_core::services::background::{GenBackgroundService, background_service};
use pingora_core::upstreams::peer::HttpPeer;
use pingora_load_balancing::{LoadBalancer, health_check::TcpHealthCheck, selection::RoundRobin};
use std::sync::Arc;
use std::time::Duration;

/// The executor pool with its timeouts.
#[derive(Clone)]
pub struct Upstreams {
    pool: Arc<LoadBalancer<RoundRobin>>,
    count: usize,
    connect_timeout: Duration,
    read_timeout: Duration,
    total_timeout: Duration,
}

/// Builds the pool and the background service that health-checks it.
pub fn build(
    settings: &UpstreamSettings,
) -> Result<(Upstreams, GenBackgroundService<LoadBalancer<RoundRobin>>), String> {
    let mut pool =
        LoadBalancer::<RoundRobin>::try_from_iter(settings.addresses.iter().map(|a| a.to_string()))
            .map_err(|e| format!("upstream.addresses: {e}"))?;
    let mut check = TcpHealthCheck::new();
    check.peer_template.options.connection_timeout = Some(settings.connect_timeout);
    pool.set_health_check(check);
    pool.health_check_frequency = Some(settings.health_check_interval);
    let service = background_service("upstream health check", pool);
    let upstreams = Upstreams {
        pool: service.task(),
        count: settings.addresses.len(),
        connect_timeout: settings.connect_timeout,
        read_timeout: settings.read_timeout,
        total_timeout: settings.total_timeout,
    };
    Ok((upstreams, service))
}

impl Upstreams {
    /// The next healthy executor, with timeouts set; 503 when none is healthy.
    pub fn pick(&self) -> Result<Box<HttpPeer>, Refusal> {
        let backend = self
            .pool
            .select(b"", 256)
            .ok_or(Refusal::UpstreamUnavailable)?;
        let mut peer = HttpPeer::new(backend, false, String::new());
        peer.options.connection_timeout = Some(self.connect_timeout);
        peer.options.total_connection_timeout = Some(self.connect_timeout);
        peer.options.read_timeout = Some(self.read_timeout);
        peer.options.write_timeout = Some(self.read_timeout);
        Ok(Box::new(peer))
    }

    /// Whether a request whose connection failed `tries` times may try the
    /// next executor: each executor is tried at most once per request.
    pub fn may_retry(&self, tries: usize) -> bool {
        tries + 1 < self.count
    }

    /// Whether any executor is healthy now.
    pub fn any_healthy(&self) -> bool {
        // Read the health table: `select` would advance the rotation.
        let backends = self.pool.backends();
        backends.get_backend().iter().any(|b| backends.ready(b))
    }

    /// The longest a whole upstream exchange may take.
    pub fn total_timeout(&self) -> Duration {
        self.total_timeout
    }
}
