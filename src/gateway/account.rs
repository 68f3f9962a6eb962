//! Accounting: what a finished request says about its client feeds the
//! reputation engine (refusals, executor verdicts, output leaks, request
//! frequency and error rate), which bans repeat offenders through the blocklist.

use super::Gateway;
use super::context::RequestCtx;
use crate::error::Refusal;
use execgate_dialect::RunOutcome;
use execgate_state::{BanOutcome, EventFinding, RequestOutcome, SecurityEvent};

/// Records the request's security events against its client.
pub async fn record(gw: &Gateway, ctx: &RequestCtx) {
    let Some(identity) = &ctx.identity else {
        return;
    };
    gw.top.request(
        &identity.key,
        matches!(ctx.decision, super::context::Decision::Refused(_)),
    );
    let mut events: Vec<SecurityEvent> = ctx.refusal.iter().filter_map(refusal_event).collect();
    events.extend(ctx.run.outcomes.iter().filter_map(|o| outcome_event(*o)));
    if ctx.run.leak_score > 0 {
        events.push(SecurityEvent::OutputLeak {
            score: ctx.run.leak_score,
        });
    }
    let log_ban = |ban: Option<BanOutcome>| {
        if let Some(ban) = ban {
            super::alerts::ban(gw.capacity.as_ref(), &identity.key, &ban);
            tracing::warn!(request_id = %ctx.request_id, client = %identity.key, ?ban, "client banned");
        }
    };
    for event in events {
        let findings = match (&event, &ctx.refusal) {
            (SecurityEvent::CodeRejected { .. }, Some(Refusal::CodeRejected { findings, .. })) => {
                findings.iter().map(shown).collect()
            }
            _ => Vec::new(),
        };
        log_ban(gw.reputation.record_with(
            &identity.key,
            identity.ip,
            event,
            ctx.allow_listed,
            findings,
        ));
    }
    // Frequency and error rate are judged over many requests, not this one.
    let outcome = if ctx.status >= 400 {
        RequestOutcome::Failed
    } else {
        RequestOutcome::Served
    };
    log_ban(
        gw.reputation
            .observe_request(&identity.key, identity.ip, outcome, ctx.allow_listed)
            .await,
    );
}

/// A finding as the event log keeps it (the operator console shows it).
fn shown(f: &crate::error::ShownFinding) -> EventFinding {
    EventFinding {
        rule: f.rule.clone(),
        line: f.line,
        message: f.message.clone(),
    }
}

/// The event a refusal counts as; blocks themselves count nothing (the client is already out).
fn refusal_event(refusal: &Refusal) -> Option<SecurityEvent> {
    Some(match refusal {
        Refusal::CodeRejected { score, .. } => SecurityEvent::CodeRejected { score: *score },
        Refusal::RateLimited { .. }
        | Refusal::Capacity(execgate_capacity::CapacityRefusal::ConcurrencyLimited { .. }) => {
            SecurityEvent::RateLimited
        }
        Refusal::BodyTooLarge { .. } | Refusal::CodeTooLarge { .. } => SecurityEvent::BodyTooLarge,
        Refusal::LengthRequired { .. } => SecurityEvent::Refused,
        Refusal::UpstreamTimeout | Refusal::UpstreamFailed { .. } => SecurityEvent::UpstreamError,
        Refusal::InvalidRequest { .. }
        | Refusal::Unauthorized { .. }
        | Refusal::BodyTimeout
        | Refusal::UnknownRoute => SecurityEvent::Refused,
        Refusal::Blocked { .. }
        | Refusal::HeaderTimeout
        | Refusal::HeadersTooLarge { .. }
        | Refusal::TooManyHeaders { .. }
        | Refusal::Overloaded
        | Refusal::StateUnavailable
        | Refusal::UpstreamUnavailable
        | Refusal::Internal
        | Refusal::Capacity(_) => return None,
    })
}

/// The event a run's outcome counts as, if any.
pub fn outcome_event(outcome: RunOutcome) -> Option<SecurityEvent> {
    match outcome {
        RunOutcome::Timeout => Some(SecurityEvent::ExecTimeout),
        RunOutcome::MemoryKilled => Some(SecurityEvent::MemoryKilled),
        RunOutcome::OutputLimit => Some(SecurityEvent::OutputLimit),
        _ => None,
    }
}
