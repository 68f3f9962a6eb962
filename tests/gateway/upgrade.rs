//! Zero-downtime upgrade: a new `execgate gateway --upgrade` takes the
//! listening sockets of the running one (sent on its SIGQUIT), which then
//! stops accepting, drains and exits 0 — while clients keep sending.

use crate::process::{GatewayProcess, free_port, wait_for, write_config};
use crate::support::{MockExecutor, TestGateway};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// What the clients saw.
#[derive(Default)]
struct Tally {
    completed: AtomicUsize,
    refused: AtomicUsize,
    failed: AtomicUsize,
    errors: parking_lot::Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, counter: &AtomicUsize, what: String) {
        counter.fetch_add(1, Ordering::SeqCst);
        let mut errors = self.errors.lock();
        if errors.len() < 10 {
            errors.push(what);
        }
    }
}

/// A keep-alive client sending requests one after the other until `stop`.
fn client(url: String, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let http = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    while !stop.load(Ordering::SeqCst) {
        match http
            .get(&url)
            .send()
            .and_then(|r| Ok((r.status(), r.text()?)))
        {
            Ok((status, _)) if status == 200 => {
                tally.completed.fetch_add(1, Ordering::SeqCst);
            }
            Ok((status, body)) => tally.fail(&tally.failed, format!("{status}: {body}")),
            Err(e) if e.is_connect() => tally.fail(&tally.refused, format!("{e:?}")),
            Err(e) => tally.fail(&tally.failed, format!("{e:?}")),
        }
    }
}

/// `execgate gateway --config FILE --upgrade`, which waits for the listeners.
fn start_upgrade(config: &Path) -> GatewayProcess {
    let child: Child = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .arg("gateway")
        .arg("--config")
        .arg(config)
        .arg("--upgrade")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    GatewayProcess(child)
}

#[test]
fn keep_alive_clients_see_no_refused_connection_and_no_failed_request_across_an_upgrade() {
    let executor = MockExecutor::start();
    let (listen, admin): (SocketAddr, SocketAddr) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("upgrade.sock");
    let builder = TestGateway::builder()
        .upstream(executor.addr)
        .with("server", &format!("listen = \"{listen}\""))
        .with("server", &format!("admin_listen = \"{admin}\""))
        .with("server", "upgrade_socket = \"upgrade.sock\"")
        .with("server", "stop_grace = \"60s\"")
        .with("limits", "passthrough = \"100000000/1s\"")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"100000000/1s\" }]");
    let config = write_config(&builder, dir.path());
    let mut old = GatewayProcess::start(&config, listen);

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (url, tally, stop) = (
                format!("http://{listen}/api/v2/runtimes"),
                tally.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || client(url, tally, stop))
        })
        .collect();
    let at_least = |n: usize, what: &str| {
        wait_for(what, Duration::from_secs(60), || {
            tally.completed.load(Ordering::SeqCst) >= n
        })
    };
    at_least(100, "the clients get answers from the old process");

    let mut new = start_upgrade(&config);
    wait_for(
        "the new process waits on the upgrade socket",
        Duration::from_secs(60),
        || socket.exists(),
    );
    old.signal("QUIT");
    let exit = old.exit_status(Duration::from_secs(120));
    assert_eq!(exit.code(), Some(0), "the old process: {exit}");
    let before = tally.completed.load(Ordering::SeqCst);
    at_least(before + 100, "the clients get answers from the new process");
    assert!(
        new.0.try_wait().unwrap().is_none(),
        "the new process serves on"
    );
    let admin_answers = reqwest::blocking::get(format!("http://{admin}/healthz"))
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("the admin listener crossed too: {e}"));
    assert_eq!(admin_answers, 200);

    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let errors = tally.errors.lock().clone();
    assert_eq!(
        tally.refused.load(Ordering::SeqCst),
        0,
        "refused connections: {errors:#?}"
    );
    assert_eq!(
        tally.failed.load(Ordering::SeqCst),
        0,
        "failed requests: {errors:#?}"
    );
    let _ = new.0.kill();
}

#[test]
fn sigquit_with_no_new_process_waiting_keeps_serving() {
    let executor = MockExecutor::start();
    let listen = free_port();
    let dir = tempfile::tempdir().unwrap();
    let builder = TestGateway::builder()
        .upstream(executor.addr)
        .with("server", &format!("listen = \"{listen}\""))
        .with("server", "upgrade_socket = \"upgrade.sock\"");
    let config = write_config(&builder, dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .arg("gateway")
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let log = BufReader::new(child.stdout.take().unwrap());
    let gateway = GatewayProcess(child);
    wait_for("the gateway listens", Duration::from_secs(60), || {
        std::net::TcpStream::connect(listen).is_ok()
    });
    gateway.signal("QUIT");
    let (tx, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = log
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains("upgrade failed, still serving"));
        let _ = tx.send(line);
    });
    let said = said
        .recv_timeout(Duration::from_secs(60))
        .ok()
        .flatten()
        .expect("the gateway says why the upgrade failed");
    assert!(said.contains("start it with --upgrade first"), "{said}");
    let status = reqwest::blocking::get(format!("http://{listen}/api/v2/runtimes"))
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("the gateway stopped serving: {e}"));
    assert_eq!(status, 200);
    let mut gateway = gateway;
    assert!(gateway.0.try_wait().unwrap().is_none(), "still running");
}

#[test]
fn upgrade_without_an_upgrade_socket_is_refused_at_start() {
    let executor = MockExecutor::start();
    let dir = tempfile::tempdir().unwrap();
    let builder = TestGateway::builder().upstream(executor.addr);
    let config = write_config(&builder, dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_execgate"))
        .args(["gateway", "--upgrade", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--upgrade needs [server] upgrade_socket"),
        "{stderr}"
    );
}
