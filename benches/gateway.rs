//! Per-call costs on the request path: a rate-limit decision (three windows and
//! the RateLimit headers) and client identification, each against a baseline
//! measured in the same run; the ratios are printed at the end.

use criterion::{Criterion, black_box};
use execgate::config::tiers::builtin_tiers;
use execgate::config::{IdentitySettings, Rate};
use execgate::gateway::identity::Identifier;
use execgate::gateway::limits::{Charge, Limits};
use execgate_core::{ClientKey, Clock, ManualClock, TierName};
use execgate_state::MemoryRateLimiter;
use http::HeaderMap;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn limits(tier: &execgate::config::Tier) -> Limits {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
    let limiter = Arc::new(MemoryRateLimiter::new(clock, 1_000_000));
    Limits::new(
        limiter,
        [tier],
        Rate {
            quota: std::num::NonZeroU32::new(u32::MAX).unwrap(),
            period: Duration::from_secs(1),
        },
    )
}

const JWT_SECRET: &[u8] = b"bench-secret-0123456789abcdef0123456789";

/// A valid HS256 token for the bench identifier.
fn bench_token() -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "bench-user", "tier": "paid", "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET),
    )
    .unwrap()
}

fn identifier() -> Identifier {
    let mut api_keys = HashMap::new();
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"bench-key-0123456789").into();
    api_keys.insert(
        digest,
        execgate::config::ApiClient {
            client: "bench".into(),
            tier: TierName("free".into()),
        },
    );
    let settings = IdentitySettings {
        trusted_proxies: vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ],
        ipv6_prefix: 64,
        api_keys,
        jwt: Some(execgate::config::JwtSettings {
            algorithm: execgate::config::JwtAlgorithm::Hs256,
            key: JWT_SECRET.to_vec(),
            subject_claim: "sub".into(),
            tier_claim: "tier".into(),
            default_tier: Some(TierName("free".into())),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
        }),
        client_certs: Default::default(),
    };
    Identifier::new(&settings, &builtin_tiers(), TierName::anonymous()).unwrap()
}

/// Mean time per call of `f` over `n` calls.
fn per_call(n: u32, mut f: impl FnMut(u32)) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed() / n
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3));
    let tiers = builtin_tiers();
    let mut tier = tiers[&TierName::anonymous()].clone();
    for w in &mut tier.windows {
        w.quota = std::num::NonZeroU32::new(u32::MAX).unwrap();
    }
    let keys: Vec<ClientKey> = (0..10_000u32)
        .map(|i| ClientKey::from_ip(IpAddr::from(i.to_be_bytes()), 64))
        .collect();
    let limits = limits(&tier);
    let mut counters: HashMap<ClientKey, u64> = HashMap::new();
    let mut i = 0usize;
    c.bench_function("baseline: hashmap counter per client", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            *counters.entry(keys[i].clone()).or_default() += 1;
        })
    });
    c.bench_function("rate limit decision (3 windows + headers)", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(
                at_once(limits.check_async(&tier, &keys[i], Charge::Execution, NonZeroU32::MIN))
                    .is_ok(),
            )
        })
    });

    let id = identifier();
    let peer: IpAddr = "10.1.2.3".parse().unwrap();
    let mut xff = HeaderMap::new();
    xff.insert("x-forwarded-for", "203.0.113.9, 10.0.0.7".parse().unwrap());
    let mut keyed = HeaderMap::new();
    keyed.insert("x-api-key", "bench-key-0123456789".parse().unwrap());
    c.bench_function("baseline: ClientKey::from_ip", |b| {
        b.iter(|| black_box(ClientKey::from_ip(black_box(peer), 64)))
    });
    c.bench_function("identify: anonymous via trusted X-Forwarded-For", |b| {
        b.iter(|| black_box(id.identify(peer, &xff).is_ok()))
    });
    c.bench_function("identify: API key", |b| {
        b.iter(|| black_box(id.identify(peer, &keyed).is_ok()))
    });
    let mut bearer = HeaderMap::new();
    bearer.insert(
        "authorization",
        format!("Bearer {}", bench_token()).parse().unwrap(),
    );
    assert!(
        id.identify(peer, &bearer).is_ok(),
        "the bench token verifies"
    );
    c.bench_function("identify: HS256 JWT", |b| {
        b.iter(|| black_box(id.identify(peer, &bearer).is_ok()))
    });
    c.final_summary();

    let n = 200_000;
    let base_rl = per_call(n, |i| {
        *counters
            .entry(keys[i as usize % keys.len()].clone())
            .or_default() += 1
    });
    let rl = per_call(n, |i| {
        black_box(
            at_once(limits.check_async(
                &tier,
                &keys[i as usize % keys.len()],
                Charge::Execution,
                NonZeroU32::MIN,
            ))
            .is_ok(),
        );
    });
    let base_id = per_call(n, |_| {
        black_box(ClientKey::from_ip(black_box(peer), 64));
    });
    let anon = per_call(n, |_| {
        black_box(id.identify(peer, &xff).is_ok());
    });
    let api = per_call(n, |_| {
        black_box(id.identify(peer, &keyed).is_ok());
    });
    let jwt = per_call(n, |_| {
        black_box(id.identify(peer, &bearer).is_ok());
    });
    println!("\nsummary (mean per call, same run):");
    println!(
        "  rate limit decision   {rl:>10.2?}  vs hashmap counter {base_rl:>10.2?}  ratio {:.1}x",
        ratio(rl, base_rl)
    );
    println!(
        "  identify (XFF walk)   {anon:>10.2?}  vs ClientKey::from_ip {base_id:>8.2?}  ratio {:.1}x",
        ratio(anon, base_id)
    );
    println!(
        "  identify (API key)    {api:>10.2?}  vs ClientKey::from_ip {base_id:>8.2?}  ratio {:.1}x",
        ratio(api, base_id)
    );
    println!(
        "  identify (HS256 JWT)  {jwt:>10.2?}  vs ClientKey::from_ip {base_id:>8.2?}  ratio {:.1}x",
        ratio(jwt, base_id)
    );
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

/// The answer of a future that is ready at its first poll, as the memory
/// limiter's are: no runtime's cost enters the figure.
fn at_once<T>(fut: impl std::future::Future<Output = T>) -> T {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(fut).poll(&mut cx) {
        std::task::Poll::Ready(answer) => answer,
        std::task::Poll::Pending => unreachable!("the memory limiter answers at once"),
    }
}
