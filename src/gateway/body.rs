//! The request body: a declared `Content-Length` over the cap is refused before
//! any upstream contact; every body is held back, counted chunk by chunk, and
//! decided (decoded, clamped, screened) before the executor sees a byte of it —
//! bodies up to 64 KiB before an executor is even chosen.

use super::context::RequestCtx;
use super::exec::{Held, decode, finish};
use super::identity::Identity;
use super::limits::{Charge as LimitCharge, LimitHeaders};
use super::policy::{Policy, TierPolicies};
use super::{Gateway, refusal};
use crate::error::Refusal;
use bytes::Bytes;
use execgate_dialect::{ExecRequest, RouteKind};
use execgate_screen::{CacheUse, Verdict};
use http::HeaderMap;
use pingora_proxy::Session;
use std::num::NonZeroU32;

/// Refuses a request whose declared length is over `cap`, or unreadable.
pub fn check_declared(headers: &HeaderMap, cap: u64) -> Result<(), Refusal> {
    let Some(value) = headers.get(http::header::CONTENT_LENGTH) else {
        return Ok(());
    };
    let declared: u64 = value
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| Refusal::InvalidRequest {
            field: Some("Content-Length".into()),
            message: "Content-Length is not a number".into(),
        })?;
    if declared > cap {
        Err(Refusal::BodyTooLarge { limit: cap })
    } else {
        Ok(())
    }
}

/// Bodies up to this size are read whole, and decided, before an executor is
/// even chosen: Pingora replays them from its retry buffer, which holds 64 KiB.
/// Larger bodies (tiers with a larger `body_max`) must declare their length and
/// are held back as they stream.
const READ_AHEAD_MAX: u64 = 64 << 10;

/// Whether the body is read and decided before any upstream contact: every
/// body but one declared larger than the read-ahead size.
pub fn reads_ahead(headers: &HeaderMap) -> bool {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared.is_none_or(|n| n <= READ_AHEAD_MAX)
}

/// Reads the whole body (within the body deadline) and decides it; the
/// decided body waits in `ctx` for the upstream. A refusal goes to the rescue
/// point, as a broken client connection does.
pub async fn read_ahead(
    gw: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<()> {
    session.enable_retry_buffering();
    if expects_continue(&session.req_header().headers) {
        // The client waits for this before sending its body (curl: a second).
        let go_on = pingora_http::ResponseHeader::build(100, None)?;
        session
            .write_response_header(Box::new(go_on), false)
            .await?;
    }
    let whole = read_whole(gw, session, ctx).await?;
    let forward = decide(gw, ctx, whole)
        .await
        .map_err(|refused| raise(gw, ctx, refused))?;
    ctx.decided_body = Some(forward);
    Ok(())
}

/// The whole body, read within the body deadline and the read-ahead size.
async fn read_whole(
    gw: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<Bytes> {
    let deadline = tokio::time::Instant::now() + gw.body_timeout;
    loop {
        let read = tokio::time::timeout_at(deadline, session.read_request_body()).await;
        let Ok(chunk) = read else {
            return Err(raise(gw, ctx, Refusal::BodyTimeout));
        };
        let Some(chunk) = chunk? else {
            break;
        };
        ctx.body
            .push(&chunk)
            .map_err(|refused| raise(gw, ctx, refused))?;
        // Past this Pingora cannot replay the body: only a declared
        // length lets a larger one stream.
        if ctx.body.len() as u64 > READ_AHEAD_MAX {
            let limit = READ_AHEAD_MAX;
            return Err(raise(gw, ctx, Refusal::LengthRequired { limit }));
        }
    }
    ctx.body_complete = true;
    Ok(ctx.body.take())
}

/// Raises a refusal of the body for the rescue point.
fn raise(gw: &Gateway, ctx: &mut RequestCtx, refused: Refusal) -> Box<pingora_core::Error> {
    refusal::raise(&gw.metrics, ctx, refused, "request refused")
}

/// Whether the client asked for `100 Continue` before sending its body.
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// The request body hook: holds each chunk back and, once the body is whole,
/// decides it and puts the body to forward in its place.
pub async fn on_chunk(
    gw: &Gateway,
    body: &mut Option<Bytes>,
    end: bool,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<()> {
    let decided = match hold_body(ctx, body, end) {
        Ok(None) => return Ok(()),
        Ok(Some(whole)) => decide(gw, ctx, whole).await,
        Err(refusal) => Err(refusal),
    };
    match decided {
        Ok(forward) => {
            ctx.decided_body = Some(forward.clone());
            *body = Some(forward);
            Ok(())
        }
        Err(refused) => Err(raise(gw, ctx, refused)),
    }
}

/// Holds every chunk back; returns the whole body once the stream ends.
/// A body decided ahead replaces what Pingora replays of it.
fn hold_body(
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

/// Decides a complete body: executing routes are decoded, charged, clamped
/// and screened (larger bodies decoded and screened on a blocking thread:
/// Python analysis may take a while); the result is the body to forward.
async fn decide(gw: &Gateway, ctx: &mut RequestCtx, whole: Bytes) -> Result<Bytes, Refusal> {
    if !ctx.route.executes() {
        return Ok(whole);
    }
    let identity = ctx.identity.as_ref().ok_or(Refusal::Internal)?;
    let policies = ctx.policy.policies(identity).clone();
    let inline = whole.len() <= INLINE_DECISION_MAX;
    let decoding = {
        let (dialect, policies) = (gw.dialect.clone(), policies.clone());
        let (route, pq) = (ctx.route, ctx.path_and_query.clone());
        let language_header = ctx.language_header.as_ref().map(|(_, v)| v.clone());
        move || {
            decode(
                &dialect,
                Held {
                    route,
                    path_and_query: &pq,
                    body: &whole,
                    language_header: language_header.as_deref(),
                },
                &policies.tier,
            )
        }
    };
    let exec = run_inline_or_blocking(inline, decoding).await??;
    // Before screening: a client past its quota costs no screening time.
    let limit_headers = charge_runs(&ctx.policy, identity, &policies, &exec).await?;
    let finishing = {
        let (dialect, rules) = (gw.dialect.clone(), ctx.rules.clone());
        move || {
            finish(
                &dialect,
                exec,
                &policies.tier,
                &rules.screen,
                &policies.screen,
                limit_headers,
            )
        }
    };
    let outcome = run_inline_or_blocking(inline, finishing).await?;
    let verdicts = match &outcome {
        Ok(p) => &p.verdicts,
        Err((_, v)) => v,
    };
    record_findings(gw, ctx, verdicts);
    for v in verdicts {
        let result = match v.cache {
            CacheUse::Hit => "hit",
            CacheUse::Miss => "miss",
            CacheUse::Bypassed => continue,
        };
        gw.metrics.screen_cache.with_label_values(&[result]).inc();
    }
    let prepared = outcome.map_err(|(refusal, _)| refusal)?;
    if let Some(headers) = prepared.limit_headers {
        ctx.limit_headers = headers;
    }
    ctx.exec = Some(prepared.exec);
    Ok(Bytes::from(prepared.body))
}

/// Runs `job` on this thread when `inline`, else on a blocking thread.
async fn run_inline_or_blocking<T: Send + 'static>(
    inline: bool,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Refusal> {
    if inline {
        return Ok(job());
    }
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|_| Refusal::Internal)
}

/// Counts findings by rule and notes them for the audit line.
fn record_findings(gw: &Gateway, ctx: &mut RequestCtx, verdicts: &[Verdict]) {
    let mut rules = Vec::new();
    for finding in verdicts.iter().flat_map(|v| v.findings.iter()) {
        gw.metrics
            .findings
            .with_label_values(&[&finding.rule])
            .inc();
        rules.push(finding.rule.clone());
    }
    if !rules.is_empty() {
        ctx.reason = Some(format!("findings: {}", rules.join(",")));
    }
}

/// What a decoded request costs beyond the unit its head paid: a batch was
/// charged nothing at its head and pays one unit per run, all or none. Awaited:
/// with a shared limiter no worker thread waits on its answer.
async fn charge_runs(
    policy: &Policy,
    identity: &Identity,
    policies: &TierPolicies,
    exec: &ExecRequest,
) -> Result<Option<LimitHeaders>, Refusal> {
    if exec.route != RouteKind::ExecuteBatch {
        return Ok(None);
    }
    let runs = u32::try_from(exec.submissions.len())
        .ok()
        .and_then(NonZeroU32::new)
        .unwrap_or(NonZeroU32::MIN);
    policy
        .limits
        .check_async(&policies.tier, &identity.key, LimitCharge::Execution, runs)
        .await
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_length_over_cap_is_refused() {
        let mut h = HeaderMap::new();
        h.insert("content-length", "11".parse().unwrap());
        assert_eq!(
            check_declared(&h, 10),
            Err(Refusal::BodyTooLarge { limit: 10 })
        );
        assert_eq!(check_declared(&h, 11), Ok(()));
        h.insert("content-length", "x".parse().unwrap());
        assert!(matches!(
            check_declared(&h, 11),
            Err(Refusal::InvalidRequest { .. })
        ));
    }
}
