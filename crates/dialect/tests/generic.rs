//! The generic dialect: config validation, pointer-driven routes, parsing,
//! clamping, output fields and verdicts.

mod common;

use common::{clamped, parse, refusal};
use execgate_dialect::{Dialect, DialectConfig, FieldKind, RouteKind, RunOutcome, encode_base64};
use http::Method;
use serde_json::{Value, json};
use std::time::Duration;

const CONFIG: &str = r#"
kind = "generic"
[generic]
execute = ["POST /run", "POST /v1/jobs/{queue}/run"]
passthrough = ["GET /languages", "GET /results/*"]
code = "/program/source"
code_encoding = "base64"
language = "/program/lang"
version = "/program/version"
stdin = "/input"
limits = [
  { pointer = "/limits/time_ms", role = "run_time", unit = "ms" },
  { pointer = "/limits/memory_mb", role = "memory", unit = "mb" },
  { pointer = "/limits/cpu_us", role = "cpu_time", unit = "us", insert = false },
]
outputs = [
  { pointer = "/result/out", kind = "stdout" },
  { pointer = "/result/err", kind = "stderr", base64 = true },
]
[generic.verdict]
pointer = "/result/status"
outcomes = { ok = "ok", tle = "timeout", "137" = "memory_killed", "false" = "runtime_error" }
"#;

fn config(text: &str) -> DialectConfig {
    toml::from_str(text).unwrap()
}

fn generic() -> Dialect {
    Dialect::new(config(CONFIG)).unwrap()
}

fn job() -> Value {
    json!({
        "program": {"source": encode_base64(b"print(1)"), "lang": "python", "version": "3.12"},
        "input": "data",
        "limits": {"time_ms": 2000},
        "tenant": "t1",
    })
}

#[test]
fn routes_come_from_config() {
    let d = generic();
    let cases = [
        (Method::POST, "/run", RouteKind::Execute),
        (Method::POST, "/run?debug=1", RouteKind::Execute),
        (Method::POST, "/v1/jobs/fast/run", RouteKind::Execute),
        (Method::GET, "/languages", RouteKind::Passthrough),
        (Method::GET, "/results/42/full", RouteKind::Passthrough),
        (Method::GET, "/run", RouteKind::Unknown),
        (Method::POST, "/v1/jobs/run", RouteKind::Unknown),
        (Method::POST, "/admin", RouteKind::Unknown),
    ];
    for (method, path, want) in cases {
        assert_eq!(d.route(&method, path), want, "{method} {path}");
    }
}

#[test]
fn code_language_stdin_and_limits_are_read_by_pointer() {
    let req = parse(&generic(), RouteKind::Execute, "/run", &job()).unwrap();
    let s = &req.submissions[0];
    assert_eq!(s.language, "python");
    assert_eq!(s.version.as_deref(), Some("3.12"));
    assert_eq!(s.files[0].content, b"print(1)");
    assert_eq!(s.stdin, b"data");
    assert_eq!(s.limits.run_time, Some(Duration::from_secs(2)));
    assert_eq!(s.limits.memory_bytes, None);
}

#[test]
fn bad_requests_name_the_pointer_path() {
    let d = generic();
    let mut no_code = job();
    no_code["program"].as_object_mut().unwrap().remove("source");
    let mut bad_code = job();
    bad_code["program"]["source"] = json!("***");
    let mut nul = job();
    nul["program"]["source"] = json!(encode_base64(b"a\0"));
    let mut bad_lang = job();
    bad_lang["program"]["lang"] = json!(7);
    let mut no_lang = job();
    no_lang["program"]["lang"] = json!("");
    let mut neg = job();
    neg["limits"]["memory_mb"] = json!(-3);
    let cases = [
        (no_code, "program.source", "is required"),
        (bad_code, "program.source", "invalid base64"),
        (nul, "program.source", "contains a NUL byte at offset 1"),
        (bad_lang, "program.lang", "must be a string, not a number"),
        (no_lang, "program.lang", "is required"),
        (neg, "limits.memory_mb", "must not be negative"),
        (json!([1]), "body", "must be a JSON object, not an array"),
    ];
    for (body, field, message) in cases {
        let err = refusal(&d, RouteKind::Execute, "/run", &body);
        assert_eq!(err.field, field);
        assert!(err.message.starts_with(message), "{err}");
    }
}

#[test]
fn a_default_language_stands_in_for_a_missing_one() {
    let text = CONFIG.replace(
        "language = \"/program/lang\"",
        "default_language = \"python\"",
    );
    let d = Dialect::new(config(&text)).unwrap();
    let mut body = job();
    body["program"].as_object_mut().unwrap().remove("lang");
    assert_eq!(
        parse(&d, RouteKind::Execute, "/run", &body)
            .unwrap()
            .submissions[0]
            .language,
        "python"
    );
}

#[test]
fn clamp_rewrites_nested_limits_in_their_units() {
    let mut body = job();
    body["limits"]["time_ms"] = json!(10_000);
    body["limits"]["cpu_us"] = json!(9_000_000);
    let out = clamped(&generic(), RouteKind::Execute, "/run", &body);
    assert_eq!(
        out["limits"],
        json!({"time_ms": 5000, "memory_mb": 128, "cpu_us": 5_000_000})
    );
    assert_eq!(out["tenant"], json!("t1"));
    let mut bare = job();
    bare.as_object_mut().unwrap().remove("limits");
    let out = clamped(&generic(), RouteKind::Execute, "/run", &bare);
    assert_eq!(out["limits"], json!({"time_ms": 5000, "memory_mb": 128}));
}

#[test]
fn response_fields_and_verdicts_come_from_config() {
    let d = generic();
    let fields = d.response_fields("/run", None);
    assert_eq!(fields.len(), 2);
    assert_eq!(
        (fields[0].pointer.as_str(), fields[0].kind, fields[0].base64),
        ("/result/out", FieldKind::Stdout, false)
    );
    assert_eq!(
        (fields[1].pointer.as_str(), fields[1].kind, fields[1].base64),
        ("/result/err", FieldKind::Stderr, true)
    );
    assert!(d.response_fields("/elsewhere", None).is_empty());
    let verdict = |status: Value| {
        d.verdicts(&serde_json::to_vec(&json!({"result": {"status": status}})).unwrap())
    };
    assert_eq!(verdict(json!("ok")), [RunOutcome::Ok]);
    assert_eq!(verdict(json!("tle")), [RunOutcome::Timeout]);
    assert_eq!(verdict(json!(137)), [RunOutcome::MemoryKilled]);
    assert_eq!(verdict(json!(false)), [RunOutcome::RuntimeError]);
    assert_eq!(verdict(json!("weird")), [RunOutcome::Other]);
    assert!(verdict(json!(null)).is_empty());
    assert!(d.verdicts(b"not json").is_empty());
}

#[test]
fn invalid_configs_name_the_key() {
    let cases = [
        (
            "kind = \"generic\"",
            "dialect.generic: required when kind = \"generic\"",
        ),
        ("max_files = 0", "dialect.max_files: must be at least 1"),
        (
            "max_submissions = 0",
            "dialect.max_submissions: must be at least 1",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(Dialect::new(config(text)).unwrap_err(), want);
    }
    let broken = [
        (
            "code = \"/program/source\"",
            "code = \"program.source\"",
            "dialect.generic.code: \"program.source\" must be a JSON pointer starting with /",
        ),
        (
            "\"POST /run\", ",
            "\"POST\", ",
            "dialect.generic.execute: \"POST\": write \"METHOD /path\", e.g. \"POST /run\"",
        ),
        (
            "\"POST /run\", ",
            "\"POST run\", ",
            "dialect.generic.execute: \"POST run\": route path \"run\" must start with /",
        ),
        (
            "\"GET /results/*\"",
            "\"GET /a/*/b\"",
            "dialect.generic.passthrough: \"GET /a/*/b\": route path \"/a/*/b\": `*` is allowed only at the end",
        ),
        (
            "unit = \"mb\"",
            "unit = \"ms\"",
            "dialect.generic.limits: limit /limits/memory_mb: unit Ms does not fit role Memory",
        ),
        (
            "language = \"/program/lang\"",
            "",
            "dialect.generic: set `language` (a pointer) or `default_language`",
        ),
        (
            "{ pointer = \"/result/out\"",
            "{ pointer = \"result/out\"",
            "dialect.generic.outputs: \"result/out\" must be a JSON pointer starting with /",
        ),
        (
            "pointer = \"/result/status\"",
            "pointer = \"status\"",
            "dialect.generic.verdict.pointer: \"status\" must be a JSON pointer starting with /",
        ),
    ];
    for (from, to, want) in broken {
        let text = CONFIG.replace(from, to);
        assert_ne!(text, CONFIG, "{from}");
        assert_eq!(Dialect::new(config(&text)).unwrap_err(), want);
    }
    let empty = CONFIG.replace(
        "execute = [\"POST /run\", \"POST /v1/jobs/{queue}/run\"]",
        "execute = []",
    );
    assert_eq!(
        Dialect::new(config(&empty)).unwrap_err(),
        "dialect.generic.execute: name at least one route that runs code (or a raw one)"
    );
    assert!(toml::from_str::<DialectConfig>(&CONFIG.replace("code_encoding", "code_enc")).is_err());
}

#[test]
fn query_parameters_are_refused_unless_listed() {
    // frameworks such as Flask's `request.values` merge the query into the body
    let d = generic();
    let err = refusal(&d, RouteKind::Execute, "/run?code=aW1wb3J0IG9z", &job());
    assert_eq!(err.field, "code");
    assert!(err.message.contains("query string"), "{err}");
    let text = CONFIG.replace("[generic]\n", "[generic]\nquery_params = [\"debug\"]\n");
    let d = Dialect::new(config(&text)).unwrap();
    assert!(parse(&d, RouteKind::Execute, "/run?debug=1", &job()).is_ok());
    assert_eq!(
        refusal(&d, RouteKind::Execute, "/run?debug=1&lang=c", &job()).field,
        "lang"
    );
}

const RAW: &str = r#"
kind = "generic"
[generic]
default_language = "python"
[[generic.raw]]
route = "POST /raw/{lang}"
language = "path:lang"
[[generic.raw]]
route = "POST /plain"
"#;

#[test]
fn raw_routes_read_the_body_as_the_program() {
    let d = Dialect::new(config(RAW)).unwrap();
    assert_eq!(d.route(&Method::POST, "/raw/c"), RouteKind::Execute);
    let req = d
        .parse_request(RouteKind::Execute, "/raw/c", b"int main(){}")
        .unwrap();
    assert_eq!(req.submissions[0].language, "c");
    assert_eq!(req.submissions[0].files[0].content, b"int main(){}");
    let tier = execgate_dialect::TierLimits {
        run_time: Duration::from_secs(5),
        memory_bytes: 128 << 20,
    };
    assert_eq!(
        d.clamp(&req, &tier).unwrap(),
        b"int main(){}",
        "forwarded as sent"
    );
    let plain = d.parse_request(RouteKind::Execute, "/plain", b"{\"not\": \"json to read\"}");
    assert_eq!(
        plain.unwrap().submissions[0].language,
        "python",
        "the default"
    );
    assert_eq!(
        d.forward_content_type("/plain"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(d.language_header("/plain"), None);
    let err = d
        .parse_request(RouteKind::Execute, "/plain", b"\xff\xfe")
        .unwrap_err();
    assert_eq!(err.field, "body");
    let err = d
        .parse_request(RouteKind::Execute, "/plain?x=1", b"x")
        .unwrap_err();
    assert_eq!(err.field, "x");
}

#[test]
fn raw_route_configs_name_what_is_wrong() {
    let cases = [
        (
            "route = \"POST /raw\"\nlanguage = \"path:lang\"",
            "dialect.generic.raw: \"POST /raw\": language: the route has no {lang} segment",
        ),
        (
            "route = \"POST /raw\"\nlanguage = \"cookie:lang\"",
            "dialect.generic.raw: \"POST /raw\": language: write \"path:NAME\", \"query:NAME\" or \"header:NAME\"",
        ),
        (
            "route = \"POST /raw\"",
            "dialect.generic.raw: \"POST /raw\": set `language`, or `default_language` for the section",
        ),
        (
            "route = \"POST /raw\"\nlanguage = \"header:bad header\"",
            "dialect.generic.raw: \"POST /raw\": language: \"bad header\" is not a header name",
        ),
    ];
    for (raw, want) in cases {
        let text = format!("kind = \"generic\"\n[generic]\n[[generic.raw]]\n{raw}\n");
        assert_eq!(Dialect::new(config(&text)).unwrap_err(), want, "{raw}");
    }
}
