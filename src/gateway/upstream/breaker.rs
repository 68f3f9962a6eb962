//! Whether each executor can take traffic: a real probe (an HTTP request the
//! executor's API answers, not a TCP connect) run every health-check period
//! feeds a circuit breaker per executor. Closed: in rotation; `failures`
//! consecutive failed probes open it (out of rotation); once open, a probe that
//! passes half-opens it, and `successes` consecutive passing probes close it
//! again, while any failure reopens it. Every change is counted in metrics and
//! written as an audit line.

use crate::metrics::Metrics;
use async_trait::async_trait;
use parking_lot::Mutex;
use pingora_core::Result;
use pingora_core::{Error, ErrorType};
use pingora_load_balancing::Backend;
use pingora_load_balancing::health_check::{HealthCheck, HttpHealthCheck};
use std::collections::HashMap;
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

/// One executor's breaker and its run of results.
#[derive(Debug, Clone, Copy)]
struct Breaker {
    state: BreakerState,
    /// Consecutive results of the kind that moves the state on.
    run: usize,
}

impl Breaker {
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

/// The health check the load balancer runs: a probe, then the breaker. Its
/// pingora threshold is 1: the breaker alone decides rotation.
pub struct ProbeCheck {
    http: HttpHealthCheck,
    thresholds: Thresholds,
    breakers: Mutex<HashMap<String, Breaker>>,
    metrics: Metrics,
}

/// The user agent of probes, so executors and their logs can tell them apart.
pub const PROBE_USER_AGENT: &str = "execgate-health-probe";

impl ProbeCheck {
    /// A check sending `probe` with `timeout` per connect and read.
    pub fn new(
        probe: &Probe,
        timeout: Duration,
        thresholds: Thresholds,
        metrics: Metrics,
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
        Ok(Self {
            http,
            thresholds,
            breakers: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// Records one probe result for `addr`; returns the state it leaves.
    fn record(&self, addr: &str, passed: bool, why: &str) -> BreakerState {
        let (before, after) = {
            let mut breakers = self.breakers.lock();
            let breaker = breakers.entry(addr.to_string()).or_insert(Breaker {
                state: BreakerState::Closed,
                run: 0,
            });
            let before = breaker.state;
            (before, breaker.observe(passed, self.thresholds))
        };
        if before != after {
            self.metrics
                .upstream_state
                .with_label_values(&[addr])
                .set(after.gauge());
            self.metrics
                .upstream_transitions
                .with_label_values(&[addr, after.as_str()])
                .inc();
            tracing::warn!(
                target: "execgate::audit",
                upstream = addr,
                from = before.as_str(),
                to = after.as_str(),
                probe = why,
                "executor health changed"
            );
        }
        after
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
        match self.record(&addr, probe.is_ok(), &why) {
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
        let mut b = Breaker {
            state: Closed,
            run: 0,
        };
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
}
