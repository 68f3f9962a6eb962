//! Metering and budgets: usage per client, tier and platform per UTC day and
//! month, kept across restarts, and budgets that throttle, refuse or only notify.

use execgate_capacity::budget::TierBudget;
use execgate_capacity::price::{PriceRow, Prices};
use execgate_capacity::{
    AtBudget, BudgetDecision, BudgetSettings, Budgets, CapacityMetrics, CapacityRefusal, Caps,
    Credits, MemoryUsage, Meter, Period, PriceTable, RefuseStatus, RunCost, Scope, UsageStore,
};
use execgate_core::{ClientKey, ManualClock, TierName};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn tier(name: &str) -> TierName {
    TierName(name.to_string())
}

/// 2026-12-07T12:00:00Z.
fn noon() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_644_800)
}

/// One credit per CPU-second, nothing else.
fn prices() -> PriceTable {
    PriceTable::new(vec![PriceRow {
        tier: None,
        language: None,
        prices: Prices {
            per_request: 0.0,
            per_cpu_second: 1.0,
            per_gb_second: 0.0,
        },
    }])
}

fn cpu(secs: u64) -> RunCost {
    RunCost {
        cpu: Duration::from_secs(secs),
        wall: Duration::from_secs(secs),
        memory_bytes: 0,
        estimated: false,
    }
}

fn meter(budgets: BudgetSettings, store: Arc<dyn UsageStore>, clock: &ManualClock) -> Meter {
    Meter::new(
        prices(),
        store,
        Budgets::new(budgets),
        None,
        CapacityMetrics::unregistered().unwrap(),
        Arc::new(clock.clone()),
    )
}

fn free_budget(daily: u64, action: AtBudget) -> BudgetSettings {
    let mut b = BudgetSettings::default();
    b.tiers.insert(
        tier("free"),
        TierBudget {
            caps: Caps {
                daily: Some(Credits(daily * 1_000_000)),
                monthly: None,
            },
            action,
        },
    );
    b
}

#[tokio::test]
async fn usage_is_kept_per_client_tier_and_platform_for_the_day_and_month() {
    let clock = ManualClock::new(noon());
    let m = meter(
        BudgetSettings::default(),
        Arc::new(MemoryUsage::in_memory()),
        &clock,
    );
    let (a, b) = (
        ClientKey::from_client_id("a"),
        ClientKey::from_client_id("b"),
    );
    m.charge(&a, &tier("free"), "python", cpu(2));
    m.charge(&b, &tier("paid"), "python", cpu(5));
    clock.advance(Duration::from_secs(86_400));
    m.charge(&a, &tier("free"), "python", cpu(1));
    assert_eq!(
        m.usage(&Scope::Client(a.clone()), Period::Day)
            .await
            .unwrap()
            .credits,
        Credits(1_000_000)
    );
    assert_eq!(
        m.usage(&Scope::Client(a.clone()), Period::Month)
            .await
            .unwrap()
            .credits,
        Credits(3_000_000)
    );
    assert_eq!(
        m.usage(&Scope::Client(a.clone()), Period::Month)
            .await
            .unwrap()
            .executions,
        2
    );
    assert_eq!(
        m.usage(&Scope::Tier(tier("free")), Period::Month)
            .await
            .unwrap()
            .credits,
        Credits(3_000_000)
    );
    assert_eq!(
        m.usage(&Scope::Global, Period::Month)
            .await
            .unwrap()
            .credits,
        Credits(8_000_000)
    );
    assert_eq!(
        m.usage(&Scope::Global, Period::Day).await.unwrap().credits,
        Credits(1_000_000)
    );
    let top: Vec<_> = m
        .top(Period::Month, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(top, vec![b, a]);
}

#[tokio::test]
async fn usage_survives_a_restart_through_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.jsonl");
    let a = ClientKey::from_client_id("a");
    let clock = ManualClock::new(noon());
    {
        let m = meter(
            BudgetSettings::default(),
            Arc::new(MemoryUsage::open(&path, noon()).unwrap()),
            &clock,
        );
        m.charge(&a, &tier("free"), "python", cpu(2));
        m.charge(&a, &tier("free"), "python", cpu(3));
    }
    let m = meter(
        BudgetSettings::default(),
        Arc::new(MemoryUsage::open(&path, noon()).unwrap()),
        &clock,
    );
    let u = m
        .usage(&Scope::Client(a.clone()), Period::Day)
        .await
        .unwrap();
    assert_eq!(
        (u.credits, u.executions, u.cpu_ms),
        (Credits(5_000_000), 2, 5000)
    );
    assert_eq!(
        m.usage(&Scope::Global, Period::Month)
            .await
            .unwrap()
            .credits,
        Credits(5_000_000)
    );
}

#[tokio::test]
async fn a_torn_last_line_is_skipped_but_a_bad_line_is_an_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.jsonl");
    {
        let store = MemoryUsage::open(&path, noon()).unwrap();
        let m = meter(
            BudgetSettings::default(),
            Arc::new(store),
            &ManualClock::new(noon()),
        );
        m.charge(
            &ClientKey::from_client_id("a"),
            &tier("free"),
            "python",
            cpu(1),
        );
    }
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"at_ms\":17966");
    std::fs::write(&path, &text).unwrap();
    let store = MemoryUsage::open(&path, noon()).unwrap();
    assert_eq!(
        store
            .usage(&Scope::Global, Period::Day.at(noon()))
            .await
            .unwrap()
            .executions,
        1
    );
    std::fs::write(&path, format!("garbage\n{text}\n")).unwrap();
    let err = MemoryUsage::open(&path, noon()).err().unwrap().to_string();
    assert!(err.contains("usage.jsonl:1"), "{err}");
    assert!(err.contains("not a usage record"), "{err}");
}

#[tokio::test]
async fn last_months_charges_leave_the_journal_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.jsonl");
    let a = ClientKey::from_client_id("a");
    {
        let m = meter(
            BudgetSettings::default(),
            Arc::new(MemoryUsage::open(&path, noon()).unwrap()),
            &ManualClock::new(noon()),
        );
        m.charge(&a, &tier("free"), "python", cpu(1));
    }
    let next_month = noon() + Duration::from_secs(31 * 86_400);
    let store = MemoryUsage::open(&path, next_month).unwrap();
    assert_eq!(
        store
            .usage(&Scope::Client(a), Period::Month.at(next_month))
            .await
            .unwrap()
            .executions,
        0
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
}

#[tokio::test]
async fn a_spent_budget_refuses_the_next_run_until_the_day_resets() {
    let clock = ManualClock::new(noon());
    let settings = free_budget(10, AtBudget::Refuse(RefuseStatus::PaymentRequired));
    let m = meter(settings, Arc::new(MemoryUsage::in_memory()), &clock);
    let a = ClientKey::from_client_id("a");
    let free = tier("free");
    assert_eq!(m.check(&a, &free).await, BudgetDecision::Run);
    // One run may go past the cap: a running execution is never stopped for budget.
    m.charge(&a, &free, "python", cpu(12));
    let BudgetDecision::Refuse(refusal) = m.check(&a, &free).await else {
        panic!("not refused");
    };
    let midnight = UNIX_EPOCH + Duration::from_secs(1_796_688_000);
    assert_eq!(
        refusal,
        CapacityRefusal::BudgetExhausted {
            status: RefuseStatus::PaymentRequired,
            resets_at: midnight,
            retry_after: Duration::from_secs(12 * 3600),
        }
    );
    assert_eq!(
        (refusal.status(), refusal.code()),
        (402, "budget_exhausted")
    );
    // Another client of the tier has its own budget.
    assert_eq!(
        m.check(&ClientKey::from_client_id("b"), &free).await,
        BudgetDecision::Run
    );
    clock.advance(Duration::from_secs(12 * 3600));
    assert_eq!(m.check(&a, &free).await, BudgetDecision::Run);
}

#[tokio::test]
async fn throttle_and_notify_let_the_run_go_on() {
    let clock = ManualClock::new(noon());
    let a = ClientKey::from_client_id("a");
    let throttle = meter(
        free_budget(1, AtBudget::Throttle(tier("anonymous"))),
        Arc::new(MemoryUsage::in_memory()),
        &clock,
    );
    throttle.charge(&a, &tier("free"), "python", cpu(1));
    assert_eq!(
        throttle.check(&a, &tier("free")).await,
        BudgetDecision::Throttle(tier("anonymous"))
    );
    let notify = meter(
        free_budget(1, AtBudget::Notify),
        Arc::new(MemoryUsage::in_memory()),
        &clock,
    );
    notify.charge(&a, &tier("free"), "python", cpu(1));
    assert_eq!(notify.check(&a, &tier("free")).await, BudgetDecision::Run);
}

#[tokio::test]
async fn a_client_override_replaces_its_tiers_caps() {
    let clock = ManualClock::new(noon());
    let m = meter(
        free_budget(1, AtBudget::Refuse(RefuseStatus::TooManyRequests)),
        Arc::new(MemoryUsage::in_memory()),
        &clock,
    );
    let a = ClientKey::from_client_id("a");
    m.charge(&a, &tier("free"), "python", cpu(2));
    assert!(
        matches!(m.check(&a, &tier("free")).await, BudgetDecision::Refuse(r) if r.status() == 429)
    );
    m.set_caps(
        a.clone(),
        Caps {
            daily: Some(Credits(5_000_000)),
            monthly: None,
        },
    )
    .unwrap();
    assert_eq!(m.check(&a, &tier("free")).await, BudgetDecision::Run);
}

#[tokio::test]
async fn a_spent_platform_budget_refuses_everyone() {
    let clock = ManualClock::new(noon());
    let settings = BudgetSettings {
        global: Caps {
            daily: None,
            monthly: Some(Credits(3_000_000)),
        },
        global_status: Some(RefuseStatus::TooManyRequests),
        ..BudgetSettings::default()
    };
    let m = meter(settings, Arc::new(MemoryUsage::in_memory()), &clock);
    m.charge(
        &ClientKey::from_client_id("a"),
        &tier("paid"),
        "python",
        cpu(3),
    );
    let BudgetDecision::Refuse(r) = m
        .check(&ClientKey::from_client_id("z"), &tier("paid"))
        .await
    else {
        panic!("not refused");
    };
    assert_eq!(r.status(), 429);
    // Until the first of next month.
    let CapacityRefusal::BudgetExhausted { resets_at, .. } = r else {
        unreachable!()
    };
    assert_eq!(Period::Month.at(resets_at).label(), "2027-01");
}

#[test]
fn budget_overrides_kept_in_a_file_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A directory not made yet (a fresh state directory) is made.
    let path = dir.path().join("state").join("budgets.json");
    let file = || execgate_capacity::overrides::OverridesFile::new(path.clone());
    let a = ClientKey::from_client_id("a");
    let caps = Caps {
        daily: Some(Credits(5_000_000)),
        monthly: Some(Credits(70_000_000)),
    };
    {
        let budgets = Budgets::open(BudgetSettings::default(), file()).unwrap();
        budgets.set_override(a.clone(), caps).unwrap();
    }
    let again = Budgets::open(BudgetSettings::default(), file()).unwrap();
    assert_eq!(again.caps(&a, &tier("free")), caps);
    assert!(!dir.path().join("state/budgets.json.tmp").exists());
}

#[test]
fn a_bad_budget_overrides_file_stops_the_start_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("budgets.json");
    let open = |text: &str| {
        std::fs::write(&path, text).unwrap();
        Budgets::open(
            BudgetSettings::default(),
            execgate_capacity::overrides::OverridesFile::new(path.clone()),
        )
        .err()
        .unwrap()
    };
    let err = open("{\n  \"client:a\": {\"daily\": -1}\n}");
    assert!(err.contains("budgets.json:2:"), "{err}");
    let err = open("{\"nobody\": {\"daily\": 1, \"monthly\": null}}");
    assert!(err.contains("not a client key"), "{err}");
    let err = open("{\"client:a\": {\"daily\": 18446744073709551615, \"monthly\": null}}");
    assert!(err.contains("over"), "{err}");
}
