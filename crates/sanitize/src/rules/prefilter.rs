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
    Packed(Vec<Group>),
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

    fn packed(patterns: &[String]) -> Option<Vec<Group>> {
        let ids: Vec<usize> = (0..patterns.len()).collect();
        ids.chunks(GROUP_SIZE)
            .map(|group| build_group(patterns, group.to_vec()))
            .collect()
    }

    /// Calls `found` with the owners of every keyword occurrence in `lower` (a text
    /// already ASCII-lowercased), until it returns `false`. One non-overlapping pass
    /// per searcher; keywords that start inside a match and end after it are
    /// checked in place from the overlap table.
    pub fn scan(&self, lower: &str, found: impl FnMut(&[T]) -> bool) {
        let mut scan = Scan {
            prefilter: self,
            lower: lower.as_bytes(),
            seen: vec![false; self.patterns.len()],
            found,
        };
        match &self.engine {
            Engine::Packed(groups) => {
                for group in groups {
                    if !scan.group(group) {
                        return;
                    }
                }
            }
            Engine::Automaton(ac) => {
                for m in ac.find_iter(lower) {
                    if !scan.report(m.pattern().as_usize(), m.start()) {
                        return;
                    }
                }
            }
        }
    }
}

/// A Teddy searcher over a few patterns, with their global ids.
type Group = (packed::Searcher, Vec<usize>);

/// A searcher over the patterns `ids`; `None` where the CPU has no Teddy.
fn build_group(patterns: &[String], ids: Vec<usize>) -> Option<Group> {
    let searcher = packed::Config::new()
        .match_kind(packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(ids.iter().map(|&i| &patterns[i]))
        .build()?;
    Some((searcher, ids))
}

/// Matches of keywords already reported that a group's search may return before
/// the group is rebuilt without them: in dense output every near-miss token is a
/// match, and each would otherwise cost a callback and a restart of the search.
const SPENT_BEFORE_REBUILD: usize = 16;

/// Rebuilds of one group in one scan (each costs a searcher build).
const MAX_REBUILDS: usize = 3;

/// The state of one `Prefilter::scan`.
struct Scan<'a, T, F> {
    prefilter: &'a Prefilter<T>,
    lower: &'a [u8],
    /// Per pattern: its owners were reported.
    seen: Vec<bool>,
    found: F,
}

impl<T: Copy, F: FnMut(&[T]) -> bool> Scan<'_, T, F> {
    /// Reports the keyword `pattern` found at `at`, and the keywords that start inside
    /// it and end after it; `false` when `found` asked to stop.
    fn report(&mut self, pattern: usize, at: usize) -> bool {
        let pf = self.prefilter;
        // A keyword's owners are reported once; later occurrences only matter for
        // the overlapping keywords not seen yet.
        if !std::mem::replace(&mut self.seen[pattern], true) && !(self.found)(&pf.owners[pattern]) {
            return false;
        }
        for &(offset, other) in &pf.overlaps[pattern] {
            if self.seen[other]
                || !self.lower[at + offset..].starts_with(pf.patterns[other].as_bytes())
            {
                continue;
            }
            self.seen[other] = true;
            if !(self.found)(&pf.owners[other]) {
                return false;
            }
        }
        true
    }

    /// Runs one group's searcher over the text. When its matches are mostly keywords
    /// already reported, the search goes on from there with a searcher over the
    /// group's unreported keywords only (dropping keywords can only uncover
    /// occurrences of the others, never hide them); `false` to stop the scan.
    fn group(&mut self, initial: &Group) -> bool {
        let mut rebuilt: Option<Group> = None;
        let (mut from, mut rebuilds) = (0, 0);
        loop {
            let (searcher, ids) = rebuilt.as_ref().unwrap_or(initial);
            let mut spent = 0;
            let mut restart = None;
            for m in searcher.find_iter(&self.lower[from..]) {
                let pattern = ids[m.pattern().as_usize()];
                spent += usize::from(self.seen[pattern]);
                if !self.report(pattern, from + m.start()) {
                    return false;
                }
                if spent >= SPENT_BEFORE_REBUILD && rebuilds < MAX_REBUILDS {
                    restart = Some(from + m.end());
                    break;
                }
            }
            let Some(next) = restart else {
                return true;
            };
            let unseen: Vec<usize> = ids.iter().copied().filter(|&p| !self.seen[p]).collect();
            if unseen.is_empty() {
                return true;
            }
            rebuilds += 1;
            from = next;
            match build_group(&self.prefilter.patterns, unseen) {
                Some(group) => rebuilt = Some(group),
                // Go on with the current searcher.
                None => rebuilds = MAX_REBUILDS,
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

    #[test]
    fn keywords_after_dense_repeats_are_still_found() {
        // Hundreds of matches of "ab" make the group rebuild without it; "bcx"
        // (hidden inside "abcx" by "ab") and the later "zz" must still be seen.
        let keywords = [("ab", 1), ("bcx", 2), ("zz", 3), ("never", 4)];
        let text = format!("{}abcx {} zz", "ab ".repeat(300), "ab ".repeat(300));
        for simd in [true, false] {
            assert_eq!(seen(&keywords, &text, simd), vec![1, 2, 3], "simd {simd}");
        }
    }
}
