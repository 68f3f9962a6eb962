//! The response side: harden headers (`headers`), hold the executor's body
//! (capped) when it carries program output (runs, and Judge0 result polling),
//! run it through the output sanitizer (`sanitize`), and turn broken or
//! refusing executor answers into the gateway's JSON (`executor_error`); a
//! run's answer naming Judge0 callbacks starts their delivery (`callback`).

pub mod callback;
pub mod executor_error;
pub mod headers;
pub mod sanitize;

use crate::error::Refusal;
use crate::gateway::Gateway;
use crate::gateway::context::RequestCtx;
use crate::gateway::refusal;
use bytes::Bytes;
use execgate_sanitize::ResponseBuffer;
use executor_error::{EXECUTOR_ERROR_HOLD, executor_message, executor_refusal};
use headers::{harden, is_encoded, is_json};
use pingora_http::ResponseHeader;
use pingora_proxy::Session;
use std::time::Duration;

/// The response head hook: the head as the client gets it, and what becomes
/// of the body.
pub fn on_head(
    gw: &Gateway,
    session: &mut Session,
    resp: &mut ResponseHeader,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<()> {
    decide_head(gw, resp, ctx)?;
    // An HTTP/1.0 client reads no chunks: a body without a length ends
    // with the connection, so the answer must not promise keep-alive.
    if session.req_header().version == http::Version::HTTP_10
        && resp.headers.get(http::header::CONTENT_LENGTH).is_none()
    {
        session.set_keepalive(None);
    }
    Ok(())
}

/// Response head: latency, hygiene, and the decision to inspect or replace the body.
fn decide_head(
    gw: &Gateway,
    resp: &mut ResponseHeader,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<()> {
    // An interim answer (100 Continue) is not the executor's response.
    if resp.status.is_informational() {
        return Ok(());
    }
    if let Some(sent) = ctx.upstream_sent {
        gw.metrics
            .upstream_latency
            .observe(sent.elapsed().as_secs_f64());
    }
    harden(resp)?;
    resp.insert_header("X-Request-Id", ctx.request_id.as_str())?;
    for (name, value) in &ctx.limit_headers {
        resp.insert_header(*name, value.as_str())?;
    }
    ctx.status = resp.status.as_u16();
    if resp.status.as_u16() >= 400 {
        // An executor's own error body speaks its framework's shape and may
        // name its internals: the client gets the gateway's error instead.
        let refusal = executor_refusal(ctx.status, None);
        frame_replacement(resp, ctx)?;
        refusal::replace_head(resp, &refusal.render(&ctx.request_id))?;
        ctx.status = refusal.status();
        ctx.executor_error = Some(ctx.status);
        ctx.response = ResponseBuffer::new(EXECUTOR_ERROR_HOLD);
        return Ok(());
    }
    // The executor was asked for identity encoding: an encoded body, even on a
    // route whose body is not inspected, is one nothing here has checked.
    let encoded = is_encoded(resp);
    if !encoded && !ctx.route.executes() && !sanitize::returns_output(gw, ctx) {
        return Ok(());
    }
    let broken = if encoded {
        Some("the executor sent an encoded body")
    } else if !is_json(resp) {
        Some("the executor did not answer with JSON")
    } else {
        None
    };
    frame_replacement(resp, ctx)?;
    if let Some(message) = broken {
        let refusal = Refusal::UpstreamFailed {
            message: message.into(),
        };
        refusal::replace_head(resp, &refusal.render(&ctx.request_id))?;
        ctx.status = refusal.status();
        ctx.replace_body = Some(refusal);
        return Ok(());
    }
    ctx.inspect_response = true;
    ctx.response = ResponseBuffer::new(sanitize::response_cap(ctx));
    Ok(())
}

/// The body sent is the gateway's, of a length known only at its end:
/// chunked, so the connection stays reusable (without a length or chunking
/// the body ends with the connection, all an HTTP/1.0 client understands).
fn frame_replacement(resp: &mut ResponseHeader, ctx: &RequestCtx) -> pingora_core::Result<()> {
    resp.remove_header("content-length");
    resp.remove_header("content-encoding");
    if ctx.client_chunks {
        resp.insert_header("Transfer-Encoding", "chunked")?;
    } else {
        resp.remove_header("transfer-encoding");
    }
    Ok(())
}

/// Held bodies larger than this are sanitized with the worker marked blocking
/// (about 0.3–0.7 ms per 100 KB; a batch can hold megabytes).
const OFF_WORKER_BYTES: usize = 64 << 10;

/// Whether `block_in_place` may be used here (Pingora's work-stealing runtime).
fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// The response body hook: held until the end, then released sanitized (or replaced).
pub fn on_body(
    gw: &Gateway,
    body: &mut Option<Bytes>,
    end: bool,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<Option<Duration>> {
    release_body(gw, body, end, ctx);
    Ok(None)
}

/// Holds the body, and at its end puts the sanitized (or replacing) body in its place.
fn release_body(gw: &Gateway, body: &mut Option<Bytes>, end: bool, ctx: &mut RequestCtx) {
    if let Some(status) = ctx.executor_error {
        if let Some(chunk) = body.take() {
            ctx.response.push(&chunk);
        }
        if end {
            let held = std::mem::take(&mut ctx.response).into_bytes();
            let message = executor_message(ctx, &held);
            ctx.reason = Some(format!("executor answered {status}"));
            let refusal = executor_refusal(status, message);
            *body = Some(Bytes::from(refusal.render(&ctx.request_id).body));
        }
        return;
    }
    if ctx.replace_body.is_none() && !ctx.inspect_response {
        return;
    }
    if let Some(chunk) = body.take() {
        ctx.response.push(&chunk);
    }
    if !end {
        return;
    }
    if let Some(refusal) = &ctx.replace_body {
        *body = Some(Bytes::from(refusal.render(&ctx.request_id).body));
        return;
    }
    let held = std::mem::take(&mut ctx.response);
    let sanitized = if held.len() > OFF_WORKER_BYTES && on_multi_thread_runtime() {
        // Milliseconds of work in a synchronous filter: let the runtime move
        // this worker's other connections elsewhere meanwhile.
        tokio::task::block_in_place(|| sanitize::sanitize(gw, ctx, held))
    } else {
        sanitize::sanitize(gw, ctx, held)
    };
    *body = Some(match sanitized {
        Ok(clean) => clean,
        Err(refusal) => {
            ctx.reason = Some(format!("executor response unusable: {}", refusal.code()));
            let bytes = Bytes::from(refusal.render(&ctx.request_id).body);
            // The executor's status line is already out; audit and reputation
            // record what the client really got.
            ctx.status = refusal.status();
            ctx.replace_body = Some(refusal);
            bytes
        }
    });
}
