//! A bounded ring buffer of recent security events (refusals, bans, leaks,
//! forgiveness) for `GET /v1/events` and a client's recent history.

use crate::blocklist::time::rfc3339;
use execgate_core::{ClientKey, Clock};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// Increasing number, unique within this process.
    pub seq: u64,
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
}

/// The ring buffer; the oldest events fall out when it is full.
#[derive(Debug)]
pub struct EventLog {
    clock: Arc<dyn Clock>,
    capacity: usize,
    inner: Mutex<(u64, VecDeque<EventRecord>)>,
}

impl EventLog {
    /// A log keeping the last `capacity` events.
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            capacity: capacity.max(1),
            inner: Mutex::new((0, VecDeque::new())),
        }
    }

    /// Records an event now.
    pub fn push(&self, kind: EventKind, key: &ClientKey, ip: Option<IpAddr>, detail: String) {
        let at = self.clock.now();
        let mut inner = self.inner.lock();
        inner.0 += 1;
        let seq = inner.0;
        if inner.1.len() >= self.capacity {
            inner.1.pop_front();
        }
        inner.1.push_back(EventRecord {
            seq,
            at,
            kind,
            key: key.clone(),
            ip,
            detail,
        });
    }

    /// Events at or after `since`, oldest first, at most `limit` (the most recent ones).
    pub fn since(&self, since: SystemTime, limit: usize) -> Vec<EventRecord> {
        self.select(limit, |e| e.at >= since)
    }

    /// The last `limit` events about `key`, oldest first.
    pub fn for_key(&self, key: &ClientKey, limit: usize) -> Vec<EventRecord> {
        self.select(limit, |e| e.key == *key)
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
