//! The Redis backend against its own baselines, in one run (no timing assertions):
//! - limiter decisions per second (32 concurrent callers, one EVALSHA each)
//!   against `redis-benchmark` running a trivial EVALSHA on the same server
//!   (target ≥ 0.5×);
//! - p50/p99 of one decision, Redis vs memory;
//!
//! Decisions are made as the request path makes them: awaited
//! (`check_async`) by tasks of a two-thread runtime, the proxy's default.
//! - Redis memory per active client with three windows (`MEMORY USAGE`, target ≤ 200 B).
//!
//! `cargo bench -p execgate-state --bench redis` (needs redis-server and redis-benchmark).

use execgate_core::{ClientKey, HumanDuration, SystemClock, TierName};
use execgate_state::backend::{
    BackendKind, BackendMetrics, OnError, RedisBackend, SharedStateConfig,
};
use execgate_state::testing::RedisServer;
use execgate_state::{MemoryRateLimiter, RateLimiter, RedisRateLimiter, WindowSpec};
use std::num::NonZeroU32;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const CALLERS: usize = 32;
const DECISIONS: usize = 40_000;
const CLIENTS_FOR_MEMORY: usize = 10_000;

fn windows() -> Vec<WindowSpec> {
    let w = |name: &str, q: u32, s: u64| {
        WindowSpec::new(name, NonZeroU32::new(q).unwrap(), Duration::from_secs(s))
    };
    vec![
        w("burst", 1_000_000, 10),
        w("hourly", 1_000_000, 3600),
        w("daily", 1_000_000, 86_400),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn latencies(runtime: &Runtime, limiter: &dyn RateLimiter, n: usize) -> (Duration, Duration) {
    let w = windows();
    let tier = TierName::anonymous();
    let mut took: Vec<Duration> = runtime.block_on(async {
        let mut took = Vec::with_capacity(n);
        for i in 0..n {
            let key = ClientKey::from_client_id(&format!("lat{}", i % 100));
            let started = Instant::now();
            limiter.check_async(&tier, &key, &w, NonZeroU32::MIN).await;
            took.push(started.elapsed());
        }
        took
    });
    took.sort();
    (percentile(&took, 0.5), percentile(&took, 0.99))
}

fn main() {
    let server = RedisServer::start();
    let config = SharedStateConfig {
        backend: BackendKind::Redis,
        url: Some(server.url()),
        command_timeout: HumanDuration(Duration::from_secs(5)),
        ..SharedStateConfig::default()
    };
    let backend = RedisBackend::connect(&config, BackendMetrics::unregistered().unwrap()).unwrap();
    let redis = Arc::new(RedisRateLimiter::new(
        backend,
        Arc::new(SystemClock),
        OnError::Closed,
        1.0,
    ));

    // Decisions per second, concurrent callers (pipelined on the multiplexed connections).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let callers: Vec<_> = (0..CALLERS)
            .map(|t| {
                let redis = redis.clone();
                tokio::spawn(async move {
                    let (w, tier) = (windows(), TierName::anonymous());
                    for i in 0..DECISIONS / CALLERS {
                        let key = ClientKey::from_client_id(&format!("c{t}-{}", i % 50));
                        redis.check_async(&tier, &key, &w, NonZeroU32::MIN).await;
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
    });
    let ours = DECISIONS as f64 / started.elapsed().as_secs_f64();

    let sha = server
        .cli(&["script", "load", "return 1"])
        .trim()
        .to_string();
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &server.port().to_string(),
            "-q",
            "-n",
            &DECISIONS.to_string(),
        ])
        .args(["-c", &CALLERS.to_string(), "evalsha", &sha, "1", "k"])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    // `EVALSHA ...: 51234.56 requests per second, p50=...`
    let baseline: f64 = text
        .split("requests per second")
        .next()
        .and_then(|head| head.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::NAN);
    println!(
        "limiter decisions/s: {ours:.0}  redis-benchmark trivial EVALSHA/s: {baseline:.0}  ratio {:.2} (target >= 0.5)",
        ours / baseline
    );

    let memory = MemoryRateLimiter::new(Arc::new(SystemClock), 100_000);
    let (m50, m99) = latencies(&runtime, &memory, 5_000);
    let (r50, r99) = latencies(&runtime, &*redis, 5_000);
    println!(
        "one decision: memory p50 {m50:?} p99 {m99:?}; redis p50 {r50:?} p99 {r99:?}; added p99 {:?} (target <= 1ms)",
        r99.saturating_sub(m99)
    );

    // The anonymous tier's windows: hashes live until the daily window is full again.
    let w = |name: &str, q: u32, s: u64| {
        WindowSpec::new(name, NonZeroU32::new(q).unwrap(), Duration::from_secs(s))
    };
    let w = vec![
        w("burst", 3, 10),
        w("hourly", 10, 3600),
        w("daily", 50, 86_400),
    ];
    for i in 0..CLIENTS_FOR_MEMORY {
        redis.check(
            &TierName::anonymous(),
            &ClientKey::from_ip(
                format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)
                    .parse()
                    .unwrap(),
                64,
            ),
            &w,
            NonZeroU32::MIN,
        );
    }
    let sample: Vec<u64> = (0..100)
        .filter_map(|i| {
            let key = redis.key_of(&ClientKey::from_ip(
                format!("10.0.{}.{}", i >> 8 & 255, i & 255)
                    .parse()
                    .unwrap(),
                64,
            ));
            server.cli(&["memory", "usage", &key]).trim().parse().ok()
        })
        .collect();
    let mean = sample.iter().sum::<u64>() as f64 / sample.len().max(1) as f64;
    println!(
        "redis memory per client (3 windows, MEMORY USAGE of {} keys): {mean:.0} B (target <= 200 B)",
        sample.len()
    );
}
