//! Prometheus metrics of the gateway, registered once and shared by every stage.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// The gateway's counters, gauges and histograms.
#[derive(Clone)]
pub struct Metrics {
    /// The registry served on `/metrics`.
    pub registry: Registry,
    /// Requests by decision (`forwarded` or the refusal code).
    pub requests: IntCounterVec,
    /// IP-level refusals by reason category.
    pub blocks: IntCounterVec,
    /// Time from sending upstream to the response head.
    pub upstream_latency: Histogram,
    /// Requests being handled.
    pub in_flight: IntGauge,
    /// Screening findings by rule id.
    pub findings: IntCounterVec,
    /// Rule reloads by result (`ok` / `error`).
    pub reloads: IntCounterVec,
    /// Output redactions by rule.
    pub redactions: IntCounterVec,
    /// Outbound leak findings by rule.
    pub outbound_findings: IntCounterVec,
    /// Each executor's circuit breaker: 0 closed, 1 half-open, 2 open.
    pub upstream_state: IntGaugeVec,
    /// Breaker changes by executor and the state entered.
    pub upstream_transitions: IntCounterVec,
    /// Screening verdict cache lookups by result (`hit` / `miss`).
    pub screen_cache: IntCounterVec,
    /// Log lines dropped because the log writer fell behind (`logging`).
    pub log_dropped: IntCounter,
    /// Judge0 callback deliveries by outcome (`gateway::callback`).
    pub callbacks: IntCounterVec,
}

impl Metrics {
    /// Creates and registers every metric in a fresh registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str, label: &str| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), &[label])?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let requests = counter(
            "execgate_requests_total",
            "Requests by decision",
            "decision",
        )?;
        let blocks = counter(
            "execgate_blocks_total",
            "IP-level refusals by reason",
            "reason",
        )?;
        let findings = counter(
            "execgate_findings_total",
            "Screening findings by rule id",
            "rule",
        )?;
        let reloads = counter(
            "execgate_rule_reloads_total",
            "Rule reloads by result",
            "result",
        )?;
        let redactions = counter(
            "execgate_redactions_total",
            "Output redactions by rule",
            "rule",
        )?;
        let outbound_findings = counter(
            "execgate_outbound_findings_total",
            "Outbound leak findings by rule",
            "rule",
        )?;
        let screen_cache = counter(
            "execgate_screen_cache_total",
            "Screening verdict cache lookups by result",
            "result",
        )?;
        let upstream_latency = Histogram::with_opts(
            HistogramOpts::new(
                "execgate_upstream_latency_seconds",
                "Time to the executor's response head",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )?;
        registry.register(Box::new(upstream_latency.clone()))?;
        let in_flight = IntGauge::new("execgate_in_flight_requests", "Requests being handled")?;
        registry.register(Box::new(in_flight.clone()))?;
        let upstream_state = IntGaugeVec::new(
            Opts::new(
                "execgate_upstream_state",
                "Executor circuit breaker: 0 closed, 1 half-open, 2 open",
            ),
            &["upstream"],
        )?;
        registry.register(Box::new(upstream_state.clone()))?;
        let upstream_transitions = IntCounterVec::new(
            Opts::new(
                "execgate_upstream_transitions_total",
                "Executor circuit breaker changes by the state entered",
            ),
            &["upstream", "to"],
        )?;
        registry.register(Box::new(upstream_transitions.clone()))?;
        let log_dropped = IntCounter::new(
            "execgate_log_lines_dropped_total",
            "Log lines (audit included) dropped because the log writer fell behind",
        )?;
        registry.register(Box::new(log_dropped.clone()))?;
        let callbacks = counter(
            "execgate_callbacks_total",
            "Judge0 callback deliveries by outcome (delivered, failed, refused, dropped)",
            "outcome",
        )?;
        Ok(Self {
            registry,
            requests,
            blocks,
            upstream_latency,
            in_flight,
            findings,
            reloads,
            redactions,
            outbound_findings,
            upstream_state,
            upstream_transitions,
            screen_cache,
            log_dropped,
            callbacks,
        })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let dropped = crate::logging::dropped_lines();
        self.log_dropped
            .inc_by(dropped.saturating_sub(self.log_dropped.get()));
        let encoder = prometheus::TextEncoder::new();
        encoder
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}
