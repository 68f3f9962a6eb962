//! Capacity and cost control for execgate: who runs now and who waits
//! (`pool`), what a run cost (`cost`, `price`), what each client has spent
//! (`usage`), how much it may spend (`budget`) and who is told when it runs
//! out (`alert`).

#![forbid(unsafe_code)]

pub mod metrics;
pub mod pool;
pub mod refusal;

pub use metrics::CapacityMetrics;
pub use pool::{
    Admission, OverClientCap, Permit, Pool, PoolSettings, PoolStatus, Ticket, TierSlots,
};
pub use refusal::{CapacityRefusal, RefuseStatus};
