//! A gateway process whose Redis holds its commands (`CLIENT PAUSE`): a request
//! waiting on Redis holds no proxy thread, waits no longer than the configured
//! bound, and the scoring of a finished request does not hold up the next one
//! on its connection.

use crate::shared_state::{GatewayProcess, redis_state};
use crate::support::{self, MockExecutor};
use execgate_state::testing::RedisServer;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// Batch requests made to wait on Redis at once.
const WAITING: usize = 8;

/// Judge0 (whose batches are charged once their body is read) with room for every run.
const JUDGE0: &str = "[dialect]\nkind = \"judge0\"\n\
     [tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1000/10s\" }]\n";

/// `[state]` on `server`, with a request path waiting on Redis for at most
/// `bound` (a connection gives up on an answer only after the connect timeout).
fn state(server: &RedisServer, bound: &str) -> String {
    let state = redis_state(server).replace(
        "command_timeout = \"2s\"",
        &format!("command_timeout = \"{bound}\"\nconnect_timeout = \"30s\""),
    );
    format!("{state}\n{JUDGE0}")
}

/// A one-run Judge0 batch on a fresh connection, sent and not yet read.
fn send_batch(gw: &GatewayProcess) -> TcpStream {
    let body = r#"{"submissions":[{"source_code":"print(1)","language_id":71}]}"#;
    let mut conn = TcpStream::connect(("127.0.0.1", gw.proxy)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST /submissions/batch HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body.as_bytes()).unwrap();
    conn
}

/// A request no stage takes to Redis (an unknown path) gets its 404.
fn assert_a_client_needing_no_redis_is_answered(gw: &GatewayProcess) {
    let proxy = format!("127.0.0.1:{}", gw.proxy).parse().unwrap();
    let (status, _) = support::raw(
        proxy,
        b"GET /nowhere HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 404, "a client needing no Redis is answered");
}

/// The OS threads of the gateway process.
fn threads(gw: &GatewayProcess) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gw.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

/// A metric's value, summed over its labels (0 when absent).
fn metric(gw: &GatewayProcess, name: &str) -> f64 {
    gw.metrics()
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let value = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}

/// With one proxy worker and Redis holding every command for longer than the
/// test runs, eight batches wait on the limiter's read of their standing (made
/// before a batch's body is read). They hold no thread: the process has no
/// more threads than before, and a ninth client is answered while they wait.
/// A blocking read parks one thread per waiting request (Tokio's
/// `block_in_place` hands the worker's queue to a fresh thread each time), so
/// the thread count grew by the number of waiting requests. Each batch is
/// then answered once the bound passes, though Redis is still paused.
#[test]
fn requests_waiting_on_redis_hold_no_proxy_thread_and_wait_no_longer_than_the_bound() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    let gw = GatewayProcess::start_with(&exec, "threads = 1", &state(&server, "10s"));
    let (status, text) = support::http::read_response(&mut send_batch(&gw));
    assert_eq!(status, 200, "{text}");
    let before = threads(&gw);
    server.cli(&["client", "pause", "120000", "all"]);
    let waiting: Vec<TcpStream> = (0..WAITING).map(|_| send_batch(&gw)).collect();
    support::eventually("every batch waits on Redis", || {
        metric(&gw, "execgate_state_backend_calls_waiting") >= WAITING as f64
    });
    let grown = threads(&gw).saturating_sub(before);
    assert_a_client_needing_no_redis_is_answered(&gw);
    assert!(
        metric(&gw, "execgate_state_backend_calls_waiting") >= WAITING as f64,
        "the batches were still waiting"
    );
    assert!(
        grown < WAITING / 2,
        "{grown} more threads while {WAITING} requests wait on Redis"
    );
    for mut conn in waiting {
        let (status, text) = support::http::read_response(&mut conn);
        assert_eq!(status, 200, "answered past the bound: {text}");
    }
}

/// Pingora reads a kept-alive connection's next request only once the hook
/// that logs the last one returns, and that hook scores the request (a Redis
/// round trip per event). With Redis holding its writes, the scoring of a
/// refused request waits until the bound (10 s) fails it; the next request on
/// the same connection is answered before any call has failed, so it did not
/// wait for that scoring. The scoring is done once Redis answers.
#[test]
fn the_next_request_on_a_kept_alive_connection_does_not_wait_for_the_scoring_of_the_last() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    let gw = GatewayProcess::start(&exec, &state(&server, "10s"));
    let waiting = |gw: &GatewayProcess| metric(gw, "execgate_state_backend_calls_waiting");
    let failed = "execgate_state_backend_errors_total";
    let mut conn = TcpStream::connect(("127.0.0.1", gw.proxy)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let unknown = b"GET /nowhere HTTP/1.1\r\nHost: gw\r\n\r\n";
    server.cli(&["client", "pause", "120000", "write"]);
    conn.write_all(unknown).unwrap();
    assert_eq!(read_one(&mut conn), 404);
    support::eventually("the first request's scoring waits on Redis", || {
        waiting(&gw) >= 1.0
    });
    conn.write_all(unknown).unwrap();
    assert_eq!(read_one(&mut conn), 404, "the second request is answered");
    assert_eq!(
        metric(&gw, failed),
        0.0,
        "the second request was answered only once the first one's scoring failed"
    );
    server.cli(&["client", "unpause"]);
    support::eventually("the scoring is done once Redis answers", || {
        waiting(&gw) == 0.0
    });
    assert_eq!(metric(&gw, failed), 0.0, "nothing failed");
}

/// Reads one response with a Content-Length body from a kept-alive connection; its status.
fn read_one(conn: &mut TcpStream) -> u16 {
    use std::io::Read;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap();
        if body.len() >= length {
            return head.split_whitespace().nth(1).unwrap().parse().unwrap();
        }
    }
}

/// A batch's runs are charged once its body is decoded: a second call on
/// Redis, a write, after the read of its standing. With Redis holding its
/// writes (reads still answer) and a connection for each call (a read never
/// queues behind a held write on a shared one), eight batches read their
/// standing, then wait on their charge: they hold no thread meanwhile and a
/// ninth client is answered. A charge made through the blocking limiter
/// parked one thread per batch.
#[test]
fn a_batch_waiting_on_the_charge_of_its_runs_holds_no_proxy_thread() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    let state = state(&server, "5s").replacen(
        "connect_timeout = \"30s\"",
        "connect_timeout = \"30s\"\npool_size = 64",
        1,
    );
    let gw = GatewayProcess::start_with(&exec, "threads = 1", &state);
    let (status, text) = support::http::read_response(&mut send_batch(&gw));
    assert_eq!(status, 200, "{text}");
    let before = threads(&gw);
    let failed = "execgate_state_backend_errors_total";
    let failed_before = metric(&gw, failed);
    server.cli(&["client", "pause", "120000", "write"]);
    let waiting: Vec<TcpStream> = (0..WAITING).map(|_| send_batch(&gw)).collect();
    support::eventually("every batch waits on the charge of its runs", || {
        metric(&gw, "execgate_state_backend_calls_waiting") >= WAITING as f64
    });
    let grown = threads(&gw).saturating_sub(before);
    assert_eq!(
        metric(&gw, failed),
        failed_before,
        "no read of a standing had failed: the batches wait on their charge"
    );
    assert_a_client_needing_no_redis_is_answered(&gw);
    assert!(
        grown < WAITING / 2,
        "{grown} more threads while {WAITING} batches wait on their charge"
    );
    for mut conn in waiting {
        let (status, text) = support::http::read_response(&mut conn);
        assert_eq!(status, 200, "answered past the bound: {text}");
    }
}
