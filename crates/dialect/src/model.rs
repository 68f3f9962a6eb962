//! The dialect-neutral picture of a request and a response that the gateway
//! reasons about, whatever executor API the client speaks.

use crate::kind::DialectKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// What a request path means to the executor behind the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// Runs one program (Piston `POST /api/v2/execute`, Judge0 `POST /submissions`).
    Execute,
    /// Runs several programs in one request (Judge0 `POST /submissions/batch`).
    ExecuteBatch,
    /// Runs nothing: runtimes, languages, results by token.
    Passthrough,
    /// Not a route the dialect knows; the gateway should refuse it (404).
    #[default]
    Unknown,
}

impl RouteKind {
    /// Whether the route makes the executor run code.
    pub fn executes(self) -> bool {
        matches!(self, RouteKind::Execute | RouteKind::ExecuteBatch)
    }
}

/// A decoded execution request: what will run, in which language, with which limits.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecRequest {
    /// One entry per program (several only for a Judge0 batch).
    pub submissions: Vec<Submission>,
    /// Judge0 `base64_encoded=true`: text fields travel base64-encoded both ways.
    pub base64: bool,
    /// Judge0 `wait=true`: the response carries the result rather than a token.
    pub wait: bool,
    /// The route the request was parsed for.
    pub route: RouteKind,
    /// The executor API that parsed it, so `clamp` rewrites it in that API's terms.
    pub dialect: DialectKind,
    /// The parsed body, kept so that `clamp` rewrites it with unknown fields intact
    /// (`null` for a raw-body route).
    pub document: serde_json::Value,
    /// The program itself, for a route that takes it as the raw body
    /// (`[[dialect.generic.raw]]`): forwarded byte for byte.
    pub raw_body: Option<Vec<u8>>,
}

/// One program to run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Submission {
    /// The language as the client named it (Judge0 ids are mapped to names by config).
    pub language: String,
    /// The requested language version (Piston), when given.
    pub version: Option<String>,
    /// The source files, decoded; the first is the entry point.
    pub files: Vec<CodeFile>,
    /// Standard input, decoded.
    pub stdin: Vec<u8>,
    /// The limits the client asked for, before clamping.
    pub limits: RequestedLimits,
    /// Where the finished result is to be delivered (Judge0 `callback_url`),
    /// checked against `[dialect.callbacks]`.
    pub callback: Option<crate::callback::CallbackUrl>,
}

/// One decoded source file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CodeFile {
    /// The file name, when the dialect carries one.
    pub name: Option<String>,
    /// The content after transfer decoding (utf8, base64 or hex): always valid UTF-8 without NUL.
    pub content: Vec<u8>,
}

/// Limits a client asked for; `None` where the request left the executor's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestedLimits {
    /// Wall-clock run time (Piston `run_timeout`, Judge0 `wall_time_limit`).
    pub run_time: Option<Duration>,
    /// CPU time (Piston `run_cpu_time`, Judge0 `cpu_time_limit`).
    pub cpu_time: Option<Duration>,
    /// Memory in bytes (Piston `run_memory_limit`, Judge0 `memory_limit`).
    pub memory_bytes: Option<u64>,
    /// Compile wall-clock time (Piston `compile_timeout`).
    pub compile_time: Option<Duration>,
    /// Compile memory in bytes (Piston `compile_memory_limit`).
    pub compile_memory_bytes: Option<u64>,
}

/// The most a tier may ask for: every time limit is clamped to `run_time`,
/// every memory limit to `memory_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierLimits {
    /// Longest run (and compile) time.
    pub run_time: Duration,
    /// Largest memory limit in bytes.
    pub memory_bytes: u64,
}

/// A request the dialect refuses; the gateway answers 400 `invalid_request` naming `field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestError {
    /// The offending field, as a path into the body (`files[0].content`,
    /// `submissions[2].memory_limit`), a query parameter, or `body`.
    pub field: String,
    /// What is wrong, safe to show to the client.
    pub message: String,
}

impl RequestError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RequestError {}

/// Which output stream a response field carries, so the sanitizer applies the right cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// The program's standard output.
    Stdout,
    /// The program's standard error.
    Stderr,
    /// Anything else that carries program text: combined output, compiler output, messages.
    Other,
}

/// A response field holding program output, for the sanitizer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FieldSpec {
    /// JSON pointer; a `*` segment matches every array element or object member
    /// (`/run/stdout`, `/submissions/*/stderr`).
    pub pointer: String,
    /// The stream the field carries.
    pub kind: FieldKind,
    /// The field's value is base64-encoded (Judge0 `base64_encoded=true`).
    pub base64: bool,
}

/// How one execution ended, read from the executor's response; feeds reputation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Ran to completion (a wrong answer is still a completed run).
    Ok,
    /// Killed for exceeding its time limit.
    Timeout,
    /// Killed for exceeding its memory limit.
    MemoryKilled,
    /// Killed for writing too much output.
    OutputLimit,
    /// Crashed or exited non-zero.
    RuntimeError,
    /// Did not compile.
    CompileError,
    /// The executor failed or reported something unrecognised.
    Other,
}
