//! Piston v2: every route, every request field, every refusal, clamp math,
//! output fields and verdicts.

mod common;

use common::{clamped, dialect, parse, refusal};
use execgate_dialect::{
    CodeFile, DialectKind, FieldKind, RequestError, RouteKind, RunOutcome, encode_base64,
};
use http::Method;
use serde_json::{Value, json};
use std::time::Duration;

const EXEC: &str = "/api/v2/execute";

fn piston() -> execgate_dialect::Dialect {
    dialect(DialectKind::Piston)
}

fn minimal() -> Value {
    json!({"language": "python", "version": "3.10.0", "files": [{"content": "print(1)"}]})
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn refused(body: Value) -> RequestError {
    refusal(&piston(), RouteKind::Execute, EXEC, &body)
}

#[test]
fn routes_execute_passthrough_and_unknown() {
    let d = piston();
    let cases = [
        (Method::POST, "/api/v2/execute", RouteKind::Execute),
        (Method::POST, "/api/v2/execute?x=1", RouteKind::Execute),
        (Method::POST, "/api/v2/execute/", RouteKind::Execute),
        (Method::POST, "//api//v2/execute", RouteKind::Execute),
        // Express matches case-insensitively and decodes escapes: so must we
        (Method::POST, "/API/V2/Execute", RouteKind::Execute),
        (Method::POST, "/api/v2/%65xecute", RouteKind::Execute),
        (Method::GET, "/api/v2/runtimes", RouteKind::Passthrough),
        (Method::HEAD, "/api/v2/runtimes", RouteKind::Passthrough),
        (Method::HEAD, "/api/v2/execute", RouteKind::Unknown),
        (Method::GET, "/api/v2/packages", RouteKind::Passthrough),
        (Method::GET, "/api/v2/execute", RouteKind::Unknown),
        // installing or removing packages is administration, not a client's business
        (Method::POST, "/api/v2/packages", RouteKind::Unknown),
        (Method::DELETE, "/api/v2/packages", RouteKind::Unknown),
        // interactive execution over a websocket cannot be screened
        (Method::GET, "/api/v2/connect", RouteKind::Unknown),
        (Method::POST, "/api/v1/execute", RouteKind::Unknown),
        (Method::POST, "/api/v2/execute/extra", RouteKind::Unknown),
        (Method::POST, "/", RouteKind::Unknown),
    ];
    for (method, path, want) in cases {
        assert_eq!(d.route(&method, path), want, "{method} {path}");
    }
}

#[test]
fn every_request_field_is_read() {
    let body = json!({
        "language": "python", "version": "3.10.0",
        "files": [
            {"name": "main.py", "content": "import util\n"},
            {"name": "util.py", "content": encode_base64(b"X = 1\n"), "encoding": "base64"},
            {"name": "data/x.txt", "content": "6869", "encoding": "hex"},
            {"content": "plain", "encoding": "utf8"},
        ],
        "stdin": "1 2\n", "args": ["a", "b"],
        "run_timeout": 3000, "run_cpu_time": 2500, "run_memory_limit": 1_000_000,
        "compile_timeout": 10000, "compile_cpu_time": 9000, "compile_memory_limit": 2048,
    });
    let req = parse(&piston(), RouteKind::Execute, EXEC, &body).unwrap();
    assert!(!req.base64 && req.wait);
    assert_eq!(req.route, RouteKind::Execute);
    let s = &req.submissions[..];
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].language, "python");
    assert_eq!(s[0].version.as_deref(), Some("3.10.0"));
    assert_eq!(
        s[0].files,
        [
            file(Some("main.py"), "import util\n"),
            file(Some("util.py"), "X = 1\n"),
            file(Some("data/x.txt"), "hi"),
            file(None, "plain"),
        ]
    );
    assert_eq!(s[0].stdin, b"1 2\n");
    let l = s[0].limits;
    assert_eq!(l.run_time, Some(Duration::from_millis(3000)));
    assert_eq!(l.cpu_time, Some(Duration::from_millis(2500)));
    assert_eq!(l.memory_bytes, Some(1_000_000));
    assert_eq!(l.compile_time, Some(Duration::from_secs(10)));
    assert_eq!(l.compile_memory_bytes, Some(2048));
}

fn file(name: Option<&str>, content: &str) -> CodeFile {
    CodeFile {
        name: name.map(str::to_string),
        content: content.as_bytes().to_vec(),
    }
}

#[test]
fn optional_fields_may_be_absent_or_null() {
    let body = json!({"language": "c", "version": null, "files": [{"content": "int main(){}"}], "stdin": null});
    let req = parse(&piston(), RouteKind::Execute, EXEC, &body).unwrap();
    assert_eq!(req.submissions[0].version, None);
    assert!(req.submissions[0].stdin.is_empty());
    assert_eq!(req.submissions[0].limits, Default::default());
}

#[test]
fn malformed_and_non_object_bodies_are_refused() {
    let d = piston();
    for body in [&b"{"[..], b"", b"nul", b"{\"language\": \"python\",}"] {
        let err = d.parse_request(RouteKind::Execute, EXEC, body).unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.message.starts_with("malformed JSON"), "{err}");
    }
    for body in ["[]", "1", "\"x\"", "null"] {
        let err = d
            .parse_request(RouteKind::Execute, EXEC, body.as_bytes())
            .unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.message.starts_with("must be a JSON object"), "{err}");
    }
    let err = d
        .parse_request(RouteKind::Execute, EXEC, b"{\"language\":\"py\xc3\x28\"}")
        .unwrap_err();
    assert_eq!(err.field, "body");
    assert!(err.message.contains("UTF-8"), "{err}");
}

#[test]
fn missing_and_mistyped_fields_are_named() {
    let cases = [
        (
            json!({"files": [{"content": "x"}]}),
            "language",
            "is required",
        ),
        (
            with(minimal(), "language", json!(3)),
            "language",
            "must be a string, not a number",
        ),
        (
            with(minimal(), "language", json!("  ")),
            "language",
            "must not be empty",
        ),
        (
            with(minimal(), "version", json!(3.1)),
            "version",
            "must be a string, not a number",
        ),
        (json!({"language": "python"}), "files", "is required"),
        (
            with(minimal(), "files", json!({})),
            "files",
            "must be an array, not an object",
        ),
        (
            with(minimal(), "files", json!([])),
            "files",
            "must not be empty",
        ),
        (
            with(minimal(), "files", json!(["print(1)"])),
            "files[0]",
            "must be a JSON object, not a string",
        ),
        (
            with(minimal(), "files", json!([{"name": "a.py"}])),
            "files[0].content",
            "is required",
        ),
        (
            with(minimal(), "files", json!([{"content": ["x"]}])),
            "files[0].content",
            "must be a string, not an array",
        ),
        (
            with(minimal(), "stdin", json!(["x"])),
            "stdin",
            "must be a string, not an array",
        ),
        (
            with(minimal(), "args", json!("a b")),
            "args",
            "must be an array, not a string",
        ),
        (
            with(minimal(), "args", json!(["a", 2])),
            "args[1]",
            "must be a string, not a number",
        ),
    ];
    for (body, field, message) in cases {
        assert_eq!(refused(body), RequestError::new(field, message));
    }
}

#[test]
fn undecodable_or_unsafe_code_is_refused() {
    let f = |file: Value| refused(with(minimal(), "files", json!([{"content": "ok"}, file])));
    let err = f(json!({"content": "%%%", "encoding": "base64"}));
    assert_eq!(err.field, "files[1].content");
    assert!(err.message.starts_with("invalid base64"), "{err}");
    let err = f(json!({"content": "abc", "encoding": "hex"}));
    assert!(err.message.starts_with("invalid hex"), "{err}");
    let err = f(json!({"content": "x", "encoding": "latin1"}));
    assert_eq!(err.field, "files[1].encoding");
    let err = f(json!({"content": "print(1)\u{0}import os"}));
    assert_eq!(
        err,
        RequestError::new("files[1].content", "contains a NUL byte at offset 8")
    );
    let err = f(json!({"content": encode_base64(b"\xff\xfe"), "encoding": "base64"}));
    assert!(err.message.contains("not valid UTF-8"), "{err}");
    let err = f(json!({"content": "00", "encoding": "hex"}));
    assert!(err.message.contains("NUL"), "{err}");
}

#[test]
fn file_names_must_stay_in_the_job_directory() {
    for name in ["../../etc/passwd", "/tmp/x.py", "a/../../b", "..\\x"] {
        let err = refused(with(
            minimal(),
            "files",
            json!([{"name": name, "content": "x"}]),
        ));
        assert_eq!(err.field, "files[0].name", "{name}");
    }
}

#[test]
fn too_many_files_are_refused_and_the_bound_is_configurable() {
    let files: Vec<Value> = (0..17)
        .map(|i| json!({"name": format!("f{i}.py"), "content": "x"}))
        .collect();
    let err = refused(with(minimal(), "files", json!(files)));
    assert_eq!(
        err,
        RequestError::new("files", "has 17 files; at most 16 are allowed")
    );
    let d = execgate_dialect::Dialect::new(execgate_dialect::DialectConfig {
        max_files: 17,
        ..Default::default()
    })
    .unwrap();
    assert!(
        parse(
            &d,
            RouteKind::Execute,
            EXEC,
            &with(minimal(), "files", json!(files))
        )
        .is_ok()
    );
}

#[test]
fn negative_absurd_and_mistyped_limits_are_refused() {
    let cases = [
        (
            "run_timeout",
            json!(-2),
            "must not be negative (-1 asks for the most allowed)",
        ),
        (
            "run_memory_limit",
            json!(-0.5),
            "must not be negative (-1 asks for the most allowed)",
        ),
        (
            "compile_memory_limit",
            json!(1e300),
            "is out of range: at most 1099511627776 bytes",
        ),
        (
            "run_cpu_time",
            json!(86_400_001),
            "is out of range: at most 86400000 ms",
        ),
        (
            "compile_timeout",
            json!("10s"),
            "must be a number, not a string",
        ),
        (
            "compile_cpu_time",
            json!(true),
            "must be a number, not a boolean",
        ),
    ];
    for (key, value, message) in cases {
        assert_eq!(
            refused(with(minimal(), key, value)),
            RequestError::new(key, message)
        );
    }
}

#[test]
fn minus_one_asks_for_the_tier_maximum() {
    // piston-client (npm) sends -1 for both memory limits unless told otherwise
    let body = json!({
        "language": "python", "version": "*", "files": [{"content": "x"}],
        "run_timeout": -1, "run_memory_limit": -1, "compile_memory_limit": -1.0,
        "compile_timeout": 1000,
    });
    let req = parse(&piston(), RouteKind::Execute, EXEC, &body).unwrap();
    let limits = req.submissions[0].limits;
    assert_eq!(limits.run_time, None);
    assert_eq!(limits.memory_bytes, None);
    assert_eq!(limits.compile_time, Some(Duration::from_secs(1)));
    let out = clamped(&piston(), RouteKind::Execute, EXEC, &body);
    assert_eq!(out["run_timeout"], json!(5000));
    assert_eq!(out["run_memory_limit"], json!(134_217_728));
    assert_eq!(out["compile_memory_limit"], json!(134_217_728));
    assert_eq!(out["compile_timeout"], json!(1000));
}

#[test]
fn the_shared_reading_tells_default_most_and_values_apart() {
    use execgate_dialect::piston::{Ask, read_execute};
    let body = json!({
        "language": "c", "files": [{"name": "a.c", "content": "x"}, {"content": "y"}],
        "args": ["1", "two"], "stdin": "in",
        "run_timeout": 2500, "run_memory_limit": -1,
    });
    let read = read_execute(&body, 16).unwrap();
    assert_eq!(read.args, ["1", "two"]);
    assert_eq!(read.stdin, b"in");
    assert_eq!(read.files[0].name.as_deref(), Some("a.c"));
    assert_eq!(read.files[1].name, None);
    assert_eq!(read.run.timeout, Ask::Exactly(Duration::from_millis(2500)));
    assert_eq!(read.run.memory, Ask::Most);
    assert_eq!(read.run.cpu_time, Ask::Default);
    assert_eq!(read.compile.timeout, Ask::Default);
    let err = read_execute(&with(body, "args", json!(["a", 1])), 16).unwrap_err();
    assert_eq!(
        err,
        RequestError::new("args[1]", "must be a string, not a number")
    );
}

#[test]
fn clamp_lowers_inserts_and_keeps_unknown_fields() {
    let body = json!({
        "language": "python", "version": "*", "files": [{"content": "x"}],
        "run_timeout": 60000, "run_memory_limit": 1_073_741_824_u64,
        "compile_timeout": 1000, "x-unknown": {"keep": [1, "two"]},
    });
    let out = clamped(&piston(), RouteKind::Execute, EXEC, &body);
    assert_eq!(
        out,
        json!({
            "language": "python", "version": "*", "files": [{"content": "x"}],
            "run_timeout": 5000, "run_cpu_time": 5000, "run_memory_limit": 134_217_728,
            "compile_timeout": 1000, "compile_cpu_time": 5000, "compile_memory_limit": 134_217_728,
            "x-unknown": {"keep": [1, "two"]},
        })
    );
}

#[test]
fn clamp_keeps_limits_at_or_below_the_tier_verbatim() {
    let body = with(
        with(minimal(), "run_timeout", json!(5000)),
        "run_memory_limit",
        json!(1024.5),
    );
    let out = clamped(&piston(), RouteKind::Execute, EXEC, &body);
    assert_eq!(out["run_timeout"], json!(5000));
    assert_eq!(out["run_memory_limit"], json!(1024.5));
}

#[test]
fn clamp_converts_odd_tiers_exactly() {
    let d = piston();
    let req = parse(&d, RouteKind::Execute, EXEC, &minimal()).unwrap();
    let tier = execgate_dialect::TierLimits {
        run_time: Duration::from_micros(2_500_900),
        memory_bytes: 300_000_001,
    };
    let out: Value = serde_json::from_slice(&d.clamp(&req, &tier).unwrap()).unwrap();
    // milliseconds round down so the executor never gets more than the tier
    assert_eq!(out["run_timeout"], json!(2500));
    assert_eq!(out["run_memory_limit"], json!(300_000_001));
}

#[test]
fn parse_refuses_routes_that_do_not_execute() {
    let d = piston();
    let body = serde_json::to_vec(&minimal()).unwrap();
    for route in [RouteKind::Passthrough, RouteKind::Unknown] {
        assert_eq!(
            d.parse_request(route, EXEC, &body).unwrap_err().field,
            "route"
        );
    }
}

#[test]
fn response_fields_cover_run_and_compile_output() {
    let d = piston();
    let fields = d.response_fields("/api/v2/execute", None);
    let pointers: Vec<(&str, FieldKind)> = fields
        .iter()
        .map(|f| (f.pointer.as_str(), f.kind))
        .collect();
    assert_eq!(
        pointers,
        [
            ("/run/stdout", FieldKind::Stdout),
            ("/run/stderr", FieldKind::Stderr),
            ("/run/output", FieldKind::Other),
            ("/run/message", FieldKind::Other),
            ("/compile/stdout", FieldKind::Stdout),
            ("/compile/stderr", FieldKind::Stderr),
            ("/compile/output", FieldKind::Other),
            ("/compile/message", FieldKind::Other),
        ]
    );
    assert!(fields.iter().all(|f| !f.base64));
    assert!(d.response_fields("/api/v2/runtimes", None).is_empty());
}

fn outcome(response: Value) -> Vec<RunOutcome> {
    piston().verdicts(&serde_json::to_vec(&response).unwrap())
}

fn run(stage: Value) -> Value {
    json!({"language": "python", "version": "3.10.0", "run": stage})
}

#[test]
fn verdicts_read_run_status() {
    let cases = [
        (
            json!({"status": "TO", "signal": "SIGKILL"}),
            RunOutcome::Timeout,
        ),
        (json!({"status": "OL"}), RunOutcome::OutputLimit),
        (json!({"status": "EL"}), RunOutcome::OutputLimit),
        (json!({"status": "OOM"}), RunOutcome::MemoryKilled),
        (json!({"status": "RE", "code": 1}), RunOutcome::RuntimeError),
        (json!({"status": "XX"}), RunOutcome::Other),
        (
            json!({"status": "SG", "signal": "SIGSEGV"}),
            RunOutcome::RuntimeError,
        ),
        (
            json!({"status": "SG", "signal": "SIGKILL", "message": "Memory limit exceeded"}),
            RunOutcome::MemoryKilled,
        ),
        (
            json!({"signal": "SIGKILL", "message": "OOM killed"}),
            RunOutcome::MemoryKilled,
        ),
        (
            json!({"signal": "SIGKILL", "message": "Timed out"}),
            RunOutcome::Timeout,
        ),
        (
            json!({"signal": "SIGKILL", "code": null}),
            RunOutcome::Timeout,
        ),
        (json!({"signal": "SIGXCPU"}), RunOutcome::Timeout),
        (json!({"signal": "SIGXFSZ"}), RunOutcome::OutputLimit),
        (
            json!({"signal": "SIGKILL", "message": "output limit exceeded"}),
            RunOutcome::OutputLimit,
        ),
        (
            json!({"code": 0, "signal": null, "stdout": "1\n"}),
            RunOutcome::Ok,
        ),
        (json!({"code": 2, "signal": null}), RunOutcome::RuntimeError),
    ];
    for (stage, want) in cases {
        assert_eq!(outcome(run(stage.clone())), [want], "{stage}");
    }
}

#[test]
fn verdicts_read_the_compile_stage_first() {
    let failed = json!({"compile": {"code": 1, "stderr": "error"}, "run": {"code": null}});
    assert_eq!(outcome(failed), [RunOutcome::CompileError]);
    let slow = json!({"compile": {"status": "TO", "signal": "SIGKILL"}});
    assert_eq!(outcome(slow), [RunOutcome::Timeout]);
    let fine = json!({"compile": {"code": 0}, "run": {"code": 0}});
    assert_eq!(outcome(fine), [RunOutcome::Ok]);
}

#[test]
fn verdicts_of_non_results_are_empty() {
    let d = piston();
    assert!(d.verdicts(b"<html>502</html>").is_empty());
    assert!(d.verdicts(b"").is_empty());
    assert!(outcome(json!({"message": "python-3.10.0 runtime is unknown"})).is_empty());
    assert!(outcome(json!([1, 2])).is_empty());
}

#[test]
fn verdicts_read_the_bundled_runner_shape() {
    let stage = |status: Value, signal: Value, message: Value, code: Value| {
        json!({"stdout": "", "stderr": "", "output": "", "code": code, "signal": signal,
               "message": message, "status": status, "cpu_time": 5, "wall_time": 7, "memory": 1024})
    };
    let cases = [
        (
            stage(json!(null), json!(null), json!(null), json!(0)),
            RunOutcome::Ok,
        ),
        (
            stage(json!("RE"), json!(null), json!(null), json!(1)),
            RunOutcome::RuntimeError,
        ),
        (
            stage(
                json!("TO"),
                json!("SIGKILL"),
                json!("time limit exceeded"),
                json!(null),
            ),
            RunOutcome::Timeout,
        ),
        (
            stage(
                json!("OL"),
                json!("SIGKILL"),
                json!("stdout length exceeded"),
                json!(null),
            ),
            RunOutcome::OutputLimit,
        ),
        (
            stage(
                json!("EL"),
                json!("SIGKILL"),
                json!("stderr length exceeded"),
                json!(null),
            ),
            RunOutcome::OutputLimit,
        ),
        (
            stage(
                json!("OOM"),
                json!("SIGKILL"),
                json!("memory limit exceeded"),
                json!(null),
            ),
            RunOutcome::MemoryKilled,
        ),
        (
            stage(json!("SG"), json!("SIGSEGV"), json!(null), json!(null)),
            RunOutcome::RuntimeError,
        ),
        (
            stage(
                json!("XX"),
                json!(null),
                json!("internal error: clone failed"),
                json!(null),
            ),
            RunOutcome::Other,
        ),
    ];
    for (run, want) in cases {
        let body = json!({"language": "python", "version": "3.11.2", "run": run});
        assert_eq!(outcome(body), [want]);
    }
}

/// `args` reach the program after its entry point: bounded by
/// `[dialect.options] args_max_bytes` and `args_max_count`, refused by name past them.
#[test]
fn program_arguments_are_bounded() {
    assert!(
        parse(
            &piston(),
            RouteKind::Execute,
            EXEC,
            &with(minimal(), "args", json!(vec!["a"; 64]))
        )
        .is_ok()
    );
    let err = refused(with(minimal(), "args", json!(vec!["a"; 65])));
    assert_eq!(err, RequestError::new("args", "are more than 64 arguments"));
    let err = refused(with(minimal(), "args", json!(["x".repeat(4097)])));
    assert_eq!(
        err,
        RequestError::new("args", "are longer than 4096 bytes together")
    );
}
