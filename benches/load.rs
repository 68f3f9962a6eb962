//! Load comparison: the same request mix sent straight to the mock executor and
//! through the gateway, in the same run, with 64 keep-alive connections; prints
//! requests/s, p50 and p99 for both, the throughput ratio and the added p99.
//!
//! `cargo bench --bench load` (env `LOAD_SECS`, default 5; `LOAD_CONNS`, default 64).

#[path = "../tests/support/mock.rs"]
#[allow(dead_code)]
mod mock;

use execgate::config;
use execgate::server::{self, Options};
use mock::MockExecutor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which requests to send (`LOAD_MIX`): `mixed` (default; 3 executions : 1 listing),
/// `exec` (executions only) or `get` (runtimes listings only).
fn mix_kind() -> String {
    std::env::var("LOAD_MIX").unwrap_or_else(|_| "mixed".into())
}

/// One request of the mix: an execution (screened, clamped, sanitized) or a runtimes listing.
fn mix(i: usize, kind: &str) -> (reqwest::Method, &'static str, Option<String>) {
    let listing = match kind {
        "get" => true,
        "exec" => false,
        _ => i % 4 == 3,
    };
    if listing {
        (reqwest::Method::GET, "/api/v2/runtimes", None)
    } else {
        let code =
            "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint(fib(20))\n";
        let body = serde_json::json!({"language": "python", "version": "3.10", "files": [{"content": code}], "run_timeout": 3000});
        (
            reqwest::Method::POST,
            "/api/v2/execute",
            Some(body.to_string()),
        )
    }
}

struct Result {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Result {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).copied().unwrap_or_default()
    }
}

async fn drive(addr: SocketAddr, conns: usize, secs: u64) -> Result {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|c| {
            let client = client.clone();
            tokio::spawn(async move {
                let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, c);
                let kind = mix_kind();
                while Instant::now() < deadline {
                    let (method, path, body) = mix(i, &kind);
                    i += 1;
                    let mut req = client.request(method, format!("http://{addr}{path}"));
                    if let Some(b) = body {
                        req = req.header("content-type", "application/json").body(b);
                    }
                    let t = Instant::now();
                    match req.send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    Result {
        requests: latencies.len(),
        errors,
        elapsed: started.elapsed(),
        latencies,
    }
}

fn gateway(upstream: SocketAddr) -> (server::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let guard = std::env::var("LOAD_GUARD").map_or(true, |v| v != "0");
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nthreads = 2\nmax_connections = 1024\nmax_connections_per_ip = 1024\naccept_guard = {guard}\n\
         [upstream]\naddresses = [\"{upstream}\"]\n\
         [rules]\nscreen = [\"{screen}\"]\noutput = [\"{output}\"]\nwatch = false\n\
         [limits]\npassthrough = \"100000000/1s\"\n\
         [tiers.anonymous]\nwindows = [{{ name = \"burst\", rate = \"100000000/1s\" }}]\n",
        screen = rules.join("screen").display(),
        output = rules.join("output.toml").display(),
    );
    let path = dir.path().join("execgate.toml");
    std::fs::write(&path, text).unwrap();
    let settings = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        unix_signals: false,
        reload_triggers: false,
        ..Options::default()
    };
    (server::start(&settings, opts).unwrap(), dir)
}

fn report(name: &str, r: &Result) {
    println!(
        "{name:<16} {:>9.0} req/s   p50 {:>8.2?}   p99 {:>8.2?}   ({} ok, {} errors)",
        r.rps(),
        r.pct(0.50),
        r.pct(0.99),
        r.requests,
        r.errors
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs: u64 = std::env::var("LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let conns: usize = std::env::var("LOAD_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let exec = MockExecutor::start();
    let (gw, _dir) = gateway(exec.addr);
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    rt.block_on(drive(exec.addr, conns, 1)); // warm-up
    let direct = rt.block_on(drive(exec.addr, conns, secs));
    rt.block_on(drive(gw.proxy_addr, conns, 1));
    let through = rt.block_on(drive(gw.proxy_addr, conns, secs));
    println!(
        "\nload: {conns} connections, {secs}s each, mix {}",
        mix_kind()
    );
    report("direct", &direct);
    report("through gateway", &through);
    println!(
        "throughput ratio {:.2}x (target ≥ 0.70x), added p99 {:.2?} (target ≤ 2ms)",
        through.rps() / direct.rps().max(1e-9),
        through.pct(0.99).saturating_sub(direct.pct(0.99))
    );
    gw.stop();
}
