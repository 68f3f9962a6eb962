//! The `[dialect]` config section: which executor API the upstream speaks,
//! bounds on request shape, the Judge0 language map and, for a home-grown
//! executor, where its JSON keeps code, language, stdin, limits and output.

use crate::callback::CallbackConfig;
use crate::decode::Encoding;
use crate::kind::DialectKinds;
use crate::limits::LimitField;
use crate::model::{FieldKind, RunOutcome};
use crate::options::OptionsConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `[dialect]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialectConfig {
    /// Which executor API the upstream speaks (default `piston`), or a list of
    /// them served side by side (`["piston", "judge0"]`); no path may belong to two.
    pub kind: DialectKinds,
    /// Most source files in one Piston submission (default 16).
    pub max_files: usize,
    /// Most submissions in one Judge0 batch (default 20, Judge0's own default).
    pub max_submissions: usize,
    /// Judge0 settings (used when `kind` lists `judge0`).
    pub judge0: Judge0Config,
    /// Generic executor description (required when `kind` lists `generic`).
    pub generic: Option<GenericConfig>,
    /// Compiler options and program arguments requests may carry.
    pub options: OptionsConfig,
    /// Judge0 `callback_url`: where results may be delivered, and how.
    pub callbacks: CallbackConfig,
}

impl Default for DialectConfig {
    fn default() -> Self {
        Self {
            kind: DialectKinds::default(),
            max_files: 16,
            max_submissions: 20,
            judge0: Judge0Config::default(),
            generic: None,
            options: OptionsConfig::default(),
            callbacks: CallbackConfig::default(),
        }
    }
}

/// The `[dialect.judge0]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Judge0Config {
    /// `language_id` → language name for screening, e.g. `"71" = "python"`. Entries add
    /// to or override the built-in Judge0 CE map; unmapped ids become `judge0:<id>`.
    pub languages: BTreeMap<String, String>,
    /// Forward `additional_files` (a base64 zip the gateway cannot screen). Default false: refused.
    pub allow_additional_files: bool,
    /// Let clients set `enable_network = true`. Default false: rewritten to false.
    pub allow_network: bool,
    /// Forward any `compiler_options`. Default false: only the flags
    /// `[dialect.options.compiler]` allows for the language pass.
    pub allow_any_compiler_options: bool,
}

/// The `[dialect.generic]` section: a JSON executor described by JSON pointers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericConfig {
    /// Routes that run code, as `"METHOD /path"`; `{name}` matches one segment, a final `*` the rest.
    #[serde(default)]
    pub execute: Vec<String>,
    /// Routes that run code sent as the raw request body (`[[dialect.generic.raw]]`).
    #[serde(default)]
    pub raw: Vec<RawRoute>,
    /// Routes that run nothing and pass with light checks, same syntax.
    #[serde(default)]
    pub passthrough: Vec<String>,
    /// Query parameters an executing route may carry (default none): many
    /// frameworks merge the query into the body's fields, so others are refused.
    #[serde(default)]
    pub query_params: Vec<String>,
    /// JSON pointer to the source code string (required in requests; needed with `execute`).
    #[serde(default)]
    pub code: String,
    /// How the code string is encoded (default `utf8`).
    #[serde(default)]
    pub code_encoding: Encoding,
    /// JSON pointer to the language name; when unset, `default_language` is used.
    #[serde(default)]
    pub language: Option<String>,
    /// Language assumed when the request names none (e.g. a Python-only executor).
    #[serde(default)]
    pub default_language: Option<String>,
    /// JSON pointer to the language version, if the executor has one.
    #[serde(default)]
    pub version: Option<String>,
    /// JSON pointer to stdin, if the executor takes one.
    #[serde(default)]
    pub stdin: Option<String>,
    /// How the stdin string is encoded (default `utf8`).
    #[serde(default)]
    pub stdin_encoding: Encoding,
    /// Limit fields to validate and clamp.
    #[serde(default)]
    pub limits: Vec<LimitField>,
    /// Response fields that carry program output, for the sanitizer.
    #[serde(default)]
    pub outputs: Vec<OutputField>,
    /// Where the response says how the run ended.
    #[serde(default)]
    pub verdict: Option<VerdictConfig>,
}

/// A route whose request body is the program itself (`[[dialect.generic.raw]]`):
/// screened, capped and forwarded byte for byte, with `content_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// `"METHOD /path"`, as in `execute`.
    pub route: String,
    /// Where the language name is: `"path:NAME"` (the route's `{NAME}`
    /// segment), `"query:NAME"` or `"header:NAME"`; when absent or empty,
    /// `default_language`.
    #[serde(default)]
    pub language: Option<String>,
    /// Content type of the forwarded body (default `text/plain; charset=utf-8`).
    #[serde(default = "text_plain")]
    pub content_type: String,
}

fn text_plain() -> String {
    "text/plain; charset=utf-8".into()
}

/// A response field with program output (`[[dialect.generic.outputs]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputField {
    /// JSON pointer; `*` segments match every array element or object member.
    pub pointer: String,
    /// `stdout`, `stderr` or `other`: which output cap applies.
    pub kind: FieldKind,
    /// The value is base64-encoded (default false).
    #[serde(default)]
    pub base64: bool,
}

/// How to read a run's outcome (`[dialect.generic.verdict]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictConfig {
    /// JSON pointer to the status value (string, number or boolean) in the response.
    pub pointer: String,
    /// Status value (as text) → outcome: `ok`, `timeout`, `memory_killed`,
    /// `output_limit`, `runtime_error`, `compile_error`, `other`.
    pub outcomes: BTreeMap<String, RunOutcome>,
    /// Outcome of a status missing from `outcomes` (default `other`).
    #[serde(default = "other")]
    pub otherwise: RunOutcome,
}

fn other() -> RunOutcome {
    RunOutcome::Other
}

/// Judge0 CE language ids and the names screening knows them by.
pub(crate) const JUDGE0_LANGUAGES: &[(u64, &str)] = &[
    (43, "plaintext"),
    (44, "executable"),
    (45, "assembly"),
    (46, "bash"),
    (47, "basic"),
    (48, "c"),
    (49, "c"),
    (50, "c"),
    (51, "csharp"),
    (52, "cpp"),
    (53, "cpp"),
    (54, "cpp"),
    (55, "lisp"),
    (56, "d"),
    (57, "elixir"),
    (58, "erlang"),
    (59, "fortran"),
    (60, "go"),
    (61, "haskell"),
    (62, "java"),
    (63, "javascript"),
    (64, "lua"),
    (65, "ocaml"),
    (66, "octave"),
    (67, "pascal"),
    (68, "php"),
    (69, "prolog"),
    (70, "python"),
    (71, "python"),
    (72, "ruby"),
    (73, "rust"),
    (74, "typescript"),
    (75, "c"),
    (76, "cpp"),
    (77, "cobol"),
    (78, "kotlin"),
    (79, "objective-c"),
    (80, "r"),
    (81, "scala"),
    (82, "sql"),
    (83, "swift"),
    (84, "vbnet"),
    (85, "perl"),
    (86, "clojure"),
    (87, "fsharp"),
    (88, "groovy"),
    (89, "multi-file"),
    (90, "dart"),
    (91, "java"),
    (92, "python"),
    (93, "javascript"),
    (94, "typescript"),
    (95, "go"),
    (96, "javascript"),
    (97, "javascript"),
    (98, "php"),
    (99, "r"),
    (100, "python"),
    (101, "typescript"),
    (102, "javascript"),
    (103, "c"),
    (104, "c"),
    (105, "cpp"),
    (106, "go"),
    (107, "go"),
    (108, "rust"),
    (109, "python"),
    (110, "c"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::DialectKind;

    #[test]
    fn default_is_piston_with_bounds() {
        let c: DialectConfig = toml::from_str("").unwrap();
        assert_eq!(c, DialectConfig::default());
        assert_eq!(c.kind.as_slice(), [DialectKind::Piston]);
        assert_eq!((c.max_files, c.max_submissions), (16, 20));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<DialectConfig>("kind = \"judge0\"\nmax_file = 3\n").unwrap_err();
        assert!(err.to_string().contains("max_file"), "{err}");
        let err = toml::from_str::<DialectConfig>("kind = \"k8s\"").unwrap_err();
        assert!(err.to_string().contains("k8s"), "{err}");
    }

    #[test]
    fn a_full_generic_section_parses() {
        let text = r#"
            kind = "generic"
            [generic]
            execute = ["POST /run"]
            passthrough = ["GET /languages", "GET /result/{id}"]
            code = "/program/source"
            code_encoding = "base64"
            language = "/program/lang"
            stdin = "/input"
            limits = [
              { pointer = "/limits/time_ms", role = "run_time", unit = "ms" },
              { pointer = "/limits/memory_mb", role = "memory", unit = "mb", insert = false },
            ]
            outputs = [{ pointer = "/result/stdout", kind = "stdout" }]
            [generic.verdict]
            pointer = "/result/status"
            outcomes = { ok = "ok", tle = "timeout", "137" = "memory_killed" }
        "#;
        let c: DialectConfig = toml::from_str(text).unwrap();
        let g = c.generic.unwrap();
        assert_eq!(g.code_encoding, Encoding::Base64);
        assert!(!g.limits[1].insert && g.limits[0].insert);
        let v = g.verdict.unwrap();
        assert_eq!(v.outcomes["137"], RunOutcome::MemoryKilled);
        assert_eq!(v.otherwise, RunOutcome::Other);
    }

    #[test]
    fn judge0_language_ids_are_unique() {
        let mut ids: Vec<u64> = JUDGE0_LANGUAGES.iter().map(|(id, _)| *id).collect();
        ids.dedup();
        assert_eq!(ids.len(), JUDGE0_LANGUAGES.len());
    }
}
