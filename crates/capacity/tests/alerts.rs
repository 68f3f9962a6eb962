//! Alerts reach a real local webhook receiver: signed, once per threshold,
//! retried while the receiver fails, and never holding up the caller.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use execgate_capacity::alert::sign::verify;
use execgate_capacity::alert::url::WebhookUrl;
use execgate_capacity::alert::webhook::{AlertSender, AlertSettings, Webhook, WebhookFormat};
use execgate_capacity::alert::{Alert, AlertEvent, EventKind};
use execgate_capacity::budget::TierBudget;
use execgate_capacity::price::{PriceRow, Prices};
use execgate_capacity::{
    AtBudget, BudgetDecision, BudgetSettings, Budgets, CapacityMetrics, Caps, Credits, MemoryUsage,
    Meter, Period, PriceTable, RefuseStatus, RunCost,
};
use execgate_core::{ClientKey, ManualClock, TierName};
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &[u8] = b"s3cret";

#[derive(Clone, Default)]
struct Receiver {
    /// Bodies received with a valid signature, in order.
    signed: Arc<Mutex<Vec<serde_json::Value>>>,
    /// Every attempt, valid or not.
    attempts: Arc<AtomicUsize>,
    /// Attempts answered 500 before accepting.
    fail_first: usize,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = r.attempts.fetch_add(1, Ordering::SeqCst);
    if n < r.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let sig = headers
        .get("x-execgate-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if verify(SECRET, &body, sig) {
        r.signed.lock().push(serde_json::from_slice(&body).unwrap());
    }
    StatusCode::OK
}

/// A receiver on a free port, served from its own runtime thread.
fn receiver(fail_first: usize) -> (Receiver, String) {
    let r = Receiver {
        fail_first,
        ..Receiver::default()
    };
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(r.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (r, url)
}

fn settings(url: &str, attempts: u32, queue_max: usize) -> AlertSettings {
    AlertSettings {
        webhooks: vec![Webhook {
            url: WebhookUrl::parse(url).unwrap(),
            format: WebhookFormat::Json,
            secret: Some(SECRET.to_vec()),
            events: BTreeSet::from([EventKind::Budget]),
        }],
        queue_max,
        attempts,
        backoff: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        timeout: Duration::from_secs(30),
        dedup_window: Duration::from_secs(3600),
        refusal_spike: None,
    }
}

fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never happened: {what}");
}

fn noon() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_644_800)
}

fn alert(percent: u8) -> Alert {
    Alert {
        event: AlertEvent::BudgetThreshold {
            client: Some(ClientKey::from_client_id("a")),
            tier: Some(TierName("free".into())),
            period: Period::Day,
            period_label: "2026-12-07".into(),
            percent,
            spent: Credits(1),
            budget: Credits(2),
        },
        at: noon(),
    }
}

#[test]
fn a_client_crossing_its_budget_sends_exactly_three_signed_alerts_then_is_refused_until_tomorrow() {
    let (recv, url) = receiver(0);
    let clock = ManualClock::new(noon());
    let metrics = CapacityMetrics::unregistered().unwrap();
    let sender = AlertSender::start(
        settings(&url, 3, 16),
        Arc::new(clock.clone()),
        metrics.clone(),
    )
    .unwrap();
    let mut budgets = BudgetSettings::default();
    let free = TierName("free".into());
    budgets.tiers.insert(
        free.clone(),
        TierBudget {
            caps: Caps {
                daily: Some(Credits(10_000_000)),
                monthly: None,
            },
            action: AtBudget::Refuse(RefuseStatus::PaymentRequired),
        },
    );
    let meter = Meter::new(
        PriceTable::new(vec![PriceRow {
            tier: None,
            language: None,
            prices: Prices {
                per_request: 0.0,
                per_cpu_second: 1.0,
                per_gb_second: 0.0,
            },
        }]),
        Arc::new(MemoryUsage::in_memory()),
        Budgets::new(budgets),
        Some(sender),
        metrics.clone(),
        Arc::new(clock.clone()),
    );
    let a = ClientKey::from_client_id("a");
    let run = |secs| RunCost {
        cpu: Duration::from_secs(secs),
        wall: Duration::from_secs(secs),
        memory_bytes: 0,
        estimated: false,
    };
    // 3 → 6 (50 %) → 8 (80 %) → 9 → 11 (100 %)
    for secs in [3, 3, 2, 1, 2] {
        assert_eq!(now(meter.check(&a, &free)), BudgetDecision::Run);
        meter.charge(&a, &free, "python", run(secs));
    }
    eventually("three alerts sent", || {
        metrics.alerts.with_label_values(&["sent"]).get() == 3
    });
    let got = recv.signed.lock().clone();
    let percents: Vec<u64> = got.iter().map(|b| b["percent"].as_u64().unwrap()).collect();
    assert_eq!(percents, [50, 80, 100]);
    assert_eq!(got[2]["client"], "client:a");
    assert_eq!(got[2]["period"], "day");
    assert_eq!(recv.attempts.load(Ordering::SeqCst), 3);
    assert!(matches!(now(meter.check(&a, &free)), BudgetDecision::Refuse(r) if r.status() == 402));
    clock.advance(Duration::from_secs(12 * 3600));
    assert_eq!(now(meter.check(&a, &free)), BudgetDecision::Run);
}

#[test]
fn a_failing_receiver_gets_retries_until_it_accepts() {
    let (recv, url) = receiver(2);
    let metrics = CapacityMetrics::unregistered().unwrap();
    let sender = AlertSender::start(
        settings(&url, 5, 16),
        Arc::new(ManualClock::new(noon())),
        metrics.clone(),
    )
    .unwrap();
    sender.notify(alert(50));
    eventually("the alert is accepted", || {
        metrics.alerts.with_label_values(&["sent"]).get() == 1
    });
    assert_eq!(recv.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(recv.signed.lock().len(), 1);
    assert_eq!(metrics.alerts.with_label_values(&["failed"]).get(), 0);
}

#[test]
fn a_receiver_that_is_down_is_retried_then_counted_failed() {
    // A port that was free a moment ago: connections are refused.
    let url = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let metrics = CapacityMetrics::unregistered().unwrap();
    let sender = AlertSender::start(
        settings(&url, 3, 16),
        Arc::new(ManualClock::new(noon())),
        metrics.clone(),
    )
    .unwrap();
    sender.notify(alert(50));
    eventually("the delivery gives up", || {
        metrics.alerts.with_label_values(&["failed"]).get() == 1
    });
    assert_eq!(metrics.alerts.with_label_values(&["sent"]).get(), 0);
}

#[test]
fn a_receiver_that_hangs_never_holds_up_the_caller_and_overflow_is_counted() {
    // Accepts connections and never answers.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", hang.local_addr().unwrap());
    let metrics = CapacityMetrics::unregistered().unwrap();
    let sender = AlertSender::start(
        settings(&url, 3, 2),
        Arc::new(ManualClock::new(noon())),
        metrics.clone(),
    )
    .unwrap();
    // Distinct alerts (no dedup): the delivery thread holds at most one, the queue two.
    for percent in 0..20u8 {
        sender.notify(alert(percent));
    }
    let dropped = metrics.alerts.with_label_values(&["dropped"]).get();
    assert!(dropped >= 17, "dropped {dropped}");
    assert_eq!(metrics.alerts.with_label_values(&["sent"]).get(), 0);
    drop(hang);
}

#[test]
fn the_same_alert_within_the_window_is_sent_once() {
    let (recv, url) = receiver(0);
    let clock = ManualClock::new(noon());
    let metrics = CapacityMetrics::unregistered().unwrap();
    let sender = AlertSender::start(
        settings(&url, 1, 16),
        Arc::new(clock.clone()),
        metrics.clone(),
    )
    .unwrap();
    sender.notify(alert(80));
    sender.notify(alert(80));
    assert_eq!(metrics.alerts.with_label_values(&["deduplicated"]).get(), 1);
    clock.advance(Duration::from_secs(3601));
    sender.notify(alert(80));
    eventually("two alerts sent", || {
        metrics.alerts.with_label_values(&["sent"]).get() == 2
    });
    assert_eq!(recv.signed.lock().len(), 2);
}

#[test]
fn the_slack_body_is_one_line_of_text() {
    let body = alert(80).to_slack();
    assert_eq!(
        body["text"],
        "execgate: client:a has spent 80% of its daily budget (0.000001 of 0.000002 credits, 2026-12-07)"
    );
}

/// The value of `f`, waited for here (the memory store answers at once).
fn now<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}
