//! Piston v2: `GET /api/v2/runtimes` and `POST /api/v2/execute`, in Piston's
//! own shapes, so Piston clients and the gateway's piston dialect work as is.
//! Times in the response are milliseconds, memory in bytes.

use super::{ApiError, AppState, parse_json};
use crate::files::{Encoding, MAX_FILES, check_name};
use crate::job::{Program, Requested};
use crate::verdict::{Status, Verdict};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The routes of this dialect.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/runtimes", get(runtimes))
        .route("/api/v2/execute", post(execute))
}

async fn runtimes(State(state): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = state
        .runner
        .catalog
        .all()
        .iter()
        .map(|l| json!({"language": l.cfg.name, "version": l.cfg.version, "aliases": l.cfg.aliases, "runtime": l.cfg.name}))
        .collect();
    Json(Value::Array(list))
}

/// A Piston execute request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    language: String,
    #[serde(default)]
    version: Option<String>,
    files: Vec<FileIn>,
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    run_timeout: Option<i64>,
    #[serde(default)]
    compile_timeout: Option<i64>,
    #[serde(default)]
    run_cpu_time: Option<i64>,
    #[serde(default)]
    compile_cpu_time: Option<i64>,
    #[serde(default)]
    run_memory_limit: Option<i64>,
    #[serde(default)]
    compile_memory_limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[serde(default)]
    name: Option<String>,
    content: String,
    #[serde(default)]
    encoding: Encoding,
}

/// Piston's convention: absent or -1 means "the default".
fn ms(v: Option<i64>) -> Result<Option<Duration>, ApiError> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) if n > 0 => Ok(Some(Duration::from_millis(n as u64))),
        Some(n) => Err(ApiError::bad_request(format!(
            "limits must be positive or -1, got {n}"
        ))),
    }
}

fn bytes(v: Option<i64>) -> Result<Option<u64>, ApiError> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) if n > 0 => Ok(Some(n as u64)),
        Some(n) => Err(ApiError::bad_request(format!(
            "memory limits must be positive or -1, got {n}"
        ))),
    }
}

fn program(req: ExecuteRequest) -> Result<Program, ApiError> {
    if req.files.is_empty() || req.files.len() > MAX_FILES {
        return Err(ApiError::bad_request(format!(
            "files: between 1 and {MAX_FILES} files are required"
        )));
    }
    let mut files = Vec::with_capacity(req.files.len());
    for (i, f) in req.files.into_iter().enumerate() {
        let name = f
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("file{i}.code"));
        check_name(&name).map_err(ApiError::bad_request)?;
        if files.iter().any(|(n, _): &(String, Vec<u8>)| *n == name) {
            return Err(ApiError::bad_request(format!(
                "file name {name:?} given twice"
            )));
        }
        let content = f
            .encoding
            .decode(&f.content)
            .map_err(|e| ApiError::bad_request(format!("files[{i}]: {e}")))?;
        files.push((name, content));
    }
    Ok(Program {
        files,
        args: req.args.unwrap_or_default(),
        stdin: req.stdin.unwrap_or_default().into_bytes(),
        run: Requested {
            timeout: ms(req.run_timeout)?,
            cpu_time: ms(req.run_cpu_time)?,
            memory: bytes(req.run_memory_limit)?,
        },
        compile: Requested {
            timeout: ms(req.compile_timeout)?,
            cpu_time: ms(req.compile_cpu_time)?,
            memory: bytes(req.compile_memory_limit)?,
        },
    })
}

/// Response header saying whether the run stage used a `warm` or `cold` sandbox.
pub const SANDBOX_HEADER: &str = "x-execgate-sandbox";

async fn execute(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<([(&'static str, &'static str); 1], Json<Value>), ApiError> {
    let req: ExecuteRequest = parse_json(&body)?;
    let version = req.version.clone().unwrap_or_else(|| "*".into());
    let lang = state
        .runner
        .catalog
        .find(&req.language, &version)
        .ok_or_else(|| {
            ApiError::bad_request(format!("{}-{version} runtime is unknown", req.language))
        })?;
    let program = program(req)?;
    let ticket = state.gate.reserve()?;
    let _slot = ticket.wait().await;
    let outcome = state.runner.execute(&lang, program).await?;
    let mut body = json!({"language": lang.cfg.name, "version": lang.cfg.version});
    if let Some(compile) = &outcome.compile {
        body["compile"] = stage(compile);
    }
    let mut start = "cold";
    if let Some(run) = &outcome.run {
        body["run"] = stage(run);
        start = run.start.as_str();
    }
    Ok(([(SANDBOX_HEADER, start)], Json(body)))
}

/// Piston's name of a signal, e.g. `SIGKILL`.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("SIG{signal}"),
    };
    name.to_string()
}

/// One stage in Piston's shape.
fn stage(v: &Verdict) -> Value {
    let stdout = String::from_utf8_lossy(&v.stdout);
    let stderr = String::from_utf8_lossy(&v.stderr);
    let status = match v.status {
        Status::Ok => Value::Null,
        other => Value::String(other.as_str().into()),
    };
    // A killed run has no exit code, like Piston.
    let signal = match (v.signal, v.status) {
        (Some(s), _) => Some(signal_name(s)),
        (None, Status::TimedOut | Status::StdoutLimit | Status::StderrLimit) => {
            Some("SIGKILL".into())
        }
        _ => None,
    };
    json!({
        "stdout": stdout,
        "stderr": stderr,
        "output": format!("{stdout}{stderr}"),
        "code": v.code,
        "signal": signal,
        "message": v.message(),
        "status": status,
        "cpu_time": v.cpu.as_millis() as u64,
        "wall_time": v.wall.as_millis() as u64,
        "memory": v.memory_bytes,
    })
}
