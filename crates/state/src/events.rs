//! A bounded ring buffer of recent security events (refusals, bans, leaks,
//! forgiveness) for `GET /v1/events` and a client's recent history; with a
//! shared state backend, the events of every gateway (see [`shared`]).

mod shared;

pub use shared::{CLIENT_HISTORY, SharedEvents};

use crate::blocklist::time::rfc3339;
use execgate_core::{ClientKey, Clock};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Code refused by screening.
    CodeRejected,
    /// A rate-limit refusal.
    RateLimited,
    /// A body over the tier's cap.
    BodyTooLarge,
    /// The executor timed the program out.
    ExecTimeout,
    /// The executor killed the program for its memory.
    MemoryKilled,
    /// The program hit an output limit.
    OutputLimit,
    /// Outbound leak rules found something in the output.
    OutputLeak,
    /// The executor failed.
    UpstreamError,
    /// Any other refusal.
    Refused,
    /// More requests in one activity window than allowed.
    HighRequestRate,
    /// Too large a share of the client's requests failed in one activity window.
    HighErrorRate,
    /// The client was put on the blocklist.
    Banned,
    /// Detection-only mode: the client would have been banned.
    WouldBan,
    /// An operator reset the client's reputation.
    Forgiven,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Increasing number, unique within the gateway that recorded it.
    pub seq: u64,
    /// The gateway that recorded it (a random id drawn when it starts).
    pub gateway: GatewayId,
    /// When it was recorded.
    #[serde(with = "rfc3339")]
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
    /// The client concerned.
    pub key: ClientKey,
    /// The client's address, when known.
    pub ip: Option<IpAddr>,
    /// Details in words (scores, ban length, decision id).
    pub detail: String,
    /// What screening found, for a screening refusal: rule, line, message —
    /// never the rule's pattern or the submitted code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<EventFinding>,
}

/// One screening finding behind a refusal, as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFinding {
    /// The rule id.
    pub rule: String,
    /// 1-based line of the submitted code.
    pub line: u32,
    /// The rule's message.
    pub message: String,
}

/// Names one gateway process among those sharing a state backend.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GatewayId(pub String);

impl GatewayId {
    /// A fresh id (8 hex digits), unique among the gateways of a deployment.
    pub fn random() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self(id[..8].to_string())
    }
}

/// The ring buffer; the oldest events fall out when it is full.
#[derive(Debug)]
pub struct EventLog {
    clock: Arc<dyn Clock>,
    capacity: usize,
    gateway: GatewayId,
    inner: Mutex<(u64, VecDeque<EventRecord>)>,
    /// The events of every gateway, when the state is shared.
    shared: Option<SharedEvents>,
}

impl EventLog {
    /// A log keeping the last `capacity` events.
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            capacity: capacity.max(1),
            gateway: GatewayId::random(),
            inner: Mutex::new((0, VecDeque::new())),
            shared: None,
        }
    }

    /// Also writes every event to `shared` and reads the events of every gateway from it.
    pub fn with_shared(mut self, shared: SharedEvents) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Records an event now.
    pub fn push(&self, kind: EventKind, key: &ClientKey, ip: Option<IpAddr>, detail: String) {
        self.push_with(kind, key, ip, detail, Vec::new());
    }

    /// Records an event now with the findings behind it.
    pub fn push_with(
        &self,
        kind: EventKind,
        key: &ClientKey,
        ip: Option<IpAddr>,
        detail: String,
        findings: Vec<EventFinding>,
    ) {
        let at = self.clock.now();
        let record = {
            let mut inner = self.inner.lock();
            inner.0 += 1;
            let record = EventRecord {
                seq: inner.0,
                gateway: self.gateway.clone(),
                at,
                kind,
                key: key.clone(),
                ip,
                detail,
                findings,
            };
            if inner.1.len() >= self.capacity {
                inner.1.pop_front();
            }
            inner.1.push_back(record.clone());
            record
        };
        // Serialised and handed to Redis outside the lock every request's events take.
        if let Some(shared) = &self.shared {
            shared.publish(&record);
        }
    }

    /// Events at or after `since`, oldest first, at most `limit` (the most recent ones).
    pub fn since(&self, since: SystemTime, limit: usize) -> Vec<EventRecord> {
        let local = self.select(limit, |e| e.at >= since);
        let shared = self.shared.as_ref().map(|s| s.since(since, limit));
        merged(local, shared, limit)
    }

    /// The last `limit` events about `key`, oldest first.
    pub fn for_key(&self, key: &ClientKey, limit: usize) -> Vec<EventRecord> {
        let local = self.select(limit, |e| e.key == *key);
        let shared = self.shared.as_ref().map(|s| s.for_key(key, limit));
        merged(local, shared, limit)
    }

    fn select(&self, limit: usize, keep: impl Fn(&EventRecord) -> bool) -> Vec<EventRecord> {
        let inner = self.inner.lock();
        let mut out: Vec<EventRecord> = inner
            .1
            .iter()
            .rev()
            .filter(|e| keep(e))
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        out
    }
}

/// This gateway's events (oldest first) and the shared ones (newest first) as
/// one list, oldest first, at most `limit`: this gateway's newest events may not
/// have reached Redis yet, and while Redis does not answer they are all there is.
fn merged(
    local: Vec<EventRecord>,
    shared: Option<Result<Vec<EventRecord>, crate::backend::BackendError>>,
    limit: usize,
) -> Vec<EventRecord> {
    let shared = match shared {
        None => return local,
        Some(Ok(shared)) => shared,
        Some(Err(e)) => {
            tracing::debug!(error = %e, "events: shared history unavailable, this gateway's own shown");
            return local;
        }
    };
    let mut all: Vec<EventRecord> = shared;
    let seen: std::collections::HashSet<(GatewayId, u64)> =
        all.iter().map(|e| (e.gateway.clone(), e.seq)).collect();
    all.extend(
        local
            .into_iter()
            .filter(|e| !seen.contains(&(e.gateway.clone(), e.seq))),
    );
    all.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.seq.cmp(&b.seq)));
    let excess = all.len().saturating_sub(limit);
    all.drain(..excess);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use execgate_core::ManualClock;
    use std::time::Duration;

    #[test]
    fn the_ring_keeps_the_newest_events_and_filters_by_time_and_key() {
        let clock = ManualClock::default();
        let log = EventLog::new(3, Arc::new(clock.clone()));
        let a = ClientKey::from_client_id("a");
        let b = ClientKey::from_client_id("b");
        for i in 0..4 {
            clock.advance(Duration::from_secs(1));
            let key = if i % 2 == 0 { &a } else { &b };
            log.push(EventKind::RateLimited, key, None, format!("n{i}"));
        }
        let all = log.since(SystemTime::UNIX_EPOCH, 100);
        let details: Vec<&str> = all.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(details, ["n1", "n2", "n3"], "oldest fell out");
        let recent = log.since(clock.now() - Duration::from_secs(1), 100);
        assert_eq!(recent.len(), 2);
        assert_eq!(log.for_key(&a, 10).len(), 1);
        assert_eq!(log.since(SystemTime::UNIX_EPOCH, 1)[0].detail, "n3");
    }
}
