//! [`Dialect`]: the one entry point the gateway calls, whatever the executor.
//! It holds the configured API and does the steps all dialects share.

use crate::api::{Api, Bounds};
use crate::callback::CallbackPolicy;
use crate::config::DialectConfig;
use crate::generic::Generic;
use crate::judge0::Judge0;
use crate::kind::{DialectKind, DialectKinds};
use crate::model::{ExecRequest, FieldSpec, RequestError, RouteKind, RunOutcome, TierLimits};
use crate::options::OptionsPolicy;
use crate::overlap::check_disjoint;
use crate::path::{path_part, segments};
use crate::piston::Piston;
use crate::read::parse_body;
use http::Method;
use serde_json::Value;

/// The content type of every forwarded execution body: executors such as
/// Judge0 (Rails) would parse a form-encoded body differently from the JSON
/// the gateway checked, so the gateway must set this header, not pass the client's.
pub const FORWARD_CONTENT_TYPE: &str = "application/json";

/// A configured executor dialect: one API, or several served side by side
/// on disjoint paths. Cheap to share between requests.
#[derive(Debug)]
pub struct Dialect {
    kinds: DialectKinds,
    /// One API per kind, in the order of `kinds`; never empty.
    apis: Vec<Served>,
}

/// One API and the kind it is.
#[derive(Debug)]
struct Served {
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
        // Checked whatever the kinds: a gateway that starts serving Judge0
        // later must not find a broken section then.
        CallbackPolicy::new(&config.callbacks)?;
        let apis = config
            .kind
            .as_slice()
            .iter()
            .map(|&kind| api(kind, &config).map(|api| Served { kind, api }))
            .collect::<Result<Vec<_>, _>>()?;
        let pairs: Vec<(DialectKind, &dyn Api)> =
            apis.iter().map(|s| (s.kind, s.api.as_ref())).collect();
        check_disjoint(&pairs)?;
        Ok(Dialect {
            kinds: config.kind,
            apis,
        })
    }

    /// The executor APIs this dialect speaks, in configured order.
    pub fn kinds(&self) -> &[DialectKind] {
        self.kinds.as_slice()
    }

    /// What `method` on `path` (which may carry `?query`) does at the executor:
    /// the first API's answer that is not `Unknown`.
    /// `Unknown` routes should be refused: the gateway cannot vouch for them.
    /// `HEAD` is answered like `GET` (as Express and Rails do), but only ever passes through.
    pub fn route(&self, method: &Method, path: &str) -> RouteKind {
        let segments = segments(path_part(path));
        self.apis
            .iter()
            .map(|served| route_one(served.api.as_ref(), method, &segments))
            .find(|route| *route != RouteKind::Unknown)
            .unwrap_or(RouteKind::Unknown)
    }

    /// Decodes an executing request's body with the API that owns the path;
    /// refusals name the offending field.
    pub fn parse_request(
        &self,
        route: RouteKind,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<ExecRequest, RequestError> {
        self.parse_request_with(route, path_and_query, None, body)
    }

    /// `parse_request` for a request that sent `language_header`, the value
    /// of the header [`Dialect::language_header`] names for its route.
    pub fn parse_request_with(
        &self,
        route: RouteKind,
        path_and_query: &str,
        language_header: Option<&str>,
        body: &[u8],
    ) -> Result<ExecRequest, RequestError> {
        if !route.executes() {
            return Err(RequestError::new(
                "route",
                "only routes that execute code carry a request to decode",
            ));
        }
        let owner = self.owner(path_and_query);
        let segments = segments(path_part(path_and_query));
        if let Some(parsed) = owner
            .api
            .parse_raw(path_and_query, &segments, language_header, body)
        {
            let parsed = parsed?;
            return Ok(ExecRequest {
                submissions: parsed.submissions,
                base64: false,
                wait: true,
                route,
                dialect: owner.kind,
                document: Value::Null,
                raw_body: Some(body.to_vec()),
            });
        }
        let document = parse_body(body)?;
        let parsed = owner.api.parse(route, path_and_query, &document)?;
        Ok(ExecRequest {
            submissions: parsed.submissions,
            base64: parsed.base64,
            wait: parsed.wait,
            route,
            dialect: owner.kind,
            document,
            raw_body: None,
        })
    }

    /// The request header a raw-body route on `path_and_query` reads its
    /// language from, if it does (the gateway hands its value to `parse_request_with`).
    pub fn language_header(&self, path_and_query: &str) -> Option<String> {
        let segments = segments(path_part(path_and_query));
        self.owner(path_and_query)
            .api
            .raw_language_header(&segments)
            .map(str::to_string)
    }

    /// The content type of the body forwarded on an executing route:
    /// [`FORWARD_CONTENT_TYPE`], or a raw-body route's configured one.
    pub fn forward_content_type(&self, path_and_query: &str) -> String {
        let segments = segments(path_part(path_and_query));
        self.owner(path_and_query)
            .api
            .raw_content_type(&segments)
            .unwrap_or(FORWARD_CONTENT_TYPE)
            .to_string()
    }

    /// The body to forward: `req`'s document with every limit above the tier
    /// lowered and every absent limit set to the tier's maximum; other fields kept.
    /// Always forward these bytes, never the client's: then the executor reads
    /// exactly the JSON the gateway checked (no duplicate keys, no parser tricks).
    /// A raw-body request is forwarded as it came: it has no limit fields.
    pub fn clamp(&self, req: &ExecRequest, limits: &TierLimits) -> Result<Vec<u8>, RequestError> {
        if let Some(raw) = &req.raw_body {
            return Ok(raw.clone());
        }
        let served = self.apis.iter().find(|s| s.kind == req.dialect);
        let served = served.ok_or_else(|| {
            RequestError::new(
                "route",
                format!(
                    "was parsed as {}, which this gateway does not serve",
                    req.dialect
                ),
            )
        })?;
        let mut document = req.document.clone();
        served.api.clamp(req, &mut document, limits)?;
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
        self.owner(path_and_query)
            .api
            .forward_path(route, path_and_query)
    }

    /// The response fields that carry program output, for the sanitizer;
    /// `req` is the parsed request when the route executed code.
    pub fn response_fields(
        &self,
        path_and_query: &str,
        req: Option<&ExecRequest>,
    ) -> Vec<FieldSpec> {
        let segments = segments(path_part(path_and_query));
        self.owner(path_and_query)
            .api
            .response_fields(path_and_query, &segments, req)
    }

    /// How each run in an executor's JSON response ended; nothing for non-JSON.
    /// With several APIs the body's shape picks the API (Piston `run`/`compile`
    /// objects, Judge0 `status`/`token`, batches and arrays, the generic
    /// verdict field); [`Dialect::verdicts_for`] picks it by path instead.
    pub fn verdicts(&self, body: &[u8]) -> Vec<RunOutcome> {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Vec::new();
        };
        let served = match self.apis.as_slice() {
            [only] => Some(only),
            all => all.iter().find(|s| s.api.answers(&value)),
        };
        served.map_or_else(Vec::new, |s| s.api.verdicts(&value))
    }

    /// Like [`Dialect::verdicts`], read from the parsed response `doc` by the
    /// API that owns `path_and_query` (the request's path): exact whatever the
    /// body looks like.
    pub fn verdicts_for(&self, path_and_query: &str, doc: &Value) -> Vec<RunOutcome> {
        self.owner(path_and_query).api.verdicts(doc)
    }

    /// The result tokens an executing route's parsed response `doc` hands out
    /// (Judge0: one per submission); the gateway binds each to its client.
    pub fn issued_tokens(&self, path_and_query: &str, doc: &Value) -> Vec<String> {
        self.owner(path_and_query).api.issued_tokens(doc)
    }

    /// Each result in a parsed response `doc` to `path_and_query` that names
    /// its token, with its run's outcome (`None` while queued or running):
    /// how the gateway scores runs whose results nobody read.
    pub fn token_verdicts(
        &self,
        path_and_query: &str,
        doc: &Value,
    ) -> Vec<(String, Option<RunOutcome>)> {
        self.owner(path_and_query).api.token_verdicts(doc)
    }

    /// The result tokens `method` on `path_and_query` reads, when the route
    /// reads results by token (Judge0 `GET /submissions/{token}`,
    /// `GET /submissions/batch?tokens=…`); `Some(empty)` for a route that
    /// reads results without naming them, which no client may use.
    pub fn read_tokens(&self, method: &Method, path_and_query: &str) -> Option<Vec<String>> {
        let segments = segments(path_part(path_and_query));
        self.owner(path_and_query)
            .api
            .read_tokens(method, path_and_query, &segments)
    }

    /// The API that owns the path of `path_and_query`: the only one, or the
    /// one claiming the path (at most one does, checked at construction),
    /// or else the first, whose answers for a path it does not know stand.
    fn owner(&self, path_and_query: &str) -> &Served {
        // Never empty: `DialectKinds` holds at least one kind.
        let first = &self.apis[0];
        if self.apis.len() == 1 {
            return first;
        }
        let segments = segments(path_part(path_and_query));
        self.apis
            .iter()
            .find(|s| s.api.claims(&segments))
            .unwrap_or(first)
    }
}

/// Builds the API of `kind` from `config`.
fn api(kind: DialectKind, config: &DialectConfig) -> Result<Box<dyn Api>, String> {
    let bounds = Bounds {
        max_files: config.max_files,
        max_submissions: config.max_submissions,
    };
    let options = OptionsPolicy::new(&config.options)?;
    Ok(match kind {
        DialectKind::Piston => Box::new(Piston::new(bounds, options)),
        DialectKind::Judge0 => Box::new(Judge0::new(
            &config.judge0,
            bounds,
            options,
            CallbackPolicy::new(&config.callbacks)?,
        )?),
        DialectKind::Generic => {
            let generic = config
                .generic
                .as_ref()
                .ok_or("dialect.generic: required when kind = \"generic\"")?;
            Box::new(Generic::new(generic)?)
        }
    })
}

/// One API's route; `HEAD` only ever passes through, like `GET`.
fn route_one(api: &dyn Api, method: &Method, segments: &[String]) -> RouteKind {
    if *method == Method::HEAD {
        return match api.route(&Method::GET, segments) {
            RouteKind::Passthrough => RouteKind::Passthrough,
            _ => RouteKind::Unknown,
        };
    }
    api.route(method, segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared<T: Send + Sync>(_: &T) {}

    #[test]
    fn a_dialect_can_be_shared_between_worker_threads() {
        let dialect = Dialect::new(DialectConfig::default()).unwrap();
        shared(&dialect);
        assert_eq!(dialect.kinds(), [DialectKind::Piston]);
    }
}
