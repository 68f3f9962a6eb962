//! How much a client (and the platform) may spend per UTC day and month, what
//! happens once it has (`throttle`, `refuse` or `notify`), and the 50 / 80 /
//! 100 % marks that raise an alert. A budget is checked before a run starts
//! and charged after it ends: a running execution is never stopped for budget,
//! the next one is refused.

use crate::alert::{Alert, AlertEvent};
use crate::credits::Credits;
use crate::overrides::OverridesFile;
use crate::period::{Period, PeriodKey};
use crate::refusal::{CapacityRefusal, RefuseStatus};
use crate::usage::{Spent, Totals};
use execgate_core::{ClientKey, TierName};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

/// The percentages of a budget that raise an alert.
pub const THRESHOLDS: [u8; 3] = [50, 80, 100];

/// A daily and a monthly cap; `None` is no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caps {
    /// Per UTC day.
    pub daily: Option<Credits>,
    /// Per UTC month.
    pub monthly: Option<Credits>,
}

impl Caps {
    /// The cap of `period`, if any.
    pub fn of(self, period: Period) -> Option<Credits> {
        match period {
            Period::Day => self.daily,
            Period::Month => self.monthly,
        }
    }
}

/// What a spent budget does to the next execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtBudget {
    /// The client runs with this lower tier's limits.
    Throttle(TierName),
    /// Refused with this status until the period resets.
    Refuse(RefuseStatus),
    /// Only the alert; runs go on.
    Notify,
}

/// A tier's budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierBudget {
    /// Caps per client of the tier.
    pub caps: Caps,
    /// At 100 %.
    pub action: AtBudget,
}

/// Validated budget settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BudgetSettings {
    /// Per tier (a tier not listed has no budget).
    pub tiers: BTreeMap<TierName, TierBudget>,
    /// Per-client caps from config (the admin API may set more).
    pub clients: BTreeMap<ClientKey, Caps>,
    /// The whole platform's caps; spent, every execution is refused.
    pub global: Caps,
    /// Status of the global budget's refusal.
    pub global_status: Option<RefuseStatus>,
}

/// What the budgets say about the next execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetDecision {
    /// Runs as usual.
    Run,
    /// Runs with this tier's limits.
    Throttle(TierName),
    /// Refused.
    Refuse(CapacityRefusal),
}

/// The budgets in force, with overrides set at run time.
pub struct Budgets {
    settings: BudgetSettings,
    overrides: RwLock<HashMap<ClientKey, Caps>>,
    file: Option<OverridesFile>,
}

impl Budgets {
    /// Budgets from `settings`; overrides live in memory only.
    pub fn new(settings: BudgetSettings) -> Self {
        Self {
            settings,
            overrides: RwLock::new(HashMap::new()),
            file: None,
        }
    }

    /// Budgets from `settings`, with the overrides kept in `file` (read now).
    pub fn open(settings: BudgetSettings, file: OverridesFile) -> Result<Self, String> {
        let overrides = file.load()?;
        Ok(Self {
            settings,
            overrides: RwLock::new(overrides),
            file: Some(file),
        })
    }

    /// Sets `client`'s caps (replacing the tier's and config's). With a file,
    /// the change holds only once written there: an override a restart would
    /// forget is an error, not a success.
    pub fn set_override(&self, client: ClientKey, caps: Caps) -> Result<(), String> {
        let mut overrides = self.overrides.write();
        let Some(file) = &self.file else {
            overrides.insert(client, caps);
            return Ok(());
        };
        if !overrides.contains_key(&client) && overrides.len() >= crate::overrides::OVERRIDES_MAX {
            return Err(format!(
                "more than {} clients with an override",
                crate::overrides::OVERRIDES_MAX
            ));
        }
        let mut next = overrides.clone();
        next.insert(client, caps);
        file.save(&next)?;
        *overrides = next;
        Ok(())
    }

    /// The platform's caps.
    pub fn global(&self) -> Caps {
        self.settings.global
    }

    /// The caps that apply to `client` of `tier`.
    pub fn caps(&self, client: &ClientKey, tier: &TierName) -> Caps {
        if let Some(c) = self.overrides.read().get(client) {
            return *c;
        }
        if let Some(c) = self.settings.clients.get(client) {
            return *c;
        }
        self.settings
            .tiers
            .get(tier)
            .map(|t| t.caps)
            .unwrap_or_default()
    }

    /// Whether `client` of `tier`, having spent `spent`, may start an execution at `now`.
    pub fn check(
        &self,
        spent: Totals,
        client: &ClientKey,
        tier: &TierName,
        now: SystemTime,
    ) -> BudgetDecision {
        if let Some((key, status)) = self.global_spent(spent.global, now) {
            return BudgetDecision::Refuse(exhausted(status, key, now));
        }
        let caps = self.caps(client, tier);
        let spent_period = Period::ALL.into_iter().find_map(|period| {
            let cap = caps.of(period)?;
            (spent.client.of(period) >= cap).then_some(period.at(now))
        });
        let Some(key) = spent_period else {
            return BudgetDecision::Run;
        };
        match self.settings.tiers.get(tier).map(|t| &t.action) {
            Some(AtBudget::Throttle(to)) => BudgetDecision::Throttle(to.clone()),
            Some(AtBudget::Notify) => BudgetDecision::Run,
            Some(AtBudget::Refuse(status)) => BudgetDecision::Refuse(exhausted(*status, key, now)),
            // A per-client cap on a tier without a budget: refusing is the safe reading.
            None => BudgetDecision::Refuse(exhausted(RefuseStatus::PaymentRequired, key, now)),
        }
    }

    fn global_spent(&self, spent: Spent, now: SystemTime) -> Option<(PeriodKey, RefuseStatus)> {
        Period::ALL.into_iter().find_map(|period| {
            let cap = self.settings.global.of(period)?;
            let key = period.at(now);
            (spent.of(period) >= cap).then(|| {
                (
                    key,
                    self.settings
                        .global_status
                        .unwrap_or(RefuseStatus::TooManyRequests),
                )
            })
        })
    }
}

/// The alerts a charge of `credits` by `client` of `tier` that left `after`
/// raises, under the client's `caps` and the platform's `global` caps: each
/// threshold of each cap it crossed.
pub fn crossed(
    client: &ClientKey,
    tier: &TierName,
    caps: Caps,
    global: Caps,
    credits: Credits,
    after: Totals,
    at: SystemTime,
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for period in Period::ALL {
        let key = period.at(at);
        let mut push = |scope: Option<&ClientKey>, cap: Option<Credits>, spent: Spent| {
            let Some(cap) = cap else { return };
            let now = spent.of(period);
            let before = Credits(now.0.saturating_sub(credits.0));
            for percent in crossings(before, now, cap) {
                alerts.push(Alert {
                    event: AlertEvent::BudgetThreshold {
                        client: scope.cloned(),
                        tier: scope.map(|_| tier.clone()),
                        period,
                        period_label: key.label(),
                        percent,
                        spent: now,
                        budget: cap,
                    },
                    at,
                });
            }
        };
        push(Some(client), caps.of(period), after.client);
        push(None, global.of(period), after.global);
    }
    alerts
}

/// The thresholds passed going from `before` to `after` of `cap`.
fn crossings(before: Credits, after: Credits, cap: Credits) -> Vec<u8> {
    THRESHOLDS
        .into_iter()
        .filter(|p| {
            let mark = (u128::from(cap.0) * u128::from(*p)).div_ceil(100);
            u128::from(before.0) < mark && u128::from(after.0) >= mark
        })
        .collect()
}

fn exhausted(status: RefuseStatus, key: PeriodKey, now: SystemTime) -> CapacityRefusal {
    let resets_at = key.ends_at();
    CapacityRefusal::BudgetExhausted {
        status,
        resets_at,
        retry_after: resets_at.duration_since(now).unwrap_or(Duration::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_crossed_once_each() {
        let cap = Credits(100);
        assert_eq!(crossings(Credits(0), Credits(49), cap), Vec::<u8>::new());
        assert_eq!(crossings(Credits(49), Credits(50), cap), vec![50]);
        assert_eq!(crossings(Credits(50), Credits(79), cap), Vec::<u8>::new());
        assert_eq!(crossings(Credits(40), Credits(120), cap), vec![50, 80, 100]);
        assert_eq!(crossings(Credits(100), Credits(150), cap), Vec::<u8>::new());
    }
}
