//! Finds each language's program on this host at start: the first of the
//! config's candidates that is an executable file (bare names looked up in
//! `[sandbox] search_path`), symlinks resolved, and its version read from
//! `--version` when the config gives none. A language resolves to a config
//! with `{program}` and `{version_major}` filled in, or to the reason it cannot
//! be offered.

use crate::config::{LanguageConfig, PROGRAM};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Placeholder of the version's first number in `binds` (e.g. `17` of `17.0.15`).
pub const VERSION_MAJOR: &str = "{version_major}";

/// Longest `PROGRAM --version` may take; past it the version is unknown.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Most output of `--version` read.
const VERSION_OUTPUT_MAX: u64 = 64 << 10;

/// Why a configured language cannot be offered here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// None of the program candidates is an executable file.
    NoProgram {
        /// The candidates, in the config's order.
        tried: Vec<String>,
        /// Where bare names were looked up.
        search_path: String,
    },
    /// The program gave no version and the config sets none.
    NoVersion {
        /// The program run with `--version`.
        program: PathBuf,
    },
    /// Paths the language binds or runs are missing.
    MissingPaths(Vec<PathBuf>),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoProgram { tried, search_path } => write!(
                f,
                "no program found (tried {}; bare names in {search_path})",
                tried.join(", ")
            ),
            Self::NoVersion { program } => write!(
                f,
                "{} --version printed no version (set `version`)",
                program.display()
            ),
            Self::MissingPaths(paths) => {
                write!(f, "missing {}", crate::preflight::join_paths(paths))
            }
        }
    }
}

/// The language's config as this host runs it: `{program}` replaced by the
/// program found (also bound), the version filled in, `{version_major}`
/// replaced in `binds`, and every path it needs present. `shared_binds` are
/// bound into every sandbox: a program under one of them needs no bind of its own.
pub fn resolve(
    cfg: &LanguageConfig,
    search_path: &str,
    shared_binds: &[PathBuf],
) -> Result<LanguageConfig, Unavailable> {
    let mut out = cfg.clone();
    if !cfg.program.is_empty() {
        let program =
            find_program(&cfg.program, search_path).ok_or_else(|| Unavailable::NoProgram {
                tried: cfg.program.clone(),
                search_path: search_path.to_string(),
            })?;
        let text = program.display().to_string();
        let fill = |cmd: &mut Vec<String>| {
            for word in cmd.iter_mut() {
                *word = word.replace(PROGRAM, &text);
            }
        };
        fill(&mut out.run);
        out.compile.as_mut().map(fill);
        out.warm_run.as_mut().map(fill);
        if out.version.is_empty() {
            out.version = read_version(&program).ok_or_else(|| Unavailable::NoVersion {
                program: program.clone(),
            })?;
        }
        let covered = shared_binds.iter().chain(&cfg.binds).any(|b| {
            // Bind paths may be symlinks (merged /usr: /bin -> usr/bin).
            let real = std::fs::canonicalize(b).unwrap_or_else(|_| b.clone());
            program.starts_with(&real)
        });
        if !covered {
            out.binds.push(program);
        }
    }
    let major = out
        .version
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    for bind in out.binds.iter_mut().chain(&mut out.optional_binds) {
        if let Some(text) = bind.to_str().filter(|t| t.contains(VERSION_MAJOR)) {
            *bind = PathBuf::from(text.replace(VERSION_MAJOR, &major));
        }
    }
    let present = std::mem::take(&mut out.optional_binds)
        .into_iter()
        .filter(|path| path.exists());
    out.binds.extend(present);
    if let Some(name) = &mut out.judge0_name {
        *name = name.replace("{version}", &out.version);
    }
    let missing = out.missing_paths();
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(Unavailable::MissingPaths(missing))
    }
}

/// The first candidate that is an executable regular file, symlinks resolved.
pub fn find_program(candidates: &[String], search_path: &str) -> Option<PathBuf> {
    candidates.iter().find_map(|candidate| {
        if candidate.contains('/') {
            executable(Path::new(candidate))
        } else {
            search_path
                .split(':')
                .filter(|dir| !dir.is_empty())
                .find_map(|dir| executable(&Path::new(dir).join(candidate)))
        }
    })
}

fn executable(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(real)
}

/// The first version-looking word of `program --version` (stdout, then
/// stderr), or `None` if it prints none, fails to start or takes too long.
pub fn read_version(program: &Path) -> Option<String> {
    let mut child = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LANG", "C")
        .spawn()
        .ok()?;
    let readers = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .map(|stream| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(stream) = stream {
                let _ = stream.take(VERSION_OUTPUT_MAX).read_to_end(&mut text);
            }
            text
        })
    });
    let deadline = Instant::now() + VERSION_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    readers
        .into_iter()
        .filter_map(|r| r.join().ok())
        .find_map(|text| version_in(&String::from_utf8_lossy(&text)))
}

/// The first word of `text` that starts (after `v` or `(`) with a dotted
/// number, e.g. `3.11.2` of `Python 3.11.2`, `12.2.0` of `gcc (Debian
/// 12.2.0-14) 12.2.0`, `20.1.0` of `v20.1.0`, `5.2.15` of `5.2.15(1)-release`.
pub fn version_in(text: &str) -> Option<String> {
    text.split_whitespace().find_map(|word| {
        let word = word.trim_start_matches(['v', '(']);
        let end = word
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(word.len());
        let number = word[..end].trim_end_matches('.');
        let dotted = number.contains('.') && number.starts_with(|c: char| c.is_ascii_digit());
        dotted.then(|| number.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::{resolve, version_in};
    use crate::config::LanguageConfig;
    use std::path::PathBuf;

    #[test]
    fn optional_binds_are_bound_where_present_and_left_out_where_absent() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("runtime-7");
        std::fs::create_dir(&present).unwrap();
        let absent = dir.path().join("elsewhere");
        let lang: LanguageConfig = toml::from_str(&format!(
            r#"
            name = "demo"
            version = "7.1"
            source_file = "main.demo"
            run = ["/bin/true"]
            optional_binds = ["{}", "{}"]
            "#,
            dir.path().join("runtime-{version_major}").display(),
            absent.display(),
        ))
        .unwrap();

        let resolved =
            resolve(&lang, "/usr/bin:/bin", &[]).expect("an absent optional bind is no error");

        assert_eq!(resolved.binds, vec![present]);
        assert!(resolved.optional_binds.is_empty());
        assert!(!resolved.binds.contains(&PathBuf::from(&absent)));
    }

    #[test]
    fn versions_of_common_programs() {
        let cases = [
            ("Python 3.11.2\n", "3.11.2"),
            ("gcc (Debian 12.2.0-14) 12.2.0\nCopyright", "12.2.0"),
            ("v20.20.2\n", "20.20.2"),
            ("openjdk 17.0.15 2025-04-15\n", "17.0.15"),
            ("GNU bash, version 5.2.15(1)-release (x86_64)", "5.2.15"),
        ];
        for (text, want) in cases {
            assert_eq!(version_in(text).as_deref(), Some(want), "{text}");
        }
        assert_eq!(version_in("no digits here 42"), None);
    }
}
