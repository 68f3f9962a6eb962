//! The meter ties pricing, usage, budgets and alerts together: it answers
//! whether a client may start a run, and after the run charges what the
//! executor's verdict says it used.

use crate::alert::webhook::AlertSender;
use crate::budget::{BudgetDecision, Budgets, Caps, crossed};
use crate::cost::RunCost;
use crate::credits::Credits;
use crate::metrics::CapacityMetrics;
use crate::period::Period;
use crate::price::PriceTable;
use crate::ratio::BudgetRatios;
use crate::usage::{Charge, Scope, Totals, Usage, UsageStore};
use execgate_core::{ClientKey, Clock, TierName};
use std::sync::Arc;

/// Pricing, usage, budgets and alerts of one gateway.
pub struct Meter {
    prices: PriceTable,
    store: Arc<dyn UsageStore>,
    budgets: Budgets,
    alerts: Option<Arc<AlertSender>>,
    metrics: CapacityMetrics,
    ratios: Arc<BudgetRatios>,
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
            ratios: Arc::new(BudgetRatios::new(metrics.budget_used.clone())),
            metrics,
            clock,
        }
    }

    /// Whether `client` of `tier` may start an execution now.
    pub async fn check(&self, client: &ClientKey, tier: &TierName) -> BudgetDecision {
        // No cap to check against: no figures to read (a round trip with Redis).
        if self.budgets.caps(client, tier) == Caps::default()
            && self.budgets.global() == Caps::default()
        {
            return BudgetDecision::Run;
        }
        let now = self.clock.now();
        let spent = self.store.spent(client, now).await;
        let decision = self.budgets.check(spent, client, tier, now);
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
        self.metrics
            .cost
            .with_label_values(&[tier.as_str(), language])
            .inc_by(credits.as_credits());
        // The caps in force now; alerts and the gauge follow once the store has
        // the totals after this charge.
        let caps = self.budgets.caps(client, tier);
        let global = self.budgets.global();
        let (ratios, alerts) = (self.ratios.clone(), self.alerts.clone());
        let (client, tier) = (client.clone(), tier.clone());
        let settled = Box::new(move |totals: Totals| {
            ratios.charged(&tier, caps, global, totals, at);
            if let Some(sender) = alerts {
                for alert in crossed(&client, &tier, caps, global, credits, totals, at) {
                    sender.notify(alert);
                }
            }
        });
        self.store.record(&charge, settled);
        credits
    }

    /// `scope`'s usage in the current `period`; an error when the store cannot be read.
    pub async fn usage(&self, scope: &Scope, period: Period) -> Result<Usage, String> {
        self.store.usage(scope, period.at(self.clock.now())).await
    }

    /// The top `n` spenders of the current `period`.
    pub async fn top(&self, period: Period, n: usize) -> Result<Vec<(ClientKey, Usage)>, String> {
        self.store.top(period.at(self.clock.now()), n).await
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
