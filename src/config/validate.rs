//! Turns the raw file into settings whose values are already checked and typed.
//! Every error is `(dotted key, reason)`; `super::from_text` adds the file and line.

use super::rate::Rate;
use super::raw::{RawConfig, RawGeoIp, RawIdentity, RawIpPolicy, RawJwt, RawServer, RawUpstream};
use super::tiers::{MergedTiers, Tier, merge_tiers};
use execgate_core::{HumanDuration, TierName};
use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

type Invalid = (String, String);

/// Everything the gateway needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listeners and accept-side limits.
    pub server: ServerSettings,
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
    pub rules: super::raw::RawRules,
    /// Where the blocklist is kept, as written.
    pub blocklist: super::raw::RawBlocklist,
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
    /// Whether the accept guard fronts Pingora.
    pub accept_guard: bool,
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
}

/// An API key's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// Client id.
    pub client: String,
    /// Tier.
    pub tier: TierName,
}

/// JWT signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    Hs256,
    /// RSA-SHA256 with a public key.
    Rs256,
}

/// `[identity.jwt]`, validated; `key` is the secret (HS256) or PEM (RS256).
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// Algorithm.
    pub algorithm: JwtAlgorithm,
    /// Secret bytes or PEM text.
    pub key: Vec<u8>,
    /// Claim naming the client.
    pub subject_claim: String,
    /// Claim naming the tier.
    pub tier_claim: String,
    /// Tier when the claim is absent; `None` → such tokens are refused.
    pub default_tier: Option<TierName>,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required `aud`.
    pub audience: Option<String>,
    /// Tolerated clock skew.
    pub leeway: Duration,
}

/// `[identity]`, validated.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// IPv6 prefix length anonymous clients are grouped by.
    pub ipv6_prefix: u8,
    /// SHA-256 of each key → its owner.
    pub api_keys: HashMap<[u8; 32], ApiClient>,
    /// JWT settings.
    pub jwt: Option<JwtSettings>,
}

/// `[ip_policy]`, validated: inline lists and list files merged.
#[derive(Debug, Clone, Default)]
pub struct IpPolicySettings {
    /// Allowed networks.
    pub allow: Vec<IpNet>,
    /// Denied networks.
    pub deny: Vec<IpNet>,
    /// GeoIP rules.
    pub geoip: RawGeoIp,
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

/// Validates `raw`; relative paths are resolved against `base` (the config's directory).
pub fn validate(raw: RawConfig, base: &Path) -> Result<Settings, Invalid> {
    let MergedTiers {
        tiers,
        anonymous: anonymous_tier,
    } = merge_tiers(&raw.tiers)?;
    check_tier_owned(&raw)?;
    raw.output.validate().map_err(|problems| {
        let first = problems.first().cloned().unwrap_or_default();
        nested("output", format!("output.{first}"))
    })?;
    raw.reputation
        .validate()
        .map_err(|e| nested("reputation", e))?;
    raw.state.validate().map_err(|e| nested("state", e))?;
    execgate_dialect::Dialect::new(raw.dialect.clone()).map_err(|e| nested("dialect", e))?;
    let settings = Settings {
        server: server(&raw.server)?,
        upstream: upstream(&raw.upstream)?,
        identity: identity(&raw.identity, &tiers, base)?,
        ip_policy: ip_policy(&raw.ip_policy, base)?,
        limits: LimitSettings {
            passthrough: raw
                .limits
                .passthrough
                .parse()
                .map_err(|e| key("limits.passthrough", e))?,
            max_tracked_clients: nonzero(
                raw.limits.max_tracked_clients,
                "limits.max_tracked_clients",
            )?,
            result_tokens_ttl: positive(
                raw.limits.result_tokens_ttl.get(),
                "limits.result_tokens_ttl",
            )?,
            max_result_tokens: nonzero(raw.limits.max_result_tokens, "limits.max_result_tokens")?,
        },
        rules: resolve_rules(raw.rules.clone(), base),
        blocklist: super::raw::RawBlocklist {
            path: raw.blocklist.path.as_ref().map(|p| base.join(p)),
            purge_interval: HumanDuration(positive(
                raw.blocklist.purge_interval.get(),
                "blocklist.purge_interval",
            )?),
        },
        screen: raw.screen.clone(),
        output: raw.output.clone(),
        dialect: raw.dialect.clone(),
        reputation: raw.reputation.clone(),
        state: raw.state.clone(),
        admin_tokens: admin_tokens(&raw.admin, base)?,
        effective: effective(raw, &tiers),
        tiers,
        anonymous_tier,
    };
    Ok(settings)
}

fn key(k: &str, reason: impl Into<String>) -> Invalid {
    (k.to_string(), reason.into())
}

/// A section's own error (`"reputation.half_life: reason"` or just a reason),
/// keyed by the deepest key it names.
fn nested(section: &str, e: String) -> Invalid {
    let names_key = |k: &str| {
        k.strip_prefix(section)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    match e.split_once(": ") {
        Some((k, reason)) if names_key(k) => key(k, reason),
        _ => key(section, e),
    }
}

/// `[screen] threshold` and `[output]` size caps are set per tier; a value
/// there would be silently overridden, so it is refused with where it goes.
fn check_tier_owned(raw: &RawConfig) -> Result<(), Invalid> {
    let screen = execgate_screen::ScreenPolicy::default();
    let output = execgate_sanitize::OutputPolicy::default();
    let moved = [
        (
            raw.screen.threshold != screen.threshold,
            "screen.threshold",
            "inbound_threshold",
        ),
        (
            raw.output.stdout_max_bytes != output.stdout_max_bytes,
            "output.stdout_max_bytes",
            "stdout_max",
        ),
        (
            raw.output.stderr_max_bytes != output.stderr_max_bytes,
            "output.stderr_max_bytes",
            "stderr_max",
        ),
    ];
    match moved.iter().find(|(set, _, _)| *set) {
        Some((_, k, tier_key)) => Err(key(k, format!("set per tier: tiers.NAME.{tier_key}"))),
        None => Ok(()),
    }
}

fn nonzero(v: usize, k: &str) -> Result<usize, Invalid> {
    if v == 0 {
        Err(key(k, "must be at least 1"))
    } else {
        Ok(v)
    }
}

/// The longest timeout or interval accepted: beyond it a value is a typo, and
/// deadlines computed from it could overflow.
const LONGEST: Duration = Duration::from_secs(86_400);

fn positive(d: Duration, k: &str) -> Result<Duration, Invalid> {
    if d.is_zero() {
        Err(key(k, "must be greater than 0"))
    } else if d > LONGEST {
        Err(key(k, "must be at most 1d"))
    } else {
        Ok(d)
    }
}

fn socket_addr(s: &str, k: &str) -> Result<SocketAddr, Invalid> {
    s.to_socket_addrs()
        .map_err(|e| key(k, format!("invalid address {s:?}: {e} (write host:port)")))?
        .next()
        .ok_or_else(|| key(k, format!("address {s:?} resolves to nothing")))
}

fn server(raw: &RawServer) -> Result<ServerSettings, Invalid> {
    let max_header_bytes = raw.max_header_bytes.as_usize();
    if !(1024..=1 << 20).contains(&max_header_bytes) {
        return Err(key(
            "server.max_header_bytes",
            "must be between 1KB and 1MB",
        ));
    }
    Ok(ServerSettings {
        listen: socket_addr(&raw.listen, "server.listen")?,
        admin_listen: socket_addr(&raw.admin_listen, "server.admin_listen")?,
        threads: nonzero(raw.threads, "server.threads")?,
        header_timeout: positive(raw.header_timeout.get(), "server.header_timeout")?,
        body_timeout: positive(raw.body_timeout.get(), "server.body_timeout")?,
        max_header_bytes,
        max_connections: match nonzero(raw.max_connections, "server.max_connections")? {
            n if n > 1_000_000 => {
                return Err(key("server.max_connections", "must be at most 1000000"));
            }
            n => n,
        },
        max_connections_per_ip: nonzero(
            raw.max_connections_per_ip,
            "server.max_connections_per_ip",
        )?,
        accept_guard: raw.accept_guard,
    })
}

fn upstream(raw: &RawUpstream) -> Result<UpstreamSettings, Invalid> {
    if raw.addresses.is_empty() {
        return Err(key(
            "upstream.addresses",
            "list at least one executor address",
        ));
    }
    let addresses = raw
        .addresses
        .iter()
        .enumerate()
        .map(|(i, a)| socket_addr(a, &format!("upstream.addresses[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(i) = (1..addresses.len()).find(|&i| addresses[..i].contains(&addresses[i])) {
        return Err(key(
            &format!("upstream.addresses[{i}]"),
            "listed twice (it would get twice the traffic)",
        ));
    }
    let total_timeout = positive(raw.total_timeout.get(), "upstream.total_timeout")?;
    let read_timeout = positive(raw.read_timeout.get(), "upstream.read_timeout")?;
    if read_timeout > total_timeout {
        return Err(key(
            "upstream.read_timeout",
            "must not exceed upstream.total_timeout",
        ));
    }
    Ok(UpstreamSettings {
        addresses,
        connect_timeout: positive(raw.connect_timeout.get(), "upstream.connect_timeout")?,
        read_timeout,
        total_timeout,
        health_check_interval: positive(
            raw.health_check_interval.get(),
            "upstream.health_check_interval",
        )?,
        health_check: raw.health_check.as_deref().map(probe_path).transpose()?,
        health_check_status: match raw.health_check_status {
            s @ 100..=599 => s,
            _ => {
                return Err(key(
                    "upstream.health_check_status",
                    "must be an HTTP status",
                ));
            }
        },
        failure_threshold: at_least_one(raw.failure_threshold, "upstream.failure_threshold")?,
        success_threshold: at_least_one(raw.success_threshold, "upstream.success_threshold")?,
    })
}

/// `"GET /path"`: the probe must not change anything at the executor.
fn probe_path(probe: &str) -> Result<String, Invalid> {
    match probe.split_once(' ') {
        Some(("GET", path)) if path.starts_with('/') && !path.contains(char::is_whitespace) => {
            Ok(path.to_string())
        }
        _ => Err(key(
            "upstream.health_check",
            "must be \"GET /path\" (a request that runs nothing)",
        )),
    }
}

fn at_least_one(n: usize, name: &str) -> Result<usize, Invalid> {
    if n == 0 {
        return Err(key(name, "must be at least 1"));
    }
    Ok(n)
}

fn tier_ref(name: &str, tiers: &BTreeMap<TierName, Tier>, k: &str) -> Result<TierName, Invalid> {
    let tier = TierName(name.to_string());
    if tiers.contains_key(&tier) {
        Ok(tier)
    } else {
        let known: Vec<&str> = tiers.keys().map(TierName::as_str).collect();
        Err(key(
            k,
            format!("unknown tier {name:?} (known: {})", known.join(", ")),
        ))
    }
}

fn identity(
    raw: &RawIdentity,
    tiers: &BTreeMap<TierName, Tier>,
    base: &Path,
) -> Result<IdentitySettings, Invalid> {
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, s)| parse_net(s).map_err(|e| key(&format!("identity.trusted_proxies[{i}]"), e)))
        .collect::<Result<Vec<_>, _>>()?;
    if raw.ipv6_prefix == 0 || raw.ipv6_prefix > 128 {
        return Err(key("identity.ipv6_prefix", "must be between 1 and 128"));
    }
    let mut api_keys = HashMap::new();
    for (i, k) in raw.api_keys.iter().enumerate() {
        let at = format!("identity.api_keys[{i}]");
        let hash = parse_sha256(&k.sha256).map_err(|e| key(&format!("{at}.sha256"), e))?;
        // A client id is a tenant id: it can be blocked (up to 200 characters)
        // and named by a tenant marker, where trailing punctuation is not part of it.
        if !execgate_sanitize::is_tenant_id(&k.client) {
            return Err(key(
                &format!("{at}.client"),
                "use 1 to 128 letters, digits, '-', '_', '.' and '@', starting and ending with a letter or digit",
            ));
        }
        let tier = tier_ref(&k.tier, tiers, &format!("{at}.tier"))?;
        if api_keys
            .insert(
                hash,
                ApiClient {
                    client: k.client.clone(),
                    tier,
                },
            )
            .is_some()
        {
            return Err(key(&format!("{at}.sha256"), "the same key is listed twice"));
        }
    }
    let jwt = raw.jwt.as_ref().map(|j| jwt(j, tiers, base)).transpose()?;
    Ok(IdentitySettings {
        trusted_proxies,
        ipv6_prefix: raw.ipv6_prefix,
        api_keys,
        jwt,
    })
}

fn parse_sha256(s: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(s.trim())
        .map_err(|_| "must be 64 hex digits (SHA-256 of the key)".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "must be 64 hex digits (SHA-256 of the key)".to_string())
}

fn jwt(
    raw: &RawJwt,
    tiers: &BTreeMap<TierName, Tier>,
    base: &Path,
) -> Result<JwtSettings, Invalid> {
    let (algorithm, key_bytes) = match raw.algorithm.as_str() {
        "HS256" => (JwtAlgorithm::Hs256, hs256_secret(raw)?),
        "RS256" => (JwtAlgorithm::Rs256, rs256_key(raw, base)?),
        other => {
            return Err(key(
                "identity.jwt.algorithm",
                format!("unsupported algorithm {other:?}: use HS256 or RS256"),
            ));
        }
    };
    let default_tier = raw
        .default_tier
        .as_deref()
        .map(|t| tier_ref(t, tiers, "identity.jwt.default_tier"))
        .transpose()?;
    Ok(JwtSettings {
        algorithm,
        key: key_bytes,
        subject_claim: raw.subject_claim.clone(),
        tier_claim: raw.tier_claim.clone(),
        default_tier,
        issuer: raw.issuer.clone(),
        audience: raw.audience.clone(),
        leeway: match raw.leeway.get() {
            l if l > Duration::from_secs(3600) => {
                return Err(key("identity.jwt.leeway", "must be at most 1h"));
            }
            l => l,
        },
    })
}

fn hs256_secret(raw: &RawJwt) -> Result<Vec<u8>, Invalid> {
    let secret = match (&raw.secret, &raw.secret_env) {
        (Some(s), None) => s.clone(),
        (None, Some(var)) => std::env::var(var).map_err(|_| {
            key(
                "identity.jwt.secret_env",
                format!("environment variable {var} is not set"),
            )
        })?,
        _ => {
            return Err(key(
                "identity.jwt.secret",
                "HS256 needs exactly one of secret or secret_env",
            ));
        }
    };
    if secret.len() < 32 {
        return Err(key(
            "identity.jwt.secret",
            "HS256 secrets must be at least 32 bytes",
        ));
    }
    Ok(secret.into_bytes())
}

fn rs256_key(raw: &RawJwt, base: &Path) -> Result<Vec<u8>, Invalid> {
    let path = raw
        .public_key_file
        .as_ref()
        .map(|p| base.join(p))
        .ok_or_else(|| {
            key(
                "identity.jwt.public_key_file",
                "RS256 needs public_key_file",
            )
        })?;
    let pem = std::fs::read(&path).map_err(|e| {
        key(
            "identity.jwt.public_key_file",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    jsonwebtoken::DecodingKey::from_rsa_pem(&pem).map_err(|e| {
        key(
            "identity.jwt.public_key_file",
            format!("{} is not an RSA public key PEM: {e}", path.display()),
        )
    })?;
    Ok(pem)
}

/// Parses `10.0.0.0/8` or a bare address (a /32 or /128).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("invalid CIDR or address {s:?}"))
}

fn ip_policy(raw: &RawIpPolicy, base: &Path) -> Result<IpPolicySettings, Invalid> {
    let mut allow = inline_nets(&raw.allow, "ip_policy.allow")?;
    let mut deny = inline_nets(&raw.deny, "ip_policy.deny")?;
    for (i, f) in raw.allow_files.iter().enumerate() {
        allow.extend(
            net_file(&base.join(f)).map_err(|e| key(&format!("ip_policy.allow_files[{i}]"), e))?,
        );
    }
    for (i, f) in raw.deny_files.iter().enumerate() {
        deny.extend(
            net_file(&base.join(f)).map_err(|e| key(&format!("ip_policy.deny_files[{i}]"), e))?,
        );
    }
    Ok(IpPolicySettings {
        allow,
        deny,
        geoip: geoip(&raw.geoip, base)?,
    })
}

fn inline_nets(list: &[String], k: &str) -> Result<Vec<IpNet>, Invalid> {
    list.iter()
        .enumerate()
        .map(|(i, s)| parse_net(s).map_err(|e| key(&format!("{k}[{i}]"), e)))
        .collect()
}

/// Reads a list file: one CIDR per line, `#` starts a comment. Errors say `file:line: reason`.
pub fn net_file(path: &Path) -> Result<Vec<IpNet>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut nets = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        nets.push(parse_net(entry).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?);
    }
    Ok(nets)
}

/// `[ip_policy.geoip]` checked: databases open (paths resolved against the
/// config's folder), country codes upper-cased.
fn geoip(raw: &RawGeoIp, base: &Path) -> Result<RawGeoIp, Invalid> {
    let open = |p: &Option<PathBuf>, k: &str| -> Result<Option<PathBuf>, Invalid> {
        let Some(p) = p else { return Ok(None) };
        let path = base.join(p);
        maxminddb::Reader::open_readfile(&path).map_err(|e| {
            key(
                k,
                format!("cannot open MaxMind database {}: {e}", path.display()),
            )
        })?;
        Ok(Some(path))
    };
    let country_db = open(&raw.country_db, "ip_policy.geoip.country_db")?;
    let asn_db = open(&raw.asn_db, "ip_policy.geoip.asn_db")?;
    let countries = |list: &[String], k: &str| -> Result<Vec<String>, Invalid> {
        if !list.is_empty() && country_db.is_none() {
            return Err(key(k, "country rules need ip_policy.geoip.country_db"));
        }
        list.iter()
            .map(|c| {
                let ok = c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic());
                ok.then(|| c.to_ascii_uppercase()).ok_or_else(|| {
                    key(
                        k,
                        format!("invalid country code {c:?}: use two letters like \"DE\""),
                    )
                })
            })
            .collect()
    };
    let allow_countries = countries(&raw.allow_countries, "ip_policy.geoip.allow_countries")?;
    let deny_countries = countries(&raw.deny_countries, "ip_policy.geoip.deny_countries")?;
    if (!raw.allow_asns.is_empty() || !raw.deny_asns.is_empty()) && asn_db.is_none() {
        return Err(key(
            "ip_policy.geoip.deny_asns",
            "ASN rules need ip_policy.geoip.asn_db",
        ));
    }
    Ok(RawGeoIp {
        country_db,
        asn_db,
        allow_countries,
        deny_countries,
        allow_asns: raw.allow_asns.clone(),
        deny_asns: raw.deny_asns.clone(),
    })
}

fn admin_tokens(
    raw: &super::raw::RawAdmin,
    base: &Path,
) -> Result<execgate_state::AdminTokens, Invalid> {
    let mut tokens = execgate_state::AdminTokens::from_list(&raw.tokens)
        .map_err(|e| nested("admin.tokens", e))?;
    if let Some(file) = &raw.token_file {
        let from_file = execgate_state::AdminTokens::from_file(&base.join(file))
            .map_err(|e| key("admin.token_file", e.to_string()))?;
        tokens = tokens.merge(from_file);
    }
    let from_env = execgate_state::AdminTokens::from_env().map_err(|e| key("admin.tokens", e))?;
    Ok(tokens.merge(from_env))
}

fn resolve_rules(mut rules: super::raw::RawRules, base: &Path) -> super::raw::RawRules {
    rules.screen = rules.screen.iter().map(|p| base.join(p)).collect();
    rules.output = rules.output.iter().map(|p| base.join(p)).collect();
    rules
}

/// The config as the gateway will run it: every tier spelled out.
fn effective(mut raw: RawConfig, tiers: &BTreeMap<TierName, Tier>) -> RawConfig {
    raw.tiers = tiers
        .values()
        .map(|t| {
            let mut table = super::raw::RawTier::from(t);
            table.replaces = raw
                .tiers
                .get(t.name.as_str())
                .and_then(|r| r.replaces.clone());
            (t.name.to_string(), table)
        })
        .collect();
    raw.admin.tokens = raw
        .admin
        .tokens
        .iter()
        .map(|_| "<redacted>".to_string())
        .collect();
    for k in &mut raw.identity.api_keys {
        k.sha256 = "<redacted>".into();
    }
    if let Some(j) = &mut raw.identity.jwt
        && j.secret.is_some()
    {
        j.secret = Some("<redacted>".into());
    }
    raw
}
