//! The meter ties pricing, usage, budgets and alerts together: it answers
//! whether a client may start a run, and after the run charges what the
//! executor's verdict says it used.

use crate::alert::webhook::AlertSender;
use crate::budget::{BudgetDecision, Budgets, Caps};
use crate::cost::RunCost;
use crate::credits::Credits;
use crate::metrics::CapacityMetrics;
use crate::period::Period;
use crate::price::PriceTable;
use crate::ratio::BudgetRatios;
use crate::usage::{Charge, Scope, Usage, UsageStore};
use execgate_core::{ClientKey, Clock, TierName};
use std::sync::Arc;

/// Pricing, usage, budgets and alerts of one gateway.
pub struct Meter {
    prices: PriceTable,
    store: Arc<dyn UsageStore>,
    budgets: Budgets,
    alerts: Option<Arc<AlertSender>>,
    metrics: CapacityMetrics,
    ratios: BudgetRatios,
    clock: Arc<dyn Clock>,
}

impl Meter {
    /// A meter over `store`; alerts go to `alerts` when set.
    pub fn new(
        prices: PriceTable,
        store: Arc<dyn UsageStore>,
        budgets: Budgets,
        alerts: Option<Arc<AlertSender>>,
        metrics: CapacityMetrics,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            prices,
            store,
            budgets,
            alerts,
            ratios: BudgetRatios::new(metrics.budget_used.clone()),
            metrics,
            clock,
        }
    }

    /// Whether `client` of `tier` may start an execution now.
    pub fn check(&self, client: &ClientKey, tier: &TierName) -> BudgetDecision {
        let decision = self
            .budgets
            .check(self.store.as_ref(), client, tier, self.clock.now());
        if let BudgetDecision::Refuse(r) = &decision {
            self.metrics.refused(r.code());
        }
        decision
    }

    /// Charges one finished execution of `language`; returns its price.
    pub fn charge(
        &self,
        client: &ClientKey,
        tier: &TierName,
        language: &str,
        run: RunCost,
    ) -> Credits {
        let credits = self.prices.price(tier, language, &run);
        let at = self.clock.now();
        let charge = Charge {
            client: client.clone(),
            tier: tier.clone(),
            credits,
            run,
            at,
        };
        let totals = self.store.record(&charge);
        self.ratios.charged(
            tier,
            self.budgets.caps(client, tier),
            self.budgets.global(),
            totals,
            at,
        );
        self.metrics
            .cost
            .with_label_values(&[tier.as_str(), language])
            .inc_by(credits.as_credits());
        if let Some(sender) = &self.alerts {
            for alert in self.budgets.crossed(client, tier, credits, totals, at) {
                sender.notify(alert);
            }
        }
        credits
    }

    /// `scope`'s usage in the current `period`.
    pub fn usage(&self, scope: &Scope, period: Period) -> Usage {
        self.store.usage(scope, period.at(self.clock.now()))
    }

    /// The top `n` spenders of the current `period`.
    pub fn top(&self, period: Period, n: usize) -> Vec<(ClientKey, Usage)> {
        self.store.top(period.at(self.clock.now()), n)
    }

    /// The caps in force for `client` of `tier`.
    pub fn caps(&self, client: &ClientKey, tier: &TierName) -> Caps {
        self.budgets.caps(client, tier)
    }

    /// Sets `client`'s budget caps; an error when they could not be kept.
    pub fn set_caps(&self, client: ClientKey, caps: Caps) -> Result<(), String> {
        self.budgets.set_override(client, caps)
    }
}
