//! The settings the gateway runs with: every value checked and typed.

use super::identity::IdentitySettings;
use super::ip_policy::IpPolicySettings;
use super::rate::Rate;
use super::raw::{RawBlocklist, RawConfig, RawRules};
use super::tiers::Tier;
use execgate_core::TierName;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the gateway needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings were read from (a config reload reads it again).
    pub source: std::path::PathBuf,
    /// Listeners and accept-side limits.
    pub server: ServerSettings,
    /// TLS on the proxy listener, when `[server.tls]` is set.
    pub tls: Option<crate::tls::TlsConfig>,
    /// The executors.
    pub upstream: UpstreamSettings,
    /// API keys, JWT and proxy trust.
    pub identity: IdentitySettings,
    /// Static and GeoIP lists.
    pub ip_policy: IpPolicySettings,
    /// Limits shared by every tier.
    pub limits: LimitSettings,
    /// Tiers by name (always includes `anonymous`).
    pub tiers: BTreeMap<TierName, Tier>,
    /// The tier of clients without credentials.
    pub anonymous_tier: TierName,
    /// Rule paths and modes, as written.
    pub rules: RawRules,
    /// Where the blocklist is kept, as written.
    pub blocklist: RawBlocklist,
    /// Screening policy (the threshold is set per tier).
    pub screen: execgate_screen::ScreenPolicy,
    /// Output policy (the caps are set per tier).
    pub output: execgate_sanitize::OutputPolicy,
    /// Dialect details.
    pub dialect: execgate_dialect::DialectConfig,
    /// Reputation settings.
    pub reputation: execgate_state::ReputationConfig,
    /// The shared-state backend.
    pub state: execgate_state::SharedStateConfig,
    /// Admin API tokens (config list, token file and `EXECGATE_ADMIN_TOKEN`).
    pub admin_tokens: execgate_state::AdminTokens,
    /// Capacity and cost control, when `[capacity] enabled`.
    pub capacity: Option<execgate_capacity::CapacitySettings>,
    /// The effective config (defaults filled in), for `check-config`.
    pub effective: RawConfig,
}

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Proxy listen address.
    pub listen: SocketAddr,
    /// Admin listen address.
    pub admin_listen: SocketAddr,
    /// Pingora worker threads (≥ 1).
    pub threads: usize,
    /// Deadline for a whole request head.
    pub header_timeout: Duration,
    /// Longest wait for the next piece of a request body.
    pub body_timeout: Duration,
    /// Largest request head, bytes.
    pub max_header_bytes: usize,
    /// Most open client connections.
    pub max_connections: usize,
    /// Most client connections from one address.
    pub max_connections_per_ip: usize,
    /// New connections per client address (absent: unlimited).
    pub accept_rate_per_ip: Option<Rate>,
    /// Whether the accept guard fronts Pingora.
    pub accept_guard: bool,
    /// Longest wait for requests in flight after SIGTERM.
    pub stop_grace: Duration,
    /// Where the listening sockets are handed to a new process (`--upgrade`).
    pub upgrade_socket: Option<std::path::PathBuf>,
}

/// `[upstream]`, validated.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Resolved executor addresses (at least one).
    pub addresses: Vec<SocketAddr>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Per-read timeout.
    pub read_timeout: Duration,
    /// Whole-exchange timeout.
    pub total_timeout: Duration,
    /// Health-check period.
    pub health_check_interval: Duration,
    /// The probe path when configured (`GET` only); else the dialect's.
    pub health_check: Option<String>,
    /// The status a healthy executor answers.
    pub health_check_status: u16,
    /// Failed probes in a row that open an executor's breaker.
    pub failure_threshold: usize,
    /// Passing probes in a row that close it.
    pub success_threshold: usize,
    /// TLS to the executors, when `tls = true`.
    pub tls: Option<UpstreamTls>,
}

/// `[upstream] tls`, `sni`, `ca`, `verify`, checked.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// The server name sent and verified; `None`: the executor's IP address.
    pub sni: Option<String>,
    /// DER CA certificates from `ca`; `None`: the system's roots.
    pub ca: Option<Vec<Vec<u8>>>,
    /// Whether certificates and names are verified.
    pub verify: bool,
}

/// `[limits]`, validated.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Light limit on non-executing routes.
    pub passthrough: Rate,
    /// Most client keys tracked.
    pub max_tracked_clients: usize,
    /// How long a result token stays its submitter's.
    pub result_tokens_ttl: Duration,
    /// Most result tokens remembered.
    pub max_result_tokens: usize,
}
