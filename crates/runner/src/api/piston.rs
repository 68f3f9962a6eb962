//! Piston v2: `GET /api/v2/runtimes` and `POST /api/v2/execute`, in Piston's
//! own shapes, so Piston clients and the gateway's piston dialect work as is.
//! Times in the response are milliseconds, memory in bytes.

use super::{ApiError, AppState, parse_json};
use crate::config::LimitBounds;
use crate::files::MAX_FILES;
use crate::job::{Program, Requested};
use crate::verdict::{Status, Verdict};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use execgate_dialect::piston::{Ask, PistonExecute, StageAsk, read_execute};
use serde_json::{Value, json};

/// The routes of this dialect.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/runtimes", get(runtimes))
        .route("/api/v2/execute", post(execute))
        .route(
            "/api/v2/packages",
            get(packages).post(manage_packages).delete(manage_packages),
        )
}

/// Installed runtimes in Piston's package shape; every offered one is installed.
async fn packages(State(state): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = state
        .runner
        .catalog
        .all()
        .iter()
        .map(|l| json!({"language": l.cfg.name, "language_version": l.cfg.version, "installed": true}))
        .collect();
    Json(Value::Array(list))
}

/// Installing and removing runtimes is the operator's job, not a client's.
async fn manage_packages() -> ApiError {
    ApiError {
        status: StatusCode::NOT_IMPLEMENTED,
        message: "packages are managed by the operator: runtimes are the host's interpreters \
                  and compilers listed in the runner's config (GET /api/v2/packages lists them)"
            .into(),
    }
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

/// Reads an execute body the way the gateway's piston dialect reads it
/// (`execgate_dialect::piston::read_execute`): one reading, one verdict.
pub fn read(body: &Value) -> Result<PistonExecute, ApiError> {
    read_execute(body, MAX_FILES)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.message)))
}

/// The runner's program for a request read by the shared Piston reading,
/// whose entry point is called `source_file` when the request leaves it
/// unnamed: `-1` asks for the configured maximum, larger values are lowered
/// to it (as the gateway lowers them to the tier's), absent ones take the
/// language's default.
pub fn program(
    req: PistonExecute,
    source_file: &str,
    bounds: &LimitBounds,
) -> Result<Program, ApiError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::with_capacity(req.files.len());
    for (i, f) in req.files.into_iter().enumerate() {
        let name = f.name.unwrap_or_else(|| unnamed(source_file, i));
        // Named files are distinct already; a made-up name may meet a given one.
        if files.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::bad_request(format!(
                "files[{i}]: its default name {name:?} is another file's name"
            )));
        }
        files.push((name, f.content));
    }
    Ok(Program {
        files,
        args: req.args,
        stdin: req.stdin,
        run: requested(req.run, bounds),
        compile: requested(req.compile, bounds),
    })
}

/// The name of unnamed file `i`: the entry point is the language's source
/// file, the others share its extension, so compilers know what they read.
fn unnamed(source: &str, i: usize) -> String {
    if i == 0 {
        return source.to_string();
    }
    match source.rsplit_once('.') {
        Some((_, ext)) => format!("file{i}.{ext}"),
        None => format!("file{i}"),
    }
}

/// One stage's asked limits within `bounds`.
fn requested(ask: StageAsk, bounds: &LimitBounds) -> Requested {
    fn within<T: Ord + Copy>(ask: Ask<T>, max: T) -> Option<T> {
        match ask {
            Ask::Default => None,
            Ask::Most => Some(max),
            Ask::Exactly(value) => Some(value.min(max)),
        }
    }
    Requested {
        timeout: within(ask.timeout, bounds.max_timeout.get()),
        cpu_time: within(ask.cpu_time, bounds.max_cpu_time.get()),
        memory: within(ask.memory, bounds.max_memory.bytes()),
    }
}

/// Response header saying whether the run stage used a `warm` or `cold` sandbox.
pub const SANDBOX_HEADER: &str = "x-execgate-sandbox";

async fn execute(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<([(&'static str, &'static str); 1], Json<Value>), ApiError> {
    let value: Value = parse_json(&body)?;
    let req = read(&value)?;
    let version = req.version.clone().unwrap_or_else(|| "*".into());
    let lang = state
        .runner
        .catalog
        .find(&req.language, &version)
        .ok_or_else(|| {
            ApiError::bad_request(format!("{}-{version} runtime is unknown", req.language))
        })?;
    let program = program(req, &lang.cfg.source_file, &state.runner.config.limits)?;
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
