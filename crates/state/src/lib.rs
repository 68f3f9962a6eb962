//! execgate's shared state: rate limits, the blocklist and client reputation,
//! behind small traits so that a Redis implementation can replace the memory
//! one, plus the admin/blocklist HTTP API and its command-line client.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod blocklist;
pub mod metrics;
pub mod ratelimit;

pub use backend::{BackendKind, BackendMetrics, OnError, RedisBackend, SharedStateConfig};
pub use blocklist::{
    BlockChanges, BlockDecision, BlockError, BlockFilter, BlockQuery, BlockStore, MemoryBlockStore,
    NewBlock, Origin, Page, RedisBlockStore, Scope, Target,
};
pub use metrics::StateMetrics;
pub use ratelimit::{
    LocalLimiter, MemoryRateLimiter, PendingDecision, PendingUsage, RateDecision, RateLimiter,
    RedisRateLimiter, WindowSpec, WindowState, ceil_secs, ratelimit_headers,
};
pub mod events;
pub mod maintenance;
pub mod reputation;
pub mod setup;

pub use events::{EventFinding, EventKind, EventLog, EventRecord, GatewayId, SharedEvents};
pub use maintenance::spawn_maintenance;
pub use reputation::{
    ActivityConfig, BanOutcome, Reputation, ReputationConfig, RequestOutcome, ScoreObserver,
    SecurityEvent, SharedStandings, Weights,
};
pub mod admin;
pub mod cli;
pub mod testing;

pub use admin::{AdminState, AdminTokens};
pub use setup::{SetupError, State, StateConfig};
