//! Metrics of the shared-state backend: whether it answers, its errors and
//! latency, and the decisions taken locally while it does not.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};
use std::time::Duration;

/// Handles to the backend metrics; cloning shares the same series.
#[derive(Debug, Clone)]
pub struct BackendMetrics {
    up: IntGauge,
    errors: IntCounterVec,
    latency: Histogram,
    fallback: IntCounterVec,
    waiting: IntGauge,
}

impl BackendMetrics {
    /// Creates the metrics and registers them on `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.up.clone()))?;
        registry.register(Box::new(m.errors.clone()))?;
        registry.register(Box::new(m.latency.clone()))?;
        registry.register(Box::new(m.fallback.clone()))?;
        registry.register(Box::new(m.waiting.clone()))?;
        Ok(m)
    }

    /// Metrics registered nowhere (tests, embedding without a registry).
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        Ok(Self {
            up: IntGauge::new(
                "execgate_state_backend_up",
                "1 while the shared-state backend answers, 0 while it does not",
            )?,
            errors: IntCounterVec::new(
                Opts::new(
                    "execgate_state_backend_errors_total",
                    "Failed backend calls, by kind (timeout, connection, reply)",
                ),
                &["kind"],
            )?,
            latency: Histogram::with_opts(
                HistogramOpts::new(
                    "execgate_state_backend_latency_seconds",
                    "Round trip of one backend call",
                )
                .buckets(vec![
                    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
                ]),
            )?,
            fallback: IntCounterVec::new(
                Opts::new(
                    "execgate_state_fallback_decisions_total",
                    "Decisions taken without the backend, by concern and outcome",
                ),
                &["concern", "outcome"],
            )?,
            waiting: IntGauge::new(
                "execgate_state_backend_calls_waiting",
                "Backend calls a caller is waiting on: sent, neither answered nor timed out",
            )?,
        })
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.up.set(i64::from(up));
    }

    pub(crate) fn error(&self, kind: &str) {
        self.errors.with_label_values(&[kind]).inc();
    }

    pub(crate) fn observe(&self, took: Duration) {
        self.latency.observe(took.as_secs_f64());
    }

    /// Counts a call waited on until the returned guard is dropped.
    pub(crate) fn waiting(&self) -> Waiting {
        self.waiting.inc();
        Waiting(self.waiting.clone())
    }

    pub(crate) fn fallback(&self, concern: &str, outcome: &str) {
        self.fallback.with_label_values(&[concern, outcome]).inc();
    }
}

/// One call being waited on; dropped with its answer (or with a caller that gave up).
pub(crate) struct Waiting(IntGauge);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.dec();
    }
}
