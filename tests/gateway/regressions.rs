//! Tests named after bugs fixed in the past, each with what broke: kept
//! together so that a change near one of them reads what it must not undo.

use super::dialects::{ALICE, BOB, as_client, two_clients};
use super::limits::{batch, execute, judge0_gateway};
use crate::support::*;
use serde_json::json;
use std::time::Duration;

/// Broke: A body naming a key twice was screened by one copy while the executor could read the other.
#[test]
fn regression_duplicate_keys_run_what_was_screened() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    let body = |first: &str, last: &str| {
        format!(
            r#"{{"language":"python","version":"3.12.0","files":[{{"content":"{first}"}}],"files":[{{"content":"{last}"}}]}}"#
        )
        .into_bytes()
    };
    let hidden_last = post_with(
        &gw.url("/api/v2/execute"),
        body("print(1)", "import os"),
        &[],
    );
    assert_eq!(hidden_last.status, 403, "the last key is the one screened");
    let ok = post_with(
        &gw.url("/api/v2/execute"),
        body("import os", "print(2)"),
        &[],
    );
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let sent = &exec.requests()[0];
    let text = String::from_utf8_lossy(&sent.body);
    assert_eq!(
        text.matches("\"files\"").count(),
        1,
        "re-serialised: {text}"
    );
    assert!(!text.contains("import os"), "{text}");
    assert_eq!(sent.json()["files"][0]["content"], "print(2)");
}

/// Broke: Any client could read another's Judge0 result by its token, or list every submission.
#[test]
fn regression_judge0_results_are_readable_only_by_the_client_that_submitted_them() {
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 3 });
    let gw = two_clients(&exec);
    let secret = "tok_abcdefgh12345678";
    let submitted = as_client(
        &gw,
        ALICE,
        "POST",
        "/submissions",
        Some(
            json!({"source_code": format!("print('{secret}')"), "language_id": 71, "stdin": secret}),
        ),
    );
    assert_eq!(
        submitted.status,
        200,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let token = submitted.json()["token"].as_str().unwrap().to_string();
    let batch = as_client(
        &gw,
        ALICE,
        "POST",
        "/submissions/batch",
        Some(json!({"submissions": [{"source_code": "print(2)", "language_id": 71}]})),
    );
    let second = batch.json()[0]["token"].as_str().unwrap().to_string();
    let reached = exec.requests().len();

    let fields = "?fields=stdout,source_code,stdin";
    let own = as_client(
        &gw,
        ALICE,
        "GET",
        &format!("/submissions/{token}{fields}"),
        None,
    );
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
    let doc = own.json();
    assert_eq!(doc["stdout"], "out\n");
    for field in ["source_code", "stdin"] {
        let text = doc[field].as_str().unwrap();
        assert!(!text.contains(secret), "{field} echoed unsanitized: {text}");
        assert!(text.contains("[REDACTED:test-token]"), "{field}: {text}");
    }
    let both = format!("/submissions/batch?tokens={token},{second}");
    assert_eq!(as_client(&gw, ALICE, "GET", &both, None).status, 200);

    let missing = as_client(&gw, BOB, "GET", "/submissions/tok-9999-0", None);
    for path in [
        format!("/submissions/{token}{fields}"),
        format!("/submissions/{token}.json"),
        format!("/submissions/batch?tokens={token}"),
        format!("/submissions/batch?tokens={second},{token}"),
        format!("/submissions/batch?tokens[]={token}"),
        "/submissions".to_string(),
    ] {
        let other = as_client(&gw, BOB, "GET", &path, None);
        assert_eq!(
            (other.status, other.code()),
            (missing.status, missing.code()),
            "{path}: another client's token must look like none"
        );
    }
    assert_eq!(missing.status, 404);
    let anonymous = get(&gw.url(&format!("/submissions/{token}")));
    assert_eq!(anonymous.status, 404, "anonymous callers own no token");
    assert_eq!(
        exec.requests().len(),
        reached + 2,
        "only alice's two reads reached the executor"
    );
}

/// Broke: Judge0 runs never polled (wait=false) were never scored: their time-outs and memory kills cost nothing.
#[test]
fn regression_runs_nobody_polls_still_score_their_verdicts() {
    let exec = MockExecutor::with(Behaviour::Judge0 { status: 5 });
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .with("reputation", "ban_threshold = 1000.0")
        .with_admin_token()
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    let run = json!({"source_code": "while True: pass", "language_id": 71});
    let submitted = post(
        &gw.url("/submissions/batch?base64_encoded=false"),
        &json!({ "submissions": vec![run; 8] }),
    );
    assert_eq!(
        submitted.status,
        200,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let timeouts = || {
        gw.client_view("ip:127.0.0.1")
            .to_string()
            .matches("\"kind\":\"exec_timeout\"")
            .count()
    };
    // The gateway reads unread results after a grace period of its own:
    // waited for, never timed.
    eventually("the unread runs are scored", || timeouts() >= 8);
    assert_eq!(
        timeouts(),
        8,
        "every unread time-out scored once: {}",
        gw.client_view("ip:127.0.0.1")
    );
    let polls: Vec<String> = exec
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path.clone())
        .collect();
    assert!(
        polls
            .iter()
            .all(|p| p.starts_with("/submissions/batch?tokens=")),
        "{polls:?}"
    );

    let tokens: Vec<String> = submitted
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap().to_string())
        .collect();
    // One connection: its next request is read only once this one is accounted.
    let client = reqwest::blocking::Client::new();
    let read = client
        .get(gw.url(&format!("/submissions/batch?tokens={}", tokens.join(","))))
        .send()
        .unwrap();
    assert_eq!(read.status(), 200);
    let read: serde_json::Value = read.json().unwrap();
    assert_eq!(read["submissions"][0]["status"]["id"], 5);
    let marker = client.get(gw.url("/not-a-route")).send().unwrap();
    assert_eq!(marker.status(), 404);
    eventually("the marker request is accounted", || {
        gw.client_view("ip:127.0.0.1")
            .to_string()
            .contains("\"kind\":\"refused\"")
    });
    assert_eq!(timeouts(), 8, "reading them later scores nothing twice");
}

/// Broke: A Judge0 batch of many runs cost one unit of the rate limit, like a single run.
#[test]
fn regression_a_judge0_batch_costs_one_unit_per_run_in_every_window() {
    let exec = MockExecutor::start();
    let gw = judge0_gateway(
        &exec,
        "{ name = \"burst\", rate = \"6/60s\" }, { name = \"hourly\", rate = \"9/1h\" }",
    );
    let ok = batch(&gw, 4);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(
        ok.header("ratelimit").as_deref(),
        Some("\"burst\";r=2;t=10"),
        "four runs took four units"
    );
    let view = gw.client_view("ip:127.0.0.1");
    let remaining: Vec<u64> = view["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["remaining"].as_u64().unwrap())
        .collect();
    assert_eq!(remaining, [2, 5], "every window paid: {view}");
    assert_eq!(execute(&gw).status, 200);
    assert_eq!(execute(&gw).status, 200);
    assert_eq!(execute(&gw).status, 429, "the batch used the burst up");
    assert_eq!(exec.requests().len(), 3);
}

/// Broke: A batch over what a window had left was not charged all or none.
#[test]
fn regression_a_batch_larger_than_what_remains_is_refused_whole_and_takes_nothing() {
    let exec = MockExecutor::start();
    let gw = judge0_gateway(&exec, "{ name = \"burst\", rate = \"3/30s\" }");
    assert_eq!(execute(&gw).status, 200);
    let refused = batch(&gw, 3);
    assert_eq!(
        (refused.status, refused.code()),
        (429, "rate_limited".to_string()),
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    // One unit comes back every 10 s; three are free 10 s after the first run.
    assert_eq!(refused.header("retry-after").as_deref(), Some("10"));
    assert_eq!(
        exec.requests().len(),
        1,
        "no run of the batch reached the executor"
    );
    assert_eq!(execute(&gw).status, 200, "the refusal took nothing");
    assert_eq!(execute(&gw).status, 200);
    let empty = batch(&gw, 1);
    assert_eq!(
        (empty.status, empty.json()["error"]["window"].clone()),
        (429, "burst".into()),
        "an exhausted client is refused before its batch is read"
    );
    gw.clock.advance(Duration::from_secs(30));
    let too_big = batch(&gw, 20);
    assert_eq!(
        (too_big.status, too_big.code()),
        (400, "invalid_request".to_string()),
        "a batch no window can ever hold is the client's error"
    );
    assert_eq!(too_big.json()["error"]["field"], "submissions");
    assert_eq!(batch(&gw, 3).status, 200, "the whole quota fits the batch");
}

/// Broke: Spellings of the execute path (case, slashes, dot segments, escapes) were limited apart.
#[test]
fn regression_path_variants_of_an_executing_route_share_one_limit() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let variants = [
        "/api/v2/execute",
        "/API/V2/EXECUTE",
        "/api/v2/execute/",
        "//api/v2/execute",
        "/api/v2/./execute",
        "/api/v2/%65xecute",
        "/api/v2/execute?x=1",
        "/api/v2/execute;x=1",
    ];
    let mut served = 0;
    for round in 0..2 {
        for path in variants {
            let r = post(&gw.url(path), &piston("print(1)"));
            assert!(
                matches!(r.status, 200 | 400 | 404 | 429),
                "{path}: {}",
                r.status
            );
            served += usize::from(r.status == 200);
            assert!(served <= 3, "round {round}: {path} ran past the burst of 3");
        }
    }
    assert_eq!(exec.requests().len(), served);
    assert_eq!(served, 3, "the burst was used, by whichever variants route");
}

/// Broke: A deny list of client headers passed X-HTTP-Method-Override, X-Original-URL, client-address claims and cookies to the executor.
#[test]
fn regression_only_allowed_request_headers_reach_the_executor() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let hostile = [
        ("x-http-method-override", "DELETE"),
        ("x-original-url", "/admin"),
        ("x-rewrite-url", "/admin"),
        ("x-client-ip", "10.0.0.1"),
        ("cf-connecting-ip", "10.0.0.1"),
        ("x-real-ip", "10.0.0.1"),
        ("cookie", "session=1"),
        ("x-auth-token", "guess"),
        ("forwarded", "for=10.0.0.1"),
        ("x-forwarded-for", "10.0.0.1"),
    ];
    let reply = post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        &hostile,
    );
    assert_eq!(reply.status, 200);
    let seen = &exec.requests()[0].headers;
    for (name, _) in hostile.iter().filter(|(n, _)| *n != "x-forwarded-for") {
        assert!(seen.get(*name).is_none(), "{name} reached the executor");
    }
    assert_eq!(
        seen["x-forwarded-for"], "127.0.0.1",
        "the gateway's own claim only"
    );
    assert_eq!(seen["content-type"], "application/json");
    assert!(seen.get("x-request-id").is_some());
}

/// Broke: A body sent on a route that runs nothing reached the executor unscreened.
#[test]
fn regression_a_body_on_a_route_that_runs_nothing_is_refused() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let client = reqwest::blocking::Client::new();
    let with_body = client
        .get(gw.url("/api/v2/runtimes"))
        .body("{\"language\":\"python\"}")
        .send()
        .unwrap();
    assert_eq!(with_body.status(), 400);
    let error: serde_json::Value = with_body.json().unwrap();
    assert_eq!(error["error"]["field"], "body");
    assert!(exec.requests().is_empty(), "nothing reached the executor");
    let (status, _) = raw(
        gw.addr(),
        b"GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "an empty body is no body");
}

/// Broke: An executor's own error body (its framework's shape, its internals) reached the client.
#[test]
fn regression_executor_error_bodies_are_wrapped_in_the_gateway_shape() {
    let exec = MockExecutor::with(Behaviour::json(
        400,
        json!({"message": "runtime is unknown (/srv/piston/packages, tok_abcdefgh12345678)"})
            .to_string()
            .into_bytes(),
    ));
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let refused = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(
        (refused.status, refused.code()),
        (400, "invalid_request".to_string())
    );
    let message = refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("the executor refused the request: runtime is unknown"),
        "{message}"
    );
    assert!(
        !message.contains("/srv/piston") && !message.contains("tok_"),
        "{message}"
    );
    let top = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        top.starts_with("invalid_request: "),
        "the gateway's own message, not the executor's: {top}"
    );
    assert!(refused.header("x-request-id").is_some());

    exec.set(Behaviour::json(
        422,
        json!({"language_id": ["can't be blank"]})
            .to_string()
            .into_bytes(),
    ));
    let rails = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(rails.status, 400);
    assert!(
        rails.json()["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("language_id can't be blank"),
        "{}",
        rails.json()
    );

    exec.set(Behaviour::json(
        500,
        json!({"message": "NoMethodError at /srv/app/lib/x.rb:3"})
            .to_string()
            .into_bytes(),
    ));
    let failed = get(&gw.url("/api/v2/runtimes"));
    assert_eq!(
        (failed.status, failed.code()),
        (502, "upstream_error".to_string())
    );
    assert!(!String::from_utf8_lossy(&failed.body).contains("NoMethodError"));

    exec.set(Behaviour::Raw {
        status: 404,
        content_type: "text/html".into(),
        body: b"<h1>Cannot GET</h1>".to_vec(),
        extra: vec![],
    });
    let missing = get(&gw.url("/api/v2/packages"));
    assert_eq!(
        (missing.status, missing.code()),
        (404, "unknown_route".to_string())
    );
}
