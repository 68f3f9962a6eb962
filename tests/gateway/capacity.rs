//! Capacity through the real gateway: the execution pool with its priority
//! queue, per-client caps, clients that leave the queue, and budgets charged
//! from the executor's verdict.

use crate::support::{Behaviour, MockExecutor, TestGateway, eventually, piston, post_with};
use axum::Router;
use axum::body::Bytes;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// An executor that holds every request until the test releases it.
struct HeldExecutor {
    addr: SocketAddr,
    arrived: Arc<AtomicUsize>,
    bodies: Arc<parking_lot::Mutex<Vec<String>>>,
    gate: Arc<Semaphore>,
    _runtime: tokio::runtime::Runtime,
}

impl HeldExecutor {
    fn start() -> Self {
        let arrived = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let gate = Arc::new(Semaphore::new(0));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (a, b, g) = (arrived.clone(), bodies.clone(), gate.clone());
        // Health probes (runtimes) answer at once; executions wait for the gate.
        let app = Router::new().fallback(|| async { axum::Json(serde_json::json!([])) });
        let app = app.route(
            "/api/v2/execute",
            axum::routing::post(move |body: Bytes| {
                let (a, b, g) = (a.clone(), b.clone(), g.clone());
                async move {
                    b.lock().push(String::from_utf8_lossy(&body).into_owned());
                    a.fetch_add(1, Ordering::SeqCst);
                    g.acquire().await.unwrap().forget();
                    axum::Json(serde_json::json!({
                        "language": "python", "version": "3.10.0",
                        "run": {"stdout": "", "stderr": "", "code": 0, "signal": null, "output": "",
                                "cpu_time": 10, "wall_time": 20, "memory": 1000}
                    }))
                }
            }),
        );
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            arrived,
            bodies,
            gate,
            _runtime: runtime,
        }
    }

    fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }
}

fn key_hash(key: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()))
}

/// API keys `p1-key…`, `p2-key…` (paid) and `f-key…` (free).
fn keys() -> String {
    let mut text = String::new();
    for (client, tier) in [("p1", "paid"), ("p2", "paid"), ("f", "free")] {
        text.push_str(&format!(
            "[[identity.api_keys]]\nsha256 = \"{}\"\nclient = \"{client}\"\ntier = \"{tier}\"\n\n",
            key_hash(&format!("{client}-key-0123456789"))
        ));
    }
    text
}

fn gateway(upstream: SocketAddr, capacity: &str) -> TestGateway {
    builder(upstream, capacity).start()
}

fn builder(upstream: SocketAddr, capacity: &str) -> crate::support::gateway::GatewayBuilder {
    TestGateway::builder()
        .upstream(upstream)
        // Held runs outlast the test defaults' short executor timeouts.
        .with("upstream", "read_timeout = \"60s\"")
        .with("upstream", "total_timeout = \"60s\"")
        .raw(&keys())
        .raw(&format!(
            "[capacity]\nenabled = true\nusage_file = \"\"\n{capacity}"
        ))
}

/// Runs `code` as `client` on a thread of its own; the reply's status.
fn spawn_run(gw: &TestGateway, client: &str, code: &str) -> std::thread::JoinHandle<u16> {
    let url = gw.url("/api/v2/execute");
    let body = piston(code).to_string().into_bytes();
    let key = format!("{client}-key-0123456789");
    std::thread::spawn(move || post_with(&url, body, &[("x-api-key", key.as_str())]).status)
}

fn metric(gw: &TestGateway, line_start: &str) -> Option<f64> {
    gw.metrics()
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn queued(gw: &TestGateway, tier: &str) -> f64 {
    metric(gw, &format!("execgate_queue_length{{tier=\"{tier}\"}}")).unwrap_or(0.0)
}

const POOL_OF_TWO: &str =
    "pool_max = 2\n[capacity.tiers.paid]\nper_client = 8\n[capacity.tiers.free]\nper_client = 2\n";

#[test]
fn with_a_pool_of_two_two_paid_runs_go_while_a_free_one_waits_then_runs() {
    let exec = HeldExecutor::start();
    let gw = gateway(exec.addr, POOL_OF_TWO);
    let p1 = spawn_run(&gw, "p1", "print('p1')");
    let p2 = spawn_run(&gw, "p2", "print('p2')");
    eventually("both paid runs reach the executor", || exec.arrived() == 2);
    let free = spawn_run(&gw, "f", "print('free')");
    eventually("the free run waits in the queue", || {
        queued(&gw, "free") == 1.0
    });
    assert_eq!(exec.arrived(), 2, "the free run passed the full pool");
    exec.release(1);
    eventually("the free run reaches the executor", || exec.arrived() == 3);
    assert_eq!(queued(&gw, "free"), 0.0);
    assert!(exec.bodies.lock()[2].contains("free"));
    exec.release(2);
    assert_eq!(
        [p1.join().unwrap(), p2.join().unwrap(), free.join().unwrap()],
        [200; 3]
    );
    let waits = metric(&gw, "execgate_queue_wait_seconds_count{tier=\"free\"}");
    assert_eq!(waits, Some(1.0));
}

#[test]
fn a_queued_client_that_disconnects_frees_its_place() {
    let exec = HeldExecutor::start();
    // Straight to the proxy: the accept guard keeps a half-closed client's
    // connection open until earlier answers are out, so the proxy would not
    // see this client go.
    let gw = builder(
        exec.addr,
        "pool_max = 1\n[capacity.tiers.free]\nper_client = 2\n",
    )
    .with("server", "accept_guard = false")
    .start();
    let p1 = spawn_run(&gw, "p1", "print('p1')");
    eventually("the paid run holds the pool", || exec.arrived() == 1);
    let body = piston("print('leaver')").to_string();
    let mut socket = std::net::TcpStream::connect(gw.addr()).unwrap();
    write!(
        socket,
        "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Api-Key: f-key-0123456789\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    eventually("the client waits in the queue", || {
        queued(&gw, "free") == 1.0
    });
    drop(socket);
    eventually("the client left the queue", || queued(&gw, "free") == 0.0);
    exec.release(1);
    assert_eq!(p1.join().unwrap(), 200);
    // The pool is free again, and the departed request never reached the executor.
    let next = spawn_run(&gw, "f", "print('next')");
    eventually("the next run reaches the executor", || exec.arrived() == 2);
    exec.release(1);
    assert_eq!(next.join().unwrap(), 200);
    assert!(exec.bodies.lock().iter().all(|b| !b.contains("leaver")));
}

/// Sends a free run on a socket of its own, as a client the test can drop.
fn queue_raw(gw: &TestGateway, code: &str) -> std::net::TcpStream {
    let body = piston(code).to_string();
    let mut socket = std::net::TcpStream::connect(gw.addr()).unwrap();
    write!(
        socket,
        "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Api-Key: f-key-0123456789\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    socket
}

/// Regression: behind the accept guard (the default) the proxy never reads a
/// queued client's end, held back until its request is answered, so the
/// client kept its place until `queue_wait_max`.
#[test]
fn a_queued_client_that_disconnects_behind_the_accept_guard_leaves_at_once() {
    let exec = HeldExecutor::start();
    // A wait far past the test's patience: only the departure can free the place.
    let gw = gateway(
        exec.addr,
        "pool_max = 1\n[capacity.tiers.free]\nper_client = 2\nqueue_wait_max = \"1h\"\n",
    );
    let p1 = spawn_run(&gw, "p1", "print('p1')");
    eventually("the paid run holds the pool", || exec.arrived() == 1);
    let leaver = queue_raw(&gw, "print('leaver')");
    eventually("the leaver waits in the queue", || {
        queued(&gw, "free") == 1.0
    });
    let next = spawn_run(&gw, "f", "print('next')");
    eventually("the next client queues behind it", || {
        queued(&gw, "free") == 2.0
    });
    drop(leaver);
    eventually("the leaver left the queue", || queued(&gw, "free") == 1.0);
    exec.release(1);
    assert_eq!(p1.join().unwrap(), 200);
    eventually("the next run reaches the executor", || exec.arrived() == 2);
    assert!(exec.bodies.lock()[1].contains("next"));
    exec.release(1);
    assert_eq!(next.join().unwrap(), 200);
    assert!(exec.bodies.lock().iter().all(|b| !b.contains("leaver")));
}

/// A client that only shuts its sending side while queued leaves too (it
/// cannot be told from one that closed); the run never reaches the executor
/// and the connection is closed without an answer.
#[test]
fn a_queued_client_that_half_closes_leaves_the_queue() {
    let exec = HeldExecutor::start();
    let gw = gateway(
        exec.addr,
        "pool_max = 1\n[capacity.tiers.free]\nper_client = 2\nqueue_wait_max = \"1h\"\n",
    );
    let p1 = spawn_run(&gw, "p1", "print('p1')");
    eventually("the paid run holds the pool", || exec.arrived() == 1);
    let mut leaver = queue_raw(&gw, "print('leaver')");
    eventually("the leaver waits in the queue", || {
        queued(&gw, "free") == 1.0
    });
    leaver.shutdown(std::net::Shutdown::Write).unwrap();
    eventually("the leaver left the queue", || queued(&gw, "free") == 0.0);
    let mut answer = Vec::new();
    leaver
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let _ = std::io::Read::read_to_end(&mut leaver, &mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    exec.release(1);
    assert_eq!(p1.join().unwrap(), 200);
    assert_eq!(exec.arrived(), 1, "the departed run reached the executor");
}

#[test]
fn a_client_over_its_refusing_cap_gets_429_concurrency_limited() {
    let exec = HeldExecutor::start();
    let gw = gateway(
        exec.addr,
        "pool_max = 4\n[capacity.tiers.free]\nper_client = 1\nover_client_cap = \"refuse\"\nqueue_max = 0\n",
    );
    let first = spawn_run(&gw, "f", "print(1)");
    eventually("the first run is running", || exec.arrived() == 1);
    let second = post_with(
        &gw.url("/api/v2/execute"),
        piston("print(2)").to_string().into_bytes(),
        &[("x-api-key", "f-key-0123456789")],
    );
    assert_eq!(
        (second.status, second.code()),
        (429, "concurrency_limited".to_string())
    );
    assert_eq!(second.header("retry-after").as_deref(), Some("1"));
    exec.release(1);
    assert_eq!(first.join().unwrap(), 200);
    assert_eq!(exec.arrived(), 1);
}

#[test]
fn a_spent_budget_refuses_with_402_until_the_next_utc_day() {
    let result = serde_json::json!({
        "language": "python", "version": "3.10.0",
        "run": {"stdout": "", "stderr": "", "code": 0, "signal": null, "output": "",
                "cpu_time": 2000, "wall_time": 2100, "memory": 1000}
    });
    let exec = MockExecutor::with(Behaviour::json(200, result.to_string()));
    let gw = gateway(
        exec.addr,
        "[capacity.tiers.free]\nbudget_daily = 3.0\nat_budget = \"refuse\"\nrefuse_status = 402\n\n[[capacity.price]]\nper_cpu_second = 1.0\n",
    );
    let run = || {
        post_with(
            &gw.url("/api/v2/execute"),
            piston("print(1)").to_string().into_bytes(),
            &[("x-api-key", "f-key-0123456789")],
        )
    };
    // 2 credits, then 4: the second run is never stopped for going past 3.
    assert_eq!(run().status, 200);
    assert_eq!(run().status, 200);
    let refused = run();
    assert_eq!(
        (refused.status, refused.code()),
        (402, "budget_exhausted".to_string())
    );
    let resets = refused.json()["error"]["resets_at_unix"].as_u64().unwrap();
    assert_eq!(resets % 86_400, 0, "resets at UTC midnight");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(exec.requests().len(), 2);
    gw.clock.advance(Duration::from_secs(86_400));
    assert_eq!(run().status, 200);
    let cost = metric(
        &gw,
        "execgate_cost_credits_total{language=\"python\",tier=\"free\"}",
    );
    assert_eq!(cost, Some(6.0));
}

#[test]
fn the_admin_api_shows_usage_top_spenders_and_the_pool_and_sets_budgets() {
    let result = serde_json::json!({
        "language": "python", "version": "3.10.0",
        "run": {"stdout": "", "stderr": "", "code": 0, "signal": null, "output": "",
                "cpu_time": 1500, "wall_time": 1600, "memory": 1000}
    });
    let exec = MockExecutor::with(Behaviour::json(200, result.to_string()));
    let gw = builder(
        exec.addr,
        "pool_max = 3\n[[capacity.price]]\nper_cpu_second = 1.0\n",
    )
    .with_admin_token()
    .start();
    let run = |client: &str| {
        post_with(
            &gw.url("/api/v2/execute"),
            piston("print(1)").to_string().into_bytes(),
            &[("x-api-key", &format!("{client}-key-0123456789"))],
        )
        .status
    };
    assert_eq!([run("p1"), run("p1"), run("f")], [200; 3]);
    let admin = |method: reqwest::Method, path: &str| {
        let r = gw.admin(method, path).send().unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().unwrap())
    };
    let (status, usage) = admin(
        reqwest::Method::GET,
        "/v1/usage?client=client:p1&period=month",
    );
    assert_eq!(status, 200);
    assert_eq!(usage["usage"]["credits"], 3.0);
    assert_eq!(usage["usage"]["executions"], 2);
    assert_eq!(usage["usage"]["cpu_ms"], 3000);
    let (_, global) = admin(reqwest::Method::GET, "/v1/usage");
    assert_eq!(global["usage"]["credits"], 4.5);
    let (_, top) = admin(reqwest::Method::GET, "/v1/usage/top?period=day");
    let order: Vec<_> = top["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client"].clone())
        .collect();
    assert_eq!(order, ["client:p1", "client:f"]);
    let (_, status) = admin(reqwest::Method::GET, "/v1/status");
    assert_eq!(status["capacity"]["pool"]["total"], 3);
    assert_eq!(status["capacity"]["pool"]["in_flight"], 0);
    let r = gw
        .admin(reqwest::Method::PUT, "/v1/budgets/client:f")
        .json(&serde_json::json!({"budget_daily": 1.0}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // f has spent 1.5 of its new daily 1.0: the next run is refused.
    assert_eq!(run("f"), 402);
    let bad = gw
        .admin(reqwest::Method::PUT, "/v1/budgets/client:f")
        .json(&serde_json::json!({"budget_daily": -1.0}))
        .send()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let (status, err) = admin(reqwest::Method::GET, "/v1/usage?period=year");
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (400, "invalid_request".into())
    );
}

#[test]
fn capacity_errors_in_the_config_name_file_line_and_key() {
    let text = "[capacity]\nenabled = true\n\n[[capacity.price]]\ntier = \"paid\"\nper_cpu_second = -0.5\n\n[[capacity.webhook]]\nurl = \"http://169.254.169.254/hook\"\n";
    let err = execgate::config::from_text(std::path::Path::new("gw.toml"), text)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "gw.toml:6: capacity.price[0].per_cpu_second: -0.5 is not an amount of credits (0 to 1000000000)"
    );
    let text = "[[capacity.price]]\nlanguage = \"cobol\"\n";
    let err = execgate::config::from_text(std::path::Path::new("gw.toml"), text)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "gw.toml:2: capacity.price[0].language: unknown language \"cobol\""
    );
    let text = "[capacity.tiers.gold]\nper_client = 2\n";
    let err = execgate::config::from_text(std::path::Path::new("gw.toml"), text)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "gw.toml:1: capacity.tiers.gold: unknown tier \"gold\"");
}

#[test]
fn the_usage_commands_read_the_admin_api() {
    let exec = MockExecutor::with(Behaviour::json(
        200,
        serde_json::json!({"run": {"stdout": "", "cpu_time": 250, "wall_time": 300, "memory": 10}})
            .to_string(),
    ));
    let gw = builder(exec.addr, "[[capacity.price]]\nper_cpu_second = 1.0\n")
        .with_admin_token()
        .start();
    let run = post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        &[("x-api-key", "p1-key-0123456789")],
    );
    assert_eq!(run.status, 200);
    let execgate = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_execgate"))
            .args(args)
            .env("EXECGATE_ADMIN_URL", gw.admin_url(""))
            .env("EXECGATE_ADMIN_TOKEN", crate::support::ADMIN_TOKEN)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        execgate(&["usage", "show", "client:p1"]),
        "client:p1  credits 0.250000  executions 1  cpu 0.250s  wall 0.300s  estimated 0\n"
    );
    let top: serde_json::Value =
        serde_json::from_str(&execgate(&["usage", "top", "--period", "month", "--json"])).unwrap();
    assert_eq!(top["clients"][0]["client"], "client:p1");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Through the bundled runner: the figure comes from the runner's verdict, so
/// a program that burns CPU costs more than `print(1)`.
#[test]
fn through_the_bundled_runner_a_cpu_heavy_program_costs_more_than_print_1() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let (proxy, admin, runner) = (free_port(), free_port(), free_port());
    let gateway = std::fs::read_to_string(root.join("config/execgate.toml"))
        .unwrap()
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{proxy}"))
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{admin}"))
        .replace("127.0.0.1:2358", &format!("127.0.0.1:{runner}"))
        .replace("\"../rules/", &format!("\"{}/rules/", root.display()))
        .replace("\"../state/", "\"state/")
        .replace("[capacity]\n", "[capacity]\nenabled = true\n")
        .replace("\nenabled = false\n", "\n");
    let gateway = format!("{gateway}\n[[capacity.price]]\nper_cpu_second = 1.0\n");
    let runner_config = std::fs::read_to_string(root.join("config/runner.toml"))
        .unwrap()
        .replace("127.0.0.1:2358", &format!("127.0.0.1:{runner}"));
    std::fs::write(dir.path().join("execgate.toml"), gateway).unwrap();
    std::fs::write(dir.path().join("runner.toml"), runner_config).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_execgate"))
        .arg("up")
        .arg("--config")
        .arg(dir.path().join("execgate.toml"))
        .arg("--runner-config")
        .arg(dir.path().join("runner.toml"))
        .env("EXECGATE_ADMIN_TOKEN", crate::support::ADMIN_TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _up = Kill(child);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let admin_get = |path: &str| {
        http.get(format!("http://127.0.0.1:{admin}{path}"))
            .bearer_auth(crate::support::ADMIN_TOKEN)
            .send()
            .ok()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !admin_get("/readyz").is_some_and(|r| r.status().is_success()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the runner never became ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let spent = || {
        let u: serde_json::Value = admin_get("/v1/usage?client=ip:127.0.0.1")
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(
            u["usage"]["estimated"], 0,
            "figures come from the verdict: {u}"
        );
        u["usage"]["credits"].as_f64().unwrap()
    };
    let run = |code: &str| {
        let r = http
            .post(format!("http://127.0.0.1:{proxy}/api/v2/execute"))
            .json(&serde_json::json!({"language": "python", "version": "*", "files": [{"content": code}]}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    };
    run("print(1)");
    let light = spent();
    assert!(light > 0.0, "print(1) is charged its CPU time");
    run("s = 0\nfor i in range(5_000_000):\n    s += i * i\nprint(s)\n");
    let heavy = spent() - light;
    assert!(heavy > light * 2.0, "heavy {heavy} vs print(1) {light}");
}

#[test]
fn a_verdict_without_cost_fields_is_charged_as_estimated() {
    let exec = MockExecutor::with(Behaviour::json(
        200,
        crate::support::mock::piston_result("1\n").to_string(),
    ));
    let gw = builder(exec.addr, "[[capacity.price]]\nper_request = 0.5\n")
        .with_admin_token()
        .start();
    let run = post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        &[("x-api-key", "p1-key-0123456789")],
    );
    assert_eq!(run.status, 200);
    let u: serde_json::Value = gw
        .admin(reqwest::Method::GET, "/v1/usage?client=client:p1")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (
            u["usage"]["credits"].as_f64(),
            u["usage"]["estimated"].as_u64()
        ),
        (Some(0.5), Some(1))
    );
}

/// A verdict of 2 CPU-seconds and 3 wall-seconds.
fn two_cpu_seconds() -> MockExecutor {
    let result = serde_json::json!({
        "language": "python", "version": "3.10.0",
        "run": {"stdout": "", "stderr": "", "code": 0, "signal": null, "output": "",
                "cpu_time": 2000, "wall_time": 3000, "memory": 1000}
    });
    MockExecutor::with(Behaviour::json(200, result.to_string()))
}

fn run_in(gw: &TestGateway, headers: &[(&str, &str)]) -> crate::support::Reply {
    post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        headers,
    )
}

#[test]
fn sessions_hit_their_caps_independently_of_each_other() {
    let exec = two_cpu_seconds();
    let gw = builder(
        exec.addr,
        "[capacity.tiers.paid]\nsession_executions = 3\nsession_cpu_seconds = 3.0\n",
    )
    .with_admin_token()
    .start();
    let key = ("x-api-key", "p1-key-0123456789");
    let in_session = |sid: &str| run_in(&gw, &[key, ("x-session-id", sid)]);
    // 2 CPU-seconds, then 4: the cap of 3 refuses the third run of the session.
    assert_eq!(in_session("exam-1").status, 200);
    assert_eq!(in_session("exam-1").status, 200);
    let refused = in_session("exam-1");
    assert_eq!(
        (refused.status, refused.code()),
        (429, "session_limit".to_string())
    );
    assert_eq!(refused.json()["error"]["reason"], "cpu_seconds");
    assert!(refused.header("retry-after").is_some());
    // Another session of the same client, and runs outside any session, go on.
    assert_eq!(in_session("exam-2").status, 200);
    assert_eq!(run_in(&gw, &[key]).status, 200);
    assert_eq!(exec.requests().len(), 4);
    let r = gw
        .admin(reqwest::Method::GET, "/v1/usage?client=client:p1")
        .send()
        .unwrap();
    let view: serde_json::Value = r.json().unwrap();
    let sessions = view["sessions"].as_array().unwrap();
    let summary: Vec<_> = sessions
        .iter()
        .map(|s| {
            (
                s["id"].clone(),
                s["executions"].clone(),
                s["cpu_ms"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("exam-1".into(), 2.into(), 4000.into()),
            ("exam-2".into(), 1.into(), 2000.into())
        ]
    );
}

#[test]
fn a_session_idle_past_its_expiry_starts_afresh() {
    let exec = two_cpu_seconds();
    let gw = gateway(
        exec.addr,
        "[capacity.sessions]\nidle = \"10m\"\n[capacity.tiers.free]\nsession_executions = 1\n",
    );
    let headers = [("x-api-key", "f-key-0123456789"), ("x-session-id", "s")];
    assert_eq!(run_in(&gw, &headers).status, 200);
    let refused = run_in(&gw, &headers);
    assert_eq!(refused.json()["error"]["reason"], "executions");
    assert_eq!(refused.header("retry-after").as_deref(), Some("600"));
    gw.clock.advance(Duration::from_secs(601));
    assert_eq!(run_in(&gw, &headers).status, 200);
}

#[test]
fn a_client_may_hold_only_so_many_sessions() {
    let exec = two_cpu_seconds();
    let gw = gateway(exec.addr, "[capacity.sessions]\nper_client_max = 2\n");
    let key = ("x-api-key", "f-key-0123456789");
    for sid in ["a", "b"] {
        assert_eq!(run_in(&gw, &[key, ("x-session-id", sid)]).status, 200);
    }
    let refused = run_in(&gw, &[key, ("x-session-id", "c")]);
    assert_eq!(
        (refused.status, refused.json()["error"]["reason"].clone()),
        (429, "sessions_per_client".into())
    );
    assert_eq!(run_in(&gw, &[key, ("x-session-id", "a")]).status, 200);
}

#[test]
fn malformed_session_ids_are_a_400_before_any_run() {
    let exec = two_cpu_seconds();
    let gw = gateway(exec.addr, "");
    let key = ("x-api-key", "f-key-0123456789");
    let long = "x".repeat(65);
    for bad in [long.as_str(), "a b", "a/b", ""] {
        let r = run_in(&gw, &[key, ("x-session-id", bad)]);
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request".to_string()),
            "{bad:?}"
        );
        assert_eq!(r.json()["error"]["field"], "X-Session-Id");
    }
    let twice = run_in(&gw, &[key, ("x-session-id", "a"), ("x-session-id", "b")]);
    assert_eq!(twice.status, 400);
    assert_eq!(exec.requests().len(), 0);
}

#[test]
fn a_tokens_sid_claim_names_the_session_and_a_contradicting_header_is_refused() {
    use jsonwebtoken::{EncodingKey, Header, encode};
    const SECRET: &str = "0123456789abcdef0123456789abcdef-secret";
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let token = |sid: serde_json::Value| {
        let claims = serde_json::json!({"sub": "u1", "tier": "paid", "exp": exp, "sid": sid});
        let t = encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        format!("Bearer {t}")
    };
    let exec = two_cpu_seconds();
    let gw = builder(exec.addr, "[capacity.tiers.paid]\nsession_executions = 1\n")
        .raw(&format!(
            "[identity.jwt]\nalgorithm = \"HS256\"\nsecret = \"{SECRET}\"\n"
        ))
        .start();
    let (one, two) = (token("one".into()), token("two".into()));
    assert_eq!(run_in(&gw, &[("authorization", &one)]).status, 200);
    let refused = run_in(&gw, &[("authorization", &one)]);
    assert_eq!(
        (refused.status, refused.code()),
        (429, "session_limit".to_string())
    );
    // The header agrees with the token: the same spent session.
    let same = run_in(&gw, &[("authorization", &one), ("x-session-id", "one")]);
    assert_eq!(same.code(), "session_limit");
    // A header cannot move a token's runs to a fresh session.
    let moved = run_in(&gw, &[("authorization", &one), ("x-session-id", "fresh")]);
    assert_eq!(
        (moved.status, moved.code()),
        (400, "invalid_request".to_string())
    );
    assert_eq!(run_in(&gw, &[("authorization", &two)]).status, 200);
    let bad = run_in(&gw, &[("authorization", &token("no way".into()))]);
    assert_eq!(
        (bad.status, bad.json()["error"]["field"].clone()),
        (400, "sid".into())
    );
    let not_text = run_in(&gw, &[("authorization", &token(7.into()))]);
    assert_eq!(
        (not_text.status, not_text.json()["error"]["field"].clone()),
        (400, "sid".into())
    );
    assert_eq!(exec.requests().len(), 2);
}

/// A webhook receiver on a free port: every JSON body it is sent, in order.
struct HookReceiver {
    url: String,
    bodies: Arc<parking_lot::Mutex<Vec<serde_json::Value>>>,
    _runtime: tokio::runtime::Runtime,
}

impl HookReceiver {
    fn start() -> Self {
        let bodies = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let b = bodies.clone();
        let app = Router::new().route(
            "/hook",
            axum::routing::post(move |body: Bytes| {
                let b = b.clone();
                async move {
                    b.lock().push(serde_json::from_slice(&body).unwrap());
                    axum::http::StatusCode::OK
                }
            }),
        );
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url,
            bodies,
            _runtime: runtime,
        }
    }

    /// The bodies of `event` received so far.
    fn of(&self, event: &str) -> Vec<serde_json::Value> {
        self.bodies
            .lock()
            .iter()
            .filter(|b| b["event"] == event)
            .cloned()
            .collect()
    }

    fn webhook(&self) -> String {
        format!("[[capacity.webhook]]\nurl = \"{}\"\n", self.url)
    }
}

#[test]
fn refusals_past_the_threshold_in_a_minute_send_one_refusal_spike_alert() {
    let hook = HookReceiver::start();
    let exec = MockExecutor::start();
    let gw = gateway(
        exec.addr,
        &format!(
            "[capacity.alerts]\nrefusal_spike_per_minute = 3\n{}",
            hook.webhook()
        ),
    );
    let key = ("x-api-key", "p1-key-0123456789");
    let bad = || post_with(&gw.url("/api/v2/execute"), b"{not json".to_vec(), &[key]);
    for _ in 0..5 {
        assert_eq!(bad().status, 400);
    }
    eventually("the spike is alerted", || {
        hook.of("refusal_spike").len() == 1
    });
    // The next minute counts afresh; its alert comes after any stray second
    // alert of the first minute would have (one delivery thread, in order).
    gw.clock.advance(Duration::from_secs(60));
    for _ in 0..3 {
        assert_eq!(bad().status, 400);
    }
    eventually("the next minute's spike is alerted", || {
        hook.of("refusal_spike").len() >= 2
    });
    let spikes = hook.of("refusal_spike");
    assert_eq!(spikes.len(), 2, "{spikes:?}");
    assert_eq!(spikes[0]["threshold"], 3);
    assert_ne!(spikes[0]["minute_ms"], spikes[1]["minute_ms"]);
}

#[test]
fn a_ban_issued_by_reputation_is_alerted() {
    let hook = HookReceiver::start();
    let exec = MockExecutor::start();
    let gw = builder(exec.addr, &hook.webhook())
        .with("reputation", "ban_threshold = 3.0")
        .start();
    eventually("the client is banned", || {
        post_with(
            &gw.url("/api/v2/execute"),
            piston("print(1)").to_string().into_bytes(),
            &[],
        )
        .is_anomaly_ban()
    });
    eventually("the ban is alerted", || !hook.of("ban_issued").is_empty());
    let ban = &hook.of("ban_issued")[0];
    assert_eq!(ban["client"], "ip:127.0.0.1");
    assert!(ban["seconds"].as_u64().unwrap() > 0, "{ban}");
}

#[test]
fn an_executor_going_down_and_coming_back_is_alerted() {
    let hook = HookReceiver::start();
    let exec = MockExecutor::start();
    let gw = builder(exec.addr, &hook.webhook())
        .with("upstream", "health_check_interval = \"100ms\"")
        .with("upstream", "failure_threshold = 2")
        .with("upstream", "success_threshold = 1")
        .start();
    exec.set(Behaviour::FailingRuns(502));
    let key = ("x-api-key", "p1-key-0123456789");
    eventually("failed runs take the executor down", || {
        post_with(
            &gw.url("/api/v2/execute"),
            piston("print(1)").to_string().into_bytes(),
            &[key],
        );
        !hook.of("executor_down").is_empty()
    });
    // Its probes pass: the breaker closes again.
    eventually("the executor is back", || {
        !hook.of("executor_back").is_empty()
    });
    let addr = exec.addr.to_string();
    assert_eq!(hook.of("executor_down")[0]["executor"], addr.as_str());
    assert_eq!(hook.of("executor_back")[0]["executor"], addr.as_str());
}

#[test]
fn withheld_output_is_alerted_without_the_output() {
    let hook = HookReceiver::start();
    let rules = format!(
        "{}\n[[leak]]\nid = \"test-passwd\"\nseverity = \"critical\"\nmessage = \"passwd lines\"\nregex = '''(?m)^root:x:0:0:'''\n",
        crate::support::gateway::OUTPUT_RULES
    );
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: "root:x:0:0:root:/root:/bin/bash\n".into(),
    });
    let gw = builder(exec.addr, &hook.webhook())
        .file("output.toml", rules)
        .start();
    let r = post_with(
        &gw.url("/api/v2/execute"),
        piston("print(1)").to_string().into_bytes(),
        &[("x-api-key", "p1-key-0123456789")],
    );
    assert!(
        r.json()["run"]["stdout"]
            .as_str()
            .unwrap()
            .starts_with("[execgate: output withheld")
    );
    eventually("the leak is alerted", || {
        !hook.of("leak_withheld").is_empty()
    });
    let leak = &hook.of("leak_withheld")[0];
    assert_eq!(leak["client"], "client:p1");
    assert!(leak["leak_score"].as_u64().unwrap() > 0);
    assert!(!leak.to_string().contains("root:x"), "{leak}");
}

#[test]
fn a_run_that_waited_says_the_queue_position_it_entered_at() {
    let exec = HeldExecutor::start();
    let gw = gateway(
        exec.addr,
        "pool_max = 1\n[capacity.tiers.free]\nper_client = 2\nover_client_cap = \"wait\"\n",
    );
    let run = |client: &str, code: &str| {
        let url = gw.url("/api/v2/execute");
        let body = piston(code).to_string().into_bytes();
        let key = format!("{client}-key-0123456789");
        std::thread::spawn(move || post_with(&url, body, &[("x-api-key", key.as_str())]))
    };
    let first = run("p1", "print('first')");
    eventually("the first run holds the pool", || exec.arrived() == 1);
    let second = run("f", "print('second')");
    eventually("the second waits", || queued(&gw, "free") == 1.0);
    let third = run("f", "print('third')");
    eventually("the third waits behind it", || queued(&gw, "free") == 2.0);
    exec.release(3);
    let (first, second, third) = (
        first.join().unwrap(),
        second.join().unwrap(),
        third.join().unwrap(),
    );
    assert_eq!([first.status, second.status, third.status], [200; 3]);
    assert_eq!(first.header("x-queue-position"), None, "it never waited");
    assert_eq!(second.header("x-queue-position").as_deref(), Some("1"));
    assert_eq!(third.header("x-queue-position").as_deref(), Some("2"));
}

#[test]
fn the_budget_used_ratio_shows_the_platform_and_each_tiers_nearest_client() {
    let exec = two_cpu_seconds();
    let gw = gateway(
        exec.addr,
        "[capacity.global]\nbudget_daily = 20.0\n[capacity.tiers.paid]\nbudget_daily = 10.0\n\n[[capacity.price]]\nper_cpu_second = 1.0\n",
    );
    let run = |client: &str| {
        let key = format!("{client}-key-0123456789");
        run_in(&gw, &[("x-api-key", key.as_str())]).status
    };
    // p1 spends 4 of its 10, p2 then 2: the tier shows p1's 0.4, not the last charge's 0.2.
    assert_eq!([run("p1"), run("p1"), run("p2")], [200; 3]);
    let ratio = |scope: &str| {
        metric(
            &gw,
            &format!("execgate_budget_used_ratio{{period=\"day\",scope=\"{scope}\"}}"),
        )
    };
    assert_eq!(ratio("paid"), Some(0.4));
    assert_eq!(ratio("global"), Some(0.3));
    // A new UTC day starts from its own first charge.
    gw.clock.advance(Duration::from_secs(86_400));
    assert_eq!(run("p2"), 200);
    assert_eq!(ratio("paid"), Some(0.2));
    assert_eq!(ratio("global"), Some(0.1));
}

#[test]
fn a_budget_set_through_the_api_survives_a_restart() {
    let exec = two_cpu_seconds();
    let kept = tempfile::tempdir().unwrap();
    let file = kept.path().join("budgets.json");
    let start = || {
        builder(
            exec.addr,
            &format!(
                "budgets_file = \"{}\"\n[[capacity.price]]\nper_cpu_second = 1.0\n",
                file.display()
            ),
        )
        .with_admin_token()
        .start()
    };
    let run = |gw: &TestGateway| run_in(gw, &[("x-api-key", "p1-key-0123456789")]).status;
    {
        let gw = start();
        let r = gw
            .admin(reqwest::Method::PUT, "/v1/budgets/client:p1")
            .json(&serde_json::json!({"budget_daily": 1.0}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let gw = start();
    // The usage journal is off: only the kept override can refuse the second run.
    assert_eq!(run(&gw), 200);
    assert_eq!(run(&gw), 402);
    let r = gw
        .admin(reqwest::Method::GET, "/v1/usage?client=client:p1")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// A gateway whose usage lives in `redis` (paid budget: 5 credits a day, one
/// credit per CPU second; each run costs 2), with the admin API.
fn on_shared_usage(
    exec: &MockExecutor,
    redis: &execgate_state::testing::RedisServer,
) -> TestGateway {
    builder(
        exec.addr,
        "[capacity.tiers.paid]\nbudget_daily = 5.0\nat_budget = \"refuse\"\n\n[[capacity.price]]\nper_cpu_second = 1.0\n",
    )
    .raw(&format!(
        "[state]\nbackend = \"redis\"\nurl = \"{}\"\nkey_prefix = \"usage-test\"\ncommand_timeout = \"2s\"\n",
        redis.url()
    ))
    .with_admin_token()
    .start()
}

/// `client`'s credits today, as `gw`'s usage API reports them.
fn credits_today(gw: &TestGateway, client: &str) -> f64 {
    let r = gw
        .admin(reqwest::Method::GET, &format!("/v1/usage?client={client}"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().unwrap();
    body["usage"]["credits"].as_f64().unwrap()
}

#[test]
fn two_gateways_on_one_redis_share_usage_and_budgets_and_a_restart_keeps_them() {
    let redis = execgate_state::testing::RedisServer::start();
    let exec = two_cpu_seconds();
    let run = |gw: &TestGateway| run_in(gw, &[("x-api-key", "p1-key-0123456789")]).status;
    let a = on_shared_usage(&exec, &redis);
    let b = on_shared_usage(&exec, &redis);
    // 2 + 2 credits: under the 5 of the day on each gateway alone and together.
    assert_eq!(run(&a), 200);
    assert_eq!(run(&b), 200);
    eventually("each gateway sees both charges", || {
        credits_today(&a, "client:p1") == 4.0 && credits_today(&b, "client:p1") == 4.0
    });
    // The third run crosses the budget: on a, with half the spending made on b.
    assert_eq!(run(&a), 200);
    eventually("b sees the budget spent", || {
        credits_today(&b, "client:p1") == 6.0
    });
    assert_eq!(run(&b), 402, "b let a spent budget run");
    assert_eq!(run(&a), 402, "a let a spent budget run");
    // Another client of the tier is untouched; the platform total is shared.
    assert_eq!(
        run_in(&b, &[("x-api-key", "p2-key-0123456789")]).status,
        200
    );
    drop((a, b));
    // A gateway started afresh reads what was spent.
    let c = on_shared_usage(&exec, &redis);
    eventually("the restarted gateway sees the day's usage", || {
        credits_today(&c, "client:p1") == 6.0
    });
    assert_eq!(run(&c), 402);
    let top: serde_json::Value = c
        .admin(reqwest::Method::GET, "/v1/usage/top?period=month")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let clients: Vec<&str> = top["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client"].as_str().unwrap())
        .collect();
    assert_eq!(clients, ["client:p1", "client:p2"], "{top}");
    let global: serde_json::Value = c
        .admin(reqwest::Method::GET, "/v1/usage?period=month")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(global["usage"]["credits"], 8.0, "{global}");
    assert_eq!(global["usage"]["executions"], 4, "{global}");
}

/// A Judge0 executor whose runs, read by token, are finished with 2 s of CPU
/// (`time`), 2.5 s of wall time and 2 MiB; submissions answer only a token.
struct Judge0Executor {
    addr: SocketAddr,
    reads: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Judge0Executor {
    fn start() -> Self {
        let reads = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let record = |token: &str| {
            serde_json::json!({
                "token": token, "status": {"id": 3, "description": "Accepted"},
                "time": "2.0", "wall_time": "2.5", "memory": 2048,
                "stdout": "hi\n", "stderr": null, "compile_output": null, "message": null
            })
        };
        let issued = Arc::new(AtomicUsize::new(0));
        let r = reads.clone();
        let app =
            Router::new()
                .route(
                    "/submissions",
                    axum::routing::post(move || {
                        let n = issued.fetch_add(1, Ordering::SeqCst);
                        async move { axum::Json(serde_json::json!({"token": format!("run-{n}")})) }
                    }),
                )
                .route(
                    "/submissions/batch",
                    axum::routing::get(
                        move |q: axum::extract::Query<
                            std::collections::HashMap<String, String>,
                        >| async move {
                            let tokens = q.get("tokens").cloned().unwrap_or_default();
                            let found: Vec<_> = tokens.split(',').map(record).collect();
                            axum::Json(serde_json::json!({"submissions": found}))
                        },
                    ),
                )
                .route(
                    "/submissions/{token}",
                    axum::routing::get(
                        move |axum::extract::Path(token): axum::extract::Path<String>,
                              q: axum::extract::Query<
                            std::collections::HashMap<String, String>,
                        >| {
                            r.fetch_add(1, Ordering::SeqCst);
                            // Only the fields asked for, as Judge0 answers.
                            let mut answer = record(&token);
                            if let Some(fields) = q.get("fields").filter(|f| *f != "*") {
                                let keep: Vec<&str> = fields.split(',').collect();
                                if let Some(o) = answer.as_object_mut() {
                                    o.retain(|k, _| keep.contains(&k.as_str()));
                                }
                            }
                            async move { axum::Json(answer) }
                        },
                    ),
                )
                .fallback(|| async { axum::Json(serde_json::json!([])) });
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            reads,
            _runtime: runtime,
        }
    }
}

/// A Judge0 gateway charging one credit per CPU second.
fn judge0_gateway(exec: &Judge0Executor) -> TestGateway {
    builder(exec.addr, "[[capacity.price]]\nper_cpu_second = 1.0\n")
        .with("dialect", "kind = \"judge0\"")
        .with_admin_token()
        .start()
}

/// Submits a Judge0 run without waiting, as p1; its token.
fn submit_without_waiting(gw: &TestGateway) -> String {
    let reply = post_with(
        &gw.url("/submissions?base64_encoded=false&wait=false"),
        serde_json::json!({"source_code": "print(1)", "language_id": 71})
            .to_string()
            .into_bytes(),
        &[("x-api-key", "p1-key-0123456789")],
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let doc: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    doc["token"].as_str().unwrap().to_string()
}

fn poll(gw: &TestGateway, token: &str) -> u16 {
    let reply = reqwest::blocking::Client::new()
        .get(gw.url(&format!("/submissions/{token}?base64_encoded=false")))
        .header("x-api-key", "p1-key-0123456789")
        .send()
        .unwrap();
    reply.status().as_u16()
}

/// p1's usage today: credits, executions, estimated.
fn p1_usage(gw: &TestGateway) -> (f64, u64, u64) {
    let body: serde_json::Value = gw
        .admin(reqwest::Method::GET, "/v1/usage?client=client:p1")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let u = &body["usage"];
    (
        u["credits"].as_f64().unwrap(),
        u["executions"].as_u64().unwrap(),
        u["estimated"].as_u64().unwrap(),
    )
}

#[test]
fn a_judge0_run_submitted_without_waiting_is_charged_its_verdicts_cost_once() {
    let exec = Judge0Executor::start();
    let gw = judge0_gateway(&exec);
    let token = submit_without_waiting(&gw);
    assert_eq!(poll(&gw, &token), 200);
    // Charged by this poll, or by the gateway's own read of unread runs if
    // that came first: either way the verdict's 2 CPU seconds, once.
    eventually("the run is charged", || p1_usage(&gw).1 == 1);
    assert_eq!(p1_usage(&gw), (2.0, 1, 0));
    assert_eq!(poll(&gw, &token), 200);
    assert_eq!(exec.reads.load(Ordering::SeqCst), 2);
    assert_eq!(p1_usage(&gw), (2.0, 1, 0), "the second poll charged again");
}

/// A poll whose `fields` leave the run's times out (its memory only) does not
/// settle what the run owes: the run would otherwise be charged as taking no
/// time. It is charged its real time once the times are read.
#[test]
fn a_poll_that_leaves_out_the_runs_times_does_not_settle_its_charge() {
    let exec = Judge0Executor::start();
    let gw = judge0_gateway(&exec);
    let token = submit_without_waiting(&gw);
    let reply = reqwest::blocking::Client::new()
        .get(gw.url(&format!("/submissions/{token}?fields=token,status,memory")))
        .header("x-api-key", "p1-key-0123456789")
        .send()
        .unwrap();
    assert_eq!(reply.status(), 200);
    let answer: serde_json::Value = reply.json().unwrap();
    assert!(
        answer.get("time").is_none(),
        "the poll left the times out: {answer}"
    );
    eventually("the run is charged", || p1_usage(&gw).1 == 1);
    assert_eq!(
        p1_usage(&gw),
        (2.0, 1, 0),
        "charged its real time, not none"
    );
}

#[test]
fn a_judge0_run_nobody_polls_is_charged_by_the_gateways_own_read() {
    let exec = Judge0Executor::start();
    let gw = judge0_gateway(&exec);
    let token = submit_without_waiting(&gw);
    eventually("the unread run is charged", || p1_usage(&gw).1 == 1);
    assert_eq!(p1_usage(&gw), (2.0, 1, 0));
    assert_eq!(
        exec.reads.load(Ordering::SeqCst),
        0,
        "the client never read it"
    );
    // The client reading it afterwards is not charged again.
    assert_eq!(poll(&gw, &token), 200);
    assert_eq!(p1_usage(&gw), (2.0, 1, 0));
}
