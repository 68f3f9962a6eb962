//! Forwarding: what reaches the executor, and what comes back.

use crate::support::*;
use serde_json::json;

#[test]
fn an_execution_is_forwarded_clamped_and_its_response_hardened() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let mut body = piston("print('hi')");
    body["run_timeout"] = json!(60_000);
    body["run_memory_limit"] = json!(4_000_000_000u64);
    let reply = post_with(
        &gw.url("/api/v2/execute"),
        body.to_string().into_bytes(),
        &[("x-request-id", "abc-123")],
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["run"]["stdout"], "hi\n");
    assert_eq!(reply.header("x-request-id").as_deref(), Some("abc-123"));
    assert_eq!(reply.header("server"), None);
    assert_eq!(reply.header("x-powered-by"), None);
    assert_eq!(reply.header("x-execgate-sandbox"), None);
    assert_eq!(
        reply.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        reply.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert!(
        reply
            .header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    let seen = exec.requests();
    assert_eq!(seen.len(), 1);
    let forwarded = seen[0].json();
    assert_eq!(
        forwarded["run_timeout"],
        json!(5000),
        "clamped to the anonymous tier's 5 s"
    );
    assert_eq!(forwarded["run_memory_limit"], json!(128u64 << 20));
    assert_eq!(seen[0].headers["accept-encoding"], "identity");
    assert_eq!(seen[0].headers["x-request-id"], "abc-123");
}

/// What the npm piston-client sends unless told otherwise: `-1` for both
/// memory limits, "the most allowed".
#[test]
fn piston_minus_one_limits_are_forwarded_as_the_tier_maximum() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let mut body = piston("print('hi')");
    body["run_memory_limit"] = json!(-1);
    body["compile_memory_limit"] = json!(-1);
    body["run_timeout"] = json!(-1);
    let reply = post(&gw.url("/api/v2/execute"), &body);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let forwarded = exec.requests()[0].json();
    assert_eq!(forwarded["run_memory_limit"], json!(128u64 << 20));
    assert_eq!(forwarded["compile_memory_limit"], json!(128u64 << 20));
    assert_eq!(forwarded["run_timeout"], json!(5000));
}

#[test]
fn judge0_submissions_are_decoded_screened_clamped_and_their_base64_output_sanitized() {
    judge0_round_trip("kind = \"judge0\"");
}

#[test]
fn judge0_beside_piston_is_judged_by_the_api_that_owns_the_path() {
    judge0_round_trip("kind = [\"piston\", \"judge0\"]");
}

fn judge0_round_trip(kind: &str) {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let exec = MockExecutor::with(Behaviour::json(201, json!({"stdout": b64("secret tok_abcdefgh12345678\n"), "status": {"id": 3, "description": "Accepted"}})
            .to_string()
            .into_bytes()));
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", kind)
        .start();
    let url = gw.url("/submissions?base64_encoded=true&wait=true");
    let refused = post(
        &url,
        &json!({"source_code": b64("import subprocess"), "language_id": 71}),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (403, "code_rejected".to_string()),
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let ok = post(
        &url,
        &json!({"source_code": b64("print(1)"), "language_id": 71, "cpu_time_limit": 99, "memory_limit": 9_999_999}),
    );
    assert_eq!(ok.status, 201, "{}", String::from_utf8_lossy(&ok.body));
    let stdout = base64::engine::general_purpose::STANDARD
        .decode(ok.json()["stdout"].as_str().unwrap())
        .unwrap();
    assert!(
        String::from_utf8_lossy(&stdout).contains("[REDACTED:test-token]"),
        "{}",
        String::from_utf8_lossy(&stdout)
    );
    let forwarded = exec.requests();
    assert_eq!(
        forwarded.len(),
        1,
        "the refused submission never reached the executor"
    );
    let sent = forwarded[0].json();
    assert!(sent["cpu_time_limit"].as_f64().unwrap() <= 5.0, "{sent}");
    assert!(
        sent["memory_limit"].as_u64().unwrap() <= 128 * 1024,
        "{sent}"
    );
}

#[test]
fn without_the_accept_guard_pingora_serves_the_public_port_directly() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("server", "accept_guard = false")
        .start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(exec.requests()[0].headers["x-forwarded-for"], "127.0.0.1");
}

#[test]
fn the_shipped_config_serves_piston_and_judge0_side_by_side() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = [\"piston\", \"judge0\"]")
        .start();
    let piston_run = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(
        piston_run.status,
        200,
        "{}",
        String::from_utf8_lossy(&piston_run.body)
    );
    // Text/plain from the client; Judge0's base64 default left implicit.
    let judge0_run = post_with(
        &gw.url("/submissions?wait=true"),
        json!({"source_code": "print(2)", "language_id": 71})
            .to_string()
            .into_bytes(),
        &[("content-type", "text/plain")],
    );
    assert_eq!(
        judge0_run.status,
        200,
        "{}",
        String::from_utf8_lossy(&judge0_run.body)
    );
    let seen = exec.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/api/v2/execute");
    assert_eq!(
        seen[1].path, "/submissions?wait=true&base64_encoded=false",
        "the executor is told the encoding the gateway decoded with"
    );
    let types: Vec<_> = seen[1].headers.get_all("content-type").iter().collect();
    assert_eq!(
        types,
        ["application/json"],
        "the re-encoded body is declared JSON"
    );
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/execgate.toml");
    let settings = execgate::config::load(&shipped).expect("the shipped config loads");
    assert_eq!(
        settings.dialect.kind.as_slice(),
        [
            execgate_dialect::DialectKind::Piston,
            execgate_dialect::DialectKind::Judge0
        ],
        "execgate up serves both APIs of the bundled runner"
    );
}

#[test]
fn judge0_result_polling_is_sanitized_and_capped_like_a_run() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let flood = format!("tok_abcdefgh12345678 {}", "y".repeat(300 << 10));
    let exec = MockExecutor::with(Behaviour::json(
        200,
        json!({"token": "2f4c1a", "stdout": b64(&flood), "status": {"id": 3, "description": "Accepted"}})
            .to_string()
            .into_bytes(),
    ));
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .start();
    // Results are read with a token the client got from its own submission.
    let submitted = post(
        &gw.url("/submissions?base64_encoded=true"),
        &json!({"source_code": b64("print(1)"), "language_id": 71}),
    );
    assert_eq!(submitted.status, 200);
    let reply = get(&gw.url("/submissions/2f4c1a?base64_encoded=true"));
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let stdout = base64::engine::general_purpose::STANDARD
        .decode(reply.json()["stdout"].as_str().unwrap())
        .unwrap();
    let stdout = String::from_utf8_lossy(&stdout);
    assert!(
        stdout.starts_with("[REDACTED:test-token]"),
        "{}",
        &stdout[..60]
    );
    assert!(
        stdout.len() <= (100 << 10) + 200,
        "stdout capped at the tier's 100KB, got {} bytes",
        stdout.len()
    );
    assert_eq!(exec.requests()[1].method, "GET");
}

#[test]
fn an_insane_request_id_is_replaced_with_a_fresh_one() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let hostile = format!("x\"; DROP{}", "y".repeat(300));
    let reply = post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        &[("x-request-id", hostile.as_str())],
    );
    assert_eq!(reply.status, 200);
    let id = reply.header("x-request-id").unwrap();
    assert_ne!(id, hostile);
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(exec.requests()[0].headers["x-request-id"], id.as_str());
}

#[test]
fn leaked_output_is_withheld_counted_and_scored_against_the_client() {
    let rules = format!(
        "{}\n[[leak]]\nid = \"test-passwd\"\nseverity = \"critical\"\nmessage = \"passwd lines\"\nregex = '''(?m)^root:x:0:0:'''\n",
        crate::support::gateway::OUTPUT_RULES
    );
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: "root:x:0:0:root:/root:/bin/bash\n".into(),
    });
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .file("output.toml", rules)
        .with_admin_token()
        .start();
    let leaked = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(leaked.status, 200);
    let stdout = leaked.json()["run"]["stdout"].as_str().unwrap().to_string();
    assert!(stdout.starts_with("[execgate: output withheld"), "{stdout}");
    assert!(!stdout.contains("/root:/bin/bash"), "{stdout}");

    exec.set(Behaviour::Piston {
        stdout: "key tok_abcdefgh12345678\n".into(),
    });
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("print(2)")).status,
        200
    );
    let metrics = gw.metrics();
    // Piston repeats stdout in `run.output`: each finding and redaction counts per field.
    for series in [
        "execgate_outbound_findings_total{rule=\"test-passwd\"} 2",
        "execgate_redactions_total{rule=\"test-token\"} 2",
    ] {
        assert!(metrics.contains(series), "missing {series} in\n{metrics}");
    }
    let client: serde_json::Value = gw.client_view("ip:127.0.0.1");
    assert!(
        client.to_string().contains("output_leak"),
        "the leak is an event of the client: {client}"
    );
}

#[test]
fn expect_100_continue_is_answered_by_the_gateway_and_not_forwarded() {
    use std::io::{Read, Write};
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let body = piston("print(1)").to_string();
    let mut s = std::net::TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(
        format!(
            "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert!(
        interim.starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    s.write_all(body.as_bytes()).unwrap();
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"stdout\":\"hi\\n\""), "{text}");
    assert!(exec.requests()[0].headers.get("expect").is_none());
}

#[test]
fn an_interim_answer_from_the_executor_is_not_taken_for_its_response() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut seen = Vec::new();
            let mut buf = [0u8; 8192];
            while !seen.ends_with(b"0\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let body = crate::support::mock::piston_result("after continue\n").to_string();
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    let gw = TestGateway::builder().upstream(addr).start();
    let r = post(&gw.url("/api/v2/execute"), &piston("print(1)"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["run"]["stdout"], "after continue\n");
}

#[test]
fn an_http_1_0_client_gets_a_body_it_can_read() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let body = piston("print(1)").to_string();
    let request = format!(
        "POST /api/v2/execute HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, text) = raw(gw.addr(), request.as_bytes());
    assert_eq!(status, 200, "{text}");
    assert!(
        !text
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "HTTP/1.0 has no chunked encoding: {text}"
    );
    let (_, payload) = text.split_once("\r\n\r\n").unwrap();
    let json: serde_json::Value = serde_json::from_str(payload).expect("the body is the JSON");
    assert_eq!(json["run"]["stdout"], "hi\n");
}
