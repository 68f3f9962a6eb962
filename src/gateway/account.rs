//! Accounting: what a finished request says about its client feeds the
//! reputation engine (refusals, executor verdicts, output leaks, request
//! frequency and error rate), which bans repeat offenders through the blocklist.

use super::Gateway;
use super::context::RequestCtx;
use crate::error::Refusal;
use execgate_capacity::Capacity;
use execgate_core::ClientKey;
use execgate_dialect::RunOutcome;
use execgate_state::{BanOutcome, EventFinding, Reputation, RequestOutcome, SecurityEvent};
use std::net::IpAddr;
use std::sync::Arc;

/// Records the request's security events against its client.
///
/// With shared state the scoring runs detached from the request: Pingora reads
/// a kept-alive connection's next request only once this hook returns, and
/// each event is a Redis round trip (at most `command_timeout` each) that this
/// request's verdict, already sent, does not need. In memory it is done at once.
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
    let events = events
        .into_iter()
        .map(|event| {
            let findings = match (&event, &ctx.refusal) {
                (
                    SecurityEvent::CodeRejected { .. },
                    Some(Refusal::CodeRejected { findings, .. }),
                ) => findings.iter().map(shown).collect(),
                _ => Vec::new(),
            };
            (event, findings)
        })
        .collect();
    // Frequency and error rate are judged over many requests, not this one.
    let outcome = if ctx.status >= 400 {
        RequestOutcome::Failed
    } else {
        RequestOutcome::Served
    };
    let account = Account {
        key: identity.key.clone(),
        ip: identity.ip,
        allow_listed: ctx.allow_listed,
        request_id: ctx.request_id.clone(),
        events,
        outcome,
    };
    let (reputation, capacity) = (gw.reputation.clone(), gw.capacity.clone());
    let scoring = async move { account.score(&reputation, capacity.as_ref()).await };
    if gw.reputation.is_shared() {
        tokio::spawn(scoring);
    } else {
        scoring.await;
    }
}

/// What a finished request says about its client, owned: it may be scored
/// after the request is gone.
struct Account {
    key: ClientKey,
    ip: IpAddr,
    allow_listed: bool,
    request_id: String,
    events: Vec<(SecurityEvent, Vec<EventFinding>)>,
    outcome: RequestOutcome,
}

impl Account {
    /// Feeds the events and the request count to reputation; logs and alerts on a ban.
    async fn score(self, reputation: &Reputation, capacity: Option<&Arc<Capacity>>) {
        let Account {
            key,
            ip,
            allow_listed,
            request_id,
            events,
            outcome,
        } = self;
        let log_ban = |ban: Option<BanOutcome>| {
            if let Some(ban) = ban {
                super::alerts::ban(capacity, &key, &ban);
                tracing::warn!(request_id = %request_id, client = %key, ?ban, "client banned");
            }
        };
        for (event, findings) in events {
            log_ban(
                reputation
                    .record_with(&key, ip, event, allow_listed, findings)
                    .await,
            );
        }
        log_ban(
            reputation
                .observe_request(&key, ip, outcome, allow_listed)
                .await,
        );
    }
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
