//! What one gateway process holds (`Capacity`: the pool and the meter, built
//! from settings) and what one request holds (`Held`: its slot and the tier
//! it is charged in).

use crate::alert::spike::SpikeCounter;
use crate::alert::webhook::AlertSender;
use crate::alert::{Alert, AlertEvent};
use crate::budget::Budgets;
use crate::config::CapacitySettings;
use crate::cost::GenericCostFields;
use crate::meter::Meter;
use crate::metrics::CapacityMetrics;
use crate::pool::{Permit, Pool};
use crate::session::{SessionId, Sessions};
use crate::usage::{MemoryUsage, UsageStore};
use crate::usage_redis::RedisUsage;
use execgate_core::{Clock, TierName};
use execgate_state::RedisBackend;
use std::sync::Arc;

/// The pool and the meter of one gateway process.
pub struct Capacity {
    pool: Arc<Pool>,
    meter: Meter,
    sessions: Sessions,
    generic: GenericCostFields,
    alerts: Option<Arc<AlertSender>>,
    spike: Option<SpikeCounter>,
    clock: Arc<dyn Clock>,
}

impl Capacity {
    /// Builds the pool, opens the usage store (the `shared` Redis when the
    /// state backend is one, else memory with its journal) and starts alert delivery.
    pub fn build(
        settings: &CapacitySettings,
        registry: &prometheus::Registry,
        clock: Arc<dyn Clock>,
        shared: Option<Arc<RedisBackend>>,
    ) -> Result<Arc<Self>, String> {
        let metrics = CapacityMetrics::register(registry).map_err(|e| format!("metrics: {e}"))?;
        let pool = Pool::new(&settings.pool, clock.clone(), metrics.clone());
        let store: Arc<dyn UsageStore> = match (shared, &settings.usage_file) {
            (Some(backend), _) => Arc::new(RedisUsage::new(backend)),
            (None, Some(path)) => Arc::new(
                MemoryUsage::open(path, clock.now()).map_err(|e| format!("capacity: {e}"))?,
            ),
            (None, None) => Arc::new(MemoryUsage::in_memory()),
        };
        let alerts = if settings.alerts.webhooks.is_empty() {
            None
        } else {
            Some(
                AlertSender::start(settings.alerts.clone(), clock.clone(), metrics.clone())
                    .map_err(|e| format!("capacity alerts: {e}"))?,
            )
        };
        let sessions = Sessions::new(settings.sessions.clone(), clock.clone());
        let spike = alerts
            .as_ref()
            .and(settings.alerts.refusal_spike)
            .map(SpikeCounter::new);
        let meter = Meter::new(
            settings.prices.clone(),
            store,
            match &settings.budgets_file {
                Some(path) => Budgets::open(
                    settings.budgets.clone(),
                    crate::overrides::OverridesFile::new(path.clone()),
                )
                .map_err(|e| format!("capacity: {e}"))?,
                None => Budgets::new(settings.budgets.clone()),
            },
            alerts.clone(),
            metrics,
            clock.clone(),
        );
        Ok(Arc::new(Self {
            pool,
            meter,
            sessions,
            generic: settings.cost_fields.clone(),
            alerts,
            spike,
            clock,
        }))
    }

    /// The execution pool.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Usage, budgets and prices.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// The clients' sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Sends `event` to the webhooks that take its kind (none configured: nothing).
    pub fn alert(&self, event: AlertEvent) {
        if let Some(sender) = &self.alerts {
            sender.notify(Alert {
                event,
                at: self.clock.now(),
            });
        }
    }

    /// Counts one refused request; the minute's count reaching
    /// `refusal_spike_per_minute` sends a `refusal_spike` alert.
    pub fn refused(&self) {
        let Some(spike) = &self.spike else {
            return;
        };
        if let Some(minute_ms) = spike.refused(self.clock.now_ms()) {
            self.alert(AlertEvent::RefusalSpike {
                minute_ms,
                threshold: spike.threshold(),
            });
        }
    }

    /// Where a generic executor reports a run's figures.
    pub fn generic_fields(&self) -> &GenericCostFields {
        &self.generic
    }
}

/// One request's slot in the pool (freed when dropped) and the tier it is charged in.
#[derive(Debug, Default)]
pub struct Held {
    /// The slot, once admitted.
    pub permit: Option<Permit>,
    /// The tier the run is charged in (lower than the client's when throttled).
    pub tier: Option<TierName>,
    /// The session the run is counted in.
    pub session: Option<SessionId>,
}
