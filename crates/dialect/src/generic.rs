//! A home-grown JSON executor, described in config by JSON pointers: where
//! the code, language, stdin, limits, output and verdict live.

use crate::api::{Api, Parsed};
use crate::config::{GenericConfig, OutputField, RawRoute, VerdictConfig};
use crate::decode::{Encoding, check_code, decode};
use crate::limits::{LimitField, read_limits};
use crate::model::{
    CodeFile, ExecRequest, FieldSpec, RequestError, RouteKind, RunOutcome, Submission,
};
use crate::path::{RoutePattern, query_names, query_value};
use crate::read::{Fields, mistyped};
use http::Method;
use serde_json::Value;

/// A configured route.
#[derive(Debug)]
struct Route {
    method: Method,
    pattern: RoutePattern,
    kind: RouteKind,
}

/// Where a raw-body route finds the language name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LanguageSource {
    /// The path segment at this index (the route's `{name}`).
    Path(usize),
    /// This query parameter.
    Query(String),
    /// This request header (lowercase).
    Header(String),
    /// Only `default_language`.
    Default,
}

/// A route taking the program as its raw body.
#[derive(Debug)]
struct Raw {
    pattern: RoutePattern,
    language: LanguageSource,
    content_type: String,
}

impl Raw {
    fn new(config: &RawRoute, default_language: Option<&String>) -> Result<(Route, Self), String> {
        let route = route(&config.route, RouteKind::Execute, "raw")?;
        let fail = |why: String| format!("dialect.generic.raw: {:?}: {why}", config.route);
        let path = config
            .route
            .trim()
            .split_once(' ')
            .map_or("", |(_, p)| p.trim());
        let language = match config.language.as_deref().map(|l| l.split_once(':')) {
            None => LanguageSource::Default,
            Some(Some(("path", name))) => {
                let wanted = format!("{{{name}}}");
                let index = path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .position(|s| s == wanted)
                    .ok_or_else(|| fail(format!("language: the route has no {wanted} segment")))?;
                LanguageSource::Path(index)
            }
            Some(Some(("query", name))) if !name.is_empty() => LanguageSource::Query(name.into()),
            Some(Some(("header", name))) => {
                let header = http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| fail(format!("language: {name:?} is not a header name")))?;
                LanguageSource::Header(header.as_str().to_string())
            }
            Some(_) => {
                return Err(fail(
                    "language: write \"path:NAME\", \"query:NAME\" or \"header:NAME\"".into(),
                ));
            }
        };
        if language == LanguageSource::Default && default_language.is_none() {
            return Err(fail(
                "set `language`, or `default_language` for the section".into(),
            ));
        }
        let content_type = http::HeaderValue::from_str(&config.content_type).map_err(|_| {
            fail(format!(
                "content_type: {:?} is not a header value",
                config.content_type
            ))
        })?;
        let raw = Raw {
            pattern: route.pattern.clone(),
            language,
            content_type: content_type.to_str().unwrap_or_default().to_string(),
        };
        Ok((route, raw))
    }
}

/// A JSON executor described by pointers.
#[derive(Debug)]
pub(crate) struct Generic {
    routes: Vec<Route>,
    raw: Vec<Raw>,
    query_params: Vec<String>,
    code: String,
    code_encoding: Encoding,
    language: Option<String>,
    default_language: Option<String>,
    version: Option<String>,
    stdin: Option<String>,
    stdin_encoding: Encoding,
    limits: Vec<LimitField>,
    outputs: Vec<OutputField>,
    verdict: Option<VerdictConfig>,
}

/// Checks a configured JSON pointer.
fn pointer(key: &str, value: &str) -> Result<String, String> {
    if value.starts_with('/') {
        Ok(value.to_string())
    } else {
        Err(format!(
            "dialect.generic.{key}: {value:?} must be a JSON pointer starting with /"
        ))
    }
}

/// Parses `"POST /run/{id}"`.
fn route(spec: &str, kind: RouteKind, key: &str) -> Result<Route, String> {
    let fail = |why: String| format!("dialect.generic.{key}: {spec:?}: {why}");
    let (method, path) = spec
        .trim()
        .split_once(' ')
        .ok_or_else(|| fail("write \"METHOD /path\", e.g. \"POST /run\"".into()))?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| fail(e.to_string()))?;
    let pattern = RoutePattern::parse(path.trim()).map_err(fail)?;
    Ok(Route {
        method,
        pattern,
        kind,
    })
}

impl Generic {
    pub(crate) fn new(config: &GenericConfig) -> Result<Self, String> {
        if config.execute.is_empty() && config.raw.is_empty() {
            return Err(
                "dialect.generic.execute: name at least one route that runs code (or a raw one)"
                    .into(),
            );
        }
        if !config.execute.is_empty()
            && config.language.is_none()
            && config.default_language.is_none()
        {
            return Err("dialect.generic: set `language` (a pointer) or `default_language`".into());
        }
        let (raw_routes, raw): (Vec<Route>, Vec<Raw>) = config
            .raw
            .iter()
            .map(|r| Raw::new(r, config.default_language.as_ref()))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        let execute = config
            .execute
            .iter()
            .map(|s| route(s, RouteKind::Execute, "execute"));
        let pass = config
            .passthrough
            .iter()
            .map(|s| route(s, RouteKind::Passthrough, "passthrough"));
        let mut routes: Vec<Route> = execute.chain(pass).collect::<Result<_, _>>()?;
        routes.extend(raw_routes);
        let optional =
            |key: &str, v: &Option<String>| v.as_deref().map(|p| pointer(key, p)).transpose();
        for limit in &config.limits {
            limit
                .validate()
                .map_err(|e| format!("dialect.generic.limits: {e}"))?;
        }
        for output in &config.outputs {
            pointer("outputs", &output.pointer)?;
        }
        if let Some(v) = &config.verdict {
            pointer("verdict.pointer", &v.pointer)?;
        }
        let code = if config.execute.is_empty() {
            String::new()
        } else {
            pointer("code", &config.code)?
        };
        Ok(Self {
            routes,
            raw,
            query_params: config.query_params.clone(),
            code,
            code_encoding: config.code_encoding,
            language: optional("language", &config.language)?,
            default_language: config.default_language.clone(),
            version: optional("version", &config.version)?,
            stdin: optional("stdin", &config.stdin)?,
            stdin_encoding: config.stdin_encoding,
            limits: config.limits.clone(),
            outputs: config.outputs.clone(),
            verdict: config.verdict.clone(),
        })
    }

    /// The string at `pointer`, named by its dotted path in errors.
    fn text<'v>(body: &'v Value, pointer: &str) -> Result<Option<&'v str>, RequestError> {
        match body.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(mistyped(field_name(pointer), "a string", other)),
        }
    }

    /// The raw-body route on `segments`, if it is one.
    fn raw_route(&self, segments: &[String]) -> Option<&Raw> {
        self.raw.iter().find(|r| r.pattern.matches(segments, false))
    }

    /// Refuses query parameters not listed in `query_params` (nor `also`).
    fn check_query(&self, path_and_query: &str, also: Option<&str>) -> Result<(), RequestError> {
        match query_names(path_and_query)
            .into_iter()
            .find(|name| !self.query_params.contains(name) && Some(name.as_str()) != also)
        {
            Some(name) => Err(RequestError::new(
                name,
                "is not accepted in the query string of this route",
            )),
            None => Ok(()),
        }
    }

    fn language(&self, body: &Value) -> Result<String, RequestError> {
        let given = match &self.language {
            Some(p) => Self::text(body, p)?,
            None => None,
        };
        match (given, &self.default_language, &self.language) {
            (Some(l), _, _) if !l.trim().is_empty() => Ok(l.to_string()),
            (_, Some(default), _) => Ok(default.clone()),
            (_, None, p) => Err(RequestError::new(
                field_name(p.as_deref().unwrap_or("/language")),
                "is required",
            )),
        }
    }
}

/// `/program/source` → `program.source`.
fn field_name(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

impl Api for Generic {
    fn route(&self, method: &Method, segments: &[String]) -> RouteKind {
        self.routes
            .iter()
            .find(|r| r.method == *method && r.pattern.matches(segments, false))
            .map_or(RouteKind::Unknown, |r| r.kind)
    }

    /// Any method: a path is owned whole, so output fields follow the path.
    fn claims(&self, segments: &[String]) -> bool {
        self.routes
            .iter()
            .any(|r| r.pattern.matches(segments, false))
    }

    fn patterns(&self) -> Vec<RoutePattern> {
        self.routes.iter().map(|r| r.pattern.clone()).collect()
    }

    /// A generic response is recognised by its configured verdict field.
    fn answers(&self, body: &Value) -> bool {
        self.verdict
            .as_ref()
            .is_some_and(|v| body.pointer(&v.pointer).is_some())
    }

    fn parse(
        &self,
        _route: RouteKind,
        path_and_query: &str,
        body: &Value,
    ) -> Result<Parsed, RequestError> {
        self.check_query(path_and_query, None)?;
        Fields::of(body, "")?;
        let code_field = field_name(&self.code);
        let code = Self::text(body, &self.code)?
            .ok_or_else(|| RequestError::new(&code_field, "is required"))?;
        let content = decode(code, self.code_encoding, &code_field)?;
        check_code(&content, &code_field)?;
        let stdin = match &self.stdin {
            Some(p) => match Self::text(body, p)? {
                Some(s) => decode(s, self.stdin_encoding, &field_name(p))?,
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let version = match &self.version {
            Some(p) => Self::text(body, p)?.map(str::to_string),
            None => None,
        };
        let submission = Submission {
            language: self.language(body)?,
            version,
            files: vec![CodeFile {
                name: None,
                content,
            }],
            stdin,
            limits: read_limits(&self.limits, body, "")?,
            callback: None,
        };
        Ok(Parsed::single(submission))
    }

    fn raw_language_header(&self, segments: &[String]) -> Option<&str> {
        match &self.raw_route(segments)?.language {
            LanguageSource::Header(name) => Some(name),
            _ => None,
        }
    }

    fn raw_content_type(&self, segments: &[String]) -> Option<&str> {
        self.raw_route(segments).map(|r| r.content_type.as_str())
    }

    /// The body is the program: screened like a JSON route's code field
    /// (valid UTF-8, no NUL), its language from the configured place.
    fn parse_raw(
        &self,
        path_and_query: &str,
        segments: &[String],
        header: Option<&str>,
        body: &[u8],
    ) -> Option<Result<Parsed, RequestError>> {
        let raw = self.raw_route(segments)?;
        Some((|| {
            let (given, field) = match &raw.language {
                LanguageSource::Path(i) => (segments.get(*i).cloned(), "path".to_string()),
                LanguageSource::Query(name) => (query_value(path_and_query, name), name.clone()),
                LanguageSource::Header(name) => (header.map(str::to_string), name.clone()),
                LanguageSource::Default => (None, "language".to_string()),
            };
            let also = match &raw.language {
                LanguageSource::Query(name) => Some(name.as_str()),
                _ => None,
            };
            self.check_query(path_and_query, also)?;
            let language = match (given, &self.default_language) {
                (Some(l), _) if !l.trim().is_empty() => l.trim().to_string(),
                (_, Some(default)) => default.clone(),
                (_, None) => {
                    return Err(RequestError::new(
                        field,
                        "is required: it names the language",
                    ));
                }
            };
            check_code(body, "body")?;
            Ok(Parsed::single(Submission {
                language,
                version: None,
                files: vec![CodeFile {
                    name: None,
                    content: body.to_vec(),
                }],
                stdin: Vec::new(),
                limits: Default::default(),
                callback: None,
            }))
        })())
    }

    fn limits(&self) -> &[LimitField] {
        &self.limits
    }

    fn response_fields(
        &self,
        _path_and_query: &str,
        segments: &[String],
        _request: Option<&ExecRequest>,
    ) -> Vec<FieldSpec> {
        if !self.claims(segments) {
            return Vec::new();
        }
        self.outputs
            .iter()
            .map(|o| FieldSpec {
                pointer: o.pointer.clone(),
                kind: o.kind,
                base64: o.base64,
            })
            .collect()
    }

    fn verdicts(&self, body: &Value) -> Vec<RunOutcome> {
        let Some(verdict) = &self.verdict else {
            return Vec::new();
        };
        let status = match body.pointer(&verdict.pointer) {
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            _ => return Vec::new(),
        };
        vec![
            verdict
                .outcomes
                .get(&status)
                .copied()
                .unwrap_or(verdict.otherwise),
        ]
    }
}
