//! Outbound leak rules (OWASP CRS RESPONSE-95x style): what the output shows about
//! the host or another tenant. Each rule that fires is a finding worth its
//! severity's points; the caller adds them up and withholds at the threshold.

use crate::report::LeakFinding;
use crate::rules::{Active, LeakRule, OutputRules};
use std::ops::ControlFlow;

/// The findings of the active leak rules on one field's text (before redaction).
pub(crate) fn scan(
    rules: &OutputRules,
    active: &Active,
    field: &str,
    text: &str,
) -> Vec<LeakFinding> {
    rules
        .leak
        .iter()
        .enumerate()
        .filter(|(i, rule)| active.leak[*i] && fires(rule, text, &active.lower))
        .map(|(_, rule)| LeakFinding {
            rule: rule.id.clone(),
            severity: rule.severity,
            field: field.to_string(),
            message: rule.message.clone(),
        })
        .collect()
}

fn fires(rule: &LeakRule, text: &str, lower: &str) -> bool {
    let needed = usize::try_from(rule.min_count).unwrap_or(usize::MAX);
    let mut counted = 0usize;
    rule.matcher.for_each_match(text, lower, |_, m| {
        if !rule.allow.iter().any(|re| re.is_match(m.as_str())) {
            counted += 1;
        }
        // Once the rule fires, more matches change nothing.
        if counted >= needed {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    counted >= needed
}
