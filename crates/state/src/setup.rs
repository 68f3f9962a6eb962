//! One place that builds the state layer from config, so the gateway does not
//! have to know how the store, limiter, event log and reputation engine are
//! wired together.

use crate::admin::{AdminState, AdminTokens};
use crate::blocklist::{BlockError, MemoryBlockStore};
use crate::events::EventLog;
use crate::maintenance::spawn_maintenance;
use crate::metrics::StateMetrics;
use crate::ratelimit::MemoryRateLimiter;
use crate::reputation::{Reputation, ReputationConfig};
use execgate_core::{Clock, HumanDuration};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The `[state]` config section; every key is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Blocklist snapshot file (its journal is `<file>.journal`); unset keeps
    /// decisions in memory only, lost on restart.
    pub blocklist_file: Option<PathBuf>,
    /// Most block decisions held (default 1000000).
    pub max_block_decisions: usize,
    /// Most clients the rate limiter remembers (default 100000).
    pub max_rate_limit_keys: usize,
    /// Security events kept for `/v1/events` (default 10000).
    pub event_log_capacity: usize,
    /// How often expired decisions are purged and idle keys evicted (default `"30s"`).
    pub maintenance_interval: HumanDuration,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            blocklist_file: None,
            max_block_decisions: 1_000_000,
            max_rate_limit_keys: 100_000,
            event_log_capacity: 10_000,
            maintenance_interval: HumanDuration(Duration::from_secs(30)),
        }
    }
}

impl StateConfig {
    /// Checks the values; the error names the key (`state.max_rate_limit_keys: …`).
    pub fn validate(&self) -> Result<(), String> {
        let counts = [
            ("max_block_decisions", self.max_block_decisions),
            ("max_rate_limit_keys", self.max_rate_limit_keys),
            ("event_log_capacity", self.event_log_capacity),
        ];
        if let Some((key, _)) = counts.iter().find(|(_, n)| *n == 0) {
            return Err(format!("state.{key}: must be at least 1"));
        }
        if self.maintenance_interval.get() < Duration::from_secs(1) {
            return Err("state.maintenance_interval: must be at least 1s".into());
        }
        Ok(())
    }
}

/// Why the state layer could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A config value is invalid.
    #[error("{0}")]
    Config(String),
    /// The blocklist files could not be loaded.
    #[error(transparent)]
    Blocklist(#[from] BlockError),
}

/// The memory state layer, built and wired.
#[derive(Debug, Clone)]
pub struct State {
    /// The blocklist.
    pub blocks: Arc<MemoryBlockStore>,
    /// The rate limiter.
    pub limiter: Arc<MemoryRateLimiter>,
    /// Recent security events.
    pub events: Arc<EventLog>,
    /// The reputation engine, banning through `blocks`.
    pub reputation: Arc<Reputation>,
    maintenance_interval: Duration,
}

impl State {
    /// Validates both sections, loads the blocklist and builds everything, reporting to `metrics`.
    pub fn open(
        config: &StateConfig,
        reputation: ReputationConfig,
        clock: Arc<dyn Clock>,
        metrics: Option<StateMetrics>,
    ) -> Result<Self, SetupError> {
        config.validate().map_err(SetupError::Config)?;
        reputation.validate().map_err(SetupError::Config)?;
        let mut blocks = MemoryBlockStore::open(config.blocklist_file.as_deref(), clock.clone())?
            .with_max_entries(config.max_block_decisions);
        let mut limiter = MemoryRateLimiter::new(clock.clone(), config.max_rate_limit_keys);
        if let Some(m) = &metrics {
            blocks = blocks.with_metrics(m.clone());
            limiter = limiter.with_metrics(m.clone());
        }
        let blocks = Arc::new(blocks);
        let events = Arc::new(EventLog::new(config.event_log_capacity, clock.clone()));
        let mut engine = Reputation::new(reputation, clock, blocks.clone(), events.clone());
        if let Some(m) = metrics {
            engine = engine.with_metrics(m);
        }
        Ok(Self {
            blocks,
            limiter: Arc::new(limiter),
            events,
            reputation: Arc::new(engine),
            maintenance_interval: config.maintenance_interval.get(),
        })
    }

    /// The admin API's state over this layer.
    pub fn admin_state(&self, tokens: AdminTokens) -> AdminState {
        AdminState::new(
            self.blocks.clone(),
            self.limiter.clone(),
            self.reputation.clone(),
            self.events.clone(),
            tokens,
        )
    }

    /// Starts the purge/eviction task on the current Tokio runtime.
    pub fn spawn_maintenance(&self) -> tokio::task::JoinHandle<()> {
        spawn_maintenance(
            self.blocks.clone(),
            Some(self.limiter.clone()),
            self.maintenance_interval,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::{BlockStore, NewBlock, Origin};
    use execgate_core::ManualClock;

    #[test]
    fn the_layer_is_built_from_config_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let config = StateConfig {
            blocklist_file: Some(dir.path().join("blocks.json")),
            ..StateConfig::default()
        };
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
        let registry = prometheus::Registry::new();
        let metrics = StateMetrics::register(&registry).unwrap();
        let state = State::open(
            &config,
            ReputationConfig::default(),
            clock.clone(),
            Some(metrics),
        )
        .unwrap();
        let block = NewBlock {
            value: "192.0.2.1".into(),
            duration: None,
            reason: "setup".into(),
            origin: Origin::Manual,
            created_by: "test".into(),
        };
        state.blocks.add(block).unwrap();
        let admin = state.admin_state(AdminTokens::default());
        assert_eq!(admin.blocks.len(), 1);
        drop(state);
        let again = State::open(&config, ReputationConfig::default(), clock, None).unwrap();
        assert_eq!(again.blocks.len(), 1);
    }

    #[test]
    fn invalid_values_name_their_key() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
        let config = StateConfig {
            max_rate_limit_keys: 0,
            ..StateConfig::default()
        };
        let err =
            State::open(&config, ReputationConfig::default(), clock.clone(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "state.max_rate_limit_keys: must be at least 1"
        );
        let reputation = ReputationConfig {
            ban_threshold: f64::NAN,
            ..ReputationConfig::default()
        };
        let err = State::open(&StateConfig::default(), reputation, clock, None).unwrap_err();
        assert!(
            err.to_string().starts_with("reputation.ban_threshold"),
            "{err}"
        );
    }
}
