//! Why capacity control turned an execution away, with when to come back;
//! the gateway renders these in its one refusal shape.

use crate::session::SessionLimit;
use std::time::{Duration, SystemTime};

/// HTTP status of a spent budget's refusal (`402 budget_exhausted` or `429`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum RefuseStatus {
    /// `402 Payment Required`.
    #[serde(rename = "402")]
    PaymentRequired,
    /// `429 Too Many Requests`.
    #[serde(rename = "429")]
    TooManyRequests,
}

impl RefuseStatus {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            RefuseStatus::PaymentRequired => 402,
            RefuseStatus::TooManyRequests => 429,
        }
    }
}

/// A refusal by the capacity stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapacityRefusal {
    /// The client already runs its tier's cap of executions at once.
    #[error("too many executions at once for this client")]
    ConcurrencyLimited {
        /// When to try again.
        retry_after: Duration,
    },
    /// The pool is full and the tier's queue too.
    #[error("the execution queue is full")]
    QueueFull {
        /// When to try again.
        retry_after: Duration,
    },
    /// Waited the tier's longest wait without a slot.
    #[error("waited too long for an execution slot")]
    QueueTimeout {
        /// When to try again.
        retry_after: Duration,
    },
    /// The request's session reached one of its caps, or no session more may open.
    #[error("the session may run no more executions")]
    SessionLimit {
        /// Which bound.
        limit: SessionLimit,
        /// When to try again (an idle session ends by then).
        retry_after: Duration,
    },
    /// A budget of the client (or the platform) is spent until `resets_at`.
    #[error("the execution budget is spent")]
    BudgetExhausted {
        /// 402 or 429, as configured.
        status: RefuseStatus,
        /// When the spent period ends (UTC midnight or the first of the month).
        resets_at: SystemTime,
        /// Seconds until then, for `Retry-After`.
        retry_after: Duration,
    },
}

impl CapacityRefusal {
    /// The error code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            CapacityRefusal::ConcurrencyLimited { .. } => "concurrency_limited",
            CapacityRefusal::QueueFull { .. } => "queue_full",
            CapacityRefusal::QueueTimeout { .. } => "queue_timeout",
            CapacityRefusal::SessionLimit { .. } => "session_limit",
            CapacityRefusal::BudgetExhausted { .. } => "budget_exhausted",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            CapacityRefusal::ConcurrencyLimited { .. } | CapacityRefusal::SessionLimit { .. } => {
                429
            }
            CapacityRefusal::QueueFull { .. } => 503,
            CapacityRefusal::QueueTimeout { .. } => 504,
            CapacityRefusal::BudgetExhausted { status, .. } => status.code(),
        }
    }

    /// `Retry-After`, whole seconds rounded up (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let d = match self {
            CapacityRefusal::ConcurrencyLimited { retry_after }
            | CapacityRefusal::QueueFull { retry_after }
            | CapacityRefusal::QueueTimeout { retry_after }
            | CapacityRefusal::SessionLimit { retry_after, .. }
            | CapacityRefusal::BudgetExhausted { retry_after, .. } => *retry_after,
        };
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        secs.max(1)
    }
}
