//! Turns the raw file into settings whose values are already checked and typed.
//! Every error is an `Invalid` (dotted key, reason); `super::from_text` adds the file and line.

use super::identity::identity;
use super::invalid::{Invalid, key, nested, nonzero, positive, socket_addr};
use super::ip_policy::ip_policy;
use super::raw::{RawAdmin, RawBlocklist, RawConfig, RawRules, RawServer, RawTier, RawUpstream};
use super::settings::{LimitSettings, ServerSettings, Settings, UpstreamSettings, UpstreamTls};
use super::tiers::{MergedTiers, Tier, merge_tiers};
use execgate_core::{HumanDuration, TierName};
use std::collections::BTreeMap;
use std::path::Path;

/// Validates `raw`, read from `source`; relative paths are resolved against
/// its directory.
pub fn validate(raw: RawConfig, source: &Path) -> Result<Settings, Invalid> {
    let base = source.parent().unwrap_or(Path::new("."));
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
    // The handover passes the listeners execgate binds itself; without the
    // guard Pingora binds the public one and keeps it to itself.
    if raw.server.upgrade_socket.is_some() && !raw.server.accept_guard {
        return Err(key(
            "server.upgrade_socket",
            "the upgrade hands over the accept guard's listener: it needs accept_guard = true",
        ));
    }
    if raw.server.tls.is_some() && raw.server.accept_guard {
        return Err(key(
            "server.tls",
            "the accept guard relays plain HTTP only: with TLS set accept_guard = false (Pingora then terminates TLS on server.listen)",
        ));
    }
    let capacity = capacity(&raw.capacity, &tiers, base)?;
    let settings = Settings {
        source: source.to_path_buf(),
        server: ServerSettings {
            upgrade_socket: raw.server.upgrade_socket.as_ref().map(|p| base.join(p)),
            ..server(&raw.server)?
        },
        tls: raw
            .server
            .tls
            .as_ref()
            .map(|t| crate::tls::TlsConfig::resolve(t, base)),
        upstream: upstream(&raw.upstream, base)?,
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
        blocklist: RawBlocklist {
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
        capacity,
        effective: effective(raw, &tiers),
        tiers,
        anonymous_tier,
    };
    Ok(settings)
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
        accept_rate_per_ip: raw
            .accept_rate_per_ip
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| key("server.accept_rate_per_ip", e))?,
        accept_guard: raw.accept_guard,
        stop_grace: raw.stop_grace.get(),
        upgrade_socket: raw.upgrade_socket.clone(),
    })
}

fn upstream(raw: &RawUpstream, base: &Path) -> Result<UpstreamSettings, Invalid> {
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
        failure_threshold: nonzero(raw.failure_threshold, "upstream.failure_threshold")?,
        success_threshold: nonzero(raw.success_threshold, "upstream.success_threshold")?,
        tls: upstream_tls(raw, base)?,
    })
}

/// `tls`, `sni`, `ca` and `verify`: the CA file read and its certificates
/// checked now, so a bad one is a config error naming the file.
fn upstream_tls(raw: &RawUpstream, base: &Path) -> Result<Option<UpstreamTls>, Invalid> {
    if !raw.tls {
        let stray = [
            ("upstream.sni", raw.sni.is_some()),
            ("upstream.ca", raw.ca.is_some()),
            ("upstream.verify", !raw.verify),
        ];
        return match stray.iter().find(|(_, set)| *set) {
            Some((k, _)) => Err(key(k, "only with upstream.tls = true")),
            None => Ok(None),
        };
    }
    if let Some(sni) = &raw.sni
        && (sni.is_empty() || sni.contains(char::is_whitespace))
    {
        return Err(key("upstream.sni", "must be a host name or an IP address"));
    }
    if raw.sni.is_none() && raw.addresses.len() > 1 {
        return Err(key(
            "upstream.tls",
            "with several executors set upstream.sni (the name their certificates carry)",
        ));
    }
    let ca = raw
        .ca
        .as_ref()
        .map(|p| read_ca(&base.join(p)).map_err(|e| key("upstream.ca", e)))
        .transpose()?;
    Ok(Some(UpstreamTls {
        sni: raw.sni.clone(),
        ca,
        verify: raw.verify,
    }))
}

/// The DER certificates of a PEM CA file; at least one, each parsing.
fn read_ca(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut certs = Vec::new();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| format!("{shown}: not a PEM certificate: {e}"))?;
        x509_parser::parse_x509_certificate(&cert)
            .map_err(|e| format!("{shown}: a certificate does not parse: {e}"))?;
        certs.push(cert.to_vec());
    }
    if certs.is_empty() {
        return Err(format!("{shown}: no PEM certificate in the file"));
    }
    Ok(certs)
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

fn admin_tokens(raw: &RawAdmin, base: &Path) -> Result<execgate_state::AdminTokens, Invalid> {
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

/// `[capacity]`, checked even when off (so `check-config` finds its errors);
/// prices name tiers of this config and languages screening knows.
fn capacity(
    raw: &execgate_capacity::CapacityConfig,
    tiers: &BTreeMap<TierName, Tier>,
    base: &Path,
) -> Result<Option<execgate_capacity::CapacitySettings>, Invalid> {
    let names = tiers.keys().cloned().collect();
    let languages = execgate_screen::Language::ALL
        .iter()
        .map(|l| l.as_str().to_string())
        .collect();
    let env = |name: &str| std::env::var(name).ok();
    let settings = raw
        .validate(&names, Some(&languages), base, &env)
        .map_err(|(k, reason)| key(&k, reason))?;
    Ok(raw.enabled.then_some(settings))
}

fn resolve_rules(mut rules: RawRules, base: &Path) -> RawRules {
    rules.screen = rules.screen.iter().map(|p| base.join(p)).collect();
    rules.output = rules.output.iter().map(|p| base.join(p)).collect();
    rules
}

/// The config as the gateway will run it: every tier spelled out.
fn effective(mut raw: RawConfig, tiers: &BTreeMap<TierName, Tier>) -> RawConfig {
    raw.tiers = tiers
        .values()
        .map(|t| {
            let mut table = RawTier::from(t);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream_of(raw: serde_json::Value) -> Result<UpstreamSettings, Invalid> {
        upstream(
            &serde_json::from_value::<RawUpstream>(raw).unwrap(),
            Path::new("."),
        )
    }

    #[test]
    fn the_server_section_bounds_its_sizes() {
        let mut raw = RawServer::default();
        assert!(server(&raw).is_ok());
        raw.max_header_bytes = execgate_core::ByteSize(512);
        assert_eq!(server(&raw).unwrap_err().key, "server.max_header_bytes");
        let mut raw = RawServer {
            max_connections: 1_000_001,
            ..RawServer::default()
        };
        assert_eq!(
            server(&raw).unwrap_err(),
            Invalid::new("server.max_connections", "must be at most 1000000")
        );
        raw.max_connections = 10;
        raw.threads = 0;
        assert_eq!(server(&raw).unwrap_err().key, "server.threads");
    }

    #[test]
    fn executors_are_listed_once_with_timeouts_that_fit() {
        let ok = upstream_of(serde_json::json!({"addresses": ["127.0.0.1:2000"]})).unwrap();
        assert_eq!(ok.addresses, ["127.0.0.1:2000".parse().unwrap()]);
        let cases = [
            (serde_json::json!({"addresses": []}), "upstream.addresses"),
            (
                serde_json::json!({"addresses": ["127.0.0.1:2000", "127.0.0.1:2000"]}),
                "upstream.addresses[1]",
            ),
            (
                serde_json::json!({"addresses": ["127.0.0.1:2000"], "read_timeout": "20s", "total_timeout": "10s"}),
                "upstream.read_timeout",
            ),
            (
                serde_json::json!({"addresses": ["127.0.0.1:2000"], "health_check": "POST /run"}),
                "upstream.health_check",
            ),
            (
                serde_json::json!({"addresses": ["127.0.0.1:2000"], "health_check_status": 700}),
                "upstream.health_check_status",
            ),
            (
                serde_json::json!({"addresses": ["127.0.0.1:2000"], "failure_threshold": 0}),
                "upstream.failure_threshold",
            ),
        ];
        for (raw, at) in cases {
            assert_eq!(upstream_of(raw.clone()).unwrap_err().key, at, "{raw}");
        }
    }

    #[test]
    fn a_probe_is_a_get_of_a_path() {
        assert_eq!(probe_path("GET /about"), Ok("/about".to_string()));
        for bad in ["GET about", "POST /about", "GET /a b", "GET"] {
            assert!(probe_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn caps_set_per_tier_are_refused_where_they_are_not() {
        let mut raw = RawConfig::default();
        assert_eq!(check_tier_owned(&raw), Ok(()));
        raw.screen.threshold += 1;
        assert_eq!(
            check_tier_owned(&raw),
            Err(Invalid::new(
                "screen.threshold",
                "set per tier: tiers.NAME.inbound_threshold"
            ))
        );
    }

    #[test]
    fn the_effective_config_spells_out_every_tier_and_hides_secrets() {
        let mut raw = RawConfig::default();
        raw.admin.tokens = vec!["a-token-of-the-operator".into()];
        let tiers = crate::config::tiers::builtin_tiers();
        let shown = effective(raw, &tiers);
        assert_eq!(shown.admin.tokens, ["<redacted>"]);
        assert_eq!(shown.tiers.len(), tiers.len());
        assert!(shown.tiers.values().all(|t| t.windows.is_some()));
    }
}
