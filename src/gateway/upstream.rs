//! The executors: round-robin over the healthy ones, health probes with a
//! circuit breaker per executor in the background (`breaker`), and the
//! timeouts every upstream exchange runs under.

pub mod breaker;

use crate::config::UpstreamSettings;
use crate::error::Refusal;
use crate::metrics::Metrics;
use breaker::{Probe, ProbeCheck, Thresholds};
use execgate_dialect::DialectKind;
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

/// The probe of an executor speaking `dialect` (the first API when several
/// are served): the configured one, else a listing its API answers without
/// running code; `None` (a TCP connect only) for a generic executor without one.
pub fn probe(settings: &UpstreamSettings, dialect: DialectKind) -> Option<Probe> {
    let path = match (&settings.health_check, dialect) {
        (Some(path), _) => path.clone(),
        (None, DialectKind::Piston) => "/api/v2/runtimes".into(),
        (None, DialectKind::Judge0) => "/about".into(),
        (None, DialectKind::Generic) => return None,
    };
    Some(Probe {
        path,
        status: settings.health_check_status,
    })
}

/// Builds the pool and the background service that health-checks it with
/// `probe` (a TCP connect when `None`).
pub fn build(
    settings: &UpstreamSettings,
    probe: Option<&Probe>,
    metrics: &Metrics,
) -> Result<(Upstreams, GenBackgroundService<LoadBalancer<RoundRobin>>), String> {
    let mut pool =
        LoadBalancer::<RoundRobin>::try_from_iter(settings.addresses.iter().map(|a| a.to_string()))
            .map_err(|e| format!("upstream.addresses: {e}"))?;
    match probe {
        Some(probe) => {
            let thresholds = Thresholds {
                failures: settings.failure_threshold,
                successes: settings.success_threshold,
            };
            // A probe answers at once: the connect timeout bounds its read too.
            let check =
                ProbeCheck::new(probe, settings.connect_timeout, thresholds, metrics.clone())?;
            pool.set_health_check(Box::new(check));
        }
        None => {
            let mut check = TcpHealthCheck::new();
            check.peer_template.options.connection_timeout = Some(settings.connect_timeout);
            pool.set_health_check(check);
        }
    }
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
