//! The thin `ProxyHttp` implementation: each hook hands over to one stage.

use super::context::{Decision, RequestCtx};
use super::{Gateway, admission, body, outbound, respond};
use crate::error::Refusal;
use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::{Error, ErrorSource, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use std::time::Instant;

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        // Requests a client sends before reading earlier answers are served
        // one after another, answered in order (RFC 9112 §9.3.2).
        session.set_pipelining_enabled(true);
        admission::start(self, session, ctx);
        let mut admitted = admission::admit(self, session, ctx).await;
        if admitted.is_ok() && body::reads_ahead(&session.req_header().headers) {
            admitted = body::read_ahead(self, session, ctx).await?;
        }
        match admitted {
            Ok(()) => Ok(false),
            Err(refusal) => {
                let refusal = self.refuse(ctx, refusal);
                respond::send(session, ctx, &refusal).await?;
                Ok(true)
            }
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let decided = match body::hold_body(ctx, body, end_of_stream) {
            Ok(None) => return Ok(()),
            Ok(Some(whole)) => body::decide(self, ctx, whole).await,
            Err(refusal) => Err(refusal),
        };
        match decided {
            Ok(forward) => {
                ctx.decided_body = Some(forward.clone());
                *body = Some(forward);
                Ok(())
            }
            Err(refusal) => {
                let refusal = self.refuse(ctx, refusal);
                Err(Error::explain(
                    ErrorType::HTTPStatus(refusal.status()),
                    "request refused",
                ))
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        self.upstreams.pick().map_err(|refusal| {
            let refusal = self.refuse(ctx, refusal);
            Error::explain(
                ErrorType::HTTPStatus(refusal.status()),
                "no healthy executor",
            )
        })
    }

    /// An executor that refuses connections (down, not yet marked by the health
    /// check) costs the client nothing: the next one in the rotation is tried.
    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if self.upstreams.may_retry(ctx.connect_failures) {
            ctx.connect_failures += 1;
            e.set_retry(true);
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        admission::rewrite_upstream_head(upstream, ctx)?;
        ctx.decision = Decision::Forwarded;
        ctx.upstream_started = Some(Instant::now());
        ctx.upstream_sent = ctx.upstream_started;
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        outbound::on_head(self, resp, ctx)?;
        // An HTTP/1.0 client reads no chunks: a body without a length ends
        // with the connection, so the answer must not promise keep-alive.
        if session.req_header().version == http::Version::HTTP_10
            && resp.headers.get(http::header::CONTENT_LENGTH).is_none()
        {
            session.set_keepalive(None);
        }
        Ok(())
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        // The total upstream timeout: a response trickling in just under the read
        // timeout still ends when the whole exchange has taken too long.
        match ctx.upstream_sent {
            Some(sent) if sent.elapsed() > self.upstreams.total_timeout() => {
                ctx.reason = Some("upstream total timeout".into());
                Err(Error::new_up(ErrorType::ReadTimedout))
            }
            _ => Ok(None),
        }
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        outbound::on_body(self, body, end_of_stream, ctx);
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let refusal = match (ctx.refusal.clone(), classify(e, ctx.body_complete)) {
            (Some(recorded), _) => recorded,
            (None, Some(found)) => self.refuse(ctx, found),
            (None, None) => {
                return FailToProxy {
                    error_code: 0,
                    can_reuse_downstream: false,
                };
            }
        };
        ctx.reason.get_or_insert_with(|| e.to_string());
        if let Err(err) = respond::send(session, ctx, &refusal).await {
            tracing::debug!(request_id = %ctx.request_id, "could not send error response: {err}");
        }
        FailToProxy {
            error_code: refusal.status(),
            can_reuse_downstream: false,
        }
    }

    /// A refusal of the client's request is the audit line's business, not an
    /// error of the proxy; executor failures (5xx) stay in the error log.
    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _e: &Error) -> bool {
        ctx.refusal.as_ref().is_some_and(|r| r.status() < 500)
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let head = session.req_header();
        let method = head.method.to_string();
        let path = head.uri.path().to_string();
        super::audit::finish(ctx, &self.metrics, &method, &path);
        super::account::account(self, ctx);
    }
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

impl Gateway {
    /// Records `refusal` in `ctx` and in the refusal metrics.
    fn refuse(&self, ctx: &mut RequestCtx, refusal: Refusal) -> Refusal {
        // Rate-limit refusals are counted by the limiter itself, by window.
        if let Refusal::IpBlocked { category, .. } = &refusal {
            self.metrics
                .blocks
                .with_label_values(&[category.as_str()])
                .inc();
        }
        ctx.refuse(refusal)
    }
}
