//! The per-request record every stage writes its decision into, and the types
//! it holds; the audit line and metrics are read from it at the end. Stages
//! import this module, never the other way round.

use super::identity::Identity;
use super::policy::Policy;
use crate::error::Refusal;
use crate::rules::Rules;
use bytes::{Bytes, BytesMut};
use execgate_dialect::{ExecRequest, RouteKind, RunOutcome};
use execgate_sanitize::ResponseBuffer;
use std::sync::Arc;
use std::time::Instant;

/// What happened to a request, for the audit line and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decision {
    /// No stage decided: the client went away, or its connection broke,
    /// before a decision (what every request starts as).
    #[default]
    Aborted,
    /// Sent to an executor.
    Forwarded,
    /// Refused by the gateway, with this code.
    Refused(&'static str),
}

impl Decision {
    /// The label used in logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Decision::Aborted => "aborted",
            Decision::Forwarded => "forwarded",
            Decision::Refused(code) => code,
        }
    }
}

/// Per-request state shared by the proxy hooks.
pub struct RequestCtx {
    /// The config snapshot this request is decided by, start to end.
    pub policy: Arc<Policy>,
    /// The screening and output rules it is decided by, start to end.
    pub rules: Arc<Rules>,
    /// `X-Request-Id` of this request.
    pub request_id: String,
    /// When the request head was read.
    pub started: Instant,
    /// Who the client is, once known.
    pub identity: Option<Identity>,
    /// The request's path and query, as the dialect reads it.
    pub path_and_query: String,
    /// The path and query sent upstream (the dialect's explicit form of the above).
    pub forward_path: String,
    /// What the route does.
    pub route: RouteKind,
    /// The tier's limits apply to this body.
    pub body: BodyHold,
    /// Whether the client's whole body has arrived.
    pub body_complete: bool,
    /// The body to forward, decided before any upstream contact (see `read_ahead`).
    pub decided_body: Option<Bytes>,
    /// The decoded execution request, once the body is complete.
    pub exec: Option<ExecRequest>,
    /// `RateLimit*` headers for the response.
    pub limit_headers: Vec<(&'static str, String)>,
    /// The refusal, when a stage refused.
    pub refusal: Option<Refusal>,
    /// Why, in words for the audit log (never sent to the client).
    pub reason: Option<String>,
    /// The outcome.
    pub decision: Decision,
    /// Connections to executors that failed for this request.
    pub connect_failures: usize,
    /// When the request was sent upstream: the executor's latency, and the
    /// total upstream timeout, run from here.
    pub upstream_sent: Option<Instant>,
    /// The response body, held for inspection.
    pub response: ResponseBuffer,
    /// Replace the upstream body with this error (the status line is already out).
    pub replace_body: Option<Refusal>,
    /// Whether the upstream response body is inspected at all.
    pub inspect_response: bool,
    /// The response status sent.
    pub status: u16,
    /// The client speaks HTTP/1.1 or later (may be sent chunked bodies).
    pub client_chunks: bool,
    /// Counted in the in-flight gauge (and must be uncounted once).
    pub in_flight: bool,
    /// The client is on the allow list (never banned).
    pub allow_listed: bool,
    /// What the executor's answer said about the run.
    pub run: RunReport,
    /// The result tokens a polling request reads (all the client's own).
    pub read_tokens: Option<Vec<String>>,
    /// The executor answered with this error status; its body is replaced.
    pub executor_error: Option<u16>,
    /// A raw-body route's language header, name and value as the client sent
    /// it: read by the dialect, and the one client header forwarded besides
    /// the allow-listed ones (the executor reads the language there too).
    pub language_header: Option<(http::HeaderName, String)>,
    /// Content type of the forwarded body of an executing route.
    pub forward_content_type: String,
    /// The executor this request's exchange went to, for its breaker.
    pub upstream_addr: Option<String>,
    /// The execution's slot in the pool and the tier it is charged in.
    pub capacity: execgate_capacity::Held,
}

impl RequestCtx {
    /// A request decided by `policy` and `rules`.
    pub fn new(policy: Arc<Policy>, rules: Arc<Rules>) -> Self {
        Self {
            policy,
            rules,
            request_id: String::new(),
            started: Instant::now(),
            identity: None,
            path_and_query: String::new(),
            forward_path: String::new(),
            route: RouteKind::Unknown,
            body: BodyHold::default(),
            body_complete: false,
            decided_body: None,
            exec: None,
            limit_headers: Vec::new(),
            refusal: None,
            reason: None,
            decision: Decision::Aborted,
            connect_failures: 0,
            upstream_sent: None,
            response: ResponseBuffer::default(),
            replace_body: None,
            inspect_response: false,
            status: 0,
            client_chunks: false,
            in_flight: false,
            allow_listed: false,
            run: Default::default(),
            read_tokens: None,
            language_header: None,
            forward_content_type: execgate_dialect::FORWARD_CONTENT_TYPE.to_string(),
            executor_error: None,
            upstream_addr: None,
            capacity: Default::default(),
        }
    }

    /// Records `refusal` as the decision and returns it back for rendering.
    pub fn refuse(&mut self, refusal: Refusal) -> Refusal {
        self.decision = Decision::Refused(refusal.code());
        self.refusal = Some(refusal.clone());
        refusal
    }
}

/// What the response told us about the run, noted by the outbound stage.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// How each execution ended.
    pub outcomes: Vec<RunOutcome>,
    /// Outbound leak score of the output.
    pub leak_score: u32,
}

/// A request body being held back until it is complete.
#[derive(Debug, Default)]
pub struct BodyHold {
    buf: BytesMut,
    cap: usize,
}

impl BodyHold {
    /// Holds at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            cap,
        }
    }

    /// Adds a chunk; refuses as soon as the total passes the cap.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        if self.buf.len().saturating_add(chunk.len()) > self.cap {
            return Err(Refusal::BodyTooLarge {
                limit: self.cap as u64,
            });
        }
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes held so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The whole body.
    pub fn take(&mut self) -> Bytes {
        std::mem::take(&mut self.buf).freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_counted_whatever_their_split() {
        let mut hold = BodyHold::new(10);
        for chunk in [&b"abc"[..], b"defg", b"hij"] {
            hold.push(chunk).unwrap();
        }
        assert!(hold.push(b"k").is_err());
        assert_eq!(&hold.take()[..], b"abcdefghij");
    }
}
