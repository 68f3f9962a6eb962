//! Who a request is charged to: one key shared by limits, blocks and reputation.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// The key a client's limits, blocks and reputation are kept under.
///
/// Written `ip:203.0.113.7`, `ip:2001:db8:1:2::/64` (IPv6 grouped by prefix so a
/// host cannot rotate through its /64), or `client:ID` for an authenticated client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientKey(String);

impl ClientKey {
    /// The key of an anonymous client at `ip`; IPv6 addresses are cut to `v6_prefix` bits.
    pub fn from_ip(ip: IpAddr, v6_prefix: u8) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey(format!("ip:{v4}")),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(format!("ip:{v4}")),
                None => {
                    let prefix = v6_prefix.min(128);
                    let bits = u128::from(v6);
                    let mask = if prefix == 0 {
                        0
                    } else {
                        u128::MAX << (128 - u32::from(prefix))
                    };
                    let net = std::net::Ipv6Addr::from(bits & mask);
                    if prefix == 128 {
                        ClientKey(format!("ip:{net}"))
                    } else {
                        ClientKey(format!("ip:{net}/{prefix}"))
                    }
                }
            },
        }
    }

    /// The key of an authenticated client with id `id`.
    pub fn from_client_id(id: &str) -> Self {
        ClientKey(format!("client:{id}"))
    }

    /// Parses a key as written by `Display`; `None` when it has neither prefix.
    pub fn parse(s: &str) -> Option<Self> {
        (s.starts_with("ip:") || s.starts_with("client:")).then(|| ClientKey(s.to_string()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a tier (`anonymous`, `free`, `paid`, or one the operator adds).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TierName(pub String);

impl TierName {
    /// The tier every unauthenticated client is in.
    pub fn anonymous() -> Self {
        TierName("anonymous".to_string())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TierName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_grouped_by_prefix() {
        let a = ClientKey::from_ip("2001:db8:1:2::1".parse().unwrap(), 64);
        let b = ClientKey::from_ip("2001:db8:1:2:ffff::9".parse().unwrap(), 64);
        let c = ClientKey::from_ip("2001:db8:1:3::1".parse().unwrap(), 64);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str(), "ip:2001:db8:1:2::/64");
    }

    #[test]
    fn ipv4_and_mapped_ipv4_share_a_key() {
        let v4 = ClientKey::from_ip("203.0.113.7".parse().unwrap(), 64);
        let mapped = ClientKey::from_ip("::ffff:203.0.113.7".parse().unwrap(), 64);
        assert_eq!(v4, mapped);
        assert_eq!(v4.to_string(), "ip:203.0.113.7");
    }

    #[test]
    fn parse_accepts_only_known_prefixes() {
        assert!(ClientKey::parse("client:abc").is_some());
        assert!(ClientKey::parse("abc").is_none());
    }
}
