//! [`Dialect`]: the one entry point the gateway calls, whatever the executor.
//! It holds the configured API and does the steps all dialects share.

use crate::api::{Api, Bounds};
use crate::config::{DialectConfig, DialectKind};
use crate::generic::Generic;
use crate::judge0::Judge0;
use crate::model::{ExecRequest, FieldSpec, RequestError, RouteKind, RunOutcome, TierLimits};
use crate::path::{path_part, segments};
use crate::piston::Piston;
use crate::read::parse_body;
use http::Method;

/// The content type of every forwarded execution body: executors such as
/// Judge0 (Rails) would parse a form-encoded body differently from the JSON
/// the gateway checked, so the gateway must set this header, not pass the client's.
pub const FORWARD_CONTENT_TYPE: &str = "application/json";

/// A configured executor dialect; cheap to share between requests.
#[derive(Debug)]
pub struct Dialect {
    kind: DialectKind,
    api: Box<dyn Api>,
}

impl Dialect {
    /// Validates `config` into a dialect; errors name the config key.
    pub fn new(config: DialectConfig) -> Result<Dialect, String> {
        if config.max_files == 0 {
            return Err("dialect.max_files: must be at least 1".into());
        }
        if config.max_submissions == 0 {
            return Err("dialect.max_submissions: must be at least 1".into());
        }
        let bounds = Bounds {
            max_files: config.max_files,
            max_submissions: config.max_submissions,
        };
        let api: Box<dyn Api> = match config.kind {
            DialectKind::Piston => Box::new(Piston::new(bounds)),
            DialectKind::Judge0 => Box::new(Judge0::new(&config.judge0, bounds)?),
            DialectKind::Generic => {
                let generic = config
                    .generic
                    .as_ref()
                    .ok_or("dialect.generic: required when kind = \"generic\"")?;
                Box::new(Generic::new(generic)?)
            }
        };
        Ok(Dialect {
            kind: config.kind,
            api,
        })
    }

    /// The executor API this dialect speaks.
    pub fn kind(&self) -> DialectKind {
        self.kind
    }

    /// What `method` on `path` (which may carry `?query`) does at the executor.
    /// `Unknown` routes should be refused: the gateway cannot vouch for them.
    /// `HEAD` is answered like `GET` (as Express and Rails do), but only ever passes through.
    pub fn route(&self, method: &Method, path: &str) -> RouteKind {
        let segments = segments(path_part(path));
        if *method == Method::HEAD {
            return match self.api.route(&Method::GET, &segments) {
                RouteKind::Passthrough => RouteKind::Passthrough,
                _ => RouteKind::Unknown,
            };
        }
        self.api.route(method, &segments)
    }

    /// Decodes an executing request's body; refusals name the offending field.
    pub fn parse_request(
        &self,
        route: RouteKind,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<ExecRequest, RequestError> {
        if !route.executes() {
            return Err(RequestError::new(
                "route",
                "only routes that execute code carry a request to decode",
            ));
        }
        let document = parse_body(body)?;
        let parsed = self.api.parse(route, path_and_query, &document)?;
        Ok(ExecRequest {
            submissions: parsed.submissions,
            base64: parsed.base64,
            wait: parsed.wait,
            route,
            document,
        })
    }

    /// The body to forward: `req`'s document with every limit above the tier
    /// lowered and every absent limit set to the tier's maximum; other fields kept.
    /// Always forward these bytes, never the client's: then the executor reads
    /// exactly the JSON the gateway checked (no duplicate keys, no parser tricks).
    pub fn clamp(&self, req: &ExecRequest, limits: &TierLimits) -> Result<Vec<u8>, RequestError> {
        let mut document = req.document.clone();
        self.api.clamp(req, &mut document, limits)?;
        serde_json::to_vec(&document)
            .map_err(|e| RequestError::new("body", format!("cannot be re-encoded: {e}")))
    }

    /// The path and query to forward for a request on `route`: Judge0 flags
    /// made explicit (`base64_encoded=false` when absent, since Judge0's
    /// default depends on its config) and ambiguous values refused. Forward
    /// this path and pass it to [`Dialect::response_fields`], so gateway,
    /// executor and sanitizer agree on whether output is base64.
    pub fn forward_path(
        &self,
        route: RouteKind,
        path_and_query: &str,
    ) -> Result<String, RequestError> {
        self.api.forward_path(route, path_and_query)
    }

    /// The response fields that carry program output, for the sanitizer;
    /// `req` is the parsed request when the route executed code.
    pub fn response_fields(
        &self,
        path_and_query: &str,
        req: Option<&ExecRequest>,
    ) -> Vec<FieldSpec> {
        let segments = segments(path_part(path_and_query));
        self.api.response_fields(path_and_query, &segments, req)
    }

    /// How each run in an executor's JSON response ended; nothing for non-JSON.
    pub fn verdicts(&self, body: &[u8]) -> Vec<RunOutcome> {
        match serde_json::from_slice(body) {
            Ok(value) => self.api.verdicts(&value),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared<T: Send + Sync>(_: &T) {}

    #[test]
    fn a_dialect_can_be_shared_between_worker_threads() {
        let dialect = Dialect::new(DialectConfig::default()).unwrap();
        shared(&dialect);
        assert_eq!(dialect.kind(), DialectKind::Piston);
    }
}
