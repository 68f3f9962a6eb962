//! Capacity and cost control for execgate: who runs now and who waits
//! (`pool`), what a run used (`cost`) and cost (`price`, `credits`), what each
//! client has spent (`usage`, `period`; shared in Redis by `usage_redis`), how much it may spend (`budget`),
//! who is told when it runs out (`alert`), what each session of a client
//! may still run (`session`), tied together by `meter` and
//! configured by `config`.

#![forbid(unsafe_code)]

pub mod alert;
pub mod budget;
pub mod config;
pub mod cost;
pub mod credits;
pub mod gate;
pub mod meter;
pub mod metrics;
pub mod overrides;
pub mod period;
pub mod pool;
pub mod price;
pub mod ratio;
pub mod refusal;
pub mod session;
pub mod usage;
pub mod usage_redis;

pub use budget::{AtBudget, BudgetDecision, BudgetSettings, Budgets, Caps};
pub use config::{CapacityConfig, CapacitySettings};
pub use cost::{CostFormat, RunCost, read_costs};
pub use credits::Credits;
pub use gate::{Capacity, Held};
pub use meter::Meter;
pub use metrics::CapacityMetrics;
pub use period::{Period, PeriodKey};
pub use pool::{
    Admission, OverClientCap, Permit, Pool, PoolSettings, PoolStatus, Ticket, TierSlots,
};
pub use price::PriceTable;
pub use refusal::{CapacityRefusal, RefuseStatus};
pub use session::{SessionCaps, SessionId, SessionLimit, SessionSettings, SessionView, Sessions};
pub use usage::{MemoryUsage, Scope, Usage, UsageStore};
pub use usage_redis::RedisUsage;
