//! `print(1)` through the runner's Piston API, cold and warm, against bare
//! `/usr/bin/python3 -c 'print(1)'` and `bwrap --unshare-all` measured in the
//! same run: p50 / p99 latency, runs per second (4 at a time), and the ratios
//! the sandbox is held to (a cold sandbox costs at most 5 ms over bare python,
//! a warm run takes at most half a bare run's latency and keeps 80% of its
//! throughput). Run with `cargo bench -p execgate-runner`.
//!
//! Fairness: the runner puts all its runs in one cgroup weighted like
//! `max_concurrent` processes. On a busy host that group competes with other
//! processes differently from a bare `python3`, so the bench first moves
//! itself (and with it bare python, bwrap, the runner and its run cgroups,
//! which nest under the bench's own cgroup) into one v1 cpu cgroup weighted
//! like `PARALLEL` processes: every contender gets the same share of the host.

use execgate_runner::{Helper, RunnerConfig, api, app_state, build};
use serde_json::json;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SAMPLES: usize = 100;
const THROUGHPUT_RUNS: usize = 200;
const PARALLEL: usize = 4;
/// The v1 cpu cgroup all contenders run in (see the module comment).
const FAIR_GROUP: &str = "/sys/fs/cgroup/cpu/execgate-bench-fair";

/// Latency percentiles, throughput and CPU cost of one contender.
struct Figures {
    name: &'static str,
    p50: Duration,
    p99: Duration,
    per_sec: f64,
    /// CPU time (this process and every reaped descendant) per run while
    /// measuring throughput; kernel work deferred to kworkers is not in it.
    cpu_per_run: Duration,
}

/// CPU time used so far by this process and its reaped descendants.
fn cpu_used() -> Duration {
    let total = |who| {
        // SAFETY: getrusage fills the zeroed local struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut usage) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(usage.ru_utime) + tv(usage.ru_stime)
    };
    total(libc::RUSAGE_SELF) + total(libc::RUSAGE_CHILDREN)
}

impl Figures {
    /// Figures from latency samples, and the time and CPU `THROUGHPUT_RUNS` runs took.
    fn new(
        name: &'static str,
        mut latencies: Vec<Duration>,
        throughput_time: Duration,
        cpu: Duration,
    ) -> Self {
        latencies.sort();
        Self {
            name,
            p50: percentile(&latencies, 0.5),
            p99: percentile(&latencies, 0.99),
            per_sec: THROUGHPUT_RUNS as f64 / throughput_time.as_secs_f64(),
            cpu_per_run: cpu / THROUGHPUT_RUNS as u32,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn bare_python() {
    let out = Command::new("/usr/bin/python3")
        .args(["-c", "print(1)"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"1\n");
}

fn bwrap_python() {
    let args = [
        "--unshare-all",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "/usr/bin/python3",
        "-c",
        "print(1)",
    ];
    let out = Command::new("/usr/bin/bwrap")
        .args(args)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.stdout,
        b"1\n",
        "bwrap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Measures a blocking action: sequential latency, then `PARALLEL` threads.
fn measure_blocking(name: &'static str, action: fn()) -> Figures {
    let lat: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            action();
            t.elapsed()
        })
        .collect();
    let (t, cpu) = (Instant::now(), cpu_used());
    let threads: Vec<_> = (0..PARALLEL)
        .map(|_| std::thread::spawn(move || (0..THROUGHPUT_RUNS / PARALLEL).for_each(|_| action())))
        .collect();
    threads.into_iter().for_each(|h| h.join().unwrap());
    Figures::new(name, lat, t.elapsed(), cpu_used() - cpu)
}

/// Measures an async action the same way; `before` runs untimed before each sample.
async fn measure_async<F, Fut, B, BFut>(name: &'static str, action: F, before: B) -> Figures
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
    B: Fn() -> BFut,
    BFut: Future<Output = ()>,
{
    let mut lat = Vec::new();
    for _ in 0..SAMPLES {
        before().await;
        let t = Instant::now();
        action().await;
        lat.push(t.elapsed());
    }
    let (t, cpu) = (Instant::now(), cpu_used());
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let action = action.clone();
            tokio::spawn(async move {
                for _ in 0..THROUGHPUT_RUNS / PARALLEL {
                    action().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    Figures::new(name, lat, t.elapsed(), cpu_used() - cpu)
}

/// Starts a runner from the shipped config on this runtime; returns its URL and runner.
async fn start_runner(tag: &str, warm: usize) -> (String, Arc<execgate_runner::job::Runner>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/runner.toml");
    let mut config = RunnerConfig::load(&path).unwrap();
    config.cgroup.name = format!("execgate-bench-{tag}");
    config.max_concurrent = PARALLEL;
    for lang in &mut config.languages {
        lang.warm = if lang.name == "python" { warm } else { 0 };
    }
    let helper = Helper {
        program: env!("CARGO_BIN_EXE_execgate-runner").into(),
        args: vec!["sandbox-init".into()],
    };
    let runner = build(config, helper).unwrap();
    runner.warm.fill();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v2/execute", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, api::router(app_state(runner.clone()))).into_future());
    (url, runner)
}

async fn post_print(client: reqwest::Client, url: Arc<String>) {
    let body = json!({"language": "python", "version": "*", "files": [{"name": "main.py", "content": "print(1)"}]});
    let resp = client.post(url.as_str()).json(&body).send().await.unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["run"]["stdout"], "1\n", "{v}");
}

/// Waits until the warm pool is full again, so a sample measures the warm
/// path itself and not a refill running beside it.
async fn wait_ready(runner: &execgate_runner::job::Runner) {
    while runner.warm.ready("python") < PARALLEL {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn print_table(rows: &[Figures]) {
    println!(
        "\n{:<28} {:>10} {:>10} {:>10} {:>12}",
        "contender", "p50 ms", "p99 ms", "runs/s", "CPU ms/run"
    );
    for r in rows {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<28} {:>10.2} {:>10.2} {:>10.1} {:>12.2}",
            r.name,
            ms(r.p50),
            ms(r.p99),
            r.per_sec,
            ms(r.cpu_per_run)
        );
    }
}

/// Moves this process into `FAIR_GROUP`; says so, or why not.
fn enter_fair_group() {
    let joined = std::fs::create_dir_all(FAIR_GROUP)
        .and_then(|()| {
            std::fs::write(
                format!("{FAIR_GROUP}/cpu.shares"),
                (1024 * PARALLEL).to_string(),
            )
        })
        .and_then(|()| {
            std::fs::write(
                format!("{FAIR_GROUP}/cgroup.procs"),
                std::process::id().to_string(),
            )
        });
    match joined {
        Ok(()) => println!("all contenders share {FAIR_GROUP} (weight of {PARALLEL} processes)"),
        Err(e) => {
            println!("no fair cpu group ({FAIR_GROUP}: {e}); figures on a busy host are skewed")
        }
    }
}

fn main() {
    enter_fair_group();
    let bare = measure_blocking("bare python3 -c print(1)", bare_python);
    let bwrap = std::path::Path::new("/usr/bin/bwrap")
        .exists()
        .then(|| measure_blocking("bwrap --unshare-all python3", bwrap_python));
    // Only now, as `execgate runner` does: bare python and bwrap ran at nice 0.
    execgate_runner::prioritize_runner_threads();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(bare, bwrap));
}

async fn run(bare: Figures, bwrap: Option<Figures>) {
    let client = reqwest::Client::new();
    let (cold_url, _) = start_runner("cold", 0).await;
    let cold_url = Arc::new(cold_url);
    let c = client.clone();
    let cold = measure_async(
        "runner cold (HTTP)",
        move || post_print(c.clone(), cold_url.clone()),
        || async {},
    )
    .await;
    let (warm_url, warm_runner) = start_runner("warm", PARALLEL).await;
    let warm_url = Arc::new(warm_url);
    let c = client.clone();
    let wr = warm_runner.clone();
    let warm = measure_async(
        "runner warm (HTTP)",
        move || post_print(c.clone(), warm_url.clone()),
        move || {
            let wr = wr.clone();
            async move { wait_ready(&wr).await }
        },
    )
    .await;
    let mut rows = vec![bare];
    rows.extend(bwrap);
    rows.push(cold);
    rows.push(warm);
    print_table(&rows);
    let (bare, cold, warm) = (&rows[0], &rows[rows.len() - 2], &rows[rows.len() - 1]);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "\ncold overhead over bare python (p50): {:+.2} ms   (target <= 5 ms)",
        ms(cold.p50) - ms(bare.p50)
    );
    println!(
        "warm p50 / bare p50:                  {:.2}x      (target <= 0.5x)",
        ms(warm.p50) / ms(bare.p50)
    );
    println!(
        "warm runs/s / bare runs/s:            {:.2}x      (target >= 0.8x)",
        warm.per_sec / bare.per_sec
    );
    if rows.len() == 4 {
        println!(
            "cold p50 / bwrap p50:                 {:.2}x",
            ms(cold.p50) / ms(rows[1].p50)
        );
    }
}
