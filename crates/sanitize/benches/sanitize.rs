//! Sanitization throughput on a 100 KB Piston response: typical program output and
//! worst-case output (dense near-miss tokens that pass every keyword prefilter),
//! against a baseline measured in the same run: a plain serde_json parse +
//! serialize of the same body. Prints MB/s, the ratio to the baseline and the
//! time per 100 KB (target: ≤ 1 ms).

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use execgate_sanitize::{FieldKind, FieldSpec, OutputPolicy, OutputRules, Reader, sanitize_json};
use std::time::{Duration, Instant};

const SIZE: usize = 100 * 1024;

fn rules() -> OutputRules {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/output.toml");
    match OutputRules::load(&[path.into()]) {
        Ok(rules) => rules,
        Err(errors) => panic!("rules: {errors:?}"),
    }
}

fn fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new("/run/stdout", FieldKind::Stdout, false),
        FieldSpec::new("/run/stderr", FieldKind::Stderr, false),
        FieldSpec::new("/run/output", FieldKind::Stdout, false),
    ]
}

/// Repeats `lines` until `SIZE` bytes.
fn fill(lines: &[&str]) -> String {
    let mut out = String::with_capacity(SIZE + 256);
    let mut i = 0;
    while out.len() < SIZE {
        out.push_str(lines[i % lines.len()]);
        out.push('\n');
        i += 1;
    }
    out.truncate(SIZE);
    out
}

fn typical() -> String {
    fill(&[
        "case 17: expected 42, got 42 (ok)",
        "[1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987]",
        "Hello, world! The quick brown fox jumps over the lazy dog.",
        "  File \"/tmp/main.py\", line 12, in solve",
        "result = {'a': 1, 'b': 2.5, 'c': [True, False, None]}",
        "iteration 1234: loss=0.03125 accuracy=0.984 elapsed=12.5s",
    ])
}

fn worst_case() -> String {
    fill(&[
        "AKIA1234 ASIA5678 ghp_short gho_ glpat- xoxb- sk_live_ AIza ya29. sk-proj- npm_ hf_ SG.",
        "api_key=abc token: x secret = y password: z auth=q access_key=w client_id=e creds=r",
        "eyJhbGciOi.eyJzdW -----BEGIN PUBLIC KEY----- https://user@host http://a:b@c",
        "/home /etc /var/lib /opt 10.0.0 192.168.1 fe80: a.internal. b.corp c:x:0: ::",
        "169.254. 0:0: $6$ :*: :!: service_account instanceId accountId EXECGATE-TENANT-",
    ])
}

fn body(stdout: &str) -> Vec<u8> {
    let doc = serde_json::json!({"language": "python", "version": "3.12.0",
        "run": {"stdout": stdout, "stderr": "", "output": "", "code": 0, "signal": null}});
    serde_json::to_vec(&doc).unwrap_or_default()
}

fn baseline(body: &[u8]) -> Vec<u8> {
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// Mean time of `f` over at least 200 runs and 1 s.
fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 200 || start.elapsed() < Duration::from_secs(1) {
        f();
        runs += 1;
    }
    start.elapsed() / runs
}

fn summary(rules: &OutputRules, policy: &OutputPolicy, fields: &[FieldSpec]) {
    for (name, stdout) in [("typical", typical()), ("worst-case", worst_case())] {
        let body = body(&stdout);
        let base = time(|| drop(black_box(baseline(black_box(&body)))));
        let ours = time(|| {
            drop(black_box(sanitize_json(
                rules,
                policy,
                Reader::ANYONE,
                black_box(&body),
                fields,
            )))
        });
        let mbps = |d: Duration| body.len() as f64 / d.as_secs_f64() / 1e6;
        println!(
            "sanitize {name}: {:.0} MB/s, {:.3} ms per 100 KB; serde_json baseline {:.0} MB/s; ratio {:.2}x the baseline's time; target 1 ms: {}",
            mbps(ours),
            ours.as_secs_f64() * 1e3,
            mbps(base),
            ours.as_secs_f64() / base.as_secs_f64(),
            if ours <= Duration::from_millis(1) {
                "met"
            } else {
                "MISSED"
            },
        );
    }
}

fn bench(c: &mut Criterion) {
    let rules = rules();
    let policy = OutputPolicy::default();
    let fields = fields();
    summary(&rules, &policy, &fields);
    let mut group = c.benchmark_group("sanitize_100kb");
    for (name, stdout) in [("typical", typical()), ("worst_case", worst_case())] {
        let body = body(&stdout);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{name}/serde_json_baseline"), |b| {
            b.iter(|| baseline(black_box(&body)))
        });
        group.bench_function(format!("{name}/sanitize_json"), |b| {
            b.iter(|| sanitize_json(&rules, &policy, Reader::ANYONE, black_box(&body), &fields))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
