//! One structured audit line per request, and the request metrics, written when
//! the request ends — whatever path it took.

use super::context::{Decision, RequestCtx};
use crate::metrics::Metrics;
use pingora_http::RequestHeader;

/// Logs the audit line and updates metrics for a finished request.
pub fn finish(ctx: &mut RequestCtx, metrics: &Metrics, head: &RequestHeader) {
    if ctx.in_flight {
        metrics.in_flight.dec();
        ctx.in_flight = false;
    }
    if ctx.decision == Decision::Forwarded && ctx.replace_body.is_some() {
        ctx.decision = Decision::Refused("upstream_error");
    }
    let decision = ctx.decision.label();
    metrics.requests.with_label_values(&[decision]).inc();
    let identity = ctx.identity.as_ref();
    tracing::info!(
        target: "execgate::audit",
        request_id = %ctx.request_id,
        client = identity.map(|i| i.key.as_str()).unwrap_or("-"),
        ip = %identity.map(|i| i.ip.to_string()).unwrap_or_default(),
        tier = identity.map(|i| i.tier.as_str()).unwrap_or("-"),
        credential = identity.map(|i| i.credential.as_str()).unwrap_or("-"),
        method = head.method.as_str(),
        path = head.uri.path(),
        route = ?ctx.route,
        decision,
        reason = ctx.reason.as_deref().unwrap_or(""),
        status = ctx.status,
        latency_ms = ctx.started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}
