//! The rule file format as written by the security team: raw serde shapes that
//! reject unknown keys, validated into compiled rules by `rules::compile`.

use crate::facts::{Anomaly, Heuristic};
use crate::language::Language;
use execgate_core::{Action, Severity};
use serde::Deserialize;

/// The top level of a rule file: any number of `[[rule]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    /// The rules, in file order; each is validated on its own so errors can name its id.
    #[serde(default)]
    pub rule: Vec<toml::Value>,
}

/// One `[[rule]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    /// Unique id across all loaded files, e.g. `PY-IMPORT-PROCESS`; reported in findings.
    pub id: String,
    /// `python`, `javascript`, `java`, `c`, `cpp`, a list of these, or `any` (every language, and unknown ones).
    pub language: Scope,
    /// `critical` (5 points), `error` (4), `warning` (3) or `notice` (2).
    pub severity: Severity,
    /// `block` (refuse at once), `score` (add points) or `log` (record only).
    pub action: Action,
    /// Shown to the client; `{name}` is replaced by what matched (module, name, attribute …).
    pub message: String,
    /// Free-form labels for dashboards.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When true the rule is reported and counted but never refuses (nor adds to the score).
    #[serde(default)]
    pub detection_only: bool,
    /// `enforce` (the default) or `log`: a rule in shadow, reported and
    /// counted like a `detection_only` one, while it proves itself.
    #[serde(default)]
    pub mode: RuleMode,
    /// What the rule looks for: exactly one kind.
    #[serde(rename = "match")]
    pub matcher: RawMatch,
}

/// Whether a rule's findings take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RuleMode {
    /// Its action applies: it may refuse and its points count.
    #[default]
    Enforce,
    /// Shadow: reported and counted, never refuses, no points.
    Log,
}

/// `match.*`: exactly one of these keys (plus `min` with `heuristic`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMatch {
    /// Python: modules (and their submodules) imported in any way.
    pub import: Option<Vec<String>>,
    /// Python: dotted callees after alias resolution (`os.system`, `eval`, `os.exec*`).
    pub call: Option<Vec<String>>,
    /// Python: dotted names referenced at all (called, passed, stored), after alias resolution.
    pub name: Option<Vec<String>>,
    /// Python: attribute names read or written (`.x`, `getattr(o, "x")`, `o["__x__"]`).
    pub attribute: Option<Vec<String>>,
    /// Python: a regex over every string constant after constant folding.
    pub string: Option<String>,
    /// Any language: a regex over the decoded source text (multi-line mode).
    pub regex: Option<String>,
    /// Any language: facts about the source bytes themselves (see `Anomaly`).
    pub anomaly: Option<Vec<Anomaly>>,
    /// Python: a built-in heuristic (see `Heuristic`).
    pub heuristic: Option<Heuristic>,
    /// With `heuristic`: the smallest value that fires (`huge-range`, `huge-repetition`).
    pub min: Option<u64>,
}

/// The languages a rule applies to: `"any"`, one name, or a list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every request, including those of unknown language.
    Any,
    /// Requests in these languages only.
    Only(Vec<Language>),
}

impl Scope {
    /// The languages, empty for `any`.
    pub fn languages(&self) -> Vec<Language> {
        match self {
            Scope::Any => Vec::new(),
            Scope::Only(langs) => langs.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn language(name: &str) -> Result<Language, String> {
    Language::ALL
        .into_iter()
        .find(|l| l.as_str() == name)
        .ok_or_else(|| {
            format!(
                "unknown language `{name}`, expected python, javascript, java, c, cpp, bash, csharp or any"
            )
        })
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = match OneOrMany::deserialize(d)? {
            OneOrMany::One(name) if name == "any" => return Ok(Scope::Any),
            OneOrMany::One(name) => vec![name],
            OneOrMany::Many(names) => names,
        };
        if names.is_empty() {
            return Err(serde::de::Error::custom("language list must not be empty"));
        }
        let langs: Result<Vec<Language>, String> = names.iter().map(|n| language(n)).collect();
        langs.map(Scope::Only).map_err(serde::de::Error::custom)
    }
}
