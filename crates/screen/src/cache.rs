//! Verdicts remembered per rule set. Playgrounds and judges receive the same
//! programs many times (tutorial examples, a submission retried); the same
//! code under the same rules and policy gets the same verdict, so it is
//! screened once. Each `RuleSet` owns its cache: a reload builds a new rule
//! set with an empty cache, which is how a reload invalidates it.
//!
//! The key is a SHA-256 digest of the language, the policy and the code with
//! its line ends normalised as screening reads them (`\r\n` and `\r` are
//! `\n`). A cryptographic digest, because a collision would hand one
//! program another's verdict.

use crate::language::Language;
use crate::verdict::{ScreenPolicy, Verdict};
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most verdicts kept per rule set.
const MAX_ENTRIES: usize = 4096;
/// Most bytes (estimated) those verdicts may hold.
const MAX_BYTES: usize = 16 << 20;

type Key = [u8; 32];

/// Whether a verdict came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheUse {
    /// Screened without consulting the cache ([`crate::screen`]).
    #[default]
    Bypassed,
    /// Found in the cache: not screened again.
    Hit,
    /// Screened now (and kept, unless its analysis ran out of time).
    Miss,
}

/// Hits and misses so far, and what the cache holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that screened.
    pub misses: u64,
    /// Verdicts held.
    pub entries: usize,
}

/// A bounded least-recently-used map from code to verdict.
pub(crate) struct VerdictCache {
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

struct Inner {
    lru: LruCache<Key, (Verdict, usize)>,
    bytes: usize,
}

impl std::fmt::Debug for VerdictCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for VerdictCache {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                lru: LruCache::new(NonZeroUsize::new(MAX_ENTRIES).unwrap_or(NonZeroUsize::MIN)),
                bytes: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

impl VerdictCache {
    /// The cached verdict for this code, or the one `screen` gives (then kept).
    pub fn get_or_screen(
        &self,
        language: Option<Language>,
        code: &[u8],
        policy: &ScreenPolicy,
        screen: impl FnOnce() -> Verdict,
    ) -> Verdict {
        let started = std::time::Instant::now();
        let key = key(language, code, policy);
        let found = self.lock().lru.get(&key).map(|(v, _)| v.clone());
        if let Some(mut verdict) = found {
            self.hits.fetch_add(1, Ordering::Relaxed);
            verdict.elapsed = started.elapsed();
            verdict.cache = CacheUse::Hit;
            return verdict;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut verdict = screen();
        verdict.cache = CacheUse::Miss;
        // An analysis cut short by the clock depends on the machine's load, not the code.
        if verdict.elapsed < policy.analysis_timeout.get() {
            self.insert(key, verdict.clone());
        }
        verdict
    }

    fn insert(&self, key: Key, verdict: Verdict) {
        let size = approximate_size(&verdict);
        if size > MAX_BYTES {
            return;
        }
        let mut inner = self.lock();
        if let Some((_, (_, old))) = inner.lru.push(key, (verdict, size)) {
            inner.bytes -= old;
        }
        inner.bytes += size;
        while inner.bytes > MAX_BYTES {
            match inner.lru.pop_lru() {
                Some((_, (_, freed))) => inner.bytes -= freed,
                None => break,
            }
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.lock().lru.len(),
        }
    }

    /// The map, even if a thread panicked while holding it (it is only a cache).
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn key(language: Option<Language>, code: &[u8], policy: &ScreenPolicy) -> Key {
    let mut h = Sha256::new();
    h.update(language.map_or("", |l| l.as_str()).as_bytes());
    h.update([0]);
    let p = &policy.points;
    for n in [p.critical, p.error, p.warning, p.notice, policy.threshold] {
        h.update(n.to_le_bytes());
    }
    h.update([
        u8::from(policy.detection_only),
        u8::from(policy.refuse_unparsable),
        u8::from(policy.refuse_unknown_language),
    ]);
    h.update(policy.max_ast_size.bytes().to_le_bytes());
    h.update(policy.analysis_timeout.get().as_nanos().to_le_bytes());
    // Line ends as screening reads them: `\r\n` and a lone `\r` are `\n`.
    let mut rest = code;
    while let Some(at) = rest.iter().position(|&b| b == b'\r') {
        h.update(&rest[..at]);
        h.update(b"\n");
        rest = &rest[at + 1..];
        if rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
    }
    h.update(rest);
    h.finalize().into()
}

/// Bytes a kept verdict holds, roughly: the struct, its findings and their text.
fn approximate_size(v: &Verdict) -> usize {
    let findings: usize = v
        .findings
        .iter()
        .map(|f| std::mem::size_of_val(f) + f.rule.len() + f.message.len())
        .sum();
    std::mem::size_of::<Verdict>() + findings + v.parse_error.as_ref().map_or(0, String::len) + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_one_key_but_other_bytes_are_not() {
        let p = ScreenPolicy::default();
        let py = Some(Language::Python);
        let lf = key(py, b"a = 1\nb = 2\n", &p);
        assert_eq!(lf, key(py, b"a = 1\r\nb = 2\r\n", &p));
        assert_eq!(lf, key(py, b"a = 1\rb = 2\r", &p));
        assert_ne!(lf, key(py, b"a = 1\n\nb = 2\n", &p));
        assert_ne!(lf, key(py, b"a = 1\nb = 2 \n", &p));
        assert_ne!(lf, key(Some(Language::Javascript), b"a = 1\nb = 2\n", &p));
        assert_ne!(lf, key(None, b"a = 1\nb = 2\n", &p));
        let strict = ScreenPolicy {
            threshold: 3,
            ..ScreenPolicy::default()
        };
        assert_ne!(lf, key(py, b"a = 1\nb = 2\n", &strict));
    }

    #[test]
    fn the_cache_stays_within_its_entry_bound() {
        let cache = VerdictCache::default();
        let p = ScreenPolicy::default();
        for i in 0..MAX_ENTRIES + 10 {
            let code = format!("x = {i}");
            cache.get_or_screen(None, code.as_bytes(), &p, Verdict::default);
        }
        let stats = cache.stats();
        assert_eq!(stats.entries, MAX_ENTRIES);
        assert_eq!(stats.misses, (MAX_ENTRIES + 10) as u64);
        // The oldest were evicted, the newest answer from the cache.
        cache.get_or_screen(None, b"x = 0", &p, Verdict::default);
        let last = format!("x = {}", MAX_ENTRIES + 9);
        let hit = cache.get_or_screen(None, last.as_bytes(), &p, || unreachable!());
        assert_eq!(hit.cache, CacheUse::Hit);
        assert_eq!(cache.stats().hits, 1);
    }
}
