//! The config file exactly as written: serde structs that reject unknown keys.
//! Nothing here is validated beyond its type; `super::validate` turns it into settings.

use execgate_core::{ByteSize, HumanDuration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The whole `execgate.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// Listeners and accept-side hardening.
    pub server: RawServer,
    /// The executors behind the gateway.
    pub upstream: RawUpstream,
    /// Who a request belongs to.
    pub identity: RawIdentity,
    /// Static and GeoIP allow/deny lists.
    pub ip_policy: RawIpPolicy,
    /// Rate-limit settings shared by all tiers.
    pub limits: RawLimits,
    /// Tiers by name; absent tiers keep their built-in defaults.
    pub tiers: BTreeMap<String, RawTier>,
    /// Rule files for code screening and output redaction.
    pub rules: RawRules,
    /// The dynamic blocklist.
    pub blocklist: RawBlocklist,
    /// Code screening policy (threshold, points, detection-only, unknown languages).
    #[serde(skip_serializing)]
    pub screen: execgate_screen::ScreenPolicy,
    /// Output sanitization policy (leak threshold, allowed paths, env names).
    #[serde(skip_serializing)]
    pub output: execgate_sanitize::OutputPolicy,
    /// Client reputation: event weights, decay, automatic bans.
    pub reputation: execgate_state::ReputationConfig,
    /// Where limits, blocks and reputation live (memory, or a Redis shared by gateways).
    pub state: execgate_state::SharedStateConfig,
    /// Admin API access.
    pub admin: RawAdmin,
    /// The executor API (`kind = "piston" | "judge0" | "generic"`) and its details.
    pub dialect: execgate_dialect::DialectConfig,
    /// Execution pool, priority queue, cost metering, budgets and alerts.
    pub capacity: execgate_capacity::CapacityConfig,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// Proxy listen address, `host:port`.
    pub listen: String,
    /// Admin listen address (metrics, health, rule reload, blocklist API).
    pub admin_listen: String,
    /// Pingora worker threads.
    pub threads: usize,
    /// The whole request head must arrive within this time (slowloris guard).
    pub header_timeout: HumanDuration,
    /// The whole request body must arrive within this time (a body larger than
    /// 64 KiB, held while it streams: no read may wait longer than this).
    pub body_timeout: HumanDuration,
    /// Largest request head accepted; larger → 431.
    pub max_header_bytes: ByteSize,
    /// Most client connections open at once; more are refused with 503.
    pub max_connections: usize,
    /// Most connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// New connections per client address, `COUNT/PERIOD` (absent: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_rate_per_ip: Option<String>,
    /// Front Pingora with the accept guard (connection cap, header deadline and size).
    /// Off only when another layer enforces them: a slow client then holds a Pingora task.
    pub accept_guard: bool,
    /// `[server.tls]`: TLS on the proxy listener (absent: plain HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::RawTls>,
    /// Longest wait for requests in flight after SIGTERM before the process exits.
    pub stop_grace: HumanDuration,
    /// Unix socket over which a running gateway hands its listening sockets to
    /// a new one started with `--upgrade` (zero-downtime upgrade; absent: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_socket: Option<std::path::PathBuf>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            admin_listen: "127.0.0.1:9090".into(),
            threads: 2,
            header_timeout: HumanDuration(std::time::Duration::from_secs(10)),
            body_timeout: HumanDuration(std::time::Duration::from_secs(10)),
            max_header_bytes: ByteSize(32 * 1024),
            max_connections: 4096,
            max_connections_per_ip: 64,
            accept_rate_per_ip: None,
            accept_guard: true,
            tls: None,
            stop_grace: HumanDuration(std::time::Duration::from_secs(30)),
            upgrade_socket: None,
        }
    }
}

/// `[upstream]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUpstream {
    /// Executor addresses, `host:port`; requests are spread round-robin.
    pub addresses: Vec<String>,
    /// Time to open a TCP connection to an executor.
    pub connect_timeout: HumanDuration,
    /// Longest wait for any single read from an executor.
    pub read_timeout: HumanDuration,
    /// Longest time for a whole exchange with an executor.
    pub total_timeout: HumanDuration,
    /// How often each executor is probed.
    pub health_check_interval: HumanDuration,
    /// The probe, `"GET /path"`; default by dialect (Piston `/api/v2/runtimes`,
    /// Judge0 `/about`); required for a generic executor, else only a TCP connect.
    pub health_check: Option<String>,
    /// The status a healthy executor answers the probe with.
    pub health_check_status: u16,
    /// Failed probes in a row that take an executor out of rotation.
    pub failure_threshold: usize,
    /// Passing probes in a row that bring it back.
    pub success_threshold: usize,
    /// Speak TLS to the executors.
    pub tls: bool,
    /// The name sent (SNI) and verified in the executors' certificates;
    /// default: the executor's IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// PEM CA certificates the executors' certificates must chain to;
    /// default: the system's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<std::path::PathBuf>,
    /// Verify the executors' certificates and names (turn off only for tests).
    pub verify: bool,
}

impl Default for RawUpstream {
    fn default() -> Self {
        Self {
            addresses: vec!["127.0.0.1:2358".into()],
            connect_timeout: HumanDuration(std::time::Duration::from_secs(2)),
            read_timeout: HumanDuration(std::time::Duration::from_secs(40)),
            total_timeout: HumanDuration(std::time::Duration::from_secs(60)),
            health_check_interval: HumanDuration(std::time::Duration::from_secs(5)),
            health_check: None,
            health_check_status: 200,
            failure_threshold: 3,
            success_threshold: 2,
            tls: false,
            sni: None,
            ca: None,
            verify: true,
        }
    }
}

/// `[identity]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIdentity {
    /// CIDRs of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Anonymous IPv6 clients are keyed by this prefix length.
    pub ipv6_prefix: u8,
    /// API keys, stored as SHA-256 hashes.
    pub api_keys: Vec<RawApiKey>,
    /// Optional JWT bearer tokens.
    pub jwt: Option<RawJwt>,
    /// Client certificates (mTLS, `[server.tls] client_ca`) naming a client and tier.
    pub client_certs: Vec<RawClientCert>,
}

impl Default for RawIdentity {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            ipv6_prefix: 64,
            api_keys: Vec::new(),
            jwt: None,
            client_certs: Vec::new(),
        }
    }
}

/// One `[[identity.api_keys]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawApiKey {
    /// Hex SHA-256 of the key (`printf %s KEY | sha256sum`).
    pub sha256: String,
    /// The client id requests with this key are charged to.
    pub client: String,
    /// The tier of this client.
    pub tier: String,
}

/// One `[[identity.client_certs]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientCert {
    /// The common name or a DNS name (SAN) of a verified client certificate.
    pub subject: String,
    /// The client id requests with this certificate are charged to.
    pub client: String,
    /// The tier of this client.
    pub tier: String,
}

/// `[identity.jwt]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    /// `HS256` or `RS256`.
    pub algorithm: String,
    /// HS256 shared secret, inline.
    pub secret: Option<String>,
    /// HS256 shared secret, read from this environment variable.
    pub secret_env: Option<String>,
    /// RS256 public key, PEM file.
    pub public_key_file: Option<PathBuf>,
    /// Claim holding the client id.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Claim holding the tier name.
    #[serde(default = "default_tier_claim")]
    pub tier_claim: String,
    /// Tier of tokens that carry no tier claim.
    pub default_tier: Option<String>,
    /// Accepted `iss`, when set.
    pub issuer: Option<String>,
    /// Accepted `aud`, when set.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp`/`nbf`.
    #[serde(default)]
    pub leeway: HumanDuration,
}

fn default_subject_claim() -> String {
    "sub".into()
}

fn default_tier_claim() -> String {
    "tier".into()
}

/// `[ip_policy]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIpPolicy {
    /// CIDRs or addresses always let through (beats every deny).
    pub allow: Vec<String>,
    /// CIDRs or addresses refused.
    pub deny: Vec<String>,
    /// Files of allowed CIDRs, one per line, `#` comments.
    pub allow_files: Vec<PathBuf>,
    /// Files of denied CIDRs, one per line, `#` comments.
    pub deny_files: Vec<PathBuf>,
    /// GeoIP rules.
    pub geoip: RawGeoIp,
}

/// `[ip_policy.geoip]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGeoIp {
    /// MaxMind country database (GeoLite2-Country or compatible).
    pub country_db: Option<PathBuf>,
    /// MaxMind ASN database (GeoLite2-ASN or compatible).
    pub asn_db: Option<PathBuf>,
    /// ISO country codes always let through.
    pub allow_countries: Vec<String>,
    /// ISO country codes refused.
    pub deny_countries: Vec<String>,
    /// AS numbers always let through.
    pub allow_asns: Vec<u32>,
    /// AS numbers refused.
    pub deny_asns: Vec<u32>,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    /// The light limit on non-executing routes, e.g. `"120/1m"`, per client key.
    pub passthrough: String,
    /// Most client keys tracked at once; idle ones are evicted first.
    pub max_tracked_clients: usize,
    /// How long a Judge0 result token stays readable by the client that submitted it.
    pub result_tokens_ttl: HumanDuration,
    /// Most result tokens remembered with their clients; the oldest go first.
    pub max_result_tokens: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            passthrough: "120/1m".into(),
            max_tracked_clients: 100_000,
            result_tokens_ttl: HumanDuration(std::time::Duration::from_secs(24 * 3600)),
            max_result_tokens: 100_000,
        }
    }
}

/// One `[tiers.NAME]` table; omitted keys take the tier's (or anonymous') defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTier {
    /// A built-in tier this one renames: it starts from that tier's values and
    /// the old name is gone (`replaces = "anonymous"`: the tier of anonymous clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Rate windows, checked together: `[{ name = "burst", rate = "3/10s" }, …]`.
    pub windows: Option<Vec<RawWindow>>,
    /// Longest run time an execution may ask for.
    pub run_time: Option<HumanDuration>,
    /// Most memory an execution may ask for.
    pub memory: Option<ByteSize>,
    /// Largest source code accepted (all files together).
    pub code_max: Option<ByteSize>,
    /// Largest request body accepted.
    pub body_max: Option<ByteSize>,
    /// Program stdout returned at most.
    pub stdout_max: Option<ByteSize>,
    /// Program stderr returned at most.
    pub stderr_max: Option<ByteSize>,
    /// Screening score at which a request is refused.
    pub inbound_threshold: Option<u32>,
}

/// One rate window of a tier.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// Name shown in 429 errors and `RateLimit` headers.
    pub name: String,
    /// `COUNT/PERIOD`, e.g. `"3/10s"`, `"50/1d"`.
    pub rate: String,
}

/// `[rules]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRules {
    /// Directories of screening rules (every `*.toml` directly inside).
    pub screen: Vec<PathBuf>,
    /// Files of output redaction and leak rules.
    pub output: Vec<PathBuf>,
    /// Reload rules when files in these directories change.
    pub watch: bool,
}

impl Default for RawRules {
    fn default() -> Self {
        Self {
            screen: vec![PathBuf::from("rules/screen")],
            output: vec![PathBuf::from("rules/output.toml")],
            watch: true,
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    /// Bearer tokens accepted by the blocklist/clients API (also `EXECGATE_ADMIN_TOKEN`).
    pub tokens: Vec<String>,
    /// A file of tokens, one per line, `#` comments.
    pub token_file: Option<PathBuf>,
}

/// `[blocklist]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBlocklist {
    /// File the dynamic blocklist is persisted to; none keeps it in memory only.
    pub path: Option<PathBuf>,
    /// How often expired decisions are dropped (and idle rate-limit keys forgotten).
    pub purge_interval: HumanDuration,
}

impl Default for RawBlocklist {
    fn default() -> Self {
        Self {
            path: None,
            purge_interval: HumanDuration(std::time::Duration::from_secs(10)),
        }
    }
}
