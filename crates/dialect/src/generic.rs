//! A home-grown JSON executor, described in config by JSON pointers: where
//! the code, language, stdin, limits, output and verdict live.

use crate::api::{Api, Parsed};
use crate::config::{GenericConfig, OutputField, VerdictConfig};
use crate::decode::{Encoding, check_code, decode};
use crate::limits::{LimitField, read_limits};
use crate::model::{
    CodeFile, ExecRequest, FieldSpec, RequestError, RouteKind, RunOutcome, Submission,
};
use crate::path::{RoutePattern, query_names};
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

/// A JSON executor described by pointers.
#[derive(Debug)]
pub(crate) struct Generic {
    routes: Vec<Route>,
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
        if config.execute.is_empty() {
            return Err("dialect.generic.execute: name at least one route that runs code".into());
        }
        if config.language.is_none() && config.default_language.is_none() {
            return Err("dialect.generic: set `language` (a pointer) or `default_language`".into());
        }
        let execute = config
            .execute
            .iter()
            .map(|s| route(s, RouteKind::Execute, "execute"));
        let pass = config
            .passthrough
            .iter()
            .map(|s| route(s, RouteKind::Passthrough, "passthrough"));
        let routes = execute.chain(pass).collect::<Result<_, _>>()?;
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
        Ok(Self {
            routes,
            query_params: config.query_params.clone(),
            code: pointer("code", &config.code)?,
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
        if let Some(name) = query_names(path_and_query)
            .into_iter()
            .find(|name| !self.query_params.contains(name))
        {
            return Err(RequestError::new(
                name,
                "is not accepted in the query string of this route",
            ));
        }
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
        };
        Ok(Parsed::single(submission))
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
