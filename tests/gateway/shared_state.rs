//! Two real gateway processes sharing one redis-server (`[state] backend = "redis"`).

use crate::support::gateway::{ADMIN_TOKEN, OUTPUT_RULES, SCREEN_RULES};
use crate::support::{self, MockExecutor};
use execgate_state::testing::{RedisServer, free_port};
use std::process::{Child, Command, Stdio};

/// An `execgate gateway` process, killed when dropped.
pub(crate) struct GatewayProcess {
    pub(crate) child: Child,
    pub(crate) proxy: u16,
    pub(crate) admin: u16,
    _dir: tempfile::TempDir,
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl GatewayProcess {
    /// A gateway in front of `exec` with `state` as its `[state]` section.
    pub(crate) fn start(exec: &MockExecutor, state: &str) -> Self {
        Self::start_with(exec, "", state)
    }

    /// [`start`](Self::start) with `server` added to the `[server]` section.
    pub(crate) fn start_with(exec: &MockExecutor, server: &str, state: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("screen")).unwrap();
        std::fs::write(dir.path().join("screen/test.toml"), SCREEN_RULES).unwrap();
        std::fs::write(dir.path().join("output.toml"), OUTPUT_RULES).unwrap();
        let (proxy, admin) = (free_port(), free_port());
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:{proxy}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n{server}\n\
             [upstream]\naddresses = [\"{}\"]\n\
             [rules]\nscreen = [\"screen\"]\noutput = [\"output.toml\"]\nwatch = false\n\
             [admin]\ntokens = [\"{ADMIN_TOKEN}\"]\n\
             [state]\n{state}\n",
            exec.addr
        );
        let path = dir.path().join("gw.toml");
        std::fs::write(&path, config).unwrap();
        let log = dir.path().join("stderr.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_execgate"))
            .args(["gateway", "--config"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // Ready: the admin listener answers once the proxy behind the guard listens.
        support::eventually("the gateway is ready", || {
            if let Ok(Some(status)) = child.try_wait() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("the gateway exited at start ({status}): {said}");
            }
            std::net::TcpStream::connect(("127.0.0.1", proxy)).is_ok()
                && support::get(&format!("http://127.0.0.1:{admin}/readyz")).status == 200
        });
        Self {
            child,
            proxy,
            admin,
            _dir: dir,
        }
    }

    fn execute(&self) -> u16 {
        let url = format!("http://127.0.0.1:{}/api/v2/execute", self.proxy);
        support::post(&url, &support::piston("print(1)")).status
    }

    fn block(&self, value: &str) {
        let added = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{}/v1/blocks", self.admin))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({"value": value, "duration": "1h", "reason": "test"}))
            .send()
            .unwrap();
        assert_eq!(added.status(), 201, "{}", added.text().unwrap());
    }

    fn listed(&self) -> serde_json::Value {
        reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}/v1/blocks", self.admin))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }
}

pub(crate) fn redis_state(server: &RedisServer) -> String {
    format!(
        "backend = \"redis\"\nurl = \"{}\"\nkey_prefix = \"gw{}\"\ncommand_timeout = \"2s\"",
        server.url(),
        free_port()
    )
}

#[test]
fn the_fourth_request_in_the_burst_is_refused_whichever_gateway_gets_it() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    let state = redis_state(&server);
    let (a, b) = (
        GatewayProcess::start(&exec, &state),
        GatewayProcess::start(&exec, &state),
    );
    // The anonymous tier allows a burst of 3 per 10 s.
    let statuses = [
        a.execute(),
        b.execute(),
        a.execute(),
        b.execute(),
        a.execute(),
    ];
    assert_eq!(statuses, [200, 200, 200, 429, 429], "{statuses:?}");
}

#[test]
fn a_block_posted_on_one_gateway_refuses_on_the_other() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    let state = redis_state(&server);
    let (a, b) = (
        GatewayProcess::start(&exec, &state),
        GatewayProcess::start(&exec, &state),
    );
    a.block("127.0.0.1");
    support::eventually("b refuses the client a blocked", || b.execute() == 403);
    let on_b = b.listed();
    assert!(
        on_b.to_string().contains("127.0.0.1"),
        "b lists the shared decision: {on_b}"
    );
}

#[test]
fn a_restarted_gateway_keeps_its_clients_counts() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    let state = redis_state(&server);
    let first = GatewayProcess::start(&exec, &state);
    assert_eq!(
        [first.execute(), first.execute(), first.execute()],
        [200; 3]
    );
    drop(first);
    let again = GatewayProcess::start(&exec, &state);
    assert_eq!(again.execute(), 429, "the restart forgot the burst");
}

impl GatewayProcess {
    pub(crate) fn metrics(&self) -> String {
        String::from_utf8(support::get(&format!("http://127.0.0.1:{}/metrics", self.admin)).body)
            .unwrap()
    }
}

#[test]
fn without_redis_requests_are_decided_locally_open_or_closed_and_the_backend_comes_back() {
    let mut server = RedisServer::start();
    let exec = MockExecutor::start();
    let base =
        redis_state(&server).replace("command_timeout = \"2s\"", "command_timeout = \"50ms\"");
    let open = GatewayProcess::start(&exec, &base);
    let closed = GatewayProcess::start(
        &exec,
        &format!("{base}\n[state.limits]\non_error = \"closed\"\n"),
    );
    assert_eq!(open.execute(), 200);
    server.kill();
    // Fail open: the local limiter's burst of 3 (local_share 1), then 429.
    let statuses: Vec<u16> = (0..4).map(|_| open.execute()).collect();
    assert_eq!(statuses, [200, 200, 200, 429], "{statuses:?}");
    assert_eq!(closed.execute(), 429, "fail closed refuses without Redis");
    support::eventually("the outage shows in the metrics", || {
        open.metrics().contains("execgate_state_backend_up 0")
    });
    assert!(
        open.metrics().contains(
            "execgate_state_fallback_decisions_total{concern=\"limits\",outcome=\"allowed\"} 3"
        ),
        "{}",
        open.metrics()
    );
    server.restart();
    support::eventually("the backend is back", || {
        closed.metrics().contains("execgate_state_backend_up 1")
    });
    support::eventually("decisions are shared again", || closed.execute() == 200);
}

#[test]
fn a_bad_state_section_is_a_file_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(
        &path,
        "[state]\nbackend = \"redis\"\nurl = \"http://localhost\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("gw.toml:3: state.url: must start with redis://, rediss://, unix://"),
        "{err}"
    );
}

#[test]
fn an_unreachable_redis_stops_the_gateway_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("screen")).unwrap();
    std::fs::write(dir.path().join("screen/test.toml"), SCREEN_RULES).unwrap();
    std::fs::write(dir.path().join("output.toml"), OUTPUT_RULES).unwrap();
    let path = dir.path().join("gw.toml");
    let url = format!("redis://127.0.0.1:{}", free_port());
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\n\
             [rules]\nscreen = [\"screen\"]\noutput = [\"output.toml\"]\nwatch = false\n\
             [state]\nbackend = \"redis\"\nurl = \"{url}\"\nconnect_timeout = \"500ms\"\n",
            free_port(),
            free_port()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .args(["gateway", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("state: cannot connect to Redis at {url}")),
        "{err}"
    );
}

impl GatewayProcess {
    fn execute_code(&self, code: &str) -> u16 {
        let url = format!("http://127.0.0.1:{}/api/v2/execute", self.proxy);
        support::post(&url, &support::piston(code)).status
    }

    fn client(&self, key: &str) -> serde_json::Value {
        reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}/v1/clients/{key}", self.admin))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }
}

#[test]
fn a_ban_earned_half_on_each_gateway_happens_once() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    let state = redis_state(&server);
    let (a, b) = (
        GatewayProcess::start(&exec, &state),
        GatewayProcess::start(&exec, &state),
    );
    // Refused code and rate-limit refusals, alternating between the gateways,
    // until the client is banned (403 from either, and then from both).
    let mut sent = 0;
    while !(a.execute_code("import os") == 403
        && b.execute_code("import os") == 403
        && a.client("ip:127.0.0.1")["reputation"]["offences"] == 1)
    {
        sent += 1;
        assert!(sent < 100, "never banned: {}", a.client("ip:127.0.0.1"));
    }
    for _ in 0..20 {
        a.execute_code("import os");
        b.execute_code("import os");
    }
    let anomaly_bans = |g: &GatewayProcess| {
        g.listed()["decisions"]
            .as_array()
            .map_or(0, |d| d.iter().filter(|d| d["origin"] == "anomaly").count())
    };
    assert_eq!(
        (anomaly_bans(&a), anomaly_bans(&b)),
        (1, 1),
        "{}",
        a.listed()
    );
    assert_eq!(b.client("ip:127.0.0.1")["reputation"]["offences"], 1);
}

impl GatewayProcess {
    fn events(&self) -> serde_json::Value {
        reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}/v1/events", self.admin))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }
}

/// Whether `events` (a JSON array) holds a `code_rejected` event.
fn has_code_rejected(events: &serde_json::Value) -> bool {
    events
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["kind"] == "code_rejected"))
}

#[test]
fn the_history_of_a_client_is_the_same_on_every_gateway() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    let state = redis_state(&server);
    let (a, b) = (
        GatewayProcess::start(&exec, &state),
        GatewayProcess::start(&exec, &state),
    );
    assert_eq!(a.execute_code("import os"), 403);
    support::eventually(
        "b shows the refusal a made, in the client's history",
        || has_code_rejected(&b.client("ip:127.0.0.1")["events"]),
    );
    support::eventually("b lists the refusal a made among recent events", || {
        has_code_rejected(&b.events()["events"])
    });
    let on_b = b.client("ip:127.0.0.1")["events"].clone();
    let from_a = on_b
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "code_rejected")
        .unwrap();
    let on_a = a.client("ip:127.0.0.1")["events"].clone();
    assert!(
        on_a.as_array().unwrap().contains(from_a),
        "one event, the same record on both: a {on_a}, b {on_b}"
    );
}

#[test]
fn reputation_failing_closed_refuses_while_redis_is_down_and_serves_when_it_returns() {
    let mut server = RedisServer::start();
    let exec = MockExecutor::start();
    let base =
        redis_state(&server).replace("command_timeout = \"2s\"", "command_timeout = \"50ms\"");
    let closed = GatewayProcess::start(
        &exec,
        &format!("{base}\n[state.reputation]\non_error = \"closed\"\n"),
    );
    let open = GatewayProcess::start(&exec, &base);
    assert_eq!(closed.execute(), 200);
    server.kill();
    support::eventually("the outage is noticed", || {
        closed.metrics().contains("execgate_state_backend_up 0")
    });
    let url = format!("http://127.0.0.1:{}/api/v2/execute", closed.proxy);
    let refused = support::post(&url, &support::piston("print(1)"));
    assert_eq!(refused.status, 503, "{}", refused.json());
    assert_eq!(refused.code(), "shared_state_unavailable");
    assert_eq!(refused.header("retry-after").as_deref(), Some("1"));
    assert!(
        closed.metrics().contains(
            "execgate_state_fallback_decisions_total{concern=\"reputation\",outcome=\"refused\"}"
        ),
        "{}",
        closed.metrics()
    );
    assert_eq!(open.execute(), 200, "failing open serves on local scores");
    server.restart();
    support::eventually("served again once Redis is back", || {
        closed.execute() == 200
    });
}

/// Whether the client's history on `g` holds an event of `kind`.
fn client_has_event(g: &GatewayProcess, kind: &str) -> bool {
    g.client("ip:127.0.0.1")["events"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["kind"] == kind))
}

#[test]
fn requests_spread_over_two_gateways_add_up_in_one_activity_window() {
    let server = RedisServer::start();
    let exec = MockExecutor::start();
    // Four requests an hour at most; three reach a, two reach b: only together
    // do they go over.
    let state = format!(
        "{}\n[reputation.activity]\nwindow = \"1h\"\nmax_requests = 4\nmax_error_ratio = 0.0\n",
        redis_state(&server)
    );
    let (a, b) = (
        GatewayProcess::start(&exec, &state),
        GatewayProcess::start(&exec, &state),
    );
    let statuses = [
        a.execute(),
        b.execute(),
        a.execute(),
        b.execute(),
        a.execute(),
    ];
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    support::eventually(
        "the fifth request of the window is a high request rate",
        || client_has_event(&b, "high_request_rate"),
    );
    let raised = |g: &GatewayProcess| {
        g.client("ip:127.0.0.1")["events"]
            .as_array()
            .map_or(0, |e| {
                e.iter()
                    .filter(|e| e["kind"] == "high_request_rate")
                    .count()
            })
    };
    assert_eq!(
        raised(&a),
        1,
        "one window, one event: {}",
        a.client("ip:127.0.0.1")
    );
}
