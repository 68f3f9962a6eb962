//! One output text through the pipeline: leak rules on what the program printed,
//! then redaction, then truncation to the field's cap. `sanitize_text` is the
//! plain-text entry; the JSON layer calls `process` once per field.

use crate::leak;
use crate::policy::{FieldKind, OutputPolicy};
use crate::reader::Reader;
use crate::redact;
use crate::report::{LeakFinding, Redaction, Tally, leak_score, withheld_explanation};
use crate::rules::OutputRules;
use crate::truncate::{truncate, truncate_in_place};

/// A sanitized plain text and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizedText {
    /// The text to send: redacted and truncated, or the explanation if withheld.
    pub text: String,
    /// Replacements made, by rule.
    pub redactions: Vec<Redaction>,
    /// Leak rules that matched.
    pub findings: Vec<LeakFinding>,
    /// Sum of the points of the distinct leak rules that matched.
    pub leak_score: u32,
    /// The text was replaced by an explanation because the score reached the threshold.
    pub withheld: bool,
    /// The text was cut to its cap.
    pub truncated: bool,
}

/// The result of processing one field.
#[derive(Debug)]
pub(crate) struct FieldOutcome {
    /// The new text, or `None` when the field is unchanged.
    pub text: Option<String>,
    /// Leak findings on the field.
    pub findings: Vec<LeakFinding>,
    /// The field was cut to its cap.
    pub truncated: bool,
}

/// The leak findings of a text that is only scanned, not sent as it is (the JSON
/// text of structured output); `field` names it in findings.
pub(crate) fn scan_leaks(
    rules: &OutputRules,
    reader: Reader<'_>,
    field: &str,
    text: &str,
) -> Vec<LeakFinding> {
    leak::scan(rules, &rules.active(text), reader, field, text)
}

/// Redacts `text` alone (no leak scan, no cap); `None` when nothing changed.
pub(crate) fn redact_text(
    rules: &OutputRules,
    policy: &OutputPolicy,
    text: &str,
    tally: &mut Tally,
) -> Option<String> {
    redact::redact(rules, policy, &rules.active(text), text, tally)
}

/// Scans, redacts and cuts to `cap` bytes one field's text; `field` names it in findings.
pub(crate) fn process(
    rules: &OutputRules,
    policy: &OutputPolicy,
    reader: Reader<'_>,
    cap: usize,
    field: &str,
    text: &str,
    tally: &mut Tally,
) -> FieldOutcome {
    let active = rules.active(text);
    let findings = leak::scan(rules, &active, reader, field, text);
    let (text, truncated) = match redact::redact(rules, policy, &active, text, tally) {
        Some(mut redacted) => {
            let truncated = truncate_in_place(&mut redacted, cap);
            (Some(redacted), truncated)
        }
        None => {
            let cut = truncate(text, cap);
            let truncated = cut.is_some();
            (cut, truncated)
        }
    };
    FieldOutcome {
        text,
        findings,
        truncated,
    }
}

/// Sanitizes one plain output text of the given kind, returned to `reader`.
pub fn sanitize_text(
    rules: &OutputRules,
    policy: &OutputPolicy,
    reader: Reader<'_>,
    kind: FieldKind,
    text: &str,
) -> SanitizedText {
    let mut tally = Tally::default();
    let cap = policy.cap_for(kind);
    let outcome = process(rules, policy, reader, cap, "", text, &mut tally);
    let score = leak_score(&outcome.findings);
    let withheld = policy.withholds(score);
    let text = if withheld {
        withheld_explanation(&outcome.findings, score, policy.leak_threshold)
    } else {
        outcome.text.unwrap_or_else(|| text.to_string())
    };
    SanitizedText {
        text,
        redactions: tally.into_redactions(),
        findings: outcome.findings,
        leak_score: score,
        withheld,
        truncated: outcome.truncated,
    }
}
