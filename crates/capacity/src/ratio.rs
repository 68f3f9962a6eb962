//! How much of its budget is spent, as a gauge per scope and period: the
//! platform's own budget (`scope="global"`), and per tier the client of that
//! tier nearest its cap (`scope="TIER"`) — one series per tier, however many
//! clients there are. Set at each charge; a new day or month starts from that
//! period's first charge.

use crate::budget::Caps;
use crate::credits::Credits;
use crate::period::{Period, PeriodKey};
use crate::usage::Totals;
use execgate_core::TierName;
use parking_lot::Mutex;
use prometheus::GaugeVec;
use std::collections::HashMap;
use std::time::SystemTime;

/// The global scope's label.
pub const GLOBAL: &str = "global";

/// The budget-used gauges and, per tier and period, the highest ratio seen.
pub struct BudgetRatios {
    gauge: GaugeVec,
    highest: Mutex<HashMap<(TierName, Period), (PeriodKey, f64)>>,
}

fn ratio(spent: Credits, cap: Credits) -> Option<f64> {
    (cap.0 > 0).then(|| spent.0 as f64 / cap.0 as f64)
}

impl BudgetRatios {
    /// Gauges kept in `gauge` (labels `scope`, `period`).
    pub fn new(gauge: GaugeVec) -> Self {
        Self {
            gauge,
            highest: Mutex::new(HashMap::new()),
        }
    }

    /// After a charge that left `after`: the platform's ratio under `global`
    /// caps, and the tier's highest with the client's `caps`.
    pub fn charged(
        &self,
        tier: &TierName,
        caps: Caps,
        global: Caps,
        after: Totals,
        at: SystemTime,
    ) {
        for period in Period::ALL {
            if let Some(r) = global
                .of(period)
                .and_then(|cap| ratio(after.global.of(period), cap))
            {
                self.gauge
                    .with_label_values(&[GLOBAL, period.as_str()])
                    .set(r);
            }
            let Some(r) = caps
                .of(period)
                .and_then(|cap| ratio(after.client.of(period), cap))
            else {
                continue;
            };
            let key = period.at(at);
            let mut highest = self.highest.lock();
            let entry = highest.entry((tier.clone(), period)).or_insert((key, 0.0));
            if entry.0 != key {
                *entry = (key, 0.0);
            }
            entry.1 = entry.1.max(r);
            self.gauge
                .with_label_values(&[tier.as_str(), period.as_str()])
                .set(entry.1);
        }
    }
}
