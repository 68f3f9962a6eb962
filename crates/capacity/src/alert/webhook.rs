//! Delivers alerts to webhooks from a thread of its own: a request only puts
//! the alert in a bounded queue (a full queue drops it and counts the drop),
//! so a slow or dead receiver never slows a request. Each delivery is retried
//! with exponential backoff; an alert seen again within the dedup window is
//! not sent twice.

use super::sign::{SIGNATURE_HEADER, signature};
use super::url::WebhookUrl;
use super::{Alert, EventKind};
use crate::metrics::CapacityMetrics;
use execgate_core::Clock;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The body a receiver expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The alert's own JSON.
    Json,
    /// `{"text": …}` (Slack incoming webhooks and the many tools that copy them).
    Slack,
}

/// One receiver.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where to.
    pub url: WebhookUrl,
    /// Which body.
    pub format: WebhookFormat,
    /// Signs each body when set.
    pub secret: Option<Vec<u8>>,
    /// The events it gets.
    pub events: BTreeSet<EventKind>,
}

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// The receivers.
    pub webhooks: Vec<Webhook>,
    /// Alerts waiting for delivery at most; more are dropped (and counted).
    pub queue_max: usize,
    /// Attempts per delivery (1 = no retry).
    pub attempts: u32,
    /// The first retry's wait; each next one doubles, up to `backoff_max`.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// The time one attempt may take.
    pub timeout: Duration,
    /// An alert with the key of one sent within this window is not sent again.
    pub dedup_window: Duration,
    /// Refusals per minute that make a `refusal_spike` alert.
    pub refusal_spike: Option<u64>,
}

/// The sending side, held by the request path.
pub struct AlertSender {
    tx: mpsc::Sender<Alert>,
    seen: Mutex<HashMap<String, u64>>,
    dedup_ms: u64,
    clock: Arc<dyn Clock>,
    metrics: CapacityMetrics,
}

impl AlertSender {
    /// Starts the delivery thread; it ends when the sender is dropped.
    pub fn start(
        settings: AlertSettings,
        clock: Arc<dyn Clock>,
        metrics: CapacityMetrics,
    ) -> std::io::Result<Arc<Self>> {
        let (tx, rx) = mpsc::channel(settings.queue_max.max(1));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let deliver_metrics = metrics.clone();
        let dedup_ms = settings.dedup_window.as_millis() as u64;
        std::thread::Builder::new()
            .name("execgate-alerts".into())
            .spawn(move || runtime.block_on(deliver_all(settings, rx, deliver_metrics)))?;
        Ok(Arc::new(Self {
            tx,
            seen: Mutex::new(HashMap::new()),
            dedup_ms,
            clock,
            metrics,
        }))
    }

    /// Queues `alert` without waiting; a duplicate within the window or a
    /// full queue drops it (counted).
    pub fn notify(&self, alert: Alert) {
        let now = self.clock.now_ms();
        {
            let mut seen = self.seen.lock();
            let key = alert.dedup_key();
            if seen
                .get(&key)
                .is_some_and(|t| now.saturating_sub(*t) < self.dedup_ms)
            {
                self.metrics
                    .alerts
                    .with_label_values(&["deduplicated"])
                    .inc();
                return;
            }
            let window = self.dedup_ms;
            seen.retain(|_, t| now.saturating_sub(*t) < window);
            seen.insert(key, now);
        }
        if self.tx.try_send(alert).is_err() {
            self.metrics.alerts.with_label_values(&["dropped"]).inc();
        }
    }
}

async fn deliver_all(
    settings: AlertSettings,
    mut rx: mpsc::Receiver<Alert>,
    metrics: CapacityMetrics,
) {
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("alert delivery cannot start: {e}");
            return;
        }
    };
    while let Some(alert) = rx.recv().await {
        for hook in settings
            .webhooks
            .iter()
            .filter(|h| h.events.contains(&alert.kind()))
        {
            let outcome = if deliver(&client, &settings, hook, &alert).await {
                "sent"
            } else {
                "failed"
            };
            metrics.alerts.with_label_values(&[outcome]).inc();
        }
    }
}

/// Sends one alert to one receiver, retrying; whether it was accepted (2xx).
async fn deliver(
    client: &reqwest::Client,
    settings: &AlertSettings,
    hook: &Webhook,
    alert: &Alert,
) -> bool {
    let body = match hook.format {
        WebhookFormat::Json => alert.to_json(),
        WebhookFormat::Slack => alert.to_slack(),
    }
    .to_string();
    let mut wait = settings.backoff;
    for attempt in 1..=settings.attempts.max(1) {
        let mut req = client
            .post(hook.url.as_url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        if let Some(secret) = &hook.secret {
            req = req.header(SIGNATURE_HEADER, signature(secret, body.as_bytes()));
        }
        match req.send().await {
            Ok(resp) if resp.status().is_success() => return true,
            Ok(resp) => {
                tracing::warn!(url = %hook.url, attempt, status = %resp.status(), "webhook refused an alert")
            }
            Err(e) => tracing::warn!(url = %hook.url, attempt, "webhook unreachable: {e}"),
        }
        if attempt < settings.attempts {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(settings.backoff_max);
        }
    }
    false
}
