//! Judge0 CE subset: submissions (single and batch, `wait` and polling by
//! token, deletion), languages, statuses, about, config_info, workers and
//! system_info — enough for the
//! official `judge0` Python SDK. Text fields are kept base64 internally and
//! rendered per request (`base64_encoded`); times are seconds as strings,
//! memory is KB, status ids follow Judge0 (3 Accepted … 13 Internal Error).

use super::tokens::Removal;
use super::{ApiError, AppState, parse_json};
use crate::job::{Language, Outcome, Program, Requested};
use crate::verdict::{Status, Verdict};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use execgate_dialect::judge0::{Judge0Submission, read_submission};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Most submissions in one batch (Judge0's default).
const MAX_BATCH: usize = 20;
/// Fields returned when the client does not ask (Judge0's default).
const DEFAULT_FIELDS: &str = "token,stdout,time,memory,stderr,compile_output,message,status";
/// Fields holding program text, base64-encoded on request.
const TEXT_FIELDS: [&str; 7] = [
    "source_code",
    "stdin",
    "expected_output",
    "stdout",
    "stderr",
    "compile_output",
    "message",
];

/// Judge0 status ids and descriptions.
const STATUSES: [(u32, &str); 14] = [
    (1, "In Queue"),
    (2, "Processing"),
    (3, "Accepted"),
    (4, "Wrong Answer"),
    (5, "Time Limit Exceeded"),
    (6, "Compilation Error"),
    (7, "Runtime Error (SIGSEGV)"),
    (8, "Runtime Error (SIGXFSZ)"),
    (9, "Runtime Error (SIGFPE)"),
    (10, "Runtime Error (SIGABRT)"),
    (11, "Runtime Error (NZEC)"),
    (12, "Runtime Error (Other)"),
    (13, "Internal Error"),
    (14, "Exec Format Error"),
];

/// The routes of this dialect.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/submissions", post(create))
        .route("/submissions/batch", post(create_batch).get(get_batch))
        .route("/submissions/{token}", get(get_one).delete(delete_one))
        .route("/languages", get(languages))
        .route("/languages/{id}", get(language))
        .route("/statuses", get(statuses))
        .route("/about", get(about))
        .route("/config_info", get(config_info))
        .route("/workers", get(workers))
        .route("/system_info", get(system_info))
}

/// Query flags shared by the endpoints.
#[derive(Debug, Default)]
struct Flags {
    base64: bool,
    wait: bool,
    fields: String,
}

impl Flags {
    fn from(q: &HashMap<String, String>) -> Self {
        let on = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
        let fields = q
            .get("fields")
            .cloned()
            .unwrap_or_else(|| DEFAULT_FIELDS.into());
        Self {
            base64: on("base64_encoded"),
            wait: on("wait"),
            fields,
        }
    }
}

fn status_json(id: u32) -> Value {
    let description = STATUSES
        .iter()
        .find(|s| s.0 == id)
        .map_or("Unknown", |s| s.1);
    json!({"id": id, "description": description})
}

/// Reads one submission object the way the gateway's judge0 dialect reads
/// it (`execgate_dialect::judge0::read_submission`): one reading, one verdict.
pub fn read(value: &Value, base64: bool) -> Result<Judge0Submission, ApiError> {
    read_submission(value, "", base64)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.message)))
}

/// A validated submission: its language, program, expected output and stored record.
struct Accepted {
    lang: Arc<Language>,
    program: Program,
    expected: Option<Vec<u8>>,
    record: Value,
}

fn accept(value: &Value, base64: bool, state: &AppState) -> Result<Accepted, ApiError> {
    let input = read(value, base64)?;
    let id = input.language_id;
    let lang = u32::try_from(id)
        .ok()
        .and_then(|id| state.runner.catalog.by_judge0_id(id))
        .ok_or_else(|| {
            ApiError::bad_request(format!("language_id: language with id {id} doesn't exist"))
        })?;
    let (source, stdin, expected) = (input.source_code, input.stdin, input.expected_output);
    let run = Requested {
        timeout: input.limits.run_time,
        cpu_time: input.limits.cpu_time,
        memory: input.limits.memory_bytes,
    };
    let args: Vec<String> = input
        .command_line_arguments
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let program = Program {
        files: vec![(lang.cfg.source_file.clone(), source.clone())],
        args,
        stdin: stdin.clone(),
        run,
        compile: Requested::default(),
    };
    state.runner.limits("run", run, lang.cfg.run_limits)?;
    let record = json!({
        "source_code": STANDARD.encode(&source),
        "language_id": id,
        "stdin": STANDARD.encode(&stdin),
        "expected_output": expected.as_ref().map(|e| STANDARD.encode(e)),
        "status": status_json(1),
        "created_at": now_iso8601(),
        "finished_at": null,
        "stdout": null, "stderr": null, "compile_output": null, "message": null,
        "exit_code": null, "exit_signal": null, "time": null, "wall_time": null, "memory": null,
        "number_of_runs": 1,
    });
    Ok(Accepted {
        lang,
        program,
        expected,
        record,
    })
}

/// The current UTC time as Judge0 prints it: `2024-01-31T12:34:56.789Z`.
fn now_iso8601() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso8601(now)
}

/// `since_epoch` as ISO 8601 UTC (civil-from-days, proleptic Gregorian).
fn iso8601(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let ms = since_epoch.subsec_millis();
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// Judge0's comparison: trailing whitespace of lines and of the text is ignored.
fn same_output(actual: &[u8], expected: &[u8]) -> bool {
    let norm = |b: &[u8]| -> String {
        let text = String::from_utf8_lossy(b);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        lines.join("\n").trim_end().to_string()
    };
    norm(actual) == norm(expected)
}

/// The Judge0 status id of a finished submission.
fn status_id(outcome: &Outcome, expected: Option<&[u8]>) -> u32 {
    if let Some(c) = &outcome.compile
        && c.status != Status::Ok
    {
        return if c.status == Status::InternalError {
            13
        } else {
            6
        };
    }
    let Some(run) = &outcome.run else { return 13 };
    match run.status {
        Status::Ok if expected.is_some_and(|e| !same_output(&run.stdout, e)) => 4,
        Status::Ok => 3,
        Status::TimedOut => 5,
        Status::RuntimeError => 11,
        Status::Signaled => match run.signal {
            Some(libc::SIGSEGV) => 7,
            Some(libc::SIGXFSZ) => 8,
            Some(libc::SIGFPE) => 9,
            Some(libc::SIGABRT) => 10,
            _ => 12,
        },
        Status::OutOfMemory | Status::StdoutLimit | Status::StderrLimit => 12,
        Status::InternalError => 13,
    }
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(STANDARD.encode(bytes))
}

/// Fills the record with the outcome.
fn finish_record(record: &mut Value, outcome: &Outcome, expected: Option<&[u8]>) {
    let id = status_id(outcome, expected);
    record["status"] = status_json(id);
    record["finished_at"] = json!(now_iso8601());
    if let Some(c) = &outcome.compile {
        let mut text = c.stdout.clone();
        text.extend_from_slice(&c.stderr);
        record["compile_output"] = b64(&text);
    }
    let shown: Option<&Verdict> = outcome.run.as_ref().or(outcome.compile.as_ref());
    if let Some(v) = shown {
        if outcome.run.is_some() {
            record["stdout"] = b64(&v.stdout);
            record["stderr"] = b64(&v.stderr);
            record["exit_code"] = json!(v.code);
            record["exit_signal"] = json!(v.signal);
        }
        record["message"] = v.message().map_or(Value::Null, |m| b64(m.as_bytes()));
        record["time"] = json!(format!("{:.3}", v.cpu.as_secs_f64()));
        record["wall_time"] = json!(format!("{:.3}", v.wall.as_secs_f64()));
        record["memory"] = json!(v.memory_bytes / 1024);
    }
}

/// The record as the client asked for it: chosen fields, text decoded unless base64.
fn render(record: &Value, token: &str, flags: &Flags) -> Value {
    let mut out = Map::new();
    let all = flags.fields.trim() == "*";
    let wanted: Vec<&str> = flags.fields.split(',').map(str::trim).collect();
    let mut full = record.as_object().cloned().unwrap_or_default();
    full.insert("token".into(), json!(token));
    for (key, value) in full {
        if !all && !wanted.contains(&key.as_str()) {
            continue;
        }
        let value = match (&value, TEXT_FIELDS.contains(&key.as_str()) && !flags.base64) {
            (Value::String(s), true) => {
                let bytes = STANDARD.decode(s).unwrap_or_default();
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => value,
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

async fn run_accepted(
    state: &AppState,
    acc: Accepted,
    slot: crate::api::gate::Ticket,
) -> Result<Value, ApiError> {
    let _slot = slot.wait().await;
    let outcome = state.runner.execute(&acc.lang, acc.program).await?;
    let mut record = acc.record;
    finish_record(&mut record, &outcome, acc.expected.as_deref());
    Ok(record)
}

/// Stores the submission and runs it in the background; returns its token.
fn enqueue(state: &AppState, acc: Accepted) -> Result<String, ApiError> {
    let ticket = state.gate.reserve()?;
    let token = uuid::Uuid::new_v4().to_string();
    state.tokens.insert(&token, acc.record.clone());
    let (state, tok) = (state.clone(), token.clone());
    tokio::spawn(async move {
        let mut processing = acc.record.clone();
        processing["status"] = status_json(2);
        state.tokens.update(&tok, processing);
        let record = match run_accepted(&state, acc, ticket).await {
            Ok(record) => record,
            Err(e) => json!({"status": status_json(13), "message": STANDARD.encode(e.message)}),
        };
        state.tokens.update(&tok, record);
    });
    Ok(token)
}

async fn create(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let flags = Flags::from(&q);
    let value: Value = parse_json(&body)?;
    let acc = accept(&value, flags.base64, &state)?;
    if !flags.wait {
        let token = enqueue(&state, acc)?;
        return Ok((StatusCode::CREATED, Json(json!({"token": token}))));
    }
    let ticket = state.gate.reserve()?;
    let token = uuid::Uuid::new_v4().to_string();
    let record = run_accepted(&state, acc, ticket).await?;
    state.tokens.insert(&token, record.clone());
    Ok((StatusCode::CREATED, Json(render(&record, &token, &flags))))
}

async fn create_batch(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    #[derive(Deserialize)]
    struct Batch {
        submissions: Vec<Value>,
    }
    let flags = Flags::from(&q);
    let batch: Batch = parse_json(&body)?;
    if batch.submissions.is_empty() || batch.submissions.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "submissions: between 1 and {MAX_BATCH} are allowed"
        )));
    }
    let mut out = Vec::new();
    for input in batch.submissions {
        let item = accept(&input, flags.base64, &state).and_then(|acc| enqueue(&state, acc));
        out.push(match item {
            Ok(token) => json!({"token": token}),
            Err(e) => json!({"message": e.message}),
        });
    }
    Ok((StatusCode::CREATED, Json(Value::Array(out))))
}

async fn get_one(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let flags = Flags::from(&q);
    let record = state
        .tokens
        .get(&token)
        .ok_or_else(|| ApiError::not_found(format!("submission {token} not found")))?;
    Ok(Json(render(&record, &token, &flags)))
}

/// Judge0 deletes only finished submissions and answers with the deleted one.
async fn delete_one(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let flags = Flags::from(&q);
    let status_of = |record: &Value| record["status"]["id"].as_u64().unwrap_or(1);
    match state.tokens.remove_if(&token, |r| status_of(r) <= 2) {
        Removal::Removed(record) => Ok(Json(render(&record, &token, &flags))),
        Removal::Busy(record) => {
            let status = status_of(&record);
            let name = if status == 1 {
                "In Queue"
            } else {
                "Processing"
            };
            Err(ApiError::bad_request(format!(
                "submission {token} cannot be deleted because its status is {status} ({name})"
            )))
        }
        Removal::Unknown => Err(ApiError::not_found(format!("submission {token} not found"))),
    }
}

async fn get_batch(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let flags = Flags::from(&q);
    let tokens = q
        .get("tokens")
        .ok_or_else(|| ApiError::bad_request("tokens: required"))?;
    let list: Vec<&str> = tokens
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if list.is_empty() || list.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "tokens: between 1 and {MAX_BATCH} are allowed"
        )));
    }
    let subs: Vec<Value> = list
        .iter()
        .map(|t| {
            state
                .tokens
                .get(t)
                .map_or(Value::Null, |r| render(&r, t, &flags))
        })
        .collect();
    Ok(Json(json!({"submissions": subs})))
}

fn judge0_name(lang: &Language) -> String {
    lang.cfg
        .judge0_name
        .clone()
        .unwrap_or_else(|| format!("{} ({})", lang.cfg.name, lang.cfg.version))
}

async fn languages(State(state): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = state
        .runner
        .catalog
        .all()
        .iter()
        .filter_map(|l| Some(json!({"id": l.cfg.judge0_id?, "name": judge0_name(l)})))
        .collect();
    Json(Value::Array(list))
}

async fn language(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let lang = id
        .parse::<u32>()
        .ok()
        .and_then(|id| state.runner.catalog.by_judge0_id(id))
        .ok_or_else(|| ApiError::not_found(format!("language {id} not found")))?;
    Ok(Json(json!({
        "id": lang.cfg.judge0_id,
        "name": judge0_name(&lang),
        "is_archived": false,
        "source_file": lang.cfg.source_file,
        "compile_cmd": lang.cfg.compile.as_ref().map(|c| c.join(" ")),
        "run_cmd": lang.cfg.run.join(" "),
    })))
}

async fn statuses() -> Json<Value> {
    Json(Value::Array(
        STATUSES.iter().map(|s| status_json(s.0)).collect(),
    ))
}

async fn about() -> Json<Value> {
    Json(json!({
        "version": "1.13.1",
        "homepage": "execgate runner (Judge0 CE compatible subset)",
        "source_code": "execgate",
        "maintainer": "execgate",
    }))
}

async fn config_info(State(state): State<AppState>) -> Json<Value> {
    let config = &state.runner.config;
    let secs = |d: Duration| d.as_secs_f64();
    Json(json!({
        "maintenance_mode": false,
        "enable_wait_result": true,
        "enable_compiler_options": false,
        "allowed_languages_for_compile_options": [],
        "enable_command_line_arguments": true,
        "enable_submission_delete": true,
        "enable_callbacks": false,
        "enable_additional_files": false,
        "max_queue_size": config.max_queue,
        "cpu_time_limit": 3.0,
        "wall_time_limit": 3.0,
        "memory_limit": 128 * 1024,
        "max_cpu_time_limit": secs(config.limits.max_cpu_time.get()),
        "max_wall_time_limit": secs(config.limits.max_timeout.get()),
        "max_memory_limit": config.limits.max_memory.bytes() / 1024,
        "max_processes_and_or_threads": config.sandbox.processes,
        "max_file_size": config.sandbox.file_size.bytes() / 1024,
        "number_of_runs": 1,
        "max_number_of_runs": 1,
        "redirect_stderr_to_stdout": false,
        "max_submission_batch_size": MAX_BATCH,
        "submission_cache_duration": secs(config.tokens.retention.get()),
        // The rest of Judge0 CE's keys (the official SDK requires every one),
        // set to what this runner does: no per-run extras, no network, no callbacks.
        "enable_batched_submissions": true,
        "cpu_extra_time": 0.0,
        "max_cpu_extra_time": 0.0,
        "stack_limit": config.sandbox.stack.bytes() / 1024,
        "max_stack_limit": config.sandbox.stack.bytes() / 1024,
        "max_max_processes_and_or_threads": config.sandbox.processes,
        "max_max_file_size": config.sandbox.file_size.bytes() / 1024,
        "enable_per_process_and_thread_time_limit": false,
        "allow_enable_per_process_and_thread_time_limit": false,
        "enable_per_process_and_thread_memory_limit": false,
        "allow_enable_per_process_and_thread_memory_limit": false,
        "max_extract_size": 0,
        "callbacks_max_tries": 0,
        "callbacks_timeout": 0.0,
        "enable_network": false,
        "allow_enable_network": false,
        "use_docs_as_homepage": false,
    }))
}

/// Judge0 lists its worker queues; this runner has one, the sandbox slots.
async fn workers(State(state): State<AppState>) -> Json<Value> {
    let slots = state.runner.config.max_concurrent;
    let working = state.gate.running();
    Json(json!([{
        "queue": "default",
        "size": state.gate.waiting(),
        "available": slots,
        "idle": slots.saturating_sub(working),
        "working": working,
        "paused": 0,
        "failed": 0,
    }]))
}

/// Judge0 answers `lscpu`-style facts about the machine; only the ones a
/// client sizes its load by are given (no model names or kernel versions).
async fn system_info() -> Json<Value> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let memory_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    Json(json!({
        "Architecture": std::env::consts::ARCH,
        "CPU(s)": cpus.to_string(),
        "Mem": memory_kb.map_or_else(|| "unknown".to_string(), |kb| format!("{kb} kB")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601(Duration::from_millis(1_709_210_096_789)),
            "2024-02-29T12:34:56.789Z"
        );
    }

    #[test]
    fn output_comparison_ignores_trailing_whitespace_only() {
        assert!(same_output(b"1 2\n3\n\n", b"1 2  \n3"));
        assert!(!same_output(b"1 2\n3\n", b"1 2\n4\n"));
        assert!(!same_output(b" 1", b"1"));
    }

    #[test]
    fn render_picks_fields_and_decodes_text() {
        let record =
            json!({"stdout": STANDARD.encode("hi\n"), "time": "0.010", "status": status_json(3)});
        let flags = Flags {
            base64: false,
            wait: false,
            fields: "stdout,status".into(),
        };
        let out = render(&record, "t", &flags);
        assert_eq!(
            out,
            json!({"stdout": "hi\n", "status": {"id": 3, "description": "Accepted"}})
        );
        let flags = Flags {
            base64: true,
            wait: false,
            fields: "*".into(),
        };
        let out = render(&record, "t", &flags);
        assert_eq!(out["stdout"], json!(STANDARD.encode("hi\n")));
        assert_eq!(out["token"], json!("t"));
    }
}
