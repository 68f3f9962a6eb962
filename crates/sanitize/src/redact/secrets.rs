//! Secrets found by the rule files' `[[redact]]` rules, gitleaks-style: keyword
//! prefilter (done by the caller), regex, optional secret group, entropy floor,
//! allow-list.

use super::{Hit, Label};
use crate::rules::{Active, OutputRules, RedactRule};
use std::ops::ControlFlow;

/// Adds a hit for every secret the active redaction rules find in `text`.
pub(super) fn find(rules: &OutputRules, active: &Active, text: &str, hits: &mut Vec<Hit>) {
    for (i, rule) in rules.redact.iter().enumerate() {
        if !active.redact[i] {
            continue;
        }
        let mut hit = |offset: usize, secret: regex::Match<'_>| {
            if is_secret(rule, secret.as_str()) {
                hits.push(Hit {
                    start: offset + secret.start(),
                    end: offset + secret.end(),
                    label: Label::Rule(i),
                });
            }
        };
        if rule.secret_group == 0 {
            // The whole match is the secret: no capture groups to resolve.
            rule.matcher
                .for_each_match(text, &active.lower, |offset, secret| {
                    hit(offset, secret);
                    ControlFlow::Continue(())
                });
        } else {
            rule.matcher.for_each(text, &active.lower, |offset, caps| {
                if let Some(secret) = caps.get(rule.secret_group) {
                    hit(offset, secret);
                }
            });
        }
    }
}

fn is_secret(rule: &RedactRule, secret: &str) -> bool {
    if secret.is_empty() || rule.allow.iter().any(|re| re.is_match(secret)) {
        return false;
    }
    rule.min_entropy
        .is_none_or(|floor| shannon_entropy(secret.as_bytes()) >= floor)
}

/// Shannon entropy of `bytes` in bits per byte (0 for an empty slice).
pub(crate) fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::shannon_entropy;

    #[test]
    fn entropy_tells_words_from_keys() {
        assert_eq!(shannon_entropy(b"aaaaaaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(shannon_entropy(b"password123") < 3.5);
        assert!(shannon_entropy(b"q8Zr2LxW9vKp4TfN7mYc") > 4.0);
    }
}
