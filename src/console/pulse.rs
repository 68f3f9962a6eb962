//! The live overview's data: one sample per second of the gateway's counters
//! (requests, refusals by reason, executor errors, in-flight), kept for an
//! hour in a fixed ring. Reading it walks only the ring — never the clients —
//! so its cost is the same with one client or a hundred thousand. Each second
//! is encoded as JSON once, when sampled: a page's first load (the whole hour)
//! is a copy of those bytes, not 3 600 encodings.

use crate::metrics::Metrics;
use parking_lot::Mutex;
use prometheus::core::Collector;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds of history kept (the charts' hour).
pub const HISTORY: usize = 3600;

/// Why a request was refused, grouped as the overview charts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A rate-limit window was full.
    RateLimit,
    /// Screening refused the code.
    Screening,
    /// The blocklist or the IP policy.
    IpPolicy,
    /// Body, code or header size, or a slow sender.
    Body,
    /// A usage budget ran out.
    Budget,
    /// The executor failed, timed out or none was healthy.
    Executor,
    /// Anything else (bad request, unknown route…).
    Other,
}

impl Reason {
    /// Every reason, in the order of `Sample::refused`.
    pub const ALL: [Reason; 7] = [
        Reason::RateLimit,
        Reason::Screening,
        Reason::IpPolicy,
        Reason::Body,
        Reason::Budget,
        Reason::Executor,
        Reason::Other,
    ];

    /// The reason of a request decision (`execgate_requests_total`'s label);
    /// `None` for a forwarded request.
    pub fn of(decision: &str) -> Option<Reason> {
        Some(match decision {
            "forwarded" => return None,
            "rate_limited" => Reason::RateLimit,
            "code_rejected" => Reason::Screening,
            "ip_blocked" => Reason::IpPolicy,
            "body_too_large" | "code_too_large" | "length_required" | "header_timeout"
            | "body_timeout" | "headers_too_large" => Reason::Body,
            d if d.contains("budget") || d.contains("quota") => Reason::Budget,
            "upstream_unavailable"
            | "upstream_error"
            | "upstream_timeout"
            | "internal_error"
            | "overloaded" => Reason::Executor,
            _ => Reason::Other,
        })
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One second of traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Unix seconds at the end of the second.
    pub t: u64,
    /// Requests decided.
    pub requests: u64,
    /// Requests refused, by `Reason::ALL` order.
    pub refused: [u64; Reason::ALL.len()],
    /// Requests being handled at the sample.
    pub in_flight: i64,
}

/// The cumulative counters one sample is the difference of.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    requests: u64,
    refused: [u64; Reason::ALL.len()],
}

/// The hour of samples.
#[derive(Debug, Default)]
pub struct Pulse {
    ring: Mutex<(VecDeque<Encoded>, Option<Totals>)>,
}

/// A sample and its JSON.
#[derive(Debug)]
struct Encoded {
    sample: Sample,
    json: Box<str>,
}

impl Pulse {
    /// Records the counters read at `t`: the sample is their growth since the last read.
    fn record(&self, t: u64, totals: Totals, in_flight: i64) {
        let mut ring = self.ring.lock();
        let (samples, last) = &mut *ring;
        if let Some(last) = last {
            let mut sample = Sample {
                t,
                requests: totals.requests.saturating_sub(last.requests),
                in_flight,
                ..Sample::default()
            };
            for (i, n) in sample.refused.iter_mut().enumerate() {
                *n = totals.refused[i].saturating_sub(last.refused[i]);
            }
            push(samples, sample);
        }
        *last = Some(totals);
    }

    /// Appends one second as sampled elsewhere (a replayed hour, in benches).
    pub fn record_sample(&self, sample: Sample) {
        push(&mut self.ring.lock().0, sample);
    }

    /// The samples after Unix second `since`, oldest first (at most `HISTORY`).
    pub fn since(&self, since: u64) -> Vec<Sample> {
        let ring = self.ring.lock();
        let newer = newer_than(&ring.0, since);
        ring.0.range(newer..).map(|e| e.sample).collect()
    }

    /// `since`'s samples as a JSON array, from their stored encodings.
    pub fn since_json(&self, since: u64) -> String {
        let ring = self.ring.lock();
        let newer = newer_than(&ring.0, since);
        let mut out = String::with_capacity(2 + (ring.0.len() - newer) * 96);
        out.push('[');
        for (i, e) in ring.0.range(newer..).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&e.json);
        }
        out.push(']');
        out
    }

    /// Samples `metrics` once a second while the pulse is alive.
    pub fn start(metrics: Metrics) -> Arc<Pulse> {
        let pulse = Arc::new(Pulse::default());
        let weak: Weak<Pulse> = Arc::downgrade(&pulse);
        let spawned = std::thread::Builder::new()
            .name("console-pulse".into())
            .spawn(move || {
                while let Some(pulse) = weak.upgrade() {
                    pulse.sample(&metrics);
                    drop(pulse);
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        if let Err(e) = spawned {
            tracing::error!("the console's overview has no data: cannot start its sampler: {e}");
        }
        pulse
    }

    fn sample(&self, metrics: &Metrics) {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.record(t, totals(metrics), metrics.in_flight.get());
    }
}

/// Appends `sample` and its JSON, dropping the oldest second past `HISTORY`.
fn push(samples: &mut VecDeque<Encoded>, sample: Sample) {
    if samples.len() == HISTORY {
        samples.pop_front();
    }
    // A struct of integers always encodes.
    let json = serde_json::to_string(&sample).unwrap_or_default().into();
    samples.push_back(Encoded { sample, json });
}

/// The index of the first sample after `since`: newest first until an old
/// one, so a poll visits only the seconds it asks for.
fn newer_than(samples: &VecDeque<Encoded>, since: u64) -> usize {
    samples.len()
        - samples
            .iter()
            .rev()
            .take_while(|e| e.sample.t > since)
            .count()
}

/// The request counters by decision, summed per reason.
fn totals(metrics: &Metrics) -> Totals {
    let mut totals = Totals::default();
    for family in metrics.requests.collect() {
        for m in family.get_metric() {
            let n = m.get_counter().get_value() as u64;
            totals.requests += n;
            let decision = m.get_label().first().map_or("", |l| l.get_value());
            if let Some(reason) = Reason::of(decision) {
                totals.refused[reason.index()] += n;
            }
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_fall_into_the_charted_reasons() {
        assert_eq!(Reason::of("forwarded"), None);
        assert_eq!(Reason::of("code_rejected"), Some(Reason::Screening));
        assert_eq!(Reason::of("ip_blocked"), Some(Reason::IpPolicy));
        assert_eq!(Reason::of("upstream_timeout"), Some(Reason::Executor));
        assert_eq!(Reason::of("budget_exhausted"), Some(Reason::Budget));
        assert_eq!(Reason::of("unknown_route"), Some(Reason::Other));
    }

    #[test]
    fn samples_are_per_second_growth_and_the_ring_keeps_one_hour() {
        let pulse = Pulse::default();
        let mut totals = Totals::default();
        pulse.record(1, totals, 0);
        assert!(pulse.since(0).is_empty(), "the first read is the baseline");
        for t in 2..(HISTORY as u64 + 100) {
            totals.requests += 3;
            totals.refused[Reason::Screening.index()] += 1;
            pulse.record(t, totals, 2);
        }
        let all = pulse.since(0);
        assert_eq!(all.len(), HISTORY, "older seconds fell out");
        assert!(
            all.iter()
                .all(|s| s.requests == 3 && s.refused[1] == 1 && s.in_flight == 2)
        );
        let last = all.last().unwrap().t;
        assert_eq!(pulse.since(last - 5).len(), 5);
        assert!(pulse.since(last).is_empty());
    }

    /// The overview's read cost is bounded by the ring, not the traffic's
    /// clients: the work is counted (cells returned), not timed.
    #[test]
    fn a_poll_returns_only_new_seconds() {
        let pulse = Pulse::default();
        let mut totals = Totals::default();
        for t in 0..200 {
            totals.requests += 100_000;
            pulse.record(t, totals, 0);
        }
        assert_eq!(pulse.since(197).len(), 2);
        assert_eq!(pulse.since(0).len(), 199);
    }

    #[test]
    fn the_stored_encodings_are_the_samples_json() {
        let pulse = Pulse::default();
        let mut totals = Totals::default();
        for t in 0..10 {
            totals.requests += t;
            totals.refused[Reason::Budget.index()] += 1;
            pulse.record(t, totals, t as i64);
        }
        for since in [0, 5, 8, 9, 100] {
            let decoded: serde_json::Value =
                serde_json::from_str(&pulse.since_json(since)).unwrap();
            assert_eq!(
                decoded,
                serde_json::to_value(pulse.since(since)).unwrap(),
                "since {since}"
            );
        }
    }
}
