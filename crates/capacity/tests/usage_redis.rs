//! Usage in a real redis-server: two meters (two gateways) charging one
//! client add up and refuse together, a fresh store reads what was spent, and
//! charges made while Redis is down reach it once it is back.

use execgate_capacity::budget::TierBudget;
use execgate_capacity::price::{PriceRow, Prices};
use execgate_capacity::{
    AtBudget, BudgetDecision, BudgetSettings, Budgets, CapacityMetrics, Caps, Credits, Meter,
    Period, PriceTable, RedisUsage, RefuseStatus, RunCost, Scope,
};
use execgate_core::{ClientKey, HumanDuration, ManualClock, TierName};
use execgate_state::backend::{BackendKind, BackendMetrics, RedisBackend, SharedStateConfig};
use execgate_state::testing::RedisServer;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

fn free() -> TierName {
    TierName("free".into())
}

fn backend(server: &RedisServer) -> Arc<RedisBackend> {
    let config = SharedStateConfig {
        backend: BackendKind::Redis,
        url: Some(server.url()),
        key_prefix: "usage".into(),
        command_timeout: HumanDuration(Duration::from_secs(2)),
        pool_size: 1,
        ..SharedStateConfig::default()
    };
    RedisBackend::connect(&config, BackendMetrics::unregistered().unwrap()).unwrap()
}

/// A meter on `store`: one credit per CPU second, free clients 10 a day.
fn meter(store: Arc<RedisUsage>, clock: &ManualClock) -> Meter {
    let mut budgets = BudgetSettings::default();
    budgets.tiers.insert(
        free(),
        TierBudget {
            caps: Caps {
                daily: Some(Credits(10_000_000)),
                monthly: None,
            },
            action: AtBudget::Refuse(RefuseStatus::PaymentRequired),
        },
    );
    Meter::new(
        PriceTable::new(vec![PriceRow {
            tier: None,
            language: None,
            prices: Prices {
                per_request: 0.0,
                per_cpu_second: 1.0,
                per_gb_second: 0.0,
            },
        }]),
        store,
        Budgets::new(budgets),
        None,
        CapacityMetrics::unregistered().unwrap(),
        Arc::new(clock.clone()),
    )
}

fn cpu(secs: u64) -> RunCost {
    RunCost {
        cpu: Duration::from_secs(secs),
        wall: Duration::from_secs(secs),
        memory_bytes: 0,
        estimated: false,
    }
}

/// Waits (generously) until `store` has sent every charge to Redis.
async fn sent(store: &RedisUsage) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.waiting() > 0 {
        assert!(Instant::now() < deadline, "charges never reached Redis");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn clock() -> ManualClock {
    // 2026-12-07T12:00:00Z.
    ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_796_644_800))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_add_up_and_refuse_together_and_a_fresh_store_reads_it() {
    let server = RedisServer::start();
    let clock = clock();
    let (store_a, store_b) = (
        Arc::new(RedisUsage::new(backend(&server))),
        Arc::new(RedisUsage::new(backend(&server))),
    );
    let (a, b) = (
        meter(store_a.clone(), &clock),
        meter(store_b.clone(), &clock),
    );
    let alice = ClientKey::from_client_id("alice");
    // 6 credits on each: neither alone reaches the 10 of the day.
    a.charge(&alice, &free(), "python", cpu(6));
    sent(&store_a).await;
    assert_eq!(b.check(&alice, &free()).await, BudgetDecision::Run);
    b.charge(&alice, &free(), "python", cpu(6));
    sent(&store_b).await;
    for (name, m) in [("a", &a), ("b", &b)] {
        assert!(
            matches!(m.check(&alice, &free()).await, BudgetDecision::Refuse(r) if r.status() == 402),
            "gateway {name} let a spent budget run"
        );
    }
    // Another client has its own budget.
    let bob = ClientKey::from_client_id("bob");
    assert_eq!(a.check(&bob, &free()).await, BudgetDecision::Run);
    b.charge(&bob, &free(), "c", cpu(1));
    sent(&store_b).await;
    // Kept by the gateway's clock: the month's figures until 35 days after it ends.
    let ttl: u64 = server
        .cli(&["pttl", "usage:usage:{2026-12}:m"])
        .trim()
        .parse()
        .unwrap();
    let day_ms = 86_400_000;
    assert!(
        (59 * day_ms..=60 * day_ms).contains(&ttl),
        "month kept {ttl} ms"
    );
    // A store that charged nothing (a restarted gateway) reads the shared figures.
    let fresh = meter(Arc::new(RedisUsage::new(backend(&server))), &clock);
    let day = fresh
        .usage(&Scope::Client(alice.clone()), Period::Day)
        .await
        .unwrap();
    assert_eq!(
        (day.credits, day.executions, day.cpu_ms),
        (Credits(12_000_000), 2, 12_000)
    );
    let tier = fresh
        .usage(&Scope::Tier(free()), Period::Month)
        .await
        .unwrap();
    assert_eq!((tier.credits, tier.executions), (Credits(13_000_000), 3));
    let global = fresh.usage(&Scope::Global, Period::Day).await.unwrap();
    assert_eq!(global.credits, Credits(13_000_000));
    let top: Vec<ClientKey> = fresh
        .top(Period::Month, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(top, [alice.clone(), bob]);
    assert!(matches!(
        fresh.check(&alice, &free()).await,
        BudgetDecision::Refuse(_)
    ));
    // The next UTC day starts afresh, for every gateway.
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(a.check(&alice, &free()).await, BudgetDecision::Run);
    let month = fresh
        .usage(&Scope::Client(alice), Period::Month)
        .await
        .unwrap();
    assert_eq!(month.credits, Credits(12_000_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charges_made_while_redis_is_down_reach_it_once_it_is_back() {
    let mut server = RedisServer::start();
    let clock = clock();
    let store = Arc::new(RedisUsage::new(backend(&server)));
    let m = meter(store.clone(), &clock);
    let alice = ClientKey::from_client_id("alice");
    server.kill();
    // Charging does not wait on the dead server; the charge waits in the outbox.
    m.charge(&alice, &free(), "python", cpu(11));
    assert_eq!(store.waiting(), 1);
    // The check answers from what this gateway knows: its own waiting charge.
    assert!(matches!(
        m.check(&alice, &free()).await,
        BudgetDecision::Refuse(_)
    ));
    assert!(m.usage(&Scope::Global, Period::Day).await.is_err());
    server.restart();
    sent(&store).await;
    let fresh = meter(Arc::new(RedisUsage::new(backend(&server))), &clock);
    let day = fresh
        .usage(&Scope::Client(alice), Period::Day)
        .await
        .unwrap();
    assert_eq!((day.credits, day.executions), (Credits(11_000_000), 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_follows_a_charge_sees_the_shared_totals_right_after_it() {
    use execgate_capacity::UsageStore;
    use execgate_capacity::usage::{Charge, Totals};
    let server = RedisServer::start();
    let (a, b) = (
        RedisUsage::new(backend(&server)),
        RedisUsage::new(backend(&server)),
    );
    let at = execgate_core::Clock::now(&clock());
    let charge = |client: &str, credits: u64| Charge {
        client: ClientKey::from_client_id(client),
        tier: free(),
        credits: Credits(credits),
        run: cpu(1),
        at,
    };
    let seen = Arc::new(parking_lot::Mutex::new(Vec::<Totals>::new()));
    let note = || {
        let seen = seen.clone();
        Box::new(move |t: Totals| seen.lock().push(t)) as execgate_capacity::usage::Settled
    };
    a.record(&charge("alice", 6), note());
    sent(&a).await;
    b.record(&charge("alice", 5), note());
    b.record(&charge("bob", 1), note());
    sent(&b).await;
    let seen = seen.lock().clone();
    let client_days: Vec<u64> = seen.iter().map(|t| t.client.day.0).collect();
    let global_months: Vec<u64> = seen.iter().map(|t| t.global.month.0).collect();
    // b's charge follows a's: its totals include a's 6.
    assert_eq!(client_days, [6, 11, 1]);
    assert_eq!(global_months, [6, 11, 12]);
}
