//! What a decision's value names, parsed once: `203.0.113.7`, `198.51.100.0/24`,
//! `client:abc`, `country:XX`, `asn:64500`. The canonical form is what the
//! store keeps and lists, so one address is never blocked under two spellings.

use super::Scope;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A parsed decision value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// One address (IPv4-mapped IPv6 is stored as IPv4).
    Ip(IpAddr),
    /// A CIDR range with no host bits set, wider than one address.
    Range(IpNet),
    /// A client key, `client:ID`.
    Client(String),
    /// An upper-case ISO 3166 alpha-2 code.
    Country(String),
    /// An autonomous system number.
    Asn(u32),
}

impl Target {
    /// The scope of this target.
    pub fn scope(&self) -> Scope {
        match self {
            Target::Ip(_) => Scope::Ip,
            Target::Range(_) => Scope::Range,
            Target::Client(_) => Scope::Client,
            Target::Country(_) => Scope::Country,
            Target::Asn(_) => Scope::Asn,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Ip(ip) => write!(f, "{ip}"),
            Target::Range(net) => write!(f, "{net}"),
            Target::Client(key) => f.write_str(key),
            Target::Country(code) => write!(f, "country:{code}"),
            Target::Asn(n) => write!(f, "asn:{n}"),
        }
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > 256 {
            return Err("is longer than 256 bytes".into());
        }
        if let Some(target) = parse_address(s) {
            return target;
        }
        let (scope, rest) = s.split_once(':').ok_or_else(|| {
            format!(
                "{s:?} is not an IP address, a CIDR range, or SCOPE:VALUE (client:, country:, asn:)"
            )
        })?;
        match scope.to_ascii_lowercase().as_str() {
            "ip" | "range" => parse_address(rest)
                .unwrap_or_else(|| Err(format!("{rest:?} is not an IP address or CIDR range"))),
            "client" => parse_client(rest),
            "country" => parse_country(rest),
            "asn" => parse_asn(rest),
            other => Err(format!(
                "unknown scope {other:?}: expected an IP, a CIDR range, client:, country: or asn:"
            )),
        }
    }
}

/// `Some` when `s` looks like an address or range (valid or not), `None` otherwise.
fn parse_address(s: &str) -> Option<Result<Target, String>> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(Ok(Target::Ip(ip.to_canonical())));
    }
    let (addr, _) = s.split_once('/')?;
    addr.parse::<IpAddr>().ok()?;
    Some(parse_range(s))
}

fn parse_range(s: &str) -> Result<Target, String> {
    let net: IpNet = s
        .parse()
        .map_err(|_| format!("{s:?} is not a valid CIDR range (prefix too long?)"))?;
    if net.trunc() != net {
        return Err(format!(
            "{s:?} has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    if net.prefix_len() == 0 {
        return Err(format!("{s:?} would block every address"));
    }
    if net.prefix_len() == net.max_prefix_len() {
        return Ok(Target::Ip(net.addr().to_canonical()));
    }
    Ok(Target::Range(net))
}

fn parse_client(id: &str) -> Result<Target, String> {
    let valid = !id.is_empty() && id.len() <= 200 && id.chars().all(|c| c.is_ascii_graphic());
    if valid {
        Ok(Target::Client(format!("client:{id}")))
    } else {
        Err(format!(
            "client id {id:?} must be 1 to 200 printable ASCII characters without spaces"
        ))
    }
}

fn parse_country(code: &str) -> Result<Target, String> {
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(Target::Country(code.to_ascii_uppercase()))
    } else {
        Err(format!(
            "country {code:?} must be a two-letter ISO 3166 code"
        ))
    }
}

fn parse_asn(n: &str) -> Result<Target, String> {
    let digits = n
        .strip_prefix("AS")
        .or_else(|| n.strip_prefix("as"))
        .unwrap_or(n);
    digits
        .parse::<u32>()
        .map(Target::Asn)
        .map_err(|_| format!("asn {n:?} must be a number from 0 to 4294967295"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        s.parse::<Target>().unwrap().to_string()
    }

    fn err(s: &str) -> String {
        s.parse::<Target>().unwrap_err()
    }

    #[test]
    fn values_are_canonicalized() {
        assert_eq!(canon("203.0.113.7"), "203.0.113.7");
        assert_eq!(canon("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(canon("198.51.100.0/24"), "198.51.100.0/24");
        assert_eq!(canon("203.0.113.7/32"), "203.0.113.7");
        assert_eq!(canon("ip:2001:db8::/64"), "2001:db8::/64");
        assert_eq!(canon("2001:DB8::1"), "2001:db8::1");
        assert_eq!(canon("client:abc"), "client:abc");
        assert_eq!(canon("country:fr"), "country:FR");
        assert_eq!(canon("asn:AS64500"), "asn:64500");
    }

    #[test]
    fn bad_values_say_why() {
        assert!(err("198.51.100.7/24").contains("did you mean 198.51.100.0/24"));
        assert!(err("198.51.100.0/33").contains("not a valid CIDR"));
        assert!(err("0.0.0.0/0").contains("every address"));
        assert!(err("999.1.1.1").contains("not an IP address"));
        assert!(err("galaxy:far").contains("unknown scope \"galaxy\""));
        assert!(err("country:FRA").contains("two-letter"));
        assert!(err("asn:-1").contains("number"));
        assert!(err("client:a b").contains("printable"));
        assert!(err("").contains("empty"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Target>();
        }

        #[test]
        fn canonical_values_parse_back_to_themselves(s in "(ip:|range:|client:|country:|asn:)?[0-9a-fA-F:./]{1,40}") {
            if let Ok(target) = s.parse::<Target>() {
                let canonical = target.to_string();
                prop_assert_eq!(canonical.parse::<Target>(), Ok(target));
            }
        }

        #[test]
        fn every_ipv4_range_matches_its_own_network(bits in any::<u32>(), len in 1u8..32) {
            let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(bits), len).unwrap().trunc();
            prop_assert_eq!(net.to_string().parse::<Target>(), Ok(Target::Range(IpNet::V4(net))));
        }
    }
}
