//! Piston v2: `POST /api/v2/execute` with files, stdin, args and limits in
//! milliseconds and bytes; results under `run` and `compile`.

use crate::api::{Api, Bounds, Parsed};
use crate::decode::{Encoding, check_code, check_file_name, decode, encoding_named};
use crate::limits::{
    LimitField, LimitRole, LimitUnit, MAX_MEMORY_BYTES, MAX_TIME_SECS, clamp_limits,
};
use crate::model::{
    CodeFile, ExecRequest, FieldKind, FieldSpec, RequestError, RequestedLimits, RouteKind,
    RunOutcome, Submission, TierLimits,
};
use crate::options::OptionsPolicy;
use crate::path::RoutePattern;
use crate::read::{Fields, index, mistyped};
use http::Method;
use serde_json::Value;
use std::time::Duration;

/// The Piston v2 API.
#[derive(Debug)]
pub(crate) struct Piston {
    limits: Vec<LimitField>,
    bounds: Bounds,
    options: OptionsPolicy,
}

impl Piston {
    pub(crate) fn new(bounds: Bounds, options: OptionsPolicy) -> Self {
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
        Self {
            limits,
            bounds,
            options,
        }
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
        let request = read_execute(body, self.bounds.max_files)?;
        self.options
            .check_args(request.args.iter().map(String::as_str), "args")?;
        Ok(Parsed::single(request.submission()))
    }

    /// `-1` asks for the most allowed: the tier's maximum, as an absent limit gets.
    fn clamp(
        &self,
        _request: &ExecRequest,
        body: &mut Value,
        tier: &TierLimits,
    ) -> Result<(), RequestError> {
        if let Value::Object(map) = body {
            for field in &self.limits {
                let key = &field.pointer[1..];
                if map.get(key).is_some_and(is_most) {
                    map.remove(key);
                }
            }
        }
        clamp_limits(&self.limits, body, "", tier)
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

/// Limit fields of a Piston request: key, stage, what it limits.
const LIMIT_KEYS: [(&str, Stage, Measure); 6] = [
    ("run_timeout", Stage::Run, Measure::Wall),
    ("run_cpu_time", Stage::Run, Measure::Cpu),
    ("run_memory_limit", Stage::Run, Measure::Memory),
    ("compile_timeout", Stage::Compile, Measure::Wall),
    ("compile_cpu_time", Stage::Compile, Measure::Cpu),
    ("compile_memory_limit", Stage::Compile, Measure::Memory),
];

#[derive(Clone, Copy)]
enum Stage {
    Run,
    Compile,
}

#[derive(Clone, Copy)]
enum Measure {
    Wall,
    Cpu,
    Memory,
}

/// What a request asks of one limit, as Piston reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ask<T> {
    /// Absent or `null`: the executor's default for the language.
    #[default]
    Default,
    /// `-1`: the most the executor (or the gateway's tier) allows.
    Most,
    /// A value; the executor lowers it to its own maximum.
    Exactly(T),
}

impl<T> Ask<T> {
    /// The value asked for, when one was given.
    pub fn exactly(self) -> Option<T> {
        match self {
            Ask::Exactly(value) => Some(value),
            Ask::Default | Ask::Most => None,
        }
    }
}

/// The limits asked for one stage (run or compile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageAsk {
    /// Wall-clock time (`*_timeout`, milliseconds).
    pub timeout: Ask<Duration>,
    /// CPU time (`*_cpu_time`, milliseconds).
    pub cpu_time: Ask<Duration>,
    /// Memory in bytes (`*_memory_limit`).
    pub memory: Ask<u64>,
}

/// A Piston `POST /api/v2/execute` body, read once the way both the gateway
/// and the bundled runner read it, so a request one accepts the other does too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PistonExecute {
    /// `language`, never empty.
    pub language: String,
    /// `version`, when given (`*` and prefixes are the executor's to match).
    pub version: Option<String>,
    /// `files[]`, decoded; the first is the entry point; names checked.
    pub files: Vec<CodeFile>,
    /// `stdin`.
    pub stdin: Vec<u8>,
    /// `args`: every element a string.
    pub args: Vec<String>,
    /// `run_timeout`, `run_cpu_time`, `run_memory_limit`.
    pub run: StageAsk,
    /// `compile_timeout`, `compile_cpu_time`, `compile_memory_limit`.
    pub compile: StageAsk,
}

impl PistonExecute {
    /// The dialect-neutral submission the gateway screens.
    fn submission(self) -> Submission {
        let seconds = |ask: Ask<Duration>| ask.exactly();
        Submission {
            language: self.language,
            version: self.version,
            files: self.files,
            stdin: self.stdin,
            limits: RequestedLimits {
                run_time: seconds(self.run.timeout),
                cpu_time: seconds(self.run.cpu_time),
                memory_bytes: self.run.memory.exactly(),
                compile_time: seconds(self.compile.timeout),
                compile_memory_bytes: self.compile.memory.exactly(),
            },
            callback: None,
        }
    }
}

/// Reads a Piston execute body with at most `max_files` files; refusals name the field.
pub fn read_execute(body: &Value, max_files: usize) -> Result<PistonExecute, RequestError> {
    let fields = Fields::of(body, "")?;
    let language = fields.required_string("language")?;
    if language.trim().is_empty() {
        return Err(RequestError::new("language", "must not be empty"));
    }
    let version = fields.string("version")?.map(str::to_string);
    let list = fields.bounded_array("files", max_files, "files")?;
    let files = list
        .iter()
        .enumerate()
        .map(|(i, file)| code_file(file, &index("files", i)))
        .collect::<Result<Vec<_>, _>>()?;
    check_distinct_names(&files)?;
    let stdin = fields.string("stdin")?.unwrap_or("").as_bytes().to_vec();
    let mut args = Vec::new();
    for (i, arg) in fields.array("args")?.into_iter().flatten().enumerate() {
        match arg {
            Value::String(arg) => args.push(arg.clone()),
            other => return Err(mistyped(index("args", i), "a string", other)),
        }
    }
    let (mut run, mut compile) = (StageAsk::default(), StageAsk::default());
    for (key, stage, measure) in LIMIT_KEYS {
        let stage = match stage {
            Stage::Run => &mut run,
            Stage::Compile => &mut compile,
        };
        match measure {
            Measure::Wall => stage.timeout = ask_ms(&fields, key)?,
            Measure::Cpu => stage.cpu_time = ask_ms(&fields, key)?,
            Measure::Memory => stage.memory = ask_bytes(&fields, key)?,
        }
    }
    Ok(PistonExecute {
        language: language.to_string(),
        version,
        files,
        stdin,
        args,
        run,
        compile,
    })
}

/// Two files of one name would overwrite each other: which one runs depends
/// on the executor, and the gateway screens both.
fn check_distinct_names(files: &[CodeFile]) -> Result<(), RequestError> {
    for (i, file) in files.iter().enumerate() {
        let Some(name) = &file.name else { continue };
        if files[..i].iter().any(|f| f.name.as_ref() == Some(name)) {
            return Err(RequestError::new(
                format!("{}.name", index("files", i)),
                format!("repeats the file name {name:?}"),
            ));
        }
    }
    Ok(())
}

/// Whether a limit value is Piston's `-1`, "the most allowed".
fn is_most(value: &Value) -> bool {
    value.as_f64() == Some(-1.0)
}

/// A limit as a number: absent, `-1`, or a non-negative value at most `ceiling`.
fn ask_number(fields: &Fields<'_>, key: &str, ceiling: f64) -> Result<Ask<f64>, RequestError> {
    let value = match fields.get(key) {
        None => return Ok(Ask::Default),
        Some(value) if is_most(value) => return Ok(Ask::Most),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::INFINITY),
        Some(other) => return Err(mistyped(fields.name(key), "a number", other)),
    };
    if value < 0.0 {
        return Err(RequestError::new(
            fields.name(key),
            "must not be negative (-1 asks for the most allowed)",
        ));
    }
    // A zero limit is a run that cannot start, or no limit to executors that
    // read 0 as "unset": neither is a limit the tier can vouch for.
    if value == 0.0 {
        return Err(RequestError::new(
            fields.name(key),
            "must be greater than 0 (-1 or leaving it out asks for the most allowed)",
        ));
    }
    if value > ceiling {
        let unit = if key.ends_with("memory_limit") {
            "bytes"
        } else {
            "ms"
        };
        return Err(RequestError::new(
            fields.name(key),
            format!("is out of range: at most {ceiling} {unit}"),
        ));
    }
    Ok(Ask::Exactly(value))
}

/// A time limit in milliseconds.
fn ask_ms(fields: &Fields<'_>, key: &str) -> Result<Ask<Duration>, RequestError> {
    Ok(match ask_number(fields, key, MAX_TIME_SECS * 1e3)? {
        Ask::Exactly(ms) => Ask::Exactly(Duration::from_secs_f64(ms / 1e3)),
        Ask::Most => Ask::Most,
        Ask::Default => Ask::Default,
    })
}

/// A memory limit in bytes (a fraction of a byte rounds up).
fn ask_bytes(fields: &Fields<'_>, key: &str) -> Result<Ask<u64>, RequestError> {
    Ok(match ask_number(fields, key, MAX_MEMORY_BYTES)? {
        Ask::Exactly(bytes) => Ask::Exactly(bytes.ceil() as u64),
        Ask::Most => Ask::Most,
        Ask::Default => Ask::Default,
    })
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
