//! Accept-side hardening: header deadline, header size cap, connection cap.

use crate::support::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn a_client_dribbling_header_bytes_is_cut_off_without_holding_a_worker() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let addr = gw.addr();
    let (dribbling, started_dribbling) = std::sync::mpsc::channel();
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /api/v2/runtimes HTTP/1.1\r\n").unwrap();
        dribbling.send(()).unwrap();
        for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaa" {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
            if started.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
        let (status, text) = crate::support::http::read_response(&mut s);
        (status, text, started.elapsed())
    });
    // Meanwhile the gateway keeps serving others (the gateway runs one worker thread).
    started_dribbling.recv().unwrap();
    assert_eq!(
        post(&gw.url("/api/v2/execute"), &piston("print(1)")).status,
        200
    );
    let (status, text, took) = slow.join().unwrap();
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("\"code\":\"header_timeout\""), "{text}");
    assert!(
        took < Duration::from_secs(3),
        "cut off at the 1 s deadline, took {took:?}"
    );
}

#[test]
fn a_megabyte_of_headers_is_431_json() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let mut req = b"GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..1024 {
        req.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "a".repeat(1000)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let (status, text) = raw(gw.addr(), &req);
    assert_eq!(status, 431, "{}", &text[..text.len().min(300)]);
    assert!(text.contains("\"code\":\"headers_too_large\""));
    assert!(exec.requests().is_empty());
}

const LISTING: &[u8] = b"GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// A gateway with `cap` (a `[server]` line of 2 connections) and two idle
/// connections holding it; a third from this address is shown to get 503.
fn at_the_cap(exec: &MockExecutor, cap: &str) -> (TestGateway, Vec<TcpStream>) {
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("server", cap)
        .with("server", "header_timeout = \"3s\"")
        .start();
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(gw.addr()).unwrap())
        .collect();
    // Until the guard has accepted both, a third is still served (and closed).
    let mut refused = String::new();
    eventually("the held connections fill the cap", || {
        let (status, text) = raw(gw.addr(), LISTING);
        refused = text;
        status == 503
    });
    assert!(refused.contains("\"code\":\"overloaded\""), "{refused}");
    (gw, held)
}

#[test]
fn connections_over_the_cap_are_refused_with_503() {
    let exec = MockExecutor::start();
    let (gw, held) = at_the_cap(&exec, "max_connections = 2");
    drop(held);
    eventually("a freed slot serves again", || {
        get(&gw.url("/api/v2/runtimes")).status == 200
    });
}

#[test]
fn accept_side_refusals_are_counted() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let mut req = b"GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\n".to_vec();
    req.extend_from_slice(format!("X-Pad: {}\r\n\r\n", "a".repeat(40_000)).as_bytes());
    assert_eq!(raw(gw.addr(), &req).0, 431);
    let metrics = gw.metrics();
    assert!(
        metrics.contains("execgate_requests_total{decision=\"headers_too_large\"} 1"),
        "{metrics}"
    );
}

#[test]
fn blank_lines_before_the_request_line_do_not_end_the_header_deadline() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let started = Instant::now();
    let mut s = TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"\r\n\r\nGET /api/v2/runtimes HTTP/1.1\r\n")
        .unwrap();
    for b in b"X-Slow: aaaaaaaaaa" {
        if s.write_all(&[*b]).is_err() || started.elapsed() > Duration::from_secs(3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("\"code\":\"header_timeout\""), "{text}");
}

#[test]
fn one_address_cannot_take_every_connection() {
    let exec = MockExecutor::start();
    let (gw, _held) = at_the_cap(&exec, "max_connections_per_ip = 2");
    // Another address is still served.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(gw.addr()).await.unwrap().into_std().unwrap()
    });
    other.set_nonblocking(false).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut other = other;
    other.write_all(LISTING).unwrap();
    let (status, text) = crate::support::http::read_response(&mut other);
    assert_eq!(status, 200, "{text}");
}

/// Reads one chunked response off a kept-alive connection.
fn read_chunked_response(s: &mut TcpStream) -> (u16, String) {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n0\r\n\r\n") {
        match std::io::Read::read(s, &mut byte) {
            Ok(1) => out.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn a_later_head_on_a_kept_alive_connection_is_held_to_the_deadline_too() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("server", "header_timeout = \"2s\"")
        .start();
    let mut s = TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = piston("print(1)").to_string();
    // A first request, served, and the connection kept.
    s.write_all(
        format!(
            "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let (status, first) = read_chunked_response(&mut s);
    assert_eq!(status, 200, "{first}");
    // Then a second head, a byte at a time.
    let started = Instant::now();
    let mut cut = false;
    for b in b"GET /api/v2/runtimes HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa" {
        if s.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        if started.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    let mut rest = Vec::new();
    let closed = std::io::Read::read_to_end(&mut s, &mut rest).is_ok();
    assert!(
        cut || closed,
        "the connection stays open to a dribbled head"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "cut at the 2 s deadline, took {:?}",
        started.elapsed()
    );
    // Who cuts is a race: the guard's deadline runs from the head's first
    // byte, the proxy's idle keep-alive limit (the same 2 s) from the end of
    // the answer before, and the guard hands on no head before it is whole.
    // Either way the dribbled head held the connection no longer than the
    // deadline, which is what is asserted above.
}

#[test]
fn a_trusted_proxy_is_not_capped_per_address() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("server", "max_connections_per_ip = 2")
        .with("server", "header_timeout = \"3s\"")
        .with("identity", "trusted_proxies = [\"127.0.0.1/32\"]")
        .start();
    // Two connections kept open, each served once: both are surely counted.
    let _held: Vec<TcpStream> = (0..2)
        .map(|_| {
            served(
                gw.addr(),
                b"GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\n\r\n",
            )
        })
        .collect();
    let (status, text) = raw(gw.addr(), LISTING);
    assert_eq!(status, 200, "{text}");
}

#[test]
fn heads_with_bare_lf_line_ends_are_served_and_watched_like_any_other() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    served(
        gw.addr(),
        b"GET /api/v2/runtimes HTTP/1.1\nHost: x\nConnection: close\n\n",
    );
}

/// A connection on which `request` was sent and answered 200.
fn served(addr: std::net::SocketAddr, request: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let (status, text) = crate::support::http::read_response(&mut s);
    assert_eq!(status, 200, "{text}");
    s
}

/// Reads everything the server sends until it closes (or 5 s pass).
fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(s, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Requests sent before the answers to earlier ones are read are all
/// answered, in order, on the one connection (RFC 9112 §9.3.2).
#[test]
fn pipelined_requests_are_answered_in_order() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let mut s = TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = piston("print(1)").to_string();
    let execute = format!(
        "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut pipelined = Vec::new();
    pipelined.extend_from_slice(b"GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\n\r\n");
    pipelined.extend_from_slice(execute.as_bytes());
    pipelined.extend_from_slice(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(&pipelined).unwrap();
    let text = read_all(&mut s);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{text}");
    assert_eq!(exec.requests().len(), 2);
}

/// Heads the proxy would answer with a bare 400 of its own (no JSON, no
/// request id, no security headers) are refused by the guard in the
/// gateway's shape, and never reach the executor.
#[test]
fn malformed_heads_are_refused_in_the_gateways_json_shape() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let many = |n: usize| {
        let mut h = "GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\n".to_string();
        for i in 0..n {
            h.push_str(&format!("X-H-{i}: v\r\n"));
        }
        h + "\r\n"
    };
    let cases: Vec<(String, u16)> = vec![
        ("GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n".into(), 400),
        ("GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n".into(), 400),
        ("GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n".into(), 400),
        ("POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n".into(), 400),
        ("POST /api/v2/execute HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(), 400),
        ("GET /api/v2/runtimes http/1.1\r\nHost: x\r\n\r\n".into(), 400),
        (many(120), 431),
        (many(300), 431),
    ];
    for (head, status) in cases {
        let (got, text) = raw(gw.addr(), head.as_bytes());
        let shown = &text[..text.len().min(400)];
        assert_eq!(got, status, "{head:?}: {shown}");
        let (top, body) = text.split_once("\r\n\r\n").unwrap();
        let top = top.to_ascii_lowercase();
        for header in [
            "x-request-id:",
            "x-content-type-options: nosniff",
            "content-type: application/json",
        ] {
            assert!(top.contains(header), "{head:?}: no {header} in {shown}");
        }
        assert!(!top.contains("pingora"), "{shown}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        let code = if status == 400 {
            "invalid_request"
        } else {
            "headers_too_large"
        };
        assert_eq!(json["error"]["code"], code, "{head:?}");
    }
    assert!(exec.requests().is_empty());
}

/// A bad head after a served request on a kept-alive connection is answered
/// in the same JSON shape, after the answer to the request before it.
/// The header names of a raw response.
fn header_names(text: &str) -> std::collections::BTreeSet<String> {
    let (head, _) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_ascii_lowercase())
        .collect()
}

/// A refusal is rendered in one place: the accept guard's and a proxy
/// stage's carry the same headers, whichever of them refuses.
#[test]
fn the_guard_and_the_stages_refuse_with_the_same_headers() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let mut too_many = "GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\n".to_string();
    for i in 0..300 {
        too_many.push_str(&format!("X-H-{i}: v\r\n"));
    }
    too_many.push_str("\r\n");
    let (status, guard) = raw(gw.addr(), too_many.as_bytes());
    assert_eq!(status, 431, "{guard}");
    let (status, stage) = raw(gw.addr(), b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 404, "{stage}");
    let (guard, mut stage) = (header_names(&guard), header_names(&stage));
    // Pingora stamps every response it writes with the time.
    stage.remove("date");
    assert_eq!(guard, stage);
    for name in [
        "content-type",
        "content-length",
        "x-request-id",
        "x-content-type-options",
        "cache-control",
        "referrer-policy",
        "content-security-policy",
    ] {
        assert!(guard.contains(name), "{name} missing: {guard:?}");
    }
}

#[test]
fn a_malformed_later_head_is_answered_in_json_after_the_earlier_answer() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let mut s = TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v2/runtimes HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
        .unwrap();
    let text = read_all(&mut s);
    let first = text.find("HTTP/1.1 200").expect(&text);
    let second = text.find("HTTP/1.1 400").expect(&text);
    assert!(first < second, "{text}");
    assert!(
        text[second..].contains("\"code\":\"invalid_request\""),
        "{text}"
    );
    assert!(
        text[second..]
            .to_ascii_lowercase()
            .contains("x-request-id:"),
        "{text}"
    );
    assert_eq!(exec.requests().len(), 1);
}

/// RFC 9112 §3.2.2: an absolute-form target is served as its origin-form,
/// with the target's authority in place of any `Host` sent.
#[test]
fn absolute_form_targets_are_served() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let (status, text) = raw(
        gw.addr(),
        b"GET http://gateway.test/api/v2/runtimes HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(exec.requests()[0].path, "/api/v2/runtimes");
}

/// An HTTP/1.0 client cannot read chunked bodies: an answer without a length
/// must end with the connection, and must not say `keep-alive`.
#[test]
fn an_http_1_0_execution_answer_does_not_promise_keep_alive_without_a_length() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let body = piston("print(1)").to_string();
    let request = format!(
        "POST /api/v2/execute HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let text = read_all(&mut s);
    let (head, rest) = text.split_once("\r\n\r\n").expect(&text);
    let head = head.to_ascii_lowercase();
    assert!(
        head.starts_with("http/1.") && head.contains(" 200 "),
        "{text}"
    );
    let framed = head.contains("content-length:");
    assert!(
        framed || !head.contains("keep-alive"),
        "keep-alive without a length: {head}"
    );
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(rest.contains("\"stdout\""), "{text}");
}

/// A client that sends its request and closes its sending side (as `nc`
/// and scripted clients do) still gets the answer.
#[test]
fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder().upstream(exec.addr).start();
    let body = piston("print(1)").to_string();
    let mut s = TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        format!(
            "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let text = read_all(&mut s);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"stdout\""), "{text}");
}

#[test]
fn new_connections_past_the_accept_rate_of_an_address_are_refused() {
    let exec = MockExecutor::start();
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with("server", "accept_rate_per_ip = \"3/1h\"")
        .start();
    // Each connection is served and closed: only the rate of opening counts.
    let statuses: Vec<u16> = (0..4).map(|_| raw(gw.addr(), LISTING).0).collect();
    assert_eq!(statuses, [200, 200, 200, 503], "{statuses:?}");
    let (_, text) = raw(gw.addr(), LISTING);
    assert!(text.contains("\"code\":\"overloaded\""), "{text}");
    let metrics = gw.metrics();
    assert!(metrics.contains("decision=\"overloaded\""), "{metrics}");
}

#[test]
fn a_bad_accept_rate_is_a_file_line_error_naming_the_key() {
    let text =
        "[server]\naccept_rate_per_ip = \"many\"\n[upstream]\naddresses = [\"127.0.0.1:1\"]\n";
    let err = execgate::config::from_text(std::path::Path::new("gw.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("gw.toml:2: server.accept_rate_per_ip"),
        "{err}"
    );
}
