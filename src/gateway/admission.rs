//! The request head, checked in order before any upstream contact: the TCP
//! peer → IP policy (deny/allow lists, GeoIP) → identity → blocklist (address,
//! client key, country, ASN) → route and the path forwarded → rate limits →
//! result tokens → body framing and declared size. A body small enough is then
//! read and decided here too (see `body`), so a refusal is answered before an
//! executor is chosen.

use super::context::{BodyHold, RequestCtx};
use super::identity::Identity;
use super::ip_policy::IpVerdict;
use super::limits::{Charge, LimitHeaders};
use super::policy::Policy;
use super::{Gateway, body, refusal};
use crate::error::{BlockCategory, Refusal};
use execgate_dialect::RouteKind;
use execgate_state::BlockQuery;
use pingora_http::RequestHeader;
use pingora_proxy::Session;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// The request head hook: admits the head, then reads a small body ahead and
/// decides it. It never answers by itself: a refusal goes to the rescue point.
pub async fn on_request(
    gw: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<bool> {
    // Requests a client sends before reading earlier answers are served
    // one after another, answered in order (RFC 9112 §9.3.2).
    session.set_pipelining_enabled(true);
    open_request(gw, session, ctx);
    if let Err(refused) = admit(gw, session, ctx).await {
        return Err(refusal::raise(&gw.metrics, ctx, refused, "request refused"));
    }
    if body::reads_ahead(&session.req_header().headers) {
        body::read_ahead(gw, session, ctx).await?;
    }
    Ok(false)
}

/// Stamps the request id, counts the request in flight, and bounds how long
/// the connection may then sit idle before its next request.
fn open_request(gw: &Gateway, session: &mut Session, ctx: &mut RequestCtx) {
    let head = session.req_header();
    ctx.request_id = super::request_id::request_id(&head.headers);
    ctx.client_chunks = head.version >= http::Version::HTTP_11;
    gw.metrics.in_flight.inc();
    ctx.in_flight = true;
    // Off stays off: the client asked to close, or the gateway is stopping
    // (a graceful stop or an upgrade answers each request `Connection: close`).
    if session.get_keepalive().is_some() {
        session.set_keepalive(Some(gw.idle_timeout.as_secs().max(1)));
    }
}

/// Every check that needs only the request head; `Err` is sent before any upstream contact.
async fn admit(gw: &Gateway, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), Refusal> {
    let identity = identify(gw, session, ctx)?;
    let head = session.req_header();
    route(gw, head, ctx)?;
    let policy = ctx.policy.clone();
    let tier = policy.tier(&identity);
    ctx.limit_headers = charge_head(&policy, &identity, ctx.route).await?;
    check_tokens(gw, &head.method, &identity, ctx)?;
    if !ctx.route.executes() {
        check_no_body(&head.headers)?;
    }
    body::check_declared(&head.headers, tier.body_max.bytes())?;
    ctx.body = BodyHold::new(tier.body_max.as_usize());
    session.set_read_timeout(Some(gw.body_timeout));
    Ok(())
}

/// Who the client is, once its address passed the IP policy and neither it
/// nor its key, country or ASN is on the blocklist.
fn identify(gw: &Gateway, session: &Session, ctx: &mut RequestCtx) -> Result<Identity, Refusal> {
    let peer = peer_ip(session)?;
    let head = session.req_header();
    let policy = ctx.policy.clone();
    let ip = policy.identifier.client_ip(peer, &head.headers);
    let geo = match policy.ip_policy.check(ip) {
        IpVerdict::Denied(category) => {
            return Err(Refusal::Blocked {
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
    let certificate = crate::tls::session_peer_names(session);
    let identity = match policy
        .identifier
        .identify_with(peer, &head.headers, certificate)
    {
        Ok(identity) => identity,
        Err(refusal) => {
            // A failed login counts against the address it came from.
            ctx.identity = Some(policy.identifier.anonymous(peer, &head.headers));
            return Err(refusal);
        }
    };
    ctx.identity = Some(identity.clone());
    if let Some(geo) = geo {
        check_blocklist(gw, &identity, geo.country.as_deref(), geo.asn)?;
        // Failing closed: a ban earned across gateways could not be seen.
        if !gw.reputation.admits() {
            return Err(Refusal::StateUnavailable);
        }
    }
    Ok(identity)
}

/// The route the dialect reads from the head, and what of it is forwarded.
fn route(gw: &Gateway, head: &RequestHeader, ctx: &mut RequestCtx) -> Result<(), Refusal> {
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
    if ctx.route.executes() {
        ctx.forward_content_type = gw.dialect.forward_content_type(&ctx.path_and_query);
        ctx.language_header = raw_language_header(gw, &head.headers, &ctx.path_and_query)?;
    }
    Ok(())
}

/// What the head costs against the client's rate limits; the `RateLimit*`
/// headers of its standing.
async fn charge_head(
    policy: &Policy,
    identity: &Identity,
    route: RouteKind,
) -> Result<LimitHeaders, Refusal> {
    let tier = policy.tier(identity);
    match route {
        // A batch costs one unit per run, known from its body: charged once decoded.
        RouteKind::ExecuteBatch => policy.limits.peek(&identity.key).await,
        RouteKind::Execute => {
            policy
                .limits
                .check_async(tier, &identity.key, Charge::Execution, NonZeroU32::MIN)
                .await
        }
        _ => {
            policy
                .limits
                .check_async(tier, &identity.key, Charge::Passthrough, NonZeroU32::MIN)
                .await
        }
    }
}

/// The language header of a raw-body route that reads one, when sent; one
/// that is not text is refused rather than read differently by the executor.
fn raw_language_header(
    gw: &Gateway,
    headers: &http::HeaderMap,
    path_and_query: &str,
) -> Result<Option<(http::HeaderName, String)>, Refusal> {
    let Some(name) = gw.dialect.language_header(path_and_query) else {
        return Ok(None);
    };
    let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| Refusal::Internal)?;
    let mut values = headers.get_all(&name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match headers.contains_key(&name) {
            true => Err(Refusal::InvalidRequest {
                field: Some(name.to_string()),
                message: "must be sent once".into(),
            }),
            false => Ok(None),
        };
    };
    let value = value.to_str().map_err(|_| Refusal::InvalidRequest {
        field: Some(name.to_string()),
        message: "must be visible ASCII text".into(),
    })?;
    Ok(Some((name, value.to_string())))
}

/// A route that runs nothing reads nothing from a body: one sent anyway is
/// refused rather than handed to an executor that might read it.
fn check_no_body(headers: &http::HeaderMap) -> Result<(), Refusal> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes().iter().any(|b| *b != b'0'));
    if declared || headers.contains_key(http::header::TRANSFER_ENCODING) {
        return Err(Refusal::InvalidRequest {
            field: Some("body".into()),
            message: "this route takes no request body".into(),
        });
    }
    Ok(())
}

/// A route that reads results by token passes only with tokens of the
/// caller's own; any other is answered as a path that does not exist.
fn check_tokens(
    gw: &Gateway,
    method: &http::Method,
    identity: &Identity,
    ctx: &mut RequestCtx,
) -> Result<(), Refusal> {
    let Some(tokens) = gw.dialect.read_tokens(method, &ctx.path_and_query) else {
        return Ok(());
    };
    if !gw
        .tokens
        .all_owned_by(&identity.key, &tokens, std::time::Instant::now())
    {
        ctx.reason = Some("result token of another client, or unknown".into());
        return Err(Refusal::UnknownRoute);
    }
    ctx.read_tokens = Some(tokens);
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
        Some(decision) => Err(Refusal::Blocked {
            category: BlockCategory::Blocklist,
            reason: Some(decision.origin.as_str().to_string()),
        }),
        None => Ok(()),
    }
}

/// The TCP peer (the accept guard hands the proxy the client's own socket).
fn peer_ip(session: &Session) -> Result<IpAddr, Refusal> {
    session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
        .ok_or(Refusal::Internal)
}
