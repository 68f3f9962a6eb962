//! The console's overview data endpoint with 100 000 tracked clients.
//!
//! 1. A real gateway (in-process, a mock executor behind it) serves one runtimes
//!    listing to each of `CONSOLE_CLIENTS` (default 100 000) distinct clients
//!    (addresses given through a trusted `X-Forwarded-For`): each is then
//!    tracked by the rate limiter, the reputation and the top-client rankings.
//!    A console session then times `GET /console/api/overview` over HTTP: the
//!    whole ring (`since=0`, as a page's first load) and a poll for new seconds.
//! 2. The ring only holds the seconds the run lasted: a full hour (3 600
//!    seconds of traffic) is replayed into a `Pulse` and read as the endpoint
//!    reads it (copies of each second's stored JSON), timed, beside encoding
//!    the same samples on each read.
//!
//! `cargo bench --bench console` (env `CONSOLE_CLIENTS`, `CONSOLE_THREADS`).

#[path = "../tests/support/mock.rs"]
#[allow(dead_code)]
mod mock;

use execgate::config;
use execgate::console::pulse::{HISTORY, Pulse, Reason, Sample};
use execgate::server::{self, Options};
use mock::MockExecutor;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-0123456789abcdef";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentiles(mut times: Vec<Duration>) -> String {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    format!(
        "p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} calls)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        times.len()
    )
}

/// The `i`th client's address: 10.x.y.z, distinct for the first 16 million.
fn address(i: usize) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

fn main() {
    let clients = env("CONSOLE_CLIENTS", 100_000);
    let threads = env("CONSOLE_THREADS", 4).max(1);
    let exec = MockExecutor::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("screen")).unwrap();
    let config = format!(
        r#"[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[upstream]
addresses = ["{}"]
[identity]
trusted_proxies = ["127.0.0.1/32"]
[admin]
tokens = ["{TOKEN}"]
[rules]
screen = ["screen"]
output = []
watch = false
"#,
        exec.addr
    );
    let path = dir.path().join("execgate.toml");
    std::fs::write(&path, &config).unwrap();
    let settings = config::load(&path).unwrap_or_else(|e| panic!("{e}\n{config}"));
    let running = server::start(
        &settings,
        Options {
            unix_signals: false,
            reload_triggers: false,
            ..Options::default()
        },
    )
    .unwrap();
    let proxy = format!("http://{}/api/v2/runtimes", running.proxy_addr);
    let admin = format!("http://{}", running.admin_addr);

    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let proxy = proxy.clone();
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let mut failed = 0usize;
                for i in (t..clients).step_by(threads) {
                    let ok = http
                        .get(&proxy)
                        .header("x-forwarded-for", address(i))
                        .send()
                        .is_ok_and(|r| r.status().is_success());
                    failed += usize::from(!ok);
                }
                failed
            })
        })
        .collect();
    let failed: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    println!(
        "{clients} clients served one request each in {:.1} s ({failed} not 2xx)",
        started.elapsed().as_secs_f64()
    );

    let http = reqwest::blocking::Client::new();
    let login = http
        .post(format!("{admin}/console/login"))
        .json(&serde_json::json!({ "token": TOKEN }))
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let top: serde_json::Value = http
        .get(format!("{admin}/console/api/top?by=requests&n=3"))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    println!("top clients by requests: {}", top["clients"]);
    let time = |query: &str| {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..200 {
            let t = Instant::now();
            let body = http
                .get(format!("{admin}/console/api/overview{query}"))
                .header("cookie", &cookie)
                .send()
                .unwrap()
                .bytes()
                .unwrap();
            times.push(t.elapsed());
            bytes = body.len();
        }
        (percentiles(times), bytes)
    };
    let (whole, bytes) = time("?since=0");
    println!("overview over HTTP, whole ring ({bytes} bytes): {whole}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (poll, bytes) = time(&format!("?since={}", now - 2));
    println!("overview over HTTP, a poll ({bytes} bytes): {poll}");
    drop(running);

    // A full hour of busy seconds, encoded as the endpoint encodes its samples.
    let pulse = Pulse::default();
    for t in 0..HISTORY as u64 {
        pulse.record_sample(Sample {
            t: 1_800_000_000 + t,
            requests: 123_456 + t,
            refused: [1_234; Reason::ALL.len()],
            in_flight: 64,
        });
    }
    let time = |what: &str, read: &dyn Fn() -> usize| {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..200 {
            let t = Instant::now();
            bytes = read();
            times.push(t.elapsed());
        }
        println!(
            "a full hour's samples ({bytes} bytes), {what}: {}",
            percentiles(times)
        );
    };
    time("encoded on each read", &|| {
        serde_json::to_vec(&pulse.since(0)).unwrap().len()
    });
    time("copied from their stored encodings (the endpoint)", &|| {
        pulse.since_json(0).len()
    });
}
