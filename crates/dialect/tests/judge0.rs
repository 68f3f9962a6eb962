//! Judge0 CE: routes, single and batch submissions, base64 and wait flags,
//! refusals, clamp math in seconds and kilobytes, output fields, verdicts.

mod common;

use common::{clamped, dialect, parse, refusal};
use execgate_dialect::{
    Dialect, DialectConfig, DialectKind, FieldKind, Judge0Config, OptionsConfig, RequestError,
    RouteKind, RunOutcome, encode_base64,
};
use http::Method;
use serde_json::{Value, json};
use std::time::Duration;

const SUBMIT: &str = "/submissions?wait=true";
const BATCH: &str = "/submissions/batch";

fn judge0() -> Dialect {
    dialect(DialectKind::Judge0)
}

fn judge0_with(config: Judge0Config) -> Dialect {
    Dialect::new(DialectConfig {
        kind: DialectKind::Judge0.into(),
        judge0: config,
        ..DialectConfig::default()
    })
    .unwrap()
}

fn one() -> Value {
    json!({"source_code": "print(input())", "language_id": 71, "stdin": "hi"})
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn refused(body: Value) -> RequestError {
    refusal(&judge0(), RouteKind::Execute, SUBMIT, &body)
}

#[test]
fn routes_execute_batch_passthrough_and_unknown() {
    let d = judge0();
    let cases = [
        (Method::POST, "/submissions", RouteKind::Execute),
        (
            Method::POST,
            "/submissions/?base64_encoded=true&wait=true",
            RouteKind::Execute,
        ),
        // Rails accepts a format suffix on every resource route
        (Method::POST, "/submissions.json", RouteKind::Execute),
        (Method::POST, "/submissions/batch", RouteKind::ExecuteBatch),
        (
            Method::POST,
            "/submissions/batch.json?base64_encoded=true",
            RouteKind::ExecuteBatch,
        ),
        (
            Method::GET,
            "/submissions/2e0c1c56-0000-4000-8000-000000000000",
            RouteKind::Passthrough,
        ),
        (
            Method::GET,
            "/submissions/batch?tokens=a,b",
            RouteKind::Passthrough,
        ),
        (Method::GET, "/submissions?page=2", RouteKind::Passthrough),
        (Method::GET, "/languages", RouteKind::Passthrough),
        (Method::HEAD, "/languages", RouteKind::Passthrough),
        (Method::HEAD, "/submissions/batch", RouteKind::Passthrough),
        (Method::GET, "/languages/71", RouteKind::Passthrough),
        (Method::GET, "/languages/all", RouteKind::Passthrough),
        (Method::GET, "/statuses", RouteKind::Passthrough),
        (Method::GET, "/about", RouteKind::Passthrough),
        (Method::GET, "/config_info", RouteKind::Passthrough),
        (Method::DELETE, "/submissions/abc", RouteKind::Passthrough),
        (
            Method::DELETE,
            "/submissions/abc.json",
            RouteKind::Passthrough,
        ),
        (Method::DELETE, "/submissions/batch", RouteKind::Unknown),
        (Method::DELETE, "/submissions", RouteKind::Unknown),
        (Method::DELETE, "/languages/71", RouteKind::Unknown),
        (Method::PUT, "/submissions", RouteKind::Unknown),
        (Method::POST, "/submissions/abc", RouteKind::Unknown),
        (Method::GET, "/system_info", RouteKind::Passthrough),
        (Method::GET, "/workers", RouteKind::Passthrough),
        (Method::POST, "/workers", RouteKind::Unknown),
        // every submission of every client, by language and status
        (Method::GET, "/statistics", RouteKind::Unknown),
        (Method::POST, "/Submissions", RouteKind::Unknown),
    ];
    for (method, path, want) in cases {
        assert_eq!(d.route(&method, path), want, "{method} {path}");
    }
}

#[test]
fn a_single_submission_is_read_with_its_flags() {
    let body = json!({
        "source_code": "print(1)", "language_id": 71, "stdin": "x",
        "cpu_time_limit": 2.5, "wall_time_limit": 4, "memory_limit": 65536,
        "expected_output": "1", "compiler_options": "-O2",
    });
    let d = judge0();
    let req = parse(&d, RouteKind::Execute, "/submissions?wait=true", &body).unwrap();
    assert!(req.wait && !req.base64);
    let s = &req.submissions[0];
    assert_eq!(s.language, "python");
    assert_eq!(s.files[0].content, b"print(1)");
    assert_eq!(s.files[0].name, None);
    assert_eq!(s.stdin, b"x");
    assert_eq!(s.limits.cpu_time, Some(Duration::from_millis(2500)));
    assert_eq!(s.limits.run_time, Some(Duration::from_secs(4)));
    assert_eq!(s.limits.memory_bytes, Some(64 << 20));
    let req = parse(&d, RouteKind::Execute, "/submissions", &body).unwrap();
    assert!(!req.wait);
}

#[test]
fn base64_fields_are_decoded() {
    let body = json!({
        "source_code": encode_base64(b"import sys\nprint(sys.stdin.read())"),
        "language_id": 71,
        "stdin": "aGVs\nbG8=",
        "expected_output": encode_base64(b"hello"),
    });
    let req = parse(
        &judge0(),
        RouteKind::Execute,
        "/submissions?base64_encoded=true",
        &body,
    )
    .unwrap();
    assert!(req.base64);
    assert_eq!(
        req.submissions[0].files[0].content,
        b"import sys\nprint(sys.stdin.read())"
    );
    assert_eq!(req.submissions[0].stdin, b"hello");
}

#[test]
fn language_ids_map_to_names() {
    let d = judge0();
    for (id, name) in [
        (71, "python"),
        (70, "python"),
        (50, "c"),
        (54, "cpp"),
        (62, "java"),
        (63, "javascript"),
        (46, "bash"),
        (999, "judge0:999"),
    ] {
        let req = parse(
            &d,
            RouteKind::Execute,
            SUBMIT,
            &with(one(), "language_id", json!(id)),
        )
        .unwrap();
        assert_eq!(req.submissions[0].language, name, "{id}");
    }
    let mut config = Judge0Config::default();
    config.languages.insert("999".into(), "python".into());
    config.languages.insert("71".into(), "python3".into());
    let d = judge0_with(config);
    let name = |id: u64| {
        parse(
            &d,
            RouteKind::Execute,
            SUBMIT,
            &with(one(), "language_id", json!(id)),
        )
        .unwrap()
        .submissions[0]
            .language
            .clone()
    };
    assert_eq!(
        (name(999), name(71), name(62)),
        ("python".into(), "python3".into(), "java".into())
    );
}

#[test]
fn language_map_keys_must_be_ids() {
    let mut config = Judge0Config::default();
    config.languages.insert("py".into(), "python".into());
    let err = Dialect::new(DialectConfig {
        kind: DialectKind::Judge0.into(),
        judge0: config,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        err,
        "dialect.judge0.languages: key \"py\" is not a Judge0 language id"
    );
}

#[test]
fn bad_fields_are_named() {
    let cases = [
        (json!({"language_id": 71}), "source_code", "is required"),
        (
            with(one(), "source_code", json!(42)),
            "source_code",
            "must be a string, not a number",
        ),
        (json!({"source_code": "x"}), "language_id", "is required"),
        (
            with(one(), "language_id", json!("71")),
            "language_id",
            "must be an integer, not a string",
        ),
        (
            with(one(), "language_id", json!(-71)),
            "language_id",
            "must be a non-negative integer",
        ),
        (
            with(one(), "language_id", json!(71.5)),
            "language_id",
            "must be a non-negative integer",
        ),
        (
            with(one(), "stdin", json!(1)),
            "stdin",
            "must be a string, not a number",
        ),
        (
            with(one(), "source_code", json!("a\u{0}b")),
            "source_code",
            "contains a NUL byte at offset 1",
        ),
        (
            with(one(), "memory_limit", json!(-5)),
            "memory_limit",
            "must not be negative",
        ),
        (
            with(one(), "wall_time_limit", json!(1e9)),
            "wall_time_limit",
            "is out of range: at most 86400 s",
        ),
        (
            with(one(), "cpu_time_limit", json!("2")),
            "cpu_time_limit",
            "must be a number, not a string",
        ),
        (
            with(one(), "stack_limit", json!(-1)),
            "stack_limit",
            "must not be negative",
        ),
    ];
    for (body, field, message) in cases {
        assert_eq!(refused(body), RequestError::new(field, message));
    }
}

#[test]
fn invalid_base64_and_binary_source_are_refused() {
    let d = judge0();
    let path = "/submissions?base64_encoded=true";
    for key in ["source_code", "stdin", "expected_output"] {
        let valid = with(one(), "stdin", json!(encode_base64(b"hi")));
        let body = with(
            with(valid, "source_code", json!(encode_base64(b"print(1)"))),
            key,
            json!("not base64!"),
        );
        let err = refusal(&d, RouteKind::Execute, path, &body);
        assert_eq!(err.field, key);
        assert!(err.message.starts_with("invalid base64"), "{err}");
    }
    let body = with(one(), "source_code", json!(encode_base64(b"\xc3\x28")));
    let err = refusal(&d, RouteKind::Execute, path, &body);
    assert!(err.message.contains("not valid UTF-8"), "{err}");
    let body = with(one(), "source_code", json!(encode_base64(b"x\0")));
    assert!(
        refusal(&d, RouteKind::Execute, path, &body)
            .message
            .contains("NUL")
    );
}

#[test]
fn ambiguous_flags_are_refused() {
    let d = judge0();
    for (path, field) in [
        ("/submissions?base64_encoded=1", "base64_encoded"),
        ("/submissions?wait=yes", "wait"),
    ] {
        assert_eq!(refusal(&d, RouteKind::Execute, path, &one()).field, field);
    }
    // escapes are decoded and the last value wins, as in Rails
    let req = parse(
        &d,
        RouteKind::Execute,
        "/submissions?wait=false&wait=tru%65",
        &one(),
    )
    .unwrap();
    assert!(req.wait);
}

#[test]
fn additional_files_are_refused_unless_allowed() {
    let body = with(one(), "additional_files", json!("UEsDBA=="));
    let err = refused(body.clone());
    assert_eq!(err.field, "additional_files");
    let d = judge0_with(Judge0Config {
        allow_additional_files: true,
        ..Default::default()
    });
    assert!(parse(&d, RouteKind::Execute, SUBMIT, &body).is_ok());
}

#[test]
fn batches_are_read_and_bounded() {
    let d = judge0();
    let body = json!({"submissions": [one(), with(one(), "language_id", json!(62))]});
    let req = parse(&d, RouteKind::ExecuteBatch, BATCH, &body).unwrap();
    let langs: Vec<&str> = req
        .submissions
        .iter()
        .map(|s| s.language.as_str())
        .collect();
    assert_eq!(langs, ["python", "java"]);
    let cases = [
        (json!({}), "submissions", "is required"),
        (
            json!({"submissions": {}}),
            "submissions",
            "must be an array, not an object",
        ),
        (
            json!({"submissions": []}),
            "submissions",
            "must not be empty",
        ),
        (
            json!({"submissions": [one(), 5]}),
            "submissions[1]",
            "must be a JSON object, not a number",
        ),
        (
            json!({"submissions": [one(), {"language_id": 71}]}),
            "submissions[1].source_code",
            "is required",
        ),
        (
            json!({"submissions": [with(one(), "memory_limit", json!(-1))]}),
            "submissions[0].memory_limit",
            "must not be negative",
        ),
        (
            json!({"submissions": vec![one(); 21]}),
            "submissions",
            "has 21 submissions; at most 20 are allowed",
        ),
    ];
    for (body, field, message) in cases {
        assert_eq!(
            refusal(&d, RouteKind::ExecuteBatch, BATCH, &body),
            RequestError::new(field, message)
        );
    }
}

#[test]
fn clamp_writes_seconds_and_kilobytes_exactly() {
    let body = with(
        with(one(), "cpu_time_limit", json!(15)),
        "memory_limit",
        json!(512_000),
    );
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &body);
    assert_eq!(
        out,
        json!({
            "source_code": "print(input())", "language_id": 71, "stdin": "hi",
            "cpu_time_limit": 5.0, "wall_time_limit": 5.0, "memory_limit": 131_072,
            "max_file_size": 1024, "max_processes_and_or_threads": 60,
            "base64_encoded": "false",
        })
    );
    let low = with(
        with(one(), "cpu_time_limit", json!(0.5)),
        "memory_limit",
        json!(1000),
    );
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &low);
    assert_eq!(
        (out["cpu_time_limit"].clone(), out["memory_limit"].clone()),
        (json!(0.5), json!(1000))
    );
}

#[test]
fn clamp_covers_extra_time_and_stack_without_inserting_them() {
    let body = with(
        with(one(), "cpu_extra_time", json!(30)),
        "stack_limit",
        json!(10_000_000),
    );
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &body);
    assert_eq!(
        (out["cpu_extra_time"].clone(), out["stack_limit"].clone()),
        (json!(5.0), json!(131_072))
    );
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &one());
    assert!(out.get("cpu_extra_time").is_none() && out.get("stack_limit").is_none());
}

#[test]
fn regression_a_callback_url_is_refused() {
    let body = with(
        one(),
        "callback_url",
        json!("http://169.254.169.254/latest"),
    );
    let err = refused(body);
    assert_eq!(err.field, "callback_url");
    assert!(err.message.contains("no allowed hosts"), "{}", err.message);
    let batch =
        json!({"submissions": [one(), with(one(), "callback_url", json!("http://10.0.0.1/"))]});
    let err = refusal(&judge0(), RouteKind::ExecuteBatch, BATCH, &batch);
    assert_eq!(err.field, "submissions[1].callback_url");
}

fn judge0_calling_back(hosts: &[&str]) -> Dialect {
    Dialect::new(DialectConfig {
        kind: DialectKind::Judge0.into(),
        callbacks: execgate_dialect::CallbackConfig {
            allow_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        },
        ..DialectConfig::default()
    })
    .unwrap()
}

#[test]
fn a_callback_url_on_the_allow_list_is_read_and_never_forwarded() {
    let d = judge0_calling_back(&["hooks.example.com", "10.0.0.1"]);
    let body = with(
        one(),
        "callback_url",
        json!("https://hooks.example.com/done"),
    );
    let request = d
        .parse_request(RouteKind::Execute, SUBMIT, body.to_string().as_bytes())
        .unwrap();
    let url = request.submissions[0].callback.as_ref().unwrap();
    assert_eq!(url.as_url().as_str(), "https://hooks.example.com/done");
    let out = clamped(&d, RouteKind::Execute, SUBMIT, &body);
    assert!(out.get("callback_url").is_none(), "{out}");

    let batch = json!({"submissions": [
        one(),
        with(one(), "callback_url", json!("http://hooks.example.com/b")),
    ]});
    let request = d
        .parse_request(RouteKind::ExecuteBatch, BATCH, batch.to_string().as_bytes())
        .unwrap();
    assert!(request.submissions[0].callback.is_none());
    assert!(request.submissions[1].callback.is_some());
    let out = clamped(&d, RouteKind::ExecuteBatch, BATCH, &batch);
    assert!(out["submissions"][1].get("callback_url").is_none(), "{out}");

    for (url, reason) in [
        (
            "https://other.example.com/",
            "not on the callback allow-list",
        ),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("gopher://hooks.example.com/", "only http and https"),
        ("https://hooks.example.com:6379/", "port 6379"),
    ] {
        let body = with(one(), "callback_url", json!(url));
        let err = refusal(&d, RouteKind::Execute, SUBMIT, &body);
        assert_eq!(err.field, "callback_url");
        assert!(err.message.contains(reason), "{url}: {}", err.message);
    }
    let err = refusal(
        &d,
        RouteKind::Execute,
        SUBMIT,
        &with(one(), "callback_url", json!(7)),
    );
    assert_eq!(err.field, "callback_url");
}

#[test]
fn regression_every_judge0_limit_is_clamped_and_zero_is_refused() {
    let mut body = one();
    body["max_file_size"] = json!(1e9);
    body["max_processes_and_or_threads"] = json!(1_000_000);
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &body);
    assert_eq!(
        (
            out["max_file_size"].clone(),
            out["max_processes_and_or_threads"].clone()
        ),
        (json!(1024), json!(60))
    );
    body["max_file_size"] = json!(64);
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &body);
    assert_eq!(out["max_file_size"], json!(64), "a lower ask is kept");
    for (key, value) in [
        ("memory_limit", json!(0)),
        ("cpu_time_limit", json!(0)),
        ("wall_time_limit", json!(0.0)),
        ("stack_limit", json!(0)),
        ("max_file_size", json!(0)),
        ("max_processes_and_or_threads", json!(-1)),
        ("max_processes_and_or_threads", json!("60")),
    ] {
        let d = judge0();
        let body = with(one(), key, value.clone());
        let err = parse(&d, RouteKind::Execute, SUBMIT, &body)
            .and_then(|req| d.clamp(&req, &common::TIER))
            .expect_err("refused");
        assert_eq!(err.field, key, "{key} = {value}: {err}");
    }
}

#[test]
fn clamp_turns_off_limit_multipliers_and_network() {
    let mut body = one();
    body["enable_per_process_and_thread_time_limit"] = json!(true);
    body["enable_per_process_and_thread_memory_limit"] = json!(true);
    body["enable_network"] = json!(true);
    body["number_of_runs"] = json!(20);
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &body);
    assert_eq!(
        out["enable_per_process_and_thread_time_limit"],
        json!(false)
    );
    assert_eq!(
        out["enable_per_process_and_thread_memory_limit"],
        json!(false)
    );
    assert_eq!(out["enable_network"], json!(false));
    assert_eq!(out["number_of_runs"], json!(1));
    // absent options are not added: executors that lack them keep working
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &one());
    assert!(out.get("enable_network").is_none() && out.get("number_of_runs").is_none());
    let d = judge0_with(Judge0Config {
        allow_network: true,
        ..Default::default()
    });
    assert_eq!(
        clamped(&d, RouteKind::Execute, SUBMIT, &body)["enable_network"],
        json!(true)
    );
}

#[test]
fn clamp_rewrites_every_submission_of_a_batch() {
    let body =
        json!({"submissions": [with(one(), "memory_limit", json!(999_999)), one()], "extra": 1});
    let out = clamped(&judge0(), RouteKind::ExecuteBatch, BATCH, &body);
    for s in out["submissions"].as_array().unwrap() {
        assert_eq!(
            (s["memory_limit"].clone(), s["wall_time_limit"].clone()),
            (json!(131_072), json!(5.0))
        );
    }
    assert_eq!(out["extra"], json!(1));
}

fn pointers(fields: &[execgate_dialect::FieldSpec]) -> Vec<&str> {
    fields.iter().map(|f| f.pointer.as_str()).collect()
}

#[test]
fn response_fields_follow_route_and_base64_flag() {
    let d = judge0();
    let single = d.response_fields("/submissions/abc?base64_encoded=true", None);
    assert_eq!(
        pointers(&single),
        [
            "/stdout",
            "/stderr",
            "/compile_output",
            "/message",
            "/source_code",
            "/stdin",
            "/expected_output"
        ],
        "the request's own text comes back sanitized like output"
    );
    assert!(single.iter().all(|f| f.base64));
    assert_eq!(single[0].kind, FieldKind::Stdout);
    assert_eq!(single[1].kind, FieldKind::Stderr);
    assert_eq!(single[2].kind, FieldKind::Other);
    let plain = d.response_fields("/submissions/abc?base64_encoded=1", None);
    assert!(plain.iter().all(|f| !f.base64));
    let batch = d.response_fields("/submissions/batch?tokens=a,b&base64_encoded=true", None);
    assert!(pointers(&batch).contains(&"/submissions/*/stdout"));
    assert!(pointers(&batch).contains(&"/*/stdout"));
    assert!(d.response_fields("/languages", None).is_empty());
    assert!(d.response_fields("/statuses", None).is_empty());
}

#[test]
fn result_tokens_are_read_from_answers_and_result_routes() {
    use http::Method;
    let d = judge0();
    assert_eq!(
        d.issued_tokens("/submissions", &json!({"token": "a", "stdout": null})),
        ["a"]
    );
    assert_eq!(
        d.issued_tokens(
            "/submissions/batch",
            &json!([{"token": "a"}, {"token": "b"}, {"error": 1}])
        ),
        ["a", "b"]
    );
    let read = |path: &str| d.read_tokens(&Method::GET, path);
    assert_eq!(
        read("/submissions/abc?fields=stdout"),
        Some(vec!["abc".into()])
    );
    assert_eq!(read("/submissions/abc.json"), Some(vec!["abc".into()]));
    assert_eq!(
        read("/submissions/batch?tokens=a,%20b,,c&fields=stdout"),
        Some(vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(read("/submissions/batch?tokens[]=a"), Some(vec![]));
    assert_eq!(
        read("/submissions?page=2"),
        Some(vec![]),
        "the listing is nobody's"
    );
    assert_eq!(read("/languages"), None);
    assert_eq!(d.read_tokens(&Method::POST, "/submissions"), None);
}

#[test]
fn response_fields_of_a_post_use_the_parsed_request() {
    let d = judge0();
    let path = "/submissions?base64_encoded=true&wait=true";
    let body = with(one(), "source_code", json!(encode_base64(b"print(1)")));
    let req = parse(
        &d,
        RouteKind::Execute,
        path,
        &with(body, "stdin", json!("")),
    )
    .unwrap();
    let fields = d.response_fields(path, Some(&req));
    assert!(pointers(&fields).contains(&"/stdout"));
    assert!(fields.iter().all(|f| f.base64));
}

fn outcomes(response: Value) -> Vec<RunOutcome> {
    judge0().verdicts(&serde_json::to_vec(&response).unwrap())
}

fn status(id: u64, description: &str) -> Value {
    json!({"stdout": null, "status": {"id": id, "description": description}})
}

#[test]
fn verdicts_map_status_ids() {
    let cases = [
        (3, "Accepted", RunOutcome::Ok),
        (4, "Wrong Answer", RunOutcome::Ok),
        (5, "Time Limit Exceeded", RunOutcome::Timeout),
        (6, "Compilation Error", RunOutcome::CompileError),
        (7, "Runtime Error (SIGSEGV)", RunOutcome::RuntimeError),
        (8, "Runtime Error (SIGXFSZ)", RunOutcome::OutputLimit),
        (9, "Runtime Error (SIGFPE)", RunOutcome::RuntimeError),
        (10, "Runtime Error (SIGABRT)", RunOutcome::RuntimeError),
        (11, "Runtime Error (NZEC)", RunOutcome::RuntimeError),
        (12, "Runtime Error (Other)", RunOutcome::RuntimeError),
        (13, "Internal Error", RunOutcome::Other),
        (14, "Exec Format Error", RunOutcome::Other),
    ];
    for (id, description, want) in cases {
        assert_eq!(outcomes(status(id, description)), [want], "{id}");
    }
    assert!(outcomes(status(1, "In Queue")).is_empty());
    assert!(outcomes(status(2, "Processing")).is_empty());
    let mut oom = status(11, "Runtime Error (NZEC)");
    oom["message"] = json!("Memory limit exceeded");
    assert_eq!(outcomes(oom), [RunOutcome::MemoryKilled]);
    assert_eq!(outcomes(json!({"status_id": 5})), [RunOutcome::Timeout]);
}

#[test]
fn verdicts_of_batches_and_garbage() {
    let batch =
        json!({"submissions": [status(3, "Accepted"), status(5, "TLE"), status(2, "Processing")]});
    assert_eq!(outcomes(batch), [RunOutcome::Ok, RunOutcome::Timeout]);
    assert_eq!(
        outcomes(json!([status(6, "CE")])),
        [RunOutcome::CompileError]
    );
    assert!(outcomes(json!({"token": "abc"})).is_empty());
    assert!(outcomes(json!({"status": {"id": "5"}})).is_empty());
    assert!(judge0().verdicts(b"{\"status\":").is_empty());
}

#[test]
fn query_parameters_cannot_override_the_screened_body() {
    // Rails merges query parameters over the JSON body: `?source_code=` would
    // run code the gateway never saw, `?memory_limit=` would undo the clamp
    let d = judge0();
    for (path, field) in [
        ("/submissions?source_code=aW1wb3J0IG9z", "source_code"),
        (
            "/submissions?wait=true&memory_limit=99999999",
            "memory_limit",
        ),
        ("/submissions?language%5Fid=71", "language_id"),
        (
            "/submissions?submissions[][source_code]=x",
            "submissions[][source_code]",
        ),
    ] {
        let err = refusal(&d, RouteKind::Execute, path, &one());
        assert_eq!(err.field, field, "{path}");
        assert!(err.message.contains("query string"), "{err}");
    }
    let batch = json!({"submissions": [one()]});
    assert_eq!(
        refusal(
            &d,
            RouteKind::ExecuteBatch,
            "/submissions/batch?stdin=x",
            &batch
        )
        .field,
        "stdin"
    );
    assert!(
        parse(
            &d,
            RouteKind::Execute,
            "/submissions?base64_encoded=false&wait=true&fields=stdout,status",
            &one()
        )
        .is_ok()
    );
}

#[test]
fn flags_in_the_body_may_only_repeat_the_query() {
    let d = judge0();
    for key in ["base64_encoded", "wait"] {
        let err = refusal(
            &d,
            RouteKind::Execute,
            "/submissions",
            &with(one(), key, json!("true")),
        );
        assert_eq!(err.field, key);
        assert!(
            err.message.starts_with("belongs in the query string"),
            "{err}"
        );
        // a JSON boolean is not the string Judge0 compares with
        let boolean = with(one(), key, json!(false));
        assert_eq!(
            refusal(&d, RouteKind::Execute, "/submissions", &boolean).field,
            key
        );
        let batch = json!({"submissions": [one()], key: "true"});
        assert_eq!(
            refusal(&d, RouteKind::ExecuteBatch, BATCH, &batch).field,
            key
        );
    }
    let body = with(
        with(one(), "wait", json!("true")),
        "base64_encoded",
        json!("false"),
    );
    assert!(parse(&d, RouteKind::Execute, "/submissions?wait=true", &body).is_ok());
}

#[test]
fn clamp_states_the_base64_flag_in_the_body() {
    // Judge0's default for an absent flag depends on its config
    // (DISABLE_IMPLICIT_BASE64_ENCODING); the forwarded body settles it
    let d = judge0();
    let plain = clamped(&d, RouteKind::Execute, "/submissions", &one());
    assert_eq!(plain["base64_encoded"], json!("false"));
    let encoded = with(
        with(one(), "source_code", json!(encode_base64(b"print(1)"))),
        "stdin",
        json!(""),
    );
    let out = clamped(
        &d,
        RouteKind::Execute,
        "/submissions?base64_encoded=true",
        &encoded,
    );
    assert_eq!(out["base64_encoded"], json!("true"));
    let out = clamped(
        &d,
        RouteKind::ExecuteBatch,
        BATCH,
        &json!({"submissions": [one()]}),
    );
    assert_eq!(out["base64_encoded"], json!("false"));
}

#[test]
fn a_single_submission_with_a_submissions_member_is_still_clamped_at_the_root() {
    // regression: clamp once chose the batch shape by the body, not the route
    let body = with(
        with(one(), "memory_limit", json!(999_999)),
        "submissions",
        json!([{}]),
    );
    let out = clamped(&judge0(), RouteKind::Execute, SUBMIT, &body);
    assert_eq!(out["memory_limit"], json!(131_072));
    assert_eq!(out["submissions"], json!([{}]));
}

#[test]
fn deleting_a_result_reads_its_token() {
    let d = judge0();
    assert_eq!(
        d.read_tokens(&Method::DELETE, "/submissions/tok-1?fields=*"),
        Some(vec!["tok-1".to_string()])
    );
    assert_eq!(
        d.read_tokens(&Method::DELETE, "/submissions/tok-1.json"),
        Some(vec!["tok-1".to_string()])
    );
    assert_eq!(d.read_tokens(&Method::GET, "/workers"), None);
}

#[test]
fn every_documented_query_flag_is_accepted_and_others_are_refused_by_name() {
    let d = judge0();
    let forward = |route, path: &str| d.forward_path(route, path);
    let accepted = [
        (
            RouteKind::Execute,
            "/submissions?base64_encoded=true&wait=true&fields=*",
        ),
        (
            RouteKind::ExecuteBatch,
            "/submissions/batch?base64_encoded=false",
        ),
        (
            RouteKind::Passthrough,
            "/submissions/abc?base64_encoded=true&fields=*",
        ),
        (
            RouteKind::Passthrough,
            "/submissions/abc?fields=stdout,time,memory",
        ),
        (
            RouteKind::Passthrough,
            "/submissions/batch?tokens=a,b&fields=*&base64_encoded=true",
        ),
        (
            RouteKind::Passthrough,
            "/submissions?page=2&per_page=20&fields=*",
        ),
        (RouteKind::Passthrough, "/workers"),
        (RouteKind::Passthrough, "/system_info"),
    ];
    for (route, path) in accepted {
        assert!(
            forward(route, path).is_ok(),
            "{path}: {:?}",
            forward(route, path)
        );
    }
    let refused = [
        (
            RouteKind::Execute,
            "/submissions?callback_url=http://x/",
            "callback_url",
            "put submission fields in the JSON body",
        ),
        (
            RouteKind::Passthrough,
            "/submissions/abc?callback_url=http://x/",
            "callback_url",
            "accepted: base64_encoded, fields",
        ),
        (
            RouteKind::Passthrough,
            "/submissions/abc?wait=true",
            "wait",
            "accepted: base64_encoded, fields",
        ),
        (
            RouteKind::Passthrough,
            "/submissions/batch?page=2",
            "page",
            "accepted: base64_encoded, fields, tokens",
        ),
        (
            RouteKind::Passthrough,
            "/workers?verbose=1",
            "verbose",
            "accepted: none",
        ),
        (
            RouteKind::Passthrough,
            "/languages?x=1",
            "x",
            "accepted: none",
        ),
    ];
    for (route, path, field, says) in refused {
        let err = forward(route, path).unwrap_err();
        assert_eq!(err.field, field, "{path}");
        assert!(err.message.contains(says), "{path}: {}", err.message);
    }
}

#[test]
fn forward_path_makes_the_base64_flag_explicit() {
    let d = judge0();
    let forward = |route, path: &str| d.forward_path(route, path);
    assert_eq!(
        forward(RouteKind::Execute, "/submissions?wait=true").unwrap(),
        "/submissions?wait=true&base64_encoded=false"
    );
    assert_eq!(
        forward(
            RouteKind::Passthrough,
            "/submissions/abc?fields=stdout&base64_encoded=true"
        )
        .unwrap(),
        "/submissions/abc?fields=stdout&base64_encoded=true"
    );
    assert_eq!(
        forward(RouteKind::Passthrough, "/submissions/batch?tokens=a,b").unwrap(),
        "/submissions/batch?tokens=a,b&base64_encoded=false"
    );
    assert_eq!(
        forward(RouteKind::Passthrough, "/languages").unwrap(),
        "/languages"
    );
    // a value Judge0 and the bundled runner read differently is refused
    assert_eq!(
        forward(RouteKind::Passthrough, "/submissions/abc?base64_encoded=1")
            .unwrap_err()
            .field,
        "base64_encoded"
    );
    assert_eq!(
        forward(RouteKind::Execute, "/submissions?stdin=x")
            .unwrap_err()
            .field,
        "stdin"
    );
    // the forwarded path tells the sanitizer the truth
    let path = forward(RouteKind::Passthrough, "/submissions/abc").unwrap();
    assert!(d.response_fields(&path, None).iter().all(|f| !f.base64));
    let piston = dialect(DialectKind::Piston);
    assert_eq!(
        piston
            .forward_path(RouteKind::Execute, "/api/v2/execute?x=1")
            .unwrap(),
        "/api/v2/execute?x=1"
    );
}

#[test]
fn compiler_options_that_could_run_unscreened_code_are_refused() {
    let cpp = |options: &str| {
        with(
            with(one(), "language_id", json!(54)),
            "compiler_options",
            json!(options),
        )
    };
    assert!(
        parse(
            &judge0(),
            RouteKind::Execute,
            SUBMIT,
            &cpp("-O2 -std=c++17 -Wall")
        )
        .is_ok()
    );
    let err = refused(cpp("-wrapper /bin/sh,-c,id"));
    assert_eq!(
        err,
        RequestError::new(
            "compiler_options",
            "option \"-wrapper\" is not allowed: it runs, loads, reads or writes what the request did not send"
        )
    );
    let batch = json!({"submissions": [one(), cpp("-fplugin=/tmp/x.so")]});
    let err = refusal(&judge0(), RouteKind::ExecuteBatch, BATCH, &batch);
    assert_eq!(err.field, "submissions[1].compiler_options");
    assert_eq!(
        refused(with(one(), "compiler_options", json!(["-O2"]))).message,
        "must be a string, not an array"
    );
    let d = judge0_with(Judge0Config {
        allow_any_compiler_options: true,
        ..Default::default()
    });
    assert!(
        parse(
            &d,
            RouteKind::Execute,
            SUBMIT,
            &cpp("-wrapper /bin/sh,-c,id")
        )
        .is_ok()
    );
}

/// `[dialect.options]`: the allow-list of a language (Judge0 ids mapped to
/// screening names: 50 is c, 54 cpp) replaces the built-in one for it alone,
/// and program arguments are bounded.
#[test]
fn compiler_options_follow_the_language_policy_and_arguments_are_bounded() {
    let options: OptionsConfig =
        toml::from_str("args_max_count = 2\n[compiler]\nc = [\"-O2\", \"-std=*\"]").unwrap();
    let d = Dialect::new(DialectConfig {
        kind: DialectKind::Judge0.into(),
        options,
        ..DialectConfig::default()
    })
    .unwrap();
    let submit = |language: u64, key: &str, value: &str| {
        let body = with(
            with(one(), "language_id", json!(language)),
            key,
            json!(value),
        );
        parse(&d, RouteKind::Execute, SUBMIT, &body)
    };
    assert!(submit(50, "compiler_options", "-O2 -std=c11").is_ok());
    let err = submit(50, "compiler_options", "-O2 -Wall").unwrap_err();
    assert_eq!(
        err,
        RequestError::new("compiler_options", "option \"-Wall\" is not allowed for c")
    );
    assert!(submit(54, "compiler_options", "-O2 -Wall").is_ok());
    assert!(submit(71, "command_line_arguments", "a b").is_ok());
    let err = submit(71, "command_line_arguments", "a b c").unwrap_err();
    assert_eq!(
        err,
        RequestError::new("command_line_arguments", "are more than 2 arguments")
    );
    let bad = toml::from_str::<OptionsConfig>("[compiler]\nc = [\"-B*\"]").unwrap();
    let err = Dialect::new(DialectConfig {
        kind: DialectKind::Judge0.into(),
        options: bad,
        ..DialectConfig::default()
    })
    .unwrap_err();
    assert!(
        err.starts_with("dialect.options.compiler.c: \"-B*\" can never be allowed"),
        "{err}"
    );
}
