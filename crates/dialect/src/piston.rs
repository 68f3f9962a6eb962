//! Piston v2: `POST /api/v2/execute` with files, stdin, args and limits in
//! milliseconds and bytes; results under `run` and `compile`.

use crate::api::{Api, Bounds, Parsed};
use crate::decode::{Encoding, check_code, check_file_name, decode, encoding_named};
use crate::limits::{LimitField, LimitRole, LimitUnit, read_limits};
use crate::model::{
    CodeFile, ExecRequest, FieldKind, FieldSpec, RequestError, RouteKind, RunOutcome, Submission,
};
use crate::path::RoutePattern;
use crate::read::{Fields, index, mistyped};
use http::Method;
use serde_json::Value;

/// The Piston v2 API.
#[derive(Debug)]
pub(crate) struct Piston {
    limits: Vec<LimitField>,
    bounds: Bounds,
}

impl Piston {
    pub(crate) fn new(bounds: Bounds) -> Self {
        use LimitRole::*;
        use LimitUnit::{Bytes, Ms};
        let limits = LimitField::table(&[
            ("/run_timeout", RunTime, Ms),
            ("/run_cpu_time", CpuTime, Ms),
            ("/run_memory_limit", Memory, Bytes),
            ("/compile_timeout", CompileTime, Ms),
            ("/compile_cpu_time", CompileCpuTime, Ms),
            ("/compile_memory_limit", CompileMemory, Bytes),
        ]);
        Self { limits, bounds }
    }

    fn is_execute(segments: &[String]) -> bool {
        segments.len() == 3 && is_api_v2(segments) && segments[2].eq_ignore_ascii_case("execute")
    }
}

/// `/api/v2/…`, case-insensitively as Express routes match.
fn is_api_v2(segments: &[String]) -> bool {
    segments.len() >= 2
        && segments[0].eq_ignore_ascii_case("api")
        && segments[1].eq_ignore_ascii_case("v2")
}

impl Api for Piston {
    fn route(&self, method: &Method, segments: &[String]) -> RouteKind {
        let last = segments.last().map(String::as_str).unwrap_or("");
        let listing = segments.len() == 3
            && is_api_v2(segments)
            && (last.eq_ignore_ascii_case("runtimes") || last.eq_ignore_ascii_case("packages"));
        match method {
            m if m == Method::POST && Self::is_execute(segments) => RouteKind::Execute,
            m if m == Method::GET && listing => RouteKind::Passthrough,
            _ => RouteKind::Unknown,
        }
    }

    fn patterns(&self) -> Vec<RoutePattern> {
        ["execute", "runtimes", "packages"]
            .iter()
            .map(|last| RoutePattern::of(&["api", "v2", last]))
            .collect()
    }

    /// Piston results keep each stage in a `run` or `compile` object.
    fn answers(&self, body: &Value) -> bool {
        ["run", "compile"]
            .iter()
            .any(|stage| body.get(stage).is_some_and(Value::is_object))
    }

    fn parse(
        &self,
        _route: RouteKind,
        _path_and_query: &str,
        body: &Value,
    ) -> Result<Parsed, RequestError> {
        let fields = Fields::of(body, "")?;
        let language = fields.required_string("language")?;
        if language.trim().is_empty() {
            return Err(RequestError::new("language", "must not be empty"));
        }
        let version = fields.string("version")?.map(str::to_string);
        let files = self.files(&fields)?;
        let stdin = fields.string("stdin")?.unwrap_or("").as_bytes().to_vec();
        for (i, arg) in fields.array("args")?.into_iter().flatten().enumerate() {
            if !arg.is_string() {
                return Err(mistyped(index("args", i), "a string", arg));
            }
        }
        let limits = read_limits(&self.limits, body, "")?;
        let submission = Submission {
            language: language.to_string(),
            version,
            files,
            stdin,
            limits,
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
        if !Self::is_execute(segments) {
            return Vec::new();
        }
        let mut specs = Vec::new();
        for stage in ["run", "compile"] {
            for (name, kind) in [
                ("stdout", FieldKind::Stdout),
                ("stderr", FieldKind::Stderr),
                ("output", FieldKind::Other),
                ("message", FieldKind::Other),
            ] {
                specs.push(FieldSpec {
                    pointer: format!("/{stage}/{name}"),
                    kind,
                    base64: false,
                });
            }
        }
        specs
    }

    fn verdicts(&self, body: &Value) -> Vec<RunOutcome> {
        piston_outcome(body).into_iter().collect()
    }
}

impl Piston {
    /// `files[]`: at least one, at most `max_files`, each decoded and checked.
    fn files(&self, fields: &Fields<'_>) -> Result<Vec<CodeFile>, RequestError> {
        let list = fields.bounded_array("files", self.bounds.max_files, "files")?;
        list.iter()
            .enumerate()
            .map(|(i, file)| code_file(file, &index("files", i)))
            .collect()
    }
}

/// One entry of `files[]`.
fn code_file(file: &Value, at: &str) -> Result<CodeFile, RequestError> {
    let fields = Fields::of(file, at)?;
    let name = match fields.string("name")? {
        Some("") | None => None,
        Some(name) => {
            check_file_name(name, &fields.name("name"))?;
            Some(name.to_string())
        }
    };
    let encoding = match fields.string("encoding")? {
        Some(e) => encoding_named(e, fields.name("encoding"))?,
        None => Encoding::Utf8,
    };
    let content_field = fields.name("content");
    let content = decode(fields.required_string("content")?, encoding, &content_field)?;
    check_code(&content, &content_field)?;
    Ok(CodeFile { name, content })
}

/// How a Piston job ended: the compile stage first (a failed compile means no run).
fn piston_outcome(body: &Value) -> Option<RunOutcome> {
    if let Some(compile) = body.get("compile").filter(|c| c.is_object()) {
        match stage_outcome(compile) {
            Some(RunOutcome::Ok) | None => {}
            Some(RunOutcome::Timeout) => return Some(RunOutcome::Timeout),
            Some(RunOutcome::MemoryKilled) => return Some(RunOutcome::MemoryKilled),
            Some(RunOutcome::OutputLimit) => return Some(RunOutcome::OutputLimit),
            Some(_) => return Some(RunOutcome::CompileError),
        }
    }
    body.get("run").and_then(stage_outcome)
}

/// One stage (`run` or `compile`): its `status` when present (TO, OL, EL, OOM,
/// SG, RE, XX), else its signal and exit code as older Piston reports them.
fn stage_outcome(stage: &Value) -> Option<RunOutcome> {
    let text = |key: &str| stage.get(key).and_then(Value::as_str);
    let message = text("message").unwrap_or("").to_ascii_lowercase();
    let signal = text("signal");
    match text("status") {
        Some("TO") => return Some(RunOutcome::Timeout),
        Some("OL" | "EL") => return Some(RunOutcome::OutputLimit),
        Some("OOM") => return Some(RunOutcome::MemoryKilled),
        Some("XX") => return Some(RunOutcome::Other),
        Some("RE") => return Some(RunOutcome::RuntimeError),
        Some("SG") => return Some(killed(signal, &message)),
        _ => {}
    }
    if signal.is_some() {
        return Some(killed(signal, &message));
    }
    match stage.get("code").and_then(Value::as_i64) {
        Some(0) => Some(RunOutcome::Ok),
        Some(_) => Some(RunOutcome::RuntimeError),
        None => None,
    }
}

/// A signal death; SIGKILL is the executor enforcing a limit, the message says which.
fn killed(signal: Option<&str>, message: &str) -> RunOutcome {
    if message.contains("memory") || message.contains("oom") {
        RunOutcome::MemoryKilled
    } else if message.contains("output") || signal == Some("SIGXFSZ") {
        RunOutcome::OutputLimit
    } else if message.contains("time") || matches!(signal, Some("SIGKILL" | "SIGXCPU")) {
        // Piston before `status` killed timed-out runs with a bare SIGKILL.
        RunOutcome::Timeout
    } else {
        RunOutcome::RuntimeError
    }
}
