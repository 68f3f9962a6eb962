//! The one rescue point: every refusal a stage raises, and every failure
//! Pingora reports, ends here as the gateway's JSON error, with the request
//! id and the security headers every response carries.

use super::context::RequestCtx;
use crate::error::{Refusal, Rendered};
use crate::metrics::Metrics;
use bytes::Bytes;
use pingora_core::{Error, ErrorSource, ErrorType};
use pingora_http::ResponseHeader;
use pingora_proxy::{FailToProxy, Session};

/// Records `refusal` in `ctx` and in the refusal metrics, and returns it for sending.
pub fn record(metrics: &Metrics, ctx: &mut RequestCtx, refusal: Refusal) -> Refusal {
    // Rate-limit refusals are counted by the limiter itself, by window.
    if let Refusal::Blocked { category, .. } = &refusal {
        metrics.blocks.with_label_values(&[category.as_str()]).inc();
    }
    ctx.refuse(refusal)
}

/// Records `refusal` and turns it into the error that takes the request to
/// `rescue`; `why` is the audit log's reason when no stage gave one.
pub fn raise(metrics: &Metrics, ctx: &mut RequestCtx, refusal: Refusal, why: &str) -> Box<Error> {
    let refusal = record(metrics, ctx, refusal);
    Error::explain(ErrorType::HTTPStatus(refusal.status()), why.to_string())
}

/// Answers a request that failed: with the refusal a stage recorded, else
/// with what the failure means for the client (nothing when it is gone).
pub async fn rescue(
    metrics: &Metrics,
    session: &mut Session,
    e: &Error,
    ctx: &mut RequestCtx,
) -> FailToProxy {
    let (refusal, decided) = match (ctx.refusal.clone(), classify(e, ctx.body_complete)) {
        (Some(raised), _) => (raised, ctx.upstream_sent.is_none()),
        (None, Some(found)) => {
            // A stage's refusal is named by its code; any other failure by the error.
            ctx.reason.get_or_insert_with(|| e.to_string());
            (record(metrics, ctx, found), false)
        }
        (None, None) => {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        }
    };
    // A stage's decision before any upstream contact leaves the connection
    // in a known state: it carries the next request once the rest of the
    // body is read. After a failure what is left on it is unknown.
    let keep = decided && drain_small_body(session).await;
    if !keep {
        session.set_keepalive(None);
    }
    if let Err(err) = send(session, ctx, &refusal).await {
        tracing::debug!(request_id = %ctx.request_id, "could not send error response: {err}");
    }
    FailToProxy {
        error_code: refusal.status(),
        can_reuse_downstream: keep,
    }
}

/// A refusal of the client's request is the audit line's business, not an
/// error of the proxy; executor failures (5xx) stay in the error log.
pub fn is_clients_fault(ctx: &RequestCtx) -> bool {
    ctx.refusal.as_ref().is_some_and(|r| r.status() < 500)
}

/// Maps a Pingora failure with no refusal recorded to what the client is told;
/// `None` when the client is gone and nothing can be sent. A timeout while the
/// client's body is still incomplete is the client's doing, whichever side timed out.
fn classify(e: &Error, body_complete: bool) -> Option<Refusal> {
    use ErrorType::*;
    let upstream = matches!(e.esource(), ErrorSource::Upstream);
    match e.etype() {
        ReadTimedout | WriteTimedout if !body_complete => Some(Refusal::BodyTimeout),
        ConnectTimedout | ReadTimedout | WriteTimedout if upstream => {
            Some(Refusal::UpstreamTimeout)
        }
        ReadTimedout => Some(Refusal::BodyTimeout),
        ConnectRefused | ConnectNoRoute | ConnectError | SocketError => {
            Some(Refusal::UpstreamUnavailable)
        }
        _ if upstream => Some(Refusal::UpstreamFailed {
            message: "the executor failed to answer".into(),
        }),
        ReadError | WriteError | ConnectionClosed => None,
        InvalidHTTPHeader | H1Error | H2Error | InvalidH2 => Some(Refusal::InvalidRequest {
            field: None,
            message: "malformed HTTP request".into(),
        }),
        _ => Some(Refusal::Internal),
    }
}

/// Largest unread request body drained after a refusal so that the
/// connection carries the client's next request: a refused client then costs
/// one small write, not a new connection. A longer body, or one whose length
/// is not declared (chunked), closes the connection instead of being read.
const DRAIN_MAX: u64 = 64 << 10;

/// Longest a refusal waits for that body.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads the rest of the request body when it is declared and small; whether
/// the connection can then carry the next request.
async fn drain_small_body(session: &mut Session) -> bool {
    if session.is_body_done() {
        return true;
    }
    let headers = &session.req_header().headers;
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return false;
    }
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let read = session.body_bytes_read() as u64;
    if declared.is_none_or(|n| n.saturating_sub(read) > DRAIN_MAX) {
        return false;
    }
    tokio::time::timeout(DRAIN_TIMEOUT, session.drain_request_body())
        .await
        .is_ok_and(|read| read.is_ok())
}

/// Sends `refusal` as the whole response (keep-alive as the session says).
async fn send(
    session: &mut Session,
    ctx: &mut RequestCtx,
    refusal: &Refusal,
) -> pingora_core::Result<()> {
    let rendered = refusal.render(&ctx.request_id);
    let mut head = ResponseHeader::build(rendered.status, Some(rendered.headers.len()))?;
    for (name, value) in rendered.headers {
        head.insert_header(name, value)?;
    }
    ctx.status = rendered.status;
    session.write_response_header(Box::new(head), false).await?;
    session
        .write_response_body(Some(Bytes::from(rendered.body)), true)
        .await
}

/// Turns an executor's response head into the one of `rendered`, whose body
/// replaces the executor's: its status and every header but the length,
/// which the response side frames.
pub fn replace_head(resp: &mut ResponseHeader, rendered: &Rendered) -> pingora_core::Result<()> {
    resp.set_status(rendered.status)?;
    for (name, value) in &rendered.headers {
        if !name.eq_ignore_ascii_case("content-length") {
            resp.insert_header(*name, value.as_str())?;
        }
    }
    Ok(())
}
