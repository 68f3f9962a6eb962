//! One table of requests read by the gateway's dialects and by the bundled
//! runner: for every row both must accept, or both refuse. A request the
//! gateway forwards that the runner then refuses (or the other way round)
//! is a client error the gateway could not explain, or a check it skipped.
//! Needs no sandbox: only the readings run.

use execgate_dialect::{Dialect, DialectConfig, DialectKind, RouteKind, TierLimits};
use execgate_runner::api::{judge0, piston};
use execgate_runner::config::LimitBounds;
use serde_json::{Value, json};
use std::time::Duration;

/// The executor API a row speaks.
#[derive(Debug, Clone, Copy)]
enum Api {
    Piston,
    Judge0 { base64: bool },
}

/// What both readings must decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accept,
    Refuse,
}

use Verdict::{Accept, Refuse};

/// A Piston body with one file named `name` beside the unnamed entry point.
fn named(name: &str) -> Value {
    json!({"language": "python", "files": [
        {"content": "import util"},
        {"name": name, "content": "x = 1"}
    ]})
}

/// A Piston body with `extra` merged over a plain one-file request.
fn piston_with(extra: Value) -> Value {
    let mut body = json!({"language": "python", "files": [{"content": "print(1)"}]});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

/// A Judge0 submission with `extra` merged over a plain one.
fn judge0_with(extra: Value) -> Value {
    let mut body = json!({"language_id": 71, "source_code": "print(1)"});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

fn table() -> Vec<(&'static str, Api, Value, Verdict)> {
    let p = Api::Piston;
    let j = Api::Judge0 { base64: false };
    let j64 = Api::Judge0 { base64: true };
    vec![
        // file names: one rule, execgate_core::check_file_name
        ("plain file", p, piston_with(json!({})), Accept),
        ("nested name", p, named("lib/util.py"), Accept),
        ("dots inside a name", p, named("a..b.py"), Accept),
        ("empty name is unnamed", p, named(""), Accept),
        ("double slash", p, named("a//b.py"), Refuse),
        ("dot component", p, named("./x.py"), Refuse),
        ("trailing slash", p, named("dir/"), Refuse),
        ("colon", p, named("a:b.py"), Refuse),
        ("backslash", p, named("a\\b.py"), Refuse),
        ("parent", p, named("../x.py"), Refuse),
        ("absolute", p, named("/etc/x.py"), Refuse),
        ("control character", p, named("a\u{1}b.py"), Refuse),
        ("option-like name", p, named("-fplugin=x.so"), Refuse),
        ("response-file name", p, named("@opts"), Refuse),
        ("256-byte name", p, named(&"a".repeat(256)), Refuse),
        (
            "one name twice",
            p,
            json!({"language": "python", "files": [
                {"name": "a.py", "content": "1"}, {"name": "a.py", "content": "2"}
            ]}),
            Refuse,
        ),
        // Piston limits: -1 asks for the most allowed, 0 is no limit at all
        (
            "memory -1",
            p,
            piston_with(json!({"run_memory_limit": -1, "compile_memory_limit": -1})),
            Accept,
        ),
        (
            "timeouts -1",
            p,
            piston_with(json!({"run_timeout": -1, "compile_timeout": -1})),
            Accept,
        ),
        ("limits absent", p, piston_with(json!({})), Accept),
        (
            "limits null",
            p,
            piston_with(json!({"run_timeout": null})),
            Accept,
        ),
        (
            "modest limits",
            p,
            piston_with(json!({"run_timeout": 3000, "run_memory_limit": 1e8})),
            Accept,
        ),
        (
            "above any tier",
            p,
            piston_with(json!({"run_timeout": 3_600_000})),
            Accept,
        ),
        (
            "run_timeout 0",
            p,
            piston_with(json!({"run_timeout": 0})),
            Refuse,
        ),
        (
            "memory 0",
            p,
            piston_with(json!({"run_memory_limit": 0})),
            Refuse,
        ),
        (
            "memory -2",
            p,
            piston_with(json!({"run_memory_limit": -2})),
            Refuse,
        ),
        (
            "huge memory",
            p,
            piston_with(json!({"run_memory_limit": 1e300})),
            Refuse,
        ),
        (
            "huge timeout",
            p,
            piston_with(json!({"run_timeout": 1e12})),
            Refuse,
        ),
        (
            "timeout as text",
            p,
            piston_with(json!({"run_timeout": "3000"})),
            Refuse,
        ),
        // Piston encodings
        (
            "base64 file",
            p,
            json!({"language": "python", "files": [{"content": "cHJpbnQoMSk=", "encoding": "base64"}]}),
            Accept,
        ),
        (
            "hex file",
            p,
            json!({"language": "python", "files": [{"content": "3132", "encoding": "hex"}]}),
            Accept,
        ),
        (
            "bad base64",
            p,
            json!({"language": "python", "files": [{"content": "*!", "encoding": "base64"}]}),
            Refuse,
        ),
        (
            "unknown encoding",
            p,
            json!({"language": "python", "files": [{"content": "x", "encoding": "latin1"}]}),
            Refuse,
        ),
        (
            "base64 of NUL",
            p,
            json!({"language": "python", "files": [{"content": "AA==", "encoding": "base64"}]}),
            Refuse,
        ),
        (
            "base64 of non-UTF-8",
            p,
            json!({"language": "python", "files": [{"content": "/w==", "encoding": "base64"}]}),
            Refuse,
        ),
        // Judge0 submissions
        ("plain submission", j, judge0_with(json!({})), Accept),
        (
            "NUL in source",
            j,
            judge0_with(json!({"source_code": "ok\u{0}rm"})),
            Refuse,
        ),
        ("no language", j, json!({"source_code": "print(1)"}), Refuse),
        ("no source", j, json!({"language_id": 71}), Refuse),
        (
            "memory in KB",
            j,
            judge0_with(json!({"memory_limit": 128000})),
            Accept,
        ),
        (
            "memory 0",
            j,
            judge0_with(json!({"memory_limit": 0})),
            Refuse,
        ),
        (
            "memory -1",
            j,
            judge0_with(json!({"memory_limit": -1})),
            Refuse,
        ),
        (
            "memory past 1 TiB",
            j,
            judge0_with(json!({"memory_limit": 1e12})),
            Refuse,
        ),
        (
            "one day",
            j,
            judge0_with(json!({"wall_time_limit": 86400})),
            Accept,
        ),
        (
            "past one day",
            j,
            judge0_with(json!({"wall_time_limit": 86401})),
            Refuse,
        ),
        (
            "time as text",
            j,
            judge0_with(json!({"cpu_time_limit": "5"})),
            Refuse,
        ),
        (
            "negative stack",
            j,
            judge0_with(json!({"stack_limit": -5})),
            Refuse,
        ),
        (
            "arguments as a number",
            j,
            judge0_with(json!({"command_line_arguments": 5})),
            Refuse,
        ),
        (
            "base64 source",
            j64,
            judge0_with(json!({"source_code": "cHJpbnQoMSk="})),
            Accept,
        ),
        (
            "bad base64 source",
            j64,
            judge0_with(json!({"source_code": "*!"})),
            Refuse,
        ),
        (
            "base64 stdin of any bytes",
            j64,
            judge0_with(json!({"source_code": "cHJpbnQoMSk=", "stdin": "AP8="})),
            Accept,
        ),
    ]
}

/// The gateway's reading: the dialect parses, then clamps to a tier.
fn gateway(api: Api, body: &Value) -> Result<(), String> {
    let (kind, path) = match api {
        Api::Piston => (DialectKind::Piston, "/api/v2/execute".to_string()),
        Api::Judge0 { base64 } => (
            DialectKind::Judge0,
            format!("/submissions?wait=true&base64_encoded={base64}"),
        ),
    };
    let dialect = Dialect::new(DialectConfig {
        kind: kind.into(),
        ..Default::default()
    })
    .expect("default dialect config");
    let tier = TierLimits {
        run_time: Duration::from_secs(10),
        memory_bytes: 256 << 20,
    };
    let bytes = serde_json::to_vec(body).expect("json");
    let request = dialect
        .parse_request(RouteKind::Execute, &path, &bytes)
        .map_err(|e| e.to_string())?;
    dialect.clamp(&request, &tier).map_err(|e| e.to_string())?;
    Ok(())
}

/// The runner's reading, short of finding the language and running it.
fn runner(api: Api, body: &Value) -> Result<(), String> {
    match api {
        Api::Piston => {
            let request = piston::read(body).map_err(|e| e.message)?;
            piston::program(request, "main.py", &LimitBounds::default()).map_err(|e| e.message)?;
        }
        Api::Judge0 { base64 } => {
            judge0::read(body, base64).map_err(|e| e.message)?;
        }
    }
    Ok(())
}

#[test]
fn the_gateway_and_the_runner_read_every_request_alike() {
    let mut wrong = Vec::new();
    for (name, api, body, expected) in table() {
        let (by_gateway, by_runner) = (gateway(api, &body), runner(api, &body));
        let verdict = |r: &Result<(), String>| if r.is_ok() { Accept } else { Refuse };
        if verdict(&by_gateway) != expected || verdict(&by_runner) != expected {
            wrong.push(format!(
                "{name}: expected {expected:?}, gateway {by_gateway:?}, runner {by_runner:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "readings differ:\n{}", wrong.join("\n"));
}
