//! Test harness: real runners (the shipped `config/runner.toml` with small
//! limits) on `127.0.0.1:0`, each on its own background runtime, and helpers
//! to call them and to look for processes that outlived their run.
#![allow(dead_code)]

use execgate_runner::api::gate::Gate;
use execgate_runner::job::Runner;
use execgate_runner::{Helper, RunnerConfig, api, app_state, build};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A running runner.
pub struct Server {
    /// `http://127.0.0.1:port`.
    pub url: String,
    /// The runner behind it (for warm-pool state).
    pub runner: Arc<Runner>,
    /// Its concurrency gate (for queue state).
    pub gate: Arc<Gate>,
}

/// Cold-only or with a warm pool for python.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cold,
    Warm,
}

/// The shipped sample config.
pub fn config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/runner.toml")
}

/// The shipped config with test-sized limits.
pub fn test_config(tag: &str, warm: usize) -> RunnerConfig {
    let mut config = RunnerConfig::load(&config_path()).unwrap_or_else(|e| panic!("{e}"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.max_concurrent = 8;
    config.max_queue = 500;
    config.cgroup.name = format!("execgate-test-{tag}");
    config.sandbox.tmp_size = "16MB".parse().unwrap();
    config.sandbox.shm_size = "8MB".parse().unwrap();
    for lang in &mut config.languages {
        // The wall clock is far above any test's work so a loaded machine never
        // turns a verdict into `TO`; tests about time set their own limits.
        lang.run_limits.timeout = "10s".parse().unwrap();
        lang.run_limits.cpu_time = "1s".parse().unwrap();
        lang.run_limits.memory = "64MB".parse().unwrap();
        lang.warm = if lang.name == "python" { warm } else { 0 };
    }
    config
}

/// Starts a runner for `config` on a background thread; fails with the preflight's message.
pub fn start(config: RunnerConfig) -> Server {
    let helper = Helper {
        program: env!("CARGO_BIN_EXE_execgate-runner").into(),
        args: vec!["sandbox-init".into()],
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        execgate_runner::prioritize_runner_threads();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let runner = match build(config, helper) {
                Ok(r) => r,
                Err(e) => {
                    tx.send(Err(e.to_string())).unwrap();
                    return;
                }
            };
            runner.warm.fill();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let state = app_state(runner.clone());
            tx.send(Ok((url, runner, state.gate.clone()))).unwrap();
            axum::serve(listener, api::router(state)).await.unwrap();
        });
    });
    match rx.recv().unwrap() {
        Ok((url, runner, gate)) => Server { url, runner, gate },
        Err(e) => panic!("{e}"),
    }
}

/// The shared runner of this test binary for `mode`.
pub fn server(mode: Mode) -> &'static Server {
    static COLD: OnceLock<Server> = OnceLock::new();
    static WARM: OnceLock<Server> = OnceLock::new();
    match mode {
        Mode::Cold => COLD.get_or_init(|| start(test_config("cold", 0))),
        Mode::Warm => WARM.get_or_init(|| start(test_config("warm", 3))),
    }
}

/// A unique string to find a run's processes by their command line.
pub fn marker() -> String {
    format!("egmark{}", uuid::Uuid::new_v4().simple())
}

/// Host pids whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) && pid != std::process::id() {
            found.push(pid);
        }
    }
    found
}

/// POSTs JSON and returns status, the sandbox header and the body.
pub async fn post(url: &str, body: &Value) -> (u16, String, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let start = resp
        .headers()
        .get("x-execgate-sandbox")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, start, value)
}

/// GETs JSON.
pub async fn get(url: &str) -> (u16, Value) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Runs `code` in `language` through Piston on the `mode` runner; on the warm
/// runner it retries until the run really used a warm sandbox.
pub async fn run(mode: Mode, language: &str, code: &str, args: &[&str], stdin: &str) -> Value {
    run_with(mode, language, code, args, stdin, json!({})).await
}

/// `run` with extra request fields (limits) merged into the body.
pub async fn run_with(
    mode: Mode,
    language: &str,
    code: &str,
    args: &[&str],
    stdin: &str,
    extra: Value,
) -> Value {
    let server = server(mode);
    let mut body = json!({"language": language, "version": "*", "files": [{"name": entry_name(language), "content": code}], "args": args, "stdin": stdin});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    for _ in 0..100 {
        if mode == Mode::Warm {
            eventually(|| server.runner.warm.ready("python") > 0).await;
        }
        let (status, start, value) = post(&format!("{}/api/v2/execute", server.url), &body).await;
        assert_eq!(status, 200, "{value}");
        if mode == Mode::Cold || language != "python" || start == "warm" {
            return value;
        }
    }
    panic!("never got a warm sandbox");
}

fn entry_name(language: &str) -> &'static str {
    match language {
        "c" => "main.c",
        "bash" => "script.sh",
        _ => "main.py",
    }
}

/// Waits (up to 20 s) until `cond` holds.
pub async fn eventually(cond: impl Fn() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never became true");
}

/// The run stage of a Piston response.
pub fn run_of(v: &Value) -> &Value {
    &v["run"]
}
