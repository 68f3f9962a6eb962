//! Per-execution costs of capacity control: admission and release through the
//! pool (target ≤ 2 µs), a waiter queued and granted, 10 000 waiters (memory
//! per waiter, time to drain), and accounting one verdict (read, price,
//! record: target ≤ 1 µs plus the state backend's round trip).

use criterion::{Criterion, criterion_group, criterion_main};
use execgate_capacity::budget::TierBudget;
use execgate_capacity::price::{PriceRow, Prices};
use execgate_capacity::{
    Admission, AtBudget, BudgetSettings, Budgets, CapacityMetrics, Caps, CostFormat, Credits,
    MemoryUsage, Meter, OverClientCap, Pool, PoolSettings, PriceTable, RefuseStatus, TierSlots,
    read_costs,
};
use execgate_core::{ClientKey, SystemClock, TierName};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// Bytes allocated and not yet freed, to weigh a waiter.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Waiters in the queue benchmark.
const WAITERS: usize = 10_000;

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

/// 10 000 executions waiting on a full pool of one: the memory each waiter
/// holds (its queue entry and ticket, then also the task awaiting it), and
/// the time to grant and release them all once the slot frees.
fn ten_thousand_waiters(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tier = TierName("free".into());
    let p = pool(1);
    let holder = ClientKey::from_client_id("holder");
    let clients: Vec<ClientKey> = (0..WAITERS)
        .map(|i| ClientKey::from_client_id(&format!("waiter-{i}")))
        .collect();

    let Ok(Admission::Run(busy)) = p.admit(&holder, &tier) else {
        unreachable!()
    };
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let tickets: Vec<_> = clients
        .iter()
        .map(|client| match p.admit(client, &tier) {
            Ok(Admission::Queued(ticket)) => ticket,
            _ => unreachable!("the pool of one is held"),
        })
        .collect();
    let queued = LIVE_BYTES.load(Ordering::Relaxed) - before;
    let tasks: Vec<_> = rt.block_on(async {
        tickets
            .into_iter()
            .map(|ticket| tokio::spawn(async move { drop(ticket.wait().await) }))
            .collect()
    });
    let waiting = LIVE_BYTES.load(Ordering::Relaxed) - before;
    let started = Instant::now();
    drop(busy);
    rt.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    let drained = started.elapsed();
    println!(
        "{WAITERS} waiters: {} B each queued (entry + ticket), {} B each with the task awaiting it; \
         drained in {:.1} ms ({:.2} µs per grant + release)",
        queued / WAITERS as isize,
        waiting / WAITERS as isize,
        drained.as_secs_f64() * 1e3,
        drained.as_secs_f64() * 1e6 / WAITERS as f64,
    );

    // The same drain under criterion: queue 10 000, then time granting them all.
    c.bench_function("drain 10 000 waiters (grant + release each)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let Ok(Admission::Run(busy)) = p.admit(&holder, &tier) else {
                    unreachable!()
                };
                let tasks: Vec<_> = rt.block_on(async {
                    clients
                        .iter()
                        .map(|client| {
                            let Ok(Admission::Queued(ticket)) = p.admit(client, &tier) else {
                                unreachable!()
                            };
                            tokio::spawn(async move { drop(ticket.wait().await) })
                        })
                        .collect()
                });
                let started = Instant::now();
                drop(busy);
                rt.block_on(async {
                    for task in tasks {
                        task.await.unwrap();
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
}

/// Accounting one finished execution in memory: its cost read from the
/// verdict, priced, recorded per client, tier and platform for the day and
/// the month, with a budget in force so the thresholds are evaluated. With
/// Redis the record is queued for the backend (one script per charge, sent
/// off the request path); the budget check before a run is its round trip.
fn accounting(c: &mut Criterion) {
    let tier = TierName("free".into());
    let prices = PriceTable::new(vec![PriceRow {
        tier: None,
        language: None,
        prices: Prices {
            per_request: 0.001,
            per_cpu_second: 1.0,
            per_gb_second: 0.5,
        },
    }]);
    let caps = Caps {
        daily: Credits::from_credits(1e12),
        monthly: Credits::from_credits(1e13),
    };
    let mut tiers = BTreeMap::new();
    tiers.insert(
        tier.clone(),
        TierBudget {
            caps,
            action: AtBudget::Refuse(RefuseStatus::PaymentRequired),
        },
    );
    let budgets = Budgets::new(BudgetSettings {
        tiers,
        global: caps,
        ..BudgetSettings::default()
    });
    let meter = Meter::new(
        prices,
        Arc::new(MemoryUsage::in_memory()),
        budgets,
        None,
        CapacityMetrics::unregistered().unwrap(),
        Arc::new(SystemClock),
    );
    let clients: Vec<ClientKey> = (0..1024)
        .map(|i| ClientKey::from_client_id(&format!("client-{i}")))
        .collect();
    let verdict = serde_json::json!({"run": {"stdout": "x", "cpu_time": 120, "wall_time": 180, "memory": 30_000_000}});
    let mut i = 0;
    c.bench_function("account one Piston verdict (read + price + record)", |b| {
        b.iter(|| {
            i = (i + 1) % clients.len();
            for run in read_costs(&CostFormat::Piston, black_box(&verdict)) {
                black_box(meter.charge(&clients[i], &tier, "python", run));
            }
        })
    });
}

criterion_group!(benches, admission, ten_thousand_waiters, accounting);
criterion_main!(benches);
