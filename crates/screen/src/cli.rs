//! The `execgate scan` and `execgate rules check` commands, as clap argument
//! structs and functions returning the process exit code.

use crate::report::{self, FileReport};
use crate::{Language, RuleSet, ScreenPolicy, screen};
use clap::{Args, ValueEnum};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Exit code: nothing refused.
pub const EXIT_PASS: i32 = 0;
/// Exit code: at least one file refused.
pub const EXIT_REFUSED: i32 = 1;
/// Exit code: usage, input or rule-file error.
pub const EXIT_ERROR: i32 = 2;

/// Output format of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `file:line:col RULE severity message` (column 1-based).
    Text,
    /// One JSON array, one object per file (column 0-based).
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
}

/// `execgate scan [--rules DIR]… [--language L] [--format F] FILE…`
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Directory of rule files (every *.toml directly inside); repeatable.
    #[arg(long = "rules", value_name = "DIR", default_value = "rules/screen")]
    pub rules: Vec<PathBuf>,
    /// Language of every file (Piston names and aliases); default: from each file's extension.
    #[arg(long, value_name = "L")]
    pub language: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Report findings but never refuse (exit 0 unless an error occurs).
    #[arg(long)]
    pub detection_only: bool,
    /// Files to screen; `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// `execgate rules check DIR…`
#[derive(Debug, Clone, Args)]
pub struct RulesCheckArgs {
    /// Rule directories to validate.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
}

/// Screens files; exit 1 when any is refused, 2 on usage or rule errors.
pub fn scan(args: &ScanArgs) -> i32 {
    let rules = match load(&args.rules) {
        Some(rules) => rules,
        None => return EXIT_ERROR,
    };
    let forced = match &args.language {
        Some(name) => match Language::from_name(name) {
            Some(lang) => Some(lang),
            None => {
                eprintln!("execgate scan: unknown language `{name}`");
                return EXIT_ERROR;
            }
        },
        None => None,
    };
    let policy = ScreenPolicy {
        detection_only: args.detection_only,
        ..ScreenPolicy::default()
    };
    let mut reports = Vec::new();
    let mut failed = false;
    for file in &args.files {
        match read(file) {
            Ok(code) => {
                let language = forced.or_else(|| Language::from_extension(file));
                let verdict = screen(&rules, language, &code, &policy);
                reports.push(FileReport {
                    file: file.display().to_string(),
                    verdict,
                });
            }
            Err(e) => {
                eprintln!("execgate scan: {}: {e}", file.display());
                failed = true;
            }
        }
    }
    let output = match args.format {
        Format::Text => report::text(&reports),
        Format::Json => report::json(&reports) + "\n",
        Format::Sarif => report::sarif(&reports, &rules) + "\n",
    };
    // A closed stdout (`| head`) is not worth a panic.
    let _ = std::io::stdout().write_all(output.as_bytes());
    if failed {
        EXIT_ERROR
    } else if reports.iter().any(|r| r.verdict.refused) {
        EXIT_REFUSED
    } else {
        EXIT_PASS
    }
}

/// Validates rule directories; prints `file:line: RULE-ID: reason` per problem, exit 2 on any.
pub fn rules_check(args: &RulesCheckArgs) -> i32 {
    match load(&args.dirs) {
        Some(rules) => {
            println!("ok: {} rules", rules.len());
            EXIT_PASS
        }
        None => EXIT_ERROR,
    }
}

fn load(dirs: &[PathBuf]) -> Option<RuleSet> {
    RuleSet::load(dirs)
        .map_err(|errors| errors.iter().for_each(|e| eprintln!("{e}")))
        .ok()
}

fn read(file: &Path) -> std::io::Result<Vec<u8>> {
    if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        return Ok(buf);
    }
    std::fs::read(file)
}
