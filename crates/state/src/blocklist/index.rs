//! The lookup index behind `BlockStore::check`: one hash probe for exact
//! values, and one probe per CIDR prefix length in use, so a lookup costs
//! a few dozen nanoseconds per prefix length whatever the number of entries.

use super::{BlockQuery, Target};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

/// Candidate decision ids for a value (usually one).
type Ids = Vec<u64>;
type IntMap<K> = HashMap<K, Ids, BuildHasherDefault<IntHasher>>;

/// Decision ids by what they match.
#[derive(Debug, Default)]
pub(super) struct Index {
    exact: IntMap<IpAddr>,
    /// IPv4 ranges by prefix length, longest prefix first.
    v4: Vec<(u8, IntMap<u32>)>,
    /// IPv6 ranges by prefix length, longest prefix first.
    v6: Vec<(u8, IntMap<u128>)>,
    clients: HashMap<String, Ids>,
    countries: HashMap<String, Ids>,
    asns: IntMap<u32>,
}

impl Index {
    /// Indexes decision `id` under `target`.
    pub(super) fn insert(&mut self, target: &Target, id: u64) {
        match target {
            Target::Ip(ip) => self.exact.entry(*ip).or_default().push(id),
            Target::Range(ipnet::IpNet::V4(net)) => {
                let bits = u32::from(net.network());
                level(&mut self.v4, net.prefix_len())
                    .entry(bits)
                    .or_default()
                    .push(id);
            }
            Target::Range(ipnet::IpNet::V6(net)) => {
                let bits = u128::from(net.network());
                level(&mut self.v6, net.prefix_len())
                    .entry(bits)
                    .or_default()
                    .push(id);
            }
            Target::Client(key) => self.clients.entry(key.clone()).or_default().push(id),
            Target::Country(code) => self.countries.entry(code.clone()).or_default().push(id),
            Target::Asn(n) => self.asns.entry(*n).or_default().push(id),
        }
    }

    /// Removes decision `id` from under `target`.
    pub(super) fn remove(&mut self, target: &Target, id: u64) {
        match target {
            Target::Ip(ip) => drop_id(&mut self.exact, ip, id),
            Target::Range(ipnet::IpNet::V4(net)) => {
                let bits = u32::from(net.network());
                drop_level(&mut self.v4, net.prefix_len(), &bits, id);
            }
            Target::Range(ipnet::IpNet::V6(net)) => {
                let bits = u128::from(net.network());
                drop_level(&mut self.v6, net.prefix_len(), &bits, id);
            }
            Target::Client(key) => drop_id(&mut self.clients, key, id),
            Target::Country(code) => drop_id(&mut self.countries, code, id),
            Target::Asn(n) => drop_id(&mut self.asns, n, id),
        }
    }

    /// The ids indexed under exactly `target` (not under wider ranges).
    pub(super) fn ids(&self, target: &Target) -> &[u64] {
        let ids = match target {
            Target::Ip(ip) => self.exact.get(ip),
            Target::Range(ipnet::IpNet::V4(net)) => find_level(&self.v4, net.prefix_len())
                .and_then(|m| m.get(&u32::from(net.network()))),
            Target::Range(ipnet::IpNet::V6(net)) => find_level(&self.v6, net.prefix_len())
                .and_then(|m| m.get(&u128::from(net.network()))),
            Target::Client(key) => self.clients.get(key),
            Target::Country(code) => self.countries.get(code),
            Target::Asn(n) => self.asns.get(n),
        };
        ids.map_or(&[], Vec::as_slice)
    }

    /// Calls `found` with each candidate id for `q`, most specific first, until it returns true.
    pub(super) fn find(&self, q: &BlockQuery, mut found: impl FnMut(u64) -> bool) -> bool {
        let ip = q.ip.to_canonical();
        let mut any = |ids: Option<&Ids>| ids.is_some_and(|ids| ids.iter().any(|&id| found(id)));
        if any(self.exact.get(&ip)) {
            return true;
        }
        let in_range = match ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                self.v4
                    .iter()
                    .any(|(len, map)| any(map.get(&(bits & mask32(*len)))))
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                self.v6
                    .iter()
                    .any(|(len, map)| any(map.get(&(bits & mask128(*len)))))
            }
        };
        in_range
            || any(self.clients.get(q.client.as_str()))
            || q.country
                .is_some_and(|c| any(self.countries.get(c.to_ascii_uppercase().as_str())))
            || q.asn.is_some_and(|n| any(self.asns.get(&n)))
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// The map for prefix length `len`, created in order (longest first) when missing.
fn level<K>(levels: &mut Vec<(u8, IntMap<K>)>, len: u8) -> &mut IntMap<K> {
    let at = match levels.binary_search_by(|(l, _)| len.cmp(l)) {
        Ok(at) => at,
        Err(at) => {
            levels.insert(at, (len, IntMap::default()));
            at
        }
    };
    &mut levels[at].1
}

/// The map for prefix length `len`, if any.
fn find_level<K>(levels: &[(u8, IntMap<K>)], len: u8) -> Option<&IntMap<K>> {
    let at = levels.binary_search_by(|(l, _)| len.cmp(l)).ok()?;
    Some(&levels[at].1)
}

fn drop_level<K: std::hash::Hash + Eq>(
    levels: &mut Vec<(u8, IntMap<K>)>,
    len: u8,
    key: &K,
    id: u64,
) {
    if let Ok(at) = levels.binary_search_by(|(l, _)| len.cmp(l)) {
        drop_id(&mut levels[at].1, key, id);
        if levels[at].1.is_empty() {
            levels.remove(at);
        }
    }
}

fn drop_id<K, Q, S>(map: &mut HashMap<K, Ids, S>, key: &Q, id: u64)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
    S: std::hash::BuildHasher,
{
    if let Some(ids) = map.get_mut(key) {
        ids.retain(|&x| x != id);
        if ids.is_empty() {
            map.remove(key);
        }
    }
}

/// A fast hasher for integer and address keys (FxHash's mixing step, murmur3's finalizer).
///
/// Keys are chosen by operators and the anomaly engine, not by requests, so
/// hash flooding is not a concern here; SipHash would cost more than the probe.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IntHasher(u64);

impl IntHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        // The multiply leaves low bits depending on low input bits only, and
        // masked networks have all-zero low bits: fold the high bits down
        // (murmur3's finalizer) so the table's bucket index sees them.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_u128(&mut self, n: u128) {
        self.mix(n as u64);
        self.mix((n >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use execgate_core::ClientKey;

    fn hits(index: &Index, ip: &str) -> Vec<u64> {
        let client = ClientKey::from_client_id("nobody");
        let q = BlockQuery {
            ip: ip.parse().unwrap(),
            client: &client,
            country: None,
            asn: None,
        };
        let mut out = Vec::new();
        index.find(&q, |id| {
            out.push(id);
            false
        });
        out
    }

    #[test]
    fn ranges_match_most_specific_first_and_removal_cleans_up() {
        let mut index = Index::default();
        let wide: Target = "10.0.0.0/8".parse().unwrap();
        let narrow: Target = "10.1.0.0/16".parse().unwrap();
        let v6: Target = "2001:db8::/32".parse().unwrap();
        index.insert(&wide, 1);
        index.insert(&narrow, 2);
        index.insert(&v6, 3);
        assert_eq!(hits(&index, "10.1.2.3"), vec![2, 1]);
        assert_eq!(hits(&index, "10.2.0.1"), vec![1]);
        assert_eq!(hits(&index, "11.0.0.1"), Vec::<u64>::new());
        assert_eq!(hits(&index, "2001:db8:ffff::1"), vec![3]);
        assert_eq!(hits(&index, "::ffff:10.1.0.1"), vec![2, 1]);
        assert_eq!(index.ids(&narrow), &[2]);
        assert_eq!(index.ids(&"10.1.0.0/17".parse().unwrap()), &[] as &[u64]);
        index.remove(&narrow, 2);
        assert_eq!(hits(&index, "10.1.2.3"), vec![1]);
        assert_eq!(index.v4.len(), 1, "empty prefix level dropped");
    }
}
