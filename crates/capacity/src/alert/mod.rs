//! Alerts: what happened (`Alert`), where it goes (`url`, `webhook`) and how
//! the receiver knows it came from us (`sign`). An alert names clients,
//! tiers and figures — never program output or secrets.

pub mod sign;
pub mod spike;
pub mod url;
pub mod webhook;

use crate::credits::Credits;
use crate::period::Period;
use execgate_core::{ClientKey, TierName};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// Something an operator wants to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What happened.
    pub event: AlertEvent,
    /// When.
    pub at: SystemTime,
}

/// The kinds of alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertEvent {
    /// A budget passed `percent` of its cap.
    BudgetThreshold {
        /// The client; `None` for the platform's budget.
        client: Option<ClientKey>,
        /// The client's tier.
        tier: Option<TierName>,
        /// Day or month.
        period: Period,
        /// Which day or month (`2026-12-07`, `2026-12`).
        period_label: String,
        /// 50, 80 or 100.
        percent: u8,
        /// Spent so far in the period.
        spent: Credits,
        /// The cap.
        budget: Credits,
    },
    /// Reputation banned a client.
    BanIssued {
        /// The client banned.
        client: ClientKey,
        /// The blocklist's words for why (rule names and scores, never code).
        reason: String,
        /// How long, in seconds (`None`: until lifted).
        seconds: Option<u64>,
    },
    /// An executor's circuit breaker opened: it takes no traffic.
    ExecutorDown {
        /// The executor's address.
        executor: String,
    },
    /// An executor's circuit breaker closed again.
    ExecutorBack {
        /// The executor's address.
        executor: String,
    },
    /// A run's output was withheld for leaking what it must not.
    LeakWithheld {
        /// The client whose run it was.
        client: ClientKey,
        /// The leak score of the output.
        leak_score: u32,
    },
    /// Refusals in one minute reached the configured threshold.
    RefusalSpike {
        /// The minute (Unix ms of its start).
        minute_ms: u64,
        /// The threshold reached.
        threshold: u64,
    },
}

/// The events a webhook subscribes to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Budget thresholds (50 / 80 / 100 %).
    Budget,
    /// A client banned by reputation.
    Ban,
    /// An executor down (breaker opened) or back (closed).
    Executor,
    /// A run's output withheld.
    Leak,
    /// Refusals per minute over the threshold.
    RefusalSpike,
}

impl EventKind {
    /// Every kind: what a webhook without `events` gets.
    pub const ALL: [EventKind; 5] = [
        EventKind::Budget,
        EventKind::Ban,
        EventKind::Executor,
        EventKind::Leak,
        EventKind::RefusalSpike,
    ];
}

/// Events of one kind and subject within this long are one alert: a flapping
/// executor or a client leaking on every run is told once a minute at most
/// (the configured dedup window then applies on top).
const BURST_MS: u64 = 60_000;

impl Alert {
    /// The kind of its event.
    pub fn kind(&self) -> EventKind {
        match self.event {
            AlertEvent::BudgetThreshold { .. } => EventKind::Budget,
            AlertEvent::BanIssued { .. } => EventKind::Ban,
            AlertEvent::ExecutorDown { .. } | AlertEvent::ExecutorBack { .. } => {
                EventKind::Executor
            }
            AlertEvent::LeakWithheld { .. } => EventKind::Leak,
            AlertEvent::RefusalSpike { .. } => EventKind::RefusalSpike,
        }
    }

    /// Names the event apart from when it was seen: two alerts with one key are one.
    pub fn dedup_key(&self) -> String {
        match &self.event {
            AlertEvent::BudgetThreshold {
                client,
                period,
                period_label,
                percent,
                ..
            } => format!(
                "budget|{}|{}|{period_label}|{percent}",
                client.as_ref().map_or("global", |c| c.as_str()),
                period.as_str()
            ),
            AlertEvent::BanIssued { client, .. } => format!("ban|{client}|{}", self.burst()),
            AlertEvent::ExecutorDown { executor } => {
                format!("executor_down|{executor}|{}", self.burst())
            }
            AlertEvent::ExecutorBack { executor } => {
                format!("executor_back|{executor}|{}", self.burst())
            }
            AlertEvent::LeakWithheld { client, .. } => format!("leak|{client}|{}", self.burst()),
            AlertEvent::RefusalSpike { minute_ms, .. } => format!("refusal_spike|{minute_ms}"),
        }
    }

    fn at_ms(&self) -> u64 {
        self.at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn burst(&self) -> u64 {
        self.at_ms() / BURST_MS
    }

    /// The generic JSON body.
    pub fn to_json(&self) -> Value {
        let at_ms = self.at_ms();
        match &self.event {
            AlertEvent::BudgetThreshold {
                client,
                tier,
                period,
                period_label,
                percent,
                spent,
                budget,
            } => json!({
                "event": "budget_threshold",
                "at_ms": at_ms,
                "client": client,
                "tier": tier,
                "period": period.as_str(),
                "period_label": period_label,
                "percent": percent,
                "spent": spent.as_credits(),
                "budget": budget.as_credits(),
            }),
            AlertEvent::BanIssued {
                client,
                reason,
                seconds,
            } => json!({
                "event": "ban_issued",
                "at_ms": at_ms,
                "client": client,
                "reason": reason,
                "seconds": seconds,
            }),
            AlertEvent::ExecutorDown { executor } => json!({
                "event": "executor_down", "at_ms": at_ms, "executor": executor,
            }),
            AlertEvent::ExecutorBack { executor } => json!({
                "event": "executor_back", "at_ms": at_ms, "executor": executor,
            }),
            AlertEvent::LeakWithheld { client, leak_score } => json!({
                "event": "leak_withheld",
                "at_ms": at_ms,
                "client": client,
                "leak_score": leak_score,
            }),
            AlertEvent::RefusalSpike {
                minute_ms,
                threshold,
            } => json!({
                "event": "refusal_spike",
                "at_ms": at_ms,
                "minute_ms": minute_ms,
                "threshold": threshold,
            }),
        }
    }

    /// The Slack-compatible body (`{"text": …}`).
    pub fn to_slack(&self) -> Value {
        let text = match &self.event {
            AlertEvent::BudgetThreshold {
                client,
                period,
                period_label,
                percent,
                spent,
                budget,
                ..
            } => {
                let who = client
                    .as_ref()
                    .map_or_else(|| "the platform".to_string(), |c| c.to_string());
                let per = match period {
                    Period::Day => "daily",
                    Period::Month => "monthly",
                };
                format!(
                    "execgate: {who} has spent {percent}% of its {per} budget ({spent} of {budget} credits, {period_label})"
                )
            }
            AlertEvent::BanIssued {
                client,
                reason,
                seconds,
            } => {
                let how_long =
                    seconds.map_or_else(|| "until lifted".into(), |s| format!("for {s}s"));
                format!("execgate: {client} was banned {how_long} ({reason})")
            }
            AlertEvent::ExecutorDown { executor } => {
                format!("execgate: executor {executor} is down (circuit breaker open)")
            }
            AlertEvent::ExecutorBack { executor } => {
                format!("execgate: executor {executor} is back (circuit breaker closed)")
            }
            AlertEvent::LeakWithheld { client, leak_score } => format!(
                "execgate: output of a run by {client} was withheld (leak score {leak_score})"
            ),
            AlertEvent::RefusalSpike { threshold, .. } => {
                format!("execgate: {threshold} requests refused within one minute")
            }
        };
        json!({ "text": text })
    }
}
