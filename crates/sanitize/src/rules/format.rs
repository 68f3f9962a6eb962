//! The rule file as written (`rules/output.toml`): raw serde structs, unknown keys
//! rejected, validated and compiled by `compile.rs`.

use super::Scope;
use execgate_core::Severity;
use serde::Deserialize;
use toml::Spanned;

/// One output rule file: redaction rules and leak rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    /// `[[redact]]` tables: secrets replaced by `[REDACTED:<id>]`.
    #[serde(default)]
    pub redact: Vec<RawRedact>,
    /// `[[leak]]` tables: outbound findings that add to the leak score.
    #[serde(default)]
    pub leak: Vec<RawLeak>,
}

/// A `[[redact]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedact {
    pub id: Spanned<String>,
    #[serde(default)]
    pub description: String,
    pub regex: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub secret_group: usize,
    pub min_entropy: Option<f64>,
    #[serde(default)]
    pub allow: Vec<String>,
}

/// A `[[leak]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLeak {
    pub id: Spanned<String>,
    #[serde(default)]
    pub description: String,
    pub severity: Severity,
    pub message: String,
    pub regex: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default = "one")]
    pub min_count: u32,
    #[serde(default)]
    pub allow: Vec<String>,
}

fn one() -> u32 {
    1
}
