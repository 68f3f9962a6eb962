//! Prometheus metrics of the state layer: bans, active decisions, reputation
//! scores and rate-limit refusals, registered on the gateway's registry.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

/// Handles to the state metrics; cloning shares the same series.
#[derive(Debug, Clone)]
pub struct StateMetrics {
    bans: IntCounterVec,
    active_decisions: IntGauge,
    reputation_score: Histogram,
    rate_limit_refusals: IntCounterVec,
}

impl StateMetrics {
    /// Creates the metrics and registers them on `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self::unregistered()?;
        registry.register(Box::new(metrics.bans.clone()))?;
        registry.register(Box::new(metrics.active_decisions.clone()))?;
        registry.register(Box::new(metrics.reputation_score.clone()))?;
        registry.register(Box::new(metrics.rate_limit_refusals.clone()))?;
        Ok(metrics)
    }

    fn unregistered() -> Result<Self, prometheus::Error> {
        Ok(Self {
            bans: IntCounterVec::new(
                Opts::new(
                    "execgate_bans_total",
                    "Block decisions added, by reason (manual, list, anomaly:<event>)",
                ),
                &["reason"],
            )?,
            active_decisions: IntGauge::new(
                "execgate_active_decisions",
                "Block decisions currently in the store",
            )?,
            reputation_score: Histogram::with_opts(
                HistogramOpts::new(
                    "execgate_reputation_score",
                    "Client reputation scores after each recorded event",
                )
                .buckets(vec![0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]),
            )?,
            rate_limit_refusals: IntCounterVec::new(
                Opts::new(
                    "execgate_rate_limit_refusals_total",
                    "Requests refused by a rate-limit window",
                ),
                &["window"],
            )?,
        })
    }

    /// Counts a new block decision under `reason`.
    pub fn banned(&self, reason: &str) {
        self.bans.with_label_values(&[reason]).inc();
    }

    /// Sets the number of decisions in the store.
    pub fn set_active(&self, count: usize) {
        self.active_decisions
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Records a client's score after an event.
    pub fn observe_score(&self, score: f64) {
        self.reputation_score.observe(score);
    }

    /// Counts a refusal by `window`.
    pub fn rate_limited(&self, window: &str) {
        self.rate_limit_refusals.with_label_values(&[window]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_register_and_show_up_in_the_registry() {
        let registry = Registry::new();
        let m = StateMetrics::register(&registry).unwrap();
        m.banned("anomaly:exec_timeout");
        m.set_active(3);
        m.observe_score(4.0);
        m.rate_limited("burst");
        let names: Vec<String> = registry
            .gather()
            .iter()
            .map(|f| f.get_name().to_string())
            .collect();
        for n in [
            "execgate_bans_total",
            "execgate_active_decisions",
            "execgate_reputation_score",
            "execgate_rate_limit_refusals_total",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing in {names:?}");
        }
        assert!(
            StateMetrics::register(&registry).is_err(),
            "double registration refused"
        );
    }
}
