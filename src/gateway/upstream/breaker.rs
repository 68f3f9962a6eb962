//! Whether each executor can take traffic: a real probe (an HTTP request the
//! executor's API answers, not a TCP connect) run every health-check period,
//! and the outcome of every real exchange (refused connection, timeout, 5xx),
//! feed a circuit breaker per executor. Closed: in rotation; `failures`
//! consecutive failed probes, or `failures` consecutive failed exchanges, open
//! it (out of rotation at once); once open, a probe that passes half-opens it,
//! and `successes` consecutive passing probes close it again, while any
//! failure reopens it. Probes and exchanges keep separate runs: a listing that
//! still answers does not excuse runs that fail. Every change is counted in
//! metrics and written as an audit line.

use crate::metrics::Metrics;
use async_trait::async_trait;
use parking_lot::Mutex;
use pingora_core::Result;
use pingora_core::{Error, ErrorType};
use pingora_load_balancing::Backend;
use pingora_load_balancing::health_check::{HealthCheck, HttpHealthCheck};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The state of one executor's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// In rotation.
    Closed,
    /// Out of rotation: probes pass again, not yet enough of them.
    HalfOpen,
    /// Out of rotation: probes fail.
    Open,
}

impl BreakerState {
    /// Every state, closed first.
    pub const ALL: [BreakerState; 3] = [
        BreakerState::Closed,
        BreakerState::HalfOpen,
        BreakerState::Open,
    ];

    /// The metric label and audit word.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }

    /// The gauge value: 0 closed, 1 half-open, 2 open.
    fn gauge(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

/// Consecutive probe results that change a breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Failed probes in a row that open a closed breaker.
    pub failures: usize,
    /// Passing probes in a row that close an open one.
    pub successes: usize,
}

/// One executor's breaker and its runs of results.
#[derive(Debug, Clone, Copy)]
struct Breaker {
    state: BreakerState,
    /// Consecutive probe results of the kind that moves the state on.
    run: usize,
    /// Consecutive failed exchanges while closed.
    failed_exchanges: usize,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            state: BreakerState::Closed,
            run: 0,
            failed_exchanges: 0,
        }
    }
}

impl Breaker {
    /// The state after one real exchange: only a closed breaker carries
    /// traffic, so only it counts them (an exchange still in flight when it
    /// opened changes nothing).
    fn observe_exchange(&mut self, passed: bool, limits: Thresholds) -> BreakerState {
        if self.state != BreakerState::Closed {
            return self.state;
        }
        if passed {
            self.failed_exchanges = 0;
        } else {
            self.failed_exchanges += 1;
            if self.failed_exchanges >= limits.failures {
                self.failed_exchanges = 0;
                self.run = 0;
                self.state = BreakerState::Open;
            }
        }
        self.state
    }

    /// The state after one probe result.
    fn observe(&mut self, passed: bool, limits: Thresholds) -> BreakerState {
        use BreakerState::*;
        self.state = match (self.state, passed) {
            (Closed, true) => {
                self.run = 0;
                Closed
            }
            (Closed, false) => {
                self.run += 1;
                if self.run >= limits.failures {
                    self.run = 0;
                    self.failed_exchanges = 0;
                    Open
                } else {
                    Closed
                }
            }
            (Open, false) | (HalfOpen, false) => {
                self.run = 0;
                Open
            }
            (Open, true) | (HalfOpen, true) => {
                self.run += 1;
                if self.run >= limits.successes {
                    self.run = 0;
                    Closed
                } else {
                    HalfOpen
                }
            }
        };
        self.state
    }
}

/// The probe request and the status that means "healthy".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Path (and query) of a `GET` the executor answers without running code.
    pub path: String,
    /// The status a healthy executor answers with.
    pub status: u16,
}

/// Every executor's breaker, shared by the health check (probes) and the
/// request path (exchanges, and skipping executors whose breaker is not closed).
pub struct Breakers {
    thresholds: Thresholds,
    table: Mutex<HashMap<String, Breaker>>,
    metrics: Metrics,
    /// Told of every change of state (the operator's alerts), once set.
    watcher: std::sync::OnceLock<Watcher>,
}

/// Told `(executor, new state)` on every change of a breaker.
pub type Watcher = Box<dyn Fn(&str, BreakerState) + Send + Sync>;

/// What one real exchange with an executor came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// The executor answered with this status (5xx counts as failed).
    Answered(u16),
    /// No connection, a timeout, or a broken answer.
    Failed,
}

impl Breakers {
    /// Every executor of `addrs` closed, `thresholds` for each. Their gauges
    /// and transition counters are exported at once, so a dashboard has every
    /// executor from the first scrape rather than from its first change.
    pub fn new(
        thresholds: Thresholds,
        metrics: Metrics,
        addrs: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut table = HashMap::new();
        for addr in addrs {
            metrics
                .upstream_state
                .with_label_values(&[addr.as_str()])
                .set(BreakerState::Closed.gauge());
            for to in BreakerState::ALL {
                metrics
                    .upstream_transitions
                    .with_label_values(&[addr.as_str(), to.as_str()]);
            }
            table.insert(addr, Breaker::default());
        }
        Self {
            thresholds,
            table: Mutex::new(table),
            metrics,
            watcher: std::sync::OnceLock::new(),
        }
    }

    /// Has `watcher` told of every later change of state; the first watcher set stays.
    pub fn watch(&self, watcher: Watcher) {
        let _ = self.watcher.set(watcher);
    }

    /// Whether `addr` may take traffic (an executor never seen is closed).
    pub fn is_closed(&self, addr: &str) -> bool {
        self.table
            .lock()
            .get(addr)
            .is_none_or(|b| b.state == BreakerState::Closed)
    }

    /// Records one real exchange with `addr`.
    pub fn exchange(&self, addr: &str, exchange: Exchange) -> BreakerState {
        let (passed, why) = match exchange {
            Exchange::Answered(status) => (status < 500, format!("exchange answered {status}")),
            Exchange::Failed => (false, "exchange failed".to_string()),
        };
        let thresholds = self.thresholds;
        self.apply(addr, &why, |b| b.observe_exchange(passed, thresholds))
    }

    /// Records one probe result for `addr`.
    fn probe(&self, addr: &str, passed: bool, why: &str) -> BreakerState {
        let thresholds = self.thresholds;
        self.apply(addr, why, |b| b.observe(passed, thresholds))
    }

    /// Moves `addr`'s breaker by `step`; a change of state is counted and audited.
    fn apply(
        &self,
        addr: &str,
        why: &str,
        step: impl FnOnce(&mut Breaker) -> BreakerState,
    ) -> BreakerState {
        let (before, after) = {
            let mut table = self.table.lock();
            let breaker = table.entry(addr.to_string()).or_default();
            let before = breaker.state;
            let after = step(breaker);
            // Exported under the lock: a reader of the metrics never sees a
            // state older than the one the request path already acts on.
            if before != after {
                self.metrics
                    .upstream_state
                    .with_label_values(&[addr])
                    .set(after.gauge());
                self.metrics
                    .upstream_transitions
                    .with_label_values(&[addr, after.as_str()])
                    .inc();
            }
            (before, after)
        };
        if before != after {
            tracing::warn!(
                target: "execgate::audit",
                upstream = addr,
                from = before.as_str(),
                to = after.as_str(),
                cause = why,
                "executor health changed"
            );
            if let Some(watcher) = self.watcher.get() {
                watcher(addr, after);
            }
        }
        after
    }
}

/// The health check the load balancer runs: a probe, then the breaker. Its
/// pingora threshold is 1: the breaker alone decides rotation.
pub struct ProbeCheck {
    http: HttpHealthCheck,
    breakers: Arc<Breakers>,
}

/// The user agent of probes, so executors and their logs can tell them apart.
pub const PROBE_USER_AGENT: &str = "execgate-health-probe";

impl ProbeCheck {
    /// A check sending `probe` with `timeout` per connect and read, moving `breakers`.
    pub fn new(
        probe: &Probe,
        timeout: Duration,
        breakers: Arc<Breakers>,
    ) -> std::result::Result<Self, String> {
        let mut http = HttpHealthCheck::new("localhost", false);
        let mut req = pingora_http::RequestHeader::build("GET", probe.path.as_bytes(), None)
            .map_err(|e| format!("upstream.health_check: {e}"))?;
        for (name, value) in [
            ("Host", "localhost"),
            ("User-Agent", PROBE_USER_AGENT),
            ("Accept", "application/json"),
        ] {
            req.insert_header(name, value)
                .map_err(|e| format!("upstream.health_check: {e}"))?;
        }
        http.req = req;
        http.peer_template.options.connection_timeout = Some(timeout);
        http.peer_template.options.read_timeout = Some(timeout);
        let expected = probe.status;
        http.validator = Some(Box::new(move |resp| {
            if resp.status.as_u16() == expected {
                Ok(())
            } else {
                Error::e_explain(
                    ErrorType::CustomCode("unexpected probe status", resp.status.as_u16()),
                    format!("the health probe expects {expected}"),
                )
            }
        }));
        Ok(Self { http, breakers })
    }
}

impl ProbeCheck {
    /// The peer every probe starts from (its TLS settings, when on).
    pub fn peer_template(&mut self) -> &mut pingora_core::upstreams::peer::HttpPeer {
        &mut self.http.peer_template
    }
}

#[async_trait]
impl HealthCheck for ProbeCheck {
    async fn check(&self, target: &Backend) -> Result<()> {
        let addr = target.addr.to_string();
        let probe = self.http.check(target).await;
        let why = match &probe {
            Ok(()) => "passed".to_string(),
            Err(e) => e.to_string(),
        };
        match self.breakers.probe(&addr, probe.is_ok(), &why) {
            BreakerState::Closed => Ok(()),
            state => Error::e_explain(
                ErrorType::ConnectError,
                format!("executor circuit breaker is {}", state.as_str()),
            ),
        }
    }

    fn health_threshold(&self, _success: bool) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::*;

    fn run(results: &[bool]) -> Vec<BreakerState> {
        let limits = Thresholds {
            failures: 3,
            successes: 2,
        };
        let mut b = Breaker::default();
        results.iter().map(|&r| b.observe(r, limits)).collect()
    }

    #[test]
    fn failures_in_a_row_open_and_successes_in_a_row_close() {
        assert_eq!(
            run(&[false, false, true, false, false, false, false, true, true]),
            [
                Closed, Closed, Closed, Closed, Closed, Open, Open, HalfOpen, Closed
            ]
        );
    }

    #[test]
    fn a_failure_while_half_open_reopens() {
        assert_eq!(
            run(&[false, false, false, true, false, true, true]),
            [Closed, Closed, Open, HalfOpen, Open, HalfOpen, Closed]
        );
    }

    #[test]
    fn failed_exchanges_open_a_closed_breaker_whatever_the_probes_say() {
        let limits = Thresholds {
            failures: 2,
            successes: 2,
        };
        let mut b = Breaker::default();
        assert_eq!(b.observe_exchange(false, limits), Closed);
        // a passing probe between two failed runs does not excuse them
        assert_eq!(b.observe(true, limits), Closed);
        assert_eq!(b.observe_exchange(false, limits), Open);
        // exchanges finishing while open change nothing; probes bring it back
        assert_eq!(b.observe_exchange(true, limits), Open);
        assert_eq!(b.observe(true, limits), HalfOpen);
        assert_eq!(b.observe_exchange(true, limits), HalfOpen);
        assert_eq!(b.observe(true, limits), Closed);
        // a good exchange resets the run
        assert_eq!(b.observe_exchange(false, limits), Closed);
        assert_eq!(b.observe_exchange(true, limits), Closed);
        assert_eq!(b.observe_exchange(false, limits), Closed);
    }
}
