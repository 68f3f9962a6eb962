//! Alerts: what happened (`Alert`), where it goes (`url`, `webhook`) and how
//! the receiver knows it came from us (`sign`). An alert names clients,
//! tiers and figures — never program output or secrets.

pub mod sign;
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
}

/// The events a webhook subscribes to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Budget thresholds (50 / 80 / 100 %).
    Budget,
}

impl Alert {
    /// The kind of its event.
    pub fn kind(&self) -> EventKind {
        match self.event {
            AlertEvent::BudgetThreshold { .. } => EventKind::Budget,
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
        }
    }

    /// The generic JSON body.
    pub fn to_json(&self) -> Value {
        let at_ms = self
            .at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
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
        };
        json!({ "text": text })
    }
}
