//! Redaction: every redactor reports byte spans of what must go; overlapping spans
//! are merged (a merged span is never partly shown) and each span is replaced by a
//! stable `[REDACTED:<id>]` marker in one pass over the text.

mod env;
mod network;
mod paths;
mod secrets;

use crate::policy::OutputPolicy;
use crate::report::Tally;
use crate::rules::{Active, OutputRules};

/// Ids and markers of the redactors that are built in rather than rule-driven.
pub mod builtin {
    /// Absolute host paths, Windows paths and `file://` URLs.
    pub const HOST_PATH: &str = "host-path";
    /// Values of listed environment variables.
    pub const ENV_VALUE: &str = "env-value";
    /// Private, loopback, link-local and CGNAT addresses.
    pub const PRIVATE_IP: &str = "private-ip";
    /// Host names under a listed internal suffix.
    pub const INTERNAL_HOST: &str = "internal-host";
}

/// What a span is redacted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// A rule of the rule files, by index.
    Rule(usize),
    /// A built-in redactor, by id.
    Builtin(&'static str),
}

/// A byte span of the text to replace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub label: Label,
}

/// Redacts `text`, counting each replacement in `tally`. Returns `None` when nothing changed.
pub(crate) fn redact(
    rules: &OutputRules,
    policy: &OutputPolicy,
    active: &Active,
    text: &str,
    tally: &mut Tally,
) -> Option<String> {
    let hits = find(rules, policy, active, text);
    if hits.is_empty() {
        return None;
    }
    let merged = merge(hits);
    Some(apply(rules, text, &merged, tally))
}

/// Whether `text`, two texts joined at byte `seam`, holds something a redactor
/// replaces only because of the join: a span that reaches the seam with text of
/// its own on the right and, unless it starts at the seam (`API_KEY=` | `value`),
/// on the left. What the parts' sanitizing already replaced is not their own
/// text: a marker followed by the other part is no new secret.
pub(crate) fn spans_seam(
    rules: &OutputRules,
    policy: &OutputPolicy,
    text: &str,
    seam: usize,
) -> bool {
    let hits = find(rules, policy, &rules.active(text), text);
    merge(hits).iter().any(|hit| {
        hit.start <= seam
            && seam < hit.end
            && has_own_text(&text[seam..hit.end])
            && (hit.start == seam || has_own_text(&text[hit.start..seam]))
    })
}

/// Whether `span` holds anything but blanks and `[REDACTED:…]` markers.
fn has_own_text(span: &str) -> bool {
    let mut rest = span;
    loop {
        let (before, after) = match rest.find("[REDACTED:") {
            Some(at) => (&rest[..at], Some(&rest[at..])),
            None => (rest, None),
        };
        if before.chars().any(|c| !c.is_whitespace()) {
            return true;
        }
        match after.and_then(|m| m.find(']').map(|end| &m[end + 1..])) {
            Some(next) => rest = next,
            // An unclosed marker (cut by the window) is the marker's own text.
            None => return false,
        }
    }
}

/// Every span some redactor reports in `text`, unsorted and unmerged.
fn find(rules: &OutputRules, policy: &OutputPolicy, active: &Active, text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    secrets::find(rules, active, text, &mut hits);
    paths::find(policy, text, &mut hits);
    network::find_ips(text, &mut hits);
    network::find_hosts(policy, text, &mut hits);
    env::find(policy, text, &mut hits);
    hits
}

impl Label {
    /// Lower wins when spans overlap: rules in file order (specific before
    /// generic), then the built-in redactors.
    fn priority(self) -> usize {
        match self {
            Label::Rule(i) => i,
            Label::Builtin(_) => usize::MAX,
        }
    }
}

/// Sorts spans and merges overlapping ones; a merged span takes the label of
/// highest priority among its parts.
fn merge(mut hits: Vec<Hit>) -> Vec<Hit> {
    // Unstable is enough: spans that compare equal merge into one with the same label.
    hits.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut merged: Vec<Hit> = Vec::with_capacity(hits.len());
    for hit in hits {
        match merged.last_mut() {
            Some(last) if hit.start < last.end => {
                last.end = last.end.max(hit.end);
                if hit.label.priority() < last.label.priority() {
                    last.label = hit.label;
                }
            }
            _ => merged.push(hit),
        }
    }
    merged
}

fn apply(rules: &OutputRules, text: &str, hits: &[Hit], tally: &mut Tally) -> String {
    let id = |hit: &Hit| match hit.label {
        Label::Rule(i) => rules.redact[i].id.as_str(),
        Label::Builtin(id) => id,
    };
    // Sized exactly: a 100 KB output is not copied again as it grows.
    let len = hits.iter().fold(text.len(), |len, hit| {
        len - (hit.end - hit.start) + "[REDACTED:]".len() + id(hit).len()
    });
    let mut out = String::with_capacity(len);
    let mut at = 0;
    for hit in hits {
        out.push_str(&text[at..hit.start]);
        let id = id(hit);
        out.push_str("[REDACTED:");
        out.push_str(id);
        out.push(']');
        tally.add(id);
        at = hit.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_text_is_what_is_not_blank_or_a_marker() {
        assert!(!has_own_text(" [REDACTED:env-value]\n[REDACTED:x] "));
        assert!(!has_own_text("[REDACTED:env-va"));
        assert!(has_own_text("[REDACTED:a] b"));
        assert!(has_own_text("AKIA"));
    }

    #[test]
    fn overlapping_spans_merge_into_one() {
        let hits = vec![
            Hit {
                start: 5,
                end: 9,
                label: Label::Rule(1),
            },
            Hit {
                start: 0,
                end: 6,
                label: Label::Rule(3),
            },
            Hit {
                start: 12,
                end: 14,
                label: Label::Builtin("c"),
            },
        ];
        let merged = merge(hits);
        let spans: Vec<(usize, usize)> = merged.iter().map(|h| (h.start, h.end)).collect();
        assert_eq!(spans, vec![(0, 9), (12, 14)]);
        assert_eq!(
            merged[0].label,
            Label::Rule(1),
            "the more specific rule names the span"
        );
    }
}
