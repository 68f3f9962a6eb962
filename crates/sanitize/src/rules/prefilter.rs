//! The keyword prefilter: which rules can match a text at all. Keywords are
//! matched case-insensitively on a lowercased copy of the text, with SIMD
//! (Teddy) searchers over groups of at most 16 keywords where the CPU has them,
//! and one Aho-Corasick automaton elsewhere. A rule runs only when one of its
//! keywords appears, so clean output costs a few vectorized passes.

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Teddy searchers take small groups of literals.
const GROUP_SIZE: usize = 16;

/// What searches the keywords.
#[derive(Debug, Clone)]
enum Engine {
    /// Teddy searchers, each with the global ids of its patterns.
    Packed(Vec<(packed::Searcher, Vec<usize>)>),
    /// One automaton over every pattern.
    Automaton(AhoCorasick),
}

/// Keyword search with, per keyword, the owners (`T`) it activates.
#[derive(Debug, Clone)]
pub(crate) struct Prefilter<T> {
    engine: Engine,
    patterns: Vec<String>,
    owners: Vec<Vec<T>>,
    /// Per pattern, the `(offset, pattern)` pairs that can start inside it and
    /// end after it: a non-overlapping search would step over them.
    overlaps: Vec<Vec<(usize, usize)>>,
}

impl<T: Copy> Prefilter<T> {
    /// Builds the prefilter over `(keyword, owner)` pairs; keywords compare ASCII
    /// case-insensitively. `simd` false forces the automaton (used in tests).
    pub fn new(keywords: &[(String, T)], simd: bool) -> Result<Self, String> {
        let mut patterns: Vec<String> = keywords
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        patterns.dedup();
        // A pattern stands for every keyword inside it: at one position the search
        // reports the longest keyword only.
        let owners = patterns
            .iter()
            .map(|p| {
                keywords
                    .iter()
                    .filter(|(k, _)| p.contains(k.to_ascii_lowercase().as_str()))
                    .map(|&(_, owner)| owner)
                    .collect()
            })
            .collect();
        let packed = simd.then(|| Self::packed(&patterns)).flatten();
        let engine = match packed {
            Some(groups) => Engine::Packed(groups),
            None => Engine::Automaton(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .map_err(|e| format!("keywords: cannot build the prefilter: {e}"))?,
            ),
        };
        let overlaps = patterns.iter().map(|p| overlaps(p, &patterns)).collect();
        Ok(Self {
            engine,
            patterns,
            owners,
            overlaps,
        })
    }

    fn packed(patterns: &[String]) -> Option<Vec<(packed::Searcher, Vec<usize>)>> {
        let ids: Vec<usize> = (0..patterns.len()).collect();
        ids.chunks(GROUP_SIZE)
            .map(|group| {
                let searcher = packed::Config::new()
                    .match_kind(packed::MatchKind::LeftmostFirst)
                    .builder()
                    .extend(group.iter().map(|&i| &patterns[i]))
                    .build()?;
                Some((searcher, group.to_vec()))
            })
            .collect()
    }

    /// Calls `found` with the owners of every keyword occurrence in `lower` (a text
    /// already ASCII-lowercased), until it returns `false`. One non-overlapping pass
    /// per searcher; keywords that start inside a match and end after it are
    /// checked in place from the overlap table.
    pub fn scan(&self, lower: &str, mut found: impl FnMut(&[T]) -> bool) {
        // A keyword's owners are reported once; later occurrences only matter for
        // the overlapping keywords not seen yet.
        let mut seen = vec![false; self.patterns.len()];
        let mut report = |pattern: usize, at: usize| {
            if !std::mem::replace(&mut seen[pattern], true) && !found(&self.owners[pattern]) {
                return false;
            }
            for &(offset, other) in &self.overlaps[pattern] {
                if seen[other] {
                    continue;
                }
                let rest = &lower.as_bytes()[at + offset..];
                if rest.starts_with(self.patterns[other].as_bytes()) {
                    seen[other] = true;
                    if !found(&self.owners[other]) {
                        return false;
                    }
                }
            }
            true
        };
        match &self.engine {
            Engine::Packed(groups) => {
                for (searcher, ids) in groups {
                    for m in searcher.find_iter(lower) {
                        if !report(ids[m.pattern().as_usize()], m.start()) {
                            return;
                        }
                    }
                }
            }
            Engine::Automaton(ac) => {
                for m in ac.find_iter(lower) {
                    if !report(m.pattern().as_usize(), m.start()) {
                        return;
                    }
                }
            }
        }
    }
}

/// The patterns that can start at an offset inside `p` and end after it.
fn overlaps(p: &str, patterns: &[String]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for offset in 1..p.len() {
        let tail = &p.as_bytes()[offset..];
        for (i, q) in patterns.iter().enumerate() {
            if q.len() > tail.len() && q.as_bytes().starts_with(tail) {
                found.push((offset, i));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(keywords: &[(&str, u8)], text: &str, simd: bool) -> Vec<u8> {
        let keywords: Vec<(String, u8)> =
            keywords.iter().map(|&(k, o)| (k.to_string(), o)).collect();
        let prefilter = Prefilter::new(&keywords, simd).unwrap();
        let mut owners = Vec::new();
        prefilter.scan(&text.to_ascii_lowercase(), |o| {
            owners.extend_from_slice(o);
            true
        });
        owners.sort_unstable();
        owners.dedup();
        owners
    }

    #[test]
    fn both_engines_see_overlapping_contained_and_any_case_keywords() {
        let keywords = [
            ("ab", 1),
            ("bcd", 2),
            ("access", 3),
            ("AccessKeyId", 4),
            ("zz", 5),
        ];
        for simd in [true, false] {
            assert_eq!(seen(&keywords, "xABCDx", simd), vec![1, 2], "simd {simd}");
            assert_eq!(
                seen(&keywords, "\"accessKEYid\"", simd),
                vec![3, 4],
                "simd {simd}"
            );
            assert!(seen(&keywords, "nothing here", simd).is_empty());
        }
    }

    #[test]
    fn a_keyword_hidden_by_an_earlier_overlapping_match_is_found() {
        // "xyz" starts inside "wxy": a non-overlapping pass reports only "wxy".
        let keywords = [("wxy", 1), ("xyz", 2), ("é", 3)];
        for simd in [true, false] {
            assert_eq!(seen(&keywords, "-wxyz-", simd), vec![1, 2], "simd {simd}");
            assert_eq!(seen(&keywords, "-wxy-", simd), vec![1], "simd {simd}");
        }
    }

    #[test]
    fn many_keywords_span_several_groups() {
        let keywords: Vec<(String, u8)> = (0..40u8).map(|i| (format!("kw{i:02}x"), i)).collect();
        let borrowed: Vec<(&str, u8)> = keywords.iter().map(|(k, o)| (k.as_str(), *o)).collect();
        for simd in [true, false] {
            assert_eq!(seen(&borrowed, "a KW07X b kw39x", simd), vec![7, 39]);
        }
    }
}
