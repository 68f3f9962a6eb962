//! Judge0 `callback_url`: where a client asks for its finished result to be
//! sent. The gateway delivers it itself (the sanitized result, never the
//! executor's raw output), so the URL is a request to make the gateway open a
//! connection: only `http(s)`, only hosts on the operator's allow-list, only
//! allowed ports, no credentials, and never an address inside the network the
//! gateway sits in (loopback, private, link-local, shared, metadata) unless the
//! operator says so. The same address rules are applied again to every
//! address the name resolves to at delivery time (`classify`).

use execgate_core::HumanDuration;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The longest callback URL accepted.
const URL_MAX_BYTES: usize = 2048;

/// The `[dialect.callbacks]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackConfig {
    /// Hosts a callback may go to: exact names (`hooks.example.com`), IP
    /// addresses, or `*.example.com` for any name below it. Empty (the
    /// default): `callback_url` is refused.
    pub allow_hosts: Vec<String>,
    /// Ports a callback may go to (default 80 and 443).
    pub allow_ports: Vec<u16>,
    /// Let callbacks reach loopback, private (RFC 1918, ULA), shared (CGNAT)
    /// and link-local addresses. Default false. Metadata, unspecified,
    /// multicast and reserved addresses stay refused.
    pub allow_private: bool,
    /// Attempts per delivery (Judge0's `CALLBACKS_MAX_TRIES` default, 3).
    pub attempts: u32,
    /// The wait before the first retry; each next one doubles, up to `backoff_max`.
    pub backoff: HumanDuration,
    /// The longest wait between attempts.
    pub backoff_max: HumanDuration,
    /// The time one attempt may take, connecting included (Judge0's
    /// `CALLBACKS_TIMEOUT` default, 5s).
    pub timeout: HumanDuration,
    /// How long the gateway waits for a run to finish before giving its
    /// delivery up.
    pub result_wait: HumanDuration,
    /// Deliveries in progress at most; a run finishing past it is not delivered (counted).
    pub max_concurrent: usize,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            allow_hosts: Vec::new(),
            allow_ports: vec![80, 443],
            allow_private: false,
            attempts: 3,
            backoff: HumanDuration(Duration::from_millis(500)),
            backoff_max: HumanDuration(Duration::from_secs(10)),
            timeout: HumanDuration(Duration::from_secs(5)),
            result_wait: HumanDuration(Duration::from_secs(300)),
            max_concurrent: 64,
        }
    }
}

/// Most attempts a delivery may be configured with.
const ATTEMPTS_MAX: u32 = 10;

/// One `allow_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// This name exactly.
    Exact(String),
    /// Any name ending in `.suffix` (not `suffix` itself).
    Below(String),
    /// This address.
    Address(IpAddr),
}

impl HostPattern {
    fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim().trim_end_matches('.').to_ascii_lowercase();
        let bare = entry.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(HostPattern::Address(ip.to_canonical()));
        }
        let (below, name) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry.as_str()),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || !name.split('.').all(label_ok) {
            return Err(format!(
                "{entry:?} is not a host name, an address or *.suffix"
            ));
        }
        Ok(if below {
            HostPattern::Below(name.to_string())
        } else {
            HostPattern::Exact(name.to_string())
        })
    }

    fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (HostPattern::Exact(name), Host::Name(h)) => name == h,
            (HostPattern::Below(suffix), Host::Name(h)) => h
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (HostPattern::Address(ip), Host::Address(a)) => ip == a,
            _ => false,
        }
    }
}

/// A URL's host, as the allow-list reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Name(String),
    Address(IpAddr),
}

/// What an address is, for the callback rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// A public address: always allowed.
    Public,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918, IPv6 ULA (`fc00::/7`), site-local.
    Private,
    /// `100.64.0.0/10` (carrier-grade NAT).
    Shared,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// A cloud metadata service (`169.254.169.254`, `fd00:ec2::254`).
    Metadata,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `240.0.0.0/4`, broadcast, `192.0.0.0/24` and other non-host space.
    Reserved,
}

impl AddressKind {
    /// Words for refusals and logs.
    pub fn describe(self) -> &'static str {
        match self {
            AddressKind::Public => "a public address",
            AddressKind::Loopback => "a loopback address",
            AddressKind::Private => "a private address",
            AddressKind::Shared => "a shared (CGNAT) address",
            AddressKind::LinkLocal => "a link-local address",
            AddressKind::Metadata => "a cloud metadata address",
            AddressKind::Unspecified => "an unspecified address",
            AddressKind::Multicast => "a multicast address",
            AddressKind::Reserved => "a reserved address",
        }
    }

    /// Whether `allow_private` lets a callback reach it.
    fn private_network(self) -> bool {
        matches!(
            self,
            AddressKind::Loopback
                | AddressKind::Private
                | AddressKind::Shared
                | AddressKind::LinkLocal
        )
    }
}

/// What `ip` is. IPv4 addresses written in IPv6 (mapped `::ffff:a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`) are what their IPv4 address is.
pub fn classify(ip: IpAddr) -> AddressKind {
    match ip.to_canonical() {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressKind {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        AddressKind::Metadata
    } else if a == 0 {
        AddressKind::Unspecified
    } else if ip.is_loopback() {
        AddressKind::Loopback
    } else if ip.is_private() {
        AddressKind::Private
    } else if a == 100 && (b & 0xc0) == 64 {
        AddressKind::Shared
    } else if ip.is_link_local() {
        AddressKind::LinkLocal
    } else if ip.is_multicast() {
        AddressKind::Multicast
    } else if a >= 240 || (a == 192 && b == 0 && c == 0) {
        AddressKind::Reserved
    } else {
        AddressKind::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressKind {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        AddressKind::Metadata
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b, c, d] = ip.octets()[12..] else {
            unreachable!("an IPv6 address has 16 octets")
        };
        classify_v4(Ipv4Addr::new(a, b, c, d))
    } else if ip.is_unspecified() {
        AddressKind::Unspecified
    } else if ip.is_loopback() {
        AddressKind::Loopback
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        AddressKind::Private
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddressKind::LinkLocal
    } else if ip.is_multicast() {
        AddressKind::Multicast
    } else if s[..6] == [0, 0, 0, 0, 0, 0] {
        // IPv4-compatible (deprecated) addresses: no host should be reached so.
        AddressKind::Reserved
    } else {
        AddressKind::Public
    }
}

/// A `callback_url` that passed the policy at submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl(url::Url);

impl CallbackUrl {
    /// The URL.
    pub fn as_url(&self) -> &url::Url {
        &self.0
    }

    /// The host name to resolve, or `None` when the host is an address.
    pub fn domain(&self) -> Option<&str> {
        self.0.domain()
    }

    /// The host when it is an address (IPv4 written in IPv6 read as IPv4).
    pub fn address(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Domain(_) => None,
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6).to_canonical()),
        }
    }

    /// The port connected to (the scheme's when the URL has none).
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(80)
    }
}

impl fmt::Display for CallbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// The checked `[dialect.callbacks]` rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackPolicy {
    hosts: Vec<HostPattern>,
    ports: Vec<u16>,
    allow_private: bool,
}

impl CallbackPolicy {
    /// Checks `config`; the error names the key.
    pub fn new(config: &CallbackConfig) -> Result<Self, String> {
        let hosts = config
            .allow_hosts
            .iter()
            .map(|h| {
                HostPattern::parse(h).map_err(|e| format!("dialect.callbacks.allow_hosts: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if config.allow_ports.contains(&0) {
            return Err("dialect.callbacks.allow_ports: 0 is not a port".into());
        }
        if !(1..=ATTEMPTS_MAX).contains(&config.attempts) {
            return Err(format!(
                "dialect.callbacks.attempts: must be 1 to {ATTEMPTS_MAX}, not {}",
                config.attempts
            ));
        }
        if config.max_concurrent == 0 {
            return Err("dialect.callbacks.max_concurrent: must be at least 1".into());
        }
        for (key, value) in [
            ("timeout", config.timeout),
            ("result_wait", config.result_wait),
        ] {
            if value.get().is_zero() {
                return Err(format!("dialect.callbacks.{key}: must be more than 0"));
            }
        }
        Ok(Self {
            hosts,
            ports: config.allow_ports.clone(),
            allow_private: config.allow_private,
        })
    }

    /// Whether callbacks are accepted at all.
    pub fn enabled(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// Checks a client's `callback_url`; the error says why, in words safe
    /// to show the client.
    pub fn check_url(&self, text: &str) -> Result<CallbackUrl, String> {
        if !self.enabled() {
            return Err(
                "is not accepted: this gateway delivers no callbacks (no allowed hosts)".into(),
            );
        }
        if text.len() > URL_MAX_BYTES {
            return Err(format!("is longer than {URL_MAX_BYTES} bytes"));
        }
        let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "has scheme {:?}: only http and https",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials (user:password@)".into());
        }
        let host = match url.host() {
            None => return Err("has no host".into()),
            Some(url::Host::Domain(name)) => {
                Host::Name(name.trim_end_matches('.').to_ascii_lowercase())
            }
            Some(url::Host::Ipv4(v4)) => Host::Address(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Host::Address(IpAddr::V6(v6).to_canonical()),
        };
        if !self.hosts.iter().any(|p| p.matches(&host)) {
            let shown = url.host_str().unwrap_or_default();
            return Err(format!("host {shown} is not on the callback allow-list"));
        }
        let port = url.port_or_known_default().unwrap_or(0);
        if !self.ports.contains(&port) {
            return Err(format!("port {port} is not an allowed callback port"));
        }
        if let Host::Address(ip) = host {
            self.check_address(ip)?;
        }
        Ok(CallbackUrl(url))
    }

    /// Whether a callback may connect to `ip`; the error says what it is.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), String> {
        match classify(ip) {
            AddressKind::Public => Ok(()),
            kind if kind.private_network() && self.allow_private => Ok(()),
            kind => Err(format!("{} is {}", ip.to_canonical(), kind.describe())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], private: bool) -> CallbackPolicy {
        CallbackPolicy::new(&CallbackConfig {
            allow_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            allow_ports: vec![80, 443, 8080],
            allow_private: private,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn addresses_are_classified_also_when_written_in_ipv6() {
        let kind = |s: &str| classify(s.parse().unwrap());
        assert_eq!(kind("8.8.8.8"), AddressKind::Public);
        assert_eq!(kind("2606:4700::1111"), AddressKind::Public);
        assert_eq!(kind("127.0.0.1"), AddressKind::Loopback);
        assert_eq!(kind("127.9.9.9"), AddressKind::Loopback);
        assert_eq!(kind("::1"), AddressKind::Loopback);
        assert_eq!(kind("10.1.2.3"), AddressKind::Private);
        assert_eq!(kind("172.31.0.1"), AddressKind::Private);
        assert_eq!(kind("192.168.1.1"), AddressKind::Private);
        assert_eq!(kind("fd12::1"), AddressKind::Private);
        assert_eq!(kind("fc00::1"), AddressKind::Private);
        assert_eq!(kind("100.64.0.1"), AddressKind::Shared);
        assert_eq!(kind("100.127.255.255"), AddressKind::Shared);
        assert_eq!(kind("100.128.0.1"), AddressKind::Public);
        assert_eq!(kind("169.254.1.1"), AddressKind::LinkLocal);
        assert_eq!(kind("fe80::1"), AddressKind::LinkLocal);
        assert_eq!(kind("169.254.169.254"), AddressKind::Metadata);
        assert_eq!(kind("fd00:ec2::254"), AddressKind::Metadata);
        assert_eq!(kind("0.0.0.0"), AddressKind::Unspecified);
        assert_eq!(kind("::"), AddressKind::Unspecified);
        assert_eq!(kind("224.0.0.1"), AddressKind::Multicast);
        assert_eq!(kind("ff02::1"), AddressKind::Multicast);
        assert_eq!(kind("255.255.255.255"), AddressKind::Reserved);
        assert_eq!(kind("::ffff:127.0.0.1"), AddressKind::Loopback);
        assert_eq!(kind("::ffff:169.254.169.254"), AddressKind::Metadata);
        assert_eq!(kind("::ffff:10.0.0.1"), AddressKind::Private);
        assert_eq!(kind("64:ff9b::10.0.0.1"), AddressKind::Private);
        assert_eq!(kind("64:ff9b::8.8.8.8"), AddressKind::Public);
    }

    #[test]
    fn only_http_urls_to_allowed_hosts_and_ports_pass() {
        let p = policy(&["hooks.example.com", "*.example.org"], false);
        assert!(p.check_url("https://hooks.example.com/done").is_ok());
        assert!(p.check_url("http://hooks.example.com:8080/done").is_ok());
        assert!(p.check_url("https://HOOKS.example.com./x").is_ok());
        assert!(p.check_url("https://a.b.example.org/x").is_ok());
        let err = |u: &str| p.check_url(u).unwrap_err();
        assert_eq!(
            err("https://example.org/x"),
            "host example.org is not on the callback allow-list"
        );
        assert_eq!(
            err("https://evil-example.org/x"),
            "host evil-example.org is not on the callback allow-list"
        );
        assert_eq!(
            err("https://hooks.example.com.evil.net/x"),
            "host hooks.example.com.evil.net is not on the callback allow-list"
        );
        assert_eq!(
            err("ftp://hooks.example.com/x"),
            "has scheme \"ftp\": only http and https"
        );
        assert_eq!(
            err("https://u:p@hooks.example.com/x"),
            "must not carry credentials (user:password@)"
        );
        assert_eq!(
            err("https://hooks.example.com:22/x"),
            "port 22 is not an allowed callback port"
        );
        assert!(err("not a url").starts_with("is not a URL"));
        assert!(err(&format!("https://hooks.example.com/{}", "a".repeat(3000))).contains("2048"));
    }

    #[test]
    fn address_hosts_must_be_listed_and_outside_the_private_network() {
        let strict = policy(&["127.0.0.1", "169.254.169.254", "10.0.0.1", "::1"], false);
        assert_eq!(
            strict.check_url("http://127.0.0.1/x").unwrap_err(),
            "127.0.0.1 is a loopback address"
        );
        assert_eq!(
            strict.check_url("http://10.0.0.1/x").unwrap_err(),
            "10.0.0.1 is a private address"
        );
        assert_eq!(
            strict.check_url("http://[::1]/x").unwrap_err(),
            "::1 is a loopback address"
        );
        assert_eq!(
            strict.check_url("http://[::ffff:127.0.0.1]/x").unwrap_err(),
            "127.0.0.1 is a loopback address"
        );
        assert_eq!(
            strict.check_url("http://8.8.8.8/x").unwrap_err(),
            "host 8.8.8.8 is not on the callback allow-list"
        );
        let open = policy(&["127.0.0.1", "169.254.169.254"], true);
        assert!(open.check_url("http://127.0.0.1:8080/x").is_ok());
        assert_eq!(
            open.check_url("http://169.254.169.254/latest").unwrap_err(),
            "169.254.169.254 is a cloud metadata address"
        );
        assert_eq!(
            open.check_address("0.0.0.0".parse().unwrap()).unwrap_err(),
            "0.0.0.0 is an unspecified address"
        );
    }

    #[test]
    fn no_allowed_host_refuses_every_callback_and_bad_settings_are_named() {
        let off = CallbackPolicy::new(&CallbackConfig::default()).unwrap();
        assert!(
            off.check_url("https://example.com/")
                .unwrap_err()
                .contains("no allowed hosts")
        );
        let bad = |c: CallbackConfig| CallbackPolicy::new(&c).unwrap_err();
        assert!(
            bad(CallbackConfig {
                allow_hosts: vec!["exa mple.com".into()],
                ..Default::default()
            })
            .starts_with("dialect.callbacks.allow_hosts:")
        );
        assert!(
            bad(CallbackConfig {
                allow_hosts: vec!["a.*.com".into()],
                ..Default::default()
            })
            .starts_with("dialect.callbacks.allow_hosts:")
        );
        assert!(
            bad(CallbackConfig {
                attempts: 0,
                ..Default::default()
            })
            .starts_with("dialect.callbacks.attempts:")
        );
        assert!(
            bad(CallbackConfig {
                max_concurrent: 0,
                ..Default::default()
            })
            .starts_with("dialect.callbacks.max_concurrent:")
        );
    }
}
