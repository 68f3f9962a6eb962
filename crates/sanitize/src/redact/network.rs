//! The inside of the network: private-range IP addresses (RFC 1918, loopback,
//! link-local, CGNAT, IPv6 ULA and link-local) and host names under the policy's
//! internal suffixes (`.internal`, `.corp`, …).

use super::{Hit, Label, builtin};
use crate::policy::OutputPolicy;
use regex::Regex;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

/// IPv6 candidates in the ULA (fc00::/7) and link-local (fe80::/10) ranges.
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:f[cd][0-9a-f]{2}|fe[89ab][0-9a-f]):[0-9a-f:]*[0-9a-f](?:%[A-Za-z0-9]+)?")
        .expect("constant regex")
});

/// Adds a hit for every private-range address in `text`.
pub(super) fn find_ips(text: &str, hits: &mut Vec<Hit>) {
    let bytes = text.as_bytes();
    let mut covered = 0;
    for dot in memchr::memchr_iter(b'.', bytes) {
        if dot < covered {
            continue;
        }
        if let Some((start, end)) = ipv4_around(text, dot) {
            covered = end;
            hits.push(hit(start, end, builtin::PRIVATE_IP));
        }
    }
    if memchr::memchr(b':', bytes).is_some() {
        for m in IPV6.find_iter(text) {
            let addr = m.as_str().split('%').next().unwrap_or_default();
            if addr.parse::<Ipv6Addr>().is_ok() {
                hits.push(hit(m.start(), m.end(), builtin::PRIVATE_IP));
            }
        }
    }
}

/// The private dotted quad whose first dot is at `dot`, standing alone (not part
/// of `1.2.3.4.5` or `v10.0.0.1`).
fn ipv4_around(text: &str, dot: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let digits_before = bytes[..dot]
        .iter()
        .rev()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=3).contains(&digits_before) {
        return None;
    }
    let start = dot - digits_before;
    if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.') {
        return None;
    }
    let mut end = dot;
    for _ in 0..3 {
        if bytes.get(end) != Some(&b'.') {
            return None;
        }
        let n = bytes[end + 1..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if !(1..=3).contains(&n) {
            return None;
        }
        end += 1 + n;
    }
    let right_ok = match bytes.get(end) {
        None => true,
        Some(b'.') => !bytes.get(end + 1).is_some_and(u8::is_ascii_digit),
        Some(b) => !b.is_ascii_alphanumeric(),
    };
    let private = text[start..end]
        .parse::<Ipv4Addr>()
        .is_ok_and(is_private_v4);
    (right_ok && private).then_some((start, end))
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b))
}

/// Adds a hit for every host name under one of the policy's internal suffixes.
pub(super) fn find_hosts(policy: &OutputPolicy, text: &str, hits: &mut Vec<Hit>) {
    if policy.internal_hosts.is_empty() {
        return;
    }
    let bytes = text.as_bytes();
    let follows = SuffixStarts::new(&policy.internal_hosts);
    for dot in memchr::memchr_iter(b'.', bytes) {
        if !follows.may_start(bytes.get(dot + 1).copied()) {
            continue;
        }
        for suffix in &policy.internal_hosts {
            let suffix = suffix.as_bytes();
            let Some(candidate) = bytes.get(dot..dot + suffix.len()) else {
                continue;
            };
            if suffix.first() != Some(&b'.') || !candidate.eq_ignore_ascii_case(suffix) {
                continue;
            }
            let end = dot + suffix.len();
            if host_continues(bytes, end) {
                continue;
            }
            let start = host_start(bytes, dot);
            if start < dot {
                hits.push(hit(start, end, builtin::INTERNAL_HOST));
            }
        }
    }
}

/// The bytes that can follow the dot of an internal suffix (`.internal` → `i`, `I`):
/// most dots of a text are followed by none of them and are skipped at once.
struct SuffixStarts {
    table: [bool; 256],
    /// A suffix of the dot alone: every dot may start one.
    any: bool,
}

impl SuffixStarts {
    fn new(suffixes: &[String]) -> Self {
        let mut starts = Self {
            table: [false; 256],
            any: false,
        };
        for suffix in suffixes {
            match suffix.as_bytes().get(1) {
                Some(&b) => {
                    starts.table[usize::from(b.to_ascii_lowercase())] = true;
                    starts.table[usize::from(b.to_ascii_uppercase())] = true;
                }
                None => starts.any = true,
            }
        }
        starts
    }

    fn may_start(&self, next: Option<u8>) -> bool {
        self.any || next.is_some_and(|b| self.table[usize::from(b)])
    }
}

/// Whether the name goes on after `end` (`a.internal.example.com` is not internal).
fn host_continues(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        Some(b) if b.is_ascii_alphanumeric() || *b == b'-' => true,
        Some(b'.') => bytes.get(end + 1).is_some_and(u8::is_ascii_alphanumeric),
        _ => false,
    }
}

/// The first byte of the host name whose suffix starts at `dot`.
fn host_start(bytes: &[u8], dot: usize) -> usize {
    let mut start = dot;
    while start > 0 {
        let b = bytes[start - 1];
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
            start -= 1;
        } else {
            break;
        }
    }
    start
}

fn hit(start: usize, end: usize, id: &'static str) -> Hit {
    Hit {
        start,
        end,
        label: Label::Builtin(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut hits = Vec::new();
        find_ips(text, &mut hits);
        find_hosts(&OutputPolicy::default(), text, &mut hits);
        hits.iter().map(|h| &text[h.start..h.end]).collect()
    }

    #[test]
    fn private_addresses_are_found_public_ones_kept() {
        let text = "http://10.9.8.7/x db 10.1.2.3, cache 192.168.0.7:6379 gw 172.16.0.1 dns 8.8.8.8 lo 127.0.0.1 \
                    cg 100.64.1.1 v1.10.0.0.1 ula fd12:3456::1 ll fe80::1%eth0 pub 2001:db8::1";
        assert_eq!(
            found(text),
            vec![
                "10.9.8.7",
                "10.1.2.3",
                "192.168.0.7",
                "172.16.0.1",
                "127.0.0.1",
                "100.64.1.1",
                "fd12:3456::1",
                "fe80::1%eth0"
            ]
        );
    }

    #[test]
    fn internal_host_names_are_found_whole() {
        let text = "GET http://billing-db.prod.internal:5432/ and metadata.google.internal. \
                    not a.internal.example.com or threading.local";
        assert_eq!(
            found(text),
            vec!["billing-db.prod.internal", "metadata.google.internal"]
        );
    }
}
