//! The upstream stage: the executors (round-robin over the healthy ones whose
//! circuit breaker is closed; health probes in the background and the outcome
//! of every real exchange feed those breakers, `breaker`), the timeouts every
//! upstream exchange runs under, and the request head as the executor gets it.

pub mod breaker;
pub mod tls;

use super::context::{Decision, RequestCtx};
use super::refusal;
use crate::config::UpstreamSettings;
use crate::error::Refusal;
use crate::metrics::Metrics;
use breaker::{Breakers, Exchange, Probe, ProbeCheck, Thresholds};
use execgate_dialect::DialectKind;
use pingora_core::services::background::{GenBackgroundService, background_service};
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::{Error, ErrorSource, ErrorType};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_load_balancing::{LoadBalancer, health_check::TcpHealthCheck, selection::RoundRobin};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The executor pool with its timeouts.
#[derive(Clone)]
pub struct Upstreams {
    pool: Arc<LoadBalancer<RoundRobin>>,
    /// The executors' breakers (`None` with a TCP-connect check only).
    breakers: Option<Arc<Breakers>>,
    count: usize,
    connect_timeout: Duration,
    read_timeout: Duration,
    total_timeout: Duration,
    /// TLS to the executors, when on.
    tls: Option<Arc<tls::PeerTls>>,
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
    let tls = settings
        .tls
        .as_ref()
        .map(|t| tls::PeerTls::new(t, settings.addresses[0]))
        .map(Arc::new);
    let mut pool =
        LoadBalancer::<RoundRobin>::try_from_iter(settings.addresses.iter().map(|a| a.to_string()))
            .map_err(|e| format!("upstream.addresses: {e}"))?;
    let breakers = match probe {
        Some(probe) => {
            let thresholds = Thresholds {
                failures: settings.failure_threshold,
                successes: settings.success_threshold,
            };
            let addrs = pool
                .backends()
                .get_backend()
                .iter()
                .map(|b| b.addr.to_string())
                .collect::<Vec<_>>();
            let breakers = Arc::new(Breakers::new(thresholds, metrics.clone(), addrs));
            // A probe answers at once: the connect timeout bounds its read too.
            let mut check = ProbeCheck::new(probe, settings.connect_timeout, breakers.clone())?;
            if let Some(tls) = &tls {
                tls.apply(check.peer_template());
            }
            pool.set_health_check(Box::new(check));
            Some(breakers)
        }
        None => {
            let mut check = TcpHealthCheck::new();
            check.peer_template.options.connection_timeout = Some(settings.connect_timeout);
            pool.set_health_check(check);
            None
        }
    };
    pool.health_check_frequency = Some(settings.health_check_interval);
    let service = background_service("upstream health check", pool);
    let upstreams = Upstreams {
        pool: service.task(),
        breakers,
        count: settings.addresses.len(),
        connect_timeout: settings.connect_timeout,
        read_timeout: settings.read_timeout,
        total_timeout: settings.total_timeout,
        tls,
    };
    Ok((upstreams, service))
}

impl Upstreams {
    /// The next healthy executor, with timeouts set; 503 when none is healthy.
    pub fn pick(&self) -> Result<Box<HttpPeer>, Refusal> {
        let backend = self
            .pool
            .select_with(b"", 256, |backend, healthy| {
                healthy && self.is_closed(&backend.addr.to_string())
            })
            .ok_or(Refusal::UpstreamUnavailable)?;
        let mut peer = match &self.tls {
            Some(tls) => tls.peer(backend),
            None => HttpPeer::new(backend, false, String::new()),
        };
        peer.options.connection_timeout = Some(self.connect_timeout);
        peer.options.total_connection_timeout = Some(self.connect_timeout);
        peer.options.read_timeout = Some(self.read_timeout);
        peer.options.write_timeout = Some(self.read_timeout);
        Ok(Box::new(peer))
    }

    /// Has `watcher` told of every change of an executor's breaker (none
    /// without probes: then no breaker exists).
    pub fn watch_breakers(&self, watcher: breaker::Watcher) {
        if let Some(b) = &self.breakers {
            b.watch(watcher);
        }
    }

    /// Whether `addr`'s breaker lets it take traffic.
    fn is_closed(&self, addr: &str) -> bool {
        self.breakers.as_ref().is_none_or(|b| b.is_closed(addr))
    }

    /// Feeds the outcome of one real exchange with `addr` to its breaker.
    fn report(&self, addr: &str, exchange: Exchange) {
        if let Some(breakers) = &self.breakers {
            breakers.exchange(addr, exchange);
        }
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
        backends
            .get_backend()
            .iter()
            .any(|b| backends.ready(b) && self.is_closed(&b.addr.to_string()))
    }

    /// The longest a whole upstream exchange may take.
    pub fn total_timeout(&self) -> Duration {
        self.total_timeout
    }
}

/// The executor for this request; no healthy one is refused (503).
pub fn peer(
    upstreams: &Upstreams,
    metrics: &Metrics,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<Box<HttpPeer>> {
    let peer = upstreams
        .pick()
        .map_err(|refusal| refusal::raise(metrics, ctx, refusal, "no healthy executor"))?;
    ctx.upstream_addr = Some(peer._address.to_string());
    Ok(peer)
}

/// An executor that refuses connections (down, not yet marked by the health
/// check) costs the client nothing: the next one in the rotation is tried.
/// The failure counts against the executor's breaker.
pub fn on_connect_failure(
    upstreams: &Upstreams,
    peer: &HttpPeer,
    ctx: &mut RequestCtx,
    mut e: Box<Error>,
) -> Box<Error> {
    upstreams.report(&peer._address.to_string(), Exchange::Failed);
    if upstreams.may_retry(ctx.connect_failures) {
        ctx.connect_failures += 1;
        e.set_retry(true);
    }
    e
}

/// The head is on its way to the executor: the request is forwarded, and its
/// upstream clocks start.
pub fn on_request_head(up: &mut RequestHeader, ctx: &mut RequestCtx) -> pingora_core::Result<()> {
    rewrite_head(up, ctx)?;
    ctx.decision = Decision::Forwarded;
    ctx.upstream_sent = Some(Instant::now());
    Ok(())
}

/// The executor answered: its status counts for its breaker (5xx as failed).
pub fn on_response_head(upstreams: &Upstreams, head: &ResponseHeader, ctx: &RequestCtx) {
    if let Some(addr) = &ctx.upstream_addr {
        upstreams.report(addr, Exchange::Answered(head.status.as_u16()));
    }
}

/// The request ended: an exchange that broke or timed out once connected
/// counts as failed (connect failures were counted by `on_connect_failure`).
pub fn on_end(upstreams: &Upstreams, e: Option<&Error>, ctx: &RequestCtx) {
    use ErrorType::*;
    let (Some(addr), Some(e)) = (&ctx.upstream_addr, e) else {
        return;
    };
    let connect = matches!(
        e.etype(),
        ConnectTimedout | ConnectRefused | ConnectNoRoute | ConnectError | SocketError
    );
    if matches!(e.esource(), ErrorSource::Upstream) && !connect {
        upstreams.report(addr, Exchange::Failed);
    }
}

/// The total upstream timeout: a response trickling in just under the read
/// timeout still ends when the whole exchange has taken too long.
pub fn check_total_time(
    upstreams: &Upstreams,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<Option<Duration>> {
    match ctx.upstream_sent {
        Some(sent) if sent.elapsed() > upstreams.total_timeout() => {
            ctx.reason = Some("upstream total timeout".into());
            Err(Error::new_up(ErrorType::ReadTimedout))
        }
        _ => Ok(None),
    }
}

/// The only client headers sent upstream; the gateway adds its own
/// (`X-Request-Id`, `X-Forwarded-For`, `Accept-Encoding`, framing). An allow
/// list, since the headers an executor or its framework acts on cannot all be
/// named in advance (`X-HTTP-Method-Override`, `X-Original-URL`, client
/// address claims, cookies, credentials, hop-by-hop and expectation headers).
const FORWARDED: [&str; 6] = [
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "accept",
    "user-agent",
];

/// Rewrites the head sent upstream: the dialect's explicit path, identity
/// encoding, request id, the client's address, no client credentials, and
/// chunked JSON framing for rewritten bodies.
fn rewrite_head(up: &mut RequestHeader, ctx: &RequestCtx) -> pingora_core::Result<()> {
    if ctx.forward_path != ctx.path_and_query {
        let uri = ctx.forward_path.parse::<http::Uri>().map_err(|e| {
            pingora_core::Error::because(pingora_core::ErrorType::InternalError, "forward path", e)
        })?;
        up.set_uri(uri);
    }
    let dropped: Vec<http::HeaderName> = up
        .headers
        .keys()
        .filter(|name| !FORWARDED.contains(&name.as_str()))
        .cloned()
        .collect();
    for name in dropped {
        up.remove_header(&name);
    }
    up.insert_header("Accept-Encoding", "identity")?;
    up.insert_header("X-Request-Id", ctx.request_id.as_str())?;
    if let Some(id) = &ctx.identity {
        up.insert_header("X-Forwarded-For", id.ip.to_string())?;
    }
    let has_body = up.headers.contains_key(http::header::CONTENT_LENGTH)
        || up.headers.contains_key(http::header::TRANSFER_ENCODING);
    if ctx.route.executes() || has_body {
        up.remove_header("content-length");
        up.insert_header("Transfer-Encoding", "chunked")?;
    }
    if ctx.route.executes() {
        // The body forwarded is the dialect's re-encoded JSON (or a raw
        // route's checked program), whatever the client declared.
        up.insert_header("Content-Type", ctx.forward_content_type.as_str())?;
        if let Some((name, value)) = &ctx.language_header {
            up.insert_header(name.clone(), value.as_str())?;
        }
        up.remove_header("content-encoding");
    }
    Ok(())
}
