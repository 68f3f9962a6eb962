//! Where the shared state lives: the `[state]` config, and the Redis connection
//! that lets several gateways share limits, blocks and reputation.

pub mod config;
pub mod metrics;
pub mod redis;

pub use config::{BackendKind, ConcernPolicy, OnError, RedisTopology, SharedStateConfig};
pub use metrics::BackendMetrics;
pub use redis::{BackendError, RedisBackend};
