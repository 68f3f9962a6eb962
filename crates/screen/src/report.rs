//! Output formats of `execgate scan`: linter-style text, one JSON array, SARIF 2.1.0.

use crate::rules::RuleSet;
use crate::verdict::Verdict;
use execgate_core::Severity;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One screened file as reported.
pub(crate) struct FileReport {
    /// The name shown (`-` for stdin).
    pub file: String,
    pub verdict: Verdict,
}

/// `file:line:col RULE severity message`, one finding per line; column 1-based.
pub(crate) fn text(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for r in reports {
        for f in &r.verdict.findings {
            out.push_str(&format!(
                "{}:{}:{} {} {} {}\n",
                r.file,
                f.line,
                f.column + 1,
                f.rule,
                f.severity.as_str(),
                f.message
            ));
        }
    }
    out
}

/// `[{"file","verdict":"block"|"pass","score","findings":[…]}]`; column 0-based.
pub(crate) fn json(reports: &[FileReport]) -> String {
    let files: Vec<Value> = reports
        .iter()
        .map(|r| {
            json!({
                "file": r.file,
                "verdict": if r.verdict.refused { "block" } else { "pass" },
                "score": r.verdict.score,
                "findings": r.verdict.findings,
            })
        })
        .collect();
    Value::Array(files).to_string()
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Notice => "note",
    }
}

/// A SARIF 2.1.0 log with one run; rules that fired are listed in the driver.
pub(crate) fn sarif(reports: &[FileReport], rules: &RuleSet) -> String {
    let mut fired = BTreeMap::new();
    let mut results = Vec::new();
    for r in reports {
        for f in &r.verdict.findings {
            let rule = rules.rules().iter().find(|x| x.id == f.rule);
            let description = rule.map_or(f.message.clone(), |x| x.message.clone());
            fired.entry(f.rule.clone()).or_insert_with(|| {
                json!({
                    "id": f.rule,
                    "shortDescription": {"text": description},
                    "defaultConfiguration": {"level": level(f.severity)},
                    "properties": {"tags": rule.map(|x| x.tags.clone()).unwrap_or_default()},
                })
            });
            results.push(json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": r.file},
                    "region": {"startLine": f.line.max(1), "startColumn": f.column + 1},
                }}],
            }));
        }
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "execgate",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": fired.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
    .to_string()
}
