//! The `ProxyHttp` implementation, read as the table of contents of a
//! request's way through the gateway: each hook hands over to one stage.
//!
//! head: `admission` (identity, policy, route, rate limits; small bodies read
//! and decided ahead by `body`) → body: `body` (held back, decoded, screened)
//! → `capacity` (budget, a slot in the execution pool) → executor: `upstream` (peer, head rewrite, total timeout) → response:
//! `outbound` (headers, held body, sanitizer) → end: `audit` and `account`.
//! Any failure on the way is answered by `refusal::rescue`.

use super::context::RequestCtx;
use super::{
    Gateway, account, admission, alerts, audit, body, capacity, outbound, refusal, upstream,
};
use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::modules::http::HttpModules;
use pingora_core::modules::http::compression::ResponseCompressionBuilder;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::{Error, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use std::time::Duration;

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.policy(), self.rules.load())
    }

    fn init_downstream_modules(&self, modules: &mut HttpModules) {
        // Pingora's default: response compression, off unless enabled.
        modules.add_module(ResponseCompressionBuilder::enable(0));
        if let Some(hsts) = &self.hsts {
            hsts.register(modules);
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        if admission::on_request(self, session, ctx).await? {
            return Ok(true);
        }
        capacity::on_decided(self, session, ctx).await?;
        Ok(false)
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        body::on_chunk(self, body, end_of_stream, ctx).await?;
        // A streamed body is decided only at its end: its slot is taken then.
        capacity::on_decided(self, session, ctx).await
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        upstream::peer(&self.upstreams, &self.metrics, ctx)
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        peer: &HttpPeer,
        ctx: &mut RequestCtx,
        e: Box<Error>,
    ) -> Box<Error> {
        upstream::on_connect_failure(&self.upstreams, peer, ctx, e)
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        head: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        upstream::on_request_head(head, ctx)
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        head: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        upstream::on_response_head(&self.upstreams, head, ctx);
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        outbound::on_head(self, session, resp, ctx)
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        upstream::check_total_time(&self.upstreams, ctx)
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        outbound::on_body(self, body, end_of_stream, ctx)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        refusal::rescue(&self.metrics, session, e, ctx).await
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _e: &Error) -> bool {
        refusal::is_clients_fault(ctx)
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        upstream::on_end(&self.upstreams, e, ctx);
        audit::finish(ctx, &self.metrics, session.req_header());
        account::record(self, ctx).await;
        alerts::on_end(self.capacity.as_ref(), ctx);
    }
}
