//! What every dialect provides, so that [`crate::Dialect`] can hold any of them
//! and share the steps they have in common (body parsing, serialisation).

use crate::limits::{LimitField, clamp_limits};
use crate::model::{
    ExecRequest, FieldSpec, RequestError, RouteKind, RunOutcome, Submission, TierLimits,
};
use crate::path::RoutePattern;
use http::Method;
use serde_json::Value;

/// Bounds on the shape of a request, from config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// Most files in one submission.
    pub(crate) max_files: usize,
    /// Most submissions in one batch.
    pub(crate) max_submissions: usize,
}

/// What `parse` finds in a request.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Parsed {
    /// The programs to run.
    pub(crate) submissions: Vec<Submission>,
    /// Text fields are base64 (Judge0).
    pub(crate) base64: bool,
    /// The response carries the result (Piston always; Judge0 with `wait=true`).
    pub(crate) wait: bool,
}

impl Parsed {
    /// One submission whose response carries its result (no Judge0 flags).
    pub(crate) fn single(submission: Submission) -> Self {
        Self {
            submissions: vec![submission],
            base64: false,
            wait: true,
        }
    }
}

/// One executor API.
pub(crate) trait Api: std::fmt::Debug + Send + Sync {
    /// The route of `method` on the decoded path `segments`.
    fn route(&self, method: &Method, segments: &[String]) -> RouteKind;

    /// Whether any route of this API, whatever its method, is on `segments`:
    /// the API owns that path when several are served side by side.
    fn claims(&self, segments: &[String]) -> bool {
        [Method::GET, Method::POST]
            .iter()
            .any(|m| self.route(m, segments) != RouteKind::Unknown)
    }

    /// The shapes of this API's paths, for checking that APIs served
    /// together never share one.
    fn patterns(&self) -> Vec<RoutePattern>;

    /// Whether a parsed response has this API's shape (for verdicts when the path is unknown).
    fn answers(&self, body: &Value) -> bool;

    /// The submissions and flags of an executing request's parsed body.
    fn parse(
        &self,
        route: RouteKind,
        path_and_query: &str,
        body: &Value,
    ) -> Result<Parsed, RequestError>;

    /// The header a raw-body route on `segments` reads its language from.
    fn raw_language_header(&self, _segments: &[String]) -> Option<&str> {
        None
    }

    /// The content type forwarded with a raw-body route's body; `None` for JSON routes.
    fn raw_content_type(&self, _segments: &[String]) -> Option<&str> {
        None
    }

    /// Reads the request of a route that takes the program as its raw body;
    /// `None` when the route on `segments` takes JSON. `header` is the value
    /// of `raw_language_header`, when the client sent it.
    fn parse_raw(
        &self,
        _path_and_query: &str,
        _segments: &[String],
        _header: Option<&str>,
        _body: &[u8],
    ) -> Option<Result<Parsed, RequestError>> {
        None
    }

    /// The limit fields of one submission object.
    fn limits(&self) -> &[LimitField];

    /// Clamps the limits of `body`, a copy of `request.document`, in place;
    /// by default the body is one submission object.
    fn clamp(
        &self,
        _request: &ExecRequest,
        body: &mut Value,
        tier: &TierLimits,
    ) -> Result<(), RequestError> {
        clamp_limits(self.limits(), body, "", tier)
    }

    /// The path and query to forward: by default the client's, unchanged.
    fn forward_path(
        &self,
        _route: RouteKind,
        path_and_query: &str,
    ) -> Result<String, RequestError> {
        Ok(path_and_query.to_string())
    }

    /// The output fields of the response to a request on `segments`.
    fn response_fields(
        &self,
        path_and_query: &str,
        segments: &[String],
        request: Option<&ExecRequest>,
    ) -> Vec<FieldSpec>;

    /// The outcomes a parsed response reports.
    fn verdicts(&self, body: &Value) -> Vec<RunOutcome>;

    /// The result tokens an executing route's parsed response hands out
    /// (Judge0 `token`s); none for APIs that answer with the result itself.
    fn issued_tokens(&self, _body: &Value) -> Vec<String> {
        Vec::new()
    }

    /// Each result of a parsed response that names its token, with the
    /// outcome of its run (`None` while it is queued or running).
    fn token_verdicts(&self, _body: &Value) -> Vec<(String, Option<RunOutcome>)> {
        Vec::new()
    }

    /// The result tokens a request on `segments` reads, when the route reads
    /// results by token; `Some(empty)` for a route that reads results without
    /// naming them (a listing of every submission).
    fn read_tokens(
        &self,
        _method: &Method,
        _path_and_query: &str,
        _segments: &[String],
    ) -> Option<Vec<String>> {
        None
    }
}
