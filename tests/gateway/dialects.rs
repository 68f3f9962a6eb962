//! Judge0 batches and result routes, and a home-grown executor described by
//! the generic dialect, end to end through the gateway.

use crate::support::*;
use serde_json::json;

const GENERIC: &str = r#"
[dialect]
kind = "generic"
[dialect.generic]
execute = ["POST /run"]
passthrough = ["GET /languages"]
code = "/program/source"
language = "/program/lang"
stdin = "/input"
limits = [
  { pointer = "/limits/time_ms", role = "run_time", unit = "ms" },
  { pointer = "/limits/memory_mb", role = "memory", unit = "mb" },
]
outputs = [{ pointer = "/result/out", kind = "stdout" }]
"#;

#[test]
fn a_generic_executor_is_read_clamped_screened_and_sanitized_by_its_pointers() {
    let exec = MockExecutor::with(Behaviour::json(
        200,
        json!({"result": {"out": "key tok_abcdefgh12345678\n"}})
            .to_string()
            .into_bytes(),
    ));
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw(GENERIC)
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    let run = |body: serde_json::Value| post(&gw.url("/run"), &body);
    let ok = run(json!({"program": {"source": "print(1)", "lang": "python"},
                        "limits": {"time_ms": 999_999, "memory_mb": 4096}}));
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["result"]["out"], "key [REDACTED:test-token]\n");
    let sent = exec.requests()[0].json();
    assert_eq!(sent["limits"], json!({"time_ms": 5000, "memory_mb": 128}));
    assert_eq!(sent["program"]["source"], "print(1)");

    let refused = run(json!({"program": {"source": "import os", "lang": "python"}}));
    assert_eq!(
        (refused.status, refused.code()),
        (403, "code_rejected".to_string())
    );
    let missing = run(json!({"program": {"lang": "python"}}));
    assert_eq!(
        (missing.status, missing.code()),
        (400, "invalid_request".to_string())
    );
    assert!(
        missing.json()["error"]["field"]
            .as_str()
            .unwrap()
            .contains("source"),
        "{}",
        missing.json()
    );
    let query = post(
        &gw.url("/run?lang=c"),
        &json!({"program": {"source": "print(1)", "lang": "python"}}),
    );
    assert_eq!(
        query.status,
        400,
        "query parameters are refused on executing routes: {}",
        String::from_utf8_lossy(&query.body)
    );
    assert_eq!(get(&gw.url("/languages")).status, 200);
    assert_eq!(get(&gw.url("/admin")).code(), "unknown_route");
    let paths: Vec<String> = exec.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/run", "/languages"],
        "only the accepted run and the passthrough"
    );
}

#[test]
fn judge0_batches_are_screened_and_clamped_per_submission_and_result_routes_pass() {
    let exec = MockExecutor::start();
    // Each batch pays a unit per run, the refused one too.
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    let batch = |first: &str| {
        json!({"submissions": [
            {"source_code": first, "language_id": 71, "cpu_time_limit": 99},
            {"source_code": "print(2)", "language_id": 71, "memory_limit": 9_999_999},
        ]})
    };
    let refused = post(&gw.url("/submissions/batch"), &batch("import subprocess"));
    assert_eq!(
        (refused.status, refused.code()),
        (403, "code_rejected".to_string())
    );
    assert!(
        exec.requests().is_empty(),
        "one bad submission refuses the batch"
    );

    let ok = post(&gw.url("/submissions/batch"), &batch("print(1)"));
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let sent = exec.requests()[0].json();
    for submission in sent["submissions"].as_array().unwrap() {
        assert!(
            submission["cpu_time_limit"].as_f64().unwrap() <= 5.0,
            "{submission}"
        );
        assert!(
            submission["memory_limit"].as_u64().unwrap() <= 128 * 1024,
            "{submission}"
        );
    }
    assert_eq!(
        exec.requests()[0].path,
        "/submissions/batch?base64_encoded=false"
    );

    for path in [
        "/languages",
        "/submissions/abc123?base64_encoded=false",
        "/submissions/batch?tokens=a,b",
    ] {
        assert_eq!(get(&gw.url(path)).status, 200, "{path}");
    }
    let polled: Vec<String> = exec.requests()[1..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        polled,
        [
            "/languages",
            "/submissions/abc123?base64_encoded=false",
            "/submissions/batch?tokens=a,b&base64_encoded=false"
        ]
    );
}
