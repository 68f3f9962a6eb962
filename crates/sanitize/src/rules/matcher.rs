//! Where a rule's regex runs: over the whole text, or (`scope = "line"`) only on
//! the lines that contain one of the rule's keywords. Line scope keeps rules that
//! cannot be prefiltered by a literal (`^name:x:0:0:` line shapes) from costing a
//! full regex pass on every output.

use memchr::memmem;
use regex::{Captures, Regex};
use serde::Deserialize;

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
    pub regex: Regex,
    scope: Scope,
    /// Lowercased keywords, for line scope.
    finders: Vec<memmem::Finder<'static>>,
}

impl Matcher {
    /// A matcher; `keywords` are only used by line scope.
    pub fn new(regex: Regex, scope: Scope, keywords: &[String]) -> Self {
        let finders = match scope {
            Scope::Text => Vec::new(),
            Scope::Line => keywords
                .iter()
                .map(|k| memmem::Finder::new(k.to_ascii_lowercase().as_bytes()).into_owned())
                .collect(),
        };
        Self {
            regex,
            scope,
            finders,
        }
    }

    /// Calls `f(offset, captures)` for every match in `text` (`lower` is its ASCII
    /// lowercase copy); capture positions are relative to `offset`.
    pub fn for_each(&self, text: &str, lower: &str, mut f: impl FnMut(usize, Captures<'_>)) {
        match self.scope {
            Scope::Text => self.regex.captures_iter(text).for_each(|c| f(0, c)),
            Scope::Line => {
                for (start, end) in self.lines(text.as_bytes(), lower.as_bytes()) {
                    self.regex
                        .captures_iter(&text[start..end])
                        .for_each(|c| f(start, c));
                }
            }
        }
    }

    /// The distinct lines (without their newline) that contain a keyword, in order.
    fn lines(&self, text: &[u8], lower: &[u8]) -> Vec<(usize, usize)> {
        let mut lines: Vec<(usize, usize)> = Vec::new();
        for finder in &self.finders {
            let mut from = 0;
            while let Some(found) = finder.find(&lower[from..]) {
                let at = from + found;
                let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |i| i + 1);
                let end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i);
                lines.push((start, end));
                from = end;
            }
        }
        lines.sort_unstable();
        lines.dedup();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(scope: Scope, text: &str) -> Vec<String> {
        let m = Matcher::new(
            Regex::new(r"(?m)^\w+:x:\d+$").unwrap(),
            scope,
            &[":X:".into(), "zz".into()],
        );
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
        );
        let mut n = 0;
        m.for_each("plain\nkw", "plain\nkw", |_, _| n += 1);
        assert_eq!(n, 1);
    }
}
