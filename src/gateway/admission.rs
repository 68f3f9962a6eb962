//! The request side in order: identify → IP policy → route → rate limits →
//! body cap; then the held body is decided and the upstream head rewritten.

use super::Gateway;
use super::body::{BodyHold, check_declared};
use super::context::RequestCtx;
use super::identity::Identity;
use super::ip_policy::IpVerdict;
use super::limits::Charge;
use super::request::prepare;
use crate::error::{BlockCategory, Refusal};
use bytes::Bytes;
use execgate_dialect::{FORWARD_CONTENT_TYPE, RouteKind};
use execgate_state::BlockQuery;
use pingora_http::RequestHeader;
use pingora_proxy::Session;
use std::net::IpAddr;

/// Stamps the request id, counts the request in flight, and bounds how long
/// the connection may then sit idle: only a connection's first head passes
/// the accept guard's deadline.
pub fn start(gw: &Gateway, session: &mut Session, ctx: &mut RequestCtx) {
    ctx.request_id = super::request_id::request_id(&session.req_header().headers);
    gw.metrics.in_flight.inc();
    ctx.in_flight = true;
    session.set_keepalive(Some(gw.idle_timeout.as_secs().max(1)));
}

/// Every check that needs only the request head; `Err` is sent before any upstream contact.
pub fn admit(gw: &Gateway, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), Refusal> {
    let peer = peer_ip(gw, session)?;
    let head = session.req_header();
    let ip = gw.identifier.client_ip(peer, &head.headers);
    let geo = match gw.ip_policy.check(ip) {
        IpVerdict::Denied(category) => {
            return Err(Refusal::IpBlocked {
                category,
                reason: None,
            });
        }
        IpVerdict::Allowed => {
            ctx.allow_listed = true;
            None
        }
        IpVerdict::Neutral(geo) => Some(geo),
    };
    let identity = match gw.identifier.identify(peer, &head.headers) {
        Ok(identity) => identity,
        Err(refusal) => {
            // A failed login counts against the address it came from.
            ctx.identity = Some(gw.identifier.anonymous(peer, &head.headers));
            return Err(refusal);
        }
    };
    ctx.identity = Some(identity.clone());
    if let Some(geo) = geo {
        check_blocklist(gw, &identity, geo.country.as_deref(), geo.asn)?;
    }
    ctx.path_and_query = head
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    ctx.route = gw.dialect.route(&head.method, &ctx.path_and_query);
    if ctx.route == RouteKind::Unknown {
        return Err(Refusal::UnknownRoute);
    }
    ctx.forward_path = gw
        .dialect
        .forward_path(ctx.route, &ctx.path_and_query)
        .map_err(Refusal::from)?;
    let tier = gw.tier(&identity);
    let charge = if ctx.route.executes() {
        Charge::Execution
    } else {
        Charge::Passthrough
    };
    ctx.limit_headers = gw.limits.check(tier, &identity.key, charge)?;
    check_declared(&head.headers, tier.body_max.bytes())?;
    ctx.body = BodyHold::new(tier.body_max.as_usize());
    session.set_read_timeout(Some(gw.body_timeout));
    Ok(())
}

fn check_blocklist(
    gw: &Gateway,
    id: &Identity,
    country: Option<&str>,
    asn: Option<u32>,
) -> Result<(), Refusal> {
    let query = BlockQuery {
        ip: id.ip,
        client: &id.key,
        country,
        asn,
    };
    match gw.blocks.check(&query) {
        Some(decision) => Err(Refusal::IpBlocked {
            category: BlockCategory::Blocklist,
            reason: Some(decision.origin.as_str().to_string()),
        }),
        None => Ok(()),
    }
}

/// The TCP peer: through the accept guard's table when the guard fronts
/// Pingora. A relayed connection whose entry is gone (the client reset it
/// early) is refused rather than taken for the guard's own loopback address.
fn peer_ip(gw: &Gateway, session: &Session) -> Result<IpAddr, Refusal> {
    let addr = session.client_addr().and_then(|a| a.as_inet()).copied();
    match addr {
        Some(a) if gw.guarded => gw
            .peers
            .original(a)
            .map(|orig| orig.ip())
            .ok_or(Refusal::Internal),
        Some(a) => Ok(a.ip()),
        None => Err(Refusal::Internal),
    }
}

/// Bodies up to this size are read whole, and decided, before an executor is
/// even chosen: Pingora replays them from its retry buffer, which holds 64 KiB.
/// Larger bodies (tiers with a larger `body_max`) must declare their length and
/// are held back as they stream.
const READ_AHEAD_MAX: u64 = 64 << 10;

/// Whether the body is read and decided before any upstream contact: every
/// body but one declared larger than the read-ahead size.
pub fn reads_ahead(headers: &http::HeaderMap) -> bool {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared.is_none_or(|n| n <= READ_AHEAD_MAX)
}

/// Reads the whole body (within the body deadline) and decides it; the
/// decided body waits in `ctx` for the upstream. `Ok(Err(_))` is a refusal to
/// send, `Err(_)` a broken client connection.
pub async fn read_ahead(
    gw: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<Result<(), Refusal>> {
    session.enable_retry_buffering();
    if expects_continue(&session.req_header().headers) {
        // The client waits for this before sending its body (curl: a second).
        let go_on = pingora_http::ResponseHeader::build(100, None)?;
        session
            .write_response_header(Box::new(go_on), false)
            .await?;
    }
    let deadline = tokio::time::Instant::now() + gw.body_timeout;
    loop {
        let read = tokio::time::timeout_at(deadline, session.read_request_body()).await;
        let chunk = match read {
            Err(_) => return Ok(Err(Refusal::BodyTimeout)),
            Ok(chunk) => chunk?,
        };
        match chunk {
            Some(chunk) => {
                if let Err(refusal) = ctx.body.push(&chunk) {
                    return Ok(Err(refusal));
                }
                // Past this Pingora cannot replay the body: only a declared
                // length lets a larger one stream.
                if ctx.body.len() as u64 > READ_AHEAD_MAX {
                    return Ok(Err(Refusal::LengthRequired {
                        limit: READ_AHEAD_MAX,
                    }));
                }
            }
            None => break,
        }
    }
    ctx.body_complete = true;
    let whole = ctx.body.take();
    Ok(decide(gw, ctx, whole).await.map(|forward| {
        ctx.decided_body = Some(forward);
    }))
}

/// Whether the client asked for `100 Continue` before sending its body.
fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// Holds every chunk back; returns the whole body once the stream ends.
/// A body decided ahead replaces what Pingora replays of it.
pub fn hold_body(
    ctx: &mut RequestCtx,
    body: &mut Option<Bytes>,
    end: bool,
) -> Result<Option<Bytes>, Refusal> {
    if ctx.body_complete {
        // Kept (a cheap clone) for a retry on the next executor.
        *body = ctx.decided_body.clone();
        return Ok(None);
    }
    if let Some(chunk) = body.take() {
        ctx.body.push(&chunk)?;
    }
    if !end {
        // Never `None` mid-stream: that would end the upstream body.
        *body = Some(Bytes::new());
        return Ok(None);
    }
    ctx.body_complete = true;
    Ok(Some(ctx.body.take()))
}

/// Bodies up to this size are decided on the proxy's own thread: screening
/// them takes well under a millisecond even at their worst (the screener bounds
/// depth and time), less than handing them to another thread costs.
const INLINE_DECISION_MAX: usize = 2 << 10;

/// Decides a complete body: executing routes are decoded, clamped and screened
/// (larger bodies on a blocking thread: Python analysis may take a while); the
/// result is the body to forward.
pub async fn decide(gw: &Gateway, ctx: &mut RequestCtx, whole: Bytes) -> Result<Bytes, Refusal> {
    if !ctx.route.executes() {
        return Ok(whole);
    }
    let identity = ctx.identity.as_ref().ok_or(Refusal::Internal)?;
    let policies = gw.policies(identity).clone();
    let (dialect, rules) = (gw.dialect.clone(), gw.rules.load());
    let (route, pq) = (ctx.route, ctx.path_and_query.clone());
    let inline = whole.len() <= INLINE_DECISION_MAX;
    let job = move || {
        prepare(
            &dialect,
            route,
            &pq,
            &whole,
            &policies.tier,
            &rules.screen,
            &policies.screen,
        )
    };
    let outcome = if inline {
        job()
    } else {
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|_| Refusal::Internal)?
    };
    let verdicts = match &outcome {
        Ok(p) => &p.verdicts,
        Err((_, v)) => v,
    };
    gw.record_findings(ctx, verdicts);
    let prepared = outcome.map_err(|(refusal, _)| refusal)?;
    ctx.exec = Some(prepared.exec);
    Ok(Bytes::from(prepared.body))
}

/// Client headers never sent upstream: credentials; what the client says of its
/// own address (the gateway says it in `X-Forwarded-For`); hop-by-hop and
/// expectation headers (an executor's `100 Continue` or `101` is not the answer
/// the gateway relays).
const NOT_FORWARDED: [&str; 13] = [
    "authorization",
    "x-api-key",
    "forwarded",
    "x-real-ip",
    "client-ip",
    "true-client-ip",
    "x-forwarded-host",
    "x-forwarded-proto",
    "expect",
    "upgrade",
    "te",
    "keep-alive",
    "proxy-connection",
];

/// Rewrites the head sent upstream: the dialect's explicit path, identity
/// encoding, request id, the client's address, no client credentials, and
/// chunked JSON framing for rewritten bodies.
pub fn rewrite_upstream_head(up: &mut RequestHeader, ctx: &RequestCtx) -> pingora_core::Result<()> {
    if ctx.forward_path != ctx.path_and_query {
        let uri = ctx.forward_path.parse::<http::Uri>().map_err(|e| {
            pingora_core::Error::because(pingora_core::ErrorType::InternalError, "forward path", e)
        })?;
        up.set_uri(uri);
    }
    up.insert_header("Accept-Encoding", "identity")?;
    up.insert_header("X-Request-Id", ctx.request_id.as_str())?;
    for name in NOT_FORWARDED {
        up.remove_header(name);
    }
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
        // The body forwarded is the dialect's re-encoded JSON, whatever the client declared.
        up.insert_header("Content-Type", FORWARD_CONTENT_TYPE)?;
        up.remove_header("content-encoding");
    }
    Ok(())
}
