//! The keyword prefilter: which rules can match a text at all. Keywords are
//! matched case-insensitively on a lowercased copy of the text, with SIMD
//! (Teddy) searchers over groups of at most 16 keywords where the CPU has them,
//! and one Aho-Corasick automaton elsewhere. A rule runs only when one of its
//! keywords appears, so clean output costs a few vectorized passes.

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};

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
    owners: Vec<Vec<T>>,
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
        Ok(Self { engine, owners })
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
    /// already ASCII-lowercased), until it returns `false`. Overlapping occurrences
    /// are all seen (the search restarts one byte after each match).
    pub fn scan(&self, lower: &str, mut found: impl FnMut(&[T]) -> bool) {
        match &self.engine {
            Engine::Packed(groups) => {
                for (searcher, ids) in groups {
                    let mut from = 0;
                    while let Some(m) = lower.get(from..).and_then(|rest| searcher.find(rest)) {
                        if !found(&self.owners[ids[m.pattern().as_usize()]]) {
                            return;
                        }
                        from += m.start() + 1;
                    }
                }
            }
            Engine::Automaton(ac) => {
                let mut from = 0;
                while from < lower.len() {
                    let Some(m) = ac.find(Input::new(&lower).span(from..lower.len())) else {
                        break;
                    };
                    if !found(&self.owners[m.pattern().as_usize()]) {
                        return;
                    }
                    from = m.start() + 1;
                }
            }
        }
    }
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
    fn many_keywords_span_several_groups() {
        let keywords: Vec<(String, u8)> = (0..40u8).map(|i| (format!("kw{i:02}x"), i)).collect();
        let borrowed: Vec<(&str, u8)> = keywords.iter().map(|(k, o)| (k.as_str(), *o)).collect();
        for simd in [true, false] {
            assert_eq!(seen(&borrowed, "a KW07X b kw39x", simd), vec![7, 39]);
        }
    }
}
