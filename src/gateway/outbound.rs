//! The response side: harden headers, hold the executor's body (capped) when it
//! carries program output (runs, and Judge0 result polling), run it through the
//! output sanitizer, and turn broken executor answers into 502 JSON.

use super::Gateway;
use super::context::RequestCtx;
use super::response::{harden, is_encoded, is_json};
use crate::error::Refusal;
use bytes::Bytes;
use execgate_sanitize::ResponseBuffer;
use pingora_http::ResponseHeader;

/// Response head: latency, hygiene, and the decision to inspect or replace the body.
pub fn on_head(
    gw: &Gateway,
    resp: &mut ResponseHeader,
    ctx: &mut RequestCtx,
) -> pingora_core::Result<()> {
    // An interim answer (100 Continue) is not the executor's response.
    if resp.status.is_informational() {
        return Ok(());
    }
    if let Some(started) = ctx.upstream_started.take() {
        gw.metrics
            .upstream_latency
            .observe(started.elapsed().as_secs_f64());
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
        resp.set_status(refusal.status())?;
        resp.insert_header("Content-Type", "application/json")?;
        ctx.status = refusal.status();
        ctx.executor_error = Some(ctx.status);
        ctx.response = ResponseBuffer::new(EXECUTOR_ERROR_HOLD);
        return Ok(());
    }
    // The executor was asked for identity encoding: an encoded body, even on a
    // route whose body is not inspected, is one nothing here has checked.
    let encoded = is_encoded(resp);
    if !encoded && !ctx.route.executes() && !gw.returns_output(ctx) {
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
        resp.set_status(refusal.status())?;
        resp.insert_header("Content-Type", "application/json")?;
        ctx.status = refusal.status();
        ctx.replace_body = Some(refusal);
        return Ok(());
    }
    ctx.inspect_response = true;
    ctx.response = ResponseBuffer::new(gw.response_cap(ctx));
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

/// Bytes of an executor's error body read for its message.
const EXECUTOR_ERROR_HOLD: usize = 16 << 10;

/// The longest executor message passed on, in bytes.
const EXECUTOR_MESSAGE_MAX: usize = 300;

/// What the client is told of an executor's error answer with `status`:
/// a refusal of the request (4xx) with the executor's message, sanitized,
/// or a failure of the executor (5xx), whose message stays in the logs.
fn executor_refusal(status: u16, message: Option<String>) -> Refusal {
    let said = |what: &str| match &message {
        Some(m) => format!("{what}: {m}"),
        None => what.to_string(),
    };
    match status {
        404 => Refusal::UnknownRoute,
        429 | 503 => Refusal::UpstreamUnavailable,
        400..=499 => Refusal::InvalidRequest {
            field: None,
            message: said("the executor refused the request"),
        },
        _ => Refusal::UpstreamFailed {
            message: "the executor failed to answer".into(),
        },
    }
}

/// The message of an executor's JSON error body (`{"message": …}`,
/// `{"error": …}`, Rails' `{"field": ["reason", …]}`), sanitized and cut short.
fn executor_message(gw: &Gateway, ctx: &RequestCtx, body: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let map = doc.as_object()?;
    let text = ["message", "error"]
        .iter()
        .find_map(|k| map.get(*k).and_then(|v| v.as_str()).map(str::to_string))
        .or_else(|| {
            let reasons: Vec<String> = map
                .iter()
                .filter_map(|(field, reasons)| {
                    let list: Vec<&str> = reasons
                        .as_array()?
                        .iter()
                        .filter_map(|r| r.as_str())
                        .collect();
                    (!list.is_empty()).then(|| format!("{field} {}", list.join(", ")))
                })
                .collect();
            (!reasons.is_empty()).then(|| reasons.join("; "))
        })?;
    let identity = ctx.identity.as_ref()?;
    let policy = &gw.policies(identity).output;
    let reader = identity.client.as_deref().map_or(
        execgate_sanitize::Reader::ANYONE,
        execgate_sanitize::Reader::tenant,
    );
    let rules = gw.rules.load();
    let clean = execgate_sanitize::sanitize_text(
        &rules.output,
        policy,
        reader,
        execgate_sanitize::FieldKind::Other,
        &text,
    );
    if clean.withheld {
        return None;
    }
    let mut message = clean.text;
    if message.len() > EXECUTOR_MESSAGE_MAX {
        let mut cut = EXECUTOR_MESSAGE_MAX;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    Some(message)
}

/// Held bodies larger than this are sanitized with the worker marked blocking
/// (about 0.3–0.7 ms per 100 KB; a batch can hold megabytes).
const OFF_WORKER_BYTES: usize = 64 << 10;

/// Whether `block_in_place` may be used here (Pingora's work-stealing runtime).
fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Response body: held until the end, then released sanitized (or replaced).
pub fn on_body(gw: &Gateway, body: &mut Option<Bytes>, end: bool, ctx: &mut RequestCtx) {
    if let Some(status) = ctx.executor_error {
        if let Some(chunk) = body.take() {
            ctx.response.push(&chunk);
        }
        if end {
            let held = std::mem::take(&mut ctx.response).into_bytes();
            let message = executor_message(gw, ctx, &held);
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
        tokio::task::block_in_place(|| gw.sanitize(ctx, held))
    } else {
        gw.sanitize(ctx, held)
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
