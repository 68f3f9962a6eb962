//! Screening cost against its own baseline, measured in the same run: parsing
//! the same source with rustpython-parser alone. Sizes: 200 B, 2 KB, 100 KB
//! Python, and throughput over the shared corpus. Prints screening/parse ratios.

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group};
use execgate_screen::{Language, RuleSet, ScreenPolicy, screen, screen_cached};
use rustpython_parser::{Mode, parse};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A typical submission unit: a small algorithm with a docstring and a doctest.
const UNIT: &str = r#"
def merge_sort_N(items):
    """Sort a list with merge sort.

    >>> merge_sort_N([3, 1, 2])
    [1, 2, 3]
    """
    if len(items) <= 1:
        return items
    mid = len(items) // 2
    left, right = merge_sort_N(items[:mid]), merge_sort_N(items[mid:])
    out = []
    while left and right:
        out.append(left.pop(0) if left[0] <= right[0] else right.pop(0))
    return out + left + right


print(merge_sort_N([5, 4, 3, 2, 1]), sum(x * x for x in range(10)))
"#;

fn python_of_size(bytes: usize) -> String {
    let mut out = String::from("import math\n");
    let mut n = 0;
    while out.len() < bytes {
        out.push_str(&UNIT.replace("_N", &format!("_{n}")));
        n += 1;
    }
    if bytes < UNIT.len() {
        out = "import math\nvalues = [math.sqrt(i) for i in range(10)]\nprint(sum(values), max(values))\nprint('done')\n".repeat(bytes / 100 + 1);
        out.truncate(bytes.max(1));
        out = out
            .rsplit_once('\n')
            .map_or(out.clone(), |(a, _)| format!("{a}\n"));
    }
    out
}

fn rules() -> RuleSet {
    RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/screen")])
        .expect("shipped rules")
}

fn corpus_files() -> Vec<Vec<u8>> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let root = if shared.is_dir() {
        shared
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vendor/corpus")
    };
    let mut files: Vec<PathBuf> = ["benign", "escapes", "runtime"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// The 10th percentile and the median of paired samples.
struct Spread {
    p10: Duration,
    median: Duration,
}

fn spread(mut samples: Vec<Duration>) -> Spread {
    samples.sort();
    Spread {
        p10: samples[samples.len() / 10],
        median: samples[samples.len() / 2],
    }
}

/// Times `a` and `b` alternately, so that both see the same load on a shared
/// machine; returns the spread of each.
fn paired(iterations: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (Spread, Spread) {
    let mut times = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        let t = Instant::now();
        a();
        times.0.push(t.elapsed());
        let t = Instant::now();
        b();
        times.1.push(t.elapsed());
    }
    (spread(times.0), spread(times.1))
}

fn sizes(c: &mut Criterion) {
    let rules = rules();
    let policy = ScreenPolicy::default();
    let mut group = c.benchmark_group("python");
    for (name, size) in [("200B", 200), ("2KB", 2 << 10), ("100KB", 100 << 10)] {
        let code = python_of_size(size);
        group.throughput(Throughput::Bytes(code.len() as u64));
        group.bench_with_input(BenchmarkId::new("screen", name), &code, |b, code| {
            b.iter(|| {
                screen(
                    &rules,
                    Some(Language::Python),
                    black_box(code.as_bytes()),
                    &policy,
                )
            })
        });
        group.bench_with_input(
            BenchmarkId::new("parse_baseline", name),
            &code,
            |b, code| b.iter(|| parse(black_box(code), Mode::Module, "<b>").is_ok()),
        );
    }
    group.finish();
}

fn corpus(c: &mut Criterion) {
    let files = corpus_files();
    if files.is_empty() {
        eprintln!("corpus not found beside the repository: corpus throughput skipped");
        return;
    }
    let rules = rules();
    let policy = ScreenPolicy::default();
    let total: usize = files.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("corpus");
    group
        .throughput(Throughput::Bytes(total as u64))
        .sample_size(10);
    group.bench_function("screen", |b| {
        b.iter(|| {
            files
                .iter()
                .for_each(|f| drop(screen(&rules, Some(Language::Python), f, &policy)))
        })
    });
    group.bench_function("parse_baseline", |b| {
        b.iter(|| {
            files
                .iter()
                .for_each(|f| drop(parse(&String::from_utf8_lossy(f), Mode::Module, "<b>")))
        })
    });
    group.finish();
}

/// Screening and parsing timed alternately, so the ratio holds under load.
fn ratios() {
    let rules = rules();
    let policy = ScreenPolicy::default();
    println!("\nscreening vs rustpython parse alone (paired samples, same run; p10 / median):");
    for (name, size, iterations) in [
        ("200B", 200, 4_000),
        ("2KB", 2 << 10, 2_000),
        ("100KB", 100 << 10, 100),
    ] {
        let code = python_of_size(size);
        let (s, p) = paired(
            iterations,
            || {
                drop(screen(
                    &rules,
                    Some(Language::Python),
                    code.as_bytes(),
                    &policy,
                ))
            },
            || drop(parse(&code, Mode::Module, "<b>")),
        );
        println!(
            "  {name:>6}: screen {:>9.1?} / {:>9.1?}  parse {:>9.1?} / {:>9.1?}  ratio {:.2} (median)",
            s.p10,
            s.median,
            p.p10,
            p.median,
            s.median.as_secs_f64() / p.median.as_secs_f64()
        );
    }
    // The verdict cache: the same 2 KB program again, against screening it anew.
    let code = python_of_size(2 << 10);
    drop(screen_cached(
        &rules,
        Some(Language::Python),
        code.as_bytes(),
        &policy,
    ));
    let (cached, fresh) = paired(
        2_000,
        || {
            drop(screen_cached(
                &rules,
                Some(Language::Python),
                code.as_bytes(),
                &policy,
            ))
        },
        || {
            drop(screen(
                &rules,
                Some(Language::Python),
                code.as_bytes(),
                &policy,
            ))
        },
    );
    println!(
        "     2KB repeated: cached {:>9.1?} / {:>9.1?}  uncached {:>9.1?} / {:>9.1?}  (p10 / median)",
        cached.p10, cached.median, fresh.p10, fresh.median
    );
    let files = corpus_files();
    if !files.is_empty() {
        let total: usize = files.iter().map(Vec::len).sum();
        let (s, p) = paired(
            9,
            || {
                files
                    .iter()
                    .for_each(|f| drop(screen(&rules, Some(Language::Python), f, &policy)))
            },
            || {
                files
                    .iter()
                    .for_each(|f| drop(parse(&String::from_utf8_lossy(f), Mode::Module, "<b>")))
            },
        );
        let mbs = |d: Duration| total as f64 / d.as_secs_f64() / 1e6;
        println!(
            "  corpus ({} files, {total} B): screen {:.1} MB/s  parse {:.1} MB/s  ratio {:.2} (median)",
            files.len(),
            mbs(s.median),
            mbs(p.median),
            s.median.as_secs_f64() / p.median.as_secs_f64()
        );
    }
}

criterion_group!(benches, sizes, corpus);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
