//! The events an operator is alerted to besides budgets — a client banned,
//! an executor down or back, a run's output withheld, a burst of refusals —
//! handed to capacity control's webhooks (`[[capacity.webhook]]`). Without
//! `[capacity] enabled` (or without webhooks) nothing is sent.

use super::context::RequestCtx;
use super::upstream::Upstreams;
use super::upstream::breaker::BreakerState;
use execgate_capacity::Capacity;
use execgate_capacity::alert::AlertEvent;
use execgate_core::ClientKey;
use execgate_state::BanOutcome;
use std::sync::Arc;

/// Alerts on every executor's breaker opening (down) and closing (back).
pub fn watch_executors(upstreams: &Upstreams, capacity: Option<&Arc<Capacity>>) {
    let Some(cap) = capacity.cloned() else {
        return;
    };
    upstreams.watch_breakers(Box::new(move |executor, state| {
        let executor = executor.to_string();
        match state {
            BreakerState::Open => cap.alert(AlertEvent::ExecutorDown { executor }),
            BreakerState::Closed => cap.alert(AlertEvent::ExecutorBack { executor }),
            // Half-open still takes no traffic: neither down again nor back.
            BreakerState::HalfOpen => {}
        }
    }));
}

/// Alerts on a ban reputation issued (a detection-only "would ban" is not one).
pub fn ban(capacity: Option<&Arc<Capacity>>, client: &ClientKey, outcome: &BanOutcome) {
    let (Some(cap), BanOutcome::Banned(decision)) = (capacity, outcome) else {
        return;
    };
    let seconds = decision
        .expires_at
        .and_then(|end| end.duration_since(decision.created_at).ok())
        .map(|d| d.as_secs());
    cap.alert(AlertEvent::BanIssued {
        client: client.clone(),
        reason: decision.reason.clone(),
        seconds,
    });
}

/// Alerts on a run's output withheld.
pub fn leak_withheld(capacity: Option<&Arc<Capacity>>, client: &ClientKey, leak_score: u32) {
    if let Some(cap) = capacity {
        cap.alert(AlertEvent::LeakWithheld {
            client: client.clone(),
            leak_score,
        });
    }
}

/// Counts a finished request that was refused, toward the refusal-spike alert.
pub fn on_end(capacity: Option<&Arc<Capacity>>, ctx: &RequestCtx) {
    if let (Some(cap), Some(_)) = (capacity, &ctx.refusal) {
        cap.refused();
    }
}
