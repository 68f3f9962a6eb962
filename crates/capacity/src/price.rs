//! What a run costs in credits: a table of prices per tier and language (the
//! most specific row wins), each a price per request, per CPU-second and per
//! GB-second of peak memory held over the wall time.

use crate::cost::RunCost;
use crate::credits::Credits;
use execgate_core::TierName;

/// One row's prices, in credits.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prices {
    /// Per execution.
    pub per_request: f64,
    /// Per CPU-second.
    pub per_cpu_second: f64,
    /// Per GB (10^9 bytes) of peak memory per second of wall time.
    pub per_gb_second: f64,
}

/// A row of the table; `None` matches every tier or language.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    /// The tier it prices.
    pub tier: Option<TierName>,
    /// The language it prices.
    pub language: Option<String>,
    /// Its prices.
    pub prices: Prices,
}

/// The validated price table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    rows: Vec<PriceRow>,
}

impl PriceTable {
    /// A table of `rows` (already validated).
    pub fn new(rows: Vec<PriceRow>) -> Self {
        Self { rows }
    }

    /// The prices for a run of `language` in `tier`: the row naming both, then
    /// the tier, then the language, then neither; nothing matching costs nothing.
    pub fn prices(&self, tier: &TierName, language: &str) -> Prices {
        let specificity = |r: &PriceRow| match (&r.tier, &r.language) {
            (Some(t), Some(l)) if t == tier && l == language => Some(3),
            (Some(t), None) if t == tier => Some(2),
            (None, Some(l)) if l == language => Some(1),
            (None, None) => Some(0),
            _ => None,
        };
        self.rows
            .iter()
            .filter_map(|r| specificity(r).map(|s| (s, r)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, r)| r.prices)
            .unwrap_or_default()
    }

    /// The price of `run`.
    pub fn price(&self, tier: &TierName, language: &str, run: &RunCost) -> Credits {
        let p = self.prices(tier, language);
        let gb_seconds = run.memory_bytes as f64 / 1e9 * run.wall.as_secs_f64();
        let credits =
            p.per_request + p.per_cpu_second * run.cpu.as_secs_f64() + p.per_gb_second * gb_seconds;
        Credits((credits * 1e6).round().clamp(0.0, u64::MAX as f64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn row(tier: Option<&str>, language: Option<&str>, per_cpu_second: f64) -> PriceRow {
        PriceRow {
            tier: tier.map(|t| TierName(t.into())),
            language: language.map(Into::into),
            prices: Prices {
                per_request: 0.001,
                per_cpu_second,
                per_gb_second: 0.5,
            },
        }
    }

    #[test]
    fn the_most_specific_row_prices_the_run() {
        let table = PriceTable::new(vec![
            row(None, None, 1.0),
            row(Some("paid"), None, 2.0),
            row(None, Some("java"), 3.0),
            row(Some("paid"), Some("java"), 4.0),
        ]);
        let t = |n: &str| TierName(n.into());
        assert_eq!(table.prices(&t("paid"), "java").per_cpu_second, 4.0);
        assert_eq!(table.prices(&t("paid"), "python").per_cpu_second, 2.0);
        assert_eq!(table.prices(&t("free"), "java").per_cpu_second, 3.0);
        assert_eq!(table.prices(&t("free"), "python").per_cpu_second, 1.0);
    }

    #[test]
    fn a_run_costs_its_request_cpu_and_memory_time() {
        let table = PriceTable::new(vec![row(None, None, 0.01)]);
        let run = RunCost {
            cpu: Duration::from_secs(2),
            wall: Duration::from_secs(4),
            memory_bytes: 500_000_000,
            estimated: false,
        };
        // 0.001 + 2 × 0.01 + 0.5 GB × 4 s × 0.5 = 1.021
        assert_eq!(
            table.price(&TierName("free".into()), "python", &run),
            Credits(1_021_000)
        );
        assert_eq!(
            PriceTable::default().price(&TierName("free".into()), "python", &run),
            Credits::ZERO
        );
    }
}
