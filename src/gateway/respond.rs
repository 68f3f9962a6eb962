//! Writes the gateway's own responses: refusals in the one JSON shape, with the
//! request id and the security headers every response carries.

use super::context::RequestCtx;
use super::response::SECURITY_HEADERS;
use crate::error::Refusal;
use bytes::Bytes;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

/// Builds the response head for a rendered refusal.
pub fn refusal_header(
    refusal: &Refusal,
    ctx: &RequestCtx,
) -> pingora_core::Result<(Box<ResponseHeader>, Bytes)> {
    let rendered = refusal.render(&ctx.request_id);
    let mut resp = ResponseHeader::build(rendered.status, Some(8 + rendered.headers.len()))?;
    resp.insert_header("Content-Type", "application/json")?;
    resp.insert_header("Content-Length", rendered.body.len().to_string())?;
    resp.insert_header("X-Request-Id", ctx.request_id.as_str())?;
    for (name, value) in SECURITY_HEADERS {
        resp.insert_header(name, value)?;
    }
    for (name, value) in rendered.headers {
        resp.insert_header(name, value)?;
    }
    Ok((Box::new(resp), Bytes::from(rendered.body)))
}

/// Sends `refusal` as the whole response; the connection is not reused, since
/// an unread body may still be on it.
pub async fn send(
    session: &mut Session,
    ctx: &mut RequestCtx,
    refusal: &Refusal,
) -> pingora_core::Result<()> {
    let (head, body) = refusal_header(refusal, ctx)?;
    ctx.status = head.status.as_u16();
    session.set_keepalive(None);
    session.write_response_header(head, false).await?;
    session.write_response_body(Some(body), true).await
}
