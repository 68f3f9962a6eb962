//! What sanitizing found and did, in the shapes the gateway logs, counts and audits.

use execgate_core::Severity;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many times one redaction rule replaced something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redaction {
    /// The rule id (`aws-access-key`, `host-path`, …), as in the marker.
    pub rule: String,
    /// Replacements made.
    pub count: u32,
}

/// One outbound leak rule that matched in one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakFinding {
    /// The leak rule id.
    pub rule: String,
    /// Its severity; worth `severity.default_points()`.
    pub severity: Severity,
    /// The concrete JSON pointer of the field (`/run/stdout`); empty for plain text.
    pub field: String,
    /// The rule's message.
    pub message: String,
}

/// Counts redactions by rule while a body is processed.
#[derive(Debug, Default)]
pub(crate) struct Tally(BTreeMap<String, u32>);

impl Tally {
    /// Counts one replacement by `rule`.
    pub fn add(&mut self, rule: &str) {
        match self.0.get_mut(rule) {
            Some(count) => *count = count.saturating_add(1),
            None => {
                self.0.insert(rule.to_string(), 1);
            }
        }
    }

    /// The counts, sorted by rule id.
    pub fn into_redactions(self) -> Vec<Redaction> {
        self.0
            .into_iter()
            .map(|(rule, count)| Redaction { rule, count })
            .collect()
    }
}

/// The leak score of a set of findings: each rule's points count once per response.
pub(crate) fn leak_score(findings: &[LeakFinding]) -> u32 {
    let mut seen: Vec<&str> = Vec::new();
    let mut score = 0u32;
    for f in findings {
        if !seen.contains(&f.rule.as_str()) {
            seen.push(&f.rule);
            score = score.saturating_add(f.severity.default_points());
        }
    }
    score
}

/// The text that replaces every output field of a withheld response.
pub(crate) fn withheld_explanation(findings: &[LeakFinding], score: u32, threshold: u32) -> String {
    let mut rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    format!(
        "[execgate: output withheld: it matched outbound leak rules ({}), score {score} >= threshold {threshold}]",
        rules.join(", ")
    )
}
