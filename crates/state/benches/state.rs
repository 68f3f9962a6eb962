//! Blocklist lookups with 100 000 entries (exact and CIDR) against a plain
//! `HashMap<IpAddr, _>` lookup (ranges are /16 to /30, 15 prefix lengths), and a three-window rate-limit decision against
//! a mutex-guarded map update, measured in the same run; prints the ratios.

use criterion::{Criterion, black_box};
use execgate_core::{ClientKey, SystemClock, TierName};
use execgate_state::{
    BlockQuery, BlockStore, MemoryBlockStore, MemoryRateLimiter, NewBlock, Origin, RateLimiter,
    WindowSpec,
};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENTRIES: u32 = 100_000;

/// A small deterministic generator, so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 32) as u32
    }
}

struct Setup {
    store: MemoryBlockStore,
    baseline: HashMap<IpAddr, u64>,
    exact_hit: IpAddr,
    range_hit: IpAddr,
    miss: IpAddr,
    limiter: MemoryRateLimiter,
    windows: Vec<WindowSpec>,
    keys: Vec<ClientKey>,
    plain: Mutex<HashMap<ClientKey, u64>>,
}

fn setup() -> Setup {
    let mut rng = Lcg(7);
    let mut blocks = Vec::new();
    let mut baseline = HashMap::new();
    for i in 0..ENTRIES / 2 {
        let ip = IpAddr::V4(Ipv4Addr::from(rng.next() | 0x0100_0000));
        baseline.insert(ip, u64::from(i));
        blocks.push(ip.to_string());
    }
    for _ in 0..ENTRIES / 2 {
        let len = 16 + rng.next() % 15;
        let net = ipnet::Ipv4Net::new(Ipv4Addr::from(rng.next()), len as u8)
            .unwrap()
            .trunc();
        blocks.push(net.to_string());
    }
    let exact_hit: IpAddr = blocks[10].parse().unwrap();
    let range_hit = match blocks[(ENTRIES / 2 + 10) as usize]
        .parse::<ipnet::IpNet>()
        .unwrap()
    {
        ipnet::IpNet::V4(n) => IpAddr::V4(n.hosts().next().unwrap_or(n.network())),
        ipnet::IpNet::V6(_) => unreachable!(),
    };
    let store = fill_store(&blocks);
    let miss = std::iter::repeat_with(|| IpAddr::V4(Ipv4Addr::from(rng.next())))
        .take(10_000)
        .find(|ip| !blocked(&store, *ip))
        .unwrap();
    let windows = vec![
        WindowSpec::new(
            "burst",
            NonZeroU32::new(1_000_000).unwrap(),
            Duration::from_secs(10),
        ),
        WindowSpec::new(
            "hourly",
            NonZeroU32::new(1_000_000).unwrap(),
            Duration::from_secs(3600),
        ),
        WindowSpec::new(
            "daily",
            NonZeroU32::new(1_000_000).unwrap(),
            Duration::from_secs(86400),
        ),
    ];
    Setup {
        store,
        baseline,
        exact_hit,
        range_hit,
        miss,
        limiter: MemoryRateLimiter::new(Arc::new(SystemClock), 100_000),
        windows,
        keys: (0..10_000)
            .map(|i| ClientKey::from_client_id(&format!("c{i}")))
            .collect(),
        plain: Mutex::new(HashMap::new()),
    }
}

/// A store holding `values`, each for an hour.
fn fill_store(values: &[String]) -> MemoryBlockStore {
    let store = MemoryBlockStore::open(None, Arc::new(SystemClock)).unwrap();
    for chunk in values.chunks(10_000) {
        let batch = chunk
            .iter()
            .map(|v| NewBlock {
                value: v.clone(),
                duration: Some(Duration::from_secs(3600)),
                reason: "bench".into(),
                origin: Origin::List,
                created_by: "bench".into(),
            })
            .collect();
        store.add_batch(batch).unwrap();
    }
    store
}

fn blocked(store: &MemoryBlockStore, ip: IpAddr) -> bool {
    let client = ClientKey::from_client_id("bench");
    let q = BlockQuery {
        ip,
        client: &client,
        country: None,
        asn: None,
    };
    store.check(&q).is_some()
}

fn lookup(s: &Setup, ip: IpAddr) -> bool {
    blocked(&s.store, ip)
}

fn decide(s: &Setup, i: usize) -> bool {
    let key = &s.keys[i % s.keys.len()];
    s.limiter
        .check(&TierName::anonymous(), key, &s.windows, NonZeroU32::MIN)
        .is_allowed()
}

fn plain_update(s: &Setup, i: usize) -> u64 {
    let key = &s.keys[i % s.keys.len()];
    let mut map = s.plain.lock();
    let n = map.entry(key.clone()).or_insert(0);
    *n += 1;
    *n
}

fn criterion_benches(c: &mut Criterion, s: &Setup) {
    let mut g = c.benchmark_group("blocklist_100k");
    g.bench_function("baseline_hashmap_ip", |b| {
        b.iter(|| s.baseline.get(black_box(&s.exact_hit)))
    });
    g.bench_function("check_exact_hit", |b| {
        b.iter(|| lookup(s, black_box(s.exact_hit)))
    });
    g.bench_function("check_cidr_hit", |b| {
        b.iter(|| lookup(s, black_box(s.range_hit)))
    });
    g.bench_function("check_miss", |b| b.iter(|| lookup(s, black_box(s.miss))));
    g.finish();
    let mut g = c.benchmark_group("rate_limit");
    let mut i = 0;
    g.bench_function("baseline_mutex_map_update", |b| {
        b.iter(|| {
            i += 1;
            plain_update(s, i)
        })
    });
    g.bench_function("decision_3_windows", |b| {
        b.iter(|| {
            i += 1;
            decide(s, i)
        })
    });
    g.finish();
}

/// Nanoseconds per call of `f`, over enough calls to be stable.
fn per_call(mut f: impl FnMut(usize) -> bool) -> f64 {
    const CALLS: usize = 2_000_000;
    for i in 0..CALLS / 10 {
        black_box(f(i));
    }
    let start = Instant::now();
    for i in 0..CALLS {
        black_box(f(i));
    }
    start.elapsed().as_nanos() as f64 / CALLS as f64
}

fn summary(s: &Setup) {
    assert!(lookup(s, s.exact_hit) && lookup(s, s.range_hit) && !lookup(s, s.miss));
    let base = per_call(|_| s.baseline.contains_key(black_box(&s.exact_hit)));
    println!("\nblocklist with {ENTRIES} entries (target: a lookup in <= 1000 ns)");
    println!("  baseline HashMap<IpAddr,_> get   {base:8.1} ns");
    for (name, ip) in [
        ("exact hit", s.exact_hit),
        ("CIDR hit", s.range_hit),
        ("miss", s.miss),
    ] {
        let ns = per_call(|_| lookup(s, black_box(ip)));
        println!(
            "  check, {name:<10}              {ns:8.1} ns  ({:.1}x baseline)",
            ns / base
        );
    }
    let base = per_call(|i| plain_update(s, i) > 0);
    let ns = per_call(|i| decide(s, i));
    println!("rate limit, 10 000 keys, 3 windows");
    println!("  baseline Mutex<HashMap> update  {base:8.1} ns");
    println!(
        "  decision                        {ns:8.1} ns  ({:.1}x baseline)",
        ns / base
    );
}

fn main() {
    let s = setup();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &s);
    c.final_summary();
    summary(&s);
}
