//! Static IP policy: allow and deny CIDRs, GeoIP countries and ASNs.
//! Allow beats deny; the dynamic blocklist is consulted by the caller after
//! `check` returns `Neutral`, with the country and ASN found here.

use crate::config::IpPolicySettings;
use crate::error::BlockCategory;
use ipnet::IpNet;
use maxminddb::{Reader, geoip2};
use std::net::IpAddr;

/// What static policy says about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpVerdict {
    /// On an allow-listed CIDR: no deny rule or blocklist entry applies, never banned.
    Allowed,
    /// Refused, with the category.
    Denied(BlockCategory),
    /// No static rule applies; `geo` is what GeoIP knows, for the blocklist.
    Neutral(Geo),
}

/// GeoIP facts about an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geo {
    /// ISO country code.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
}

/// The static policy, built once from config (databases opened here).
pub struct IpPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    countries: Option<Reader<Vec<u8>>>,
    asns: Option<Reader<Vec<u8>>>,
    allow_countries: Vec<String>,
    deny_countries: Vec<String>,
    allow_asns: Vec<u32>,
    deny_asns: Vec<u32>,
}

impl IpPolicy {
    /// Opens the GeoIP databases named in `settings`.
    pub fn new(settings: &IpPolicySettings) -> Result<Self, String> {
        let open = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map(|path| {
                    Reader::open_readfile(path).map_err(|e| format!("{}: {e}", path.display()))
                })
                .transpose()
        };
        Ok(Self {
            allow: settings.allow.clone(),
            deny: settings.deny.clone(),
            countries: open(&settings.geoip.country_db)?,
            asns: open(&settings.geoip.asn_db)?,
            allow_countries: settings.geoip.allow_countries.clone(),
            deny_countries: settings.geoip.deny_countries.clone(),
            allow_asns: settings.geoip.allow_asns.clone(),
            deny_asns: settings.geoip.deny_asns.clone(),
        })
    }

    /// Applies allow lists, then deny lists, to `ip`.
    pub fn check(&self, ip: IpAddr) -> IpVerdict {
        if self.allow.iter().any(|n| n.contains(&ip)) {
            return IpVerdict::Allowed;
        }
        let geo = self.geo(ip);
        let country_in = |list: &[String]| geo.country.as_ref().is_some_and(|c| list.contains(c));
        let asn_in = |list: &[u32]| geo.asn.is_some_and(|a| list.contains(&a));
        // A whole country or network allowed beats the static deny lists, but
        // not the blocklist: its clients can still be blocked and banned one by one.
        if country_in(&self.allow_countries) || asn_in(&self.allow_asns) {
            return IpVerdict::Neutral(geo);
        }
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return IpVerdict::Denied(BlockCategory::DenyList);
        }
        if country_in(&self.deny_countries) {
            return IpVerdict::Denied(BlockCategory::Country);
        }
        if asn_in(&self.deny_asns) {
            return IpVerdict::Denied(BlockCategory::Asn);
        }
        IpVerdict::Neutral(geo)
    }

    /// Looks `ip` up in the GeoIP databases (absent databases give `None`s).
    pub fn geo(&self, ip: IpAddr) -> Geo {
        let country = self.countries.as_ref().and_then(|r| {
            let rec: geoip2::Country = r.lookup(ip).ok()?;
            rec.country?.iso_code.map(|c| c.to_ascii_uppercase())
        });
        let asn = self.asns.as_ref().and_then(|r| {
            let rec: geoip2::Asn = r.lookup(ip).ok()?;
            rec.autonomous_system_number
        });
        Geo { country, asn }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> IpPolicy {
        let settings = IpPolicySettings {
            allow: allow.iter().map(|s| s.parse().unwrap()).collect(),
            deny: deny.iter().map(|s| s.parse().unwrap()).collect(),
            geoip: Default::default(),
        };
        IpPolicy::new(&settings).unwrap()
    }

    #[test]
    fn allow_beats_deny() {
        let p = policy(&["198.51.100.7/32"], &["198.51.100.0/24"]);
        assert_eq!(p.check("198.51.100.7".parse().unwrap()), IpVerdict::Allowed);
        assert_eq!(
            p.check("198.51.100.8".parse().unwrap()),
            IpVerdict::Denied(BlockCategory::DenyList)
        );
        assert!(matches!(
            p.check("203.0.113.1".parse().unwrap()),
            IpVerdict::Neutral(_)
        ));
    }
}
