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
