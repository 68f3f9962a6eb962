//! Several executor APIs behind one gateway (`kind = ["piston", "judge0"]`,
//! generic alongside): each path is routed, parsed, clamped, sanitized and
//! judged by the API that owns it, exactly as a single-kind dialect would.

mod common;

use common::{TIER, clamped, dialect, parse, refusal};
use execgate_dialect::{Dialect, DialectConfig, DialectKind, DialectKinds, RouteKind, RunOutcome};
use http::Method;
use serde_json::{Value, json};

fn kinds(list: &[DialectKind]) -> DialectConfig {
    DialectConfig {
        kind: DialectKinds::new(list.to_vec()).unwrap(),
        ..DialectConfig::default()
    }
}

/// `kind = ["piston", "judge0"]`, the config `execgate up` ships.
fn mixed() -> Dialect {
    Dialect::new(kinds(&[DialectKind::Piston, DialectKind::Judge0])).unwrap()
}

const PISTON_RUN: &str = "/api/v2/execute";
const JUDGE0_RUN: &str = "/submissions?wait=true";
const JUDGE0_BATCH: &str = "/submissions/batch?base64_encoded=true";

fn piston_body() -> Value {
    json!({"language": "python", "version": "3.12", "files": [{"content": "print(1)"}],
           "run_memory_limit": 1_000_000_000u64})
}

fn judge0_body() -> Value {
    json!({"source_code": "print(1)", "language_id": 71, "memory_limit": 9_000_000})
}

fn judge0_batch() -> Value {
    json!({"submissions": [
        {"source_code": "cHJpbnQoMSk=", "language_id": 71},
        {"source_code": "aW50IG1haW4oKXt9", "language_id": 50, "wall_time_limit": 1},
    ]})
}

#[test]
fn both_apis_are_routed() {
    let d = mixed();
    assert_eq!(d.kinds(), [DialectKind::Piston, DialectKind::Judge0]);
    let cases = [
        (Method::POST, "/api/v2/execute", RouteKind::Execute),
        (Method::GET, "/api/v2/runtimes", RouteKind::Passthrough),
        (Method::HEAD, "/api/v2/packages", RouteKind::Passthrough),
        (Method::POST, "/submissions?wait=true", RouteKind::Execute),
        (Method::POST, "/submissions/batch", RouteKind::ExecuteBatch),
        (
            Method::GET,
            "/submissions/abc?base64_encoded=true",
            RouteKind::Passthrough,
        ),
        (
            Method::GET,
            "/submissions/batch?tokens=a,b",
            RouteKind::Passthrough,
        ),
        (Method::GET, "/languages/71", RouteKind::Passthrough),
        (Method::GET, "/statuses", RouteKind::Passthrough),
        (Method::HEAD, "/about", RouteKind::Passthrough),
        (Method::HEAD, "/submissions", RouteKind::Passthrough),
        (Method::GET, "/api/v2/execute", RouteKind::Unknown),
        (Method::POST, "/languages", RouteKind::Unknown),
        (Method::DELETE, "/submissions/abc", RouteKind::Passthrough),
        (Method::DELETE, "/api/v2/packages", RouteKind::Unknown),
        (Method::GET, "/api/v3/runtimes", RouteKind::Unknown),
        (Method::GET, "/", RouteKind::Unknown),
    ];
    for (method, path, expected) in cases {
        assert_eq!(d.route(&method, path), expected, "{method} {path}");
    }
}

#[test]
fn each_api_parses_and_clamps_exactly_as_alone() {
    let d = mixed();
    let (piston, judge0) = (dialect(DialectKind::Piston), dialect(DialectKind::Judge0));
    let cases = [
        (&piston, RouteKind::Execute, PISTON_RUN, piston_body()),
        (&judge0, RouteKind::Execute, JUDGE0_RUN, judge0_body()),
        (
            &judge0,
            RouteKind::ExecuteBatch,
            JUDGE0_BATCH,
            judge0_batch(),
        ),
    ];
    for (alone, route, path, body) in cases {
        let ours = parse(&d, route, path, &body).unwrap();
        assert_eq!(ours, parse(alone, route, path, &body).unwrap(), "{path}");
        assert_eq!(ours.dialect, alone.kinds()[0], "{path}");
        assert_eq!(
            clamped(&d, route, path, &body),
            clamped(alone, route, path, &body)
        );
    }
    let piston = clamped(&d, RouteKind::Execute, PISTON_RUN, &piston_body());
    assert_eq!(piston["run_memory_limit"], json!(128u64 << 20));
    assert_eq!(piston["run_timeout"], json!(5000));
    let judge0 = clamped(&d, RouteKind::Execute, JUDGE0_RUN, &judge0_body());
    assert_eq!(judge0["memory_limit"], json!(131072));
    assert_eq!(judge0["base64_encoded"], json!("false"));
    let batch = parse(&d, RouteKind::ExecuteBatch, JUDGE0_BATCH, &judge0_batch()).unwrap();
    assert!(batch.base64);
    assert_eq!(batch.submissions[1].language, "c");
    assert_eq!(batch.submissions[1].files[0].content, b"int main(){}");
}

#[test]
fn a_body_is_read_by_the_api_of_its_path() {
    let d = mixed();
    let err = refusal(&d, RouteKind::Execute, JUDGE0_RUN, &piston_body());
    assert_eq!(err.field, "source_code");
    let err = refusal(&d, RouteKind::Execute, PISTON_RUN, &judge0_body());
    assert_eq!(err.field, "language");
    let err = refusal(
        &d,
        RouteKind::Execute,
        "/submissions?source_code=x",
        &judge0_body(),
    );
    assert_eq!(err.field, "source_code");
}

#[test]
fn clamp_refuses_a_request_of_an_api_not_served() {
    let judge0 = dialect(DialectKind::Judge0);
    let req = parse(&judge0, RouteKind::Execute, JUDGE0_RUN, &judge0_body()).unwrap();
    let err = dialect(DialectKind::Piston).clamp(&req, &TIER).unwrap_err();
    assert_eq!(err.field, "route");
    assert_eq!(
        err.message,
        "was parsed as judge0, which this gateway does not serve"
    );
    assert!(mixed().clamp(&req, &TIER).is_ok());
}

#[test]
fn forward_paths_follow_the_api_of_the_path() {
    let d = mixed();
    let path = |route, p| d.forward_path(route, p).unwrap();
    assert_eq!(path(RouteKind::Execute, PISTON_RUN), PISTON_RUN);
    assert_eq!(
        path(RouteKind::Passthrough, "/api/v2/runtimes?x=1"),
        "/api/v2/runtimes?x=1"
    );
    assert_eq!(
        path(RouteKind::Execute, JUDGE0_RUN),
        "/submissions?wait=true&base64_encoded=false"
    );
    assert_eq!(
        path(RouteKind::Passthrough, "/submissions/t?base64_encoded=true"),
        "/submissions/t?base64_encoded=true"
    );
    let err = d
        .forward_path(RouteKind::Execute, "/submissions?wait=yes")
        .unwrap_err();
    assert_eq!(err.field, "wait");
}

#[test]
fn response_fields_follow_the_api_of_the_path() {
    let d = mixed();
    let (piston, judge0) = (dialect(DialectKind::Piston), dialect(DialectKind::Judge0));
    let req = parse(&d, RouteKind::ExecuteBatch, JUDGE0_BATCH, &judge0_batch()).unwrap();
    for (alone, path, req) in [
        (&piston, PISTON_RUN, None),
        (&judge0, "/submissions/tok?base64_encoded=true", None),
        (&judge0, "/submissions?wait=true&base64_encoded=false", None),
        (&judge0, JUDGE0_BATCH, Some(&req)),
        (&judge0, "/languages", None),
    ] {
        assert_eq!(
            d.response_fields(path, req),
            alone.response_fields(path, req),
            "{path}"
        );
    }
    let piston_fields = d.response_fields(PISTON_RUN, None);
    assert_eq!(piston_fields[0].pointer, "/run/stdout");
    let judge0_fields = d.response_fields("/submissions/tok?base64_encoded=true", None);
    assert_eq!(judge0_fields[0].pointer, "/stdout");
    assert!(judge0_fields.iter().all(|f| f.base64));
    assert!(d.response_fields("/api/v2/runtimes", None).is_empty());
}

#[test]
fn verdicts_are_read_by_the_shape_of_the_response() {
    let d = mixed();
    let cases: [(Value, &[RunOutcome]); 7] = [
        (
            json!({"run": {"status": "TO", "signal": "SIGKILL"}}),
            &[RunOutcome::Timeout],
        ),
        (
            json!({"compile": {"code": 1, "stderr": "error"}, "run": null}),
            &[RunOutcome::CompileError],
        ),
        (
            json!({"run": {"code": 0, "signal": null, "status": null}}),
            &[RunOutcome::Ok],
        ),
        (
            json!({"token": "t", "status": {"id": 6}}),
            &[RunOutcome::CompileError],
        ),
        (
            json!({"submissions": [{"status": {"id": 5}}, {"status_id": 3}]}),
            &[RunOutcome::Timeout, RunOutcome::Ok],
        ),
        (json!([{"token": "a"}, {"token": "b"}]), &[]),
        (json!({"language": "python", "version": "3.12"}), &[]),
    ];
    for (body, expected) in cases {
        let bytes = serde_json::to_vec(&body).unwrap();
        assert_eq!(d.verdicts(&bytes), expected, "{body}");
    }
    assert!(d.verdicts(b"not json").is_empty());
}

#[test]
fn verdicts_for_a_path_ignore_the_shape() {
    let d = mixed();
    let judge0_shaped = br#"{"status":{"id":5},"run":{"status":"OOM"}}"#;
    let doc: Value = serde_json::from_slice(judge0_shaped).unwrap();
    assert_eq!(d.verdicts_for(PISTON_RUN, &doc), [RunOutcome::MemoryKilled]);
    assert_eq!(d.verdicts_for(JUDGE0_RUN, &doc), [RunOutcome::Timeout]);
    assert_eq!(d.verdicts(judge0_shaped), [RunOutcome::MemoryKilled]);
    assert!(d.verdicts_for(JUDGE0_RUN, &json!("<html>")).is_empty());
}

#[test]
fn the_order_of_kinds_only_orders_shape_guesses() {
    let d = Dialect::new(kinds(&[DialectKind::Judge0, DialectKind::Piston])).unwrap();
    assert_eq!(d.route(&Method::POST, PISTON_RUN), RouteKind::Execute);
    assert_eq!(d.route(&Method::POST, "/submissions"), RouteKind::Execute);
    let req = parse(&d, RouteKind::Execute, PISTON_RUN, &piston_body()).unwrap();
    assert_eq!(req.dialect, DialectKind::Piston);
    let ambiguous = br#"{"status":{"id":5},"run":{"status":"OOM"}}"#;
    assert_eq!(d.verdicts(ambiguous), [RunOutcome::Timeout]);
}

const WITH_GENERIC: &str = r#"
kind = ["piston", "judge0", "generic"]
[generic]
execute = ["POST /run"]
passthrough = ["GET /results/{id}"]
code = "/code"
default_language = "python"
outputs = [{ pointer = "/out", kind = "stdout" }]
verdict = { pointer = "/state", outcomes = { done = "ok", killed = "memory_killed" } }
"#;

#[test]
fn a_generic_executor_can_be_served_alongside() {
    let d = Dialect::new(toml::from_str(WITH_GENERIC).unwrap()).unwrap();
    assert_eq!(d.route(&Method::POST, "/run"), RouteKind::Execute);
    assert_eq!(d.route(&Method::GET, "/results/7"), RouteKind::Passthrough);
    assert_eq!(d.route(&Method::POST, PISTON_RUN), RouteKind::Execute);
    assert_eq!(d.route(&Method::POST, "/submissions"), RouteKind::Execute);
    let req = parse(&d, RouteKind::Execute, "/run", &json!({"code": "print(1)"})).unwrap();
    assert_eq!(req.dialect, DialectKind::Generic);
    assert_eq!(req.submissions[0].language, "python");
    let err = refusal(&d, RouteKind::Execute, "/run?x=1", &json!({"code": "1"}));
    assert_eq!(err.field, "x");
    assert_eq!(d.response_fields("/results/7", None)[0].pointer, "/out");
    assert_eq!(
        d.verdicts(br#"{"state":"killed"}"#),
        [RunOutcome::MemoryKilled]
    );
    assert_eq!(d.verdicts(br#"{"status":{"id":3}}"#), [RunOutcome::Ok]);
}
