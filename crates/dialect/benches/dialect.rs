//! Cost of the dialect step per request: parse + clamp of a typical Piston
//! body and of a Judge0 batch, against the baseline any JSON-rewriting proxy
//! pays (parse to a `serde_json::Value` and serialise it back).

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use execgate_dialect::{Dialect, DialectConfig, DialectKind, RouteKind, TierLimits, encode_base64};
use std::time::{Duration, Instant};

const TIER: TierLimits = TierLimits {
    run_time: Duration::from_secs(5),
    memory_bytes: 128 << 20,
};

/// About 2 KB of ordinary Python.
fn program() -> String {
    let line = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nprint(fib(20))\n";
    line.repeat(2048 / line.len() + 1)
}

fn piston_body() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "language": "python", "version": "3.10.0",
        "files": [{"name": "main.py", "content": program()}],
        "stdin": "1 2 3\n", "args": ["-v"], "run_timeout": 60000,
    }))
    .unwrap_or_default()
}

fn judge0_batch() -> Vec<u8> {
    let one = serde_json::json!({
        "source_code": encode_base64(program().as_bytes()), "language_id": 71,
        "stdin": encode_base64(b"1 2 3\n"), "cpu_time_limit": 20, "memory_limit": 512000,
    });
    serde_json::to_vec(&serde_json::json!({"submissions": vec![one; 10]})).unwrap_or_default()
}

fn dialect(kind: DialectKind) -> Dialect {
    let config = DialectConfig {
        kind: kind.into(),
        ..DialectConfig::default()
    };
    Dialect::new(config).expect("default dialects are valid")
}

fn baseline(body: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(body).expect("valid JSON");
    serde_json::to_vec(&value).expect("serialisable")
}

fn dialect_step(d: &Dialect, route: RouteKind, path: &str, body: &[u8]) -> Vec<u8> {
    let req = d.parse_request(route, path, body).expect("valid request");
    d.clamp(&req, &TIER).expect("clampable")
}

/// Mean time per call over a fixed number of calls, for the printed ratio.
fn mean(mut f: impl FnMut(), calls: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed() / calls
}

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "piston",
            dialect(DialectKind::Piston),
            RouteKind::Execute,
            "/api/v2/execute",
            piston_body(),
        ),
        (
            "judge0-batch10",
            dialect(DialectKind::Judge0),
            RouteKind::ExecuteBatch,
            "/submissions/batch?base64_encoded=true",
            judge0_batch(),
        ),
    ];
    for (name, d, route, path, body) in &cases {
        let mut group = c.benchmark_group(*name);
        group.bench_function("baseline_json_roundtrip", |b| {
            b.iter(|| baseline(black_box(body)))
        });
        group.bench_function("parse_and_clamp", |b| {
            b.iter(|| dialect_step(d, *route, path, black_box(body)))
        });
        group.finish();
        let base = mean(|| drop(black_box(baseline(body))), 2000);
        let ours = mean(
            || drop(black_box(dialect_step(d, *route, path, body))),
            2000,
        );
        println!(
            "{name}: {} bytes, baseline {base:?}, parse+clamp {ours:?}, ratio {:.2}x",
            body.len(),
            ours.as_secs_f64() / base.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
