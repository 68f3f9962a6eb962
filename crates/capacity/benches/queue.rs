//! Per-execution costs of capacity control: admission and release through the
//! pool (target ≤ 2 µs), a waiter queued and granted, and pricing one verdict.

use criterion::{Criterion, criterion_group, criterion_main};
use execgate_capacity::{
    Admission, CapacityMetrics, CostFormat, OverClientCap, Pool, PoolSettings, TierSlots,
    read_costs,
};
use execgate_core::{ClientKey, SystemClock, TierName};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

fn pool(total: u32) -> Arc<Pool> {
    let mut tiers = BTreeMap::new();
    for (name, priority) in [("anonymous", 0), ("free", 1), ("paid", 2)] {
        tiers.insert(
            TierName(name.into()),
            TierSlots {
                priority,
                per_client: NonZeroU32::new(4).unwrap(),
                over_client_cap: OverClientCap::Wait,
                queue_max: 100_000,
                queue_wait_max: Duration::from_secs(30),
            },
        );
    }
    let settings = PoolSettings {
        total: NonZeroU32::new(total).unwrap(),
        aging: Some(Duration::from_secs(10)),
        retry_after: Duration::from_secs(1),
        tiers,
    };
    Pool::new(
        &settings,
        Arc::new(SystemClock),
        CapacityMetrics::unregistered().unwrap(),
    )
}

fn admission(c: &mut Criterion) {
    let p = pool(64);
    let client = ClientKey::from_client_id("bench");
    let tier = TierName("paid".into());
    c.bench_function("pool admit + release (slot free)", |b| {
        b.iter(|| match p.admit(black_box(&client), black_box(&tier)) {
            Ok(Admission::Run(permit)) => drop(permit),
            _ => unreachable!("the pool has room"),
        })
    });
    let full = pool(1);
    let holder = ClientKey::from_client_id("holder");
    let waiter = ClientKey::from_client_id("waiter");
    c.bench_function("pool queue + grant + release (pool full)", |b| {
        b.iter(|| {
            let Ok(Admission::Run(busy)) = full.admit(&holder, &tier) else {
                unreachable!()
            };
            let Ok(Admission::Queued(ticket)) = full.admit(black_box(&waiter), &tier) else {
                unreachable!()
            };
            drop(busy);
            // Granted: dropping the ticket unclaimed releases the slot.
            drop(ticket);
        })
    });
    let verdict = serde_json::json!({"run": {"stdout": "x", "cpu_time": 120, "wall_time": 180, "memory": 30_000_000}});
    c.bench_function("read the cost of one Piston verdict", |b| {
        b.iter(|| read_costs(&CostFormat::Piston, black_box(&verdict)))
    });
}

criterion_group!(benches, admission);
criterion_main!(benches);
