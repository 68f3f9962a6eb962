//! `[ip_policy]`: static allow and deny lists (inline and list files) and
//! GeoIP country and ASN rules, checked.

use super::invalid::{Invalid, key};
use super::raw::{RawGeoIp, RawIpPolicy};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

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

/// Parses `10.0.0.0/8` or a bare address (a /32 or /128).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("invalid CIDR or address {s:?}"))
}

/// `[ip_policy]` checked; list files and databases are read from `base`.
pub fn ip_policy(raw: &RawIpPolicy, base: &Path) -> Result<IpPolicySettings, Invalid> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_address_is_one_host_and_a_network_is_truncated() {
        assert_eq!(parse_net("192.0.2.7"), Ok("192.0.2.7/32".parse().unwrap()));
        assert_eq!(
            parse_net(" 2001:db8::1 "),
            Ok("2001:db8::1/128".parse().unwrap())
        );
        assert_eq!(parse_net("10.1.2.3/8"), Ok("10.0.0.0/8".parse().unwrap()));
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("example.com").is_err());
    }

    #[test]
    fn list_files_merge_with_inline_lists_and_name_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("deny.txt"),
            "# scanners\n198.51.100.0/24\n\n203.0.113.9 # one host\n",
        )
        .unwrap();
        let raw = RawIpPolicy {
            deny: vec!["192.0.2.0/24".into()],
            deny_files: vec!["deny.txt".into()],
            ..RawIpPolicy::default()
        };
        let policy = ip_policy(&raw, dir.path()).unwrap();
        let deny: Vec<String> = policy.deny.iter().map(|n| n.to_string()).collect();
        assert_eq!(deny, ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.9/32"]);
        std::fs::write(dir.path().join("deny.txt"), "198.51.100.0/24\nnot-a-net\n").unwrap();
        let bad = ip_policy(&raw, dir.path()).unwrap_err();
        assert_eq!(bad.key, "ip_policy.deny_files[0]");
        assert!(
            bad.reason
                .ends_with("deny.txt:2: invalid CIDR or address \"not-a-net\""),
            "{bad:?}"
        );
        let inline = RawIpPolicy {
            allow: vec!["10.0.0.0/8".into(), "nope".into()],
            ..RawIpPolicy::default()
        };
        assert_eq!(
            ip_policy(&inline, dir.path()).unwrap_err().key,
            "ip_policy.allow[1]"
        );
    }

    #[test]
    fn geoip_rules_need_their_database_and_two_letter_countries() {
        let dir = tempfile::tempdir().unwrap();
        let countries = RawGeoIp {
            deny_countries: vec!["de".into()],
            ..RawGeoIp::default()
        };
        let e = geoip(&countries, dir.path()).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.reason.as_str()),
            (
                "ip_policy.geoip.deny_countries",
                "country rules need ip_policy.geoip.country_db"
            )
        );
        let asns = RawGeoIp {
            allow_asns: vec![64496],
            ..RawGeoIp::default()
        };
        assert_eq!(
            geoip(&asns, dir.path()).unwrap_err().reason,
            "ASN rules need ip_policy.geoip.asn_db"
        );
        let missing = RawGeoIp {
            country_db: Some("absent.mmdb".into()),
            ..RawGeoIp::default()
        };
        let e = geoip(&missing, dir.path()).unwrap_err();
        assert_eq!(e.key, "ip_policy.geoip.country_db");
        assert!(
            e.reason.starts_with("cannot open MaxMind database"),
            "{e:?}"
        );
        assert_eq!(
            geoip(&RawGeoIp::default(), dir.path()).unwrap().country_db,
            None
        );
    }
}
