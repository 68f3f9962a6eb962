//! Scoring like OWASP CRS: findings carry severities, severities carry points,
//! and a request is refused on a `block` finding or when its score reaches the
//! threshold, unless screening is in detection-only mode.

use crate::matcher::Hit;
use crate::rules::RuleSet;
use execgate_core::{Action, ByteSize, HumanDuration, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// Findings reported per request at most (the score counts them all).
const MAX_FINDINGS: usize = 100;

/// Points per severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityPoints {
    /// Points of a `critical` finding (default 5).
    pub critical: u32,
    /// Points of an `error` finding (default 4).
    pub error: u32,
    /// Points of a `warning` finding (default 3).
    pub warning: u32,
    /// Points of a `notice` finding (default 2).
    pub notice: u32,
}

impl Default for SeverityPoints {
    fn default() -> Self {
        Self {
            critical: 5,
            error: 4,
            warning: 3,
            notice: 2,
        }
    }
}

impl SeverityPoints {
    /// The points of `severity`.
    pub fn of(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Critical => self.critical,
            Severity::Error => self.error,
            Severity::Warning => self.warning,
            Severity::Notice => self.notice,
        }
    }
}

/// How screening decides; a config section (`[screen]` or per tier).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenPolicy {
    /// Refuse when the score reaches this (CRS `inbound_anomaly_score_threshold`), default 5.
    #[serde(alias = "inbound_threshold")]
    pub threshold: u32,
    /// Points per severity, default CRS 5/4/3/2.
    pub points: SeverityPoints,
    /// Report findings but never refuse.
    pub detection_only: bool,
    /// Refuse Python that does not parse (default false: the executor reports the syntax error).
    pub refuse_unparsable: bool,
    /// Refuse requests whose language is unknown (default false: only `any` rules run).
    pub refuse_unknown_language: bool,
    /// Python larger than this is screened as text only (default 1MB).
    pub max_ast_size: ByteSize,
    /// Syntax-tree analysis gives up after this long (default 2s); what it found so far counts.
    pub analysis_timeout: HumanDuration,
}

impl Default for ScreenPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            points: SeverityPoints::default(),
            detection_only: false,
            refuse_unparsable: false,
            refuse_unknown_language: false,
            max_ast_size: ByteSize(1 << 20),
            analysis_timeout: HumanDuration(Duration::from_secs(2)),
        }
    }
}

/// One rule that matched, where, and what it means for the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule id.
    pub rule: String,
    /// 1-based line.
    pub line: u32,
    /// 0-based column, in characters (as Python's `col_offset` counts for ASCII).
    pub column: u32,
    /// The rule's severity.
    pub severity: Severity,
    /// The effective action: `log` for detection-only rules.
    pub action: Action,
    /// The rule's message with `{name}` filled in; never the rule's pattern.
    pub message: String,
}

/// The outcome of screening one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Verdict {
    /// Whether the request must be refused (always false in detection-only mode).
    pub refused: bool,
    /// Sum of the points of every distinct scoring rule that matched.
    pub score: u32,
    /// What matched, ordered by position, at most 100.
    pub findings: Vec<Finding>,
    /// Time spent screening.
    #[serde(serialize_with = "micros")]
    pub elapsed: Duration,
    /// Why Python did not parse, when it did not.
    pub parse_error: Option<String>,
    /// Whether it came from the rule set's verdict cache ([`crate::screen_cached`]).
    #[serde(skip)]
    pub cache: crate::CacheUse,
    /// The program hands text it reads at run time to something that
    /// compiles, evaluates or imports it (see [`crate::screen_input`]).
    #[serde(skip)]
    pub runs_input_as_code: bool,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_micros())
}

/// Synthetic rule ids for policy refusals that no rule file expresses.
pub const UNPARSABLE_RULE: &str = "EXECGATE-UNPARSABLE";
/// See [`UNPARSABLE_RULE`].
pub const UNKNOWN_LANGUAGE_RULE: &str = "EXECGATE-UNKNOWN-LANGUAGE";

/// Policy-level refusals decided outside the rule files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyRefusal {
    Unparsable,
    UnknownLanguage,
}

/// Turns hits into a verdict under `policy`.
pub(crate) fn assemble(
    rules: &RuleSet,
    mut hits: Vec<Hit>,
    policy: &ScreenPolicy,
    refusal: Option<PolicyRefusal>,
) -> (bool, u32, Vec<Finding>) {
    // One finding per rule and line, then in reading order.
    hits.sort_by_key(|h| (h.pos.line, h.rule, h.pos.column));
    hits.dedup_by(|a, b| a.rule == b.rule && a.pos.line == b.pos.line);
    hits.sort_by_key(|h| (h.pos, h.rule));
    let mut scored = BTreeSet::new();
    let mut blocked = false;
    let mut findings = Vec::new();
    for hit in &hits {
        let rule = rules.rule(hit.rule);
        let counts = !rule.detection_only && rule.action != Action::Log;
        if counts {
            scored.insert(hit.rule);
            blocked |= rule.action == Action::Block;
        }
        if findings.len() < MAX_FINDINGS {
            findings.push(Finding {
                rule: rule.id.clone(),
                line: hit.pos.line,
                column: hit.pos.column,
                severity: rule.severity,
                action: if rule.detection_only {
                    Action::Log
                } else {
                    rule.action
                },
                message: rule.message.replace("{name}", &hit.name),
            });
        }
    }
    let score = scored
        .iter()
        .map(|r| policy.points.of(rules.rule(*r).severity))
        .sum();
    if let Some(refusal) = refusal {
        findings.insert(0, policy_finding(refusal));
        blocked = true;
    }
    let refused = !policy.detection_only && (blocked || score >= policy.threshold);
    (refused, score, findings)
}

fn policy_finding(refusal: PolicyRefusal) -> Finding {
    let (rule, message) = match refusal {
        PolicyRefusal::Unparsable => (
            UNPARSABLE_RULE,
            "code does not parse and unparsable code is refused",
        ),
        PolicyRefusal::UnknownLanguage => (
            UNKNOWN_LANGUAGE_RULE,
            "the language is unknown and unknown languages are refused",
        ),
    };
    Finding {
        rule: rule.to_string(),
        line: 1,
        column: 0,
        severity: Severity::Critical,
        action: Action::Block,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_is_a_config_section_with_defaults_and_no_unknown_keys() {
        let policy: ScreenPolicy = toml::from_str(
            "inbound_threshold = 9\ndetection_only = true\nmax_ast_size = \"512KB\"\nanalysis_timeout = \"500ms\"\n[points]\ncritical = 10\n",
        )
        .expect("valid section");
        assert_eq!(policy.threshold, 9);
        assert!(policy.detection_only);
        assert_eq!(
            policy.points,
            SeverityPoints {
                critical: 10,
                ..SeverityPoints::default()
            }
        );
        assert_eq!(policy.max_ast_size.bytes(), 512 << 10);
        assert_eq!(policy.analysis_timeout.get(), Duration::from_millis(500));
        assert!(!policy.refuse_unparsable && !policy.refuse_unknown_language);
        let empty: ScreenPolicy = toml::from_str("").expect("all defaults");
        assert_eq!(empty, ScreenPolicy::default());
        let err = toml::from_str::<ScreenPolicy>("treshold = 3\n").expect_err("typo rejected");
        assert!(
            err.to_string().contains("unknown field `treshold`"),
            "{err}"
        );
    }

    #[test]
    fn rule_sets_and_verdicts_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<RuleSet>();
        send_sync::<Verdict>();
        send_sync::<ScreenPolicy>();
    }
}
