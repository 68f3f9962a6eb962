//! Severities and actions of rule findings, scored like OWASP CRS.

use serde::{Deserialize, Serialize};

/// How serious a finding is; each severity is worth points toward a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// 2 points by default.
    Notice,
    /// 3 points by default.
    Warning,
    /// 4 points by default.
    Error,
    /// 5 points by default.
    Critical,
}

impl Severity {
    /// The CRS default anomaly points of this severity.
    pub fn default_points(self) -> u32 {
        match self {
            Severity::Critical => 5,
            Severity::Error => 4,
            Severity::Warning => 3,
            Severity::Notice => 2,
        }
    }

    /// The lowercase name used in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
        }
    }
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Refuse at once, whatever the score.
    Block,
    /// Add the severity's points to the request's score.
    #[default]
    Score,
    /// Record only.
    Log,
}

impl Action {
    /// The lowercase name used in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Score => "score",
            Action::Log => "log",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_score_like_crs() {
        let points: Vec<u32> = [
            Severity::Critical,
            Severity::Error,
            Severity::Warning,
            Severity::Notice,
        ]
        .iter()
        .map(|s| s.default_points())
        .collect();
        assert_eq!(points, vec![5, 4, 3, 2]);
    }
}
