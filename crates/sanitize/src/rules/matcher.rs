//! Where a rule's regex runs: over the whole text, or (`scope = "line"`) only on
//! the lines that contain one of the rule's keywords. Line scope keeps rules that
//! cannot be prefiltered by a literal (`^name:x:0:0:` line shapes) from costing a
//! full regex pass on every output.

use aho_corasick::{AhoCorasick, Input, MatchKind, Span, packed};
use regex::{Captures, Match, Regex};
use regex_syntax::hir::Look;
use serde::Deserialize;
use std::ops::ControlFlow;

/// Where a rule's regex is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Over the whole text.
    #[default]
    Text,
    /// Only on lines that contain one of the rule's keywords (needs keywords).
    Line,
}

/// A compiled regex with its scope.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    /// The rule's regex; in line scope, anchored at the line's start when every
    /// match of the rule's regex starts a line.
    regex: Regex,
    /// For line scope: a searcher over the lowercased keywords.
    lines: Option<Keywords>,
}

/// A line-scoped rule's keyword search: Teddy (SIMD) where the CPU has it, which
/// is several times faster on dense text, else an Aho-Corasick automaton.
#[derive(Debug, Clone)]
enum Keywords {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Keywords {
    fn new(keywords: &[String]) -> Result<Self, String> {
        let lower: Vec<String> = keywords.iter().map(|k| k.to_ascii_lowercase()).collect();
        let packed = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&lower)
            .build();
        if let Some(searcher) = packed {
            return Ok(Self::Packed(searcher));
        }
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&lower)
            .map(Self::Automaton)
            .map_err(|e| format!("keywords: cannot build the line searcher: {e}"))
    }

    /// Where the first keyword at or after `from` starts in `lower`.
    fn find(&self, lower: &str, from: usize) -> Option<usize> {
        let m = match self {
            Self::Packed(s) => s.find_in(lower, Span::from(from..lower.len())),
            Self::Automaton(ac) => ac.find(Input::new(lower).span(from..lower.len())),
        };
        m.map(|m| m.start())
    }
}

impl Matcher {
    /// A matcher; `keywords` are only used by line scope. Fails only if the keyword
    /// searcher cannot be built.
    pub fn new(regex: Regex, scope: Scope, keywords: &[String]) -> Result<Self, String> {
        let lines = match scope {
            Scope::Text => return Ok(Self { regex, lines: None }),
            Scope::Line => Keywords::new(keywords)?,
        };
        Ok(Self {
            regex: anchor_at_line_start(regex),
            lines: Some(lines),
        })
    }

    /// Calls `f(offset, captures)` for every match in `text` (`lower` is its ASCII
    /// lowercase copy); capture positions are relative to `offset`.
    pub fn for_each(&self, text: &str, lower: &str, mut f: impl FnMut(usize, Captures<'_>)) {
        self.windows(text, lower, |offset, window| {
            self.regex.captures_iter(window).for_each(|c| f(offset, c));
            ControlFlow::Continue(())
        });
    }

    /// Like `for_each` with the whole match only (no capture groups to resolve,
    /// which is most of a match's cost); stops when `f` breaks.
    pub fn for_each_match(
        &self,
        text: &str,
        lower: &str,
        mut f: impl FnMut(usize, Match<'_>) -> ControlFlow<()>,
    ) {
        self.windows(text, lower, |offset, window| {
            for m in self.regex.find_iter(window) {
                f(offset, m)?;
            }
            ControlFlow::Continue(())
        });
    }

    /// Calls `f(offset, window)` with the whole text, or in line scope with each
    /// distinct line (without its newline) that contains a keyword, in order.
    fn windows<'t>(
        &self,
        text: &'t str,
        lower: &str,
        mut f: impl FnMut(usize, &'t str) -> ControlFlow<()>,
    ) {
        let Some(keywords) = &self.lines else {
            let _ = f(0, text);
            return;
        };
        let bytes = text.as_bytes();
        let mut from = 0;
        let mut last = None;
        while let Some(at) = keywords.find(lower, from) {
            let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
            // The rest of the line is skipped: it is run once, whatever it holds.
            from = end.max(at + 1);
            if last != Some(start) {
                last = Some(start);
                if f(start, &text[start..end]).is_break() {
                    return;
                }
            }
            if from >= lower.len() {
                return;
            }
        }
    }
}

/// A line-scoped regex whose every match starts a line (`(?m)^…`) can only match
/// at the start of a one-line window: searching it anchored there (`\A(?:…)`)
/// gives the same matches and rejects a line in a few bytes instead of a whole
/// scan of it. Other regexes are returned as they are.
fn anchor_at_line_start(regex: Regex) -> Regex {
    let starts_line = regex_syntax::parse(regex.as_str()).is_ok_and(|hir| {
        let prefix = hir.properties().look_set_prefix();
        prefix.contains(Look::Start) || prefix.contains(Look::StartLF)
    });
    if !starts_line {
        return regex;
    }
    Regex::new(&format!(r"\A(?:{})", regex.as_str())).unwrap_or(regex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(scope: Scope, text: &str) -> Vec<String> {
        let m = Matcher::new(
            Regex::new(r"(?m)^\w+:x:\d+$").unwrap(),
            scope,
            &[":X:".into(), "zz".into()],
        )
        .unwrap();
        let mut found = Vec::new();
        m.for_each(text, &text.to_ascii_lowercase(), |offset, c| {
            let whole = c.get(0).unwrap();
            found.push(text[offset + whole.start()..offset + whole.end()].to_string());
        });
        found
    }

    #[test]
    fn line_scope_finds_what_text_scope_finds_on_keyword_lines() {
        let text = "a:x:1\nnoise\nb:x:2 zz\nc:x:3";
        assert_eq!(matches(Scope::Text, text), vec!["a:x:1", "c:x:3"]);
        assert_eq!(matches(Scope::Line, text), vec!["a:x:1", "c:x:3"]);
    }

    #[test]
    fn line_scope_skips_lines_without_keywords() {
        // The regex would match `d:y:4`-like lines only via keywords; here the
        // matching line has no keyword, so line scope does not look at it.
        let m = Matcher::new(
            Regex::new(r"(?m)^\w+$").unwrap(),
            Scope::Line,
            &["kw".into()],
        )
        .unwrap();
        let mut n = 0;
        m.for_each("plain\nkw", "plain\nkw", |_, _| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn only_regexes_whose_every_match_starts_a_line_are_anchored() {
        let anchored = |p: &str| anchor_at_line_start(Regex::new(p).unwrap()).as_str() != p;
        assert!(anchored(r"(?m)^\w+:x:"));
        assert!(anchored(r"^root"));
        assert!(!anchored(r"(?m)^a|b"), "a match of `b` can start anywhere");
        assert!(!anchored(r"\w+:x:"));
    }
}
