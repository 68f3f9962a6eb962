//! Outbound leak rules (OWASP CRS RESPONSE-95x style): what the output shows about
//! the host or another tenant. Each rule that fires is a finding worth its
//! severity's points; the caller adds them up and withholds at the threshold.

use crate::reader::Reader;
use crate::report::LeakFinding;
use crate::rules::{Active, LeakRule, OutputRules, TENANT_GROUP};
use std::ops::ControlFlow;

/// The findings of the active leak rules on one field's text (before redaction).
pub(crate) fn scan(
    rules: &OutputRules,
    active: &Active,
    reader: Reader<'_>,
    field: &str,
    text: &str,
) -> Vec<LeakFinding> {
    rules
        .leak
        .iter()
        .enumerate()
        .filter(|(i, rule)| active.leak[*i] && fires(rule, reader, text, &active.lower))
        .map(|(_, rule)| LeakFinding {
            rule: rule.id.clone(),
            severity: rule.severity,
            field: field.to_string(),
            message: rule.message.clone(),
        })
        .collect()
}

fn fires(rule: &LeakRule, reader: Reader<'_>, text: &str, lower: &str) -> bool {
    let needed = usize::try_from(rule.min_count).unwrap_or(usize::MAX);
    let mut counted = 0usize;
    let mut count = |matched: &str| {
        if !rule.allow.iter().any(|re| re.is_match(matched)) {
            counted += 1;
        }
        // Once the rule fires, more matches change nothing.
        if counted >= needed {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    if rule.names_tenant && reader.tenant_id().is_some() {
        // Resolving the tenant group costs more than a bare match, so only a reader
        // with a tenant pays for it.
        rule.matcher.for_each(text, lower, |_, captures| {
            let own = captures
                .name(TENANT_GROUP)
                .is_some_and(|tenant| reader.owns(tenant.as_str()));
            if let (false, Some(m)) = (own, captures.get(0)) {
                let _ = count(m.as_str());
            }
        });
    } else {
        rule.matcher
            .for_each_match(text, lower, |_, m| count(m.as_str()));
    }
    counted >= needed
}
