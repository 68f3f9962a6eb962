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

const RAW: &str = r#"
[dialect]
kind = "generic"
[dialect.generic]
query_params = ["trace"]
outputs = [{ pointer = "/out", kind = "stdout" }]
[[dialect.generic.raw]]
route = "POST /api/execute-raw"
language = "query:lang"
[[dialect.generic.raw]]
route = "POST /raw/{language}"
language = "path:language"
[[dialect.generic.raw]]
route = "POST /by-header"
language = "header:x-language"
content_type = "text/x-source"
"#;

fn post_text(url: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("content-type", "text/plain")];
    all.extend_from_slice(headers);
    post_with(url, body.as_bytes().to_vec(), &all)
}

#[test]
fn raw_routes_take_the_program_as_the_body_screened_capped_and_forwarded_as_sent() {
    let exec = MockExecutor::with(Behaviour::json(
        200,
        json!({"out": "key tok_abcdefgh12345678\n"})
            .to_string()
            .into_bytes(),
    ));
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw(RAW)
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]\ncode_max = \"64B\"")
        .start();
    let program = "print(1)\n";

    // Language from the query, the path or a header; the body arrives byte for byte.
    let cases = [
        (
            "/api/execute-raw?lang=python&trace=1",
            vec![],
            "text/plain; charset=utf-8",
        ),
        ("/raw/python", vec![], "text/plain; charset=utf-8"),
        (
            "/by-header",
            vec![("x-language", "python")],
            "text/x-source",
        ),
    ];
    for (i, (path, headers, content_type)) in cases.iter().enumerate() {
        let ok = post_text(&gw.url(path), program, headers);
        assert_eq!(
            ok.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&ok.body)
        );
        assert_eq!(
            ok.json()["out"],
            "key [REDACTED:test-token]\n",
            "{path}: output sanitized"
        );
        let sent = &exec.requests()[i];
        assert_eq!(sent.body, program.as_bytes(), "{path}");
        assert_eq!(sent.path, *path);
        let got = sent.headers.get("content-type").unwrap().to_str().unwrap();
        assert_eq!(got, *content_type, "{path}");
        if !headers.is_empty() {
            assert_eq!(sent.headers.get("x-language").unwrap(), "python");
        }
    }
    let forwarded = exec.requests().len();

    // Screened: the language's pack refuses what it refuses in JSON.
    let refused = post_text(&gw.url("/raw/python"), "import os\nos.system('id')\n", &[]);
    assert_eq!(
        (refused.status, refused.code()),
        (403, "code_rejected".to_string())
    );
    // Capped by the tier's code size.
    let big = format!("print({})\n", "1".repeat(100));
    let capped = post_text(&gw.url("/raw/python"), &big, &[]);
    assert_eq!(
        capped.status,
        413,
        "{}",
        String::from_utf8_lossy(&capped.body)
    );
    // No language: refused by name; other query parameters too; NUL bytes too.
    let cases = [
        ("/api/execute-raw", "lang", vec![]),
        ("/by-header", "x-language", vec![]),
        ("/api/execute-raw?lang=python&source=x", "source", vec![]),
    ];
    for (path, field, headers) in cases {
        let reply = post_text(&gw.url(path), program, &headers);
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_request".to_string()),
            "{path}"
        );
        assert_eq!(reply.json()["error"]["field"], field, "{path}");
    }
    let nul = post_text(&gw.url("/raw/python"), "print(1)\0", &[]);
    assert_eq!(
        (nul.status, nul.code()),
        (400, "invalid_request".to_string())
    );
    assert_eq!(
        exec.requests().len(),
        forwarded,
        "no refused program reached the executor"
    );
}

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

    assert_eq!(get(&gw.url("/languages")).status, 200);
    for path in [
        "/submissions/abc123?base64_encoded=false",
        "/submissions/batch?tokens=a,b",
        "/submissions",
    ] {
        let unknown = get(&gw.url(path));
        assert_eq!(
            (unknown.status, unknown.code()),
            (404, "unknown_route".to_string()),
            "{path}: no token of this client"
        );
    }
    let polled: Vec<String> = exec.requests()[1..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(polled, ["/languages"]);
}

pub(super) const ALICE: &str = "alice-key-0123456789";
pub(super) const BOB: &str = "bob-key-0123456789ab";

/// A Judge0 gateway with two API-key clients, alice and bob.
pub(super) fn two_clients(exec: &MockExecutor) -> TestGateway {
    let key = |secret: &str, client: &str| {
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()));
        format!(
            "[[identity.api_keys]]\nsha256 = \"{hash}\"\nclient = \"{client}\"\ntier = \"team\"\n"
        )
    };
    TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .raw(&key(ALICE, "alice"))
        .raw(&key(BOB, "bob"))
        .raw("[tiers.team]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start()
}

pub(super) fn as_client(
    gw: &TestGateway,
    key: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Reply {
    let headers = [("x-api-key", key)];
    match (method, body) {
        ("POST", Some(body)) => post_with(&gw.url(path), body.to_string().into_bytes(), &headers),
        ("DELETE", None) => delete_with(&gw.url(path), &headers),
        _ => get_with(&gw.url(path), &headers),
    }
}

#[test]
fn judge0_results_are_deleted_only_by_their_owner_and_workers_and_system_info_pass() {
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 3 });
    let gw = two_clients(&exec);
    let secret = "tok_abcdefgh12345678";
    let submitted = as_client(
        &gw,
        ALICE,
        "POST",
        "/submissions",
        Some(json!({"source_code": format!("print('{secret}')"), "language_id": 71})),
    );
    let token = submitted.json()["token"].as_str().unwrap().to_string();
    let reached = exec.requests().len();

    let missing = as_client(&gw, BOB, "DELETE", "/submissions/tok-9999-0", None);
    let stolen = as_client(&gw, BOB, "DELETE", &format!("/submissions/{token}"), None);
    assert_eq!(
        (stolen.status, stolen.code()),
        (missing.status, missing.code()),
        "deleting another client's token must look like deleting none"
    );
    assert_eq!(stolen.status, 404);
    assert_eq!(
        exec.requests().len(),
        reached,
        "bob's deletions never reach the executor"
    );

    // `fields=*` is Judge0's "every field": the request's own text comes back sanitized.
    let all = as_client(
        &gw,
        ALICE,
        "GET",
        &format!("/submissions/{token}?fields=*"),
        None,
    );
    assert_eq!(all.status, 200, "{}", String::from_utf8_lossy(&all.body));
    let text = all.json()["source_code"].as_str().unwrap().to_string();
    assert!(
        !text.contains(secret) && text.contains("[REDACTED:test-token]"),
        "{text}"
    );

    let deleted = as_client(
        &gw,
        ALICE,
        "DELETE",
        &format!("/submissions/{token}?fields=*"),
        None,
    );
    assert_eq!(
        deleted.status,
        200,
        "{}",
        String::from_utf8_lossy(&deleted.body)
    );
    let text = deleted.json()["source_code"].as_str().unwrap().to_string();
    assert!(
        !text.contains(secret),
        "a deletion's answer is sanitized too: {text}"
    );
    let last = exec.requests().last().cloned().unwrap();
    assert_eq!(last.method, "DELETE");
    assert!(
        last.path.starts_with(&format!("/submissions/{token}?")),
        "{}",
        last.path
    );
    let again = as_client(&gw, ALICE, "GET", &format!("/submissions/{token}"), None);
    assert_eq!(again.status, 404, "the executor deleted it");

    for path in ["/workers", "/system_info"] {
        let reply = as_client(&gw, BOB, "GET", path, None);
        assert_eq!(
            reply.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(exec.requests().last().unwrap().path, path);
    }
    let refused = as_client(&gw, BOB, "GET", "/workers?verbose=1", None);
    assert_eq!(
        (refused.status, refused.code()),
        (400, "invalid_request".to_string())
    );
    let body = refused.json().to_string();
    assert!(body.contains("verbose"), "{body}");
}

#[test]
fn result_tokens_past_the_configured_maximum_are_forgotten_oldest_first() {
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 3 });
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .with("limits", "max_result_tokens = 2")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    let tokens: Vec<String> = (0..3)
        .map(|_| {
            let r = post(
                &gw.url("/submissions"),
                &json!({"source_code": "print(1)", "language_id": 71}),
            );
            r.json()["token"].as_str().unwrap().to_string()
        })
        .collect();
    let read = |t: &str| get(&gw.url(&format!("/submissions/{t}"))).status;
    assert_eq!(read(&tokens[0]), 404, "the oldest token was forgotten");
    assert_eq!((read(&tokens[1]), read(&tokens[2])), (200, 200));
}

/// `[dialect.options.compiler]` allows flags per language: a flag off the
/// language's list is a 400 naming it, and never reaches the executor.
#[test]
fn compiler_options_off_the_language_list_are_refused_by_name() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .with("dialect.options.compiler", "c = [\"-O2\", \"-std=*\"]")
        .start();
    let submit = |options: &str| {
        let body = json!({"source_code": "int main(void) { return 0; }", "language_id": 50, "compiler_options": options});
        post(&gw.url("/submissions?wait=true"), &body)
    };
    let r = submit("-O2 -fplugin=./x.so");
    assert_eq!((r.status, r.code()), (400, "invalid_request".to_string()));
    let error = &r.json()["error"];
    assert_eq!(error["field"], "compiler_options");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("\"-fplugin=./x.so\""),
        "{error}"
    );
    let r = submit("-Wall");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        "option \"-Wall\" is not allowed for c"
    );
    assert!(exec.requests().is_empty());
    let r = submit("-O2 -std=c11");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(exec.requests().len(), 1);
}
