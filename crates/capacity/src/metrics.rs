//! Prometheus figures of capacity control: executions in flight and waiting
//! per tier, time waited, refusals, cost and alert delivery.

use prometheus::{
    CounterVec, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Capacity metrics, registered once in the gateway's registry.
#[derive(Clone)]
pub struct CapacityMetrics {
    /// Executions running, by tier.
    pub in_flight: IntGaugeVec,
    /// Executions waiting for a slot, by tier.
    pub queued: IntGaugeVec,
    /// Seconds waited before running, by tier.
    pub queue_wait: HistogramVec,
    /// Capacity refusals by code.
    pub refusals: IntCounterVec,
    /// Cost charged, by tier and language (credits).
    pub cost: CounterVec,
    /// Alerts by outcome (`sent`, `failed`, `dropped`, `deduplicated`).
    pub alerts: IntCounterVec,
    /// Share of a budget spent, by scope (`global` or a tier) and period.
    pub budget_used: GaugeVec,
}

impl CapacityMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.in_flight.clone()))?;
        registry.register(Box::new(m.queued.clone()))?;
        registry.register(Box::new(m.queue_wait.clone()))?;
        registry.register(Box::new(m.refusals.clone()))?;
        registry.register(Box::new(m.cost.clone()))?;
        registry.register(Box::new(m.alerts.clone()))?;
        registry.register(Box::new(m.budget_used.clone()))?;
        Ok(m)
    }

    /// Metrics kept but served nowhere (tests, benches, offline tools).
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        let buckets = vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
        Ok(Self {
            in_flight: IntGaugeVec::new(
                Opts::new(
                    "execgate_executions_in_flight",
                    "Executions running, by tier",
                ),
                &["tier"],
            )?,
            queued: IntGaugeVec::new(
                Opts::new(
                    "execgate_queue_length",
                    "Executions waiting for a slot, by tier",
                ),
                &["tier"],
            )?,
            queue_wait: HistogramVec::new(
                HistogramOpts::new(
                    "execgate_queue_wait_seconds",
                    "Time waited for an execution slot, by tier",
                )
                .buckets(buckets),
                &["tier"],
            )?,
            refusals: IntCounterVec::new(
                Opts::new(
                    "execgate_capacity_refusals_total",
                    "Capacity refusals by code",
                ),
                &["code"],
            )?,
            cost: CounterVec::new(
                Opts::new(
                    "execgate_cost_credits_total",
                    "Cost charged, by tier and language",
                ),
                &["tier", "language"],
            )?,
            alerts: IntCounterVec::new(
                Opts::new("execgate_alerts_total", "Alerts by outcome"),
                &["outcome"],
            )?,
            budget_used: GaugeVec::new(
                Opts::new(
                    "execgate_budget_used_ratio",
                    "Share of a budget spent this period: the platform's (scope global), or per tier the client nearest its cap",
                ),
                &["scope", "period"],
            )?,
        })
    }

    /// Counts a refusal with `code`.
    pub fn refused(&self, code: &str) {
        self.refusals.with_label_values(&[code]).inc();
    }
}
