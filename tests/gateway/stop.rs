//! Graceful stop: SIGTERM closes the public listener, lets executions in
//! flight finish, and exits 0.

use crate::process::{GatewayProcess, free_port, wait_for, write_config};
use crate::support::{Behaviour, MockExecutor, TestGateway, piston};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn sigterm_lets_an_execution_in_flight_finish_then_exits_0() {
    let executor = MockExecutor::with(Behaviour::Slow(Duration::from_secs(2)));
    let listen = free_port();
    let builder = TestGateway::builder()
        .upstream(executor.addr)
        .with("server", &format!("listen = \"{listen}\""))
        .with("server", "stop_grace = \"30s\"")
        .with("upstream", "read_timeout = \"20s\"")
        .with("upstream", "total_timeout = \"30s\"");
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = GatewayProcess::start(&write_config(&builder, dir.path()), listen);

    let url = format!("http://{listen}/api/v2/execute");
    let in_flight = std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
            .post(url)
            .json(&piston("print(1)"))
            .send()
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
    });
    wait_for(
        "the execution reaches the executor",
        Duration::from_secs(30),
        || !executor.requests().is_empty(),
    );
    gateway.signal("TERM");

    wait_for(
        "the public listener closes",
        Duration::from_secs(30),
        || TcpStream::connect(listen).is_err(),
    );
    let (status, body) = in_flight
        .join()
        .unwrap()
        .expect("the execution in flight lost its answer");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("slow"), "{body}");
    let exit = gateway.exit_status(Duration::from_secs(30));
    assert_eq!(exit.code(), Some(0), "{exit}");
}
