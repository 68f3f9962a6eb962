//! Compiler options and program arguments a request may carry (Judge0
//! `compiler_options` and `command_line_arguments`, Piston `args`). A
//! compiler flag can run a program the gateway never screened (`-wrapper`,
//! `-fplugin=`, `-B`, `-specs=`, `@file`), read a host file into an error
//! message (`-include /etc/passwd`, `-I/`, `-L/`) or write outside the job
//! (`-o /…`, `-Wl,…`): only flags on an allow-list per language pass, and the
//! dangerous families never do, whatever the list says. Program arguments
//! reach the program after its entry point, never the compiler or the
//! interpreter: they are only bounded in size and count.

use crate::model::RequestError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `[dialect.options]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptionsConfig {
    /// Longest `compiler_options` string in bytes (default 512, Judge0's own).
    pub compiler_max_bytes: usize,
    /// Longest program arguments in bytes: `command_line_arguments`, or all
    /// Piston `args` together (default 4096).
    pub args_max_bytes: usize,
    /// Most program arguments (Piston `args` entries, whitespace-separated
    /// `command_line_arguments` words; default 64).
    pub args_max_count: usize,
    /// Compiler flags allowed per language (the names screening uses: `c`,
    /// `cpp`, …): a flag exactly, or a prefix ending in `*` that takes a tail
    /// of letters, digits and `+ - = _ .`. A language not listed gets the
    /// built-in list ([`DEFAULT_ALLOWED`]).
    pub compiler: BTreeMap<String, Vec<String>>,
}

impl Default for OptionsConfig {
    fn default() -> Self {
        Self {
            compiler_max_bytes: 512,
            args_max_bytes: 4096,
            args_max_count: 64,
            compiler: BTreeMap::new(),
        }
    }
}

/// The built-in allow-list: optimisation, debug, standard, warning, define,
/// `-f`/`-m` code generation and library flags.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "-O",
    "-O0",
    "-O1",
    "-O2",
    "-O3",
    "-Os",
    "-Og",
    "-Ofast",
    "-g",
    "-w",
    "-pedantic",
    "-pedantic-errors",
    "-pthread",
    "-static",
    "-ansi",
    "-std=*",
    "-W*",
    "-D*",
    "-f*",
    "-m*",
    "-l*",
];

/// Flag families refused whatever the allow-list says: they run other
/// programs, load code, read or write files the request did not send.
const NEVER: &[&str] = &[
    "-fplugin",
    "-B",
    "-wrapper",
    "-specs",
    "-include",
    "-imacros",
    "-iquote",
    "-isystem",
    "-idirafter",
    "-iprefix",
    "-iwithprefix",
    "-isysroot",
    "--sysroot",
    "-Xlinker",
    "-Xassembler",
    "-Xpreprocessor",
    "-Wl,",
    "-Wa,",
    "-Wp,",
    "-o",
    "-save-temps",
    "-dump",
    "-MF",
    "-MT",
    "-MQ",
    "-aux-info",
    "-fdump",
    "-fprofile",
    "-fdebug-prefix-map",
    "-ffile-prefix-map",
];

/// Why a flag can never be allowed, if it cannot.
fn never(flag: &str) -> Option<&'static str> {
    if flag.starts_with('@') {
        return Some("reads further options from a file");
    }
    if flag.contains('/') {
        return Some("names a path");
    }
    NEVER
        .iter()
        .any(|family| flag.starts_with(family))
        .then_some("runs, loads, reads or writes what the request did not send")
}

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Exact(String),
    Prefix(String),
}

impl Allowed {
    fn parse(entry: &str) -> Result<Self, String> {
        if !entry.starts_with('-') || entry.len() < 2 {
            return Err(format!("{entry:?} is not a flag (flags start with -)"));
        }
        let allowed = match entry.strip_suffix('*') {
            Some(prefix) => Allowed::Prefix(prefix.to_string()),
            None => Allowed::Exact(entry.to_string()),
        };
        let stem = match &allowed {
            Allowed::Exact(flag) | Allowed::Prefix(flag) => flag,
        };
        match never(stem) {
            Some(why) => Err(format!("{entry:?} can never be allowed: it {why}")),
            None => Ok(allowed),
        }
    }

    fn admits(&self, token: &str) -> bool {
        match self {
            Allowed::Exact(flag) => token == flag,
            Allowed::Prefix(prefix) => token.strip_prefix(prefix.as_str()).is_some_and(|tail| {
                !tail.is_empty()
                    && tail
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-=_.".contains(c))
            }),
        }
    }
}

/// [`OptionsConfig`] validated: what `compiler_options` and program arguments may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptionsPolicy {
    compiler_max_bytes: usize,
    args_max_bytes: usize,
    args_max_count: usize,
    per_language: BTreeMap<String, Vec<Allowed>>,
    default: Vec<Allowed>,
}

impl Default for OptionsPolicy {
    fn default() -> Self {
        Self::new(&OptionsConfig::default()).unwrap_or_else(|_| unreachable!("the defaults"))
    }
}

impl OptionsPolicy {
    /// Validates `config`; errors name the key under `dialect.options`.
    pub(crate) fn new(config: &OptionsConfig) -> Result<Self, String> {
        for (key, value) in [
            ("compiler_max_bytes", config.compiler_max_bytes),
            ("args_max_bytes", config.args_max_bytes),
            ("args_max_count", config.args_max_count),
        ] {
            if value == 0 {
                return Err(format!("dialect.options.{key}: must be at least 1"));
            }
        }
        let parse_all = |entries: &mut dyn Iterator<Item = &str>, at: &str| {
            entries
                .map(|entry| Allowed::parse(entry).map_err(|e| format!("{at}: {e}")))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut per_language = BTreeMap::new();
        for (language, entries) in &config.compiler {
            let at = format!("dialect.options.compiler.{language}");
            per_language.insert(
                language.clone(),
                parse_all(&mut entries.iter().map(String::as_str), &at)?,
            );
        }
        Ok(Self {
            compiler_max_bytes: config.compiler_max_bytes,
            args_max_bytes: config.args_max_bytes,
            args_max_count: config.args_max_count,
            per_language,
            default: parse_all(&mut DEFAULT_ALLOWED.iter().copied(), "built-in")?,
        })
    }

    /// Refuses `options` for `language` unless every flag is allowed; the
    /// refusal names the first flag that is not.
    pub(crate) fn check_compiler(
        &self,
        language: &str,
        options: &str,
        field: &str,
    ) -> Result<(), RequestError> {
        if options.len() > self.compiler_max_bytes {
            return Err(RequestError::new(
                field,
                format!("is longer than {} bytes", self.compiler_max_bytes),
            ));
        }
        let allowed = self.per_language.get(language).unwrap_or(&self.default);
        for token in options.split_whitespace() {
            if let Some(why) = never(token) {
                return Err(RequestError::new(
                    field,
                    format!("option {token:?} is not allowed: it {why}"),
                ));
            }
            if !allowed.iter().any(|a| a.admits(token)) {
                return Err(RequestError::new(
                    field,
                    format!("option {token:?} is not allowed for {language}"),
                ));
            }
        }
        Ok(())
    }

    /// Refuses program arguments past the size or count bounds.
    pub(crate) fn check_args<'a>(
        &self,
        args: impl IntoIterator<Item = &'a str>,
        field: &str,
    ) -> Result<(), RequestError> {
        let (mut bytes, mut count) = (0usize, 0usize);
        for arg in args {
            bytes += arg.len();
            count += 1;
        }
        if bytes > self.args_max_bytes {
            return Err(RequestError::new(
                field,
                format!("are longer than {} bytes together", self.args_max_bytes),
            ));
        }
        if count > self.args_max_count {
            return Err(RequestError::new(
                field,
                format!("are more than {} arguments", self.args_max_count),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml_text: &str) -> Result<OptionsPolicy, String> {
        let config: OptionsConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        OptionsPolicy::new(&config)
    }

    #[test]
    fn everyday_flags_pass_the_built_in_list() {
        let p = OptionsPolicy::default();
        for ok in [
            "",
            "-O2 -std=c++17",
            "-Wall -Wextra -Werror=return-type -DLOCAL -DN=100 -lm -march=native",
            "-fsanitize=address -fno-exceptions -g -pthread",
        ] {
            assert!(
                p.check_compiler("cpp", ok, "compiler_options").is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn flags_that_run_or_read_other_files_are_refused_by_name() {
        let p = OptionsPolicy::default();
        for (bad, flag) in [
            ("-O2 -wrapper /bin/sh,-c,id", "-wrapper"),
            ("-fplugin=./evil.so", "-fplugin=./evil.so"),
            ("-specs=x", "-specs=x"),
            ("@/tmp/args", "@/tmp/args"),
            ("@args", "@args"),
            ("-include /etc/passwd", "-include"),
            ("-Wl,--wrap=main", "-Wl,--wrap=main"),
            ("-B/tmp", "-B/tmp"),
            ("-Btmp", "-Btmp"),
            ("-o /tmp/x", "-o"),
            ("-I/etc", "-I/etc"),
            ("-L/usr/lib", "-L/usr/lib"),
            ("main.c", "main.c"),
            ("-DX=$(id)", "-DX=$(id)"),
        ] {
            let err = p.check_compiler("c", bad, "compiler_options").unwrap_err();
            assert_eq!(err.field, "compiler_options");
            assert!(
                err.message
                    .starts_with(&format!("option {flag:?} is not allowed")),
                "{bad}: {err}"
            );
        }
        let err = p.check_compiler("c", &"-O2 ".repeat(200), "c").unwrap_err();
        assert_eq!(err.message, "is longer than 512 bytes");
    }

    #[test]
    fn a_language_list_replaces_the_built_in_one_for_that_language() {
        let p = policy("compiler_max_bytes = 64\n[compiler]\nc = [\"-O2\", \"-std=*\"]").unwrap();
        assert!(p.check_compiler("c", "-O2 -std=c11", "f").is_ok());
        let err = p.check_compiler("c", "-Wall", "f").unwrap_err();
        assert_eq!(err.message, "option \"-Wall\" is not allowed for c");
        // other languages keep the built-in list
        assert!(p.check_compiler("cpp", "-Wall", "f").is_ok());
        assert!(p.check_compiler("c", &"-O2 ".repeat(17), "f").is_err());
    }

    #[test]
    fn dangerous_flags_cannot_be_allow_listed() {
        for (entry, why) in [
            ("-fplugin=*", "can never be allowed"),
            ("-B*", "can never be allowed"),
            ("-Wl,*", "can never be allowed"),
            ("-I/usr/include", "names a path"),
            ("@*", "is not a flag"),
            ("O2", "is not a flag"),
        ] {
            let err = policy(&format!("[compiler]\nc = [{entry:?}]")).unwrap_err();
            assert!(
                err.starts_with("dialect.options.compiler.c: ") && err.contains(why),
                "{entry}: {err}"
            );
        }
        let err = policy("args_max_count = 0").unwrap_err();
        assert_eq!(err, "dialect.options.args_max_count: must be at least 1");
    }

    #[test]
    fn program_arguments_are_bounded_in_size_and_count() {
        let p = policy("args_max_bytes = 10\nargs_max_count = 3").unwrap();
        assert!(p.check_args(["a", "bb", "ccc"], "args").is_ok());
        let err = p.check_args(["a", "b", "c", "d"], "args").unwrap_err();
        assert_eq!(err, RequestError::new("args", "are more than 3 arguments"));
        let err = p.check_args(["0123456789x"], "args").unwrap_err();
        assert_eq!(err.message, "are longer than 10 bytes together");
    }
}
